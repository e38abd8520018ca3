"""Vocoders: log-mel (B, n_mels, T) → waveform (B, T·hop). docs/design.md §7.

    from levytts.vocoder import load_vocoder
    voc = load_vocoder("universal", mel_cfg)     # or a checkpoint path, or "griffin-lim"
    audio = voc(mel)                              # (B, T * hop_length)
"""
from levytts.vocoder.griffin_lim import griffin_lim
from levytts.vocoder.hifigan import (
    HiFiGANConfig,
    HiFiGANGenerator,
    fold_weight_norm,
    load_hifigan,
    universal_checkpoint,
)
from levytts.vocoder.vocoder import Vocoder, check_mel_config, load_vocoder

__all__ = ["HiFiGANConfig", "HiFiGANGenerator", "Vocoder", "check_mel_config", "fold_weight_norm", "griffin_lim",
           "load_hifigan", "load_vocoder", "universal_checkpoint"]
