"""The abstract mm: immutable records for every piece of kernel bookkeeping we model.

Everything is a NamedTuple so that states are plain tuples: immutable, cheap to hash
and to compare. Frame, swap-slot and token numbers are anonymous identities; the
canonical form (``canon.py``) relabels them by first appearance.

What is deliberately left out, and why that is safe for the hooks modelled here:
- The PTE dirty bit is kept only where something reads it: ``can_follow_write_pte()``
  of a FOLL_FORCE write (``Ctx.dirty``; elsewhere it stays clear, which merges states
  that differ in nothing any path reads). Soft-dirty is not modelled: the soft-dirty
  write-protect of ``pte_needs_soft_dirty_wp`` in ``do_swap_page`` only turns a
  writable mapping of an exclusive page into a read-only one whose next write fault
  reuses it anyway, and 5535be309971's soft-dirty test in ``can_follow_write_pte()``
  only makes a FOLL_FORCE write fault once more.
- The file behind a file-backed vpage is one page (index = the vpage), the same file
  in every process. Page-cache pages are never reclaimed or truncated: reclaim of a
  clean page-cache page only drops a copy of what the file holds.
- anon_vma ownership (``page_move_anon_rmap``): rmap walks are modelled by scanning
  every PTE, which is what a correct anon_vma chain would find.
- KSM and compound pages: later issues.
- ``GUP_PIN_COUNTING_BIAS``: a pin adds 1 to ``refcount`` and 1 to ``pincount`` instead
  of 1024 to the refcount; ``page_maybe_dma_pinned()`` is ``pincount > 0``. The false
  positives of the bias (1024 FOLL_GET references) are not reachable in small bounds.
"""

from __future__ import annotations

import zlib
from typing import Final, NamedTuple


def _stable(text: str) -> int:
    """str hashes are salted per process; fingerprints and worker partitions must be
    the same on every run and in every worker, so str fields hash through this."""
    return zlib.crc32(text.encode()) if text else 0


# Final: the compiled build (mypyc) folds these into its C code instead of looking
# them up in a module dict at each use.
ZERO_FRAME: Final = -1  # the shared zero page: never allocated, never freed, not refcounted
NO_SLOT: Final = -1
NO_FRAME: Final = -2
ZERO_TOKEN: Final = 0  # the content of a freshly zeroed page, visible to every process

# A vpage's expectation (Proc.expect): per cell, the tokens a read may show.
Expect = tuple[tuple[int, ...], ...]
# Nothing mapped, so nothing expected: no cells. Not None: None hashes by its address
# in Python 3.11, which differs from process to process, and a state's fingerprint
# (hash) must be the same in every run and every worker.
UNMAPPED: Expect = ()

# PTE kinds
PTE_NONE: Final = 0
PTE_PRESENT: Final = 1
PTE_SWAP: Final = 2

# What backs a vpage (the VMA's vm_file and VM_SHARED; docs/scenario-format.md). It is
# fixed per vpage for the whole run, so it lives in the world (``Ctx.backing``), not
# in the state.
ANON: Final = 0  # MAP_PRIVATE|MAP_ANONYMOUS
FILE: Final = 1  # MAP_PRIVATE of a regular file (ext4, xfs: needs dirty tracking)
SHMEM: Final = 2  # MAP_PRIVATE of a tmpfs file or memfd
SHARED_SHMEM: Final = 3  # MAP_SHARED of a tmpfs file or memfd
SHARED_FILE: Final = 4  # MAP_SHARED of a regular file (vma_needs_dirty_tracking())
NO_FILE: Final = -1  # Page.file of an anonymous page


def is_shared(backing: int) -> bool:
    """VM_SHARED: not a COW mapping (is_cow_mapping() is false)."""
    return backing >= SHARED_SHMEM


class Pte(NamedTuple):
    kind: int = PTE_NONE
    target: int = NO_FRAME  # frame (present) or swap slot (swap entry)
    writable: bool = False
    exclusive: bool = False  # swap PTE only: pte_swp_exclusive (1493a1913e34)
    dirty: bool = False  # pte_dirty(), where Ctx.dirty keeps it (see above)


PTE_EMPTY = Pte()


class Page(NamedTuple):
    """struct page / folio of an order-0 anonymous page, or of a page-cache page."""

    refcount: int  # page_count(): mappings + swapcache + GUP + transient references
    mapcount: int  # page_mapcount()
    pincount: int  # FOLL_PIN references; page_maybe_dma_pinned() == pincount > 0
    anon_exclusive: bool  # PG_anon_exclusive (only rules that have it set it)
    swapcache: int  # swap slot when PageSwapCache, else NO_SLOT
    locked: bool  # PG_locked, held by reclaim across its phases
    content: tuple[int, ...]  # one token per cell
    # The file page it caches (its index: the vpage that maps it), or NO_FILE for an
    # anonymous page. A page-cache page is not PageAnon, never PageAnonExclusive,
    # and the page cache holds a reference on it for the whole run.
    file: int


class Slot(NamedTuple):
    """A swap slot: its swap count, its swapcache page and what was written out."""

    swapcount: int  # swap PTEs that reference the slot (swap_map without SWAP_HAS_CACHE)
    cache: int  # swapcache page, or NO_FRAME
    content: tuple[int, ...]  # data on the swap device; () until first written out


class Vma(NamedTuple):
    mapped: bool = True
    writable: bool = True  # VM_WRITE (private anonymous: always a COW mapping)
    dontfork: bool = False  # VM_DONTCOPY from MADV_DONTFORK


class Proc(NamedTuple):
    """An mm_struct with its threads."""

    alive: bool
    parent: int  # -1 for the initial process
    threads: int
    has_pinned: bool  # mm->has_pinned / MMF_HAS_PINNED
    wp_seq: int  # mm->write_protect_seq (57efa1fe5957)
    vmas: tuple[Vma, ...]
    ptes: tuple[Pte, ...]
    # Ghost: per vpage, per cell, the tokens a correct kernel may show this process
    # (sorted); UNMAPPED (no cells) where nothing is mapped.
    expect: tuple[Expect, ...]


class Ref(NamedTuple):
    """A reference taken by GUP and held by a device or the kernel on its behalf."""

    name: str
    owner: int
    vpage: int
    frame: int
    pin: bool  # FOLL_PIN (else FOLL_GET)
    write: bool  # FOLL_WRITE
    longterm: bool  # FOLL_LONGTERM
    attached: bool  # the owner still maps the vpage the reference was taken on
    crossed: int  # bitmask of processes forked, directly or not, from the owner while it was held


class NamedRef(Ref):
    """A reference with a name (litmus scenarios name theirs): it hashes its name
    stably. An unnamed one is a plain ``Ref`` and hashes as the tuple it is, since
    CPython hashes '' to 0 whatever the salt. A ``__hash__`` on every ``Ref`` would
    be a Python-level call each time a state holding one is hashed, and the open
    scenarios' references are all unnamed. Build references through
    ``records.ref``, which picks the type by the name."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash((_stable(self.name), self[1:]))


class Tok(NamedTuple):
    """Who wrote a token and which processes may legitimately observe it (ghost)."""

    writer: int  # pid
    device: bool  # written by a device through a reference owned by ``writer``
    visible: int  # bitmask of pids
    # Ghost: it may be in a file's page-cache page: the file's own data, or written
    # through a MAP_SHARED mapping of it. Anything else there is a private write that
    # reached the file (Dirty COW).
    file: bool = False


# In-flight multi-step kernel paths -------------------------------------------------


class ForkOp(NamedTuple):
    """copy_page_range() between its PTE copies (mmap write lock held by the parent)."""

    actor: int
    parent: int
    child: int
    next_vpage: int
    # copy_present_pte() on next_vpage is half done: the page passed the pinned check
    # and is referenced for the child, but neither PTE is written yet (the window of
    # 57efa1fe5957). The PT lock is held; only lockless paths run.
    held: bool = False


GUPF_GRAB: Final = 1  # PTE read, reference not yet taken
GUPF_RECHECK: Final = 2  # reference taken, PTE not yet re-checked
GUPF_SLOW: Final = 3  # fell back to the slow path; waits for the mmap lock


class GupFastOp(NamedTuple):
    """lockless_pages_from_mm() / gup_pte_range() between its steps."""

    actor: int
    pid: int
    vpage: int
    pin: bool
    write: bool
    longterm: bool
    name: str
    stage: int
    seq: int  # write_protect_seq read at the start (pins only)
    snap_frame: int  # the PTE read at the start
    snap_writable: bool

    def __hash__(self) -> int:
        if not self.name:  # as Ref's
            return tuple.__hash__(self)
        return hash((self[:6], _stable(self.name), self[7:]))


SWAPOUT_UNMAP: Final = 1  # in swapcache, page locked; try_to_unmap() next
SWAPOUT_WRITE: Final = 2  # unmapped; pageout() and __remove_mapping() next


class SwapoutOp(NamedTuple):
    """shrink_page_list() on one page, holding the page lock and an isolation reference."""

    actor: int
    frame: int
    stage: int


class ForceOp(NamedTuple):
    """access_remote_vm() with FOLL_FORCE|FOLL_WRITE (a write to /proc/PID/mem, ptrace
    POKE) inside __get_user_pages()'s retry loop, under the target's mmap read lock:
    each step is one follow_page_mask() and, when that finds nothing it may use,
    faultin_page(). ``write`` is FOLL_WRITE, which faultin_page() drops up to 4.8;
    ``cow`` is FOLL_COW (19be0eaffa3a, 4.9 to 5.19)."""

    actor: int
    pid: int
    vpage: int
    cell: int
    write: bool
    cow: bool


InFlight = ForkOp | GupFastOp | SwapoutOp | ForceOp


class MMState(NamedTuple):
    procs: tuple[Proc, ...]
    pages: tuple[tuple[int, Page], ...]  # sorted by frame id
    slots: tuple[tuple[int, Slot], ...]  # sorted by slot id
    refs: tuple[Ref, ...]
    toks: tuple[tuple[int, Tok], ...]  # sorted by token id
    inflight: tuple[InFlight, ...]
    spec: tuple[int, ...]  # frames held by speculative references (sorted)
    # The shared zero page's content: () while it is all zeroes, as it always should
    # be (a write into it is a bug that read-only-data reports).
    zero: tuple[int, ...]
    pcs: tuple[int, ...]  # litmus program counter per actor
    budget: tuple[int, ...]  # remaining budget per action kind (scenario order)
    # A bug string is salted by str hashing, which is harmless: a bug state is a
    # violation and the end of its path, never a parent or a tie-breaker.
    bug: str = ""  # set when a path hit a kernel BUG_ON-class inconsistency; terminal


class Holder(NamedTuple):
    """Something that keeps a page alive, for bookkeeping checks and reachability
    (``observe.holders``)."""

    kind: str  # "pte", "swapcache", "pagecache", "ref", "gup-fast", "reclaim", "speculative"
    pid: int  # owning process, or -1
    detail: str


# MMState's fields before this index are the mm and the litmus programs' counters;
# the budget comes next, then the bug string.
BUDGET_FIELD = MMState._fields.index("budget")


def frame_name(f: int) -> str:
    return "the zero page" if f == ZERO_FRAME else f"page #{f}"


def bit(pid: int) -> int:
    return 1 << pid
