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
from cowcheck.mm.state import GUPF_GRAB, GUPF_RECHECK, SWAPOUT_UNMAP, ForkOp, GupFastOp, MMState


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
            return f"fork: copy_pte_range(vaddr+{op.next_vpage * 4096})"
        return "fork: copy_page_range() done"
    if isinstance(op, GupFastOp):
        if op.stage == GUPF_GRAB:
            return f"gup-fast: try_grab_folio(page #{op.snap_frame})"
        if op.stage == GUPF_RECHECK:
            return "gup-fast: re-check PTE"
        return "gup-fast failed: fall back to __get_user_pages()"
    if op.stage == SWAPOUT_UNMAP:
        return f"reclaim: try_to_unmap(page #{op.frame})"
    return f"reclaim: pageout(page #{op.frame}), __remove_mapping()"


def label_of(model: MMModel, a: Action, state: MMState | None = None) -> str:
    if a.op == "step" and state is not None:
        return _continuation(model, state, a)
    if model.litmus and a.step >= 0:
        st = model.scenario.actors[a.actor].steps[a.step]
        if st.label:
            return f"{st.label}: {describe(a)}"
    return describe(a)


def build_trace(model: MMModel, actions: Sequence[Action], prop: str | None = None) -> Trace:
    """Replay ``actions`` and keep everything up to the first violation (of ``prop``,
    if given)."""
    out = replay(model, actions)
    hits = [(i, p, m) for i, p, m in out.violations if prop is None or p == prop]
    end = len(out.steps)
    pid = msg = None
    if hits:
        end, pid, msg = hits[0]
    steps = tuple(
        TraceStep(model.actor_name(a.actor), a, label_of(model, a, pre), st.notes)
        for a, st, pre in zip(actions[:end], out.steps[:end], out.states, strict=False)
    )
    blocked = ""
    if out.diverged_at is not None:
        a = actions[out.diverged_at]
        blocked = f"{model.actor_name(a.actor)}: {label_of(model, a, out.states[-1])}"
    return Trace(steps, out.states[: end + 1], pid, msg, out.diverged_at, blocked)
