"""`ruff check` stays clean on the code (config: [tool.ruff] in pyproject.toml; ruff is in the dev extra)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["levytts", "tests", "benchmarks", "tools", "scripts"]


def _ruff() -> list[str] | None:
    """The ruff next to this interpreter (the venv), else one on PATH, else None."""
    here = Path(sys.executable).with_name("ruff")
    if here.is_file():
        return [str(here)]
    found = shutil.which("ruff")
    return [found] if found else None


def test_ruff_check_is_clean():
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]' or pip install ruff)")
    paths = [p for p in PATHS if (ROOT / p).exists()]
    res = subprocess.run([*ruff, "check", "--no-cache", "--output-format", "concise", *paths], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"ruff check found problems (fix them, or `ruff check --fix`):\n{res.stdout}{res.stderr}"
