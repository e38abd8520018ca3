"""`levytts data prepare | validate | mix | mfa-corpus | offline-corpus | durations`: corpora → filelists, imbalanced mixes, checks."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from levytts.cli import UserError, add_seed_option


def _parse_minutes(values: list[str]) -> dict[str, float | None] | None:
    if not values:
        return None
    out: dict[str, float | None] = {}
    for value in values:
        speaker, sep, minutes = value.partition("=")
        if not sep or not speaker:
            raise UserError(f"--minutes takes SPEAKER=MINUTES (e.g. lj=1000), got {value!r}")
        try:
            out[speaker] = None if minutes == "all" else float(minutes)
        except ValueError:
            raise UserError(f"--minutes {value!r}: MINUTES must be a number or 'all'") from None
    return out


def _parse_source(value: str) -> tuple[str, str]:
    from levytts.data.readers import READERS

    kind, sep, path = value.partition("=")
    if not sep or kind not in READERS:
        raise UserError(f"--source takes KIND=PATH with KIND one of {READERS}, got {value!r}")
    return kind, path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("prepare", help="read a corpus, validate it, write filelist + speakers file")
    p.add_argument("--source", action="append", required=True, type=str,
                   help="KIND=PATH, KIND in ljspeech/hifitts/libritts/filelist (repeatable)")
    p.add_argument("--speakers", nargs="*", default=None, help="keep only these speaker ids")
    p.add_argument("--default-speaker", default=None,
                   help="speaker id for LJSpeech (default lj) and for 'wav_path|text' filelists")
    p.add_argument("--out-dir", required=True, help="writes filelist.txt and speakers.txt here")
    p.set_defaults(func=prepare)

    v = sub.add_parser("validate", help="report, skip and count bad items of a filelist")
    v.add_argument("filelist")
    v.add_argument("--speakers-file", default=None, help="speakers.txt: items of other speakers are bad")
    v.add_argument("--out", default=None, help="write the kept items to this filelist")
    v.add_argument("--sample-rate", type=int, default=22050, help="mel sample rate of the data config (default 22050)")
    v.add_argument("--n-fft", type=int, default=1024, help="STFT size: shorter audio is refused (default 1024)")
    v.add_argument("--hop-length", type=int, default=256, help="mel hop: T = samples // hop (default 256)")
    v.add_argument("--no-blank", action="store_true",
                   help="tokens are the phones alone (data.add_blank: false); default 2·phones + 1")
    v.add_argument("--max-frames-per-token", type=float, default=50.0,
                   help="refuse more mel frames per token than this (default 50; 0 turns the check off)")
    v.set_defaults(func=validate)

    m = sub.add_parser("mix", help="imbalanced set by minutes per speaker, with train/val/test splits")
    m.add_argument("--source", action="append", required=True, help="KIND=PATH (repeatable)")
    m.add_argument("--minutes", nargs="+", default=[], help="SPEAKER=MINUTES ... (e.g. lj=1000 9017=10); "
                   "speakers not listed are left out; 'all' keeps everything")
    m.add_argument("--default-speaker", default=None,
                   help="speaker id for LJSpeech (default lj) and for 'wav_path|text' filelists")
    add_seed_option(m, default=1234, help="seed of the shuffles that pick each speaker's utterances (default 1234)")
    m.add_argument("--n-test", type=int, default=10, help="held-out test utterances per speaker")
    m.add_argument("--n-val", type=int, default=5, help="validation utterances per speaker")
    m.add_argument("--held-out-texts", default=None, help="file of sentences (one a line) never to train on")
    m.add_argument("--out-dir", required=True, help="writes filelists/{train,val,test}.txt, speakers.txt, summary.json")
    m.set_defaults(func=mix)

    a = sub.add_parser("mfa-corpus", help="lay out <dir>/<speaker>/<utt>.wav + .lab for Montreal Forced Aligner")
    a.add_argument("filelist")
    a.add_argument("--out-dir", required=True)
    a.add_argument("--copy", action="store_true", help="copy wavs instead of symlinking them")
    a.set_defaults(func=mfa_corpus)

    o = sub.add_parser("offline-corpus", help="build the offline SYNTHETIC imbalanced corpus (flite voices, fortunes "
                                              "text; docs/speech_data.md)")
    from levytts.cli_types import nonneg_float, positive_int
    from levytts.data.offline_corpus import DEFAULT_VOICES

    o.add_argument("--out-dir", required=True)
    o.add_argument("--voices", nargs="+", default=None,
                   help=f"NAME=FLITE_VOICE[:PITCH_CENTS] ... (default: {' '.join(DEFAULT_VOICES)})")
    o.add_argument("--frequent", default="slt", help="frequent speaker name")
    o.add_argument("--rare", default="awb", help="rare speaker name")
    o.add_argument("--minutes-frequent", type=nonneg_float, default=None, help="default 100")
    o.add_argument("--minutes-rare", type=nonneg_float, default=None, help="default 1")
    o.add_argument("--minutes-other", type=nonneg_float, default=None, help="training minutes of every other voice (default 10)")
    o.add_argument("--n-test", type=positive_int, default=None, help="held-out test sentences, said by every speaker (default 20)")
    o.add_argument("--n-val", type=positive_int, default=None, help="extra utterances per speaker for validation (default 5)")
    add_seed_option(o, default=1234)
    o.add_argument("--sample-rate", type=positive_int, default=22050)
    o.add_argument("--hop-length", type=positive_int, default=256, help="only to check TextGrid durations vs mel length")
    o.add_argument("--jobs", type=positive_int, default=2)
    o.add_argument("--text-dir", default="/usr/share/games/fortunes")
    o.add_argument("--small", action="store_true",
                   help="tiny corpus for tests: 3 voices, 1 / 0.2 / 0.2 min, 2 test and 1 validation sentences (it sets "
                        "the sizes: not with --voices, --minutes-*, --n-test, --n-val)")
    o.set_defaults(func=offline_corpus)

    d = sub.add_parser("durations", help="check TextGrid phone durations sum to each mel length")
    d.add_argument("filelist")
    d.add_argument("--textgrid-dir", required=True, help="<dir>/<speaker>/<utt>.TextGrid (MFA layout)")
    d.add_argument("--sample-rate", type=int, required=True)
    d.add_argument("--hop-length", type=int, required=True)
    d.add_argument("--tolerance", type=int, default=2)
    d.set_defaults(func=durations)


def _read_sources(sources: list[str], speakers: list[str] | None, default_speaker: str | None = None):
    from levytts.data.readers import read_corpus

    items = []
    for value in sources:
        kind, path = _parse_source(value)
        items.extend(read_corpus(kind, path, speakers=speakers, default_speaker=default_speaker))
    return items


def _n_frames(wav_path: str, sample_rate: int, hop_length: int) -> int:
    import math

    import soundfile as sf

    info = sf.info(wav_path)
    n_samples = info.frames if info.samplerate == sample_rate else math.ceil(info.frames * sample_rate / info.samplerate)
    return n_samples // hop_length


def offline_corpus(args: argparse.Namespace) -> int:
    """`levytts data offline-corpus`: defaults frequent `slt` 100 min, rare `awb` 1 min (the paper's 100:1), five
    other voices 10 min each for average-voice pre-training, 20 held-out test sentences said by every speaker."""
    from levytts.data.offline_corpus import DEFAULT_VOICES, Voice, build_corpus

    sizes = ("voices", "minutes_frequent", "minutes_rare", "minutes_other", "n_test", "n_val")
    if args.small:
        given = [f"--{k.replace('_', '-')}" for k in sizes if getattr(args, k) is not None]
        if given:
            raise UserError(f"--small sets the corpus sizes itself; drop {', '.join(given)} (or drop --small)")
        args.voices = [v for v in DEFAULT_VOICES if v.split("=")[0] in (args.frequent, args.rare)][:2] + ["rms=rms"]
        args.minutes_frequent, args.minutes_rare, args.minutes_other, args.n_test, args.n_val = 1.0, 0.2, 0.2, 2, 1
    else:
        for k, v in zip(sizes, (list(DEFAULT_VOICES), 100.0, 1.0, 10.0, 20, 5)):
            if getattr(args, k) is None:
                setattr(args, k, v)
    voices = [Voice.parse(v) for v in args.voices]
    names = [v.name for v in voices]
    for role, name in (("--frequent", args.frequent), ("--rare", args.rare)):
        if name not in names:
            raise UserError(f"{role} {name!r} is not among the voices {names}")
    minutes = {n: args.minutes_other for n in names}
    minutes[args.frequent], minutes[args.rare] = args.minutes_frequent, args.minutes_rare
    build_corpus(args.out_dir, voices, minutes, n_test=args.n_test, n_val=args.n_val, seed=args.seed,
                 sample_rate=args.sample_rate, hop_length=args.hop_length, jobs=args.jobs, text_dir=args.text_dir)
    return 0


def prepare(args: argparse.Namespace) -> int:
    from levytts.data.filelists import write_filelist, write_speakers
    from levytts.data.validate import validate_utterances

    kept, _ = validate_utterances(_read_sources(args.source, args.speakers, args.default_speaker))
    out = Path(args.out_dir)
    write_filelist(out / "filelist.txt", kept)
    write_speakers(out / "speakers.txt", sorted({u.speaker for u in kept}))
    print(f"wrote {out / 'filelist.txt'} ({len(kept)} utterances, {sum(u.duration for u in kept) / 60:.1f} min)")
    return 0


def validate(args: argparse.Namespace) -> int:
    from levytts.data.filelists import read_filelist, read_speakers, write_filelist
    from levytts.data.validate import validate_utterances

    speakers = read_speakers(args.speakers_file) if args.speakers_file else None
    mel = {"sample_rate": args.sample_rate, "n_fft": args.n_fft, "hop_length": args.hop_length}
    if min(mel.values()) < 1 or args.max_frames_per_token < 0:
        raise UserError(f"--sample-rate, --n-fft and --hop-length must be >= 1 and --max-frames-per-token "
                        f">= 0, got {mel}, {args.max_frames_per_token}")
    kept, problems = validate_utterances(read_filelist(args.filelist), speakers=speakers, mel=mel,
                                         add_blank=not args.no_blank,
                                         max_frames_per_token=args.max_frames_per_token or None)
    if args.out:
        write_filelist(args.out, kept)
    return 0


def mix(args: argparse.Namespace) -> int:
    from levytts.audio.io import atomic_write
    from levytts.data.filelists import read_text_lines, write_filelist, write_speakers
    from levytts.data.mix import mix_by_minutes
    from levytts.data.validate import validate_utterances

    minutes = _parse_minutes(args.minutes)
    readers_speakers = [s for s in minutes] if minutes else None
    kept, _ = validate_utterances(_read_sources(args.source, readers_speakers, args.default_speaker))
    held = None
    if args.held_out_texts:
        held = {line for line in read_text_lines(args.held_out_texts, "--held-out-texts file") if line.strip()}
    splits, summary = mix_by_minutes(kept, minutes, seed=args.seed, n_test=args.n_test, n_val=args.n_val,
                                     held_out_texts=held)
    out = Path(args.out_dir)
    for name, items in splits.items():
        write_filelist(out / "filelists" / f"{name}.txt", items)
    write_speakers(out / "speakers.txt", sorted(summary))
    with atomic_write(out / "summary.json") as tmp:
        tmp.write_text(json.dumps({"seed": args.seed, "speakers": summary}, indent=1) + "\n")
    for speaker, s in summary.items():
        note = "  (short of target: all data used)" if s["short_of_target"] else ""
        print(f"{speaker}: train {s['train_minutes']:.1f} min ({s['train']} utts), val {s['val']}, "
              f"test {s['test']}{note}")
    return 0


def mfa_corpus(args: argparse.Namespace) -> int:
    from levytts.data.filelists import read_filelist
    from levytts.data.mfa import write_mfa_corpus

    n = write_mfa_corpus(read_filelist(args.filelist), args.out_dir, link=not args.copy)
    print(f"wrote an MFA corpus of {n} utterances to {args.out_dir}")
    return 0


def durations(args: argparse.Namespace) -> int:
    from levytts.data.durations import textgrid_to_durations
    from levytts.data.filelists import read_filelist

    bad = 0
    items = read_filelist(args.filelist)
    for utt in items:
        grid = Path(args.textgrid_dir) / utt.speaker / f"{utt.utt_id}.TextGrid"
        try:
            textgrid_to_durations(grid, _n_frames(utt.wav_path, args.sample_rate, args.hop_length),
                                  args.sample_rate, args.hop_length, tolerance=args.tolerance)
        except (ValueError, FileNotFoundError, RuntimeError) as err:
            bad += 1
            print(f"bad: {utt.utt_id}: {err}", file=sys.stderr)
    print(f"checked {len(items)} TextGrids: {len(items) - bad} ok, {bad} bad")
    return 1 if bad else 0


def main(args: argparse.Namespace) -> int:
    """Run the sub-action chosen on the command line (its parser set ``args.func``)."""
    return int(args.func(args) or 0)
