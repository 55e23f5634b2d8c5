from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

from cowcheck.api import build_model
from cowcheck.checks.catalog import CatalogRow
from cowcheck.checks.matrix import Matrix, run_matrix
from cowcheck.engine import SearchOptions, SearchResult
from cowcheck.engine import explore as engine_explore
from cowcheck.input.bundled import find_scenario
from cowcheck.mm.actions import Action
from cowcheck.mm.model import MMModel
from cowcheck.mm.state import MMState

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs Chromium and sets this, so there the tests that need it cannot be skipped.
REQUIRE_CHROMIUM = os.environ.get("COWCHECK_REQUIRE_CHROMIUM") == "1"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not REQUIRE_CHROMIUM, reason="chromium not installed (apt install chromium)"
)


def chromium(page: str, shot: Path, size: str, profile: Path) -> str:
    """``page`` (a URI) rendered in headless Chromium: the screenshot written to
    ``shot`` at ``size`` ("W,H"), and the DOM after scripts, returned."""
    assert CHROMIUM is not None, "COWCHECK_REQUIRE_CHROMIUM=1 but no chromium on PATH"
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}"]
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", f"--window-size={size}", page],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    return dom


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the real console entry point in a subprocess, as a user would, with ``env``
    added to the environment."""
    return run_cli_in(ROOT, *args, env=env)


def run_cli_in(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The same, from ``cwd`` (a fresh project directory)."""
    import os
    import subprocess

    p = subprocess.run(
        [sys.executable, "-m", "cowcheck", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    return p.returncode, p.stdout, p.stderr


def reachable(
    m: MMModel, limit: int = 200_000, ops: set[str] | None = None, upto: int | None = None
) -> tuple[list[MMState], set[str]]:
    """Every state reachable in ``m`` (one per key of m.canonical) and every note seen;
    into ``ops``, every operation that ran. With ``upto``, only the first ``upto``
    states in breadth-first order."""
    inits = list(m.init_states())
    seen = {m.canonical(s) for s in inits}
    states, todo = list(inits), deque(inits)
    notes: set[str] = set()
    while todo:
        s = todo.popleft()
        for a in m.actions(s):
            st = m.next_step(s, a)
            if st is None:
                continue
            if ops is not None:
                ops.add(a.op)
            notes.update(st.notes)
            k = m.canonical(st.state)
            if k not in seen:
                seen.add(k)
                states.append(st.state)
                todo.append(st.state)
                if len(seen) == upto:
                    return states, notes
                assert len(seen) < limit
    return states, notes


def assert_reduced_matches(red: SearchResult[MMState, Action], unred: SearchResult[MMState, Action]) -> None:
    """A reduced search against the unreduced one: the same verdict, no more states,
    and where the unreduced search has a counterexample, one of the same property and
    length (both are shortest)."""
    assert red.verdict is unred.verdict
    assert red.stats.states <= unred.stats.states
    if unred.violation is not None:
        assert red.violation is not None
        assert red.violation.property_id == unred.violation.property_id
        assert len(red.violation.path) == len(unred.violation.path)
    else:
        assert red.violation is None


@pytest.fixture(scope="session")
def catalog_run() -> tuple[Matrix, list[CatalogRow]]:
    """The whole catalog, once per session, with every cell's report: light cells
    serially, heavy ones in two worker processes, two cells at a time
    (checks/catalog.py). Its verdicts do not depend on that."""
    rows: list[CatalogRow] = []
    matrix = run_matrix(options=SearchOptions(workers=2), on_row=rows.append)
    return matrix, rows


@pytest.fixture(scope="session")
def history(catalog_run: tuple[Matrix, list[CatalogRow]]) -> Matrix:
    return catalog_run[0]


_SEARCHES: dict[tuple[str, str, SearchOptions], SearchResult[MMState, Action]] = {}


DEFAULT_SEARCH = SearchOptions()


def searched(scenario: str | Path, rule: str, options: SearchOptions = DEFAULT_SEARCH) -> SearchResult[MMState, Action]:
    """``scenario`` under ``rule`` searched once per session with these options:
    the baselines that several test files compare against (the plain, subsuming and
    partitioned searches of the open scenarios above all) are shared, not repeated.
    A result is read, never changed."""
    key = (str(find_scenario(str(scenario)).resolve()), rule, options)
    got = _SEARCHES.get(key)
    if got is None:
        got = _SEARCHES[key] = engine_explore(build_model(str(scenario), rule), options)
    return got
