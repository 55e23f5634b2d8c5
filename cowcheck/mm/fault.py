"""The page-fault paths: handle_mm_fault() and what it dispatches to (mm/memory.c).

A fault runs under the PT lock and is one step. Where the kernel lets a racer in
mid-fault, the model reaches the same outcomes by ordering the racer before or after
the step; each case and why:
- do_wp_page()'s early checks (5.9: ``page_count != 1`` before trylock_page(); 5.18+:
  ``refcount > 3``, ``> 1 + swapcache``) run under the PT lock but before the page
  lock, so only lockless paths fit between them and the locked re-check: gup-fast's
  grab, a DMA release, a speculative reference, reclaim taking the page lock. All of
  them only move the refcount or the lock bit, and the locked re-check reads those
  again; an early "copy" is what the same racer ordered first yields, and an early
  "go on" followed by a racer is decided by the locked check, which is what the atomic
  step computes with the racer ordered first. No rule hook sees the early value alone.
- the mapcount rule's lock_page() sleep (5.7 do_wp_page(): get_page, drop the PT
  lock, lock_page, retake it, pte_same() or retry): modelled as the fault waiting for
  the page lock (``wait_lock``); a racer that changes the PTE meanwhile makes
  pte_same() fail and the fault retry, which is the fault starting after the racer.
- do_swap_page() reads the page without the PT lock and re-checks pte_same() under
  it; fork's swap_duplicate() changes the swap count, which reuse_swap_page() reads
  under the lock, or the PTE (the exclusive bit), which fails pte_same().
These are equivalences under sequential consistency only: see
models/anon_exclusive_6_1.py for what that leaves out.

File-backed vpages (a page-cache page per vpage, ``state.FILE`` and the rest):
do_read_fault() maps the page-cache page R/O; a write fault on a private mapping is
do_cow_fault() (an anonymous copy); on a shared one do_shared_fault(), or
wp_page_shared() on a R/O PTE. do_wp_page() never reuses a page-cache page in a
private mapping: only PageAnon pages reach the rule's reuse decision (5.8 do_wp_page()
``if (PageAnon(vmf->page))``; 6.x ``folio_test_anon()``), the rest are copied like the
zero page. ``->page_mkwrite``, readahead and the fault-around of do_read_fault() are
not modelled: the one page of the file is all they could map.
"""

from __future__ import annotations

from cowcheck.mm import records
from cowcheck.mm.context import Ctx, page_view
from cowcheck.mm.events import WpCopy
from cowcheck.mm.rule import UFFD_NO_MINOR
from cowcheck.mm.state import (
    ANON,
    NO_FILE,
    PTE_EMPTY,
    PTE_NONE,
    PTE_PRESENT,
    PTE_SWAP,
    ZERO_FRAME,
    ZERO_TOKEN,
    frame_name,
    is_shared,
)
from cowcheck.mm.work import Blocked, ModelBug, Work

READ = "read"
WRITE = "write"
UNSHARE = "unshare"  # FAULT_FLAG_UNSHARE (c89357e27f20)


def backing(ctx: Ctx, v: int) -> int:
    return ctx.backing[v] if ctx.backing else ANON


def userfault(ctx: Ctx, pid: int, v: int) -> bool:
    """A fault on a none PTE of this vpage is a userfaultfd minor fault: the VMA is
    registered in minor mode (shmem, from 5.14) and its page is in the page cache.
    Only in process 0, which registered it: without UFFD_FEATURE_EVENT_FORK,
    dup_userfaultfd() clears the VM_UFFD_* flags of a forked child's VMAs."""
    return pid == 0 and bool(ctx.uffd_minor) and ctx.uffd_minor[v] and ctx.rule.uffd_minor_shmem != UFFD_NO_MINOR


def handle_mm_fault(
    w: Work, ctx: Ctx, pid: int, v: int, kind: str, cow_break: bool = False, uffd_fails: bool = False
) -> bool:
    """Returns False where the fault fails (SIGSEGV / -EFAULT to GUP). ``cow_break``:
    a write fault GUP forces on a vma without VM_WRITE (17839856fd58's FOLL_WRITE on
    every GUP, or FOLL_FORCE); it breaks COW and leaves the PTE R/O (maybe_mkwrite()).
    Sets ``w.fault_write`` where the fault returns VM_FAULT_WRITE. A userfault waits
    for the handler (Blocked), or fails where the caller cannot retry (``uffd_fails``:
    no FAULT_FLAG_ALLOW_RETRY, handle_userfault() returns VM_FAULT_SIGBUS)."""
    vma = w.procs[pid].vmas[v]
    if not vma.mapped or (kind == WRITE and not vma.writable and not cow_break):
        return False
    w.fault_write = False
    b = backing(ctx, v)
    pte = w.pte(pid, v)
    if pte.kind == PTE_NONE:
        if kind == UNSHARE:
            return True
        if b != ANON and userfault(ctx, pid, v):
            if uffd_fails:
                w.note("handle_userfault: VM_UFFD_MINOR without FAULT_FLAG_ALLOW_RETRY -> VM_FAULT_SIGBUS")
                return False
            raise Blocked  # until the handler resolves it (UFFDIO_CONTINUE)
        if b == ANON:
            do_anonymous_page(w, ctx, pid, v, kind == WRITE)
        elif kind == READ:
            do_read_fault(w, pid, v)
        elif is_shared(b):
            do_shared_fault(w, ctx, pid, v)
        else:
            do_cow_fault(w, ctx, pid, v)
    elif pte.kind == PTE_SWAP:
        do_swap_page(w, ctx, pid, v, kind == WRITE)
    elif not pte.writable and kind in (WRITE, UNSHARE):
        if not is_shared(b):
            do_wp_page(w, ctx, pid, v, kind == UNSHARE)
        elif kind == WRITE:
            wp_page_shared(w, ctx, pid, v)
        # FAULT_FLAG_UNSHARE only concerns COW mappings: nothing to do in a shared one.
    return True


def file_frame(w: Work, v: int) -> int:
    """The page-cache page of the file page vpage ``v`` maps."""
    for f, p in w.pages.items():
        if p.file == v:
            return f
    raise ModelBug(f"no page-cache page for vpage {v}")


def do_read_fault(w: Work, pid: int, v: int) -> None:
    """filemap_fault() finds the page-cache page; finish_fault() maps it R/O, clean."""
    f = file_frame(w, v)
    w.get_page(f)
    w.map_page(pid, v, f, False)
    w.note(f"do_read_fault: map page-cache page #{f} R/O")


def do_cow_fault(w: Work, ctx: Ctx, pid: int, v: int) -> None:
    """A write fault on a private file mapping: copy the page-cache page into a new
    anonymous page (writable if VM_WRITE, dirty); no VM_FAULT_WRITE."""
    src = file_frame(w, v)
    f = w.alloc_page(w.content(src, ctx.cells), exclusive=True)
    writable = w.procs[pid].vmas[v].writable
    w.map_page(pid, v, f, writable, ctx.dirty)
    w.note(f"do_cow_fault: copy page-cache page #{src} into new exclusive page #{f}{'' if writable else ' R/O'}")


def do_shared_fault(w: Work, ctx: Ctx, pid: int, v: int) -> None:
    """A write fault on a shared file mapping: ->page_mkwrite, map the page-cache page
    writable and dirty."""
    f = file_frame(w, v)
    w.get_page(f)
    w.map_page(pid, v, f, True, ctx.dirty)
    w.note(f"do_shared_fault: map page-cache page #{f} writable")


def wp_page_shared(w: Work, ctx: Ctx, pid: int, v: int) -> None:
    """do_wp_page() in a shared mapping: the page-cache page itself becomes writable."""
    pte = w.pte(pid, v)
    w.set_pte(pid, v, records.pte((PTE_PRESENT, pte.target, True, False, ctx.dirty)))
    w.fault_write = True
    w.note(f"wp_page_shared: page-cache page #{pte.target} now writable")


def do_anonymous_page(w: Work, ctx: Ctx, pid: int, v: int, write: bool) -> None:
    if not write:
        # Read faults map the shared zero page (my_zero_pfn), read-only.
        w.map_page(pid, v, ZERO_FRAME, False)
        w.note("do_anonymous_page: map the shared zero page R/O")
        return
    f = w.alloc_page((ZERO_TOKEN,) * ctx.cells, exclusive=True)
    writable = w.procs[pid].vmas[v].writable
    # pte_mkwrite(pte_mkdirty()) only with VM_WRITE: a FOLL_FORCE fault maps it clean.
    w.map_page(pid, v, f, writable, ctx.dirty and writable)
    w.note(f"do_anonymous_page: new exclusive page #{f}")


def do_swap_page(w: Work, ctx: Ctx, pid: int, v: int, write: bool) -> None:
    pte = w.pte(pid, v)
    s = pte.target
    sl = w.slot(s)
    if sl.cache >= 0:
        f = sl.cache
        if w.page(f).locked:
            raise Blocked  # lock_page() sleeps while reclaim holds the page lock
        w.get_page(f)  # lookup_swap_cache() reference
        w.note(f"do_swap_page: page #{f} found in the swapcache")
    else:
        if not sl.content:
            raise ModelBug(f"swap slot {s} referenced before it was written")
        # swapin_readahead(): a new page, added to the swapcache, held by us. The
        # SWP_SYNCHRONOUS_IO path that skips the swapcache is not modelled: it only
        # applies to swap devices such as zram and the swapcache path is the general one.
        f = w.alloc_page(sl.content, exclusive=False)
        w.add_to_swapcache(f, s)
        w.note(f"do_swap_page: read swap slot {s} into new swapcache page #{f}")
    d = ctx.rule.do_swap_page(page_view(w, f), write, pte.exclusive)
    w.note(d.note)
    w.set_pte(pid, v, PTE_EMPTY)
    w.swap_free(s)
    if d.free_swapcache:
        if w.slot(s).swapcount != 0:
            raise ModelBug("swapcache freed while swap entries still use the slot")
        w.delete_from_swapcache(f)
    writable = d.writable and w.procs[pid].vmas[v].writable
    w.set_exclusive(f, d.exclusive)
    # Reused for a write: maybe_mkwrite(pte_mkdirty()), VM_FAULT_WRITE.
    w.map_page(pid, v, f, writable, ctx.dirty and write and d.writable)  # our lookup reference becomes the mapping's
    if write and d.writable:
        # Reused for the write: FAULT_FLAG_WRITE cleared, VM_FAULT_WRITE; without
        # VM_WRITE (a forced write) the PTE stays R/O, and do_wp_page() is not called.
        w.fault_write = True
    elif write:
        do_wp_page(w, ctx, pid, v, False)


def do_wp_page(w: Work, ctx: Ctx, pid: int, v: int, unshare: bool) -> None:
    pte = w.pte(pid, v)
    if pte.kind != PTE_PRESENT:
        raise ModelBug("do_wp_page on a non-present PTE")
    f = pte.target
    w.fault_write = True  # wp_page_reuse() and wp_page_copy() both return VM_FAULT_WRITE
    if f == ZERO_FRAME:
        w.note("do_wp_page: shared zero page -> wp_page_copy")
        wp_page_copy(w, ctx, pid, v, unshare)
        return
    if w.page(f).file != NO_FILE:
        w.note(f"do_wp_page: page-cache page #{f} is not PageAnon -> wp_page_copy")
        wp_page_copy(w, ctx, pid, v, unshare)
        return
    d = ctx.rule.do_wp_page(page_view(w, f), unshare)
    if d.wait_lock:
        raise Blocked
    w.note(d.note)
    if not d.reuse:
        wp_page_copy(w, ctx, pid, v, unshare)
        return
    if d.free_swapcache and w.page(f).swapcache >= 0:
        if w.slot(w.page(f).swapcache).swapcount != 0:
            raise ModelBug("swapcache freed while swap entries still use the slot")
        w.delete_from_swapcache(f)
    w.set_exclusive(f, True)
    if not unshare and (w.procs[pid].vmas[v].writable or ctx.dirty):
        # wp_page_reuse(): the same page, dirty, and writable with VM_WRITE
        # (maybe_mkwrite(pte_mkdirty())).
        writable = w.procs[pid].vmas[v].writable
        w.set_pte(pid, v, records.pte((PTE_PRESENT, f, writable, False, ctx.dirty)))


def wp_page_copy(w: Work, ctx: Ctx, pid: int, v: int, unshare: bool) -> None:
    old = w.pte(pid, v).target
    new = w.alloc_page(w.content(old, ctx.cells), exclusive=True)
    w.unmap_page(pid, v)
    w.put_page(old)
    # On unshare the copy is mapped R/O: it only breaks the sharing, not the protection.
    writable = not unshare and w.procs[pid].vmas[v].writable
    # maybe_mkwrite(pte_mkdirty()), except on unshare.
    w.map_page(pid, v, new, writable, ctx.dirty and not unshare)
    w.events.append(WpCopy(pid, v, old, new, unshare))
    what = "unshare" if unshare else "write"
    w.note(f"wp_page_copy ({what}): P{pid} now maps new page #{new}, {frame_name(old)} left behind")
