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
override or key (also the pre-rename names: ``alpha``, ``trainer.ema_decay``, ...) into a one-line ValueError; a
``???`` value (``data.root`` of the CIFAR configs) is a one-line error when a stage reads it (:func:`run_stage`).
``levytts image ACTION --cfg ...`` prints the composed config and exits.
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
from levytts.config import RENAMED, check_keys, check_trainer_keys, compose

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
        p.add_argument("--cfg", action="store_true", help="print the composed config (yaml) and exit")
        p.set_defaults(func=functools.partial(run_stage, stage))
    f = sub.add_parser("make-fixture", help="write a tiny dataset in the real on-disk format")
    f.add_argument("--kind", required=True, choices=("cifar10", "fashion_mnist"), help="format to write")
    f.add_argument("--out", required=True, help="output folder")
    f.set_defaults(func=make_fixture)


# Closed nodes: every key they hold is listed here; any other key (a misspelt or pre-rename key in a yaml, or a
# `+key=...` override) is an error naming the valid keys, and a listed key that is absent (`~diffusion.alpha`) is
# an error too. Misspelt plain overrides already fail in hydra's struct mode. The `trainer` node is checked against
# lightning.Trainer's arguments when training starts (:func:`train`). The nodes of GROUP_NODES and ROOT_NODES are
# closed too, to the keys of the yaml they come from (:func:`closed_keys`).
CLOSED = {
    "": ("data", "model", "diffusion", "trainer", "sampler", "eval", "seed", "device", "exp_dir", "run_name",
         "run_dir", "resume", "train", "classifier", "report"),
    "train": ("batch_size", "lr", "warmup_steps", "betas", "weight_decay", "grad_clip", "ema_decay", "label_dropout",
              "num_workers", "num_threads", "checkpoint_every", "val_every", "n_val_images"),
}
# config group → its node, closed to the keys of the option chosen (configs/image/<group>/<choice>.yaml: lim and
# dlpm have different keys), and nodes of config.yaml itself, closed to the keys config.yaml gives them
GROUP_NODES = ("data", "model", "diffusion", "sampler", "eval")
ROOT_NODES = ("classifier", "report")


def closed_keys(config_dir: str | Path, choices: dict) -> dict[str, tuple]:
    """The ``required`` dict of :func:`check_keys` (node → its keys, all closed): :data:`CLOSED`, each node of
    :data:`GROUP_NODES` with the keys of ``<group>/<choice>.yaml`` and each of :data:`ROOT_NODES` with its keys in
    ``config.yaml``. A group yaml with its own defaults list or ``@package`` line (its keys come from elsewhere) leaves
    its node open."""
    from omegaconf import DictConfig, OmegaConf

    config_dir = Path(config_dir)
    keys = dict(CLOSED)
    root = OmegaConf.load(config_dir / "config.yaml")
    for node in ROOT_NODES:
        if isinstance(root.get(node), DictConfig):
            keys[node] = tuple(str(k) for k in root[node])
    for group in GROUP_NODES:
        path = config_dir / group / f"{choices.get(group)}.yaml"
        if not choices.get(group) or not path.is_file() or "@package" in path.read_text():
            continue
        spec = OmegaConf.load(path)
        if isinstance(spec, DictConfig) and "defaults" not in spec:
            keys[group] = tuple(str(k) for k in spec)
    return keys


def _unset_keys(node, prefix: str = "") -> list[str]:
    """Dotted keys of the ``???`` values of the mappings in ``node``, read without resolving interpolations."""
    from omegaconf import DictConfig, OmegaConf

    out = []
    for key in node.keys():
        child = node._get_node(key)
        if OmegaConf.is_missing(node, key):
            out.append(f"{prefix}{key}")
        elif isinstance(child, DictConfig) and not child._is_interpolation():
            out += _unset_keys(child, f"{prefix}{key}.")
    return out


def check_config(cfg, required: dict[str, tuple] = CLOSED) -> None:
    """ValueError (one line) for an unknown key in a node of ``required`` (all closed; :func:`closed_keys`), a key of
    it that is absent, or a pre-rename key (:data:`RENAMED`) anywhere: the message names the key, its new name and
    the valid keys of its node. A ``???`` value is no error here (``levytts tune-eta`` composes without
    ``data.root``): the stage that reads it fails (:func:`run_stage`)."""
    import copy

    from omegaconf import OmegaConf

    unset = _unset_keys(cfg)
    if unset:  # check_keys counts a ??? as absent: check a copy where each ??? holds a placeholder
        cfg = copy.deepcopy(cfg)
        for key in unset:
            OmegaConf.update(cfg, key, None, merge=False)
    check_keys(cfg, required, closed=tuple(required), renamed=RENAMED)


def load_config(config_dir: str | Path = CONFIG_DIR, overrides=()):
    """Compose the hydra config ``config.yaml`` of ``config_dir`` with ``overrides`` (resolved DictConfig).

    Every error is a ValueError with a one-line message (``levytts image ACTION: error: ...``): an unknown config
    group or option names the valid ones; an unknown key (hydra's struct mode, e.g. the pre-rename ``alpha=1.8``)
    names its new name (:data:`RENAMED`) and the valid keys of its node; an unknown key of a group node
    (``+diffusion.alhpa=1.5``, ``+model.foo=1``) names the keys of the group option chosen; see :func:`check_config`."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    config_dir = Path(config_dir).resolve()
    if not (config_dir / "config.yaml").is_file():
        raise FileNotFoundError(f"{config_dir}/config.yaml not found: pass --config-dir path/to/configs/image")
    choices: dict = {}  # hydra's group choices of this composition (the closed nodes' valid keys follow them)
    cfg = compose(config_dir, "config", overrides, renamed=RENAMED, choices=choices)
    check_config(cfg, closed_keys(config_dir, choices))
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


def _finite(value) -> float | None:
    """``float(value)``, or None (JSON null) for a missing or non-finite value: NaN is not JSON."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


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
    from levytts.lightning_base import atomic_checkpoint_io, resume_checkpoint

    run_dir = Path(cfg.run_dir)
    ckpt_path = resume_checkpoint(cfg.resume, run_dir)  # a missing resume path fails before any work
    trainer_args = OmegaConf.to_container(cfg.trainer, resolve=True)
    # a misspelt or pre-rename trainer key (in a yaml or a +trainer.x override) fails before any work
    check_trainer_keys(trainer_args, own={"devices", "default_root_dir", "logger", "callbacks", "gradient_clip_val",
                                          "plugins", "val_check_interval", "check_val_every_n_epoch",
                                          "limit_val_batches", "num_sanity_val_steps"}, renamed=RENAMED)
    max_steps = int(trainer_args.get("max_steps", -1))
    start_step = checkpoint_step(ckpt_path) if ckpt_path else 0
    if ckpt_path and 0 <= max_steps <= start_step:
        note = (f"{Path(ckpt_path).name} is at step {start_step} >= trainer.max_steps {max_steps}: nothing to train; "
                "raise trainer.max_steps or use resume=null")
        if (run_dir / "model.ckpt").is_file():
            _log(f"{note} ({run_dir / 'model.ckpt'} left as it is)")
            return
        _log(f"{note} (writing {run_dir / 'model.ckpt'} from it)")
    elif ckpt_path is None and any((run_dir / "checkpoints").glob("*.ckpt")):
        _log(f"resume={cfg.resume}: starting afresh; this run's checkpoints replace the files of the same name in "
             f"{run_dir / 'checkpoints'} (last.ckpt at the first checkpoint)")
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
    # fixed names, as TTS training: checkpoints/step0002000.ckpt ... and last.ckpt; a fresh run (resume=null) replaces
    # them instead of writing last-v1.ckpt next to an old last.ckpt that `resume: auto` would then continue from
    ckpt_cb = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="step{step:07d}", auto_insert_metric_name=False,
                              every_n_train_steps=t.checkpoint_every, save_top_k=1, save_last=True,
                              enable_version_counter=False)
    trainer = L.Trainer(devices=1, gradient_clip_val=t.grad_clip, default_root_dir=run_dir, callbacks=[ckpt_cb],
                        plugins=[atomic_checkpoint_io()], logger=CSVLogger(run_dir, name="logs"),
                        val_check_interval=min(t.val_every, max_steps) if max_steps > 0 else t.val_every,
                        check_val_every_n_epoch=None, limit_val_batches=1.0 if n_val else 0,
                        num_sanity_val_steps=0, **trainer_args)
    n_params = sum(p.numel() for p in model.net.parameters())
    _log(f"training {cfg.run_name}: {n_params / 1e6:.2f} M parameters, {len(tr['labels'])} images, {max_steps} steps")
    if ckpt_path:
        _log(f"resuming from {ckpt_path} (step {start_step})")
    t0 = time.time()
    trainer.fit(model, train_dl, val_dl, ckpt_path=ckpt_path)
    trainer.save_checkpoint(run_dir / "model.ckpt")
    trained = trainer.global_step - start_step
    _write_json(run_dir / "train.json", {"steps": trainer.global_step, "steps_this_run": trained,
                                         "seconds": time.time() - t0, "parameters": n_params,
                                         "train_images": int(len(tr["labels"])),
                                         "final_train_loss": _finite(trainer.callback_metrics.get("train/loss")),
                                         "val_loss": _finite(trainer.callback_metrics.get("val/loss"))})
    since = f" (step {start_step} → {trainer.global_step})" if start_step else ""
    _log(f"trained {trained} steps{since} in {time.time() - t0:.0f} s → {run_dir / 'model.ckpt'}")


def checkpoint_step(path) -> int:
    """The ``global_step`` stored in a Lightning checkpoint (memory-mapped: the weights are not read)."""
    import torch

    try:
        ck = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except RuntimeError:  # mmap needs torch.save's zip format (every Lightning checkpoint has it)
        ck = torch.load(path, map_location="cpu", weights_only=False)
    return int(ck.get("global_step", 0))


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
    model_time = (run_dir / "model.ckpt").stat().st_mtime_ns
    net = model.sampling_net(s.use_ema)
    shape = (cfg.data.channels, cfg.data.resolution, cfg.data.resolution)
    labels_src = load_npz(Path(cfg.exp_dir) / "data" / "train.npz")["labels"]
    freq = np.bincount(labels_src, minlength=cfg.data.num_classes) / len(labels_src)
    timings = {}
    for sampler, solver, steps in grid_entries(cfg.diffusion.kind, s.samplers, s.solvers, s.steps, s.dlpm_samplers, s.skip):
        name = entry_name(sampler, solver, steps)
        out = samples_path(run_dir, sampler, solver, steps)
        if out.is_file() and not s.overwrite:
            if out.stat().st_mtime_ns >= model_time:
                _log(f"{name}: exists, skipped")
                continue
            _log(f"{name}: {out} is older than model.ckpt (the model was trained since): re-sampling")
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
    entries = grid_entries(cfg.diffusion.kind, s.samplers, s.solvers, s.steps, s.dlpm_samplers, s.skip)
    model_ckpt = run_dir / "model.ckpt"
    for entry in entries:  # samples of an earlier model are no result of this one: fail before any work
        path = samples_path(run_dir, *entry)
        if path.is_file() and model_ckpt.is_file() and path.stat().st_mtime_ns < model_ckpt.stat().st_mtime_ns:
            raise ValueError(f"{path} is older than {model_ckpt} (the model was trained after sampling): run "
                             "`levytts image sample` with the same overrides first (it re-samples such entries)")
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
    for sampler, solver, steps in entries:
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


def unset_message(key: str, cfg) -> str:
    """The one-line error for a ``???`` (unset) config value ``key`` that a stage reads."""
    what = "VALUE"
    if key == "data.root":
        dataset = cfg.data.get("dataset")
        what = ("PATH (the CIFAR-10 archive cifar-10-python.tar.gz or its extracted folder cifar-10-batches-py; "
                "the recipes take --data PATH)" if dataset == "cifar10" else
                "PATH (the folder of the Fashion-MNIST IDX files; the recipes take --data PATH)"
                if dataset == "fashion_mnist" else "PATH (the dataset's files)")
    return f"config key '{key}' is not set: pass {key}={what}"


def run_stage(stage, args) -> int:
    """One recipe stage: compose the config of ``--config-dir`` with the overrides (``--cfg``: print it and stop),
    set threads, run ``stage(cfg)``. A ``???`` value the stage reads is a one-line ValueError naming the key."""
    from omegaconf import OmegaConf
    from omegaconf.errors import MissingMandatoryValue

    cfg = load_config(args.config_dir, args.overrides)
    if getattr(args, "cfg", False):
        print(OmegaConf.to_yaml(cfg), end="")
        return 0
    if cfg.train.num_threads:  # as the TTS config's train.num_threads; null: torch's default
        from levytts.cli import apply_threads

        apply_threads(int(cfg.train.num_threads))
    try:
        stage(cfg)
    except MissingMandatoryValue as err:  # e.g. data.root of the CIFAR configs: no default
        key = getattr(err, "full_key", None) or str(err).splitlines()[0]
        raise ValueError(unset_message(str(key), cfg)) from None
    return 0


def main(args) -> int:
    """Run the action chosen on the command line (its parser set ``args.func``)."""
    return int(args.func(args) or 0)
