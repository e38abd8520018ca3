"""Stage 4's --train-seed and --dec-lr-decay in both imbalanced recipes (egs/common/imbalanced_stages.sh): the
`levytts train` command they build (a recording stand-in for the levytts executable) and their one-line errors."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPES = [ROOT / "egs" / "offline_imbalanced" / "run.sh", ROOT / "egs" / "ljspeech_hifitts9017" / "run.sh"]


def _recorder(tmp_path: Path) -> tuple[Path, Path]:
    """A `levytts` stand-in that appends its arguments (one per line, then '--') to calls.txt."""
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "levytts"
    fake.write_text(f'#!/bin/bash\nfor a in "$@"; do echo "$a"; done >> {calls}\necho -- >> {calls}\necho trained\n')
    fake.chmod(0o755)
    return fake, calls


def _run(recipe: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    fake, _ = _recorder(tmp_path)
    env = dict(os.environ, PYTHON=sys.executable, LEVYTTS=str(fake))
    return subprocess.run(["bash", str(recipe), *args], capture_output=True, text=True, env=env, timeout=120)


def _encoder_args(recipe: Path, tmp_path: Path) -> list[str]:
    """The frozen encoder stage 4 needs: --encoder (offline recipe) or stage 3's last.ckpt (paper recipe)."""
    if "ljspeech" in recipe.parent.name:
        enc = tmp_path / "exp" / "avg_voice" / "checkpoints" / "last.ckpt"
        enc.parent.mkdir(parents=True)
        enc.write_bytes(b"x")
        return ["--ljspeech", "L", "--hifitts", "H", "--libritts", "T", "--exp-dir", str(tmp_path / "exp")]
    enc = tmp_path / "enc.ckpt"
    enc.write_bytes(b"x")
    return ["--encoder", str(enc), "--exp-dir", str(tmp_path / "exp")]


def _train_calls(tmp_path: Path) -> list[list[str]]:
    text = (tmp_path / "calls.txt").read_text()
    return [c.strip("\n").split("\n") for c in text.split("--\n") if c.strip()]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.parent.name)
def test_train_seed_and_lr_decay_reach_levytts_train(recipe, tmp_path):
    extra = _encoder_args(recipe, tmp_path)
    proc = _run(recipe, tmp_path, *extra, "--stage", "4", "--stop-stage", "4", "--alphas", "2.0 1.5", "--jobs", "1",
                "--dec-steps", "20000",
                "--train-seed", "2", "--dec-lr-decay", "15000:20000:1e-5")
    assert proc.returncode == 0, proc.stderr[-2000:]
    calls = _train_calls(tmp_path)
    assert [c[0] for c in calls] == ["train", "train"]
    for call, a in zip(calls, ("2.0", "1.5")):
        assert f"diffusion.alpha={a}" in call
        assert "seed=2" in call and "trainer.max_steps=20000" in call
        assert "train.lr_decay={start:15000,end:20000,final:1e-5}" in call
        assert any(a.startswith("model.encoder.pretrained=") and a.endswith("ckpt") for a in call)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.parent.name)
def test_without_the_options_the_config_decides(recipe, tmp_path):
    extra = _encoder_args(recipe, tmp_path)
    proc = _run(recipe, tmp_path, *extra, "--stage", "4", "--stop-stage", "4", "--alphas", "1.5", "--jobs", "1",
)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (call,) = _train_calls(tmp_path)
    assert not [a for a in call if a.startswith(("seed=", "train.lr_decay="))]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("option,value,message", [
    ("--train-seed", "two", "--train-seed takes a non-negative integer, got 'two'"),
    ("--train-seed", "-1", "--train-seed takes a non-negative integer, got '-1'"),
    ("--dec-lr-decay", "15000:20000", "--dec-lr-decay takes START:END:FINAL_LR"),
    ("--dec-lr-decay", "a:b:c", "--dec-lr-decay takes START:END:FINAL_LR"),
])
def test_bad_decoder_options_are_one_line_errors_before_any_stage(recipe, tmp_path, option, value, message):
    proc = _run(recipe, tmp_path, option, value)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "calls.txt").exists()   # nothing ran
