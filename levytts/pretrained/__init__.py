"""The bundled demo voice: a small checkpoint shipped inside the package (docs/demo_voice.md).

    from levytts.pretrained import load_demo_voice
    tts = load_demo_voice()                       # a levytts.TTS with the universal HiFi-GAN
    out = tts.synth("Hello there.", speaker="awb")

`levytts synth` uses it when no --checkpoint is given. It was trained by egs/offline_imbalanced (stages 3-4)
on SYNTHETIC flite speech; :func:`export_checkpoint` turns any training checkpoint into this compact form
(model weights only, EMA weights when present, float16 storage, the training config, symbols and speakers).
"""
from __future__ import annotations

from pathlib import Path

import torch

DEMO_VOICE_FILE = "demo_voice.pt"


def demo_voice_path() -> Path:
    """Path of the bundled demo checkpoint (FileNotFoundError with what to do when it is absent)."""
    path = Path(__file__).resolve().parent / DEMO_VOICE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"the bundled demo voice {path} is missing from this install; give --checkpoint PATH "
                                "or rebuild it with egs/offline_imbalanced/run.sh (stage 8)")
    return path


def load_demo_voice(vocoder: str | Path | None = "universal", device: str = "cpu"):
    """The bundled demo voice as a :class:`levytts.tts.synth.TTS`."""
    from levytts.tts.synth import TTS

    return TTS(demo_voice_path(), vocoder=vocoder, device=device)


def export_checkpoint(src: str | Path, dst: str | Path, dtype: torch.dtype = torch.float16,
                      use_ema: bool = True, note: str = "", synth_defaults: dict | None = None) -> Path:
    """Compact a `levytts train` checkpoint into a file :class:`levytts.TTS` loads.

    Keeps ``hyper_parameters`` (cfg, symbols, speakers, add_blank), ``global_step`` and the model weights
    (under the ``model.`` prefix TTS reads; the EMA copy when ``use_ema`` and present), with floating
    tensors of more than one element stored as ``dtype`` (scalars such as the mel statistics stay float32).
    ``synth_defaults`` (keys of :data:`levytts.tts.synth.SYNTH_DEFAULTS`, e.g. ``{"solver": "ei"}``) are stored in ``hyper_parameters`` and used by
    :class:`levytts.TTS` as its sampler defaults. Optimiser state, callbacks and loops are dropped.
    Written atomically.
    """
    from levytts.audio.io import atomic_write
    from levytts.tts.synth import model_weights, sampler_defaults

    if synth_defaults:
        sampler_defaults(synth_defaults, source="export_checkpoint(synth_defaults=...)")  # unknown keys fail here

    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"checkpoint not found: {src}")
    ckpt = torch.load(src, map_location="cpu", weights_only=False)
    if "hyper_parameters" not in ckpt or "state_dict" not in ckpt:
        raise ValueError(f"{src} is not a levytts training checkpoint (no hyper_parameters / state_dict)")
    weights = {}
    for key, value in model_weights(ckpt["state_dict"], use_ema).items():
        if value.is_floating_point() and value.numel() > 1:
            value = value.to(dtype)
        weights["model." + key] = value.clone()
    hp = dict(ckpt["hyper_parameters"])
    cfg = dict(hp["cfg"])
    model = dict(cfg["model"])
    model["encoder"] = dict(model["encoder"], pretrained=None)  # weights are inside; no path to a training run
    cfg["model"] = model
    hp["cfg"] = cfg
    if synth_defaults:
        hp["synth_defaults"] = dict(synth_defaults)
    out = {"hyper_parameters": hp, "state_dict": weights, "global_step": int(ckpt.get("global_step", 0)),
           "levytts_export": {"source": src.name, "dtype": str(dtype), "note": note}}
    dst = Path(dst)
    with atomic_write(dst) as tmp:
        torch.save(out, tmp)
    return dst
