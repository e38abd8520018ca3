"""Text normalisation for word error rate: the same function is applied to references and hypotheses.

It is the TTS front end's own normaliser (``levytts.text.normalize_text``: numbers, abbreviations,
currency spelled out as the model is made to say them) with the phrase punctuation tokens removed,
so a reference reads as the words the synthesiser was asked to speak and pocketsphinx's lower-case
output is left unchanged.
"""
from __future__ import annotations


def normalize_for_wer(text: str) -> str:
    """Normalise a sentence for word error rate, e.g. "Dr. Smith's 2 cats!" -> "doctor smith's two cats"."""
    from levytts.text.normalize import PHRASE_PUNCTUATION, normalize_text

    return " ".join(tok for tok in normalize_text(text).split() if tok not in PHRASE_PUNCTUATION)
