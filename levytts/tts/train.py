"""`levytts train [overrides...]` — train the TTS model with Lightning, configured by hydra.

    levytts train experiment=offline_tiny                      # hydra overrides, as in Matcha-TTS
    levytts train experiment=avg_voice_pretrain trainer.max_steps=2000
    levytts train --cfg                                         # print the composed config and exit
    python -m levytts.tts.train experiment=offline_tiny

Config groups under configs/: data/ model/ diffusion/ trainer/ experiment/ (configs/train.yaml is the root).
Outputs in ``run_dir``: checkpoints/ (every ``train.checkpoint_every`` steps, written atomically, plus
last.ckpt), tb/ (TensorBoard: losses, skipped steps, grad norm, mel images and audio at validation),
config.yaml, symbols.json, speakers.txt. ``resume: auto`` continues from run_dir/checkpoints/last.ckpt.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def compose_config(overrides: list[str], config_dir: str | Path | None = None) -> dict:
    """Compose configs/train.yaml with hydra overrides; returns a resolved plain dict."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    config_dir = Path(config_dir or os.environ.get("LEVYTTS_CONFIG_DIR", CONFIG_DIR)).resolve()
    if not (config_dir / "train.yaml").is_file():
        raise FileNotFoundError(f"no train.yaml in {config_dir}; run from a levytts checkout or set LEVYTTS_CONFIG_DIR")
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            cfg = compose(config_name="train", overrides=list(overrides))
        return OmegaConf.to_container(cfg, resolve=True)
    except HydraException as err:
        groups = {g.name: sorted(f.stem for f in g.glob("*.yaml")) for g in config_dir.iterdir() if g.is_dir()}
        choices = "; ".join(f"{g}: {', '.join(v)}" for g, v in sorted(groups.items()))
        raise ValueError(f"bad config override: {str(err).splitlines()[0]} (config groups — {choices})") from err


class _AtomicCheckpointIO:
    """Factory for a Lightning CheckpointIO that writes through levytts.audio.io.atomic_write."""

    @staticmethod
    def make():
        from lightning.pytorch.plugins.io import TorchCheckpointIO

        from levytts.audio.io import atomic_write

        class AtomicTorchCheckpointIO(TorchCheckpointIO):
            def save_checkpoint(self, checkpoint, path, storage_options=None):
                with atomic_write(path) as tmp:
                    torch.save(checkpoint, tmp)

        return AtomicTorchCheckpointIO()


def make_datamodule(cfg: dict):
    import lightning as L

    from levytts.data import read_filelist, read_speakers
    from levytts.text import SymbolTable
    from levytts.tts.data import TTSDataset, make_loader

    data = dict(cfg["data"])
    if cfg.get("stage") == "encoder" and data.get("pretrain_train_filelist_path"):
        # the average-voice encoder has its own (multi-speaker) pre-training lists when the data config gives them
        data["train_filelist_path"] = data["pretrain_train_filelist_path"]
        data["valid_filelist_path"] = data.get("pretrain_valid_filelist_path")

    class TTSDataModule(L.LightningDataModule):
        def __init__(self):
            super().__init__()
            for key in ("train_filelist_path", "speakers_file"):
                if not Path(data[key]).is_file():
                    raise FileNotFoundError(f"{key} not found: {data[key]} — build the corpus first (see docs/speech_data.md, "
                                            "e.g. tools/make_offline_corpus.py) or override data.data_dir=...")
            sym = data.get("symbols_file")
            self.symbols = SymbolTable.load(sym) if sym and Path(sym).is_file() else SymbolTable.default()
            self.speakers = read_speakers(data["speakers_file"])
            tg = data.get("textgrid_dir") if cfg["model"].get("durations") == "textgrid" or cfg.get("stage") != "joint" \
                else None
            self.train_set = TTSDataset(read_filelist(data["train_filelist_path"]), self.symbols, self.speakers, data,
                                        tg, bool(data.get("add_blank", True)))
            val = data.get("valid_filelist_path")
            self.val_set = None
            if val and Path(val).is_file() and cfg["train"].get("val_every"):
                utts = read_filelist(val)[: int(cfg["train"].get("n_val_utts", 8))]
                self.val_set = TTSDataset(utts, self.symbols, self.speakers, data, tg, bool(data.get("add_blank", True)))
            stats = data.get("data_statistics")
            if stats:
                self.mel_stats = (float(stats["mel_mean"]), float(stats["mel_std"]))
            else:
                self.mel_stats = self.train_set.mel_statistics(int(cfg["train"].get("stats_items", 200)))

        @property
        def add_blank(self) -> bool:
            return self.train_set.add_blank

        def train_dataloader(self):
            t = self.trainer
            # called after a checkpoint's training state is restored: continue from the batches already seen
            done = t.fit_loop.epoch_loop.batch_progress.total.completed
            return make_loader(self.train_set, int(cfg["train"]["batch_size"]), int(cfg["seed"]), True,
                               int(cfg["train"].get("num_workers", 0)), t.global_rank, t.world_size, int(done))

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
    from omegaconf import OmegaConf

    from levytts.audio.io import atomic_write
    from levytts.tts.lightning import TTSLightning

    run_dir = Path(cfg["run_dir"])
    if cfg["train"].get("num_threads"):
        # on a shared CPU, 1 thread avoids OpenMP spin contention (4× faster measured under load)
        torch.set_num_threads(int(cfg["train"]["num_threads"]))
    L.seed_everything(int(cfg["seed"]), workers=True, verbose=False)  # same initial weights in every run
    dm = make_datamodule(cfg)
    module = TTSLightning(cfg, dm.symbols.to_dict(), dm.speakers, dm.add_blank, speaker_minutes(dm.train_set.utts))
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(run_dir / "config.yaml") as tmp:
        tmp.write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
    dm.symbols.save(run_dir / "symbols.json")
    tcfg, trainer_cfg = cfg["train"], dict(cfg["trainer"])
    ckpt_cb = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="step{step:07d}", auto_insert_metric_name=False,
                              every_n_train_steps=int(tcfg["checkpoint_every"]), save_top_k=-1, save_last=True)
    trainer = L.Trainer(
        default_root_dir=str(run_dir), logger=TensorBoardLogger(str(run_dir), name="tb", version=""),
        callbacks=[ckpt_cb], gradient_clip_val=tcfg.get("grad_clip"), plugins=[_AtomicCheckpointIO.make()],
        val_check_interval=int(tcfg["val_every"]) if dm.val_set is not None else None,
        check_val_every_n_epoch=None, limit_val_batches=1 if dm.val_set is not None else 0,
        num_sanity_val_steps=0, use_distributed_sampler=False, **trainer_cfg)
    resume = cfg.get("resume", "auto")
    ckpt_path = None
    if resume == "auto":
        last = run_dir / "checkpoints" / "last.ckpt"
        ckpt_path = str(last) if last.is_file() else None
    elif resume:
        if not Path(resume).is_file():
            raise FileNotFoundError(f"resume checkpoint not found: {resume}")
        ckpt_path = str(resume)
    if ckpt_path:
        print(f"levytts train: resuming from {ckpt_path}")
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    last = run_dir / "checkpoints" / "last.ckpt"
    trainer.save_checkpoint(last)
    print(f"levytts train: done at step {trainer.global_step}; skipped non-finite steps: {int(module.skipped_steps)}; "
          f"checkpoint {last}")
    return last


def add_arguments(parser) -> None:
    parser.add_argument("overrides", nargs="*", help="hydra overrides, e.g. experiment=offline_tiny trainer.max_steps=300")
    parser.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    parser.add_argument("--config-dir", default=None, help="config root (default: the checkout's configs/)")


def main(args) -> int:
    cfg = compose_config(args.overrides, args.config_dir)
    if args.cfg:
        from omegaconf import OmegaConf

        print(OmegaConf.to_yaml(OmegaConf.create(cfg)))
        return 0
    run(cfg)
    return 0


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(prog="python -m levytts.tts.train")
    add_arguments(p)
    sys.exit(main(p.parse_args()))
