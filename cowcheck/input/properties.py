"""The properties in properties/, one file each, by stable id."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Protocol, TypeVar

from cowcheck.errors import InputError
from cowcheck.input.bundled import properties_dir
from cowcheck.input.pyload import load_module
from cowcheck.mm.property import MMProperty

DEFAULT = ("missed-cow", "wrong-cow", "memory-safety", "unnecessary-cow")


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


P = TypeVar("P", bound=_Identified)


@cache
def all_properties() -> dict[str, MMProperty]:
    return properties_in(properties_dir(), MMProperty, DEFAULT, "cowcheck_property")


def properties_in(directory: Path, kind: type[P], first: Sequence[str], prefix: str) -> dict[str, P]:
    """The property files of ``directory`` (any family's: each a module-level
    ``PROPERTY``, an instance of ``kind``), by id: ``first`` in its order, then the
    rest by id."""
    props: dict[str, P] = {}
    for p in sorted(directory.glob("*.py")):
        if p.name.startswith("_"):
            continue
        prop = getattr(load_module(p, prefix), "PROPERTY", None)
        if not isinstance(prop, kind):
            raise InputError(str(p), "PROPERTY", f"expected a module-level PROPERTY = {kind.__name__}(...)")
        props[prop.id] = prop
    order = {n: i for i, n in enumerate(first)}
    return dict(sorted(props.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def select(ids: list[str] | None) -> tuple[list[MMProperty], list[str]]:
    """The properties to check (metrics always included) and the metrics asked to fail."""
    props = all_properties()
    if not ids:
        return list(props.values()), []
    for i in ids:
        if i not in props:
            raise InputError("--property", None, f"unknown property {i!r} (expected one of: {', '.join(props)})")
    chosen = [props[i] for i in ids]
    failing = [p.id for p in chosen if p.metric]
    chosen += [p for p in props.values() if p.metric and p.id not in ids]
    return chosen, failing
