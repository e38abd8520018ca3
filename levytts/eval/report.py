"""Evaluate a directory of synthesised speech against reference recordings; write markdown, CSV and a plot.

Layout read by ``evaluate`` (documented in docs/evaluation.md):
  filelist   ``wav_path|speaker|text`` lines (docs/design.md §7); the utterance id is the stem of wav_path.
  ref_dir    reference audio: ``ref_dir/wav_path``, else ``ref_dir/<basename of wav_path>``
             (an absolute wav_path is used as it is); default: the filelist's directory.
  synth_dir  either ``synth_dir/<utt>.wav`` (one condition, named ``synth``), and/or one sub-directory per
             condition, ``synth_dir/<condition>/<utt>.wav``. A condition named ``<sampler>_N<steps>``
             (e.g. ``ode_N10``, ``sde-e_ei_N50``) is reported with its sampler and number of steps.
Files that are missing, unreadable or shorter than ``min_duration`` are listed, skipped and counted.
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from levytts.audio.io import atomic_write, load_audio

CONDITION_PATTERN = re.compile(r"^(?P<sampler>.+)_N(?P<steps>\d+)$")
REFERENCE = "reference"


@dataclass(frozen=True)
class Entry:
    utt: str
    wav_path: str
    speaker: str
    text: str


@dataclass(frozen=True)
class Condition:
    name: str
    directory: Path
    sampler: str = ""
    steps: int | None = None


@dataclass
class UttResult:
    condition: str
    sampler: str
    steps: int | None
    speaker: str
    utt: str
    status: str = "ok"  # ok | missing | short | unreadable | non-finite | error: <message>
    similarity: float = math.nan
    similarity_other: float = math.nan  # highest mean cosine to ANOTHER speaker's references (nan: one speaker)
    ref_words: int = 0
    word_errors: int = 0
    hypothesis: str = ""
    mcd_db: float = math.nan
    f0_rmse_hz: float = math.nan
    f0_corr: float = math.nan
    vuv_error: float = math.nan


@dataclass
class SummaryRow:
    condition: str
    sampler: str
    steps: int | None
    speaker: str
    n_ok: int = 0
    n_missing: int = 0
    n_short: int = 0
    n_failed: int = 0
    similarity: float = math.nan
    similarity_other: float = math.nan
    wer: float = math.nan
    mcd_db: float = math.nan
    f0_rmse_hz: float = math.nan
    f0_corr: float = math.nan


@dataclass
class EvalResult:
    scorer: str
    utterances: list[UttResult] = field(default_factory=list)
    summary: list[SummaryRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_filelist(path: str | os.PathLike) -> list[Entry]:
    """Parse a ``wav_path|speaker|text`` filelist with the one reader, :func:`levytts.data.filelists.read_filelist`
    (its rules: UTF-8 with or without a byte-order mark, blank lines and ``#`` comments skipped), keeping
    wav paths as written (:func:`reference_path` resolves them); ids must be unique, the list non-empty."""
    from levytts.data.filelists import read_filelist as read_utterances

    return [Entry(u.utt_id, u.wav_path, u.speaker, u.text)
            for u in read_utterances(path, resolve_paths=False, unique_ids=True, require_entries=True)]


def find_conditions(synth_dir: str | os.PathLike) -> list[Condition]:
    """Conditions in a synthesis directory: itself if it holds wavs, and each sub-directory holding wavs."""
    synth_dir = Path(synth_dir)
    if not synth_dir.is_dir():
        raise FileNotFoundError(f"synthesis directory not found: {synth_dir}")
    conditions = []
    if any(synth_dir.glob("*.wav")):
        conditions.append(Condition("synth", synth_dir))
    for sub in sorted(p for p in synth_dir.iterdir() if p.is_dir() and any(p.glob("*.wav"))):
        match = CONDITION_PATTERN.match(sub.name)
        if match:
            conditions.append(Condition(sub.name, sub, match["sampler"], int(match["steps"])))
        else:
            conditions.append(Condition(sub.name, sub, sub.name))
    if not conditions:
        raise ValueError(f"no .wav files in {synth_dir} or its sub-directories (expected <utt>.wav or <condition>/<utt>.wav)")
    conditions.sort(key=lambda c: (c.sampler, c.steps if c.steps is not None else -1, c.name))
    return conditions


def reference_path(entry: Entry, ref_dir: str | os.PathLike) -> Path:
    """Where the reference recording of ``entry`` is (see the module docstring); may not exist."""
    wav_path = Path(entry.wav_path)
    if wav_path.is_absolute():
        return wav_path
    candidate = Path(ref_dir) / wav_path
    return candidate if candidate.exists() else Path(ref_dir) / wav_path.name


def _load_checked(path: Path, sample_rate: int, min_duration: float) -> tuple[np.ndarray | None, str]:
    """Load audio at ``sample_rate``; return (audio or None, status)."""
    if not path.is_file():
        return None, "missing"
    try:
        wav, _ = load_audio(path, sample_rate)
    except ValueError:
        return None, "unreadable"
    if len(wav) < min_duration * sample_rate:
        return None, "short"
    if not np.all(np.isfinite(wav)):
        return None, "non-finite"
    return wav, "ok"


def _nanmean(values) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def _summarise(rows: list[UttResult], condition: str, sampler: str, steps: int | None, speaker: str) -> SummaryRow:
    ok = [r for r in rows if r.status == "ok"]
    ref_words = sum(r.ref_words for r in ok)
    return SummaryRow(
        condition, sampler, steps, speaker,
        n_ok=len(ok),
        n_missing=sum(r.status == "missing" for r in rows),
        n_short=sum(r.status == "short" for r in rows),
        n_failed=sum(r.status not in ("ok", "missing", "short") for r in rows),
        similarity=_nanmean(r.similarity for r in ok),
        similarity_other=_nanmean(r.similarity_other for r in ok),
        wer=sum(r.word_errors for r in ok) / ref_words if ref_words else math.nan,
        mcd_db=_nanmean(r.mcd_db for r in ok),
        f0_rmse_hz=_nanmean(r.f0_rmse_hz for r in ok),
        f0_corr=_nanmean(r.f0_corr for r in ok),
    )


def evaluate(synth_dir: str | os.PathLike, ref_dir: str | os.PathLike | None, filelist: str | os.PathLike,
             scorer: str = "ge2e", with_wer: bool = True, with_distances: bool = True, with_f0: bool = True,
             with_reference_row: bool = True, exclude_same_sentence: bool = True, min_duration: float = 0.3,
             max_refs: int | None = None,
             device: str = "cpu", log: Callable[[str], None] = print,
             shard: tuple[int, int] | None = None) -> EvalResult:
    """Score every condition of ``synth_dir`` against the references of ``filelist``.

    Per utterance: speaker similarity (mean cosine to the speaker's reference recordings, by default
    leaving out the recording of the same sentence, as the reference row must), word
    errors (pocketsphinx, normalised text), and MCD / F0 errors against the reference of the same
    sentence. Per (condition, speaker) and per condition over all speakers ("ALL"): similarity
    averaged over utterances, corpus WER, mean MCD / F0 errors. The ``reference`` row scores the
    references themselves (similarity over pairs of distinct references: the ceiling).

    Args:
        ref_dir: directory the filelist's relative wav paths start from (None: the filelist's directory).
        scorer: ``"ge2e"`` or ``"campplus:PATH"``.
        with_wer / with_distances / with_f0 / with_reference_row: switch parts off to save time.
        exclude_same_sentence: leave the reference of the same utterance id out of a synthesised
            utterance's similarity (shared content inflates the cosine); it is used anyway, with a note,
            when it is the speaker's only reference.
        max_refs: use at most this many reference recordings per speaker for the similarity.
        min_duration: files shorter than this many seconds are reported and skipped.
        shard: (i, n) — score only the utterances at filelist positions p with p % n == i (the references still
            come from the whole filelist, so each row is what the unsharded run gives it); merge the shards with
            :func:`merge_shards`.
    """
    from levytts.eval.asr import PocketSphinxASR, wer_counts
    from levytts.eval.distances import DistanceConfig, compare_to_reference
    from levytts.eval.speaker import cosine_matrix, make_scorer

    entries = read_filelist(filelist)
    ref_dir = Path(filelist).parent if ref_dir is None else ref_dir
    if not Path(ref_dir).is_dir():
        raise FileNotFoundError(f"reference directory not found: {ref_dir}")
    conditions = find_conditions(synth_dir)
    scorer_obj = make_scorer(scorer, device)
    asr = PocketSphinxASR() if with_wer else None
    dist_config = DistanceConfig()
    result = EvalResult(scorer=scorer_obj.name)

    # References: load once, embed once per speaker.
    ref_audio: dict[str, np.ndarray] = {}
    for entry in entries:
        wav, status = _load_checked(reference_path(entry, ref_dir), dist_config.sample_rate, min_duration)
        if wav is None:
            result.problems.append(f"reference {status}: {reference_path(entry, ref_dir)}")
        else:
            ref_audio[entry.utt] = wav
    speakers = sorted({e.speaker for e in entries})
    ref_embeddings: dict[str, dict[str, np.ndarray]] = {}
    for speaker in speakers:
        utts = [e.utt for e in entries if e.speaker == speaker and e.utt in ref_audio][: max_refs or None]
        if not utts:
            result.problems.append(f"speaker {speaker}: no usable reference recording, similarity not computed")
        ref_embeddings[speaker] = {}
        for utt in utts:
            try:
                ref_embeddings[speaker][utt] = scorer_obj.embed(_resample(ref_audio[utt], dist_config.sample_rate,
                                                                          scorer_obj.sample_rate))
            except ValueError as err:
                result.problems.append(f"reference {utt}: {err}")

    def score(wav: np.ndarray, entry: Entry, row: UttResult, is_reference: bool) -> None:
        refs = ref_embeddings[entry.speaker]
        others = [e for u, e in refs.items() if not ((is_reference or exclude_same_sentence) and u == entry.utt)]
        if not others and not is_reference and refs:  # the speaker's only reference is this sentence
            others = list(refs.values())
            result.problems.append(f"{entry.utt}: no other reference of speaker {entry.speaker}; "
                                   "similarity includes the same-sentence reference")
        if others:
            emb = refs[entry.utt] if is_reference and entry.utt in refs else \
                scorer_obj.embed(_resample(wav, dist_config.sample_rate, scorer_obj.sample_rate))
            row.similarity = float(cosine_matrix(emb[None], np.stack(others)).mean())
            # the closest wrong speaker: a voice should be nearer its own speaker's references than any other's
            other = [float(cosine_matrix(emb[None], np.stack(list(e.values()))).mean())
                     for s, e in ref_embeddings.items() if s != entry.speaker and e]
            row.similarity_other = max(other) if other else math.nan
        if asr is not None:
            row.hypothesis = asr.transcribe_waveform(_resample(wav, dist_config.sample_rate, asr.sample_rate))
            counts = wer_counts(entry.text, row.hypothesis)
            row.ref_words, row.word_errors = counts.ref_words, counts.errors
        if with_distances and not is_reference and entry.utt in ref_audio:
            dist = compare_to_reference(wav, ref_audio[entry.utt], dist_config, with_f0=with_f0)
            row.mcd_db, row.f0_rmse_hz, row.f0_corr, row.vuv_error = dist.mcd_db, dist.f0_rmse_hz, dist.f0_corr, dist.vuv_error

    runs: list[tuple[Condition | None, str, str, int | None]] = []
    if with_reference_row:
        runs.append((None, REFERENCE, "", None))
    runs += [(c, c.name, c.sampler, c.steps) for c in conditions]
    from levytts.shard import in_shard

    scored = [e for p, e in enumerate(entries) if in_shard(p, shard)]
    for condition, name, sampler, steps in runs:
        log(f"[eval] {name}: {len(scored)} utterances" + (f" (shard {shard[0]}/{shard[1]})" if shard else ""))
        rows = []
        for entry in scored:
            row = UttResult(name, sampler, steps, entry.speaker, entry.utt)
            if condition is None:
                wav = ref_audio.get(entry.utt)
                status = "ok" if wav is not None else "missing"
            else:
                path = condition.directory / f"{entry.utt}.wav"
                wav, status = _load_checked(path, dist_config.sample_rate, min_duration)
                if wav is None:
                    result.problems.append(f"{name}: {status}: {path}")
            row.status = status
            if wav is not None:
                try:
                    score(wav, entry, row, is_reference=condition is None)
                except ValueError as err:  # e.g. no speech left after VAD
                    row.status = f"error: {err}"
                    result.problems.append(f"{name}: {entry.utt}: {err}")
            rows.append(row)
        result.utterances += rows
        result.summary += _summaries(rows, speakers, name, sampler, steps)
    return result


def _summaries(rows: list[UttResult], speakers: list[str], name: str, sampler: str, steps: int | None) -> list[SummaryRow]:
    out = [_summarise([r for r in rows if r.speaker == speaker], name, sampler, steps, speaker) for speaker in speakers]
    if len(speakers) > 1:
        out.append(_summarise(rows, name, sampler, steps, "ALL"))
    return out


def shard_path(out_md: str | os.PathLike, shard: tuple[int, int]) -> Path:
    """Where shard (i, n) of the report ``out_md`` keeps its rows: ``<stem>.shard-I-of-N.json`` beside it."""
    out_md = Path(out_md)
    return out_md.with_name(f"{out_md.stem}.shard-{shard[0]}-of-{shard[1]}.json")


def write_shard(result: EvalResult, out_md: str | os.PathLike, shard: tuple[int, int], filelist) -> dict[str, Path]:
    """Write one shard's rows: ``<stem>.shard-I-of-N.json`` (lossless, for :func:`merge_shards`) and
    ``<stem>.shard-I-of-N_utts.csv`` (per utterance, to read)."""
    import json

    path = shard_path(out_md, shard)
    data = {"shard": list(shard), "scorer": result.scorer, "filelist": str(filelist),
            "runs": list(dict.fromkeys(r.condition for r in result.utterances)),
            "problems": result.problems, "utterances": [asdict(r) for r in result.utterances]}
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(data), encoding="utf-8")  # NaN as NaN: json reads it back
    csv_path = path.with_name(path.stem + "_utts.csv")
    with atomic_write(csv_path) as tmp:
        tmp.write_text(to_csv(result.utterances, UTT_COLUMNS), encoding="utf-8")
    return {"shard": path, "shard_utts_csv": csv_path}


def missing_shards(out_md: str | os.PathLike, n: int) -> list[int]:
    return [i for i in range(n) if not shard_path(out_md, (i, n)).is_file()]


def merge_shards(out_md: str | os.PathLike, filelist, n: int | None = None) -> EvalResult:
    """The result of the unsharded run from the shard files of ``out_md`` (all n of them): rows in the unsharded
    order (condition, then filelist position), summaries recomputed over all rows, problems without repeats."""
    import json

    out_md = Path(out_md)
    if n is None:
        found = {int(m[1]) for f in out_md.parent.glob(f"{out_md.stem}.shard-*-of-*.json")
                 if (m := re.fullmatch(re.escape(out_md.stem) + r"\.shard-\d+-of-(\d+)\.json", f.name))}
        if len(found) != 1:
            raise FileNotFoundError(f"no shard files {out_md.stem}.shard-I-of-N.json in {out_md.parent}" if not found
                                    else f"shard files of different N ({sorted(found)}) in {out_md.parent}")
        n = found.pop()
    missing = missing_shards(out_md, n)
    if missing:
        raise FileNotFoundError(f"shards {', '.join(f'{i}/{n}' for i in missing)} of {out_md} not written yet "
                                f"(run levytts eval ... --shard I/{n} for them)")
    entries = read_filelist(filelist)
    position = {e.utt: p for p, e in enumerate(entries)}
    speakers = sorted({e.speaker for e in entries})
    shards = [json.loads(shard_path(out_md, (i, n)).read_text(encoding="utf-8")) for i in range(n)]
    result = EvalResult(scorer=shards[0]["scorer"])
    runs = list(dict.fromkeys(name for s in shards for name in s["runs"]))
    rows = [UttResult(**r) for s in shards for r in s["utterances"]]
    rows.sort(key=lambda r: (runs.index(r.condition), position[r.utt]))
    result.utterances = rows
    result.problems = list(dict.fromkeys(msg for s in shards for msg in s["problems"]))
    for name in runs:
        run_rows = [r for r in rows if r.condition == name]
        result.summary += _summaries(run_rows, speakers, name, run_rows[0].sampler, run_rows[0].steps)
    return result


def _resample(wav: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    if orig_sr == target_sr:
        return wav
    import librosa

    return librosa.resample(wav, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq")


# ---------------------------------------------------------------- writers

SUMMARY_COLUMNS = ["condition", "sampler", "steps", "speaker", "n_ok", "n_missing", "n_short", "n_failed",
                   "similarity", "similarity_other", "wer", "mcd_db", "f0_rmse_hz", "f0_corr"]


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def to_csv(rows: list, columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(v, 6) for k, v in asdict(row).items()})
    return buffer.getvalue()


def to_markdown(result: EvalResult) -> str:
    """The summary as a markdown page: scorer, one table, then the skipped files."""
    headers = ["condition", "sampler", "steps", "speaker", "n", "skipped", f"sim ({result.scorer})", "sim other", "WER",
               "MCD dB", "F0 RMSE Hz", "F0 corr"]
    notes = [f"Speaker similarity scorer: **{result.scorer}** (mean cosine to the speaker's reference recordings; "
             "'sim other': to the closest other speaker's)"]
    if any(not math.isnan(r.wer) for r in result.summary):
        notes.append("WER: pocketsphinx en-us, normalised text")
    if any(not math.isnan(r.mcd_db) for r in result.summary):
        notes.append("MCD / F0: DTW-aligned against the reference of the same sentence")
    lines = ["# levytts eval", "", "; ".join(notes) + ".", "",
             "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in result.summary:
        cells = [r.condition, r.sampler, _fmt(r.steps), r.speaker, str(r.n_ok), str(r.n_missing + r.n_short + r.n_failed),
                 _fmt(r.similarity), _fmt(r.similarity_other), _fmt(r.wer), _fmt(r.mcd_db, 2), _fmt(r.f0_rmse_hz, 1), _fmt(r.f0_corr)]
        lines.append("| " + " | ".join(cells) + " |")
    if result.problems:
        lines += ["", f"## Skipped or failed ({len(result.problems)})", ""] + [f"- {p}" for p in result.problems]
    return "\n".join(lines) + "\n"


def plot(result: EvalResult, path: str | os.PathLike) -> Path:
    """Similarity (and WER) per condition: against steps, one line per sampler, when conditions have steps;
    else bars per condition and speaker. Written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result.summary if r.speaker == "ALL"] or result.summary
    metrics = [("similarity", f"similarity ({result.scorer})"), ("wer", "WER")]
    metrics = [(k, label) for k, label in metrics if any(not math.isnan(getattr(r, k)) for r in rows)]
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=(5.5 * max(len(metrics), 1), 4), squeeze=False)
    stepped = [r for r in rows if r.steps is not None]
    for ax, (key, label) in zip(axes[0], metrics):
        if stepped:
            for sampler in sorted({r.sampler for r in stepped}):
                pts = sorted((r.steps, getattr(r, key)) for r in stepped if r.sampler == sampler)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=sampler)
            for r in rows:
                if r.steps is None and not math.isnan(getattr(r, key)):
                    ax.axhline(getattr(r, key), linestyle="--", color="gray", linewidth=1)
                    ax.annotate(r.condition, (0.01, getattr(r, key)), xycoords=("axes fraction", "data"), fontsize=8)
            ax.set_xscale("log")
            ticks = sorted({r.steps for r in stepped})
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.minorticks_off()
            ax.set_xlabel("steps")
            ax.legend(fontsize=8)
        else:
            labels = [f"{r.condition}\n{r.speaker}" for r in rows]
            ax.bar(range(len(rows)), [getattr(r, key) for r in rows])
            ax.set_xticks(range(len(rows)), labels, fontsize=7, rotation=45, ha="right")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


UTT_COLUMNS = ["condition", "sampler", "steps", "speaker", "utt", "status", "similarity", "similarity_other", "ref_words",
               "word_errors", "hypothesis", "mcd_db", "f0_rmse_hz", "f0_corr", "vuv_error"]


def write_report(result: EvalResult, out_md: str | os.PathLike) -> dict[str, Path]:
    """Write ``out_md`` (markdown), ``<stem>.csv`` (summary), ``<stem>_utts.csv`` (per utterance) and ``<stem>.png``."""
    out_md = Path(out_md)
    paths = {"markdown": out_md, "csv": out_md.with_suffix(".csv"),
             "utts_csv": out_md.with_name(out_md.stem + "_utts.csv"), "plot": out_md.with_suffix(".png")}
    for key, text in (("markdown", to_markdown(result)), ("csv", to_csv(result.summary, SUMMARY_COLUMNS)),
                      ("utts_csv", to_csv(result.utterances, UTT_COLUMNS))):
        with atomic_write(paths[key]) as tmp:
            tmp.write_text(text, encoding="utf-8")
    plot(result, paths["plot"])
    return paths
