"""System calls on a process's mappings (``mm/syscalls.py``): each takes the mmap lock,
so none runs while a fork of the process is copying."""

from __future__ import annotations

from cowcheck.mm import syscalls, userfaultfd
from cowcheck.mm.actions import OUTSIDER, Action
from cowcheck.mm.context import Ctx
from cowcheck.mm.ops.operation import Operation, ThreadOffer, mmap_lock, mmap_write_lock, new_action, vaddr
from cowcheck.mm.state import MMState
from cowcheck.mm.work import Work
from cowcheck.mm.world import World


def _mprotect(ctx: Ctx, w: Work, a: Action) -> bool:
    mmap_write_lock(w, a.pid)
    return syscalls.mprotect(w, a.pid, a.vpage, a.prot == "rw") or ctx.litmus


def _offer_mprotect(t: ThreadOffer, v: int) -> list[Action]:
    # The protection it does not have.
    return [Action("mprotect", t.actor, t.pid, v, prot="rw" if not t.vmas[v].writable else "ro")]


def _describe_mprotect(a: Action) -> str:
    prot = "PROT_READ" if a.prot == "ro" else "PROT_READ|PROT_WRITE"
    return f"mprotect({vaddr(a)}, {prot})"


MPROTECT = Operation(
    "mprotect",
    actors=("thread",),
    fields=("vpage", "prot"),
    required=(),
    kernel="`change_pte_range`",
    run=_mprotect,
    describe=_describe_mprotect,
    budget="mprotect",
    per_vpage=_offer_mprotect,
    held_by=("process", "vma", "mmap_lock"),
    write_locks=True,
)


def _munmap(ctx: Ctx, w: Work, a: Action) -> bool:
    mmap_write_lock(w, a.pid)
    return syscalls.zap(w, ctx, a.pid, a.vpage, True)


MUNMAP = Operation(
    "munmap",
    actors=("thread",),
    fields=("vpage",),
    required=(),
    kernel="`zap_pte_range` and the VMA's removal",
    run=_munmap,
    describe=lambda a: f"munmap({vaddr(a)})",
    budget="munmap",
    per_vpage=lambda t, v: [Action("munmap", t.actor, t.pid, v)],
    held_by=("process", "vma", "mmap_lock"),
    write_locks=True,
)


def _dontneed(ctx: Ctx, w: Work, a: Action) -> bool:
    mmap_lock(w, a.pid)
    return syscalls.zap(w, ctx, a.pid, a.vpage, False)


DONTNEED = Operation(
    "dontneed",
    actors=("thread",),
    fields=("vpage",),
    required=(),
    kernel="MADV_DONTNEED: `zap_page_range`",
    run=_dontneed,
    describe=lambda a: f"madvise({vaddr(a)}, MADV_DONTNEED)",
    budget="dontneed",
    per_vpage=lambda t, v: [Action("dontneed", t.actor, t.pid, v)],
    held_by=("process", "vma", "mmap_lock"),
)


def _dontfork(ctx: Ctx, w: Work, a: Action) -> bool:
    mmap_write_lock(w, a.pid)
    return syscalls.madvise_dontfork(w, a.pid, a.vpage) or ctx.litmus


DONTFORK = Operation(
    "dontfork",
    actors=("thread",),
    fields=("vpage",),
    required=(),
    kernel="MADV_DONTFORK: `VM_DONTCOPY`",
    run=_dontfork,
    describe=lambda a: f"madvise({vaddr(a)}, MADV_DONTFORK)",
    budget="dontfork",
    per_vpage=lambda t, v: [Action("dontfork", t.actor, t.pid, v)],
    held_by=("process", "vma", "mmap_lock"),
    write_locks=True,
)


def _clear_refs(ctx: Ctx, w: Work, a: Action) -> bool:
    if not w.procs[a.pid].alive:
        return False
    # 29a951dfb3c3: clear_refs takes the target's mmap lock; for soft-dirty it takes
    # it for writing (to clear VM_SOFTDIRTY).
    mmap_write_lock(w, a.pid)
    return syscalls.clear_refs(w, ctx, a.pid) or ctx.litmus


def _offer_clear_refs(world: World, s: MMState) -> list[Action]:
    # Another process writes to /proc/pid/clear_refs of each live one.
    return [new_action("clear_refs", OUTSIDER, pid) for pid, pr in enumerate(s.procs) if pr.alive]


CLEAR_REFS = Operation(
    "clear_refs",
    actors=("thread", "outsider"),
    fields=("process",),
    required=(),
    kernel="`clear_refs_write` -> `clear_soft_dirty` on the target process",
    run=_clear_refs,
    describe=lambda a: f"echo 4 > /proc/P{a.pid}/clear_refs",
    budget="clear_refs",
    environment=_offer_clear_refs,
    held_by=("process", "mmap_lock"),
    write_locks=True,
)


def _uffd_continue(ctx: Ctx, w: Work, a: Action) -> bool:
    mmap_lock(w, a.pid)  # mfill_atomic() takes the mmap lock for reading
    return userfaultfd.uffdio_continue(w, ctx, a.pid, a.vpage) or ctx.litmus


def _offer_uffd_continue(t: ThreadOffer, v: int) -> list[Action]:
    vi = t.world.vpages[v]
    if t.present[v] or not vi.uffd_minor or vi.backing != "shmem" or t.pid != 0:
        return []
    return [Action("uffd_continue", t.actor, t.pid, v)]


UFFD_CONTINUE = Operation(
    "uffd_continue",
    actors=("thread",),
    fields=("vpage",),
    required=(),
    kernel="`UFFDIO_CONTINUE`: `mfill_atomic_install_pte` maps the page-cache page (R/O in a private mapping; "
    "dirty from 9ae0f87d009c)",
    run=_uffd_continue,
    describe=lambda a: f"ioctl(UFFDIO_CONTINUE, {vaddr(a)})",
    budget="uffd_continue",
    per_vpage=_offer_uffd_continue,
    held_by=("process", "vma", "mmap_lock"),
)
