"""A thread's loads and stores (``mm/access.py``), with the fault each may take."""

from __future__ import annotations

from cowcheck.mm import access
from cowcheck.mm.actions import Action, cell_addr
from cowcheck.mm.context import Ctx
from cowcheck.mm.ops.operation import Operation, ThreadOffer, forking
from cowcheck.mm.work import Work


def _write(ctx: Ctx, w: Work, a: Action) -> bool:
    # A fault waits for the mmap lock that a fork of the process holds.
    return access.cpu_write(w, ctx, a.pid, a.vpage, a.cell, forking(w, a.pid))


def _offer_write(t: ThreadOffer, v: int) -> list[Action]:
    return [Action("write", t.actor, t.pid, v, c) for c in range(t.world.cells)]


WRITE = Operation(
    "write",
    actors=("thread",),
    fields=("vpage", "cell"),
    required=(),
    kernel="CPU store: `handle_mm_fault` -> `do_anonymous_page`, `do_swap_page` or `do_wp_page` as the PTE needs",
    run=_write,
    describe=lambda a: f"write {cell_addr(a.vpage, a.cell)}",
    budget="write",
    per_vpage=_offer_write,
    held_by=("process", "vma_access", "vm_write", "mmap_lock"),
)


def _read(ctx: Ctx, w: Work, a: Action) -> bool:
    return access.cpu_read(w, ctx, a.pid, a.vpage, a.cell, forking(w, a.pid))


def _offer_read(t: ThreadOffer, v: int) -> list[Action]:
    # A read of a present page changes nothing: only one that faults is offered.
    return [] if t.present[v] else [Action("read", t.actor, t.pid, v, 0)]


READ = Operation(
    "read",
    actors=("thread",),
    fields=("vpage", "cell"),
    required=(),
    kernel="CPU load: `do_anonymous_page` (zero page) or `do_swap_page` when not present",
    run=_read,
    describe=lambda a: f"read {cell_addr(a.vpage, a.cell)}",
    budget="read",
    per_vpage=_offer_read,
    held_by=("process", "vma_access", "mmap_lock"),
)
