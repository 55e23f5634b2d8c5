"""A mutable working copy of an MMState, used while one action executes.

Operations mutate a ``Work`` and ``freeze()`` it back into an immutable state. The
bookkeeping primitives here (get_page/put_page, swap_free, zap) are shared
mechanism: rules never touch counts directly, they only answer hook questions.
"""

from __future__ import annotations

from typing import cast

from cowcheck.mm import records
from cowcheck.mm.state import (
    NO_FILE,
    NO_FRAME,
    NO_SLOT,
    PTE_EMPTY,
    PTE_PRESENT,
    PTE_SWAP,
    ZERO_FRAME,
    ZERO_TOKEN,
    Expect,
    GupFastOp,
    InFlight,
    MMState,
    Page,
    Proc,
    Pte,
    Ref,
    Slot,
    SwapoutOp,
    Tok,
    bit,
)


class Blocked(Exception):
    """The action would sleep (on a page lock or the mmap lock): it is not enabled now."""


class ModelBug(Exception):
    """Bookkeeping went wrong in a way the kernel would BUG_ON."""


_PROC_FIELD = {name: i for i, name in enumerate(Proc._fields)}

# Records are rebuilt by position, field by field (records.py says why).


def _with_counts(p: Page, refcount: int, mapcount: int, pincount: int) -> Page:
    return records.page((refcount, mapcount, pincount, p.anon_exclusive, p.swapcache, p.locked, p.content, p.file))


class Work:
    """The swap slots, the token table and the speculative references are copied
    on first use only (most actions touch none of them), and ``freeze()`` keeps
    the state's own tuple for any that was never used."""

    __slots__ = (
        "_s",
        "_slots",
        "_spec",
        "_toks",
        "_uses_pae",
        "events",
        "fault_write",
        "inflight",
        "notes",
        "pages",
        "procs",
        "refs",
        "zero",
    )

    def __init__(self, s: MMState, uses_pae: bool) -> None:
        self._s = s
        self.procs: list[Proc] = list(s.procs)
        self.pages: dict[int, Page] = dict(s.pages)
        self._slots: dict[int, Slot] | None = None
        self.refs: list[Ref] = list(s.refs)
        self._toks: dict[int, Tok] | None = None
        self.inflight: list[InFlight] = list(s.inflight)
        self._spec: list[int] | None = None
        self.notes: list[str] = []
        self.events: list[object] = []
        self._uses_pae = uses_pae
        self.zero = s.zero  # the zero page's content; () while all zeroes
        # VM_FAULT_WRITE: the last fault broke COW (do_wp_page(), or do_swap_page()
        # reusing the page for a write); faultin_page() reads it for FOLL_FORCE.
        self.fault_write = False

    @property
    def slots(self) -> dict[int, Slot]:
        if self._slots is None:
            self._slots = dict(self._s.slots)
        return self._slots

    @property
    def toks(self) -> dict[int, Tok]:
        if self._toks is None:
            self._toks = dict(self._s.toks)
        return self._toks

    @property
    def spec(self) -> list[int]:
        if self._spec is None:
            self._spec = list(self._s.spec)
        return self._spec

    def freeze(self, pcs: tuple[int, ...], budget: tuple[int, ...]) -> MMState:
        """The new state with these program counters and budget, which the caller
        charges (no operation reads or writes them); its ``bug`` field empty (a bug is
        set by the caller)."""
        s = self._s
        return records.mm_state(
            (
                tuple(self.procs),
                tuple(sorted(self.pages.items())),
                s.slots if self._slots is None else tuple(sorted(self._slots.items())),
                tuple(self.refs),
                s.toks if self._toks is None else tuple(sorted(self._toks.items())),
                tuple(self.inflight),
                s.spec if self._spec is None else tuple(sorted(self._spec)),
                self.zero,
                pcs,
                budget,
                "",
            ),
        )

    def note(self, text: str) -> None:
        self.notes.append(text)

    # ids ------------------------------------------------------------------------

    def _new_frame_id(self) -> int:
        # Never reuse a number still named anywhere (a gup-fast PTE snapshot may
        # name a freed frame): a stale snapshot must see "freed", not a new page.
        used = set(self.pages)
        for op in self.inflight:
            if isinstance(op, GupFastOp) and op.snap_frame >= 0:
                used.add(op.snap_frame)
        return max(used, default=-1) + 1

    def new_token(self, writer: int, device: bool, visible: int, file: bool = False) -> int:
        t = max(self.toks, default=ZERO_TOKEN) + 1
        self.toks[t] = records.tok((writer, device, visible, file))
        return t

    # pages ------------------------------------------------------------------------

    def page(self, f: int) -> Page:
        try:
            return self.pages[f]
        except KeyError:
            raise ModelBug(f"use of freed page #{f}") from None

    def content(self, f: int, cells: int) -> tuple[int, ...]:
        if f == ZERO_FRAME:
            return self.zero or (ZERO_TOKEN,) * cells
        return self.page(f).content

    def alloc_page(self, content: tuple[int, ...], exclusive: bool, file: int = NO_FILE) -> int:
        """A new page with one reference, the caller's: for a page-cache page
        (``file``), the page cache's own."""
        f = self._new_frame_id()
        self.pages[f] = records.page((1, 0, 0, exclusive and self._uses_pae, NO_SLOT, False, content, file))
        return f

    def get_page(self, f: int, pin: bool = False) -> None:
        if f == ZERO_FRAME:
            return
        p = self.page(f)
        self.pages[f] = _with_counts(p, p.refcount + 1, p.mapcount, p.pincount + pin)

    def put_page(self, f: int, pin: bool = False) -> None:
        if f == ZERO_FRAME:
            return
        p = self.page(f)
        rc = p.refcount - 1
        if rc < 0 or (pin and p.pincount == 0):
            raise ModelBug(f"page #{f}: refcount underflow")
        if rc == 0:
            if p.file != NO_FILE:
                raise ModelBug(f"page #{f} freed while in the page cache")
            if p.mapcount or p.swapcache != NO_SLOT or p.locked:
                raise ModelBug(f"page #{f} freed while mapped, in swapcache or locked")
            del self.pages[f]
            self.note(f"page #{f} freed")
            return
        self.pages[f] = _with_counts(p, rc, p.mapcount, p.pincount - pin)

    def set_exclusive(self, f: int, value: bool) -> None:
        if f == ZERO_FRAME or not self._uses_pae:
            return
        p = self.page(f)
        if p.anon_exclusive != value and p.file == NO_FILE:
            self.pages[f] = records.page(
                (p.refcount, p.mapcount, p.pincount, value, p.swapcache, p.locked, p.content, p.file)
            )

    def set_locked(self, f: int, value: bool) -> None:
        """PG_locked: set by reclaim's trylock_page(), cleared by its unlock_page()."""
        p = self.page(f)
        self.pages[f] = records.page(
            (p.refcount, p.mapcount, p.pincount, p.anon_exclusive, p.swapcache, value, p.content, p.file)
        )

    def write_cell(self, f: int, cell: int, token: int, cells: int = 0) -> None:
        """Store ``token``; ``cells`` is needed only where ``f`` may be the zero page."""
        if f == ZERO_FRAME:
            z = list(self.content(f, cells))
            z[cell] = token
            self.zero = tuple(z)
            return
        p = self.page(f)
        c = list(p.content)
        c[cell] = token
        self.pages[f] = records.page(
            (p.refcount, p.mapcount, p.pincount, p.anon_exclusive, p.swapcache, p.locked, tuple(c), p.file)
        )

    # rmap ---------------------------------------------------------------------------

    def map_page(self, pid: int, v: int, f: int, writable: bool, dirty: bool = False) -> None:
        """Install a present PTE. The caller already holds the reference it turns into.
        ``dirty``: pte_mkdirty(), kept only where Ctx.dirty says (the caller checks)."""
        if f != ZERO_FRAME:
            p = self.page(f)
            self.pages[f] = _with_counts(p, p.refcount, p.mapcount + 1, p.pincount)
        self.set_pte(pid, v, records.pte((PTE_PRESENT, f, writable, False, dirty)))

    def unmap_page(self, pid: int, v: int) -> int:
        """page_remove_rmap() + clear the PTE; returns the frame (reference not dropped)."""
        pte = self.pte(pid, v)
        if pte.kind != PTE_PRESENT:
            raise ModelBug("unmap of a non-present PTE")
        f = pte.target
        if f != ZERO_FRAME:
            p = self.page(f)
            self.pages[f] = _with_counts(p, p.refcount, p.mapcount - 1, p.pincount)
        self.set_pte(pid, v, PTE_EMPTY)
        return f

    # swap ---------------------------------------------------------------------------

    def slot(self, s: int) -> Slot:
        try:
            return self.slots[s]
        except KeyError:
            raise ModelBug(f"use of freed swap slot {s}") from None

    def new_slot(self, frame: int) -> int:
        s = max(self.slots, default=-1) + 1
        self.slots[s] = records.slot((0, frame, ()))
        return s

    def add_to_swapcache(self, f: int, s: int) -> None:
        p = self.page(f)
        self.pages[f] = records.page(
            (p.refcount + 1, p.mapcount, p.pincount, p.anon_exclusive, s, p.locked, p.content, p.file)
        )
        sl = self.slot(s)
        self.slots[s] = records.slot((sl.swapcount, f, sl.content))

    def delete_from_swapcache(self, f: int) -> None:
        """delete_from_swap_cache(): drop the swapcache reference; free an unused slot."""
        p = self.page(f)
        s = p.swapcache
        self.pages[f] = records.page(
            (p.refcount, p.mapcount, p.pincount, p.anon_exclusive, NO_SLOT, p.locked, p.content, p.file)
        )
        sl = self.slot(s)
        if sl.swapcount == 0:
            del self.slots[s]
        else:
            self.slots[s] = records.slot((sl.swapcount, NO_FRAME, sl.content))
        self.put_page(f)

    def swap_duplicate(self, s: int) -> None:
        sl = self.slot(s)
        self.slots[s] = records.slot((sl.swapcount + 1, sl.cache, sl.content))

    def swap_free(self, s: int) -> None:
        """swap_free(): drop one swap PTE's count; the swapcache page, if any, stays."""
        sl = self.slot(s)
        if sl.swapcount <= 0:
            raise ModelBug(f"swap slot {s}: swap count underflow")
        if sl.swapcount == 1 and sl.cache == NO_FRAME:
            del self.slots[s]
        else:
            self.slots[s] = records.slot((sl.swapcount - 1, sl.cache, sl.content))

    def free_swap_and_cache(self, s: int) -> None:
        """free_swap_and_cache() on zap: the last swap PTE gone, reclaim an unlocked
        unmapped swapcache page (__try_to_reclaim_swap with TTRS_UNMAPPED)."""
        self.swap_free(s)
        sl = self.slots.get(s)
        if sl is not None and sl.swapcount == 0 and sl.cache != NO_FRAME:
            p = self.page(sl.cache)
            if not p.locked and p.mapcount == 0:
                self.delete_from_swapcache(sl.cache)

    # processes ------------------------------------------------------------------------

    def pte(self, pid: int, v: int) -> Pte:
        return self.procs[pid].ptes[v]

    def set_pte(self, pid: int, v: int, pte: Pte) -> None:
        pr = self.procs[pid]
        ptes = list(pr.ptes)
        ptes[v] = pte
        self.procs[pid] = records.proc(
            (pr.alive, pr.parent, pr.threads, pr.has_pinned, pr.wp_seq, pr.vmas, tuple(ptes), pr.expect)
        )

    def set_proc(self, pid: int, **changes: object) -> None:
        # As _replace(), through a table of field positions: it is the commonest
        # Proc update, and NamedTuple's own _replace costs a few times more.
        fields = list(self.procs[pid])
        for name, value in changes.items():
            fields[_PROC_FIELD[name]] = value
        self.procs[pid] = records.proc(cast(records.ProcFields, tuple(fields)))

    def expect(self, pid: int, v: int) -> Expect:
        return self.procs[pid].expect[v]

    def set_expect(self, pid: int, v: int, value: Expect) -> None:
        pr = self.procs[pid]
        ex = list(pr.expect)
        ex[v] = value
        self.procs[pid] = records.proc(
            (pr.alive, pr.parent, pr.threads, pr.has_pinned, pr.wp_seq, pr.vmas, pr.ptes, tuple(ex))
        )

    def set_expect_cell(self, pid: int, v: int, cell: int, toks: tuple[int, ...]) -> None:
        cur = self.expect(pid, v)
        if not cur:  # UNMAPPED
            return
        cells = list(cur)
        cells[cell] = tuple(sorted(toks))
        self.set_expect(pid, v, tuple(cells))

    def share_tokens_with(self, pid: int, child: int, only: set[int] | None = None) -> None:
        """Tokens ``pid`` may see become visible to ``child`` (history before divergence)."""
        b, c = bit(pid), bit(child)
        for t, tok in list(self.toks.items()):
            if tok.visible & b and (only is None or t in only):
                self.toks[t] = records.tok((tok.writer, tok.device, tok.visible | c, tok.file))

    def zap_pte(self, pid: int, v: int) -> None:
        """zap_pte_range() for one PTE: drop the mapping's reference or swap count."""
        pte = self.pte(pid, v)
        if pte.kind == PTE_PRESENT:
            f = self.unmap_page(pid, v)
            self.put_page(f)
        elif pte.kind == PTE_SWAP:
            self.set_pte(pid, v, PTE_EMPTY)
            self.free_swap_and_cache(pte.target)

    def detach_refs(self, pid: int, v: int | None) -> None:
        """The owner's mapping is gone: its references owe coherency to nobody now."""
        for i, r in enumerate(self.refs):
            if r.owner == pid and (v is None or r.vpage == v) and r.attached:
                self.refs[i] = records.ref(
                    (r.name, r.owner, r.vpage, r.frame, r.pin, r.write, r.longterm, False, r.crossed)
                )

    def reclaim_holds(self, f: int) -> bool:
        return any(isinstance(op, SwapoutOp) and op.frame == f for op in self.inflight)
