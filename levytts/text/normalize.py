"""English text normalisation for TTS: unicode → ASCII, numbers, signs, times, currency, abbreviations.

The output is lower-case words separated by single spaces, with the phrase punctuation
``, . ! ? ; :`` kept as separate tokens (the phonemizer turns phrase breaks into ``sp``).
Words may contain inner apostrophes (``don't``) because CMUdict lists such forms.

Numbers are spelled with ``inflect``; unicode is transliterated with ``unidecode``. Rules chosen here
(the Tacotron/keithito cleaners do much the same; we write our own because those are not a package).
docs/text.md has the table of input kinds:
- ``$3.50`` → "three dollars fifty cents"; ``£``, ``€`` and ``¥`` likewise (pounds / euros / yen);
  with a scale word the amount is a number: ``$1.5 million`` / ``$3bn`` → "one point five million
  dollars" / "three billion dollars"; more than two decimals: ``$1.505`` → "one point five zero five dollars";
- a sign before a number at the start of a word is read: ``-5``, ``−12.5``, ``–3`` → "minus …"; a hyphen
  between two words or numbers (``well-known``, ``1990-1995``, ``COVID-19``) is a plain word break;
- clock times ``H:MM`` (hours 0-23): ``3:30`` → "three thirty", ``10:05`` → "ten oh five", ``12:00`` →
  "twelve o'clock" (hours 1-12), ``15:00`` → "fifteen hundred" (0 and 13-23); ``am`` / ``p.m.`` after a
  time or an hour → letters ("three p m"); no pause inside a time;
- ``1st``, ``22nd`` → ordinals; ``3.14`` → "three point one four"; ``1,000,000`` → one million;
- integers with a leading zero or more than 15 digits are read digit by digit;
- integers 1100..2099 except 2000..2009 read as years ("nineteen ninety five", "nineteen hundred",
  "nineteen oh five");
- abbreviations, initials and dotted letters by context (levytts.text.abbreviations: "Main St." →
  street, "St. Paul" → saint, "No. 5" → number); their period is a phrase break only where
  :func:`levytts.text.split_sentences` ends a sentence;
- ``%`` → percent, ``&`` → and, ``+`` → plus, ``@`` → at, ``=`` → equals, ``×`` → times, ``±`` → plus or
  minus, ``°C`` → degrees celsius; other symbols are dropped;
- letters of non-Latin scripts (Cyrillic, Greek, CJK …) are romanised by unidecode and read as English
  with a :class:`RomanisedTextWarning` naming the words (Latin letters with accents are folded silently).
"""
from __future__ import annotations

import re
import unicodedata
import warnings
from functools import lru_cache

from levytts.text.abbreviations import ABBREVIATIONS, PERIOD_WORD_RE, context_at, read_period_word

__all__ = ["ABBREVIATIONS", "PHRASE_PUNCTUATION", "RomanisedTextWarning", "normalize_text", "romanised_words"]

SYMBOL_WORDS: dict[str, str] = {"%": " percent ", "&": " and ", "+": " plus ", "@": " at ", "=": " equals "}
CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    # symbol: (unit singular, unit plural, cent singular, cent plural)
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "sen", "sen"),
}
# Scale words after an amount: "$2 million", and the short forms written onto it: "$5m", "$3bn", "$10k".
SCALES: dict[str, str] = {"thousand": "thousand", "million": "million", "billion": "billion",
                          "trillion": "trillion", "k": "thousand", "m": "million", "mn": "million",
                          "b": "billion", "bn": "billion", "tn": "trillion"}
PHRASE_PUNCTUATION = ",.!?;:"
UNICODE_PUNCT = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": " - ", "\u2014": " , ", "\u2026": ".", "\u00a0": " ",
    "\u2212": " minus ", "\u00d7": " times ", "\u00f7": " divided by ", "\u00b1": " plus or minus ",
    "\u2103": " degrees celsius ", "\u2109": " degrees fahrenheit ", "\u2116": " number ",
}


class RomanisedTextWarning(UserWarning):
    """Letters of a non-Latin script were romanised (and will be read with English rules)."""


_SIGN_RE = re.compile(r"(?<![\w.\-\u2013])[-\u2013](?=[$£€¥]?\d)")  # "-5", "–5", "-$5"; not "1990-1995"
_DEGREE_RE = re.compile(r"\s?\u00b0\s?([CF]\b)?")
_CURRENCY_RE = re.compile(r"([$£€¥])\s?(\d+(?:,\d{3})*)(?:\.(\d+))?(?:\s+(thousand|million|billion|trillion)\b"
                          r"|(k|m|mn|b|bn|tn)\b)?", re.IGNORECASE)
# am / pm as written ("pm", "PM", "p.m") or as the abbreviation step spelled "a.m." / "p.m." ("ay m", "p m").
_MERIDIEM = r"(?:\s{0,3}(ay|p) m\b|\s?([AaPp])\.?[Mm]\b)"
_TIME_RE = re.compile(r"(?<![\d:.,])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])" + _MERIDIEM + "?")
_HOUR_MERIDIEM_RE = re.compile(r"(?<![\d:.,])(1[0-2]|0?[1-9])" + _MERIDIEM)
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_DECIMAL_RE = re.compile(r"\b(\d+)\.(\d+)\b")
_COMMA_NUMBER_RE = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")
_NUMBER_RE = re.compile(r"\d+")
_WORD_RE = re.compile(r"\w+")
_TOKEN_RE = re.compile(r"[a-z]+(?:'[a-z]+)*|[" + re.escape(PHRASE_PUNCTUATION) + "]")


def _identity_decorator(target=None, **_kw):
    return target if target is not None else (lambda f: f)


@lru_cache(maxsize=1)
def _inflect_engine():
    # inflect >= 7 wraps its methods in typeguard's @typechecked, which re-parses and recompiles their source at
    # import: 1.4-2.9 s on the 2-core machine, paid by the first text with a number in every process. Its checks
    # only raise on wrongly typed arguments (ours are ints and strings), so inflect is imported with @typechecked
    # as the identity; the words it returns are the same (tests/test_text_frontend.py).
    import sys

    if "inflect" not in sys.modules:
        try:
            import typeguard
        except ImportError:  # an inflect without typeguard: nothing to skip
            typeguard = None
        checked = getattr(typeguard, "typechecked", None)
        if checked is not None:
            typeguard.typechecked = _identity_decorator
        try:
            import inflect
        finally:
            if checked is not None:
                typeguard.typechecked = checked
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
    """``$3.50`` → units and cents; with a scale word (``$1.5 million``, ``$3bn``) or more than two
    decimals (``$1.505``) the amount is read as a number followed by the plural unit."""
    unit, units, cent, cents = CURRENCIES[match.group(1)]
    whole = int(match.group(2).replace(",", ""))
    decimals, scale = match.group(3), match.group(4) or match.group(5)
    if scale or (decimals and len(decimals) > 2):
        amount = _cardinal(whole) + (f" point {_digits(decimals)}" if decimals else "")
        return f" {amount} {SCALES[scale.lower()] + ' ' if scale else ''}{units} "
    frac = int(decimals.ljust(2, "0")) if decimals else 0
    parts = []
    if whole or not frac:
        parts.append(f"{_cardinal(whole)} {unit if whole == 1 else units}")
    if frac:
        parts.append(f"{_cardinal(frac)} {cent if frac == 1 else cents}")
    return " " + " ".join(parts) + " "


def _meridiem(letter: str | None) -> str:
    """am / pm after a time or an hour → spelled letters ("ay m", "p m"); a dotted "a.m." has already been
    spelled by the abbreviation step, which also decided whether its period ends the sentence."""
    if not letter:
        return ""
    return " ay m" if letter.lower() in ("a", "ay") else " p m"


def _clock(match: re.Match) -> str:
    """``H:MM`` → "three thirty", "ten oh five", "twelve o'clock" (1-12) / "fifteen hundred" (0, 13-23);
    with am/pm an o'clock hour is the hour alone ("three p m")."""
    hour, minute = int(match.group(1)), int(match.group(2))
    meridiem = _meridiem(match.group(3) or match.group(4))
    if minute == 0:
        full_hour = "o'clock" if 1 <= hour <= 12 else "hundred"
        words = _cardinal(hour) if meridiem else f"{_cardinal(hour)} {full_hour}"
    else:
        words = f"{_cardinal(hour)} {'oh ' if minute < 10 else ''}{_cardinal(minute)}"
    return f" {words}{meridiem} "


def _hour_meridiem(match: re.Match) -> str:
    """``3pm``, ``10 a.m.`` → "three p m", "ten ay m" (see :func:`_meridiem`)."""
    return f" {_cardinal(int(match.group(1)))}{_meridiem(match.group(2) or match.group(3))} "


def _degrees(match: re.Match) -> str:
    scale = {"C": " celsius", "F": " fahrenheit"}.get(match.group(1) or "", "")
    return f" degrees{scale} "


def _period_word(match: re.Match) -> str:
    """An abbreviation, initial or dotted letters, read in context (levytts.text.abbreviations); the
    period is kept as a sentence end only where the splitter would split there."""
    prev, prev_starts, nxt = context_at(match.string, match.start(), match.end())
    read = read_period_word(match.group(1), prev, prev_starts, nxt)
    if read is None:
        return match.group(0)
    reading, ends = read
    return f" {reading} {'.' if ends or nxt is None else ''} "


def _ordinal(match: re.Match) -> str:
    if len(match.group(1)) > MAX_SPELLED_DIGITS:
        return " " + _digits(match.group(1)) + " "
    engine = _inflect_engine()
    return " " + _words(engine.number_to_words(engine.ordinal(int(match.group(1))), andword="")) + " "


def _decimal(match: re.Match) -> str:
    return f" {_spell_integer(match.group(1))} point {' '.join(_cardinal(int(d)) for d in match.group(2))} "


def _is_non_latin_letter(ch: str) -> bool:
    return unicodedata.category(ch) in ("Lu", "Ll", "Lt", "Lo") and "LATIN" not in unicodedata.name(ch, "")


def romanised_words(text: str) -> list[tuple[str, str]]:
    """The words of ``text`` holding letters of a non-Latin script, each with its unidecode romanisation
    (``"Привет, 北京!"`` → ``[("Привет", "Privet"), ("北京", "Bei Jing")]``); distinct, in order."""
    from unidecode import unidecode

    found: dict[str, str] = {}
    for word in _WORD_RE.findall(text):
        if word not in found and any(_is_non_latin_letter(ch) for ch in word):
            found[word] = " ".join(unidecode(word).split())
    return list(found.items())


MAX_WARNED_WORDS = 6
_WARNING_REGISTRY: dict = {}


def _warn_romanised(words: list[tuple[str, str]]) -> None:
    """One :class:`RomanisedTextWarning` naming the romanised words. It is issued without a source line
    (``warn_explicit``), so Python prints it as one line on stderr (``levytts synth`` / ``phonemize``)."""
    shown = ", ".join(f"{src!r} -> {dst!r}" if dst else f"{src!r} (dropped)" for src, dst in words[:MAX_WARNED_WORDS])
    more = f" and {len(words) - MAX_WARNED_WORDS} more" if len(words) > MAX_WARNED_WORDS else ""
    message = (f"non-Latin text romanised and read as English (likely mispronounced): {shown}{more}; "
               "give English words or spell the names in Latin letters")
    warnings.warn_explicit(message, RomanisedTextWarning, filename="levytts.text", lineno=0,
                           module="levytts.text.normalize", registry=_WARNING_REGISTRY)


def normalize_text(text: str, warn: bool = True) -> str:
    """Normalise English text for phonemisation (the rules are listed in the module docstring).

    Args:
        text: any unicode string.
        warn: issue a :class:`RomanisedTextWarning` when letters of a non-Latin script were romanised.

    Returns:
        Lower-case words and phrase punctuation separated by single spaces (may be empty when the
        input holds nothing speakable; the phonemizer then raises a ValueError).

    Raises:
        ValueError: ``text`` is not a string.
    """
    from unidecode import unidecode

    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    # Abbreviations first, on the text as written: the context rules see what the splitter sees.
    text = PERIOD_WORD_RE.sub(_period_word, text)
    text = _SIGN_RE.sub(" minus ", text)  # before the dash mapping below: "–5" is a sign, "1990–1995" a range
    text = _DEGREE_RE.sub(_degrees, text)
    for src, dst in UNICODE_PUNCT.items():
        text = text.replace(src, dst)
    # Currency symbols other than $ are not ASCII: expand them before transliteration.
    text = _CURRENCY_RE.sub(_currency, text)
    text = _TIME_RE.sub(_clock, text)
    text = _HOUR_MERIDIEM_RE.sub(_hour_meridiem, text)
    romanised = romanised_words(text)
    if romanised and warn:
        _warn_romanised(romanised)
    text = unidecode(text)
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
