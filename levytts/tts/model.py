"""LevyTTS: text encoder + duration predictor + Lévy-diffusion mel decoder (Popov et al. 2024, §5.2, App. C).

Diffusion (levytts.levy, docs/design.md §3): the decoder learns ε̂ for the LévyVP process on the normalised
mel z_0 = (y - mel_mean)/mel_std, with the prior x_T = γ(T)·ξ, ξ ~ SαS(1) — mean zero as in the paper
(``prior_mean: zero``). With ``prior_mean: mu`` (Grad-TTS's N(μ, I) prior) the process runs on z_0 - μ
and μ is added back after sampling: the forward marginal is then a(t) z_0 + (1 - a(t)) μ + γ(t) ε, as in
Grad-TTS. Either way the decoder sees the diffusion state, μ, t and the speaker.

Training stages (``stage``):
- ``joint``:   encoder + duration predictor + decoder (Grad-TTS kind; durations by MAS or TextGrid);
- ``encoder``: the average-voice encoder alone, teacher-forced durations, loss on μ (mel regression);
- ``decoder``: decoder only, with a frozen pretrained encoder in teacher-forcing mode (the paper's set-up).
"""
from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from levytts.levy import (
    PREDICTIONS,
    T_LAWS,
    LevyVP,
    StableNoise,
    check_t_law,
    denoising_loss,
    edm_denoiser,
    sample,
    time_grid,
)
from levytts.tts.alignment import (
    duration_loss,
    durations_to_path,
    expand,
    gaussian_log_prior,
    monotonic_alignment,
    predicted_durations,
    prior_loss,
    sequence_mask,
)
from levytts.tts.decoder import build_decoder
from levytts.tts.encoders import build_encoder, phone_positions

STAGES = ("joint", "encoder", "decoder")
PRIOR_MEANS = ("zero", "mu")
MEL_CEILING = 4.0  # log-mel ceiling of synthesis output (speech log-mels stay well below: magnitude e⁴ per bin)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())



def process_from_config(diffusion) -> LevyVP:
    """The α-stable process of a ``diffusion`` config group (alpha, schedule, beta_min/beta_max for the linear
    schedule). ValueError when alpha is missing: a default of 2.0 would silently make the Gaussian model."""
    schedule = diffusion.get("schedule", "cosine")
    betas = {}  # β_0, β_1 of the linear schedule (the cosine schedule has none: the keys are not read)
    if schedule == "linear":
        betas = {k: float(diffusion[k]) for k in ("beta_min", "beta_max") if diffusion.get(k) is not None}
    if "alpha" not in diffusion:
        raise ValueError(f"diffusion config has no alpha (keys: {', '.join(map(str, diffusion))})")
    return LevyVP(alpha=float(diffusion["alpha"]), schedule=schedule, **betas)

def check_guidance(guidance, cond_dropout: float) -> float:
    """``guidance`` as a float; ValueError for a non-finite or negative one, or for w ≠ 1 on a decoder trained with
    ``cond_dropout`` = 0 (it never learnt the unconditional model that classifier-free guidance needs). The one rule
    for synthesis (:meth:`LevyTTS.check_guidance`) and for export's stored defaults."""
    guidance = float(guidance)
    if not math.isfinite(guidance) or guidance < 0:
        raise ValueError(f"guidance must be a finite number >= 0, got {guidance!r}")
    if guidance != 1.0 and not float(cond_dropout or 0) > 0:
        raise ValueError(f"guidance {guidance!r} needs a decoder trained with diffusion.cond_dropout > 0 (this one was "
                         "trained without diffusion.cond_dropout: it never learnt the unconditional model); use "
                         "guidance 1")
    return guidance


class LevyTTS(nn.Module):
    """The acoustic model.

    Args:
        n_vocab: symbol-table size; n_spks: number of speakers; n_mels: mel bins.
        encoder: encoder config (``kind`` = ``grad_tts`` | ``avg_voice`` and sizes; ``spk_conditioned``).
        decoder: decoder config: ``kind`` (``unet2d``, Grad-TTS's U-Net with ``dim``, ``dim_mults``, ``pe_scale``;
            or ``conv1d``, :class:`levytts.tts.decoder.Conv1dDecoder`) and its sizes.
        diffusion: ``alpha``, ``schedule`` (+ ``beta_min``/``beta_max`` for ``linear``), ``loss``, ``prediction``
            (``eps`` | ``x0`` | ``edm`` with ``sigma_data``), ``structure``, ``a_max``, ``mom_groups``, ``prior_mean``,
            ``t_sampling`` (``uniform`` | ``edm``: the training-time law of :meth:`LevyVP.sample_t`, with
            ``t_lognormal`` = [P_mean, P_std] and ``t_uniform_fraction``), ``cond_dropout`` (probability of training
            a segment with μ replaced by zeros, so that the decoder also learns the unconditional model that
            classifier-free guidance needs; 0 = never, the default).
        spk_emb_dim: speaker embedding size; durations: ``mas`` | ``textgrid`` (teacher forcing).
        segment_frames: decoder training segment (frames, Grad-TTS's ``out_size``); None = whole utterance.
    """

    def __init__(self, n_vocab: int, n_spks: int, n_mels: int, encoder: dict, decoder: dict, diffusion: dict,
                 spk_emb_dim: int = 64, durations: str = "mas", segment_frames: int | None = None):
        super().__init__()
        if durations not in ("mas", "textgrid"):
            raise ValueError(f"durations must be 'mas' or 'textgrid', got {durations!r}")
        self.n_spks, self.n_mels = n_spks, n_mels
        self.durations_source = durations
        self.segment_frames = segment_frames
        self.spk_emb = nn.Embedding(max(n_spks, 1), spk_emb_dim)
        enc_spk = spk_emb_dim if (encoder.get("spk_conditioned", False) and encoder.get("kind") == "grad_tts"
                                  and n_spks > 1) else 0
        self.encoder_spk_conditioned = enc_spk > 0
        self.encoder = build_encoder(encoder, n_vocab, n_mels, enc_spk)
        if getattr(self.encoder, "frame_decoder", None) is not None and durations == "mas":
            raise ValueError("an encoder with a frame decoder (encoder.frame_layers > 0) needs durations: textgrid "
                             "(MAS aligns phone-level means, which this encoder does not output)")
        self.decoder = build_decoder(decoder, n_mels, n_spks, spk_emb_dim)
        diffusion = dict(diffusion)
        self.prior_mean = diffusion.get("prior_mean", "zero")
        if self.prior_mean not in PRIOR_MEANS:
            raise ValueError(f"prior_mean must be one of {PRIOR_MEANS}, got {self.prior_mean!r}")
        self.loss_kind = diffusion.get("loss", "smooth_l1")
        self.structure = diffusion.get("structure", "isotropic")
        self.a_max = diffusion.get("a_max")
        self.mom_groups = int(diffusion.get("mom_groups", 1))
        # training-time law of t (LevyVP.sample_t, whose checker is levytts.levy.check_t_law); absent from older
        # checkpoints: uniform. Checked here, with the config keys named, so that a bad value fails at start-up.
        law = diffusion.get("t_sampling") or "uniform"
        if law not in T_LAWS:
            raise ValueError(f"diffusion.t_sampling must be {' or '.join(T_LAWS)}, got {law!r}")
        lognormal = diffusion.get("t_lognormal") or (-1.2, 1.2)
        try:
            _, self.t_lognormal, _ = check_t_law(law, lognormal)
        except ValueError:
            raise ValueError(f"diffusion.t_lognormal must be [P_mean, P_std] with finite values and P_std > 0, got "
                             f"{lognormal!r}") from None
        try:
            self.t_uniform_fraction = check_t_law(law, self.t_lognormal, diffusion.get("t_uniform_fraction", 0.5))[2]
        except ValueError as err:
            raise ValueError(f"diffusion.t_uniform_fraction: {err}") from None
        self.t_sampling = law
        # absent from checkpoints written before it existed: those never dropped μ
        self.cond_dropout = float(diffusion.get("cond_dropout") or 0.0)
        if not 0.0 <= self.cond_dropout < 1.0:
            raise ValueError(f"diffusion.cond_dropout must be in [0, 1), got {self.cond_dropout}")
        # ``prediction`` / ``beta_*`` are absent from checkpoints written before they existed: those were ε-prediction
        # on the cosine schedule or on LevyVP's linear defaults, which these fallbacks reproduce.
        self.prediction = diffusion.get("prediction", "eps")
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"diffusion.prediction must be one of {PREDICTIONS}, got {self.prediction!r}")
        self.sigma_data = None
        if self.prediction == "edm":
            if diffusion.get("sigma_data") is None:
                raise ValueError("diffusion.prediction=edm needs diffusion.sigma_data (std of the decoder's target: "
                                 "about 1 for the normalised mel, about 0.5 for y - mu)")
            self.sigma_data = float(diffusion["sigma_data"])
        self.proc = process_from_config(diffusion)
        # mel normalisation statistics travel with the checkpoint (set from data before training)
        self.register_buffer("mel_mean", torch.zeros(()))
        self.register_buffer("mel_std", torch.ones(()))

    # ------------------------------------------------------------------------------------------
    def set_mel_statistics(self, mean: float, std: float) -> None:
        self.mel_mean.fill_(float(mean))
        self.mel_std.fill_(float(std))

    def normalise(self, mel: torch.Tensor) -> torch.Tensor:
        return (mel - self.mel_mean) / self.mel_std

    def denormalise(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.mel_std + self.mel_mean

    def parameter_counts(self) -> dict[str, int]:
        return {"encoder": count_parameters(self.encoder), "decoder": count_parameters(self.decoder),
                "speaker_table": count_parameters(self.spk_emb), "total": count_parameters(self)}

    def speaker_embedding(self, spk: torch.Tensor | None, batch: int, device) -> torch.Tensor:
        if spk is None:
            if self.n_spks > 1:
                raise ValueError("multi-speaker model: pass speaker ids")
            spk = torch.zeros(batch, dtype=torch.long, device=device)
        return self.spk_emb(spk)

    def encode(self, ids, id_lengths, spk_emb):
        return self.encoder(ids, id_lengths, spk_emb if self.encoder_spk_conditioned else None)

    def frame_means(self, mu_x: torch.Tensor, durations: torch.Tensor, path: torch.Tensor,
                    y_mask: torch.Tensor) -> torch.Tensor:
        """Length regulator (+ the encoder's frame decoder when it has one): (B, C, L) → μ_y (B, n_mels, T)."""
        mu_y = expand(mu_x, path)
        frame_decoder = getattr(self.encoder, "frame_decoder", None)
        if frame_decoder is not None:
            mu_y = frame_decoder(mu_y, phone_positions(durations, path), y_mask)
        return mu_y

    def net_fn(self, mask, mu, spk_emb):
        """The decoder as (x, t) → its output (ε̂ or x̂0, by ``diffusion.prediction``): what the loss trains."""
        return lambda x, t: self.decoder(x, mask, mu, t, spk_emb)

    def eps_fn(self, mask, mu, spk_emb, guidance: float = 1.0):
        """ε̂(x, t) closure for the levytts.levy samplers (x̂0 outputs turned into ε̂ = (x - a x̂0)/γ).

        guidance: classifier-free guidance scale w on the μ condition (Ho & Salimans 2022):
        ε̂ = ε̂(x, t | ∅) + w (ε̂(x, t | μ) − ε̂(x, t | ∅)), ∅ = μ replaced by zeros as in training with
        ``cond_dropout``. The same weights on x̂0 give the same ε̂ (ε̂ is affine in x̂0 at fixed x, t). w = 1 is the
        conditional model alone (one network call per step); w ≠ 1 costs two calls per step and needs a decoder
        trained with ``cond_dropout`` > 0 (ValueError otherwise: its unconditional output was never learnt).
        """
        guidance = self.check_guidance(guidance)
        if guidance != 1.0:
            eps_c = self._eps_fn(mask, mu, spk_emb)
            eps_u = self._eps_fn(mask, torch.zeros_like(mu), spk_emb)

            def guided(x, t):
                u = eps_u(x, t)
                return u + guidance * (eps_c(x, t) - u)

            return guided
        return self._eps_fn(mask, mu, spk_emb)

    def check_guidance(self, guidance) -> float:
        """:func:`check_guidance` for this decoder."""
        return check_guidance(guidance, self.cond_dropout)

    def _eps_fn(self, mask, mu, spk_emb):
        net = self.net_fn(mask, mu, spk_emb)
        if self.prediction == "x0":
            return lambda x, t: self.proc.eps_from_x0(x, net(x, t), t) * mask
        if self.prediction == "edm":
            denoiser = edm_denoiser(net, self.proc, self.sigma_data)
            return lambda x, t: self.proc.eps_from_x0(x, denoiser(x, t), t) * mask
        return net

    # ------------------------------------------------------------------------------------------
    def compute_loss(self, batch: dict, stage: str = "joint") -> dict[str, torch.Tensor]:
        """Training losses on a batch (see :class:`levytts.tts.data.TTSCollate`).

        batch: ids (B, L), id_lengths (B,), mels (B, n_mels, T) raw log-mel, mel_lengths (B,), spk (B,),
        durations (B, L) or None. Randomness (t, ε, segment offsets) comes from torch's global RNG.

        Returns: dict with ``loss`` (the sum optimised) and the named terms.
        """
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; valid: {', '.join(STAGES)}")
        ids, id_lengths, spk = batch["ids"], batch["id_lengths"], batch["spk"]
        y = self.normalise(batch["mels"])
        y_lengths = batch["mel_lengths"]
        B = ids.shape[0]
        spk_emb = self.speaker_embedding(spk, B, ids.device)
        y_mask = sequence_mask(y_lengths, y.shape[-1]).unsqueeze(1).to(y.dtype)
        if stage == "decoder":
            with torch.no_grad():
                mu_x, logw, x_mask = self.encode(ids, id_lengths, spk_emb)
        else:
            mu_x, logw, x_mask = self.encode(ids, id_lengths, spk_emb)
        # alignment: teacher-forced durations or MAS under the encoder's N(μ, I)
        if self.durations_source == "textgrid" or stage != "joint":
            if batch.get("durations") is None:
                raise ValueError(f"stage {stage!r} with durations={self.durations_source!r} needs TextGrid durations "
                                 "in the batch (set data.textgrid_dir)")
            durations = batch["durations"]
            path = durations_to_path(durations, x_mask, y_mask)
        else:
            path = monotonic_alignment(gaussian_log_prior(mu_x, y), x_mask, y_mask)
            durations = path.sum(-1).long()
        mu_y = self.frame_means(mu_x, durations, path, y_mask)  # (B, n_mels, T)
        out: dict[str, torch.Tensor] = {}
        if stage != "decoder":
            out["dur_loss"] = duration_loss(logw, durations, x_mask)  # log-duration regression
            if stage == "encoder":
                # average-voice mel regression (L1 on valid frames, as the mel regressors this follows)
                out["mel_loss"] = torch.sum((mu_y - y).abs() * y_mask) / (torch.sum(y_mask) * self.n_mels)
            else:
                out["prior_loss"] = prior_loss(y, mu_y, y_mask)  # -log N(y; μ_y, I)
        if stage != "encoder":
            y_seg, mu_seg, mask_seg = self._random_segments(y, mu_y.detach() if stage == "decoder" else mu_y,
                                                            y_mask, y_lengths)
            x0 = y_seg - mu_seg if self.prior_mean == "mu" else y_seg
            cond = mu_seg
            if self.cond_dropout > 0 and self.training:  # the unconditional model of classifier-free guidance
                keep = torch.rand(B, 1, 1, device=y.device) >= self.cond_dropout
                cond = mu_seg * keep.to(mu_seg.dtype)
            t = None  # uniform: drawn inside denoising_loss
            if self.t_sampling != "uniform":
                t = self.proc.sample_t(B, device=y.device, law=self.t_sampling, lognormal=self.t_lognormal,
                                       uniform_fraction=self.t_uniform_fraction).to(y.dtype)
            out["diff_loss"] = denoising_loss(self.net_fn(mask_seg, cond, spk_emb), x0 * mask_seg, self.proc, t=t,
                                              kind=self.loss_kind, structure=self.structure, mask=mask_seg,
                                              mom_groups=self.mom_groups, a_max=self.a_max,
                                              prediction=self.prediction,
                                              sigma_data=self.sigma_data)  # fractional DSM on ε, or its x0 forms
        out["loss"] = sum(out.values())
        return out

    def output_mel(self, z0: torch.Tensor, mu_y: torch.Tensor, mel_ceiling: float = MEL_CEILING,
                   stacklevel: int = 2) -> torch.Tensor:
        """A sampler's end state z0 (B, n_mels, T) → raw log-mel of the same shape: μ added back under the N(μ, ·)
        prior, denormalised, non-finite values set to silence (with a RuntimeWarning saying how many) and clamped
        to [log(LOG_CLAMP), mel_ceiling]."""
        from levytts.audio.mel import LOG_CLAMP

        log_floor = math.log(LOG_CLAMP)
        if self.prior_mean == "mu":
            z0 = z0 + mu_y
        # A few-step sampler with heavy-tailed ξ (or an untrained net) can overshoot; log-mels below
        # log(LOG_CLAMP) do not exist in the analysis, and non-finite values would break any vocoder.
        n_bad = int((~torch.isfinite(z0)).sum())
        if n_bad:  # say so: the clamp below would otherwise turn a diverged sample into silence unnoticed
            warnings.warn(f"the reverse diffusion diverged: {n_bad} non-finite mel values were set to silence; try "
                          f"a truncated start (--t-start 0.8), --grid log_snr or more --steps", RuntimeWarning,
                          stacklevel=stacklevel)
        mel = torch.nan_to_num(self.denormalise(z0), nan=log_floor, posinf=mel_ceiling, neginf=log_floor)
        return mel.clamp(log_floor, mel_ceiling)

    def _random_segments(self, y, mu_y, y_mask, y_lengths):
        """Random ``segment_frames``-long crops (Grad-TTS's out_size), padded to the U-Net's multiple."""
        seg = self.segment_frames
        T = y.shape[-1]
        if seg is None or seg >= T:
            T_pad = self.decoder.pad_length(T)
            pad = (0, T_pad - T)
            return (nn.functional.pad(y, pad), nn.functional.pad(mu_y, pad), nn.functional.pad(y_mask, pad))
        seg = self.decoder.pad_length(seg)
        max_offset = (y_lengths - seg).clamp_min(0)
        offsets = (torch.rand(y.shape[0], device=y.device) * (max_offset + 1).to(y.dtype)).long().clamp_max(max_offset)
        idx = offsets[:, None] + torch.arange(seg, device=y.device)[None, :]  # (B, seg)
        idx = idx.clamp_max(T - 1)
        gather = lambda v: torch.gather(v, 2, idx[:, None, :].expand(-1, v.shape[1], -1))  # noqa: E731
        seg_mask = (torch.arange(seg, device=y.device)[None, :] < (y_lengths - offsets)[:, None]).unsqueeze(1)
        seg_mask = seg_mask.to(y.dtype)
        return gather(y) * seg_mask, gather(mu_y) * seg_mask, seg_mask

    # ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def synthesise(self, ids: torch.Tensor, id_lengths: torch.Tensor, spk: torch.Tensor | None, steps: int = 10,
                   sampler: str = "ode", solver: str = "euler", eta=0.0, grid: str = "uniform", t_eps: float = 1e-3,
                   length_scale: float = 1.0, generator=None,
                   durations: torch.Tensor | None = None, mel_ceiling: float = MEL_CEILING,
                   t_start: float | None = None, temperature: float = 1.0,
                   guidance: float = 1.0) -> dict[str, torch.Tensor]:
        """Text ids → raw log-mel.

        Args:
            ids: (B, L) token ids; id_lengths: (B,); spk: (B,) speaker ids (None for single-speaker).
            steps, sampler, solver, eta, grid, t_eps: passed to :func:`levytts.levy.sample` (``grid`` a kind of
                :func:`levytts.levy.time_grid` or explicit times; ``eta`` a number, callable or η spec).
            length_scale: multiplies predicted durations (> 1 slower speech).
            generator: None (torch's RNG), one torch.Generator for the batch, or one per utterance
                (:func:`levytts.levy.sample_generators`): then utterance b's prior and step noise come from
                generator b alone, drawn at its own (decoder-padded) length, so its mel does not depend on the
                batch size or on the other utterances (see :class:`levytts.levy.StableNoise`).
            durations: optional (B, L) teacher-forced durations instead of predicted ones.
            t_start: start the reverse process at t_start < T from γ(t_start)·ξ (a truncated start: the
                a(t_start)·z_0 part of x_t is dropped) on a ``grid`` from t_start; None = from T with the prior.
                A briefly trained decoder's ε̂ near T is too coarse for the first step from T, where
                a(T) ≈ 0.008 amplifies its error ~1/a(T) times (docs/results/imbalanced_speakers.md).
            temperature: τ > 0; the prior draw is divided by τ, x_T = γ(T)·ξ/τ (Grad-TTS's inference
                temperature, which it sets to 1.5; Matcha-TTS's noise scale 0.667 = 1/1.5). τ = 1 is the exact
                sampler; τ > 1 trades sample diversity for samples nearer the decoder's mean.
            guidance: classifier-free guidance scale w on μ (:meth:`eps_fn`); 1 = the conditional decoder alone;
                w ≠ 1 needs a decoder trained with ``diffusion.cond_dropout`` > 0 (ValueError otherwise).
            mel_ceiling: the output log-mel is clamped to [log(LOG_CLAMP), mel_ceiling] (speech log-mels
                stay well below 4, i.e. magnitude e⁴ per mel bin).

        Returns:
            dict: ``mel`` (B, n_mels, T) raw log-mel (zero past each length), ``mu`` (B, n_mels, T) encoder output
            in raw units, ``mel_lengths`` (B,), ``durations`` (B, L).
        """
        B = ids.shape[0]
        spk_emb = self.speaker_embedding(spk, B, ids.device)
        mu_x, logw, x_mask = self.encode(ids, id_lengths, spk_emb)
        if durations is None:
            durations = predicted_durations(logw, x_mask, length_scale).clamp_min(0)
            durations = torch.where(x_mask[:, 0] > 0, durations.clamp_min(1), durations)
        y_lengths = durations.sum(1)
        T = self.decoder.pad_length(int(y_lengths.max()))
        y_mask = sequence_mask(y_lengths, T).unsqueeze(1).to(mu_x.dtype)
        mu_y = self.frame_means(mu_x, durations, durations_to_path(durations, x_mask, y_mask), y_mask)
        if not (math.isfinite(float(temperature)) and float(temperature) > 0):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
        times = time_grid(steps, self.proc.T, t_start=t_start, kind=grid, t_eps=t_eps, proc=self.proc) \
            if isinstance(grid, str) else grid
        lengths = [self.decoder.pad_length(int(n)) for n in y_lengths]  # per-utterance draws: batch-independent
        noise = StableNoise(self.proc.alpha, self.structure, self.a_max, mask=y_mask, generators=generator,
                            lengths=lengths)
        # x_T = γ(t_start or T)·ξ/τ: from T, or a truncated start (the a(t_start)·z_0 part of x_t is dropped)
        x_T = self.proc.prior(mu_y.shape, noise=noise, t=t_start, device=mu_y.device, dtype=mu_y.dtype) \
            / float(temperature)
        z0 = sample(self.eps_fn(y_mask, mu_y, spk_emb, guidance), x_T, times, process=self.proc, sampler=sampler,
                    solver=solver, eta=eta, noise=noise)
        Tm = int(y_lengths.max())
        mel = self.output_mel(z0, mu_y, mel_ceiling, stacklevel=4) * y_mask
        return {"mel": mel[..., :Tm], "mu": (self.denormalise(mu_y) * y_mask)[..., :Tm], "mel_lengths": y_lengths,
                "durations": durations}
