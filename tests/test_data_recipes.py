"""tools/mfa_align.sh end to end with a stand-in `mfa`, and the offline recipe's data stages (slow)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from levytts.data import Utterance, read_filelist, write_filelist

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_mfa_align_script_with_stand_in_aligner(tmp_path, stand_in_mfa):
    wav = tmp_path / "wavs" / "LJ001-0001.wav"
    wav.parent.mkdir()
    sf.write(str(wav), np.zeros(22050), 22050)
    write_filelist(tmp_path / "list.txt", [Utterance(str(wav), "lj", "Hello, Dr. Smith!")])
    env = dict(os.environ, PATH=f"{stand_in_mfa}:{os.environ['PATH']}", LEVYTTS=str(BIN / "levytts"))
    proc = subprocess.run(["bash", str(ROOT / "tools" / "mfa_align.sh"), str(tmp_path / "list.txt"), str(tmp_path / "out")],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "mfa_corpus" / "lj" / "LJ001-0001.lab").read_text() == "hello doctor smith\n"
    assert (tmp_path / "out" / "mfa_corpus" / "lj" / "LJ001-0001.wav").resolve() == wav.resolve()
    assert "1 ok, 0 bad" in proc.stdout
    env["PATH"] = "/usr/bin:/bin"
    proc = subprocess.run(["bash", str(ROOT / "tools" / "mfa_align.sh"), str(tmp_path / "list.txt"), str(tmp_path / "o2")],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "conda" in proc.stderr


@pytest.mark.slow
def test_offline_recipe_small_data_stages(tmp_path):
    if shutil.which("flite") is None:
        pytest.skip("flite not installed")
    data = tmp_path / "offline"
    env = dict(os.environ, PYTHON=sys.executable, LEVYTTS=str(BIN / "levytts"))
    proc = subprocess.run(["bash", str(ROOT / "egs" / "offline_imbalanced" / "run.sh"), "--small", "true",
                           "--data-dir", str(data), "--stop-stage", "2"], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    train = read_filelist(data / "imbalanced" / "filelists" / "train.txt")
    assert {u.speaker for u in train} == {"slt", "awb"}
    assert {u.speaker for u in read_filelist(data / "average_voice" / "filelists" / "train.txt")} == {"rms"}
    test_texts = set((data / "test_sentences.txt").read_text().splitlines())
    assert {u.text for u in read_filelist(data / "imbalanced" / "filelists" / "test.txt")} <= test_texts
    assert not {u.text for u in train} & test_texts
    assert proc.stdout.count("0 bad") == 6
