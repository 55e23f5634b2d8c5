"""The distributed mode on a local Dask cluster: the same partitioned BFS as
``--workers``, so the same verdicts, state counts and counterexample lengths as the
serial search (and, for violations, the same counts as the process mode: both finish
the violating level)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import LocalCluster

from cowcheck.api import build_model
from cowcheck.engine import Bounds, SearchOptions, explore
from cowcheck.mm.model import MMModel

ROOT = Path(__file__).resolve().parent.parent
THREE = Path(__file__).parent / "scenarios" / "open-three.toml"
CASES = [
    ("fork-odirect", "page-count"),
    ("vmsplice-child", "mapcount"),
    ("gup-fast-fork", "page-count"),
    ("odirect-swap", "anon-exclusive"),
    ("open-standard", "page-count"),
    (str(THREE), "anon-exclusive"),
]


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize(("scenario", "rule"), CASES, ids=[f"{Path(s).stem}-{r}" for s, r in CASES])
def test_dask_matches_serial_and_processes(address: str, scenario: str, rule: str) -> None:
    serial = explore(build_model(scenario, rule))  # run_search's default
    procs = explore(build_model(scenario, rule), SearchOptions(workers=3))
    dist = explore(build_model(scenario, rule), SearchOptions(workers=3, dask=address))
    assert dist.stats.workers == 3 and dist.stats.cluster.startswith("Dask")
    assert dist.verdict is serial.verdict
    if serial.violation is None:
        assert dist.violation is None
        assert dist.stats.states == serial.stats.states == procs.stats.states
    else:
        assert dist.violation is not None and procs.violation is not None
        assert dist.violation.property_id == serial.violation.property_id
        assert len(dist.violation.path) == len(serial.violation.path)
        # The level-synchronous modes stop after the whole violating level.
        assert dist.stats.states == procs.stats.states >= serial.stats.states
        assert dist.violation.path.actions == procs.violation.path.actions


def test_a_rule_file_reaches_the_workers_by_value(address: str, tmp_path: Path) -> None:
    """Workers import cowcheck, not the user's rule file: it travels pickled by value."""
    src = tmp_path / "my_rule.py"
    shutil.copy(ROOT / "models" / "page_count.py", src)
    model = build_model("fork-odirect-pin", str(src))
    src.unlink()
    dist = explore(model, SearchOptions(dask=address))
    serial = explore(model)
    assert dist.verdict is serial.verdict
    assert dist.stats.states == serial.stats.states


def test_bounds_stop_the_distributed_search(address: str) -> None:
    r = explore(build_model("open-standard", "anon-exclusive"), SearchOptions(Bounds(max_states=2000), dask=address))
    assert r.verdict.value == "incomplete" and r.stats.states >= 2000


@pytest.mark.parametrize("value", ["local:x", "local:0", "bogus://x", "127.0.0.1"])
def test_bad_dask_address_is_one_line_exit_2(value: str) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "cowcheck", "check", "fork-odirect", "-r", "page-count", "--dask", value, "-q"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert p.returncode == 2
    assert "--dask" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_model_pickles_as_its_arguments() -> None:
    """Dask sends the model to its workers pickled. It travels as its constructor's
    arguments (``MMModel.__reduce__``), which the compiled build needs, and comes back
    a model that explores the same states, with empty caches."""
    import pickle

    import cloudpickle

    m = build_model("open-standard", "page-count", strict=True)
    want = explore(m)
    assert m._offer_cache  # filled by the search

    def settings(x: MMModel) -> tuple[object, ...]:
        # Property ids, not the functions: once a Dask test has registered the property
        # files to travel by value (DaskCluster), cloudpickle copies their functions.
        props = tuple(p.id for p in x.properties)
        return (x.scenario, x.rule.name, x.ctx.strict, x.form, props, x.failing_metrics)

    for dumps in (pickle.dumps, cloudpickle.dumps):
        copy = pickle.loads(dumps(m))
        assert type(copy) is MMModel and copy is not m
        assert settings(copy) == settings(m) and copy.ctx.strict
        assert copy._offer_cache == {}
        got = explore(copy)
        assert (got.verdict, got.stats.states, got.stats.transitions) == (
            want.verdict,
            want.stats.states,
            want.stats.transitions,
        )
