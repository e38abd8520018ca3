"""The common filelist ``wav_path|speaker|text`` (UTF-8, one utterance a line) and the speakers file.

The speakers file lists one speaker id a line; a speaker's integer index (the model's speaker
embedding row) is its line number, starting at 0. Paths in filelists are written as given (absolute
paths are the safest); relative paths are resolved against the filelist's directory when read.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SEPARATOR = "|"


@dataclass(frozen=True)
class Utterance:
    """One filelist line. ``duration`` (seconds) is filled in when known (not written to filelists)."""

    wav_path: str
    speaker: str
    text: str
    duration: float | None = None

    @property
    def utt_id(self) -> str:
        """File stem of the audio, e.g. ``LJ001-0001``."""
        return Path(self.wav_path).stem


def _clean_field(value: str, what: str, where: str) -> str:
    value = value.replace("\n", " ").replace("\r", " ").strip()
    if SEPARATOR in value:
        raise ValueError(f"{what} {value!r} contains the filelist separator '|' ({where})")
    return value


def write_filelist(path: str | os.PathLike, utterances) -> Path:
    """Write utterances as ``wav_path|speaker|text`` lines (atomically)."""
    from levytts.audio.io import atomic_write

    lines = []
    for utt in utterances:
        where = f"utterance {utt.wav_path}"
        lines.append(SEPARATOR.join([_clean_field(str(utt.wav_path), "path", where),
                                     _clean_field(str(utt.speaker), "speaker", where),
                                     _clean_field(utt.text, "text", where)]))
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def read_filelist(path: str | os.PathLike, default_speaker: str | None = None) -> list[Utterance]:
    """Read ``wav_path|speaker|text`` lines (or ``wav_path|text`` when ``default_speaker`` is given).

    Relative audio paths are resolved against the filelist's directory. Blank lines are skipped.

    Raises:
        FileNotFoundError: no such filelist.
        ValueError: a line with the wrong number of fields (the line number is given).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"filelist not found: {path}")
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(SEPARATOR)
        if len(fields) == 2 and default_speaker is not None:
            fields = [fields[0], default_speaker, fields[1]]
        if len(fields) != 3:
            raise ValueError(f"{path}:{lineno}: expected 'wav_path|speaker|text', got {len(fields)} field(s)"
                             + ("" if default_speaker else " (for 'wav_path|text' lists pass a default speaker)"))
        wav, speaker, text = (f.strip() for f in fields)
        wav_path = Path(wav)
        if not wav_path.is_absolute():
            wav_path = path.parent / wav_path
        out.append(Utterance(str(wav_path), speaker, text))
    return out


def write_speakers(path: str | os.PathLike, speakers) -> Path:
    """Write speaker ids one a line; the line number is the speaker index."""
    from levytts.audio.io import atomic_write

    speakers = [_clean_field(str(s), "speaker", str(path)) for s in speakers]
    if len(set(speakers)) != len(speakers):
        raise ValueError(f"duplicate speaker ids: {speakers}")
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text("".join(s + "\n" for s in speakers), encoding="utf-8")
    return path


def read_speakers(path: str | os.PathLike) -> list[str]:
    """Speaker ids in index order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"speakers file not found: {path}")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def speaker_index(speakers: list[str]) -> dict[str, int]:
    """Speaker id → embedding index."""
    return {s: i for i, s in enumerate(speakers)}
