"""A write-fault decision as a table: the hole that ``cowcheck synth`` fills.

The page's bookkeeping is projected onto the chosen features (``FEATURES``, the names
``--reuse`` knows); the table maps each projection to reuse or copy, and a projection
it has no entry for is reused (the search for the weakest rule: the checker has to
refute each reuse). The side effect goes with the decision as ``--reuse``'s does
(``reuse_expr.reuse_rule``): a reuse of a page in the swapcache with no swap entry
left drops the swapcache copy first, if the page lock is free."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from cowcheck.errors import InputError
from cowcheck.input.reuse_expr import NAMES
from cowcheck.mm.rule import PageView, Rule, WpDecision

FEATURES = tuple(NAMES)
Vector = tuple[Any, ...]  # the values of the chosen features, in their order


def features(names: Sequence[str] | None) -> tuple[str, ...]:
    """The chosen features, checked (``--features``); all of them by default."""
    if not names:
        return FEATURES
    bad = [n for n in names if n not in NAMES]
    if bad or len(set(names)) != len(names):
        what = f"unknown feature {bad[0]!r}" if bad else "a feature named twice"
        raise InputError("--features", None, f"{what} (expected names among: {', '.join(FEATURES)})")
    return tuple(names)


def project(page: PageView, unshare: bool, names: Sequence[str]) -> Vector:
    env: dict[str, Any] = dict(page._asdict())
    env["maybe_dma_pinned"] = page.maybe_dma_pinned
    env["unshare"] = unshare
    return tuple(env[n] for n in names)


def describe(v: Vector, names: Sequence[str]) -> str:
    """``refcount 2, mapcount 1, !exclusive, swapcache``: flags by name, ! when false."""
    return ", ".join(
        (n if x else f"!{n}") if isinstance(x, bool) else f"{n} {x}" for n, x in zip(names, v, strict=True)
    )


class TableHook:
    """``do_wp_page`` by the table, logging each call's vector and decision."""

    def __init__(self, table: Mapping[Vector, bool], names: Sequence[str], log: list[tuple[Vector, bool]]) -> None:
        self.table, self.names, self.log = table, tuple(names), log

    def __call__(self, page: PageView, unshare: bool) -> WpDecision:
        v = project(page, unshare, self.names)
        reuse = self.table.get(v, True)
        self.log.append((v, reuse))
        free = reuse and page.swapcache and page.swapcount == 0 and not page.locked
        return WpDecision(
            reuse, f"do_wp_page: table[{describe(v, self.names)}] -> {'reuse' if reuse else 'copy'}", free
        )


def table_rule(base: Rule, table: Mapping[Vector, bool], names: Sequence[str], log: list[tuple[Vector, bool]]) -> Rule:
    """``base`` with its ``do_wp_page`` decided by ``table`` (a copy: base is shared)."""
    r = copy.copy(base)
    vars(r)["do_wp_page"] = TableHook(table, names, log)
    return r
