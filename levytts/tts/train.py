"""`levytts train [overrides...]` — train the TTS model with Lightning, configured by hydra.

    levytts train experiment=offline_tiny                      # hydra overrides, as in Matcha-TTS
    levytts train experiment=avg_voice_pretrain trainer.max_steps=2000
    levytts train --cfg                                         # print the composed config and exit
    python -m levytts train experiment=offline_tiny                  # the same: the one entry point

Config groups under configs/tts/: data/ model/ diffusion/ trainer/ experiment/ (configs/tts/train.yaml is the root).
Outputs in ``run_dir``: checkpoints/ (every ``train.checkpoint_every`` steps, written atomically, plus
last.ckpt), tb/ (TensorBoard: losses, skipped steps, grad norm, mel images and audio at validation),
config.yaml, symbols.json, speakers.txt. ``resume: auto`` continues from run_dir/checkpoints/last.ckpt.
This module composes and checks the config (:func:`compose_config`) and trains (:func:`run`); the command line
(options, ``--cfg``) is in :mod:`levytts.tts.cli`.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from levytts.config import RENAMED, check_keys, check_trainer_keys, check_values, compose

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "tts"


# The keys `levytts train` reads without a fallback, per config node ("" is the top level). compose_config checks
# them before anything else runs: a key missing here (deleted from a yaml, or `~diffusion.alpha`) is an error
# naming it, never a silent default (e.g. alpha 2.0, the Gaussian model). In the CLOSED nodes every other key is
# an error too (a misspelt key in a yaml or a `+diffusion.alhpa=...` override); misspelt plain overrides
# (`diffusion.alhpa=1.5`) already fail in hydra's struct mode. Other nodes (data, model.*) take extra keys.
REQUIRED = {
    "": ("name", "run_dir", "seed", "stage", "resume", "data", "model", "diffusion", "trainer", "train"),
    "train": ("batch_size", "lr", "lr_decay", "grad_clip", "ema_decay", "segment_seconds", "num_workers", "num_threads",
              "checkpoint_every", "val_every", "n_val_utts", "n_val_audio", "val_steps", "val_vocoder", "stats_items"),
    "diffusion": ("alpha", "schedule", "beta_min", "beta_max", "prediction", "sigma_data", "loss", "structure",
                  "a_max", "mom_groups", "prior_mean", "cond_dropout",
                  "t_sampling", "t_lognormal", "t_uniform_fraction"),
    "model": ("encoder", "decoder", "spk_emb_dim", "durations"),
    "model.encoder": ("kind",),
    "data": ("train_filelist_path", "valid_filelist_path", "speakers_file", "textgrid_dir", "add_blank",
             "sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "f_min", "f_max", "data_statistics"),
}
CLOSED = ("", "train", "diffusion", "model")
# Values checked when the config is composed (levytts.config.check_values): a bad one fails before any work, naming
# its key (a negative batch size would otherwise train nothing and exit 0; alpha=abc would fail deep in the model).
VALUE_RULES = {
    "stage": {"choices": ("joint", "encoder", "decoder")},
    "seed": {"integer": True, "low": 0, "high": 2**32 - 1},
    "train.batch_size": {"integer": True, "low": 1},
    "train.lr": {"low": 0, "low_open": True},
    "train.grad_clip": {"low": 0, "nullable": True},
    "train.ema_decay": {"low": 0, "high": 1, "high_open": True, "nullable": True},
    "train.segment_seconds": {"low": 0, "low_open": True, "nullable": True},
    "train.num_workers": {"integer": True, "low": 0},
    "train.num_threads": {"integer": True, "low": 1, "nullable": True},
    "train.checkpoint_every": {"integer": True, "low": 1},
    "train.val_every": {"integer": True, "low": 1, "nullable": True},
    "train.n_val_utts": {"integer": True, "low": 0},
    "train.n_val_audio": {"integer": True, "low": 0},
    "train.val_steps": {"integer": True, "low": 1},
    "train.stats_items": {"integer": True, "low": 1},
    "trainer.max_steps": {"integer": True, "low": -1},
    "diffusion.alpha": {"low": 0.5, "high": 2},
    "diffusion.schedule": {"choices": ("linear", "cosine")},
    "diffusion.beta_min": {"low": 0, "low_open": True},
    "diffusion.beta_max": {"low": 0, "low_open": True},
    "diffusion.prediction": {"choices": ("eps", "x0", "edm")},
    "diffusion.prior_mean": {"choices": ("zero", "mu")},
    "diffusion.cond_dropout": {"low": 0, "high": 1, "high_open": True},
    "diffusion.t_sampling": {"choices": ("uniform", "edm")},
    "diffusion.t_uniform_fraction": {"low": 0, "high": 1},
    "diffusion.structure": {"choices": ("isotropic", "per_frame", "independent")},
    "diffusion.a_max": {"low": 0, "low_open": True, "nullable": True},
}


def check_config(cfg) -> None:
    """ValueError (one line) when the composed (unresolved) config lacks a :data:`REQUIRED` key or has an unknown
    key in a :data:`CLOSED` node; the message names the key and lists the valid keys of its node."""
    check_keys(cfg, REQUIRED, CLOSED)


def lr_at_step(lr: float, decay: dict | None, step: int) -> float:
    """Learning rate at optimiser step ``step``: ``lr`` when ``decay`` is None; otherwise ``lr`` until
    ``decay["start"]``, a half-cosine down to ``decay["final"]`` at ``decay["end"]``, and ``final`` after.

    Raises ValueError (one line) for a malformed ``decay`` (missing/unknown key, end ≤ start, final < 0)."""
    if decay is None:
        return lr
    if not isinstance(decay, dict) or set(decay) != {"start", "end", "final"}:
        raise ValueError(f"train.lr_decay must be null or {{start: S, end: E, final: LR}}, got {decay!r}")
    start, end, final = int(decay["start"]), int(decay["end"]), float(decay["final"])
    if end <= start or start < 0 or final < 0:
        raise ValueError(f"train.lr_decay needs 0 <= start < end and final >= 0, got {decay!r}")
    if step <= start:
        return lr
    if step >= end:
        return final
    frac = (step - start) / (end - start)
    return final + 0.5 * (lr - final) * (1.0 + math.cos(math.pi * frac))


def compose_config(overrides: list[str], config_dir: str | Path | None = None) -> dict:
    """Compose configs/tts/train.yaml with hydra overrides; returns a resolved plain dict.

    Every error is a ValueError with a one-line message (`levytts train: error: ...`): an unknown config group
    or option names the valid ones; a misspelt key (hydra's struct mode: ``Key 'alhpa' is not in struct``) or
    a missing required key (:func:`check_config`) names the key and the valid keys of its node."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    config_dir = Path(config_dir or os.environ.get("LEVYTTS_CONFIG_DIR", CONFIG_DIR)).resolve()
    if not (config_dir / "train.yaml").is_file():
        raise FileNotFoundError(f"no train.yaml in {config_dir}; run from a levytts checkout or set LEVYTTS_CONFIG_DIR")
    cfg = compose(config_dir, "train", overrides, renamed=RENAMED)
    check_config(cfg)
    try:
        plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as err:  # e.g. an interpolation to a missing key, a `???` value
        key = getattr(err, "full_key", "?")
        raise ValueError(f"bad config: {str(err).splitlines()[0]} (full key: {key})") from None
    check_values(plain, VALUE_RULES)
    resume = plain["resume"]
    if resume is not None and resume != "auto" and not isinstance(resume, str):
        raise ValueError(f"resume must be auto, null or a checkpoint path, got {resume!r}")
    lr_at_step(float(plain["train"]["lr"]), plain["train"]["lr_decay"], 0)  # a malformed lr_decay fails here, not mid-run
    return plain



def make_datamodule(cfg: dict):
    import lightning as L

    from levytts.data import read_filelist, read_speakers
    from levytts.text import SymbolTable
    from levytts.tts.data import TTSDataset, make_loader

    data = dict(cfg["data"])
    if cfg["stage"] == "encoder" and data.get("pretrain_train_filelist_path"):  # optional keys: .get
        # the average-voice encoder has its own (multi-speaker) pre-training lists when the data config gives them
        data["train_filelist_path"] = data["pretrain_train_filelist_path"]
        data["valid_filelist_path"] = data.get("pretrain_valid_filelist_path")

    class TTSDataModule(L.LightningDataModule):
        def __init__(self):
            super().__init__()
            for key in ("train_filelist_path", "speakers_file"):
                if not Path(data[key]).is_file():
                    raise FileNotFoundError(f"{key} not found: {data[key]} — build the corpus first (see docs/speech_data.md, "
                                            "e.g. `levytts data offline-corpus`) or override data.data_dir=...")
            sym = data.get("symbols_file")
            self.symbols = SymbolTable.load(sym) if sym and Path(sym).is_file() else SymbolTable.default()
            self.speakers = read_speakers(data["speakers_file"])
            tg = data["textgrid_dir"] if cfg["model"]["durations"] == "textgrid" or cfg["stage"] != "joint" \
                else None
            self.train_set = TTSDataset(read_filelist(data["train_filelist_path"]), self.symbols, self.speakers, data,
                                        tg, bool(data["add_blank"]))
            val = data["valid_filelist_path"]
            self.val_set = None
            if val and Path(val).is_file() and cfg["train"]["val_every"]:
                utts = read_filelist(val)[: int(cfg["train"]["n_val_utts"])]
                self.val_set = TTSDataset(utts, self.symbols, self.speakers, data, tg, bool(data["add_blank"]))
            stats = data["data_statistics"]
            if stats:
                self.mel_stats = (float(stats["mel_mean"]), float(stats["mel_std"]))
            else:
                self.mel_stats = self.train_set.mel_statistics(int(cfg["train"]["stats_items"]))

        @property
        def add_blank(self) -> bool:
            return self.train_set.add_blank

        def train_dataloader(self):
            t = self.trainer
            # called after a checkpoint's training state is restored: continue from the batches already trained.
            # `processed`, not `completed`: the periodic checkpoints are written in on_train_batch_end, before
            # Lightning counts the batch completed (it adds it on restart, after this loader is built), so
            # `completed` would replay one batch after resuming from any checkpoint but the end-of-fit one.
            done = t.fit_loop.epoch_loop.batch_progress.total.processed
            return make_loader(self.train_set, int(cfg["train"]["batch_size"]), int(cfg["seed"]), True,
                               int(cfg["train"]["num_workers"]), t.global_rank, t.world_size, int(done))

        def val_dataloader(self):
            if self.val_set is None:
                return []
            return make_loader(self.val_set, int(cfg["train"]["batch_size"]), 0, False)

    return TTSDataModule()


def speaker_minutes(utts) -> dict[str, float]:
    """Minutes of training speech per speaker (from the wav headers), most minutes first.

    Stored with the checkpoint (``hyper_parameters["speaker_minutes"]``): the speakers this model's
    decoder was trained on, for `levytts synth --list-speakers`.
    """
    import soundfile as sf

    minutes: dict[str, float] = {}
    for u in utts:
        minutes[u.speaker] = minutes.get(u.speaker, 0.0) + sf.info(u.wav_path).duration / 60.0
    return {k: round(v, 2) for k, v in sorted(minutes.items(), key=lambda kv: -kv[1])}


def run(cfg: dict) -> Path:
    """Train from a composed config; returns the path of the last checkpoint."""

    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger
    from lightning.pytorch.utilities import rank_zero_only
    from omegaconf import OmegaConf

    from levytts.audio.io import atomic_write
    from levytts.lightning_base import atomic_checkpoint_io, resume_checkpoint
    from levytts.tts.lightning import TTSLightning

    run_dir = Path(cfg["run_dir"])
    # a misspelt trainer key (in a yaml or a +trainer.x override) fails before any work
    check_trainer_keys(cfg["trainer"], own={"default_root_dir", "logger", "callbacks", "gradient_clip_val", "plugins",
                                            "val_check_interval", "check_val_every_n_epoch", "limit_val_batches",
                                            "num_sanity_val_steps", "use_distributed_sampler"})
    ckpt_path = resume_checkpoint(cfg["resume"], run_dir)  # a missing resume checkpoint fails before any work
    if cfg["train"]["num_threads"]:
        # on a shared CPU, 1 thread avoids OpenMP spin contention (4× faster measured under load)
        torch.set_num_threads(int(cfg["train"]["num_threads"]))
    L.seed_everything(int(cfg["seed"]), workers=True, verbose=False)  # same initial weights in every run
    dm = make_datamodule(cfg)
    module = TTSLightning(cfg, dm.symbols.to_dict(), dm.speakers, dm.add_blank, speaker_minutes(dm.train_set.utts))
    # DDP: Lightning starts ranks 1.. by re-running this command with LOCAL_RANK/RANK set (or torchrun/SLURM set
    # them), so rank_zero_only.rank is known here; only rank 0 writes run files and prints (no duplicate lines)
    is_zero = rank_zero_only.rank == 0
    say = rank_zero_only(print)
    run_dir.mkdir(parents=True, exist_ok=True)
    # a crash (kill, OOM) mid-write leaves only atomic_write's hidden temp file (.NAME.ckpt.XXXXXX.tmp): never
    # loaded (resume reads last.ckpt, replaced in one os.replace), and removed here so it does not pile up
    if is_zero:
        for stale in (run_dir / "checkpoints").glob(".*.ckpt.*"):
            stale.unlink(missing_ok=True)
        with atomic_write(run_dir / "config.yaml") as tmp:
            tmp.write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
        dm.symbols.save(run_dir / "symbols.json")
    tcfg, trainer_cfg = cfg["train"], dict(cfg["trainer"])
    ckpt_cb = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="step{step:07d}", auto_insert_metric_name=False,
                              every_n_train_steps=int(tcfg["checkpoint_every"]), save_top_k=-1, save_last=True,
                              enable_version_counter=False)  # after a crash, re-trained steps replace their files
    trainer = L.Trainer(
        default_root_dir=str(run_dir), logger=TensorBoardLogger(str(run_dir), name="tb", version=""),
        callbacks=[ckpt_cb], gradient_clip_val=tcfg["grad_clip"], plugins=[atomic_checkpoint_io()],
        val_check_interval=int(tcfg["val_every"]) if dm.val_set is not None else None,
        check_val_every_n_epoch=None, limit_val_batches=1 if dm.val_set is not None else 0,
        num_sanity_val_steps=0, use_distributed_sampler=False, **trainer_cfg)
    if ckpt_path:
        say(f"levytts train: resuming from {ckpt_path}")
        import warnings

        # mid-epoch resume is exact here (ResumableBatchSampler is positioned by train_dataloader): not Lightning's
        # "dataloader is not resumable ... unreliable results" case
        warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch")
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    last = run_dir / "checkpoints" / "last.ckpt"
    trainer.save_checkpoint(last)
    say(f"levytts train: done at step {trainer.global_step}; skipped non-finite steps: {int(module.skipped_steps)}; "
          f"checkpoint {last}")
    return last
