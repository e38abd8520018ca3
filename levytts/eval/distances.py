"""Distances to reference audio of the same sentence: mel-cepstral distortion (MCD) with DTW, F0 RMSE and correlation.

Mel cepstrum here: c = DCT-II (orthonormal) of the natural-log mel *amplitude* spectrum (librosa mel
filters, ``n_mels`` bands), keeping c_1..c_K (c_0, the energy, is left out as usual). For a log
spectrum written as L(m) = c_0 + 2 Σ_d c_d cos(π d (m + ½) / N) over N mel bands, the orthonormal
DCT gives C_d = √(2N) c_d, so the textbook distortion (Kubichek 1993)
    MCD = (10 / ln 10) · sqrt(2 Σ_{d=1..K} (c_d − c'_d)²) = (10 / ln 10) · sqrt(Σ_d (C_d − C'_d)² / N)   [dB]
is computed from the DCT outputs C, averaged over the frames of a DTW alignment (librosa's DTW,
Euclidean cost on C). This is an MFCC-style approximation of SPTK's all-pass mel-cepstrum (pysptk,
used by ESPnet's MCD, is not a dependency here): compare numbers only with numbers made the same way.

F0 comes from librosa's pYIN on the same frame grid; the DTW path of the cepstra aligns the two
contours; RMSE (Hz) and Pearson correlation are taken over aligned frames voiced in both, and the
voicing decision error is the fraction of aligned frames voiced in exactly one.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from levytts.audio.io import load_audio


@dataclass(frozen=True)
class DistanceConfig:
    """Analysis settings for MCD and F0 (both signals are resampled to ``sample_rate``)."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 160  # 10 ms at 16 kHz
    win_length: int = 640  # 40 ms at 16 kHz
    n_mels: int = 80
    n_cepstra: int = 24  # c_1 .. c_24
    fmin: float = 0.0
    fmax: float | None = None  # None = Nyquist
    f0_min: float = 60.0
    f0_max: float = 500.0


def mel_cepstrum(wav: np.ndarray, config: DistanceConfig = DistanceConfig()) -> np.ndarray:
    """Orthonormal DCT of the natural-log mel amplitude spectrum, c_1..c_K.

    Args:
        wav: mono waveform at ``config.sample_rate``, shape (n_samples,).

    Returns:
        np.ndarray: cepstra of shape (n_frames, n_cepstra), float64.
    """
    import librosa
    import scipy.fft

    power = np.abs(librosa.stft(wav.astype(np.float64), n_fft=config.n_fft, hop_length=config.hop_length,
                                win_length=config.win_length, center=True)) ** 2
    mel_basis = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels,
                                    fmin=config.fmin, fmax=config.fmax)
    # 0.5 · ln(mel power) = ln(mel amplitude); the floor keeps digital silence finite.
    log_amp = 0.5 * np.log(np.maximum(mel_basis @ power, 1e-10))  # (n_mels, n_frames)
    cep = scipy.fft.dct(log_amp, type=2, norm="ortho", axis=0)
    return cep[1:config.n_cepstra + 1].T


def mcd_from_cepstra(cep_a: np.ndarray, cep_b: np.ndarray, n_mels: int) -> float:
    """Mean MCD in dB between aligned orthonormal-DCT cepstra of shape (n_frames, K) (see module docstring)."""
    if cep_a.shape != cep_b.shape:
        raise ValueError(f"aligned cepstra must have one shape, got {cep_a.shape} and {cep_b.shape}")
    per_frame = np.sqrt(np.sum((cep_a - cep_b) ** 2, axis=1) / n_mels)
    return float(10.0 / math.log(10.0) * per_frame.mean())


def dtw_path(cep_a: np.ndarray, cep_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DTW alignment (Euclidean frame cost) of (N, K) and (M, K) sequences -> index arrays (i, j), in time order."""
    import librosa

    _, path = librosa.sequence.dtw(X=cep_a.T, Y=cep_b.T, metric="euclidean")
    path = path[::-1]
    return path[:, 0], path[:, 1]


def f0_contour(wav: np.ndarray, config: DistanceConfig = DistanceConfig()) -> tuple[np.ndarray, np.ndarray]:
    """pYIN F0 on the cepstrum frame grid -> (f0 in Hz with NaN when unvoiced, voiced flags), each (n_frames,)."""
    import librosa

    f0, voiced, _ = librosa.pyin(wav.astype(np.float64), fmin=config.f0_min, fmax=config.f0_max, sr=config.sample_rate,
                                 frame_length=config.n_fft, hop_length=config.hop_length, center=True)
    return f0, voiced.astype(bool)


@dataclass
class DistanceResult:
    mcd_db: float
    f0_rmse_hz: float
    f0_corr: float
    vuv_error: float
    n_aligned_frames: int
    n_voiced_both: int


def compare_to_reference(synth: np.ndarray, ref: np.ndarray, config: DistanceConfig = DistanceConfig(),
                         with_f0: bool = True) -> DistanceResult:
    """MCD (DTW-aligned) and F0 errors of a synthesised waveform against a reference one.

    Args:
        synth, ref: mono waveforms at ``config.sample_rate``, shapes (n_samples,) and (n_samples',).
        with_f0: also run pYIN (the slow part); F0 fields are NaN when False or when fewer than
            two aligned frames are voiced in both.
    """
    cep_s, cep_r = mel_cepstrum(synth, config), mel_cepstrum(ref, config)
    i, j = dtw_path(cep_s, cep_r)
    mcd = mcd_from_cepstra(cep_s[i], cep_r[j], config.n_mels)
    rmse = corr = vuv = float("nan")
    n_both = 0
    if with_f0:
        f0_s, v_s = f0_contour(synth, config)
        f0_r, v_r = f0_contour(ref, config)
        # pYIN and the cepstra use the same hop and centring; guard against an off-by-one length anyway.
        i_f, j_f = np.minimum(i, len(f0_s) - 1), np.minimum(j, len(f0_r) - 1)
        both = v_s[i_f] & v_r[j_f]
        vuv = float(np.mean(v_s[i_f] != v_r[j_f]))
        n_both = int(both.sum())
        if n_both >= 2:
            a, b = f0_s[i_f][both], f0_r[j_f][both]
            rmse = float(np.sqrt(np.mean((a - b) ** 2)))
            # A contour moving less than 1 mHz is flat (pYIN's grid jitter): no correlation defined.
            corr = float(np.corrcoef(a, b)[0, 1]) if min(a.std(), b.std()) > 1e-3 else float("nan")
    return DistanceResult(mcd, rmse, corr, vuv, len(i), n_both)


def mel_cepstral_distortion(synth_path: str | os.PathLike, ref_path: str | os.PathLike,
                            config: DistanceConfig = DistanceConfig()) -> float:
    """MCD in dB between two audio files (DTW-aligned); see the module docstring for the definition."""
    synth, _ = load_audio(synth_path, config.sample_rate)
    ref, _ = load_audio(ref_path, config.sample_rate)
    return compare_to_reference(synth, ref, config, with_f0=False).mcd_db
