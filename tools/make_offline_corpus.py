#!/usr/bin/env python3
"""Build the offline SYNTHETIC imbalanced multi-speaker corpus (flite voices, fortunes text).

    python tools/make_offline_corpus.py --out-dir data/offline_imbalanced            # default size
    python tools/make_offline_corpus.py --out-dir /tmp/tiny --small                  # seconds, for tests

Defaults: frequent speaker `slt` 100 min, rare speaker `awb` 1 min (the paper's 100:1), five other
voices 10 min each for average-voice pre-training, 20 held-out test sentences said by every speaker.
All logic lives in levytts.data.offline_corpus; this script only parses arguments.
"""
from __future__ import annotations

import argparse
import sys


def parse_args(argv=None) -> argparse.Namespace:
    from levytts.data.offline_corpus import DEFAULT_VOICES

    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--out-dir", required=True)
    p.add_argument("--voices", nargs="+", default=list(DEFAULT_VOICES),
                   help="NAME=FLITE_VOICE[:PITCH_CENTS] ... (default: %(default)s)")
    p.add_argument("--frequent", default="slt", help="frequent speaker name")
    p.add_argument("--rare", default="awb", help="rare speaker name")
    p.add_argument("--minutes-frequent", type=float, default=100.0)
    p.add_argument("--minutes-rare", type=float, default=1.0)
    p.add_argument("--minutes-other", type=float, default=10.0, help="training minutes of every other voice")
    p.add_argument("--n-test", type=int, default=20, help="held-out test sentences (every speaker says them)")
    p.add_argument("--n-val", type=int, default=5, help="extra utterances per speaker for validation")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--sample-rate", type=int, default=22050)
    p.add_argument("--hop-length", type=int, default=256, help="only to check TextGrid durations vs mel length")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--text-dir", default="/usr/share/games/fortunes")
    p.add_argument("--small", action="store_true",
                   help="tiny corpus for tests: 3 voices, 1 / 0.2 / 0.2 min, 2 test and 1 validation sentences")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from levytts.data.offline_corpus import Voice, build_corpus

    args = parse_args(argv)
    if args.small:
        args.voices = [v for v in args.voices if v.split("=")[0] in (args.frequent, args.rare)][:2] + ["rms=rms"]
        args.minutes_frequent, args.minutes_rare, args.minutes_other, args.n_test, args.n_val = 1.0, 0.2, 0.2, 2, 1
    try:
        voices = [Voice.parse(v) for v in args.voices]
        names = [v.name for v in voices]
        for role, name in (("--frequent", args.frequent), ("--rare", args.rare)):
            if name not in names:
                raise ValueError(f"{role} {name!r} is not among the voices {names}")
        minutes = {n: args.minutes_other for n in names}
        minutes[args.frequent], minutes[args.rare] = args.minutes_frequent, args.minutes_rare
        build_corpus(args.out_dir, voices, minutes, n_test=args.n_test, n_val=args.n_val, seed=args.seed, sample_rate=args.sample_rate,
                     hop_length=args.hop_length, jobs=args.jobs, text_dir=args.text_dir)
    except (ValueError, FileNotFoundError) as err:
        print(f"make_offline_corpus: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
