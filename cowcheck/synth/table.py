"""Decisions as tables: the holes that ``cowcheck synth`` fills.

The page's bookkeeping is projected onto the chosen features (``FEATURES``, the names
``--reuse`` knows); the table maps each projection to reuse or copy, and a projection
it has no entry for is reused (the search for the weakest rule: the checker has to
refute each reuse). The side effect goes with the decision as ``--reuse``'s does
(``reuse_expr.reuse_rule``): a reuse of a page in the swapcache with no swap entry
left drops the swapcache copy first, if the page lock is free.

More holes (``--hole``): ``gup_must_unshare`` (whether GUP must unshare a R/O page
first) and ``fork_present`` (whether fork copies the page for the child now) and
``do_swap_page`` (whether a swapped-in page is mapped exclusive), each
keyed by the page's projection and the hook's own arguments, the key tagged with the
hook's name; an unseen key gets the cheap answer (no unshare, share, exclusive)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from cowcheck.errors import InputError
from cowcheck.input.reuse_expr import NAMES, frees_swapcache, reuse_env
from cowcheck.mm.rule import ForkDecision, GupFlags, PageView, Rule, SwapinDecision, WpDecision

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
    env = reuse_env(page, unshare)
    return tuple(env[n] for n in names)


HOLES = ("do_wp_page", "gup_must_unshare", "fork_present", "do_swap_page")
# Each extra hole's own arguments, after the page's projection in its key.
_ARGS = {
    "gup_must_unshare": ("pin", "write", "longterm", "have_vma"),
    "fork_present": ("parent_has_pinned",),
    "do_swap_page": ("write", "pte_exclusive"),
}
# What True means at each hole, and what False means.
WORDS = {
    "do_wp_page": ("reuse", "copy"),
    "gup_must_unshare": ("unshare", "no unshare"),
    "fork_present": ("copy", "share"),
    "do_swap_page": ("exclusive", "shared"),
}


def holes(names: Sequence[str] | None) -> tuple[str, ...]:
    """The holes asked for (``--hole``), checked; do_wp_page by default."""
    if not names:
        return ("do_wp_page",)
    bad = [n for n in names if n not in HOLES]
    if bad:
        raise InputError("--hole", None, f"unknown hook {bad[0]!r} (expected names among: {', '.join(HOLES)})")
    return tuple(dict.fromkeys(names))


def hole_of(v: Vector) -> str:
    return v[0] if v and isinstance(v[0], str) else "do_wp_page"


def default(v: Vector) -> bool:
    """An unseen key's answer: the cheap one (reuse; no unshare; share; map the
    swapped-in page exclusive, so that no later write copies it)."""
    return hole_of(v) in ("do_wp_page", "do_swap_page")


def key_names(v: Vector, names: Sequence[str]) -> tuple[str, ...]:
    hole = hole_of(v)
    if hole == "do_wp_page":
        return tuple(names)
    return ("hook", *(n for n in names if n != "unshare"), *_ARGS[hole])


def describe(v: Vector, names: Sequence[str]) -> str:
    """``refcount 2, mapcount 1, !exclusive, swapcache``: flags by name, ! when false;
    an extra hole's key starts with the hook's name."""
    pairs = zip(key_names(v, names), v, strict=True)
    return ", ".join(
        x if n == "hook" else (n if x else f"!{n}") if isinstance(x, bool) else f"{n} {x}" for n, x in pairs
    )


def word(v: Vector, d: bool) -> str:
    yes, no = WORDS[hole_of(v)]
    return yes if d else no


class TableHook:
    """``do_wp_page`` by the table, logging each call's vector and decision."""

    def __init__(self, table: Mapping[Vector, bool], names: Sequence[str], log: list[tuple[Vector, bool]]) -> None:
        self.table, self.names, self.log = table, tuple(names), log

    def __call__(self, page: PageView, unshare: bool) -> WpDecision:
        v = project(page, unshare, self.names)
        reuse = self.table.get(v, default(v))
        self.log.append((v, reuse))
        free = frees_swapcache(page, reuse)
        return WpDecision(
            reuse, f"do_wp_page: table[{describe(v, self.names)}] -> {'reuse' if reuse else 'copy'}", free
        )


class GupHook:
    """``gup_must_unshare`` by the table."""

    def __init__(self, table: Mapping[Vector, bool], names: Sequence[str], log: list[tuple[Vector, bool]]) -> None:
        self.table, self.names, self.log = table, [n for n in names if n != "unshare"], log

    def __call__(self, flags: GupFlags, page: PageView, have_vma: bool) -> bool:
        v = ("gup_must_unshare", *project(page, False, self.names), flags.pin, flags.write, flags.longterm, have_vma)
        d = self.table.get(v, default(v))
        self.log.append((v, d))
        return d


class ForkHook:
    """``fork_present`` by the table."""

    def __init__(self, table: Mapping[Vector, bool], names: Sequence[str], log: list[tuple[Vector, bool]]) -> None:
        self.table, self.names, self.log = table, [n for n in names if n != "unshare"], log

    def __call__(self, page: PageView, parent_has_pinned: bool) -> ForkDecision:
        v = ("fork_present", *project(page, False, self.names), parent_has_pinned)
        d = self.table.get(v, default(v))
        self.log.append((v, d))
        return ForkDecision(d, f"copy_present_pte: table -> {'copy_present_page' if d else 'share'}")


class SwapHook:
    """``do_swap_page`` by the table: map the page exclusive (and writable) or shared
    (R/O). Freeing the swapcache stays the base rule's, and only with an exclusive
    mapping, as every era couples them (reuse_swap_page(), should_try_to_free_swap())."""

    def __init__(
        self, base: Rule, table: Mapping[Vector, bool], names: Sequence[str], log: list[tuple[Vector, bool]]
    ) -> None:
        self.base, self.table, self.names, self.log = base, table, [n for n in names if n != "unshare"], log

    def __call__(self, page: PageView, write: bool, pte_exclusive: bool) -> SwapinDecision:
        v = ("do_swap_page", *project(page, False, self.names), write, pte_exclusive)
        d = self.table.get(v, default(v))
        self.log.append((v, d))
        free = d and self.base.do_swap_page(page, write, pte_exclusive).free_swapcache
        return SwapinDecision(d, d, f"do_swap_page: table -> {'exclusive, writable' if d else 'shared, R/O'}", free)


def table_rule(
    base: Rule,
    table: Mapping[Vector, bool],
    names: Sequence[str],
    log: list[tuple[Vector, bool]],
    at: Sequence[str] = ("do_wp_page",),
) -> Rule:
    """``base`` with the hooks ``at`` decided by ``table`` (a copy: base is shared)."""
    r = copy.copy(base)
    made = {"do_wp_page": TableHook, "gup_must_unshare": GupHook, "fork_present": ForkHook}
    for hole in at:
        vars(r)[hole] = SwapHook(base, table, names, log) if hole == "do_swap_page" else made[hole](table, names, log)
    return r
