"""Sampling images with the levy samplers: the Popov Tables 1–2 grid, η_t presets, PNG grids.

Grid: {SDE-A, SDE-E, ODE} × {euler (Euler–Maruyama), ei (exponential integrator)} × N steps for a LIM
model, and {DLPM (stochastic), DLIM (η = 0)} × N for a DLPM model. All steps are done by
:func:`levytts.levy.sample`, :func:`levytts.levy.dlpm_sample` and :func:`levytts.levy.dlim_sample`.
Entry names (sample files, metrics.json keys) are the condition names of every branch,
:attr:`levytts.levy.spec.SamplerSpec.dirname` (``ode_N20`` for the Euler ODE, ``ode_ei_N20``, ``sde-e_ei_N20``,
``dlpm_N20``; :func:`entry_name`). Sample files of the older ``<sampler>_<solver>_<N>`` form are renamed when
found (:func:`samples_path`).

η_t for SDE-E (config ``sampler.eta``, read by :class:`levytts.levy.spec.EtaSpec`) defaults to ``preset``:
Popov et al. eq. 22 (:func:`levytts.levy.eta_schedule`) with (η, δ) from :data:`POPOV_TABLE6` and t0 from their
App. B (0.7 / 0.85 / 0.95 for α = 1.8 / 1.5 / 1.2).
Only the EI-500 column of their Table 6 reads cleanly in our copy ((0.10, 0.10) for every α); the
other entries are our reading of a garbled extraction (15 pairs in column order) and are starting
points to re-tune, not the paper's verified values.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from levytts.audio.io import atomic_write
from levytts.levy import DLPM, StableNoise, dlim_sample, dlpm_sample, sample, time_grid

# Popov et al.'s Table 6 / App. B presets live with the η parser (levytts.levy.spec); re-exported here.
from levytts.levy.spec import POPOV_T0, POPOV_TABLE6, EtaSpec, SamplerSpec, eta_preset  # noqa: F401


def make_eta(spec, alpha: float, solver: str, steps: int, T: float) -> Callable[[float], float]:
    """η_t callable from a config entry, read by the one η parser (:class:`levytts.levy.spec.EtaSpec`).

    ``spec``: ``"preset"`` (Table 6 / App. B, see :func:`eta_preset`), ``"power"`` / ``"power(P)"`` (t^P; t^{1/5}
    is their imbalanced-CIFAR choice), a number (a CONSTANT η_t), ``"popov(ETA,DELTA[,T0])"`` or a dict
    ``{eta, delta, t0, c}`` for eq. 22. The ramp of eq. 22 ends at the process' T.
    """
    value = EtaSpec.parse(spec).schedule(T, alpha=alpha, solver=solver, steps=steps)
    return value if callable(value) else (lambda _t, _e=float(value): _e)


def grid_entries(kind: str, samplers, solvers, steps, dlpm_samplers=("dlpm", "dlim"), skip=()) -> list[tuple[str, str, int]]:
    """The (sampler, solver, N) triples to run: the LIM grid, or (dlpm|dlim, "-", N) for a DLPM model.

    ``skip``: "solver_N" strings left out (e.g. "euler_500": Popov et al. Table 2 has no EM-500 column).
    """
    skip = set(skip or ())
    if kind == "dlpm":
        return [(s, "-", int(n)) for s in dlpm_samplers for n in steps if f"{s}_{n}" not in skip]
    return [(s, v, int(n)) for s in samplers for v in solvers for n in steps if f"{v}_{n}" not in skip]


def entry_name(sampler: str, solver: str, steps: int) -> str:
    """The condition name of (sampler, solver, N): :attr:`SamplerSpec.dirname` (e.g. ``sde-e_ei_N20``, ``ode_N10``)."""
    return SamplerSpec(sampler, solver, int(steps)).dirname


def samples_path(run_dir: str | Path, sampler: str, solver: str, steps: int) -> Path:
    """``run_dir/samples/<entry_name>.npz``; a file of the older name (``sde-e_ei_20.npz``, ``dlpm_20.npz``, written
    before the branches shared one naming) is renamed to it, with its PNG grid, so that no sampled grid is lost or
    re-sampled."""
    samples = Path(run_dir) / "samples"
    name = entry_name(sampler, solver, steps)
    legacy = f"{sampler}_{solver}_{steps}" if solver != "-" else f"{sampler}_{steps}"
    for ext in (".npz", ".png"):
        old, new = samples / f"{legacy}{ext}", samples / f"{name}{ext}"
        if old.is_file() and not new.exists():
            os.replace(old, new)
    return samples / f"{name}.npz"


def make_eps_fn(net: torch.nn.Module, y: torch.Tensor | None = None, proc=None, clip_denoised: bool = False):
    """ε̂(x, t) closure for the levy samplers; ``y`` (B,) labels for a class-conditional net.

    ``clip_denoised`` (needs ``proc``): the image-domain "clip x̂0" of DDPM / DDIM sampling, written
    in ε terms: x̂0 = (x - γ ε̂)/a is clipped to the data range [-1, 1] and ε̂ is replaced by
    (x - a·clip(x̂0))/γ, so that no step can move towards an image outside the data range. (For DLPM,
    a = gamma_bar_k, γ = sigma_bar_k with k = round(t·K).) Off by default: the papers' samplers as written.
    """

    def eps_fn(x, t):
        return net(x, t, y if y is None else y[: x.shape[0]])

    if not clip_denoised:
        return eps_fn
    if proc is None:
        raise ValueError("clip_denoised needs the process")

    def clipped(x, t):
        eps = eps_fn(x, t)
        if isinstance(proc, DLPM):
            k = (t.double() * proc.n_steps).round().long().cpu()
            a, g = proc.gamma_bar[k], proc.sigma_bar[k]
        else:
            a, g = proc.a(t.double()), proc.gamma(t.double())
        shape = (-1,) + (1,) * (x.ndim - 1)
        a, g = a.to(x).reshape(shape), g.to(x).reshape(shape).clamp_min(1e-12)
        x0 = ((x - g * eps) / a).clamp(-1, 1)
        return (x - a * x0) / g

    return clipped


@torch.no_grad()
def generate(net: torch.nn.Module, proc, shape, sampler: str, solver: str, steps: int, eta="preset",
             grid: str = "uniform", t_eps: float = 1e-3, y: torch.Tensor | None = None,
             generator=None, clip: bool = True, clip_denoised: bool = False,
             a_max: float | None = None) -> torch.Tensor:
    """Draw one batch of images.

    Args:
        net: ε-network, ``net(x, t, y)``.
        proc: :class:`LevyVP` or :class:`DLPM`.
        shape: (B, C, H, W).
        sampler: ode | sde-a | sde-e (LIM) or dlpm | dlim (DLPM).
        solver: euler | ei | lim (ignored for DLPM).
        steps: N.
        eta: SDE-E η_t spec (see :func:`make_eta`).
        y: labels (B,) for a class-conditional net, or None.
        generator: None, one torch.Generator for the batch, or one per image
            (:func:`levytts.levy.sample_generators`: image b then depends on its own seed only).
        clip_denoised: clip x̂0 to [-1, 1] inside every ε̂ evaluation (see :func:`make_eps_fn`).
        a_max: truncation of the mixing variable A of the prior and of each step's noise (LIM samplers;
            the official codes reject A ≥ 20); None = no truncation.
    Returns:
        images (B, C, H, W) in [-1, 1] when ``clip``.
    """
    eps_fn = make_eps_fn(net, y, proc, clip_denoised)
    device = next(net.parameters()).device
    if isinstance(proc, DLPM):
        if sampler not in ("dlpm", "dlim"):
            raise ValueError(f"a DLPM model samples with 'dlpm' or 'dlim', got {sampler!r}")
        noise, ks = StableNoise(proc.alpha, generators=generator), proc.indices(steps)
        if sampler == "dlpm":
            x_T = proc.prior(shape, device=device, noise=noise, steps=steps)
            x = dlpm_sample(eps_fn, x_T, ks, process=proc, noise=noise)
        else:
            x = dlim_sample(eps_fn, proc.prior(shape, device=device, noise=noise), ks, process=proc, eta=0.0,
                            noise=noise)
    else:
        eta_fn = make_eta(eta, proc.alpha, solver, steps, float(proc.T)) if sampler == "sde-e" else 0.0
        noise = StableNoise(proc.alpha, a_max=a_max, generators=generator)
        x_T = proc.prior(shape, device=device, noise=noise)
        x = sample(eps_fn, x_T, time_grid(steps, proc.T, kind=grid, t_eps=t_eps, proc=proc), process=proc,
                   sampler=sampler, solver=solver, eta=eta_fn, noise=noise)
    x = torch.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    return x.clamp(-1, 1) if clip else x


def image_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 (N, C, H, W) → one uint8 (H', W', C) mosaic with ``nrow`` images per row."""
    n, c, h, w = images.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / nrow))
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, nrow)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = \
            images[i].transpose(1, 2, 0)
    return out


def save_png(path: str | Path, images: np.ndarray, nrow: int | None = None) -> None:
    """Save uint8 (N, C, H, W) images as one PNG mosaic (written atomically)."""
    from PIL import Image

    mosaic = image_grid(images, nrow)
    img = Image.fromarray(mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic)
    with atomic_write(path, suffix=".png") as tmp:  # PNG whatever path's extension (PIL picks it by name)
        img.save(tmp)
