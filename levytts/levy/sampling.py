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
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from levytts.levy.noise import isotropic_stable
from levytts.levy.process import DLPM, LevyVP

SAMPLERS = ("ode", "sde-a", "sde-e")
SOLVERS = ("euler", "ei", "lim")
GRIDS = ("uniform", "quadratic", "log_snr")

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_choice(name: str, value, valid) -> str:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    return value


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    return steps


def time_grid(N: int, kind: str = "uniform", T: float = 0.9946, t_eps: float = 1e-3, proc: LevyVP | None = None) -> list[float]:
    """N + 1 decreasing times from T to t_eps.

    - ``uniform``:   t_i = T - i (T - t_eps) / N
    - ``quadratic``: t_i = (√T - i (√T - √t_eps) / N)²  (denser near t_eps, LIM / DDIM)
    - ``log_snr``:   uniform in log λ(t) (needs ``proc``); the grid DPM-Solver uses. λ = γ/a is the
      inverse signal-to-noise scale, so equal log λ steps give each step the same relative change
      of the exponential integrator's ε̂ coefficient.
    """
    N = _check_steps(N)
    _check_choice("grid", kind, GRIDS)
    if not 0 < t_eps < T:
        raise ValueError(f"need 0 < t_eps < T, got t_eps={t_eps}, T={T}")
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


@torch.no_grad()
def sample(
    eps_fn: EpsFn,
    x_T: torch.Tensor,
    proc: LevyVP,
    steps: int = 20,
    sampler: str = "ode",
    solver: str = "ei",
    eta: float | Callable[[float], float] = 0.0,
    grid: str | list[float] = "uniform",
    t_eps: float = 1e-3,
    generator: torch.Generator | None = None,
    structure: str = "isotropic",
    mask: torch.Tensor | None = None,
    denoise_last: bool = True,
    return_trajectory: bool = False,
    a_max: float | None = None,
):
    """Solve the reverse process from x_T at T down to t_eps.

    Args:
        eps_fn: ε̂(x, t): x (B, ...), t (B,) float of x's dtype → (B, ...).
        x_T: prior draw, (B, ...), e.g. ``proc.prior(shape, generator)``.
        proc: the LévyVP process (gives α, a, γ, β, T).
        steps: N ≥ 1 solver steps (N network calls, plus one for the final x̂0).
        sampler: ``ode`` | ``sde-a`` | ``sde-e``.
        solver: ``euler`` (Euler–Maruyama) | ``ei`` (exponential integrator) | ``lim`` (LIM's variant;
            ode and sde-a only).
        eta: SDE-E noise weight: a float or a callable t -> η_t (see :func:`eta_schedule`).
        grid: ``uniform`` | ``quadratic`` | ``log_snr`` or an explicit decreasing list of N + 1 times.
        t_eps: last time of the grid.
        generator: torch.Generator for the fresh noise ξ of each step.
        structure: noise structure of ξ (see :func:`levytts.levy.noise.isotropic_stable`).
        mask: optional (B, 1, T) or broadcastable 0/1 mask; x is multiplied by it after each step,
            so padding never receives noise.
        denoise_last: return x̂0 = (x - γ ε̂)/a at t_eps (one more ε̂ call) instead of x_{t_eps}.
        return_trajectory: also return the list of N + 1 states [x_T, ..., x_{t_eps}].
        a_max: optional truncation of the mixing variable of ξ (default none).

    Returns:
        x̂0 of x_T's shape (and the trajectory if asked).
    """
    _check_choice("sampler", sampler, SAMPLERS)
    _check_choice("solver", solver, SOLVERS)
    if solver == "lim" and sampler == "sde-e":
        raise ValueError("solver 'lim' (LIM's published discretisation) exists for samplers 'ode' and 'sde-a' only")
    if isinstance(grid, str):
        times = time_grid(_check_steps(steps), grid, float(proc.T), t_eps, proc)
    else:
        times = [float(t) for t in grid]
        if len(times) < 2 or any(b >= a for a, b in zip(times, times[1:])):
            raise ValueError("an explicit grid must hold at least 2 strictly decreasing times")
    eta_fn = eta if callable(eta) else (lambda _t, _e=float(eta): _e)
    B = x_T.shape[0]
    x = x_T if mask is None else x_T * mask
    traj = [x] if return_trajectory else None
    for s, t in zip(times[:-1], times[1:]):
        t_batch = torch.full((B,), s, dtype=x.dtype, device=x.device)
        eps_hat = eps_fn(x, t_batch)
        c, eta_s = step_coefficients(sampler, float(eta_fn(s)), proc.alpha)
        xi = None
        if eta_s > 0 or (solver == "lim" and sampler == "sde-a"):
            xi = isotropic_stable(x.shape, proc.alpha, generator=generator, device=x.device, dtype=x.dtype,
                                  structure=structure, a_max=a_max)
        if solver == "euler":
            x = euler_step(x, eps_hat, s, t, proc, c, eta_s, xi)
        elif solver == "ei":
            x = ei_step(x, eps_hat, s, t, proc, c, eta_s, xi)
        else:
            x = lim_step(x, eps_hat, s, t, proc, sampler, xi)
        if mask is not None:
            x = x * mask
        if return_trajectory:
            traj.append(x)
    if denoise_last:
        t_last = times[-1]
        eps_hat = eps_fn(x, torch.full((B,), t_last, dtype=x.dtype, device=x.device))
        x = denoise(x, eps_hat, t_last, proc)
        if mask is not None:
            x = x * mask
    return (x, traj) if return_trajectory else x


# ---------------------------------------------------------------------------------------------
# DLPM / DLIM (discrete time)
# ---------------------------------------------------------------------------------------------
def _dlpm_indices(proc: DLPM, steps: int | None) -> list[int]:
    """Decreasing step indices [K, ..., 0] used by the discrete samplers (a uniform subsequence)."""
    steps = proc.n_steps if steps is None else _check_steps(steps)
    if steps > proc.n_steps:
        raise ValueError(f"steps={steps} exceeds the process' n_steps={proc.n_steps}")
    idx = torch.linspace(proc.n_steps, 0, steps + 1).round().long().tolist()
    return idx


@torch.no_grad()
def dlpm_sample(
    eps_fn: EpsFn,
    shape,
    proc: DLPM,
    steps: int | None = None,
    generator: torch.Generator | None = None,
    device=None,
    dtype=None,
    structure: str = "isotropic",
    a_max: float | None = None,
    return_trajectory: bool = False,
):
    """Stochastic DLPM sampler (Shariatian et al., eqs. 13–15, 33–34) on a subsequence of steps.

    With the chain's A_{1:K} drawn once up front (one per sample for ``isotropic``), per step k:
        Σ_k = σ_k² A_k + γ_k² Σ_{k-1}  (Σ_0 = 0),     Γ_k = 1 - γ_k² Σ_{k-1} / Σ_k
        y_{k-1} = (y_k - σ̄_k Γ_k ε̂(y_k, k)) / γ_k + (Γ_k Σ_{k-1})^{1/2} G,   G ~ N(0, 2I)
    starting from y_K = Σ_K^{1/2} G. At α = 2 (A ≡ 1) Γ_k is deterministic and this is DDPM.
    Here γ_k = gamma_bar_k/gamma_bar_{k-1}, σ_k = (1 - γ_k^α)^{1/α} between consecutive kept steps.

    Returns y_0 of ``shape`` (B, ...) (and the trajectory if asked).
    """
    from levytts.levy.noise import mixing_shape, positive_stable

    idx = _dlpm_indices(proc, steps)
    if generator is not None and device is None:
        device = generator.device
    dtype = dtype or torch.get_default_dtype()
    gb, sb = proc.gamma_bar, proc.sigma_bar
    alpha = proc.alpha
    shape = tuple(shape)
    a_shape = mixing_shape(shape, structure)
    K = len(idx) - 1
    # chain quantities in ascending order j = 1..K (j-th kept step = idx[K - j])
    asc = idx[::-1]
    gam = [float(gb[asc[j]] / gb[asc[j - 1]]) for j in range(1, K + 1)]
    sig = [max(0.0, 1 - g**alpha) ** (1 / alpha) for g in gam]
    A = positive_stable((K,) + a_shape, alpha, generator=generator, device=device, a_max=a_max)
    Sigma = [torch.zeros(a_shape, dtype=torch.float64, device=A.device)]
    for j in range(K):
        Sigma.append(sig[j] ** 2 * A[j] + gam[j] ** 2 * Sigma[-1])
    g = torch.randn(shape, generator=generator, device=device, dtype=dtype) * math.sqrt(2.0)
    y = Sigma[K].sqrt().to(dtype) * g
    traj = [y] if return_trajectory else None
    B = shape[0]
    for j in range(K, 0, -1):
        k = asc[j]
        gamma_k = gam[j - 1]
        Gamma = 1 - gamma_k**2 * Sigma[j - 1] / Sigma[j]
        t_batch = torch.full((B,), k / proc.n_steps, dtype=dtype, device=y.device)
        eps_hat = eps_fn(y, t_batch)
        y = (y - float(sb[k]) * Gamma.to(dtype) * eps_hat) / gamma_k
        if j > 1:
            g = torch.randn(shape, generator=generator, device=device, dtype=dtype) * math.sqrt(2.0)
            y = y + (Gamma * Sigma[j - 1]).sqrt().to(dtype) * g
        if return_trajectory:
            traj.append(y)
    return (y, traj) if return_trajectory else y


@torch.no_grad()
def dlim_sample(
    eps_fn: EpsFn,
    x_T: torch.Tensor,
    proc: DLPM,
    steps: int | None = None,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    structure: str = "isotropic",
    return_trajectory: bool = False,
):
    """DLIM (Denoising Lévy Implicit Model) sampler, Shariatian et al. eq. 41, on a subsequence of steps:

        ẑ0 = (z_k - σ̄_k ε̂) / γ̄_k
        z_{k'} = γ̄_{k'} ẑ0 + (σ̄_{k'}^α - ρ^α)^{1/α} ε̂ + ρ ξ,   ρ = η σ̄_{k'},  ξ ~ SαS(1)

    (k' the next kept step). η = 0 is deterministic (DDIM at α = 2). Start from x_T = σ̄_K ξ.
    """
    if not 0 <= eta <= 1:
        raise ValueError(f"DLIM eta must be in [0, 1], got {eta}")
    idx = _dlpm_indices(proc, steps)
    gb, sb = proc.gamma_bar, proc.sigma_bar
    alpha = proc.alpha
    z = x_T
    B = z.shape[0]
    traj = [z] if return_trajectory else None
    for k, k_next in zip(idx[:-1], idx[1:]):
        t_batch = torch.full((B,), k / proc.n_steps, dtype=z.dtype, device=z.device)
        eps_hat = eps_fn(z, t_batch)
        z0 = (z - float(sb[k]) * eps_hat) / float(gb[k])
        if k_next == 0:
            z = z0
        else:
            rho = eta * float(sb[k_next])
            z = float(gb[k_next]) * z0 + max(0.0, float(sb[k_next]) ** alpha - rho**alpha) ** (1 / alpha) * eps_hat
            if rho > 0:
                z = z + rho * isotropic_stable(z.shape, alpha, generator=generator, device=z.device,
                                               dtype=z.dtype, structure=structure)
        if return_trajectory:
            traj.append(z)
    return (z, traj) if return_trajectory else z
