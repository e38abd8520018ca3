"""TextGrid → phone durations in frames (MFA format), the sum-to-mel-length check, and the offline corpus."""
import pytest

from levytts.data import read_textgrid_phones, textgrid_to_durations, write_textgrid

SR, HOP = 22050, 256

MFA_TEXTGRID = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 1.0
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 1.0
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 0.1
            text = ""
        intervals [2]:
            xmin = 0.1
            xmax = 0.8
            text = "hello"
        intervals [3]:
            xmin = 0.8
            xmax = 1.0
            text = ""
    item [2]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 1.0
        intervals: size = 6
        intervals [1]:
            xmin = 0
            xmax = 0.1
            text = ""
        intervals [2]:
            xmin = 0.1
            xmax = 0.25
            text = "HH"
        intervals [3]:
            xmin = 0.25
            xmax = 0.4
            text = "AH0"
        intervals [4]:
            xmin = 0.4
            xmax = 0.55
            text = "L"
        intervals [5]:
            xmin = 0.55
            xmax = 0.8
            text = "OW1"
        intervals [6]:
            xmin = 0.8
            xmax = 1.0
            text = "sil"
'''


def test_mfa_textgrid_durations_in_frames(tmp_path):
    path = tmp_path / "LJ001-0001.TextGrid"
    path.write_text(MFA_TEXTGRID)
    n_frames = int(1.0 * SR) // HOP  # 86
    phones, durations = textgrid_to_durations(path, n_frames, SR, HOP)
    assert phones == ["sp", "HH", "AH0", "L", "OW1", "sp"]
    bounds = [round(t * SR / HOP) for t in (0.0, 0.1, 0.25, 0.4, 0.55, 0.8, 1.0)]
    expected = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
    expected[-1] += n_frames - sum(expected)  # 86 vs round(86.13) = 86: last phone absorbs the rest
    assert durations == expected and sum(durations) == n_frames
    with pytest.raises(ValueError, match=r"LJ001-0001.TextGrid.*sum to 86 frames but the mel has 100"):
        textgrid_to_durations(path, 100, SR, HOP)
    with pytest.raises(ValueError, match="no tier 'segments'"):
        textgrid_to_durations(path, n_frames, SR, HOP, tier="segments")
    with pytest.raises(FileNotFoundError):
        textgrid_to_durations(tmp_path / "none.TextGrid", n_frames, SR, HOP)
    (tmp_path / "bad.TextGrid").write_text("not a textgrid")
    with pytest.raises(ValueError, match="cannot parse"):
        textgrid_to_durations(tmp_path / "bad.TextGrid", n_frames, SR, HOP)


def test_write_then_read_textgrid_roundtrip(tmp_path):
    phones = [(0.0, 0.2, "DH"), (0.2, 0.35, "AH0"), (0.35, 0.5, ""), (0.5, 0.9, "K")]
    path = write_textgrid(tmp_path / "u.TextGrid", phones, [(0.0, 0.35, "the"), (0.5, 0.9, "k")], duration=1.0)
    got = read_textgrid_phones(path)
    assert [lab for _, _, lab in got] == ["DH", "AH0", "sp", "K", "sp"]  # gap at the end → silence
    assert got[-1] == pytest.approx((0.9, 1.0, "sp"))
    phones_out, durations = textgrid_to_durations(path, int(SR * 1.0) // HOP, SR, HOP)
    assert sum(durations) == 86 and len(phones_out) == 5


def test_durations_cli_reports_bad_utterance(tmp_path, capsys):
    import numpy as np
    import soundfile as sf

    from levytts.cli import main
    from levytts.data import Utterance, write_filelist

    wav = tmp_path / "wavs" / "LJ001-0001.wav"
    wav.parent.mkdir()
    sf.write(str(wav), np.zeros(SR), SR)
    (tmp_path / "tg" / "lj").mkdir(parents=True)
    (tmp_path / "tg" / "lj" / "LJ001-0001.TextGrid").write_text(MFA_TEXTGRID)
    write_filelist(tmp_path / "f.txt", [Utterance(str(wav), "lj", "Hello.")])
    args = ["data", "durations", str(tmp_path / "f.txt"), "--textgrid-dir", str(tmp_path / "tg"), "--hop-length", "256"]
    assert main(args + ["--sample-rate", "22050"]) == 0
    assert "1 ok, 0 bad" in capsys.readouterr().out
    sf.write(str(wav), np.zeros(2 * SR), SR)  # audio no longer matches its TextGrid: reported, counted
    assert main(args + ["--sample-rate", "22050"]) == 1
    captured = capsys.readouterr()
    assert "bad: LJ001-0001" in captured.err and "172" in captured.err and "0 ok, 1 bad" in captured.out


def test_offline_corpus_small_build_is_deterministic(tmp_path):
    import shutil

    if shutil.which("flite") is None:
        pytest.skip("flite not installed (scripts/setup.sh installs it)")
    import hashlib

    from levytts.data import read_filelist, read_speakers
    from levytts.data.offline_corpus import Voice, build_corpus

    text_dir = tmp_path / "fortunes"
    text_dir.mkdir()
    sentences = ["The cat sat on the mat today.", "It doesn't rain much in the desert.", "Time flies like an arrow.",
                 "Mrs. Smith paid five dollars for it.", "A watched pot never boils, they say.",
                 "Good judgment comes from experience.", "all lower case start is dropped.", "Too short.",
                 "We'll see how well it goes."]
    (text_dir / "fortunes").write_text("\n%\n".join(sentences) + "\n%\n")
    voices = [Voice.parse("slt=slt"), Voice.parse("awb_high=awb:300")]
    digests = []
    for run in ("a", "b"):
        out = tmp_path / run
        info = build_corpus(out, voices, {"slt": 0.05, "awb_high": 0.01}, n_test=1, n_val=1, seed=5, jobs=1,
                            text_dir=str(text_dir), log=lambda *_: None)
        digests.append(hashlib.sha256(b"".join(p.read_bytes() for p in sorted(out.rglob("*.wav")))).hexdigest())
    assert digests[0] == digests[1]
    assert info["synthetic"] and read_speakers(out / "speakers.txt") == ["slt", "awb_high"]
    items = read_filelist(out / "all.txt")
    test_sentence = (out / "test_sentences.txt").read_text().strip()
    assert {u.speaker for u in items if u.text == test_sentence} == {"slt", "awb_high"}  # all say the test line
    assert all(u.text[0].isupper() and u.text != "Too short." for u in items)
    import soundfile as sf

    for utt in items:
        assert sf.info(utt.wav_path).samplerate == 22050
        n_frames = sf.info(utt.wav_path).frames // HOP
        phones, durations = textgrid_to_durations(out / "textgrids" / utt.speaker / f"{utt.utt_id}.TextGrid",
                                                  n_frames, SR, HOP, tolerance=1)  # round vs floor
        assert sum(durations) == n_frames and phones[0] != "sp" and phones[-1] != "sp"
    from levytts.text import text_to_phones

    first = next(u for u in items if "desert" in u.text)
    phones, _ = textgrid_to_durations(out / "textgrids" / first.speaker / f"{first.utt_id}.TextGrid",
                                      sf.info(first.wav_path).frames // HOP, SR, HOP)
    assert [p for p in phones if p != "sp"] == [p for p in text_to_phones(first.text) if p != "sp"]


def test_offline_corpus_cli_refuses_a_rare_speaker_that_is_not_a_voice(tmp_path, capsys):
    from levytts.cli import main

    assert main(["data", "offline-corpus", "--out-dir", str(tmp_path / "c"), "--small", "--rare", "nobody"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--rare 'nobody' is not among the voices" in err[0]
    assert not (tmp_path / "c").exists()
