"""Corpus readers on tiny fixtures in the real on-disk layouts, filelists, validation, mixing."""
import json
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from levytts.data import (
    Utterance,
    mix_by_minutes,
    read_corpus,
    read_filelist,
    read_hifitts,
    read_libritts,
    read_ljspeech,
    read_speakers,
    validate_utterances,
    write_filelist,
    write_speakers,
)

SR = 22050


def _wav(path, seconds, sr=SR, fmt="WAV"):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), 0.3 * np.sin(2 * np.pi * 200 * t), sr, format=fmt)
    return path


def test_ljspeech_reader_uses_normalized_column(tmp_path):
    root = tmp_path / "LJSpeech-1.1"
    _wav(root / "wavs" / "LJ001-0001.wav", 1.0)
    _wav(root / "wavs" / "LJ001-0002.wav", 0.5)
    (root / "metadata.csv").write_text(
        "LJ001-0001|Printing, in 1400.|Printing, in fourteen hundred.\n"
        'LJ001-0002|He said "no"|He said "no"\n', encoding="utf-8")
    items = read_ljspeech(root)
    assert [u.text for u in items] == ["Printing, in fourteen hundred.", 'He said "no"']
    assert {u.speaker for u in items} == {"lj"} and items[0].duration == pytest.approx(1.0)
    assert items[0].wav_path == str(root / "wavs" / "LJ001-0001.wav")
    assert {u.speaker for u in read_corpus("ljspeech", root, speakers=["9017", "lj"])} == {"lj"}
    assert read_corpus("ljspeech", root, speakers=["9017"]) == []
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        read_ljspeech(tmp_path)
    from levytts.cli import main

    (root / "wavs" / "LJ001-0002.wav").unlink()  # a missing file is reported and skipped
    assert main(["data", "prepare", "--source", f"ljspeech={root}", "--out-dir", str(tmp_path / "out")]) == 0
    assert [u.utt_id for u in read_filelist(tmp_path / "out" / "filelist.txt")] == ["LJ001-0001"]
    assert read_speakers(tmp_path / "out" / "speakers.txt") == ["lj"]


def test_hifitts_reader_speaker_from_manifest_name(tmp_path):
    root = tmp_path / "hi_fi_tts_v0"
    rel = "audio/9017_clean/1/a_0001.flac"
    _wav(root / rel, 0.7, sr=44100, fmt="FLAC")
    lines = [{"audio_filepath": rel, "text": "Hello there.", "text_normalized": "Hello there.", "duration": 0.7}]
    (root / "9017_manifest_clean_train.json").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (root / "92_manifest_clean_dev.json").write_text(json.dumps(
        {"audio_filepath": "audio/92_clean/x.flac", "text": "Other.", "duration": 1.0}) + "\n")
    items = read_hifitts(root, speakers=["9017"])
    assert items == [Utterance(str(root / rel), "9017", "Hello there.", 0.7)]
    assert {u.speaker for u in read_hifitts(root)} == {"9017", "92"}
    with pytest.raises(FileNotFoundError, match="manifest"):
        read_hifitts(root, speakers=["1234"])


def test_libritts_reader(tmp_path):
    root = tmp_path / "LibriTTS" / "train-clean-100"
    for spk, chap, utt, text in [("19", "198", "000000_000000", "Northanger Abbey."), ("26", "495", "000004_000000", "Hi.")]:
        stem = f"{spk}_{chap}_{utt}"
        _wav(root / spk / chap / f"{stem}.wav", 0.4, sr=24000)
        (root / spk / chap / f"{stem}.normalized.txt").write_text(text)
        (root / spk / chap / f"{stem}.original.txt").write_text(text.upper())
    items = read_libritts(tmp_path / "LibriTTS")
    assert [(u.speaker, u.text) for u in items] == [("19", "Northanger Abbey."), ("26", "Hi.")]
    assert read_corpus("libritts", root, speakers=["26"])[0].utt_id == "26_495_000004_000000"
    assert read_corpus("libritts", root, speakers=["9017", "19"])[0].speaker == "19"  # a filter, not a label
    with pytest.raises(ValueError, match="unknown corpus kind"):
        read_corpus("vctk", root)


def test_filelist_roundtrip_and_errors(tmp_path):
    items = [Utterance(str(tmp_path / "a.wav"), "slt", "Hello, world."), Utterance("b.wav", "9017", "Ok")]
    path = write_filelist(tmp_path / "lists" / "f.txt", items)
    back = read_filelist(path)
    assert back[0] == items[0] and back[1].wav_path == str(tmp_path / "lists" / "b.wav")  # relative → list dir
    (tmp_path / "two.txt").write_text("x.wav|text only\n")
    with pytest.raises(ValueError, match="two.txt:1"):
        read_filelist(tmp_path / "two.txt")
    assert read_filelist(tmp_path / "two.txt", default_speaker="lj")[0].speaker == "lj"
    with pytest.raises(ValueError, match="separator"):
        write_filelist(tmp_path / "bad.txt", [Utterance("a.wav", "s", "a|b")])
    assert read_speakers(write_speakers(tmp_path / "spk.txt", ["lj", "9017"])) == ["lj", "9017"]


def test_validation_skips_and_counts(tmp_path, capsys):
    good = _wav(tmp_path / "good.wav", 0.5)
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0), SR)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF not really a wav")
    items = [Utterance(str(good), "a", "Fine text."), Utterance(str(tmp_path / "missing.wav"), "a", "Text."),
             Utterance(str(corrupt), "a", "Text."), Utterance(str(empty), "a", "Text."),
             Utterance(str(good), "a", "  "), Utterance(str(good), "zz", "Text."), Utterance(str(good), "a", "?!")]
    kept, problems = validate_utterances(items, speakers=["a"], log=None)
    assert [u.text for u in kept] == ["Fine text."] and kept[0].duration == pytest.approx(0.5)
    assert problems == Counter({"missing audio": 1, "corrupt audio": 1, "empty audio": 1, "empty text": 1,
                                "unknown speaker": 1, "unspeakable text": 1})
    # the CLI goes on and prints the count
    from levytts.cli import main

    write_filelist(tmp_path / "l.txt", items)
    assert main(["data", "validate", str(tmp_path / "l.txt"), "--out", str(tmp_path / "kept.txt")]) == 0
    assert "kept 2, skipped 5" in capsys.readouterr().err  # no speakers file: "zz" is fine here
    assert len(read_filelist(tmp_path / "kept.txt")) == 2


def _fake_corpus(n_per_speaker, speakers, shared_texts):
    items = []
    for spk in speakers:
        for i in range(n_per_speaker):
            text = shared_texts[i % len(shared_texts)] if i < len(shared_texts) else f"{spk} sentence {i}."
            items.append(Utterance(f"/x/{spk}/{i:03d}.wav", spk, text, duration=6.0))
    return items


def test_mix_by_minutes_is_seeded_and_holds_out_test_sentences():
    shared = [f"Shared sentence number {i}." for i in range(8)]
    items = _fake_corpus(200, ["lj", "9017", "other"], shared)
    splits, summary = mix_by_minutes(items, {"lj": 10, "9017": 1}, seed=3, n_test=4, n_val=2)
    again, _ = mix_by_minutes(list(reversed(items)), {"lj": 10, "9017": 1}, seed=3, n_test=4, n_val=2)
    assert splits == again  # input order does not matter
    assert splits != mix_by_minutes(items, {"lj": 10, "9017": 1}, seed=4, n_test=4, n_val=2)[0]
    assert {u.speaker for s in splits.values() for u in s} == {"lj", "9017"}
    assert summary["lj"]["train"] == 100 and summary["9017"]["train"] == 10  # 10 min / 6 s, 1 min / 6 s
    assert summary["lj"]["train_minutes"] == 10.0 and not summary["lj"]["short_of_target"]
    test_keys = {u.text.lower() for u in splits["test"]}
    assert not test_keys & {u.text.lower() for u in splits["train"] + splits["val"]}
    assert Counter(u.speaker for u in splits["test"]) == {"lj": 4, "9017": 4}
    # held-out texts given explicitly are chosen as test sentences first
    splits2, _ = mix_by_minutes(items, {"lj": 5, "9017": 1}, seed=3, n_test=2, n_val=1, held_out_texts=set(shared[:2]))
    assert {u.text for u in splits2["test"]} == set(shared[:2])
    _, short = mix_by_minutes(items, {"lj": 1000, "9017": 1}, seed=3)
    assert short["lj"]["short_of_target"]
    with pytest.raises(ValueError, match="no utterances for speaker"):
        mix_by_minutes(items, {"nobody": 1})


def test_data_mix_cli(tmp_path, capsys):
    from levytts.cli import main

    items = []
    for spk, tag in (("lj", "jay"), ("9017", "nine")):  # a 0.6-s clip has 51 frames: not "nine thousand seventeen"
        for i in range(12 if spk == "lj" else 6):
            items.append(Utterance(str(_wav(tmp_path / "w" / f"{spk}_{i}.wav", 0.6)), spk, f"Sentence {i} of {tag}."))
    write_filelist(tmp_path / "all.txt", items)
    out = tmp_path / "mixed"
    assert main(["data", "mix", "--source", f"filelist={tmp_path / 'all.txt'}", "--minutes", "lj=0.05", "9017=0.01",
                 "--n-test", "2", "--n-val", "1", "--seed", "7", "--out-dir", str(out)]) == 0
    assert read_speakers(out / "speakers.txt") == ["9017", "lj"]
    train = read_filelist(out / "filelists" / "train.txt")
    assert Counter(u.speaker for u in train) == {"lj": 5, "9017": 1}  # 3 s / 0.6 s; 0.6 s / 0.6 s
    assert json.loads((out / "summary.json").read_text())["speakers"]["lj"]["test"] == 2
    assert main(["data", "mix", "--source", "vctk=/x", "--out-dir", str(out)]) == 2
    assert "KIND=PATH" in capsys.readouterr().err
