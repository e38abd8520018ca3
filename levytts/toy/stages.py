"""The five stages of recipes/toy2d: each trains/evaluates, writes a PNG and its block of the results page.

Every stage is a function ``stage_k(settings, paths) -> str`` returning the markdown block it wrote.
Seeds are the members of one ensemble (see model.py), so a row's mean ± std is over
``settings.seeds`` independently initialised networks, each trained on its own draw of the data set
and evaluated on its own generated samples.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from levytts.audio.io import atomic_write
from levytts.levy import EtaSpec
from levytts.toy import data as toy_data
from levytts.toy import metrics
from levytts.toy.model import EpsMLP
from levytts.toy.train import TrainConfig, Trained, generate, make_process, train_ensemble
from levytts.toy.variation import (
    expected_gamma_variation,
    expected_stable_variation,
    gamma_variation,
    stable_variation,
)

STAGES = {1: "two_gaussians", 2: "heavy_tailed", 3: "grid", 4: "samplers", 5: "variation"}


@dataclass
class Settings:
    """Sizes of the studies. :meth:`quick` shrinks everything for tests (seconds)."""

    seeds: int = 5
    train: TrainConfig = field(default_factory=TrainConfig)
    n_data: int = 20_000          # training points per seed (DLPM: 20 000)
    n_gen: int = 5_000            # generated points per seed (stages 1, 3)
    n_gen_tail: int = 8_000       # generated points per seed for the tail metric (stage 2)
    sample_steps: int = 100       # reverse steps for stages 1–3 (the DLPM 2-D config uses 100)
    alphas: tuple = (1.7, 1.8, 1.9, 2.0)
    lim_alphas: tuple = (2.0, 1.8, 1.5)   # stage 1
    methods: tuple = ("lim", "dlpm")
    tail_alpha: float = 1.7
    tail_scale: float = 0.05
    xi: float = 0.95
    n_clusters: int = 100         # PRD k-means clusters (DLPM uses 100 for > 2500 points)
    mmd_points: int = 1000
    sampler_steps: tuple = (5, 10, 20, 50)
    sampler_n_gen: int = 1_000
    variation_n: tuple = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
    variation_paths: int = 1000
    gamma_shapes: tuple = (1.0, 5.0, 20.0)
    variation_alpha: float = 1.5
    quick_mode: bool = False

    @classmethod
    def quick(cls) -> "Settings":
        return cls(seeds=5, train=TrainConfig(steps=30, batch=64), n_data=500, n_gen=200, n_gen_tail=400,
                   sample_steps=10, alphas=(1.8, 2.0), lim_alphas=(2.0, 1.8), n_clusters=10, mmd_points=200,
                   sampler_steps=(2, 5), sampler_n_gen=100, variation_n=(1, 10, 100), variation_paths=50,
                   quick_mode=True)


@dataclass
class Paths:
    """Where a run writes: the results page, the figures directory and the checkpoint directory (all under exp/
    by default; `levytts toy2d --publish` points the first two at docs/)."""

    results: Path = Path("exp/toy2d/toy2d.md")
    figures: Path = Path("exp/toy2d/figures")
    exp: Path = Path("exp/toy2d")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def pm(values, fmt: str = "{:.3f}") -> str:
    """'mean ± std' of a list of floats (std with ddof = 1; non-finite values reported as such)."""
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v).all():
        n_bad = int((~np.isfinite(v)).sum())
        v = v[np.isfinite(v)]
        if len(v) == 0:
            return "inf"
        return f"{fmt.format(v.mean())} ± {fmt.format(v.std(ddof=1) if len(v) > 1 else 0.0)} ({n_bad} inf)"
    return f"{fmt.format(v.mean())} ± {fmt.format(v.std(ddof=1) if len(v) > 1 else 0.0)}"


def write_block(results: Path, name: str, body: str) -> None:
    """Replace (or append) the block between ``<!-- toy2d:name -->`` markers of the results page."""
    results = Path(results)
    start, end = f"<!-- toy2d:{name} -->", f"<!-- /toy2d:{name} -->"
    block = f"{start}\n{body.rstrip()}\n{end}\n"
    text = results.read_text() if results.exists() else (
        "# Toy 2-D studies (recipes/toy2d)\n\nWritten by `recipes/toy2d/run.sh` (`levytts toy2d`; `--publish` for docs/); "
        "see docs/toy2d.md for the setups and a discussion. Each row: mean ± std over the seeds.\n\n")
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.S)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    with atomic_write(results) as tmp:
        tmp.write_text(text)


def save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_write(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ckpt(paths: Paths, name: str) -> Path:
    return Path(paths.exp) / f"{name}.pt"


def train_or_load(paths: Paths, name: str, data: torch.Tensor, method: str, alpha: float, settings: Settings,
                  seed: int) -> Trained:
    """Train the ensemble, or load it from ``exp/<name>.pt`` when present with the same settings (resumable)."""
    path = _ckpt(paths, name)
    cfg = settings.train
    key = {"method": method, "alpha": alpha, "cfg": vars(cfg), "seed": seed, "shape": tuple(data.shape)}
    if path.exists():
        state = torch.load(path, weights_only=False)
        if state.get("key") == key:
            model = EpsMLP(dim=data.shape[2], hidden=cfg.hidden, n_layers=cfg.n_layers, n_members=data.shape[0])
            model.load_state_dict(state["model"])
            model.eval()
            return Trained(model, make_process(method, alpha, cfg), method, state["losses"])
    trained = train_ensemble(data, method, alpha, cfg, seed=seed)
    with atomic_write(path, suffix=".pt") as tmp:
        torch.save({"key": key, "model": trained.model.state_dict(), "losses": trained.losses}, tmp)
    return trained


def _seed_data(sampler, settings: Settings, base_seed: int) -> torch.Tensor:
    """(seeds, n_data, 2): one independent draw of the data set per seed."""
    return torch.stack([sampler(settings.n_data, torch.Generator().manual_seed(base_seed + s))
                        for s in range(settings.seeds)])


def _method_label(method: str) -> str:
    return {"lim": "LIM", "dlpm": "DLPM"}[method]


def _scatter(ax, x, title, lim):
    x = x[torch.isfinite(x).all(dim=1)][:3000]
    ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.4, rasterized=True)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)


def _timing(t0_wall: float, t0_cpu: float) -> str:
    return (f"_Stage time: {time.time() - t0_wall:.0f} s wall, {time.process_time() - t0_cpu:.0f} s CPU "
            f"(this process, {torch.get_num_threads()} torch thread(s))._")


# ---------------------------------------------------------------------------------------------
# stage 1: LIM Fig. 3, two Gaussians 10:1
# ---------------------------------------------------------------------------------------------
def stage_two_gaussians(settings: Settings, paths: Paths) -> str:
    t0, c0 = time.time(), time.process_time()
    mix = toy_data.two_gaussians()
    X = _seed_data(mix.sample, settings, 1000)
    ref = mix.sample(settings.n_gen, torch.Generator().manual_seed(1999))
    rows, samples = [], {}
    true_ratio = [metrics.mode_ratio(mix.sample(settings.n_gen, torch.Generator().manual_seed(1500 + s)), mix.means)
                  for s in range(settings.seeds)]
    true_mmd = [metrics.mmd2(ref, mix.sample(settings.n_gen, torch.Generator().manual_seed(1500 + s)),
                             max_points=settings.mmd_points) for s in range(settings.seeds)]
    rows.append(f"| data (fresh draw of {settings.n_gen}) | – | – | {pm(true_ratio, '{:.2f}')} | {pm(true_mmd, '{:.4f}')} |")
    for alpha in settings.lim_alphas:
        tr = train_or_load(paths, f"two_gaussians_lim_a{alpha}", X, "lim", alpha, settings, seed=10)
        name = "Gaussian (DM)" if alpha == 2.0 else "LIM"
        # the paper's sampler (SDE-A) first; the ODE separates sampler bias from what the network learnt
        for sampler, solver in (("sde-a", "lim"), ("ode", "ei")):
            gen = generate(tr, settings.n_gen, seed=20, steps=settings.sample_steps, sampler=sampler, solver=solver)
            ratios = [metrics.mode_ratio(gen[e], mix.means) for e in range(settings.seeds)]
            mmds = [metrics.mmd2(ref, gen[e], max_points=settings.mmd_points) for e in range(settings.seeds)]
            rows.append(f"| {name} | {alpha} | {sampler} / {solver} | {pm(ratios, '{:.2f}')} | {pm(mmds, '{:.4f}')} |")
            if sampler == "sde-a":
                samples[alpha] = (gen[0], ratios[0])
    plt = _plt()
    fig, axes = plt.subplots(1, 1 + len(samples), figsize=(3.0 * (1 + len(samples)), 3.2))
    _scatter(axes[0], X[0], f"data (10:1), ratio {metrics.mode_ratio(X[0], mix.means):.1f}:1", 2.0)
    for ax, (alpha, (x, r)) in zip(axes[1:], samples.items()):
        _scatter(ax, x, f"{'Gaussian' if alpha == 2.0 else 'LIM'} α={alpha}: {r:.1f}:1 (seed 0)", 2.0)
    fig.suptitle("Two Gaussians 10:1 (LIM Fig. 3 setup): generated mode ratio", fontsize=10)
    fig.tight_layout()
    save_figure(fig, Path(paths.figures) / "toy2d_two_gaussians.png")
    body = "\n".join([
        "## 1. Two Gaussians 10:1 (LIM Fig. 3)",
        "",
        f"Means (−1, 0) (weight 10/11) and (+1, 0) (1/11), std 0.1; {settings.n_data} training points per seed; "
        f"samplers: SDE-A with LIM's published step (the paper's) and the ODE with the exponential integrator, "
        f"{settings.sample_steps} uniform steps each; ratio = points nearest "
        f"the major mean / points nearest the minor mean over {settings.n_gen} samples; MMD² (RBF mix, "
        f"{settings.mmd_points} points) against a held-out data sample. Paper: 5.6:1 (DM) vs 11.1:1 (LIM), "
        "MMD 0.02 vs 0.026.",
        "",
        "| model | α | sampler / solver | mode ratio (10:1 true) | MMD² |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "![two Gaussians](../figures/toy2d_two_gaussians.png)",
        "",
        _timing(t0, c0),
    ])
    write_block(paths.results, "stage1", body)
    return body


# ---------------------------------------------------------------------------------------------
# stage 2: DLPM heavy-tailed data, MSLE
# ---------------------------------------------------------------------------------------------
def stage_heavy_tailed(settings: Settings, paths: Paths) -> str:
    t0, c0 = time.time(), time.process_time()

    def draw(n, gen):
        return toy_data.heavy_tailed(n, settings.tail_alpha, settings.tail_scale, generator=gen)

    X = _seed_data(draw, settings, 2000)
    floor = [metrics.msle(X[s], draw(settings.n_gen_tail, torch.Generator().manual_seed(2500 + s)), settings.xi)
             for s in range(settings.seeds)]
    table, tails = {}, {}
    for method in settings.methods:
        for alpha in settings.alphas:
            tr = train_or_load(paths, f"heavy_{method}_a{alpha}", X, method, alpha, settings, seed=30)
            gen = generate(tr, settings.n_gen_tail, seed=40, steps=settings.sample_steps)
            table[method, alpha] = [metrics.msle(X[e], gen[e], settings.xi) for e in range(settings.seeds)]
            tails[method, alpha] = gen[0]
    header = "| method | " + " | ".join(f"α = {a}" for a in settings.alphas) + " |"
    rows = [f"| {_method_label(m)} | " + " | ".join(pm(table[m, a]) for a in settings.alphas) + " |"
            for m in settings.methods]
    plt = _plt()
    fig, axes = plt.subplots(1, len(settings.methods), figsize=(4.5 * len(settings.methods), 3.6), squeeze=False)
    for ax, method in zip(axes[0], settings.methods):
        def survival(x, **kw):
            v = x[torch.isfinite(x).all(dim=1)].abs().reshape(-1).sort().values.numpy()
            ax.loglog(v, 1 - (np.arange(len(v)) + 0.5) / len(v), **kw)
        survival(X[0], color="k", lw=2, label="data")
        for alpha in settings.alphas:
            survival(tails[method, alpha], lw=1, label=f"α = {alpha}")
        ax.set_xlabel("|coordinate|")
        ax.set_ylabel("P(|X_i| > x)")
        ax.set_title(f"{_method_label(method)}: tails of generated samples (seed 0)", fontsize=9)
        ax.axhline(1 - settings.xi, color="gray", ls=":", lw=1)
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, Path(paths.figures) / "toy2d_heavy_tailed.png")
    body = "\n".join([
        "## 2. Heavy-tailed data: MSLE tail metric (DLPM slides)",
        "",
        f"Data: {settings.n_data} points of 0.05·SαS²(1), α = {settings.tail_alpha}, one draw per seed. "
        f"MSLE(ξ = {settings.xi}) of each coordinate's upper-tail quantiles (generated vs that seed's training "
        f"data), averaged over the 2 coordinates and normalised by 1 − ξ; {settings.n_gen_tail} generated points "
        f"per seed, {settings.sample_steps} steps (LIM: SDE-A, LIM step; DLPM: stochastic DLPM sampler). "
        f"Floor (a fresh data draw of {settings.n_gen_tail} vs the training data): {pm(floor)}.",
        "Paper (20 runs): DLPM 0.071 / 0.099 / 0.132 / 0.798, LIM 0.267 / 0.653 / 2.444 / 1.239 for α = 1.7 / 1.8 / 1.9 / 2.0.",
        "",
        header,
        "|---|" + "---|" * len(settings.alphas),
        *rows,
        "",
        "![heavy-tailed](../figures/toy2d_heavy_tailed.png)",
        "",
        _timing(t0, c0),
    ])
    write_block(paths.results, "stage2", body)
    return body


# ---------------------------------------------------------------------------------------------
# stage 3: DLPM 9-Gaussian grid, F1 of PRD precision/recall
# ---------------------------------------------------------------------------------------------
def stage_grid(settings: Settings, paths: Paths) -> str:
    t0, c0 = time.time(), time.process_time()
    mix = toy_data.gaussian_grid()
    X = _seed_data(mix.sample, settings, 3000)
    prd_kw = {"num_clusters": settings.n_clusters, "max_points": settings.n_gen}
    floor = [metrics.prd_f1(X[s], mix.sample(settings.n_gen, torch.Generator().manual_seed(3500 + s)), **prd_kw)["f1"]
             for s in range(settings.seeds)]
    f1s, tvs, shown = {}, {}, {}
    for method in settings.methods:
        for alpha in settings.alphas:
            tr = train_or_load(paths, f"grid_{method}_a{alpha}", X, method, alpha, settings, seed=50)
            gen = generate(tr, settings.n_gen, seed=60, steps=settings.sample_steps)
            f1s[method, alpha] = [metrics.prd_f1(X[e], gen[e], **prd_kw)["f1"] for e in range(settings.seeds)]
            tvs[method, alpha] = [0.5 * float((metrics.mode_fractions(gen[e], mix.means) - mix.weights).abs().sum())
                                  for e in range(settings.seeds)]
            shown[method, alpha] = gen[0]
    header = "| method | " + " | ".join(f"α = {a}" for a in settings.alphas) + " |"
    sep = "|---|" + "---|" * len(settings.alphas)
    f1_rows = [f"| {_method_label(m)} | " + " | ".join(pm(f1s[m, a]) for a in settings.alphas) + " |"
               for m in settings.methods]
    tv_rows = [f"| {_method_label(m)} | " + " | ".join(pm(tvs[m, a]) for a in settings.alphas) + " |"
               for m in settings.methods]
    plt = _plt()
    nm, na = len(settings.methods), len(settings.alphas)
    fig, axes = plt.subplots(nm, na + 1, figsize=(2.6 * (na + 1), 2.7 * nm), squeeze=False)
    for i, method in enumerate(settings.methods):
        _scatter(axes[i, 0], X[0], "data", 1.8)
        for j, alpha in enumerate(settings.alphas):
            _scatter(axes[i, j + 1], shown[method, alpha],
                     f"{_method_label(method)} α={alpha}, F1 {f1s[method, alpha][0]:.2f}", 1.8)
    fig.suptitle("Imbalanced 9-Gaussian grid (seed 0)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, Path(paths.figures) / "toy2d_grid.png")
    w = ", ".join(f"{v:.2f}" for v in mix.weights.tolist())
    body = "\n".join([
        "## 3. Imbalanced 9-Gaussian grid: F1 of PRD precision / recall (DLPM slides)",
        "",
        f"Means {{−1, 0, 1}}², std 0.05, weights (row-major) {w}; {settings.n_data} training points per seed. "
        f"F1 = 2PR/(P+R) of PRD (Sajjadi et al. 2018; k-means with {settings.n_clusters} clusters, 5 runs, "
        f"recall = max F₈, precision = max F₁/₈) between {settings.n_gen} generated points and that seed's data; "
        f"{settings.sample_steps} steps (LIM: SDE-A, LIM step; DLPM: stochastic DLPM sampler). "
        f"Floor (a fresh data draw): {pm(floor)}.",
        "Paper (30 runs): DLPM 0.78 / 0.75 / 0.75 / 0.71, LIM 0.72 / 0.63 / 0.62 / 0.65 for α = 1.7 / 1.8 / 1.9 / 2.0.",
        "",
        "F1 ↑",
        "",
        header, sep, *f1_rows,
        "",
        "Total variation between the generated mode weights (nearest mean) and the true weights ↓",
        "",
        header, sep, *tv_rows,
        "",
        "![grid](../figures/toy2d_grid.png)",
        "",
        _timing(t0, c0),
    ])
    write_block(paths.results, "stage3", body)
    return body


# ---------------------------------------------------------------------------------------------
# stage 4: sampler comparison on the trained grid models
# ---------------------------------------------------------------------------------------------
#: Popov et al. Table 6, EI-500 column: (η, δ) = (0.10, 0.10) for every α (eq. 22; not the constant η = 0.1)
SAMPLER_ETA = EtaSpec.parse("popov(0.1,0.1)")


def stage_samplers(settings: Settings, paths: Paths) -> str:
    t0, c0 = time.time(), time.process_time()
    mix = toy_data.gaussian_grid()
    X = _seed_data(mix.sample, settings, 3000)  # the stage-3 data (same seeds), to reuse its models
    eta_t = SAMPLER_ETA.schedule(1.0)
    combos = [(s, v) for s in ("ode", "sde-a", "sde-e") for v in ("euler", "ei")]
    tv, mmd = {}, {}
    for alpha in settings.alphas:
        tr = train_or_load(paths, f"grid_lim_a{alpha}", X, "lim", alpha, settings, seed=50)
        for sampler, solver in combos:
            for n_steps in settings.sampler_steps:
                gen = generate(tr, settings.sampler_n_gen, seed=70, steps=n_steps, sampler=sampler, solver=solver,
                               eta=eta_t if sampler == "sde-e" else 0.0)
                tv[alpha, sampler, solver, n_steps] = [
                    0.5 * float((metrics.mode_fractions(gen[e], mix.means) - mix.weights).abs().sum())
                    for e in range(settings.seeds)]
                mmd[alpha, sampler, solver, n_steps] = [
                    metrics.mmd2(X[e], gen[e], max_points=settings.mmd_points) for e in range(settings.seeds)]
    header = "| α | sampler | solver | " + " | ".join(f"N = {n}" for n in settings.sampler_steps) + " |"
    sep = "|---|---|---|" + "---|" * len(settings.sampler_steps)

    def rows(table, fmt):
        return [f"| {a} | {s} | {v} | " + " | ".join(pm(table[a, s, v, n], fmt) for n in settings.sampler_steps) + " |"
                for a in settings.alphas for s, v in combos]

    plt = _plt()
    fig, axes = plt.subplots(1, len(settings.alphas), figsize=(3.4 * len(settings.alphas), 3.3), squeeze=False,
                             sharey=True)
    for ax, alpha in zip(axes[0], settings.alphas):
        for sampler, solver in combos:
            m = [float(np.mean(mmd[alpha, sampler, solver, n])) for n in settings.sampler_steps]
            ax.loglog(settings.sampler_steps, m, marker="o", ms=3, ls="-" if solver == "ei" else "--",
                      label=f"{sampler} / {solver}")
        ax.set_title(f"LIM α = {alpha}", fontsize=9)
        ax.set_xlabel("steps N")
        ax.set_xticks(list(settings.sampler_steps), [str(n) for n in settings.sampler_steps])
        ax.minorticks_off()
    axes[0, 0].set_ylabel("MMD² to data (mean over seeds)")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle("Sampler comparison on the trained grid models", fontsize=10)
    fig.tight_layout()
    save_figure(fig, Path(paths.figures) / "toy2d_samplers.png")
    body = "\n".join([
        "## 4. Samplers: ODE / SDE-A / SDE-E × Euler / EI on the trained grid models",
        "",
        f"The LIM grid models of stage 3; prior γ(T)·ξ, uniform grid from T = 0.9946 to t_eps = 1e-3, final "
        f"denoising step (one extra network call); {settings.sampler_n_gen} points per seed. "
        f"SDE-E uses η_t of Popov et al. eq. 22 with (η, δ) = ({SAMPLER_ETA.eta}, {SAMPLER_ETA.delta}) (then t0 plays no "
        "role): η_t = 0.1 + 0.2·(sigmoid(20 t) − 1), ≈ 0.1 for t > 0.2 and → 0 at t = 0. Chosen, not tuned: it "
        "is the only legible preset of their Table 6 (EI, 500 steps, every α), and no data of this study was "
        "used to pick it.",
        "",
        "MMD² to the seed's data ↓",
        "",
        header, sep, *rows(mmd, "{:.4f}"),
        "",
        "Total variation of the mode weights ↓",
        "",
        header, sep, *rows(tv, "{:.3f}"),
        "",
        "![samplers](../figures/toy2d_samplers.png)",
        "",
        _timing(t0, c0),
    ])
    write_block(paths.results, "stage4", body)
    return body


# ---------------------------------------------------------------------------------------------
# stage 5: Popov Fig. 3, variation of α-stable vs compensated Gamma paths
# ---------------------------------------------------------------------------------------------
def stage_variation(settings: Settings, paths: Paths) -> str:
    t0, c0 = time.time(), time.process_time()
    alpha, ns = settings.variation_alpha, settings.variation_n
    res = {}
    for s in range(settings.seeds):
        gen = torch.Generator().manual_seed(5000 + s)
        rng = np.random.default_rng(5000 + s)
        for n in ns:
            res["stable", n, s] = float(stable_variation(n, alpha, settings.variation_paths, gen).mean())
            for g in settings.gamma_shapes:
                res[g, n, s] = float(gamma_variation(n, g, settings.variation_paths, rng).mean())
    procs = [("stable", f"α-stable, α = {alpha}")] + [(g, f"compensated Gamma, shape {g:g}") for g in settings.gamma_shapes]

    def expected(p, n):
        return expected_stable_variation(n, alpha) if p == "stable" else expected_gamma_variation(n, p)

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    n_fine = np.unique(np.round(np.logspace(0, math.log10(max(ns)), 60)).astype(int))
    for i, (p, label) in enumerate(procs):
        color = f"C{i}"
        ax.plot(n_fine, [expected(p, int(n)) for n in n_fine], color=color, lw=1)
        mean = [np.mean([res[p, n, s] for s in range(settings.seeds)]) for n in ns]
        ax.plot(ns, mean, "o", color=color, ms=4, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of steps n on [0, 1]")
    ax.set_ylabel("variation Σ|ΔY|")
    ax.set_title("Popov Fig. 3: variation vs n (dots: Monte-Carlo, lines: exact mean)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, Path(paths.figures) / "toy2d_variation.png")
    shown = [n for n in ns if n in (1, 10, 100, 1000)] or list(ns)
    header = "| process | " + " | ".join(f"n = {n}" for n in shown) + " | n → ∞ |"
    rows = []
    for p, label in procs:
        cells = [f"{pm([res[p, n, s] for s in range(settings.seeds)])} (exact {expected(p, n):.3f})" for n in shown]
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {'∞' if p == 'stable' else f'{2 * p:g}'} |")
    body = "\n".join([
        "## 5. Variation of α-stable vs compensated Gamma paths (Popov Fig. 3)",
        "",
        f"Σ_k |Y(k/n) − Y((k−1)/n)| on [0, 1]; per seed the mean over {settings.variation_paths} paths. α-stable "
        "increments (1/n)^{1/α}·S, S ~ SαS(1) (levytts.levy.stable); Gamma increments Gamma(γ/n, 1) − γ/n. Exact "
        "means: n^{1−1/α}·(2/π)Γ(1−1/α) and n·2k^k e^{−k}/Γ(k), k = γ/n (→ 2γ).",
        "",
        header,
        "|---|" + "---|" * (len(shown) + 1),
        *rows,
        "",
        "![variation](../figures/toy2d_variation.png)",
        "",
        _timing(t0, c0),
    ])
    write_block(paths.results, "stage5", body)
    return body


STAGE_FUNCS = {1: stage_two_gaussians, 2: stage_heavy_tailed, 3: stage_grid, 4: stage_samplers, 5: stage_variation}


def run(stage: int = 1, stop_stage: int = 5, settings: Settings | None = None, paths: Paths | None = None,
        log=print) -> dict[int, str]:
    """Run stages ``stage``..``stop_stage`` in order; returns {stage: markdown block}."""
    if not (1 <= stage <= stop_stage <= max(STAGE_FUNCS)):
        raise ValueError(f"need 1 <= stage <= stop_stage <= {max(STAGE_FUNCS)}, got stage={stage}, "
                         f"stop_stage={stop_stage}")
    settings = settings or Settings()
    paths = paths or Paths()
    out = {}
    for k in range(stage, stop_stage + 1):
        t0 = time.time()
        log(f"[toy2d] stage {k}: {STAGES[k]} ...")
        out[k] = STAGE_FUNCS[k](settings, paths)
        log(f"[toy2d] stage {k} done in {time.time() - t0:.1f} s")
    return out
