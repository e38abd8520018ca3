"""The HiFi-GAN mel equals a direct numpy/librosa computation of the same definition."""
import librosa
import numpy as np
import pytest
import scipy.signal
import torch

from levytts.audio.mel import MelConfig, MelSpectrogram, mel_spectrogram

HIFIGAN = dict(sample_rate=22050, n_fft=1024, hop_length=256, win_length=1024, n_mels=80, f_min=0.0, f_max=8000.0)


def reference_mel(audio: np.ndarray, cfg: dict) -> np.ndarray:
    """docs/design.md §7 written out in float64 numpy: reflect pad, framed rfft, |.|, librosa filters, log."""
    n_fft, hop, win = cfg["n_fft"], cfg["hop_length"], cfg["win_length"]
    pad = (n_fft - hop) // 2
    x = np.pad(audio.astype(np.float64), (pad, pad), mode="reflect")
    window = scipy.signal.get_window("hann", win, fftbins=True)  # periodic Hann
    left = (n_fft - win) // 2
    window = np.pad(window, (left, n_fft - win - left))  # torch.stft centres a shorter window
    n_frames = 1 + (len(x) - n_fft) // hop
    frames = np.stack([x[i * hop:i * hop + n_fft] for i in range(n_frames)], axis=1)
    spec = np.fft.rfft(frames * window[:, None], axis=0)
    mag = np.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-9)
    basis = librosa.filters.mel(sr=cfg["sample_rate"], n_fft=n_fft, n_mels=cfg["n_mels"],
                                fmin=cfg["f_min"], fmax=cfg["f_max"])
    return np.log(np.maximum(basis @ mag, 1e-5))


@pytest.mark.parametrize("cfg", [HIFIGAN, dict(HIFIGAN, sample_rate=16000, hop_length=200, win_length=800, n_mels=64, f_min=50.0)])
def test_mel_matches_numpy_reference(cfg):
    rng = np.random.default_rng(0)
    n = cfg["hop_length"] * 40 + 17
    t = np.arange(n) / cfg["sample_rate"]
    audio = (0.5 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    ours = MelSpectrogram(**cfg)(torch.from_numpy(audio)).numpy()
    ref = reference_mel(audio, cfg)
    assert ours.shape == ref.shape == (cfg["n_mels"], n // cfg["hop_length"])
    np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=0)


def test_batch_and_functional_agree_and_frame_count():
    rng = np.random.default_rng(1)
    audio = rng.uniform(-1, 1, size=(3, 256 * 20)).astype(np.float32)
    module = MelSpectrogram(**HIFIGAN)
    batch = module(torch.from_numpy(audio))
    assert batch.shape == (3, 80, 20) and module.n_frames(256 * 20) == 20
    single = mel_spectrogram(audio[1], HIFIGAN)
    torch.testing.assert_close(batch[1], single)
    # silence hits the log clamp exactly
    silent = module(torch.zeros(256 * 8))
    assert torch.allclose(silent, torch.full_like(silent, np.log(1e-5)))


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="lacks"):
        MelConfig.from_cfg({"sample_rate": 22050})
    with pytest.raises(ValueError, match="Nyquist"):
        MelConfig.from_cfg(dict(HIFIGAN, f_max=20000.0))
    with pytest.raises(ValueError, match="too short"):
        MelSpectrogram(**HIFIGAN)(torch.zeros(100))


def test_config_from_yaml_files():
    from pathlib import Path

    from omegaconf import OmegaConf

    for name in ("offline_imbalanced", "ljspeech_hifitts9017"):
        cfg = OmegaConf.load(Path(__file__).resolve().parents[1] / "configs" / "tts" / "data" / f"{name}.yaml")
        mel = MelConfig.from_cfg(cfg)
        assert (mel.sample_rate, mel.hop_length, mel.n_mels) == (22050, 256, 80)
