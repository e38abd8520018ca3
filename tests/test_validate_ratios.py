"""Validation refuses what training cannot use (too short, fewer frames than tokens, absurd ratios), and
training drops such items with one log line per reason; loader errors name the file (issue 14)."""
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from levytts.data import Utterance, validate_utterances, write_filelist
from levytts.data.validate import length_problem, n_tokens, resampled_length

SR = 22050
MEL = {"sample_rate": SR, "n_fft": 1024, "hop_length": 256, "win_length": 1024, "n_mels": 80, "f_min": 0.0,
       "f_max": 8000.0}
NINE_WORDS = "The quick brown fox jumps over the lazy dog."


def _wav(path, n_samples, sr=SR):
    t = np.arange(n_samples) / sr
    sf.write(str(path), 0.3 * np.sin(2 * np.pi * 200 * t), sr)
    return str(path)


@pytest.fixture
def items(tmp_path):
    return {
        "ok": Utterance(_wav(tmp_path / "ok.wav", 2 * SR), "slt", "Hello there, how are you?"),
        "short": Utterance(_wav(tmp_path / "short.wav", int(0.3 * SR)), "slt", NINE_WORDS),  # 25 frames, 30+ phones
        "tiny": Utterance(_wav(tmp_path / "tiny.wav", 46), "slt", "Hi."),
        "long": Utterance(_wav(tmp_path / "long.wav", 5 * SR), "slt", "Hi."),  # 430 frames for 5 tokens
    }


def test_length_problem_rules():
    assert n_tokens(3) == 7 and n_tokens(3, add_blank=False) == 3
    assert length_problem(1023, SR, None) == "audio shorter than one STFT window"
    assert length_problem(1024, SR, None) is None
    assert length_problem(1024, SR, 1) is None  # 4 frames, 3 tokens
    assert length_problem(1024, SR, 2) == "fewer mel frames than tokens"  # 4 frames, 5 tokens
    assert length_problem(1024, SR, 4, add_blank=False) is None
    assert length_problem(256 * 150, SR, 1) is None  # 150 frames / 3 tokens = 50 per token
    assert length_problem(256 * 151, SR, 1) == "too many mel frames per token"
    assert length_problem(256 * 151, SR, 1, max_frames_per_token=None) is None
    # 16 kHz audio is judged after resampling to the mel rate, as load_audio does (soxr rounds)
    assert resampled_length(46, 16000, SR) == 63 and resampled_length(16001, 16000, SR) == 22051
    assert length_problem(800, 16000, None) is None and length_problem(700, 16000, None) is not None


def test_validation_flags_impossible_ratios(items):
    kept, problems = validate_utterances(list(items.values()), log=None)
    assert [u.utt_id for u in kept] == ["ok"]
    assert problems == Counter({"fewer mel frames than tokens": 1, "audio shorter than one STFT window": 1,
                                "too many mel frames per token": 1})
    # without blanks the short one still has fewer frames than phones; the ratio check can be turned off
    kept, problems = validate_utterances([items["short"], items["long"]], log=None, add_blank=False,
                                         max_frames_per_token=None)
    assert [u.utt_id for u in kept] == ["long"]
    assert problems == Counter({"fewer mel frames than tokens": 1})
    # the 46-sample file is refused even without the text checks
    _, problems = validate_utterances([items["tiny"]], check_text=False, log=None)
    assert problems == Counter({"audio shorter than one STFT window": 1})


def test_validate_cli_counts_and_options(items, tmp_path, capsys):
    from levytts.cli import main

    write_filelist(tmp_path / "l.txt", list(items.values()))
    assert main(["data", "validate", str(tmp_path / "l.txt"), "--out", str(tmp_path / "kept.txt")]) == 0
    err = capsys.readouterr().err
    assert "short.wav (slt): fewer mel frames than tokens" in err and "kept 1, skipped 3" in err
    assert main(["data", "validate", str(tmp_path / "l.txt"), "--max-frames-per-token", "0"]) == 0
    assert "kept 2, skipped 2" in capsys.readouterr().err
    # a 512-point STFT at 16 kHz, hop 128: 0.3 s is 37 frames — fewer than 2·33 + 1 tokens, not than 33 phones
    args = ["data", "validate", str(tmp_path / "l.txt"), "--sample-rate", "16000", "--n-fft", "512", "--hop-length",
            "128", "--max-frames-per-token", "0"]
    assert main(args) == 0
    assert "kept 2, skipped 2 (audio shorter than one STFT window: 1, fewer mel frames than tokens: 1)" \
        in capsys.readouterr().err
    assert main(args + ["--no-blank"]) == 0
    assert "kept 3, skipped 1" in capsys.readouterr().err


def test_training_dataset_skips_with_one_line_per_reason(items, capsys):
    from levytts.text import SymbolTable
    from levytts.tts.data import TTSDataset

    utts = [items["short"], items["ok"], items["tiny"], items["long"]]
    ds = TTSDataset(utts, SymbolTable.default(), ["slt"], MEL)
    out = capsys.readouterr().out.splitlines()
    assert "skipped 1 utterances: fewer mel frames than tokens (first: short)" in out
    assert "skipped 1 utterances: audio shorter than one STFT window (first: tiny)" in out
    assert [u.utt_id for u in ds.utts] == ["ok", "long"]  # the ratio ceiling is validation's call
    assert ds.skipped == {"fewer mel frames than tokens": ["short"], "audio shorter than one STFT window": ["tiny"]}
    item = ds[0]
    assert item["mel"].shape[-1] >= len(item["ids"])
    with pytest.raises(ValueError, match="none of the 2 utterances is usable"):
        TTSDataset([items["short"], items["tiny"]], SymbolTable.default(), ["slt"], MEL)


def test_loader_errors_name_the_file(items, tmp_path):
    from levytts.audio.io import load_audio
    from levytts.text import SymbolTable
    from levytts.tts.data import TTSDataset

    ds = TTSDataset([items["ok"]], SymbolTable.default(), ["slt"], MEL, log=open(tmp_path / "log", "w"))
    ds.utts = [items["tiny"]]  # past the filter: the loader itself must still say which file
    with pytest.raises(ValueError, match=r"tiny\.wav: audio of 46 samples is too short"):
        ds.load(0)
    with pytest.raises(ValueError, match=r"cannot read audio file .*absent\.wav"):
        TTSDataset([Utterance(str(tmp_path / "absent.wav"), "slt", "Hi.")], SymbolTable.default(), ["slt"], MEL)
    (tmp_path / "junk.wav").write_bytes(b"RIFF????WAVEjunk")
    with pytest.raises(ValueError, match=r"cannot decode audio file .*junk\.wav"):
        load_audio(tmp_path / "junk.wav", SR)
    with pytest.raises(ValueError, match=r"cannot read audio file .*junk\.wav"):
        TTSDataset([Utterance(str(tmp_path / "junk.wav"), "slt", "Hi.")], SymbolTable.default(), ["slt"], MEL)


def test_manifest_errors_name_the_file(tmp_path):
    from levytts.data import read_hifitts

    (tmp_path / "9017_manifest_clean_train.json").write_text(
        '{"audio_filepath": "a.wav", "text": "Hi.", "duration": "n/a"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"9017_manifest_clean_train.json:1: .*numeric duration"):
        read_hifitts(tmp_path)
    (tmp_path / "9017_manifest_clean_train.json").write_text('["a.wav"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"9017_manifest_clean_train.json:1: not a manifest line"):
        read_hifitts(tmp_path)
