"""levytts.tts.checkpoint and `levytts export`: export → load round trip on a tiny model, EMA vs raw weights,
one-line errors for bad files and options, the bundled voice re-exported unchanged, and the import layering
(levytts.pretrained is a leaf; checkpoint imports nothing else of levytts.tts)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from levytts.cli import main as cli_main
from levytts.pretrained import demo_voice_path
from levytts.tts.checkpoint import SYNTH_DEFAULTS, Checkpoint, export_checkpoint, load_checkpoint

SPEAKERS = ["aa", "bb", "cc"]
MINUTES = {"aa": 0.5, "bb": 2.0}  # cc: in the table, never trained; bb has the most minutes


@pytest.fixture(scope="module")
def train_ckpt(tmp_path_factory):
    """A training-format checkpoint of a tiny Grad-TTS model with EMA weights that differ from the raw ones
    (built directly, no training: the layout `levytts train` writes)."""
    from levytts.text import SymbolTable
    from levytts.tts.lightning import TTSLightning
    from levytts.tts.train import compose_config

    torch.manual_seed(0)
    cfg = compose_config(["experiment=offline_tiny", "model.encoder.n_channels=16", "model.encoder.filter_channels=32",
                          "model.encoder.filter_channels_dp=16", "model.encoder.n_layers=1", "model.decoder.dim=8",
                          "model.spk_emb_dim=8", "data.n_spks=3", "train.ema_decay=0.9"])
    module = TTSLightning(cfg, SymbolTable.default().to_dict(), SPEAKERS, add_blank=True, speaker_minutes=MINUTES)
    for model in (module.model, module.ema.module):
        model.set_mel_statistics(torch.tensor(-5.0), torch.tensor(2.0))
    with torch.no_grad():
        for p in module.ema.module.parameters():
            p.add_(0.01)
    path = tmp_path_factory.mktemp("ckpt") / "last.ckpt"
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict(), "global_step": 7,
                "optimizer_states": [{"state": {}}], "levytts": {"format": 1}}, path)
    return path


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k].float(), b[k].float()) for k in a)


def test_training_checkpoint_is_read(train_ckpt):
    ckpt = load_checkpoint(train_ckpt)
    assert not ckpt.exported and ckpt.global_step == 7 and ckpt.speakers == SPEAKERS and ckpt.add_blank
    assert list(ckpt.speaker_minutes) == ["bb", "aa"]  # most training minutes first
    assert ckpt.stored_synth_defaults == {} and ckpt.synth_defaults == SYNTH_DEFAULTS
    ema, raw = ckpt.weights(use_ema=True), ckpt.weights(use_ema=False)
    assert ema.keys() == raw.keys() and not _equal(ema, raw)
    assert _equal(ema, {k[len("ema.module."):]: v for k, v in ckpt.state_dict.items() if k.startswith("ema.module.")})


def test_export_load_round_trip(train_ckpt, tmp_path):
    from levytts.tts.synth import TTS

    out = export_checkpoint(train_ckpt, tmp_path / "voice.pt", synth_defaults={"solver": "ei", "steps": 4}, note="n")
    ckpt = load_checkpoint(out)
    src = load_checkpoint(train_ckpt)
    assert ckpt.exported and ckpt.export == {"source": "last.ckpt", "dtype": "torch.float16", "note": "n"}
    assert ckpt.speakers == src.speakers and ckpt.speaker_minutes == src.speaker_minutes and ckpt.symbols == src.symbols
    assert ckpt.synth_defaults == {**SYNTH_DEFAULTS, "solver": "ei", "steps": 4} and ckpt.global_step == 7
    assert ckpt.cfg["model"]["encoder"]["pretrained"] is None
    raw = torch.load(out, map_location="cpu", weights_only=True)
    assert set(raw) == {"hyper_parameters", "state_dict", "global_step", "levytts_export"}  # no optimiser state
    assert all(k.startswith("model.") for k in raw["state_dict"])
    w = ckpt.weights()
    assert w["mel_mean"].dtype == torch.float32 and w["mel_mean"].item() == -5.0  # scalars stay float32
    assert all(v.dtype == torch.float16 for v in w.values() if v.is_floating_point() and v.numel() > 1)
    # float32: the EMA weights exactly; TTS loads both formats to the same model
    exact = load_checkpoint(export_checkpoint(train_ckpt, tmp_path / "v32.pt", dtype=torch.float32))
    assert _equal(exact.weights(), src.weights(use_ema=True))
    a, b = TTS(train_ckpt, vocoder=None), TTS(tmp_path / "v32.pt", vocoder=None)
    assert _equal(a.model.state_dict(), b.model.state_dict()) and b.trained_speakers == ["bb", "aa"]
    assert TTS(out, vocoder=None).defaults["solver"] == "ei"
    mel = b.synth("Hi there.", speaker="bb", steps=1)["mel"]
    assert mel.ndim == 2 and torch.isfinite(mel).all()


def test_exported_file_is_a_pretrained_encoder(train_ckpt, tmp_path):
    """Stage 4's --encoder accepts an exported voice (e.g. the bundled one): its model.* encoder weights are copied."""
    from levytts.tts.lightning import TTSLightning

    out = load_checkpoint(export_checkpoint(train_ckpt, tmp_path / "v32.pt", dtype=torch.float32))
    cfg = dict(out.cfg, model=dict(out.cfg["model"], encoder=dict(out.cfg["model"]["encoder"], pretrained=str(out.path))))
    module = TTSLightning(cfg, out.symbols, out.speakers, add_blank=True)
    enc = {k[len("encoder."):]: v for k, v in out.weights().items() if k.startswith("encoder.")}
    assert _equal(module.model.encoder.state_dict(), enc)


def test_export_cli(train_ckpt, tmp_path, capsys):
    out = tmp_path / "raw.pt"
    assert cli_main(["export", "--checkpoint", str(train_ckpt), "--out", str(out), "--dtype", "float32", "--no-ema",
                     "--note", "stage 8", "--synth-defaults", "solver=ei", "steps=4", "t-start=0.5", "eta=popov:0.3,0.3"]) == 0
    assert str(out) in capsys.readouterr().out
    ckpt = load_checkpoint(out)
    assert ckpt.stored_synth_defaults == {"solver": "ei", "steps": 4, "t_start": 0.5, "eta": "popov:0.3,0.3"}
    assert ckpt.export["note"] == "stage 8" and _equal(ckpt.weights(), load_checkpoint(train_ckpt).weights(use_ema=False))
    # re-export without --synth-defaults keeps the stored ones
    assert cli_main(["export", "--checkpoint", str(out), "--out", str(tmp_path / "again.pt")]) == 0
    assert load_checkpoint(tmp_path / "again.pt").stored_synth_defaults == ckpt.stored_synth_defaults
    capsys.readouterr()
    for bad, said in (["steps=0"], "steps=0"), (["solver=rk4"], "choose solver"), (["temprature=1.5"], "KEY=VALUE"), \
            (["steps"], "KEY=VALUE"), (["eta=popov:x"], "bad --eta"), (["t_start=5"], "must lie in (0.001, T="), \
            (["guidance=2"], "trained without diffusion.cond_dropout"), (["guidance=-1"], "guidance=-1"), \
            (["steps=4", "solver=ei", "steps=10"], "steps is given more than once"), \
            (["t-start=0.5", "t_start=none"], "t_start is given more than once"):
        bad_out = tmp_path / "bad.pt"
        assert cli_main(["export", "--checkpoint", str(train_ckpt), "--out", str(bad_out), "--synth-defaults", *bad]) == 2
        err = capsys.readouterr().err
        assert said in err and len(err.strip().splitlines()) == 1 and not bad_out.exists(), (bad, err)


@pytest.mark.parametrize("command", ["export", "synth"])
def test_bad_checkpoint_path_is_a_one_line_error(tmp_path, capsys, command):
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_text("not a checkpoint\n" * 20)
    extra = ["--out", str(tmp_path / "o.pt")] if command == "export" else ["--list-speakers"]
    for path, said in ((tmp_path / "missing.ckpt", "checkpoint not found"), (garbage, "not a levytts training checkpoint")):
        capsys.readouterr()
        assert cli_main([command, "--checkpoint", str(path), *extra]) == 2
        err = capsys.readouterr().err
        assert said in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.pt").exists()


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.ckpt")
    torch.save({"weights": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a levytts training checkpoint.*no hyper_parameters"):
        load_checkpoint(tmp_path / "bad.pt")
    torch.save({"hyper_parameters": {"cfg": {}}, "state_dict": {}}, tmp_path / "partial.pt")
    with pytest.raises(ValueError, match="lack symbols, speakers, add_blank"):
        load_checkpoint(tmp_path / "partial.pt")


def test_bundled_voice_re_exports_unchanged(tmp_path):
    """Export of the bundled voice's own loaded state: the same speakers, minutes, sampler defaults and weights."""
    voice = load_checkpoint(demo_voice_path())
    assert isinstance(voice, Checkpoint) and voice.exported
    again = load_checkpoint(export_checkpoint(voice, tmp_path / "again.pt", note=voice.export.get("note", "")))
    assert again.synth_defaults == voice.synth_defaults and again.stored_synth_defaults == voice.stored_synth_defaults
    assert again.speakers == voice.speakers and again.speaker_minutes == voice.speaker_minutes
    assert again.symbols == voice.symbols and again.cfg == voice.cfg and again.global_step == voice.global_step
    a, b = voice.weights(), again.weights()
    assert a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


def _modules_after(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout.split()
    return [m for m in out if m.startswith("levytts") or m == "torch"]


def test_import_layering():
    assert _modules_after("import levytts.pretrained") == ["levytts", "levytts.pretrained"]  # a leaf: not even torch
    loaded = _modules_after("import levytts.tts.checkpoint")
    assert not [m for m in loaded if m.startswith("levytts.tts.") and m != "levytts.tts.checkpoint"], loaded
    assert "levytts.tts.synth" in _modules_after("import levytts.tts.synth")


def test_synth_imports_levytts_at_module_top():
    """levytts.tts.synth takes every levytts import at module top (no import cycle hidden inside a function)."""
    import ast
    from pathlib import Path

    import levytts.tts.synth as synth

    tree = ast.parse(Path(synth.__file__).read_text())
    inner = [node.lineno for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
             for node in ast.walk(fn) if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("levytts")]
    assert inner == [], f"levytts imports inside functions of levytts/tts/synth.py at lines {inner}"


def test_python_m_levytts():
    proc = subprocess.run([sys.executable, "-m", "levytts", "export", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--synth-defaults" in proc.stdout and proc.stdout.startswith("usage: levytts export")
    proc = subprocess.run([sys.executable, "-m", "levytts", "nosuch"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown command" in proc.stderr
