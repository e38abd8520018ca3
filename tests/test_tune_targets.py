"""`levytts tune-eta --checkpoint` targets (levytts.tune_targets) on tiny models: a TTS checkpoint trained one step on
a two-speaker tone corpus, and an untrained image run dir (UNet + classifier + data written directly)."""
from __future__ import annotations

import argparse
import math

import pytest
import torch
from test_tts_training import corpus, tiny_cfg  # noqa: F401  (corpus: the fixture)

from levytts.cli import UserError
from levytts.levy.spec import EtaSpec, SamplerSpec
from levytts.tune_targets import ImageTarget, TTSTarget, make_target

SPEC = SamplerSpec("sde-e", "ei", 2, EtaSpec("popov", 0.3, 0.3, 0.85))


@pytest.fixture(scope="module")
def tts_ckpt(corpus, tmp_path_factory):  # noqa: F811  (corpus: the training tests' two-speaker tone corpus)
    """(checkpoint, filelist) of a one-step tiny TTS run on the training tests' corpus."""
    from levytts.tts.train import run

    return run(tiny_cfg(corpus, tmp_path_factory.mktemp("tune_tts") / "run", "trainer.max_steps=1")), \
        corpus / "filelists" / "train.txt"


def _tts(tts_ckpt, out, **kw):
    ckpt, filelist = tts_ckpt
    return TTSTarget(ckpt, filelist, out, vocoder="griffin-lim", **{"max_utts": 4, **kw})


def test_tts_target_evaluates_deterministically_and_exports_the_tuned_eta(tts_ckpt, tmp_path):
    from levytts.tts.checkpoint import load_checkpoint

    target = _tts(tts_ckpt, tmp_path, batch_size=3, export_path=tmp_path / "tuned.pt")
    assert target.metric == "similarity" and target.direction == -1 and target.alpha > 0 and target.T > 0.9
    # round robin over the speakers, filelist order kept; positions in the filelist are the seed indices
    assert [u.utt_id for u in target.utts] == ["aa_000", "bb_001", "aa_002", "bb_003"]
    assert target.calls_per_run(2) == 3 * 2  # (N + 1) per batch, two batches of at most 3
    m1, calls = target.evaluate(SPEC, 0)
    assert calls == target.calls_per_run(2)
    assert "similarity" in m1 and 0 <= m1["similarity"] <= 1 and m1["n_failed"] <= 4
    wavs = sorted(p.name for p in target.wav_dir(SPEC, 0).glob("*.wav"))
    assert wavs == ["aa_000.wav", "aa_002.wav", "bb_001.wav", "bb_003.wav"]
    assert target.wav_dir(SPEC, 0).name == "sde-e_ei_popov0.3,0.3,0.85_N2_seed0"
    audio0 = target.wav_dir(SPEC, 0).joinpath("aa_000.wav").read_bytes()
    m2, _ = target.evaluate(SPEC, 0)
    assert target.wav_dir(SPEC, 0).joinpath("aa_000.wav").read_bytes() == audio0
    drop = ("synth_seconds", "score_seconds")
    assert {k: v for k, v in m1.items() if k not in drop} == {k: v for k, v in m2.items() if k not in drop}
    target.evaluate(SPEC, 1)
    assert target.wav_dir(SPEC, 1).joinpath("aa_000.wav").read_bytes() != audio0  # another seed, other noise
    ode, calls = target.evaluate(SamplerSpec("ode", "ei", 2), 0)  # the Tuner's baselines
    assert calls == 6 and "similarity" in ode

    summary = {"metric": "similarity", "solver": "ei", "steps": 2, "seeds": [0, 1], "best": str(SPEC.eta),
               "best_metrics": m1, "sampler": str(SPEC)}
    target.export(summary)
    ck = load_checkpoint(tmp_path / "tuned.pt")
    assert ck.exported and ck.stored_synth_defaults == {"sampler": "sde-e", "solver": "ei", "steps": 2,
                                                        "eta": "popov(0.3,0.3,0.85)", "t_start": None}
    assert ck.synth_defaults["eta"] == "popov(0.3,0.3,0.85)"
    # re-tuning the exported voice keeps its stored defaults that the search does not set
    ck.hyper_parameters["synth_defaults"]["temperature"] = 1.5
    torch.save({"hyper_parameters": ck.hyper_parameters, "state_dict": ck.state_dict, "levytts_export": ck.export},
               tmp_path / "tuned.pt")
    target2 = _tts((tmp_path / "tuned.pt", tts_ckpt[1]), tmp_path / "again", export_path=tmp_path / "t2.pt")
    assert target2.temperature == 1.5 and target2.settings()["temperature"] == 1.5
    target2.export({**summary, "best": "power(0.5)", "steps": 3})
    stored = load_checkpoint(tmp_path / "t2.pt").stored_synth_defaults
    assert stored["temperature"] == 1.5 and stored["eta"] == "power(0.5)" and stored["steps"] == 3


def test_tts_settings_name_the_search_and_wer_counts_unscored_words(tts_ckpt, tmp_path):
    target = _tts(tts_ckpt, tmp_path, metric="wer", max_utts=2, speakers=["bb"])
    assert target.direction == 1 and [u.utt_id for u in target.utts] == ["bb_001", "bb_003"]
    s = target.settings()
    assert s["metric"] == "wer" and s["utterances"] == ["bb_001", "bb_003"]
    assert s["checkpoint_file"]["bytes"] > 0 and len(s["checkpoint_file"]["sha256"]) == 64
    m, calls = target.evaluate(SamplerSpec("sde-e", "euler", 1, EtaSpec("power", p=0.5)), 3)
    assert calls == 2 and math.isfinite(m["wer"]) and m["wer"] >= 0


def test_bad_paths_and_options_are_one_line_errors(tts_ckpt, tmp_path):
    ckpt, filelist = tts_ckpt

    def args(**kw):
        return argparse.Namespace(**{"checkpoint": str(ckpt), "filelist": str(filelist), "out": str(tmp_path / "o"),
                                     "metric": None, "samples": 20000, "vocoder": "griffin-lim", **kw})

    with pytest.raises(FileNotFoundError, match="no such file or directory") as err:
        make_target(args(checkpoint=str(tmp_path / "missing.ckpt")))
    assert "\n" not in str(err.value)
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a levytts training checkpoint") as err:
        make_target(args(checkpoint=str(tmp_path / "junk.ckpt")))
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="needs --filelist"):
        make_target(args(filelist=None))
    with pytest.raises(UserError, match="unknown metric 'fd'"):
        make_target(args(metric="fd"))
    with pytest.raises(UserError, match="--speakers zz"):
        make_target(args(speakers=["zz"]))
    with pytest.raises(FileNotFoundError, match="model.ckpt not found"):
        make_target(args(checkpoint=str(tmp_path)))


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """An image run dir (untrained tiny UNet, as `levytts image train` saves it) with the classifier and the real set
    where `levytts image evaluate` finds them (the run dir's parent)."""
    import lightning as L

    from levytts.image.classifier import SmallClassifier
    from levytts.image.data import save_npz
    from levytts.image.fixtures import synthetic_images
    from levytts.image.module import ImageDiffusion

    exp = tmp_path_factory.mktemp("tune_image")
    torch.manual_seed(0)
    net = dict(in_channels=1, resolution=8, ch=8, ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[], dropout=0.0,
               class_cond=False, num_classes=10, time_scale=1000.0, norm_groups=8)
    diffusion = dict(kind="lim", alpha=1.8, schedule="cosine", s=0.008, T=0.9946, t_min=1e-5, loss="smooth_l1")
    model = ImageDiffusion(net, diffusion, optim={"lr": 1e-3})
    run_dir = exp / "lim_alpha1.8"
    run_dir.mkdir()
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                "pytorch-lightning_version": L.__version__, "epoch": 0, "global_step": 0}, run_dir / "model.ckpt")
    clf = SmallClassifier(1, 10)  # load_classifier builds the default feature size
    torch.save({"state_dict": clf.state_dict(), "in_channels": 1, "num_classes": 10}, exp / "classifier.pt")
    images, labels = synthetic_images(40, 1, 8)
    save_npz(exp / "data" / "train.npz", images=images, labels=labels)
    return run_dir


def test_image_target_fd_and_coverage(image_run, tmp_path):
    args = argparse.Namespace(checkpoint=str(image_run), out=str(tmp_path), metric=None, samples=24, batch_size=10)
    target = make_target(args)
    assert isinstance(target, ImageTarget) and target.metric == "fd" and target.direction == 1
    assert target.alpha == pytest.approx(1.8) and target.T == pytest.approx(0.9946)
    assert target.calls_per_run(3) == 4 * 3  # (N + 1) per batch of at most 10
    spec = SamplerSpec("sde-e", "euler", 3, EtaSpec("power", p=0.5))
    m1, calls = target.evaluate(spec, 0)
    assert calls == 12 and math.isfinite(m1["fd"]) and m1["fd"] >= 0 and 0 <= m1["coverage"] <= 1
    assert (tmp_path / "images" / f"{spec.dirname}_seed0.png").is_file()
    m2, _ = target.evaluate(spec, 0)
    m3, _ = target.evaluate(spec, 1)
    assert {k: v for k, v in m1.items() if k != "seconds"} == {k: v for k, v in m2.items() if k != "seconds"}
    assert m3["fd"] != m1["fd"]
    s = target.settings()
    assert s["samples"] == 24 and s["real"].endswith("train.npz") and len(s["classifier_file"]["sha256"]) == 64
    cov = make_target(argparse.Namespace(**{**vars(args), "metric": "coverage"}))
    assert cov.direction == -1
    with pytest.raises(UserError, match="unknown metric 'wer'"):
        make_target(argparse.Namespace(**{**vars(args), "metric": "wer"}))
    with pytest.raises(FileNotFoundError, match="real image set not found"):
        make_target(argparse.Namespace(**{**vars(args), "real": "test"}))
