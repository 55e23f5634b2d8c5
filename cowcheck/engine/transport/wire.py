"""Batches of states between two partitions, as bytes.

A state is a tuple of a few fields (an mm's processes, pages, references...), and
most fields of a successor are those of many other states: a level's batch repeats
the same few thousand field values over and over. So the sender numbers each field
value the first time it sends it to a peer, sends the value once, and then sends the
states as rows of numbers; the receiver keeps the values in the same order and
rebuilds the states from them. Pickle walks every nested record of every state;
here a state costs a hash and a lookup per field, and the receiver's states share
their fields, as the sender's did.

A value stands for every value equal to it: the visited store makes the same
identification (equal states are one state), so nothing the search can tell apart is
merged. States that are not tuples of one NamedTuple class (or plain tuples) travel
as plain pickles.

Each direction between two partitions has its own Encoder and Decoder, and the
Decoder must read the batches in the order the Encoder wrote them: both transports
(``processes.py``, ``dask.py``) take a sender's batches in level and phase
order.
"""

from __future__ import annotations

import pickle
from collections.abc import Hashable
from typing import Any

# A batch: (state, parent id, action index) per successor (parallel.Batch).
Batch = list[tuple[Any, int, int]]


def _rebuildable(cls: type) -> bool:
    """Rebuilt with ``tuple.__new__`` without losing anything: a plain tuple or a
    NamedTuple, whose constructor only fills the fields."""
    return cls is tuple or (issubclass(cls, tuple) and hasattr(cls, "_fields"))


class Encoder:
    """One sender's side of one direction."""

    def __init__(self) -> None:
        self.ids: dict[Hashable, int] = {}

    def encode(self, batch: Batch) -> bytes:
        if not batch:
            return pickle.dumps(None)
        cls = type(batch[0][0])
        if not _rebuildable(cls) or any(type(s) is not cls for s, _, _ in batch):
            return pickle.dumps((None, batch), pickle.HIGHEST_PROTOCOL)
        ids = self.ids
        get = ids.get
        new: list[Hashable] = []
        rows: list[tuple[tuple[int | None, ...], int, int]] = []
        for state, parent, ai in batch:
            row = tuple(map(get, state))
            if None in row:
                for value in state:
                    if value not in ids:
                        ids[value] = len(ids)
                        new.append(value)
                row = tuple(map(get, state))
            rows.append((row, parent, ai))
        return pickle.dumps((cls, new, rows), pickle.HIGHEST_PROTOCOL)


class Decoder:
    """One receiver's side of one direction."""

    def __init__(self) -> None:
        self.values: list[Hashable] = []

    def decode(self, data: bytes) -> Batch:
        msg = pickle.loads(data)
        if msg is None:
            return []
        if msg[0] is None:
            batch: Batch = msg[1]
            return batch
        cls, new, rows = msg
        self.values.extend(new)
        value = self.values.__getitem__
        make = tuple.__new__
        return [(make(cls, map(value, row)), parent, ai) for row, parent, ai in rows]
