from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the real console entry point in a subprocess, as a user would."""
    import subprocess

    p = subprocess.run([sys.executable, "-m", "cowcheck", *args], capture_output=True, text=True, cwd=ROOT, timeout=600)
    return p.returncode, p.stdout, p.stderr
