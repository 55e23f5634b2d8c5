"""What the token names in a trace stand for: one line per token, for every rendering.

A token is the data one write leaves in one 512-byte sector (``mm/state.py``: a page
holds one token per cell). Traces name them ``t<N>`` in the kernel-path notes
("store token t3 into page #1"), in the violation ("P0 reads t1 there") and in the
page state ("holds t4 t2"). Three things make one: the zeroes of a page nobody wrote
(t0), the data the scenario's process wrote before the trace starts, and a store or
a DMA write during the trace; the replayed states say which, and where.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cowcheck.mm.actions import cell_addr
from cowcheck.mm.contract import describe_ref
from cowcheck.mm.state import ZERO_TOKEN, MMState, Ref
from cowcheck.report.counterexample import Trace, TraceStep

_NAME = re.compile(r"\bt(\d+)\b")

LEGEND_HEAD = "tokens (the data a write left in a 512-byte sector):"


def tokens_named(text: str) -> set[int]:
    """The tokens a rendering names (``t<N>``)."""
    return {int(m) for m in _NAME.findall(text)}


def trace_tokens(trace: Trace) -> set[int]:
    """Every token a rendering of ``trace`` could name: in its notes, its message and
    the page and swap contents of any of its states."""
    out = tokens_named("\n".join([trace.message or "", trace.blocked, *(n for s in trace.steps for n in s.notes)]))
    for s in trace.states:
        for _, p in s.pages:
            out.update(p.content)
        for _, sl in s.slots:
            out.update(sl.content)
    return out


def _writer(step: TraceStep, pid: int) -> str:
    """The actor that wrote, with its process where its name does not say it."""
    return step.actor if step.actor == f"P{pid}" else f"{step.actor} (P{pid})"


def _ref_of(state: MMState, name: str, idx: int) -> Ref | None:
    """The reference a device action goes through (``ops.references.ref_index``)."""
    if name:
        return next((r for r in state.refs if r.name == name), None)
    return state.refs[idx] if 0 <= idx < len(state.refs) else None


def _initial(s: MMState, t: int) -> str:
    """Data the scenario's process wrote before the trace starts (``MMModel.init_states``)."""
    where = ""
    for v, cells in enumerate(s.procs[0].expect if s.procs else ()):
        for c, toks in enumerate(cells):
            if toks == (t,):
                where = f" at {cell_addr(v, c)}"
    swapped = any(t in sl.content for _, sl in s.slots)
    return f"P0's data{where}, written{' and swapped out' if swapped else ''} before step 1"


def explain(trace: Trace, t: int) -> str:
    """Where token ``t`` came from, in a few words, without its name."""
    if t == ZERO_TOKEN:
        return "zeroes, what a page holds until written (the shared zero page)"
    born = next((i for i, s in enumerate(trace.states) if any(k == t for k, _ in s.toks)), None)
    if born is None:
        return "not written along this trace"
    if born == 0:
        return _initial(trace.states[0], t)
    step = trace.steps[born - 1]
    a = step.action
    tok = dict(trace.states[born].toks)[t]
    if a.op == "write" and not tok.device:
        return f"stored by {_writer(step, tok.writer)} at {cell_addr(a.vpage, a.cell)} in step {born}"
    if a.op == "dma_write" and tok.device:
        r = _ref_of(trace.states[born - 1], a.name, a.idx)
        if r is not None:
            return (
                f"written by {step.actor} through P{r.owner}'s {describe_ref(r)} "
                f"at {cell_addr(r.vpage, a.cell)} in step {born}"
            )
    who = f"P{tok.writer}'s device" if tok.device else f"P{tok.writer}"
    return f"written by {who} in step {born} ({step.actor}: {step.label})"


def token_legend(trace: Trace, tokens: Iterable[int] | None = None) -> list[str]:
    """One line per token, ``t<N>: where it came from``, in number order: the tokens
    given (those a rendering names: ``tokens_named``), else every token of the trace.
    Empty when there are none."""
    wanted = sorted(set(trace_tokens(trace) if tokens is None else tokens))
    return [f"t{t}: {explain(trace, t)}" for t in wanted]
