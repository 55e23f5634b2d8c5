"""The search: one level-synchronous breadth-first loop over canonical representatives.

``explore(model, options)`` runs it over one partition in this process (the serial
search), over worker processes (``-j N``) or over Dask actors (``--dask``): the
transports of ``transport/``. The visited store (``store/``: exact, fingerprints,
bitstate, or the covering store of subsumption) and the frontier live in the
partitions (``partition.py``); per state a partition keeps only its parent's id and
the index of the action that led to it, and a counterexample is rebuilt from those
and replayed concretely (``rebuild.py``). Every level is complete before the next
starts, so the first violation found is a shortest one.

The loop holds what is the search's and not a partition's: the bounds and progress
(``limits.py``), interruptions (Ctrl-C, SIGTERM and the deadline, ``signals.py``), the
verdict and its figures. "holds" needs an empty frontier, no bound hit, an exact
store, and every coverage goal of the model achieved (``model.py``).
"""

from __future__ import annotations

import gc
from dataclasses import replace
from typing import Any, Generic, TypeVar

from cowcheck.engine.limits import Limits, Progress, peak_rss_mb
from cowcheck.engine.model import UNREACHED, Model
from cowcheck.engine.options import OptionError, SearchOptions
from cowcheck.engine.partition import Answer, Candidate, Partition, search_canon
from cowcheck.engine.rebuild import chain, concrete_violation, maximal_run
from cowcheck.engine.result import SearchResult, Stats, Verdict
from cowcheck.engine.signals import Deadline, Interrupted, SearchTimeout, interrupted_reason
from cowcheck.engine.transport import Transport
from cowcheck.engine.transport.local import Local
from cowcheck.engine.visitor import Visitor

S = TypeVar("S")
A = TypeVar("A")


def explore(
    model: Model[S, A],
    options: SearchOptions | None = None,
    progress: Progress | None = None,
    visitor: Visitor[S, A] | None = None,
) -> SearchResult[S, A]:
    """Explore every state of ``model`` reachable within ``options.bounds``.

    A ``visitor`` walks the whole graph instead (``visitor.py``): one partition, no
    reduction, and no property ends the walk. A KeyboardInterrupt (or the CLI's
    SIGINT/SIGTERM) ends the search with INCOMPLETE and the figures so far; so does
    the timeout, wherever the time goes (``Deadline``)."""
    opts = (options or SearchOptions()).validate()
    if visitor is not None and opts.partitioned:
        raise OptionError("--workers", "a visitor walks the graph in one partition; drop --workers/--dask")
    transport = _transport(model, opts, visitor)
    try:
        return Search(model, opts, transport, progress, walk=visitor is not None).run()
    finally:
        transport.close()


def _transport(model: Model[S, A], opts: SearchOptions, visitor: Visitor[S, A] | None) -> Transport:
    if opts.dask is not None:
        try:
            from cowcheck.engine.transport.dask import ClusterError, DaskTransport
        except ImportError:
            need = "the distributed mode needs Dask: pip install 'cowcheck[distributed]'"
            raise OptionError("--dask", need) from None
        try:
            return DaskTransport(model, opts)
        except ClusterError as e:
            raise OptionError("--dask", str(e)) from None
    if opts.workers > 1:
        from cowcheck.engine.transport import Partitioned
        from cowcheck.engine.transport.processes import ProcessCluster

        return Partitioned(ProcessCluster(model, opts, opts.workers))
    return Local(Partition(model, opts, visitor=visitor, in_process=True))


class Search(Generic[S, A]):
    """One run of the loop: the coordinator's side of every transport."""

    def __init__(
        self,
        model: Model[S, A],
        options: SearchOptions,
        transport: Transport,
        progress: Progress | None,
        walk: bool = False,
    ):
        self.model = model
        self.options = options
        self.transport = transport
        self.stats = Stats(workers=transport.n, cluster=transport.label)
        # A visitor's walk takes --max-states as a cap on new states, not as a stop
        # (Partition._visit_level): it goes on through the states it has.
        bounds = replace(options.bounds, max_states=None) if walk else options.bounds
        self.limits = Limits(bounds, self.stats, progress)
        self.figures: list[dict[str, Any]] = []
        self.metrics: dict[str, int] = {}
        self.reason: str | None = None
        # Stopped mid-level by a signal or the deadline: remote partitions may be
        # anywhere (in a rule hook that never returns, even), so they are asked
        # nothing more, and the figures are the last finished level's.
        self.cut = False
        self.timer = Deadline(options.bounds.timeout)

    def run(self) -> SearchResult[S, A]:
        # The store and the frontier only grow within a level; the cyclic collector
        # would rescan them again and again for nothing, since states hold no cycles.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._levels(self.timer)
        except (KeyboardInterrupt, Interrupted) as e:
            self.reason, self.cut = interrupted_reason(e), True
            return self.finish_cut()
        except SearchTimeout:
            self.reason, self.cut = self.limits.timeout_reason(), True
            return self.finish_cut()
        finally:
            self.timer.cancel()
            if gc_was_enabled:
                gc.enable()

    def _levels(self, timer: Deadline) -> SearchResult[S, A]:
        t, limits, stats = self.transport, self.limits, self.stats
        if not t.local:
            # Remote partitions run the initial states' checks (a rule's hooks) too.
            timer.start()
        bad = self.tally(t.start())
        if bad:
            return self.finish(Verdict.VIOLATED, bad[0])
        if t.local:
            # From here: the initial states are always explored, so that a run cut at
            # once still has figures to report.
            timer.start()
        depth = 0
        while self.queue():
            stats.max_depth = depth
            reason = limits.depth_reached(depth)
            if reason is not None:
                # Only incomplete if something lies beyond the bound.
                if t.can_move():
                    self.reason = reason
                break
            bad = self.tally(t.level(limits))
            if bad:
                return self.finish(Verdict.VIOLATED, bad[0])
            cut = next((f["cut"] for f in self.figures if f["cut"] is not None), None)
            if cut is not None:
                self.reason = cut
                return self.finish(Verdict.INCOMPLETE)
            depth += 1
            queue = self.queue()
            rss = sum(f["rss_mb"] for f in self.figures) if not t.local else peak_rss_mb()
            self.reason = limits.after_level(stats.states, queue, rss)
            if self.reason is not None:
                return self.finish(Verdict.INCOMPLETE)
        return self.finish(Verdict.INCOMPLETE if self.reason else Verdict.HOLDS)

    def queue(self) -> int:
        return sum(f["frontier"] for f in self.figures)

    def tally(self, answers: list[Answer]) -> list[Candidate]:
        """Gather the partitions' figures; their violation candidates, least first."""
        self.figures = figures = [f for _, f in answers]
        st = self.stats
        st.subsume = all(f["subsume"] for f in figures)
        st.states = sum(f["states"] for f in figures)
        st.transitions = sum(f["transitions"] for f in figures)
        st.ample = sum(f["ample"] for f in figures)
        st.seconds = self.limits.elapsed()
        if self.transport.n > 1:
            st.owned = tuple(f["states"] for f in figures)
            st.shipped = sum(f["shipped"] for f in figures)
        metrics: dict[str, int] = {}
        for f in figures:
            for k, v in f["metrics"].items():
                metrics[k] = metrics.get(k, 0) + v
        self.metrics = metrics
        return sorted(c for bad, _ in answers for c in bad)

    def finish_cut(self) -> SearchResult[S, A]:
        """Stopped mid-level: the figures so far where the partitions can tell them,
        else the last finished level's."""
        now = self.transport.snapshot()
        if now is not None:
            self.tally(now)
        return self.finish(Verdict.INCOMPLETE)

    def finish(self, verdict: Verdict, cand: Candidate | None = None) -> SearchResult[S, A]:
        self.timer.cancel()  # rebuilding a counterexample is not the search's time
        st, t, figures = self.stats, self.transport, self.figures
        st.seconds = self.limits.elapsed()
        st.peak_rss_mb = peak_rss_mb() + sum(f["rss_mb"] for f in figures)
        st.store_bytes = sum(f["store_bytes"] for f in figures)
        asked = t.local or not self.cut
        st.store = t.note(st.transitions) if asked else str(self.reason)
        violation = None
        reason = self.reason
        if cand is not None:
            parent, ai, prop, kind, gid = cand
            init_index, path = chain(t.link, gid if kind == "state" else parent)
            if kind == "transition":
                path.append(ai)
            canon = search_canon(self.model, self.options)
            violation = concrete_violation(self.model, canon, init_index, path, prop, kind == "transition")
        elif verdict is Verdict.HOLDS and not all(f["exact"] for f in figures):
            verdict, reason = Verdict.INCOMPLETE, st.store
        elif verdict is Verdict.HOLDS and (refused := next((f["refused"] for f in figures if f["refused"]), None)):
            verdict, reason = Verdict.INCOMPLETE, refused
        elif verdict is Verdict.HOLDS:
            dead = _dead_goals(self.model, figures)
            if dead:
                verdict = Verdict.VIOLATED
                canon = search_canon(self.model, self.options)
                violation = maximal_run(self.model, canon, UNREACHED, "runs on no path: " + "; ".join(dead))
        return SearchResult(verdict, st, violation, reason, self.metrics)


def _dead_goals(model: Model[Any, Any], figures: list[dict[str, Any]]) -> list[str]:
    """The model's coverage goals no partition's explored transition achieved."""
    covered = {g for f in figures for g in f["covered"]}
    return [g for i, g in enumerate(model.capabilities().coverage_goals) if i not in covered]
