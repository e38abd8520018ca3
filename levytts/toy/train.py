"""Train and sample the toy ε-networks with the shared levytts.levy losses and samplers.

All seeds of one setting train together as the members of one :class:`~levytts.toy.model.EpsMLP`
(independent weights, data draws and noise; see model.py). Nothing here re-implements diffusion
math: the loss is :func:`levytts.levy.denoising_loss`, sampling is :func:`levytts.levy.sample`
(LévyVP) or :func:`levytts.levy.dlpm_sample` / :func:`levytts.levy.dlim_sample` (DLPM).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from levytts.levy import DLPM, LevyVP, StableNoise, denoising_loss, dlim_sample, dlpm_sample, sample, time_grid
from levytts.toy.model import EpsMLP

METHODS = ("lim", "dlpm")


@dataclass
class TrainConfig:
    """Training hyper-parameters (defaults near the official DLPM 2-D config: AdamW, lr 5e-3, MLP 64×4).

    Args:
        steps: optimiser steps.
        batch: rows per member per step.
        lr: peak learning rate (cosine decay to lr/50).
        hidden, n_layers: network size.
        loss: ``smooth_l1`` (LIM experiments) / ``rmse`` (DLPM) / ``mse``; None picks by method.
        dlpm_steps: number of discrete steps K of the DLPM process.
    """

    steps: int = 1000
    batch: int = 512
    lr: float = 5e-3
    hidden: int = 64
    n_layers: int = 3
    loss: str | None = None
    dlpm_steps: int = 100


def make_process(method: str, alpha: float, cfg: TrainConfig):
    """LevyVP (cosine) for ``lim``; DLPM with ``cfg.dlpm_steps`` steps for ``dlpm``."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    return LevyVP(alpha) if method == "lim" else DLPM(alpha, n_steps=cfg.dlpm_steps)


@dataclass
class Trained:
    """A trained ensemble: ``model`` (n_members seeds), its process, and the per-step mean loss."""

    model: EpsMLP
    proc: object
    method: str
    losses: list[float] = field(default_factory=list)

    @property
    def n_members(self) -> int:
        return self.model.n_members


def train_ensemble(data: torch.Tensor, method: str, alpha: float, cfg: TrainConfig, seed: int = 0) -> Trained:
    """Train one ε-network per member on its own data set.

    Args:
        data: (E, n, d) — member e trains on data[e] (its own draw of the data set).
        method: ``lim`` or ``dlpm``.
        alpha: stability index of the noise.
        cfg: hyper-parameters.
        seed: base seed (initialisation, batches, noise, times).
    Returns:
        :class:`Trained` with ``losses[i]`` the loss at step i (mean over members).
    """
    if data.ndim != 3:
        raise ValueError(f"data must be (n_members, n, d), got {tuple(data.shape)}")
    E, n, d = data.shape
    proc = make_process(method, alpha, cfg)
    loss_kind = cfg.loss or ("smooth_l1" if method == "lim" else "rmse")
    torch.manual_seed(seed)  # initialisation
    model = EpsMLP(dim=d, hidden=cfg.hidden, n_layers=cfg.n_layers, n_members=E)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps, eta_min=cfg.lr / 50)
    gen = torch.Generator().manual_seed(seed + 1)
    offsets = (torch.arange(E) * n)[:, None]
    flat = data.reshape(E * n, d)
    losses = []
    for _ in range(cfg.steps):
        idx = (torch.randint(0, n, (E, cfg.batch), generator=gen) + offsets).reshape(-1)
        # mean over E·batch rows = (1/E) Σ_e member e's loss; Adam is invariant to that scale
        loss = denoising_loss(model, flat[idx], proc, kind=loss_kind, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    return Trained(model, proc, method, losses)


@torch.no_grad()
def generate(trained: Trained, n: int, seed: int = 0, steps: int = 100, sampler: str | None = None,
             solver: str = "lim", eta=0.0, grid: str = "uniform") -> torch.Tensor:
    """Draw ``n`` points from every member.

    LIM: prior γ(T)·ξ, then :func:`levytts.levy.sample` (default SDE-A with LIM's published step, as
    the LIM paper). DLPM: the stochastic DLPM sampler (``sampler`` None or ``dlpm``) or DLIM
    (``sampler="dlim"``, deterministic at eta = 0).

    Returns:
        (E, n, d) float32.
    """
    E, d = trained.n_members, trained.model.dim
    gen = torch.Generator().manual_seed(seed)  # all E·n points are one batch: one stream
    proc = trained.proc
    noise = StableNoise(proc.alpha, generators=gen)
    if trained.method == "lim":
        x_T = proc.prior((E * n, d), dtype=torch.float32, noise=noise)
        x = sample(trained.model, x_T, time_grid(steps, proc.T, kind=grid, proc=proc), process=proc,
                   sampler=sampler or "sde-a", solver=solver, eta=eta, noise=noise)
    elif sampler in (None, "dlpm", "dlim"):
        ks = proc.indices(steps)
        if sampler == "dlim":
            x_T = proc.prior((E * n, d), dtype=torch.float32, noise=noise)
            x = dlim_sample(trained.model, x_T, ks, process=proc, eta=float(eta), noise=noise)
        else:
            x_T = proc.prior((E * n, d), dtype=torch.float32, noise=noise, steps=steps)
            x = dlpm_sample(trained.model, x_T, ks, process=proc, noise=noise)
    else:
        raise ValueError(f"unknown DLPM sampler {sampler!r}; valid: dlpm, dlim")
    return x.reshape(E, n, d)
