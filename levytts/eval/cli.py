"""`levytts eval`: speaker similarity, WER, MCD and F0 errors of synthesised speech against references."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument("--device", default="cpu", help="torch device for the speaker encoder")


def main(args: argparse.Namespace) -> int:
    from levytts.eval.report import evaluate, write_report

    if args.min_duration < 0:
        raise ValueError(f"--min-duration must be >= 0, got {args.min_duration}")
    if args.max_refs is not None and args.max_refs < 1:
        raise ValueError(f"--max-refs must be >= 1, got {args.max_refs}")
    result = evaluate(args.synth_dir, args.ref_dir, args.filelist, scorer=args.scorer, with_wer=not args.no_wer,
                      with_distances=not args.no_distances, with_f0=not args.no_f0,
                      with_reference_row=not args.no_reference_row,
                      exclude_same_sentence=not args.include_same_sentence, min_duration=args.min_duration,
                      max_refs=args.max_refs, device=args.device, log=lambda msg: print(msg, file=sys.stderr))
    paths = write_report(result, args.out or args.synth_dir / "eval.md")
    print(Path(paths["markdown"]).read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 0
