"""`levytts phonemize "TEXT"`: print the normalised text and its ARPAbet phones."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="+", help="English text (quote it); several arguments are joined")
    parser.add_argument("--oov", choices=["spell", "flite", "error"], default="spell",
                        help="fallback for words not in CMUdict (default: spell them letter by letter)")
    parser.add_argument("--ids", action="store_true", help="also print the symbol ids of the default table")


def main(args: argparse.Namespace) -> int:
    from levytts.text import Phonemizer, SymbolTable

    phonemizer = Phonemizer(oov=args.oov)
    normalised, phones = phonemizer(" ".join(args.text))
    print(f"text:   {normalised}")
    words = [w for w in normalised.split() if w[0].isalpha()]
    oov = [w for w in words if not phonemizer.in_dictionary(w)]
    print(f"phones: {' '.join(phones)}")
    if oov:
        print(f"not in CMUdict (fallback {args.oov}): {' '.join(oov)}")
    if args.ids:
        print(f"ids:    {' '.join(map(str, SymbolTable.default().to_ids(phones)))}")
    return 0
