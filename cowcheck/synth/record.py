"""A rule that records what reaches its write-fault hook.

``recording(rule)`` is ``rule`` with ``do_wp_page`` wrapped: every call appends the
page's bookkeeping as the hook saw it (``Seen``) and passes the rule's own decision
on, so the search it runs in is the rule's search, state for state."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import NamedTuple

from cowcheck.mm.rule import PageView, Rule, WpDecision


class Seen(NamedTuple):
    """One call of ``do_wp_page``: the page as the hook read it, and why it was called."""

    page: PageView
    unshare: bool  # FAULT_FLAG_UNSHARE (a R/O pin unsharing), not a write

    def describe(self) -> str:
        p = self.page
        flags = [n for n in ("exclusive", "swapcache", "locked", "zero") if getattr(p, n)]
        counts = f"refcount {p.refcount}, mapcount {p.mapcount}, pincount {p.pincount}, swapcount {p.swapcount}"
        return f"{'unshare' if self.unshare else 'write'} fault: {counts}" + (f"; {', '.join(flags)}" if flags else "")


class _Recorder:
    """The hook that records, then decides as the rule does."""

    def __init__(self, decide: Callable[[PageView, bool], WpDecision], log: list[Seen]) -> None:
        self.decide = decide
        self.log = log

    def __call__(self, page: PageView, unshare: bool) -> WpDecision:
        self.log.append(Seen(page, unshare))
        return self.decide(page, unshare)


def recording(rule: Rule, log: list[Seen]) -> Rule:
    """A copy of ``rule`` whose ``do_wp_page`` appends to ``log`` (the rule itself is
    not changed: built-in rules are shared by every check of the process)."""
    r = copy.copy(rule)
    # On the instance: it comes before the class's method, and before the checked
    # wrapper a rule file's hooks get (rule_files._check_returns), which it calls.
    vars(r)["do_wp_page"] = _Recorder(rule.do_wp_page, log)
    return r
