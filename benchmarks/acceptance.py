"""Figures for the core checker's acceptance runs, as a markdown table for BENCHMARKS.md.

Each run is a separate `cowcheck check --json` process, so peak RSS is per run.
Usage: python benchmarks/acceptance.py > /tmp/table.md
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys

from cowcheck.build import build_name

RUNS = [
    ("odirect-clear-refs", "page-count", []),
    ("odirect-clear-refs", "mapcount", []),
    ("odirect-clear-refs", "anon-exclusive", []),
    ("odirect-swap", "page-count", []),
    ("odirect-swap", "anon-exclusive", []),
    ("vmsplice-child", "mapcount", []),
    ("vmsplice-child", "page-count", []),
    ("vmsplice-child", "anon-exclusive", []),
    ("fork-io-uring", "mapcount", []),
    ("fork-io-uring", "page-count", []),
    ("fork-io-uring", "anon-exclusive", []),
    ("fork-odirect", "mapcount", []),
    ("fork-odirect", "page-count", []),
    ("fork-odirect", "anon-exclusive", []),
    ("fork-odirect", "mapcount", ["--strict"]),
    ("fork-odirect", "page-count", ["--strict"]),
    ("fork-odirect", "anon-exclusive", ["--strict"]),
    ("fork-odirect-pin", "mapcount", []),
    ("fork-odirect-pin", "page-count", []),
    ("fork-odirect-pin", "anon-exclusive", []),
    ("open-standard", "mapcount", []),
    ("open-standard", "page-count", []),
    ("open-standard", "anon-exclusive", []),
    ("open-standard", "anon-exclusive", ["--form", "structural"]),
]


def main() -> None:
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; cowcheck {build_name()}"
    )
    print()
    print(
        "| scenario | rule | options | exit | verdict | trace | states | transitions | depth | seconds "
        "| states/s | peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for sc, rule, opts in RUNS:
        p = subprocess.run(
            [sys.executable, "-m", "cowcheck", "check", sc, "--rule", rule, "--json", *opts],
            capture_output=True,
            text=True,
            check=False,
        )
        d = json.loads(p.stdout)
        st = d["stats"]
        verdict = d["verdict"] + (f" ({d['violation']['property']})" if "violation" in d else "")
        trace = str(len(d["trace"])) if "trace" in d else "-"
        print(
            f"| {sc} | {rule} | {' '.join(opts) or '-'} | {p.returncode} | {verdict} | {trace} | {st['states']} "
            f"| {st['transitions']} | {st['depth']} | {st['seconds']:.2f} | {st['states_per_second']} "
            f"| {st['peak_rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
