"""Text front end: English normalisation, ARPAbet phones from CMUdict, the symbol table. docs/design.md §7.

Public API::

    from levytts.text import Phonemizer, SymbolTable, normalize_text, text_to_phones
    phones = text_to_phones("Dr. Smith paid $3.50.")   # ['D', 'AA1', 'K', 'T', 'ER0', 'S', 'M', ...]
    table = SymbolTable.default()
    ids = table.to_ids(phones)
"""
from levytts.text.normalize import normalize_text
from levytts.text.phonemize import Phonemizer, text_to_phones
from levytts.text.symbols import SymbolTable

__all__ = ["Phonemizer", "SymbolTable", "normalize_text", "text_to_phones"]
