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
    ("--train-seed", "two", "--train-seed takes an integer in [0, 2^32), got 'two'"),
    ("--train-seed", "-1", "--train-seed takes an integer in [0, 2^32), got '-1'"),
    ("--train-seed", "99999999999", "--train-seed takes an integer in [0, 2^32)"),
    ("--dec-lr-decay", "15000:20000", "--dec-lr-decay takes START:END:FINAL_LR"),
    ("--dec-lr-decay", "a:b:c", "--dec-lr-decay takes START:END:FINAL_LR"),
    ("--dec-lr-decay", "20000:15000:1e-5", "START must be below END"),
    ("--dec-lr-decay", None, "--dec-lr-decay needs a value"),
    ("--train-seed", None, "--train-seed needs a value"),
])
def test_bad_decoder_options_are_one_line_errors_before_any_stage(recipe, tmp_path, option, value, message):
    proc = _run(recipe, tmp_path, option, *([] if value is None else [value]))
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "calls.txt").exists()   # nothing ran


def test_several_rare_speakers_stages_3_to_7_use_the_multi_splits(tmp_path):
    """--rare with several items: the encoder trains on average_voice_multi, the decoders on imbalanced_multi, and
    synthesis / eval / tables use EXP_multi and every speaker (frequent first), in the order of --rare."""
    recipe = RECIPES[0]
    data, exp = tmp_path / "data", tmp_path / "exp"
    multi = tmp_path / "exp_multi"
    (multi / "avg_voice" / "checkpoints").mkdir(parents=True)
    (multi / "avg_voice" / "checkpoints" / "last.ckpt").write_bytes(b"x")   # what stage 3 would have written
    (multi / "results_tables.md").write_text("tables\n")                   # what `imbalanced table` would write
    proc = _run(recipe, tmp_path, "--stage", "3", "--stop-stage", "7", "--rare", "rms:9.5 kal:3 awb:1",
                "--data-dir", str(data), "--exp-dir", str(exp), "--alphas", "2.0 1.5", "--seeds", "0", "--jobs", "1",
                "--conditions", "ode:euler:10 mu", "--train-seed", "3")
    assert proc.returncode == 0, proc.stderr[-2000:]
    calls = _train_calls(tmp_path)
    assert [c[:2] for c in calls] == [["train", "experiment=offline_avg_voice"]] + \
        [["train", "experiment=offline_decoder_conv1d"]] * 2 + [["imbalanced", "test-list"]] + \
        [["imbalanced", "synth"]] * 2 + [["eval", "--synth-dir"]] * 2 + [["imbalanced", "table"]]
    enc, dec = calls[0], calls[1]
    assert f"data.pretrain_train_filelist_path={data}/average_voice_multi/filelists/train.txt" in enc
    assert f"run_dir={multi}/avg_voice" in enc and "seed=3" not in enc          # the training seed is stage 4's
    assert f"data.train_filelist_path={data}/imbalanced_multi/filelists/train.txt" in dec
    assert f"data.valid_filelist_path={data}/imbalanced_multi/filelists/val.txt" in dec
    assert f"model.encoder.pretrained={multi}/avg_voice/checkpoints/last.ckpt" in dec and "seed=3" in dec
    assert f"run_dir={multi}/decoder_a2.0" in dec
    test_list = calls[3]
    assert f"{data}/imbalanced_multi/filelists/test.txt" in test_list
    assert test_list[test_list.index("--speakers") + 1:test_list.index("--speakers") + 5] == ["slt", "rms", "kal", "awb"]
    table = calls[-1]
    assert table[table.index("--speakers") + 1:table.index("--speakers") + 5] == ["slt", "rms", "kal", "awb"]
    assert f"{data}/imbalanced_multi/summary.json" not in table   # no split summary there: the tables go without minutes
    assert not exp.exists()                                       # the one-rare experiment dir is not touched
