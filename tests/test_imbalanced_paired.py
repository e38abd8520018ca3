"""Paired differences vs α = 2 with bootstrap CIs over sentences, and tables/figures for several rare speakers
(levytts.experiments.imbalanced), on synthetic eval CSVs whose answer is known."""
import contextlib
import csv
import io
import json
import random

import numpy as np
import pytest
from test_recipe_tables import _write

from levytts.eval.report import SUMMARY_COLUMNS, UTT_COLUMNS
from levytts.experiments.imbalanced import bootstrap_ci, paired_differences, write_table


def _eval_dir(tmp_path, value, alphas=(2.0, 1.5), seeds=(0, 1), speakers=("slt", "awb"), n_utts=20, drop=(),
              summary=lambda alpha, spk: {"similarity": 0.7, "wer": 0.2}):
    """a<alpha>_seed<k>_utts.csv with ``value(alpha, seed, spk, u)`` → dict of row fields; rows in a shuffled
    order per file (pairing must be by utterance id); ``drop``: (alpha, seed, spk, u) left out."""
    for alpha in alphas:
        for seed in seeds:
            rows = [{"condition": "ode_N10", "sampler": "ode", "steps": 10, "speaker": spk, "utt": f"{spk}_{u:03d}",
                     "status": "ok", **value(alpha, seed, spk, u)}
                    for spk in speakers for u in range(n_utts) if (alpha, seed, spk, u) not in drop]
            random.Random(f"{alpha}{seed}").shuffle(rows)
            _write(tmp_path / f"a{alpha}_seed{seed}_utts.csv", UTT_COLUMNS, rows)
            summ = [{"condition": "ode_N10", "sampler": "ode", "steps": 10, "speaker": spk, "n_ok": n_utts,
                     **summary(alpha, spk)} for spk in speakers]
            _write(tmp_path / f"a{alpha}_seed{seed}.csv", SUMMARY_COLUMNS, summ)
    return tmp_path


def test_constant_shift_ci_collapses_on_it(tmp_path):
    # similarity varies a lot between sentences but α=1.5 adds exactly 0.03 to every one
    base = np.random.default_rng(1).uniform(0.3, 0.9, size=(2, 2, 20))
    _eval_dir(tmp_path, lambda a, s, k, u: {"similarity": base[s, int(k == "awb"), u] + (0.03 if a == 1.5 else 0.0)})
    rows = paired_differences(tmp_path)
    assert [(r["speaker"], r["alpha"], r["n"], r["n_sentences"], r["wins"]) for r in rows] == \
        [("awb", 1.5, 40, 20, 40), ("slt", 1.5, 40, 20, 40)]
    for r in rows:
        assert r["mean_diff"] == pytest.approx(0.03)
        assert r["ci_low"] == pytest.approx(0.03) and r["ci_high"] == pytest.approx(0.03)
        assert r["excludes_zero"] and r["missing"] == [] and r["n_boot"] == 2000


def test_pure_noise_ci_contains_zero(tmp_path):
    # α=1.5 = base + zero-mean noise (±e on mirrored sentences): no effect, the CI must contain 0
    e = np.random.default_rng(2).normal(0, 0.05, size=(2, 2, 10))
    noise = np.concatenate([e, -e], axis=2)
    _eval_dir(tmp_path, lambda a, s, k, u: {"similarity": 0.6 + (noise[s, int(k == "awb"), u] if a == 1.5 else 0.0)})
    for r in paired_differences(tmp_path):
        assert r["ci_low"] < 0 < r["ci_high"] and not r["excludes_zero"]
        assert r["ci_high"] - r["ci_low"] > 0.01  # a real interval, not a collapsed one
    # seeded: the same answer twice; another seed moves the interval a little, not the mean
    again = paired_differences(tmp_path)
    assert [(r["ci_low"], r["ci_high"]) for r in again] == [(r["ci_low"], r["ci_high"]) for r in paired_differences(tmp_path)]
    other = paired_differences(tmp_path, seed=5)
    assert [r["mean_diff"] for r in other] == [r["mean_diff"] for r in again]


def test_bootstrap_resamples_sentences():
    lo, hi = bootstrap_ci(lambda idx: np.arange(4.0)[idx].mean(1), 4, n_boot=4000, seed=0)
    assert 0.0 <= lo < 1.5 < hi <= 3.0
    assert bootstrap_ci(lambda idx: np.full(4, 7.0)[idx].mean(1), 4) == (7.0, 7.0)


def test_wer_per_sentence_and_corpus_level(tmp_path):
    # two kinds of sentence: 5 words (base 0 errors, α 1) and 20 words (4 errors both):
    # per sentence Δ = mean(0.2, 0) = 0.1; corpus Δ = 5/25 - 4/25 = 0.04
    def value(a, s, k, u):
        words = 5 if u % 2 == 0 else 20
        errors = (1 if a == 1.5 else 0) if words == 5 else 4
        return {"similarity": 0.5, "ref_words": words, "word_errors": errors}

    _eval_dir(tmp_path, value, speakers=("awb",))
    (r,) = paired_differences(tmp_path, metric="wer")
    assert r["mean_diff"] == pytest.approx(0.1) and r["corpus_diff"] == pytest.approx(0.04)
    assert r["base_corpus"] == pytest.approx(0.16) and r["alpha_corpus"] == pytest.approx(0.2)
    assert r["ci_low"] <= 0.1 <= r["ci_high"] and r["ci_low"] > 0 and r["excludes_zero"]
    assert r["corpus_ci_low"] <= 0.04 <= r["corpus_ci_high"] and r["corpus_excludes_zero"]
    assert r["wins"] == 0  # α is never better (lower) on a sentence
    # without ASR (ref_words 0) there is no WER to pair: no rows, and nothing reported missing
    _eval_dir(tmp_path, lambda a, s, k, u: {"similarity": 0.5, "ref_words": 0, "word_errors": 0}, speakers=("awb",))
    assert paired_differences(tmp_path, metric="wer") == []


def test_pairs_by_utterance_id_and_reports_missing_pairs(tmp_path):
    drop = {(1.5, 0, "awb", 3), (2.0, 1, "awb", 7)}
    _eval_dir(tmp_path, lambda a, s, k, u: {"similarity": 0.5 + 0.01 * u + (0.02 if a == 1.5 else 0)}, drop=drop,
              speakers=("awb",), n_utts=10)
    # a failed synthesis is not a value either
    path = tmp_path / "a1.5_seed1_utts.csv"
    rows = list(csv.DictReader(open(path)))
    for row in rows:
        if row["utt"] == "awb_005":
            row["status"], row["similarity"] = "failed", ""
    _write(path, UTT_COLUMNS, rows)
    (r,) = paired_differences(tmp_path)
    assert r["n"] == 20 - 3 and r["mean_diff"] == pytest.approx(0.02) and r["ci_low"] == pytest.approx(0.02)
    assert r["missing"] == ["awb_003@seed0 (no α=1.5)", "awb_005@seed1 (no α=1.5)", "awb_007@seed1 (no α=2)"]
    paths = write_table(tmp_path, tmp_path / "t.md", tmp_path / "fig", ["awb"])
    text = paths["table"].read_text()
    assert "| ode_N10 | awb | 1.5 | 17 | **+0.020 [+0.020, +0.020]** (17/17) | – | – | 3 |" in text
    assert "awb_007@seed1 (no α=2)" in text
    paired = list(csv.DictReader(open(paths["paired_csv"])))
    assert paired[0]["n_missing"] == "3" and paired[0]["excludes_zero"] == "True"


def test_tables_and_figures_for_several_rare_speakers(tmp_path):
    speakers = ("slt", "rms", "kal", "awb")
    minutes = {"slt": 100.0, "rms": 10.0, "kal": 3.0, "awb": 1.0}

    def value(a, s, k, u):  # similarity grows with the training minutes; α=1.5 helps by 0.01 per log10-minute less
        gain = 0.01 * (2 - np.log10(minutes[k])) if a == 1.5 else 0.0
        return {"similarity": 0.4 + 0.1 * np.log10(minutes[k]) + gain + 0.001 * u, "ref_words": 8, "word_errors": 1}

    _eval_dir(tmp_path, value, alphas=(2.0, 1.8, 1.5), speakers=speakers, n_utts=6,
              summary=lambda a, k: {"similarity": value(a, 0, k, 2.5)["similarity"], "wer": 0.125})
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"seed": 1, "speakers": {k: {"train_minutes": v} for k, v in minutes.items()}}))
    paths = write_table(tmp_path, tmp_path / "t.md", tmp_path / "fig", list(speakers), split_summary=summary,
                        n_boot=200)
    text = paths["table"].read_text()
    assert "| minutes | 100 min | 10 min | 3 min | 1 min |" in text
    assert "| 0.403 ± 0.000 | 0.403 ± 0.000 | **0.423 ± 0.000** |" in text  # awb: 0.4 + 0.0025 (+ 0.02 at α=1.5)
    assert all(f"{s} α={a}" in text for s in speakers for a in ("2", "1.8", "1.5"))
    assert "| ode_N10 | kal | 1.5 |" in text and "| ode_N10 | awb | 1.8 |" in text
    assert "| ode_N10 | slt | 1.5 | 12 | +0.000 [+0.000, +0.000] (0/12) |" in text  # no effect at 100 min
    assert {"similarity_vs_minutes", "wer_vs_minutes", "paired_vs_minutes", "paired_csv"} <= set(paths)
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())


def test_paired_differences_vs_minutes_figure_draws_the_differences(tmp_path, monkeypatch):
    import levytts.experiments.imbalanced as imb

    speakers = ("slt", "rms", "kal", "awb")
    minutes = {"slt": 100.0, "rms": 10.0, "kal": 3.0, "awb": 1.0}
    gain = {k: 0.01 * (2 - np.log10(m)) for k, m in minutes.items()}   # α=1.5's advantage grows as minutes shrink
    _eval_dir(tmp_path, lambda a, s, k, u: {"similarity": 0.5 + 0.001 * u + (gain[k] if a == 1.5 else 0.0),
                                            "ref_words": 8, "word_errors": 1},
              alphas=(2.0, 1.5), speakers=speakers, n_utts=6)
    sim = imb.paired_differences(tmp_path, n_boot=100)
    wer = imb.paired_differences(tmp_path, metric="wer", n_boot=100)
    figs = []
    monkeypatch.setattr(imb, "_save_figure", lambda fig, out: figs.append(fig) or out)
    imb.plot_paired_vs_minutes(sim, wer, list(speakers), minutes, tmp_path / "x.png")
    left, right = figs[0].axes[:2]
    (line,) = [c.lines[0] for c in left.containers if c.get_label() == "ode_N10"]   # errorbar: data line first
    order = sorted(minutes, key=minutes.get)                           # awb, kal, rms, slt
    np.testing.assert_allclose(line.get_ydata(), [gain[k] for k in order], atol=1e-9)
    np.testing.assert_allclose(line.get_xdata(), [minutes[k] for k in order])   # one line: no offset
    (wline,) = [c.lines[0] for c in right.containers if c.get_label() == "ode_N10"]
    np.testing.assert_allclose(wline.get_ydata(), 0.0, atol=1e-12)              # same word errors for both α


def _paired_run(tmp_path, name, shift):
    """One run's eval dir → `write_table` → its results_paired.csv; α = 1.5 adds ``shift`` (array over utterances or a
    number) to the similarity of every (seed, speaker, utterance), and makes 1 of 5 words wrong where α = 2 has none."""
    d = tmp_path / name
    d.mkdir()
    base = np.random.default_rng(3).uniform(0.3, 0.9, size=(2, 2, 20))

    def value(a, s, k, u):
        extra = (shift[u] if isinstance(shift, np.ndarray) else shift) if a == 1.5 else 0.0
        return {"similarity": base[s, int(k == "awb"), u] + extra, "word_errors": int(a == 1.5), "ref_words": 5}

    _eval_dir(d, value)
    return write_table(d, d / "results.md", d / "fig", ["slt", "awb"])["paired_csv"]


def test_replication_table_across_training_seeds(tmp_path):
    from levytts.experiments.imbalanced import replication_markdown

    e = np.random.default_rng(2).normal(0, 0.05, size=10)
    noise = np.concatenate([e, -e])
    up, up2, flat, down = (_paired_run(tmp_path, n, s) for n, s in
                           (("up", 0.03), ("up2", 0.02), ("flat", noise), ("down", -0.03)))
    md = replication_markdown([up, up2], ["seed 1", "seed 2"], ["slt", "awb"])
    lines = [ln for ln in md.splitlines() if ln.startswith("| ode_N10")]
    assert [ln.split(" | ")[1] for ln in lines] == ["slt", "awb"]          # speaker order as asked
    cells = lines[1].strip("| ").split(" | ")
    assert cells[3] == "**+0.030 [+0.030, +0.030]**" and cells[4] == "**+0.020 [+0.020, +0.020]**"
    assert cells[5] == "yes, α wins"
    assert cells[6] == "**+0.200 [+0.200, +0.200]**" and cells[8] == "yes, α = 2 wins"   # WER: α worse in both
    assert "no (1/2)" in replication_markdown([up, flat], ["a", "b"], ["awb"]).splitlines()[2]
    assert "contradicts" in replication_markdown([up, down], ["a", "b"], ["awb"]).splitlines()[2]
    three = replication_markdown([up, up2, flat], ["1", "2", "3"], ["awb"]).splitlines()
    assert three[0].count("Δ similarity") == 3 and "no (2/3)" in three[2]


def test_replication_verdicts_and_errors(tmp_path):
    from levytts.cli import main
    from levytts.experiments.imbalanced import replication_verdict

    nan = float("nan")
    assert replication_verdict([(0.1, 0.05, 0.2), (0.2, 0.1, 0.3)]) == "yes, α wins"
    assert replication_verdict([(-0.1, -0.2, -0.05)] * 2, higher_is_better=False) == "yes, α wins"
    assert replication_verdict([(-0.1, -0.2, -0.05)] * 2) == "yes, α = 2 wins"
    assert replication_verdict([(0.0, -0.1, 0.1)] * 2) == "no effect"
    assert replication_verdict([(0.1, 0.05, 0.2), (nan, nan, nan)]) == "–"
    good = _paired_run(tmp_path, "run", 0.03)
    out = tmp_path / "rep.md"
    assert main(["imbalanced", "replicate", "--paired", str(good), str(_paired_run(tmp_path, "run3", 0.01)), "--labels", "x", "y",
                 "--speakers", "slt", "awb", "--out", str(out)]) == 0
    assert out.read_text().startswith("| condition | speaker | α | Δ similarity, x | Δ similarity, y |")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    other = _paired_run(tmp_path, "run2", 0.02)
    header = tmp_path / "header.csv"
    header.write_text(good.read_text().splitlines()[0] + "\n")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)))
    for args, message in [(["--paired", str(good), str(good), "--labels", "x", "y"], "the same CSV given twice"),
                          (["--paired", str(good), str(header), "--labels", "x", "y"], "header only"),
                          (["--paired", str(good), str(binary), "--labels", "x", "y"], "not UTF-8 text"),
                          (["--paired", str(good), str(other), "--labels", "x", "x"], "distinct, non-empty label"),
                          (["--paired", str(good), str(other), "--labels", "x", "y", "--speakers", "awb", "kal"],
                           "no paired differences of speakers kal"),
                          (["--paired", str(good), str(other), "--labels", "x", "y", "--speakers", "awb", "awb"],
                           "a speaker given twice"),
                          (["--paired", str(good), str(other), "--labels", "x", "y", "--out", str(tmp_path)], "not a directory"),
                          (["--paired", str(good), "--labels", "x"], "at least two paired CSVs"),
                          (["--paired", str(good), str(good), "--labels", "x"], "1 labels for 2 paired CSVs"),
                          (["--paired", str(good), str(tmp_path / "no.csv"), "--labels", "x", "y"], "no paired-differences CSV"),
                          (["--paired", str(good), str(bad), "--labels", "x", "y"], "is not a paired-differences CSV"),
                          (["--paired", str(good), str(other), "--labels", "x", "y", "--speakers", "kal"], "no paired differences of speakers kal")]:
        if "--speakers" not in args:
            args = args + ["--speakers", "awb"]
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(["imbalanced", "replicate", *args, *([] if "--out" in args else ["--out", str(tmp_path / "x.md")])])
        assert rc == 2 and message in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
