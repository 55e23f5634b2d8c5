"""The partitioned search (``partition.py``) on a Dask cluster (``--dask ADDRESS``).

Why Dask and not Ray: the search needs long-lived, stateful partitions (each keeps its
visited store, parent links and frontier across levels), which both offer as actors;
Dask's are pure-Python wheels (dask + distributed, ~2.5 MB, no C++ runtime) where Ray
is a ~79 MB binary wheel with its own object store and raylet, and Dask's scheduler
runs anywhere Python does (``dask scheduler`` / ``dask worker``, SSH, Kubernetes, HPC
job queues through dask-jobqueue).

Each partition is a Dask actor wrapping a ``Partition``. A level is three
rounds: every actor expands its frontier, keeps one encoded batch per owner of the
successors whose owner is known, and reports the partition keys no worker owns yet;
the coordinator names their owners (``engine/balance.py``) and every actor batches the rest
the same way (states are batched per level and peer, so a level costs 2N² messages
whatever its size); then every actor pulls its batches straight from its
peers (``take`` is a coroutine, so it runs on the worker's event loop while the
actor's thread is busy absorbing) and keeps the new states. Only verdict candidates,
key counts, figures and parent links travel through the coordinator, so a trace is
rebuilt exactly as in the process mode, and the state count is the serial search's.

The model reaches the workers as a cloudpickle: rule and property files loaded by path
are pickled by value (``pyload.loaded_modules``), so workers need cowcheck installed
but not the user's files.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from cowcheck.engine.balance import Report
from cowcheck.engine.model import Model
from cowcheck.engine.options import MAX_WORKERS, SearchOptions
from cowcheck.engine.partition import Answer, Partition
from cowcheck.engine.transport import Partitioned
from cowcheck.engine.transport.wire import Decoder, Encoder


class PartitionActor:
    """One partition living on a Dask worker."""

    def __init__(self, blob: bytes, options: SearchOptions, me: int, n: int) -> None:
        import gc

        import cloudpickle

        # States are acyclic tuples: the cyclic collector only rescans the growing
        # visited set (as in the serial search). It stays off in this worker process
        # until the worker exits; the worker is the search's.
        gc.disable()
        self.part: Partition[Any, Any] = Partition(cloudpickle.loads(blob), options, me, n)
        self.me = me
        self.outbox: list[list[bytes]] = [[], []]  # per phase: known owners, then new keys
        self.encoders = [Encoder() for _ in range(n)]  # per peer
        self.decoders = [Decoder() for _ in range(n)]  # per sender

    def start(self) -> Answer:
        return self.part.start()

    def expand(self) -> Report:
        report, known = self.part.expand()
        self._post(0, known)
        return report

    def assign(self, table: dict[int, int]) -> None:
        self._post(1, self.part.assign(table))

    def absorb(self, peers: list[Any]) -> Answer:
        self._absorb_peers(peers, 0)
        self._absorb_peers(peers, 1)
        return self.part.close()

    def _post(self, phase: int, batches: list[Any]) -> None:
        """Keep the peers' batches encoded for them to pull; absorb our own. An
        outbox stays until the same phase of the next level: peers may still be
        pulling from it."""
        self.outbox[phase] = [b"" if i == self.me else self.encoders[i].encode(b) for i, b in enumerate(batches)]
        self.part.absorb(batches[self.me])

    def _absorb_peers(self, peers: list[Any], phase: int) -> None:
        # Ask every peer at once, then wait: the pulls overlap. A peer on this same
        # worker is called directly, and Dask then hands back the bare coroutine.
        # Each peer's batches are decoded in the order it encoded them (wire.py).
        pending = [(i, p.take(self.me, phase)) for i, p in enumerate(peers) if i != self.me]
        for i, f in pending:
            self.part.absorb(self.decoders[i].decode(_value(f)))

    async def take(self, owner: int, phase: int) -> bytes:
        return self.outbox[phase][owner]

    def can_move(self) -> bool:
        return self.part.can_move()

    def link(self, gid: int) -> tuple[int, int]:
        return self.part.link(gid)

    def note(self, generated: int) -> str:
        return self.part.note(generated)


def _value(f: Any) -> Any:
    return asyncio.run(f) if inspect.iscoroutine(f) else f.result()


class ClusterError(Exception):
    """The address is malformed, nothing answers there, or the cluster has no workers."""


class DaskCluster:
    """N partition actors spread over the workers of a Dask client."""

    def __init__(
        self, client: Any, model: Model[Any, Any], options: SearchOptions, n: int, label: str = "Dask"
    ) -> None:
        import cloudpickle

        from cowcheck.input.pyload import loaded_modules

        for mod in loaded_modules():
            cloudpickle.register_pickle_by_value(mod)
        blob = cloudpickle.dumps(model)
        self.n = n
        self.label = label
        self.client = client
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise ClusterError(f"the Dask scheduler {label.removeprefix('Dask ')!r} has no workers")
        # Round-robin over the workers, so partitions spread evenly.
        futs = [
            client.submit(
                PartitionActor, blob, options, w, n, actor=True, workers=[workers[w % len(workers)]], pure=False
            )
            for w in range(n)
        ]
        self.actors = [f.result() for f in futs]

    def call(self, cmd: str, arg: Any = None) -> list[Any]:
        if cmd == "exchange":
            # Every outbox is filled before any peer pulls from it.
            for f in [a.assign(arg) for a in self.actors]:
                f.result()
            return [f.result() for f in [a.absorb(self.actors) for a in self.actors]]
        return [f.result() for f in [getattr(a, cmd)(*([] if arg is None else [arg])) for a in self.actors]]

    def ask(self, w: int, cmd: str, arg: Any = None) -> Any:
        return getattr(self.actors[w], cmd)(*([] if arg is None else [arg])).result()

    def close(self) -> None:
        self.actors = []


def connect(address: str, n: int | None, timeout: float = 20) -> tuple[Any, Callable[[], None], int]:
    """A Dask client for ``address``: ``local`` or ``local:N`` starts a LocalCluster of
    N single-threaded worker processes (default 2); anything else is a scheduler
    address (``tcp://host:8786``). Returns the client, how to close it, and the number
    of partitions (``n``, else one per worker thread)."""
    from distributed import Client, LocalCluster

    if address == "local" or address.startswith("local:"):
        count = address.partition(":")[2] or "2"
        if not (count.isascii() and count.isdigit() and 0 < int(count) <= MAX_WORKERS):
            raise ClusterError(
                f"expected local, local:N (N from 1 to {MAX_WORKERS}) or a scheduler address, got {address!r}"
            )
        nw = int(count)
        cluster = LocalCluster(n_workers=nw, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()

    else:
        try:
            client = Client(address, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as e:
            raise ClusterError(f"cannot reach the Dask scheduler at {address!r}: {e}") from None
        close = client.close
    threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
    return client, close, n or max(1, threads)


class DaskTransport(Partitioned):
    """The partitions as Dask actors; closing it closes the client (and the local
    cluster it started)."""

    def __init__(self, model: Model[Any, Any], options: SearchOptions) -> None:
        assert options.dask is not None
        client, self._close_client, n = connect(options.dask, options.workers if options.workers > 1 else None)
        try:
            super().__init__(DaskCluster(client, model, options, n, f"Dask {options.dask}"))
        except BaseException:
            self._close_client()
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._close_client()
