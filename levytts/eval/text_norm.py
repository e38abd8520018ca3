"""Text normalisation for word error rate: the same function is applied to references and hypotheses.

pocketsphinx's en-us model outputs lower-case dictionary words without punctuation, and spells no
digits, so references are brought to that form: ASCII transliteration, numbers spelled out (inflect),
lower case, every character other than a-z, apostrophe and space removed (hyphens and slashes become
spaces), whitespace collapsed. Written here, not taken from levytts.text, so that the WER of a run
does not change when the TTS front end changes.
"""
from __future__ import annotations

import re

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SEPARATORS = re.compile(r"[-/_]+")
_DROP = re.compile(r"[^a-z' ]+")
_QUOTES = re.compile(r"(^|\s)'+|'+(?=\s|$)")  # quotes around words, not apostrophes inside them


def _spell_numbers(text: str) -> str:
    import inflect

    engine = inflect.engine()

    def spell(match: re.Match) -> str:
        return " " + engine.number_to_words(match.group(0), andword="").replace(",", "") + " "

    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,000 -> 1000
    return _NUMBER.sub(spell, text)


def normalize_for_wer(text: str) -> str:
    """Normalise a sentence for word error rate, e.g. "Dr. Smith's 2 cats!" -> "dr smith's two cats"."""
    from unidecode import unidecode

    text = unidecode(text)
    text = _spell_numbers(text)
    text = _SEPARATORS.sub(" ", text.lower())
    text = _DROP.sub(" ", text)
    text = _QUOTES.sub(" ", text)
    return " ".join(text.split())
