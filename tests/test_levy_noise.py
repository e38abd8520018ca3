"""α-stable noise: characteristic functions, KS against scipy, Laplace transform of A, reproducibility."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from levytts.levy import isotropic_stable, positive_stable, stable
from levytts.levy.noise import mixing_shape

ALPHAS = [1.2, 1.5, 1.8, 2.0]


def _cf_check(x: torch.Tensor, us: torch.Tensor, alpha: float):
    """|mean cos(<u, X>) - exp(-‖u‖^α)| within 5 Monte-Carlo standard errors for each u."""
    proj = x.to(torch.float64) @ us.T  # (n, n_u)
    emp = torch.cos(proj).mean(0)
    se = torch.cos(proj).std(0) / math.sqrt(x.shape[0])
    target = torch.exp(-torch.linalg.vector_norm(us, dim=1) ** alpha)
    assert torch.all((emp - target).abs() < 5 * se + 1e-3), (alpha, emp, target, se)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_characteristic_function_1d(alpha):
    g = torch.Generator().manual_seed(1)
    x = stable((200_000, 1), alpha, generator=g, dtype=torch.float64)
    _cf_check(x, torch.tensor([[0.2], [0.5], [1.0], [1.7], [3.0]], dtype=torch.float64), alpha)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_characteristic_function_isotropic_d80(alpha):
    g = torch.Generator().manual_seed(2)
    x = isotropic_stable((40_000, 80), alpha, generator=g, dtype=torch.float64)
    rng = np.random.default_rng(0)
    dirs = rng.normal(size=(4, 80))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    us = torch.tensor(dirs * np.array([[0.3], [0.8], [1.0], [1.6]]))
    _cf_check(x, us, alpha)


def test_isotropic_direction_is_gaussian_and_radius_is_chi():
    """One A per sample: ε/‖ε‖ is distributed as for a Gaussian vector and ‖ε‖²/(2A) ~ χ²_d.
    Independent coordinates (one A each) give a very different direction statistic."""
    g = torch.Generator().manual_seed(3)
    iso, a = isotropic_stable((4000, 80), 1.5, generator=g, return_a=True, dtype=torch.float64)
    ind = isotropic_stable((4000, 80), 1.5, generator=g, structure="independent", dtype=torch.float64)
    gauss = torch.randn((4000, 80), generator=g, dtype=torch.float64)

    def peak(x):
        return (x.abs().max(dim=1).values / x.norm(dim=1)).numpy()

    assert stats.ks_2samp(peak(iso), peak(gauss)).pvalue > 1e-3
    assert stats.ks_2samp(peak(ind), peak(gauss)).pvalue < 1e-10
    radius2 = (iso.norm(dim=1) ** 2 / (2 * a.flatten())).numpy()
    assert stats.kstest(radius2, stats.chi2(80).cdf).pvalue > 1e-3


@pytest.mark.parametrize("alpha,skew", [(1.5, 0.0), (1.2, 0.0), (1.8, 0.0), (1.5, 0.7), (0.8, 1.0), (1.0, 0.5)])
def test_ks_against_scipy(alpha, skew):
    g = torch.Generator().manual_seed(4)
    x = stable(20_000, alpha, skew=skew, scale=1.3, generator=g, dtype=torch.float64).numpy()
    ref = stats.levy_stable(alpha, skew, scale=1.3)
    # CDF on a grid (scipy's levy_stable cdf is slow): KS statistic against the interpolated CDF
    grid = np.quantile(x, np.linspace(0.005, 0.995, 41))
    cdf = ref.cdf(grid)
    emp = np.searchsorted(np.sort(x), grid, side="right") / x.size
    assert np.max(np.abs(emp - cdf)) < 1.63 / math.sqrt(x.size) * 1.5  # > 99% KS band


@pytest.mark.parametrize("alpha", [1.2, 1.5, 1.8])
def test_mixing_variable_laplace_transform(alpha):
    g = torch.Generator().manual_seed(5)
    a = positive_stable(200_000, alpha, generator=g)
    assert (a >= 0).all()
    for s in [0.1, 0.5, 1.0, 3.0]:
        emp = torch.exp(-s * a).mean().item()
        assert abs(emp - math.exp(-s ** (alpha / 2))) < 4e-3


def test_alpha_two_is_gaussian_and_matches_randn():
    g1 = torch.Generator().manual_seed(6)
    g2 = torch.Generator().manual_seed(6)
    x = isotropic_stable((3, 5), 2.0, generator=g1)
    assert torch.equal(x, math.sqrt(2.0) * torch.randn((3, 5), generator=g2))


def test_reproducible_with_generator():
    for fn in (lambda g: stable(100, 1.5, 0.3, generator=g), lambda g: isotropic_stable((4, 80, 7), 1.7, generator=g)):
        assert torch.equal(fn(torch.Generator().manual_seed(9)), fn(torch.Generator().manual_seed(9)))
        assert not torch.equal(fn(torch.Generator().manual_seed(9)), fn(torch.Generator().manual_seed(10)))


def test_structures_shapes_and_truncation():
    assert mixing_shape((4, 80, 100), "isotropic") == (4, 1, 1)
    assert mixing_shape((4, 80, 100), "per_frame") == (4, 1, 100)
    assert mixing_shape((4, 80, 100), "independent") == (4, 80, 100)
    g = torch.Generator().manual_seed(0)
    eps, a = isotropic_stable((64, 80, 10), 1.2, generator=g, structure="per_frame", return_a=True)
    assert eps.shape == (64, 80, 10) and a.shape == (64, 1, 10)
    a = positive_stable(50_000, 1.2, generator=g, a_max=20.0)
    assert a.max() < 20.0
    a = positive_stable(50_000, 1.2, generator=g, a_max=20.0, a_max_mode="clip")
    assert a.max() == 20.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes(dtype):
    x = isotropic_stable((8, 3), 1.5, dtype=dtype)
    assert x.dtype == dtype and torch.isfinite(x).all()


@pytest.mark.parametrize("bad", [0.0, -1.0, 2.5, float("nan"), "x"])
def test_bad_alpha(bad):
    with pytest.raises(ValueError, match=r"alpha must be"):
        isotropic_stable((2, 2), bad)


def test_bad_structure_and_skew():
    with pytest.raises(ValueError, match="isotropic, per_frame, independent"):
        isotropic_stable((2, 2), 1.5, structure="per_pixel")
    with pytest.raises(ValueError, match="skew"):
        stable(3, 1.5, skew=2.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda():
    g = torch.Generator(device="cuda").manual_seed(0)
    x = isotropic_stable((16, 80, 172), 1.5, generator=g)
    assert x.is_cuda and torch.isfinite(x).all()
