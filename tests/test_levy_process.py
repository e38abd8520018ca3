"""Schedule identities of LévyVP and DLPM, losses."""
import math

import pytest
import torch
from scipy import integrate

from levytts.levy import DLPM, LevyVP, denoising_loss, eps_loss, median_of_means, per_sample_loss


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
@pytest.mark.parametrize("alpha", [1.2, 1.5, 1.8, 2.0])
def test_schedule_identities(schedule, alpha):
    proc = LevyVP(alpha, schedule=schedule)
    t = torch.linspace(1e-4, proc.T, 200, dtype=torch.float64)
    a, g = proc.a(t), proc.gamma(t)
    torch.testing.assert_close(a**alpha + g**alpha, torch.ones_like(t), rtol=0, atol=1e-12)
    # a(t) = exp(-∫_0^t β/α) numerically
    for tt in [0.1, 0.5, 0.9]:
        integral, _ = integrate.quad(lambda u: proc.beta(u) / alpha, 0, tt)
        assert abs(proc.a(tt) - math.exp(-integral)) < 1e-8
    lam = proc.lam(t)
    assert torch.all(lam[1:] > lam[:-1])
    # scalar and tensor paths agree
    assert abs(proc.gamma(0.3) - float(proc.gamma(torch.tensor(0.3, dtype=torch.float64)))) < 1e-12


def test_cosine_endpoint_values():
    proc = LevyVP(1.5)
    assert proc.a(0.0) == pytest.approx(1.0)
    assert 0.0 < proc.a(proc.T) < 0.02
    with pytest.raises(ValueError, match="a\\(1\\) = 0"):
        LevyVP(1.5, T=1.0)
    with pytest.raises(ValueError, match="schedule"):
        LevyVP(1.5, schedule="sigmoid")


def test_marginal_and_score():
    proc = LevyVP(1.7)
    x0 = torch.randn(4, 3)
    eps = proc.noise((4, 3))
    t = torch.tensor([0.1, 0.2, 0.5, 0.9])
    xt = proc.marginal(x0, t, eps)
    torch.testing.assert_close(xt, proc.a(t).float()[:, None] * x0 + proc.gamma(t).float()[:, None] * eps)
    s = proc.score_from_eps(eps, t)
    torch.testing.assert_close(s, -eps / (1.7 * proc.gamma(t).float()[:, None] ** 0.7))


@pytest.mark.parametrize("alpha", [1.5, 2.0])
def test_dlpm_schedule(alpha):
    proc = DLPM(alpha, n_steps=100)
    gb, sb = proc.gamma_bar, proc.sigma_bar
    assert gb[0] == 1 and sb[0] == 0
    torch.testing.assert_close(gb**alpha + sb**alpha, torch.ones_like(gb))
    assert torch.all(gb[1:] < gb[:-1])
    # one-step composition: sigma_bar_k^α = gamma_k^α sigma_bar_{k-1}^α + sigma_k^α, sigma_k^α = 1 - gamma_k^α
    gam = gb[1:] / gb[:-1]
    torch.testing.assert_close(sb[1:] ** alpha, gam**alpha * sb[:-1] ** alpha + (1 - gam**alpha))


def test_losses_exact_values():
    eps = torch.zeros(2, 1, 4)
    eps_hat = torch.tensor([[[1.0, 1.0, 3.0, 0.0]], [[2.0, 2.0, 2.0, 2.0]]])
    torch.testing.assert_close(per_sample_loss(eps_hat, eps, "mse"), torch.tensor([11 / 4, 4.0]))
    torch.testing.assert_close(per_sample_loss(eps_hat, eps, "rmse"), torch.tensor([math.sqrt(11 / 4), 2.0]))
    # smooth L1 on error/α with β = 1, α = 2: e/2 ∈ {0.5, 0.5, 1.5, 0} → 0.125, 0.125, 1.0, 0
    torch.testing.assert_close(per_sample_loss(eps_hat, eps, "smooth_l1", alpha=2.0)[0], torch.tensor(1.25 / 4))
    mask = torch.tensor([[[1.0, 1.0, 0.0, 0.0]], [[1.0, 1.0, 1.0, 1.0]]])
    torch.testing.assert_close(per_sample_loss(eps_hat, eps, "mse", mask=mask), torch.tensor([1.0, 4.0]))
    assert eps_loss(eps_hat, eps, "mse").item() == pytest.approx((11 / 4 + 4) / 2)
    assert median_of_means(torch.tensor([1.0, 1.0, 2.0, 2.0, 100.0, 100.0]), 3).item() == 2.0
    with pytest.raises(ValueError, match="mse, smooth_l1, rmse"):
        per_sample_loss(eps_hat, eps, "l3")


@pytest.mark.parametrize("proc", [LevyVP(1.8), DLPM(1.8, n_steps=50)])
def test_denoising_loss_perfect_predictor_is_zero(proc):
    """With the true ε (recovered from x_t and x0) the loss is 0; a zero predictor gives > 0."""
    x0 = torch.randn(8, 2, 5, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    captured = {}

    def oracle(x_t, t):
        if hasattr(proc, "sample_k"):
            k = (t * proc.n_steps).round().long()
            a, gam = proc.gamma_bar[k], proc.sigma_bar[k]
        else:
            a, gam = proc.a(t), proc.gamma(t)
        captured["t"] = t
        return (x_t - a[:, None, None] * x0) / gam[:, None, None]

    assert denoising_loss(oracle, x0, proc, kind="mse", generator=g).item() < 1e-16
    assert denoising_loss(lambda x, t: torch.zeros_like(x), x0, proc, kind="mse", generator=g).item() > 0.1
