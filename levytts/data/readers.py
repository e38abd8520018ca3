"""Corpus readers: each returns a list of :class:`~levytts.data.filelists.Utterance` with durations.

On-disk layouts (as distributed):
- LJSpeech-1.1: ``metadata.csv`` with ``id|transcription|normalized transcription`` (no header,
  quotes are literal), audio in ``wavs/<id>.wav``; one speaker, id ``lj``.
- HiFi-TTS: ``<speaker>_manifest_<clean|other>_<train|dev|test>.json``, JSON lines with
  ``audio_filepath`` (relative to the corpus root), ``text`` (and ``text_normalized``), ``duration``;
  the speaker id is the manifest name's prefix (``9017``).
- LibriTTS(-R): ``<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<...>.wav`` with the text in
  ``<same stem>.normalized.txt``.
- plain filelist: ``wav_path|speaker|text`` (or ``wav_path|text`` with a given speaker).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from levytts.data.filelists import Utterance, read_filelist, read_text_lines

READERS = ("ljspeech", "hifitts", "libritts", "filelist")
_HIFITTS_MANIFEST = re.compile(r"^(?P<speaker>[^_]+)_manifest_(?P<quality>[a-z]+)_(?P<split>[a-z]+)\.json$")


def _audio_duration(path: str) -> float | None:
    """Seconds, from the file header (no decoding); None when unreadable (validation reports it)."""
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception:  # missing or corrupt: left for validate_utterances to report
        return None
    return info.frames / info.samplerate if info.samplerate else None


def _require_dir(root: str | os.PathLike, what: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{what} directory not found: {root}")
    return root


def read_ljspeech(root: str | os.PathLike, speaker: str = "lj") -> list[Utterance]:
    """LJSpeech: ``root/metadata.csv`` (normalized column) and ``root/wavs/<id>.wav``."""
    root = _require_dir(root, "LJSpeech")
    meta = root / "metadata.csv"
    if not meta.is_file():
        raise FileNotFoundError(f"{meta} not found: is {root} the LJSpeech-1.1 folder?")
    out = []
    for lineno, line in enumerate(read_text_lines(meta, "LJSpeech metadata"), 1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) < 2:
            raise ValueError(f"{meta}:{lineno}: expected 'id|text|normalized text'")
        text = fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]
        wav = str(root / "wavs" / f"{fields[0]}.wav")
        out.append(Utterance(wav, speaker, text.strip(), _audio_duration(wav)))
    return out


def read_hifitts(root: str | os.PathLike, speakers: list[str] | None = None,
                 splits: tuple[str, ...] = ("train", "dev", "test"), qualities: tuple[str, ...] = ("clean", "other"),
                 ) -> list[Utterance]:
    """HiFi-TTS manifests ``root/<spk>_manifest_<quality>_<split>.json`` (JSON lines).

    Args:
        speakers: speaker ids to keep (e.g. ``["9017"]``); None keeps all.
    """
    root = _require_dir(root, "HiFi-TTS")
    manifests = []
    for path in sorted(root.glob("*_manifest_*.json")):
        m = _HIFITTS_MANIFEST.match(path.name)
        if m and m["split"] in splits and m["quality"] in qualities and (speakers is None or m["speaker"] in speakers):
            manifests.append((m["speaker"], path))
    if not manifests:
        raise FileNotFoundError(f"no HiFi-TTS manifest like '9017_manifest_clean_train.json' in {root}"
                                + (f" for speakers {speakers}" if speakers else ""))
    out = []
    for speaker, path in manifests:
        for lineno, line in enumerate(read_text_lines(path, "HiFi-TTS manifest"), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                audio = str(entry["audio_filepath"])
                text = str(entry.get("text_normalized") or entry.get("text", ""))
                duration = entry.get("duration")
                duration = float(duration) if duration is not None else None
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as err:
                raise ValueError(f"{path}:{lineno}: not a manifest line with audio_filepath, text and a numeric "
                                 f"duration ({type(err).__name__}: {err})") from err
            wav = Path(audio) if Path(audio).is_absolute() else root / audio
            out.append(Utterance(str(wav), speaker, text.strip(),
                                 duration if duration is not None else _audio_duration(str(wav))))
    return out


def read_libritts(root: str | os.PathLike, speakers: list[str] | None = None) -> list[Utterance]:
    """LibriTTS: every ``<speaker>/<chapter>/<stem>.wav`` under ``root`` with ``<stem>.normalized.txt``.

    ``root`` may be the corpus folder or one subset (``train-clean-100``). Utterances whose text file
    is missing get an empty text (validation reports and skips them).
    """
    root = _require_dir(root, "LibriTTS")
    out = []
    for wav in sorted(root.rglob("*.wav")):
        speaker = wav.parent.parent.name
        if not wav.stem.startswith(f"{speaker}_") or (speakers is not None and speaker not in speakers):
            continue
        txt = wav.with_name(wav.stem + ".normalized.txt")
        text = " ".join(read_text_lines(txt)).strip() if txt.is_file() else ""
        out.append(Utterance(str(wav), speaker, text, _audio_duration(str(wav))))
    if not out:
        raise FileNotFoundError(f"no LibriTTS '<speaker>/<chapter>/<speaker>_<chapter>_*.wav' under {root}")
    return out


def read_plain_filelist(path: str | os.PathLike, speaker: str | None = None) -> list[Utterance]:
    """A ``wav_path|speaker|text`` (or ``wav_path|text`` + ``speaker``) list, with durations added."""
    return [Utterance(u.wav_path, u.speaker, u.text, _audio_duration(u.wav_path))
            for u in read_filelist(path, default_speaker=speaker)]


def read_corpus(kind: str, path: str | os.PathLike, speakers: list[str] | None = None,
                default_speaker: str | None = None) -> list[Utterance]:
    """Read a corpus of ``kind`` (one of :data:`READERS`).

    Args:
        speakers: keep only these speaker ids (None keeps all).
        default_speaker: the speaker id of LJSpeech (default ``lj``) and of ``wav_path|text`` filelists.
    """
    if kind == "ljspeech":
        items = read_ljspeech(path, speaker=default_speaker or "lj")
    elif kind == "hifitts":
        items = read_hifitts(path, speakers=speakers)
    elif kind == "libritts":
        items = read_libritts(path, speakers=speakers)
    elif kind == "filelist":
        items = read_plain_filelist(path, speaker=default_speaker)
    else:
        raise ValueError(f"unknown corpus kind {kind!r}; choose one of {READERS}")
    return items if speakers is None else [u for u in items if u.speaker in speakers]
