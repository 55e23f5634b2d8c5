"""The kernel's own actors: reclaim swapping a page out (``mm/reclaim.py``), and the
transient references that compaction, KSM or a page cache lookup take
(``mm/device.py``)."""

from __future__ import annotations

from cowcheck.mm import device, reclaim
from cowcheck.mm.actions import RECLAIM, SPECULATIVE, Action
from cowcheck.mm.context import Ctx
from cowcheck.mm.ops.operation import Operation, new_action, vaddr
from cowcheck.mm.state import NO_FILE, PTE_PRESENT, ZERO_FRAME, MMState, SwapoutOp
from cowcheck.mm.work import Work
from cowcheck.mm.world import World


def frame_of(w: Work, a: Action) -> int | None:
    """The page ``a`` acts on: a frame (open scenarios, ``idx``) or what a process maps
    at a vpage (litmus steps name the process and vpage)."""
    if a.pid < 0:
        return a.idx if a.idx in w.pages else None
    if a.pid >= len(w.procs):
        return None
    pte = w.pte(a.pid, a.vpage)
    if pte.kind != PTE_PRESENT or pte.target == ZERO_FRAME:
        return None
    return pte.target


def _swapout(ctx: Ctx, w: Work, a: Action) -> bool:
    f = frame_of(w, a)
    # Page-cache pages: their reclaim (writeback, then dropping a clean copy of the
    # file) is not modelled; swapout is for anonymous pages.
    if f is None or w.reclaim_holds(f) or w.page(f).file != NO_FILE:
        return False
    reclaim.swapout_start(w, ctx, a.actor, f)
    return True


def _offer_swapout(world: World, s: MMState) -> list[Action]:
    busy = {op.frame for op in s.inflight if isinstance(op, SwapoutOp)}
    return [new_action("swapout", RECLAIM, idx=f) for f, p in s.pages if f not in busy and p.file == NO_FILE]


def _describe_swapout(a: Action) -> str:
    if a.pid >= 0:
        return f"reclaim: swap out page of P{a.pid} {vaddr(a)}"
    return f"reclaim: swap out page #{a.idx}"


SWAPOUT = Operation(
    "swapout",
    actors=("kernel",),
    fields=("process", "vpage"),
    required=(),
    kernel="`shrink_page_list` in three phases: `add_to_swap`, `try_to_unmap`, `pageout` + `__remove_mapping`",
    run=_swapout,
    describe=_describe_swapout,
    budget="swapout",
    environment=_offer_swapout,
    held_by=("process", "anon_page"),
)


def _spec_get(ctx: Ctx, w: Work, a: Action) -> bool:
    f = frame_of(w, a)
    return f is not None and device.spec_get(w, f)


def _describe_spec_get(a: Action) -> str:
    if a.pid < 0:
        return f"speculative get_page(#{a.idx})"
    return f"speculative get_page(P{a.pid} {vaddr(a)})"


SPEC_GET = Operation(
    "spec_get",
    actors=("kernel",),
    fields=("process", "vpage"),
    required=(),
    kernel="A speculative `get_page_unless_zero`, as compaction, KSM or a pagecache lookup takes",
    run=_spec_get,
    describe=_describe_spec_get,
    budget="spec_ref",
    environment=lambda world, s: [new_action("spec_get", SPECULATIVE, idx=f) for f, _p in s.pages],
    held_by=("process", "anon_page"),
)


def _spec_put(ctx: Ctx, w: Work, a: Action) -> bool:
    i = a.idx if a.idx >= 0 else 0  # a litmus step names none: the first
    return i < len(w.spec) and device.spec_put(w, i)


SPEC_PUT = Operation(
    "spec_put",
    actors=("kernel",),
    fields=(),
    required=(),
    kernel="Drops the speculative reference",
    run=_spec_put,
    describe=lambda a: "speculative put_page",
    environment=lambda world, s: [new_action("spec_put", SPECULATIVE, idx=i) for i in range(len(s.spec))],
    held_by=("process", "spec_ref", "mmap_lock"),
)
