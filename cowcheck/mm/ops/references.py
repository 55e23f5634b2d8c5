"""GUP references: taking one (``mm/gup.py``), and what a device does through it
until it is released (``mm/device.py``)."""

from __future__ import annotations

from cowcheck.mm import device, force, gup, records
from cowcheck.mm.actions import DEVICE, Action, cell_addr
from cowcheck.mm.context import Ctx
from cowcheck.mm.ops.operation import Footprint, Operation, Res, ThreadOffer, mmap_lock, new_action, vaddr, via
from cowcheck.mm.state import ZERO_FRAME, MMState, Ref
from cowcheck.mm.work import Work
from cowcheck.mm.world import LitmusStep, World


def _gup(ctx: Ctx, w: Work, a: Action) -> bool:
    flags = records.gup_flags((a.pin, a.write, a.longterm))
    if a.fast:
        gup.gup_fast_start(w, ctx, a.actor, a.pid, a.vpage, flags, a.name)
        return True
    mmap_lock(w, a.pid)
    ok = gup.gup_slow(w, ctx, a.pid, a.vpage, flags, a.name)
    return ok or ctx.litmus  # a litmus program goes on after -EFAULT


def _offer_gup(t: ThreadOffer, v: int) -> list[Action]:
    # Each GUP flag combination the scenario tries, by the slow path and by gup-fast,
    # each while its budget lasts.
    paths = [fast for fast, kind in ((False, GUP.budget), (True, GUP.fast_budget)) if kind in t.avail]
    return [
        Action("gup", t.actor, t.pid, v, pin=g.flags.pin, write=g.flags.write, longterm=g.flags.longterm, fast=fast)
        for fast in paths
        for g in t.world.gup_kinds
    ]


def _describe_gup(a: Action) -> str:
    fn = ("pin_user_pages" if a.pin else "get_user_pages") + ("_fast" if a.fast else "")
    nm = f" [{a.name}]" if a.name else ""
    return f"{fn}({a.flags.describe()}) {vaddr(a)}{nm}"


GUP = Operation(
    "gup",
    actors=("thread",),
    fields=("vpage", "flags", "fast", "ref"),
    required=("flags", "ref"),
    kernel="`__get_user_pages` (`follow_page_pte`, `faultin_page`); with `fast = true`, "
    "`lockless_pages_from_mm` in steps",
    run=_gup,
    describe=_describe_gup,
    budget="gup",
    fast_budget="gup_fast",
    per_vpage=_offer_gup,
    held_by=("process", "vma", "mmap_lock"),
)


def _force_write(ctx: Ctx, w: Work, a: Action) -> bool:
    mmap_lock(w, a.pid)  # access_remote_vm(): mmap_read_lock() of the target
    return force.force_write_start(w, ctx, a.actor, a.pid, a.vpage, a.cell) or ctx.litmus


def _offer_force_write(t: ThreadOffer, v: int) -> list[Action]:
    # The PoC's thread writing its own /proc/self/mem, each cell.
    return [Action("force_write", t.actor, t.pid, v, c) for c in range(t.world.cells)]


FORCE_WRITE = Operation(
    "force_write",
    actors=("thread", "outsider"),
    fields=("vpage", "cell", "process"),
    required=(),
    kernel="A write to /proc/PID/mem: `access_remote_vm` -> `__get_user_pages(FOLL_FORCE|FOLL_WRITE)`, "
    "its `follow_page_pte` / `faultin_page` retry loop in steps",
    run=_force_write,
    describe=lambda a: f"pwrite(/proc/P{a.pid}/mem, {cell_addr(a.vpage, a.cell)})",
    budget="force_write",
    per_vpage=_offer_force_write,
    held_by=("process", "vma", "mmap_lock"),
    # Besides what its process reaches: the zero page, which a <= 4.8 retry that
    # dropped FOLL_WRITE may write (mm/force.py).
    thread_writes=lambda st: {("content", ZERO_FRAME)},
)


def ref_index(w: Work, a: Action) -> int | None:
    """The reference ``a`` goes through: by name in litmus scenarios, else by index."""
    if a.name:
        for i, r in enumerate(w.refs):
            if r.name == a.name:
                return i
        return None
    return a.idx if 0 <= a.idx < len(w.refs) else None


def _release(ctx: Ctx, w: Work, a: Action) -> bool:
    ri = ref_index(w, a)
    return ri is not None and device.release(w, ri)


def _writes_ref(st: LitmusStep) -> set[Res]:
    return {("ref", st.ref)}


def _release_writes(s: MMState, st: LitmusStep, f: int) -> set[Res]:
    return {("ref", st.ref), ("count", f), ("content", f)}  # the last put frees the page


RELEASE = Operation(
    "release",
    actors=("thread", "device"),
    fields=("ref",),
    required=("ref",),
    kernel="`put_page` / `unpin_user_page`",
    run=_release,
    describe=lambda a: f"release {via(a)}",
    per_reference=lambda world, ri, r: [new_action("release", DEVICE, r.owner, r.vpage, idx=ri)],
    # A reference's frame never changes; only its release removes it (munmap and
    # exit only detach it, which a DMA does not look at).
    thread_writes=_writes_ref,
    device_writes=_release_writes,
    held_by=("ref",),
)


def _dma_write(ctx: Ctx, w: Work, a: Action) -> bool:
    ri = ref_index(w, a)
    return ri is not None and device.dma_write(w, ctx, ri, a.cell)


def _offer_dma_write(world: World, ri: int, r: Ref) -> list[Action]:
    if not r.write:
        return []
    return [new_action("dma_write", DEVICE, r.owner, r.vpage, c, idx=ri) for c in range(world.cells)]


def _describe_dma_write(a: Action) -> str:
    where = cell_addr(a.vpage, a.cell) if a.vpage >= 0 else f"cell {a.cell}"
    return f"DMA write {where} via {via(a)}"


def _dma_write_writes(s: MMState, st: LitmusStep, f: int) -> set[Res]:
    # The owner's expectations and those of the children that crossed.
    return {("content", f)} | {("expect", q) for q in range(len(s.procs))}


DMA_WRITE = Operation(
    "dma_write",
    actors=("device",),
    fields=("ref", "cell"),
    required=("ref",),
    kernel="The device stores through the reference",
    run=_dma_write,
    describe=_describe_dma_write,
    budget="dma_write",
    per_reference=_offer_dma_write,
    device_writes=_dma_write_writes,
    held_by=("ref", "ref_write"),
)


def _dma_read(ctx: Ctx, w: Work, a: Action) -> bool:
    ri = ref_index(w, a)
    return ri is not None and device.dma_read(w, ctx, ri, a.cell)


def _ref_frame(s: MMState, name: str) -> int | None:
    return next((r.frame for r in s.refs if r.name == name), None)


def _dma_read_footprint(s: MMState, a: Action) -> Footprint | None:
    """A DMA read changes nothing but its program counter: it reads the reference and
    the page's content."""
    f = _ref_frame(s, a.name)
    if f is None:
        return None
    return Footprint(frozenset({("ref", a.name), ("content", f)}), frozenset({("pc", a.actor)}))


DMA_READ = Operation(
    "dma_read",
    actors=("device",),
    fields=("ref", "cell"),
    required=("ref",),
    kernel="The device loads through the reference",
    run=_dma_read,
    describe=lambda a: f"DMA read cell {a.cell} via {via(a)}",
    footprint=_dma_read_footprint,
    device_writes=lambda s, st, f: set(),
    held_by=("ref",),
)
