"""One interface over HiFi-GAN and Griffin–Lim, with the mel-config check."""
from __future__ import annotations

import math
from pathlib import Path

import torch

from levytts.vocoder.griffin_lim import griffin_lim
from levytts.vocoder.hifigan import HiFiGANGenerator, load_hifigan, resolve_hifigan

GRIFFIN_LIM = "griffin-lim"
MEL_KEYS = ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "f_min", "f_max")


def check_mel_config(model_mel: dict, vocoder_mel: dict, what: str = "vocoder") -> None:
    """Raise ValueError naming every field where the acoustic model's mel differs from the vocoder's."""
    diffs = []
    for k in MEL_KEYS:
        a, b = model_mel.get(k), vocoder_mel.get(k)
        same = (a is None and b is None) or (a is not None and b is not None and math.isclose(float(a), float(b)))
        if not same:
            diffs.append(f"{k}: model {a} vs {what} {b}")
    if diffs:
        raise ValueError(f"mel configuration differs from the {what}'s ({'; '.join(diffs)}); use a {what} trained "
                         f"on the same mel definition, or --vocoder griffin-lim")


class Vocoder:
    """Callable log-mel → waveform.

    Args:
        generator: a HiFi-GAN generator, or ``None`` for Griffin–Lim.
        mel_cfg: the mel definition of the mels this vocoder receives (MelConfig field names).
        gl_iters: Griffin–Lim iterations.

    Call:
        mel (torch.Tensor): (B, n_mels, T) → waveform (B, T * hop_length).
    """

    def __init__(self, generator: HiFiGANGenerator | None, mel_cfg: dict, gl_iters: int = 32):
        self.generator = generator
        self.mel_cfg = dict(mel_cfg)
        self.gl_iters = gl_iters
        self.name = GRIFFIN_LIM if generator is None else "hifigan"
        self.backend = getattr(generator, "backend", "torch")  # torch | onnxruntime | openvino (exported.py)

    @property
    def sample_rate(self) -> int:
        return int(self.mel_cfg["sample_rate"])

    def to(self, device) -> "Vocoder":
        if self.generator is not None:
            self.generator.to(device)
        return self

    @torch.no_grad()
    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        if self.generator is None:
            return griffin_lim(mel, self.mel_cfg, self.gl_iters)
        p = next(self.generator.parameters(), None)  # None: an exported generator (levytts.vocoder.exported)
        dev = mel.device if p is None else p.device
        return self.generator(mel.to(dev, torch.float32)).to(mel.device)


#: mel frames of context on each side of a piece (:meth:`Vocoder.pieces`): the universal HiFi-GAN's output at a
#: piece boundary differs from the whole-utterance output by 0.3 (of a peak 0.54) with 8 frames, 3e-5 with 12 and
#: ≤ 3e-6 (float32 rounding) with 16 or more (measured on a demo-voice sentence).
PIECE_CONTEXT_FRAMES = 20


def vocode_pieces(vocoder: "Vocoder", mel: torch.Tensor, bounds: list[int],
                  context: int = PIECE_CONTEXT_FRAMES):
    """Vocode mel (1, n_mels, T) piece by piece: yields the waveform of frames [bounds[i], bounds[i+1]) for each i,
    (n_i · hop,) each, computed on the piece plus ``context`` frames each side (cut off again), so the pieces joined
    equal the whole utterance's waveform to float rounding (HiFi-GAN: a convolutional receptive field, see
    :data:`PIECE_CONTEXT_FRAMES`). Griffin–Lim (a global phase estimate) or any vocoder without a ``generator`` is
    vocoded whole in one call and the result cut at the bounds.

    Raises ValueError for bounds that are not increasing from 0 to T."""
    T = mel.shape[-1]
    if bounds[0] != 0 or bounds[-1] != T or any(b <= a for a, b in zip(bounds, bounds[1:])):
        raise ValueError(f"piece bounds must increase from 0 to the mel length {T}, got {bounds}")
    hop = int(vocoder.mel_cfg["hop_length"])
    if len(bounds) == 2 or getattr(vocoder, "generator", None) is None:  # one call; sliced when pieces were asked
        audio = vocoder(mel)[0]
        for s, e in zip(bounds[:-1], bounds[1:]):
            yield audio[s * hop:e * hop] if len(bounds) > 2 else audio
        return
    for s, e in zip(bounds[:-1], bounds[1:]):
        lo, hi = max(0, s - context), min(T, e + context)
        audio = vocoder(mel[:, :, lo:hi])[0]
        yield audio[(s - lo) * hop:(e - lo) * hop]


def load_vocoder(spec: str | Path | None, mel_cfg=None, config: str | Path | None = None,
                 device: str | torch.device = "cpu", backend: str = "torch", dtype: str = "float32") -> Vocoder:
    """Build a vocoder from a spec: ``"universal"``/None, ``"griffin-lim"``, or a checkpoint path.

    Args:
        spec: which vocoder.
        mel_cfg: the acoustic model's mel definition (dict / OmegaConf / MelConfig). HiFi-GAN refuses
            with ValueError when it differs from the vocoder's config.json. Required for Griffin–Lim.
        config: jik876 config.json for a checkpoint path (default: next to it).
        backend: HiFi-GAN run by ``torch`` (default), or ``onnxruntime`` / ``openvino`` (CPU, an optional extra;
            a cached ONNX export, :mod:`levytts.vocoder.exported`). ValueError (one line) when not installed.
        dtype: the exported backends' precision: ``float32``, or ``bfloat16`` (openvino only). The torch backend
            ignores it (its bf16 is autocast, applied by the caller: levytts.tts.synth.autocast_forward).
    """
    from levytts.audio.mel import MelConfig

    if backend != "torch":
        from levytts.vocoder.exported import require

        require(backend)
        if torch.device(device).type != "cpu":
            raise ValueError(f"the {backend} vocoder backend runs on the CPU only; use --vocoder-backend torch")
    model_mel = None if mel_cfg is None else MelConfig.from_cfg(mel_cfg).to_dict()
    if spec is not None and str(spec) == GRIFFIN_LIM:
        if model_mel is None:
            raise ValueError("Griffin–Lim needs the mel configuration (mel_cfg)")
        if backend != "torch":
            raise ValueError(f"the {backend} vocoder backend is for HiFi-GAN; Griffin-Lim runs in torch")
        return Vocoder(None, model_mel)
    spec = "universal" if spec is None else spec
    _, voc_cfg = resolve_hifigan(spec, config)  # check the mel definition before reading the weights
    voc_mel = voc_cfg.mel_dict()
    if model_mel is not None:
        check_mel_config(model_mel, voc_mel)
    if voc_cfg.upsample_factor != voc_mel["hop_length"]:
        raise ValueError(f"HiFi-GAN upsampling ({voc_cfg.upsample_factor}) != its hop_size ({voc_mel['hop_length']})")
    if backend != "torch":
        from levytts.vocoder.exported import load_exported_generator

        return Vocoder(load_exported_generator(spec, config, backend, dtype=dtype), voc_mel)
    gen = load_hifigan(spec, config, map_location="cpu")
    return Vocoder(gen.to(device), voc_mel)
