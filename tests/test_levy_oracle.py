"""The Dirac-mixture oracle: density table against scipy, normalisation, and the oracle sampler lab
(docs/design.md §6): α = 1.5, atoms -1/+1 with weights 0.9/0.1, 20 000 samples."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from levytts.levy import LevyVP, StableNoise
from levytts.levy.oracle import DiracMixtureOracle, log_density_table, radial_log_density
from levytts.levy.sampling import sample, time_grid


@pytest.mark.parametrize("alpha", [1.2, 1.5, 1.8])
def test_1d_density_matches_scipy(alpha):
    x = np.array([0.0, 0.25, 1.0, 2.5, 7.0, 40.0])
    ours = radial_log_density(torch.tensor(x), alpha, 1).exp().numpy()
    np.testing.assert_allclose(ours, stats.levy_stable.pdf(x, alpha, 0.0), rtol=2e-4)


@pytest.mark.parametrize("alpha,d", [(1.5, 2), (1.2, 3), (1.8, 5)])
def test_density_normalised(alpha, d):
    log_r, table = log_density_table(alpha, d)
    surface = 2 * math.pi ** (d / 2) / math.gamma(d / 2)
    mass = np.trapezoid(np.exp(table) * surface * np.exp(d * log_r), log_r)
    # the part beyond the grid is the power tail ∫ C r^{-(d+α)} r^{d-1} dr
    tail = surface * math.exp(table[-1] + d * log_r[-1]) / alpha
    assert mass + tail == pytest.approx(1.0, abs=2e-4)


def test_posterior_mean_matches_monte_carlo():
    """ε̂ from the oracle equals a direct Monte-Carlo posterior mean on a 2-D two-atom problem."""
    proc = LevyVP(1.5)
    atoms = torch.tensor([[-1.0, 0.0], [1.0, 0.5]], dtype=torch.float64)
    oracle = DiracMixtureOracle(atoms, [0.7, 0.3], proc)
    t = 0.5
    g = torch.Generator().manual_seed(0)
    n = 400_000
    comp = (torch.rand(n, generator=g) < 0.3).long()
    eps = proc.noise((n, 2), generator=g, dtype=torch.float64)
    x = proc.a(t) * atoms[comp] + proc.gamma(t) * eps
    # condition on x landing in a small ball around a query point
    q = torch.tensor([0.2, 0.1], dtype=torch.float64)
    near = (x - q).norm(dim=1) < 0.03
    mc = eps[near].mean(0)
    se = eps[near].std(0) / math.sqrt(int(near.sum()))
    est = oracle(q[None], torch.tensor([t], dtype=torch.float64))[0]
    assert torch.all((est - mc).abs() < 4 * se + 0.02), (est, mc, se)


def _rare_fraction(sampler, N, eta=0.0):
    proc = LevyVP(1.5)
    oracle = DiracMixtureOracle([-1.0, 1.0], [0.9, 0.1], proc)
    g = torch.Generator().manual_seed(0)
    x_T = proc.prior((20_000, 1), generator=g, dtype=torch.float64)
    x = sample(oracle, x_T, time_grid(N, proc.T, t_eps=1e-3), process=proc, sampler=sampler, solver="ei", eta=eta,
               noise=StableNoise(proc.alpha, generators=g))
    return ((x - 1).abs() < 0.1).double().mean().item()


def test_oracle_lab_ode_and_sde_e_recover_rare_atom():
    assert abs(_rare_fraction("ode", 20) - 0.10) < 0.015
    assert abs(_rare_fraction("sde-e", 100, eta=0.3) - 0.10) < 0.015


def test_oracle_lab_sde_a_is_biased():
    assert _rare_fraction("sde-a", 100) > 0.14  # drops the finite-variation term dZ: overweights the rare atom
