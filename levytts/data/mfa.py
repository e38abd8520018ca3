"""Prepare a Montreal Forced Aligner corpus from a filelist (MFA itself runs in tools/mfa_align.sh).

MFA wants ``<corpus>/<speaker>/<utt>.wav`` with a transcript ``<utt>.lab`` beside it; it writes
``<out>/<speaker>/<utt>.TextGrid``, the layout :func:`levytts.data.durations.textgrid_to_durations`
and ``levytts data durations --textgrid-dir`` read. Transcripts are our normalised text without
punctuation, so MFA's english_us_arpa dictionary sees the same words our phonemizer does.
"""
from __future__ import annotations

import os
from pathlib import Path

from levytts.data.filelists import Utterance


def write_mfa_corpus(utterances: list[Utterance], out_dir: str | os.PathLike, link: bool = True) -> int:
    """Lay out ``out_dir/<speaker>/<utt>.{wav,lab}``; wavs are symlinked (``link``) or copied.

    Returns:
        The number of utterances written.
    """
    import shutil

    from levytts.audio.io import atomic_write
    from levytts.text import normalize_text
    from levytts.text.normalize import PHRASE_PUNCTUATION

    out = Path(out_dir)
    for utt in utterances:
        src = Path(utt.wav_path).resolve()
        if not src.is_file():
            raise FileNotFoundError(f"audio not found: {src} (run `levytts data validate` first)")
        folder = out / utt.speaker
        folder.mkdir(parents=True, exist_ok=True)
        wav = folder / f"{utt.utt_id}{src.suffix}"
        if wav.is_symlink() or wav.exists():
            wav.unlink()
        if link:
            wav.symlink_to(src)
        else:
            shutil.copyfile(src, wav)
        words = [w for w in normalize_text(utt.text).split() if w not in PHRASE_PUNCTUATION]
        with atomic_write(folder / f"{utt.utt_id}.lab") as tmp:
            tmp.write_text(" ".join(words) + "\n", encoding="utf-8")
    return len(utterances)
