"""Fractional denoising score matching losses on ε (DESIGN.md §3).

The network predicts ε̂(x_t, t); since the fractional score of x_t | x_0 is -ε / (α γ^{α-1}), matching
ε is fractional denoising score matching up to a t-dependent weight. Kinds:

- ``mse``:       mean (ε̂ - ε)²                                  (LIM theory; ε has no variance for α < 2)
- ``smooth_l1``: Huber(β = 1) of (ε̂ - ε)/α                     (LIM experiments)
- ``rmse``:      per sample sqrt(mean (ε̂ - ε)²), then averaged  (DLPM: E[‖·‖² | A]^{1/2})

Optional median-of-means (DLPM_M): per-sample losses are split into M groups, averaged per group,
and the median of the group means is returned (robust to the rare huge A).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from levytts.levy.noise import STRUCTURES

LOSSES = ("mse", "smooth_l1", "rmse")


def per_sample_loss(eps_hat: torch.Tensor, eps: torch.Tensor, kind: str = "smooth_l1", alpha: float = 2.0,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample loss, shape (B,).

    Args:
        eps_hat, eps: (B, ...) prediction and target.
        kind: ``mse`` | ``smooth_l1`` | ``rmse``.
        alpha: the process' α (``smooth_l1`` divides the error by α).
        mask: optional 0/1 mask broadcastable to eps (e.g. (B, 1, T) for mels); means run over
            unmasked elements only, so padding never enters the loss.
    """
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; valid: {', '.join(LOSSES)}")
    if eps_hat.shape != eps.shape:
        raise ValueError(f"eps_hat shape {tuple(eps_hat.shape)} != eps shape {tuple(eps.shape)}")
    if kind == "smooth_l1":
        elem = F.smooth_l1_loss(eps_hat / alpha, eps / alpha, reduction="none", beta=1.0)
    else:
        elem = (eps_hat - eps) ** 2
    dims = tuple(range(1, elem.ndim))
    if mask is None:
        per = elem.mean(dim=dims) if dims else elem
    else:
        m = mask.to(elem.dtype).expand_as(elem)
        per = (elem * m).sum(dim=dims) / m.sum(dim=dims).clamp_min(1.0)
    return per.sqrt() if kind == "rmse" else per


def median_of_means(values: torch.Tensor, groups: int) -> torch.Tensor:
    """Median of the means of ``groups`` contiguous chunks of ``values`` (B,). groups=1 is the mean."""
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    groups = min(groups, values.shape[0])
    means = torch.stack([chunk.mean() for chunk in values.chunk(groups)])
    return means.median() if groups > 1 else means[0]


def eps_loss(eps_hat: torch.Tensor, eps: torch.Tensor, kind: str = "smooth_l1", alpha: float = 2.0,
             mask: torch.Tensor | None = None, mom_groups: int = 1) -> torch.Tensor:
    """Scalar loss: mean (or median-of-means over ``mom_groups``) of :func:`per_sample_loss`."""
    return median_of_means(per_sample_loss(eps_hat, eps, kind, alpha, mask), mom_groups)


def denoising_loss(eps_fn, x0: torch.Tensor, proc, kind: str = "smooth_l1", generator=None,
                   structure: str = "isotropic", mask: torch.Tensor | None = None, mom_groups: int = 1,
                   a_max: float | None = None, t: torch.Tensor | None = None) -> torch.Tensor:
    """Draw t, ε, form x_t and return the ε-matching loss — the whole training objective in one call.

    Works for :class:`~levytts.levy.process.LevyVP` (t ~ U(t_min, T)) and
    :class:`~levytts.levy.process.DLPM` (k ~ U{1..K}, network time k/K).

    Args:
        eps_fn: ε̂(x, t), x (B, ...), t (B,) → (B, ...).
        x0: clean data (B, ...).
        mask: optional 0/1 mask (B, 1, T); noise is masked too.
        t: optional fixed times (B,) (LIM) or step indices (B,) int (DLPM).
    """
    if structure not in STRUCTURES:
        raise ValueError(f"unknown noise structure {structure!r}; valid: {', '.join(STRUCTURES)}")
    B = x0.shape[0]
    eps = proc.noise(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype, structure=structure, a_max=a_max)
    if mask is not None:
        eps = eps * mask
    if hasattr(proc, "sample_k"):  # DLPM
        k = proc.sample_k(B, generator=generator, device=x0.device) if t is None else t
        x_t = proc.marginal(x0, k, eps)
        t_net = proc.time(k).to(x0.dtype)
    else:
        t_net = proc.sample_t(B, generator=generator, device=x0.device).to(x0.dtype) if t is None else t
        x_t = proc.marginal(x0, t_net, eps)
    if mask is not None:
        x_t = x_t * mask
    return eps_loss(eps_fn(x_t, t_net), eps, kind, proc.alpha, mask, mom_groups)
