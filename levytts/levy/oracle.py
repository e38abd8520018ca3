"""Exact ε-prediction for Dirac-mixture data (docs/design.md §6): judge samplers with no training.

For data Σ_i w_i δ(x_i) and x_t = a x_0 + γ ε with ε ~ SαS^d(1) of density q,

    E[ε | x_t = x] = Σ_i w_i q(z_i) z_i / Σ_i w_i q(z_i),     z_i = (x - a x_i) / γ.

q is radial, q(z) = f_d(‖z‖). We tabulate log f_d on a uniform grid of log r once per (α, d):

    f_d(r) = E_A[(4πA)^{-d/2} exp(-r² / (4A))]                       (Gaussian trick, G ~ N(0, 2I))
    p_A(x) = (κ/π) x^{-1-κ} ∫_0^π K(φ) exp(-K(φ) x^{-κ}) dφ,        κ = ρ/(1-ρ), ρ = α/2
    K(φ)   = (sin(ρφ)/sin φ)^{1/(1-ρ)} · sin((1-ρ)φ)/sin(ρφ)          (Kanter / Zolotarev)

(from A = (K(U)/W)^{1/κ}, U ~ U(0, π), W ~ Exp(1), the law with E e^{-sA} = e^{-s^ρ}). Both integrals
are done by quadrature in log space; beyond the grid, log f_d is extended by the exact power tail
f_d(r) ∝ r^{-(d+α)} and by a constant at r → 0. At α = 2, q is the N(0, 2I) density in closed form.

We write this ourselves because scipy has no d-dimensional isotropic stable density, and its 1-D
``levy_stable.pdf`` is too slow to call inside a sampler (we use it only to test the table).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch
from scipy.special import logsumexp

from levytts.levy.noise import check_alpha

_LOG_R_MIN, _LOG_R_MAX, _N_R = -9.0, 9.0, 6001
_LOG_A_MIN, _LOG_A_MAX, _N_A = -45.0, 45.0, 6001


def _log_positive_stable_pdf(log_x: np.ndarray, rho: float, n_phi: int = 600) -> np.ndarray:
    """log p_A at exp(log_x) for the positive ρ-stable law with E e^{-sA} = exp(-s^ρ), 0 < ρ < 1."""
    nodes, weights = np.polynomial.legendre.leggauss(n_phi)
    phi = (nodes + 1) * math.pi / 2  # (0, π)
    w = weights * math.pi / 2
    log_k = (np.log(np.sin(rho * phi)) - np.log(np.sin(phi))) / (1 - rho) + np.log(np.sin((1 - rho) * phi)) - np.log(
        np.sin(rho * phi))
    kappa = rho / (1 - rho)
    # K(φ) x^{-κ} in log space: log K - κ log x
    expo = log_k[None, :] - kappa * log_x[:, None]
    integrand = log_k[None, :] - np.exp(expo) + np.log(w)[None, :]
    return math.log(kappa / math.pi) - (1 + kappa) * log_x + logsumexp(integrand, axis=1)


@functools.lru_cache(maxsize=32)
def log_density_table(alpha: float, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(log r grid, log f_d(r)) for SαS^d(1); cached per (α, d)."""
    alpha = check_alpha(alpha)
    log_r = np.linspace(_LOG_R_MIN, _LOG_R_MAX, _N_R)
    r2 = np.exp(2 * log_r)
    if alpha == 2.0:
        return log_r, -(d / 2) * math.log(4 * math.pi) - r2 / 4
    log_a = np.linspace(_LOG_A_MIN, _LOG_A_MAX, _N_A)
    du = log_a[1] - log_a[0]
    log_pa = _log_positive_stable_pdf(log_a, alpha / 2)
    # ∫ p_A(a) N_d(r; 2a) da = ∫ p_A(e^u) e^u N_d(r; 2e^u) du  (trapezoid ≈ rectangle: integrand → 0 at both ends)
    base = log_pa + log_a - (d / 2) * (math.log(4 * math.pi) + log_a) + math.log(du)
    out = np.empty_like(log_r)
    inv_a = np.exp(-log_a)
    for i0 in range(0, _N_R, 500):  # chunks keep memory at 500 × 6001 doubles
        sl = slice(i0, i0 + 500)
        out[sl] = logsumexp(base[None, :] - r2[sl, None] * inv_a[None, :] / 4, axis=1)
    return log_r, out


def log_density(z: torch.Tensor, alpha: float, d: int | None = None) -> torch.Tensor:
    """log q(z) of SαS^d(1) for z of shape (..., d): the last dim is the vector dimension.

    Returns shape (...), dtype of z. Uses the cached table with linear interpolation in log r.
    """
    d = z.shape[-1] if d is None else d
    r = torch.linalg.vector_norm(z.to(torch.float64), dim=-1)
    return radial_log_density(r, alpha, d).to(z.dtype)


def radial_log_density(r: torch.Tensor, alpha: float, d: int) -> torch.Tensor:
    """log f_d(r) for radii r (any shape), float64."""
    alpha = check_alpha(alpha)
    log_r_grid, table = log_density_table(alpha, int(d))
    table_t = torch.as_tensor(table, dtype=torch.float64, device=r.device)
    lr = torch.log(r.to(torch.float64).clamp_min(1e-300))
    h = (_LOG_R_MAX - _LOG_R_MIN) / (_N_R - 1)
    pos = ((lr - _LOG_R_MIN) / h).clamp(0, _N_R - 1 - 1e-9)
    i = pos.floor().long()
    frac = pos - i
    inside = table_t[i] * (1 - frac) + table_t[i + 1] * frac
    if alpha == 2.0:
        exact = -(d / 2) * math.log(4 * math.pi) - r.to(torch.float64) ** 2 / 4
        return exact
    # r beyond the grid: exact power tail log f ≈ log f(r_max) - (d + α)(log r - log r_max)
    tail = table_t[-1] - (d + alpha) * (lr - _LOG_R_MAX)
    out = torch.where(lr > _LOG_R_MAX, tail, inside)
    return torch.where(lr < _LOG_R_MIN, table_t[0].expand_as(out), out)


class DiracMixtureOracle:
    """Exact ε̂(x, t) for data Σ w_i δ(x_i) under a LévyVP process.

    Args:
        atoms: (K, d) or (K,) for 1-D data; samples x have shape (B, d) (or (B,) / (B, 1) for 1-D).
        weights: (K,) nonnegative, normalised internally.
        proc: the LévyVP process (α, a(t), γ(t)).

    Call as ``oracle(x, t)`` with x (B, d) and t (B,) → ε̂ (B, d); usable as ``eps_fn`` for
    :func:`levytts.levy.sampling.sample`.
    """

    def __init__(self, atoms, weights, proc):
        atoms = torch.as_tensor(atoms, dtype=torch.float64)
        if atoms.ndim == 1:
            atoms = atoms[:, None]
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if weights.shape != (atoms.shape[0],) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError("weights must be (K,) nonnegative with a positive sum, one per atom")
        self.atoms = atoms
        self.log_w = torch.log(weights / weights.sum())
        self.proc = proc
        self.d = atoms.shape[1]
        log_density_table(proc.alpha, self.d)  # build the table once, up front

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        xf = x.reshape(shape[0], -1).to(torch.float64)
        if xf.shape[1] != self.d:
            raise ValueError(f"oracle built for d={self.d}, got x of shape {tuple(shape)}")
        t64 = t.to(torch.float64)
        a = self.proc.a(t64)[:, None, None]
        g = self.proc.gamma(t64)[:, None, None]
        atoms = self.atoms.to(x.device)
        z = (xf[:, None, :] - a * atoms[None, :, :]) / g  # (B, K, d)
        logits = self.log_w.to(x.device)[None, :] + radial_log_density(
            torch.linalg.vector_norm(z, dim=-1), self.proc.alpha, self.d)
        post = torch.softmax(logits, dim=1)  # (B, K) posterior over atoms
        eps = (post[:, :, None] * z).sum(dim=1)
        return eps.reshape(shape).to(x.dtype)


# ---------------------------------------------------------------------------------------------
# Exact distances between samples and a Dirac mixture (the tuning metrics of `levytts tune-eta`)
# ---------------------------------------------------------------------------------------------
def wasserstein1_to_atoms(x: torch.Tensor, atoms: torch.Tensor, weights: torch.Tensor) -> float:
    """W1 between the empirical law of 1-D samples and Σ w_i δ(atom_i), exactly: ∫ |F_samples(u) - F_mix(u)| du.

    x: (B,); atoms, weights: (K,), weights summing to 1. Returns a python float (units of x).
    """
    x = x.reshape(-1).to(torch.float64)
    pos = torch.cat([x, atoms.to(torch.float64)])
    mass = torch.cat([torch.full_like(x, 1.0 / x.numel()), -weights.to(torch.float64)])
    order = torch.argsort(pos)
    pos, cdf_gap = pos[order], torch.cumsum(mass[order], 0)
    return float((cdf_gap[:-1].abs() * (pos[1:] - pos[:-1])).sum())


def sliced_wasserstein_to_atoms(x: torch.Tensor, atoms: torch.Tensor, weights: torch.Tensor,
                                n_directions: int = 64) -> float:
    """Sliced W1 between samples x (B, d) and the mixture Σ w_i δ(atoms_i), atoms (K, d): the mean over directions θ
    of :func:`wasserstein1_to_atoms` of the projections. d = 1: the exact W1. d = 2: ``n_directions`` angles evenly
    spaced in [0, π) (deterministic); d > 2: ``n_directions`` directions from a fixed-seed normal draw."""
    x = x.reshape(x.shape[0], -1).to(torch.float64)
    atoms = atoms.reshape(atoms.shape[0], -1).to(torch.float64)
    w = weights.to(torch.float64) / weights.sum()
    d = x.shape[1]
    if d == 1:
        return wasserstein1_to_atoms(x[:, 0], atoms[:, 0], w)
    if d == 2:
        ang = torch.arange(n_directions, dtype=torch.float64) * math.pi / n_directions
        dirs = torch.stack([ang.cos(), ang.sin()], 1)
    else:
        dirs = torch.randn(n_directions, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        dirs = dirs / dirs.norm(dim=1, keepdim=True)
    return sum(wasserstein1_to_atoms(x @ th, atoms @ th, w) for th in dirs) / n_directions


def mode_weights(x: torch.Tensor, atoms: torch.Tensor) -> torch.Tensor:
    """Fraction of samples x (B, d) nearest to each atom (K, d) (Euclidean): (K,) float64 summing to 1."""
    x = x.reshape(x.shape[0], -1).to(torch.float64)
    atoms = atoms.reshape(atoms.shape[0], -1).to(torch.float64)
    nearest = torch.cdist(x, atoms).argmin(dim=1)
    return torch.bincount(nearest, minlength=atoms.shape[0]).to(torch.float64) / x.shape[0]


def mixture_metrics(x: torch.Tensor, atoms, weights) -> dict[str, float]:
    """The distances `levytts tune-eta` reports for samples x (B, d) of Σ w_i δ(atoms_i):

    - ``sw``: :func:`sliced_wasserstein_to_atoms` (the exact W1 in 1-D);
    - ``tv_modes``: ½ Σ_i |ŵ_i - w_i| with ŵ the :func:`mode_weights` (nearest-atom shares);
    - ``rare_weight`` / ``rare_rel_err``: ŵ of the lightest atom and |ŵ - w|/w for it.
    """
    atoms = torch.as_tensor(atoms, dtype=torch.float64)
    atoms = atoms[:, None] if atoms.ndim == 1 else atoms
    w = torch.as_tensor(weights, dtype=torch.float64)
    w = w / w.sum()
    w_hat = mode_weights(x, atoms)
    rare = int(torch.argmin(w))
    return {"sw": sliced_wasserstein_to_atoms(x, atoms, w), "tv_modes": float(0.5 * (w_hat - w).abs().sum()),
            "rare_weight": float(w_hat[rare]), "rare_rel_err": float((w_hat[rare] - w[rare]).abs() / w[rare])}
