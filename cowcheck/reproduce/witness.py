"""The one observation a reproducer makes at the end, and how its value is judged.

The model's observational properties ask what a read *would* return in a state. A
program has to make that read: a process loads a cell, or a device reads through a
reference. ``choose`` picks the first read whose value, in the final state of the
schedule, shows the trace's violation; ``judge`` says what each possible value
would mean, with the same rules as properties/missed_cow.py and wrong_cow.py, so
that the program can judge what it reads without the model.

Where the violation is a lost write that only a device read could show, and the
reference cannot be read from user space (an O_DIRECT read only writes), the
program lets the device write (the O_DIRECT read completes) and has the owner read
that cell: the same wrong COW, seen from the other side.
"""

from __future__ import annotations

from dataclasses import dataclass

from cowcheck.mm.actions import cell_addr
from cowcheck.mm.contract import owes_cpu_writes, owes_device_writes
from cowcheck.mm.model import MMModel
from cowcheck.mm.observe import ref_view, view
from cowcheck.mm.rule import GupFlags
from cowcheck.mm.state import MMState, Ref, bit
from cowcheck.reproduce.mechanisms import mechanism_for

HOLDS = "holds"


@dataclass(frozen=True, slots=True)
class Observation:
    kind: str  # "cpu": process ``pid`` reads; "device": the device reads through the reference
    pid: int  # the reader, or the reference's owner
    vpage: int
    cell: int
    ref_name: str = ""  # device: the reference, as the model names it (for litmus scenarios)
    ref_index: int = -1  # device: its index in the final state's references

    def describe(self) -> str:
        at = cell_addr(self.vpage, self.cell)
        if self.kind == "cpu":
            return f"P{self.pid} reads {at}"
        return f"the device reads {at} through P{self.pid}'s {self.ref_name or 'reference'}"


def _ref(s: MMState, o: Observation) -> Ref:
    if o.ref_name:
        return next(r for r in s.refs if r.name == o.ref_name)
    return s.refs[o.ref_index]


def value(s: MMState, o: Observation, cells: int) -> int | None:
    """The token the read returns in ``s`` (None: it cannot be made there)."""
    if o.kind == "cpu":
        vw = view(s, o.pid, o.vpage, cells)
    else:
        try:
            vw = ref_view(s, _ref(s, o), cells)
        except (StopIteration, IndexError):
            return None
    return None if vw is None else vw[o.cell]


def judge(s: MMState, o: Observation, token: int, strict: bool) -> str:
    """What reading ``token`` means, by the observational properties' rules."""
    toks = dict(s.toks)
    tok = toks.get(token)
    if o.kind == "cpu":
        pr = s.procs[o.pid]
        if tok is not None and not tok.visible & bit(o.pid):
            return "missed-cow"
        ex = pr.expect[o.vpage]
        if ex and token not in ex[o.cell]:
            return "wrong-cow"
        return HOLDS
    r = _ref(s, o)
    exempt = r.write and not owes_device_writes(r, strict) and tok is not None and bool(r.crossed & bit(tok.writer))
    if tok is not None and not tok.visible & bit(r.owner) and not exempt:
        return "missed-cow"
    pr = s.procs[r.owner]
    if r.attached and pr.alive and owes_cpu_writes(r):
        ex = pr.expect[r.vpage]
        if ex and token not in ex[o.cell]:
            return "wrong-cow"
    return HOLDS


def verdicts(s: MMState, o: Observation, strict: bool) -> dict[int, str]:
    """``judge`` for every token the run has written, and zero."""
    return {t: judge(s, o, t, strict) for t in sorted({0, *dict(s.toks)})}


def candidates(model: MMModel, s: MMState) -> list[Observation]:
    """Every read a program could make at the end: each cell of each live process's
    mapped pages, then each cell through each reference a device can read."""
    out: list[Observation] = []
    cells = model.scenario.cells
    for pid, pr in enumerate(s.procs):
        if not pr.alive:
            continue
        for v in range(len(pr.vmas)):
            if view(s, pid, v, cells) is not None:
                out += [Observation("cpu", pid, v, c) for c in range(cells)]
    for i, r in enumerate(s.refs):
        m = mechanism_for(GupFlags(r.pin, r.write, r.longterm))
        if m is not None and m.device_read:
            out += [Observation("device", r.owner, r.vpage, c, r.name, i) for c in range(cells)]
    return out


def choose(model: MMModel, s: MMState, violation: str, strict: bool) -> Observation | None:
    """The first read that shows ``violation`` in ``s``."""
    cells = model.scenario.cells
    for o in candidates(model, s):
        t = value(s, o, cells)
        if t is not None and judge(s, o, t, strict) == violation:
            return o
    return None
