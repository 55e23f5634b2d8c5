"""read-only-data: a private mapping never changes the file it maps, nor the shared zero
page. Kernel failure: a write through a MAP_PRIVATE mapping, or a FOLL_FORCE write
through /proc/PID/mem or ptrace, lands in the page-cache page (or the zero page)
instead of an anonymous copy: Dirty COW (CVE-2016-5195: faultin_page() dropped
FOLL_WRITE after the COW fault and MADV_DONTNEED raced the retry; fixed by 19be0eaffa3a
in 4.9) and its shmem sequel (CVE-2022-2590: UFFDIO_CONTINUE maps the page-cache page
R/O and dirty from 9ae0f87d009c, 5.16, and FOLL_COW trusts the dirty bit; fixed by
5535be309971 in 6.0 and 5.19.6). Through that, an unprivileged user writes a file it
may only read (/etc/passwd, a setuid binary), or a sealed memfd.

Observational: every token in a page-cache page is the file's own data or was written
through a MAP_SHARED mapping of it, and the zero page holds zeroes.
Structural: besides that, no PTE of a private mapping is writable and maps a page-cache
page or the zero page, and no FOLL_WRITE reference holds one that it took through a
private mapping: the next write would land there.
"""

from __future__ import annotations

from cowcheck.mm.actions import cell_addr
from cowcheck.mm.context import Ctx
from cowcheck.mm.contract import describe_ref
from cowcheck.mm.footprint import MM_KINDS
from cowcheck.mm.observe import page_of, who
from cowcheck.mm.property import MMProperty
from cowcheck.mm.state import PTE_PRESENT, ZERO_FRAME, ZERO_TOKEN, MMState, is_shared


def observational(s: MMState, ctx: Ctx) -> str | None:
    if s.zero:
        c, t = next((c, t) for c, t in enumerate(s.zero) if t != ZERO_TOKEN)
        tok = dict(s.toks).get(t)
        by = f" by {who(tok)}" if tok is not None else ""
        return f"the shared zero page was written: it holds t{t} at cell {c}, written{by}, and every process reads it"
    if not any(ctx.backing):
        return None
    toks = dict(s.toks)
    for f, p in s.pages:
        if p.file < 0:
            continue
        for c, t in enumerate(p.content):
            tok = toks.get(t)
            if tok is not None and not tok.file:
                return (
                    f"the file was written through a private mapping: its page-cache page #{f} holds t{t} "
                    f"at {cell_addr(p.file, c)}, written by {who(tok)}"
                )
    return None


def structural(s: MMState, ctx: Ctx) -> str | None:
    backing = ctx.backing
    for pid, pr in enumerate(s.procs):
        for v, pte in enumerate(pr.ptes):
            if pte.kind != PTE_PRESENT or not pte.writable or (backing and is_shared(backing[v])):
                continue
            f = pte.target
            p = page_of(s, f)
            if f == ZERO_FRAME or (p is not None and p.file >= 0):
                what = "the zero page" if f == ZERO_FRAME else f"page-cache page #{f}"
                return f"P{pid} maps {what} writable at vaddr+{v * 4096} in a private mapping"
    for r in s.refs:
        if not r.write or (backing and is_shared(backing[r.vpage])):
            continue
        p = page_of(s, r.frame)
        if r.frame == ZERO_FRAME or (p is not None and p.file >= 0):
            what = "the zero page" if r.frame == ZERO_FRAME else f"page-cache page #{r.frame}"
            return f"{describe_ref(r)} of P{r.owner} holds {what} for writing, taken through a private mapping"
    return observational(s, ctx)


PROPERTY = MMProperty(
    id="read-only-data",
    title="private mappings and FOLL_FORCE never write the file or the zero page",
    models="Dirty COW (CVE-2016-5195, <= 4.8) and its shmem variant (CVE-2022-2590, 5.16 - 5.19.5)",
    cite=(
        "19be0eaffa3a mm: remove gup_flags FOLL_WRITE games from __get_user_pages(); "
        "5535be309971 mm/gup: fix FOLL_FORCE COW security issue and remove FOLL_COW"
    ),
    observational=observational,
    structural=structural,
    reads=MM_KINDS,  # the mm only: never a program counter or the budget
)
