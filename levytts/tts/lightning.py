"""Lightning wrapper: generic training code (optimiser, EMA, skipped steps, logging, validation synthesis).

The model itself lives in :mod:`levytts.tts.model` (the Matcha-TTS split). Reproducibility: every
training step reseeds torch from (seed, global_step, rank), and the batch order comes from
:class:`levytts.tts.data.ResumableBatchSampler` (positioned at the batches already trained when the
loader is built), so resuming from a checkpoint replays exactly the steps an uninterrupted run would take.
"""
from __future__ import annotations

from pathlib import Path

import torch

# build_model lives in levytts.tts.checkpoint (synthesis builds models without importing Lightning); re-exported here.
from levytts.lightning_base import DiffusionLightning
from levytts.tts.checkpoint import build_model, load_checkpoint  # noqa: F401
from levytts.tts.model import LevyTTS
from levytts.tts.train import lr_at_step


class TTSLightning(DiffusionLightning):
    """Args: cfg (resolved plain dict), symbols (SymbolTable.to_dict()), speakers (ordered ids), add_blank,
    speaker_minutes (speaker → minutes of this run's training speech; None when unknown)."""

    def __init__(self, cfg: dict, symbols: dict, speakers: list[str], add_blank: bool,
                 speaker_minutes: dict[str, float] | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.cfg = cfg
        self.stage = cfg["stage"]  # required keys: checked by levytts.tts.train.check_config
        self.model = build_model(cfg, len(symbols["symbols"]), len(speakers))
        self.seed = int(cfg["seed"])
        # EMA of the model (buffers too: the encoder's BatchNorm statistics), skipped-step counter: levytts.lightning_base
        self.init_training_state("model", cfg["train"]["ema_decay"], ema_buffers=True)
        pretrained = cfg["model"]["encoder"].get("pretrained")
        if pretrained:
            self.load_pretrained_encoder(pretrained)
        self.frozen_encoder = self.stage == "decoder" or bool(cfg["model"]["encoder"].get("freeze", False) and pretrained)
        if self.frozen_encoder:
            self.model.encoder.requires_grad_(False)

    # ---------------------------------------------------------------------------------------------
    def load_pretrained_encoder(self, path: str) -> None:
        """Copy encoder weights and mel statistics from a checkpoint (e.g. the average-voice stage, or an exported
        voice such as the bundled demo voice): the ``model.*`` weights, not the EMA copy."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"pretrained encoder checkpoint not found: {path} (train it first with "
                                    "experiment=avg_voice_pretrain)")
        state = load_checkpoint(path).weights(use_ema=False)
        enc = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
        if not enc:
            raise ValueError(f"{path} holds no encoder weights")
        self.model.encoder.load_state_dict(enc)
        self.model.set_mel_statistics(state["mel_mean"], state["mel_std"])
        self._stats_from_pretrained = True

    def train(self, mode: bool = True):
        super().train(mode)
        if getattr(self, "frozen_encoder", False):
            self.model.encoder.eval()  # frozen: no dropout, BatchNorm statistics fixed
        return self

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if stage == "fit" and dm is not None and not getattr(self, "_stats_from_pretrained", False):
            self.model.set_mel_statistics(*dm.mel_stats)

    def on_fit_start(self) -> None:
        if self.trainer.is_global_zero:
            counts = self.model.parameter_counts()
            d = self.cfg["diffusion"]
            print(f"levytts train: stage={self.stage} encoder={self.cfg['model']['encoder']['kind']} "
                  f"params: " + ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in counts.items()))
            print(f"levytts train: diffusion alpha={d['alpha']} schedule={d['schedule']} "
                  f"loss={d['loss']} prediction={d['prediction']} noise structure={d['structure']} "
                  f"truncation a_max={d['a_max']} prior_mean={d['prior_mean']} "
                  f"mel mean/std={float(self.model.mel_mean):.3f}/{float(self.model.mel_std):.3f}")
            if self.logger is not None:
                self.logger.log_hyperparams({"alpha": d["alpha"], "structure": d["structure"],
                                             "a_max": str(d["a_max"]), "stage": self.stage,
                                             **{f"params_{k}": v for k, v in counts.items()}})

    # ---------------------------------------------------------------------------------------------
    def _step_seed(self) -> int:
        return (self.seed * 1_000_003 + self.global_step * 7919 + self.global_rank) % (2**63 - 1)

    def training_step(self, batch, batch_idx):
        if self.frozen_encoder and self.model.encoder.training:
            self.model.encoder.eval()  # Lightning may restore modes module by module; keep BatchNorm fixed
        torch.manual_seed(self._step_seed())
        losses = self.model.compute_loss(batch, self.stage)
        bs = batch["ids"].shape[0]
        loss = self.checked_loss(losses["loss"], bs, self.model.parameters())  # None: a skipped step
        if loss is losses["loss"]:  # not skipped
            for k, v in losses.items():
                self.log(f"train/{k}", v.detach(), prog_bar=k == "loss", batch_size=bs)
        return loss

    def on_train_batch_start(self, batch, batch_idx) -> None:
        # a pure function of global_step (no scheduler state), so exact resume and a schedule added on resume agree
        lr = lr_at_step(float(self.cfg["train"]["lr"]), self.cfg["train"]["lr_decay"], self.global_step)
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr
        self.log("train/lr", lr)

    def configure_optimizers(self):
        params = [p for p in self.model.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=float(self.cfg["train"]["lr"]))

    # ---------------------------------------------------------------------------------------------
    def synthesis_model(self) -> LevyTTS:
        return self.ema.module if self.ema is not None else self.model

    def validation_step(self, batch, batch_idx):
        g = torch.get_rng_state()
        torch.manual_seed(self.seed + batch_idx)  # same t, ε for every validation → comparable numbers
        losses = self.synthesis_model().compute_loss(batch, self.stage)
        torch.set_rng_state(g)
        for k, v in losses.items():
            self.log(f"val/{k}", v, batch_size=batch["ids"].shape[0], sync_dist=True)
        if batch_idx == 0 and self.trainer.is_global_zero:
            self._log_examples(batch)

    def _log_examples(self, batch) -> None:
        tcfg = self.cfg["train"]
        n = min(int(tcfg["n_val_audio"]), batch["ids"].shape[0])
        if n == 0 or self.logger is None or not hasattr(self.logger, "experiment"):
            return
        from levytts.tts.plots import mel_figure

        model = self.synthesis_model()
        gen = torch.Generator(device=self.device).manual_seed(self.seed)
        kw = dict(steps=int(tcfg["val_steps"]), generator=gen)
        if self.stage == "encoder":
            kw["steps"] = 1
        out = model.synthesise(batch["ids"][:n], batch["id_lengths"][:n], batch["spk"][:n], **kw)
        tb = self.logger.experiment
        for i in range(n):
            T = int(out["mel_lengths"][i])
            Tr = int(batch["mel_lengths"][i])
            target = batch["mels"][i, :, :Tr].cpu()
            fig = mel_figure([("target", target), ("encoder μ", out["mu"][i, :, :T].cpu()),
                              ("generated", out["mel"][i, :, :T].cpu())])
            tb.add_figure(f"val/mel_{i}", fig, self.global_step)
            voc = self._vocoder()
            if voc is not None:
                audio = voc(out["mel"][i: i + 1, :, :T]).cpu()
                tb.add_audio(f"val/audio_{i}", audio, self.global_step, sample_rate=voc.sample_rate)

    def _vocoder(self):
        spec = self.cfg["train"]["val_vocoder"]
        if not spec:
            return None
        if not hasattr(self, "_voc"):
            from levytts.vocoder import load_vocoder

            self._voc = load_vocoder(spec, self.cfg["data"])
        return self._voc

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["levytts"] = {"format": 1, "skipped_steps": int(self.skipped_steps),
                                 "global_step": self.global_step}
