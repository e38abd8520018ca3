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
        d = gpu_decoder.load_pack(str(out), "cpu")
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


def test_errors_are_one_line(gpu_decoder, decoder_run, tmp_path):
    with pytest.raises(SystemExit, match="usage: gpu_decoder.py"):
        gpu_decoder.main(["fit"])
    with pytest.raises(SystemExit, match="no shard .*ema_a1.8_0.pt"):
        gpu_decoder.main(["to-ckpt", str(tmp_path), "1.8", str(tmp_path), str(tmp_path / "x.ckpt")])
