"""A generic explicit-state model checker.

Nothing in this package knows about memory management: a model supplies initial
states, enabled actions, successors, a canonical key and properties (the shape of
stateright's ``Model`` trait), and the search returns a verdict with statistics and,
on a violation, the concrete path that reaches it.
"""

from cowcheck.engine.bfs import search
from cowcheck.engine.core import explore
from cowcheck.engine.model import STUCK, UNREACHED, Capabilities, Invariant, Model, Step, TransitionCheck
from cowcheck.engine.options import Bounds, OptionError, SearchOptions
from cowcheck.engine.parallel import search_parallel
from cowcheck.engine.replay import ReplayOutcome, replay
from cowcheck.engine.result import Path, SearchResult, Stats, Verdict, Violation
from cowcheck.engine.store import StoreSpec

__all__ = [
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
    "search",
    "search_parallel",
]
