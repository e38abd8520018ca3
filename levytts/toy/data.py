"""2-D toy data sets of the LIM and DLPM papers (geometry made explicit here).

- :func:`two_gaussians` — LIM Fig. 3: two Gaussians with weights 10:1. The paper does not give the
  geometry; we use means (-1, 0) (weight 10/11) and (+1, 0) (weight 1/11), std 0.1 per coordinate.
- :func:`heavy_tailed` — DLPM slides: isotropic 2-D α-stable S_α^i(0, 0.05·I₂), α = 1.7, i.e.
  0.05·ε with ε ~ SαS²(1) (E exp(i<u, ε>) = exp(-‖u‖^α)), drawn with :func:`levytts.levy.isotropic_stable`.
- :func:`gaussian_grid` — DLPM slides: nine Gaussians N(μ_i, 0.05² I₂) on a 3×3 grid. The slides list
  ten weights for nine components; we use the nine of the official DLPM config
  (0.01, 0.1, 0.3, 0.2, 0.02, 0.15, 0.02, 0.15, 0.05), and its unit spacing, centred on 0
  (μ ∈ {-1, 0, 1}²) so that the data sit where the mean-zero prior puts its mass.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from levytts.levy import isotropic_stable

GRID_WEIGHTS = (0.01, 0.1, 0.3, 0.2, 0.02, 0.15, 0.02, 0.15, 0.05)


@dataclass(frozen=True)
class GaussianMixture:
    """Isotropic Gaussian mixture Σ_i w_i N(μ_i, std² I).

    Args:
        means: (K, d) component means.
        weights: (K,) positive weights (normalised here).
        std: per-coordinate standard deviation of every component.
    """

    means: torch.Tensor
    weights: torch.Tensor
    std: float

    def __post_init__(self):
        means = torch.as_tensor(self.means, dtype=torch.float64)
        weights = torch.as_tensor(self.weights, dtype=torch.float64)
        if means.ndim != 2 or weights.ndim != 1 or means.shape[0] != weights.shape[0]:
            raise ValueError(f"means must be (K, d) and weights (K,), got {tuple(means.shape)} and {tuple(weights.shape)}")
        if (weights <= 0).any():
            raise ValueError("mixture weights must be positive")
        if not self.std > 0:
            raise ValueError(f"std must be > 0, got {self.std}")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "weights", weights / weights.sum())

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None, return_labels: bool = False):
        """Draw ``n`` points, float32 (n, d) (and their component labels (n,) int64)."""
        labels = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)
        x = (self.means[labels] + self.std * noise).to(torch.float32)
        return (x, labels) if return_labels else x


def two_gaussians(ratio: float = 10.0, separation: float = 2.0, std: float = 0.1) -> GaussianMixture:
    """LIM Fig. 3 data: major mode at (-separation/2, 0) with weight ratio/(ratio+1), minor at (+separation/2, 0)."""
    if not ratio > 0:
        raise ValueError(f"ratio must be > 0, got {ratio}")
    half = separation / 2
    return GaussianMixture(torch.tensor([[-half, 0.0], [half, 0.0]]), torch.tensor([ratio, 1.0]), std)


def gaussian_grid(weights=GRID_WEIGHTS, spacing: float = 1.0, std: float = 0.05) -> GaussianMixture:
    """DLPM 9-Gaussian grid: means spacing·(i-1, j-1), i, j ∈ {0, 1, 2} (row-major), weights as given."""
    if len(weights) != 9:
        raise ValueError(f"the 3x3 grid needs 9 weights, got {len(weights)}")
    ij = torch.tensor([[i, j] for i in range(3) for j in range(3)], dtype=torch.float64)
    return GaussianMixture(spacing * (ij - 1.0), torch.tensor(weights), std)


def heavy_tailed(n: int, alpha: float = 1.7, scale: float = 0.05, dim: int = 2,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """DLPM heavy-tailed data: ``scale``·ε, ε ~ SαS^dim(1) isotropic, shape (n, dim) float32."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return scale * isotropic_stable((n, dim), alpha, generator=generator, dtype=torch.float32)
