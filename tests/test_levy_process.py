"""Schedule identities of LévyVP and DLPM, losses."""
import math
import re

import pytest
import torch
from scipy import integrate

from levytts.levy import DLPM, LevyVP, check_t_law, denoising_loss, eps_loss, median_of_means, per_sample_loss


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
    torch.testing.assert_close(per_sample_loss(eps_hat, eps, "l1"), torch.tensor([5 / 4, 2.0]))
    with pytest.raises(ValueError, match="mse, smooth_l1, rmse, l1"):
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


@pytest.mark.parametrize("alpha", [1.5, 2.0])
def test_x0_prediction_is_the_same_model_as_eps(alpha):
    """eps_from_x0 inverts the marginal exactly; an x0 loss is the ε loss weighted by (γ/a)^p; the true x0 scores 0."""
    proc = LevyVP(alpha, schedule="linear", beta_min=0.05)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(6, 3, 8, dtype=torch.float64, generator=g)
    eps = proc.noise(x0.shape, generator=g, dtype=torch.float64)
    t = torch.tensor([1e-3, 0.05, 0.2, 0.5, 0.8, 1.0], dtype=torch.float64)
    x_t = proc.marginal(x0, t, eps)
    torch.testing.assert_close(proc.eps_from_x0(x_t, x0, t), eps)
    # a wrong x̂0 = x0 + d gives ε̂ - ε = -(a/γ) d, so |x̂0 - x0| = (γ/a)|ε̂ - ε|
    d = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    err = proc.eps_from_x0(x_t, x0 + d, t) - eps
    ratio = (proc.gamma(t) / proc.a(t))[:, None, None]
    torch.testing.assert_close(ratio * err.abs(), d.abs())

    def oracle_x0(x, tt):
        return x0

    assert denoising_loss(oracle_x0, x0, proc, kind="l1", generator=g, prediction="x0").item() < 1e-12
    zero = denoising_loss(lambda x, tt: torch.zeros_like(x), x0, proc, kind="l1", generator=g, prediction="x0")
    assert zero.item() == pytest.approx(x0.abs().mean().item())  # the target is x0 itself, whatever t and ε
    with pytest.raises(ValueError, match="eps, x0"):
        denoising_loss(oracle_x0, x0, proc, prediction="v")
    with pytest.raises(ValueError, match="LevyVP only"):
        denoising_loss(oracle_x0, x0, DLPM(alpha, n_steps=10), prediction="x0")


def test_linear_schedule_first_step_factor():
    """Why the TTS decoder uses Grad-TTS's linear schedule (docs/design.md §3): on the uniform 10-step grid from T,
    the first exponential-integrator step multiplies the error of ε̂ by |γ_t - (a_t/a_s) γ_s|; ≈ 18 for LIM's cosine
    schedule (β → ∞ near T), 1.6 (α = 2) / 2.5 (α = 1.5) for β(t) = 0.05 + 19.95 t on [0, 1]."""
    from levytts.levy.sampling import time_grid

    def factor(proc):
        s, t = time_grid(10, float(proc.T), kind="uniform", t_eps=1e-3, proc=proc).tolist()[:2]
        return abs(proc.gamma(t) - proc.a(t) / proc.a(s) * proc.gamma(s))

    assert factor(LevyVP(1.5, schedule="cosine")) == pytest.approx(18.3, abs=0.1)
    assert factor(LevyVP(2.0, schedule="linear", beta_min=0.05)) == pytest.approx(1.58, abs=0.01)
    assert factor(LevyVP(1.5, schedule="linear", beta_min=0.05)) == pytest.approx(2.55, abs=0.01)


@pytest.mark.parametrize("alpha", [1.5, 2.0])
def test_edm_preconditioning(alpha):
    """c_skip·y + c_out·F: identity at t → 0, plain x0 prediction near T; the loss is (x̂0 - x0)/c_out."""
    from levytts.levy import edm_denoiser

    proc = LevyVP(alpha, schedule="linear", beta_min=0.05)
    sd = 0.5
    t = torch.tensor([1e-4, 0.1, 0.5, 1.0], dtype=torch.float64)
    c_in, c_skip, c_out = proc.preconditioning(t, sd)
    sigma = math.sqrt(2) * proc.lam(t)
    torch.testing.assert_close(c_skip, sd**2 / (sigma**2 + sd**2))
    torch.testing.assert_close(c_out, sigma * sd / torch.sqrt(sigma**2 + sd**2))
    torch.testing.assert_close(c_in, 1 / torch.sqrt(sigma**2 + sd**2))
    assert c_skip[0] > 1 - 1e-4 and c_out[0] < 1e-2 and c_skip[-1] < 1e-2 and c_out[-1] == pytest.approx(sd, rel=1e-2)
    if alpha == 2.0:  # Gaussian data of std σ_d: the target F* = (x0 - c_skip y)/c_out has unit variance at every t
        big = sd * torch.randn(4, 20000, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        y = big + proc.lam(t)[:, None] * proc.noise(big.shape, generator=torch.Generator().manual_seed(2),
                                                     dtype=torch.float64)
        f_star = (big - c_skip[:, None] * y) / c_out[:, None]
        torch.testing.assert_close(f_star.std(dim=1), torch.ones(4, dtype=torch.float64), atol=0.03, rtol=0)
    g = torch.Generator().manual_seed(0)
    x0 = 0.5 * torch.randn(4, 2, 6, dtype=torch.float64, generator=g)
    eps = proc.noise(x0.shape, generator=g, dtype=torch.float64)
    x_t = proc.marginal(x0, t, eps)
    zero_net = edm_denoiser(lambda x, tt: torch.zeros_like(x), proc, sd)(x_t, t)
    torch.testing.assert_close(zero_net, c_skip[:, None, None] * x_t / proc.a(t)[:, None, None])

    def oracle_f(x, tt):  # F* = (x0 - c_skip y)/c_out, recovered from the scaled input c_in·y
        ci, cs, co = (c[:, None, None] for c in proc.preconditioning(tt, sd))
        return (x0 - cs * x / ci) / co

    assert denoising_loss(oracle_f, x0, proc, kind="l1", generator=g, prediction="edm", sigma_data=sd).item() < 1e-9
    tt = torch.full((4,), 0.3, dtype=torch.float64)
    zero = denoising_loss(lambda x, _t: torch.zeros_like(x), x0, proc, kind="mse", generator=torch.Generator().manual_seed(3),
                          prediction="edm", sigma_data=sd, t=tt)
    e2 = proc.noise(x0.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ci, cs, co = proc.preconditioning(0.3, sd)
    y = x0 + proc.lam(0.3) * e2
    assert zero.item() == pytest.approx((((cs * y - x0) / co) ** 2).mean().item(), rel=1e-9)
    with pytest.raises(ValueError, match="sigma_data"):
        denoising_loss(oracle_f, x0, proc, prediction="edm")


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_t_from_lam_inverts_lam(schedule):
    proc = LevyVP(alpha=1.5, schedule=schedule, beta_min=0.05)
    t = torch.tensor([1e-3, 0.05, 0.3, 0.7, 0.95], dtype=torch.float64)
    torch.testing.assert_close(proc.t_from_lam(proc.lam(t)), t, atol=1e-9, rtol=0)
    # outside λ's range: the ends
    assert proc.t_from_lam(torch.tensor([1e-12]))[0] == pytest.approx(proc.t_min, abs=1e-9)
    assert proc.t_from_lam(torch.tensor([1e12]))[0] == pytest.approx(float(proc.T), abs=1e-9)


def test_sample_t_edm_law_is_the_stated_mixture():
    from scipy.stats import norm

    proc = LevyVP(alpha=1.5, schedule="linear", beta_min=0.05)
    g = torch.Generator().manual_seed(0)
    n = 200_000
    t = proc.sample_t(n, g, law="edm", lognormal=(-1.2, 1.2), uniform_fraction=0.25)
    assert t.dtype == torch.float32 and t.shape == (n,)
    assert float(t.min()) >= proc.t_min and float(t.max()) <= float(proc.T)
    sigma = math.sqrt(2.0) * proc.lam(t.double())
    for s in (0.05, 0.3, 2.0):  # P(σ < s) = 0.25 P_uniform(σ < s) + 0.75 Φ((ln s - P_mean)/P_std)
        p_uniform = (float(proc.t_from_lam(torch.tensor(s / math.sqrt(2.0)))) - proc.t_min) / (1.0 - proc.t_min)
        expected = 0.25 * p_uniform + 0.75 * norm.cdf((math.log(s) + 1.2) / 1.2)
        assert float((sigma < s).double().mean()) == pytest.approx(expected, abs=0.005)
    u = proc.sample_t(n, torch.Generator().manual_seed(0))  # the default stays uniform
    assert float(u.mean()) == pytest.approx(0.5, abs=0.005)
    with pytest.raises(ValueError, match="unknown training-time law"):
        proc.sample_t(4, law="beta")
    with pytest.raises(ValueError, match="uniform_fraction"):
        proc.sample_t(4, law="edm", uniform_fraction=1.5)
    with pytest.raises(ValueError, match="std > 0"):
        proc.sample_t(4, law="edm", lognormal=(-1.2, 0.0))
    with pytest.raises(ValueError, match=r"lognormal must be \[P_mean, P_std\] \(two numbers\)"):
        proc.sample_t(4, law="edm", lognormal=(1.0,))
    # the one checker of these arguments (the TTS model calls it on its config at construction)
    assert check_t_law("edm", [-1, "0.5"], "0.25") == ("edm", (-1.0, 0.5), 0.25)
    for args, said in ((("beta",), "unknown training-time law 'beta'; valid: uniform, edm"),
                       (("uniform", "ab"), "two numbers"), (("edm", (0.0, math.inf)), "std > 0"),
                       (("edm", (0.0, 1.0), None), "uniform_fraction must be a number")):
        with pytest.raises(ValueError, match=re.escape(said)):
            check_t_law(*args)
