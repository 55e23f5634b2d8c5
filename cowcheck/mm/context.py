"""What every operation needs besides the state: the rule, the world's shape, the contract."""

from __future__ import annotations

from typing import NamedTuple

from cowcheck.mm import records
from cowcheck.mm.rule import PageView, Rule
from cowcheck.mm.state import NO_FILE, NO_SLOT, ZERO_FRAME
from cowcheck.mm.work import Work


class Ctx(NamedTuple):
    rule: Rule
    cells: int
    strict: bool  # contract without the fork exception for FOLL_GET (--strict; see mm/contract.py)
    litmus: bool  # fixed programs: a step that fails (-EFAULT, nothing to change) still runs
    max_processes: int
    vpages: int
    # Per vpage: what backs it (state.ANON, FILE, ...) and whether it is registered
    # with userfaultfd in minor mode. Fixed for the run, like the world.
    backing: tuple[int, ...] = ()
    uffd_minor: tuple[bool, ...] = ()
    # Whether PTE dirty bits are kept: only a FOLL_FORCE write reads one.
    dirty: bool = False


_ZERO_PAGE_VIEW = PageView(1, 0, 0, False, False, 0, False, True, False)


def page_view(w: Work, f: int, extra_refs: int = 0, own_lock: bool = False) -> PageView:
    """The page as a kernel path reads it. ``extra_refs`` counts references the calling
    path holds that the state does not show yet; ``own_lock`` means the caller holds
    PG_locked itself, so trylock_page() is not what would fail."""
    if f == ZERO_FRAME:
        return _ZERO_PAGE_VIEW
    p = w.page(f)
    swapcount = 0
    if p.swapcache != NO_SLOT:
        swapcount = w.slot(p.swapcache).swapcount
    # By position (records.py): every rule hook call on the hot path gets a fresh view.
    return records.page_view(
        (
            p.refcount + extra_refs,
            p.mapcount,
            p.pincount,
            p.anon_exclusive,
            p.swapcache != NO_SLOT,
            swapcount,
            p.locked and not own_lock,
            False,
            p.file != NO_FILE,
        ),
    )
