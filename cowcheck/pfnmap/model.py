"""The pfnmap family's model: its state, its actions and their successors, as the
engine's ``Model`` protocol asks (engine/model.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cowcheck.engine import Capabilities, Invariant, Step, TransitionCheck
from cowcheck.errors import InputError
from cowcheck.pfnmap.actions import (
    ACCESS,
    EXIT,
    FORK,
    FORK_STEP,
    IOREMAP,
    MMAP,
    MREMAP,
    MUNMAP,
    UNMAP_MAPPING,
    ZAP,
    PfnAction,
)
from cowcheck.pfnmap.device import access, ioremap
from cowcheck.pfnmap.fork import fork_start, fork_step
from cowcheck.pfnmap.kernel import Kernel
from cowcheck.pfnmap.mremap import mremap_move
from cowcheck.pfnmap.property import PfnProperty, StepCheck
from cowcheck.pfnmap.remap import mmap_remap
from cowcheck.pfnmap.rule import PatRule
from cowcheck.pfnmap.state import (
    ALIVE,
    COPY,
    FAIL_COPY,
    FAIL_NAMES,
    NO_FAIL,
    NO_TRK,
    NOT_CREATED,
    PTE_PFN,
    TRACK,
    TYPE_NAMES,
    PfnState,
)
from cowcheck.pfnmap.unmap import exit_mmap, munmap, unmap_mapping_range, zap_vma_ptes
from cowcheck.pfnmap.world import PfnScenario, PfnStep

# An open scenario's actors: one thread per process, then the two kernel paths.
TRUNCATE, DRIVER = "truncate", "driver"


class PfnModel:
    family = "pfnmap"  # its record in cowcheck/families/ (who draws its states)

    def __init__(
        self,
        scenario: PfnScenario,
        rule: PatRule,
        properties: Sequence[PfnProperty],
        form: str,
        strict: bool,
        failing: Sequence[str],
    ) -> None:
        if strict:
            raise InputError("--strict", None, "the pfnmap family has no --strict contract (it is the anon family's)")
        self.scenario = scenario
        self.rule = rule
        self.properties = tuple(properties)
        self.form = form
        self.litmus = scenario.litmus
        nproc = scenario.max_processes
        self.names = (
            [a.name for a in scenario.actors] if self.litmus else [*(f"P{p}" for p in range(nproc)), TRUNCATE, DRIVER]
        )
        self._budget = dict(scenario.budget)
        self._kinds = [k for k, _ in scenario.budget]
        self._goal_base: list[int] = []
        goals: list[str] = []
        for a in scenario.actors:
            self._goal_base.append(len(goals))
            goals += [f"{a.name}: {st.label or _step_text(st)}" for st in a.steps]
        self._goals = tuple(goals)
        self._caps: Capabilities[PfnState, PfnAction] = Capabilities(
            stuck=self._stuck if self.litmus else None,
            coverage_goals=self._goals if self.litmus else (),
            goal_of=self.goal_of if self.litmus else None,
        )

    def __reduce__(self) -> tuple[type[PfnModel], tuple[object, ...]]:
        return PfnModel, (self.scenario, self.rule, self.properties, self.form, False, ())

    def capabilities(self) -> Capabilities[PfnState, PfnAction]:
        return self._caps

    # -- states ------------------------------------------------------------------
    def init_states(self) -> Sequence[PfnState]:
        sc = self.scenario
        procs = (ALIVE,) + (NOT_CREATED,) * (sc.max_processes - 1)
        s = PfnState((), (), (-1,) * sc.pages, (), procs, (0,) * len(sc.actors), (0,) * len(self._kinds), (), 0)
        k = Kernel(s, self.rule)
        for v in sc.vmas:
            mmap_remap(k, 0, v.vpage, v.npages, v.pfn, v.type, v.full, v.cow, False)
        return [self.canonical(k.freeze(s, s.pcs, s.used))]

    def canonical(self, s: PfnState) -> PfnState:
        """The tracking ids renumbered in order of first appearance (VMAs, then the
        memtype entries): which number a reservation got says nothing."""
        order: dict[int, int] = {}
        for t in [v.trk for v in s.vmas] + [e.trk for e in s.memtype] + [c[0] for c in s.ctxs]:
            if t >= 0 and t not in order:
                order[t] = len(order)
        if all(a == b for a, b in order.items()) and s.next_trk == len(order):
            return s
        vmas = tuple(sorted(v._replace(trk=order.get(v.trk, v.trk)) for v in s.vmas))
        memtype = tuple(sorted(e._replace(trk=order.get(e.trk, e.trk)) for e in s.memtype))
        ctxs = tuple(sorted((order[c[0]], c[1], c[2]) for c in s.ctxs))
        return s._replace(vmas=vmas, memtype=memtype, ctxs=ctxs, next_trk=len(order))

    # -- actions -----------------------------------------------------------------
    def actions(self, s: PfnState) -> list[PfnAction]:
        return self._litmus_actions(s) if self.litmus else self._open_actions(s)

    def _blocked(self, s: PfnState, pid: int, op: str, write: bool) -> bool:
        """While fork() holds the parent's mmap lock for writing, its other threads
        only touch PTEs already present (a fault takes the mmap lock too)."""
        f = s.fork
        if f is None or pid != f.parent:
            return False
        if op != ACCESS:
            return True
        return write and any(v.pid == pid and v.cow for v in s.vmas)

    def _litmus_actions(self, s: PfnState) -> list[PfnAction]:
        out = []
        for i, a in enumerate(self.scenario.actors):
            if s.fork is not None and s.fork.actor == i:
                out.append(PfnAction(FORK_STEP, i, pid=s.fork.parent))
                continue
            pc = s.pcs[i]
            if pc >= len(a.steps):
                continue
            st = a.steps[pc]
            if a.kind == "thread":
                if s.procs[a.process] != ALIVE or self._blocked(s, a.process, st.op, st.write):
                    continue
                if st.op == FORK and (s.fork is not None or NOT_CREATED not in s.procs):
                    continue
            out.append(_action(st, i, pc, a.process))
        return out

    def _left(self, s: PfnState, op: str) -> bool:
        if op not in self._budget:
            return False
        return s.used[self._kinds.index(op)] < self._budget[op]

    def _open_actions(self, s: PfnState) -> list[PfnAction]:
        sc = self.scenario
        out: list[PfnAction] = []
        nproc = sc.max_processes
        for pid in range(nproc):
            if s.fork is not None and s.fork.parent == pid:
                # An open scenario's process has one thread, and it is inside fork().
                out.append(PfnAction(FORK_STEP, pid, pid=pid))
                continue
            if s.procs[pid] != ALIVE:
                continue
            mine = [v for v in s.vmas if v.pid == pid]
            if self._left(s, MMAP) and not self._blocked(s, pid, MMAP, False):
                at = max((v.end for v in mine), default=0)
                for t in range(len(TYPE_NAMES)):
                    for full in (True, False):
                        for fail in (NO_FAIL, FAIL_COPY):
                            out.append(
                                PfnAction(
                                    MMAP, pid, pid=pid, vpage=at, npages=sc.pages, pfn=0, type=t, full=full, fail=fail
                                )
                            )
            for op in (MUNMAP, MREMAP, ZAP):
                if not self._left(s, op) or self._blocked(s, pid, op, False):
                    continue
                for v in mine:
                    for first in range(len(v.ptes)):
                        for n in range(1, len(v.ptes) - first + 1):
                            to = max(x.end for x in mine) if op == MREMAP else -1
                            out.append(PfnAction(op, pid, pid=pid, vpage=v.start + first, npages=n, to=to))
            if (
                self._left(s, FORK)
                and s.fork is None
                and NOT_CREATED in s.procs
                and not self._blocked(s, pid, FORK, False)
            ):
                out += [PfnAction(FORK, pid, pid=pid, fail=f) for f in range(len(FAIL_NAMES))]
            if self._left(s, EXIT) and not self._blocked(s, pid, EXIT, False):
                out.append(PfnAction(EXIT, pid, pid=pid))
            if self._left(s, ACCESS):
                for v in mine:
                    for i, p in enumerate(v.ptes):
                        if p != PTE_PFN:
                            continue
                        for write in (False, True) if v.cow else (False,):
                            if not self._blocked(s, pid, ACCESS, write):
                                out.append(PfnAction(ACCESS, pid, pid=pid, vpage=v.start + i, write=write))
        if self._left(s, UNMAP_MAPPING):
            for first in range(sc.pages):
                for n in range(1, sc.pages - first + 1):
                    out.append(PfnAction(UNMAP_MAPPING, nproc, pfn=first, npages=n))
        if self._left(s, IOREMAP):
            for first in range(sc.pages):
                for n in range(1, sc.pages - first + 1):
                    for t in range(len(TYPE_NAMES)):
                        out.append(PfnAction(IOREMAP, nproc + 1, pfn=first, npages=n, type=t))
        return out

    def next_step(self, s: PfnState, a: PfnAction) -> Step[PfnState] | None:
        k = Kernel(s, self.rule)
        pcs, used = s.pcs, s.used
        if a.step >= 0:
            pcs = (*pcs[: a.actor], pcs[a.actor] + 1, *pcs[a.actor + 1 :])
        elif a.op != FORK_STEP and a.op in self._budget:
            j = self._kinds.index(a.op)
            used = (*used[:j], used[j] + 1, *used[j + 1 :])
        op = a.op
        if op == FORK_STEP:
            fork_step(k)
        elif op == MMAP:
            mmap_remap(k, a.pid, a.vpage, a.npages, a.pfn, a.type, a.full, a.cow, a.fail == FAIL_COPY)
        elif op == MUNMAP:
            munmap(k, a.pid, a.vpage, a.npages)
        elif op == MREMAP:
            mremap_move(k, a.pid, a.vpage, a.npages, a.to)
        elif op == FORK:
            child = s.procs.index(NOT_CREATED)
            fork_start(k, a.actor, a.pid, child, a.fail)
        elif op == EXIT:
            exit_mmap(k, a.pid)
            k.procs[a.pid] = 2
            k.note(f"exit_mmap(P{a.pid})")
        elif op == ZAP:
            zap_vma_ptes(k, a.pid, a.vpage, a.npages)
        elif op == UNMAP_MAPPING:
            unmap_mapping_range(k, a.pfn, a.npages)
        elif op == IOREMAP:
            ioremap(k, a.pfn, a.npages, a.type)
        elif op == ACCESS:
            access(k, s, a.pid, a.vpage, a.write)
        else:
            return None
        return Step(k.freeze(s, pcs, used), tuple(k.notes), tuple(k.events))

    # -- properties --------------------------------------------------------------
    def invariants(self) -> Sequence[Invariant[PfnState]]:
        out: list[Invariant[PfnState]] = []
        for p in self.properties:
            fn = p.state_check(self.form)
            if fn is not None:
                out.append(Invariant(p.id, fn))
        return out

    def transition_checks(self) -> Sequence[TransitionCheck[PfnState, PfnAction]]:
        out: list[TransitionCheck[PfnState, PfnAction]] = []
        for p in self.properties:
            fn = p.step_check(self.form)
            if fn is not None:
                out.append(TransitionCheck(p.id, _on_step(fn)))
        return out

    # -- runs that end early ------------------------------------------------------
    def _stuck(self, s: PfnState, moves: list[PfnAction]) -> str | None:
        if moves:
            return None
        for i, a in enumerate(self.scenario.actors):
            pc = s.pcs[i]
            if pc < len(a.steps) and not all(st.optional for st in a.steps[pc:]):
                st = a.steps[pc]
                why = f"process P{a.process} {'was never created' if s.procs[a.process] == NOT_CREATED else 'is gone'}"
                return f"{a.name} cannot run step {pc + 1} ({st.label or _step_text(st)}): {why}"
        return None

    def goal_of(self, a: PfnAction) -> int:
        return self._goal_base[a.actor] + a.step if a.step >= 0 else -1

    def actor_name(self, actor: int) -> str:
        return self.names[actor] if 0 <= actor < len(self.names) else f"actor {actor}"

    def step_label(self, a: PfnAction, s: PfnState | None = None) -> str:
        """How a trace names the step: a program step by its label, a fork's next
        half-step by the kernel function it runs."""
        if a.op == FORK_STEP:
            f = s.fork if s is not None else None
            if f is None:
                return "fork: (continues)"
            at = [v for v in s.vmas if v.pid == f.parent] if s is not None else []
            where = f"vaddr+{at[f.vma].start * 4096:#x}" if f.vma < len(at) else "?"
            if f.phase == TRACK:
                return f"fork: copy_page_range({where}): track_pfn_copy()"
            if f.phase == COPY:
                return f"fork: copy_page_range({where}): the PTEs"
            return f"fork: vm_area_dup({where}), link into i_mmap"
        if self.litmus and a.step >= 0:
            st = self.scenario.actors[a.actor].steps[a.step]
            if st.label:
                return f"{st.label}: {a.describe()}"
        return a.describe()


def _on_step(fn: StepCheck) -> Callable[[PfnState, PfnAction, Step[PfnState]], str | None]:
    """A property's step check as the engine calls it (the action is in the step)."""

    def check(s: PfnState, a: PfnAction, step: Step[PfnState]) -> str | None:
        return fn(s, step)

    return check


def _step_text(st: PfnStep) -> str:
    return _action(st, 0, 0, 0).describe()


def program_action(sc: PfnScenario, actor: int, step: int) -> PfnAction:
    """The action that runs step ``step`` of ``actor``'s program."""
    a = sc.actors[actor]
    return _action(a.steps[step], actor, step, a.process)


def _action(st: PfnStep, actor: int, pc: int, pid: int) -> PfnAction:
    return PfnAction(
        st.op,
        actor,
        step=pc,
        pid=pid,
        vpage=st.vpage,
        npages=st.npages,
        pfn=st.pfn,
        type=st.type,
        to=st.to,
        full=st.full,
        cow=st.cow,
        fail=st.fail,
        write=st.write,
    )


__all__ = ["NO_TRK", "PfnModel"]
