"""Known-answer tests of the toy2d metrics, data sets and Popov's variation formulas."""
import math

import numpy as np
import pytest
import torch

from levytts.toy import data, metrics
from levytts.toy.variation import (
    expected_gamma_variation,
    expected_stable_variation,
    gamma_variation,
    stable_variation,
)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_msle_of_sample_against_itself_is_zero():
    x = data.heavy_tailed(5000, generator=gen(0))
    assert metrics.msle(x, x) == 0.0


def test_msle_small_for_same_law_large_for_light_tails():
    x = data.heavy_tailed(20000, generator=gen(1))
    same = metrics.msle(x, data.heavy_tailed(20000, generator=gen(2)))
    # a Gaussian with the same bulk scale (the α = 2 member of the family) misses the tail
    light = metrics.msle(x, 0.05 * math.sqrt(2) * torch.randn(20000, 2, generator=gen(3)))
    assert same < 0.1
    assert light > 5 * same


def test_msle_of_scaled_sample_is_log_scale_squared():
    # every quantile scales by c, so each log-difference is log c exactly
    x = data.heavy_tailed(3000, generator=gen(4)).abs() + 0.01
    assert metrics.msle(x, 3.0 * x) == pytest.approx(math.log(3.0) ** 2, rel=1e-6)  # float32 input


def test_msle_rejects_bad_xi():
    with pytest.raises(ValueError, match="xi"):
        metrics.msle(torch.ones(10, 2), torch.ones(10, 2), xi=1.0)


def test_mmd_identical_sets_zero_and_ordering():
    mix = data.gaussian_grid()
    a, b = mix.sample(1500, gen(5)), mix.sample(1500, gen(6))
    uniform = data.gaussian_grid(weights=[1 / 9] * 9).sample(1500, gen(7))
    assert metrics.mmd2(a, a) == pytest.approx(0.0, abs=1e-12)
    assert metrics.mmd2(a, b) < 0.2 * metrics.mmd2(a, uniform)


def test_prd_f1_true_mixture_high_wrong_weights_lower():
    mix = data.gaussian_grid()
    ref = mix.sample(3000, gen(8))
    same = metrics.prd_f1(ref, mix.sample(3000, gen(9)), num_clusters=20, num_runs=3)
    uniform = metrics.prd_f1(ref, data.gaussian_grid(weights=[1 / 9] * 9).sample(3000, gen(10)), num_clusters=20,
                             num_runs=3)
    collapsed = metrics.prd_f1(ref, data.gaussian_grid().means[[2]].float().repeat(3000, 1), num_clusters=20,
                               num_runs=3)
    assert same["f1"] > 0.95
    assert same["f1"] > uniform["f1"] + 0.03
    assert collapsed["f1"] < 0.6
    for r in (same, uniform, collapsed):
        assert 0.0 <= r["precision"] <= 1.0 and 0.0 <= r["recall"] <= 1.0


def test_mode_fractions_and_ratio():
    mix = data.two_gaussians()
    x, labels = mix.sample(22000, gen(11), return_labels=True)
    assert torch.equal(metrics.nearest_mode(x, mix.means), labels)  # std 0.1, separation 2: no overlap
    assert metrics.mode_ratio(x, mix.means) == pytest.approx(10.0, rel=0.1)
    frac = metrics.mode_fractions(torch.tensor([[-1.0, 0.0], [float("inf"), 0.0], [1.0, 0.1]]), mix.means)
    assert frac.tolist() == [0.5, 0.5]  # the non-finite row is dropped


def test_grid_mixture_weights_and_geometry():
    mix = data.gaussian_grid()
    assert mix.weights.sum().item() == pytest.approx(1.0)
    assert mix.means.shape == (9, 2)
    assert set(mix.means.reshape(-1).tolist()) == {-1.0, 0.0, 1.0}
    with pytest.raises(ValueError, match="9 weights"):
        data.gaussian_grid(weights=[0.1] * 10)


def test_heavy_tailed_scale():
    # median of |x_1| for 0.05·SαS(1) equals 0.05 × the SαS(1) median |·| (scipy's levy_stable, S1 with β = 0)
    from scipy.stats import levy_stable

    x = data.heavy_tailed(40000, alpha=1.7, scale=0.05, generator=gen(12))
    expected = 0.05 * levy_stable.ppf(0.75, 1.7, 0.0)
    assert float(x[:, 0].abs().median()) == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("n", [10, 100])
def test_stable_variation_matches_exact_mean(n):
    # the mean of 20 000·n i.i.d. |S| (tail index 1.5): Monte-Carlo error ~ (20 000 n)^{-1/3}, well under 5 %
    v = stable_variation(n, 1.5, 20000, gen(13))
    assert float(v.mean()) == pytest.approx(expected_stable_variation(n, 1.5), rel=0.05)


def test_stable_variation_one_step_is_abs_stable():
    # n = 1: V = |S|; |S| has infinite variance, so compare the median with scipy's quantile instead
    from scipy.stats import levy_stable

    v = stable_variation(1, 1.5, 20000, gen(14))
    assert float(v.median()) == pytest.approx(levy_stable.ppf(0.75, 1.5, 0.0), rel=0.03)


@pytest.mark.parametrize("shape", [1.0, 5.0, 20.0])
def test_gamma_variation_matches_exact_mean_and_limit(shape):
    rng = np.random.default_rng(0)
    for n in (1, 10, 200):
        assert gamma_variation(n, shape, 4000, rng).mean() == pytest.approx(expected_gamma_variation(n, shape), rel=0.03)
    assert expected_gamma_variation(10**6, shape) == pytest.approx(2 * shape, rel=1e-3)
    # n = 1: E|G - k| for G ~ Gamma(k) is 2 k^k e^{-k}/Γ(k); at k = 1 that is 2/e
    if shape == 1.0:
        assert expected_gamma_variation(1, 1.0) == pytest.approx(2 / math.e)


def test_variation_grows_for_stable_only():
    assert expected_stable_variation(1000, 1.5) > 9 * expected_stable_variation(1, 1.5)
    assert expected_gamma_variation(1000, 1.0) < 2.0
