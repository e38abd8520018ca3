"""Training survives a crash: `levytts train` in a subprocess, killed with SIGKILL at random points (seeded) and
during a checkpoint write, resumed each time (resume: auto). Every visible checkpoint always loads, at most one
checkpoint interval of work is lost per kill, and the run ends bit-identical (CPU) to an uninterrupted one."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_tts_training import _state, corpus, tiny_cfg, tiny_overrides  # noqa: F401  (corpus: the fixture)

from levytts.tts.train import run

INTERVAL = 2  # train.checkpoint_every of the tiny run

# The child: `levytts train` (levytts.cli.main) plus two test hooks — a line "@step N" after each training batch
# (after that batch's checkpoint callback), and, with CRASH_TEST_STALL=NAME:K, the K-th write of checkpoint NAME
# stops half-way through its temp file (so the parent can kill it mid-write).
DRIVER = r'''
import io, os, sys, time
import torch
import levytts.tts.lightning as tl

_end = tl.TTSLightning.on_train_batch_end
def _report(self, *args):
    _end(self, *args)
    print(f"@step {self.global_step}", flush=True)
tl.TTSLightning.on_train_batch_end = _report

if os.environ.get("CRASH_TEST_STALL"):
    name, nth = os.environ["CRASH_TEST_STALL"].rsplit(":", 1)
    seen, _save = [0], torch.save
    def _stalling_save(obj, f, *a, **k):
        base = os.path.basename(str(f))
        if base.startswith("." + name + "."):  # atomic_write's temp file: .NAME.XXXXXX.ckpt
            seen[0] += 1
            if seen[0] == int(nth):
                buf = io.BytesIO()
                _save(obj, buf, *a, **k)
                data = buf.getvalue()
                with open(f, "wb") as fh:
                    fh.write(data[: len(data) // 2])
                    fh.flush()
                    print(f"@stalled {base}", flush=True)
                    time.sleep(600)
                    fh.write(data[len(data) // 2:])
                return None
        return _save(obj, f, *a, **k)
    torch.save = _stalling_save

from levytts.cli import main
sys.exit(main(["train", *sys.argv[1:]]))
'''


def _steps(lines) -> list[int]:
    return [int(line.split()[1]) for line in lines if line.startswith("@step ")]


class Trainer:
    """Launches the child on one run dir, one log per launch."""

    def __init__(self, corpus_dir, run_dir: Path, max_steps: int):
        self.run_dir, self.ckpts = run_dir, run_dir / "checkpoints"
        self.overrides = tiny_overrides(corpus_dir, run_dir, f"trainer.max_steps={max_steps}")
        self.driver = run_dir.parent / "driver.py"
        self.driver.write_text(DRIVER)
        self.n = 0

    def start(self, stall: str | None = None):
        self.n += 1
        self.log = self.run_dir.parent / f"launch{self.n}.log"
        env = {k: v for k, v in os.environ.items() if k != "CRASH_TEST_STALL"}
        env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **({"CRASH_TEST_STALL": stall} if stall else {}))
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([sys.executable, str(self.driver), *self.overrides], stdout=out,
                                         stderr=subprocess.STDOUT, env=env, cwd=str(self.run_dir.parent))

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def wait_for(self, pred, timeout: float = 180.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            if pred(lines):
                return lines
            if self.proc.poll() is not None:
                pytest.fail(f"training exited ({self.proc.returncode}) before the kill point:\n"
                            + "\n".join(lines[-15:]))
            time.sleep(0.01)
        self.proc.kill()
        pytest.fail("timed out waiting for the kill point:\n" + "\n".join(self.lines()[-15:]))

    def kill(self) -> None:
        assert self.proc.poll() is None, "the run ended before it could be killed"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def check_checkpoints(ckpts: Path) -> int:
    """Every checkpoint a user or `resume` could pick (the *.ckpt glob) loads; returns last.ckpt's step (0: none)."""
    last = 0
    for path in sorted(ckpts.glob("*.ckpt")):
        state = torch.load(path, map_location="cpu", weights_only=False)  # raises on a partial file
        assert "state_dict" in state and "optimizer_states" in state, path
        if path.name == "last.ckpt":
            last = state["global_step"]
        else:
            assert path.stem == f"step{state['global_step']:07d}", path  # no version-counter copies (-v1)
    return last


def crash_and_resume(corpus_dir, tmp_path, max_steps: int, kills: list, finish_in_process: bool = False) -> None:
    """One launch per entry of ``kills``, each resumed from the last and killed: ("write", NAME, K) during the K-th
    write of checkpoint NAME in that launch; ("final",) during the end-of-training save of last.ckpt; ("step", K,
    delay) ``delay`` s after the launch's K-th step (capped to leave 2 steps to go). Then one launch runs to the
    end (``finish_in_process``: the same `run` in this process, sparing a 2nd start-up on a busy machine), and
    everything is compared with an uninterrupted run."""
    reference = _state(run(tiny_cfg(corpus_dir, tmp_path / "ref", f"trainer.max_steps={max_steps}")))
    t = Trainer(corpus_dir, tmp_path / "crash", max_steps)
    expect_start = 0  # the step the next launch must resume from
    for kind, *args in kills:
        name, stall = None, None
        if kind == "write":
            name, stall = args[0], f"{args[0]}:{args[1]}"
        elif kind == "final":  # the callback writes of last.ckpt still to come, then the final save
            name, stall = "last.ckpt", f"last.ckpt:{(max_steps - expect_start) // INTERVAL + 1}"
        t.start(stall=stall)
        if stall:
            t.wait_for(lambda ls: any(line.startswith("@stalled") for line in ls))
        else:
            target = expect_start + max(1, min(args[0], max_steps - 2 - expect_start))
            t.wait_for(lambda ls: target in _steps(ls))
            time.sleep(args[1])
        t.kill()
        lines = t.lines()
        steps = _steps(lines)
        if expect_start:
            assert any("resuming from" in line and "last.ckpt" in line for line in lines)
        if steps:  # resumed exactly after the checkpoint it loaded
            assert steps[0] == expect_start + 1, (steps[:3], expect_start)
        hidden = [p for p in t.ckpts.glob(".*")] if t.ckpts.is_dir() else []
        if stall:  # the half-written temp file is there, unreadable, and outside the checkpoint glob
            assert len(hidden) == 1 and hidden[0].name.startswith(f".{name}."), hidden
            with pytest.raises(Exception):  # noqa: B017 - the error type of a truncated file depends on where it was cut
                torch.load(hidden[0], map_location="cpu", weights_only=False)
        last = check_checkpoints(t.ckpts) if t.ckpts.is_dir() else 0
        trained = max(steps, default=expect_start) + 1  # upper bound: the step in progress when killed
        assert trained - last <= INTERVAL, f"lost {trained - last} steps > one checkpoint interval ({INTERVAL})"
        expect_start = last
    if finish_in_process:
        run(tiny_cfg(corpus_dir, t.run_dir, f"trainer.max_steps={max_steps}"))
    else:
        t.start()
        assert t.proc.wait(timeout=300) == 0, "\n".join(t.lines()[-20:])
        assert _steps(t.lines())[:1] in ([expect_start + 1], [])
    assert check_checkpoints(t.ckpts) == max_steps
    assert not [p.name for p in t.ckpts.glob(".*")], "temp files left behind"
    final = _state(t.ckpts / "last.ckpt")
    assert final["global_step"] == reference["global_step"] == max_steps
    for k, v in reference["state_dict"].items():
        assert torch.equal(v, final["state_dict"][k]), k
    adam = [c["optimizer_states"][0]["state"].values() for c in (reference, final)]
    for sa, sb in zip(*adam):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"]) and torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    for path in sorted((tmp_path / "ref" / "checkpoints").glob("step*.ckpt")):  # the periodic ones match too
        ref, got = _state(path)["state_dict"], _state(t.ckpts / path.name)["state_dict"]
        assert all(torch.equal(v, got[k]) for k, v in ref.items()), path.name


def test_resume_from_a_periodic_checkpoint_is_exact(corpus, tmp_path):
    """What a crash leaves is a checkpoint written by the checkpoint callback mid-run (not the end-of-fit one):
    resuming from it replays exactly the remaining batches (it used to repeat one batch)."""
    straight = _state(run(tiny_cfg(corpus, tmp_path / "a", "trainer.max_steps=5")))
    for step in (2, 4):  # mid-epoch (3 batches per epoch) and in the second epoch
        ckpts = tmp_path / f"r{step}" / "checkpoints"
        ckpts.mkdir(parents=True)
        shutil.copy(tmp_path / "a" / "checkpoints" / f"step{step:07d}.ckpt", ckpts / "last.ckpt")
        resumed = _state(run(tiny_cfg(corpus, tmp_path / f"r{step}", "trainer.max_steps=5")))
        for k, v in straight["state_dict"].items():
            assert torch.equal(v, resumed["state_dict"][k]), (step, k)


def test_kill_during_a_checkpoint_write_and_between_writes(corpus, tmp_path):
    rng = random.Random(14)
    crash_and_resume(corpus, tmp_path, max_steps=8, kills=[
        ("write", "last.ckpt", 2),                         # mid-write of last.ckpt at step 4 (resumes from 2)
        ("step", rng.randint(1, 2), rng.uniform(0, 0.05)),  # between writes, at a seeded random point
    ], finish_in_process=True)


@pytest.mark.slow
def test_many_random_kills(corpus, tmp_path):
    rng = random.Random(2024)
    kills = [("step", 1, rng.uniform(0, 0.05)),              # before the first checkpoint
             ("write", "step0000004.ckpt", 1),                # mid-write of a periodic checkpoint
             ("step", rng.randint(1, 3), rng.uniform(0, 0.1)),
             ("write", "last.ckpt", 2),                       # mid-write of last.ckpt
             ("step", rng.randint(1, 3), rng.uniform(0, 0.1)),
             ("final",)]                                      # mid-write of the end-of-training save
    crash_and_resume(corpus, tmp_path, max_steps=12, kills=kills)
