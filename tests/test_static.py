"""ruff (lint and format) and mypy --strict on cowcheck/, as part of the suite."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import ROOT


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is a test dependency")
def test_ruff_lint() -> None:
    p = _run("ruff", "check", "cowcheck", "models", "properties", "tests")
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is a test dependency")
def test_ruff_format() -> None:
    p = _run("ruff", "format", "--check", "cowcheck", "models", "properties", "tests")
    assert p.returncode == 0, p.stdout + p.stderr


def test_mypy_strict() -> None:
    p = _run(sys.executable, "-m", "mypy", "--strict", "cowcheck")
    assert p.returncode == 0, p.stdout + p.stderr
