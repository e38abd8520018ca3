"""Metrics for the 2-D toy studies: mode counts, MMD, the DLPM tail metric MSLE, PRD precision/recall F1.

Each function takes point clouds as (n, d) tensors or arrays and returns python floats.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def _as_f64(x) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(torch.float64)
    if x.ndim != 2:
        raise ValueError(f"expected points of shape (n, d), got {tuple(x.shape)}")
    return x


def finite_rows(x: torch.Tensor) -> torch.Tensor:
    """The rows of (n, d) ``x`` with all coordinates finite."""
    return x[torch.isfinite(x).all(dim=1)]


def nearest_mode(x, means) -> torch.Tensor:
    """Index of the nearest mean for each point: x (n, d), means (K, d) → (n,) int64."""
    return torch.cdist(_as_f64(x), _as_f64(means)).argmin(dim=1)


def mode_fractions(x, means) -> torch.Tensor:
    """Fraction of points whose nearest mean is each component: (K,) float64, sums to 1."""
    means = _as_f64(means)
    counts = torch.bincount(nearest_mode(finite_rows(_as_f64(x)), means), minlength=means.shape[0])
    return counts.to(torch.float64) / max(int(counts.sum()), 1)


def mode_ratio(x, means) -> float:
    """(points nearest means[0]) / (points nearest means[1]) for a 2-mode mixture; inf if the second is empty."""
    frac = mode_fractions(x, means)
    return float(frac[0] / frac[1]) if frac[1] > 0 else math.inf


def mmd2(x, y, bandwidths=None, max_points: int = 2000, seed: int = 0) -> float:
    """Squared maximum mean discrepancy with a sum of RBF kernels (biased V-statistic, so MMD²(x, x) = 0).

        MMD² = mean k(x, x') + mean k(y, y') - 2 mean k(x, y),   k(u, v) = Σ_h exp(-‖u - v‖² / (2h²)) / H

    Args:
        x: reference points (n, d); y: generated points (m, d). Non-finite rows of y are dropped.
        bandwidths: kernel widths h; default the median pairwise distance of ``x`` times
            (1/4, 1/2, 1, 2, 4) (taken from the reference only, so heavy-tailed y cannot inflate them).
        max_points: random subsample size for each set (the cost is quadratic); both sets are
            subsampled with the same ``seed``, so equal sets give equal subsamples and MMD² = 0.
    """
    x, y = _as_f64(x), finite_rows(_as_f64(y))
    if len(y) == 0:
        return math.inf

    def sub(z):
        if len(z) <= max_points:
            return z
        return z[torch.randperm(len(z), generator=torch.Generator().manual_seed(seed))[:max_points]]

    x, y = sub(x), sub(y)
    if bandwidths is None:
        med = float(torch.cdist(x, x).median())
        bandwidths = [med * f for f in (0.25, 0.5, 1.0, 2.0, 4.0)]

    def k(a, b):
        d2 = torch.cdist(a, b) ** 2
        return sum(torch.exp(-d2 / (2 * h * h)) for h in bandwidths) / len(bandwidths)

    return float(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())


def msle(x_true, x_gen, xi: float = 0.95, n_levels: int = 100, eps: float = 1e-12) -> float:
    """Tail metric of the DLPM slides (eq. 54), averaged over the coordinates:

        MSLE(ξ) = 1/(1-ξ) ∫_ξ^1 (log F^{-1}(p) - log F̂^{-1}(p))² dp

    with F, F̂ the empirical cdfs of one coordinate of the true and the generated data. The integral
    is a midpoint rule on ``n_levels`` levels p_j = ξ + (1-ξ)(j - 1/2)/n_levels (torch.quantile, linear
    interpolation). We divide by (1-ξ) — the mean squared log error over the tail levels — which is the
    scale of the DLPM code (a mean over its levels > ξ); the slides' integral is (1-ξ) = 0.05 times this.
    Quantiles ≤ 0 (a collapsed tail) are clamped to ``eps`` before the log.

    Args:
        x_true: (n, d) data; x_gen: (m, d) generated points (non-finite rows are dropped).
    Returns:
        MSLE ≥ 0, exactly 0 when both sets are equal.
    """
    if not 0 < xi < 1:
        raise ValueError(f"xi must be in (0, 1), got {xi}")
    x, y = _as_f64(x_true), finite_rows(_as_f64(x_gen))
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"dimension mismatch: {x.shape[1]} vs {y.shape[1]}")
    if len(y) == 0:
        return math.inf
    levels = xi + (1 - xi) * (torch.arange(n_levels, dtype=torch.float64) + 0.5) / n_levels
    qx = torch.quantile(x, levels, dim=0).clamp_min(eps)
    qy = torch.quantile(y, levels, dim=0).clamp_min(eps)
    return float(((qx.log() - qy.log()) ** 2).mean())


def prd_curve(ref, gen, num_clusters: int = 100, num_angles: int = 1001, num_runs: int = 5,
              seed: int = 0, max_points: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """Precision–recall for distributions (Sajjadi et al. 2018), as used by DLPM for its 2-D F1.

    The union of both sets is clustered with k-means; with P, Q the cluster histograms of the
    reference and generated sets and λ = tan(θ), θ ∈ (0, π/2):
        precision(λ) = Σ_k min(λ P_k, Q_k),   recall(λ) = precision(λ) / λ,
    averaged over ``num_runs`` clusterings. Both sets are cut to the same size (at most
    ``max_points``), as the reference implementation enforces. (We use scikit-learn's k-means; the
    PRD formula is a few lines, simpler than adding the authors' package.)

    Returns:
        (precision, recall), each (num_angles,).
    """
    from sklearn.cluster import MiniBatchKMeans

    ref, gen = _as_f64(ref).numpy(), finite_rows(_as_f64(gen)).numpy()
    n = min(len(ref), len(gen), max_points)
    if n < num_clusters:
        raise ValueError(f"need at least num_clusters={num_clusters} points in each set, got {n}")
    ref, gen = ref[:n], gen[:n]  # equal sizes, as the reference implementation enforces
    angles = np.linspace(1e-6, math.pi / 2 - 1e-6, num_angles)
    slopes = np.tan(angles)
    precisions, recalls = [], []
    data = np.concatenate([ref, gen])
    for run in range(num_runs):
        km = MiniBatchKMeans(n_clusters=num_clusters, n_init=1, random_state=seed + run, batch_size=1024)
        labels = km.fit_predict(data)
        p = np.bincount(labels[:n], minlength=num_clusters) / n
        q = np.bincount(labels[n:], minlength=num_clusters) / n
        prec = np.minimum(p[None, :] * slopes[:, None], q[None, :]).sum(axis=1)
        precisions.append(np.clip(prec, 0, 1))
        recalls.append(np.clip(prec / slopes, 0, 1))
    return np.mean(precisions, axis=0), np.mean(recalls, axis=0)


def prd_f1(ref, gen, beta: float = 8.0, **kw) -> dict[str, float]:
    """F1 of PRD precision and recall, as in the DLPM slides: F1 = 2PR/(P+R).

    Following Sajjadi et al., recall = max F_β and precision = max F_{1/β} over the PRD curve
    (β = 8), F_β = (1+β²) p r / (β² p + r). Keyword arguments go to :func:`prd_curve`.

    Returns:
        {"precision", "recall", "f1"}.
    """
    prec, rec = prd_curve(ref, gen, **kw)

    def f_beta(b):
        denom = b * b * prec + rec
        return np.where(denom > 0, (1 + b * b) * prec * rec / np.where(denom > 0, denom, 1), 0.0).max()

    recall, precision = float(f_beta(beta)), float(f_beta(1 / beta))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
