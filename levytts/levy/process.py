"""Forward processes: LévyVP (LIM, continuous time) and DLPM (discrete time). docs/design.md §3, §5.

LévyVP is the scale-preserving α-stable SDE of LIM (Yoon et al. 2023):

    dX = -(β(t)/α) X dt + β(t)^{1/α} dL^α_t,   X_t | X_0 = a(t) X_0 + γ(t) ε,   ε ~ SαS^d(1),

with a(t) = exp(-∫_0^t β/α), γ(t) = (1 - a(t)^α)^{1/α}, λ(t) = γ(t)/a(t).

Schedules:
- ``cosine`` (LIM / Nichol–Dhariwal, s = 0.008, T = 0.9946 because a(1) = 0):
  a(t) = cos(π/2·(t+s)/(1+s)) / cos(π/2·s/(1+s)),  β(t) = α·(π/2)/(1+s)·tan(π/2·(t+s)/(1+s)).
- ``linear`` (Grad-TTS / VP-SDE, β(t) = β_0 + (β_1 - β_0) t, T = 1):
  a(t) = exp(-(β_0 t + (β_1 - β_0) t²/2)/α).

All scalar functions accept a python float or a tensor and compute in float64 for tensors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from levytts.levy.noise import check_alpha, isotropic_stable

SCHEDULES = ("cosine", "linear")


def _as_f64(t):
    if isinstance(t, torch.Tensor):
        return t.to(torch.float64), True
    return torch.as_tensor(float(t), dtype=torch.float64), False


def _out(x: torch.Tensor, was_tensor: bool):
    return x if was_tensor else float(x)


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) or scalar coefficient → broadcastable against ``like`` of shape (B, ...), like's dtype/device."""
    v = v.to(device=like.device, dtype=like.dtype)
    if v.ndim == 0:
        return v
    return v.reshape(v.shape[0], *([1] * (like.ndim - 1)))


T_LAWS = ("uniform", "edm")  # the training-time laws of LevyVP.sample_t


def check_t_law(law: str, lognormal=(-1.2, 1.2), uniform_fraction: float = 0.5) -> tuple[str, tuple[float, float], float]:
    """The arguments of :meth:`LevyVP.sample_t`, checked once (the TTS model checks its config with it at
    construction, before any draw): returns (law, (P_mean, P_std), uniform_fraction) as str, floats, float.

    Raises ValueError (one line, naming the argument) for an unknown law, a ``lognormal`` that is not two finite
    numbers with P_std > 0, or a ``uniform_fraction`` outside [0, 1]."""
    if law not in T_LAWS:
        raise ValueError(f"unknown training-time law {law!r}; valid: {', '.join(T_LAWS)}")
    try:
        if isinstance(lognormal, str) or len(lognormal) != 2:
            raise ValueError
        p_mean, p_std = (float(v) for v in lognormal)
    except (TypeError, ValueError):
        raise ValueError(f"lognormal must be [P_mean, P_std] (two numbers), got {lognormal!r}") from None
    if not (math.isfinite(p_mean) and math.isfinite(p_std) and p_std > 0):
        raise ValueError(f"lognormal needs a finite mean and a std > 0, got {list(lognormal)}")
    try:
        fraction = float(uniform_fraction)
    except (TypeError, ValueError):
        raise ValueError(f"uniform_fraction must be a number in [0, 1], got {uniform_fraction!r}") from None
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"uniform_fraction must lie in [0, 1], got {uniform_fraction}")
    return law, (p_mean, p_std), fraction


@dataclass(frozen=True)
class LevyVP:
    """The LIM α-stable variance-preserving process.

    Args:
        alpha: stability index in [0.5, 2] (noise.ALPHA_MIN); α = 2 is the Gaussian VP diffusion, noise variance 2.
        schedule: ``"cosine"`` or ``"linear"``.
        s: cosine offset.
        T: final time (default 0.9946 for cosine, where a(T) ≈ 0.0137; 1.0 for linear).
        beta_min, beta_max: linear schedule endpoints.
        t_min: smallest training time.
    """

    alpha: float
    schedule: str = "cosine"
    s: float = 0.008
    T: float | None = None
    beta_min: float = 0.1
    beta_max: float = 20.0
    t_min: float = 1e-5

    def __post_init__(self):
        object.__setattr__(self, "alpha", check_alpha(self.alpha))
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        if self.T is None:
            object.__setattr__(self, "T", 0.9946 if self.schedule == "cosine" else 1.0)
        T = float(self.T)
        if self.schedule == "cosine" and not 0 < T < 1:
            raise ValueError(f"cosine schedule needs 0 < T < 1 (a(1) = 0 is singular), got T={T}")
        if not 0 <= self.t_min < T:
            raise ValueError(f"need 0 <= t_min < T, got t_min={self.t_min}, T={T}")

    # --- schedule functions -------------------------------------------------------------------
    def _phase(self, t: torch.Tensor) -> torch.Tensor:
        return (math.pi / 2) * (t + self.s) / (1 + self.s)

    def log_a(self, t):
        """log a(t)."""
        t, was = _as_f64(t)
        if self.schedule == "cosine":
            v = torch.log(torch.cos(self._phase(t))) - math.log(math.cos(math.pi / 2 * self.s / (1 + self.s)))
        else:
            v = -(self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2) / self.alpha
        return _out(v, was)

    def a(self, t):
        """Signal scale a(t) = exp(-∫_0^t β/α)."""
        t, was = _as_f64(t)
        return _out(torch.exp(self.log_a(t)), was)

    def gamma(self, t):
        """Noise scale γ(t) = (1 - a(t)^α)^{1/α}."""
        t, was = _as_f64(t)
        # -expm1(α log a) = 1 - a^α without cancellation for small t.
        return _out((-torch.expm1(self.alpha * self.log_a(t))).clamp_min(0.0) ** (1 / self.alpha), was)

    def beta(self, t):
        """β(t): cosine α·(π/2)/(1+s)·tan(π/2·(t+s)/(1+s)); linear β_0 + (β_1 - β_0)t."""
        t, was = _as_f64(t)
        if self.schedule == "cosine":
            v = self.alpha * (math.pi / 2) / (1 + self.s) * torch.tan(self._phase(t))
        else:
            v = self.beta_min + (self.beta_max - self.beta_min) * t
        return _out(v, was)

    def lam(self, t):
        """λ(t) = γ(t)/a(t), increasing in t."""
        t, was = _as_f64(t)
        return _out(self.gamma(t) / self.a(t), was)

    # --- marginals ------------------------------------------------------------------------------
    def marginal(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x_t = a(t) x0 + γ(t) ε.

        Args:
            x0: data, shape (B, ...).
            t: times, shape (B,) (or a scalar).
            eps: SαS noise, shape (B, ...).
        Returns:
            x_t, shape (B, ...).
        """
        t, _ = _as_f64(t)
        return _bcast(self.a(t), x0) * x0 + _bcast(self.gamma(t), x0) * eps

    def sample_t(self, batch: int, generator=None, device=None, law: str = "uniform",
                 lognormal: tuple[float, float] = (-1.2, 1.2), uniform_fraction: float = 0.5) -> torch.Tensor:
        """Training times, shape (B,), float32.

        ``law="uniform"``: t ~ U(t_min, T) (LIM, Grad-TTS). ``law="edm"``: importance sampling of the noise level
        after Karras et al. (2022, EDM §5, "p_train"): a fraction ``uniform_fraction`` of the draws is uniform in t,
        the rest has the nominal noise level σ = √2·λ(t) (:meth:`preconditioning`) log-normal,
        ln σ ~ N(P_mean, P_std²) with ``lognormal = (P_mean, P_std)`` (EDM: (-1.2, 1.2) for σ_data = 0.5), mapped
        to t by :meth:`t_from_lam` and kept in [t_min, T]. On Grad-TTS's linear schedule (α = 1.5) uniform t puts
        4 % of the draws below σ = 0.1, where the fine detail of a mel is denoised; the EDM log-normal puts 18 %
        there (and 50 % below σ = 0.3). ValueError for an unknown law or a fraction outside [0, 1].
        """
        law, (p_mean, p_std), uniform_fraction = check_t_law(law, lognormal, uniform_fraction)
        dev = device if generator is None else generator.device
        u = torch.rand(batch, generator=generator, device=dev)
        t = self.t_min + (float(self.T) - self.t_min) * u
        if law == "uniform":
            return t
        sigma = torch.exp(p_mean + p_std * torch.randn(batch, generator=generator, device=dev, dtype=torch.float64))
        t_ln = self.t_from_lam(sigma / math.sqrt(2.0)).to(t.dtype)
        keep_uniform = torch.rand(batch, generator=generator, device=dev) < uniform_fraction
        return torch.where(keep_uniform, t, t_ln)

    def t_from_lam(self, lam: torch.Tensor, iters: int = 60) -> torch.Tensor:
        """The time t in [t_min, T] with λ(t) = ``lam`` (λ increases with t), by bisection in float64 (any
        schedule); λ outside [λ(t_min), λ(T)] gives t_min or T. Shape of ``lam``."""
        lam = torch.as_tensor(lam, dtype=torch.float64)
        lo = torch.full_like(lam, float(self.t_min))
        hi = torch.full_like(lam, float(self.T))
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            below = self.lam(mid) < lam
            lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        return 0.5 * (lo + hi)

    def noise(self, shape, generator=None, device=None, dtype=None, structure="isotropic", **kw) -> torch.Tensor:
        """ε ~ SαS(1) of ``shape`` with this process' α (see :func:`isotropic_stable`)."""
        return isotropic_stable(shape, self.alpha, generator=generator, device=device, dtype=dtype,
                                structure=structure, **kw)

    def prior(self, shape, generator=None, device=None, dtype=None, structure="isotropic", *, noise=None,
              t: float | None = None, **kw) -> torch.Tensor:
        """x_t = γ(t)·ξ, ξ ~ SαS(1): the mean-zero prior at t = T (a(T)·x0 is dropped; a(T) ≈ 0.014 for cosine).

        ``t`` < T: a truncated start (the a(t)·x0 part of x_t is dropped too); pair it with
        ``time_grid(N, T, t_start=t)``. ``noise``: a :class:`~levytts.levy.noise.StableNoise` (or any
        ``noise(x, step)``) to draw ξ with; otherwise ξ is drawn with ``generator``, ``structure`` and ``kw``
        (e.g. ``a_max``) as :func:`isotropic_stable` does.
        """
        t = float(self.T) if t is None else float(t)
        if not 0 < t <= float(self.T):
            raise ValueError(f"the prior's time must lie in (0, T={self.T}], got {t}")
        if noise is None:
            return float(self.gamma(t)) * self.noise(shape, generator, device, dtype, structure, **kw)
        return float(self.gamma(t)) * noise(_template(shape, device, dtype, noise), None)

    def eps_from_x0(self, x: torch.Tensor, x0_hat: torch.Tensor, t) -> torch.Tensor:
        """ε̂ = (x_t - a(t) x̂0) / γ(t): a data (x0) prediction as the noise prediction the samplers use.

        Inverts :meth:`marginal` for ε. Args: x, x0_hat (B, ...); t (B,) or a scalar, t > 0 (γ(0) = 0).
        Returns ε̂, shape (B, ...). Samplers built on ε̂ then reproduce the x0 form of each step, e.g. the
        EI/DDIM ODE step x_t = (γ_t/γ_s) x_s + (a_t - γ_t a_s/γ_s) x̂0.
        """
        t, _ = _as_f64(t)
        a, g = _bcast(self.a(t), x).to(x.dtype), _bcast(self.gamma(t), x).to(x.dtype)
        return (x - a * x0_hat) / g

    def preconditioning(self, t, sigma_data: float):
        """Karras et al. (2022, EDM) preconditioning of a denoiser, written for this process.

        With y = x_t / a(t) = x0 + λ(t) ε (λ = γ/a) and the nominal noise level σ = √2·λ (the standard deviation
        of λε at α = 2; for α < 2 it is the scale of the Gaussian given A = 1), the denoiser is
        x̂0 = c_skip·y + c_out·F(c_in·y, t) with c_in = 1/√(σ² + σ_d²), c_skip = σ_d²/(σ² + σ_d²),
        c_out = σ·σ_d/√(σ² + σ_d²). Near t = 0 it passes y through (c_skip → 1, c_out → 0), near T it is a plain
        x0 prediction (c_skip → 0, c_out → σ_d): well conditioned at both ends.

        Args: t (B,) tensor or a scalar; sigma_data: σ_d > 0, the standard deviation of the data x0.
        Returns: (c_in, c_skip, c_out), each of t's shape, float64.
        """
        if not sigma_data > 0:
            raise ValueError(f"sigma_data must be > 0, got {sigma_data}")
        t, _ = _as_f64(t)
        sigma2 = 2.0 * self.lam(t) ** 2
        sd2 = float(sigma_data) ** 2
        norm = torch.sqrt(sigma2 + sd2)
        return 1.0 / norm, sd2 / (sigma2 + sd2), torch.sqrt(sigma2) * float(sigma_data) / norm

    def score_from_eps(self, eps_hat: torch.Tensor, t) -> torch.Tensor:
        """Fractional score S(x) = -ε̂ / (α γ(t)^{α-1})."""
        t, _ = _as_f64(t)
        return -eps_hat / (self.alpha * _bcast(self.gamma(t), eps_hat) ** (self.alpha - 1))


def _template(shape, device, dtype, noise) -> torch.Tensor:
    """An empty tensor of ``shape`` that a noise object draws like (device: the given one, else its generators')."""
    if device is None:
        gens = getattr(noise, "generators", None)
        g = gens[0] if isinstance(gens, (list, tuple)) and gens else gens
        device = g.device if isinstance(g, torch.Generator) else None
    return torch.empty(tuple(shape), device=device, dtype=dtype or torch.get_default_dtype())


def nichol_cosine_alpha_bar(n_steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """ᾱ_k, k = 0..n_steps, of Nichol & Dhariwal's cosine schedule (β_k clipped at ``max_beta``), float64."""
    k = torch.arange(n_steps + 1, dtype=torch.float64)
    f = torch.cos((k / n_steps + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    betas = (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])


@dataclass(frozen=True)
class DLPM:
    """Discrete-time Denoising Lévy Probabilistic Model (Shariatian et al.), docs/design.md §5.

    gamma_bar_k = ᾱ_k^{1/α} (Nichol cosine ᾱ), sigma_bar_k = (1 - gamma_bar_k^α)^{1/α}, k = 0..n_steps.
    Forward: Y_k = gamma_bar_k Y_0 + sigma_bar_k ε, ε ~ SαS(1) (equivalently Σ_{1→k}(A_{1:k})^{1/2} G).
    One step k-1 → k: Y_k = gamma_k Y_{k-1} + sigma_k √A_k G with gamma_k = gamma_bar_k/gamma_bar_{k-1},
    sigma_k = (1 - gamma_k^α)^{1/α}.

    Networks see the continuous time t = k / n_steps, so the same ε-network code serves LIM and DLPM.
    """

    alpha: float
    n_steps: int = 1000
    s: float = 0.008

    def __post_init__(self):
        object.__setattr__(self, "alpha", check_alpha(self.alpha))
        if int(self.n_steps) < 1:
            raise ValueError(f"n_steps must be >= 1, got {self.n_steps}")

    @property
    def gamma_bar(self) -> torch.Tensor:
        """(n_steps + 1,) float64, gamma_bar[0] = 1."""
        return nichol_cosine_alpha_bar(self.n_steps, self.s) ** (1 / self.alpha)

    @property
    def sigma_bar(self) -> torch.Tensor:
        """(n_steps + 1,) float64, sigma_bar[0] = 0."""
        return (1 - self.gamma_bar**self.alpha).clamp_min(0) ** (1 / self.alpha)

    def time(self, k: torch.Tensor) -> torch.Tensor:
        """Network time t = k / n_steps."""
        return k.to(torch.float32) / self.n_steps

    def sample_k(self, batch: int, generator=None, device=None) -> torch.Tensor:
        """Training steps k ~ U{1, ..., n_steps}, shape (B,), int64."""
        dev = device if generator is None else generator.device
        return torch.randint(1, self.n_steps + 1, (batch,), generator=generator, device=dev)

    def marginal(self, x0: torch.Tensor, k: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Y_k = gamma_bar_k x0 + sigma_bar_k ε; x0, eps (B, ...), k (B,) int."""
        gb = self.gamma_bar.to(x0.device)[k]
        sb = self.sigma_bar.to(x0.device)[k]
        return _bcast(gb, x0) * x0 + _bcast(sb, x0) * eps

    def noise(self, shape, generator=None, device=None, dtype=None, structure="isotropic", **kw) -> torch.Tensor:
        return isotropic_stable(shape, self.alpha, generator=generator, device=device, dtype=dtype,
                                structure=structure, **kw)

    def indices(self, steps: int | None = None) -> list[int]:
        """Decreasing step indices [n_steps, ..., 0] of a ``steps``-step sampler (a uniform subsequence)."""
        if steps is None:
            steps = int(self.n_steps)
        elif isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        if steps > self.n_steps:
            raise ValueError(f"steps={steps} exceeds the process' n_steps={self.n_steps}")
        return torch.linspace(self.n_steps, 0, steps + 1).round().long().tolist()

    def chain(self, idx: list[int], A: torch.Tensor) -> tuple[list[float], list[torch.Tensor]]:
        """The ancestral chain over the kept steps ``idx`` (decreasing) given its mixing variables A (K, ...):
        γ_j = γ̄_{k_j}/γ̄_{k_{j-1}} and Σ_j = σ_j² A_j + γ_j² Σ_{j-1} (Σ_0 = 0), j = 1..K ascending
        (σ_j = (1 - γ_j^α)^{1/α}). Returns ([γ_1..γ_K], [Σ_0..Σ_K]) (Σ float64, A's shape without dim 0)."""
        gb, asc, alpha = self.gamma_bar, idx[::-1], self.alpha
        K = len(idx) - 1
        gam = [float(gb[asc[j]] / gb[asc[j - 1]]) for j in range(1, K + 1)]
        sig = [max(0.0, 1 - g**alpha) ** (1 / alpha) for g in gam]
        Sigma = [torch.zeros(A.shape[1:], dtype=torch.float64, device=A.device)]
        for j in range(K):
            Sigma.append(sig[j] ** 2 * A[j] + gam[j] ** 2 * Sigma[-1])
        return gam, Sigma

    def prior(self, shape, generator=None, device=None, dtype=None, structure="isotropic", *, noise=None,
              steps: int | None = None, **kw) -> torch.Tensor:
        """The start of the reverse chain, a draw of σ̄_N·ξ, ξ ~ SαS(1) (the marginal at k = n_steps).

        Without ``steps``: σ̄_N·ξ drawn directly (DLIM's start). With ``steps`` (and ``noise``, a
        :class:`~levytts.levy.noise.StableNoise`): the start of the stochastic DLPM sampler, y_K = Σ_K^{1/2} G
        with the chain's A_1..A_K drawn first (Shariatian et al.: the mixing variables are drawn once, up front);
        marginally the same law. The chain is kept on ``noise`` (``noise.dlpm_chain``) for :func:`dlpm_sample`,
        which must get the same ``noise`` and ``steps``.
        """
        if noise is None:
            from levytts.levy.noise import StableNoise

            noise = StableNoise(self.alpha, structure, generators=generator, **kw)
        x = _template(shape, device, dtype, noise)
        if steps is None:
            return float(self.sigma_bar[-1]) * noise(x, None)
        idx = self.indices(steps)
        A = noise.mixing(x, len(idx) - 1)
        _, Sigma = self.chain(idx, A)
        y = Sigma[-1].sqrt().to(x.dtype) * noise.gaussian(x, None)
        noise.dlpm_chain = (tuple(idx), tuple(y.shape), A)
        return y
