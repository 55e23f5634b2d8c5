"""Batches of states between partitions (engine/transport/wire.py): what is decoded is what was
encoded, each field value travels once per direction, and anything that is not a
tuple of one NamedTuple class still travels, as a plain pickle."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any, NamedTuple

from cowcheck.api import build_model
from cowcheck.engine.expand import Expander
from cowcheck.engine.transport.wire import Decoder, Encoder


def _levels(scenario: str, depth: int) -> list[list[tuple[Any, int, int]]]:
    """Batches as the partitioned search sends them: the concrete successors of a
    few BFS levels, with (parent, action index)."""
    model = build_model(scenario, "anon-exclusive")
    ex = Expander(model, model.capabilities(), model.canonical)
    frontier = [model.canonical(s) for s in model.init_states()]
    out = []
    for _ in range(depth):
        batch = []
        for gid, state in enumerate(frontier):
            succ, _ = ex.successors(state, lambda s: False, canonicalise=False)
            batch += [(s, gid, ai) for s, ai in succ]
        out.append(batch)
        frontier = list(dict.fromkeys(model.canonical(s) for s, _, _ in batch))[:300]
    return out


def test_mm_states_round_trip_with_each_field_sent_once() -> None:
    levels = _levels("open-standard", 5)
    enc, dec = Encoder(), Decoder()
    sizes = []
    for batch in levels:
        data = enc.encode(batch)
        got = dec.decode(data)
        assert got == batch
        assert [type(s) for s, _, _ in got] == [type(s) for s, _, _ in batch]
        # Fields are rebuilt as the same records (not plain tuples), so the states
        # render and hash as the sender's do.
        for (s, _, _), (t, _, _) in zip(got, batch, strict=True):
            assert [type(f) for f in s] == [type(f) for f in t] and hash(s) == hash(t)
        sizes.append((len(data), len(pickle.dumps(batch, pickle.HIGHEST_PROTOCOL))))
    # Fields are numbered once per direction: sending the same states again costs
    # only their rows, and the receiver's table grows no further.
    known = len(dec.values)
    again = enc.encode(levels[-1])
    assert dec.decode(again) == levels[-1] and len(dec.values) == known
    assert len(again) < sizes[-1][0]
    assert sum(a for a, _ in sizes) < sum(b for _, b in sizes)


def test_decoded_states_share_their_fields() -> None:
    levels = _levels("odirect-swap", 4)
    enc, dec = Encoder(), Decoder()
    got = [s for batch in levels for s, _, _ in dec.decode(enc.encode(batch))]
    by_value: dict[Any, int] = {}
    for s in got:
        for f in s:
            assert by_value.setdefault(f, id(f)) == id(f)


class Pair(NamedTuple):
    a: int
    b: tuple[int, ...]


class Other(NamedTuple):
    a: int
    b: tuple[int, ...]


@dataclass(frozen=True)
class Frozen:
    x: int


def test_what_is_not_one_namedtuple_class_travels_as_a_pickle() -> None:
    enc, dec = Encoder(), Decoder()
    for batch in (
        [],
        [(Frozen(1), 0, 0), (Frozen(2), 0, 1)],
        [(Pair(1, (2,)), 0, 0), (Other(1, (2,)), 1, 0)],  # two classes
        [(frozenset({1}), 3, 4)],
    ):
        got = dec.decode(enc.encode(batch))
        assert got == batch and [type(s) for s, _, _ in got] == [type(s) for s, _, _ in batch]
    # Plain tuples and NamedTuples are encoded as rows; the directions stay in step
    # across the pickled batches in between.
    for batch in ([(((1, 2), (3,)), 5, 6)], [(Pair(1, (2,)), 0, 0), (Pair(1, (3,)), 0, 1)]):
        got = dec.decode(enc.encode(batch))  # type: ignore[arg-type]
        assert got == batch and [type(s) for s, _, _ in got] == [type(s) for s, _, _ in batch]
    # (1, 2), (3,), 1, (2,): the second Pair's (3,) was sent with the plain tuple.
    assert len(dec.values) == len(enc.ids) == 4
