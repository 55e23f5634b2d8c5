"""Every catalog cell gives the figures recorded before the search was rebuilt as one
loop (issue 22): the verdict, the states and transitions explored, the violated
property, the trace's length and its rendering, serially and with two partitions
(worker processes and Dask, which partition alike).

The figures were written by ``benchmarks/catalog_figures.py`` (serial, j2 and dask:
the last two are identical) from the search as it was before; that script checks a
whole run against them. Here the catalog run that test_catalog.py makes anyway
(conftest.py's ``catalog_run``: light cells serial, heavy ones in two worker
processes) is checked cell
by cell, and a sample of cells on a local Dask cluster."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import LocalCluster

from cowcheck.api import CheckReport, check
from cowcheck.checks.catalog import CatalogRow
from cowcheck.checks.matrix import Matrix
from cowcheck.engine import SearchOptions

HERE = Path(__file__).parent
SERIAL: dict[str, dict[str, Any]] = json.loads((HERE / "data/catalog-figures-serial.json").read_text())
PARTITIONED: dict[str, dict[str, Any]] = json.loads((HERE / "data/catalog-figures-2-partitions.json").read_text())
# Depth is compared for the serial search only: the partitioned one used to report a
# violation one level deeper; the one loop reports the level it was expanding.
COMPARED = ("verdict", "states", "transitions", "property", "steps", "trace")


def _recorder() -> Any:
    """benchmarks/catalog_figures.py, which recorded the figures: what it records of a
    report is what is compared."""
    path = HERE.parent / "benchmarks" / "catalog_figures.py"
    spec = importlib.util.spec_from_file_location("catalog_figures", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_RECORDER = _recorder()


def figures(rep: CheckReport, depth: bool = False) -> dict[str, Any]:
    got: dict[str, Any] = _RECORDER.report_figures(rep)
    return {k: v for k, v in got.items() if depth or k != "depth"}


def want(saved: dict[str, Any], depth: bool = False) -> dict[str, Any]:
    return {k: saved[k] for k in (*COMPARED, "depth") if k in saved and (depth or k != "depth")}


def key_of(row: CatalogRow) -> str:
    return f"{row.scenario} {row.rule}" + (" --strict" if row.strict else "")


def test_the_recorded_figures_cover_the_catalog(catalog_run: tuple[Matrix, list[CatalogRow]]) -> None:
    assert {key_of(row) for row in catalog_run[1]} == set(SERIAL) == set(PARTITIONED)


def test_every_cell_gives_its_recorded_figures(catalog_run: tuple[Matrix, list[CatalogRow]]) -> None:
    """Light cells ran serially, heavy ones in two worker processes (checks/catalog.py)."""
    wrong = []
    for row in catalog_run[1]:
        key = key_of(row)
        serial = row.report.stats.workers == 1
        saved = SERIAL if serial else PARTITIONED
        got = figures(row.report, depth=serial)  # the serial search's depth is as it was
        if got != want(saved[key], depth=serial):
            wrong.append(f"{key} ({row.report.stats.workers} partitions): {got} != {want(saved[key])}")
    assert not wrong, "\n".join(wrong)


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


SAMPLE = sorted(k for k in PARTITIONED if k.split()[0] in ("fork-odirect", "odirect-swap", "vmsplice-child"))


@pytest.mark.parametrize("key", SAMPLE)
def test_dask_and_processes_give_the_recorded_figures(address: str, key: str) -> None:
    scenario, rule, *strict = key.split()
    for opts in (SearchOptions(workers=2), SearchOptions(workers=2, dask=address)):
        rep = check(scenario, rule, strict=bool(strict), options=opts)
        assert figures(rep) == want(PARTITIONED[key]), opts
