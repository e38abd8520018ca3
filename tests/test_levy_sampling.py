"""Samplers: α = 2 reductions, grids, η_t, reproducibility, bad input, DLPM/DLIM."""
import math

import pytest
import torch

from levytts.levy import DLPM, LevyVP, StableNoise, eta_schedule
from levytts.levy.sampling import dlim_sample, dlpm_sample, sample, time_grid


def eps_fn_linear(x, t):
    """A smooth deterministic stand-in for a network."""
    return 0.3 * x + 0.1 * torch.sin(3 * x) * t.reshape(-1, *([1] * (x.ndim - 1)))


def test_time_grids():
    g = time_grid(10, 0.9946, kind="uniform", t_eps=1e-3).tolist()
    assert len(g) == 11 and g[0] == 0.9946 and g[-1] == pytest.approx(1e-3)
    assert all(b < a for a, b in zip(g, g[1:]))
    q = time_grid(10, 0.9946, kind="quadratic", t_eps=1e-3).tolist()
    assert q[1] == pytest.approx((math.sqrt(0.9946) - (math.sqrt(0.9946) - math.sqrt(1e-3)) / 10) ** 2)
    proc = LevyVP(1.5)
    ls = time_grid(8, proc.T, kind="log_snr", t_eps=1e-3, proc=proc).tolist()
    d = [math.log(proc.lam(a)) - math.log(proc.lam(b)) for a, b in zip(ls, ls[1:])]
    assert max(d) - min(d) < 1e-6


def test_eta_schedule_formula():
    f = eta_schedule(0.2, 0.5, t0=0.7, T=1.0, c=20)
    for t in [0.01, 0.3, 0.85, 1.0]:
        expected = 0.2 + 0.3 * max(0, (t - 0.7) / 0.3) + 0.4 * (1 / (1 + math.exp(-20 * t)) - 1)
        assert f(t) == pytest.approx(max(0.0, expected))
    assert f(1.0) == pytest.approx(0.5 + 0.4 * (1 / (1 + math.exp(-20)) - 1))
    assert eta_schedule(0, kind="power")(0.5) == pytest.approx(0.5**0.2)
    with pytest.raises(ValueError, match="eta <= delta"):
        eta_schedule(0.5, 0.1)


def _ddim(x, eps_fn, times, proc):
    """Independent DDIM with ᾱ = a²: x_t = √ᾱ_t x̂0 + √(1-ᾱ_t) ε̂ (noise std √2 folds into ε)."""
    for s, t in zip(times[:-1], times[1:]):
        e = eps_fn(x, torch.full((x.shape[0],), s, dtype=x.dtype))
        ab_s, ab_t = proc.a(s) ** 2, proc.a(t) ** 2
        x0 = (x - math.sqrt(1 - ab_s) * e) / math.sqrt(ab_s)
        x = math.sqrt(ab_t) * x0 + math.sqrt(1 - ab_t) * e
    return x


def _vp_sde_euler(x, eps_fn, times, proc, g):
    """Song et al. reverse VP-SDE Euler–Maruyama for dx = -β/2 x dt + √(2β) dW (noise variance 2):
    x_t = x_s + h(β/2 x_s + 2β ∇log p) + √(2βh) z, ∇log p = -ε̂/(2γ)."""
    for s, t in zip(times[:-1], times[1:]):
        h = s - t
        e = eps_fn(x, torch.full((x.shape[0],), s, dtype=x.dtype))
        b = proc.beta(s)
        score = -e / (2 * proc.gamma(s))
        z = torch.randn(x.shape, generator=g, dtype=x.dtype)
        x = x + h * (0.5 * b * x + 2 * b * score) + math.sqrt(2 * b * h) * z
    return x


def test_alpha2_ode_ei_is_ddim():
    proc = LevyVP(2.0)
    x_T = torch.randn(16, 3, dtype=torch.float64)
    times = time_grid(12, proc.T, kind="uniform", t_eps=1e-3).tolist()
    ours = sample(eps_fn_linear, x_T, times, process=proc, sampler="ode", solver="ei", denoise_last=False)
    torch.testing.assert_close(ours, _ddim(x_T, eps_fn_linear, times, proc), rtol=0, atol=1e-6)
    # SDE-E with η = 0 is the ODE
    same = sample(eps_fn_linear, x_T, times, process=proc, sampler="sde-e", eta=0.0, solver="ei", denoise_last=False)
    torch.testing.assert_close(same, ours, rtol=0, atol=1e-12)


@pytest.mark.parametrize("solver", ["euler", "ei"])
def test_alpha2_sde_a_equals_sde_e_eta1(solver):
    proc = LevyVP(2.0)
    x_T = torch.randn(16, 3, dtype=torch.float64)
    out = [sample(eps_fn_linear, x_T, time_grid(10, proc.T), process=proc, sampler=sm, solver=solver, eta=1.0,
                  noise=StableNoise(proc.alpha, generators=torch.Generator().manual_seed(3)))
           for sm in ("sde-a", "sde-e")]
    torch.testing.assert_close(out[0], out[1], rtol=0, atol=1e-6)


def test_alpha2_sde_a_euler_is_vp_sde():
    proc = LevyVP(2.0)
    x_T = torch.randn(16, 3, dtype=torch.float64)
    times = time_grid(10, proc.T, kind="uniform", t_eps=1e-2).tolist()
    ours = sample(eps_fn_linear, x_T, times, process=proc, sampler="sde-a", solver="euler",
                  noise=StableNoise(proc.alpha, generators=torch.Generator().manual_seed(4)), denoise_last=False)
    ref = _vp_sde_euler(x_T, eps_fn_linear, times, proc, torch.Generator().manual_seed(4))
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)


def test_lim_variant_formulas():
    proc = LevyVP(1.5)
    x = torch.randn(5, 2, dtype=torch.float64)
    e = eps_fn_linear(x, torch.full((5,), 0.8, dtype=torch.float64))
    r = proc.a(0.7) / proc.a(0.8)
    S = -e / (1.5 * proc.gamma(0.8) ** 0.5)
    out = sample(eps_fn_linear, x, [0.8, 0.7], process=proc, sampler="ode", solver="lim", denoise_last=False)
    torch.testing.assert_close(out, r * x + 1.5 * (r - 1) * S)


def test_reproducible_and_trajectory():
    proc = LevyVP(1.5)
    x_T = proc.prior((8, 4), generator=torch.Generator().manual_seed(0))
    kw = dict(process=proc, sampler="sde-e", solver="ei", eta=eta_schedule(0.3, 0.5, 0.7, 1.0))
    times = time_grid(7, proc.T)
    a = sample(eps_fn_linear, x_T, times, noise=StableNoise(proc.alpha, generators=torch.Generator().manual_seed(1)),
               **kw)
    traj = [x_T]  # the trajectory: x_T, then the state after every step
    b = sample(eps_fn_linear, x_T, times, noise=StableNoise(proc.alpha, generators=torch.Generator().manual_seed(1)),
               callback=lambda d: traj.append(d["x"]), **kw)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert len(traj) == 8 and traj[0] is not None and torch.isfinite(a).all()


def test_mask_keeps_padding_zero():
    proc = LevyVP(1.5)
    x_T = proc.prior((2, 3, 6))
    mask = torch.ones(2, 1, 6)
    mask[1, :, 4:] = 0
    # a masked model returns masked ε̂; the start and the noise are masked too
    out = sample(lambda x, t: eps_fn_linear(x, t) * mask, x_T * mask, time_grid(5, proc.T), process=proc,
                 sampler="sde-a", solver="euler", noise=StableNoise(proc.alpha, mask=mask))
    assert torch.all(out[1, :, 4:] == 0)


@pytest.mark.parametrize("kw,match", [
    (dict(steps=0), "steps must be"),
    (dict(sampler="ddpm"), "ode, sde-a, sde-e"),
    (dict(solver="heun"), "euler, ei, lim"),
    (dict(grid="cosine"), "uniform, quadratic, log_snr"),
    (dict(sampler="sde-e", solver="lim"), "ode' and 'sde-a"),
])
def test_bad_sampler_input(kw, match):
    proc = LevyVP(1.5)
    kw = {"steps": 3, "grid": "uniform", "sampler": "ode", "solver": "ei", **kw}
    with pytest.raises(ValueError, match=match):
        times = time_grid(kw["steps"], proc.T, kind=kw["grid"], proc=proc)
        sample(eps_fn_linear, torch.zeros(2, 2), times, process=proc, sampler=kw["sampler"], solver=kw["solver"])


def test_dlpm_alpha2_is_ddpm():
    """At α = 2 (A ≡ 1) the DLPM step is DDPM ancestral sampling with posterior variance
    β̃_k = (1-ᾱ_{k-1})/(1-ᾱ_k)·β_k (noise variance doubled by our N(0, 2I) convention)."""
    proc = DLPM(2.0, n_steps=20)
    ab = proc.gamma_bar**2
    noise = StableNoise(proc.alpha, generators=torch.Generator().manual_seed(0))
    y_K = proc.prior((6, 2), dtype=torch.float64, noise=noise, steps=20)
    ours = dlpm_sample(eps_fn_linear, y_K, proc.indices(20), process=proc, noise=noise)
    g = torch.Generator().manual_seed(0)
    # reference: same RNG consumption order: A (not drawn at α = 2), initial G, then G per step
    y = math.sqrt(2.0) * torch.randn((6, 2), generator=g, dtype=torch.float64) * math.sqrt(1 - ab[20])
    for k in range(20, 0, -1):
        beta_k = 1 - ab[k] / ab[k - 1]
        e = eps_fn_linear(y, torch.full((6,), k / 20, dtype=torch.float64))
        y = (y - beta_k / math.sqrt(1 - ab[k]) * e) / math.sqrt(1 - beta_k)
        if k > 1:
            var = (1 - ab[k - 1]) / (1 - ab[k]) * beta_k
            y = y + math.sqrt(var) * math.sqrt(2.0) * torch.randn((6, 2), generator=g, dtype=torch.float64)
    torch.testing.assert_close(ours, y, rtol=0, atol=1e-6)


def test_dlim_alpha2_is_ddim():
    proc = DLPM(2.0, n_steps=50)
    x_T = torch.randn(4, 3, dtype=torch.float64)
    ours = dlim_sample(eps_fn_linear, x_T, proc.indices(10), process=proc)
    ab = proc.gamma_bar**2
    x = x_T
    idx = torch.linspace(50, 0, 11).round().long().tolist()
    for k, kn in zip(idx[:-1], idx[1:]):
        e = eps_fn_linear(x, torch.full((4,), k / 50, dtype=torch.float64))
        x0 = (x - math.sqrt(1 - ab[k]) * e) / math.sqrt(ab[k])
        x = x0 if kn == 0 else math.sqrt(ab[kn]) * x0 + math.sqrt(1 - ab[kn]) * e
    torch.testing.assert_close(ours, x, rtol=0, atol=1e-6)


def test_dlpm_heavy_tailed_runs():
    proc = DLPM(1.7, n_steps=100)
    noise = StableNoise(proc.alpha, generators=torch.Generator().manual_seed(0))
    y = dlpm_sample(eps_fn_linear, proc.prior((32, 2), noise=noise, steps=25), proc.indices(25), process=proc,
                    noise=noise)
    assert y.shape == (32, 2) and torch.isfinite(y).all()
    z = dlim_sample(eps_fn_linear, proc.noise((32, 2)) * float(proc.sigma_bar[-1]), proc.indices(25), process=proc,
                    eta=0.5, noise=StableNoise(proc.alpha, generators=torch.Generator().manual_seed(0)))
    assert torch.isfinite(z).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_sampler_cuda():
    proc = LevyVP(1.5)
    g = torch.Generator(device="cuda").manual_seed(0)
    x_T = proc.prior((8, 80, 50), generator=g, device="cuda")
    out = sample(eps_fn_linear, x_T, time_grid(5, proc.T), process=proc, sampler="sde-e", solver="ei", eta=0.3,
                 noise=StableNoise(proc.alpha, generators=g))
    assert out.is_cuda and torch.isfinite(out).all()
