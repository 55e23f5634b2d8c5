"""wrong-cow: coherency. Kernel failure: a COW that should not have happened moved the
process away from a page a GUP reference still holds, so device writes are lost to
the process ("read lost": the O_DIRECT race under clear_refs or swap, Andrea
Arcangeli <20210110004435.26382-2-aarcange@redhat.com>) or the process's writes never
reach the device ("write lost": io_uring fixed buffers across fork, fixed by
70e806e4e645 in 5.9).

Which references are owed what is the kernel's documented contract, in
cowcheck/mm/contract.py: pins with FOLL_WRITE and R/O long-term pins both ways; FOLL_GET
with FOLL_WRITE for device writes except across a fork (open(2)); R/O FOLL_GET and R/O
short-term pins only isolation. ``--strict`` drops the fork exception (Andrea
Arcangeli's reading, same mail: all GUP references are equal).

Observational: every process reads what the spec says it must (its own writes and the
device writes it is owed), and every device reading through a reference owed the
process's writes sees them.
Structural: every attached reference that is owed coherency still holds the page its
owner's mapping resolves to.
"""

from __future__ import annotations

from cowcheck.mm.actions import cell_addr
from cowcheck.mm.context import Ctx
from cowcheck.mm.contract import coherent, describe_ref, owes_cpu_writes, owes_device_writes
from cowcheck.mm.footprint import MM_KINDS
from cowcheck.mm.observe import ref_view, resolved_frame, view
from cowcheck.mm.property import MMProperty
from cowcheck.mm.state import MMState, bit, frame_name


def observational(s: MMState, ctx: Ctx) -> str | None:
    toks = dict(s.toks)
    for pid, pr in enumerate(s.procs):
        if not pr.alive:
            continue
        mine = bit(pid)
        for v, ex in enumerate(pr.expect):
            vw = view(s, pid, v, ctx.cells)
            if not ex or vw is None:  # UNMAPPED, or not mapped now
                continue
            for c, t in enumerate(vw):
                if t in ex[c]:
                    continue
                tok = toks.get(t)
                if tok is not None and not tok.visible & mine:
                    continue  # a leak: missed-cow's to report
                lost = ex[c][-1]
                lt = toks.get(lost)
                if lt is not None and lt.device:
                    return (
                        f"read lost: the device wrote t{lost} for P{pid} at {cell_addr(v, c)}, "
                        f"but P{pid} reads t{t} there: it no longer maps the page the device wrote"
                    )
                return f"write lost: P{pid} wrote t{lost} at {cell_addr(v, c)} but reads t{t} there"
    for r in s.refs:
        pr = s.procs[r.owner]
        if not (r.attached and pr.alive and owes_cpu_writes(r)):
            continue
        ex = pr.expect[r.vpage]
        rv = ref_view(s, r, ctx.cells)
        if not ex or rv is None:
            continue
        for c, t in enumerate(rv):
            if t not in ex[c]:
                return (
                    f"write lost: P{r.owner} wrote t{ex[c][-1]} at {cell_addr(r.vpage, c)}, "
                    f"but the device reading through {describe_ref(r)} sees t{t} in {frame_name(r.frame)}"
                )
    return None


def structural(s: MMState, ctx: Ctx) -> str | None:
    for r in s.refs:
        if not (r.attached and s.procs[r.owner].alive and coherent(r, ctx.strict)):
            continue
        f = resolved_frame(s, r.owner, r.vpage)
        if f != r.frame:
            now = "no page" if f is None else frame_name(f)
            kinds = []
            if owes_device_writes(r, ctx.strict):
                kinds.append("device writes will be lost (read lost)")
            if owes_cpu_writes(r):
                kinds.append("P's writes will not reach the device (write lost)")
            return (
                f"{describe_ref(r)} holds {frame_name(r.frame)} but P{r.owner} now maps {now} "
                f"at vaddr+{r.vpage * 4096}: {'; '.join(kinds)}"
            )
    return None


PROPERTY = MMProperty(
    id="wrong-cow",
    title="GUP references stay coherent with the mapping as the contract requires",
    models=(
        "wrong COW: O_DIRECT read lost under clear_refs or swap (page_count rule, 5.9-5.18), "
        "fork with pinned DMA buffers (before 70e806e4e645, 5.9)"
    ),
    cite="open(2) O_DIRECT notes; gup_must_unshare() comment (84209e87c696); Documentation/core-api/pin_user_pages.rst",
    observational=observational,
    structural=structural,
    reads=MM_KINDS,  # the mm only: never a program counter or the budget
)
