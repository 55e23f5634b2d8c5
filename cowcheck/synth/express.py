"""The smallest ``--reuse`` expression that agrees with a table on every entry a
counterexample constrained: entries no counterexample reached are don't-cares, but
a constrained copy never becomes a reuse.

Expressions are enumerated by size over atoms (a flag or its negation; ``f == c``
and ``f <= c`` for a counter and a constant it takes in the table), joined by
``and`` / ``or``. Each expression is its set of entries as a bitmask, so an
expression of size n is two masks combined, and the search stops at the first size
with one that agrees: reuse entries in, copy entries out. Among those, the one that
reuses the most constrained-or-not entries of the table comes first (the weakest),
then the shortest text. The result generalises beyond the table, so it has to be
checked again (``cegis.synthesise`` does)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from cowcheck.synth.table import Vector

FLAGS = ("exclusive", "swapcache", "locked", "unshare", "maybe_dma_pinned")


def smallest(
    table: Mapping[Vector, bool], constrained: set[Vector], names: Sequence[str], max_size: int = 4
) -> str | None:
    """The expression, or None if none of up to ``max_size`` atoms agrees."""
    rows = sorted(constrained, key=repr)
    want = sum(1 << i for i, v in enumerate(rows) if table[v])
    avoid = sum(1 << i for i, v in enumerate(rows) if not table[v])
    every = sorted(table, key=repr)

    def mask(pred: Callable[[Vector], bool], over: Sequence[Vector]) -> int:
        return sum(1 << i for i, v in enumerate(over) if pred(v))

    atoms: list[tuple[str, int, int]] = []  # text, mask over constrained rows, mask over the table
    for text, pred in _atoms(table, names):
        atoms.append((text, mask(pred, rows), mask(pred, every)))
    by_size: dict[int, dict[int, tuple[str, int]]] = {1: {}}
    for text, m, t in atoms:
        _keep(by_size[1], m, text, t)
    for size in range(1, max_size + 1):
        if size > 1:
            by_size[size] = {}
            for a in range(1, size // 2 + 1):
                for ma, (ta, wa) in by_size[a].items():
                    for mb, (tb, wb) in by_size[size - a].items():
                        _keep(by_size[size], ma & mb, f"({ta}) and ({tb})", wa & wb)
                        _keep(by_size[size], ma | mb, f"({ta}) or ({tb})", wa | wb)
        fits = [(w, text) for m, (text, w) in by_size[size].items() if m & want == want and not m & avoid]
        if fits:
            best = max(fits, key=lambda f: (bin(f[0]).count("1"), -len(f[1]), f[1]))
            return _tidy(best[1])
    return None


def _atoms(table: Mapping[Vector, bool], names: Sequence[str]) -> list[tuple[str, Callable[[Vector], bool]]]:
    out: list[tuple[str, Callable[[Vector], bool]]] = []
    for k, n in enumerate(names):
        if n in FLAGS:
            out += [(n, _flag(k, True)), (f"not {n}", _flag(k, False))]
            continue
        for c in sorted({int(v[k]) for v in table}):
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


def _keep(level: dict[int, tuple[str, int]], m: int, text: str, wide: int) -> None:
    """One expression per mask over the constrained rows: the weakest, then the shortest."""
    old = level.get(m)
    if old is None or (bin(wide).count("1"), -len(text)) > (bin(old[1]).count("1"), -len(old[0])):
        level[m] = (text, wide)


def _tidy(text: str) -> str:
    """Drop the parentheses around a single atom: ``(exclusive) or (refcount == 1)``
    reads ``exclusive or refcount == 1``."""
    import re

    return re.sub(r"\(((?:not )?[a-z_]+(?: (?:==|<=) \d+)?)\)", r"\1", text)
