"""Counterexamples drawn the way kernel developers draw races: one column per actor,
kernel-path annotations under each step, the violation in the kernel's words."""

from __future__ import annotations

import re

from cowcheck.mm.state import NO_FRAME, NO_SLOT, PTE_NONE, PTE_PRESENT, ZERO_FRAME, MMState
from cowcheck.report.counterexample import Trace

COL = 30


def _page(f: int) -> str:
    return "zero page" if f == ZERO_FRAME else f"#{f}"


def describe_state(s: MMState) -> list[str]:
    """The bookkeeping at one state, one line per page, slot, process and reference."""
    lines = []
    for f, p in s.pages:
        flags = []
        if p.anon_exclusive:
            flags.append("PageAnonExclusive")
        if p.swapcache != NO_SLOT:
            flags.append(f"swapcache slot {p.swapcache}")
        if p.locked:
            flags.append("locked")
        extra = f" [{', '.join(flags)}]" if flags else ""
        toks = " ".join(f"t{t}" for t in p.content)
        lines.append(
            f"page #{f}: refcount {p.refcount}, mapcount {p.mapcount}, pincount {p.pincount}{extra}; holds {toks}"
        )
    for x, sl in s.slots:
        cache = "" if sl.cache == NO_FRAME else f", swapcache page #{sl.cache}"
        data = " ".join(f"t{t}" for t in sl.content) if sl.content else "not written"
        lines.append(f"swap slot {x}: swap count {sl.swapcount}{cache}; on disk: {data}")
    for pid, pr in enumerate(s.procs):
        if not pr.alive:
            lines.append(f"P{pid}: exited")
            continue
        ptes = []
        for v, pte in enumerate(pr.ptes):
            if not pr.vmas[v].mapped:
                ptes.append(f"vaddr+{v * 4096}: unmapped")
            elif pte.kind == PTE_NONE:
                ptes.append(f"vaddr+{v * 4096}: none")
            elif pte.kind == PTE_PRESENT:
                ptes.append(f"vaddr+{v * 4096} -> {_page(pte.target)} {'R/W' if pte.writable else 'R/O'}")
            else:
                ptes.append(f"vaddr+{v * 4096}: swap slot {pte.target}{' exclusive' if pte.exclusive else ''}")
        pinned = ", MMF_HAS_PINNED" if pr.has_pinned else ""
        lines.append(f"P{pid}: {'; '.join(ptes)}{pinned}")
    for r in s.refs:
        foll = (
            ("FOLL_PIN" if r.pin else "FOLL_GET")
            + ("|FOLL_WRITE" if r.write else "")
            + ("|FOLL_LONGTERM" if r.longterm else "")
        )
        lines.append(
            f"reference {r.name or '(unnamed)'}: P{r.owner} {foll} on {_page(r.frame)}"
            f"{'' if r.attached else ' (detached)'}"
        )
    return lines


def wrap(text: str, width: int, indent: str = "", more: str = "") -> list[str]:
    """Greedy wrap that breaks at spaces and after '|' and '(' so kernel flag lists and
    function calls split where a human would split them."""
    tokens = re.findall(r"[^ |(]*[|(]|[^ |(]+|[ ]+", text)
    lines: list[str] = []
    cur = indent
    for tok in tokens:
        if tok.isspace():
            if cur.strip():
                cur += " "
            continue
        if len(cur.rstrip()) + len(tok) > width and cur.strip():
            lines.append(cur.rstrip())
            cur = more
        cur += tok
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def render_columns(trace: Trace, title: str, width: int = COL) -> str:
    actors: list[str] = []
    for st in trace.steps:
        if st.actor not in actors:
            actors.append(st.actor)
    gutter = 4
    out = [title, ""]
    head = " " * gutter + "  ".join(a[:width].ljust(width) for a in actors)
    out.append(head.rstrip())
    out.append(" " * gutter + "  ".join("=" * width for _ in actors))
    for n, st in enumerate(trace.steps, 1):
        col = actors.index(st.actor)
        body = wrap(st.label, width) or [""]
        for note in st.notes:
            body += wrap(note, width, "  ", "    ")
        pad = " " * gutter + " " * ((width + 2) * col)
        for i, line in enumerate(body):
            prefix = f"{n:>2}. " if i == 0 else " " * gutter
            out.append((prefix + pad[gutter:] + line).rstrip())
    out.append("")
    if trace.property_id is not None:
        out.append(f"VIOLATION {trace.property_id}: {trace.message}")
        out.append("")
        out.append("state at the violation:")
        out += ["  " + ln for ln in describe_state(trace.states[-1])]
    elif trace.diverged_at is not None:
        out.append(f"INCONCLUSIVE: {diverged_text(trace)}")
    else:
        out.append("no violation along this trace")
    return "\n".join(out)


def diverged_text(trace: Trace) -> str:
    """Why a replay stopped short, for every rendering: not "no violation", since the
    steps after it were never run."""
    k = (trace.diverged_at or 0) + 1
    what = f" ({trace.blocked})" if trace.blocked else ""
    return f"step {k}{what} is not enabled here: the trace cannot be followed past step {k - 1}"
