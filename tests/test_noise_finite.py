"""α-stable noise is finite over the whole accepted α range [0.5, 2], or the call fails loudly (issue 14)."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from levytts.levy import LevyVP, isotropic_stable, noise, positive_stable, stable


@pytest.mark.parametrize("alpha", [1 + 1e-12, 1 - 1e-12, 1 + 2.0**-52, 1.000001, 0.995])
@pytest.mark.parametrize("skew", [1.0, -1.0, 0.3])
def test_stable_near_alpha_one_is_finite(alpha, skew):
    # was: alpha = 1 + 1e-12, skew = 1 gave ~7 NaN in 200 000 draws (tan(πα/2) from the rounded πα/2)
    x = stable(200_000, alpha, skew=skew, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("alpha,skew", [(1 + 1e-9, 1.0), (1 - 1e-9, -0.6)])
def test_stable_near_one_is_the_shifted_alpha_one_law(alpha, skew):
    """S1 = S0 + skew·tan(πα/2) (scipy's two parametrisations; S0 is continuous in α): X - skew·tan(πα/2)
    tends to the α = 1 law, while skew·tan(πα/2) itself is ∓6e8 here."""
    tan = -1.0 / math.tan(math.pi * (alpha - 1) / 2)  # tan(πα/2), without the rounding of πα/2
    x = stable(20_000, alpha, skew=skew, generator=torch.Generator().manual_seed(1), dtype=torch.float64) - skew * tan
    ref = stable(20_000, 1.0, skew=skew, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert stats.ks_2samp(x.numpy(), ref.numpy()).pvalue > 1e-3


@pytest.mark.parametrize("alpha", [1.99, 1.999999, 2 - 1e-12])
def test_mixing_variable_near_alpha_two(alpha):
    a = positive_stable(200_000, alpha, generator=torch.Generator().manual_seed(5))
    assert torch.isfinite(a).all() and (a >= 0).all()
    for s in [0.1, 1.0, 3.0]:
        assert abs(torch.exp(-s * a).mean().item() - math.exp(-s ** (alpha / 2))) < 4e-3


@pytest.mark.parametrize("alpha", [0.5, 0.7, 1.0, 1.5, 2 - 1e-12])
def test_isotropic_finite_in_float32(alpha):
    x = isotropic_stable((160_000,), alpha, generator=torch.Generator().manual_seed(3))
    assert x.dtype == torch.float32 and torch.isfinite(x).all()


def test_alpha_below_range_is_refused_with_the_range():
    # was: isotropic_stable(…, 0.01) returned ~55 000 inf of 160 000
    for bad in (0.01, 0.3, 0.499):
        with pytest.raises(ValueError, match=r"alpha must be in \[0\.5, 2\], got"):
            isotropic_stable((10,), bad)
        with pytest.raises(ValueError, match=r"\[0\.5, 2\]"):
            stable(10, bad)
        with pytest.raises(ValueError, match=r"\[0\.5, 2\]"):
            LevyVP(bad)


def test_overflow_in_the_requested_dtype_raises():
    with pytest.raises(FloatingPointError, match="not finite in torch.float16"):
        isotropic_stable((20_000,), 0.6, generator=torch.Generator().manual_seed(0), dtype=torch.float16)
    with pytest.raises(FloatingPointError, match="not finite"):
        stable(10, 1.5, scale=1e300, dtype=torch.float32)


def test_endpoints_of_u_and_w_give_finite_draws(monkeypatch):
    """U at (and an ulp from) ∓π/2 and W at its floor: every factor stays finite for index ≥ 0.25
    (``positive_stable`` draws index α/2)."""
    r = torch.tensor([0.0, 2.0**-53, 0.25, 0.5, 1 - 2.0**-53], dtype=torch.float64)
    u = ((r - 0.5) * math.pi).repeat_interleave(3)
    w = torch.tensor([noise._W_MIN, 1.0, 40.0], dtype=torch.float64).repeat(5)
    monkeypatch.setattr(noise, "_uniform_exponential", lambda shape, generator, device: (u, w))
    for alpha in [0.25, 0.5, 0.8, 0.995, 1 - 1e-12, 1.0, 1 + 1e-12, 1.005, 1.5, 1.99, 2.0]:
        for skew in [-1.0, -0.5, 0.0, 0.5, 1.0]:
            x = noise._cms(u.shape, alpha, skew, 1.0, None, None)
            assert torch.isfinite(x).all(), (alpha, skew, x)


def test_usual_alphas_unchanged_bit_for_bit():
    """The near-one form is only used for |α - 1| < 0.01: the common range keeps its exact draws."""
    g = torch.Generator().manual_seed(7)
    u, w = noise._uniform_exponential((1000,), g, None)
    alpha, skew = 1.5, 0.7
    zeta = -skew * math.tan(math.pi * alpha / 2)
    ua = alpha * (u + math.atan(-zeta) / alpha)
    ref = ((1 + zeta**2) ** (1 / (2 * alpha)) * torch.sin(ua) / torch.cos(u) ** (1 / alpha)
           * (torch.cos(u - ua) / w) ** ((1 - alpha) / alpha))
    x = stable(1000, alpha, skew, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    assert np.array_equal(x.numpy(), ref.numpy())
