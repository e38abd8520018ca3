"""The abbreviation table and the context rules shared by the normaliser and the sentence splitter.

One table (:data:`ABBREVIATIONS`) says how a word written with a period (``Dr.``, ``St.``, ``No.``) is
read and whether that period may also end a sentence. :func:`read_period_word` applies it to one token
in its context; :func:`levytts.text.normalize_text` uses the reading and keeps the period as a phrase
break only where :func:`levytts.text.split_sentences` would split, so both always agree.

Context rules (decided on the raw text, so capitalisation counts):
- an entry with two readings picks ``before_name`` when a capitalised word follows ("Dr. Smith" →
  doctor, "St. Paul" → saint) and ``after_name`` when it follows a capitalised word or a number
  ("Elm Dr." → drive, "Main St." → street, "6 ft." → feet). When both hold, ``after_name`` wins unless
  the word before is the first of its sentence ("Ask Dr. Smith" → doctor). Otherwise: ``plain``;
- ``before_number`` is used when a number follows ("No. 5" → number, but "I said no." stays "no");
- titles (``title=True``, and every ``before_name`` / ``before_number`` reading) never end a sentence;
  any other abbreviation ends one only when a capitalised word follows ("Smith & Co. Then we left");
- a capital letter with a period before a capitalised word is an initial ("John F. Kennedy",
  "J. R. R. Tolkien", "U.S. Army"): read as letters, no sentence end; not "I", and not after
  "a" / "an" / "the" ("I got an A. Then" ends there);
- dotted lower-case forms: "e.g." / "i.e." (never end a sentence), "a.m." / "p.m." and other dotted
  letters (end one only before a capitalised word).
"""
from __future__ import annotations

import re
from typing import NamedTuple


class Abbreviation(NamedTuple):
    """How one abbreviation (written with a period) is read; see the module docstring for the rules."""

    plain: str                        # the reading when the context decides nothing
    before_name: str | None = None    # a capitalised word follows ("Dr. Smith" → doctor): a title
    after_name: str | None = None     # after a capitalised word or a number ("Elm Dr." → drive)
    before_number: str | None = None  # a number follows ("No. 5" → number)
    title: bool = False               # always read before a name: the period never ends a sentence


# name (lower case, without the period) → readings. Clashes found and decided here:
# dr doctor/drive, st saint/street, ft fort/feet, no number/the word "no", gen general/"gen",
# rev reverend/"rev", hon honorable/"hon", col colonel/column, mrs "misess" (not in CMUdict, was spelled
# letter by letter) → missus. "Co." stays "company" (county only in
# Irish and British addresses, too rare to guess); months are always months.
ABBREVIATIONS: dict[str, Abbreviation] = {
    "mrs": Abbreviation("missus", title=True), "mr": Abbreviation("mister", title=True),
    "dr": Abbreviation("doctor", before_name="doctor", after_name="drive"),
    "st": Abbreviation("street", before_name="saint", after_name="street"),
    "co": Abbreviation("company"), "jr": Abbreviation("junior"),
    "maj": Abbreviation("major", title=True), "gen": Abbreviation("gen", before_name="general"),
    "drs": Abbreviation("doctors", title=True), "rev": Abbreviation("rev", before_name="reverend"),
    "lt": Abbreviation("lieutenant", title=True), "hon": Abbreviation("hon", before_name="honorable"),
    "sgt": Abbreviation("sergeant", title=True), "capt": Abbreviation("captain", title=True),
    "esq": Abbreviation("esquire"), "ltd": Abbreviation("limited"),
    "col": Abbreviation("column", before_name="colonel"),
    "ft": Abbreviation("feet", before_name="fort", after_name="feet"),
    "vs": Abbreviation("versus", title=True), "etc": Abbreviation("et cetera"),
    "prof": Abbreviation("professor", title=True),
    "no": Abbreviation("no", before_number="number"),
    "mt": Abbreviation("mount", title=True),
    "jan": Abbreviation("january"), "feb": Abbreviation("february"), "aug": Abbreviation("august"),
    "sept": Abbreviation("september"), "oct": Abbreviation("october"), "nov": Abbreviation("november"),
    "dec": Abbreviation("december"),
}
# Dotted lower-case forms read as words; True: never ends a sentence.
DOTTED: dict[str, tuple[str, bool]] = {"e.g.": ("for example", True), "i.e.": ("that is", True)}
# A letter read on its own: "a" alone is the article (AH0 in CMUdict); "ay" is the letter name (EY1).
LETTER_WORDS: dict[str, str] = {"a": "ay"}
_NOT_INITIAL_AFTER = {"a", "an", "the"}

# A word that ends in a period: dotted letters ("U.S.", "p.m.") or letters ("Dr.", "J."), not inside a
# word, a number or a contraction.
PERIOD_WORD_RE = re.compile(r"(?<![\w.'-])((?:[A-Za-z]\.){2,}|[A-Za-z]+\.)")
_OPENERS = "\"'([{\u201c\u2018"


def _capitalised(token: str | None) -> bool:
    return bool(token) and token.lstrip(_OPENERS)[:1].isupper()


def _number(token: str | None) -> bool:
    """A number as written: "5", "5th", "-4", "$2", "#3"."""
    return bool(token) and token.lstrip(_OPENERS + "$£€¥#+-\u2013\u2212")[:1].isdigit()


def _name_like(token: str | None) -> bool:
    """A word a suffix abbreviation can follow: capitalised or a number, with no punctuation after it."""
    return bool(token) and (_capitalised(token) or _number(token)) and token[-1].isalnum()


def _spell(letters: str) -> str:
    return " ".join(LETTER_WORDS.get(ch, ch) for ch in letters.lower())


def read_period_word(word: str, prev: str | None, prev_starts_sentence: bool,
                     nxt: str | None) -> tuple[str, bool] | None:
    """Read one word written with a period, in context.

    Args:
        word: the token with its period ("Dr.", "J.", "U.S.", "p.m.").
        prev: the whitespace-separated token before it, or None at the start of the text.
        prev_starts_sentence: ``prev`` is the first word of its sentence.
        nxt: the token after it, or None at the end of the text.

    Returns:
        (reading, ends_sentence), the reading in lower-case words; None when ``word`` is neither an
        abbreviation nor an initial (an ordinary word ending a sentence).
    """
    next_cap = _capitalised(nxt)
    letters = word.replace(".", "")
    if word.count(".") > 1:  # dotted letters
        key = word.lower()
        if key in DOTTED:
            reading, never_ends = DOTTED[key]
            return reading, next_cap and not never_ends
        return _spell(letters), next_cap and not (word[0].isupper() and _initial_context(prev))
    entry = ABBREVIATIONS.get(letters.lower())
    if entry is not None:
        return _read_entry(entry, prev, prev_starts_sentence, nxt)
    if len(letters) == 1 and letters.isupper() and letters != "I" and next_cap and _initial_context(prev):
        return _spell(letters), False
    return None


def _initial_context(prev: str | None) -> bool:
    return prev is None or prev.lower().strip(_OPENERS) not in _NOT_INITIAL_AFTER


def _read_entry(entry: Abbreviation, prev: str | None, prev_starts_sentence: bool,
                nxt: str | None) -> tuple[str, bool]:
    next_cap = _capitalised(nxt)
    if entry.before_number and _number(nxt):
        return entry.before_number, False
    before = entry.before_name is not None and next_cap
    after = entry.after_name is not None and _name_like(prev)
    if after and (not before or not prev_starts_sentence):
        reading = entry.after_name
        if reading == "feet" and prev == "1":
            reading = "foot"
        return reading, next_cap
    if before:
        return entry.before_name, False
    return entry.plain, next_cap and not entry.title


def context_at(text: str, start: int, end: int) -> tuple[str | None, bool, str | None]:
    """The tokens around ``text[start:end]``: (previous token, whether it starts a sentence, next token)."""
    before = text[:start].rsplit(maxsplit=2)
    after = text[end:].split(maxsplit=1)
    prev = before[-1] if before else None
    prev_starts = prev is not None and (len(before) == 1 or before[-2][-1] in ".!?;")
    return prev, prev_starts, after[0] if after else None
