"""Audio I/O and features (mel spectrograms). See docs/design.md §7."""
from levytts.audio.io import atomic_write, load_audio, save_wav

__all__ = ["atomic_write", "load_audio", "save_wav"]
