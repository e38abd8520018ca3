"""The common filelist ``wav_path|speaker|text`` (UTF-8, one utterance a line) and the speakers file.

``read_filelist`` is the only filelist parser (levytts.eval.report wraps it); its rules are in its docstring.

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


def read_text_lines(path: str | os.PathLike, what: str = "file") -> list[str]:
    """The lines of a UTF-8 text file; a leading byte-order mark (as Windows editors save) is dropped.

    Raises:
        FileNotFoundError: no such file (``what`` names it in the message).
        ValueError: the file is not UTF-8 — one line naming the file, the line and byte offset of the
            first bad byte, and the fix (not a bare UnicodeDecodeError).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        start = err.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)  # err.start counts after the BOM
        line = data[:start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 (byte 0x{data[start]:02x} at byte offset {start}); "
                         "save it as UTF-8") from None
    return text.splitlines()


def read_filelist(path: str | os.PathLike, default_speaker: str | None = None, resolve_paths: bool = True,
                  unique_ids: bool = False, require_entries: bool = False) -> list[Utterance]:
    """Read ``wav_path|speaker|text`` lines (or ``wav_path|text`` when ``default_speaker`` is given).

    The one filelist reader (training, data tools, evaluation). Rules: UTF-8, a leading byte-order mark
    ignored; blank lines and lines starting with ``#`` skipped; fields stripped; a ``|`` after the
    second one belongs to the text (``write_filelist`` never writes one). Relative audio paths are
    resolved against the filelist's directory unless ``resolve_paths`` is False (evaluation resolves
    them against its reference directory).

    Args:
        unique_ids: refuse two lines with the same utterance id (file stem).
        require_entries: refuse a filelist without utterances.

    Raises:
        FileNotFoundError: no such filelist.
        ValueError: not UTF-8 (file, line, byte offset), too few fields, a repeated id or no entries
            (each names the file and line).
    """
    path = Path(path)
    out, seen = [], {}
    for lineno, line in enumerate(read_text_lines(path, "filelist"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(SEPARATOR)
        if len(fields) == 2 and default_speaker is not None:
            fields = [fields[0], default_speaker, fields[1]]
        if len(fields) < 3:
            raise ValueError(f"{path}:{lineno}: expected 'wav_path|speaker|text', got {len(fields)} field(s)"
                             + ("" if default_speaker else " (for 'wav_path|text' lists pass a default speaker)"))
        wav, speaker, text = fields[0].strip(), fields[1].strip(), SEPARATOR.join(fields[2:]).strip()
        wav_path = Path(wav)
        if resolve_paths and not wav_path.is_absolute():
            wav_path = path.parent / wav_path
        utt = Utterance(str(wav_path), speaker, text)
        if unique_ids:
            if utt.utt_id in seen:
                raise ValueError(f"{path}:{lineno}: utterance id {utt.utt_id!r} (file stem) appears twice "
                                 f"(first on line {seen[utt.utt_id]}); stems must be unique")
            seen[utt.utt_id] = lineno
        out.append(utt)
    if require_entries and not out:
        raise ValueError(f"filelist {path} has no entries")
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
    """Speaker ids in index order (UTF-8, a leading byte-order mark ignored)."""
    return [line.strip() for line in read_text_lines(path, "speakers file") if line.strip()]


def speaker_index(speakers: list[str]) -> dict[str, int]:
    """Speaker id → embedding index."""
    return {s: i for i, s in enumerate(speakers)}
