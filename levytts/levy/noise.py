"""α-stable random variables on any device (docs/design.md §2).

Conventions
-----------
``stable(shape, alpha, skew, scale)`` draws the 1-D stable law S_α(scale, skew, 0) in the
Samorodnitsky–Taqqu (scipy "S1") parametrisation, whose characteristic function is

    E exp(iuX) = exp(-scale^α |u|^α (1 - i·skew·sign(u)·tan(πα/2)))      (α ≠ 1)

``isotropic_stable(shape, alpha)`` draws SαS^d(1), E exp(i<u, X>) = exp(-‖u‖^α), by the
"Gaussian trick" (DLPM slides eq. 1–2):

    X = √A · G,   G ~ N(0, 2 I),   A ~ S_{α/2}(cos(πα/4)^{2/α}, 1, 0),   E e^{-sA} = e^{-s^{α/2}}.

Given A, X is Gaussian with covariance 2A·I, so E exp(i<u,X>) = E exp(-A‖u‖²) = exp(-‖u‖^α).
At α = 2, A ≡ 1 and X ~ N(0, 2 I) (drawn as √2·randn, consuming the generator exactly like randn).

Sampling uses Chambers–Mallows–Stuck in float64 (the formula needs the precision near U = ±π/2),
then casts. We write CMS ourselves rather than calling scipy.stats.levy_stable because scipy draws on
the CPU with numpy's RNG: it cannot take a torch.Generator or run on CUDA, and it is ~100× slower
(see benchmarks/noise.py).

Accepted α: [ALPHA_MIN, 2] = [0.5, 2]. The tail P(|X| > x) ≈ C_α x^{-α} puts a draw beyond float32's
largest value (3.4e38) with probability ≈ 10^{-38.5 α}: 10^{-19} at α = 0.5, but 10^{-3.9} at α = 0.1,
and at α = 0.01 a third of all draws overflow — and the float64 CMS factors cos(U)^{-1/α},
(cos(·)/W)^{(1-α)/α} overflow too. Within [0.5, 2] every float64 path is finite by construction
(W ≥ 2^-54, cos(U) ≥ 6e-17, see ``stable``); a draw that still is not finite in the requested dtype
(float16, a huge ``scale``) raises FloatingPointError rather than being returned.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

STRUCTURES = ("isotropic", "per_frame", "independent")
ALPHA_MIN = 0.5  # smallest accepted α: below it draws overflow float32/float64 (module docstring)
# |α - 1| below which a skewed draw uses the cancellation-free form of CMS (see ``stable``); above it the
# plain Weron form is accurate to ~1e-16/|α - 1| relative, and kept bit for bit.
_NEAR_ONE = 1e-2
_W_MIN = 2.0**-54  # below the smallest nonzero W = -log1p(-2^-53) ≈ 1.1e-16: only W = 0 is moved


def check_alpha(alpha: float, low_open: float = 0.0) -> float:
    """Return ``alpha`` as float, or raise ValueError unless alpha ∈ [ALPHA_MIN, 2] = [0.5, 2] (and > low_open)."""
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in [{ALPHA_MIN}, 2], got {alpha!r}") from None
    if not (ALPHA_MIN <= alpha <= 2.0 and alpha > low_open) or math.isnan(alpha):
        raise ValueError(f"alpha must be in [{ALPHA_MIN}, 2], got {alpha}"
                         + (" (smaller α overflows float32/float64 noise: see levytts.levy.noise)"
                            if 0 < alpha < ALPHA_MIN else ""))
    return alpha


def _require_finite(x: torch.Tensor, what: str) -> torch.Tensor:
    """Raise FloatingPointError if ``x`` holds NaN/inf: noise is never returned non-finite."""
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        raise FloatingPointError(f"{what}: {int(bad.sum())} of {x.numel()} draws are not finite in {x.dtype} "
                                 "(a wider dtype or a smaller scale keeps them finite)")
    return x


def _shape(shape) -> tuple[int, ...]:
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(s) for s in shape)


def _uniform_exponential(shape, generator, device):
    """U ~ U(-π/2, π/2) and W ~ Exp(1) in float64."""
    u = (torch.rand(shape, generator=generator, device=device, dtype=torch.float64) - 0.5) * math.pi
    # 1 - rand is in (0, 1], so the log is finite; W = 0 (rand = 0) would make (·/W)^{(1-α)/α} infinite for
    # α < 1, so it is moved to 2^-54, half the smallest nonzero W (every other draw is unchanged).
    w = -torch.log1p(-torch.rand(shape, generator=generator, device=device, dtype=torch.float64))
    return u, w.clamp_min_(_W_MIN)


def stable(
    shape: int | Sequence[int],
    alpha: float,
    skew: float = 0.0,
    scale: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Draw i.i.d. S_α(scale, skew, 0) variables (scipy's S1 parametrisation) by Chambers–Mallows–Stuck.

    For α ≠ 1, with U ~ U(-π/2, π/2), W ~ Exp(1), ζ = -skew·tan(πα/2), ξ = arctan(-ζ)/α:

        X = (1 + ζ²)^{1/(2α)} · sin(α(U + ξ)) / cos(U)^{1/α} · (cos(U - α(U + ξ)) / W)^{(1-α)/α}

    For α = 1 (ξ = π/2):

        X = (1/ξ)·[(π/2 + skew·U)·tan U - skew·log((π/2)·W·cos U / (π/2 + skew·U))],
        then scale·X + (2/π)·skew·scale·log(scale).

    (Chambers, Mallows & Stuck 1976; in this S1 form, Weron 1996.) Near α = 1 with skew ≠ 0 the S1 law
    is the continuous S0 law shifted by skew·tan(πα/2), unbounded as α → 1, and the formula above cancels: tan(πα/2) from the rounded πα/2
    is off by ~1e-16/|α-1| relative, so cos(U - α(U+ξ)) goes negative and X NaN (α = 1 + 1e-12: ~1 NaN
    in 50 000). For 0 < |α - 1| < 0.01 and skew ≠ 0 the same X is computed without cancellation, with
    ε = α - 1 (exact), c₀ = arctan(-tan(πε/2)/skew) (so αξ = σπ/2 - c₀, σ = sign c₀):

        X = |sin c₀|^{-1/α} · σ cos(αU - c₀) / cos(U)^{1/α} · (σ sin(c₀ - εU) / W)^{-ε/α}

    (|c₀| ≥ |ε|π/2 ≥ |εU|, so σ sin(c₀ - εU) ≥ 0). Where a factor that is ≥ 0 in exact arithmetic
    rounds to ≤ 0 (only at U within an ulp of ∓π/2 with |skew| = 1) it is floored at its rounding
    resolution, so every float64 draw is finite for α ∈ [0.5, 2].

    Args:
        shape: output shape.
        alpha: stability index in [0.5, 2] (ALPHA_MIN = 0.5, see the module docstring).
        skew: skewness β in [-1, 1].
        scale: scale σ > 0.
        generator: torch.Generator for reproducibility (on ``device``).
        device, dtype: output placement; dtype defaults to torch.get_default_dtype().

    Returns:
        Tensor of ``shape``.
    """
    alpha = check_alpha(alpha)
    skew = float(skew)
    if not -1.0 <= skew <= 1.0:
        raise ValueError(f"skew must be in [-1, 1], got {skew}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    dtype = dtype or torch.get_default_dtype()
    shape = _shape(shape)
    if generator is not None and device is None:
        device = generator.device
    x = _cms(shape, alpha, skew, scale, generator, device)
    return _require_finite(x.to(dtype), f"stable(alpha={alpha}, skew={skew}, scale={scale})")


def _cms(shape: tuple[int, ...], alpha: float, skew: float, scale: float, generator, device) -> torch.Tensor:
    """The float64 CMS draw of :func:`stable` for checked arguments; α ∈ [0.25, 2] (``positive_stable``
    draws index α/2 ≥ 0.25), where every factor is finite: cos(U)^{-1/α} ≤ 6e-17^{-4}, (·/W) ≤ 2^54."""
    u, w = _uniform_exponential(shape, generator, device)
    if alpha == 1.0:
        half_pi = math.pi / 2
        b_u = (half_pi + skew * u).clamp_min(half_pi * 2.0**-53)  # 0 only at U = ∓π/2 with skew = ±1
        x = (b_u * torch.tan(u) - skew * torch.log(half_pi * w * torch.cos(u) / b_u)) / half_pi
        x = scale * x + (2 / math.pi) * skew * scale * math.log(scale)
    elif skew != 0.0 and abs(alpha - 1.0) < _NEAR_ONE:
        eps = alpha - 1.0  # exact (Sterbenz)
        c0 = math.atan(-math.tan(math.pi * eps / 2) / skew)
        sigma = math.copysign(1.0, c0)
        base = (sigma * torch.sin(c0 - eps * u)).clamp_min(abs(c0) * 2.0**-53) / w
        x = (
            abs(math.sin(c0)) ** (-1 / alpha)
            * sigma
            * torch.cos(alpha * u - c0)
            / torch.cos(u) ** (1 / alpha)
            * base ** (-eps / alpha)
        )
        x = scale * x
    else:
        zeta = -skew * math.tan(math.pi * alpha / 2)
        xi = math.atan(-zeta) / alpha
        ua = alpha * (u + xi)
        x = (
            (1 + zeta**2) ** (1 / (2 * alpha))
            * torch.sin(ua)
            / torch.cos(u) ** (1 / alpha)
            # ≥ 0 exactly; floored at its rounding resolution (only at U = ∓π/2 with |skew| = 1)
            * (torch.cos(u - ua).clamp_min(abs(1 - alpha) * 2.0**-53) / w) ** ((1 - alpha) / alpha)
        )
        x = scale * x
    return x


def positive_stable(
    shape: int | Sequence[int],
    alpha: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    a_max: float | None = None,
    a_max_mode: str = "resample",
) -> torch.Tensor:
    """The mixing variable A of the Gaussian trick, float64: E e^{-sA} = exp(-s^{α/2}).

    A ~ S_{α/2}(cos(πα/4)^{2/α}, 1, 0), drawn by CMS (nonnegative; rounding below 0 is clamped).
    At α = 2 returns ones.

    Args:
        a_max: optional truncation of A (the official LIM/DLPM codes reject A ≥ 20). ``None`` (default)
            means no truncation — the exact law.
        a_max_mode: ``"resample"`` redraws values ≥ a_max (the law conditioned on A < a_max);
            ``"clip"`` clamps them to a_max.
    """
    alpha = check_alpha(alpha)
    shape = _shape(shape)
    if generator is not None and device is None:
        device = generator.device
    if alpha == 2.0:
        return torch.ones(shape, dtype=torch.float64, device=device)
    rho = alpha / 2
    # cos(πα/4) = sin(π(2-α)/4): the sine form keeps its relative precision as α → 2 (ρ → 1), where
    # ``stable`` uses its near-one form; elsewhere the cosine form is kept bit for bit.
    scale = (math.sin(math.pi * (2 - alpha) / 4) if abs(rho - 1) < _NEAR_ONE
             else math.cos(math.pi * alpha / 4)) ** (1 / rho)
    what = f"positive_stable(alpha={alpha})"
    a = _require_finite(_cms(shape, rho, 1.0, scale, generator, device), what).clamp_min(0.0)
    if a_max is not None:
        if a_max_mode not in ("resample", "clip"):
            raise ValueError(f"a_max_mode must be 'resample' or 'clip', got {a_max_mode!r}")
        if not a_max > 0:
            raise ValueError(f"a_max must be > 0, got {a_max}")
        if a_max_mode == "clip":
            a = a.clamp_max(a_max)
        else:
            bad = a >= a_max
            for _ in range(1000):  # P(A ≥ a_max) < 1 for any a_max > 0, so this ends quickly
                n_bad = int(bad.sum())
                if n_bad == 0:
                    break
                a[bad] = _require_finite(_cms((n_bad,), rho, 1.0, scale, generator, device), what).clamp_min(0.0)
                bad = a >= a_max
            else:
                raise RuntimeError(f"could not draw A < a_max={a_max} in 1000 rounds; a_max is too small")
    return a


def mixing_shape(shape: tuple[int, ...], structure: str) -> tuple[int, ...]:
    """Shape of the A tensor for a noise tensor of ``shape`` (broadcastable against it).

    isotropic: one A per sample along dim 0 → (B, 1, ..., 1)
    per_frame: one A per sample and last-dim index (mel frame) → (B, 1, ..., T)
    independent: one A per element → shape
    """
    if structure not in STRUCTURES:
        raise ValueError(f"unknown noise structure {structure!r}; valid: {', '.join(STRUCTURES)}")
    if len(shape) == 0:
        return shape
    if structure == "isotropic":
        return (shape[0],) + (1,) * (len(shape) - 1)
    if structure == "per_frame":
        if len(shape) < 2:
            return shape
        return (shape[0],) + (1,) * (len(shape) - 2) + (shape[-1],)
    return shape


def isotropic_stable(
    shape: int | Sequence[int],
    alpha: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    structure: str = "isotropic",
    a_max: float | None = None,
    a_max_mode: str = "resample",
    return_a: bool = False,
):
    """Draw SαS noise ε = √A·G, G ~ N(0, 2I), with E exp(i<u, ε>) = exp(-‖u‖^α) per group.

    Args:
        shape: (B, ...) output shape; dim 0 is the batch.
        alpha: stability index in [0.5, 2]; α = 2 gives N(0, 2I).
        structure: ``"isotropic"`` (one A per sample along dim 0: SαS^d(1) over the whole sample),
            ``"per_frame"`` (one A per sample and index of the last dim, e.g. per mel frame), or
            ``"independent"`` (one A per element: i.i.d. 1-D SαS(1), non-isotropic).
        a_max, a_max_mode: optional truncation of A, see :func:`positive_stable` (default none).
        return_a: also return A (float64, shape :func:`mixing_shape`).

    Returns:
        eps of ``shape`` (and A if ``return_a``).
    """
    alpha = check_alpha(alpha)
    shape = _shape(shape)
    dtype = dtype or torch.get_default_dtype()
    if generator is not None and device is None:
        device = generator.device
    a_shape = mixing_shape(shape, structure)
    # G first, then A: at α = 2 no A is drawn and the result is exactly √2·randn(shape).
    g = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    if alpha == 2.0:
        eps = g.mul_(math.sqrt(2.0))
        a = torch.ones(a_shape, dtype=torch.float64, device=g.device)
    else:
        a = positive_stable(a_shape, alpha, generator=generator, device=device, a_max=a_max, a_max_mode=a_max_mode)
        eps = g.mul_((2.0 * a).sqrt().to(dtype))  # in place: no second full-size allocation
        _require_finite(eps, f"isotropic_stable(alpha={alpha}, dtype={dtype})")
    return (eps, a) if return_a else eps


# ---------------------------------------------------------------------------------------------
# Noise for the samplers: one object, injected (docs/design.md §4, "Sampler API")
# ---------------------------------------------------------------------------------------------
_SEED_STRIDE = 0x9E3779B9  # 2^32 / golden ratio: seeds of neighbouring samples far apart in 32 bits
_SEED_MOD = 2**32  # torch's CPU generator (mt19937) keeps only the low 32 bits of a seed


def sample_seeds(seed: int, n: int, start: int = 0) -> list[int]:
    """Per-sample seeds of a run seeded ``seed``: sample i gets (seed + i·0x9E3779B9) mod 2^32.

    Sample 0 gets ``seed`` itself, so a batch of one draws exactly what one generator seeded ``seed`` draws.
    ``start``: the index of the first sample (e.g. the utterance's position in its filelist).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return [(seed + i * _SEED_STRIDE) % _SEED_MOD for i in range(start, start + int(n))]


def sample_generators(seed: int, n: int, start: int = 0, device=None) -> list[torch.Generator]:
    """One torch.Generator per sample, seeded by :func:`sample_seeds` (on ``device``)."""
    return [torch.Generator(device=device or "cpu").manual_seed(s) for s in sample_seeds(seed, n, start)]


class StableNoise:
    """The samplers' noise: ``noise(x, step)`` → ξ ~ SαS(1) of x's shape, dtype and device.

    Args:
        alpha: stability index.
        structure: ``isotropic`` | ``per_frame`` | ``independent`` (see :func:`isotropic_stable`).
        a_max: optional truncation of the mixing variable A (default none).
        mask: optional 0/1 mask broadcastable to x (e.g. (B, 1, T)); the noise is multiplied by it, so padding
            never receives noise.
        generators: None (torch's global RNG), ONE torch.Generator (one stream for the whole batch: a sample's
            draws then depend on the batch size and its neighbours), or a sequence of one generator per sample
            (:func:`sample_generators`): sample b's draws come from ``generators[b]`` alone, at its own length,
            so they depend only on its own seed.
        lengths: with per-sample generators, the length along the last dimension at which each sample's noise
            is drawn (then zero-padded or cut to x's); default: the mask's length per sample (x's full length
            without a mask). The TTS decoder gives each utterance's padded length, so a batch of one draws what
            a single generator draws.

    ``step`` is informational (the step index; None for a prior draw): the draws are consumed in call order.
    :meth:`gaussian` (G ~ N(0, 2I)) and :meth:`mixing` (A) serve the DLPM ancestral sampler.
    """

    def __init__(self, alpha: float, structure: str = "isotropic", a_max: float | None = None,
                 mask: torch.Tensor | None = None, generators=None, lengths: Sequence[int] | None = None):
        self.alpha = check_alpha(alpha)
        if structure not in STRUCTURES:
            raise ValueError(f"unknown noise structure {structure!r}; valid: {', '.join(STRUCTURES)}")
        self.structure, self.a_max, self.mask = structure, a_max, mask
        self.per_sample = not (generators is None or isinstance(generators, torch.Generator))
        self.generators = list(generators) if self.per_sample else generators
        if self.per_sample and not all(isinstance(g, torch.Generator) for g in self.generators):
            raise ValueError("generators must be None, a torch.Generator or a sequence of torch.Generators")
        self.lengths = None if lengths is None else [int(n) for n in lengths]
        self.dlpm_chain = None  # (indices, shape, A) drawn by DLPM.prior(..., steps=...), read by dlpm_sample

    def _lengths(self, shape) -> list[int]:
        B, T = shape[0], shape[-1]
        if self.lengths is not None:
            lengths = self.lengths
        elif self.mask is not None and len(shape) > 1:
            m = self.mask.expand(*self.mask.shape[:-1], T) if self.mask.shape[-1] == 1 else self.mask
            m = m.reshape(m.shape[0], -1, m.shape[-1]).amax(1)
            lengths = (m > 0).sum(-1).tolist() * (B if m.shape[0] == 1 else 1)
        else:
            lengths = [T] * B
        if len(lengths) != B:
            raise ValueError(f"{len(lengths)} noise lengths for a batch of {B}")
        return lengths

    def _draw(self, draw, shape, fill: float = 0.0) -> torch.Tensor:
        """``draw(shape, generator)`` for the batch, or per sample from its own generator at its own length."""
        shape = tuple(shape)
        if not self.per_sample:
            return draw(shape, self.generators)
        if len(self.generators) != shape[0]:
            raise ValueError(f"{len(self.generators)} generators for a batch of {shape[0]} samples")
        if len(shape) == 1:
            return torch.cat([draw((1,), g) for g in self.generators])
        T, parts = shape[-1], []
        for g, n in zip(self.generators, self._lengths(shape)):
            part = draw((1, *shape[1:-1], n), g)
            if n < T:
                part = torch.nn.functional.pad(part, (0, T - n), value=fill)
            parts.append(part[..., :T])
        return torch.cat(parts)

    def _masked(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.mask is None else x * self.mask

    def __call__(self, x: torch.Tensor, step=None) -> torch.Tensor:
        """ξ ~ SαS(1) like ``x``, masked."""
        return self._masked(self._draw(
            lambda shape, g: isotropic_stable(shape, self.alpha, generator=g, device=x.device, dtype=x.dtype,
                                              structure=self.structure, a_max=self.a_max), x.shape))

    def gaussian(self, x: torch.Tensor, step=None) -> torch.Tensor:
        """G ~ N(0, 2I) like ``x``, masked (the Gaussian part of the DLPM chain)."""
        return self._masked(self._draw(
            lambda shape, g: torch.randn(shape, generator=g, device=x.device, dtype=x.dtype) * math.sqrt(2.0),
            x.shape))

    def mixing(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """A_1..A_n for x's shape: float64 (n, *mixing_shape(x.shape, structure)), padding filled with 1."""
        a_shape = mixing_shape(tuple(x.shape), self.structure)
        if not self.per_sample:
            return positive_stable((n, *a_shape), self.alpha, generator=self.generators, device=x.device,
                                   a_max=self.a_max)
        if len(self.generators) != a_shape[0]:
            raise ValueError(f"{len(self.generators)} generators for a batch of {a_shape[0]} samples")
        lengths = self._lengths(x.shape) if a_shape[-1] == x.shape[-1] and len(a_shape) > 1 else None
        parts = []
        for b, g in enumerate(self.generators):
            shape_b = (1, *a_shape[1:]) if lengths is None else (1, *a_shape[1:-1], lengths[b])
            a = positive_stable((n, *shape_b), self.alpha, generator=g, device=x.device, a_max=self.a_max)
            if lengths is not None and lengths[b] < a_shape[-1]:
                a = torch.nn.functional.pad(a, (0, a_shape[-1] - lengths[b]), value=1.0)
            parts.append(a[..., : a_shape[-1]] if lengths is not None else a)
        return torch.cat(parts, dim=1)
