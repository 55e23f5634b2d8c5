"""A pfnmap state, one line per part, as a trace prints it under a step."""

from __future__ import annotations

from cowcheck.pfnmap.state import GONE, NO_TRK, OTHER, PTE_ANON, PTE_PFN, TYPE_NAMES, PfnState, mem_range


def describe_state(s: PfnState) -> list[str]:
    lines = []
    for e in s.memtype:
        who = "another driver" if e.trk == OTHER else f"tracking #{e.trk}"
        lines.append(f"memtype {mem_range(e.start, e.end)} {TYPE_NAMES[e.type]} ({who})")
    if not s.memtype:
        lines.append("memtype: no reservation")
    for c, pfn, n in s.ctxs:
        refs = sum(1 for v in s.vmas if v.pat and v.trk == c)
        lines.append(f"pfnmap_track_ctx #{c}: {mem_range(pfn, pfn + n)}, kref {refs}")
    for pfn, t in enumerate(s.kmap):
        if t >= 0:
            lines.append(f"pfn {pfn}: the kernel maps it {TYPE_NAMES[t]} (ioremap)")
    for v in s.vmas:
        ptes = []
        for i, p in enumerate(v.ptes):
            at = f"vaddr+{(v.start + i) * 4096:#x}"
            ptes.append(
                f"{at} -> pfn {v.pfn(i)} {TYPE_NAMES[v.ptype]}"
                if p == PTE_PFN
                else f"{at} -> anonymous COW copy"
                if p == PTE_ANON
                else f"{at}: none"
            )
        flags = ["VM_PFNMAP"] + (["COW"] if v.cow else [])
        if v.pat:
            flags.append(f"VM_PAT (#{v.trk})" if v.trk != NO_TRK else "VM_PAT (no reservation of its own)")
        lines.append(f"P{v.pid} vma [{', '.join(flags)}], vm_pgoff {v.pgoff}: {'; '.join(ptes)}")
    for pid, st in enumerate(s.procs):
        if st == GONE:
            lines.append(f"P{pid}: gone")
    if s.fork is not None:
        lines.append(f"fork in flight: P{s.fork.parent} -> P{s.fork.child}, VMA {s.fork.vma}")
    return lines
