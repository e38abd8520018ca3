"""The η_t study on the exact oracle (docs/results/eta_tuning.md): is a tuned SDE-E better than ODE and SDE-A at
small N, and how does the best η_t depend on α, N and the solver?

For every (oracle, α, solver, N): `levytts tune-eta` (seeds ``--tune-seeds``) picks η_t; then ODE, SDE-A, the
tuned SDE-E and the paper's ``preset`` (Popov et al. Table 6 / App. B) are measured on FRESH seeds
(``--test-seeds``, so the choice is not judged on the samples it was chosen on). Writes exp/eta_tuning/
(the searches, results.csv, eta_tuning_tables.md, figures); ``--publish`` also writes the figures into
docs/figures/. Resumable: every search keeps its results file; finished test rows are read back from
results.csv.

    python -m levytts.experiments.eta_study --alphas 1.2 1.5 1.8 2 --steps 5 10 20 50 --solvers euler ei
    python -m levytts.experiments.eta_study image --run exp/image/fashion_mnist_lt/lim_alpha1.8 --steps 10 20
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import sys
from pathlib import Path

COLUMNS = ("oracle", "alpha", "solver", "steps", "sampler", "eta", "seeds", "sw", "sw_sd", "tv_modes", "tv_modes_sd",
           "rare_weight", "rare_weight_sd", "true_rare_weight")


def run_cell(oracle: str, alpha: float, solver: str, steps: int, args) -> list[dict]:
    """Tune on ``args.tune_seeds``, then measure the four samplers on ``args.test_seeds``; rows of :data:`COLUMNS`."""
    from levytts.cli import main as cli_main
    from levytts.levy.spec import EtaSpec, SamplerSpec
    from levytts.tune_eta import ORACLES, OracleTarget, mean_sd

    out = Path(args.exp) / oracle / f"a{alpha:g}_{solver}_N{steps}"
    argv = ["tune-eta", "--oracle", oracle, "--alpha", str(alpha), "--solver", solver, "--steps", str(steps),
            "--samples", str(args.samples), "--seeds", *map(str, args.tune_seeds), "--out", str(out)]
    if cli_main(argv) != 0:
        raise RuntimeError(f"tune-eta failed for {oracle} α={alpha} {solver} N={steps}")
    best = (out / "best.txt").read_text().strip()
    target = OracleTarget(oracle, alpha, samples=args.samples)
    w = ORACLES[oracle][1]
    rows = []
    for sampler, eta in (("ode", None), ("sde-a", None), ("sde-e", EtaSpec.parse(best)), ("sde-e", EtaSpec("preset"))):
        spec = SamplerSpec(sampler, solver, steps, eta)
        ms = [target.evaluate(spec, seed)[0] for seed in args.test_seeds]
        row = {"oracle": oracle, "alpha": alpha, "solver": solver, "steps": steps, "sampler": sampler,
               "eta": "" if eta is None else ("preset" if eta.kind == "preset" else str(eta)),
               "seeds": " ".join(map(str, args.test_seeds)), "true_rare_weight": min(w)}
        for k in ("sw", "tv_modes", "rare_weight"):
            row[k], row[k + "_sd"] = mean_sd([m.get(k, math.inf) for m in ms])
        rows.append(row)
    return rows


def label(row: dict) -> str:
    if row["sampler"] != "sde-e":
        return row["sampler"].upper()
    return "SDE-E preset" if row["eta"] == "preset" else "SDE-E tuned"


def write_tables(rows: list[dict], path: Path) -> None:
    """One markdown table per oracle: sliced W1 (mean ± sd over the test seeds) per α, solver, N and sampler."""
    from levytts.audio.io import atomic_write

    lines = []
    for oracle in dict.fromkeys(r["oracle"] for r in rows):
        sub = [r for r in rows if r["oracle"] == oracle]
        lines += [f"### {oracle}: sliced W1 to the true mixture (mean ± sd over seeds {sub[0]['seeds']}; "
                  f"rare-mode weight in brackets, true {sub[0]['true_rare_weight']:g})", "",
                  "| α | solver | N | ODE | SDE-A | SDE-E tuned | η_t tuned | SDE-E preset |", "|---|---|---|---|---|---|---|---|"]
        cells: dict[tuple, dict] = {}
        for r in sub:
            cells.setdefault((r["alpha"], r["solver"], r["steps"]), {})[label(r)] = r
        for (alpha, solver, steps), c in sorted(cells.items()):
            best = min(("ODE", "SDE-A", "SDE-E tuned", "SDE-E preset"), key=lambda k: c[k]["sw"] if k in c else math.inf)

            def cell(k):
                if k not in c:
                    return "—"
                r = c[k]
                text = f"{r['sw']:.4f} ± {r['sw_sd']:.4f} ({r['rare_weight']:.3f})"
                return f"**{text}**" if k == best else text

            lines.append(f"| {alpha:g} | {solver} | {steps} | {cell('ODE')} | {cell('SDE-A')} | {cell('SDE-E tuned')} | "
                         f"`{c.get('SDE-E tuned', {}).get('eta', '—')}` | {cell('SDE-E preset')} |")
        lines.append("")
    with atomic_write(path, suffix=".tmp") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")


def plot(rows: list[dict], path: Path) -> None:
    """sliced W1 vs N per α (columns) and solver (rows), one line per sampler, for each oracle (a figure each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from levytts.audio.io import atomic_write

    for oracle in dict.fromkeys(r["oracle"] for r in rows):
        sub = [r for r in rows if r["oracle"] == oracle]
        alphas = sorted({r["alpha"] for r in sub})
        solvers = sorted({r["solver"] for r in sub})
        fig, axes = plt.subplots(len(solvers), len(alphas), figsize=(3.3 * len(alphas), 3 * len(solvers)),
                                 squeeze=False, sharey=True)
        colours = {"ODE": "k", "SDE-A": "tab:red", "SDE-E tuned": "tab:blue", "SDE-E preset": "tab:green"}
        for i, solver in enumerate(solvers):
            for j, alpha in enumerate(alphas):
                ax = axes[i][j]
                for name, col in colours.items():
                    pts = sorted((r["steps"], r["sw"], r["sw_sd"]) for r in sub
                                 if r["alpha"] == alpha and r["solver"] == solver and label(r) == name)
                    if pts:
                        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], color=col,
                                    marker="o", ms=3, capsize=2, label=name)
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_title(f"α = {alpha:g}, {solver}", fontsize=9)
                ax.set_xlabel("N")
                if j == 0:
                    ax.set_ylabel("sliced W1 (lower is better)")
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"oracle {oracle}: ODE vs SDE-A vs tuned SDE-E (exact ε̂, fresh test seeds)", fontsize=10)
        fig.tight_layout()
        out = path.with_name(f"{path.stem}_{oracle}{path.suffix}")
        with atomic_write(out, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100)
        plt.close(fig)


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in COLUMNS:
            if k in ("oracle", "solver", "sampler", "eta", "seeds"):
                continue
            r[k] = int(r[k]) if k == "steps" else float(r[k])
    return rows


def write_rows(rows: list[dict], path: Path) -> None:
    from levytts.audio.io import atomic_write

    with atomic_write(path, suffix=".tmp") as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(rows)


def run_rules(rows: list[dict], rules: list[str], args) -> list[dict]:
    """Each fixed η_t rule (``t0`` in a rule is replaced by App. B's t0 for the cell's α) on every cell of ``rows``,
    on the test seeds: rows with oracle, alpha, solver, steps, rule, sw, sw_sd, ode_sw (the cell's ODE)."""
    from levytts.levy.spec import EtaSpec, SamplerSpec
    from levytts.tune_eta import OracleTarget, default_t0, mean_sd

    ode = {(r["oracle"], r["alpha"], r["solver"], r["steps"]): r["sw"] for r in rows if r["sampler"] == "ode"}
    out = []
    for (oracle, alpha, solver, steps), ode_sw in sorted(ode.items()):
        target = OracleTarget(oracle, alpha, samples=args.samples)
        for rule in rules:
            spec = SamplerSpec("sde-e", solver, steps, EtaSpec.parse(rule.replace("t0", str(default_t0(alpha)))))
            sw, sd = mean_sd([target.evaluate(spec, seed)[0]["sw"] for seed in args.test_seeds])
            out.append({"oracle": oracle, "alpha": alpha, "solver": solver, "steps": steps, "rule": rule, "sw": sw,
                        "sw_sd": sd, "ode_sw": ode_sw})
    return out


def rules_table(rules_rows: list[dict]) -> str:
    """Per rule and oracle: median and worst ratio of its W1 to the ODE's, and the cells where it beats the ODE."""
    import statistics

    oracles = list(dict.fromkeys(r["oracle"] for r in rules_rows))
    lines = ["| fixed η_t | " + " | ".join(f"{o}: W1 / ODE's, median / worst | {o}: cells better" for o in oracles) + " |",
             "|---" * (1 + 2 * len(oracles)) + "|"]
    for rule in dict.fromkeys(r["rule"] for r in rules_rows):
        cells = []
        for o in oracles:
            ratios = [r["sw"] / r["ode_sw"] for r in rules_rows if r["rule"] == rule and r["oracle"] == o]
            cells += [f"{statistics.median(ratios):.2f} / {max(ratios):.1f}", f"{sum(x < 1 for x in ratios)} of {len(ratios)}"]
        lines.append(f"| `{rule}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main_image(argv: list[str]) -> int:
    """``eta_study image --run RUN_DIR``: tune-eta on a trained image run (classifier FD, a small grid: the budget of a
    CPU), then ODE / SDE-A / tuned SDE-E / preset on a fresh seed with more images: FD, coverage, per-class coverage."""
    from levytts.cli import main as cli_main
    from levytts.levy.spec import EtaSpec, SamplerSpec
    from levytts.tune_targets import ImageTarget

    p = argparse.ArgumentParser(prog="python -m levytts.experiments.eta_study image")
    p.add_argument("--run", required=True, help="image run dir (model.ckpt; classifier and data in its parent)")
    p.add_argument("--solver", choices=("euler", "ei"), default="ei")
    p.add_argument("--steps", type=int, nargs="+", default=[10, 20])
    p.add_argument("--tune-samples", type=int, default=1000)
    p.add_argument("--test-samples", type=int, default=2000)
    p.add_argument("--refine-rounds", type=int, default=1, help="tune-eta's pattern-search rounds (0: the grid only)")
    p.add_argument("--test-seed", type=int, default=100)
    p.add_argument("--exp", default="exp/eta_tuning/fmnist")
    p.add_argument("--image-experiment", default="fashion_mnist_lt",
                   help="the run's experiment (its sampler settings: grid, clipping, A truncation)")
    args = p.parse_args(argv)
    exp = Path(args.exp)
    rows = []
    for n in args.steps:
        out = exp / f"{Path(args.run).name}_{args.solver}_N{n}"
        tune = ["tune-eta", "--checkpoint", args.run, "--samples", str(args.tune_samples), "--seeds", "0", "--solver",
                args.solver, "--steps", str(n), "--etas", "0.01", "0.05", "0.2", "0.7", "--deltas", "1", "--powers",
                "0.5", "1", "2", "--refine-rounds", str(args.refine_rounds), "--image-experiment", args.image_experiment, "--out", str(out)]
        if cli_main(tune) != 0:
            raise RuntimeError(f"tune-eta failed for N={n}")
        best = (out / "best.txt").read_text().strip()
        target = ImageTarget(args.run, out / "test", samples=args.test_samples, experiment=args.image_experiment)
        for sampler, eta in (("ode", None), ("sde-a", None), ("sde-e", EtaSpec.parse(best)), ("sde-e", EtaSpec("preset"))):
            m, _ = target.evaluate(SamplerSpec(sampler, args.solver, n, eta), args.test_seed)
            cov = [m[k] for k in sorted(m, key=lambda k: int(k[14:]) if k.startswith("coverage_class") else -1)
                   if k.startswith("coverage_class")]
            rows.append({"steps": n, "sampler": sampler, "eta": "" if eta is None else str(eta), "fd": m["fd"],
                         "coverage": m["coverage"], "per_class": cov})
            print(f"eta_study image: N={n} {sampler} {rows[-1]['eta']} fd {m['fd']:.2f} coverage {m['coverage']:.3f}",
                  file=sys.stderr, flush=True)
    from levytts.audio.io import atomic_write

    n_cls = max(len(r["per_class"]) for r in rows)
    lines = ["| N | sampler | η_t | FD | coverage | " + " | ".join(f"cov. class {c}" for c in range(n_cls)) + " |",
             "|---" * (5 + n_cls) + "|"]
    for r in rows:
        lines.append(f"| {r['steps']} | {r['sampler']} | {('`' + r['eta'] + '`') if r['eta'] else '—'} | {r['fd']:.2f} | "
                     f"{r['coverage']:.3f} | " + " | ".join(f"{v:.3f}" for v in r["per_class"]) + " |")
    with atomic_write(exp / "image_table.md", suffix=".tmp") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    with atomic_write(exp / "image_rows.json", suffix=".tmp") as tmp:
        Path(tmp).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["image"]:
        return main_image(argv[1:])
    p = argparse.ArgumentParser(prog="python -m levytts.experiments.eta_study", description=__doc__.splitlines()[0])
    p.add_argument("--oracles", nargs="+", default=["two-atoms", "rare-2d"])
    p.add_argument("--alphas", type=float, nargs="+", default=[1.2, 1.5, 1.8, 2.0])
    p.add_argument("--solvers", nargs="+", choices=("euler", "ei"), default=["euler", "ei"])
    p.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50])
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--tune-seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--test-seeds", type=int, nargs="+", default=[100, 101, 102, 103, 104])
    p.add_argument("--exp", default="exp/eta_tuning")
    p.add_argument("--publish", action="store_true", help="also copy the figures into docs/figures/")
    p.add_argument("--rules", nargs="*", default=None, metavar="ETA",
                   help="also measure these fixed η_t on every cell (test seeds; 't0' in a spec = App. B's t0 for α), "
                        "e.g. 'popov(0.01,0.01,t0)' 'power(1)': candidates for a default; writes rules.csv, rules.md")
    args = p.parse_args(argv)
    exp = Path(args.exp)
    csv_path = exp / "results.csv"
    rows = read_rows(csv_path)
    done = {(r["oracle"], r["alpha"], r["solver"], r["steps"]) for r in rows}
    for oracle in args.oracles:
        for alpha in args.alphas:
            for solver in args.solvers:
                for steps in args.steps:
                    if (oracle, alpha, solver, steps) in done:
                        continue
                    rows += run_cell(oracle, alpha, solver, steps, args)
                    write_rows(rows, csv_path)
                    print(f"eta_study: {oracle} α={alpha:g} {solver} N={steps} done", file=sys.stderr, flush=True)
    write_tables(rows, exp / "eta_tuning_tables.md")
    if args.rules:
        from levytts.audio.io import atomic_write

        rule_rows = run_rules(rows, args.rules, args)
        with atomic_write(exp / "rules.csv", suffix=".tmp") as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=list(rule_rows[0]))
                w.writeheader()
                w.writerows(rule_rows)
        with atomic_write(exp / "rules.md", suffix=".tmp") as tmp:
            Path(tmp).write_text(rules_table(rule_rows), encoding="utf-8")
    plot(rows, exp / "figures" / "eta_tuning.png")
    if args.publish:
        for f in sorted((exp / "figures").glob("eta_tuning_*.png")):
            shutil.copyfile(f, Path("docs/figures") / f.name)
    print(json.dumps({"rows": len(rows), "csv": str(csv_path), "tables": str(exp / "eta_tuning_tables.md")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
