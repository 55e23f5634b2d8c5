"""The search options of a command line: one ``engine.SearchOptions``, made from
whatever search flags a verb takes and checked once, before anything runs or any
file is written. A flag that cannot run raises ``InputError`` or the engine's
``OptionError``, both naming the flag: the CLI prints either on one line, exit 2."""

from __future__ import annotations

import math
import os

from cowcheck.engine import Bounds, SearchOptions, StoreSpec
from cowcheck.engine.options import MAX_WORKERS
from cowcheck.errors import InputError

# The catalog's and matrix's -j: one process per core, up to what --workers takes.
DEFAULT_CELL_WORKERS = min(os.cpu_count() or 1, MAX_WORKERS)


def search_options(
    *,
    max_states: int | None = None,
    max_depth: int | None = None,
    timeout: float | None = None,
    max_memory: int | None = None,
    store: str = "exact",
    symmetry: bool = False,
    por: bool = False,
    subsume: bool = True,
    workers: int = 1,
    dask: str | None = None,
) -> SearchOptions:
    """The options these flags give (the defaults for the flags a verb does not take),
    checked: every verb that searches makes its options here."""
    bounds = Bounds(max_states=max_states, max_depth=max_depth, timeout=timeout, max_memory_mb=max_memory)
    try:
        spec = StoreSpec.parse(store)
    except ValueError as e:
        raise InputError("--store", None, str(e)) from None
    options = SearchOptions(command_line_bounds(bounds), spec, symmetry, por, subsume, workers, dask)
    return options.validate()


def command_line_bounds(b: Bounds) -> Bounds:
    """``b`` if the command line takes it: narrower than the engine (a depth from 1, a
    finite timeout), and worded as the flags have always been checked."""
    for name, v in (("--max-states", b.max_states), ("--max-depth", b.max_depth), ("--max-memory", b.max_memory_mb)):
        if v is not None and v < 1:
            raise InputError(name, None, f"expected a positive integer, got {v}")
    if b.timeout is not None and not (b.timeout > 0 and math.isfinite(b.timeout)):
        raise InputError("--timeout", None, f"expected a positive number of seconds, got {b.timeout:g}")
    return b
