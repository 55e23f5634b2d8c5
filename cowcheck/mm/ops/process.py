"""A process's birth and death: fork() (``mm/fork.py``) and exit (``mm/syscalls.py``)."""

from __future__ import annotations

from cowcheck.mm import fork, syscalls
from cowcheck.mm.actions import Action
from cowcheck.mm.context import Ctx
from cowcheck.mm.ops.operation import Operation, mmap_write_lock
from cowcheck.mm.state import GupFastOp
from cowcheck.mm.work import Blocked, Work


def _fork(ctx: Ctx, w: Work, a: Action) -> bool:
    mmap_write_lock(w, a.pid)
    if len(w.procs) >= ctx.max_processes:
        return False
    fork.fork_begin(w, ctx, a.actor, a.pid)
    return True


FORK = Operation(
    "fork",
    actors=("thread",),
    fields=(),
    required=(),
    kernel="`dup_mmap` / `copy_page_range` in steps, under `write_protect_seq`",
    run=_fork,
    describe=lambda a: "fork()",
    budget="fork",
    per_process=lambda t: [Action("fork", t.actor, t.pid)] if t.room else [],
    held_by=("process", "max_processes", "mmap_lock"),
    write_locks=True,
)


def _exit(ctx: Ctx, w: Work, a: Action) -> bool:
    # exit_mmap() waits for the mmap lock a fork holds; a gup-fast of the process
    # runs with interrupts off, which the TLB flush of the teardown waits for.
    # A write to /proc/PID/mem holds a reference on the mm (mmget()): exit_mmap()
    # runs after it.
    mmap_write_lock(w, a.pid)
    if any(type(o) is GupFastOp and o.pid == a.pid for o in w.inflight):
        raise Blocked
    return syscalls.exit_mm(w, ctx, a.pid)


EXIT = Operation(
    "exit",
    actors=("thread",),
    fields=(),
    required=(),
    kernel="`exit_mmap`",
    run=_exit,
    describe=lambda a: "exit()",
    budget="exit",
    # The last thread exits: no other may be in the middle of an operation.
    per_process=lambda t: [Action("exit", t.actor, t.pid)] if t.all_idle else [],
    held_by=("process", "mmap_lock", "gup_fast"),
    write_locks=True,
)
