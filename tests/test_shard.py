"""`--shard i/n` for the imbalanced experiment: `levytts imbalanced synth` shards write byte for byte the wavs of one
unsharded run (seeds follow the filelist position; --batch-size 1: a padded batch of other utterances changes the
float rounding), `levytts eval` shards merge into the unsharded report's CSVs, and
a bad --shard is a one-line error."""
from __future__ import annotations

import shutil

import pytest

from levytts.cli import main as cli_main
from levytts.shard import in_shard, parse_shard

TEXTS = ["Hello world.", "Good morning to you.", "It is raining today.", "See you soon.", "Thank you very much."]


@pytest.fixture(scope="module")
def filelist(tmp_path_factory):
    root = tmp_path_factory.mktemp("shard")
    (root / "list.txt").write_text("".join(f"wavs/u{i}.wav|{['slt', 'awb'][i % 2]}|{t}\n" for i, t in enumerate(TEXTS)))
    return root / "list.txt"


def _synth(filelist, out_dir, *extra):
    return cli_main(["imbalanced", "synth", "--filelist", str(filelist), "--out-dir", str(out_dir), "--conditions",
                     "ode:1", "mu", "--vocoder", "griffin-lim", "--seed", "7", "--batch-size", "1", "--threads", "1",
                     *extra])


def test_parse_shard():
    assert parse_shard("1/2") == (1, 2) and parse_shard(None) is None
    assert [p for p in range(7) if in_shard(p, (1, 3))] == [1, 4]
    for bad in ("3/2", "2/2", "a/b", "0/0", "1", "-1/2"):
        with pytest.raises(ValueError, match="bad --shard"):
            parse_shard(bad)


def test_sharded_synth_and_eval_equal_unsharded(filelist, tmp_path, capsys):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert _synth(filelist, whole) == 0
    for i in (1, 0):
        assert _synth(filelist, parts, "--shard", f"{i}/2") == 0
    files = sorted(p.relative_to(whole) for p in whole.rglob("*.wav"))
    assert len(files) == 2 * len(TEXTS) and sorted(p.relative_to(parts) for p in parts.rglob("*.wav")) == files
    for f in files:
        assert (whole / f).read_bytes() == (parts / f).read_bytes(), f

    # eval: the mu wavs stand in as references; scored unsharded, then in two shards (the last one merges)
    refs = filelist.parent / "wavs"
    shutil.copytree(whole / "mu_only", refs, dirs_exist_ok=True)
    common = ["eval", "--synth-dir", str(whole), "--filelist", str(filelist), "--no-wer", "--no-f0"]
    assert cli_main([*common, "--out", str(tmp_path / "one" / "e.md")]) == 0
    assert cli_main([*common, "--out", str(tmp_path / "two" / "e.md"), "--shard", "1/2"]) == 0
    assert not (tmp_path / "two" / "e.csv").exists() and "shards still to come: 0/2" in capsys.readouterr().err
    assert cli_main([*common, "--out", str(tmp_path / "two" / "e.md"), "--shard", "0/2"]) == 0
    for name in ("e.csv", "e_utts.csv"):
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text(), name
    (tmp_path / "two" / "e.csv").unlink()
    assert cli_main([*common, "--out", str(tmp_path / "two" / "e.md"), "--merge"]) == 0
    assert (tmp_path / "one" / "e.csv").read_text() == (tmp_path / "two" / "e.csv").read_text()


@pytest.mark.parametrize("bad", ["3/2", "a/b", "0/0"])
def test_bad_shard_is_one_line(filelist, tmp_path, capsys, bad):
    capsys.readouterr()
    assert _synth(filelist, tmp_path / "x", "--shard", bad) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad --shard" in err[0] and err[0].startswith("levytts imbalanced synth: error:"), err
    assert not (tmp_path / "x").exists()
    assert cli_main(["eval", "--synth-dir", str(tmp_path), "--filelist", str(filelist), "--shard", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad --shard" in err[0], err
