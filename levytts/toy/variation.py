"""Popov et al. Fig. 3: the variation Σ_k |Y_{t_{k+1}} - Y_{t_k}| on [0, 1] with n equal steps.

For the α-stable Lévy process L^α (1-D, E exp(iu L_t) = exp(-t|u|^α)) and the compensated Gamma
process Γ̄^γ_t = Γ^γ_t - γ t (Γ^γ_t ~ Gamma(shape γ t, rate 1)). Monte-Carlo estimates and the exact
expectations (used by the tests and drawn as lines):

    E V_n(L^α)  = n^{1 - 1/α} · E|S|,   E|S| = (2/π) Γ(1 - 1/α)   (S ~ SαS(1), α > 1)   → ∞
    E V_n(Γ̄^γ) = n · E|G - k|,  G ~ Gamma(k, 1), k = γ/n,  E|G - k| = 2 k^k e^{-k} / Γ(k)   → 2γ

(the Gamma mean-absolute-deviation formula follows from ∫_k^∞ (g - k) g^{k-1} e^{-g} dg = k^k e^{-k}).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from levytts.levy import stable


def stable_variation(n: int, alpha: float, n_paths: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Variations of ``n_paths`` α-stable paths on n equal steps of [0, 1]: (n_paths,) float64.

    Increments over dt = 1/n are dt^{1/α}·S, S ~ SαS(1) (:func:`levytts.levy.stable`, skew 0, scale 1).
    """
    if n < 1 or n_paths < 1:
        raise ValueError(f"need n >= 1 and n_paths >= 1, got {n}, {n_paths}")
    inc = stable((n_paths, n), alpha, generator=generator, dtype=torch.float64) * (1.0 / n) ** (1.0 / alpha)
    return inc.abs().sum(dim=1)


def gamma_variation(n: int, shape: float, n_paths: int, rng: np.random.Generator) -> np.ndarray:
    """Variations of ``n_paths`` compensated Gamma paths Γ^γ_t - γt on n equal steps: (n_paths,).

    Increments: Gamma(shape·dt, 1) - shape·dt, dt = 1/n (numpy's gamma sampler, seeded by ``rng``).
    """
    if n < 1 or n_paths < 1 or not shape > 0:
        raise ValueError(f"need n >= 1, n_paths >= 1, shape > 0, got {n}, {n_paths}, {shape}")
    k = shape / n
    return np.abs(rng.gamma(k, 1.0, size=(n_paths, n)) - k).sum(axis=1)


def expected_stable_variation(n: int, alpha: float) -> float:
    """E V_n = n^{1-1/α}·(2/π)Γ(1-1/α) (finite for α > 1)."""
    if not 1 < alpha <= 2:
        raise ValueError(f"E|S| is finite only for alpha in (1, 2], got {alpha}")
    return n ** (1 - 1 / alpha) * 2 / math.pi * math.gamma(1 - 1 / alpha)


def expected_gamma_variation(n: int, shape: float) -> float:
    """E V_n = n·2 k^k e^{-k}/Γ(k), k = shape/n (tends to 2·shape as n → ∞)."""
    k = shape / n
    return n * 2 * math.exp(k * math.log(k) - k - math.lgamma(k))
