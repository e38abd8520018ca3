"""The bundled demo voice: a small exported checkpoint shipped inside the package (docs/demo_voice.md).

    from levytts.pretrained import demo_voice_path
    from levytts.tts.synth import load_demo_voice   # also levytts.load_demo_voice
    tts = load_demo_voice()                         # a levytts.TTS with the universal HiFi-GAN
    out = tts.synth("Hello there.", speaker="awb")

`levytts synth` uses it when no --checkpoint is given. It was trained by egs/offline_imbalanced (stages 3-4)
on SYNTHETIC flite speech and written by `levytts export` (stage 8; :mod:`levytts.tts.checkpoint`).

This package is a leaf: it holds only the file and its path, and imports nothing from levytts.
"""
from __future__ import annotations

from pathlib import Path

DEMO_VOICE_FILE = "demo_voice.pt"


def demo_voice_path() -> Path:
    """Path of the bundled demo checkpoint (FileNotFoundError with what to do when it is absent)."""
    path = Path(__file__).resolve().parent / DEMO_VOICE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"the bundled demo voice {path} is missing from this install; give --checkpoint PATH "
                                "or rebuild it with egs/offline_imbalanced/run.sh (stage 8)")
    return path
