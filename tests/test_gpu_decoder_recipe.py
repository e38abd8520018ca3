"""egs/offline_imbalanced/gpu_decoder.py (pack → train → to-ckpt) end to end on the tiny corpus, on the CPU."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from test_tts_training import AVG_VOICE_TINY, _state, corpus, tiny_cfg  # noqa: F401  (corpus: the fixture)

SCRIPT = Path(__file__).resolve().parents[1] / "egs" / "offline_imbalanced" / "gpu_decoder.py"


@pytest.fixture(scope="module")
def gpu_decoder():
    spec = importlib.util.spec_from_file_location("gpu_decoder", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def decoder_run(corpus, tmp_path_factory):  # noqa: F811
    from levytts.tts.train import run

    root = tmp_path_factory.mktemp("gpu_recipe")
    enc = run(tiny_cfg(corpus, root / "enc", "trainer.max_steps=2", encoder=AVG_VOICE_TINY,
                       experiment="avg_voice_pretrain"))
    dec = run(tiny_cfg(corpus, root / "dec", "stage=decoder", f"model.encoder.pretrained={enc}", "trainer.max_steps=2",
                       "train.ema_decay=0.9", encoder=AVG_VOICE_TINY))
    return enc, dec, root


def test_pack_holds_the_training_split_as_levytts_train_reads_it(gpu_decoder, decoder_run):
    from levytts.data import read_filelist
    from levytts.text import SymbolTable
    from levytts.tts.checkpoint import load_checkpoint
    from levytts.tts.data import TTSDataset

    _, dec, root = decoder_run
    for split in (False, True):
        out = root / f"pack_{split}"
        gpu_decoder.main(["pack", str(dec), str(out)] + (["--split-mel"] if split else []))
        assert (out / "mel.xz").is_file() == split and (out / "hp.json").is_file()
        d = gpu_decoder.load_pack(str(out), "cpu", gpu_decoder.read_hp(str(out)))
        data = load_checkpoint(dec).cfg["data"]
        ds = TTSDataset(read_filelist(data["train_filelist_path"]), SymbolTable.load(data["symbols_file"]),
                        ["aa", "bb"], data, data["textgrid_dir"], add_blank=False, cache=False)
        assert len(d["id_len"]) == len(ds)
        for i in range(len(ds)):
            item = ds.load(i)
            L, T = int(d["id_len"][i]), int(d["mel_len"][i])
            assert torch.equal(d["ids"][i, :L], item["ids"]) and torch.equal(d["durs"][i, :L], item["durations"])
            assert T == item["mel"].shape[-1] and int(d["spk"][i]) == item["spk"]
            mel = item["mel"]
            half_step = (mel.amax(1) - mel.amin(1)).clamp_min(1e-6)[:, None] / 255 / 2
            assert ((d["mels"][i, :, :T] - mel).abs() <= half_step + 1e-5).all()  # uint8 per (utterance, bin)


def test_train_then_to_ckpt_gives_a_checkpoint_levytts_synthesises_from(gpu_decoder, decoder_run, tmp_path, capsys):
    from levytts.cli import main as cli_main
    from levytts.tts.checkpoint import load_checkpoint

    enc, dec, root = decoder_run
    pack = tmp_path / "pack"
    gpu_decoder.main(["pack", str(dec), str(pack), "--split-mel"])
    out = tmp_path / "out"
    gpu_decoder.main(["train", str(pack), str(out), "--alphas", "1.5", "2.0", "--batch", "2", "--steps", "3",
                      "--warmup", "1", "--device", "cpu", "--lr", "1e-2"])
    assert "done: 3 steps" in (out / "log.txt").read_text()
    ckpts = {}
    for alpha in ("1.5", "2.0"):
        ckpts[alpha] = tmp_path / f"a{alpha}.ckpt"
        gpu_decoder.main(["to-ckpt", str(out), alpha, str(pack), str(ckpts[alpha]), "--step-offset", "10"])
    ck = load_checkpoint(ckpts["1.5"])
    assert ck.global_step == 13 and ck.cfg["diffusion"]["alpha"] == 1.5
    assert load_checkpoint(ckpts["2.0"]).cfg["diffusion"]["alpha"] == 2.0
    shards = {**torch.load(out / "ema_a1.5_0.pt")["state"], **torch.load(out / "ema_a1.5_1.pt")["state"]}
    sd, trained = ck.state_dict, _state(dec)["state_dict"]
    for k, v in shards.items():  # the EMA decoder, as both copies
        assert torch.equal(sd[k], v) and torch.equal(sd["model." + k[len("ema.module."):]], v)
    assert any(not torch.equal(v, trained[k]) for k, v in shards.items())  # it trained
    enc_state = _state(enc)["state_dict"]
    for k in enc_state:  # the frozen encoder and the mel statistics, in both copies
        if k.startswith("model.encoder.") and enc_state[k].is_floating_point():
            assert torch.equal(sd[k], enc_state[k]) and torch.equal(sd["ema.module." + k[len("model."):]], enc_state[k])
    assert torch.equal(sd["ema.module.mel_mean"], trained["model.mel_mean"])
    wav = tmp_path / "x.wav"
    capsys.readouterr()
    assert cli_main(["synth", "--checkpoint", str(ckpts["1.5"]), "--text", "Hello world.", "--speaker", "aa",
                     "--steps", "2", "--vocoder", "griffin-lim", "--out", str(wav)]) == 0
    import soundfile as sf

    audio, _ = sf.read(wav)
    assert len(audio) > 0 and np.isfinite(audio).all()


def _error(gpu_decoder, argv, capsys) -> str:
    """The one line a bad call prints on stderr (argparse's usage line aside), with exit status 2."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        gpu_decoder.main(argv)
    assert exc.value.code == 2, exc.value.code
    lines = [x for x in capsys.readouterr().err.splitlines() if x and not x.startswith(("usage:", " "))]
    assert len(lines) == 1, lines
    return lines[0]


def test_errors_are_one_line(gpu_decoder, decoder_run, tmp_path, capsys):
    enc, dec, root = decoder_run
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        gpu_decoder.main(["fit"])
    assert exc.value.code == 2 and "usage: gpu_decoder.py" in capsys.readouterr().err
    gpu_decoder.main(["--help"])  # the module's documentation, exit 0
    assert "to-ckpt" in capsys.readouterr().out
    pack = tmp_path / "pack"
    gpu_decoder.main(["pack", str(dec), str(pack), "--split-mel"])
    out = str(tmp_path / "out")
    train = ["train", str(pack), out, "--steps", "1", "--batch", "2", "--device", "cpu"]
    # arguments, checked before anything is read or written
    assert "each α once" in _error(gpu_decoder, train + ["--alphas", "1.5", "1.5"], capsys)
    assert "alpha must be in [0.5, 2], got 2.5" in _error(gpu_decoder, train + ["--alphas", "2.5"], capsys)
    assert "alpha must be in [0.5, 2], got 0.0" in _error(gpu_decoder, train + ["--alphas", "0"], capsys)
    assert "must be finite and > 0, got 0" in _error(gpu_decoder, train + ["--batch", "0"], capsys)
    assert "must be finite and > 0, got -5" in _error(gpu_decoder, ["train", str(pack), out, "--budget", "-5"], capsys)
    assert "must be finite and > 0, got inf" in _error(gpu_decoder, train + ["--lr", "inf"], capsys)
    assert "must be in [0, " in _error(gpu_decoder, train + ["--seed", "9" * 30], capsys)
    assert "cpu or cuda" in _error(gpu_decoder, train + ["--device", "meta"], capsys)
    if not torch.cuda.is_available():
        assert "sees 0 CUDA device(s)" in _error(gpu_decoder, train + ["--device", "cuda"], capsys)
    # files
    assert "no pack directory" in _error(gpu_decoder, ["train", str(tmp_path / "nope"), out, "--steps", "1"], capsys)
    assert "has no hp.json" in _error(gpu_decoder, ["train", str(tmp_path), out, "--steps", "1"], capsys)
    bad = tmp_path / "bad_pack"
    bad.mkdir()
    (bad / "hp.json").write_text((pack / "hp.json").read_text())
    (bad / "pack.npz").write_bytes((pack / "pack.npz").read_bytes())  # mel.xz not copied along
    assert "has no mel.xz" in _error(gpu_decoder, ["train", str(bad), out, "--steps", "1", "--device", "cpu"], capsys)
    assert not Path(out).exists()  # nothing written before the checks
    assert "--init: no file" in _error(gpu_decoder, train + ["--init", str(tmp_path / "x.pt")], capsys)
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    assert "is not a torch file" in _error(gpu_decoder, train + ["--init", str(tmp_path / "garbage.pt")], capsys)
    assert "no checkpoint file" in _error(gpu_decoder, ["pack", str(tmp_path / "no.ckpt"), str(tmp_path / "p")], capsys)
    assert "pack a stage=decoder run" in _error(gpu_decoder, ["pack", str(enc), str(tmp_path / "p")], capsys)
    line = _error(gpu_decoder, ["to-ckpt", str(tmp_path), "1.8", str(pack), str(tmp_path / "x.ckpt")], capsys)
    assert line.startswith("gpu_decoder.py to-ckpt: error: no shard") and "ema_a1.8_0.pt" in line
    assert "is a directory" in _error(gpu_decoder, ["to-ckpt", str(tmp_path), "1.8", str(pack), str(tmp_path)], capsys)
    assert "must be in [0, " in _error(gpu_decoder, ["to-ckpt", str(tmp_path), "1.8", str(pack), "x.ckpt",
                                                     "--step-offset", "-3"], capsys)
    assert "is a directory" in _error(gpu_decoder, ["to-ckpt", str(tmp_path), "1.8", str(pack),
                                                    str(tmp_path / "new") + "/"], capsys)
    (tmp_path / "afile").write_text("x")
    assert "is a file, not a directory" in _error(gpu_decoder, ["pack", str(dec), str(tmp_path / "afile")], capsys)
    # a damaged pack
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "hp.json").write_text((pack / "hp.json").read_text())
    (broken / "pack.npz").write_bytes((pack / "pack.npz").read_bytes()[:300])
    assert "damaged pack" in _error(gpu_decoder, ["train", str(broken), out, "--steps", "1", "--device", "cpu"], capsys)
    (broken / "hp.json").write_text('{"cfg": {}}')
    assert "is not a pack's hp.json (KeyError" in _error(gpu_decoder, ["train", str(broken), out, "--steps", "1"], capsys)
    assert not Path(out).exists()


def test_init_from_a_training_checkpoint_short_runs_and_mixed_shards(gpu_decoder, decoder_run, tmp_path, capsys):
    import json

    from levytts.tts.checkpoint import load_checkpoint

    enc, dec, _ = decoder_run
    pack = tmp_path / "pack"
    gpu_decoder.main(["pack", str(dec), str(pack)])
    assert json.loads((pack / "hp.json").read_text())["encoder_digest"]["sha256"]
    out = tmp_path / "out"
    # --init with the packed run's own checkpoint, zero learning rate: the decoders start (and stay) at its EMA
    gpu_decoder.main(["train", str(pack), str(out), "--alphas", "1.5", "--batch", "2", "--steps", "2", "--device",
                      "cpu", "--lr", "1e-30", "--final-lr", "1e-30", "--init", str(dec)])
    log = (out / "log.txt").read_text()
    assert "init from" in log and "step 2 a1.5 loss" in log  # a run shorter than 250 steps still reports its loss
    shard = {**torch.load(out / "ema_a1.5_0.pt")["state"], **torch.load(out / "ema_a1.5_1.pt")["state"]}
    trained = _state(dec)["state_dict"]
    assert shard and all(torch.allclose(v, trained[k].float()) for k, v in shard.items())
    # --init with a shard train wrote: both halves are read, the same weights again
    out2 = tmp_path / "out2"
    gpu_decoder.main(["train", str(pack), str(out2), "--alphas", "1.5", "--batch", "2", "--steps", "1", "--device",
                      "cpu", "--lr", "1e-30", "--final-lr", "1e-30", "--init", str(out / "ema_a1.5_1.pt")])
    shard2 = {**torch.load(out2 / "ema_a1.5_0.pt")["state"], **torch.load(out2 / "ema_a1.5_1.pt")["state"]}
    assert shard2.keys() == shard.keys() and all(torch.allclose(shard2[k], v) for k, v in shard.items())
    ck_path = tmp_path / "a.ckpt"
    gpu_decoder.main(["to-ckpt", str(out), "1.5", str(pack), str(ck_path), "--step-offset", "2"])
    sd = load_checkpoint(ck_path).state_dict
    assert int(sd["ema.n_averaged"]) == 2 + 2 and int(sd["skipped_steps"]) == 0  # the EMA count carries over
    # the halves of two runs, one half copied over the other, a half of a later snapshot: refused, nothing written
    half1 = (out / "ema_a1.5_1.pt").read_bytes()
    (out / "ema_a1.5_1.pt").write_bytes((out2 / "ema_a1.5_1.pt").read_bytes())
    line = _error(gpu_decoder, ["to-ckpt", str(out), "1.5", str(pack), str(tmp_path / "b.ckpt")], capsys)
    assert "the shards disagree on run" in line
    (out / "ema_a1.5_1.pt").write_bytes((out / "ema_a1.5_0.pt").read_bytes())
    assert "both shards hold" in _error(gpu_decoder, ["to-ckpt", str(out), "1.5", str(pack), str(tmp_path / "b.ckpt")], capsys)
    (out / "ema_a1.5_1.pt").write_bytes(half1)
    part = torch.load(out / "ema_a1.5_1.pt")
    part["step"] = 7
    torch.save(part, out / "ema_a1.5_1.pt")
    line = _error(gpu_decoder, ["to-ckpt", str(out), "1.5", str(pack), str(tmp_path / "b.ckpt")], capsys)
    assert "the shards disagree on step: 2" in line
    part["step"] = 2
    part["state"] = {k: v for k, v in list(part["state"].items())[1:]}  # a weight lost
    torch.save(part, out / "ema_a1.5_1.pt")
    assert "1 weight(s) missing" in _error(gpu_decoder, ["to-ckpt", str(out), "1.5", str(pack), str(tmp_path / "b.ckpt")], capsys)
    part = torch.load(out / "ema_a1.5_0.pt")
    next(iter(part["state"].values()))[0] = float("nan")
    torch.save(part, out / "ema_a1.5_0.pt")
    assert "non-finite" in _error(gpu_decoder, ["to-ckpt", str(out), "1.5", str(pack), str(tmp_path / "b.ckpt")], capsys)
    assert not (tmp_path / "b.ckpt").exists()
    # the frozen encoder must be the packed run's: another file under its name is refused
    hp = json.loads((pack / "hp.json").read_text())
    sha, hp["encoder_digest"]["sha256"] = hp["encoder_digest"]["sha256"], "0" * 64
    (pack / "hp.json").write_text(json.dumps(hp))
    assert "SHA-256 differs" in _error(gpu_decoder, ["train", str(pack), str(tmp_path / "o3"), "--steps", "1",
                                                     "--device", "cpu"], capsys)
    assert not (tmp_path / "o3").exists()
    hp["encoder_digest"]["sha256"] = sha
    (pack / "hp.json").write_text(json.dumps(hp))
    # a budget that ends before the step time is measured stops at the budget
    gpu_decoder.main(["train", str(pack), str(tmp_path / "short"), "--alphas", "2", "--batch", "2", "--budget",
                      "0.05", "--device", "cpu"])
    assert "the budget ended at step" in (tmp_path / "short" / "log.txt").read_text()
    assert (tmp_path / "short" / "ema_a2.0_0.pt").is_file()
