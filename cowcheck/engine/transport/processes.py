"""The partitions of a search in forked worker processes (``--workers N``).

Each worker holds one ``Partition`` and answers the coordinator's commands over a
pipe; the states of a level travel between workers through ``multiprocessing``
queues, encoded by ``wire.py``. The model reaches the workers by fork(), so rules
loaded from files need not be importable.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from multiprocessing.connection import Connection, wait
from typing import Any

from cowcheck.engine.errors import WorkerDied, how_it_ended, portable
from cowcheck.engine.model import Model
from cowcheck.engine.options import SearchOptions
from cowcheck.engine.partition import Batch, Partition
from cowcheck.engine.signals import become_worker, forking
from cowcheck.engine.transport.wire import Decoder, Encoder

# The message that carries a worker's exception instead of an answer.
_FAILED = "cowcheck: worker failed"


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
            conn.send(part.start())
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
            conn.send(part.close())
        elif cmd == "can_move":
            conn.send(part.can_move())
        elif cmd == "link":
            conn.send(part.link(arg))
        elif cmd == "note":
            conn.send(part.note(arg))
        else:
            conn.send(None)
            return


class ProcessCluster:
    """N forked workers. They die with the coordinator (``become_worker``); a worker
    that raises sends its exception, which ``call`` raises here; one that dies ends the
    search with WorkerDied, naming it and how it ended."""

    def __init__(self, model: Model[Any, Any], options: SearchOptions, n: int) -> None:
        ctx = mp.get_context("fork")
        self.n = n
        self.label = ""
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        self.inboxes = [ctx.Queue() for _ in range(n)]
        try:
            for w in range(n):
                mine, theirs = ctx.Pipe()
                part = Partition(model, options, w, n)
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
