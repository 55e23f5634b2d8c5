"""Reduction factors per scenario: process symmetry, partial-order reduction and
subsumption by budget, each against the unreduced serial exact search (same verdict
asserted).

Usage: python benchmarks/reductions.py [RULE] > /tmp/reductions.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from cowcheck.api import build_model
from cowcheck.engine import SearchOptions, explore
from cowcheck.input.bundled import scenario_files

HERE = Path(__file__).resolve().parent.parent / "tests" / "scenarios"


def main() -> None:
    rule = sys.argv[1] if len(sys.argv) > 1 else "anon-exclusive"
    files = [*scenario_files(), *sorted(HERE.glob("*.toml"))]
    print(f"`python benchmarks/reductions.py {rule}`: distinct states, serial exact search")
    print()
    print(
        "| scenario | verdict | unreduced | symmetry | factor | POR | factor | ample states | subsumption | factor "
        "| POR s | subsumption s | plain s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for f in files:
        model = build_model(str(f), rule)
        plain = explore(model, SearchOptions(subsume=False))
        sym = explore(model, SearchOptions(symmetry=True, subsume=False))
        por = explore(model, SearchOptions(por=True, subsume=False))
        sub = explore(model)
        assert plain.verdict is sym.verdict is por.verdict is sub.verdict, f
        u = plain.stats.states
        print(
            f"| {f.stem} | {plain.verdict.value} | {u:,} | {sym.stats.states:,} | {u / sym.stats.states:.3f}x "
            f"| {por.stats.states:,} | {u / por.stats.states:.3f}x | {por.stats.ample:,} "
            f"| {sub.stats.states:,} | {u / sub.stats.states:.3f}x "
            f"| {por.stats.seconds:.2f} | {sub.stats.seconds:.2f} | {plain.stats.seconds:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
