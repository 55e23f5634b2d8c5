"""Every reduction and every search mode against the plain serial exact search.

Process symmetry, the fingerprint store and the partitioned multi-process search
must give the verdict, and the shortest counterexample length, of the unreduced
serial search on every scenario of the catalog; the exact-store modes must also
store the same number of states. Bitstate hashing may miss states, so it must never
say "holds". One session-wide baseline run per (scenario, rule) keeps this affordable.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import assert_reduced_matches, searched

from cowcheck.api import build_model, run_search
from cowcheck.engine import Bounds, SearchOptions, SearchResult, StoreSpec, Verdict, explore
from cowcheck.engine.store import BitstateStore, FingerprintStore
from cowcheck.input.bundled import scenario_files
from cowcheck.mm.actions import Action
from cowcheck.mm.state import MMState

HERE = Path(__file__).parent / "scenarios"
THREE = HERE / "open-three.toml"
# open-large under a rule that holds is 770k states: it is compared under rules that
# fail it quickly; the benchmarks run it in full in every mode. open-file (66k states
# under anon-exclusive) is compared at total 3 (open-file-three), and in full under
# the rules of tests/test_file_backed.py.
SCENARIOS = [f for f in scenario_files() if f.stem not in ("open-large", "open-file")] + [
    THREE,
    HERE / "open-file-three.toml",
    HERE / "fork-odirect-grandchild.toml",
    HERE / "por-device-reads.toml",
]
RULES = ["page-count", "anon-exclusive"]

Result = SearchResult[MMState, Action]


def run(path: Path, rule: str, mode: str) -> Result:
    """The search in ``mode``, once per session (conftest.searched: the unreduced one
    is test_subsume's plain search)."""
    # Every mode but the unreduced one and POR runs with process symmetry, as the
    # "reduced" search they are compared with.
    symmetry = mode not in ("unreduced", "por")
    if mode in ("unreduced", "reduced"):
        opts = SearchOptions(symmetry=symmetry, subsume=False)
    elif mode == "por":
        opts = SearchOptions(por=True, subsume=False)
    elif mode == "workers":
        # Subsumption against the partitioned search: tests/test_subsume.py.
        opts = SearchOptions(symmetry=symmetry, workers=2, subsume=False)
    else:
        opts = SearchOptions(store=StoreSpec.parse(mode), symmetry=symmetry, subsume=False)
    return searched(path, rule, opts)


def same(a: Result, b: Result, counts: bool) -> None:
    assert a.verdict is b.verdict
    if a.violation is not None or b.violation is not None:
        assert a.violation is not None and b.violation is not None
        assert len(a.violation.path) == len(b.violation.path)
        # Every level before the violating one was complete in both.
    elif counts:
        assert a.stats.states == b.stats.states


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("f", SCENARIOS, ids=[f.stem for f in SCENARIOS])
def test_process_symmetry_matches_unreduced(f: Path, rule: str) -> None:
    red, unred = run(f, rule, "reduced"), run(f, rule, "unreduced")
    assert red.verdict is unred.verdict
    assert red.stats.states <= unred.stats.states
    if red.violation is not None:
        assert unred.violation is not None
        assert len(red.violation.path) == len(unred.violation.path)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("f", SCENARIOS, ids=[f.stem for f in SCENARIOS])
def test_partial_order_reduction_matches_unreduced(f: Path, rule: str) -> None:
    """Same verdict; where the unreduced search has a counterexample, the reduced one
    has one of the same property and length (the shortest is still found: ample
    sets here hold only actions no property can see)."""
    assert_reduced_matches(run(f, rule, "por"), run(f, rule, "unreduced"))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("f", SCENARIOS, ids=[f.stem for f in SCENARIOS])
def test_fingerprint_store_matches_exact(f: Path, rule: str) -> None:
    same(run(f, rule, "fingerprint"), run(f, rule, "reduced"), counts=True)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("f", SCENARIOS, ids=[f.stem for f in SCENARIOS])
def test_two_workers_match_serial(f: Path, rule: str) -> None:
    same(run(f, rule, "workers"), run(f, rule, "reduced"), counts=True)


@pytest.mark.parametrize("f", SCENARIOS, ids=[f.stem for f in SCENARIOS])
def test_bitstate_never_claims_holds(f: Path) -> None:
    exact = run(f, "anon-exclusive", "reduced")
    bit = run(f, "anon-exclusive", "bitstate:1")
    if exact.verdict is Verdict.HOLDS:
        assert bit.verdict is Verdict.INCOMPLETE
        assert "coverage" in (bit.incomplete_reason or "")
        assert bit.stats.states <= exact.stats.states
    else:
        assert bit.verdict in (exact.verdict, Verdict.INCOMPLETE)


def test_symmetry_reduces_three_processes() -> None:
    red, unred = run(THREE, "anon-exclusive", "reduced"), run(THREE, "anon-exclusive", "unreduced")
    assert red.verdict is unred.verdict is Verdict.HOLDS
    assert red.stats.states < unred.stats.states


def test_open_large_workers_and_fingerprint_agree_on_failing_rule() -> None:
    f = next(f for f in scenario_files() if f.stem == "open-large")
    base = run(f, "page-count", "reduced")
    assert base.verdict is Verdict.VIOLATED
    for mode in ("workers", "fingerprint", "unreduced"):
        same(run(f, "page-count", mode), base, counts=False)


def test_workers_are_deterministic() -> None:
    m = build_model("open-standard", "page-count")
    a, b = run_search(m, SearchOptions(workers=2)), run_search(m, SearchOptions(workers=2))
    assert a.violation is not None and b.violation is not None
    assert a.violation.path.actions == b.violation.path.actions
    assert a.stats.states == b.stats.states


def test_workers_respect_bounds() -> None:
    m = build_model("open-standard", "anon-exclusive")
    r = run_search(m, SearchOptions(Bounds(max_depth=3), workers=2, subsume=False))
    s = explore(m, SearchOptions(Bounds(max_depth=3), subsume=False))
    assert r.verdict is s.verdict is Verdict.INCOMPLETE
    assert r.stats.states == s.stats.states
    assert run_search(m, SearchOptions(Bounds(max_states=500), workers=2)).verdict is Verdict.INCOMPLETE


def test_fingerprint_table_is_compact_and_exact_on_distinct_keys() -> None:
    st = FingerprintStore(log2_slots=4)
    keys = [(i, i * 7 % 13, "x" * (i % 3)) for i in range(50_000)]
    assert all(st.add(k) for k in keys)
    assert not any(st.add(k) for k in keys)
    assert all(k in st for k in keys[:100]) and (-1, -1, "") not in st
    assert len(st) == len(keys)
    # The table is <= 21.4 B/state (75% load) plus 6 B of parent link: under 32.
    assert st.nbytes() / len(st) + 6 <= 32
    assert "2^64" in st.note(10 * len(keys))
    assert st.collision_probability(10 * len(keys)) == pytest.approx(len(keys) * 10 * len(keys) / 2**64)


_FINGERPRINTS = """
from collections import deque
from cowcheck.api import build_model
from cowcheck.engine.store import fingerprint
from cowcheck.mm.state import GupFastOp
states = []
for sc in ("gup-fast-fork", "open-standard"):
    m = build_model(sc, "anon-exclusive")
    todo = deque(m.canonical(s) for s in m.init_states())
    seen = set(todo)
    states += todo
    while todo and len(seen) < 3_000:
        s = todo.popleft()
        for a in m.actions(s):
            st = m.next_step(s, a)
            if st is not None and (k := m.canonical(st.state)) not in seen:
                seen.add(k)
                todo.append(k)
                states.append(k)
named = [r.name for s in states for r in s.refs] + [o.name for s in states for o in s.inflight if type(o) is GupFastOp]
print(sorted(set(named)))
print([fingerprint(s) for s in states])
"""


def test_fingerprints_are_the_same_whatever_the_str_hash_salt() -> None:
    """Fingerprints (the fingerprint and bitstate stores, routing without a partition
    key) must not change from run to run; str hashes are salted per process, so the
    records that hold names hash them stably (mm/state.py), and unnamed ones hash
    as plain tuples. States with named and unnamed references and gup-fast paths,
    fingerprinted in processes with different salts."""
    import subprocess
    import sys

    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        p = subprocess.run(
            [sys.executable, "-c", _FINGERPRINTS],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        outs.append(p.stdout.splitlines())
    assert outs[0] == outs[1]
    assert outs[0][0] == "['', 'pin']"  # both kinds of name were hashed
    assert len(set(outs[0][1].split(","))) > 3_000


def test_bitstate_reports_coverage() -> None:
    st = BitstateStore(megabytes=1)
    for i in range(10_000):
        st.add((i,))
    assert 0.0 < st.omission_probability() < 1e-3
    assert "coverage" in st.note(0) and not st.exact()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--store", "bogus"], "--store"),
        (["--store", "bitstate:0"], "--store"),
        (["--workers", "0"], "--workers"),
        (["--por", "--workers", "2"], "--por"),
    ],
)
def test_bad_search_options_are_one_line_exit_2(args: list[str], field: str) -> None:
    from conftest import run_cli

    rc, out, err = run_cli("check", "odirect-clear-refs", "-r", "page-count", *args)
    assert rc == 2, (out, err)
    assert field in err and "Traceback" not in err


def test_cli_workers_and_fingerprint_give_the_serial_verdict() -> None:
    from conftest import run_cli

    rc, out, _ = run_cli("check", "odirect-clear-refs", "-r", "page-count", "--workers", "2", "--store", "fingerprint")
    assert rc == 1 and "violated" in out
    rc, out, _ = run_cli("check", "odirect-clear-refs", "-r", "anon-exclusive", "--store", "bitstate:1")
    assert rc == 3 and "coverage" in out
