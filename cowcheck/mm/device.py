"""Devices and transient kernel references: DMA through a GUP reference, its release,
and speculative references (LRU pagevecs, page cache lookups, migration)."""

from __future__ import annotations

from cowcheck.mm.access import sharers
from cowcheck.mm.context import Ctx
from cowcheck.mm.contract import describe_ref, owes_device_writes
from cowcheck.mm.state import NO_FILE, ZERO_FRAME, bit, frame_name
from cowcheck.mm.work import Work


def dma_write(w: Work, ctx: Ctx, ri: int, cell: int) -> bool:
    r = w.refs[ri]
    if not r.write:
        return False
    owner = r.owner
    alive = w.procs[owner].alive
    if r.frame != ZERO_FRAME and w.page(r.frame).file != NO_FILE and sharers(w, ctx, owner, r.vpage):
        # Into the page cache through a shared mapping: the file's data, for every
        # process that maps the file.
        shared = sharers(w, ctx, owner, r.vpage)
        t = w.new_token(owner, True, shared, True)
        w.write_cell(r.frame, cell, t)
        for q in range(len(w.procs)):
            if shared & bit(q):
                w.set_expect_cell(q, r.vpage, cell, (t,))
        w.note(f"DMA write token t{t} through {describe_ref(r)} into page-cache page #{r.frame}")
        return True
    exempt = not owes_device_writes(r, ctx.strict)
    # Ghost: where the contract says the data belongs.
    visible = bit(owner) | (r.crossed if exempt else 0)
    t = w.new_token(owner, True, visible)
    w.write_cell(r.frame, cell, t)
    if exempt:
        # Outside the contract: the data may or may not reach the owner and the
        # children forked while the reference was held, whatever they map now.
        crossers = [c for c in range(len(w.procs)) if r.crossed & bit(c)]
        for q in ([owner] if r.attached else []) + crossers:
            ex = w.expect(q, r.vpage)
            if w.procs[q].alive and ex:
                w.set_expect_cell(q, r.vpage, cell, (*ex[cell], t))
    elif r.attached and alive:
        w.set_expect_cell(owner, r.vpage, cell, (t,))
    w.note(f"DMA write token t{t} through {describe_ref(r)} into {frame_name(r.frame)}")
    return True


def dma_read(w: Work, ctx: Ctx, ri: int, cell: int) -> bool:
    r = w.refs[ri]
    t = w.content(r.frame, ctx.cells)[cell]
    w.note(f"DMA read token t{t} through {describe_ref(r)} from {frame_name(r.frame)}")
    return True


def release(w: Work, ri: int) -> bool:
    """put_page() / unpin_user_page() when the I/O completes or the owner unregisters."""
    r = w.refs.pop(ri)
    w.note(f"{'unpin_user_page' if r.pin else 'put_page'}: {describe_ref(r)} on {frame_name(r.frame)}")
    w.put_page(r.frame, r.pin)
    return True


def spec_get(w: Work, f: int) -> bool:
    if f not in w.pages:
        return False
    w.get_page(f)
    w.spec.append(f)
    w.note(f"speculative get_page_unless_zero(page #{f}) -> refcount {w.page(f).refcount}")
    return True


def spec_put(w: Work, i: int) -> bool:
    f = w.spec.pop(i)
    w.put_page(f)
    w.note(f"speculative put_page(page #{f})")
    return True
