"""Every catalog cell's figures, for comparing two versions of the search.

For each rule x scenario (and --strict where a scenario expects it) the verdict, the
states, transitions and depth, and a digest of the rendered counterexample, in one of
three modes: the serial search, two worker processes (-j 2), and Dask (local, two
partitions). tests/test_catalog_figures.py checks a run against the saved figures.

Usage: python benchmarks/catalog_figures.py MODE [OUT.json]   (MODE: serial, j2, dask)
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from typing import Any

from cowcheck.api import CheckReport, check
from cowcheck.engine import SearchOptions
from cowcheck.families import FAMILY_NAMES, family, load_scenario
from cowcheck.report.diagram import render_columns

MODES: dict[str, dict[str, Any]] = {
    "serial": {},
    "j2": {"workers": 2},
    "dask": {"dask": "local:2", "workers": 2},
}


def cells() -> list[tuple[str, str, bool]]:
    out = []
    for f in (p for n in FAMILY_NAMES for p in family(n).scenario_files()):
        sc = load_scenario(f)
        rules = list(family(sc.family).builtin_names())  # each scenario under its own family's rules
        for strict in (False, True):
            if strict and not sc.expect_strict:
                continue
            out += [(str(f), r, strict) for r in rules]
    return out


def figures(scenario: str, rule: str, strict: bool, mode: str) -> dict[str, Any]:
    return report_figures(check(scenario, rule, strict=strict, options=SearchOptions(**MODES[mode])))


def report_figures(rep: CheckReport) -> dict[str, Any]:
    """What is recorded of one check (tests/test_catalog_figures.py compares with it)."""
    st = rep.stats
    d: dict[str, Any] = {
        "verdict": rep.verdict.value,
        "states": st.states,
        "transitions": st.transitions,
        "depth": st.max_depth,
    }
    if rep.trace is not None:
        d["property"] = rep.trace.property_id
        d["steps"] = len(rep.trace)
        d["trace"] = hashlib.sha256(render_columns(rep.trace, rep.title).encode()).hexdigest()[:16]
    return d


def key(scenario: str, rule: str, strict: bool) -> str:
    name = scenario.rsplit("/", 1)[-1].removesuffix(".toml")
    return f"{name} {rule}" + (" --strict" if strict else "")


def main() -> None:
    mode = sys.argv[1]
    t0 = time.perf_counter()
    out = {key(*c): figures(*c, mode) for c in cells()}
    text = json.dumps(out, indent=1, sort_keys=True)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    print(f"{mode}: {len(out)} cells in {time.perf_counter() - t0:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
