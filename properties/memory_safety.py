"""memory-safety: bookkeeping. Kernel failure: a page freed while still mapped, referenced
or in the swapcache (use after free), a page or swap slot nobody holds (leak),
refcount/mapcount/pincount/swap-count drift, or a BUG_ON-class inconsistency.

Observational: nothing names a freed page or slot, and no page outlives every holder.
Structural: each stored count equals the number of holders that the state shows.
"""

from __future__ import annotations

from cowcheck.mm.context import Ctx
from cowcheck.mm.footprint import MM_KINDS
from cowcheck.mm.observe import holders, swap_sharers
from cowcheck.mm.property import MMProperty
from cowcheck.mm.state import (
    GUPF_RECHECK,
    NO_FRAME,
    NO_SLOT,
    PTE_PRESENT,
    PTE_SWAP,
    ZERO_FRAME,
    GupFastOp,
    MMState,
)


def observational(s: MMState, ctx: Ctx) -> str | None:
    if s.bug:
        return f"kernel BUG: {s.bug}"
    pages = dict(s.pages)
    slots = dict(s.slots)
    for pid, pr in enumerate(s.procs):
        for v, pte in enumerate(pr.ptes):
            if pte.kind == PTE_PRESENT and pte.target != ZERO_FRAME and pte.target not in pages:
                return f"use after free: P{pid} maps freed page #{pte.target} at vaddr+{v * 4096}"
            if pte.kind == PTE_SWAP and pte.target not in slots:
                return f"use after free: P{pid}'s swap entry names freed slot {pte.target}"
    for r in s.refs:
        if r.frame != ZERO_FRAME and r.frame not in pages:
            return f"use after free: reference {r.name or ''} holds freed page #{r.frame}"
    for f in s.spec:
        if f not in pages:
            return f"use after free: speculative reference to freed page #{f}"
    for f in pages:
        if next(holders(s, f), None) is None:
            return f"leak: page #{f} is held by nothing (refcount {pages[f].refcount})"
    for x, sl in slots.items():
        if sl.cache == NO_FRAME and next(swap_sharers(s, x), None) is None:
            return f"leak: swap slot {x} is used by nothing"
    return None


def structural(s: MMState, ctx: Ctx) -> str | None:
    if s.bug:
        return f"kernel BUG: {s.bug}"
    slots = dict(s.slots)
    for f, p in s.pages:
        hs = list(holders(s, f))
        maps = sum(1 for h in hs if h.kind == "pte")
        pins = sum(1 for r in s.refs if r.frame == f and r.pin) + sum(
            1
            for op in s.inflight
            if isinstance(op, GupFastOp) and op.pin and op.stage == GUPF_RECHECK and op.snap_frame == f
        )
        if p.refcount != len(hs):
            return f"page #{f}: refcount {p.refcount} but {len(hs)} holders ({', '.join(h.kind for h in hs)})"
        if p.mapcount != maps:
            return f"page #{f}: mapcount {p.mapcount} but {maps} PTEs map it"
        if p.pincount != pins:
            return f"page #{f}: pincount {p.pincount} but {pins} pins"
        if p.swapcache != NO_SLOT and (p.swapcache not in slots or slots[p.swapcache].cache != f):
            return f"page #{f}: PageSwapCache slot {p.swapcache} does not point back"
    pages = dict(s.pages)
    for x, sl in slots.items():
        n = sum(1 for _ in swap_sharers(s, x))
        if sl.swapcount != n:
            return f"swap slot {x}: swap count {sl.swapcount} but {n} swap entries"
        if sl.cache != NO_FRAME and (sl.cache not in pages or pages[sl.cache].swapcache != x):
            return f"swap slot {x}: swapcache page #{sl.cache} does not point back"
    return observational(s, ctx)


PROPERTY = MMProperty(
    id="memory-safety",
    title="refcount, mapcount and swap bookkeeping stay consistent",
    models="use after free, leaks and count drift (e.g. the BUG in copy_present_page() on a pinned file page)",
    cite="copy_present_page() on a pinned non-anonymous page: 5.10.y and 5.15.y (syzkaller; Fixes: 70e806e4e645)",
    observational=observational,
    structural=structural,
    reads=MM_KINDS,  # the mm only: never a program counter or the budget
)
