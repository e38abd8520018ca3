"""Reverse-time samplers for the LévyVP process and DLPM / DLIM (docs/design.md §4, §5).

One family (Popov et al., Thm 1; LIM eq. 4; ODE eq. 10), run backwards in time, with drift weight c
and noise weight η:

    dX = [-(β/α) X - c β S(X)] dt + (η β)^{1/α} dL̄,     S(x) = -ε̂(x, t) / (α γ(t)^{α-1})

- ODE:   c = 1,       η = 0
- SDE-E: c = 1 + η_t, η = η_t     (exact marginals for any η_t ≥ 0)
- SDE-A: c = α,       η = 1       (LIM; drops the finite-variation term dZ)

A step goes from s down to t < s (h = s - t) with ε̂ = ε̂(x_s, s) frozen and fresh ξ ~ SαS(1):

- Euler–Maruyama ("euler"):
      x_t = x_s + h β(s) [x_s - c ε̂ / γ(s)^{α-1}] / α + (η β(s) h)^{1/α} ξ
- Exponential integrator ("ei"; exact in the linear part for frozen ε̂, DDIM at η = 0):
      x_t = r x_s + c (γ_t - r γ_s) ε̂ + (η (r^α - 1))^{1/α} ξ,     r = a_t / a_s
- LIM's published discretisation ("lim", Corollaries 4.1 / 4.2), kept for comparison:
      SDE-A: x_t = r x_s + α² (r - 1) S_s + (r^α - 1)^{1/α} ξ;   ODE: x_t = r x_s + α (r - 1) S_s

η is evaluated at the step's start s when it is a callable. After the last step (at t_eps) the
denoised estimate x̂0 = (x - γ ε̂) / a is returned (one more network call), as in LIM.

API (k-diffusion / EDM style; docs/design.md §4 "Sampler API"): every sampler is
``f(eps_fn, x_T, times, *, process, ..., noise=None, callback=None) -> x_0`` (always a tensor):

    noise = StableNoise(proc.alpha, structure, a_max, mask=mask, generators=sample_generators(seed, B))
    x_T = proc.prior(shape, noise=noise)                    # (t=t_start: a truncated start)
    x0 = sample(eps_fn, x_T, time_grid(N, proc.T, t_start, "uniform", proc=proc), process=proc,
                sampler="sde-e", solver="ei", eta="popov(0.3,0.3)", noise=noise)

DLPM / DLIM take the kept step indices ``proc.indices(N)`` as their times (:func:`dlpm_sample`,
:func:`dlim_sample`).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from levytts.levy.noise import StableNoise
from levytts.levy.process import DLPM, LevyVP

SAMPLERS = ("ode", "sde-a", "sde-e")
SOLVERS = ("euler", "ei", "lim")
GRIDS = ("uniform", "quadratic", "log_snr")
DLPM_SAMPLERS = ("dlpm", "dlim")

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
NoiseFn = Callable[[torch.Tensor, object], torch.Tensor]  # noise(x, step) -> ξ like x


def _check_choice(name: str, value, valid) -> str:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    return value


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    return steps


def time_grid(N: int, T: float, t_start: float | None = None, kind: str = "uniform", t_eps: float = 1e-3,
              proc: LevyVP | None = None) -> torch.Tensor:
    """N + 1 decreasing times from the start t0 (T, or ``t_start`` for a truncated start) to t_eps, float64.

    - ``uniform``:   t_i = t0 - i (t0 - t_eps) / N
    - ``quadratic``: t_i = (√t0 - i (√t0 - √t_eps) / N)²  (denser near t_eps, LIM / DDIM)
    - ``log_snr``:   uniform in log λ(t) (needs ``proc``); the grid DPM-Solver uses. λ = γ/a is the
      inverse signal-to-noise scale, so equal log λ steps give each step the same relative change
      of the exponential integrator's ε̂ coefficient.

    ``t_start`` (t_eps < t_start <= T): start the reverse process there, from ``proc.prior(shape, t=t_start)``
    (γ(t_start)·ξ: the a(t_start)·x0 part of x_t is dropped).
    """
    N = _check_steps(N)
    _check_choice("grid", kind, GRIDS)
    T = float(T)
    if t_start is not None and not t_eps < float(t_start) <= T:
        raise ValueError(f"t_start must lie in (t_eps={t_eps}, T={T}], got {t_start}")
    t0 = T if t_start is None else float(t_start)
    if not 0 < t_eps < t0:
        raise ValueError(f"need 0 < t_eps < T, got t_eps={t_eps}, T={t0}")
    return torch.tensor(_grid_values(N, kind, t0, t_eps, proc), dtype=torch.float64)


def _grid_values(N: int, kind: str, T: float, t_eps: float, proc) -> list[float]:
    if kind == "uniform":
        return [T - i * (T - t_eps) / N for i in range(N + 1)]
    if kind == "quadratic":
        st, se = math.sqrt(T), math.sqrt(t_eps)
        return [(st - i * (st - se) / N) ** 2 for i in range(N)] + [t_eps]
    if proc is None:
        raise ValueError("grid 'log_snr' needs the process (proc=...)")
    lo, hi = math.log(proc.lam(t_eps)), math.log(proc.lam(T))
    targets = [hi - i * (hi - lo) / N for i in range(N + 1)]
    # invert log λ(t) by bisection (monotone increasing in t)
    out = []
    for target in targets:
        a, b = t_eps, T
        for _ in range(80):
            m = 0.5 * (a + b)
            if math.log(proc.lam(m)) < target:
                a = m
            else:
                b = m
        out.append(0.5 * (a + b))
    out[0], out[-1] = T, t_eps
    return out


def _times(times) -> list[float]:
    """A time grid (tensor or sequence) as python floats, checked: at least 2 strictly decreasing times."""
    times = times.tolist() if isinstance(times, torch.Tensor) else [float(t) for t in times]
    if len(times) < 2 or any(b >= a for a, b in zip(times, times[1:])):
        raise ValueError("a time grid must hold at least 2 strictly decreasing times")
    return times


def eta_schedule(eta: float, delta: float | None = None, t0: float = 0.7, T: float = 1.0, c: float = 20.0,
                 kind: str = "popov") -> Callable[[float], float]:
    """η_t as a callable t -> η_t.

    - ``popov`` (Popov et al. eq. 22):
          η_t = η + (δ - η) [(t - t0)/(T - t0)]⁺ + 2η (sigmoid(c t) - 1),   δ ≥ η
      constant η for mid t, rising linearly to δ at T from t0, and decaying to 0 as t → 0.
      Their App. B uses t0 = 0.7 / 0.85 / 0.95 for α = 1.8 / 1.5 / 1.2 and T = 1.
    - ``power``: η_t = t^{1/5} (their imbalanced-CIFAR choice); ``eta``/``delta`` are ignored,
      use :func:`power_eta` for another exponent.
    """
    if kind == "power":
        return power_eta(0.2)
    _check_choice("eta kind", kind, ("popov", "power"))
    delta = eta if delta is None else delta
    if eta < 0 or delta < eta:
        raise ValueError(f"need 0 <= eta <= delta, got eta={eta}, delta={delta}")
    if not t0 < T:
        raise ValueError(f"need t0 < T, got t0={t0}, T={T}")

    def eta_t(t: float) -> float:
        ramp = max(0.0, (t - t0) / (T - t0))
        return max(0.0, eta + (delta - eta) * ramp + 2 * eta * (1 / (1 + math.exp(-c * t)) - 1))

    eta_t.__doc__ = f"Popov eq. 22 with eta={eta}, delta={delta}, t0={t0}, T={T}, c={c}"
    return eta_t


def power_eta(p: float = 0.2) -> Callable[[float], float]:
    """η_t = t^p (Popov et al. use p = 1/5 on imbalanced CIFAR-10)."""

    def eta_t(t: float) -> float:
        return max(t, 0.0) ** p

    eta_t.__doc__ = f"eta_t = t**{p}"
    return eta_t


def step_coefficients(sampler: str, eta_s: float, alpha: float) -> tuple[float, float]:
    """(c, η) of docs/design.md §4 for one step: ODE (1, 0); SDE-E (1 + η_s, η_s); SDE-A (α, 1)."""
    if sampler == "ode":
        return 1.0, 0.0
    if sampler == "sde-e":
        if eta_s < 0:
            raise ValueError(f"eta must be >= 0, got {eta_s}")
        return 1.0 + eta_s, eta_s
    return alpha, 1.0


def euler_step(x, eps_hat, s, t, proc: LevyVP, c: float, eta: float, xi=None):
    """Euler–Maruyama from s to t < s:  x_t = x_s + h β(s)[x_s - c ε̂/γ(s)^{α-1}]/α + (η β(s) h)^{1/α} ξ.

    x, eps_hat, xi: (B, ...). Returns x_t (B, ...).
    """
    alpha, h = proc.alpha, s - t
    beta_s, gamma_s = proc.beta(s), proc.gamma(s)
    out = x + h * beta_s * (x - c * eps_hat / gamma_s ** (alpha - 1)) / alpha
    if eta > 0:
        out = out + (eta * beta_s * h) ** (1 / alpha) * xi
    return out


def ei_step(x, eps_hat, s, t, proc: LevyVP, c: float, eta: float, xi=None):
    """Exponential integrator from s to t < s:  x_t = r x_s + c(γ_t - r γ_s) ε̂ + (η(r^α - 1))^{1/α} ξ,  r = a_t/a_s.

    x, eps_hat, xi: (B, ...). Returns x_t (B, ...).
    """
    alpha = proc.alpha
    r = math.exp(proc.log_a(t) - proc.log_a(s))
    out = r * x + c * (proc.gamma(t) - r * proc.gamma(s)) * eps_hat
    if eta > 0:
        out = out + (eta * (r**alpha - 1)) ** (1 / alpha) * xi
    return out


def lim_step(x, eps_hat, s, t, proc: LevyVP, sampler: str, xi=None):
    """LIM Corollaries 4.1 / 4.2 with r = a_t/a_s and S_s = -ε̂/(α γ_s^{α-1}):

    SDE-A: x_t = r x_s + α²(r - 1) S_s + (r^α - 1)^{1/α} ξ;   ODE: x_t = r x_s + α(r - 1) S_s.
    """
    alpha = proc.alpha
    r = math.exp(proc.log_a(t) - proc.log_a(s))
    score = -eps_hat / (alpha * proc.gamma(s) ** (alpha - 1))
    if sampler == "ode":
        return r * x + alpha * (r - 1) * score
    return r * x + alpha**2 * (r - 1) * score + (r**alpha - 1) ** (1 / alpha) * xi


def denoise(x, eps_hat, t, proc: LevyVP):
    """x̂0 = (x - γ(t) ε̂) / a(t)."""
    return (x - proc.gamma(t) * eps_hat) / proc.a(t)


def _eta_fn(eta, process, solver: str, steps: int) -> Callable[[float], float]:
    """η as t -> η_t: a number (constant), a callable, or an η spec (:class:`levytts.levy.spec.EtaSpec` or its text)."""
    if callable(eta):
        return eta
    if isinstance(eta, (int, float)) and not isinstance(eta, bool):
        return lambda _t, _e=float(eta): _e
    from levytts.levy.spec import EtaSpec

    value = EtaSpec.parse(eta).schedule(float(process.T), alpha=process.alpha, solver=solver, steps=steps)
    return value if callable(value) else (lambda _t, _e=float(value): _e)


def _t_batch(value: float, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), value, dtype=x.dtype, device=x.device)


@torch.no_grad()
def sample(
    eps_fn: EpsFn,
    x_T: torch.Tensor,
    times,
    *,
    process: LevyVP,
    sampler: str,
    solver: str,
    eta=0.0,
    noise: NoiseFn | None = None,
    callback: Callable[[dict], None] | None = None,
    denoise_last: bool = True,
) -> torch.Tensor:
    """Solve the reverse LévyVP process from x_T at times[0] down to times[-1]; returns x̂0 (a tensor).

    Args:
        eps_fn: ε̂(x, t): x (B, ...), t (B,) float of x's dtype → (B, ...). Masked models return masked ε̂.
        x_T: the start, (B, ...): ``process.prior(shape, noise=noise)`` (or ``t=times[0]`` for a truncated start).
        times: N + 1 strictly decreasing times, e.g. :func:`time_grid` (a tensor or a sequence).
        process: the LévyVP process (gives α, a, γ, β, T).
        sampler: ``ode`` | ``sde-a`` | ``sde-e``.
        solver: ``euler`` (Euler–Maruyama) | ``ei`` (exponential integrator) | ``lim`` (LIM's variant;
            ode and sde-a only).
        eta: SDE-E noise weight: a number (constant η_t = η), a callable t -> η_t (:func:`eta_schedule`), or an η
            spec (:class:`levytts.levy.spec.EtaSpec` or its text, e.g. ``"popov(0.3,0.3)"``, resolved with
            process.T, α, the solver and N). Evaluated at each step's start s.
        noise: ``noise(x, step)`` → fresh ξ ~ SαS(1) like x (:class:`levytts.levy.noise.StableNoise`: per-sample
            generators, structure, a_max, mask); default: ``StableNoise(process.alpha)`` on torch's global RNG.
        callback: called after every step i (0..N-1) with ``dict(i=i, t=t, x=x, eps=eps)``: x is the state at
            time t = times[i+1], eps the ε̂ the step used (at times[i]). Collect ``x`` for a trajectory.
        denoise_last: return x̂0 = (x - γ ε̂)/a at times[-1] (one more ε̂ call) instead of x_{times[-1]}.

    Returns:
        x̂0 (or x_{times[-1]}), x_T's shape.
    """
    _check_choice("sampler", sampler, SAMPLERS)
    _check_choice("solver", solver, SOLVERS)
    if solver == "lim" and sampler == "sde-e":
        raise ValueError("solver 'lim' (LIM's published discretisation) exists for samplers 'ode' and 'sde-a' only")
    times = _times(times)
    eta_fn = _eta_fn(eta, process, solver, len(times) - 1)
    noise = StableNoise(process.alpha) if noise is None else noise
    x = x_T
    for i, (s, t) in enumerate(zip(times[:-1], times[1:])):
        eps_hat = eps_fn(x, _t_batch(s, x))
        c, eta_s = step_coefficients(sampler, float(eta_fn(s)), process.alpha)
        xi = noise(x, i) if eta_s > 0 or (solver == "lim" and sampler == "sde-a") else None
        if solver == "euler":
            x = euler_step(x, eps_hat, s, t, process, c, eta_s, xi)
        elif solver == "ei":
            x = ei_step(x, eps_hat, s, t, process, c, eta_s, xi)
        else:
            x = lim_step(x, eps_hat, s, t, process, sampler, xi)
        if callback is not None:
            callback(dict(i=i, t=t, x=x, eps=eps_hat))
    if denoise_last:
        eps_hat = eps_fn(x, _t_batch(times[-1], x))
        x = denoise(x, eps_hat, times[-1], process)
    return x


# ---------------------------------------------------------------------------------------------
# DLPM / DLIM (discrete time): the same signature, with the kept step indices as the times
# ---------------------------------------------------------------------------------------------
def _indices(ks, process: DLPM) -> list[int]:
    ks = ks.tolist() if isinstance(ks, torch.Tensor) else [int(k) for k in ks]
    if len(ks) < 2 or ks[-1] != 0 or ks[0] > process.n_steps or any(b >= a for a, b in zip(ks, ks[1:])):
        raise ValueError(f"DLPM steps must be strictly decreasing indices from at most n_steps={process.n_steps} to 0 "
                         f"(process.indices(steps)), got {ks}")
    return ks


@torch.no_grad()
def dlpm_sample(
    eps_fn: EpsFn,
    x_T: torch.Tensor,
    ks,
    *,
    process: DLPM,
    noise: StableNoise,
    callback: Callable[[dict], None] | None = None,
) -> torch.Tensor:
    """Stochastic DLPM sampler (Shariatian et al., eqs. 13–15, 33–34) on the kept steps ``ks``; returns y_0.

    With the chain's A_{1:K} drawn once up front (one per sample for ``isotropic``), per step k:
        Σ_k = σ_k² A_k + γ_k² Σ_{k-1}  (Σ_0 = 0),     Γ_k = 1 - γ_k² Σ_{k-1} / Σ_k
        y_{k-1} = (y_k - σ̄_k Γ_k ε̂(y_k, k)) / γ_k + (Γ_k Σ_{k-1})^{1/2} G,   G ~ N(0, 2I)
    starting from y_K = Σ_K^{1/2} G. At α = 2 (A ≡ 1) Γ_k is deterministic and this is DDPM.
    Here γ_k = gamma_bar_k/gamma_bar_{k-1}, σ_k = (1 - γ_k^α)^{1/α} between consecutive kept steps.

    Args:
        ks: the kept steps, ``process.indices(steps)`` ([n_steps, ..., 0]).
        x_T: ``process.prior(shape, noise=noise, steps=steps)``, which draws the chain's A_{1:K} into ``noise``
            (the A's and y_K are drawn together; any other x_T is refused).
        noise: the :class:`~levytts.levy.noise.StableNoise` that drew x_T; gives G of every step.
        callback: ``dict(i=, t=, x=, eps=)`` after every step (t = k/n_steps of the state x).
    """
    idx = _indices(ks, process)
    chain = getattr(noise, "dlpm_chain", None)
    if chain is None or chain[0] != tuple(idx) or chain[1] != tuple(x_T.shape):
        raise ValueError("dlpm_sample starts from x_T = process.prior(shape, noise=noise, steps=steps) with the same "
                         "noise object: the chain's mixing variables are drawn with x_T")
    noise.dlpm_chain = None  # used once
    gam, Sigma = process.chain(idx, chain[2])
    sb, asc, K = process.sigma_bar, idx[::-1], len(idx) - 1
    y = x_T
    for i, j in enumerate(range(K, 0, -1)):
        k, gamma_k = asc[j], gam[j - 1]
        Gamma = 1 - gamma_k**2 * Sigma[j - 1] / Sigma[j]
        eps_hat = eps_fn(y, _t_batch(k / process.n_steps, y))
        y = (y - float(sb[k]) * Gamma.to(y.dtype) * eps_hat) / gamma_k
        if j > 1:
            y = y + (Gamma * Sigma[j - 1]).sqrt().to(y.dtype) * noise.gaussian(y, i)
        if callback is not None:
            callback(dict(i=i, t=asc[j - 1] / process.n_steps, x=y, eps=eps_hat))
    return y


@torch.no_grad()
def dlim_sample(
    eps_fn: EpsFn,
    x_T: torch.Tensor,
    ks,
    *,
    process: DLPM,
    eta: float = 0.0,
    noise: NoiseFn | None = None,
    callback: Callable[[dict], None] | None = None,
) -> torch.Tensor:
    """DLIM (Denoising Lévy Implicit Model) sampler, Shariatian et al. eq. 41, on the kept steps ``ks``:

        ẑ0 = (z_k - σ̄_k ε̂) / γ̄_k
        z_{k'} = γ̄_{k'} ẑ0 + (σ̄_{k'}^α - ρ^α)^{1/α} ε̂ + ρ ξ,   ρ = η σ̄_{k'},  ξ ~ SαS(1)

    (k' the next kept step). η ∈ [0, 1]; η = 0 is deterministic (DDIM at α = 2). Start from
    x_T = ``process.prior(shape, noise=noise)`` = σ̄_N ξ. Arguments as :func:`dlpm_sample`.
    """
    eta = float(eta)
    if not 0 <= eta <= 1:
        raise ValueError(f"DLIM eta must be in [0, 1], got {eta}")
    idx = _indices(ks, process)
    gb, sb, alpha = process.gamma_bar, process.sigma_bar, process.alpha
    noise = StableNoise(alpha) if noise is None else noise
    z = x_T
    for i, (k, k_next) in enumerate(zip(idx[:-1], idx[1:])):
        eps_hat = eps_fn(z, _t_batch(k / process.n_steps, z))
        z0 = (z - float(sb[k]) * eps_hat) / float(gb[k])
        if k_next == 0:
            z = z0
        else:
            rho = eta * float(sb[k_next])
            z = float(gb[k_next]) * z0 + max(0.0, float(sb[k_next]) ** alpha - rho**alpha) ** (1 / alpha) * eps_hat
            if rho > 0:
                z = z + rho * noise(z, i)
        if callback is not None:
            callback(dict(i=i, t=k_next / process.n_steps, x=z, eps=eps_hat))
    return z
