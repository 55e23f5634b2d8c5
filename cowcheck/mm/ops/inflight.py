"""The next step of a kernel path in flight: fork copying its next PTE, gup-fast
between its PTE read and its re-check, reclaim between its phases. The model offers
one for each path in flight (``MMState.inflight``), whoever started it; no scenario
names it."""

from __future__ import annotations

from cowcheck.mm import force, fork, gup, reclaim
from cowcheck.mm.actions import Action
from cowcheck.mm.context import Ctx
from cowcheck.mm.ops.operation import Operation, mmap_lock
from cowcheck.mm.state import GUPF_SLOW, ForceOp, ForkOp, GupFastOp
from cowcheck.mm.work import Work


def _continue(ctx: Ctx, w: Work, a: Action) -> bool:
    idx = a.idx
    if idx >= len(w.inflight):
        return False
    op = w.inflight[idx]
    if isinstance(op, ForkOp):
        if op.next_vpage < ctx.vpages:
            fork.fork_copy_pte(w, ctx, idx, op)
        else:
            fork.fork_end(w, ctx, idx, op)
    elif isinstance(op, GupFastOp):
        if op.stage == GUPF_SLOW:
            mmap_lock(w, op.pid)  # the slow path's mmap_read_lock()
        gup.gup_fast_step(w, ctx, idx, op)
    elif isinstance(op, ForceOp):
        force.force_write_step(w, ctx, idx, op)
    else:
        reclaim.swapout_step(w, ctx, idx, op)
    return True


CONTINUE = Operation(
    "step",
    actors=(),
    fields=(),
    required=(),
    kernel="The next step of `copy_page_range`, `lockless_pages_from_mm`, `shrink_page_list` or "
    "`__get_user_pages` (FOLL_FORCE) in flight",
    run=_continue,
    describe=lambda a: "(continues)",
)
