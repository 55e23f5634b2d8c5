"""missed-cow: isolation. Kernel failure: a COW that should have happened did not, and
data leaks between processes (CVE-2020-29374: "unintended read access", as David
Hildenbrand corrects its description in <3ae33b08-d9ef-f846-56fb-645e3b9b4c66@redhat.com>).

Observational: no process, and no device reading through a process's reference, can
read a token that another process wrote after the two diverged.
Structural: nobody can write a page that another process can still reach: no process
maps a page writable, and no device holds a write reference whose data belongs to its
owner, while another process reaches the page through a PTE, a swap entry sharing its
swapcache slot, or a GUP reference. The next write would leak.
"""

from __future__ import annotations

from cowcheck.mm.actions import cell_addr
from cowcheck.mm.context import Ctx
from cowcheck.mm.contract import describe_ref, owes_device_writes
from cowcheck.mm.footprint import MM_KINDS
from cowcheck.mm.observe import page_of, ref_view, slot_of, swap_sharers, view, who
from cowcheck.mm.property import MMProperty
from cowcheck.mm.state import PTE_PRESENT, ZERO_FRAME, MMState, Ref, bit, frame_name, is_shared


def _exempt(r: Ref, pid: int, ctx: Ctx) -> bool:
    """A FOLL_GET write reference held across a fork: what passes between it and the
    children forked meanwhile is outside the contract (open(2))."""
    return r.write and not owes_device_writes(r, ctx.strict) and bool(r.crossed & bit(pid))


def observational(s: MMState, ctx: Ctx) -> str | None:
    toks = dict(s.toks)
    for pid, pr in enumerate(s.procs):
        if not pr.alive:
            continue
        mine = bit(pid)
        for v in range(len(pr.vmas)):
            vw = view(s, pid, v, ctx.cells)
            for c, t in enumerate(vw or ()):
                tok = toks.get(t)
                if tok is not None and not tok.visible & mine:
                    return (
                        f"leak from {who(tok)} into P{pid}: P{pid} reads t{t} at "
                        f"{cell_addr(v, c)}, written by {who(tok)} after they diverged"
                    )
    for r in s.refs:
        for t in ref_view(s, r, ctx.cells) or ():
            tok = toks.get(t)
            if tok is None or tok.visible & bit(r.owner) or _exempt(r, tok.writer, ctx):
                continue
            return (
                f"leak from {who(tok)} into P{r.owner}: the device reads t{t} through "
                f"P{r.owner}'s {describe_ref(r)} in {frame_name(r.frame)}"
            )
    return None


def _other_reacher(s: MMState, f: int, pid: int, ctx: Ctx) -> str | None:
    """Who other than ``pid`` can read page ``f``, if anyone."""
    for q, qr in enumerate(s.procs):
        for qv, qp in enumerate(qr.ptes):
            if q != pid and qp.kind == PTE_PRESENT and qp.target == f:
                return f"P{q}'s PTE at vaddr+{qv * 4096}"
    pg = page_of(s, f)
    if pg is not None and slot_of(s, pg.swapcache) is not None:
        for q, qv in swap_sharers(s, pg.swapcache):
            if q != pid:
                return f"P{q}'s swap entry at vaddr+{qv * 4096}"
    for r in s.refs:
        if r.frame == f and r.owner != pid and not _exempt(r, pid, ctx):
            return f"P{r.owner}'s {describe_ref(r)}"
    return None


def structural(s: MMState, ctx: Ctx) -> str | None:
    for pid, pr in enumerate(s.procs):
        for v, pte in enumerate(pr.ptes):
            if pte.kind != PTE_PRESENT or not pte.writable or pte.target == ZERO_FRAME:
                continue
            if ctx.backing and is_shared(ctx.backing[v]):
                continue  # MAP_SHARED: every process that maps the file is meant to see the write
            other = _other_reacher(s, pte.target, pid, ctx)
            if other is not None:
                return (
                    f"P{pid} maps {frame_name(pte.target)} writable while {other} still reaches it: "
                    f"P{pid}'s next write leaks out of P{pid}"
                )
    for r in s.refs:
        if not (r.write and owes_device_writes(r, ctx.strict)) or r.frame == ZERO_FRAME:
            continue
        if ctx.backing and is_shared(ctx.backing[r.vpage]):
            continue
        other = _other_reacher(s, r.frame, r.owner, ctx)
        if other is not None:
            return (
                f"P{r.owner}'s device can write {frame_name(r.frame)} through {describe_ref(r)} while "
                f"{other} still reaches it: the device's next write leaks out of P{r.owner}"
            )
    return None


PROPERTY = MMProperty(
    id="missed-cow",
    title="no data leaks between processes after fork",
    models="missed COW: CVE-2020-29374 (vmsplice in the child), and through swap-in until c145e0b47c77 (5.18)",
    cite=(
        "David Hildenbrand, 'Summary of COW (Copy On Write) Related Issues in Upstream Linux', 15 Nov 2021, "
        "<3ae33b08-d9ef-f846-56fb-645e3b9b4c66@redhat.com> (missed, wrong and unnecessary COW)"
    ),
    observational=observational,
    structural=structural,
    reads=MM_KINDS,  # the mm only: never a program counter or the budget
)
