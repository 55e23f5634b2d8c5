"""The search's one entry point: ``explore(model, options)``.

(Transitional: dispatches to the serial, process and Dask searches until the one
level-synchronous loop replaces them.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from cowcheck.engine.model import Model
from cowcheck.engine.options import OptionError, SearchOptions
from cowcheck.engine.result import SearchResult, Stats

S = TypeVar("S")
A = TypeVar("A")

Progress = Callable[[Stats, int], None]


def explore(
    model: Model[S, A], options: SearchOptions | None = None, progress: Progress | None = None
) -> SearchResult[S, A]:
    """Explore every state of ``model`` reachable within ``options.bounds``."""
    opts = (options or SearchOptions()).validate()
    if opts.dask is not None:
        try:
            from cowcheck.engine.distributed import ClusterError, search_dask
        except ImportError:
            raise OptionError(
                "--dask", "the distributed mode needs Dask: pip install 'cowcheck[distributed]'"
            ) from None
        parts = opts.workers if opts.workers > 1 else None
        try:
            return search_dask(model, opts.dask, opts.bounds, progress, opts.store, parts, opts.subsume)
        except ClusterError as e:
            raise OptionError("--dask", str(e)) from None
    if opts.workers > 1:
        from cowcheck.engine.parallel import search_parallel

        return search_parallel(model, opts.bounds, progress, opts.store, opts.workers, opts.subsume)
    from cowcheck.engine.bfs import search

    return search(model, opts.bounds, progress, opts.store, opts.por, opts.subsume)
