"""The symbol table: phone ↔ id, saved with every checkpoint.

Id 0 is the pad/blank symbol ``_`` (Grad-TTS intersperses it between phones; batches pad with it).
Then ``sp`` (pause/silence), ``spn`` (MFA's spoken-noise label for unalignable words), then the 69
ARPAbet phones with stress of MFA's english_us_arpa set (15 vowels × stress 0/1/2 + 24 consonants).
A table is plain data: ``to_dict()`` / ``from_dict()`` go into a checkpoint, ``save`` / ``load`` to JSON.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

PAD = "_"
SILENCE = "sp"
SPOKEN_NOISE = "spn"
ARPABET_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
ARPABET_CONSONANTS = ("B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S",
                      "SH", "T", "TH", "V", "W", "Y", "Z", "ZH")


def arpabet_phones() -> list[str]:
    """The 69 phones of MFA english_us_arpa (= CMUdict's): stressed vowels then consonants."""
    return [v + s for v in ARPABET_VOWELS for s in "012"] + list(ARPABET_CONSONANTS)


class SymbolTable:
    """Bijective map between symbols and integer ids; ``pad_id`` (0) doubles as the blank.

    Args:
        symbols: the ordered symbols; ``symbols[0]`` is the pad/blank.
    """

    def __init__(self, symbols: list[str]) -> None:
        symbols = list(symbols)
        if not symbols:
            raise ValueError("a symbol table needs at least the pad symbol")
        if len(set(symbols)) != len(symbols):
            dupes = sorted({s for s in symbols if symbols.count(s) > 1})
            raise ValueError(f"duplicate symbols in table: {dupes}")
        self.symbols = symbols
        self._ids = {s: i for i, s in enumerate(symbols)}

    @classmethod
    def default(cls) -> "SymbolTable":
        """``_``, ``sp``, ``spn`` and the 69 ARPAbet phones (72 symbols)."""
        return cls([PAD, SILENCE, SPOKEN_NOISE, *arpabet_phones()])

    @property
    def pad(self) -> str:
        return self.symbols[0]

    @property
    def pad_id(self) -> int:
        return 0

    blank_id = pad_id

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SymbolTable) and other.symbols == self.symbols

    def to_ids(self, symbols: list[str]) -> list[int]:
        """Symbols → ids. Raises ValueError listing the unknown symbols."""
        unknown = sorted({s for s in symbols if s not in self._ids})
        if unknown:
            raise ValueError(f"symbols not in the table: {unknown}; the table has {len(self)} symbols "
                             "(was this checkpoint trained with another phone set?)")
        return [self._ids[s] for s in symbols]

    def from_ids(self, ids, skip_pad: bool = False) -> list[str]:
        """Ids (ints, a list, or a 1-D tensor/array) → symbols; ``skip_pad`` drops pad/blank ids."""
        out = []
        for i in (ids.tolist() if hasattr(ids, "tolist") else ids):
            i = int(i)
            if not 0 <= i < len(self.symbols):
                raise ValueError(f"id {i} out of range for a table of {len(self)} symbols")
            if skip_pad and i == self.pad_id:
                continue
            out.append(self.symbols[i])
        return out

    def intersperse(self, ids: list[int]) -> list[int]:
        """Put the blank id between and around ids (Grad-TTS/VITS ``add_blank``): length 2·L + 1."""
        out = [self.blank_id] * (2 * len(ids) + 1)
        out[1::2] = ids
        return out

    def to_dict(self) -> dict:
        """Plain-data form to store inside a checkpoint."""
        return {"symbols": list(self.symbols), "pad": self.pad}

    @classmethod
    def from_dict(cls, data: dict) -> "SymbolTable":
        if "symbols" not in data:
            raise ValueError("symbol table data has no 'symbols' list (not saved by SymbolTable.to_dict?)")
        return cls(list(data["symbols"]))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the table as JSON (atomically)."""
        from levytts.audio.io import atomic_write

        path = Path(path)
        with atomic_write(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SymbolTable":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"symbol table not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"symbol table {path} is not valid JSON: {err}") from err
        return cls.from_dict(data)
