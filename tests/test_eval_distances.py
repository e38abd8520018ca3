"""Mel-cepstral distortion and F0 errors: the formula's constants, invariances, and known F0 offsets."""
import math

import numpy as np
import pytest
import scipy.fft

from levytts.audio.io import save_wav
from levytts.eval.distances import (
    DistanceConfig,
    compare_to_reference,
    mcd_from_cepstra,
    mel_cepstral_distortion,
    mel_cepstrum,
)

SR = 16000


def glide(f0_start: float, f0_end: float, seconds: float = 1.0, seed: int = 0, tilt: float = 1.0) -> np.ndarray:
    """A harmonic tone (5 partials, amplitudes 1/k**tilt) whose F0 moves linearly, plus a little noise: (SR * seconds,)."""
    t = np.arange(int(SR * seconds)) / SR
    f0 = f0_start + (f0_end - f0_start) * t / seconds
    phase = 2 * np.pi * np.cumsum(f0) / SR
    wav = sum(0.2 / k**tilt * np.sin(k * phase) for k in range(1, 6))
    return (wav + 0.003 * np.random.default_rng(seed).standard_normal(t.size)).astype(np.float32)


def test_orthonormal_dct_scaling_used_by_mcd():
    # L(m) = c0 + 2 c_d cos(pi d (m + 1/2) / N)  =>  orthonormal DCT-II gives C_d = sqrt(2 N) c_d.
    n, d, c0, cd = 80, 5, 1.3, 0.07
    m = np.arange(n)
    log_spec = c0 + 2 * cd * np.cos(np.pi * d * (m + 0.5) / n)
    coeffs = scipy.fft.dct(log_spec, type=2, norm="ortho")
    assert coeffs[d] == pytest.approx(math.sqrt(2 * n) * cd)
    # so MCD = 10/ln10 * sqrt(2 * cd^2) (Kubichek) equals mcd_from_cepstra on the DCT outputs
    cep_a = np.zeros((3, 24))
    cep_b = cep_a.copy()
    cep_b[:, d - 1] = coeffs[d]
    assert mcd_from_cepstra(cep_a, cep_b, n) == pytest.approx(10 / math.log(10) * math.sqrt(2 * cd**2))


def test_mcd_zero_for_same_audio_and_gain_invariant(tmp_path):
    wav = glide(120, 180)
    cep = mel_cepstrum(wav)
    assert cep.shape == (1 + len(wav) // DistanceConfig().hop_length, DistanceConfig().n_cepstra)
    assert mcd_from_cepstra(cep, cep, 80) == 0.0
    # c0 (energy) is left out, so a gain change costs nothing
    assert compare_to_reference(0.5 * wav, wav, with_f0=False).mcd_db == pytest.approx(0.0, abs=1e-6)
    save_wav(tmp_path / "a.wav", wav, SR, subtype="FLOAT")
    assert mel_cepstral_distortion(tmp_path / "a.wav", tmp_path / "a.wav") == 0.0
    # a different spectrum costs a lot more than a delay (DTW absorbs it)
    delayed = np.concatenate([0.003 * np.random.default_rng(1).standard_normal(1600).astype(np.float32), wav])
    noise = 0.2 * np.random.default_rng(2).standard_normal(len(wav)).astype(np.float32)
    assert compare_to_reference(delayed, wav, with_f0=False).mcd_db < 0.3 * compare_to_reference(noise, wav, with_f0=False).mcd_db
    with pytest.raises(ValueError, match="one shape"):
        mcd_from_cepstra(cep, cep[:-1], 80)


def test_f0_rmse_and_correlation_known_offset():
    ref = glide(150, 250)
    same = compare_to_reference(ref, ref)
    assert same.f0_rmse_hz == 0.0 and same.f0_corr == pytest.approx(1.0) and same.vuv_error == 0.0
    # Same F0 contour, other timbre and gain: F0 errors stay near zero, contours correlate.
    other_timbre = compare_to_reference(0.5 * glide(150, 250, seed=1, tilt=2.0), ref)
    assert other_timbre.f0_rmse_hz < 3.0 and other_timbre.f0_corr > 0.99 and other_timbre.n_voiced_both > 50
    # Constant 220 Hz against constant 200 Hz: RMSE 20 Hz. (With tones, not speech, a moving F0 would let
    # the cepstral DTW trade pitch for time, so the offset is measured on flat contours.)
    offset = compare_to_reference(glide(220, 220, seed=2), glide(200, 200, seed=3))
    assert offset.f0_rmse_hz == pytest.approx(20.0, abs=1.5)
    assert math.isnan(offset.f0_corr)  # a flat contour has no correlation
