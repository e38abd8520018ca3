"""The imbalanced-speaker experiment (Popov et al. 2024, §5.2 / Table 5 / App. C) as library code.

The recipes egs/offline_imbalanced/run.sh and egs/ljspeech_hifitts9017/run.sh order these actions;
the training itself is `levytts train` and the scoring `levytts eval`:

    levytts imbalanced test-list --filelist FL --per-speaker 10 --out exp/x/test_list.txt
    levytts imbalanced synth --checkpoint CKPT --filelist exp/x/test_list.txt --out-dir exp/x/synth/a1.5/seed0 \
        --conditions ode:euler:10 ode:euler:30 sde-e:ei:5 --seed 0
    levytts eval --synth-dir exp/x/synth/a1.5/seed0 --filelist exp/x/test_list.txt --out exp/x/eval/a1.5_seed0.md
    levytts imbalanced table --eval-dir exp/x/eval --out docs/results/imbalanced_speakers.md --figures docs/figures \
        --speakers slt awb [--split-summary data/x/imbalanced/summary.json]
    levytts imbalanced replicate --paired exp/x/results_tables_paired.csv exp/y/results_tables_paired.csv \
        --labels "seed 1" "seed 2" --speakers slt awb --out exp/replication.md

``synth`` writes ``<out-dir>/<dirname>/<utt_id>.wav``, ``dirname`` = :attr:`levytts.levy.spec.SamplerSpec.dirname`
of each condition (the ``<sampler>_N<steps>`` layout `levytts eval` reads: ``ode_N10``, ``sde-e_ei_N5``).
``table`` reads every ``<name>_seed<k>.csv`` summary that `levytts eval` wrote, with ``name`` = ``a<alpha>``, and
reports mean ± spread over seeds, for one frequent and any number of rare speakers; from the per-utterance
``*_utts.csv`` it adds paired differences vs α = 2 (similarity, per-sentence and corpus WER) with percentile
bootstrap CIs over sentences. ``replicate`` puts the paired differences of several runs (training seeds) side by
side and says whether each effect replicates.
"""
from __future__ import annotations

import csv
import json
import math
import re
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from levytts.eval.report import CONDITION_PATTERN  # the `<sampler>_N<steps>` directory names `levytts eval` reads
from levytts.levy.spec import EtaSpec, SamplerSpec

# the paper's grid (Table 5: ODE Euler N = 30, 50, 100) plus N = 10, and the exact SDE with the exponential integrator
DEFAULT_CONDITIONS = ("ode:euler:10", "ode:euler:30", "ode:euler:50", "ode:euler:100",
                      "sde-e:ei:5", "sde-e:ei:10", "sde-e:ei:20")
EVAL_NAME = re.compile(r"^a(?P<alpha>[0-9.]+)_seed(?P<seed>\d+)$")


MU_ONLY = "mu"  # control condition: the encoder's average-voice mel μ vocoded directly (no decoder)


def condition_spec(spec) -> SamplerSpec | None:
    """A condition's :class:`~levytts.levy.spec.SamplerSpec` (``SAMPLER[:SOLVER]:N[:ETA]``), None for ``mu``.

    One-line ValueError naming the form for anything else (DLPM samplers included: the TTS decoder is a LévyVP
    model)."""
    if spec == MU_ONLY:
        return None
    parsed = SamplerSpec.parse(spec, what="condition")
    if parsed.is_dlpm:
        raise ValueError(f"bad condition {spec!r}: the TTS decoder samples with ode, sde-a or sde-e; give "
                         "SAMPLER:SOLVER:N[:ETA], e.g. ode:euler:10 or sde-e:ei:20:popov(0.3,0.3)")
    return parsed


def parse_condition(spec: str) -> tuple[str, str, int]:
    """``sampler:solver:N[:eta]`` (or ``sampler:N`` with the Euler solver) → (sampler, solver, N).

    ``mu`` is the no-decoder control → ("mu", "", 0): the speaker-independent μ through the vocoder.
    The parsing is :meth:`SamplerSpec.parse` (:func:`condition_spec` keeps the η too).
    """
    parsed = condition_spec(spec)
    return (MU_ONLY, "", 0) if parsed is None else (parsed.sampler, parsed.solver, parsed.steps)


def condition_dir(sampler: str, solver: str, steps: int, eta=None) -> str:
    """Directory name read by `levytts eval`: :attr:`SamplerSpec.dirname` (``ode_N10`` for the Euler ODE,
    ``sde-e_ei_N5``, an η tag when the condition names its η), ``mu_only`` for the control."""
    if sampler == MU_ONLY:
        return "mu_only"
    return SamplerSpec(sampler, solver, steps, eta).dirname


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
               log=print, shard: tuple[int, int] | None = None, guidance: float | None = None,
               grid: str | None = None) -> dict[str, float]:
    """Synthesise every utterance of ``filelist`` (its text and speaker) under every condition.

    ``conditions``: :class:`SamplerSpec` texts (``SAMPLER[:SOLVER]:N[:ETA]``) or ``mu``; ``eta`` is the η of an
    SDE-E condition that names none. Each utterance has its own generator, seeded by its position i in
    ``filelist`` (:func:`levytts.levy.sample_seeds`: ``seed`` for i = 0), the same for every condition and α: a
    wav depends on (seed, utterance) only, not on ``batch_size``, the other utterances of its batch or which
    wavs already exist. Writes ``out_dir/<spec.dirname>/<utt_id>.wav``; an existing wav is kept (resumable).
    ``t_start``: start the reverse process at t_start < T (see LevyTTS.synthesise; default: the checkpoint's
    stored default, else T); ``temperature``, ``guidance`` (classifier-free guidance scale on μ) and ``grid`` (the
    time grid, :func:`levytts.levy.time_grid`) likewise default to the checkpoint's, and are not part of the condition
    dir names. ``shard`` (i, n): only the utterances at positions p with p % n == i (:mod:`levytts.shard`); their seeds are still their positions in the whole filelist, so n shards run in parallel
    write exactly the files of one unsharded run into the same directories. Returns seconds spent per condition.
    """
    from levytts.audio.io import save_wav
    from levytts.data import read_filelist
    from levytts.levy import sample_generators
    from levytts.shard import in_shard
    from levytts.tts.synth import parse_eta

    parse_eta(eta)  # a bad --eta fails before any work
    utts = read_filelist(filelist)
    tts = load_tts(checkpoint, vocoder, device)
    for u in utts:
        tts.speaker_id(u.speaker)  # unknown speaker → clear error before any work
    position = {id(u): i for i, u in enumerate(utts)}  # the per-utterance seed index (in the whole filelist)
    utts = [u for u in utts if in_shard(position[id(u)], shard)]
    out_dir = Path(out_dir)
    timings = {}
    for text in conditions:
        spec = condition_spec(text)
        mu_only = spec is None
        cdir = out_dir / ("mu_only" if mu_only else spec.dirname)
        todo = [u for u in utts if not (cdir / f"{u.utt_id}.wav").is_file()]
        t0 = time.perf_counter()
        run = SamplerSpec("ode", "euler", 1) if mu_only else spec.with_eta(EtaSpec.parse(eta))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start: start + batch_size]
            ids, lengths = tts.texts_to_batch([u.text for u in chunk])
            spk = torch.tensor([tts.speaker_id(u.speaker) for u in chunk])
            gens = [sample_generators(int(seed), 1, start=position[id(u)], device=tts.device)[0] for u in chunk]
            out = tts.model.synthesise(ids.to(tts.device), lengths.to(tts.device), spk.to(tts.device),
                                       steps=run.steps, sampler=run.sampler, solver=run.solver,
                                       grid=tts.defaults["grid"] if grid is None else grid,
                                       eta=0.0 if run.eta is None else run.eta,
                                       generator=gens, t_start=tts.defaults["t_start"] if t_start is None else t_start,
                                       temperature=tts.defaults["temperature"] if temperature is None else temperature,
                                       guidance=tts.defaults["guidance"] if guidance is None else guidance)
            for b, u in enumerate(chunk):
                mel = out["mu" if mu_only else "mel"][b: b + 1, :, : int(out["mel_lengths"][b])]
                audio = tts.vocoder(mel)[0].float().cpu().numpy()
                save_wav(cdir / f"{u.utt_id}.wav", audio, tts.sample_rate)
        timings[cdir.name] = time.perf_counter() - t0
        log(f"{cdir}: {len(todo)} new wav(s) in {timings[cdir.name]:.1f} s")
    return timings


def from_truth_grid(checkpoint: str | Path | None, filelist: str | Path, textgrid_dir: str | Path, out_dir: str | Path,
                    starts=(0.06, 0.1, 0.2, 0.5, 1.0), steps_per_unit: int = 10, solver: str = "ei", seed: int = 0,
                    vocoder: str = "universal", device: str = "cpu", log=print) -> list[Path]:
    """Where does the decoder lose the words? A diagnostic: start the reverse process at t_s from the TRUE mel of each
    utterance, x_{t_s} = a(t_s)·x0 + γ(t_s)·ξ (x0 = the normalised mel, minus μ under the N(μ, ·) prior; μ from the
    encoder with the utterance's TextGrid durations, so frames line up), run the ODE with ``solver`` on a uniform grid
    of max(1, round(steps_per_unit·t_s)) steps to t_eps, vocode. SDEdit's start (Meng et al. 2022) with the true
    data instead of a guide. Small t_s is resynthesis; t_s = T is sampling from T with the true durations. Scoring the
    ``ts<t_s>`` dirs with `levytts eval` (WER against the sentence) shows at which noise level the words go.

    Writes ``<out_dir>/ts<t_s>/<utt_id>.wav`` (existing wavs are kept, so a run resumes) and
    ``<out_dir>/from_truth.json`` with the settings the wavs were made with (checkpoint, steps_per_unit, solver,
    seed, vocoder): a later run into the same dir with other settings is refused (the dir names hold only t_s).
    Each utterance has its own generator (:func:`levytts.levy.sample_seeds` by its position in the filelist, as
    :func:`synth_grid`). FileNotFoundError for a missing TextGrid dir or file; ValueError for a t_s outside
    (0.001, T], steps_per_unit outside [1, 1000], an out_dir that is a file or was made with other settings, or an
    utterance whose TextGrid phones are not in the checkpoint's symbol table (the error names the file). Repeated
    t_s values run once. Returns the condition dirs.
    """
    from levytts.audio.io import atomic_write, save_wav
    from levytts.data import read_filelist
    from levytts.levy import StableNoise, sample, sample_generators, time_grid
    from levytts.tts.alignment import durations_to_path, sequence_mask
    from levytts.tts.data import TTSDataset
    from levytts.tts.synth import STEPS_MAX

    utts = read_filelist(filelist)
    tts = load_tts(checkpoint, vocoder, device)
    model = tts.model
    starts = list(dict.fromkeys(float(t) for t in starts))  # a repeated t_s would only redo the same wavs
    T = float(model.proc.T)
    t_eps = 1e-3  # the samplers' end point (levytts.levy.time_grid)
    for ts in starts:
        if not t_eps < ts <= T:
            raise ValueError(f"start time {ts!r} outside ({t_eps:g}, T={T:g}]")
    if solver not in ("euler", "ei"):
        raise ValueError(f"solver must be euler or ei, got {solver!r}")
    if not (isinstance(steps_per_unit, int) and 1 <= steps_per_unit <= STEPS_MAX):
        raise ValueError(f"steps_per_unit must be an integer in [1, {STEPS_MAX}], got {steps_per_unit!r}")
    if not Path(textgrid_dir).is_dir():
        raise FileNotFoundError(f"TextGrid directory not found: {textgrid_dir}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out-dir {out_dir} is a file, not a directory")
    settings = {"checkpoint": "bundled demo voice" if checkpoint is None else str(Path(checkpoint).resolve()),
                "steps_per_unit": steps_per_unit, "solver": solver, "seed": int(seed), "vocoder": str(vocoder)}
    record = out_dir / "from_truth.json"
    if record.is_file():
        old = json.loads(record.read_text())
        changed = [f"{k}={old.get(k)!r} (this run: {v!r})" for k, v in settings.items() if old.get(k) != v]
        if changed:
            raise ValueError(f"{out_dir} holds wavs made with {', '.join(changed)}; give another --out-dir")
    for u in utts:
        tts.speaker_id(u.speaker)  # unknown speaker → clear error before any work
    data = TTSDataset(utts, tts.symbols, tts.speakers, tts.cfg["data"], str(textgrid_dir), add_blank=False,
                      cache=False, log=None)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(record) as tmp:
        tmp.write_text(json.dumps(settings, indent=1) + "\n")
    dirs = [out_dir / f"ts{ts:g}" for ts in starts]
    for i, u in enumerate(data.utts):
        todo = [(ts, d) for ts, d in zip(starts, dirs) if not (d / f"{u.utt_id}.wav").is_file()]
        if not todo:
            continue
        item = data[i]
        ids, durations = item["ids"][None].to(tts.device), item["durations"][None].to(tts.device)
        mel = item["mel"][None].to(tts.device)
        with torch.no_grad():
            spk_emb = model.speaker_embedding(torch.tensor([item["spk"]], device=tts.device), 1, tts.device)
            mu_x, _, x_mask = model.encode(ids, torch.tensor([ids.shape[1]], device=tts.device), spk_emb)
            n = int(durations.sum())
            n_pad = model.decoder.pad_length(n)
            y_mask = sequence_mask(torch.tensor([n], device=tts.device), n_pad).unsqueeze(1).to(mu_x.dtype)
            mu = model.frame_means(mu_x, durations, durations_to_path(durations, x_mask, y_mask), y_mask)
            z = torch.nn.functional.pad(model.normalise(mel[..., :n]), (0, n_pad - n)) * y_mask
            x0 = (z - mu) * y_mask if model.prior_mean == "mu" else z
            for ts, d in todo:
                gen = sample_generators(int(seed), 1, start=i, device=tts.device)
                noise = StableNoise(model.proc.alpha, model.structure, model.a_max, mask=y_mask, generators=gen,
                                    lengths=[n_pad])
                x = float(model.proc.a(ts)) * x0 + model.proc.prior(mu.shape, noise=noise, t=ts, device=mu.device,
                                                                    dtype=mu.dtype)
                times = time_grid(max(1, round(steps_per_unit * ts)), T, t_start=None if ts >= T else ts)
                z0 = sample(model.eps_fn(y_mask, mu, spk_emb), x, times, process=model.proc, sampler="ode",
                            solver=solver, noise=noise)
                out = model.output_mel(z0, mu)[..., :n]  # synthesise's output range: nothing odd reaches the vocoder
                save_wav(d / f"{u.utt_id}.wav", tts.vocoder(out)[0].float().cpu().numpy(), tts.sample_rate)
        log(f"{u.utt_id}: {len(todo)} start(s)")
    return dirs


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


BOOTSTRAP_RESAMPLES = 2000  # resamples of sentences for the paired-difference confidence intervals
BOOTSTRAP_SEED = 0
CI_LEVEL = 0.95


def _read_utt_values(eval_dir: str | Path) -> dict[tuple, dict]:
    """(condition, speaker, alpha, seed, utt) → the ``*_utts.csv`` row, for every status-ok synthesised utterance."""
    values: dict[tuple, dict] = {}
    for path in sorted(Path(eval_dir).glob("*_utts.csv")):
        m = EVAL_NAME.match(path.stem[: -len("_utts")])
        if not m:
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["condition"] != "reference" and row.get("status") == "ok":
                    values[(row["condition"], row["speaker"], float(m["alpha"]), int(m["seed"]), row["utt"])] = row
    return values


def _utt_value(row: dict, metric: str) -> tuple[float, float]:
    """(numerator, denominator) of one utterance's metric; per-sentence WER = word_errors / ref_words.
    NaN numerator when the metric is missing (e.g. WER without ASR: ref_words 0)."""
    if metric == "wer":
        ref = _num(row.get("ref_words"))
        err = _num(row.get("word_errors"))
        return (err, ref) if ref > 0 and not math.isnan(err) else (math.nan, math.nan)
    return _num(row.get(metric)), 1.0


def bootstrap_ci(stat, n_units: int, n_boot: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                 level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile bootstrap CI: ``stat(idx)`` gets an (n_boot, n_units) array of unit indices drawn with
    replacement (numpy ``default_rng(seed)``) and returns the statistic of each resample."""
    idx = np.random.default_rng(seed).integers(0, n_units, size=(n_boot, n_units))
    draws = np.asarray(stat(idx), dtype=float)
    lo, hi = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def _excludes_zero(lo: float, hi: float, tol: float = 1e-12) -> bool:
    """The interval lies on one side of 0 (rounding noise around an exact 0 does not count)."""
    return lo > tol or hi < -tol


def paired_differences(eval_dir: str | Path, base_alpha: float = 2.0, metric: str = "similarity",
                       n_boot: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, level: float = CI_LEVEL) -> list[dict]:
    """Per (condition, speaker, α ≠ base): the metric of α minus that of ``base_alpha`` on the SAME utterance
    and synthesis seed (same text, same prior draw up to the noise law), from the ``*_utts.csv`` files.

    ``metric``: a per-utterance column (``similarity``, ``similarity_other``, ``mcd_db``) or ``wer``
    (per-sentence WER = word_errors / ref_words; rows also get the corpus-level WER difference,
    Σ errors / Σ ref_words of α minus that of the base, over the same pairs).

    Confidence intervals: 95 % (``level``) percentile bootstrap over SENTENCES: ``n_boot`` (2000) resamples
    of the group's utterance ids with replacement, numpy ``default_rng(seed)`` (seed 0) restarted for every
    group, so a group's interval does not depend on which other groups exist. A resampled sentence brings
    all its seeds' pairs along (the seeds of one sentence are not independent). ``excludes_zero``: the
    interval lies strictly on one side of 0. A group with a single sentence has no interval (NaN).

    Pairing is by (condition, speaker, seed, utterance id); an utterance with a value under only one of
    the two α (not synthesised, failed, or no value) is NOT silently dropped: it is listed in ``missing``
    as ``utt@seed<k> (no α=<a>)``, and ``n`` counts the pairs actually used.

    Returns rows, sorted by condition, speaker, α descending: condition, speaker, alpha, metric, n (pairs),
    n_sentences, mean_diff, se (standard error over pairs), ci_low, ci_high, excludes_zero, wins (pairs where
    α is better: higher similarity, lower otherwise), missing; for ``wer`` also base_corpus, alpha_corpus,
    corpus_diff, corpus_ci_low, corpus_ci_high, corpus_excludes_zero.
    """
    values: dict[tuple, tuple[float, float]] = {}
    for key, row in _read_utt_values(eval_dir).items():
        num, den = _utt_value(row, metric)
        if not math.isnan(num):
            values[key] = (num, den)
    groups: dict[tuple, dict] = defaultdict(lambda: {"pairs": defaultdict(list), "missing": []})
    present = {k[:3] for k in values}  # (condition, speaker, alpha) with at least one value
    alphas = {k[2] for k in values} - {base_alpha}
    for (cond, spk, alpha, sd, utt), v in values.items():
        if alpha == base_alpha:
            for a in alphas:  # a base value without its α partner: reported where that α has the condition at all
                if (cond, spk, a, sd, utt) not in values and (cond, spk, a) in present:
                    groups[(cond, spk, a)]["missing"].append(f"{utt}@seed{sd} (no α={a:g})")
            continue
        base = values.get((cond, spk, base_alpha, sd, utt))
        if base is None:
            groups[(cond, spk, alpha)]["missing"].append(f"{utt}@seed{sd} (no α={base_alpha:g})")
        else:
            groups[(cond, spk, alpha)]["pairs"][utt].append((v, base))
    lower_better = metric != "similarity" and metric != "similarity_other"
    out = []
    for (cond, spk, alpha), g in sorted(groups.items(), key=lambda kv: (_condition_key(kv[0][0]), kv[0][1], -kv[0][2])):
        utts = sorted(g["pairs"])
        row = {"condition": cond, "speaker": spk, "alpha": alpha, "metric": metric, "n": 0, "n_sentences": len(utts),
               "mean_diff": math.nan, "se": math.nan, "ci_low": math.nan, "ci_high": math.nan, "excludes_zero": False,
               "wins": 0, "missing": sorted(g["missing"]), "n_boot": n_boot, "level": level}
        if utts:
            # per sentence: Σ of per-pair differences and the pair count (seeds); for WER also Σ errors / Σ ref words
            pairs = [g["pairs"][u] for u in utts]
            diffs = np.array([a[0] / a[1] - b[0] / b[1] for p in pairs for a, b in p])
            s = np.array([sum(a[0] / a[1] - b[0] / b[1] for a, b in p) for p in pairs])
            c = np.array([len(p) for p in pairs], dtype=float)
            # one sentence gives no interval (every resample is that sentence): left NaN, never "excludes 0"
            lo, hi = bootstrap_ci(lambda idx: s[idx].sum(1) / c[idx].sum(1), len(utts), n_boot, seed, level) \
                if len(utts) > 1 else (math.nan, math.nan)
            better = diffs < 0 if lower_better else diffs > 0
            row.update(n=len(diffs), mean_diff=float(diffs.mean()), ci_low=lo, ci_high=hi, excludes_zero=_excludes_zero(lo, hi),
                       se=float(diffs.std(ddof=1) / math.sqrt(len(diffs))) if len(diffs) > 1 else math.nan,
                       wins=int(better.sum()))
            if metric == "wer":
                ea, ra, eb, rb = (np.array([sum(x[i][j] for x in p) for p in pairs]) for i in (0, 1) for j in (0, 1))
                corpus = ea.sum() / ra.sum() - eb.sum() / rb.sum()
                clo, chi = bootstrap_ci(lambda idx: ea[idx].sum(1) / ra[idx].sum(1) - eb[idx].sum(1) / rb[idx].sum(1),
                                        len(utts), n_boot, seed, level) if len(utts) > 1 else (math.nan, math.nan)
                row.update(base_corpus=float(eb.sum() / rb.sum()), alpha_corpus=float(ea.sum() / ra.sum()),
                           corpus_diff=float(corpus), corpus_ci_low=clo, corpus_ci_high=chi,
                           corpus_excludes_zero=_excludes_zero(clo, chi))
        out.append(row)
    return out


def _ci_cell(mean: float, lo: float, hi: float, significant: bool, digits: int = 3) -> str:
    if math.isnan(mean):
        return "–"
    if math.isnan(lo):
        return f"{mean:+.{digits}f} [no CI: 1 sentence]"
    text = f"{mean:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"
    return f"**{text}**" if significant else text


def paired_markdown(rows: list[dict], speakers: list[str], base_alpha: float = 2.0,
                    wer_rows: list[dict] | None = None) -> str:
    """Long table of paired differences vs ``base_alpha``: one line per condition × speaker × α with the mean
    similarity difference [95 % bootstrap CI] (wins/pairs), and, from ``wer_rows``, the per-sentence and
    corpus-level WER differences [CI]. Bold: the CI excludes 0. Missing pairs are counted per line and listed
    (up to 5 ids) below the table. Speakers not in ``speakers`` are left out."""
    if not rows and not wer_rows:
        return ""
    wer_index = {(r["condition"], r["speaker"], r["alpha"]): r for r in wer_rows or []}
    sim_index = {(r["condition"], r["speaker"], r["alpha"]): r for r in rows}
    keys = sorted({k for k in list(sim_index) + list(wer_index) if k[1] in speakers},
                  key=lambda k: (_condition_key(k[0]), speakers.index(k[1]), -k[2]))
    any_row = next(iter(rows or wer_rows))
    n_boot, level = any_row.get("n_boot", BOOTSTRAP_RESAMPLES), any_row.get("level", CI_LEVEL)
    lines = [f"### Paired differences vs α = {base_alpha:g} (same utterance, same seed)", "",
             f"Mean of α − (α = {base_alpha:g}) over pairs, [{100 * level:g} % percentile bootstrap CI over sentences, "
             f"{n_boot} resamples, seeded]; **bold**: the CI excludes 0. Similarity: higher is better (wins = pairs "
             "where α is higher); WER: lower is better.", "",
             "| condition | speaker | α | pairs | Δ similarity [CI] (wins) | Δ WER per sentence [CI] | Δ corpus WER [CI] | missing pairs |",
             "|---|---|---|---|---|---|---|---|"]
    notes = []
    for k in keys:
        s, w = sim_index.get(k), wer_index.get(k)
        sim = "–" if s is None else _ci_cell(s["mean_diff"], s["ci_low"], s["ci_high"], s["excludes_zero"]) + \
            (f" ({s['wins']}/{s['n']})" if s["n"] else "")
        wer = "–" if w is None else _ci_cell(w["mean_diff"], w["ci_low"], w["ci_high"], w["excludes_zero"])
        corpus = "–" if w is None or "corpus_diff" not in w else \
            _ci_cell(w["corpus_diff"], w["corpus_ci_low"], w["corpus_ci_high"], w["corpus_excludes_zero"])
        missing = sorted(set((s or {}).get("missing", [])) | set((w or {}).get("missing", [])))
        n = (s or w)["n"]
        lines.append(f"| {k[0]} | {k[1]} | {k[2]:g} | {n} | {sim} | {wer} | {corpus} | {len(missing)} |")
        if missing:
            notes.append(f"- {k[0]} {k[1]} α={k[2]:g}: {len(missing)} unpaired: " + ", ".join(missing[:5])
                         + (", …" if len(missing) > 5 else ""))
    if notes:
        lines += ["", "Unpaired utterances (left out of the differences above):", *notes]
    return "\n".join(lines + [""])


def write_paired_csv(rows: list[dict], wer_rows: list[dict], out: str | Path) -> Path:
    """Every paired-difference row (similarity and WER) as CSV; ``missing`` joined by ';'."""
    from levytts.audio.io import atomic_write

    columns = ["metric", "condition", "speaker", "alpha", "n", "n_sentences", "mean_diff", "se", "ci_low", "ci_high",
               "excludes_zero", "wins", "base_corpus", "alpha_corpus", "corpus_diff", "corpus_ci_low", "corpus_ci_high",
               "corpus_excludes_zero", "n_missing", "missing"]
    out = Path(out)
    with atomic_write(out) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            for r in list(rows) + list(wer_rows):
                w.writerow({**r, "n_missing": len(r["missing"]), "missing": ";".join(r["missing"])})
    return out


def read_paired_csv(path: str | Path) -> dict[tuple, dict]:
    """The rows :func:`write_paired_csv` wrote, keyed by (metric, condition, speaker, α), numbers as floats.

    Raises FileNotFoundError (no such file) or ValueError (not a paired-differences CSV)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no paired-differences CSV {path} (`levytts imbalanced table` writes <out stem>_paired.csv)")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            needed = {"metric", "condition", "speaker", "alpha", "mean_diff", "ci_low", "ci_high", "corpus_diff",
                      "corpus_ci_low", "corpus_ci_high"}
            if not needed <= set(reader.fieldnames or ()):
                raise ValueError(f"{path} is not a paired-differences CSV of `levytts imbalanced table` "
                                 f"(missing columns: {', '.join(sorted(needed - set(reader.fieldnames or ())))})")
            rows = {}
            for line, r in enumerate(reader, start=2):
                for k in ("alpha", "mean_diff", "ci_low", "ci_high", "corpus_diff", "corpus_ci_low", "corpus_ci_high"):
                    r[k] = _num(r[k])
                if math.isnan(r["alpha"]):
                    raise ValueError(f"{path} line {line}: alpha {r['alpha']!r} is not a number")
                rows[(r["metric"], r["condition"], r["speaker"], r["alpha"])] = r
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a paired-differences CSV of `levytts imbalanced table` (not UTF-8 text)") from None
    if not rows:
        raise ValueError(f"{path} has no paired differences (header only)")
    return rows


def replication_verdict(intervals: list[tuple[float, float, float]], higher_is_better: bool = True,
                        base_alpha: float = 2.0) -> str:
    """Does an effect replicate over runs (e.g. training seeds)? ``intervals``: (mean, CI low, CI high) of the
    difference α − base per run; ``higher_is_better``: True for similarity, False for WER.

    ``yes, α wins`` / ``yes, α = 2 wins``: every run's CI excludes 0 on the same side; ``contradicts``: two runs'
    CIs exclude 0 on opposite sides; ``no (k/n)``: only k of the n runs' CIs exclude 0; ``no effect``: none
    does; ``–``: a run has no interval (missing, or one sentence)."""
    if not intervals or any(math.isnan(lo) or math.isnan(hi) for _, lo, hi in intervals):
        return "–"
    signs = [1 if lo > 0 else -1 if hi < 0 else 0 for _, lo, hi in intervals]
    if 1 in signs and -1 in signs:
        return "contradicts"
    k = sum(1 for x in signs if x)
    if k == len(signs):
        return "yes, α wins" if (signs[0] > 0) == higher_is_better else f"yes, α = {base_alpha:g} wins"
    return f"no ({k}/{len(signs)})" if k else "no effect"


def replication_markdown(paired_csvs: list[str | Path], labels: list[str], speakers: list[str]) -> str:
    """One table over several runs of the same experiment (e.g. training seeds), from their ``*_paired.csv``:
    per condition × speaker × α, the similarity and corpus-WER differences vs α = 2 [95 % CI] of each run and
    whether the effect replicates (:func:`replication_verdict`). Rows present in only some runs show ``–`` for
    the others (and verdict ``–``). Raises ValueError when the labels do not match the files."""
    if len(paired_csvs) != len(labels):
        raise ValueError(f"--labels: {len(labels)} labels for {len(paired_csvs)} paired CSVs")
    if len(paired_csvs) < 2:
        raise ValueError("give at least two paired CSVs (runs) to compare")
    if len({Path(p).resolve() for p in paired_csvs}) < len(paired_csvs):
        raise ValueError("--paired: the same CSV given twice (a run cannot replicate itself)")
    if len(set(labels)) < len(labels) or not all(lab.strip() for lab in labels):
        raise ValueError("--labels: give one distinct, non-empty label per CSV")
    if len(set(speakers)) < len(speakers):
        raise ValueError("--speakers: a speaker given twice")
    runs = [read_paired_csv(p) for p in paired_csvs]
    keys = sorted({k[1:] for r in runs for k in r if k[2] in speakers},
                  key=lambda k: (_condition_key(k[0]), speakers.index(k[1]), -k[2]))
    unknown = [spk for spk in speakers if not any(k[2] == spk for r in runs for k in r)]
    if unknown:
        raise ValueError(f"no paired differences of speakers {' '.join(unknown)} in {', '.join(map(str, paired_csvs))}")
    head = " | ".join([f"Δ similarity, {lab}" for lab in labels] + ["similarity replicates?"]
                      + [f"Δ corpus WER, {lab}" for lab in labels] + ["WER replicates?"])
    lines = ["| condition | speaker | α | " + head + " |", "|---|---|---|" + "---|" * (2 * len(labels) + 2)]
    for cond, spk, alpha in keys:
        cells, verdicts = [], []
        for metric, mean_k, lo_k, hi_k in (("similarity", "mean_diff", "ci_low", "ci_high"),
                                           ("wer", "corpus_diff", "corpus_ci_low", "corpus_ci_high")):
            found = [r.get((metric, cond, spk, alpha)) for r in runs]
            ivs = [(f[mean_k], f[lo_k], f[hi_k]) if f else (math.nan, math.nan, math.nan) for f in found]
            cells.append([_ci_cell(m, lo, hi, _excludes_zero(lo, hi)) for m, lo, hi in ivs])
            verdicts.append(replication_verdict(ivs, higher_is_better=metric == "similarity"))
        lines.append(f"| {cond} | {spk} | {alpha:g} | " + " | ".join(cells[0] + [verdicts[0]] + cells[1] + [verdicts[1]]) + " |")
    return "\n".join(lines + [""])


def _condition_key(name: str) -> tuple:
    """Sort key (ODE first, sampler, N); N = 0 for a condition without steps (reference, mu_only)."""
    m = CONDITION_PATTERN.match(name)
    return (0 if name.startswith("ode") else 1, m["sampler"] if m else name, int(m["steps"]) if m else 0)


def markdown_tables(rows: list[dict], speakers: list[str], metrics=(("similarity", "GE2E speaker similarity", 3),
                                                                    ("wer", "WER (pocketsphinx)", 3),
                                                                    ("mcd_db", "MCD (dB) vs the reference render", 2)),
                    minutes: dict[str, float] | None = None) -> str:
    """One table per metric: rows = condition, columns = speaker × α (any number of speakers); cells
    ``mean ± half-range``. ``minutes`` (speaker → training minutes, :func:`read_split_minutes`) adds a
    table of the speakers' training minutes first."""
    alphas = sorted({r["alpha"] for r in rows}, reverse=True)
    conds = sorted({r["condition"] for r in rows if r["condition"] != "reference"}, key=_condition_key)
    lines = []
    if minutes:
        lines += ["### Decoder training minutes per speaker", "", "| speaker | " + " | ".join(speakers) + " |",
                  "|---|" + "---|" * len(speakers),
                  "| minutes | " + " | ".join(_minutes_text(minutes.get(s)) for s in speakers) + " |", ""]
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


def read_split_minutes(summary_json: str | Path) -> dict[str, float]:
    """speaker → decoder-training minutes from the ``summary.json`` that `levytts data mix` writes."""
    import json

    with open(summary_json, encoding="utf-8") as f:
        speakers = json.load(f)["speakers"]
    return {spk: float(s["train_minutes"]) for spk, s in speakers.items()}


def _minutes_text(value: float | None) -> str:
    return "?" if value is None else f"{value:.3g} min"


def _save_figure(fig, out: str | Path) -> Path:
    """Write ``fig`` as PNG (110 dpi) atomically to ``out`` and close it; returns the path."""
    import matplotlib.pyplot as plt

    from levytts.audio.io import atomic_write

    out = Path(out)
    with atomic_write(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return out


def plot_similarity(rows: list[dict], speakers: list[str], out: str | Path, metric: str = "similarity",
                    ylabel: str = "GE2E speaker similarity", minutes: dict[str, float] | None = None) -> Path:
    """Metric vs N, one panel per (speaker, sampler) — one row of panels per speaker, however many — one
    line per α (error bars: half-range over seeds). ``minutes`` puts each speaker's training minutes in
    the panel titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator


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
            ax.set_title(f"{spk} ({_minutes_text(minutes.get(spk))}) — {smp}" if minutes else f"{spk} — {smp}")
            ax.set_xlabel("steps N")
            ax.set_ylabel(ylabel)
            ax.set_xscale("log")
            shown = sorted({_condition_key(c)[2] for (c, s, _), _v in agg.items()
                            if s == spk and has_steps(c) and _condition_key(c)[1] == smp})
            if shown:  # label the N that were run, not log-axis decades (2 × 10⁰, 3 × 10⁰ … overlap)
                ax.xaxis.set_major_locator(FixedLocator(shown))
                ax.xaxis.set_major_formatter(FixedFormatter([str(n) for n in shown]))
                ax.xaxis.set_minor_locator(NullLocator())
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _save_figure(fig, out)


def plot_vs_minutes(rows: list[dict], speakers: list[str], minutes: dict[str, float], out: str | Path,
                    metric: str = "similarity", ylabel: str = "GE2E speaker similarity") -> Path:
    """Metric vs the speaker's decoder-training minutes (log x), one panel per condition, one line per α
    (error bars: half-range over seeds; points labelled with the speaker id)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    agg = aggregate(rows, metric)
    alphas = sorted({r["alpha"] for r in rows}, reverse=True)
    conds = sorted({c for c, _, _ in agg if c != "reference"}, key=_condition_key)
    spks = [s for s in speakers if s in minutes]
    ncols = min(4, max(1, len(conds)))
    nrows = max(1, math.ceil(len(conds) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(conds):
            ax.axis("off")
            continue
        c = conds[k]
        for a in alphas:
            pts = sorted((minutes[s], s, agg[(c, s, a)]) for s in spks if (c, s, a) in agg)
            if pts:
                ax.errorbar([p[0] for p in pts], [p[2][0] for p in pts], yerr=[p[2][1] for p in pts], marker="o",
                            capsize=3, label="Gaussian (α=2)" if a == 2.0 else f"α={a:g}")
                if a == alphas[0]:
                    for x, s, v in pts:
                        ax.annotate(s, (x, v[0]), fontsize=7, textcoords="offset points", xytext=(3, 3))
        ax.set_title(c)
        ax.set_xlabel("decoder training minutes of the speaker")
        ax.set_ylabel(ylabel)
        ax.set_xscale("log")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save_figure(fig, out)


def plot_paired_vs_minutes(sim_rows: list[dict], wer_rows: list[dict], speakers: list[str], minutes: dict[str, float],
                           out: str | Path, base_alpha: float = 2.0) -> Path:
    """The question of the several-rare-speakers set in one picture: does the α-stable advantage grow as the
    speaker's training data shrinks? Left: Δ similarity (α − base), right: Δ corpus WER, both with their 95 %
    bootstrap CIs (rows of :func:`paired_differences`), vs the speaker's decoder-training minutes (log x); one
    line per condition and α ≠ base; the dashed line is no difference. Conditions without N (μ only) are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spks = [s for s in speakers if s in minutes]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), squeeze=False)
    for ax, rows, (mean_k, lo_k, hi_k), ylabel in (
            (axes[0][0], sim_rows, ("mean_diff", "ci_low", "ci_high"), f"Δ GE2E similarity (α − α={base_alpha:g}), higher: α better"),
            (axes[0][1], wer_rows, ("corpus_diff", "corpus_ci_low", "corpus_ci_high"), f"Δ corpus WER (α − α={base_alpha:g}), lower: α better")):
        index = {(r["condition"], r["speaker"], r["alpha"]): r for r in rows if mean_k in r}
        lines = sorted({(c, a) for c, _, a in index if CONDITION_PATTERN.match(c)}, key=lambda k: (_condition_key(k[0]), -k[1]))
        for n, (c, a) in enumerate(lines):
            pts = sorted((minutes[s], index[(c, s, a)]) for s in spks if (c, s, a) in index)
            pts = [(x, r) for x, r in pts if not math.isnan(r[mean_k])]
            if not pts:
                continue
            x = np.array([p[0] for p in pts]) * (1.06 ** (n - (len(lines) - 1) / 2))  # small offsets: bars stay apart
            y = np.array([p[1][mean_k] for p in pts])
            lo = np.array([p[1][lo_k] for p in pts])
            hi = np.array([p[1][hi_k] for p in pts])
            err = np.nan_to_num(np.vstack([y - lo, hi - y]))
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=c if len({k[1] for k in lines}) == 1 else f"{c}, α={a:g}")
        ax.axhline(0.0, color="black", ls="--", lw=1)
        for s in spks:
            ax.annotate(s, (minutes[s], 0.0), fontsize=7, textcoords="offset points", xytext=(2, -10))
        ax.set_xscale("log")
        ax.set_xlabel("decoder training minutes of the speaker")
        ax.set_ylabel(ylabel, fontsize=8)
    # one legend (both panels draw the same lines), outside the data
    axes[0][1].legend(*axes[0][0].get_legend_handles_labels(), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _save_figure(fig, out)


def write_table(eval_dir: str | Path, out: str | Path, figures_dir: str | Path, speakers: list[str],
                prefix: str = "imbalanced", split_summary: str | Path | None = None,
                n_boot: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict[str, Path]:
    """Tables (markdown fragment), the paired differences vs α = 2 with bootstrap CIs (also as
    ``<out stem>_paired.csv``) and figures from the eval CSVs; returns the written paths.

    Any number of speakers (one frequent and several rare ones). ``split_summary``: the decoder split's
    ``summary.json`` (`levytts data mix`): adds the training minutes per speaker to the tables and figure
    titles, ``<prefix>_<metric>_vs_minutes.png`` (metric vs training minutes per α and condition) and
    ``<prefix>_paired_vs_minutes.png`` (the paired differences vs α = 2 with their CIs vs training minutes)."""
    from levytts.audio.io import atomic_write

    rows = read_eval_csvs(eval_dir)
    minutes = read_split_minutes(split_summary) if split_summary else None
    figures_dir = Path(figures_dir)
    paths = {"table": Path(out)}
    for metric, label in (("similarity", "GE2E speaker similarity"), ("wer", "WER"), ("mcd_db", "MCD (dB)")):
        if not aggregate(rows, metric):  # e.g. no MCD when eval ran without reference renders
            continue
        paths[metric] = plot_similarity(rows, speakers, figures_dir / f"{prefix}_{metric}.png", metric, label, minutes)
    if minutes:
        for metric, label in (("similarity", "GE2E speaker similarity"), ("wer", "WER")):
            if aggregate(rows, metric):
                paths[f"{metric}_vs_minutes"] = plot_vs_minutes(
                    rows, speakers, minutes, figures_dir / f"{prefix}_{metric}_vs_minutes.png", metric, label)
    sim = paired_differences(eval_dir, metric="similarity", n_boot=n_boot, seed=seed)
    wer = paired_differences(eval_dir, metric="wer", n_boot=n_boot, seed=seed)
    if minutes and (sim or wer):
        paths["paired_vs_minutes"] = plot_paired_vs_minutes(sim, wer, speakers, minutes,
                                                            figures_dir / f"{prefix}_paired_vs_minutes.png")
    paths["paired_csv"] = write_paired_csv(sim, wer, paths["table"].with_name(paths["table"].stem + "_paired.csv"))
    with atomic_write(paths["table"]) as tmp:
        tmp.write_text(markdown_tables(rows, speakers, minutes=minutes) + "\n" + paired_markdown(sim, speakers, wer_rows=wer),
                       encoding="utf-8")
    return paths
