"""Audio loading and safe writing.

Loading: soundfile (wav/flac/ogg), mono mixdown, resampling with soxr (librosa's soxr_hq).
Writing: float audio is clipped to [-1, 1] and written as PCM_16 by soundfile (libsndfile scales by
32768 and clips, so +1.0 becomes 32767 and never wraps around to -32768; -1.0 becomes -32768),
through a temporary file renamed into place, so a crash never leaves a half-written output.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    The temporary file lives in the same directory (same filesystem), so ``os.replace`` is atomic.
    On an exception the temporary file is removed and ``path`` is left untouched.

    Raises:
        IsADirectoryError: ``path`` is a directory (or empty), before any temporary file is made.
    """
    path = Path(path)
    if path.is_dir() or not path.name:
        raise IsADirectoryError(f"cannot write {str(path) or repr('')}: give a file name, not a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp creates 0600; give the result the mode a plain open() would (or the replaced file's)
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_audio(path: str | os.PathLike, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Load an audio file as float32 mono.

    Args:
        path: wav/flac/ogg file readable by soundfile.
        sr: target sample rate; ``None`` keeps the file's rate.

    Returns:
        (audio, sample_rate): audio of shape (n_samples,), float32 in [-1, 1].

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded, holds no samples or cannot be resampled.
        Every message names the file.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    try:
        audio, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises LibsndfileError / RuntimeError subclasses
        raise ValueError(f"cannot decode audio file {path}: {err}") from err
    if audio.shape[0] == 0:
        raise ValueError(f"audio file {path} holds no samples")
    audio = audio.mean(axis=1)  # mono mixdown
    if sr is not None and sr != file_sr:
        # soxr directly: bit-identical to librosa.resample(res_type="soxr_hq"), which calls it, without
        # importing librosa (its numba start-up costs seconds in every worker process).
        import soxr

        try:
            audio = soxr.resample(audio, file_sr, sr, quality="HQ")
        except Exception as err:  # every loader error names the file
            raise ValueError(f"cannot resample audio file {path} from {file_sr} Hz to {sr} Hz: {err}") from err
        file_sr = sr
    return np.ascontiguousarray(audio, dtype=np.float32), int(file_sr)


def save_wav(path: str | os.PathLike, audio, sr: int, subtype: str = "PCM_16") -> Path:
    """Write mono audio atomically. Values are clipped to [-1, 1] (no int16 overflow at +1.0).

    Args:
        path: output file (parent directories are created).
        audio: array-like or torch tensor of shape (n_samples,) (or (1, n_samples)).
        sr: sample rate in Hz.
        subtype: soundfile subtype, e.g. ``PCM_16`` or ``FLOAT``.
    """
    import soundfile as sf

    if hasattr(audio, "detach"):
        audio = audio.detach().cpu().numpy()
    audio = np.asarray(audio, dtype=np.float32).squeeze()
    if audio.ndim != 1:
        raise ValueError(f"save_wav expects mono audio of shape (n_samples,), got {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("refusing to write audio with NaN/inf samples")
    audio = np.clip(audio, -1.0, 1.0)
    path = Path(path)
    with atomic_write(path) as tmp:
        sf.write(str(tmp), audio, int(sr), subtype=subtype, format="WAV")
    return path


STREAM_SIZE_UNKNOWN = 0xFFFFFFFF  # RIFF and data sizes of a WAV written to a pipe (ffmpeg's convention)


def wav_stream_header(sample_rate: int) -> bytes:
    """The 44-byte header of a mono 16-bit PCM WAV stream of unknown length (``levytts synth --out -``).

    RIFF/WAVE, a 16-byte ``fmt `` chunk (PCM, 1 channel, ``sample_rate``, 16 bits), then a ``data`` chunk; the
    RIFF and data sizes are 0xFFFFFFFF (unknown, as ffmpeg writes to a pipe), so a reader takes samples until the
    stream ends. The samples that follow are :func:`pcm16_bytes`."""
    import struct

    sr = int(sample_rate)
    return (b"RIFF" + struct.pack("<I", STREAM_SIZE_UNKNOWN) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr, 2 * sr, 2, 16)
            + b"data" + struct.pack("<I", STREAM_SIZE_UNKNOWN))


def pcm16_bytes(audio) -> bytes:
    """Mono float audio → little-endian 16-bit PCM bytes, clipped to [-1, 1] and converted by libsndfile exactly
    as :func:`save_wav` writes them (so a stream and a file of the same audio hold the same samples)."""
    import io

    import soundfile as sf

    if hasattr(audio, "detach"):
        audio = audio.detach().cpu().numpy()
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(audio)):
        raise ValueError("refusing to write audio with NaN/inf samples")
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), 8000, subtype="PCM_16", format="RAW", endian="LITTLE")
    return buf.getvalue()
