"""Distributed training, run for real on CPU: `levytts train trainer=ddp_cpu` (DDP, gloo, 2 processes) on the tiny
model and corpus in a subprocess. Both ranks step on different batches, only rank 0 writes checkpoints, TensorBoard
logs and prints, and a DDP run stopped after N steps resumes (resume: auto) from step N."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_tts_training import _state, corpus, tiny_overrides  # noqa: F401  (corpus: the fixture)

# The child: `levytts train` plus test hooks: "@rank R step N batch B" after each training batch (B: the batch's phone
# ids, to tell the ranks' data shards apart) and "@save rank R NAME" for every checkpoint file torch.save writes.
# The hooks write to one file per process ($DDP_TEST_LOG.<pid>), not to the shared stdout pipe, where the two ranks'
# lines can interleave mid-line on a busy machine. It is a file, not `python -c`: Lightning starts rank 1 by
# re-running sys.argv.
DRIVER = r'''
import os, sys
import torch
import levytts.tts.lightning as tl
from lightning.pytorch.utilities import rank_zero_only

_log = open(f"{os.environ['DDP_TEST_LOG']}.{os.getpid()}", "a", buffering=1)
_end = tl.TTSLightning.on_train_batch_end
def _report(self, outputs, batch, batch_idx):
    _end(self, outputs, batch, batch_idx)
    print(f"@rank {self.global_rank}/{self.trainer.world_size} step {self.global_step} "
          f"batch {batch['ids'].sum().item()}", file=_log, flush=True)
tl.TTSLightning.on_train_batch_end = _report

_save = torch.save
def _saving(obj, f, *a, **k):
    print(f"@save rank {rank_zero_only.rank} {os.path.basename(str(f))}", file=_log, flush=True)
    return _save(obj, f, *a, **k)
torch.save = _saving

if os.environ.get("DDP_TEST_NAN_RANK"):  # that rank's 2nd loss is NaN (an overflow of heavy-tailed noise)
    import levytts.tts.model as tm
    _loss, _calls = tm.LevyTTS.compute_loss, [0]
    def _nan(self, batch, stage="joint"):
        out = _loss(self, batch, stage)
        if self.training and os.environ.get("LOCAL_RANK", "0") == os.environ["DDP_TEST_NAN_RANK"]:
            _calls[0] += 1
            if _calls[0] == 2:
                out["loss"] = out["loss"] * float("nan")
        return out
    tm.LevyTTS.compute_loss = _nan

from levytts.cli import main
sys.exit(main(["train", *sys.argv[1:]]))
'''


def _train(tmp_path: Path, corpus, run_dir: Path, steps: int, **extra_env) -> str:
    driver = tmp_path / "ddp_driver.py"
    driver.write_text(DRIVER)
    log = tmp_path / f"hooks_{run_dir.name}_{steps}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "DDP_TEST_LOG": str(log), **extra_env}
    for k in ("MASTER_PORT", "MASTER_ADDR", "RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK"):
        env.pop(k, None)  # a free port is picked; no inherited rank
    cmd = [sys.executable, str(driver), *tiny_overrides(corpus, run_dir, "trainer=ddp_cpu", f"trainer.max_steps={steps}")]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-4000:]
    hooks = "".join(f.read_text() for f in sorted(tmp_path.glob(f"{log.name}.*")))
    return out + "\n" + hooks


def _steps(out: str) -> dict[int, dict[int, int]]:
    """{rank: {step: batch fingerprint}} from the @rank lines."""
    seen: dict[int, dict[int, int]] = {}
    for r, w, s, b in re.findall(r"^@rank (\d+)/(\d+) step (\d+) batch (-?\d+)$", out, re.M):
        assert int(w) == 2
        seen.setdefault(int(r), {})[int(s)] = int(b)
    return seen


def _check_rank_zero_only(out: str, run_dir: Path) -> None:
    saves = re.findall(r"^@save rank (\d+) (\S+)$", out, re.M)
    assert saves and {r for r, _ in saves} == {"0"}, saves  # rank 1 never writes a checkpoint
    assert out.count("levytts train: done at step") == 1 and out.count("levytts train: stage=") == 1
    events = list((run_dir / "tb").rglob("events.out.tfevents.*"))
    assert len({e.parent for e in events}) == 1  # one TensorBoard run directory: rank 0's


def test_ddp_cpu_two_ranks_step_and_resume(corpus, tmp_path):  # noqa: F811
    run_dir = tmp_path / "ddp"
    out = _train(tmp_path, corpus, run_dir, 2)
    seen = _steps(out)
    assert sorted(seen) == [0, 1] and all(sorted(v) == [1, 2] for v in seen.values()), seen
    assert any(seen[0][s] != seen[1][s] for s in (1, 2)), seen  # the ranks train on different shards
    _check_rank_zero_only(out, run_dir)
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert ckpts == ["last.ckpt", "step0000002.ckpt"], ckpts
    assert "levytts train: resuming" not in out

    out = _train(tmp_path, corpus, run_dir, 4)  # resume: auto → last.ckpt at step 2
    assert out.count(f"levytts train: resuming from {run_dir / 'checkpoints' / 'last.ckpt'}") == 1
    seen = _steps(out)
    assert sorted(seen) == [0, 1] and all(sorted(v) == [3, 4] for v in seen.values()), seen  # continues from 2
    _check_rank_zero_only(out, run_dir)
    assert _state(run_dir / "checkpoints" / "last.ckpt")["global_step"] == 4


def test_ddp_cpu_non_finite_loss_on_one_rank_skips_the_step_on_both(corpus, tmp_path):  # noqa: F811
    """Rank 1 alone gets a NaN loss at its 2nd step: both ranks skip that step together (no rank waits forever in
    the gradient all-reduce) and the run finishes, with the skip counted."""
    run_dir = tmp_path / "nan"
    out = _train(tmp_path, corpus, run_dir, 3, DDP_TEST_NAN_RANK="1")  # a hang would hit the subprocess timeout
    assert "levytts train: done at step 3; skipped non-finite steps: 1" in out, out[-3000:]
    assert _state(run_dir / "checkpoints" / "last.ckpt")["levytts"]["skipped_steps"] == 1


@pytest.mark.slow
def test_ddp_cpu_resume_matches_uninterrupted(corpus, tmp_path):  # noqa: F811
    """The resumed DDP run (2 + 2 steps) ends with the weights of an uninterrupted 4-step DDP run."""
    _train(tmp_path, corpus, tmp_path / "a", 4)
    _train(tmp_path, corpus, tmp_path / "b", 2)
    _train(tmp_path, corpus, tmp_path / "b", 4)
    a, b = _state(tmp_path / "a" / "checkpoints" / "last.ckpt"), _state(tmp_path / "b" / "checkpoints" / "last.ckpt")
    assert a["global_step"] == b["global_step"] == 4
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
