"""Sentence splitting for synthesis, with the normaliser's own abbreviation table and context rules.

A sentence ends at ``.``, ``!``, ``?`` or ``;`` followed by whitespace, except after an abbreviation,
initial or dotted letters whose period does not end a sentence (levytts.text.abbreviations:
"Dr. John Smith", "Mr. Smith", "John F. Kennedy", "No. 5", "Main St. near"); the normaliser keeps a
period as a phrase break at exactly the same places. Fragments with nothing speakable ("??", "…")
are dropped.
"""
from __future__ import annotations

import re

from levytts.text.abbreviations import PERIOD_WORD_RE, context_at, read_period_word
from levytts.text.normalize import PHRASE_PUNCTUATION, normalize_text

SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


def _continued_periods(text: str) -> set[int]:
    """End offsets of the abbreviation / initial periods in ``text`` that do not end a sentence."""
    keep = set()
    for match in PERIOD_WORD_RE.finditer(text):
        read = read_period_word(match.group(1), *context_at(text, match.start(), match.end()))
        if read is not None and not read[1]:
            keep.add(match.end())
    return keep


def is_speakable(text: str) -> bool:
    """True when ``text`` normalises to at least one word (not only punctuation or dropped symbols)."""
    return any(tok not in PHRASE_PUNCTUATION for tok in normalize_text(text, warn=False).split())


def split_sentences(text: str) -> list[str]:
    """Split text into the sentences synthesised one by one; drop fragments with nothing speakable.

    Returns:
        The stripped, speakable sentences in order (never empty).

    Raises:
        ValueError: ``text`` holds no speakable word at all (empty, only punctuation or symbols).
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    continued = _continued_periods(text)
    pieces, start = [], 0
    for gap in SENTENCE_END.finditer(text):
        if gap.start() not in continued:
            pieces.append(text[start:gap.start()])
            start = gap.end()
    pieces.append(text[start:])
    sentences = [p.strip() for p in pieces if p.strip() and is_speakable(p)]
    if not sentences:
        raise ValueError(f"no speakable words in text {text[:80]!r}: give English words or numbers")
    return sentences
