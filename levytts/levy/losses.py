"""Fractional denoising score matching losses on ε (docs/design.md §3).

The network predicts ε̂(x_t, t); since the fractional score of x_t | x_0 is -ε / (α γ^{α-1}), matching
ε is fractional denoising score matching up to a t-dependent weight. Kinds:

- ``mse``:       mean (ε̂ - ε)²                                  (LIM theory; ε has no variance for α < 2)
- ``smooth_l1``: Huber(β = 1) of (ε̂ - ε)/α                     (LIM experiments)
- ``rmse``:      per sample sqrt(mean (ε̂ - ε)²), then averaged  (DLPM: E[‖·‖² | A]^{1/2})
- ``l1``:        mean |ε̂ - ε| (with ``prediction="x0"``: mean |x̂0 - x0|, the mel-regression loss)

Prediction targets (``prediction``): ``eps`` — the network is ε̂(x_t, t) and the loss matches ε (LIM);
``x0`` — the network is x̂0(x_t, t) and the loss matches the clean data (DDPM's "predict x0"; ProDiff for
mels). The two are one model under ε̂ = (x_t - a(t) x̂0)/γ(t) (:meth:`LevyVP.eps_from_x0`): since
x̂0 - x0 = -(γ/a)(ε̂ - ε), an x0 loss is an ε loss weighted by (γ/a)^p (p = 1 for ``l1``, 2 for ``mse``).
It spends the training signal on the high-noise end, where a sampler started from T needs ε̂ most accurate
(its error reaches x̂0 multiplied by γ/a), and it never sees the heavy-tailed ε as a target, only bounded data.

``edm`` — the network is F of the preconditioned denoiser x̂0 = c_skip·y + c_out·F(c_in·y, t), y = x_t/a
(:meth:`LevyVP.preconditioning`, Karras et al. 2022) and the loss matches F to (x0 - c_skip·y)/c_out, i.e. an x0
loss weighted by 1/c_out. Pure x0 prediction must rebuild x_t through the whole network near t = 0 (measured on
the TTS decoder: its x̂0 error at t = 0.01 was 3.5× that of x_t/a itself, and every extra sampling step made the
speech worse); the skip connection leaves only a small correction there, while keeping x0 prediction near T.

Optional median-of-means (DLPM_M): per-sample losses are split into M groups, averaged per group,
and the median of the group means is returned (robust to the rare huge A).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from levytts.levy.noise import STRUCTURES
from levytts.levy.process import _bcast  # the one (B,) → (B, 1, ...) broadcasting helper of the module

LOSSES = ("mse", "smooth_l1", "rmse", "l1")
PREDICTIONS = ("eps", "x0", "edm")


def per_sample_loss(eps_hat: torch.Tensor, eps: torch.Tensor, kind: str = "smooth_l1", alpha: float = 2.0,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample loss, shape (B,).

    Args:
        eps_hat, eps: (B, ...) prediction and target.
        kind: ``mse`` | ``smooth_l1`` | ``rmse`` | ``l1``.
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
    elif kind == "l1":
        elem = (eps_hat - eps).abs()
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


def edm_denoiser(net, proc, sigma_data: float):
    """The preconditioned denoiser x̂0(x_t, t) = c_skip·y + c_out·net(c_in·y, t), y = x_t/a(t) (LevyVP only).

    net: (x (B, ...), t (B,)) → (B, ...). Returns a function of the same signature giving x̂0.
    """
    def denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        c_in, c_skip, c_out = (_bcast(c, x) for c in proc.preconditioning(t, sigma_data))
        y = x / _bcast(proc.a(t), x)
        return c_skip * y + c_out * net(c_in * y, t)

    return denoiser


def denoising_loss(eps_fn, x0: torch.Tensor, proc, kind: str = "smooth_l1", generator=None,
                   structure: str = "isotropic", mask: torch.Tensor | None = None, mom_groups: int = 1,
                   a_max: float | None = None, t: torch.Tensor | None = None, prediction: str = "eps",
                   sigma_data: float | None = None) -> torch.Tensor:
    """Draw t, ε, form x_t and return the denoising loss — the whole training objective in one call.

    Works for :class:`~levytts.levy.process.LevyVP` (t ~ U(t_min, T)) and
    :class:`~levytts.levy.process.DLPM` (k ~ U{1..K}, network time k/K).

    Args:
        eps_fn: the network, (x (B, ...), t (B,)) → (B, ...): ε̂ for ``prediction="eps"``, x̂0 for ``"x0"``.
        x0: clean data (B, ...).
        prediction: ``eps`` (loss on ε, the LIM objective) | ``x0`` (loss on x0) | ``edm`` (the network is F of
            :func:`edm_denoiser`; loss on (x̂0 - x0)/c_out); see the module docstring. ``x0``/``edm``: LévyVP
            only. ValueError for another value.
        sigma_data: σ_d of the data for ``edm`` (required there).
        mask: optional 0/1 mask (B, 1, T); noise is masked too.
        t: optional fixed times (B,) (LIM) or step indices (B,) int (DLPM).
    """
    if structure not in STRUCTURES:
        raise ValueError(f"unknown noise structure {structure!r}; valid: {', '.join(STRUCTURES)}")
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction target {prediction!r}; valid: {', '.join(PREDICTIONS)}")
    if prediction != "eps" and hasattr(proc, "sample_k"):
        raise ValueError(f"prediction={prediction!r} is implemented for LevyVP only (DLPM trains on ε)")
    if prediction == "edm" and sigma_data is None:
        raise ValueError("prediction='edm' needs sigma_data (the data's standard deviation)")
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
    if prediction == "x0":  # the target is bounded data: no 1/α scaling of the error
        return eps_loss(eps_fn(x_t, t_net), x0, kind, 1.0, mask, mom_groups)
    if prediction == "edm":  # F against its target (x0 - c_skip y)/c_out: (x̂0 - x0)/c_out
        c_out = _bcast(proc.preconditioning(t_net, sigma_data)[2], x0)
        x0_hat = edm_denoiser(eps_fn, proc, sigma_data)(x_t, t_net)
        return eps_loss(x0_hat / c_out, x0 / c_out, kind, 1.0, mask, mom_groups)
    return eps_loss(eps_fn(x_t, t_net), eps, kind, proc.alpha, mask, mom_groups)
