"""English text normalisation for TTS: unicode → ASCII, numbers, ordinals, currency, abbreviations.

The output is lower-case words separated by single spaces, with the phrase punctuation
``, . ! ? ; :`` kept as separate tokens (the phonemizer turns phrase breaks into ``sp``).
Words may contain inner apostrophes (``don't``) because CMUdict lists such forms.

Numbers are spelled with ``inflect``; unicode is transliterated with ``unidecode``. Rules chosen here
(the Tacotron/keithito cleaners do much the same; we write our own because those are not a package):
- ``$3.50`` → "three dollars fifty cents"; ``£``, ``€`` and ``¥`` likewise (pounds / euros / yen);
- ``1st``, ``22nd`` → ordinals; ``3.14`` → "three point one four"; ``1,000,000`` → one million;
- integers with a leading zero or more than 15 digits are read digit by digit;
- integers 1100..2099 except 2000..2009 read as years ("nineteen ninety five", "nineteen hundred",
  "nineteen oh five");
- ``%`` → percent, ``&`` → and, ``+`` → plus, ``@`` → at; other symbols are dropped.
"""
from __future__ import annotations

import re
from functools import lru_cache

# Abbreviations expanded when followed by a period (case-insensitive).
ABBREVIATIONS: dict[str, str] = {
    "mrs": "misess", "mr": "mister", "dr": "doctor", "st": "saint", "co": "company", "jr": "junior",
    "maj": "major", "gen": "general", "drs": "doctors", "rev": "reverend", "lt": "lieutenant",
    "hon": "honorable", "sgt": "sergeant", "capt": "captain", "esq": "esquire", "ltd": "limited",
    "col": "colonel", "ft": "fort", "vs": "versus", "etc": "et cetera", "prof": "professor",
    "no": "number", "mt": "mount", "jan": "january", "feb": "february", "aug": "august",
    "sept": "september", "oct": "october", "nov": "november", "dec": "december",
}
SYMBOL_WORDS: dict[str, str] = {"%": " percent ", "&": " and ", "+": " plus ", "@": " at ", "=": " equals "}
CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    # symbol: (unit singular, unit plural, cent singular, cent plural)
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "sen", "sen"),
}
PHRASE_PUNCTUATION = ",.!?;:"
UNICODE_PUNCT = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": " - ", "\u2014": " , ", "\u2026": ".", "\u00a0": " ",
}

_CURRENCY_RE = re.compile(r"([$£€¥])\s?(\d[\d,]*)(?:\.(\d\d?))?\b")
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_DECIMAL_RE = re.compile(r"\b(\d+)\.(\d+)\b")
_COMMA_NUMBER_RE = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")
_NUMBER_RE = re.compile(r"\d+")
_ABBREV_RE = re.compile(r"\b(" + "|".join(sorted(ABBREVIATIONS, key=len, reverse=True)) + r")\.", re.IGNORECASE)
_TOKEN_RE = re.compile(r"[a-z]+(?:'[a-z]+)*|[" + re.escape(PHRASE_PUNCTUATION) + "]")


@lru_cache(maxsize=1)
def _inflect_engine():
    import inflect

    return inflect.engine()


def _words(spelled: str) -> str:
    """inflect writes "one thousand, nine hundred ninety-five": drop its commas and hyphens, which
    would otherwise read as phrase breaks."""
    return spelled.replace(",", "").replace("-", " ")


MAX_SPELLED_DIGITS = 15  # longer integers are read digit by digit (inflect stops near 10**36 anyway)


def _digits(digits: str) -> str:
    return " ".join(_cardinal(int(d)) for d in digits)


def _cardinal(number: int) -> str:
    if len(str(number)) > MAX_SPELLED_DIGITS:
        return _digits(str(number))
    return _words(_inflect_engine().number_to_words(number, andword=""))


def _spell_integer(digits: str) -> str:
    """Read an integer string, as a year when it looks like one (1100..2099, not a multiple of 100)."""
    number = int(digits)
    if (len(digits) > 1 and digits.startswith("0")) or len(digits) > MAX_SPELLED_DIGITS:  # "007" → "zero zero seven"
        return _digits(digits)
    if 1100 <= number <= 2099 and not 2000 <= number < 2010:
        century, rest = divmod(number, 100)
        if rest == 0:  # 1900 → "nineteen hundred"; 2000 stays "two thousand" (excluded above)
            return f"{_cardinal(century)} hundred"
        return f"{_cardinal(century)} {'oh ' if rest < 10 else ''}{_cardinal(rest)}"
    return _cardinal(number)


def _currency(match: re.Match) -> str:
    unit, units, cent, cents = CURRENCIES[match.group(1)]
    whole = int(match.group(2).replace(",", ""))
    frac = int(match.group(3).ljust(2, "0")) if match.group(3) else 0
    parts = []
    if whole or not frac:
        parts.append(f"{_cardinal(whole)} {unit if whole == 1 else units}")
    if frac:
        parts.append(f"{_cardinal(frac)} {cent if frac == 1 else cents}")
    return " " + " ".join(parts) + " "


def _ordinal(match: re.Match) -> str:
    if len(match.group(1)) > MAX_SPELLED_DIGITS:
        return " " + _digits(match.group(1)) + " "
    engine = _inflect_engine()
    return " " + _words(engine.number_to_words(engine.ordinal(int(match.group(1))), andword="")) + " "


def _decimal(match: re.Match) -> str:
    return f" {_spell_integer(match.group(1))} point {' '.join(_cardinal(int(d)) for d in match.group(2))} "


def normalize_text(text: str) -> str:
    """Normalise English text for phonemisation.

    Args:
        text: any unicode string.

    Returns:
        Lower-case words and phrase punctuation separated by single spaces (may be empty when the
        input holds nothing speakable; the phonemizer then raises a ValueError).
    """
    from unidecode import unidecode

    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    for src, dst in UNICODE_PUNCT.items():
        text = text.replace(src, dst)
    # Currency symbols other than $ are not ASCII: expand them before transliteration.
    text = _CURRENCY_RE.sub(_currency, text)
    text = unidecode(text)
    text = _ABBREV_RE.sub(lambda m: " " + ABBREVIATIONS[m.group(1).lower()] + " ", text)
    text = _COMMA_NUMBER_RE.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _ORDINAL_RE.sub(_ordinal, text)
    text = _DECIMAL_RE.sub(_decimal, text)
    text = _NUMBER_RE.sub(lambda m: " " + _spell_integer(m.group(0)) + " ", text)
    for sym, word in SYMBOL_WORDS.items():
        text = text.replace(sym, word)
    text = text.lower().replace("-", " ")
    tokens = _TOKEN_RE.findall(text)
    # Collapse runs of punctuation ("?!", "...") to their first mark and drop leading punctuation.
    out: list[str] = []
    for tok in tokens:
        if tok in PHRASE_PUNCTUATION and (not out or out[-1] in PHRASE_PUNCTUATION):
            continue
        out.append(tok)
    return " ".join(out)
