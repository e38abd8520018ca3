"""Training and synthesis end to end on a tiny on-disk corpus (filelist, speakers, symbols, TextGrids)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from levytts.audio.io import save_wav
from levytts.cli import main as cli_main
from levytts.data import Utterance, write_filelist, write_speakers, write_textgrid
from levytts.text import SymbolTable, text_to_phones
from levytts.tts.train import compose_config, run

SR, HOP = 22050, 256
TEXTS = ["Hello world.", "Good morning to you.", "It is raining.", "See you soon.", "Thank you.", "One two three."]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Six utterances of two speakers: harmonic tones with even phone TextGrids (same layout as the real corpus)."""
    root = tmp_path_factory.mktemp("tts_corpus")
    rng = np.random.default_rng(0)
    utts = []
    for i, text in enumerate(TEXTS):
        spk = ["aa", "bb"][i % 2]
        phones = text_to_phones(text)
        dur = 0.08 * len(phones) + 0.1
        t = np.arange(int(dur * SR)) / SR
        f0 = 120.0 if spk == "aa" else 210.0
        audio = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) for k in range(1, 6))
        wav = root / "wavs" / spk / f"{spk}_{i:03d}.wav"
        save_wav(wav, 0.5 * audio * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)), SR)
        step = dur / len(phones)
        write_textgrid(root / "textgrids" / spk / f"{spk}_{i:03d}.TextGrid",
                       [(k * step, (k + 1) * step, p) for k, p in enumerate(phones)], duration=dur)
        utts.append(Utterance(str(wav), spk, text))
    (root / "filelists").mkdir()
    write_filelist(root / "filelists" / "train.txt", utts)
    write_filelist(root / "filelists" / "val.txt", utts[:2])
    write_speakers(root / "speakers.txt", ["aa", "bb"])
    SymbolTable.default().save(root / "symbols.json")
    return root


GRAD_TTS_TINY = ["model.encoder.n_channels=16", "model.encoder.filter_channels=32", "model.encoder.filter_channels_dp=16",
                 "model.encoder.n_layers=1"]
AVG_VOICE_TINY = ["model=avg_voice_small", "model.encoder.conv_channels=16", "model.encoder.lstm_hidden=8",
                  "model.encoder.dp_hidden=8"]


def tiny_cfg(corpus, run_dir, *extra, encoder=GRAD_TTS_TINY, experiment="offline_tiny"):
    return compose_config(tiny_overrides(corpus, run_dir, *extra, encoder=encoder, experiment=experiment))


def tiny_overrides(corpus, run_dir, *extra, encoder=GRAD_TTS_TINY, experiment="offline_tiny") -> list[str]:
    """The hydra overrides of the tiny run (also for `levytts train` in a subprocess, tests/test_crash_resume.py)."""
    return [
        f"experiment={experiment}", f"data.data_dir={corpus}", f"data.train_filelist_path={corpus}/filelists/train.txt",
        f"data.valid_filelist_path={corpus}/filelists/val.txt", "data.n_spks=2", f"run_dir={run_dir}", "trainer=cpu",
        f"data.pretrain_train_filelist_path={corpus}/filelists/train.txt", "data.pretrain_valid_filelist_path=null",
        *encoder, "model.decoder.dim=8", "model.spk_emb_dim=8", "train.batch_size=2",
        "train.segment_seconds=0.3", "train.checkpoint_every=2", "train.val_every=null",
        "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1", "train.num_threads=1", *extra]


def _state(path):
    return torch.load(path, map_location="cpu", weights_only=False)


def test_resume_reproduces_the_uninterrupted_run(corpus, tmp_path):
    straight = run(tiny_cfg(corpus, tmp_path / "a", "trainer.max_steps=4"))
    run(tiny_cfg(corpus, tmp_path / "b", "trainer.max_steps=2"))
    resumed = run(tiny_cfg(corpus, tmp_path / "b", "trainer.max_steps=4"))  # resume: auto → last.ckpt
    a, b = _state(straight), _state(resumed)
    assert a["global_step"] == b["global_step"] == 4
    assert (tmp_path / "a" / "checkpoints" / "step0000002.ckpt").is_file()
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
    for sa, sb in zip(a["optimizer_states"][0]["state"].values(), b["optimizer_states"][0]["state"].values()):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"])
    assert not any(p.name.startswith(".") for p in (tmp_path / "b" / "checkpoints").iterdir())  # no temp files left


def test_lr_decay_is_a_function_of_the_step_and_resumes_exactly(corpus, tmp_path):
    from levytts.tts.train import lr_at_step

    decay = "train.lr_decay={start:1,end:3,final:0.0}"
    assert [lr_at_step(1e-3, {"start": 1, "end": 3, "final": 0.0}, s) for s in (0, 1, 2, 3, 9)] == \
        pytest.approx([1e-3, 1e-3, 5e-4, 0.0, 0.0])
    straight = run(tiny_cfg(corpus, tmp_path / "a", "trainer.max_steps=5", decay))
    run(tiny_cfg(corpus, tmp_path / "b", "trainer.max_steps=2"))  # constant lr so far: the schedule starts at step 1
    resumed = run(tiny_cfg(corpus, tmp_path / "b", "trainer.max_steps=5", decay))  # the schedule added on resume
    a, b = _state(straight), _state(resumed)
    assert a["optimizer_states"][0]["param_groups"][0]["lr"] == 0.0
    step4 = _state(tmp_path / "a" / "checkpoints" / "step0000004.ckpt")
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
        if k.startswith("model.decoder"):
            assert torch.equal(v, step4["state_dict"][k]), k  # lr 0 from step 3 on: step 5 changes nothing
    with pytest.raises(ValueError, match="train.lr_decay needs 0 <= start < end"):
        tiny_cfg(corpus, tmp_path / "c", "train.lr_decay={start:5,end:5,final:0.0}")
    with pytest.raises(ValueError, match="train.lr_decay must be null or"):
        tiny_cfg(corpus, tmp_path / "c", "train.lr_decay={start:1,end:5}")


def test_non_finite_loss_step_is_skipped_and_counted(corpus, tmp_path, monkeypatch):
    from levytts.tts.model import LevyTTS

    original = LevyTTS.compute_loss
    calls = {"n": 0}

    def flaky(self, batch, stage="joint"):
        out = original(self, batch, stage)
        calls["n"] += 1
        if calls["n"] == 2:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(LevyTTS, "compute_loss", flaky)
    ckpt = _state(run(tiny_cfg(corpus, tmp_path / "c", "trainer.max_steps=3")))
    assert ckpt["levytts"]["skipped_steps"] == 1
    # Lightning still counts the skipped step (the optimiser runs with no gradients, changing nothing)
    assert ckpt["global_step"] == 3 and calls["n"] == 3
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())


def test_avg_voice_stages_and_synth_cli(corpus, tmp_path, capsys):
    enc = run(tiny_cfg(corpus, tmp_path / "enc", "trainer.max_steps=2", encoder=AVG_VOICE_TINY,
                       experiment="avg_voice_pretrain"))
    dec = run(tiny_cfg(corpus, tmp_path / "dec", "stage=decoder", f"model.encoder.pretrained={enc}",
                       "trainer.max_steps=2", "train.ema_decay=0.9", encoder=AVG_VOICE_TINY))
    e, d = _state(enc)["state_dict"], _state(dec)["state_dict"]
    for k in e:
        if k.startswith("model.encoder.") and e[k].is_floating_point():
            assert torch.equal(e[k], d[k]), f"frozen encoder weight {k} changed"
    assert any(k.startswith("ema.module.") for k in d)

    capsys.readouterr()  # drop the training printout
    assert cli_main(["synth", "--checkpoint", str(dec), "--list-speakers"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[0] for line in listing) == ["aa", "bb"] and "min of training speech" in listing[0]
    out = tmp_path / "x.wav"
    assert cli_main(["synth", "--checkpoint", str(dec), "--text", "Hello world. Thank you.", "--speaker", "bb",
                     "--steps", "2", "--vocoder", "griffin-lim", "--out", str(out), "--save-mel"]) == 0
    summary = capsys.readouterr().out
    assert "RTF decoder" in summary and "(N=2, ode/euler)," in summary  # plain sampler from T: nothing more named
    assert cli_main(["synth", "--checkpoint", str(dec), "--text", "Hello world.", "--speaker", "bb", "--steps", "2",
                     "--vocoder", "griffin-lim", "--out", str(tmp_path / "y.wav"), "--temperature", "1.5", "--t-start",
                     "0.5"]) == 0
    assert "(N=2, ode/euler, τ=1.5, t_start=0.5)," in capsys.readouterr().out
    import soundfile as sf

    audio, sr = sf.read(out)
    mel = np.load(out.with_suffix(".npy"))
    assert sr == SR and len(audio) == mel.shape[-1] * HOP and mel.shape[0] == 80
    assert cli_main(["synth", "--checkpoint", str(dec), "--text", "Hi", "--speaker", "zz", "--out", str(out)]) == 2
    assert "valid speakers: bb, aa" in capsys.readouterr().err  # most training minutes first
    assert cli_main(["synth", "--checkpoint", str(dec), "--text", "  ", "--speaker", "aa", "--out", str(out)]) == 2
    assert "empty text" in capsys.readouterr().err


def test_only_the_decoders_training_speakers_are_offered(corpus, tmp_path, capsys):
    """A decoder trained on speaker aa alone: --list-speakers names aa (with its minutes), and bb — in the speaker
    table but never learnt — is refused with a clear message instead of synthesising an untrained voice."""
    from levytts.data import read_filelist

    aa_only = tmp_path / "aa_train.txt"
    utts = [u for u in read_filelist(corpus / "filelists" / "train.txt") if u.speaker == "aa"]
    write_filelist(aa_only, utts)
    ckpt = run(tiny_cfg(corpus, tmp_path / "r", "trainer.max_steps=1", f"data.train_filelist_path={aa_only}"))
    minutes = _state(ckpt)["hyper_parameters"]["speaker_minutes"]
    import soundfile as sf

    assert list(minutes) == ["aa"]
    assert minutes["aa"] == pytest.approx(sum(sf.info(u.wav_path).duration for u in utts) / 60, abs=0.01)
    capsys.readouterr()
    assert cli_main(["synth", "--checkpoint", str(ckpt), "--list-speakers"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["aa"]
    out = tmp_path / "x.wav"
    assert cli_main(["synth", "--checkpoint", str(ckpt), "--text", "Hi there.", "--speaker", "bb", "--steps", "1",
                     "--vocoder", "griffin-lim", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "never trained" in err and "trained speakers: aa" in err and not out.exists()


def test_rare_speakers_are_marked(tmp_path):
    from levytts.tts.synth import TTS

    tts = TTS.__new__(TTS)  # the listing needs only the speaker table and minutes
    tts.speakers, tts.speaker_minutes = ["slt", "awb", "rms"], {"slt": 100.0, "awb": 1.0}
    assert tts.trained_speakers == ["slt", "awb"] and tts.rare_speakers() == ["awb"]
    lines = tts.speaker_listing().splitlines()
    assert lines[0].startswith("slt") and "(rare)" not in lines[0] and lines[1].endswith("(rare)")
    tts.speaker_minutes = None  # checkpoints from before the minutes were recorded: the whole table
    assert tts.trained_speakers == ["slt", "awb", "rms"] and tts.speaker_listing().split() == ["slt", "awb", "rms"]


def test_lazy_tts_export():
    import levytts
    from levytts.tts.synth import TTS

    assert levytts.TTS is TTS


def test_sampler_defaults_from_a_checkpoint():
    from levytts.tts.synth import SYNTH_DEFAULTS, sampler_defaults

    d = sampler_defaults({"solver": "ei", "steps": 4})
    assert d["solver"] == "ei" and d["steps"] == 4 and d["sampler"] == SYNTH_DEFAULTS["sampler"] and d["t_start"] is None
    assert sampler_defaults(None) == SYNTH_DEFAULTS
    with pytest.raises(ValueError, match="unknown sampler default.*solvr"):
        sampler_defaults({"solvr": "ei"})
