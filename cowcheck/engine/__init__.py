"""A generic explicit-state model checker.

Nothing in this package knows about memory management: a model supplies initial
states, enabled actions, successors, a canonical key and properties (the shape of
stateright's ``Model`` trait), and the search returns a verdict with statistics and,
on a violation, the concrete path that reaches it.

One folder per mechanism: ``core.py`` (the level loop), ``partition.py`` (a share of
the states), ``store/`` (exact, fingerprint, bitstate, covering), ``transport/`` (in
this process, worker processes, Dask), ``limits.py`` (bounds and progress),
``expand.py`` (one state's successors, POR), ``rebuild.py``/``replay.py`` (paths),
``visitor.py``/``graph.py`` (the state graph), ``signals.py`` (interruptions).
"""

from cowcheck.engine.core import explore
from cowcheck.engine.model import STUCK, UNREACHED, Capabilities, Invariant, Model, Step, TransitionCheck
from cowcheck.engine.options import MAX_WORKERS, Bounds, OptionError, SearchOptions
from cowcheck.engine.replay import ReplayOutcome, replay
from cowcheck.engine.result import Path, SearchResult, Stats, Verdict, Violation
from cowcheck.engine.store import StoreSpec

__all__ = [
    "MAX_WORKERS",
    "STUCK",
    "UNREACHED",
    "Bounds",
    "Capabilities",
    "Invariant",
    "Model",
    "OptionError",
    "Path",
    "ReplayOutcome",
    "SearchOptions",
    "SearchResult",
    "Stats",
    "Step",
    "StoreSpec",
    "TransitionCheck",
    "Verdict",
    "Violation",
    "explore",
    "replay",
]
