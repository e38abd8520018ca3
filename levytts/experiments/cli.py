"""`levytts imbalanced ACTION`: the command line of the imbalanced-speaker experiment (test-list, synth, from-truth, mel-figure,
table, replicate); the work is in :mod:`levytts.experiments.imbalanced`. Each action's parser sets ``func`` to its function."""
from __future__ import annotations

from levytts.cli import add_device_option, add_seed_option, add_threads_option, apply_threads
from levytts.cli_types import number, positive_float, positive_int, seed_int, validated
from levytts.experiments.imbalanced import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    DEFAULT_CONDITIONS,
    from_truth_grid,
    mel_steps_figure,
    parse_condition,
    replication_markdown,
    select_test_list,
    synth_grid,
    write_table,
)
from levytts.shard import parse_shard
from levytts.tts.synth import GUIDANCE_MAX, STEPS_MAX, parse_eta


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("test-list", help="the first K test utterances of each speaker → a filelist")
    p.set_defaults(func=_test_list)
    p.add_argument("--filelist", required=True)
    p.add_argument("--per-speaker", type=positive_int, default=10)
    p.add_argument("--speakers", nargs="*", default=None)
    p.add_argument("--out", required=True)
    p = sub.add_parser("synth", help="synthesise a filelist under every sampler condition (<out-dir>/<cond>/<utt>.wav)")
    p.set_defaults(func=_synth)
    p.add_argument("--checkpoint", default=None, help="training checkpoint (default: the bundled demo voice)")
    p.add_argument("--filelist", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--conditions", nargs="+", type=validated(parse_condition), default=list(DEFAULT_CONDITIONS),
                   help="sampler specs SAMPLER:SOLVER:N[:ETA] (e.g. ode:euler:10, sde-e:ei:20:popov(0.3,0.3); an SDE-E spec without "
                        "ETA takes --eta), or mu (the encoder μ vocoded, no decoder: a control); each writes <out-dir>/<dirname> "
                        "(ode_N10, sde-e_ei_N20, ...) (default: ODE Euler N=10,30,50,100 and SDE-E EI N=5,10,20)")
    add_seed_option(p)
    p.add_argument("--eta", type=validated(parse_eta), default="popov:0.3,0.3", help="SDE-E η (see levytts synth --eta)")
    p.add_argument("--vocoder", default="universal")
    add_device_option(p)
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--t-start", type=positive_float, default=None, help="start the reverse process at this t < T")
    p.add_argument("--temperature", type=positive_float, default=None, help="prior temperature τ (x_T/τ; default: the checkpoint's, else 1)")
    p.add_argument("--grid", default=None, choices=["uniform", "quadratic", "log_snr"],
                   help="time grid of every condition (default: the checkpoint's, else uniform); not part of the "
                        "condition dir names: give each grid its own --out-dir")
    p.add_argument("--guidance", type=number(low=0, high=GUIDANCE_MAX), default=None,
                   help="classifier-free guidance scale w on μ (see levytts synth --guidance; default: the checkpoint's, "
                        "else 1); the wavs go to the same condition dirs: give each w its own --out-dir")
    add_threads_option(p)
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="only the utterances at filelist positions p with p %% N == I (run N processes, one per I; "
                        "same files as one run)")
    p = sub.add_parser("from-truth", help="diagnostic: sample from the TRUE mel noised to t_s (ts<t_s>/<utt>.wav for "
                                          "levytts eval): at which noise level are the words lost?")
    p.set_defaults(func=_from_truth)
    p.add_argument("--checkpoint", default=None, help="training or exported checkpoint (default: the bundled demo voice)")
    p.add_argument("--filelist", required=True, help="utterances with recordings and TextGrids (e.g. a test list)")
    p.add_argument("--textgrid-dir", required=True, help="<dir>/<speaker>/<utt_id>.TextGrid (the corpus' durations)")
    p.add_argument("--out-dir", required=True,
                   help="ts<t_s>/ dirs; existing wavs are kept (resume); a dir made with other settings is refused")
    p.add_argument("--starts", nargs="+", type=positive_float, default=[0.06, 0.1, 0.2, 0.5, 1.0],
                   help="start times t_s in (0.001, T] (default 0.06 0.1 0.2 0.5 1)")
    p.add_argument("--steps-per-unit", type=number(integer=True, low=1, high=STEPS_MAX), default=10,
                   help="ODE steps per unit of t: round(K·t_s) steps, at least 1 (default 10: N = 10 from T)")
    p.add_argument("--solver", default="ei", choices=["euler", "ei"])
    add_seed_option(p)
    p.add_argument("--vocoder", default="universal")
    add_device_option(p)
    add_threads_option(p)
    p = sub.add_parser("mel-figure", help="one sentence from T at several N next to μ and a reference → PNG")
    p.set_defaults(func=_mel_figure)
    p.add_argument("--checkpoint", default=None, help="training or exported checkpoint (default: the bundled demo voice)")
    p.add_argument("--text", required=True)
    p.add_argument("--speaker", required=True)
    p.add_argument("--steps", nargs="+", type=positive_int, default=[2, 10, 30], help="N of each panel (default 2 10 30)")
    p.add_argument("--sampler", default="ode", choices=["ode", "sde-a", "sde-e"])
    p.add_argument("--solver", default="euler", choices=["euler", "ei"])
    p.add_argument("--eta", type=validated(parse_eta), default="popov:0.3,0.3", help="SDE-E η (see levytts synth --eta)")
    add_seed_option(p)
    p.add_argument("--reference", default=None, help="a recording of the sentence (its log-mel is the top panel)")
    p.add_argument("--t-start", type=positive_float, default=None, help="for studies: start at this t < T (default: from T)")
    p.add_argument("--out", required=True, help="PNG file")
    p = sub.add_parser("table", help="eval CSVs (a<alpha>_seed<k>.csv) → markdown tables and figures")
    p.set_defaults(func=_table)
    p.add_argument("--eval-dir", required=True)
    p.add_argument("--out", required=True, help="markdown fragment with the tables")
    p.add_argument("--figures", required=True, help="directory for <prefix>_{similarity,wer,mcd_db}.png")
    p.add_argument("--speakers", nargs="+", required=True, help="speaker ids in table order (e.g. frequent rare)")
    p.add_argument("--prefix", default="imbalanced")
    p.add_argument("--split-summary", default=None,
                   help="the decoder split's summary.json (levytts data mix): training minutes per speaker in the "
                        "tables and titles, plus <prefix>_{similarity,wer}_vs_minutes.png")
    p.add_argument("--bootstrap", type=positive_int, default=BOOTSTRAP_RESAMPLES,
                   help="bootstrap resamples of sentences for the paired-difference CIs (default %(default)s)")
    p.add_argument("--bootstrap-seed", type=seed_int, default=BOOTSTRAP_SEED)
    p = sub.add_parser("replicate", help="paired differences of several runs (training seeds) side by side → markdown")
    p.set_defaults(func=_replicate)
    p.add_argument("--paired", nargs="+", required=True, help="the runs' <table out stem>_paired.csv files")
    p.add_argument("--labels", nargs="+", required=True, help="one label per CSV (e.g. \"seed 1\" \"seed 2\")")
    p.add_argument("--speakers", nargs="+", required=True, help="speaker ids in table order")
    p.add_argument("--out", required=True, help="markdown file")


def _replicate(args) -> int:
    from levytts.audio.io import atomic_write

    text = replication_markdown(args.paired, args.labels, args.speakers)
    with atomic_write(args.out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(text, end="")
    return 0


def _test_list(args) -> int:
    keep = select_test_list(args.filelist, args.out, args.per_speaker, args.speakers)
    print(f"{args.out}: {len(keep)} utterances")
    return 0


def _synth(args) -> int:
    apply_threads(args.threads)
    shard = parse_shard(args.shard)  # a bad --shard: one error line before any work
    synth_grid(args.checkpoint, args.filelist, args.out_dir, args.conditions, args.seed, args.eta, args.vocoder,
               args.device, args.batch_size, args.t_start, args.temperature, shard=shard, guidance=args.guidance,
               grid=args.grid)
    return 0


def _from_truth(args) -> int:
    apply_threads(args.threads)
    for d in from_truth_grid(args.checkpoint, args.filelist, args.textgrid_dir, args.out_dir, args.starts,
                             args.steps_per_unit, args.solver, args.seed, args.vocoder, args.device):
        print(d)
    return 0


def _mel_figure(args) -> int:
    print(mel_steps_figure(args.checkpoint, args.text, args.speaker, args.out, args.steps, args.sampler, args.solver,
                           args.eta, args.seed, args.reference, args.t_start))
    return 0


def _table(args) -> int:
    paths = write_table(args.eval_dir, args.out, args.figures, args.speakers, args.prefix, args.split_summary,
                        args.bootstrap, args.bootstrap_seed)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def main(args) -> int:
    """Run the action chosen on the command line (its parser set ``args.func``)."""
    return int(args.func(args) or 0)
