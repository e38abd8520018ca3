"""levytts.audio.io: soundfile loading (wav/flac), mono mixdown, resampling, safe atomic wav writing."""
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from levytts.audio.io import atomic_write, load_audio, save_wav


def test_flac_stereo_mixdown_and_resample(tmp_path):
    sr = 44100
    t = np.arange(sr) / sr
    left, right = 0.5 * np.sin(2 * np.pi * 440 * t), 0.1 * np.ones_like(t)
    sf.write(str(tmp_path / "a.flac"), np.stack([left, right], axis=1), sr, format="FLAC")
    audio, rate = load_audio(tmp_path / "a.flac")
    assert rate == sr and audio.dtype == np.float32 and audio.shape == (sr,)
    np.testing.assert_allclose(audio, (left + right) / 2, atol=1e-4)  # FLAC is 16-bit: ~3e-5 quantisation
    resampled, rate = load_audio(tmp_path / "a.flac", sr=22050)
    assert rate == 22050 and abs(len(resampled) - 22050) <= 1
    # a 440 Hz tone stays at 440 Hz after resampling
    spectrum = np.abs(np.fft.rfft(resampled - resampled.mean()))
    assert abs(np.argmax(spectrum) * 22050 / len(resampled) - 440) < 2


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_audio(tmp_path / "nope.wav")
    (tmp_path / "bad.wav").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot decode"):
        load_audio(tmp_path / "bad.wav")


def test_save_wav_full_scale_does_not_wrap(tmp_path):
    path = save_wav(tmp_path / "sub" / "x.wav", np.array([1.0, -1.0, 1.5, -2.0, 0.5], dtype=np.float32), 22050)
    data, sr = sf.read(str(path), dtype="int16")
    # libsndfile scales by 32768 and clips: +1.0 → 32767 (no wrap to -32768), -1.0 → -32768
    assert sr == 22050 and data.tolist() == [32767, -32768, 32767, -32768, 16384]
    with pytest.raises(ValueError, match="NaN"):
        save_wav(tmp_path / "n.wav", np.array([0.0, np.nan]), 22050)
    assert not (tmp_path / "n.wav").exists()


def test_atomic_write_leaves_target_untouched_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_atomic_write_gives_the_umask_mode_not_mkstemps_0600(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        save_wav(tmp_path / "a.wav", np.zeros(100, dtype=np.float32), 16000)
        assert (tmp_path / "a.wav").stat().st_mode & 0o777 == 0o644
        os.chmod(tmp_path / "a.wav", 0o640)  # an existing file keeps its mode when overwritten
        save_wav(tmp_path / "a.wav", np.zeros(100, dtype=np.float32), 16000)
        assert (tmp_path / "a.wav").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def test_atomic_write_refuses_a_directory_before_making_a_temp_file(tmp_path):
    for target in (tmp_path, Path("")):
        with pytest.raises(IsADirectoryError, match="give a file name, not a directory"):
            with atomic_write(target):
                pass
    assert list(tmp_path.iterdir()) == []
