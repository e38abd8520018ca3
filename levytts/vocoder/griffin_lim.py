"""Griffin–Lim fallback vocoder for HiFi-GAN log-mels (librosa).

Inverts log(clamp(M·|STFT|)) with librosa's mel pseudo-inverse (NNLS) and Griffin–Lim phase recovery.
Quality is far below HiFi-GAN (phasey, buzzy) but it needs no weights. Our mel uses center=False with
(n_fft - hop)/2 reflect padding; librosa's inverse assumes center=True, which shifts the output by
hop/2 samples (our frame i is centred on sample i·hop + hop/2, librosa's on i·hop); we prepend hop/2
zeros and pad the end, so the output has exactly T·hop samples aligned like the neural vocoder's.
"""
from __future__ import annotations

import numpy as np
import torch


def griffin_lim(mel: torch.Tensor, mel_cfg, n_iter: int = 32) -> torch.Tensor:
    """Log-mel → waveform by mel pseudo-inversion and Griffin–Lim.

    Args:
        mel: log-mel, shape (B, n_mels, T) or (n_mels, T).
        mel_cfg: :class:`levytts.audio.mel.MelConfig` (or anything ``MelConfig.from_cfg`` accepts).
        n_iter: Griffin–Lim iterations.

    Returns:
        torch.Tensor: waveform, shape (B, T * hop_length) (or (T * hop_length,)), float32 on mel's device.
    """
    import librosa

    from levytts.audio.mel import MelConfig

    cfg = MelConfig.from_cfg(mel_cfg)
    squeeze = mel.dim() == 2
    mels = mel.unsqueeze(0) if squeeze else mel
    if mels.dim() != 3 or mels.shape[1] != cfg.n_mels:
        raise ValueError(f"mel must have shape (B, {cfg.n_mels}, T), got {tuple(mel.shape)}")
    out = []
    for m in mels.detach().float().cpu().numpy():
        n = m.shape[-1] * cfg.hop_length
        # librosa.feature.inverse.mel_to_audio in two steps, to seed Griffin–Lim's random initial phase: the audio
        # is a function of the mel alone (reproducible files; sharded synthesis writes the unsharded run's bytes)
        stft = librosa.feature.inverse.mel_to_stft(np.exp(m), sr=cfg.sample_rate, n_fft=cfg.n_fft, power=1.0,
                                                   fmin=cfg.f_min, fmax=cfg.f_max)
        y = librosa.griffinlim(stft, n_iter=n_iter, hop_length=cfg.hop_length, win_length=cfg.win_length,
                               center=True, dtype=np.float32, random_state=0)
        y = np.concatenate([np.zeros(cfg.hop_length // 2, dtype=y.dtype), y])[:n]
        y = np.pad(y, (0, n - len(y)))
        out.append(np.clip(y, -1.0, 1.0).astype(np.float32))
    audio = torch.from_numpy(np.stack(out)).to(mel.device)
    return audio.squeeze(0) if squeeze else audio
