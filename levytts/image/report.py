"""Markdown tables from ``metrics.json`` of several runs, in the shape of Popov et al. Tables 1, 2 and 4:
rows = sampler per run, columns = solver × N; per-class coverage for one chosen (solver, N)."""
from __future__ import annotations

import json
from pathlib import Path

from levytts.audio.io import atomic_write

SOLVER_NAMES = {"euler": "EM", "ei": "EI", "lim": "LIM", "-": ""}


def _fmt(v, pct=False):
    if v is None or v != v:
        return "–"
    return f"{100 * v:.1f}%" if pct else f"{v:.2f}"


def tables(runs: dict[str, dict], per_class_entry: tuple[str, int] = ("ei", 20), class_names=None) -> str:
    """Markdown for ``runs`` = {label: metrics.json dict}."""
    cols = []
    for m in runs.values():
        for r in m["entries"].values():
            key = (r["solver"], r["steps"])
            if key not in cols:
                cols.append(key)
    cols.sort(key=lambda c: (list(SOLVER_NAMES).index(c[0]) if c[0] in SOLVER_NAMES else 9, c[1]))
    head = "| run / sampler | " + " | ".join(f"{SOLVER_NAMES.get(s, s)}-{n}".strip("-") for s, n in cols) + " |"
    sep = "|---|" + "---|" * len(cols)
    out = []
    for metric, title, pct in (("fd_classifier", "Fréchet distance in classifier features (lower is better; NOT FID)", False),
                               ("coverage", "Coverage, k = 5, classifier features (higher is better)", True),
                               ("precision", "Precision, k = 5, classifier features", True),
                               ("recall", "Recall, k = 5, classifier features", True),
                               ("density", "Density, k = 5, classifier features", False)):
        out += [f"### {title}", "", head, sep]
        for label, m in runs.items():
            samplers = []
            for r in m["entries"].values():
                if r["sampler"] not in samplers:
                    samplers.append(r["sampler"])
            for smp in samplers:
                cells = []
                for s, n in cols:
                    r = next((r for r in m["entries"].values() if r["sampler"] == smp and r["solver"] == s and r["steps"] == n), None)
                    cells.append(_fmt(r[metric], pct) if r else "–")
                out.append(f"| {label} {smp.upper()} | " + " | ".join(cells) + " |")
        out.append("")
    solver, steps = per_class_entry
    any_m = next(iter(runs.values()))
    n_cls = len(any_m["real_class_share"])
    names = class_names or [str(c) for c in range(n_cls)]
    out += [f"### Per-class coverage ({SOLVER_NAMES.get(solver, solver)}, N = {steps}); class id = long-tail rank "
            "(0 = most images)", "", "| run / sampler | " + " | ".join(f"{c} {names[c]}" for c in range(n_cls)) + " |",
            "|---|" + "---|" * n_cls]
    for label, m in runs.items():
        for r in m["entries"].values():
            if r["solver"] == solver and r["steps"] == steps:
                out.append(f"| {label} {r['sampler'].upper()} | " + " | ".join(_fmt(v, True) for v in r["per_class_coverage"]) + " |")
    out += ["", "### Share of generated samples per predicted class vs the training set", "",
            "| run / sampler | " + " | ".join(str(c) for c in range(n_cls)) + " |", "|---|" + "---|" * n_cls,
            "| training set | " + " | ".join(f"{100 * v:.1f}" for v in any_m["real_class_share"]) + " |"]
    for label, m in runs.items():
        for r in m["entries"].values():
            if r["solver"] == solver and r["steps"] == steps:
                out.append(f"| {label} {r['sampler'].upper()} | " + " | ".join(f"{100 * v:.1f}" for v in r["predicted_class_share"]) + " |")
    return "\n".join(out) + "\n"


def write_report(cfg) -> Path:
    """Read ``${exp_dir}/<run>/metrics.json`` for each of ``cfg.report.runs`` and write ``cfg.report.out``."""
    runs = {}
    for name in cfg.report.runs:
        path = Path(cfg.exp_dir) / name / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: run the evaluate stage for run {name}")
        runs[name] = json.loads(path.read_text())
    from levytts.image.data import class_names

    text = tables(runs, (cfg.report.per_class_solver, int(cfg.report.per_class_steps)), list(class_names(cfg.data.dataset)))
    out = Path(cfg.report.out)
    with atomic_write(out, suffix=".tmp") as tmp:
        tmp.write_text(text)
    return out
