"""The HiFi-GAN log-mel spectrogram (docs/design.md §7), with torch.stft and librosa's mel filters.

Definition (the one the universal HiFi-GAN vocoder was trained on):
1. reflect-pad the waveform by (n_fft - hop_length) / 2 on each side;
2. STFT with a periodic Hann window of ``win_length``, ``center=False``;
3. magnitude sqrt(re² + im² + 1e-9) (HiFi-GAN adds 1e-9 inside the root);
4. mel filterbank ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)`` (Slaney scale and norm);
5. log(clamp(·, min=1e-5)).
The number of frames is T = n_samples // hop_length (the padded length is n_samples + n_fft - hop_length).

Every parameter comes from the caller (a data config): nothing here assumes 22 050 Hz or hop 256.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn

MAGNITUDE_EPS = 1e-9
LOG_CLAMP = 1e-5


@dataclass(frozen=True)
class MelConfig:
    """Mel parameters; build one from a data config with :meth:`from_cfg`."""

    sample_rate: int
    n_fft: int
    hop_length: int
    win_length: int
    n_mels: int
    f_min: float = 0.0
    f_max: float | None = None

    def __post_init__(self) -> None:
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length ({self.win_length}) must be <= n_fft ({self.n_fft})")
        if (self.n_fft - self.hop_length) % 2:
            raise ValueError(f"n_fft - hop_length must be even for the symmetric HiFi-GAN padding, "
                             f"got n_fft={self.n_fft}, hop_length={self.hop_length}")
        if self.f_max is not None and self.f_max > self.sample_rate / 2:
            raise ValueError(f"f_max ({self.f_max}) is above Nyquist ({self.sample_rate / 2})")

    @classmethod
    def from_cfg(cls, cfg) -> "MelConfig":
        """From a dict, an OmegaConf node or any object with these attributes (extra keys ignored)."""
        if isinstance(cfg, MelConfig):
            return cfg
        get = cfg.get if hasattr(cfg, "get") else (lambda k, d=None: getattr(cfg, k, d))
        names = [f.name for f in fields(cls)]
        missing = [n for n in names[:5] if get(n, None) is None]
        if missing:
            raise ValueError(f"mel config lacks {missing}; see configs/tts/data/*.yaml for the keys")
        values = {n: get(n, None) for n in names}
        values = {k: v for k, v in values.items() if v is not None or k == "f_max"}
        for key in ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels"):
            values[key] = int(values[key])
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def mel_filterbank(cfg: MelConfig) -> np.ndarray:
    """librosa's Slaney mel filters, shape (n_mels, n_fft // 2 + 1), float32."""
    import librosa

    return librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels,
                               fmin=cfg.f_min, fmax=cfg.f_max).astype(np.float32)


class MelSpectrogram(nn.Module):
    """Waveform → HiFi-GAN log-mel.

    Args:
        sample_rate, n_fft, hop_length, win_length, n_mels, f_min, f_max: see :class:`MelConfig`.

    Forward:
        audio (torch.Tensor): waveforms in [-1, 1], shape (B, n_samples) or (n_samples,).

    Returns:
        torch.Tensor: log-mel, shape (B, n_mels, T) (or (n_mels, T) for 1-D input), T = n_samples // hop_length.
    """

    def __init__(self, sample_rate: int, n_fft: int, hop_length: int, win_length: int, n_mels: int,
                 f_min: float = 0.0, f_max: float | None = None) -> None:
        super().__init__()
        self.cfg = MelConfig(sample_rate, n_fft, hop_length, win_length, n_mels, f_min, f_max)
        self.register_buffer("mel_basis", torch.from_numpy(mel_filterbank(self.cfg)), persistent=False)
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)

    @classmethod
    def from_cfg(cls, cfg) -> "MelSpectrogram":
        return cls(**MelConfig.from_cfg(cfg).to_dict())

    def n_frames(self, n_samples: int) -> int:
        """Number of mel frames for ``n_samples`` samples."""
        return n_samples // self.cfg.hop_length

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        squeeze = audio.dim() == 1
        if squeeze:
            audio = audio.unsqueeze(0)
        if audio.dim() != 2:
            raise ValueError(f"audio must have shape (B, n_samples) or (n_samples,), got {tuple(audio.shape)}")
        pad = (self.cfg.n_fft - self.cfg.hop_length) // 2
        if audio.shape[-1] <= pad:
            raise ValueError(f"audio of {audio.shape[-1]} samples is too short for reflect padding of {pad}")
        audio = audio.to(self.mel_basis.dtype)
        padded = torch.nn.functional.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(padded, n_fft=self.cfg.n_fft, hop_length=self.cfg.hop_length,
                          win_length=self.cfg.win_length, window=self.window, center=False,
                          return_complex=True)
        magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + MAGNITUDE_EPS)
        mel = torch.log(torch.clamp(torch.matmul(self.mel_basis, magnitude), min=LOG_CLAMP))
        return mel.squeeze(0) if squeeze else mel


def mel_spectrogram(audio, cfg) -> torch.Tensor:
    """Functional form of :class:`MelSpectrogram`.

    Args:
        audio: waveform(s), torch.Tensor or numpy array of shape (B, n_samples) or (n_samples,).
        cfg: data config (dict / OmegaConf / :class:`MelConfig`) with sample_rate, n_fft,
            hop_length, win_length, n_mels, f_min, f_max.

    Returns:
        torch.Tensor: log-mel of shape (B, n_mels, T) (or (n_mels, T)).
    """
    if not torch.is_tensor(audio):
        audio = torch.as_tensor(np.asarray(audio, dtype=np.float32))
    module = MelSpectrogram.from_cfg(cfg).to(audio.device)
    return module(audio)
