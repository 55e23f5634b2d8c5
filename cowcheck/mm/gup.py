"""get_user_pages() and pin_user_pages(), slow and fast (mm/gup.c).

The slow path (__get_user_pages(): follow_page_pte(), faultin_page(), retry) runs
under the mmap read lock, which excludes fork, munmap, mprotect and (since
29a951dfb3c3) clear_refs in the same mm. It is one step: the only racers that fit
between its fault and its follow_page_pte() are lockless ones (reclaim, gup-fast,
devices), and each such interleaving ends in another fault-and-retry whose outcome
the model reaches by ordering the racer first.

gup-fast (lockless_pages_from_mm() / gup_pte_range()) takes no lock at all and is
split where racers matter: (1) read write_protect_seq (pins) and the PTE, (2) take
the reference, (3) re-check the PTE, the exclusive bit and the seq. On any failure
it drops the reference and falls back to the slow path.
"""

from __future__ import annotations

from cowcheck.mm import records
from cowcheck.mm.context import Ctx, page_view
from cowcheck.mm.fault import READ, UNSHARE, WRITE, backing, handle_mm_fault
from cowcheck.mm.rule import GupFlags
from cowcheck.mm.state import (
    GUPF_GRAB,
    GUPF_RECHECK,
    GUPF_SLOW,
    PTE_PRESENT,
    SHARED_FILE,
    ZERO_FRAME,
    ForkOp,
    GupFastOp,
    bit,
    frame_name,
    is_shared,
)
from cowcheck.mm.work import ModelBug, Work

_MAX_RETRIES = 4  # a fault always makes progress here; more means a model bug


def _take_ref(w: Work, pid: int, v: int, f: int, flags: GupFlags, name: str, how: str) -> None:
    w.get_page(f, flags.pin)
    w.refs.append(records.ref((name, pid, v, f, flags.pin, flags.write, flags.longterm, True, 0)))
    rc = "" if f == ZERO_FRAME else f" (refcount {w.page(f).refcount})"
    w.note(f"{how}: {flags.describe()} reference on {frame_name(f)}{rc}")


def gup_slow(w: Work, ctx: Ctx, pid: int, v: int, flags: GupFlags, name: str) -> bool:
    """Returns False where GUP fails with -EFAULT (no vma, or FOLL_WRITE on !VM_WRITE)."""
    vma = w.procs[pid].vmas[v]
    if not vma.mapped or (flags.write and not vma.writable):
        w.note("__get_user_pages: -EFAULT")
        return False
    if flags.pin:
        w.set_proc(pid, has_pinned=True)  # mm_set_has_pinned_flag(), before check_vma_flags()
    b = backing(ctx, v)
    if _dirty_tracked_longterm(ctx, b, flags):
        w.note("check_vma_flags: writable_file_mapping_allowed() false (vma_needs_dirty_tracking) -> -EFAULT")
        return False
    cow = not is_shared(b)  # is_cow_mapping(): only there may GUP break or unshare COW
    write = flags.write or (cow and ctx.rule.gup_breaks_cow(flags))
    # 17839856fd58 on a vma without VM_WRITE: the forced write fault breaks COW but
    # cannot make the PTE writable; faultin_page() then sets FOLL_COW and
    # can_follow_write_pte() accepts the R/O, dirty PTE (5.8 dropped its FOLL_FORCE
    # requirement). Nothing runs between the fault and the follow here.
    cow_break = write and not flags.write and not vma.writable
    cowed = False
    for _ in range(_MAX_RETRIES):
        pte = w.pte(pid, v)
        if pte.kind != PTE_PRESENT:
            handle_mm_fault(w, ctx, pid, v, WRITE if write else READ, cow_break)
            cowed = cow_break
            continue
        if write and not pte.writable and not cowed:
            # follow_page_pte() needs pte_write() for FOLL_WRITE: faultin_page().
            handle_mm_fault(w, ctx, pid, v, WRITE, cow_break)
            cowed = cow_break
            if cowed:
                w.note("faultin_page: VM_FAULT_WRITE on a R/O vma -> FOLL_COW")
            continue
        f = pte.target
        if cow and not pte.writable and not flags.write and ctx.rule.gup_must_unshare(flags, page_view(w, f), True):
            w.note("follow_page_pte: gup_must_unshare() -> -EMLINK, FAULT_FLAG_UNSHARE")
            handle_mm_fault(w, ctx, pid, v, UNSHARE)
            continue
        _take_ref(w, pid, v, f, flags, name, "follow_page_pte")
        return True
    raise ModelBug("GUP did not converge")


def _dirty_tracked_longterm(ctx: Ctx, b: int, flags: GupFlags) -> bool:
    """8ac268436e6d (6.5): a writable FOLL_LONGTERM GUP of a shared mapping of a file
    that needs dirty tracking (vma_needs_dirty_tracking(): not shmem, hugetlb or anon)."""
    return b == SHARED_FILE and flags.write and flags.longterm and ctx.rule.refuses_dirty_tracked_longterm


def gup_fast_start(w: Work, ctx: Ctx, actor: int, pid: int, v: int, flags: GupFlags, name: str) -> None:
    pr = w.procs[pid]
    if flags.pin:
        w.set_proc(pid, has_pinned=True)
    seq = pr.wp_seq
    op = records.gup_fast_op((actor, pid, v, flags.pin, flags.write, flags.longterm, name, GUPF_SLOW, seq, -2, False))
    if flags.pin and ctx.rule.gup_fast_checks_seq(flags) and seq & 1:
        w.note("lockless_pages_from_mm: write_protect_seq odd (fork running) -> slow path")
        w.inflight.append(op)
        return
    pte = pr.ptes[v]
    b = backing(ctx, v)
    write = flags.write or (not is_shared(b) and ctx.rule.gup_breaks_cow(flags))
    if pte.kind != PTE_PRESENT or pte.target == ZERO_FRAME or (write and not pte.writable):
        w.note("gup_pte_range: PTE not usable (none, swap, special or R/O) -> slow path")
        w.inflight.append(op)
        return
    if _dirty_tracked_longterm(ctx, b, flags):
        # a6e79df92e4a: writable long-term gup-fast only for anon, shmem and hugetlb;
        # the slow path then refuses it in check_vma_flags().
        w.note("gup_pte_range: folio_fast_pin_allowed() false (file needs dirty tracking) -> slow path")
        w.inflight.append(op)
        return
    w.inflight.append(_at_stage(op, GUPF_GRAB, pte.target, pte.writable))
    w.note(f"gup_pte_range: read PTE -> page #{pte.target}{' writable' if pte.writable else ' R/O'}")


def gup_fast_op_with(op: GupFastOp, stage: int, seq: int, snap_frame: int, snap_writable: bool) -> GupFastOp:
    """As op._replace(stage=, seq=, snap_frame=, snap_writable=), by position
    (records.py). canon.py renames a gup-fast in flight through it too."""
    return records.gup_fast_op(
        (op.actor, op.pid, op.vpage, op.pin, op.write, op.longterm, op.name, stage, seq, snap_frame, snap_writable)
    )


def _at_stage(op: GupFastOp, stage: int, snap_frame: int | None = None, snap_writable: bool | None = None) -> GupFastOp:
    return gup_fast_op_with(
        op,
        stage,
        op.seq,
        op.snap_frame if snap_frame is None else snap_frame,
        op.snap_writable if snap_writable is None else snap_writable,
    )


def gup_fast_step(w: Work, ctx: Ctx, idx: int, op: GupFastOp) -> None:
    flags = records.gup_flags((op.pin, op.write, op.longterm))
    f = op.snap_frame
    if op.stage == GUPF_GRAB:
        if f not in w.pages:
            w.note("try_grab_folio: page already freed -> slow path")
            w.inflight[idx] = _at_stage(op, GUPF_SLOW)
            return
        w.get_page(f, op.pin)
        w.inflight[idx] = _at_stage(op, GUPF_RECHECK)
        w.note(f"try_grab_folio: page #{f} refcount -> {w.page(f).refcount}")
        return
    if op.stage == GUPF_RECHECK:
        pte = w.procs[op.pid].ptes[op.vpage]
        fail = None
        if pte.kind != PTE_PRESENT or pte.target != f or pte.writable != op.snap_writable:
            fail = "PTE changed"
        elif not op.snap_writable and ctx.rule.gup_must_unshare(flags, page_view(w, f), False):
            fail = "gup_must_unshare()"
        elif op.pin and ctx.rule.gup_fast_checks_seq(flags) and w.procs[op.pid].wp_seq != op.seq:
            fail = "write_protect_seq changed"
        if fail is not None:
            w.put_page(f, op.pin)
            w.inflight[idx] = _at_stage(op, GUPF_SLOW)
            w.note(f"gup-fast re-check: {fail} -> drop reference, slow path")
            return
        del w.inflight[idx]
        # A FOLL_GET reference taken while a fork of its owner copies (gup-fast takes
        # no mmap lock) is held across that fork, as open(2) means it: what its device
        # writes is undefined for the child (mm/contract.py). A pin is owed its writes
        # whatever forks, so nothing reads this of one, and it is left 0.
        crossed = 0
        if not op.pin:
            crossed = sum(bit(o.child) for o in w.inflight if type(o) is ForkOp and o.parent == op.pid)
        w.refs.append(records.ref((op.name, op.pid, op.vpage, f, op.pin, op.write, op.longterm, True, crossed)))
        w.note(f"gup-fast re-check passes: {flags.describe()} reference on page #{f}")
        return
    # GUPF_SLOW: the caller checked that the mmap lock can be taken.
    del w.inflight[idx]
    gup_slow(w, ctx, op.pid, op.vpage, flags, op.name)
