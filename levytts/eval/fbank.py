"""Kaldi-compatible log mel filterbank ("fbank") features, as used by 3D-Speaker's CAM++.

3D-Speaker computes its features with ``torchaudio.compliance.kaldi.fbank`` (Kaldi's defaults:
25 ms Povey window, 10 ms shift, DC removal, 0.97 pre-emphasis, FFT size rounded up to a power of
two, power spectrum, triangular filters on Kaldi's mel scale 1127 ln(1 + f/700) from 20 Hz to
Nyquist, natural log floored at float32 epsilon, ``snip_edges``), then subtracts the per-utterance
mean. torchaudio has no build for our torch, so the same computation is written here with torch
ops; ``tests/test_eval_fbank.py`` checks it against ``kaldi-native-fbank`` (a C++ port of Kaldi's
own feature code) to float32 round-off.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FbankConfig:
    """Kaldi ``compute-fbank-feats`` options (the defaults are Kaldi's and 3D-Speaker's)."""

    sample_rate: int = 16000
    num_mel_bins: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    preemphasis: float = 0.97
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0 means offset from Nyquist, as in Kaldi
    remove_dc_offset: bool = True
    round_to_power_of_two: bool = True
    mean_norm: bool = True  # 3D-Speaker's FBank(mean_nor=True) used for CAM++ inference

    @property
    def window_length(self) -> int:
        return int(self.sample_rate * self.frame_length_ms * 0.001)

    @property
    def window_shift(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms * 0.001)

    @property
    def n_fft(self) -> int:
        if not self.round_to_power_of_two:
            return self.window_length
        return 1 << (self.window_length - 1).bit_length()


def kaldi_mel_scale(freq_hz: torch.Tensor | float) -> torch.Tensor:
    """Kaldi's mel scale, 1127 ln(1 + f / 700) (natural log, not HTK's 2595 log10)."""
    return 1127.0 * torch.log1p(torch.as_tensor(freq_hz, dtype=torch.float64) / 700.0)


def kaldi_mel_filters(config: FbankConfig) -> torch.Tensor:
    """Triangular filters, equally spaced on Kaldi's mel scale, over the FFT bins below Nyquist.

    Returns:
        torch.Tensor: weights of shape (num_mel_bins, n_fft // 2 + 1), float64; the Nyquist column is 0
        (Kaldi builds its filters over the first n_fft / 2 bins only).
    """
    nyquist = 0.5 * config.sample_rate
    high_freq = config.high_freq if config.high_freq > 0 else nyquist + config.high_freq
    if not 0.0 <= config.low_freq < high_freq <= nyquist:
        raise ValueError(
            f"need 0 <= low_freq < high_freq <= Nyquist ({nyquist} Hz); got low_freq={config.low_freq}, "
            f"high_freq={high_freq}"
        )
    n_bins = config.n_fft // 2
    mel_low, mel_high = kaldi_mel_scale(config.low_freq), kaldi_mel_scale(high_freq)
    mel_step = (mel_high - mel_low) / (config.num_mel_bins + 1)
    # Mel value of each FFT bin centre frequency k * sr / n_fft.
    bin_mel = kaldi_mel_scale(torch.arange(n_bins, dtype=torch.float64) * config.sample_rate / config.n_fft)
    index = torch.arange(config.num_mel_bins, dtype=torch.float64).unsqueeze(1)
    left, centre, right = (mel_low + (index + k) * mel_step for k in range(3))
    rising = (bin_mel - left) / (centre - left)
    falling = (right - bin_mel) / (right - centre)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return torch.nn.functional.pad(weights, (0, 1))  # zero weight on the Nyquist bin


def povey_window(length: int) -> torch.Tensor:
    """Kaldi's "povey" window: a Hann window (periodic=False) raised to the power 0.85, shape (length,)."""
    n = torch.arange(length, dtype=torch.float64)
    return (0.5 - 0.5 * torch.cos(2 * math.pi * n / (length - 1))) ** 0.85


def kaldi_fbank(wav: torch.Tensor, config: FbankConfig | None = None) -> torch.Tensor:
    """Log mel filterbank energies computed as Kaldi does (no dither, no energy term).

    Args:
        wav (torch.Tensor): mono waveform at ``config.sample_rate``, float in [-1, 1], shape (n_samples,).
        config: feature options; ``FbankConfig()`` gives 3D-Speaker's CAM++ front end.

    Returns:
        torch.Tensor: features of shape (n_frames, num_mel_bins), float32, with
        n_frames = 1 + (n_samples - window_length) // window_shift (Kaldi's ``snip_edges``);
        mean-normalised over frames when ``config.mean_norm``.

    Raises:
        ValueError: the waveform is not 1-D or is shorter than one window.
    """
    config = config or FbankConfig()
    wav = torch.as_tensor(wav)
    if wav.dim() != 1:
        raise ValueError(f"kaldi_fbank expects a mono waveform of shape (n_samples,), got {tuple(wav.shape)}")
    win, shift = config.window_length, config.window_shift
    if wav.numel() < win:
        raise ValueError(
            f"audio too short for fbank: {wav.numel()} samples < one {config.frame_length_ms} ms window ({win} samples)"
        )
    # Frames in float64 so that the result matches Kaldi's to float32 round-off.
    frames = wav.to(torch.float64).unfold(0, win, shift)  # (n_frames, win)
    if config.remove_dc_offset:
        frames = frames - frames.mean(dim=1, keepdim=True)
    if config.preemphasis != 0.0:
        # Kaldi: x[i] -= c * x[i-1] for i >= 1, and x[0] -= c * x[0].
        previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
        frames = frames - config.preemphasis * previous
    frames = frames * povey_window(win).to(frames.device)
    spectrum = torch.fft.rfft(frames, n=config.n_fft)  # zero-padded to n_fft
    power = spectrum.real**2 + spectrum.imag**2  # (n_frames, n_fft // 2 + 1)
    mel = power @ kaldi_mel_filters(config).to(frames.device).T  # (n_frames, num_mel_bins)
    feats = torch.log(torch.clamp(mel, min=torch.finfo(torch.float32).eps)).to(torch.float32)
    if config.mean_norm:
        feats = feats - feats.mean(dim=0, keepdim=True)
    return feats
