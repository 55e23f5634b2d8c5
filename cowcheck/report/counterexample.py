"""A counterexample: the actions, the concrete states they pass through, and the violation.

Traces are kept as action paths (like stateright) and rebuilt by replay, so a trace
in memory and one loaded from disk are the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cowcheck.engine import replay
from cowcheck.mm.actions import Action
from cowcheck.mm.model import MMModel
from cowcheck.mm.ops import describe
from cowcheck.mm.state import GUPF_GRAB, GUPF_RECHECK, SWAPOUT_UNMAP, ForceOp, ForkOp, GupFastOp, MMState


@dataclass(frozen=True, slots=True)
class TraceStep:
    actor: str
    action: Action
    label: str
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Trace:
    steps: tuple[TraceStep, ...]
    states: tuple[MMState, ...]
    property_id: str | None  # None: the replay did not fail
    message: str | None
    diverged_at: int | None = None  # first action that was not enabled
    blocked: str = ""  # that action, as "<actor>: <label>"
    family: str = "anon"  # whose states these are (families/): who draws them

    @property
    def actions(self) -> list[Action]:
        return [s.action for s in self.steps]

    def __len__(self) -> int:
        return len(self.steps)


def _continuation(model: MMModel, state: MMState, a: Action) -> str:
    """Name the kernel sub-step an in-flight path takes next."""
    if a.idx >= len(state.inflight):
        return "(continues)"
    op = state.inflight[a.idx]
    if isinstance(op, ForkOp):
        if op.next_vpage < model.nv:
            where = f"vaddr+{op.next_vpage * 4096}"
            # A writable PTE is copied in two steps (mm/fork.py): the second writes
            # the parent's and the child's PTEs.
            return f"fork: copy_present_pte({where}): set the PTEs" if op.held else f"fork: copy_pte_range({where})"
        return "fork: copy_page_range() done"
    if isinstance(op, GupFastOp):
        if op.stage == GUPF_GRAB:
            return f"gup-fast: try_grab_folio(page #{op.snap_frame})"
        if op.stage == GUPF_RECHECK:
            return "gup-fast: re-check PTE"
        return "gup-fast failed: fall back to __get_user_pages()"
    if isinstance(op, ForceOp):
        flags = "FOLL_FORCE|FOLL_WRITE" if op.write else "FOLL_FORCE"
        cow = "|FOLL_COW" if op.cow else ""
        return f"/proc/P{op.pid}/mem: follow_page_mask({flags}{cow})"
    if op.stage == SWAPOUT_UNMAP:
        return f"reclaim: try_to_unmap(page #{op.frame})"
    return f"reclaim: pageout(page #{op.frame}), __remove_mapping()"


def label_of(model: MMModel, a: Action, state: MMState | None = None) -> str:
    if not isinstance(model, MMModel):  # another family's model labels its own steps
        got: str = model.step_label(a, state)
        return got
    if a.op == "step" and state is not None:
        return _continuation(model, state, a)
    if model.litmus and a.step >= 0:
        st = model.scenario.actors[a.actor].steps[a.step]
        if st.label:
            return f"{st.label}: {describe(a)}"
    return describe(a)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def distinct_labels(steps: Sequence[tuple[str, str]]) -> list[str]:
    """The labels of ``(actor, label)`` steps, each step told apart from the others:
    an actor that takes the same step again (a program that writes one address twice)
    gets "(2nd time)", "(3rd time)" on the repeats."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for actor, label in steps:
        n = seen[actor, label] = seen.get((actor, label), 0) + 1
        out.append(label if n == 1 else f"{label} ({_ordinal(n)} time)")
    return out


def build_trace(model: MMModel, actions: Sequence[Action], prop: str | None = None) -> Trace:
    """Replay ``actions`` and keep everything up to the first violation (of ``prop``,
    if given)."""
    out = replay(model, actions)
    hits = [(i, p, m) for i, p, m in out.violations if prop is None or p == prop]
    end = len(out.steps)
    pid = msg = None
    if hits:
        end, pid, msg = hits[0]
    named = [
        (model.actor_name(a.actor), a, label_of(model, a, pre), st.notes)
        for a, st, pre in zip(actions[:end], out.steps[:end], out.states, strict=False)
    ]
    labels = distinct_labels([(actor, label) for actor, _, label, _ in named])
    steps = tuple(TraceStep(actor, a, label, notes) for (actor, a, _, notes), label in zip(named, labels, strict=True))
    blocked = ""
    if out.diverged_at is not None:
        a = actions[out.diverged_at]
        blocked = f"{model.actor_name(a.actor)}: {label_of(model, a, out.states[-1])}"
    return Trace(steps, out.states[: end + 1], pid, msg, out.diverged_at, blocked, model.family)
