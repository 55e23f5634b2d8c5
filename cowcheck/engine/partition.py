"""One partition of the level-synchronous search: its share of the visited states,
their parent links and its frontier.

Each canonical state has one owner. Where the model declares a partition key (a
projection renaming never changes), the owner is the key's, from a directory that the
coordinator fills as keys first appear, balancing the load (``balance.py``):
such keys are too few for ``hash % N`` to split evenly. Otherwise the owner is the
state's fingerprint modulo N.

A level of N partitions runs in two phases. Each partition expands its frontier
(``expand``), returns the successors whose owner is known, one batch per owner, and
reports the keys no one owns yet; the coordinator names their owners and each
partition batches the rest (``assign``). Then each takes the batches in a fixed order
(``absorb``), keeps the new states and checks them (``close``). Among the violations
of one level the one with the least (parent id, action index) wins, and ids are handed
out in a fixed order, so a search gives the same trace every time, and the same state
count for any number of partitions.

The serial search is one partition (``sweep``): there every successor is its own, so a
state's successors are kept as soon as they are generated, and the first violation
ends the level at once (it is the least: states are expanded in id order, actions in
index order). A visitor (``visitor.py``) walks the same loop through one partition,
numbering every state and told of every transition.

Ids: a partition's k-th state has id ``k * N + me``; the link of an id is its parent's
id and the index of the action that led to it (``rebuild.py`` turns those into paths).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from cowcheck.engine.balance import Report
from cowcheck.engine.expand import Expander
from cowcheck.engine.limits import EVERY, Limits, peak_rss_mb
from cowcheck.engine.model import Model
from cowcheck.engine.options import SearchOptions
from cowcheck.engine.store import Store, fingerprint
from cowcheck.engine.store.cover import CoverStore
from cowcheck.engine.visitor import Visitor

S = TypeVar("S")
A = TypeVar("A")

# A violation candidate: (parent id, action index, property id, kind, id); kind
# "state" names the new state (whose id is the last field), "transition" the step.
Candidate = tuple[int, int, str, str, int]
# Successors sent to their owner: (state, parent id, action index).
Batch = list[tuple[S, int, int]]
# What a partition answers at the end of a level: its least violation candidate (if
# any) and its figures.
Answer = tuple[list[Candidate], dict[str, Any]]


def search_canon(model: Model[S, A], options: SearchOptions) -> Callable[[S], S]:
    """The canonical form the search stores: up to the model's symmetry where asked
    for and declared (``Capabilities.symmetric``)."""
    sym = model.capabilities().symmetric
    return sym if options.symmetry and sym is not None else model.canonical


class Partition(Generic[S, A]):
    """One partition's share of the search: run in the search's own process, in a
    worker process (``transport/processes.py``) or as a Dask actor
    (``transport/dask.py``)."""

    def __init__(
        self,
        model: Model[S, A],
        options: SearchOptions,
        me: int = 0,
        n: int = 1,
        visitor: Visitor[S, A] | None = None,
        in_process: bool = False,
    ) -> None:
        caps = model.capabilities()
        # In the search's own process its peak memory is the search's, counted once.
        self.in_process = in_process
        self.model = model
        self.me, self.n = me, n
        self.canon = search_canon(model, options)
        self.ex: Expander[S, A] = Expander(model, caps, self.canon, options.por, checks=visitor is None)
        self.visitor = visitor
        # A visitor's walk refuses new states past --max-states but goes on through
        # the states it has, so that they keep their transitions (``_visit_level``).
        self.cap = options.bounds.max_states if visitor is not None else None
        self.refused: str | None = None
        # Subsumption decides a level as a whole, on the states of one core together:
        # routing never looks at the resources, so those states have one owner, and
        # the count is the serial search's whatever the order of arrival.
        self.split = caps.split_resources if options.subsumes and visitor is None else None
        self.level = None if self.split is None else CoverStore(self.split)
        self.seen: Store = options.store.make() if self.level is None else self.level
        # A visitor needs the id of every successor, new or not.
        self.ids: dict[S, int] = {}
        self.parents = array("i" if n == 1 else "q")
        self.acts = array("H")
        self.frontier: list[tuple[int, S]] = []
        self.depth = 0
        # A level in progress: its successors whose key has no owner yet, with
        # (parent, action, key), its violation candidates and the new states of
        # phase 2.
        self._held: list[tuple[S, int, int, object]] = []
        self._bad: list[Candidate] = []
        self._nxt: list[tuple[int, S]] = []
        # The last level's successors: most states sent to another partition again
        # are caught here instead of being encoded, sent and looked up again.
        self._last_level: set[S] = set()
        self.shipped = 0  # states sent to other partitions
        self.cut: str | None = None  # the bound that stopped this partition's level

        # A model may declare a projection of its states that renaming never changes
        # (MMModel: counts of processes, pages, references...): then a successor's
        # owner is known before its canonical form, the owner canonicalises, and a
        # successor that is already a stored representative costs its owner one
        # lookup (see Expander). Under subsumption it must not read the resources.
        # Such keys are few, so their owners come from a directory kept the same in
        # every partition: key fingerprint -> partition (``balance.py``). One
        # partition owns everything and routes nothing.
        self.part_key: Callable[[S], Hashable] | None = caps.partition_key if n > 1 else None
        self.owner: dict[int, int] = {}
        # The same by key, for the keys this partition has met: it spares a
        # fingerprint per successor.
        self._owner_of: dict[object, int] = {}

    # -- ids and stores -----------------------------------------------------------------

    def _meet(self, k: object) -> int:
        """The owner of a partition key not met before, from the directory (-1 if it
        has none yet), remembered by key from now on."""
        o = self.owner.get(fingerprint(k), -1)
        if o >= 0:
            self._owner_of[k] = o
        return o

    def route(self, state: S) -> int:
        """The owner of a state, without a directory: by its fingerprint."""
        return fingerprint(state if self.split is None else self.split(state)[0]) % self.n

    def _record(self, parent: int, ai: int) -> int:
        if ai > 0xFFFF:
            raise OverflowError("more than 65535 actions from one state")
        gid = len(self.parents) * self.n + self.me
        self.parents.append(parent)
        self.acts.append(ai)
        return gid

    def _keep(self, key: S, parent: int, ai: int, bad: list[Candidate], nxt: list[tuple[int, S]]) -> None:
        """Store a successor if it is new, check it, and queue it for the next level."""
        if self.part_key is not None:
            if key in self.seen:
                return
            key = self.canon(key)
        level = self.level
        if level is not None:
            # Decided in _close(); checked now, so that a violation is found as early
            # as without subsumption.
            slot = level.offer(key, parent, ai)
            if slot is None:
                return
            prop = self.ex.bad_state(key)
            if prop is not None:
                gid = self._record(parent, ai)
                level.mark(slot, gid)
                bad.append((parent, ai, prop, "state", gid))
            return
        if not self.seen.add(key):
            return
        gid = self._record(parent, ai)
        prop = self.ex.bad_state(key)
        if prop is not None:
            bad.append((parent, ai, prop, "state", gid))
        nxt.append((gid, key))

    def _close(self, nxt: list[tuple[int, S]]) -> None:
        """The end of a level: under subsumption, keep its uncovered states."""
        if self.level is None:
            return
        for key, parent, ai, gid in self.level.keep():
            nxt.append((gid if gid >= 0 else self._record(parent, ai), key))

    # -- the level loop ----------------------------------------------------------------

    def start(self) -> Answer:
        """The initial states this partition owns."""
        bad: list[Candidate] = []
        canon, pk = self.canon, self.part_key
        for i, init in enumerate(self.model.init_states()):
            key = canon(init)
            if self.visitor is not None:
                self._visit(key, -1, i)
                continue
            if self.n == 1:
                mine = True
            elif pk is None:
                mine = self.route(key) == self.me
            else:
                # Every partition sees every initial state, so each can place their
                # keys itself, by hash: the directory starts the same everywhere.
                fp = fingerprint(pk(key))
                mine = self.owner.setdefault(fp, fp % self.n) == self.me
            if mine:
                self._keep(key, -1, i, bad, self.frontier)
                if bad and self.n == 1:
                    return self._stop(bad)
        self._close(self.frontier)
        return [min(bad)] if bad else [], self.figures()

    def sweep(self, limits: Limits) -> Answer:
        """A whole level of the one-partition search, in the search's own process:
        successors are kept as they are generated, the first violation ends the level,
        and ``limits`` is asked every ``EVERY`` states."""
        if self.visitor is not None:
            return self._visit_level(limits)
        frontier = self.frontier
        nxt: list[tuple[int, S]] = []
        bad: list[Candidate] = []
        ex, seen, level = self.ex, self.seen, self.level
        known = seen.__contains__
        for n, (idx, state) in enumerate(frontier):
            succ, tv = ex.successors(state, known)
            if tv is not None:
                bad.append((idx, tv[0], tv[1], "transition", idx))
                return self._stop(bad)
            for key, ai in succ:
                self._keep(key, idx, ai, bad, nxt)
                if bad:
                    return self._stop(bad)
            if n % EVERY == 0:
                held = level.pending() if level is not None else 0
                more = len(frontier) - n - 1 + len(nxt) + held
                self.cut = limits.within_level(len(self.parents), ex.transitions, more, held)
                if self.cut is not None:
                    return self._stop(bad)
            self.cut = limits.states_reached(len(self.parents), bool(nxt) or n + 1 < len(frontier))
            if self.cut is not None:
                return self._stop(bad)
        self._close(nxt)
        self.frontier = nxt
        self.depth += 1
        return [], self.figures()

    def _stop(self, bad: list[Candidate]) -> Answer:
        """A level ended early, by a violation or a bound: nothing after it is kept."""
        self.frontier = []
        return bad[:1], self.figures()

    # -- a visitor's walk ------------------------------------------------------------------

    def _visit(self, key: S, parent: int, ai: int) -> int:
        """The id of ``key``, stored (and shown to the visitor) if it is new. A state
        that violates an invariant is not expanded, as in the search."""
        gid = self.ids.get(key)
        if gid is not None:
            return gid
        gid = self.ids[key] = self._record(parent, ai)
        assert self.visitor is not None
        violates = next((inv.id for inv in self.ex.invariants if inv.check(key) is not None), "")
        self.visitor.state(gid, key, self.depth + (parent >= 0), violates)
        if not violates:
            (self.frontier if parent < 0 else self._nxt).append((gid, key))
        return gid

    def _visit_level(self, limits: Limits) -> Answer:
        """A level for a visitor: every transition, to a new state or not, is shown;
        no property ends the walk."""
        assert self.visitor is not None
        model, canon, visitor = self.model, self.canon, self.visitor
        frontier, self._nxt = self.frontier, []
        for n, (idx, state) in enumerate(frontier):
            moves: list[A] = []
            for ai, a in enumerate(model.actions(state)):
                step = model.next_step(state, a)
                if step is None:
                    continue
                moves.append(a)
                self.ex.transitions += 1
                key = canon(step.state)
                if self.cap is not None and len(self.parents) >= self.cap and key not in self.ids:
                    self.refused = f"max-states {self.cap} reached"
                    continue  # the states stored so far keep their transitions
                visitor.edge(idx, ai, a, self._visit(key, idx, ai))
            visitor.expanded(idx, state, moves)
            if self.ex.goal_of is not None:
                self.ex.covered.update(self.ex.goal_of(a) for a in moves)
            if n % EVERY == 0:
                more = len(frontier) - n - 1 + len(self._nxt)
                self.cut = limits.within_level(len(self.parents), self.ex.transitions, more)
                if self.cut is not None:
                    return self._stop([])
        self.frontier, self._nxt = self._nxt, []
        self.depth += 1
        return [], self.figures()

    # -- a level over several partitions ------------------------------------------------

    def expand(self) -> tuple[Report, list[Batch[S]]]:
        """Phase 1: the successors of the frontier. Those whose owner is known are
        returned batched by owner (this partition's own batch included), in the order
        they were generated; the rest are held until ``assign``. The report tells the
        coordinator what it needs to name their owners (``balance.py``): the new keys'
        fingerprints with their successor counts, and the count routed to each
        partition."""
        me, n = self.me, self.n
        out: list[Batch[S]] = [[] for _ in range(n)]
        held: list[tuple[S, int, int, object]] = []
        new: dict[object, int] = {}
        bad: list[Candidate] = []
        known, route, pk = self.seen.__contains__, self.route, self.part_key
        owner_of, meet = self._owner_of, self._meet

        def local_dup(s: S) -> bool:
            return pk is None and route(s) == me and known(s)

        # This level's successors, each batched once. A state is hashed anew on
        # every lookup (tuples keep no hash), so each set is asked once per successor.
        level: set[S] = set()
        # Only the last level's are remembered. A successor of another partition
        # that was among them is not sent again: it was sent then, or skipped then
        # because it was among the level's before, and so on back to a level that
        # sent it. Its owner has it, and would only find it a duplicate or covered.
        # That catches most repeats (diamonds of unequal length are short) at a
        # bounded memory cost.
        prev = self._last_level
        for gid, state in self.frontier:
            succ, tv = self.ex.successors(state, local_dup, canonicalise=pk is None)
            if tv is not None and not bad:
                bad.append((gid, tv[0], tv[1], "transition", gid))
            for key, ai in succ:
                size = len(level)
                level.add(key)
                if len(level) == size:
                    continue
                if pk is None:
                    o = route(key)
                else:
                    k = pk(key)
                    o = owner_of.get(k, -1)
                    if o < 0:
                        o = meet(k)
                        if o < 0:
                            # No owner yet, so none of these was sent before.
                            held.append((key, gid, ai, k))
                            new[k] = new.get(k, 0) + 1
                            continue
                if o != me and key in prev:
                    continue
                out[o].append((key, gid, ai))
        self.frontier = []
        self._last_level = level
        self._held = held
        self._bad, self._nxt = bad, []
        routed = [len(b) for b in out]
        self.shipped += sum(routed) - routed[me]
        return ({fingerprint(k): c for k, c in new.items()}, routed), out

    def assign(self, table: dict[int, int]) -> list[Batch[S]]:
        """Record the owners of the new keys; the held successors batched by owner."""
        me = self.me
        self.owner.update(table)
        out: list[Batch[S]] = [[] for _ in range(self.n)]
        owner_of = self._owner_of
        for key, parent, ai, k in self._held:
            o = owner_of.get(k, -1)
            if o < 0:
                o = self._meet(k)  # in the table, now in the directory
            if o != me:
                self.shipped += 1
            out[o].append((key, parent, ai))
        self._held = []
        return out

    def absorb(self, batch: Batch[S]) -> None:
        """Phase 2: keep and check the new states of a batch sent to this partition.
        Batches are taken in a fixed order, since ids are handed out in this order:
        its own successors of known keys, then its own of new keys, then the peers'
        of known keys in sender order, then theirs of new keys. Its own need nothing
        from the peers, so they fill the waits for the slowest peer."""
        bad, nxt = self._bad, self._nxt
        for key, parent, ai in batch:
            self._keep(key, parent, ai, bad, nxt)

    def close(self) -> Answer:
        """The end of phase 2: the new frontier, and this partition's least violation
        candidate of the level."""
        bad, nxt = self._bad, self._nxt
        self._close(nxt)
        self.frontier = nxt
        self.depth += 1
        self._bad, self._nxt = [], []
        return [min(bad)] if bad else [], self.figures()

    # -- questions from the coordinator -----------------------------------------------------

    def can_move(self) -> bool:
        return any(self.ex.can_move(s) for _, s in self.frontier)

    def link(self, gid: int) -> tuple[int, int]:
        i = gid // self.n
        return self.parents[i], self.acts[i]

    def figures(self) -> dict[str, Any]:
        return {
            "states": len(self.parents),
            "transitions": self.ex.transitions,
            "frontier": len(self.frontier),
            "shipped": self.shipped,
            "ample": self.ex.reduced,
            "metrics": dict(self.ex.metric_counts),
            "covered": sorted(self.ex.covered),
            "store_bytes": self.seen.nbytes() + (self.parents.itemsize + self.acts.itemsize) * len(self.parents),
            "exact": self.seen.exact(),
            "subsume": self.split is not None,
            "rss_mb": 0.0 if self.in_process else peak_rss_mb(),
            "cut": self.cut,
            "refused": self.refused,
        }

    def note(self, generated: int) -> str:
        return self.seen.note(generated)
