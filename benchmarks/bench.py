"""The fixed benchmark workload of BENCHMARKS.md, as a markdown report.

Each run is a separate process, so its peak RSS is its own. For every run: distinct
states, transitions, seconds, distinct states/s, peak RSS, and bytes per stored state
(the visited store's table plus 6 bytes of parent link per state; for the exact store
the states themselves are counted by RSS: peak RSS over the interpreter's baseline,
per state). The baseline is a plain-tuple BFS (deque + set of 3-tuples) over a trivial
model with the state count of the standard open scenario, run in the same session.

Usage: python benchmarks/bench.py [--quick] > /tmp/bench.md
       python benchmarks/bench.py --speedup N > /tmp/speedup.md

``--speedup N`` measures only the speed-up of 2 workers over the serial search (with
subsumption, the default), alternating the two N times per scenario. This machine's
speed drifts by up to a third within minutes, so one run of each can differ by more
than the effect; the best of N alternating runs compares like with like. Each round
also starts two serial searches at once: two independent processes are the most any
2-worker search can get from the machine, so 2 x serial / the slower of the two is
the ceiling for the speed-up (a VM's two vCPUs slow each other down).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import deque

from cowcheck.build import build_name

RUNS: list[tuple[str, str, int, str, str, bool]] = [
    # (scenario, rule, workers, store, dask address or "", subsumption by budget)
    ("open-standard", "anon-exclusive", 1, "exact", "", True),
    ("open-standard", "anon-exclusive", 2, "exact", "", True),
    ("open-standard", "anon-exclusive", 2, "exact", "local:2", True),
    ("open-standard", "anon-exclusive", 1, "exact", "", False),
    ("open-standard", "anon-exclusive", 2, "exact", "", False),
    ("open-standard", "anon-exclusive", 1, "fingerprint", "", False),
    ("open-standard", "anon-exclusive", 1, "bitstate:16", "", False),
    ("open-large", "anon-exclusive", 1, "exact", "", True),
    ("open-large", "anon-exclusive", 2, "exact", "", True),
    ("open-large", "anon-exclusive", 2, "exact", "local:2", True),
    ("open-large", "anon-exclusive", 1, "exact", "", False),
    ("open-large", "anon-exclusive", 2, "exact", "", False),
    ("open-large", "anon-exclusive", 1, "fingerprint", "", False),
    ("open-file", "anon-exclusive", 1, "exact", "", True),
    ("open-file", "anon-exclusive", 2, "exact", "", True),
    ("open-file", "anon-exclusive", 1, "exact", "", False),
]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one(scenario: str, rule: str, workers: int, store: str, dask: str, subsume: bool) -> dict[str, object]:
    from cowcheck.api import check
    from cowcheck.engine import SearchOptions, StoreSpec

    base = _rss_mb()
    options = SearchOptions(store=StoreSpec.parse(store), subsume=subsume, workers=workers, dask=dask or None)
    rep = check(scenario, rule, options=options, minimise=False)
    st = rep.stats
    peak = max(st.peak_rss_mb, _rss_mb())
    return {
        "scenario": scenario,
        "rule": rule,
        "workers": workers,
        "mode": f"Dask {dask}, {workers} partitions" if dask else ("serial" if workers == 1 else f"{workers} workers"),
        "store": store,
        "subsume": st.subsume,
        "verdict": rep.verdict.value,
        "states": st.states,
        "transitions": st.transitions,
        "seconds": st.seconds,
        "rate": st.states / st.seconds if st.seconds else 0.0,
        "peak_rss_mb": peak,
        "store_bytes_per_state": st.store_bytes / max(1, st.states),
        "rss_bytes_per_state": (peak - base) * 2**20 / max(1, st.states),
        "note": st.store,
        "owned": list(st.owned),
        "shipped": st.shipped,
    }


def plain_bfs(target: int) -> dict[str, object]:
    """BFS over (a, b, c) with a, b, c < side: three successors per state."""
    side = round(target ** (1 / 3)) + 1
    start = time.perf_counter()
    seen = {(0, 0, 0)}
    q = deque([(0, 0, 0)])
    transitions = 0
    while q:
        a, b, c = q.popleft()
        for s in ((a + 1, b, c), (a, b + 1, c), (a, b, c + 1)):
            if s[0] < side and s[1] < side and s[2] < side:
                transitions += 1
                if s not in seen:
                    seen.add(s)
                    q.append(s)
    secs = time.perf_counter() - start
    return {"states": len(seen), "transitions": transitions, "seconds": secs, "rate": len(seen) / secs}


def matrix(workers: int) -> dict[str, object]:
    start = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "cowcheck", "matrix", "--format", "json", "--check", "--workers", str(workers)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    cells = json.loads(p.stdout)["cells"]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {
        "exit": p.returncode,
        "cells": len(cells),
        "states": sum(c["states"] for c in cells),
        "wall": wall,
        "peak_rss_mb": peak,
    }


def _start(sc: str, rule: str, w: int, store: str, dask: str, sub: bool) -> subprocess.Popen[str]:
    """One benchmark run in its own process (``--one``), so its peak RSS is its own."""
    args = [sys.executable, __file__, "--one", sc, rule, str(w), store, dask, "subsume" if sub else "plain"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True)


def _result(p: subprocess.Popen[str]) -> dict[str, object]:
    stdout, _ = p.communicate()
    if p.returncode != 0:
        raise subprocess.CalledProcessError(p.returncode, p.args, stdout)
    out: dict[str, object] = json.loads(stdout)
    return out


def _run(sc: str, rule: str, w: int, store: str, dask: str, sub: bool) -> dict[str, object]:
    return _result(_start(sc, rule, w, store, dask, sub))


def _pair(sc: str) -> list[float]:
    """Two serial searches started together: what this machine gives to two fully
    independent processes, the ceiling for any 2-worker speed-up."""
    procs = [_start(sc, "anon-exclusive", 1, "exact", "", True) for _ in range(2)]
    return [float(_result(p)["seconds"]) for p in procs]  # type: ignore[arg-type]


def speedup(n: int) -> None:
    print(
        "| scenario | states | serial s (best, median) | 2 workers s (best, median) | speed-up (best, median) "
        "| 2 serial searches at once, slower s (best, median) | ceiling (best, median) | states per worker | sent |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for sc in ("open-standard", "open-large"):
        times: dict[str, list[float]] = {"serial": [], "workers": [], "pair": []}
        states = set()
        split = None
        for _ in range(n):
            r = _run(sc, "anon-exclusive", 1, "exact", "", True)
            times["serial"].append(float(r["seconds"]))  # type: ignore[arg-type]
            states.add(r["states"])
            r = _run(sc, "anon-exclusive", 2, "exact", "", True)
            times["workers"].append(float(r["seconds"]))  # type: ignore[arg-type]
            states.add(r["states"])
            split = (r["owned"], r["shipped"])
            times["pair"].append(max(_pair(sc)))
        if len(states) != 1:
            sys.exit(f"{sc}: state counts differ between runs: {sorted(states)}")  # type: ignore[type-var]
        best = {k: min(ts) for k, ts in times.items()}
        med = {k: statistics.median(ts) for k, ts in times.items()}
        assert split is not None
        owned, sent = split
        print(
            f"| {sc} | {states.pop():,} | {best['serial']:.2f}, {med['serial']:.2f} "
            f"| {best['workers']:.2f}, {med['workers']:.2f} "
            f"| {best['serial'] / best['workers']:.2f}x, {med['serial'] / med['workers']:.2f}x "
            f"| {best['pair']:.2f}, {med['pair']:.2f} "
            f"| {2 * best['serial'] / best['pair']:.2f}x, {2 * med['serial'] / med['pair']:.2f}x "
            f"| {' / '.join(f'{o:,}' for o in owned)} | {sent:,} |"  # type: ignore[attr-defined]
        )
        print(f"<!-- {sc}: {times} -->")


def main() -> None:
    if sys.argv[1:2] == ["--speedup"]:
        speedup(int(sys.argv[2]))
        return
    if sys.argv[1:2] == ["--one"]:
        sc, rule, w, store, dask, sub = sys.argv[2:8]
        print(json.dumps(one(sc, rule, int(w), store, dask, sub == "subsume")))
        return
    quick = "--quick" in sys.argv
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; cowcheck {build_name()}"
    )
    print()
    rows = []
    for sc, rule, w, store, dask, sub in RUNS:
        if quick and sc != "open-standard":
            continue
        rows.append(_run(sc, rule, w, store, dask, sub))
    plain = next(r for r in rows if r["workers"] == 1 and r["store"] == "exact" and not r["subsume"])
    base = plain_bfs(int(plain["states"]))  # type: ignore[call-overload]
    print(
        "| scenario | rule | mode | store | subsumption | verdict | states | transitions | seconds | states/s "
        "| peak RSS MiB | store B/state | RSS B/state |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['scenario']} | {r['rule']} | {r['mode']} | {r['store']} | {'on' if r['subsume'] else 'off'} "
            f"| {r['verdict']} | {r['states']:,} "
            f"| {r['transitions']:,} | {r['seconds']:.2f} | {r['rate']:,.0f} | {r['peak_rss_mb']:.0f} "
            f"| {r['store_bytes_per_state']:.1f} | {r['rss_bytes_per_state']:,.0f} |"
        )
    print()
    print(
        f"Plain-tuple BFS baseline (same run): {base['states']:,} states, {base['transitions']:,} transitions, "
        f"{base['seconds']:.3f} s, **{base['rate']:,.0f} states/s**."
    )
    for r in rows:
        if r["workers"] == 1 and r["store"] == "exact":
            sub = "with" if r["subsume"] else "without"
            print(f"- {r['scenario']} {sub} subsumption: {r['rate'] / base['rate']:.1%} of the baseline rate")  # type: ignore[operator]
    serial = {(r["scenario"], r["store"], r["subsume"]): r["seconds"] for r in rows if r["workers"] == 1}
    for r in rows:
        if r["workers"] > 1:  # type: ignore[operator]
            s = serial[(r["scenario"], r["store"], r["subsume"])]
            sub = "with" if r["subsume"] else "without"
            print(f"- {r['scenario']}: {r['mode']} {sub} subsumption, speed-up {s / r['seconds']:.2f}x")  # type: ignore[operator]
    for sc in dict.fromkeys(r["scenario"] for r in rows):
        on = serial.get((sc, "exact", True))
        off = serial.get((sc, "exact", False))
        if on and off:
            print(f"- {sc}: subsumption, serial: {off / on:.2f}x less time")  # type: ignore[operator]
    print()
    for r in rows:
        print(f"- {r['scenario']} / {r['store']}: {r['note']}")
    if not quick:
        print()
        for w in (1, 2):
            m = matrix(w)
            print(
                f"Full matrix, `cowcheck matrix --format json --check --workers {w}`: exit {m['exit']}, "
                f"{m['cells']} cells, {m['states']:,} states, wall {m['wall']:.1f} s, "
                f"peak RSS {m['peak_rss_mb']:.0f} MiB"
            )


if __name__ == "__main__":
    main()
