"""The imbalanced-speaker experiment (Popov et al. 2024, §5.2 / Table 5 / App. C) as library code.

The recipes egs/offline_imbalanced/run.sh and egs/ljspeech_hifitts9017/run.sh order these actions;
the training itself is `levytts train` and the scoring `levytts eval`:

    levytts imbalanced test-list --filelist FL --per-speaker 10 --out exp/x/test_list.txt
    levytts imbalanced synth --checkpoint CKPT --filelist exp/x/test_list.txt --out-dir exp/x/synth/a1.5/seed0 \
        --conditions ode:euler:10 ode:euler:30 sde-e:ei:5 --seed 0
    levytts eval --synth-dir exp/x/synth/a1.5/seed0 --filelist exp/x/test_list.txt --out exp/x/eval/a1.5_seed0.md
    levytts imbalanced table --eval-dir exp/x/eval --out docs/results/imbalanced_speakers.md --figures docs/figures

``synth`` writes ``<out-dir>/<sampler>_N<steps>/<utt_id>.wav`` (the layout `levytts eval` reads; the
SDE-E directory is ``sde-e_ei_N<steps>``). ``table`` reads every ``<name>_seed<k>.csv`` summary that
`levytts eval` wrote, with ``name`` = ``a<alpha>``, and reports mean ± spread over seeds.
"""
from __future__ import annotations

import csv
import math
import re
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from levytts.eval.report import CONDITION_PATTERN  # the `<sampler>_N<steps>` directory names `levytts eval` reads

# the paper's grid (Table 5: ODE Euler N = 30, 50, 100) plus N = 10, and the exact SDE with the exponential integrator
DEFAULT_CONDITIONS = ("ode:euler:10", "ode:euler:30", "ode:euler:50", "ode:euler:100",
                      "sde-e:ei:5", "sde-e:ei:10", "sde-e:ei:20")
EVAL_NAME = re.compile(r"^a(?P<alpha>[0-9.]+)_seed(?P<seed>\d+)$")


MU_ONLY = "mu"  # control condition: the encoder's average-voice mel μ vocoded directly (no decoder)


def parse_condition(spec: str) -> tuple[str, str, int]:
    """``sampler:solver:N`` (or ``sampler:N`` with the Euler solver) → (sampler, solver, N).

    ``mu`` is the no-decoder control → ("mu", "", 0): the speaker-independent μ through the vocoder.
    """
    if spec == MU_ONLY:
        return MU_ONLY, "", 0
    parts = spec.split(":")
    try:
        if len(parts) in (2, 3) and int(parts[-1]) >= 1:
            return parts[0], parts[1] if len(parts) == 3 else "euler", int(parts[-1])
    except ValueError:
        pass
    raise ValueError(f"bad condition {spec!r}: give SAMPLER:SOLVER:N with N >= 1, e.g. ode:euler:10 or sde-e:ei:20")


def condition_dir(sampler: str, solver: str, steps: int) -> str:
    """Directory name read by `levytts eval`: ``ode_N10`` (Euler ODE), ``sde-e_ei_N5`` otherwise, ``mu_only``."""
    if sampler == MU_ONLY:
        return "mu_only"
    return f"{sampler}_N{steps}" if (sampler, solver) == ("ode", "euler") else f"{sampler}_{solver}_N{steps}"


def select_test_list(filelist: str | Path, out: str | Path, per_speaker: int, speakers: list[str] | None = None) -> list:
    """The first ``per_speaker`` utterances of each speaker (filelist order), written as a filelist."""
    from levytts.data import read_filelist, write_filelist

    if per_speaker < 1:
        raise ValueError(f"--per-speaker must be >= 1, got {per_speaker}")
    utts = read_filelist(filelist)
    keep, count = [], defaultdict(int)
    for u in utts:
        if (speakers is None or u.speaker in speakers) and count[u.speaker] < per_speaker:
            keep.append(u)
            count[u.speaker] += 1
    if speakers:
        missing = [s for s in speakers if count[s] == 0]
        if missing:
            raise ValueError(f"{filelist} has no utterance of speaker(s) {missing}")
    write_filelist(out, keep)
    return keep


@torch.no_grad()
def load_tts(checkpoint: str | Path | None, vocoder: str | None = "universal", device: str = "cpu"):
    """A :class:`levytts.TTS` for ``checkpoint``, or the bundled demo voice when it is None/empty."""
    from levytts.tts.synth import TTS, load_demo_voice

    if checkpoint:
        return TTS(checkpoint, vocoder=vocoder, device=device)
    return load_demo_voice(vocoder=vocoder, device=device)


def synth_grid(checkpoint: str | Path | None, filelist: str | Path, out_dir: str | Path, conditions=DEFAULT_CONDITIONS,
               seed: int = 0, eta: str = "popov:0.3,0.3", vocoder: str = "universal", device: str = "cpu",
               batch_size: int = 16, t_start: float | None = None, temperature: float | None = None,
               log=print) -> dict[str, float]:
    """Synthesise every utterance of ``filelist`` (its text and speaker) under every condition.

    The batch for one condition shares one generator seeded with ``seed`` (so the same seed gives the same
    prior draws for every α and N). Writes ``out_dir/<condition>/<utt_id>.wav``; an existing wav is kept
    (resumable). ``t_start``: start the reverse process at t_start < T (see LevyTTS.synthesise; default: the
    checkpoint's stored default, else T). Returns seconds spent per condition.
    """
    from levytts.audio.io import save_wav
    from levytts.data import read_filelist
    from levytts.tts.synth import parse_eta

    utts = read_filelist(filelist)
    tts = load_tts(checkpoint, vocoder, device)
    for u in utts:
        tts.speaker_id(u.speaker)  # unknown speaker → clear error before any work
    out_dir = Path(out_dir)
    timings = {}
    for spec in conditions:
        sampler, solver, steps = parse_condition(spec)
        cdir = out_dir / condition_dir(sampler, solver, steps)
        todo = [u for u in utts if not (cdir / f"{u.utt_id}.wav").is_file()]
        t0 = time.perf_counter()
        gen = torch.Generator(device=tts.device).manual_seed(int(seed))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start: start + batch_size]
            ids, lengths = tts.texts_to_batch([u.text for u in chunk])
            spk = torch.tensor([tts.speaker_id(u.speaker) for u in chunk])
            mu_only = sampler == MU_ONLY
            out = tts.model.synthesise(ids.to(tts.device), lengths.to(tts.device), spk.to(tts.device),
                                       steps=1 if mu_only else steps, sampler="ode" if mu_only else sampler,
                                       solver="euler" if mu_only else solver,
                                       eta=parse_eta(eta) if sampler == "sde-e" else 0.0,
                                       generator=gen, t_start=tts.defaults["t_start"] if t_start is None else t_start,
                                       temperature=tts.defaults["temperature"] if temperature is None else temperature)
            for b, u in enumerate(chunk):
                mel = out["mu" if mu_only else "mel"][b: b + 1, :, : int(out["mel_lengths"][b])]
                audio = tts.vocoder(mel)[0].float().cpu().numpy()
                save_wav(cdir / f"{u.utt_id}.wav", audio, tts.sample_rate)
        timings[cdir.name] = time.perf_counter() - t0
        log(f"{cdir}: {len(todo)} new wav(s) in {timings[cdir.name]:.1f} s")
    return timings


def mel_steps_figure(checkpoint: str | Path | None, text: str, speaker: str, out: str | Path, steps=(2, 10, 30),
                     sampler: str = "ode", solver: str = "euler", eta: str = "popov:0.3,0.3", seed: int = 0,
                     reference: str | Path | None = None, t_start: float | None = None) -> Path:
    """One sentence sampled from T at several N, next to the encoder's μ and (optionally) a reference recording.

    Every panel uses the same predicted durations and the same seed, so they differ only in N. Rows: the
    reference's log-mel (when given), μ, then the decoder's sample for each N. Written atomically as PNG.
    ValueError for an unknown or untrained speaker, FileNotFoundError for a missing checkpoint / reference.
    """
    from levytts.audio.io import atomic_write, load_audio
    from levytts.audio.mel import MelSpectrogram
    from levytts.tts.plots import mel_figure
    from levytts.tts.synth import parse_eta

    tts = load_tts(checkpoint, vocoder=None)
    spk = torch.tensor([tts.speaker_id(speaker)])
    ids, lengths = tts.texts_to_batch([text])
    start = tts.defaults["t_start"] if t_start is None else t_start
    panels, durations = [], None
    for n in steps:
        gen = torch.Generator().manual_seed(int(seed))
        res = tts.model.synthesise(ids, lengths, spk, steps=int(n), sampler=sampler, solver=solver,
                                   eta=parse_eta(eta) if sampler == "sde-e" else 0.0, generator=gen,
                                   durations=durations, t_start=start)
        if durations is None:
            durations = res["durations"]
            panels.append(("encoder μ (average voice, no decoder)", res["mu"][0]))
        panels.append((f"{sampler}/{solver}, N = {n}, from " + ("T" if start is None else f"t = {start}"), res["mel"][0]))
    if reference is not None:
        path = Path(reference)
        if not path.is_file():
            raise FileNotFoundError(f"reference recording not found: {path}")
        audio, _ = load_audio(path, tts.sample_rate)
        mel = MelSpectrogram.from_cfg(tts.cfg["data"])(torch.from_numpy(audio).float()[None])[0]
        panels.insert(0, (f"reference recording ({path.name})", mel))
    fig = mel_figure(panels, title=f"{speaker}: \"{text}\"")
    out = Path(out)
    with atomic_write(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    return out


# ------------------------------------------------------------------------------------------------
def read_eval_csvs(eval_dir: str | Path) -> list[dict]:
    """Rows of every ``a<alpha>_seed<k>.csv`` summary under ``eval_dir`` with ``alpha`` and ``seed`` added."""
    rows = []
    for path in sorted(Path(eval_dir).glob("*.csv")):
        m = EVAL_NAME.match(path.stem)
        if not m:
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                row["alpha"], row["seed"] = float(m["alpha"]), int(m["seed"])
                rows.append(row)
    if not rows:
        raise FileNotFoundError(f"no a<alpha>_seed<k>.csv eval summaries in {eval_dir} (run `levytts eval` first)")
    return rows


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def aggregate(rows: list[dict], metric: str) -> dict[tuple, tuple[float, float, int]]:
    """(condition, speaker, alpha) → (mean over seeds, half-range over seeds, number of seeds)."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        v = _num(r.get(metric))
        if not math.isnan(v):
            groups[(r["condition"], r["speaker"], r["alpha"])].append(v)
    return {k: (float(np.mean(v)), float((max(v) - min(v)) / 2), len(v)) for k, v in groups.items()}


def paired_differences(eval_dir: str | Path, base_alpha: float = 2.0, metric: str = "similarity") -> list[dict]:
    """Per (condition, speaker, α ≠ base): the metric of α minus that of ``base_alpha`` on the SAME utterance
    and synthesis seed (same text, same prior draw up to the noise law), from the ``*_utts.csv`` files.

    Returns rows: condition, speaker, alpha, n (pairs), mean_diff, se (standard error over pairs), wins
    (pairs where α is better: higher similarity, lower otherwise).
    """
    values: dict[tuple, float] = {}
    for path in sorted(Path(eval_dir).glob("*_utts.csv")):
        m = EVAL_NAME.match(path.stem[: -len("_utts")])
        if not m:
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                v = _num(row.get(metric))
                if row["condition"] != "reference" and row.get("status") == "ok" and not math.isnan(v):
                    values[(row["condition"], row["speaker"], float(m["alpha"]), int(m["seed"]), row["utt"])] = v
    groups: dict[tuple, list[float]] = defaultdict(list)
    for (cond, spk, alpha, seed, utt), v in values.items():
        base = values.get((cond, spk, base_alpha, seed, utt))
        if alpha != base_alpha and base is not None:
            groups[(cond, spk, alpha)].append(v - base)
    out = []
    for (cond, spk, alpha), d in sorted(groups.items(), key=lambda kv: (_condition_key(kv[0][0]), kv[0][1], -kv[0][2])):
        d = np.asarray(d)
        better = d > 0 if metric == "similarity" else d < 0
        out.append({"condition": cond, "speaker": spk, "alpha": alpha, "n": len(d), "mean_diff": float(d.mean()),
                    "se": float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan,
                    "wins": int(better.sum())})
    return out


def paired_markdown(rows: list[dict], speakers: list[str], base_alpha: float = 2.0) -> str:
    """Table of paired similarity differences: cells ``Δ ± SE (wins/n)``."""
    if not rows:
        return ""
    alphas = sorted({r["alpha"] for r in rows}, reverse=True)
    conds = sorted({r["condition"] for r in rows}, key=_condition_key)
    index = {(r["condition"], r["speaker"], r["alpha"]): r for r in rows}
    lines = [f"### Paired difference in GE2E similarity vs α = {base_alpha:g} (same utterance, same seed)", "",
             "| condition | " + " | ".join(f"{s} α={a:g}" for s in speakers for a in alphas) + " |",
             "|---|" + "---|" * (len(speakers) * len(alphas))]
    for c in conds:
        cells = []
        for s in speakers:
            for a in alphas:
                r = index.get((c, s, a))
                cells.append("–" if r is None else f"{r['mean_diff']:+.3f} ± {r['se']:.3f} ({r['wins']}/{r['n']})")
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines + [""])


def _condition_key(name: str) -> tuple:
    """Sort key (ODE first, sampler, N); N = 0 for a condition without steps (reference, mu_only)."""
    m = CONDITION_PATTERN.match(name)
    return (0 if name.startswith("ode") else 1, m["sampler"] if m else name, int(m["steps"]) if m else 0)


def markdown_tables(rows: list[dict], speakers: list[str], metrics=(("similarity", "GE2E speaker similarity", 3),
                                                                    ("wer", "WER (pocketsphinx)", 3),
                                                                    ("mcd_db", "MCD (dB) vs the reference render", 2))) -> str:
    """One table per metric: rows = condition, columns = speaker × α; cells ``mean ± half-range``."""
    alphas = sorted({r["alpha"] for r in rows}, reverse=True)
    conds = sorted({r["condition"] for r in rows if r["condition"] != "reference"}, key=_condition_key)
    lines = []
    for metric, title, digits in metrics:
        agg = aggregate(rows, metric)
        if not agg:
            continue
        lines += [f"### {title}", "", "| condition | " + " | ".join(f"{s} α={a:g}" for s in speakers for a in alphas) + " |",
                  "|---|" + "---|" * (len(speakers) * len(alphas))]
        for c in conds + (["reference"] if any(k[0] == "reference" for k in agg) else []):
            cells = []
            for s in speakers:
                vals = [agg.get((c, s, a)) for a in alphas]
                best = None
                if c != "reference" and all(v is not None for v in vals):
                    means = [v[0] for v in vals]
                    best = int(np.argmax(means) if metric == "similarity" else np.argmin(means))
                for i, v in enumerate(vals):
                    if v is None:
                        cells.append("–")
                        continue
                    text = f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}" if v[2] > 1 else f"{v[0]:.{digits}f}"
                    cells.append(f"**{text}**" if i == best else text)
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_similarity(rows: list[dict], speakers: list[str], out: str | Path, metric: str = "similarity",
                    ylabel: str = "GE2E speaker similarity") -> Path:
    """Metric vs N, one panel per (speaker, sampler), one line per α (error bars: half-range over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from levytts.audio.io import atomic_write

    agg = aggregate(rows, metric)
    alphas = sorted({r["alpha"] for r in rows}, reverse=True)
    def has_steps(c: str) -> bool:
        return CONDITION_PATTERN.match(c) is not None

    samplers = sorted({_condition_key(c)[1] for c, _, _ in agg if has_steps(c)}, key=lambda s: (s != "ode", s))
    # conditions without N (the mu_only control) are drawn as dotted lines in every panel, not as panels
    controls = sorted({c for c, _, _ in agg if c != "reference" and not has_steps(c)})
    fig, axes = plt.subplots(len(speakers), len(samplers), figsize=(4.2 * len(samplers), 3.2 * len(speakers)),
                             squeeze=False)
    for i, spk in enumerate(speakers):
        for j, smp in enumerate(samplers):
            ax = axes[i][j]
            for a in alphas:
                pts = sorted((_condition_key(c)[2], v) for (c, s, al), v in agg.items()
                             if s == spk and al == a and has_steps(c) and _condition_key(c)[1] == smp)
                if pts:
                    ax.errorbar([p[0] for p in pts], [p[1][0] for p in pts], yerr=[p[1][1] for p in pts], marker="o",
                                capsize=3, label="Gaussian (α=2)" if a == 2.0 else f"α={a:g}")
            for k, c in enumerate(controls):
                ctl = agg.get((c, spk, alphas[0]))
                if ctl is not None:
                    ax.axhline(ctl[0], color="black", ls=":", lw=1.2 + 0.4 * k,
                               label="μ only (no decoder)" if c == "mu_only" else c)
            ref = agg.get(("reference", spk, alphas[0]))
            if ref is not None and metric == "similarity":
                ax.axhline(ref[0], color="grey", ls="--", lw=1, label="reference")
            ax.set_title(f"{spk} — {smp}")
            ax.set_xlabel("steps N")
            ax.set_ylabel(ylabel)
            ax.set_xscale("log")
            ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    with atomic_write(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return out


def write_table(eval_dir: str | Path, out: str | Path, figures_dir: str | Path, speakers: list[str],
                prefix: str = "imbalanced") -> dict[str, Path]:
    """Tables (markdown fragment) and figures from the eval CSVs; returns the written paths."""
    from levytts.audio.io import atomic_write

    rows = read_eval_csvs(eval_dir)
    figures_dir = Path(figures_dir)
    paths = {"table": Path(out)}
    for metric, label in (("similarity", "GE2E speaker similarity"), ("wer", "WER"), ("mcd_db", "MCD (dB)")):
        paths[metric] = plot_similarity(rows, speakers, figures_dir / f"{prefix}_{metric}.png", metric, label)
    with atomic_write(paths["table"]) as tmp:
        tmp.write_text(markdown_tables(rows, speakers) + "\n" + paired_markdown(paired_differences(eval_dir), speakers),
                       encoding="utf-8")
    return paths


# ------------------------------------------------------------------------------------------------
def add_arguments(parser) -> None:
    from levytts.cli_types import positive_float, positive_int, seed_int, validated
    from levytts.tts.synth import parse_eta

    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("test-list", help="the first K test utterances of each speaker → a filelist")
    p.add_argument("--filelist", required=True)
    p.add_argument("--per-speaker", type=positive_int, default=10)
    p.add_argument("--speakers", nargs="*", default=None)
    p.add_argument("--out", required=True)
    p = sub.add_parser("synth", help="synthesise a filelist under every sampler condition (<out-dir>/<cond>/<utt>.wav)")
    p.add_argument("--checkpoint", default=None, help="training checkpoint (default: the bundled demo voice)")
    p.add_argument("--filelist", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--conditions", nargs="+", type=validated(parse_condition), default=list(DEFAULT_CONDITIONS),
                   help="SAMPLER:SOLVER:N items, or mu (the encoder μ vocoded, no decoder: a control) (default: ODE Euler N=10,30,50,100 and SDE-E EI N=5,10,20)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--eta", type=validated(parse_eta), default="popov:0.3,0.3", help="SDE-E η (see levytts synth --eta)")
    p.add_argument("--vocoder", default="universal")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--t-start", type=positive_float, default=None, help="start the reverse process at this t < T")
    p.add_argument("--temperature", type=positive_float, default=None, help="prior temperature τ (x_T/τ; default: the checkpoint's, else 1)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    p = sub.add_parser("mel-figure", help="one sentence from T at several N next to μ and a reference → PNG")
    p.add_argument("--checkpoint", default=None, help="training or exported checkpoint (default: the bundled demo voice)")
    p.add_argument("--text", required=True)
    p.add_argument("--speaker", required=True)
    p.add_argument("--steps", nargs="+", type=positive_int, default=[2, 10, 30], help="N of each panel (default 2 10 30)")
    p.add_argument("--sampler", default="ode", choices=["ode", "sde-a", "sde-e"])
    p.add_argument("--solver", default="euler", choices=["euler", "ei"])
    p.add_argument("--eta", type=validated(parse_eta), default="popov:0.3,0.3", help="SDE-E η (see levytts synth --eta)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--reference", default=None, help="a recording of the sentence (its log-mel is the top panel)")
    p.add_argument("--t-start", type=positive_float, default=None, help="for studies: start at this t < T (default: from T)")
    p.add_argument("--out", required=True, help="PNG file")
    p = sub.add_parser("table", help="eval CSVs (a<alpha>_seed<k>.csv) → markdown tables and figures")
    p.add_argument("--eval-dir", required=True)
    p.add_argument("--out", required=True, help="markdown fragment with the tables")
    p.add_argument("--figures", required=True, help="directory for <prefix>_{similarity,wer,mcd_db}.png")
    p.add_argument("--speakers", nargs="+", required=True, help="speaker ids in table order (e.g. frequent rare)")
    p.add_argument("--prefix", default="imbalanced")


def main(args) -> int:
    if args.action == "test-list":
        keep = select_test_list(args.filelist, args.out, args.per_speaker, args.speakers)
        print(f"{args.out}: {len(keep)} utterances")
    elif args.action == "synth":
        if args.threads:
            torch.set_num_threads(args.threads)
        synth_grid(args.checkpoint, args.filelist, args.out_dir, args.conditions, args.seed, args.eta, args.vocoder,
                   args.device, args.batch_size, args.t_start, args.temperature)
    elif args.action == "mel-figure":
        print(mel_steps_figure(args.checkpoint, args.text, args.speaker, args.out, args.steps, args.sampler, args.solver,
                               args.eta, args.seed, args.reference, args.t_start))
    else:
        paths = write_table(args.eval_dir, args.out, args.figures, args.speakers, args.prefix)
        print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
