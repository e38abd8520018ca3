"""`levytts demo-sampler`: the 1-D oracle study of docs/design.md §6 as a picture.

Data: atoms at -1 and +1 with weights 0.9 / 0.1, α-stable LévyVP process, exact ε̂ from
:class:`~levytts.levy.oracle.DiracMixtureOracle` (no training). Top row: histograms of the samples of
ODE, SDE-E and SDE-A (exponential integrator) with the fraction that lands on the rare atom. Bottom
row: a few forward paths and reverse trajectories with η = 1 (SDE-A), 0.2 (SDE-E) and 0 (ODE), the
layout of Popov et al. Fig. 1.

matplotlib is imported inside :func:`main` so that importing levytts stays light. It lives outside levytts.levy, which imports only torch, numpy and scipy.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from levytts.audio.io import atomic_write
from levytts.cli import UserError, add_seed_option
from levytts.levy import StableNoise
from levytts.levy.oracle import DiracMixtureOracle
from levytts.levy.process import LevyVP
from levytts.levy.sampling import sample, time_grid


def rare_fraction(x: torch.Tensor, atom: float = 1.0, tol: float = 0.1) -> float:
    """Fraction of samples within ``tol`` of ``atom``."""
    return ((x - atom).abs() < tol).double().mean().item()


def run_study(alpha: float, n: int, seed: int, runs: list[tuple[str, str, int, float]], t_eps: float = 1e-3):
    """Run each (label, sampler, steps, eta) on the two-atom oracle; returns {label: samples (n,)}."""
    proc = LevyVP(alpha)
    oracle = DiracMixtureOracle([-1.0, 1.0], [0.9, 0.1], proc)
    out = {}
    for label, sampler, steps, eta in runs:
        noise = StableNoise(proc.alpha, generators=torch.Generator().manual_seed(seed))
        x_T = proc.prior((n, 1), dtype=torch.float64, noise=noise)
        out[label] = sample(oracle, x_T, time_grid(steps, proc.T, t_eps=t_eps), process=proc, sampler=sampler,
                            solver="ei", eta=eta, noise=noise).flatten()
    return proc, oracle, out


def forward_paths(proc: LevyVP, x0: torch.Tensor, times: list[float], generator: torch.Generator) -> torch.Tensor:
    """Exact forward paths on ``times`` (increasing): x_{t'} = (a_{t'}/a_t) x_t + (γ_{t'}^α - (a_{t'}/a_t)^α γ_t^α)^{1/α} ξ.

    x0: (B,). Returns (len(times), B).
    """
    xs = [x0]
    for s, t in zip(times[:-1], times[1:]):
        r = proc.a(t) / proc.a(s)
        scale = max(proc.gamma(t) ** proc.alpha - r**proc.alpha * proc.gamma(s) ** proc.alpha, 0.0) ** (1 / proc.alpha)
        xs.append(r * xs[-1] + scale * proc.noise((x0.shape[0], 1), generator=generator, dtype=x0.dtype).flatten())
    return torch.stack(xs)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from levytts.cli_types import number

    parser.add_argument("--alpha", type=number(low=0.5, high=2), default=1.5,
                        help="stability index in [0.5, 2], the range levytts.levy accepts (default 1.5)")
    parser.add_argument("--samples", type=number(integer=True, low=10), default=20_000,
                        help="samples per sampler, >= 10 (default 20000)")
    add_seed_option(parser)
    parser.add_argument("--out", default="outputs/demo_sampler.png", help="PNG to write")


def main(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if args.samples < 10:
        raise UserError(f"--samples must be >= 10, got {args.samples}")
    runs = [("ODE, N=20", "ode", 20, 0.0), ("SDE-E η=0.3, N=100", "sde-e", 100, 0.3), ("SDE-A, N=100", "sde-a", 100, 1.0)]
    proc, oracle, res = run_study(args.alpha, args.samples, args.seed, runs)

    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    bins = torch.linspace(-2.5, 2.5, 101).numpy()
    for ax, (label, x) in zip(axes[0], res.items()):
        frac = rare_fraction(x)
        ax.hist(x.clamp(-2.5, 2.5).numpy(), bins=bins, color="tab:blue", alpha=0.8)
        ax.set_yscale("log")
        ax.set_title(f"{label}\nrare atom +1: {frac:.3f} (true 0.100)")
        ax.set_xlabel("x0")
    axes[0, 0].set_ylabel(f"count of {args.samples} (log)")

    # trajectories: forward on [0, T] (left half), reverse on [T, 0] (right half), Popov Fig. 1 layout
    g = torch.Generator().manual_seed(args.seed + 1)
    n_paths = 6
    x0 = torch.where(torch.arange(n_paths) < 5, -1.0, 1.0).to(torch.float64)
    rev_times = time_grid(200, proc.T, t_eps=1e-3).tolist()
    fwd_times = rev_times[::-1]
    fwd = forward_paths(proc, x0, fwd_times, g)
    for ax, (label, sampler, eta) in zip(axes[1], [("η = 1 (SDE-A)", "sde-a", 1.0), ("η = 0.2 (SDE-E)", "sde-e", 0.2),
                                                   ("η = 0 (ODE)", "ode", 0.0)]):
        x_T = fwd[-1][:, None]
        traj = [x_T]
        sample(oracle, x_T, rev_times, process=proc, sampler=sampler, solver="ei", eta=eta,
               noise=StableNoise(proc.alpha, generators=g), callback=lambda d: traj.append(d["x"]), denoise_last=False)
        rev = torch.stack([x.flatten() for x in traj])
        ax.plot(fwd_times, fwd.clamp(-4, 4).numpy(), lw=0.8)
        ax.plot([2 * float(proc.T) - t for t in rev_times],
                rev.clamp(-4, 4).numpy(), lw=0.8)
        ax.axvline(float(proc.T), color="k", lw=0.5)
        ax.set_title(f"forward | reverse, {label}")
        ax.set_xlabel("forward t →   |   ← reverse t")
        ax.set_ylim(-4, 4)
    fig.suptitle(f"α = {args.alpha}: exact-ε̂ oracle on atoms −1 / +1 with weights 0.9 / 0.1 (exponential integrator)")
    fig.tight_layout()
    out = Path(args.out)
    with atomic_write(out) as tmp:  # atomic: a reader never sees a half-written PNG
        fig.savefig(tmp, dpi=110)  # the temporary name keeps out's extension, so the format is the same
    plt.close(fig)
    for label, x in res.items():
        print(f"{label:22s} rare-atom fraction {rare_fraction(x):.3f}")
    print(f"wrote {out}")
    return 0
