"""Level-synchronous breadth-first search over canonical representatives.

The visited store keeps canonical states (or their fingerprints); per state the
search keeps only its parent's number and the index of the action that led to it
(6 bytes), and the frontier holds representatives of the current and next levels
only. A counterexample is rebuilt from those and replayed concretely
(``rebuild.py``). BFS order makes the first violation found a shortest one.
"""

from __future__ import annotations

import gc
import resource
import time
from array import array
from collections.abc import Callable
from typing import TypeVar

from cowcheck.engine.expand import Expander
from cowcheck.engine.model import UNREACHED, Model
from cowcheck.engine.options import Bounds
from cowcheck.engine.rebuild import chain, concrete_violation, maximal_run
from cowcheck.engine.result import SearchResult, Stats, Verdict
from cowcheck.engine.signals import Deadline, Interrupted, SearchTimeout, interrupted_reason
from cowcheck.engine.store import Store, StoreSpec
from cowcheck.engine.subsume import CoverStore, subsumption

S = TypeVar("S")
A = TypeVar("A")


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def search(
    model: Model[S, A],
    bounds: Bounds | None = None,
    progress: Callable[[Stats, int], None] | None = None,
    store: StoreSpec | str = "exact",
    por: bool = False,
    subsume: bool = False,
) -> SearchResult[S, A]:
    """Explore every state reachable within ``bounds``.

    With ``por``, states are expanded through the model's ample sets where it offers
    any (partial-order reduction; the cycle proviso is checked in ``Expander``). With
    ``subsume``, a state covered by one with more resources is not explored
    (``subsume.py``), where the model splits its states and the store is exact.

    Returns HOLDS only if the frontier was exhausted with no bound hit and the store
    is exact (fingerprints count as exact up to their reported collision bound). A
    KeyboardInterrupt (or the CLI's SIGINT/SIGTERM) ends the search with INCOMPLETE and
    the figures so far; so does the timeout, wherever the time goes (``Deadline``).
    """
    bounds = bounds or Bounds()
    spec = StoreSpec.parse(store) if isinstance(store, str) else store
    split = subsumption(model, spec, subsume and not por)
    # Under subsumption the store also holds the level being built (``level``).
    level = None if split is None else CoverStore(split)
    seen: Store = spec.make() if level is None else level
    stats = Stats(subsume=split is not None)
    start = time.perf_counter()
    ex: Expander[S, A] = Expander(model, por)
    canon = model.canonical
    parents = array("i")
    acts = array("H")
    reason: str | None = None

    def finish(verdict: Verdict, at: int | None = None, prop: str = "", extra: int | None = None) -> SearchResult[S, A]:
        timer.cancel()  # rebuilding a counterexample is not the search's time
        stats.seconds = time.perf_counter() - start
        stats.states = len(parents)
        stats.transitions = ex.transitions
        stats.ample = ex.reduced
        stats.peak_rss_mb = peak_rss_mb()
        stats.store = seen.note(ex.transitions)
        stats.store_bytes = seen.nbytes() + parents.itemsize * len(parents) + acts.itemsize * len(acts)
        violation = None
        if at is not None:
            init_index, path = chain(lambda i: (parents[i], acts[i]), at)
            if extra is not None:
                path.append(extra)
            violation = concrete_violation(model, init_index, path, prop, extra is not None)
        elif verdict is Verdict.HOLDS and seen.exact() and (dead := ex.dead_goals()):
            verdict = Verdict.VIOLATED
            violation = maximal_run(model, UNREACHED, "runs on no path: " + "; ".join(dead))
        r = reason
        if verdict is Verdict.HOLDS and not seen.exact():
            verdict, r = Verdict.INCOMPLETE, stats.store
        return SearchResult(verdict, stats, violation, r, dict(ex.metric_counts))

    def record(parent: int, ai: int) -> int:
        if ai > 0xFFFF:
            raise OverflowError("more than 65535 actions from one state")
        parents.append(parent)
        acts.append(ai)
        return len(parents) - 1

    # The store and the frontier only grow within a level; the cyclic collector
    # would rescan them again and again for nothing, since states hold no cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    timer = Deadline(bounds.timeout)
    try:
        frontier: list[tuple[int, S]] = []
        for i, init in enumerate(model.init_states()):
            key = canon(init)
            if level is not None:
                if level.offer(key, -1, i) is not None and (bad := ex.bad_state(key)) is not None:
                    return finish(Verdict.VIOLATED, record(-1, i), bad)
                continue
            if not seen.add(key):
                continue
            idx = record(-1, i)
            bad = ex.bad_state(key)
            if bad is not None:
                return finish(Verdict.VIOLATED, idx, bad)
            frontier.append((idx, key))
        if level is not None:
            frontier = [(record(parent, ai), key) for key, parent, ai, _ in level.keep()]

        # From here: the initial states are always explored, so that a run cut at once
        # still has figures to report.
        timer.start()
        depth = 0
        while frontier:
            stats.max_depth = depth
            if bounds.max_depth is not None and depth >= bounds.max_depth:
                # Only incomplete if something lies beyond the bound.
                if any(ex.can_move(s) for _, s in frontier):
                    reason = f"max-depth {bounds.max_depth} reached"
                break
            nxt: list[tuple[int, S]] = []
            for n, (idx, state) in enumerate(frontier):
                succ, tv = ex.successors(state, seen.__contains__)
                if tv is not None:
                    return finish(Verdict.VIOLATED, idx, tv[1], tv[0])
                for key, ai in succ:
                    if level is not None:
                        # Decided at the end of the level; checked now, so a violation
                        # ends the search as early as without subsumption.
                        if level.offer(key, idx, ai) is None:
                            continue
                        bad = ex.bad_state(key)
                        if bad is not None:
                            return finish(Verdict.VIOLATED, record(idx, ai), bad)
                        continue
                    if not seen.add(key):
                        continue
                    j = record(idx, ai)
                    bad = ex.bad_state(key)
                    if bad is not None:
                        return finish(Verdict.VIOLATED, j, bad)
                    nxt.append((j, key))
                if n & 255 == 0:
                    more = len(frontier) - n - 1 + len(nxt) + (level.pending() if level is not None else 0)
                    if progress is not None:
                        stats.states = len(parents)
                        stats.transitions = ex.transitions
                        stats.seconds = time.perf_counter() - start
                        progress(stats, more)
                    if bounds.timeout is not None and more and time.perf_counter() - start > bounds.timeout:
                        reason = f"timeout {bounds.timeout:g}s reached"
                        return finish(Verdict.INCOMPLETE)
                    mem = bounds.max_memory_mb
                    if mem is not None and more and peak_rss_mb() > mem:
                        reason = f"max-memory {mem} MiB reached"
                        return finish(Verdict.INCOMPLETE)
                cap = bounds.max_states
                if cap is not None and len(parents) >= cap and (nxt or n + 1 < len(frontier)):
                    reason = f"max-states {bounds.max_states} reached"
                    return finish(Verdict.INCOMPLETE)
            if level is not None:
                for key, parent, ai, _ in level.keep():
                    nxt.append((record(parent, ai), key))
                cap = bounds.max_states
                if cap is not None and len(parents) >= cap and nxt:
                    reason = f"max-states {bounds.max_states} reached"
                    return finish(Verdict.INCOMPLETE)
            frontier = nxt
            depth += 1
    except (KeyboardInterrupt, Interrupted) as e:
        reason = interrupted_reason(e)
        return finish(Verdict.INCOMPLETE)
    except SearchTimeout:
        reason = f"timeout {bounds.timeout:g}s reached"
        return finish(Verdict.INCOMPLETE)
    finally:
        timer.cancel()
        if gc_was_enabled:
            gc.enable()
    return finish(Verdict.INCOMPLETE if reason else Verdict.HOLDS)
