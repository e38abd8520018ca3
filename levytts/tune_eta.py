"""`levytts tune-eta`: search the SDE-E noise weight η_t for a model (or the exact oracle), a solver and N.

Popov et al. choose η_t by grid search on FID and call its choice an open problem (§5, Table 6). This command
makes that search a tool:

    levytts tune-eta --oracle two-atoms --alpha 1.5 --solver ei --steps 10 --out exp/tune_eta/a1.5_ei_10
    levytts tune-eta --oracle rare-2d --alpha 1.8 --solver euler --steps 20 --seeds 0 1 2 --budget 20000 --out D
    levytts tune-eta --checkpoint voice.pt --filelist val.txt --solver ei --steps 10 --out D --export tuned.pt

Search space (:func:`candidate_grid`): Popov et al. eq. 22, ``popov(η, δ, t0)`` over a grid of η, δ ≥ η and t0
(default: the t0 of their App. B for the nearest α), and the power family η_t = t^p; then a pattern search
around the best of each family (:func:`neighbours`, shrinking steps) while the rounds and the budget last. ODE and SDE-A
are measured with the same seeds as baselines. Every candidate sees the SAME x_T and the same injected noise for a
given seed (common random numbers), so differences between candidates are not sampling noise of x_T.

Budget: ``--budget`` counts network calls (one ε̂ evaluation of one batch); a candidate costs (N + 1) calls per
seed and batch. The search stops before a candidate that would exceed it.

Results: OUT/results.jsonl, one JSON record per (sampler spec, seed), appended and flushed as it is measured; a
rerun with the same settings skips what is there (resume), a rerun with other settings is refused. At the end:
OUT/best.txt (the η spec, in the form every sampler option takes: ``--eta 'popov(0.1,1,0.85)'``), OUT/summary.json,
OUT/search.png (the metric over the search space) and OUT/eta_curve.png (the chosen η_t).

Targets (what "the metric" is): ``--oracle`` — exact Dirac-mixture ε̂ (:mod:`levytts.levy.oracle`); the metric
is the sliced W1 between samples and the true mixture (``sw``), or the mode-weight error (``tv_modes``,
``rare_rel_err``). See :data:`ORACLES`. Model targets live in :mod:`levytts.tune_targets`.
"""
from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from levytts.cli import UserError, add_device_option, add_threads_option, apply_threads
from levytts.levy.spec import POPOV_T0, EtaSpec, SamplerSpec

#: name → (atoms, weights, description): Dirac mixtures with a rare mode (the paper's imbalance, without training).
ORACLES: dict[str, tuple[list, list, str]] = {
    "two-atoms": ([[-1.0], [1.0]], [0.9, 0.1], "1-D atoms -1 / +1 with weights 0.9 / 0.1"),
    "rare-1d": ([[-1.0], [0.0], [1.0]], [0.6, 0.38, 0.02], "1-D atoms -1 / 0 / +1 with weights 0.6 / 0.38 / 0.02"),
    "rare-2d": ([[1.0, 0.0], [-0.5, 0.866], [-0.5, -0.866], [0.0, 0.0]], [0.35, 0.35, 0.28, 0.02],
                "2-D: three atoms on the unit circle (0.35 / 0.35 / 0.28) and a rare one at the origin (0.02)"),
}
#: metric name → (direction, description); direction +1: lower is better, -1: higher is better.
ORACLE_METRICS = {"sw": (1, "sliced W1 to the true mixture"), "tv_modes": (1, "½Σ|ŵ-w| of the mode weights"),
                  "rare_rel_err": (1, "|ŵ-w|/w of the rare mode")}

DEFAULT_ETAS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
DEFAULT_DELTAS = (0.5, 1.0)  # besides δ = η (eq. 22 without the ramp)
DEFAULT_POWERS = (0.1, 0.2, 0.5, 1.0, 2.0)


# ------------------------------------------------------------------------------------------------ search space
def default_t0(alpha: float) -> float:
    """t0 of Popov et al. App. B for the nearest tabulated α (0.7 / 0.85 / 0.95 for α = 1.8 / 1.5 / 1.2)."""
    return POPOV_T0[min(POPOV_T0, key=lambda a: abs(a - alpha))]


def candidate_grid(t0s, etas=DEFAULT_ETAS, deltas=DEFAULT_DELTAS, powers=DEFAULT_POWERS,
                   families=("popov", "power")) -> list[EtaSpec]:
    """The first-stage grid: ``popov(η, δ, t0)`` for η in ``etas``, δ in {η} ∪ {d in ``deltas``: d > η}, t0 in
    ``t0s``; and ``power(p)`` for p in ``powers``. Order: η-major, so a small budget still spans the η range."""
    out: list[EtaSpec] = []
    if "popov" in families:
        for t0 in t0s:
            for eta in etas:
                for delta in [eta] + [d for d in deltas if d > eta]:
                    out.append(EtaSpec("popov", eta, delta, t0))
    if "power" in families:
        out += [EtaSpec("power", p=p) for p in powers]
    return list(dict.fromkeys(out))


def neighbours(spec: EtaSpec, factor: float = math.sqrt(2), t0_step: float = 0.05) -> list[EtaSpec]:
    """Local moves around ``spec``: η, δ (and p) times / divided by ``factor``, t0 ± ``t0_step``; invalid ones
    (δ < η, t0 outside (0, 1)) are dropped. Values are rounded to 4 significant digits (readable specs)."""
    def r(v: float) -> float:
        return float(f"{v:.4g}")

    if spec.kind == "power":
        return [EtaSpec("power", p=r(spec.p * f)) for f in (1 / factor, factor)]
    out = []
    for f in (1 / factor, factor):
        out.append((r(spec.eta * f), spec.delta, spec.t0))
        out.append((spec.eta, r(spec.delta * f), spec.t0))
        if spec.delta == spec.eta:
            out.append((r(spec.eta * f), r(spec.delta * f), spec.t0))
    out += [(spec.eta, spec.delta, r(spec.t0 + s)) for s in (-t0_step, t0_step)]
    return [EtaSpec("popov", e, d, t0) for e, d, t0 in dict.fromkeys(out) if 0 <= e <= d and 0 < t0 < 1]


# ------------------------------------------------------------------------------------------------ targets
@dataclass
class OracleTarget:
    """Samples of the exact Dirac-mixture oracle under a LévyVP process; metrics of :func:`mixture_metrics`.

    ``evaluate(spec, seed)`` → (metrics, network calls). Deterministic per (spec, seed)."""

    name: str
    alpha: float
    samples: int = 20_000
    t_eps: float = 1e-3
    metric: str = "sw"
    grid: str = "uniform"

    def __post_init__(self):
        from levytts.levy.oracle import DiracMixtureOracle
        from levytts.levy.process import LevyVP

        if self.samples < 100:  # W1 and mode shares of fewer samples are noise, not a metric
            raise UserError(f"--samples must be >= 100 for an oracle, got {self.samples}")
        if self.name not in ORACLES:
            raise UserError(f"unknown oracle {self.name!r}; valid: {', '.join(ORACLES)}")
        if self.metric not in ORACLE_METRICS:
            raise UserError(f"unknown metric {self.metric!r} for an oracle; valid: {', '.join(ORACLE_METRICS)}")
        atoms, weights, _ = ORACLES[self.name]
        self.proc = LevyVP(self.alpha)
        self.atoms, self.weights = torch.tensor(atoms, dtype=torch.float64), torch.tensor(weights, dtype=torch.float64)
        self.oracle = DiracMixtureOracle(self.atoms, self.weights, self.proc)
        self.direction = ORACLE_METRICS[self.metric][0]

    def settings(self) -> dict:
        return {"target": "oracle", "oracle": self.name, "alpha": self.alpha, "samples": self.samples,
                "t_eps": self.t_eps, "grid": self.grid, "metric": self.metric}

    def evaluate(self, spec: SamplerSpec, seed: int) -> tuple[dict, int]:
        from levytts.levy import StableNoise
        from levytts.levy.oracle import mixture_metrics
        from levytts.levy.sampling import sample, time_grid

        calls = [0]

        def eps_fn(x, t):
            calls[0] += 1
            return self.oracle(x, t)

        noise = StableNoise(self.proc.alpha, generators=torch.Generator().manual_seed(seed))
        x_T = self.proc.prior((self.samples, self.atoms.shape[1]), dtype=torch.float64, noise=noise)
        times = time_grid(spec.steps, self.proc.T, t_eps=self.t_eps, kind=self.grid, proc=self.proc)
        x = sample(eps_fn, x_T, times, process=self.proc, sampler=spec.sampler, solver=spec.solver,
                   eta=spec.eta if spec.eta is not None else 0.0, noise=noise)
        if not torch.isfinite(x).all():
            return {self.metric: math.inf, "non_finite": float((~torch.isfinite(x)).any(dim=1).double().mean())}, calls[0]
        return mixture_metrics(x, self.atoms, self.weights), calls[0]

    def calls_per_run(self, steps: int) -> int:
        return steps + 1


# ------------------------------------------------------------------------------------------------ results file
class ResultsFile:
    """OUT/results.jsonl: a header line ``{"settings": ...}`` then one record per measured (spec, seed).

    Append-only with a flush + fsync per record instead of levytts.audio.io.atomic_write (which replaces a whole
    file): a crash loses at most the record being written, and a torn last line is dropped (and re-measured) on
    the next run. A header with other settings is refused: a results file holds one search."""

    def __init__(self, path: Path, settings: dict):
        self.path = Path(path)
        self.records: dict[tuple[str, int], dict] = {}
        settings = json.loads(json.dumps(settings))
        if self.path.is_file():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            head = _json_or_none(lines[0]) if lines else None
            if not head or "settings" not in head:
                raise UserError(f"{self.path} is not a tune-eta results file (no settings header); "
                                "give another --out or remove it")
            if head["settings"] != settings:
                diff = sorted(k for k in set(head["settings"]) | set(settings)
                              if head["settings"].get(k) != settings.get(k))
                old = ", ".join(f"{k}={head['settings'].get(k)!r}" for k in diff)
                raise UserError(f"{self.path} holds a search with other settings (there: {old}); "
                                "give another --out, or the same settings to resume")
            good = [r for r in map(_json_or_none, lines[1:]) if r and "spec" in r]
            for rec in good:
                self.records[(rec["spec"], int(rec["seed"]))] = rec
            if len(good) != len(lines) - 1:  # a torn last line: rewrite the file without it
                self._rewrite(settings)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rewrite(settings)

    def _rewrite(self, settings: dict) -> None:
        from levytts.audio.io import atomic_write

        with atomic_write(self.path, suffix=".tmp") as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(json.dumps({"settings": settings}) + "\n")
                for rec in self.records.values():
                    f.write(json.dumps(rec) + "\n")

    def add(self, rec: dict) -> None:
        self.records[(rec["spec"], int(rec["seed"]))] = rec
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())


def _json_or_none(line: str):
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


# ------------------------------------------------------------------------------------------------ the search
@dataclass
class Tuner:
    """Measure candidates on a target with a network-call budget; resumable through a :class:`ResultsFile`."""

    target: object
    solver: str
    steps: int
    seeds: list[int]
    budget: int
    results: ResultsFile
    progress: Callable[[str], None] | None = None
    used: int = 0
    stopped: bool = False
    measured: list[str] = field(default_factory=list)

    def spec(self, sampler: str, eta: EtaSpec | None = None) -> SamplerSpec:
        return SamplerSpec(sampler, self.solver, self.steps, eta)

    def measure(self, spec: SamplerSpec, free: bool = False) -> dict | None:
        """Mean metrics over the seeds (with ``<metric>_sd``), or None when the budget stops the search first.
        Records already in the results file cost nothing; ``free``: baselines, not counted against the budget."""
        key, recs = str(spec), []
        cost = self.target.calls_per_run(self.steps)
        for seed in self.seeds:
            rec = self.results.records.get((key, seed))
            if rec is None:
                if not free and self.used + cost > self.budget:
                    self.stopped = True
                    return None
                metrics, calls = self.target.evaluate(spec, seed)
                rec = {"spec": key, "seed": seed, "metrics": metrics, "calls": calls}
                self.results.add(rec)
                if not free:
                    self.used += calls
            recs.append(rec)
        out = {}
        for k in recs[0]["metrics"]:
            out[k], out[k + "_sd"] = mean_sd([r["metrics"][k] for r in recs])
        self.measured.append(key)
        if self.progress:
            self.progress(f"{key}: {self.target.metric} {out[self.target.metric]:.4g}")
        return out

    def score(self, metrics: dict) -> float:
        return self.target.direction * metrics[self.target.metric]

    def run(self, grid: list[EtaSpec], refine_rounds: int = 4) -> dict:
        """Baselines, the grid, then ``refine_rounds`` rounds of pattern search around the best of each family
        (:func:`neighbours`; the step shrinks from ×√2 to ×2^(1/4) … after a round without improvement).
        Returns the summary dict."""
        table: dict[str, dict] = {}
        baselines = {s: self.measure(self.spec(s), free=True) for s in ("ode", "sde-a")}
        # SDE-E specs measured by an earlier run into this results file (e.g. with another grid) stay candidates
        prefix = str(self.spec("sde-e", EtaSpec("const", 0.0))).rsplit(":", 1)[0] + ":"
        for key in dict.fromkeys(k for k, _ in self.results.records if k.startswith(prefix)):
            if all((key, seed) in self.results.records for seed in self.seeds):
                table[str(EtaSpec.parse(key[len(prefix):]))] = self.measure(SamplerSpec.parse(key), free=True)
        for eta in grid:
            m = self.measure(self.spec("sde-e", eta))
            if m is None:
                break
            table[str(eta)] = m
        for family in ("popov", "power"):  # pattern search: move to a better neighbour, else halve the step (in log)
            factor, t0_step = math.sqrt(2), 0.05
            for _ in range(refine_rounds):
                fam = {k: v for k, v in table.items() if EtaSpec.parse(k).kind == family}
                if not fam or self.stopped:
                    break
                best = min(fam, key=lambda k: self.score(fam[k]))
                improved = False
                for cand in neighbours(EtaSpec.parse(best), factor, t0_step):
                    if str(cand) in table:
                        continue
                    m = self.measure(self.spec("sde-e", cand))
                    if m is None:
                        break
                    table[str(cand)] = m
                    improved |= self.score(m) < self.score(fam[best])
                if not improved:
                    factor, t0_step = math.sqrt(factor), t0_step / 2
        if not table:
            raise UserError(f"--budget {self.budget} is too small for one candidate "
                            f"({self.target.calls_per_run(self.steps) * len(self.seeds)} network calls)")
        best = min(table, key=lambda k: self.score(table[k]))
        return {"metric": self.target.metric,
                "direction": "lower" if self.target.direction > 0 else "higher", "solver": self.solver,
                "steps": self.steps, "seeds": self.seeds, "best": best, "best_metrics": table[best],
                "sampler": str(self.spec("sde-e", EtaSpec.parse(best))), "baselines": baselines,
                "candidates": table, "calls_used": self.used, "budget": self.budget,
                "budget_reached": self.stopped}


def mean_sd(vals: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value or a non-finite one) of a metric over seeds."""
    m = sum(vals) / len(vals)
    if len(vals) < 2 or not all(math.isfinite(v) for v in vals):
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))


# ------------------------------------------------------------------------------------------------ figures
def plot_search(summary: dict, path: Path, title: str) -> None:
    """The metric of every measured η spec: popov(η, δ) per t0 (lines over η, one per δ rule), power(p), and the ODE /
    SDE-A baselines as horizontal lines; the best marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = summary["metric"]
    cands = {EtaSpec.parse(k): v for k, v in summary["candidates"].items()}
    kinds = {s.kind for s in cands}
    # one panel per searched family (--families): an unsearched family gets no empty panel
    if "power" in kinds and "popov" in kinds:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    else:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        ax1 = ax2 = ax
    groups: dict[tuple, list] = {}
    for s, m in cands.items():
        if s.kind == "popov":
            groups.setdefault((s.t0, "δ = η" if s.delta == s.eta else f"δ = {s.delta:g}"), []).append((s.eta, m))
    for (t0, rule), pts in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if len(pts) < 2 and rule != "δ = η":
            ax1.plot(*zip(*[(e, m[metric]) for e, m in pts]), "x", ms=6, alpha=0.6)
            continue
        pts.sort()
        ax1.errorbar([e for e, _ in pts], [m[metric] for _, m in pts], yerr=[m[metric + "_sd"] for _, m in pts],
                     marker="o", ms=3, capsize=2, label=f"popov, t0 = {t0:g}, {rule}")
    pw = sorted((s.p, m) for s, m in cands.items() if s.kind == "power")
    if pw:
        ax2.errorbar([p for p, _ in pw], [m[metric] for _, m in pw], yerr=[m[metric + "_sd"] for _, m in pw],
                     marker="o", ms=3, capsize=2, color="tab:purple", label="power: η_t = t^p")
    for ax in dict.fromkeys((ax1, ax2)):
        for (name, m), c in zip(summary["baselines"].items(), ("k", "tab:red")):
            ax.axhline(m[metric], color=c, ls="--", lw=1, label=f"{name.upper()} {m[metric]:.3g}")
        xs = [x for line in ax.get_lines() for x in line.get_xdata() if x is not None]
        if xs and min(xs) > 0:  # η = 0 or p = 0 cannot sit on a log axis
            ax.set_xscale("log")
        ax.set_ylabel(f"{metric} ({summary['direction']} is better)")
        ax.legend(fontsize=7)
    if "popov" in kinds:
        ax1.set_xlabel("η (Popov eq. 22)")
    if "power" in kinds:
        ax2.set_xlabel("p" if ax2 is not ax1 else "p (η_t = t^p)")
    fig.suptitle(f"{title}\nbest: {summary['best']}  {metric} {summary['best_metrics'][metric]:.4g}", fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_eta_curve(summary: dict, T: float, path: Path) -> None:
    """η_t over t ∈ [0, T] of the chosen spec, with the measured runner-ups for comparison."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sign = 1 if summary["direction"] == "lower" else -1
    ranked = sorted(summary["candidates"], key=lambda k: sign * summary["candidates"][k][summary["metric"]])[:4]
    t = [T * i / 400 for i in range(1, 401)]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, key in enumerate(ranked):
        sched = EtaSpec.parse(key).schedule(T)
        f = sched if callable(sched) else (lambda _t, v=sched: v)
        ax.plot(t, [f(x) for x in t], lw=2.2 if i == 0 else 1, label=("chosen: " if i == 0 else "") + key)
    ax.set_xlabel("t")
    ax.set_ylabel("η_t")
    ax.legend(fontsize=7)
    ax.set_title(f"η_t of the {len(ranked)} best candidates ({summary['sampler'].split(':')[1]}, N = {summary['steps']})",
                 fontsize=9)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _save(fig, path: Path) -> None:
    from levytts.audio.io import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=110, format=path.suffix.lstrip("."))


# ------------------------------------------------------------------------------------------------ CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    from levytts.cli_types import number, positive_int, seed_int

    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--oracle", choices=sorted(ORACLES),
                      help="exact Dirac-mixture ε̂ (no training): " + "; ".join(f"{k}: {v[2]}" for k, v in ORACLES.items()))
    what.add_argument("--checkpoint", help="a TTS checkpoint (training or exported; metric: GE2E / WER on --filelist) "
                                           "or an image run dir (metric: classifier FD / coverage)")
    parser.add_argument("--alpha", type=number(low=0.5, high=2), default=None,
                        help="stability index of the oracle's process (oracle only; a checkpoint has its own)")
    parser.add_argument("--solver", choices=("euler", "ei"), default="ei", help="euler | ei (default ei)")
    parser.add_argument("--steps", type=positive_int, default=10, help="N, the number of sampler steps (default 10)")
    parser.add_argument("--metric", default=None,
                        help="oracle: sw (default) | tv_modes | rare_rel_err; TTS: similarity (default) | wer; "
                             "image: fd (default) | coverage | precision | recall | density")
    parser.add_argument("--seeds", type=seed_int, nargs="+", default=[0, 1],
                        help="seeds per candidate (the metric is their mean; default 0 1)")
    parser.add_argument("--samples", type=positive_int, default=None,
                        help="oracle: samples per run (default 20000); image: images per run (default 1000)")
    parser.add_argument("--etas", type=number(low=0), nargs="+", default=list(DEFAULT_ETAS),
                        help="η values of the popov grid")
    parser.add_argument("--deltas", type=number(low=0), nargs="+", default=list(DEFAULT_DELTAS),
                        help="δ values (besides δ = η) of the popov grid; those below η are skipped")
    parser.add_argument("--t0", type=number(low=0, high=1, low_open=True, high_open=True), nargs="+", default=None,
                        help="t0 values of the popov grid (default: Popov et al. App. B's t0 for the nearest α)")
    parser.add_argument("--powers", type=number(low=0), nargs="+", default=list(DEFAULT_POWERS),
                        help="p values of the power family η_t = t^p")
    parser.add_argument("--families", nargs="+", choices=("popov", "power"), default=["popov", "power"])
    parser.add_argument("--refine-rounds", type=number(integer=True, low=0), default=4,
                        help="rounds of pattern search around the best of each family (default 4; 0: grid only)")
    parser.add_argument("--budget", type=positive_int, default=None,
                        help="network calls (ε̂ evaluations of one batch) for the search, baselines not counted "
                             "(default: the grid plus the refinement rounds)")
    parser.add_argument("--out", required=True, help="directory for results.jsonl, best.txt, summary.json and plots")
    model = parser.add_argument_group("model targets (--checkpoint)")
    model.add_argument("--filelist", default=None,
                       help="TTS: validation filelist (wav_path|speaker|text) to synthesise and score; its recordings "
                            "are the references")
    model.add_argument("--max-utts", type=positive_int, default=8,
                       help="TTS: utterances of --filelist per evaluation, taken in turn from each speaker (default 8)")
    model.add_argument("--speakers", nargs="+", default=None,
                       help="TTS: only these speakers' utterances of --filelist (e.g. the rare one)")
    model.add_argument("--vocoder", default="universal",
                       help="TTS: universal (HiFi-GAN), a jik876 checkpoint path, or griffin-lim")
    model.add_argument("--scorer", default="ge2e", help="TTS: speaker embedding for similarity: ge2e or campplus:PATH")
    model.add_argument("--ref-dir", default=None,
                       help="TTS: directory the filelist's relative wav paths start from (default: the filelist's "
                            "directory)")
    model.add_argument("--max-refs", type=positive_int, default=None,
                       help="TTS: at most this many references per speaker for similarity")
    model.add_argument("--export", default=None,
                       help="TTS: write the voice with sampler sde-e, --solver, --steps and the best η as its synth "
                            "defaults to this .pt")
    model.add_argument("--classifier", default=None,
                       help="image: feature classifier (default: <run dir>/../classifier.pt)")
    model.add_argument("--real", default="train",
                       help="image: real set, train | test (<run dir>/../data/<name>.npz) or a .npz path (default "
                            "train, as eval.real)")
    model.add_argument("--batch-size", type=positive_int, default=None,
                       help="utterances (TTS, default 16) or images (image, default 500) per network call")
    model.add_argument("--no-ema", action="store_true", help="image: sample with the raw weights, not the EMA copy")
    model.add_argument("--image-experiment", default=None,
                       help="image: the experiment the run was trained with (configs/image/experiment, e.g. "
                            "fashion_mnist_lt): its sampler settings (time grid, x̂0 clipping, A truncation) are used, as "
                            "`levytts image sample` uses them; default: configs/image/config.yaml's")
    add_device_option(parser)
    add_threads_option(parser)


def main(args: argparse.Namespace) -> int:
    apply_threads(args.threads)
    if args.oracle:
        if args.alpha is None:
            raise UserError("--oracle needs --alpha (the stability index of the process)")
        target = OracleTarget(args.oracle, float(args.alpha), samples=args.samples or 20_000, metric=args.metric or "sw")
        alpha, T, title = target.alpha, float(target.proc.T), f"oracle {args.oracle}, α = {args.alpha:g}"
    else:
        from levytts.tune_targets import make_target

        if args.alpha is not None:
            raise UserError("--alpha is for --oracle only: a checkpoint's α is its own")
        target = make_target(args)
        alpha, T, title = target.alpha, target.T, f"{args.checkpoint}, α = {target.alpha:g}"
    if len(set(args.seeds)) != len(args.seeds):
        raise UserError(f"--seeds holds a seed twice ({' '.join(map(str, args.seeds))}): give distinct seeds")
    t0s = args.t0 or [default_t0(alpha)]
    grid = candidate_grid(t0s, args.etas, args.deltas, args.powers, args.families)
    per = target.calls_per_run(args.steps) * len(args.seeds)
    budget = args.budget or per * (len(grid) + 12 * args.refine_rounds)
    if budget < per:  # before any work (the baselines are free but not instant)
        raise UserError(f"--budget {budget} is too small for one candidate ({per} network calls: "
                        f"(N + 1) per seed{' and batch' if per > (args.steps + 1) * len(args.seeds) else ''})")
    settings = {**target.settings(), "solver": args.solver, "steps": args.steps, "seeds": list(args.seeds)}
    out = Path(args.out)
    results = ResultsFile(out / "results.jsonl", settings)
    resumed = len(results.records)
    from tqdm import tqdm

    bar = tqdm(total=budget, unit="call", desc="tune-eta (network calls of the budget)", dynamic_ncols=True,
               leave=False)

    def progress(msg: str) -> None:
        bar.n = min(tuner.used, budget)
        bar.set_postfix_str(msg[-60:])
        bar.refresh()

    tuner = Tuner(target, args.solver, args.steps, list(args.seeds), budget, results, progress)
    summary = tuner.run(grid, int(args.refine_rounds))
    bar.close()
    summary["settings"] = settings
    summary["title"] = title
    from levytts.audio.io import atomic_write

    with atomic_write(out / "summary.json", suffix=".tmp") as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    with atomic_write(out / "best.txt", suffix=".tmp") as tmp:
        Path(tmp).write_text(summary["best"] + "\n", encoding="utf-8")
    plot_search(summary, out / "search.png", title + f", {args.solver} N = {args.steps}")
    plot_eta_curve(summary, T, out / "eta_curve.png")
    m, bm = summary["metric"], summary["best_metrics"]
    base = ", ".join(f"{k.upper()} {v[m]:.4g}" for k, v in summary["baselines"].items())
    print(f"tune-eta: {len(summary['candidates'])} η specs measured ({resumed} records resumed), "
          f"{summary['calls_used']} of {budget} network calls{' (budget reached)' if summary['budget_reached'] else ''}")
    print(f"best η_t: {summary['best']}  {m} {bm[m]:.4g} ± {bm[m + '_sd']:.2g} over {len(args.seeds)} seeds  "
          f"(baselines: {base})")
    print(f"use: levytts synth … --sampler sde-e --solver {args.solver} --steps {args.steps} --eta '{summary['best']}'"
          f"   (levytts imbalanced synth --conditions '{summary['sampler']}')")
    if getattr(target, "export", None) is not None:
        target.export(summary)
    print(f"wrote {out}/results.jsonl, best.txt, summary.json, search.png, eta_curve.png")
    return 0

