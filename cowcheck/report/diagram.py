"""Counterexamples drawn the way kernel developers draw races: one column per actor,
kernel-path annotations under each step, the violation in the kernel's words, and a
legend saying once what each token (t1, t4) named in the drawing stands for.

``render_columns`` is the wide form for a terminal (a 30-column column per actor,
however many). ``render_trace`` fits a width: the columns where they fit, else one
line per step prefixed by its actor ("parent: fork()"), as linux-mm mails draw races
too wide for columns; ``COMMIT_WIDTH`` fits a commit message (``commit.py``)."""

from __future__ import annotations

import re
import textwrap

from cowcheck.mm.state import NO_FRAME, NO_SLOT, PTE_NONE, PTE_PRESENT, ZERO_FRAME, MMState
from cowcheck.report.counterexample import Trace
from cowcheck.report.tokens import LEGEND_HEAD, token_legend, tokens_named

COL = 30
COMMIT_WIDTH = 75  # git's and the kernel's (checkpatch.pl) wrap for a commit message body


def _page(f: int) -> str:
    return "zero page" if f == ZERO_FRAME else f"#{f}"


def describe_in(trace: Trace, s: object) -> list[str]:
    """A state of ``trace``, drawn by the trace's family (families/)."""
    from cowcheck.families import family  # here: the anon family's record imports this module

    return family(trace.family).describe_state(s)


def describe_state(s: MMState) -> list[str]:
    """The bookkeeping at one state, one line per page, slot, process and reference."""
    lines = []
    for f, p in s.pages:
        flags = []
        if p.file >= 0:
            flags.append(f"page cache, file page of vaddr+{p.file * 4096}")
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
    if s.zero:
        lines.append(f"the shared zero page: holds {' '.join(f't{t}' for t in s.zero)}")
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
                dirty = ", dirty" if pte.dirty else ""
                ptes.append(f"vaddr+{v * 4096} -> {_page(pte.target)} {'R/W' if pte.writable else 'R/O'}{dirty}")
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


def wrap(text: str, width: int, indent: str = "", more: str = "", hard: bool = False) -> list[str]:
    """Greedy wrap that breaks at spaces and after '|' and '(' so kernel flag lists and
    function calls split where a human would split them. With ``hard``, a word longer
    than a whole line is cut, so that no line is wider than ``width``."""
    tokens = re.findall(r"[^ |(]*[|(]|[^ |(]+|[ ]+", text)
    lines: list[str] = []
    cur = indent
    for tok in tokens:
        if tok.isspace():
            if cur.strip():
                cur += " "
            continue
        if len(cur) + len(tok) > width and cur.strip():  # cur ends in the space before tok
            lines.append(cur.rstrip())
            cur = more
        while hard and len(cur) + len(tok) > width and width > len(cur):
            room = width - len(cur)
            lines.append(cur + tok[:room])
            cur, tok = more, tok[room:]
        cur += tok
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def prose(text: str, width: int, indent: str = "", more: str = "") -> list[str]:
    """Sentences wrapped at spaces only (not after "(" as ``wrap`` does for calls); a
    word longer than a line is cut."""
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=more, break_on_hyphens=False) or [
        indent.rstrip()
    ]


def _actors(trace: Trace) -> list[str]:
    actors: list[str] = []
    for st in trace.steps:
        if st.actor not in actors:
            actors.append(st.actor)
    return actors


GUTTER = 4  # the step numbers, " 1. "


def _columns(trace: Trace, width: int) -> list[str]:
    """The steps, one column of ``width`` per actor, kernel-path notes under each step."""
    actors = _actors(trace)
    head = " " * GUTTER + "  ".join(a[:width].ljust(width) for a in actors)
    out = [head.rstrip(), " " * GUTTER + "  ".join("=" * width for _ in actors)]
    for n, st in enumerate(trace.steps, 1):
        col = actors.index(st.actor)
        body = wrap(st.label, width) or [""]
        for note in st.notes:
            body += wrap(note, width, "  ", "    ")
        pad = " " * GUTTER + " " * ((width + 2) * col)
        for i, line in enumerate(body):
            prefix = f"{n:>2}. " if i == 0 else " " * GUTTER
            out.append((prefix + pad[GUTTER:] + line).rstrip())
    return out


def _lines(trace: Trace, width: int) -> list[str]:
    """The steps as lines prefixed by their actor ("parent: fork()"), as linux-mm mails
    draw a race too wide for columns: the label's continuation lines under the label,
    the kernel-path notes indented under the step, every line at most ``width``."""
    out: list[str] = []
    for n, st in enumerate(trace.steps, 1):
        number = f"{n:>2}. "
        first = len(number) + len(st.actor) + 2
        under = " " * (first if first <= width // 2 else GUTTER + 4)
        out += wrap(f"{st.actor}: {st.label}", width, number, under, hard=True)
        for note in st.notes:
            out += wrap(note, width, " " * (GUTTER + 2), " " * (GUTTER + 4), hard=True)
    return out


def _verdict(trace: Trace, width: int | None) -> list[str]:
    """The violation and the state it leaves, or why there is none."""
    if trace.property_id is not None:
        head = [f"VIOLATION {trace.property_id}: {trace.message}"]
    elif trace.diverged_at is not None:
        head = [f"INCONCLUSIVE: {diverged_text(trace)}"]
    else:
        return ["no violation along this trace"]
    if width is not None:
        head = prose(head[0], width, "", "  ")
    if trace.property_id is None:
        return head
    state = describe_in(trace, trace.states[-1])
    if width is None:
        state = ["  " + ln for ln in state]
    else:
        state = [w for ln in state for w in prose(ln, width, "  ", "    ")]
    return [*head, "", "state at the violation:", *state]


def _legend(trace: Trace, shown: list[str], width: int | None) -> list[str]:
    """What each token ``shown`` names stands for, each once, then a blank line; nothing
    where it names none."""
    if trace.family != "anon":
        return []  # only the anon family's pages hold tokens
    lines = token_legend(trace, tokens_named("\n".join(shown)))
    if not lines:
        return []
    if width is None:
        return [LEGEND_HEAD, *("  " + ln for ln in lines), ""]
    out = prose(LEGEND_HEAD, width, "", "  ")
    for ln in lines:
        name = ln.split(":", 1)[0]
        out += prose(ln, width, "  ", " " * (len(name) + 4))
    return [*out, ""]


def _assemble(trace: Trace, title: str, steps: list[str], width: int | None) -> str:
    verdict = _verdict(trace, width)
    heading = [title] if width is None else prose(title, width, "", "  ")
    return "\n".join([*heading, "", *_legend(trace, steps + verdict, width), *steps, "", *verdict])


def render_columns(trace: Trace, title: str, width: int = COL) -> str:
    """The wide form, for a terminal: one column of ``width`` per actor however many
    actors there are, the verdict and the token legend unwrapped."""
    return _assemble(trace, title, _columns(trace, width), None)


MIN_COL = 28  # narrower, a column wraps most labels and notes: lines read better


def fit_columns(trace: Trace, width: int) -> int | None:
    """The column width that puts one column per actor in ``width``, if at least
    ``MIN_COL`` (no wider than ``width`` allows: a single actor takes it all)."""
    k = max(1, len(_actors(trace)))
    col = (width - GUTTER - 2 * (k - 1)) // k
    return col if col >= MIN_COL else None


def render_trace(trace: Trace, title: str, width: int | None = None) -> str:
    """``trace`` drawn in at most ``width`` columns: one column per actor where they
    fit (``fit_columns``), else one line per step prefixed by its actor, long lines
    wrapped. ``width=None``: the wide columns of ``render_columns``, for a terminal.
    COMMIT_WIDTH (75) fits a commit message."""
    if width is None:
        return render_columns(trace, title)
    col = fit_columns(trace, width)
    if col is not None:
        text = _assemble(trace, title, _columns(trace, col), width)
        if all(len(ln) <= width for ln in text.splitlines()):
            return text
    return _assemble(trace, title, _lines(trace, width), width)


def diverged_text(trace: Trace) -> str:
    """Why a replay stopped short, for every rendering: not "no violation", since the
    steps after it were never run."""
    k = (trace.diverged_at or 0) + 1
    what = f" ({trace.blocked})" if trace.blocked else ""
    return f"step {k}{what} is not enabled here: the trace cannot be followed past step {k - 1}"
