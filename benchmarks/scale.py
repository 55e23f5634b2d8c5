"""How states and time grow with the bounds: variants of the standard open scenario.

Each variant changes one thing of open-standard (processes, virtual pages, the total
budget) and runs `cowcheck check --json` under anon-exclusive with a 600 s timeout,
so "holds" in the table means verified complete within 10 minutes on this machine.
Usage: python benchmarks/scale.py [WORKERS] [--no-subsume] [--only TEXT ...] > /tmp/scale.md
(``--only`` keeps the variants whose label contains TEXT; the last three variants
run only when asked for, since each is expected to take the whole 10 minutes).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = (ROOT / "models" / "scenarios" / "open-standard.toml").read_text()

# (label, max_processes, vpages, fork budget, total budget)
VARIANTS = [
    ("2 procs, 1 vpage, total 3", 2, 1, 1, 3),
    ("2 procs, 1 vpage, total 4 (open-standard)", 2, 1, 1, 4),
    ("2 procs, 1 vpage, total 5", 2, 1, 1, 5),
    ("2 procs, 1 vpage, total 6", 2, 1, 1, 6),
    ("3 procs, 1 vpage, total 3", 3, 1, 2, 3),
    ("3 procs, 1 vpage, total 4", 3, 1, 2, 4),
    ("3 procs, 1 vpage, total 5", 3, 1, 2, 5),
    ("2 procs, 2 vpages, total 3", 2, 2, 1, 3),
    ("2 procs, 2 vpages, total 4", 2, 2, 1, 4),
]
BEYOND = [
    ("2 procs, 1 vpage, total 7", 2, 1, 1, 7),
    ("3 procs, 1 vpage, total 6", 3, 1, 2, 6),
    ("2 procs, 2 vpages, total 5", 2, 2, 1, 5),
]


def variant(procs: int, vpages: int, forks: int, total: int) -> str:
    text = re.sub(r"max_processes = \d+", f"max_processes = {procs}", BASE)
    text = re.sub(r"vpages = \d+", f"vpages = {vpages}", text)
    text = re.sub(r"\nfork = \d+", f"\nfork = {forks}", text)
    text = re.sub(r"total = \d+", f"total = {total}", text)
    text = text.replace('[[vpage]]\nstate = "present"\n', '[[vpage]]\nstate = "present"\n\n' * vpages)
    return text[: text.index("[expect]")] if "[expect]" in text else text


def main() -> None:
    args = sys.argv[1:]
    workers = args.pop(0) if args and args[0].isdigit() else "1"
    extra = ["--no-subsume"] if "--no-subsume" in args else []
    only = [args[i + 1] for i, a in enumerate(args) if a == "--only"]
    chosen = [v for v in VARIANTS + BEYOND if any(t in v[0] for t in only)] if only else VARIANTS
    print(f"`python {' '.join(sys.argv)}`: anon-exclusive, --workers {workers}, --timeout 600 {' '.join(extra)}")
    print()
    print("| variant | verdict | states | transitions | depth | seconds | states/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for label, procs, vp, forks, total in chosen:
            f = Path(d) / f"scale-{procs}-{vp}-{total}.toml"
            f.write_text(variant(procs, vp, forks, total))
            p = subprocess.run(
                [sys.executable, "-m", "cowcheck", "check", str(f), "-r", "anon-exclusive", "--json",
                 "--timeout", "600", "--workers", workers, *extra],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            try:
                r = json.loads(p.stdout)
            except json.JSONDecodeError:
                print(f"| {label} | error: {p.stderr.strip()[-200:]} |")
                continue
            st = r["stats"]
            verdict = r["verdict"] + (f" ({r['incomplete_reason']})" if r.get("incomplete_reason") else "")
            print(
                f"| {label} | {verdict} | {st['states']:,} | {st['transitions']:,} | {st['depth']} "
                f"| {st['seconds']:.1f} | {st['states_per_second']:,} | {st['peak_rss_mb']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
