"""What the model offers in a state: the next step of each kernel path in flight, the
litmus programs' next steps or, in an open scenario, whatever an idle thread may do
within the budget, and the environment's actions (devices, reclaim, clear_refs,
speculative references). Which operations are offered how is the table's
(``mm/ops``); the order of the list is the table's too."""

from __future__ import annotations

from collections.abc import Callable

from cowcheck.mm.actions import Action, thread_actor
from cowcheck.mm.budget import Budget
from cowcheck.mm.ops import OPERATIONS
from cowcheck.mm.ops.operation import Operation, ThreadOffer, new_action
from cowcheck.mm.state import PTE_PRESENT, ForkOp, MMState, Ref
from cowcheck.mm.world import World

# The budget kinds that pay for an operation: it is offered while one is left. None:
# free, always offered.
Kinds = frozenset[str] | None


def _kinds(op: Operation) -> Kinds:
    kinds = frozenset(k for k in (op.budget, op.fast_budget) if k)
    return kinds or None


def program_action(world: World, actor: int, k: int) -> Action:
    """The action that runs step ``k`` of litmus actor ``actor``: what the model
    offers, and what a saved trace's program step must be (checks/saved_trace.py)."""
    a = world.actors[actor]
    st = a.steps[k]
    f = st.flags
    pid = a.process if a.kind == "thread" else st.process
    return Action(
        st.op,
        actor,
        pid=pid,
        vpage=st.vpage,
        cell=st.cell,
        pin=f.pin,
        write=f.write,
        longterm=f.longterm,
        fast=st.fast,
        name=st.ref,
        step=k,
        prot=st.prot,
    )


def busy(s: MMState, actor: int) -> bool:
    """``actor`` is in the middle of a kernel path."""
    return any(op.actor == actor for op in s.inflight)


def _being_forked(s: MMState, pid: int) -> bool:
    return any(isinstance(op, ForkOp) and op.child == pid for op in s.inflight)


def runnable(s: MMState, pid: int) -> bool:
    """Process ``pid`` exists, is alive, and its fork has returned."""
    return pid < len(s.procs) and s.procs[pid].alive and not _being_forked(s, pid)


def step_done(s: MMState, actor: int, step: int) -> bool:
    """Step ``step`` of litmus actor ``actor`` has run to its end."""
    pc = s.pcs[actor]
    return pc > step + 1 or (pc == step + 1 and not busy(s, actor))


class Offers:
    def __init__(self, world: World, budget: Budget) -> None:
        self.world = world
        self.budget = budget
        self.nv = len(world.vpages)
        ops = [(op, _kinds(op)) for op in OPERATIONS]
        self._per_vpage = [(op.per_vpage, k) for op, k in ops if op.per_vpage is not None]
        self._per_process = [(op.per_process, k) for op, k in ops if op.per_process is not None]
        # Open scenarios only: a litmus scenario's devices run their programs.
        self._per_reference: list[tuple[Callable[[World, int, Ref], list[Action]], Kinds]] = (
            [] if world.litmus else [(op.per_reference, k) for op, k in ops if op.per_reference is not None]
        )
        # Only what the scenario's budget can ever pay for.
        self._environment = [
            (op.environment, k)
            for op, k in ops
            if op.environment is not None and (k is None or not k.isdisjoint(self.budget.kinds))
        ]
        # What an idle thread may do, by what that depends on (``_threads``).
        self.cache: dict[tuple[object, ...], tuple[Action, ...]] = {}

    def actions(self, s: MMState) -> list[Action]:
        acts = [new_action("step", op.actor, idx=i) for i, op in enumerate(s.inflight)]
        avail = self.budget.available(s.budget)
        if self.world.litmus:
            acts += self._programs(s)
        else:
            acts += self._threads(s, avail)
        if self._per_reference:
            for ri, r in enumerate(s.refs):
                for offer, kinds in self._per_reference:
                    if kinds is None or not kinds.isdisjoint(avail):
                        acts += offer(self.world, ri, r)
        for env, kinds in self._environment:
            if kinds is None or not kinds.isdisjoint(avail):
                acts += env(self.world, s)
        return acts

    def _programs(self, s: MMState) -> list[Action]:
        out = []
        for ai, actor in enumerate(self.world.actors):
            pc = s.pcs[ai]
            if pc >= len(actor.steps) or busy(s, ai):
                continue
            st = actor.steps[pc]
            if not all(step_done(s, aj, sj) for aj, sj in st.after):
                continue
            if actor.kind == "thread" and not runnable(s, actor.process):
                continue
            out.append(program_action(self.world, ai, pc))
        return out

    def _threads(self, s: MMState, avail: frozenset[str]) -> list[Action]:
        out: list[Action] = []
        room = len(s.procs) < self.world.max_processes
        for pid, pr in enumerate(s.procs):
            if not runnable(s, pid):
                continue
            # Threads are interchangeable: offer new work to the lowest idle one.
            free = [t for t in range(pr.threads) if not busy(s, thread_actor(pid, t))]
            if not free:
                continue
            a = thread_actor(pid, free[0])
            # The offer depends on this little of the state (ThreadOffer); the same
            # offers recur in most states, so they are built once.
            present = tuple(p.kind == PTE_PRESENT for p in pr.ptes)
            all_idle = len(free) == pr.threads
            key = (avail, pid, a, pr.vmas, present, room, all_idle)
            offer = self.cache.get(key)
            if offer is None:
                offer = self._thread_offer(ThreadOffer(self.world, avail, a, pid, pr.vmas, present, room, all_idle))
                self.cache[key] = offer
            out += offer
        return out

    def _thread_offer(self, t: ThreadOffer) -> tuple[Action, ...]:
        out: list[Action] = []
        for v in range(self.nv):
            if not t.vmas[v].mapped:
                continue
            for offer, kinds in self._per_vpage:
                if kinds is None or not kinds.isdisjoint(t.avail):
                    out += offer(t, v)
        for whole, kinds in self._per_process:
            if kinds is None or not kinds.isdisjoint(t.avail):
                out += whole(t)
        return tuple(out)
