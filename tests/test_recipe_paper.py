"""egs/ljspeech_hifitts9017/run.sh data stages 0-2 on tiny LJSpeech / HiFi-TTS / LibriTTS fixtures in their
real on-disk layouts (the corpora are not on this machine), with a stand-in `mfa` for stage 2."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from levytts.data import read_filelist, read_speakers

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()


def _wav(path: Path, seconds: float, sr: int, fmt: str = "WAV") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), 0.2 * np.sin(2 * np.pi * 180 * t), sr, format=fmt)


def _text(i: int) -> str:
    return f"{WORDS[i % len(WORDS)].capitalize()} {WORDS[(3 * i + 1) % len(WORDS)]} number {i}."


def make_corpora(root: Path) -> dict[str, Path]:
    """LJSpeech-1.1 (metadata.csv + wavs/), HiFi-TTS (<spk>_manifest_clean_train.json + audio/ FLAC 44.1 kHz),
    LibriTTS (<subset>/<spk>/<chapter>/<spk>_<chapter>_<utt>.{wav,normalized.txt} at 24 kHz)."""
    lj = root / "LJSpeech-1.1"
    rows = []
    for i in range(12):
        _wav(lj / "wavs" / f"LJ001-{i:04d}.wav", 1.0, 22050)
        rows.append(f"LJ001-{i:04d}|{_text(i)}|{_text(i)}")
    (lj / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    hifi = root / "hi_fi_tts_v0"
    lines = []
    for i in range(6):
        rel = f"audio/9017_clean/1/book_{i:04d}.flac"
        _wav(hifi / rel, 1.0, 44100, "FLAC")
        lines.append(json.dumps({"audio_filepath": rel, "text": _text(100 + i), "text_normalized": _text(100 + i),
                                 "duration": 1.0}))
    (hifi / "9017_manifest_clean_train.json").write_text("\n".join(lines) + "\n")
    (hifi / "92_manifest_clean_train.json").write_text(json.dumps(  # another speaker: filtered out
        {"audio_filepath": "audio/92_clean/x.flac", "text": "Other.", "duration": 1.0}) + "\n")
    libri = root / "LibriTTS"
    for spk in ("19", "26"):
        for i in range(4):
            stem = f"{spk}_198_{i:06d}_000000"
            _wav(libri / "train-clean-100" / spk / "198" / f"{stem}.wav", 1.0, 24000)
            (libri / "train-clean-100" / spk / "198" / f"{stem}.normalized.txt").write_text(_text(200 + i + int(spk)))
    return {"ljspeech": lj, "hifitts": hifi, "libritts": libri}


def _run_recipe(tmp_path: Path, stop_stage: int, mfa_bin: Path) -> tuple[subprocess.CompletedProcess, Path]:
    corpora = make_corpora(tmp_path / "corpora")
    data = tmp_path / "data"
    env = dict(os.environ, PATH=f"{mfa_bin}:{os.environ['PATH']}", PYTHON=sys.executable,
               LEVYTTS=str(BIN / "levytts"))
    cmd = ["bash", str(ROOT / "egs" / "ljspeech_hifitts9017" / "run.sh"), "--ljspeech", str(corpora["ljspeech"]),
           "--hifitts", str(corpora["hifitts"]), "--libritts", str(corpora["libritts"]), "--data-dir", str(data),
           "--n-test", "2", "--n-val", "1", "--stop-stage", str(stop_stage)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, data


def test_paper_recipe_data_stages_on_fixtures(tmp_path, stand_in_mfa):
    _, data = _run_recipe(tmp_path, stop_stage=1, mfa_bin=stand_in_mfa)
    train = read_filelist(data / "filelists" / "train.txt")
    val = read_filelist(data / "filelists" / "val.txt")
    test = read_filelist(data / "filelists" / "test.txt")
    assert {u.speaker for u in train} == {"lj", "9017"}
    assert sorted(u.speaker for u in test) == ["9017", "9017", "lj", "lj"]
    assert sorted(u.speaker for u in val) == ["9017", "lj"]
    assert not {u.text for u in train} & {u.text for u in test}
    # 10 minutes of 9017 > the 6 s it has: all of its utterances are used (2 test + 1 val + 3 train)
    assert sum(u.speaker == "9017" for u in train) == 3
    assert read_speakers(data / "speakers.txt") == ["lj", "9017", "19", "26"]
    assert {u.speaker for u in read_filelist(data / "average_voice" / "filelists" / "train.txt")} == {"19", "26"}


@pytest.mark.slow
def test_paper_recipe_alignment_stage_with_stand_in_mfa(tmp_path, stand_in_mfa):
    proc, data = _run_recipe(tmp_path, stop_stage=2, mfa_bin=stand_in_mfa)
    n_all = len(read_filelist(data / "align_all.txt"))
    assert len(list((data / "textgrids").glob("*/*.TextGrid"))) == n_all == 12 + 6 + 8
    assert proc.stdout.count(f"{n_all} ok, 0 bad") == 1


def test_paper_recipe_needs_the_corpus_paths(tmp_path):
    proc = subprocess.run(["bash", str(ROOT / "egs" / "ljspeech_hifitts9017" / "run.sh"), "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, env=dict(os.environ, LEVYTTS=str(BIN / "levytts")))
    assert proc.returncode == 2 and "--ljspeech DIR" in proc.stderr
