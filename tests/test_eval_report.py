"""`levytts eval` end to end on a tiny flite corpus: tables, counts of skipped files, plot, user errors."""
import csv
import shutil
import subprocess

import numpy as np
import pytest

from levytts.audio.io import save_wav
from levytts.cli import main as cli_main
from levytts.eval.report import Entry, _load_checked, find_conditions, read_filelist, reference_path

needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="needs Debian flite (scripts/setup.sh)")

SENTENCES = ["Open the window now.", "Call me at home tonight."]


def flite(text, voice, path, *options):
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["flite", "-voice", voice, *options, "-t", text, "-o", str(path)], check=True)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """refs/wavs/<voice>_<i>.wav, a filelist, and synth/{ode_N10, sde_N10}/ (sde: one missing, one too short)."""
    root = tmp_path_factory.mktemp("evalcorpus")
    lines = []
    for voice in ("slt", "rms"):
        for i, text in enumerate(SENTENCES):
            utt = f"{voice}_{i}"
            flite(text, voice, root / "refs" / "wavs" / f"{utt}.wav")
            lines.append(f"wavs/{utt}.wav|{voice}|{text}")
            flite(text, voice, root / "synth" / "ode_N10" / f"{utt}.wav", "--setf", "duration_stretch=1.1")
            if utt != "slt_0":  # missing
                flite(text, voice, root / "synth" / "sde_N10" / f"{utt}.wav", "--setf", "duration_stretch=0.9")
    save_wav(root / "synth" / "sde_N10" / "rms_1.wav", np.zeros(1600), 16000)  # 0.1 s: too short
    (root / "list.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@needs_flite
def test_eval_cli_end_to_end(corpus, capsys):
    out = corpus / "report" / "table.md"
    rc = cli_main(["eval", "--synth-dir", str(corpus / "synth"), "--ref-dir", str(corpus / "refs"),
                   "--filelist", str(corpus / "list.txt"), "--out", str(out), "--no-f0"])
    assert rc == 0, capsys.readouterr().err
    markdown = out.read_text(encoding="utf-8")
    assert "scorer: **ge2e**" in markdown and "missing:" in markdown and "short:" in markdown

    summary = {(r["condition"], r["speaker"]): r for r in read_csv(out.with_suffix(".csv"))}
    assert set(summary) == {(c, s) for c in ("reference", "ode_N10", "sde_N10") for s in ("slt", "rms", "ALL")}
    ode = summary["ode_N10", "ALL"]
    assert (ode["sampler"], ode["steps"], ode["n_ok"]) == ("ode", "10", "4")
    assert float(ode["similarity"]) > 0.8 and float(ode["wer"]) < 0.5 and 0 < float(ode["mcd_db"]) < 10
    assert ode["f0_rmse_hz"] == ""  # --no-f0
    assert (summary["sde_N10", "slt"]["n_ok"], summary["sde_N10", "slt"]["n_missing"]) == ("1", "1")
    assert (summary["sde_N10", "rms"]["n_ok"], summary["sde_N10", "rms"]["n_short"]) == ("1", "1")
    assert summary["reference", "ALL"]["mcd_db"] == ""  # no distance of a reference to itself

    utts = read_csv(out.with_name("table_utts.csv"))
    assert len(utts) == 12
    statuses = {(r["condition"], r["utt"]): r["status"] for r in utts}
    assert statuses["sde_N10", "slt_0"] == "missing" and statuses["sde_N10", "rms_1"] == "short"
    # Per-speaker similarity: mean over (synth, ref) pairs of different sentences, the Python API's number.
    from levytts.eval import speaker_similarity

    synth, refs = corpus / "synth" / "ode_N10", corpus / "refs" / "wavs"
    pairs = [speaker_similarity([synth / "slt_0.wav"], [refs / "slt_1.wav"]),
             speaker_similarity([synth / "slt_1.wav"], [refs / "slt_0.wav"])]
    assert float(summary["ode_N10", "slt"]["similarity"]) == pytest.approx(np.mean(pairs), abs=1e-5)
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_find_conditions_layouts(tmp_path):
    for name in ("ode_N10", "sde-e_ei_N50", "groundtruth_vocoded"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "u.wav").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    (tmp_path / "u.wav").write_bytes(b"")
    found = {c.name: (c.sampler, c.steps) for c in find_conditions(tmp_path)}
    assert found == {"synth": ("", None), "ode_N10": ("ode", 10), "sde-e_ei_N50": ("sde-e_ei", 50),
                     "groundtruth_vocoded": ("groundtruth_vocoded", None)}
    with pytest.raises(ValueError, match="no .wav files"):
        find_conditions(tmp_path / "empty")


def test_read_filelist_errors(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("# comment\nwavs/a.wav|slt|Hello there.|x\n\nb.wav|rms|Hi.\n", encoding="utf-8")
    entries = read_filelist(good)
    assert [(e.utt, e.speaker, e.text) for e in entries] == [("a", "slt", "Hello there.|x"), ("b", "rms", "Hi.")]
    bad = tmp_path / "bad.txt"
    bad.write_text("a.wav|slt|ok\nb.wav only\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.txt:2: expected 'wav_path|speaker|text'"):
        read_filelist(bad)
    dup = tmp_path / "dup.txt"
    dup.write_text("x/a.wav|slt|one\ny/a.wav|slt|two\n", encoding="utf-8")
    with pytest.raises(ValueError, match="appears twice"):
        read_filelist(dup)


def test_eval_cli_user_errors(tmp_path, capsys):
    (tmp_path / "synth").mkdir()
    (tmp_path / "list.txt").write_text("a.wav|slt|Hello.\n", encoding="utf-8")
    base = ["eval", "--synth-dir", str(tmp_path / "synth"), "--ref-dir", str(tmp_path), "--filelist"]
    assert cli_main(base + [str(tmp_path / "missing.txt")]) == 2
    assert "filelist not found" in capsys.readouterr().err
    assert cli_main(base + [str(tmp_path / "list.txt")]) == 2
    assert "no .wav files" in capsys.readouterr().err
    assert cli_main(base + [str(tmp_path / "list.txt"), "--max-refs", "0"]) == 2
    assert "argument --max-refs: must be an integer >= 1, got '0'" in capsys.readouterr().err


def test_file_checks_and_reference_paths(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "ok.wav", np.full(8000, 0.1, np.float32), 16000, subtype="FLOAT")
    sf.write(tmp_path / "nan.wav", np.full(8000, np.nan, np.float32), 16000, subtype="FLOAT")
    sf.write(tmp_path / "short.wav", np.full(1000, 0.1, np.float32), 16000, subtype="FLOAT")
    (tmp_path / "garbage.wav").write_bytes(b"RIFF????WAVEjunk")
    statuses = {name: _load_checked(tmp_path / f"{name}.wav", 22050, 0.3)[1]
                for name in ("ok", "nan", "short", "garbage", "absent")}
    assert statuses == {"ok": "ok", "nan": "non-finite", "short": "short", "garbage": "unreadable", "absent": "missing"}
    assert _load_checked(tmp_path / "ok.wav", 22050, 0.3)[0].shape == (11025,)  # resampled 0.5 s
    # relative: ref_dir/wav_path, else ref_dir/<basename>; absolute: as is
    (tmp_path / "wavs").mkdir()
    (tmp_path / "wavs" / "a.wav").write_bytes(b"")
    assert reference_path(Entry("a", "wavs/a.wav", "s", "t"), tmp_path) == tmp_path / "wavs" / "a.wav"
    assert reference_path(Entry("b", "elsewhere/b.wav", "s", "t"), tmp_path) == tmp_path / "b.wav"
    assert reference_path(Entry("c", str(tmp_path / "x" / "c.wav"), "s", "t"), "/unused") == tmp_path / "x" / "c.wav"
