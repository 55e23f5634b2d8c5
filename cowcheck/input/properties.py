"""The properties in properties/, one file each, by stable id."""

from __future__ import annotations

from functools import cache

from cowcheck.errors import InputError
from cowcheck.input.bundled import properties_dir
from cowcheck.input.pyload import load_module
from cowcheck.mm.property import MMProperty

DEFAULT = ("missed-cow", "wrong-cow", "memory-safety", "unnecessary-cow")


@cache
def all_properties() -> dict[str, MMProperty]:
    props: dict[str, MMProperty] = {}
    for p in sorted(properties_dir().glob("*.py")):
        if p.name.startswith("_"):
            continue
        prop = getattr(load_module(p, "cowcheck_property"), "PROPERTY", None)
        if not isinstance(prop, MMProperty):
            raise InputError(str(p), "PROPERTY", "expected a module-level PROPERTY = MMProperty(...)")
        props[prop.id] = prop
    order = {n: i for i, n in enumerate(DEFAULT)}
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
