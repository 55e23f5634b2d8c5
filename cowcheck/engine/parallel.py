"""Partitioned, level-synchronous BFS over worker processes (``--workers N``).

Each canonical state has one owner, which keeps its visited store, parent links and
frontier. Where the model names a partition key (a projection renaming never
changes), the owner is the key's, from a directory that the coordinator fills as
keys first appear, balancing the load (``balance.py``): such keys are too few for
``hash % N`` to split evenly. Otherwise the owner is the state's fingerprint modulo N.

A level runs in two phases. Each worker expands its frontier, sends the successors
whose owner is known to it, one batch per peer, and reports the keys no one owns
yet; the coordinator names their owners and each worker sends the rest the same way.
Then each worker takes the batches in a fixed order, keeps the new states and checks
them. The coordinator only steps the levels, assigns keys and gathers figures, so
every level is complete before the next starts and the first violation is a shortest
one. Among the violations of one level the one with the least (parent id, action
index) wins, and ids are handed out in a fixed order, so a run with N workers gives
the same trace every time, and the same state count as the serial search.

States travel through ``multiprocessing`` queues, encoded by ``wire.py``; the model
reaches the workers by fork(), so rules loaded from files need not be importable.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from array import array
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, Protocol, TypeVar

from cowcheck.engine.balance import Report, assign
from cowcheck.engine.bfs import peak_rss_mb
from cowcheck.engine.errors import WorkerDied, how_it_ended, portable
from cowcheck.engine.expand import Expander
from cowcheck.engine.model import UNREACHED, Model
from cowcheck.engine.options import Bounds
from cowcheck.engine.rebuild import chain, concrete_violation, maximal_run
from cowcheck.engine.result import SearchResult, Stats, Verdict
from cowcheck.engine.signals import Deadline, Interrupted, SearchTimeout, become_worker, forking, interrupted_reason
from cowcheck.engine.store import Store, StoreSpec, fingerprint
from cowcheck.engine.subsume import CoverStore, subsumption
from cowcheck.engine.wire import Decoder, Encoder

S = TypeVar("S")
A = TypeVar("A")

# The most worker processes on this machine (--workers/-j). A fixed number, not one
# relative to os.cpu_count(), so that a command valid on one machine is valid on every
# other; 64 because a worker is a whole search process (its own store, ~100 MB and
# more), more workers than cores only share the cores, and a level exchanges N²
# batches. It also keeps the pipes and queues (about 2N + 4 descriptors in every
# process) far below the usual limit of 1024 open files.
MAX_WORKERS = 64
# The message that carries a worker's exception instead of an answer.
_FAILED = "cowcheck: worker failed"

# A violation candidate: (parent id, action index, property id, kind); kind "state"
# names the new state, "transition" the step itself.
Candidate = tuple[int, int, str, str, int]
# Successors sent to their owner: (state, parent id, action index).
Batch = list[tuple[S, int, int]]


class Partition(Generic[S, A]):
    """One worker's share of the search: usable in a process (here) or as a
    distributed actor (``distributed.py``)."""

    def __init__(self, model: Model[S, A], spec: StoreSpec, me: int, n: int, subsume: bool = False) -> None:
        self.model = model
        self.me, self.n = me, n
        self.ex: Expander[S, A] = Expander(model)
        # Subsumption decides a level as a whole, on the states of one core together:
        # routing never looks at the resources, so those states have one owner, and
        # the count is the serial search's whatever the order of arrival.
        self.split = subsumption(model, spec, subsume)
        self.level = None if self.split is None else CoverStore(self.split)
        self.seen: Store = spec.make() if self.level is None else self.level
        self.parents = array("q")
        self.acts = array("H")
        self.frontier: list[tuple[int, S]] = []
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

        # A model may name a projection of its states that renaming never changes
        # (MMModel: counts of processes, pages, references...): then a successor's
        # owner is known before its canonical form, the owner canonicalises, and a
        # successor that is already a stored representative costs its owner one
        # lookup (see Expander). Under subsumption it must not read the resources.
        # Such keys are few, so their owners come from a directory kept the same in
        # every partition: key fingerprint -> worker (``balance.py``).
        self.part_key: Callable[[S], object] | None = getattr(model, "partition_key", None)
        self.owner: dict[int, int] = {}
        # The same by key, for the keys this partition has met: it spares a
        # fingerprint per successor.
        self._owner_of: dict[object, int] = {}

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
        gid = len(self.parents) * self.n + self.me
        self.parents.append(parent)
        self.acts.append(ai)
        return gid

    def _keep(self, key: S, parent: int, ai: int, bad: list[Candidate], nxt: list[tuple[int, S]]) -> None:
        if self.part_key is not None:
            if key in self.seen:
                return
            key = self.model.canonical(key)
        level = self.level
        if level is not None:
            # Decided in _close(); checked now, as in the serial search.
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
        """The end of a level's phase 2: under subsumption, keep its uncovered states."""
        if self.level is None:
            return
        for key, parent, ai, gid in self.level.keep():
            nxt.append((gid if gid >= 0 else self._record(parent, ai), key))

    def start(self) -> list[Candidate]:
        bad: list[Candidate] = []
        canon, pk = self.model.canonical, self.part_key
        for i, init in enumerate(self.model.init_states()):
            key = canon(init)
            if pk is None:
                mine = self.route(key) == self.me
            else:
                # Every worker sees every initial state, so each can place their keys
                # itself, by hash: the directory starts the same everywhere.
                fp = fingerprint(pk(key))
                mine = self.owner.setdefault(fp, fp % self.n) == self.me
            if mine:
                self._keep(key, -1, i, bad, self.frontier)
        self._close(self.frontier)
        return [min(bad)] if bad else []

    def expand(self) -> tuple[Report, list[Batch[S]]]:
        """Phase 1: the successors of the frontier. Those whose owner is known are
        returned batched by owner (this partition's own batch included), in the order
        they were generated; the rest are held until ``assign``. The report tells the
        coordinator what it needs to name their owners (``balance.py``): the new keys'
        fingerprints with their successor counts, and the count routed to each worker."""
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

    def close(self) -> list[Candidate]:
        """The end of phase 2: the new frontier, and this partition's least violation
        candidate of the level."""
        bad, nxt = self._bad, self._nxt
        self._close(nxt)
        self.frontier = nxt
        self._bad, self._nxt = [], []
        return [min(bad)] if bad else []

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
            "metrics": dict(self.ex.metric_counts),
            "covered": sorted(self.ex.covered),
            "store_bytes": self.seen.nbytes() + (self.parents.itemsize + self.acts.itemsize) * len(self.parents),
            "exact": self.seen.exact(),
            "subsume": self.split is not None,
            "rss_mb": peak_rss_mb(),
        }

    def note(self, generated: int) -> str:
        return self.seen.note(generated)


def _serve(part: Partition[Any, Any], conn: Connection, inboxes: list[Any], parent: int) -> None:
    become_worker(parent)  # the coordinator handles Ctrl-C and SIGTERM, and ends us
    try:
        _serve_commands(part, conn, inboxes)
    except BaseException as e:
        # The coordinator raises it (a rule file's error is the user's, with its line).
        with contextlib.suppress(BaseException):  # the coordinator may be gone
            conn.send((_FAILED, portable(e, f"search worker {part.me}")))


def _serve_commands(part: Partition[Any, Any], conn: Connection, inboxes: list[Any]) -> None:
    import gc

    gc.disable()
    me, n = part.me, part.n
    early: list[tuple[int, int, bytes]] = []  # peers' batches of the phase not yet taken
    encoders = [Encoder() for _ in range(n)]  # per peer
    decoders = [Decoder() for _ in range(n)]  # per sender

    def send(batches: list[Batch[Any]], phase: int) -> None:
        # Encoded here, not by the queue's feeder thread: that thread would compete
        # for the GIL with absorb() and hold the peers up.
        for o in range(n):
            if o != me:
                inboxes[o].put((me, phase, encoders[o].encode(batches[o])))

    def absorb_peers(phase: int) -> None:
        got = {sender: data for sender, ph, data in early if ph == phase}
        early[:] = [m for m in early if m[1] != phase]
        while len(got) < n - 1:
            sender, ph, data = inboxes[me].get()
            if ph == phase:
                got[sender] = data
            else:
                early.append((sender, ph, data))
        for sender in sorted(got):
            part.absorb(decoders[sender].decode(got[sender]))

    while True:
        cmd, arg = conn.recv()
        if cmd == "start":
            conn.send((part.start(), part.figures()))
        elif cmd == "expand":
            # Successors whose owner is known travel at once; the coordinator names
            # the owners of the rest meanwhile.
            report, known = part.expand()
            send(known, 0)
            conn.send(report)
            part.absorb(known[me])
        elif cmd == "exchange":
            held = part.assign(arg)
            send(held, 1)
            part.absorb(held[me])
            absorb_peers(0)
            absorb_peers(1)
            conn.send((part.close(), part.figures()))
        elif cmd == "can_move":
            conn.send(part.can_move())
        elif cmd == "link":
            conn.send(part.link(arg))
        elif cmd == "note":
            conn.send(part.note(arg))
        else:
            conn.send(None)
            return


class Cluster(Protocol):
    """Anything that runs N partitions: ``call`` sends one command to every
    partition and returns their answers in partition order.

    A protocol, not a base class: the compiled build compiles this module, and an
    interpreted class (distributed.py's) cannot subclass a compiled one."""

    n: int
    label: str  # shown in the summary when not local processes ("")

    def call(self, cmd: str, arg: Any = None) -> list[Any]: ...

    def ask(self, w: int, cmd: str, arg: Any = None) -> Any: ...

    def close(self) -> None: ...


class ProcessCluster:
    """N forked workers. They die with the coordinator (``become_worker``); a worker
    that raises sends its exception, which ``call`` raises here; one that dies ends the
    search with WorkerDied, naming it and how it ended."""

    def __init__(self, model: Model[Any, Any], spec: StoreSpec, n: int, subsume: bool = False) -> None:
        ctx = mp.get_context("fork")
        self.n = n
        self.label = ""
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        self.inboxes = [ctx.Queue() for _ in range(n)]
        try:
            for w in range(n):
                mine, theirs = ctx.Pipe()
                part = Partition(model, spec, w, n, subsume)
                p = ctx.Process(target=_serve, args=(part, theirs, self.inboxes, os.getpid()), daemon=True)
                with forking():  # a signal lands after the worker is on the list
                    p.start()
                    self.conns.append(mine)
                    self.procs.append(p)
                theirs.close()  # the worker's end: its death then reads as EOF here
        except BaseException:
            self.close()  # a signal, or no more processes: none left behind
            raise

    def _died(self, w: int) -> WorkerDied:
        p = self.procs[w]
        p.join(1)
        return WorkerDied(
            f"search worker {w} of {self.n} (pid {p.pid}) {how_it_ended(p.exitcode)}; "
            "the search cannot go on without its states"
        )

    def _answer(self, w: int) -> Any:
        """Worker ``w``'s answer, which is waiting; its exception raised here."""
        try:
            msg = self.conns[w].recv()
        except (EOFError, OSError):
            raise self._died(w) from None
        if isinstance(msg, tuple) and len(msg) == 2 and msg[0] == _FAILED:
            raise msg[1]
        return msg

    def _recv(self, w: int) -> Any:
        conn = self.conns[w]
        sentinels = {p.sentinel: i for i, p in enumerate(self.procs)}
        while True:
            # An answer first: a worker that failed sent why before it ended.
            if conn.poll():
                return self._answer(w)
            ready = wait([conn, *sentinels])
            for r in ready:
                i = sentinels.get(r) if isinstance(r, int) else None
                if i is not None:
                    # A peer ended: w may wait for its batches forever.
                    if self.conns[i].poll():
                        self._answer(i)  # raises what it sent, or that it died
                    raise self._died(i)

    def _send(self, w: int, cmd: str, arg: Any) -> None:
        try:
            self.conns[w].send((cmd, arg))
        except OSError:  # its end is closed: it died
            raise self._died(w) from None

    def call(self, cmd: str, arg: Any = None) -> list[Any]:
        for w in range(self.n):
            self._send(w, cmd, arg)
        return [self._recv(w) for w in range(self.n)]

    def ask(self, w: int, cmd: str, arg: Any = None) -> Any:
        self._send(w, cmd, arg)
        return self._recv(w)

    def close(self) -> None:
        # SIGKILL: the workers ignore SIGTERM (the coordinator decides), and hold
        # nothing that needs a clean exit.
        for p in self.procs:
            if p.exitcode is None:
                p.kill()
        for p in self.procs:
            p.join()
        for c in self.conns:
            c.close()
        for q in self.inboxes:
            q.close()
            q.cancel_join_thread()


def run_levels(
    model: Model[S, A],
    cluster: Cluster,
    bounds: Bounds,
    progress: Callable[[Stats, int], None] | None,
) -> SearchResult[S, A]:
    """The coordinator's loop, shared by the process and the distributed clusters."""
    stats = Stats(workers=cluster.n, cluster=cluster.label)
    start = time.perf_counter()
    figures: list[dict[str, Any]] = []
    reason: str | None = None
    metrics: dict[str, int] = {}
    cut = False  # stopped mid-level, by a signal or the deadline

    def tally(answers: list[tuple[list[Candidate], dict[str, Any]]]) -> list[Candidate]:
        nonlocal figures, metrics
        figures = [f for _, f in answers]
        stats.subsume = all(f["subsume"] for f in figures)
        stats.states = sum(f["states"] for f in figures)
        stats.owned = tuple(f["states"] for f in figures)
        stats.shipped = sum(f["shipped"] for f in figures)
        stats.transitions = sum(f["transitions"] for f in figures)
        stats.seconds = time.perf_counter() - start
        metrics = {}
        for f in figures:
            for k, v in f["metrics"].items():
                metrics[k] = metrics.get(k, 0) + v
        return sorted(c for bad, _ in answers for c in bad)

    def finish(verdict: Verdict, cand: Candidate | None = None) -> SearchResult[S, A]:
        timer.cancel()
        stats.seconds = time.perf_counter() - start
        stats.peak_rss_mb = peak_rss_mb() + sum(f["rss_mb"] for f in figures)
        stats.store_bytes = sum(f["store_bytes"] for f in figures)
        # Cut mid-level, the workers may be anywhere (in a rule hook that never returns,
        # even): ask them nothing more. The figures are the last finished level's.
        stats.store = str(reason) if cut else cluster.ask(0, "note", stats.transitions)
        violation = None
        r = reason
        if cand is not None:
            parent, ai, prop, kind, gid = cand
            init_index, path = chain(
                lambda g: cluster.ask(g % cluster.n, "link", g), gid if kind == "state" else parent
            )
            if kind == "transition":
                path.append(ai)
            violation = concrete_violation(model, init_index, path, prop, kind == "transition")
        elif verdict is Verdict.HOLDS and not all(f["exact"] for f in figures):
            verdict, r = Verdict.INCOMPLETE, stats.store
        elif verdict is Verdict.HOLDS:
            covered = {g for f in figures for g in f["covered"]}
            dead = Expander(model).dead_goals(covered)
            if dead:
                verdict = Verdict.VIOLATED
                violation = maximal_run(model, UNREACHED, "runs on no path: " + "; ".join(dead))
        return SearchResult(verdict, stats, violation, r, metrics)

    # The coordinator waits on the workers: the deadline there stops the search wherever
    # its time goes, a worker's rule hook that never returns included.
    timer = Deadline(bounds.timeout)
    try:
        timer.start()
        bad = tally(cluster.call("start"))
        if bad:
            return finish(Verdict.VIOLATED, bad[0])
        depth = 0
        while sum(f["frontier"] for f in figures):
            stats.max_depth = depth
            if bounds.max_depth is not None and depth >= bounds.max_depth:
                if any(cluster.call("can_move")):
                    reason = f"max-depth {bounds.max_depth} reached"
                break
            # A level: phase 1, the owners of its new keys, phase 2.
            bad = tally(cluster.call("exchange", assign(cluster.call("expand"))))
            if bad:
                stats.max_depth = depth + 1
                return finish(Verdict.VIOLATED, bad[0])
            depth += 1
            queue = sum(f["frontier"] for f in figures)
            if progress is not None:
                progress(stats, queue)
            if not queue:
                break
            if bounds.max_states is not None and stats.states >= bounds.max_states:
                reason = f"max-states {bounds.max_states} reached"
                return finish(Verdict.INCOMPLETE)
            if bounds.timeout is not None and time.perf_counter() - start > bounds.timeout:
                reason = f"timeout {bounds.timeout:g}s reached"
                return finish(Verdict.INCOMPLETE)
            rss = sum(f["rss_mb"] for f in figures)
            if bounds.max_memory_mb is not None and rss > bounds.max_memory_mb:
                reason = f"max-memory {bounds.max_memory_mb} MiB reached"
                return finish(Verdict.INCOMPLETE)
    except (KeyboardInterrupt, Interrupted) as e:
        reason, cut = interrupted_reason(e), True
        return finish(Verdict.INCOMPLETE)
    except SearchTimeout:
        reason, cut = f"timeout {bounds.timeout:g}s reached", True
        return finish(Verdict.INCOMPLETE)
    finally:
        timer.cancel()
    return finish(Verdict.INCOMPLETE if reason else Verdict.HOLDS)


def search_parallel(
    model: Model[S, A],
    bounds: Bounds | None = None,
    progress: Callable[[Stats, int], None] | None = None,
    store: StoreSpec | str = "exact",
    workers: int = 2,
    subsume: bool = False,
) -> SearchResult[S, A]:
    spec = StoreSpec.parse(store) if isinstance(store, str) else store
    cluster = ProcessCluster(model, spec, workers, subsume)
    try:
        return run_levels(model, cluster, bounds or Bounds(), progress)
    finally:
        cluster.close()
