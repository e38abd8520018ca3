"""Training reduces the loss; ensemble members are independent; the quick recipe runs end to end."""
import subprocess
import sys

import pytest
import torch

from levytts.cli import main as cli_main
from levytts.toy import data
from levytts.toy.model import EpsMLP
from levytts.toy.stages import Paths, Settings, run, write_block
from levytts.toy.train import TrainConfig, generate, train_ensemble


@pytest.mark.parametrize("method", ["lim", "dlpm"])
def test_training_reduces_loss(method):
    mix = data.gaussian_grid()
    X = torch.stack([mix.sample(2000, torch.Generator().manual_seed(s)) for s in range(2)])
    tr = train_ensemble(X, method, 1.8, TrainConfig(steps=300, batch=256, loss="mse" if method == "lim" else None),
                        seed=0)
    first, last = sum(tr.losses[:30]) / 30, sum(tr.losses[-30:]) / 30
    assert last < 0.85 * first
    out = generate(tr, 50, steps=5)
    assert out.shape == (2, 50, 2) and torch.isfinite(out).all()


def test_members_are_independent():
    # member 1's output does not depend on member 0's rows, and differs from member 0 (own init)
    model = EpsMLP(n_members=2)
    x = torch.randn(8, 2)
    t = torch.rand(8)
    base = model(x, t)
    x2 = x.clone()
    x2[:4] += 10.0
    out = model(x2, t)
    assert torch.equal(out[4:], base[4:])
    assert not torch.allclose(model(torch.cat([x[:4], x[:4]]), torch.cat([t[:4], t[:4]]))[:4],
                              model(torch.cat([x[:4], x[:4]]), torch.cat([t[:4], t[:4]]))[4:])
    with pytest.raises(ValueError, match="multiple of n_members"):
        model(torch.randn(3, 2), torch.rand(3))


def test_write_block_replaces_only_its_block(tmp_path):
    page = tmp_path / "r.md"
    write_block(page, "stage1", "one")
    write_block(page, "stage2", "two")
    write_block(page, "stage1", "ONE")
    text = page.read_text()
    assert "ONE" in text and "two" in text and "one\n" not in text
    assert text.index("ONE") < text.index("two")


def test_quick_recipe_runs(tmp_path):
    settings = Settings.quick()
    settings.seeds = 2
    paths = Paths(tmp_path / "toy2d.md", tmp_path / "fig", tmp_path / "exp")
    blocks = run(1, 5, settings, paths, log=lambda m: None)
    assert sorted(blocks) == [1, 2, 3, 4, 5]
    text = paths.results.read_text()
    for k in range(1, 6):
        assert f"<!-- toy2d:stage{k} -->" in text
    for name in ("two_gaussians", "heavy_tailed", "grid", "samplers", "variation"):
        png = paths.figures / f"toy2d_{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size < 300_000
    # a stage alone reuses the checkpoints of stage 3 and rewrites only its block
    before = text.split("<!-- toy2d:stage4 -->")[0]
    run(4, 4, settings, paths, log=lambda m: None)
    assert paths.results.read_text().split("<!-- toy2d:stage4 -->")[0] == before


def test_cli_rejects_bad_stage_range(tmp_path, capsys):
    rc = cli_main(["toy2d", "--stage", "4", "--stop-stage", "2", "--results", str(tmp_path / "r.md")])
    assert rc == 2
    assert "stage" in capsys.readouterr().err


def test_recipe_script_quick(tmp_path):
    # the shell recipe parses its options and runs one stage alone
    r = subprocess.run(["bash", "recipes/toy2d/run.sh", "--quick", "--stage", "5", "--stop-stage", "5",
                        "--seeds", "2", "--results", str(tmp_path / "r.md"), "--figures", str(tmp_path / "f")],
                       capture_output=True, text=True, env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "f" / "toy2d_variation.png").exists()


def test_recipe_writes_under_exp_unless_asked_to_publish(tmp_path):
    """No recipe writes into docs/ by default: --quick goes to exp/toy2d/quick/; --publish --quick is refused."""
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "recipes" / "toy2d" / "run.sh"
    env = {"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}
    r = subprocess.run(["bash", str(script), "--quick", "--stage", "5", "--stop-stage", "5", "--seeds", "2"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "exp" / "toy2d" / "quick" / "figures" / "toy2d_variation.png").exists()
    assert "<!-- toy2d:stage5 -->" in (tmp_path / "exp" / "toy2d" / "quick" / "toy2d.md").read_text()
    assert not (tmp_path / "docs").exists()
    r = subprocess.run(["bash", str(script), "--quick", "--publish", "--stage", "5", "--stop-stage", "5"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode != 0 and "--publish" in r.stderr and not (tmp_path / "docs").exists()


def test_toy2d_output_paths():
    import argparse
    from pathlib import Path

    from levytts.toy.cli import add_arguments, output_paths

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    p = output_paths(parser.parse_args([]))
    assert (p.results, p.figures, p.exp) == (Path("exp/toy2d/toy2d.md"), Path("exp/toy2d/figures"), Path("exp/toy2d"))
    p = output_paths(parser.parse_args(["--publish"]))
    assert (p.results, p.figures, p.exp) == (Path("docs/results/toy2d.md"), Path("docs/figures"), Path("exp/toy2d"))
    p = output_paths(parser.parse_args(["--publish", "--results", "r.md"]))  # an explicit option wins
    assert p.results == Path("r.md") and p.figures == Path("docs/figures")
    assert output_paths(parser.parse_args(["--quick"])).exp == Path("exp/toy2d/quick")
    with pytest.raises(ValueError, match="--publish"):
        output_paths(parser.parse_args(["--quick", "--publish"]))
