"""The smallest ``--reuse`` expression that gives a table's every entry its answer.

Expressions are enumerated by size over atoms (a flag or its negation; ``f == c``
and ``f <= c`` for a counter and a constant it takes in the table), joined by
``and`` / ``or``. Each expression is the set of entries it reuses, as a bitmask, so an
expression of size n is two masks combined, one kept per mask (the shortest text),
and the search stops at the first size with the table's own mask. The result
generalises beyond the table, so it has to be checked again (``cegis.reverify``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from cowcheck.synth.table import Vector


def smallest(table: Mapping[Vector, bool], names: Sequence[str], max_size: int = 4) -> str | None:
    """The expression, or None if none of up to ``max_size`` atoms agrees."""
    rows = sorted(table, key=repr)
    want = sum(1 << i for i, v in enumerate(rows) if table[v])
    by_size: dict[int, dict[int, str]] = {1: {}}
    for text, pred in _atoms(rows, names):
        _keep(by_size[1], sum(1 << i for i, v in enumerate(rows) if pred(v)), text)
    for size in range(1, max_size + 1):
        if size > 1:
            by_size[size] = {}
            for a in range(1, size // 2 + 1):
                for ma, ta in by_size[a].items():
                    for mb, tb in by_size[size - a].items():
                        _keep(by_size[size], ma & mb, f"({ta}) and ({tb})")
                        _keep(by_size[size], ma | mb, f"({ta}) or ({tb})")
        if want in by_size[size]:
            return _tidy(by_size[size][want])
    return None


def _atoms(rows: Sequence[Vector], names: Sequence[str]) -> list[tuple[str, Callable[[Vector], bool]]]:
    out: list[tuple[str, Callable[[Vector], bool]]] = []
    for k, n in enumerate(names):
        if all(isinstance(v[k], bool) for v in rows):
            out += [(n, _flag(k, True)), (f"not {n}", _flag(k, False))]
            continue
        for c in sorted({int(v[k]) for v in rows}):
            out += [(f"{n} == {c}", _count(k, c, exact=True)), (f"{n} <= {c}", _count(k, c, exact=False))]
    return out


def _flag(k: int, value: bool) -> Callable[[Vector], bool]:
    def pred(v: Vector) -> bool:
        return bool(v[k]) == value

    return pred


def _count(k: int, c: int, exact: bool) -> Callable[[Vector], bool]:
    def pred(v: Vector) -> bool:
        return int(v[k]) == c if exact else int(v[k]) <= c

    return pred


def _keep(level: dict[int, str], m: int, text: str) -> None:
    """One expression per mask: the first of the shortest."""
    old = level.get(m)
    if old is None or len(text) < len(old):
        level[m] = text


def _tidy(text: str) -> str:
    """Drop the parentheses around a single atom: ``(exclusive) or (refcount == 1)``
    reads ``exclusive or refcount == 1``."""
    import re

    return re.sub(r"\(((?:not )?[a-z_]+(?: (?:==|<=) \d+)?)\)", r"\1", text)
