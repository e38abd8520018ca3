"""The shared α-stable process module (docs/design.md §2–§6). Imports only torch, numpy and scipy."""
from levytts.levy.losses import (
    LOSSES,
    PREDICTIONS,
    denoising_loss,
    edm_denoiser,
    eps_loss,
    median_of_means,
    per_sample_loss,
)
from levytts.levy.noise import STRUCTURES, isotropic_stable, positive_stable, stable
from levytts.levy.process import DLPM, LevyVP
from levytts.levy.sampling import (
    GRIDS,
    SAMPLERS,
    SOLVERS,
    dlim_sample,
    dlpm_sample,
    eta_schedule,
    power_eta,
    sample,
    time_grid,
)

__all__ = [
    "DLPM", "GRIDS", "LOSSES", "LevyVP", "PREDICTIONS", "SAMPLERS", "SOLVERS", "STRUCTURES", "denoising_loss", "dlim_sample",
    "edm_denoiser",
    "dlpm_sample", "eps_loss", "eta_schedule", "isotropic_stable", "median_of_means", "per_sample_loss",
    "positive_stable", "power_eta", "sample", "stable", "time_grid",
]
