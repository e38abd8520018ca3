"""Text front end: English normalisation, sentence splitting, ARPAbet phones from CMUdict, the symbol
table. docs/design.md §7; what the front end does with each kind of input: docs/text.md.

Public API::

    from levytts.text import Phonemizer, SymbolTable, normalize_text, split_sentences, text_to_phones
    phones = text_to_phones("Dr. Smith paid $3.50.")   # ['D', 'AA1', 'K', 'T', 'ER0', 'S', 'M', ...]
    split_sentences("Got a call from Dr. John Smith. ?? Bye!")   # ['Got a call from Dr. John Smith.', 'Bye!']
    table = SymbolTable.default()
    ids = table.to_ids(phones)
"""
from levytts.text.normalize import RomanisedTextWarning, normalize_text
from levytts.text.phonemize import Phonemizer, text_to_phones
from levytts.text.sentences import split_sentences
from levytts.text.symbols import SymbolTable

__all__ = ["Phonemizer", "RomanisedTextWarning", "SymbolTable", "normalize_text", "split_sentences",
           "text_to_phones"]
