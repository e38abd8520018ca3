#!/usr/bin/env python3
"""Speaker-encoder cosine table of a corpus: can the encoder tell its voices apart?

    python tools/voice_similarity.py data/offline_imbalanced/all.txt --per-speaker 10 [--scorer ge2e]

For each speaker, the first --per-speaker utterances (filelist order; for the offline corpus these are
the held-out test sentences, the same text for every speaker) are embedded. Prints the mean cosine
between utterances of speakers a and b (diagonal: distinct pairs of the same speaker) as a Markdown table.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict


def main(argv=None) -> int:
    import numpy as np

    from levytts.data import read_filelist
    from levytts.eval.speaker import cosine_matrix, make_scorer

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("filelist")
    p.add_argument("--per-speaker", type=int, default=10)
    p.add_argument("--scorer", default="ge2e", help="'ge2e' or 'campplus:/path/to/checkpoint'")
    args = p.parse_args(argv)
    try:
        by_speaker = defaultdict(list)
        for utt in read_filelist(args.filelist):
            if len(by_speaker[utt.speaker]) < args.per_speaker:
                by_speaker[utt.speaker].append(utt.wav_path)
        scorer = make_scorer(args.scorer)
    except (ValueError, FileNotFoundError) as err:
        print(f"voice_similarity: error: {err}", file=sys.stderr)
        return 2
    names = list(by_speaker)
    emb = {s: np.stack([scorer.embed(w) for w in wavs]) for s, wavs in by_speaker.items()}
    print("| | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for a in names:
        cells = []
        for b in names:
            m = cosine_matrix(emb[a], emb[b])
            value = m[~np.eye(len(m), dtype=bool)].mean() if a == b else m.mean()
            cells.append(f"{value:.3f}")
        print(f"| {a} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
