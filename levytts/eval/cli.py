"""`levytts eval`: speaker similarity, WER, MCD and F0 errors of synthesised speech against references."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from levytts.cli import add_device_option
    from levytts.cli_types import nonneg_float, positive_int

    parser.add_argument("--synth-dir", required=True, type=Path,
                        help="synthesised wavs: <dir>/<utt>.wav and/or <dir>/<condition>/<utt>.wav "
                             "(condition '<sampler>_N<steps>' is reported per sampler and steps)")
    parser.add_argument("--ref-dir", type=Path, default=None,
                        help="reference recordings: relative filelist wav paths start here (default: the filelist's directory)")
    parser.add_argument("--filelist", required=True, type=Path, help="'wav_path|speaker|text' lines to evaluate")
    parser.add_argument("--scorer", default="ge2e",
                        help="speaker embedding: 'ge2e' (resemblyzer, default) or 'campplus:PATH' (3D-Speaker CAM++ checkpoint)")
    parser.add_argument("--out", type=Path, default=None,
                        help="markdown report (default <synth-dir>/eval.md); .csv, _utts.csv and .png are written beside it")
    parser.add_argument("--min-duration", type=nonneg_float, default=0.3, help="skip (and count) files shorter than this, in seconds")
    parser.add_argument("--max-refs", type=positive_int, default=None, help="at most this many reference files per speaker for similarity")
    parser.add_argument("--no-wer", action="store_true", help="skip pocketsphinx WER")
    parser.add_argument("--no-distances", action="store_true", help="skip MCD and F0 against the references")
    parser.add_argument("--no-f0", action="store_true", help="skip F0 (pYIN is the slow part of the distances)")
    parser.add_argument("--include-same-sentence", action="store_true",
                        help="also compare each synthesised utterance with the reference of the same sentence")
    parser.add_argument("--no-reference-row", action="store_true", help="do not score the references themselves")
    add_device_option(parser, help="torch device for the speaker encoder: cpu | cuda | cuda:N")
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="score only the utterances at filelist positions p with p %% N == I; writes "
                             "<out stem>.shard-I-of-N.json/_utts.csv, and the report once all N shards are there")
    parser.add_argument("--merge", action="store_true",
                        help="build the report from the shard files of --out (all N present) without scoring")


def main(args: argparse.Namespace) -> int:
    from levytts.eval.report import evaluate, merge_shards, missing_shards, write_report, write_shard
    from levytts.shard import parse_shard

    shard = parse_shard(args.shard)  # a bad --shard: one error line before any work
    out = args.out or args.synth_dir / "eval.md"
    if args.merge:
        if shard is not None:
            raise ValueError("--merge takes no --shard (it reads all the shards of --out)")
        return _report(write_report(merge_shards(out, args.filelist), out))

    if args.min_duration < 0:
        raise ValueError(f"--min-duration must be >= 0, got {args.min_duration}")
    if args.max_refs is not None and args.max_refs < 1:
        raise ValueError(f"--max-refs must be >= 1, got {args.max_refs}")
    result = evaluate(args.synth_dir, args.ref_dir, args.filelist, scorer=args.scorer, with_wer=not args.no_wer,
                      with_distances=not args.no_distances, with_f0=not args.no_f0,
                      with_reference_row=not args.no_reference_row,
                      exclude_same_sentence=not args.include_same_sentence, min_duration=args.min_duration,
                      max_refs=args.max_refs, device=args.device, log=lambda msg: print(msg, file=sys.stderr),
                      shard=shard)
    if shard is None:
        return _report(write_report(result, out))
    written = write_shard(result, out, shard, args.filelist)
    print("wrote " + ", ".join(str(p) for p in written.values()), file=sys.stderr)
    missing = missing_shards(out, shard[1])
    if missing:  # the last shard to finish writes the report (or: levytts eval ... --merge)
        print(f"shards still to come: {', '.join(f'{i}/{shard[1]}' for i in missing)}; the last one (or --merge) "
              f"writes {out}", file=sys.stderr)
        return 0
    return _report(write_report(merge_shards(out, args.filelist, shard[1]), out))


def _report(paths) -> int:
    print(Path(paths["markdown"]).read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 0
