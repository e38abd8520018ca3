"""Our Kaldi fbank (CAM++ front end) against kaldi-native-fbank, a C++ port of Kaldi's feature code."""
import numpy as np
import pytest
import torch

from levytts.eval.fbank import FbankConfig, kaldi_fbank, kaldi_mel_filters

knf = pytest.importorskip("kaldi_native_fbank")


def reference_fbank(wav: np.ndarray, config: FbankConfig) -> np.ndarray:
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = config.sample_rate
    opts.frame_opts.frame_length_ms = config.frame_length_ms
    opts.frame_opts.frame_shift_ms = config.frame_shift_ms
    opts.frame_opts.preemph_coeff = config.preemphasis
    opts.mel_opts.num_bins = config.num_mel_bins
    opts.mel_opts.low_freq = config.low_freq
    opts.mel_opts.high_freq = config.high_freq
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(config.sample_rate, wav.tolist())
    fbank.input_finished()
    feats = np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])
    return feats - feats.mean(axis=0) if config.mean_norm else feats


def chirp_signal(sample_rate: int, seconds: float = 1.3) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    chirp = 0.3 * np.sin(2 * np.pi * (150 * t + 900 * t**2))
    return (chirp + 0.05 * rng.standard_normal(t.size) + 0.01).astype(np.float32)  # with a DC offset


@pytest.mark.parametrize("config", [
    FbankConfig(mean_norm=False),  # 3D-Speaker's features before mean normalisation
    FbankConfig(),  # what CAM++ is fed
    FbankConfig(sample_rate=8000, num_mel_bins=40, low_freq=64.0, high_freq=-200.0, mean_norm=False),
])
def test_fbank_matches_kaldi(config):
    wav = chirp_signal(config.sample_rate)
    ours = kaldi_fbank(torch.from_numpy(wav), config).numpy()
    ref = reference_fbank(wav, config)
    assert ours.shape == ref.shape == (1 + (wav.size - config.window_length) // config.window_shift, config.num_mel_bins)
    # kaldi-native-fbank works in float32: agreement to float32 round-off of log energies up to ~|15|.
    np.testing.assert_allclose(ours, ref, atol=5e-4, rtol=0)


def test_fbank_mean_norm_and_errors():
    wav = torch.from_numpy(chirp_signal(16000, 0.5))
    feats = kaldi_fbank(wav)
    assert torch.allclose(feats.mean(dim=0), torch.zeros(80), atol=1e-5)
    with pytest.raises(ValueError, match="too short"):
        kaldi_fbank(wav[:399])
    with pytest.raises(ValueError, match="mono"):
        kaldi_fbank(wav[None])


def test_mel_filters_shape_and_nyquist_column():
    filters = kaldi_mel_filters(FbankConfig())
    assert filters.shape == (80, 257)  # 400-sample window rounded up to a 512-point FFT
    assert torch.all(filters[:, -1] == 0) and torch.all(filters.max(dim=1).values > 0)
