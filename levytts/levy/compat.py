"""The pre-issue-13 call forms of the samplers, as thin wrappers over :mod:`levytts.levy.sampling`.

Kept for old scripts and for the tests that pin the samplers' numbers; new code uses ``sample(eps_fn, x_T,
times, *, process, sampler, solver, eta, noise, callback)`` with a :class:`~levytts.levy.noise.StableNoise`.
Nothing here draws or steps by itself: each function builds the time grid, the noise object and (for
``return_trajectory``) a callback, and calls the one implementation.
"""
from __future__ import annotations

import torch

from levytts.levy import sampling
from levytts.levy.noise import StableNoise
from levytts.levy.process import DLPM, LevyVP


def time_grid(N: int, kind: str = "uniform", T: float = 0.9946, t_eps: float = 1e-3,
              proc: LevyVP | None = None) -> list[float]:
    """The old ``time_grid(N, kind, T, t_eps, proc)`` → a list of floats (from T)."""
    return sampling.time_grid(N, T, kind=kind, t_eps=t_eps, proc=proc).tolist()


def _trajectory(first: torch.Tensor, wanted: bool):
    traj = [first] if wanted else None
    return traj, ((lambda d: traj.append(d["x"])) if wanted else None)


def sample(eps_fn, x_T: torch.Tensor, proc: LevyVP, steps: int = 20, sampler: str = "ode", solver: str = "ei",
           eta=0.0, grid="uniform", t_eps: float = 1e-3, generator: torch.Generator | None = None,
           structure: str = "isotropic", mask: torch.Tensor | None = None, denoise_last: bool = True,
           return_trajectory: bool = False, a_max: float | None = None):
    """The old ``sample(eps_fn, x_T, proc, steps, ...)``: x̂0, or (x̂0, [x_T, ..., x_{t_eps}]) with
    ``return_trajectory``. ``mask`` keeps padding at zero (x_T, ε̂ and ξ are multiplied by it)."""
    sampling._check_choice("sampler", sampler, sampling.SAMPLERS)
    sampling._check_choice("solver", solver, sampling.SOLVERS)
    if solver == "lim" and sampler == "sde-e":
        raise ValueError("solver 'lim' (LIM's published discretisation) exists for samplers 'ode' and 'sde-a' only")
    times = sampling.time_grid(steps, float(proc.T), kind=grid, t_eps=t_eps, proc=proc) if isinstance(grid, str) \
        else grid
    noise = StableNoise(proc.alpha, structure, a_max, mask=mask, generators=generator)
    if mask is not None:
        x_T = x_T * mask
        eps_fn = (lambda fn: lambda x, t: fn(x, t) * mask)(eps_fn)
    traj, callback = _trajectory(x_T, return_trajectory)
    x = sampling.sample(eps_fn, x_T, times, process=proc, sampler=sampler, solver=solver, eta=eta, noise=noise,
                        callback=callback, denoise_last=denoise_last)
    return (x, traj) if return_trajectory else x


def dlpm_sample(eps_fn, shape, proc: DLPM, steps: int | None = None, generator: torch.Generator | None = None,
                device=None, dtype=None, structure: str = "isotropic", a_max: float | None = None,
                return_trajectory: bool = False):
    """The old ``dlpm_sample(eps_fn, shape, proc, ...)``: draws the start itself (chain A's, then G, then G per step
    from ``generator``)."""
    ks = proc.indices(steps)
    if generator is not None and device is None:
        device = generator.device
    noise = StableNoise(proc.alpha, structure, a_max, generators=generator)
    y = proc.prior(shape, device=device, dtype=dtype, noise=noise, steps=len(ks) - 1)
    traj, callback = _trajectory(y, return_trajectory)
    y = sampling.dlpm_sample(eps_fn, y, ks, process=proc, noise=noise, callback=callback)
    return (y, traj) if return_trajectory else y


def dlim_sample(eps_fn, x_T: torch.Tensor, proc: DLPM, steps: int | None = None, eta: float = 0.0,
                generator: torch.Generator | None = None, structure: str = "isotropic",
                return_trajectory: bool = False):
    """The old ``dlim_sample(eps_fn, x_T, proc, steps, eta, generator, ...)``."""
    if not 0 <= eta <= 1:
        raise ValueError(f"DLIM eta must be in [0, 1], got {eta}")
    ks = proc.indices(steps)
    traj, callback = _trajectory(x_T, return_trajectory)
    z = sampling.dlim_sample(eps_fn, x_T, ks, process=proc, eta=eta,
                             noise=StableNoise(proc.alpha, structure, generators=generator), callback=callback)
    return (z, traj) if return_trajectory else z
