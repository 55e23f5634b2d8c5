"""Figures for the full history matrix (every family's scenarios, each under its
family's built-in rules), as
markdown for BENCHMARKS.md: wall time and peak RSS of one `cowcheck matrix` process,
and states and seconds per cell.

Usage: python benchmarks/matrix.py > /tmp/matrix-bench.md
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time

from cowcheck.build import build_name


def main() -> None:
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "cowcheck", "matrix", "--format", "json", "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if p.returncode != 0:
        sys.exit(f"cowcheck matrix --check exited {p.returncode}: {p.stderr}")
    m = json.loads(p.stdout)
    cells = m["cells"]
    states = sum(c["states"] for c in cells)
    system = f"{platform.system()} {platform.release()}"
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, {system}; cowcheck {build_name()}")
    print()
    print(
        f"`cowcheck matrix --format json --check`: {len(m['rules'])} rules x {len(m['scenarios'])} scenario rows = "
        f"{len(cells)} cells, exit {p.returncode}; wall {wall:.1f} s (search time {m['seconds']:.1f} s), "
        f"{states:,} states in all, peak RSS {rss_mib:,.0f} MiB"
    )
    print()
    by = {(c["scenario"], c["rule"]): c for c in cells}
    families = list(dict.fromkeys(c["family"] for c in cells))
    print("States per cell (seconds in brackets where at least 0.5 s); ✗ marks a violation; a table per family:")
    for fam in families:
        mine = [c for c in cells if c["family"] == fam]
        rules = list(dict.fromkeys(c["rule"] for c in mine))
        print()
        print(f"| {fam} scenario | " + " | ".join(f"`{r}`" for r in rules) + " | row seconds |")
        print("|---|" + "---|" * (len(rules) + 1))
        for s in dict.fromkeys(c["scenario"] for c in mine):
            row = []
            total = 0.0
            for r in rules:
                c = by[s, r]
                total += c["seconds"]
                mark = "" if c["verdict"] == "holds" else "✗ "
                secs = f" ({c['seconds']:.1f} s)" if c["seconds"] >= 0.5 else ""
                row.append(f"{mark}{c['states']:,}{secs}")
            print(f"| `{s}` | " + " | ".join(row) + f" | {total:.1f} |")


if __name__ == "__main__":
    main()
