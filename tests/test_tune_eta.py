"""`levytts tune-eta`: exact mixture distances, the search finds a known optimum, the results file resumes."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance

from levytts.cli import UserError
from levytts.cli import main as cli_main
from levytts.levy.oracle import mixture_metrics, mode_weights, sliced_wasserstein_to_atoms, wasserstein1_to_atoms
from levytts.levy.spec import EtaSpec
from levytts.tune_eta import ResultsFile, Tuner, candidate_grid, neighbours


def test_w1_to_atoms_equals_scipy_and_known_values():
    rng = np.random.default_rng(0)
    x = rng.standard_cauchy(1000)
    atoms, w = np.array([-1.0, 0.3, 2.0]), np.array([0.5, 0.2, 0.3])
    ours = wasserstein1_to_atoms(torch.tensor(x), torch.tensor(atoms), torch.tensor(w))
    assert ours == pytest.approx(wasserstein_distance(x, atoms, v_weights=w), rel=1e-10)
    # all samples on the heavy atom: the rare atom's mass 0.1 moved a distance 2
    assert wasserstein1_to_atoms(torch.full((100,), -1.0, dtype=torch.float64), torch.tensor([-1.0, 1.0]),
                                 torch.tensor([0.9, 0.1])) == pytest.approx(0.2)


def test_sliced_w1_in_2d_and_mode_weights():
    x = torch.zeros(10, 2, dtype=torch.float64)
    # point mass at 0 vs at (1, 0): mean over θ of |cos θ| = 2/π (up to the 64-angle quadrature)
    assert sliced_wasserstein_to_atoms(x, torch.tensor([[1.0, 0.0]]), torch.tensor([1.0])) == \
        pytest.approx(2 / math.pi, rel=1e-3)
    pts = torch.tensor([[0.9, 0.0], [1.1, 0.1], [-0.4, 0.9], [0.1, 0.0]], dtype=torch.float64)
    atoms = torch.tensor([[1.0, 0.0], [-0.5, 0.866], [0.0, 0.0]])
    assert mode_weights(pts, atoms).tolist() == [0.5, 0.25, 0.25]
    m = mixture_metrics(pts, atoms, [0.5, 0.3, 0.2])
    assert m["rare_weight"] == 0.25 and m["rare_rel_err"] == pytest.approx(0.25)
    assert m["tv_modes"] == pytest.approx(0.5 * (0 + 0.05 + 0.05))


def test_grid_and_neighbours_are_valid_specs():
    grid = candidate_grid([0.85], etas=(0.1, 0.7), deltas=(0.5, 1.0), powers=(0.2,))
    assert [str(s) for s in grid] == ["popov(0.1,0.1,0.85)", "popov(0.1,0.5,0.85)", "popov(0.1,1,0.85)",
                                      "popov(0.7,0.7,0.85)", "popov(0.7,1,0.85)", "power"]
    for s in neighbours(EtaSpec("popov", 0.7, 0.7, 0.85)):
        assert s.eta <= s.delta and 0 < s.t0 < 1
    assert {str(s) for s in neighbours(EtaSpec("power", p=0.5))} == {"power(0.3536)", "power(0.7071)"}


class Quadratic:
    """A target with a known optimum: metric = (log η - log 0.42)² + (δ - η)² + 0.01·[power family]."""

    alpha, T, metric, direction = 1.5, 1.0, "loss", 1

    def __init__(self):
        self.runs = 0

    def settings(self):
        return {"target": "quadratic"}

    def calls_per_run(self, steps):
        return steps + 1

    def evaluate(self, spec, seed):
        self.runs += 1
        e = spec.eta
        if spec.sampler != "sde-e":
            return {"loss": 5.0}, spec.steps + 1
        if e.kind == "power":
            return {"loss": 1.0 + 0.01 * e.p}, spec.steps + 1
        loss = (math.log(max(e.eta, 1e-6)) - math.log(0.42)) ** 2 + (e.delta - e.eta) ** 2 + 1e-3 * seed
        return {"loss": loss}, spec.steps + 1


def test_tuner_finds_a_known_off_grid_optimum(tmp_path):
    target = Quadratic()
    res = ResultsFile(tmp_path / "r.jsonl", {**target.settings(), "steps": 4})
    summary = Tuner(target, "ei", 4, [0, 1], 10**6, res).run(candidate_grid([0.85]))
    best = EtaSpec.parse(summary["best"])
    assert best.kind == "popov" and best.eta == best.delta
    assert best.eta == pytest.approx(0.42, rel=0.05)  # the grid has 0.3 and 0.5; refinement reaches 0.3·√2
    assert summary["best_metrics"]["loss_sd"] == pytest.approx(math.sqrt(0.5e-6))
    assert summary["baselines"]["ode"]["loss"] == 5.0 and not summary["budget_reached"]


def test_results_file_resumes_and_refuses_other_settings(tmp_path):
    path = tmp_path / "r.jsonl"
    grid = candidate_grid([0.85])
    first = Quadratic()
    small = Tuner(first, "ei", 4, [0], 5 * 10, ResultsFile(path, {"s": 1})).run(grid)  # budget: 10 candidates
    assert small["budget_reached"] and len(small["candidates"]) == 10
    assert first.runs == 12  # two baselines (free) + 10 candidates
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"spec": "sde-e:ei:4:popov(0.9')  # a torn last line (a crash mid-write)
    again = Quadratic()
    res = ResultsFile(path, {"s": 1})
    assert len(res.records) == 12
    full = Tuner(again, "ei", 4, [0], 10**6, res).run(grid)
    assert again.runs == len(full["candidates"]) - 10  # nothing measured twice
    assert all(json.loads(line) for line in path.read_text().splitlines())  # the torn line is gone
    with pytest.raises(UserError, match="other settings"):
        ResultsFile(path, {"s": 2})


def test_cli_on_the_oracle_writes_a_usable_spec_and_plots(tmp_path, capsys):
    out = tmp_path / "tune"
    args = ["tune-eta", "--oracle", "two-atoms", "--alpha", "1.5", "--solver", "euler", "--steps", "5",
            "--samples", "400", "--etas", "0.1", "0.5", "--deltas", "1", "--powers", "1", "--refine-rounds", "1",
            "--seeds", "0", "--threads", "1", "--out", str(out)]
    assert cli_main(args) == 0
    said = capsys.readouterr().out
    best = (out / "best.txt").read_text().strip()
    EtaSpec.parse(best)  # the form every --eta option takes
    assert f"--sampler sde-e --solver euler --steps 5 --eta '{best}'" in said and f"sde-e:euler:5:{best}" in said
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best"] == best and set(summary["baselines"]) == {"ode", "sde-a"}
    assert (out / "search.png").stat().st_size > 1000 and (out / "eta_curve.png").stat().st_size > 1000
    assert cli_main(args) == 0 and "records resumed" in capsys.readouterr().out  # resumed: nothing re-measured
    assert cli_main(args[:-1] + [str(tmp_path / "other"), "--samples", "100"]) == 0
    # a rerun into the same results file with another grid keeps what was measured as candidates
    narrow = [a for a in args]
    narrow[narrow.index("--etas") + 1:narrow.index("--etas") + 3] = ["0.3"]
    assert cli_main(narrow) == 0
    again = json.loads((out / "summary.json").read_text())
    assert {"popov(0.1,0.1,0.85)", "popov(0.3,0.3,0.85)"} <= set(again["candidates"])
    assert again["best_metrics"]["sw"] <= summary["best_metrics"]["sw"]


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert cli_main(["tune-eta", "--oracle", "two-atoms", "--out", str(tmp_path)]) == 2
    assert "--oracle needs --alpha" in capsys.readouterr().err
    out = tmp_path / "t"
    base = ["tune-eta", "--oracle", "two-atoms", "--alpha", "1.5", "--steps", "3", "--samples", "100", "--etas",
            "0.1", "--powers", "1", "--refine-rounds", "0", "--seeds", "0", "--out", str(out)]
    assert cli_main(base) == 0
    capsys.readouterr()
    assert cli_main(base[:-2] + ["--samples", "200", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other settings (there: samples=100)" in err[0]
    assert cli_main(base[:-1] + [str(tmp_path / "fresh"), "--budget", "1"]) == 2
    assert "too small for one candidate" in capsys.readouterr().err
    assert not (tmp_path / "fresh").exists()  # refused before any work
    assert cli_main(base + ["--seeds", "0", "0"]) == 2 and "holds a seed twice" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert cli_main(base[:-1] + [str(tmp_path / "afile")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1  # a path that is a file: one line, no traceback


def test_eta_study_writes_tables_and_rules(tmp_path):
    from levytts.experiments.eta_study import main as study

    exp = tmp_path / "study"
    argv = ["--oracles", "two-atoms", "--alphas", "1.5", "--solvers", "ei", "--steps", "3", "--samples", "200",
            "--tune-seeds", "0", "--test-seeds", "100", "101", "--exp", str(exp), "--rules", "power(1)"]
    assert study(argv) == 0
    table = (exp / "eta_tuning_tables.md").read_text()
    assert "| 1.5 | ei | 3 |" in table and table.count("**") == 2  # one best per row
    rows = (exp / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 4  # ODE, SDE-A, tuned, preset
    assert "| `power(1)` |" in (exp / "rules.md").read_text()
    assert (exp / "figures" / "eta_tuning_two-atoms.png").stat().st_size > 1000
    assert study(argv) == 0 and (exp / "results.csv").read_text().splitlines() == rows  # resumed, not re-measured


@pytest.mark.parametrize("families,n_axes", [(("popov",), 1), (("power",), 1), (("popov", "power"), 2)])
def test_search_plot_has_a_panel_per_searched_family(tmp_path, monkeypatch, families, n_axes):
    import levytts.tune_eta as te

    m = {"sw": 0.1, "sw_sd": 0.0}
    cands = {}
    if "popov" in families:
        cands.update({"popov(0.1,0.1,0.85)": m, "popov(0.3,0.3,0.85)": m})
    if "power" in families:
        cands.update({"power(0.5)": m, "power(1)": m})
    summary = {"metric": "sw", "direction": "lower", "candidates": cands, "baselines": {"ode": m, "sde-a": m},
               "best": next(iter(cands)), "best_metrics": m}
    figs = []
    monkeypatch.setattr(te, "_save", lambda fig, path: figs.append(fig))
    te.plot_search(summary, tmp_path / "s.png", "title")
    assert len(figs[0].axes) == n_axes
    labels = {t.get_text() for ax in figs[0].axes for t in ax.get_legend().get_texts()}
    assert any(lab.startswith("ODE") for lab in labels)
    assert any(lab.startswith("popov") for lab in labels) == ("popov" in families)
    assert any(lab.startswith("power") for lab in labels) == ("power" in families)
