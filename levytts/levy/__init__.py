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
from levytts.levy.noise import (
    STRUCTURES,
    StableNoise,
    isotropic_stable,
    positive_stable,
    sample_generators,
    sample_seeds,
    stable,
)
from levytts.levy.process import DLPM, T_LAWS, LevyVP, check_t_law
from levytts.levy.sampling import (
    DLPM_SAMPLERS,
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
from levytts.levy.spec import EtaSpec, SamplerSpec, eta_preset

__all__ = [
    "DLPM", "DLPM_SAMPLERS", "EtaSpec", "GRIDS", "LOSSES", "LevyVP", "PREDICTIONS", "SAMPLERS", "SOLVERS",
    "STRUCTURES", "SamplerSpec", "StableNoise", "T_LAWS", "check_t_law", "denoising_loss", "dlim_sample", "dlpm_sample", "edm_denoiser",
    "eps_loss", "eta_preset", "eta_schedule", "isotropic_stable", "median_of_means", "per_sample_loss",
    "positive_stable", "power_eta", "sample", "sample_generators", "sample_seeds", "stable", "time_grid",
]
