"""One filelist reader for training, data tools and evaluation: BOM-tolerant, one-line errors (issue 14)."""
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import levytts
from levytts.data import read_filelist, read_speakers, validate_utterances
from levytts.data.filelists import read_text_lines
from levytts.eval import report

BOM = b"\xef\xbb\xbf"


def _wav(path, seconds=1.5, sr=22050):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), 0.3 * np.sin(2 * np.pi * 200 * t), sr)
    return path


def test_bom_does_not_make_the_first_utterance_missing(tmp_path):
    _wav(tmp_path / "a.wav")
    _wav(tmp_path / "b.wav")
    path = tmp_path / "list.txt"
    path.write_bytes(BOM + "a.wav|slt|Hello there.\nb.wav|slt|Good morning.\n".encode())
    utts = read_filelist(path)
    assert utts[0].wav_path == str(tmp_path / "a.wav") and utts[0].utt_id == "a"
    kept, problems = validate_utterances(utts, log=None)
    assert len(kept) == 2 and not problems  # was: 1 "missing audio" ('\ufeffa.wav')
    assert [e.utt for e in report.read_filelist(path)] == ["a", "b"]
    (tmp_path / "speakers.txt").write_bytes(BOM + b"slt\nrms\n")
    assert read_speakers(tmp_path / "speakers.txt") == ["slt", "rms"]


@pytest.mark.parametrize("bom", [b"", BOM])
def test_non_utf8_is_one_line_naming_file_line_and_byte(tmp_path, bom):
    path = tmp_path / "latin1.txt"
    body = "a.wav|slt|Hello.\nb.wav|slt|Caf\u00e9 au lait.\n".encode("latin-1")
    path.write_bytes(bom + body)
    offset = len(bom) + body.index(b"\xe9")
    with pytest.raises(ValueError) as info:
        read_filelist(path)
    message = str(info.value)
    assert not isinstance(info.value, UnicodeDecodeError) and "\n" not in message
    assert message == f"{path}:2: not UTF-8 (byte 0xe9 at byte offset {offset}); save it as UTF-8"
    with pytest.raises(ValueError, match=re.escape(f"{path}:2: not UTF-8")):
        report.read_filelist(path)


def test_non_utf8_through_the_cli(tmp_path, capsys):
    from levytts.cli import main

    path = tmp_path / "list.txt"
    path.write_bytes("x.wav|slt|na\u00efve\n".encode("cp1252"))
    assert main(["data", "validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and ":1: not UTF-8" in err[0] and "save it as UTF-8" in err[0]


def test_same_rules_for_training_and_evaluation(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("# a comment\n\n  wavs/a.wav | slt | Hello there.|x \n/abs/b.wav|rms|Hi.\n", encoding="utf-8")
    utts = read_filelist(path)
    entries = report.read_filelist(path)
    assert [(u.speaker, u.text) for u in utts] == [(e.speaker, e.text) for e in entries] == \
        [("slt", "Hello there.|x"), ("rms", "Hi.")]
    assert [u.utt_id for u in utts] == [e.utt for e in entries] == ["a", "b"]
    assert utts[0].wav_path == str(tmp_path / "wavs" / "a.wav") and entries[0].wav_path == "wavs/a.wav"
    assert utts[1].wav_path == entries[1].wav_path == "/abs/b.wav"
    with pytest.raises(ValueError, match=r"list2.txt:2: expected 'wav_path\|speaker\|text', got 1 field"):
        (tmp_path / "list2.txt").write_text("a.wav|s|t\nno fields\n", encoding="utf-8")
        read_filelist(tmp_path / "list2.txt")
    (tmp_path / "dup.txt").write_text("x/a.wav|s|one\ny/a.wav|s|two\n", encoding="utf-8")
    assert len(read_filelist(tmp_path / "dup.txt")) == 2  # training lists may repeat a stem
    with pytest.raises(ValueError, match=r"dup.txt:2: utterance id 'a' .* appears twice \(first on line 1\)"):
        read_filelist(tmp_path / "dup.txt", unique_ids=True)
    (tmp_path / "empty.txt").write_bytes(BOM + b"# nothing\n")
    assert read_filelist(tmp_path / "empty.txt") == []
    with pytest.raises(ValueError, match="has no entries"):
        report.read_filelist(tmp_path / "empty.txt")
    with pytest.raises(FileNotFoundError, match="filelist not found"):
        read_filelist(tmp_path / "absent.txt")
    assert read_text_lines(tmp_path / "empty.txt") == ["# nothing"]


def test_no_other_filelist_parser():
    """Only levytts.data.filelists splits filelist lines (readers.py splits LJSpeech's metadata.csv)."""
    root = Path(levytts.__file__).parent
    pattern = re.compile(r"""\.split\(\s*(['"])\|\1\s*\)""")
    offenders = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                       if pattern.search(p.read_text(encoding="utf-8")))
    assert offenders == ["data/readers.py"], offenders
