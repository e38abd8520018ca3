"""``levytts image ACTION [hydra overrides]`` — the image recipes' stages.

Actions (each reads the hydra config tree in ``--config-dir``, default the checkout's ``configs/image``):

- ``prepare``     read the dataset (CIFAR-10 archive / Fashion-MNIST IDX), make the long-tail subset,
                  write ``${exp_dir}/data/{train,train_full,test}.npz``
- ``classifier``  train the small feature classifier on the full real training set (``classifier.pt``)
- ``train``       train the diffusion model with Lightning (``${run_dir}/model.ckpt``)
- ``sample``      run the sampler grid, write ``${run_dir}/samples/*.npz`` and PNG grids
- ``evaluate``    FD / PRDC / per-class coverage in classifier features (+ FID if ``eval.inception_weights``)
- ``report``      markdown tables (Popov Tables 1, 2, 4 shape) over ``report.runs``
- ``make-fixture`` write a tiny dataset in the real on-disk format (``--kind cifar10|fashion_mnist --out DIR``)

Example: ``levytts image train experiment=fashion_mnist_lt diffusion.alpha=1.8``.

The config uses the key names of the TTS config (``configs/tts/train.yaml``): ``trainer`` holds Lightning Trainer
arguments, ``train`` our hyper-parameters (batch_size, lr, ema_decay, grad_clip, num_threads, ...), α is
``diffusion.alpha``, ``seed`` / ``run_dir`` / ``resume`` are top-level keys. :func:`load_config` turns every bad
override or key (also the pre-rename names: ``alpha``, ``trainer.ema_decay``, ...) into a one-line ValueError.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import time
from pathlib import Path

import numpy as np

from levytts.audio.io import atomic_write
from levytts.config import check_keys, check_trainer_keys, compose

ACTIONS = ("prepare", "classifier", "train", "sample", "evaluate", "report", "make-fixture")
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "image"   # the checkout's image config root


class _IntermixedParser(argparse.ArgumentParser):
    """An action's parser: options may come before, between or after the hydra overrides
    (``train --config-dir D experiment=x diffusion.alpha=1.8`` and ``train experiment=x --config-dir D diffusion.alpha=1.8``
    alike)."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inside:  # parse_known_intermixed_args calls back here: the plain parse
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def add_arguments(parser) -> None:
    # --config-dir may also come before the action; each action's copy defaults to "not given" so it keeps that
    parser.add_argument("--config-dir", default=str(CONFIG_DIR),
                        help="hydra config tree (default: the checkout's configs/image)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_IntermixedParser)
    stages = {"prepare": (prepare, "read the dataset, make the long-tail subset, write data/*.npz"),
              "classifier": (classifier, "train the feature classifier on the full real training set"),
              "train": (train, "train the diffusion model (run_dir/model.ckpt)"),
              "sample": (sample_grid, "run the sampler grid (samples/*.npz and PNG grids)"),
              "evaluate": (evaluate, "FD / PRDC / per-class coverage in classifier features (+ FID)"),
              "report": (report, "markdown tables over report.runs")}
    for name, (stage, help_text) in stages.items():
        p = sub.add_parser(name, help=help_text)
        p.add_argument("overrides", nargs="*", help="hydra overrides, e.g. experiment=fashion_mnist_lt diffusion.alpha=1.8")
        p.add_argument("--config-dir", default=argparse.SUPPRESS,
                       help="hydra config tree (default: the checkout's configs/image)")
        p.set_defaults(func=functools.partial(run_stage, stage))
    f = sub.add_parser("make-fixture", help="write a tiny dataset in the real on-disk format")
    f.add_argument("--kind", required=True, choices=("cifar10", "fashion_mnist"), help="format to write")
    f.add_argument("--out", required=True, help="output folder")
    f.set_defaults(func=make_fixture)


# The image config before it took the TTS config's key names: old key → new key (named in the error message).
RENAMED = {
    "alpha": "diffusion.alpha", "num_threads": "train.num_threads",
    "data.batch_size": "train.batch_size", "data.num_workers": "train.num_workers",
    "trainer.grad_clip": "train.grad_clip", "trainer.ema_decay": "train.ema_decay",
    "trainer.label_dropout": "train.label_dropout", "trainer.val_every": "train.val_every",
    "trainer.val_images": "train.n_val_images", "trainer.checkpoint_every": "train.checkpoint_every",
    "trainer.log_every": "trainer.log_every_n_steps", "trainer.progress_bar": "trainer.enable_progress_bar",
    "trainer.resume": "resume (auto | null | a checkpoint path)",
    "trainer.optim": "train.lr, train.warmup_steps, train.betas, train.weight_decay",
    "trainer.optim.lr": "train.lr", "trainer.optim.warmup_steps": "train.warmup_steps",
    "trainer.optim.betas": "train.betas", "trainer.optim.weight_decay": "train.weight_decay",
}
# Closed nodes: every key they hold is listed here; any other key (a misspelt or pre-rename key in a yaml, or a
# `+key=...` override) is an error naming the valid keys. Misspelt plain overrides already fail in hydra's struct
# mode. The `trainer` node is checked against lightning.Trainer's arguments when training starts (:func:`train`).
CLOSED = {
    "": ("data", "model", "diffusion", "trainer", "sampler", "eval", "seed", "device", "exp_dir", "run_name",
         "run_dir", "resume", "train", "classifier", "report"),
    "train": ("batch_size", "lr", "warmup_steps", "betas", "weight_decay", "grad_clip", "ema_decay", "label_dropout",
              "num_workers", "num_threads", "checkpoint_every", "val_every", "n_val_images"),
}


def check_config(cfg) -> None:
    """ValueError (one line) for an unknown key in a :data:`CLOSED` node or a pre-rename key (:data:`RENAMED`)
    anywhere: the message names the key, its new name and the valid keys of its node."""
    check_keys(cfg, CLOSED, closed=CLOSED, renamed=RENAMED)


def load_config(config_dir: str | Path = CONFIG_DIR, overrides=()):
    """Compose the hydra config ``config.yaml`` of ``config_dir`` with ``overrides`` (resolved DictConfig).

    Every error is a ValueError with a one-line message (``levytts image ACTION: error: ...``): an unknown config
    group or option names the valid ones; an unknown key (hydra's struct mode, e.g. the pre-rename ``alpha=1.8``)
    names its new name (:data:`RENAMED`) and the valid keys of its node; see also :func:`check_config`."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    config_dir = Path(config_dir).resolve()
    if not (config_dir / "config.yaml").is_file():
        raise FileNotFoundError(f"{config_dir}/config.yaml not found: pass --config-dir path/to/configs/image")
    cfg = compose(config_dir, "config", overrides, renamed=RENAMED)
    check_config(cfg)
    try:
        OmegaConf.resolve(cfg)
    except OmegaConfBaseException as err:  # e.g. an interpolation to a missing key
        raise ValueError(f"bad config: {str(err).splitlines()[0]} (full key: {getattr(err, 'full_key', '?')})") from None
    return cfg


def _log(msg: str) -> None:
    print(f"[levytts image] {msg}", flush=True)


def _device(cfg) -> str:
    import torch

    want = cfg.get("device", "auto")
    if want == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return want


def _write_json(path: Path, obj) -> None:
    with atomic_write(path, suffix=".tmp") as tmp:  # a killed write leaves .NAME.XXXX.tmp, never *.json
        tmp.write_text(json.dumps(obj, indent=1, default=float))


# ---------------------------------------------------------------------------------------------
def prepare(cfg) -> None:
    from levytts.image.data import class_names, long_tail_indices, read_dataset, resize_uint8, save_npz

    d = cfg.data
    out = Path(cfg.exp_dir) / "data"
    x, y = read_dataset(d.dataset, d.root, "train")
    xt, yt = read_dataset(d.dataset, d.root, "test")
    x, xt = resize_uint8(x, d.resolution), resize_uint8(xt, d.resolution)
    names = np.array(class_names(d.dataset))
    full = np.arange(len(y))
    if d.get("max_full") and d.max_full < len(y):
        full = np.sort(np.random.default_rng(d.lt_seed).choice(len(y), d.max_full, replace=False))
    save_npz(out / "train_full.npz", images=x[full], labels=y[full], class_names=names)
    idx = long_tail_indices(y, d.lt_counts, d.lt_seed) if d.long_tail else np.arange(len(y))
    save_npz(out / "train.npz", images=x[idx], labels=y[idx], class_names=names)
    nt = min(len(yt), d.get("max_test") or len(yt))
    save_npz(out / "test.npz", images=xt[:nt], labels=yt[:nt], class_names=names)
    counts = np.bincount(y[idx], minlength=d.num_classes).tolist()
    _log(f"prepared {d.name}: train {len(idx)} images (per class {counts}), train_full {len(full)}, test {nt} → {out}")


def classifier(cfg) -> None:
    import torch

    from levytts.image.classifier import predict, train_classifier
    from levytts.image.data import load_npz

    c, dev = cfg.classifier, _device(cfg)
    data_dir = Path(cfg.exp_dir) / "data"
    tr, te = load_npz(data_dir / "train_full.npz"), load_npz(data_dir / "test.npz")
    t0 = time.time()
    model = train_classifier(tr["images"], tr["labels"], cfg.data.num_classes, epochs=c.epochs, batch_size=c.batch_size,
                             lr=c.lr, seed=cfg.seed, device=dev, log=_log)
    _, pred = predict(model, te["images"], device=dev)
    acc = float((pred == te["labels"]).mean())
    path = Path(cfg.exp_dir) / "classifier.pt"
    with atomic_write(path, suffix=".tmp") as tmp:  # torch.save takes any name; a leftover never matches *.pt
        torch.save({"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                    "in_channels": model.in_channels, "num_classes": cfg.data.num_classes}, tmp)
    _write_json(Path(cfg.exp_dir) / "classifier.json", {"test_accuracy": acc, "seconds": time.time() - t0,
                                                        "train_images": int(len(tr["labels"]))})
    _log(f"classifier test accuracy {acc:.4f} ({time.time() - t0:.0f} s) → {path}")


def load_classifier(path: Path, device="cpu"):
    import torch

    from levytts.image.classifier import SmallClassifier

    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the classifier stage first")
    ck = torch.load(path, map_location="cpu", weights_only=True)
    model = SmallClassifier(ck["in_channels"], ck["num_classes"])
    model.load_state_dict(ck["state_dict"])
    return model.to(device).eval()


def train(cfg) -> None:

    import lightning as L
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger
    from omegaconf import OmegaConf

    from levytts.image.data import ImageArrayDataset, load_npz
    from levytts.image.module import ImageDiffusion
    from levytts.lightning_base import atomic_checkpoint_io

    run_dir = Path(cfg.run_dir)
    ckpt_path = resume_checkpoint(cfg.resume, run_dir)  # a missing resume path fails before any work
    trainer_args = OmegaConf.to_container(cfg.trainer, resolve=True)
    # a misspelt or pre-rename trainer key (in a yaml or a +trainer.x override) fails before any work
    check_trainer_keys(trainer_args, own={"devices", "default_root_dir", "logger", "callbacks", "gradient_clip_val",
                                          "plugins", "val_check_interval", "check_val_every_n_epoch",
                                          "limit_val_batches", "num_sanity_val_steps"}, renamed=RENAMED)
    L.seed_everything(cfg.seed, workers=True)
    t = cfg.train
    data_dir = Path(cfg.exp_dir) / "data"
    tr, te = load_npz(data_dir / "train.npz"), load_npz(data_dir / "test.npz")
    n_val = min(len(te["labels"]), int(t.n_val_images))
    train_dl = torch.utils.data.DataLoader(ImageArrayDataset(tr["images"], tr["labels"], hflip=cfg.data.hflip),
                                           batch_size=t.batch_size, shuffle=True, drop_last=True,
                                           num_workers=t.num_workers)
    val_dl = torch.utils.data.DataLoader(ImageArrayDataset(te["images"][:n_val], te["labels"][:n_val]),
                                         batch_size=t.batch_size)
    # ImageDiffusion keeps its arguments (net, diffusion, optim, ema_decay, label_dropout): earlier checkpoints load
    optim = {"lr": t.lr, "warmup_steps": t.warmup_steps, "betas": list(t.betas), "weight_decay": t.weight_decay}
    model = ImageDiffusion(net=OmegaConf.to_container(cfg.model, resolve=True),
                           diffusion=OmegaConf.to_container(cfg.diffusion, resolve=True),
                           optim=optim, ema_decay=t.ema_decay, label_dropout=t.label_dropout)
    ckpt_cb = ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True, every_n_train_steps=t.checkpoint_every)
    max_steps = int(trainer_args.get("max_steps", -1))
    trainer = L.Trainer(devices=1, gradient_clip_val=t.grad_clip, default_root_dir=run_dir, callbacks=[ckpt_cb],
                        plugins=[atomic_checkpoint_io()], logger=CSVLogger(run_dir, name="logs"),
                        val_check_interval=min(t.val_every, max_steps) if max_steps > 0 else t.val_every,
                        check_val_every_n_epoch=None, limit_val_batches=1.0 if n_val else 0,
                        num_sanity_val_steps=0, **trainer_args)
    n_params = sum(p.numel() for p in model.net.parameters())
    _log(f"training {cfg.run_name}: {n_params / 1e6:.2f} M parameters, {len(tr['labels'])} images, {max_steps} steps")
    if ckpt_path:
        _log(f"resuming from {ckpt_path}")
    t0 = time.time()
    trainer.fit(model, train_dl, val_dl, ckpt_path=ckpt_path)
    trainer.save_checkpoint(run_dir / "model.ckpt")
    _write_json(run_dir / "train.json", {"steps": trainer.global_step, "seconds": time.time() - t0,
                                         "parameters": n_params, "train_images": int(len(tr["labels"])),
                                         "final_train_loss": float(trainer.callback_metrics.get("train/loss", math.nan)),
                                         "val_loss": float(trainer.callback_metrics.get("val/loss", math.nan))})
    _log(f"trained {trainer.global_step} steps in {time.time() - t0:.0f} s → {run_dir / 'model.ckpt'}")


def resume_checkpoint(resume, run_dir: Path) -> str | None:
    """The checkpoint ``train`` continues from: ``resume: auto`` → run_dir/checkpoints/last.ckpt when it exists,
    null → None (a fresh start), a path → that file (FileNotFoundError, one line, when it is not a file)."""
    if resume is None or resume is False:
        return None
    if resume == "auto":
        last = Path(run_dir) / "checkpoints" / "last.ckpt"
        return str(last) if last.is_file() else None
    if not Path(str(resume)).is_file():
        raise FileNotFoundError(f"resume checkpoint not found: {resume} (resume: auto | null | a checkpoint path)")
    return str(resume)


def load_model(run_dir: Path, device="cpu"):
    from levytts.image.module import ImageDiffusion

    path = run_dir / "model.ckpt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the train stage first")
    return ImageDiffusion.load_from_checkpoint(path, map_location=device, weights_only=False).eval()


def sample_grid(cfg) -> None:
    import torch

    from levytts.image.data import load_npz, save_npz, to_uint8
    from levytts.image.sampling import entry_name, generate, grid_entries, samples_path, save_png
    from levytts.levy import sample_generators

    s, dev = cfg.sampler, _device(cfg)
    run_dir = Path(cfg.run_dir)
    model = load_model(run_dir, dev)
    net = model.sampling_net(s.use_ema)
    shape = (cfg.data.channels, cfg.data.resolution, cfg.data.resolution)
    labels_src = load_npz(Path(cfg.exp_dir) / "data" / "train.npz")["labels"]
    freq = np.bincount(labels_src, minlength=cfg.data.num_classes) / len(labels_src)
    timings = {}
    for sampler, solver, steps in grid_entries(cfg.diffusion.kind, s.samplers, s.solvers, s.steps, s.dlpm_samplers, s.skip):
        name = entry_name(sampler, solver, steps)
        out = samples_path(run_dir, sampler, solver, steps)
        if out.is_file() and not s.overwrite:
            _log(f"{name}: exists, skipped")
            continue
        rng = np.random.default_rng(int(s.seed))
        imgs, labs, t0 = [], [], time.time()
        for i in range(0, s.n_samples, s.batch_size):
            b = min(s.batch_size, s.n_samples - i)
            y = None
            if model.class_cond:
                p = freq if s.labels == "train" else np.full(cfg.data.num_classes, 1 / cfg.data.num_classes)
                y = torch.from_numpy(rng.choice(cfg.data.num_classes, size=b, p=p)).to(dev)
                labs.append(y.cpu().numpy())
            # one generator per image, seeded by its index: image i depends on (seed, i) only, not on batch_size
            g = sample_generators(int(s.seed), b, start=i, device=dev)
            x = generate(net, model.proc, (b, *shape), sampler, solver, steps, eta=s.eta, grid=s.grid, t_eps=s.t_eps,
                         y=y, generator=g, clip_denoised=s.clip_denoised, a_max=s.a_max)
            imgs.append(to_uint8(x).cpu().numpy())
        images = np.concatenate(imgs)
        labels = np.concatenate(labs) if labs else np.full(len(images), -1)
        save_npz(out, images=images, labels=labels)
        save_png(out.with_suffix(".png"), images[: s.png_n])
        timings[name] = time.time() - t0
        _log(f"{name}: {len(images)} images in {timings[name]:.1f} s")
    old = json.loads((run_dir / "sample_times.json").read_text()) if (run_dir / "sample_times.json").is_file() else {}
    _write_json(run_dir / "sample_times.json", {**old, **timings})


def evaluate(cfg) -> None:
    from levytts.image.classifier import predict
    from levytts.image.data import load_npz
    from levytts.image.metrics import (
        extract_features,
        frechet_distance_features,
        knn_radii,
        load_fid_inception,
        per_class_coverage,
        prdc,
        prdc_per_class,
    )
    from levytts.image.sampling import entry_name, grid_entries, samples_path

    e, s, dev = cfg.eval, cfg.sampler, _device(cfg)
    run_dir = Path(cfg.run_dir)
    clf = load_classifier(Path(cfg.exp_dir) / "classifier.pt", dev)
    real = load_npz(Path(cfg.exp_dir) / "data" / f"{e.real}.npz")
    if e.get("max_real") and e.max_real < len(real["labels"]):
        keep = np.sort(np.random.default_rng(0).choice(len(real["labels"]), e.max_real, replace=False))
        real = {k: (v[keep] if k != "class_names" else v) for k, v in real.items()}
    real_f, _ = predict(clf, real["images"], device=dev)
    radii = knn_radii(real_f, e.k)
    inception = load_fid_inception(e.inception_weights, dev).to(dev) if e.get("inception_weights") else None
    real_inc = extract_features(inception, real["images"], device=dev) if inception is not None else None
    results = {"feature_space": "small classifier trained on the real training set (NOT Inception: not FID)",
               "real_set": e.real, "n_real": int(len(real["labels"])), "k": int(e.k), "entries": {}}
    for sampler, solver, steps in grid_entries(cfg.diffusion.kind, s.samplers, s.solvers, s.steps, s.dlpm_samplers, s.skip):
        name = entry_name(sampler, solver, steps)
        path = samples_path(run_dir, sampler, solver, steps)
        if not path.is_file():
            _log(f"{name}: no samples, skipped")
            continue
        fake = load_npz(path)
        fake_f, pred = predict(clf, fake["images"], device=dev)
        fake_labels = fake["labels"] if (fake["labels"] >= 0).all() else pred
        r = {"sampler": sampler, "solver": solver, "steps": steps, "n_fake": int(len(pred)),
             "fd_classifier": frechet_distance_features(real_f, fake_f),
             **prdc(real_f, fake_f, e.k, radii),
             "per_class_coverage": per_class_coverage(real_f, real["labels"], fake_f, e.k, cfg.data.num_classes,
                                                      radii).tolist(),
             "per_class_prdc": prdc_per_class(real_f, real["labels"], fake_f, fake_labels, e.k, cfg.data.num_classes),
             "predicted_class_share": (np.bincount(pred, minlength=cfg.data.num_classes) / len(pred)).tolist()}
        if inception is not None:
            fake_inc = extract_features(inception, fake["images"], device=dev)
            r["fid"] = frechet_distance_features(real_inc, fake_inc)
            r["inception_prdc"] = prdc(real_inc, fake_inc, e.k)
        results["entries"][name] = r
        _log(f"{name}: FD(classifier) {r['fd_classifier']:.3f} precision {r['precision']:.3f} recall {r['recall']:.3f} "
             f"density {r['density']:.3f} coverage {r['coverage']:.3f}")
    results["real_class_share"] = (np.bincount(real["labels"], minlength=cfg.data.num_classes) / len(real["labels"])).tolist()
    _write_json(run_dir / "metrics.json", results)


def report(cfg) -> None:
    from levytts.image.report import write_report

    out = write_report(cfg)
    _log(f"report → {out}")


def make_fixture(args) -> int:
    from levytts.image.fixtures import write_cifar10, write_fashion_mnist

    path = write_cifar10(args.out) if args.kind == "cifar10" else write_fashion_mnist(args.out)
    _log(f"wrote a tiny {args.kind} fixture in the real format: {path}")
    return 0


def run_stage(stage, args) -> int:
    """One recipe stage: compose the config of ``--config-dir`` with the overrides, set threads, run ``stage(cfg)``."""
    cfg = load_config(args.config_dir, args.overrides)
    if cfg.train.num_threads:  # as the TTS config's train.num_threads; null: torch's default
        from levytts.cli import apply_threads

        apply_threads(int(cfg.train.num_threads))
    stage(cfg)
    return 0


def main(args) -> int:
    """Run the action chosen on the command line (its parser set ``args.func``)."""
    return int(args.func(args) or 0)
