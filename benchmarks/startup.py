"""Start-up: the wall time and the instructions of a small litmus ``check``, one
process per run, as a user who checks many small scenarios runs it.

Measures, each as the median of RUNS fresh processes (after one warm-up, with
bytecode caches allowed, as ``pip install`` leaves them):
- ``python -c pass``: the interpreter alone, the floor no change here can lower;
- ``import cowcheck.cli``: what every verb pays before it parses its arguments;
- ``cowcheck check odirect-clear-refs -r anon-exclusive -q``: the whole verb;
and, with valgrind's callgrind when it is installed, the instructions of each, which
do not drift with the machine's load as wall time does.

Usage: python benchmarks/startup.py [RUNS] > /tmp/startup.md
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CHECK = ["-m", "cowcheck", "check", "odirect-clear-refs", "-r", "anon-exclusive", "-q"]
CASES = (
    ("`python -c pass`", ["-c", "pass"]),
    ("`import cowcheck.cli`", ["-c", "import cowcheck.cli"]),
    ("`cowcheck check odirect-clear-refs -r anon-exclusive -q`", CHECK),
)
# The bytecode caches, as an installed package has them: without them every run
# compiles every module again.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall(args: list[str], runs: int) -> float:
    subprocess.run([sys.executable, *args], check=True, capture_output=True, env=ENV, cwd=tempfile.gettempdir())
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True, env=ENV, cwd=tempfile.gettempdir())
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def instructions(args: list[str]) -> int | None:
    if shutil.which("valgrind") is None:
        return None
    p = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, *args],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=tempfile.gettempdir(),
    )
    m = re.search(r"Collected : (\d+)", p.stderr)
    return int(m.group(1)) if m else None


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    print(f"| command | wall (median of {runs}) | instructions |")
    print("|---|---|---|")
    for label, args in CASES:
        n = instructions(args)
        count = f"{n / 1e6:,.0f} M" if n is not None else "no valgrind"
        print(f"| {label} | {wall(args, runs) * 1000:.0f} ms | {count} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
