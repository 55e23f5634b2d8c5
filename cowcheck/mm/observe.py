"""Read-only questions about a state, for properties and rendering.

``view`` answers "what would this process read here now", resolving the PTE, a
swap entry (its swapcache page, or the data on the swap device) and an empty PTE
(a fault would map zeroes). Reads do not change the state except by faulting, and
a fault maps exactly what ``view`` returns, so checking views in every state is
checking every read that could happen.
"""

from __future__ import annotations

from collections.abc import Iterator

from cowcheck.mm import records
from cowcheck.mm.state import (
    GUPF_RECHECK,
    NO_FRAME,
    PTE_NONE,
    PTE_PRESENT,
    PTE_SWAP,
    ZERO_FRAME,
    ZERO_TOKEN,
    ForkOp,
    GupFastOp,
    Holder,
    MMState,
    Page,
    Ref,
    Slot,
    SwapoutOp,
    Tok,
)


def page_of(s: MMState, f: int) -> Page | None:
    """Page ``f``, if it exists. A scan of the few pages, not ``dict(s.pages)``: the
    invariants ask this of every state, and building the dict cost more."""
    for g, p in s.pages:
        if g == f:
            return p
    return None


def slot_of(s: MMState, x: int) -> Slot | None:
    """Swap slot ``x``, if it is in use (as ``page_of``)."""
    for y, sl in s.slots:
        if y == x:
            return sl
    return None


def view(s: MMState, pid: int, v: int, cells: int) -> tuple[int, ...] | None:
    pr = s.procs[pid]
    if not pr.alive or not pr.vmas[v].mapped:
        return None
    pte = pr.ptes[v]
    if pte.kind == PTE_NONE:
        # A fault maps the file's page-cache page, or the zero page.
        for _f, p in s.pages:
            if p.file == v:
                return p.content
        return s.zero or (ZERO_TOKEN,) * cells
    if pte.kind == PTE_PRESENT:
        return frame_content(s, pte.target, cells)
    sl = slot_of(s, pte.target)
    if sl is None:
        return None
    if sl.cache != NO_FRAME:
        return frame_content(s, sl.cache, cells)
    return sl.content


def resolved_frame(s: MMState, pid: int, v: int) -> int | None:
    """The page this process's mapping resolves to now (through the swapcache for a
    swap entry), or None if it resolves to no page."""
    pte = s.procs[pid].ptes[v]
    if pte.kind == PTE_PRESENT:
        return pte.target
    if pte.kind == PTE_NONE:
        # A file vpage resolves to its page-cache page, which the next fault maps
        # (in a private mapping a write fault copies it, as from any R/O PTE).
        return next((f for f, p in s.pages if p.file == v), None)
    if pte.kind == PTE_SWAP:
        sl = slot_of(s, pte.target)
        if sl is not None and sl.cache != NO_FRAME:
            return sl.cache
    return None


def frame_content(s: MMState, f: int, cells: int) -> tuple[int, ...] | None:
    if f == ZERO_FRAME:
        return s.zero or (ZERO_TOKEN,) * cells
    p = page_of(s, f)
    return None if p is None else p.content


def _holder(kind: str, pid: int, detail: str) -> Holder:
    # By position (records.py): memory-safety asks for a holder of every page of
    # every state.
    return records.holder((kind, pid, detail))


def holders(s: MMState, f: int) -> Iterator[Holder]:
    for pid, pr in enumerate(s.procs):
        for v, pte in enumerate(pr.ptes):
            if pte.kind == PTE_PRESENT and pte.target == f:
                yield _holder("pte", pid, f"P{pid} vpage {v}")
    p = page_of(s, f)
    if p is not None and p.swapcache >= 0:
        yield _holder("swapcache", -1, f"slot {p.swapcache}")
    if p is not None and p.file >= 0:
        yield _holder("pagecache", -1, f"file page {p.file}")
    for r in s.refs:
        if r.frame == f:
            yield _holder("ref", r.owner, r.name)
    for op in s.inflight:
        if isinstance(op, GupFastOp) and op.stage == GUPF_RECHECK and op.snap_frame == f:
            yield _holder("gup-fast", op.pid, "gup-fast grabbed")
        if isinstance(op, SwapoutOp) and op.frame == f:
            yield _holder("reclaim", -1, "isolation reference")
        if isinstance(op, ForkOp) and op.held:
            pte = s.procs[op.parent].ptes[op.next_vpage]
            if pte.kind == PTE_PRESENT and pte.target == f:
                yield _holder("fork", op.child, "copy_present_pte: the child's reference")
    for x in s.spec:
        if x == f:
            yield _holder("speculative", -1, "speculative reference")


def swap_sharers(s: MMState, slot: int) -> Iterator[tuple[int, int]]:
    for pid, pr in enumerate(s.procs):
        for v, pte in enumerate(pr.ptes):
            if pte.kind == PTE_SWAP and pte.target == slot:
                yield pid, v


def ref_view(s: MMState, r: Ref, cells: int) -> tuple[int, ...] | None:
    return frame_content(s, r.frame, cells)


def who(tok: Tok) -> str:
    return f"P{tok.writer}'s device" if tok.device else f"P{tok.writer}"
