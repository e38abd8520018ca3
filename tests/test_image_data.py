"""Image data readers (CIFAR-10 python archive, IDX / Fashion-MNIST) on fixtures written here in the
real on-disk formats, long-tail subsets, and the hydra configs of the image recipes."""
import gzip
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from levytts.image.data import (
    LT_COUNTS,
    ImageArrayDataset,
    long_tail_counts,
    long_tail_indices,
    read_cifar10,
    read_fashion_mnist,
    read_idx,
    resize_uint8,
)
from levytts.image.fixtures import write_cifar10, write_fashion_mnist

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "image"


def _cifar_batch(n, value_offset):
    # row layout of the real files: 1024 red values, 1024 green, 1024 blue, each 32x32 row-major
    data = np.zeros((n, 3072), dtype=np.uint8)
    for i in range(n):
        data[i, :1024] = value_offset + i
        data[i, 1024:2048] = 100 + i
        data[i, 2048:] = 200 + i
        data[i, 1] = 7  # red channel, row 0, column 1
        data[i, 32] = 9  # red channel, row 1, column 0
    return {b"batch_label": b"x", b"labels": [i % 10 for i in range(n)], b"data": data}


def _write_cifar_folder(folder: Path):
    folder.mkdir(parents=True)
    for b in range(1, 6):
        (folder / f"data_batch_{b}").write_bytes(pickle.dumps(_cifar_batch(2, 10 * b), protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(_cifar_batch(3, 60), protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"airplane"] * 10}, protocol=2))


def test_cifar10_folder_layout(tmp_path):
    _write_cifar_folder(tmp_path / "cifar-10-batches-py")
    for path in (tmp_path / "cifar-10-batches-py", tmp_path):
        x, y = read_cifar10(path, "train")
        assert x.shape == (10, 3, 32, 32) and x.dtype == np.uint8
        assert y.tolist() == [0, 1] * 5
        assert x[0, 0, 0, 0] == 10 and x[0, 1, 5, 5] == 100 and x[0, 2, 31, 31] == 200
        assert x[0, 0, 0, 1] == 7 and x[0, 0, 1, 0] == 9  # row-major within a channel
        assert x[9, 0, 3, 3] == 51  # batch 5, second image
    xt, yt = read_cifar10(tmp_path, "test")
    assert xt.shape == (3, 3, 32, 32) and yt.tolist() == [0, 1, 2]


def test_cifar10_archive_equals_folder(tmp_path):
    folder = write_cifar10(tmp_path / "f", n_train=30, n_test=10, archive=False)
    archive = write_cifar10(tmp_path / "a", n_train=30, n_test=10, archive=True)
    assert archive.name == "cifar-10-python.tar.gz"
    with tarfile.open(archive) as tar:
        assert "cifar-10-batches-py/data_batch_1" in tar.getnames()
    for split in ("train", "test"):
        xf, yf = read_cifar10(folder, split)
        xa, ya = read_cifar10(archive, split)
        np.testing.assert_array_equal(xf, xa)
        np.testing.assert_array_equal(yf, ya)
    assert read_cifar10(tmp_path / "a", "train")[0].shape == (30, 3, 32, 32)


def test_cifar10_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz"):
        read_cifar10(tmp_path / "nope")
    bad = tmp_path / "cifar-10-batches-py"
    bad.mkdir()
    for b in range(1, 6):
        (bad / f"data_batch_{b}").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="pickle"):
        read_cifar10(bad)
    with pytest.raises(ValueError, match="split"):
        read_cifar10(bad, "val")


def _idx(arr):
    arr = np.asarray(arr, dtype=np.uint8)
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape) + arr.tobytes()


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_idx(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5, 9, 2], dtype=np.uint8)
    for prefix in ("train", "t10k"):
        for name, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
            raw = _idx(arr)
            if compress:
                (tmp_path / (name + ".gz")).write_bytes(gzip.compress(raw))
            else:
                (tmp_path / name).write_bytes(raw)
    for split in ("train", "test"):
        x, y = read_fashion_mnist(tmp_path, split)
        assert x.shape == (7, 1, 28, 28) and x.dtype == np.uint8
        np.testing.assert_array_equal(x[:, 0], images)
        assert y.tolist() == labels.tolist() and y.dtype == np.int64


def test_idx_errors(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x01\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * 3)
    with pytest.raises(ValueError, match="header says"):
        read_idx(tmp_path / "short")
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        read_fashion_mnist(tmp_path)


def test_fixture_writer_matches_reader(tmp_path):
    write_fashion_mnist(tmp_path, n_train=30, n_test=10)
    x, y = read_fashion_mnist(tmp_path, "train")
    assert x.shape == (30, 1, 28, 28) and sorted(set(y.tolist())) == list(range(10))


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_and_lt_subset():
    x, y = read_fashion_mnist("/usr/share/datasets/fashion-mnist", "train")
    assert x.shape == (60000, 1, 28, 28)
    assert np.bincount(y).tolist() == [6000] * 10
    idx = long_tail_indices(y, LT_COUNTS, seed=0)
    assert np.bincount(y[idx], minlength=10).tolist() == list(LT_COUNTS)


def test_long_tail_counts_and_indices():
    assert long_tail_counts(5000, 100, 10) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50] == list(LT_COUNTS)
    labels = np.repeat(np.arange(10), 6000)
    a = long_tail_indices(labels, LT_COUNTS, seed=0)
    assert len(a) == sum(LT_COUNTS) == 12406 and len(np.unique(a)) == len(a)
    assert np.bincount(labels[a], minlength=10).tolist() == list(LT_COUNTS)
    np.testing.assert_array_equal(a, long_tail_indices(labels, LT_COUNTS, seed=0))
    assert not np.array_equal(a, long_tail_indices(labels, LT_COUNTS, seed=1))
    with pytest.raises(ValueError, match="fewer than"):
        long_tail_indices(labels, [6001] + [1] * 9)


def test_dataset_range_and_resize():
    imgs = np.array([[[[0, 255], [127, 128]]]], dtype=np.uint8)
    ds = ImageArrayDataset(imgs, np.array([3]))
    x, y = ds[0]
    assert x.shape == (1, 2, 2) and float(x.min()) == -1.0 and float(x.max()) == 1.0 and int(y) == 3
    big = np.full((2, 1, 28, 28), 77, dtype=np.uint8)
    small = resize_uint8(big, 16)
    assert small.shape == (2, 1, 16, 16) and (small == 77).all()


@pytest.mark.parametrize("preset", [None, "quick"])
@pytest.mark.parametrize("experiment", ["fashion_mnist_lt", "cifar10lt", "cifar10"])
def test_configs_compose(experiment, preset):
    from levytts.image.cli import load_config

    extra = [f"preset={preset}"] if preset else []
    cfg = load_config(CONFIG_DIR, [f"experiment={experiment}", "diffusion.alpha=1.5", "data.root=/x", *extra])
    assert cfg.diffusion.alpha == 1.5 and cfg.model.in_channels == cfg.data.channels
    assert cfg.run_dir.endswith("lim_alpha1.5")
    full = load_config(CONFIG_DIR, [f"experiment={experiment}"])
    if preset is None:
        assert list(cfg.data.lt_counts) == list(LT_COUNTS) and cfg.exp_dir == f"exp/image/{cfg.data.name}"
    else:  # smoke sizes on top of the experiment; its sampler settings kept
        assert cfg.exp_dir == f"exp/image/{cfg.data.name}_quick" and cfg.trainer.max_steps == 3
        assert (cfg.train.batch_size, cfg.train.num_threads, cfg.train.n_val_images) == (8, 1, 8)
        assert sum(cfg.data.lt_counts) == 32 and cfg.model.ch == 16 and list(cfg.sampler.steps) == [2]
        assert (cfg.sampler.grid, cfg.sampler.clip_denoised) == (full.sampler.grid, full.sampler.clip_denoised)


def test_config_keys_as_tts():
    """The image config uses the TTS config's key names: trainer = Lightning arguments, train = hyper-parameters."""
    from levytts.image.cli import load_config

    cfg = load_config(CONFIG_DIR, ["experiment=fashion_mnist_lt"])
    assert set(cfg.trainer) == {"accelerator", "precision", "max_steps", "max_time", "log_every_n_steps",
                                "enable_progress_bar"}
    assert (cfg.train.lr, cfg.train.warmup_steps, cfg.train.ema_decay, cfg.train.batch_size) == (5e-4, 500, 0.999, 128)
    assert (cfg.diffusion.alpha, cfg.resume, cfg.run_name) == (1.8, "auto", "lim_alpha1.8")
    assert "alpha" not in cfg and "batch_size" not in cfg.data
    assert load_config(CONFIG_DIR, ["diffusion=dlpm", "diffusion.alpha=2.0"]).run_name == "dlpm_alpha2.0"


@pytest.mark.parametrize("override, says", [
    ("alpha=1.5", "bad config override alpha=1.5: Key 'alpha' is not in struct (renamed: diffusion.alpha)"),
    ("trainer.ema_decay=0.9", "bad config override trainer.ema_decay=0.9: Key 'ema_decay' is not in struct "
                              "(renamed: train.ema_decay)"),
    ("data.batch_size=4", "(renamed: train.batch_size)"),
    ("+alpha=1.5", "unknown config key 'alpha' (renamed: diffusion.alpha)"),
    ("+trainer.label_dropout=0.2", "unknown config key 'trainer.label_dropout' (renamed: train.label_dropout)"),
    ("resume=/no/such.ckpt", "resume checkpoint not found: /no/such.ckpt"),
])
def test_old_keys_and_bad_resume_fail_in_one_line(override, says, tmp_path, capsys):
    """Pre-rename keys are no silent no-ops: `levytts image train` stops with one line naming the new key."""
    from levytts.cli import main

    argv = ["image", "train", "--config-dir", str(CONFIG_DIR), "experiment=fashion_mnist_lt", f"exp_dir={tmp_path}",
            override]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("levytts image train: error: ") and says in err[0], err
    assert not any(tmp_path.iterdir())  # failed before any work


def test_pipeline_on_fixture(tmp_path, monkeypatch):
    """Every recipe stage through `levytts image ...` on a tiny IDX fixture (the --quick path, smaller)."""
    import json

    import torch

    from levytts.cli import main

    n_threads = torch.get_num_threads()
    root = write_fashion_mnist(tmp_path / "fm", n_train=120, n_test=20)
    exp = tmp_path / "exp"
    common = ["--config-dir", str(CONFIG_DIR), "experiment=fashion_mnist_lt", "preset=quick", f"data.root={root}",
              f"exp_dir={exp}", "data.lt_counts=[12,10,8,7,6,6,6,6,6,6]", "data.max_full=null",
              "sampler.solvers=[ei]", "sampler.samplers=[sde-e,ode]", "sampler.n_samples=8", "sampler.batch_size=8",
              "trainer.max_steps=2", "train.val_every=2", "model.ch=8", "model.norm_groups=8"]
    try:
        for action in ("prepare", "classifier", "train", "sample", "evaluate"):
            assert main(["image", action, *common, "diffusion.alpha=1.8"]) == 0
        assert main(["image", "report", *common, "report.runs=[lim_alpha1.8]"]) == 0
    finally:
        torch.set_num_threads(n_threads)
    run = exp / "lim_alpha1.8"
    assert json.loads((run / "train.json").read_text())["steps"] == 2
    m = json.loads((run / "metrics.json").read_text())
    assert set(m["entries"]) == {"sde-e_ei_N2", "ode_ei_N2"}
    e = m["entries"]["ode_ei_N2"]
    assert 0 <= e["coverage"] <= 1 and np.isfinite(e["fd_classifier"]) and len(e["per_class_coverage"]) == 10
    assert (run / "samples" / "ode_ei_N2.png").is_file()
    report = (exp / "results.md").read_text()
    assert "NOT FID" in report and "lim_alpha1.8 ODE" in report
    assert main(["image", "prepare", "--config-dir", str(tmp_path)]) == 2  # no config.yaml: one-line error


def test_entry_names_are_the_shared_condition_names_and_old_sample_files_are_renamed(tmp_path):
    from levytts.image.sampling import entry_name, samples_path
    from levytts.levy.spec import SamplerSpec

    assert [entry_name(*e) for e in [("ode", "euler", 20), ("ode", "ei", 5), ("sde-e", "ei", 10), ("dlpm", "-", 20)]] \
        == ["ode_N20", "ode_ei_N5", "sde-e_ei_N10", "dlpm_N20"]
    assert SamplerSpec.from_dirname(entry_name("sde-a", "euler", 50)) == SamplerSpec("sde-a", "euler", 50)
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "sde-e_ei_20.npz").write_bytes(b"old grid")
    (samples / "sde-e_ei_20.png").write_bytes(b"old png")
    (samples / "dlpm_20.npz").write_bytes(b"dlpm")
    path = samples_path(tmp_path, "sde-e", "ei", 20)
    assert path == samples / "sde-e_ei_N20.npz" and path.read_bytes() == b"old grid"
    assert (samples / "sde-e_ei_N20.png").read_bytes() == b"old png" and not (samples / "sde-e_ei_20.npz").exists()
    assert samples_path(tmp_path, "dlpm", "-", 20).read_bytes() == b"dlpm"
    assert not samples_path(tmp_path, "ode", "ei", 20).exists()  # nothing to rename: the new name, absent


# ------------------------------------------------------------------ stages: checkpoints, resume, stale samples
QUICK = ["--config-dir", str(CONFIG_DIR), "experiment=fashion_mnist_lt", "preset=quick",
         "data.lt_counts=[12,10,8,7,6,6,6,6,6,6]", "data.max_full=null", "sampler.solvers=[ei]",
         "sampler.samplers=[ode]", "model.ch=8", "model.norm_groups=8", "train.val_every=2"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A tiny IDX fixture prepared once (``levytts image prepare``): the overrides naming its exp_dir."""
    import torch

    from levytts.cli import main

    tmp = tmp_path_factory.mktemp("image_stages")
    root = write_fashion_mnist(tmp / "fm", n_train=120, n_test=20)
    common = [*QUICK, f"data.root={root}", f"exp_dir={tmp / 'exp'}"]
    n_threads = torch.get_num_threads()
    try:
        assert main(["image", "prepare", *common]) == 0
    finally:
        torch.set_num_threads(n_threads)
    return common


def _image(*argv) -> int:
    import torch

    from levytts.cli import main

    n_threads = torch.get_num_threads()  # preset=quick sets train.num_threads=1
    try:
        return main(["image", *argv])
    finally:
        torch.set_num_threads(n_threads)


def _strict_json(path):
    """json.loads that fails on NaN / Infinity (not JSON)."""
    import json

    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path}: {c} is not JSON"))


def test_fresh_run_replaces_checkpoints_and_resume_past_max_steps_trains_nothing(prepared, tmp_path, capsys):
    """Fixed checkpoint names: `resume=null` in a run dir with checkpoints replaces last.ckpt (no last-v1.ckpt that
    the next `resume: auto` run would skip); a resume at or past trainer.max_steps says so and keeps model.ckpt."""
    import os

    from levytts.image.cli import checkpoint_step

    common = [*prepared, "diffusion.alpha=1.7", "train.checkpoint_every=2"]
    run = Path(prepared[-1].split("=", 1)[1]) / "lim_alpha1.7"
    ckpts = run / "checkpoints"
    assert _image("train", *common, "trainer.max_steps=4") == 0
    assert sorted(p.name for p in ckpts.iterdir()) == ["last.ckpt", "step0000004.ckpt"]  # the newest step file only
    assert checkpoint_step(ckpts / "last.ckpt") == 4
    capsys.readouterr()

    assert _image("train", *common, "trainer.max_steps=2", "resume=null") == 0  # a fresh run in the same dir
    assert "starting afresh" in capsys.readouterr().out
    assert not [p.name for p in ckpts.iterdir() if "-v" in p.name]
    assert checkpoint_step(ckpts / "last.ckpt") == 2 and checkpoint_step(ckpts / "step0000002.ckpt") == 2
    info = _strict_json(run / "train.json")
    assert (info["steps"], info["steps_this_run"]) == (2, 2)

    assert _image("train", *common, "trainer.max_steps=3") == 0  # resume: auto continues the NEW last.ckpt
    info = _strict_json(run / "train.json")
    assert (info["steps"], info["steps_this_run"]) == (3, 1)
    assert "resuming from" in capsys.readouterr().out

    past = os.path.getmtime(run / "model.ckpt") - 100  # resume at/past max_steps: nothing trained, nothing rewritten
    os.utime(run / "model.ckpt", (past, past))
    before = (run / "train.json").read_text()
    assert _image("train", *common, "trainer.max_steps=2") == 0
    out = capsys.readouterr().out
    assert "last.ckpt is at step 3 >= trainer.max_steps 2: nothing to train; raise trainer.max_steps or use " \
           "resume=null" in out and "trained" not in out.replace("nothing to train", "")
    assert os.path.getmtime(run / "model.ckpt") == past and (run / "train.json").read_text() == before

    (run / "model.ckpt").unlink()  # no model.ckpt yet (e.g. killed after the last checkpoint): written from last.ckpt
    assert _image("train", *common, "trainer.max_steps=2") == 0
    assert "nothing to train" in capsys.readouterr().out and (run / "model.ckpt").is_file()
    info = _strict_json(run / "train.json")  # no loss logged in 0 steps: null, not NaN
    assert (info["steps_this_run"], info["final_train_loss"], info["val_loss"]) == (0, None, None)


def test_stale_samples_are_resampled_and_not_evaluated(prepared, capsys):
    """Samples older than model.ckpt (the model was retrained) are re-sampled by `sample` and refused by
    `evaluate`; samples newer than model.ckpt are kept."""
    import os

    common = [*prepared, "diffusion.alpha=1.6", "trainer.max_steps=1"]
    run = Path(prepared[-1].split("=", 1)[1]) / "lim_alpha1.6"
    assert _image("train", *common) == 0
    assert _image("sample", *common) == 0
    npz = run / "samples" / "ode_ei_N2.npz"
    capsys.readouterr()
    assert _image("sample", *common) == 0
    assert "ode_ei_N2: exists, skipped" in capsys.readouterr().out

    old = os.path.getmtime(run / "model.ckpt") - 100  # the model is newer than the samples, as after a retraining
    os.utime(npz, (old, old))
    assert _image("evaluate", *common) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ode_ei_N2.npz is older than" in err[0] and "levytts image sample" in err[0], err
    assert not (run / "metrics.json").exists()
    assert _image("sample", *common) == 0
    assert "older than model.ckpt" in capsys.readouterr().out and os.path.getmtime(npz) > old + 50


@pytest.mark.parametrize("override, says", [
    ("+diffusion.alhpa=1.5", "unknown config key 'diffusion.alhpa'; valid keys of diffusion: kind, alpha, schedule"),
    ("+model.foo=1", "unknown config key 'model.foo'; valid keys of model: in_channels"),
    ("+sampler.stpes=[2]", "unknown config key 'sampler.stpes'; valid keys of sampler: samplers"),
    ("+eval.kk=3", "unknown config key 'eval.kk'; valid keys of eval: k, real"),
    ("+data.rot=/x", "unknown config key 'data.rot'; valid keys of data: name, dataset, root"),
    ("+classifier.epoch=2", "unknown config key 'classifier.epoch'; valid keys of classifier: epochs"),
    ("+report.run=[a]", "unknown config key 'report.run'; valid keys of report: runs"),
    ("diffusion=dlpm +diffusion.schedule=cosine", "unknown config key 'diffusion.schedule'; valid keys of diffusion: "
                                                  "kind, alpha, n_steps"),  # the keys of the option chosen
    ("~diffusion.alpha", "config key 'diffusion.alpha' is missing"),
])
def test_unknown_or_removed_keys_of_group_nodes_fail_in_one_line(override, says, tmp_path, capsys):
    argv = ["train", "--config-dir", str(CONFIG_DIR), "experiment=fashion_mnist_lt", f"exp_dir={tmp_path}",
            *override.split()]
    assert _image(*argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("levytts image train: error: ") and says in err[0], err
    assert not any(tmp_path.iterdir())


def test_unset_value_is_one_line_when_read_and_cfg_prints_the_config(tmp_path, capsys):
    """A ??? value (data.root of the CIFAR configs) is an error naming the key only in a stage that reads it; `--cfg`
    prints the composed config and runs nothing."""
    import yaml

    from levytts.image.cli import load_config

    assert load_config(CONFIG_DIR, ["experiment=cifar10lt"]).data.get("root", "unset") in (None, "???", "unset")
    argv = ["--config-dir", str(CONFIG_DIR), "experiment=cifar10lt", "preset=quick", f"exp_dir={tmp_path}"]
    assert _image("prepare", *argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("levytts image prepare: error: config key 'data.root' is not set: pass "
                                               "data.root=PATH (the CIFAR-10 archive"), err
    assert _image("train", *argv, "--cfg", "diffusion.alpha=1.5") == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["diffusion"]["alpha"] == 1.5 and shown["data"]["root"] == "???" and shown["trainer"]["max_steps"] == 3
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("recipe", ["fashion_mnist_lt", "cifar10", "cifar10lt"])
def test_recipe_help_prints_the_header_only(recipe):
    import subprocess

    script = Path(__file__).resolve().parents[1] / "recipes" / recipe / "run.sh"
    out = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert any(line.startswith(f"Usage: recipes/{recipe}/run.sh") for line in lines), out
    assert not [line for line in lines if line.startswith(("exp=", "fixture_kind=", "source", "#"))], out
