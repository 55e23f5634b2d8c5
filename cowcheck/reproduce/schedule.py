"""From a saved trace to a schedule that user space can run: one step per syscall,
memory access or device event, in the trace's order.

A model step that continues a kernel operation in flight (fork's PTE copies,
reclaim's phases, GUP-fast's stages) is part of that operation's syscall: user
space cannot stop a kernel path half-way to let another actor in. ``atomize``
therefore runs each operation whole, right where it starts; ``plan`` keeps the
result only if some read at its end still shows the trace's violation, and a trace
whose failure needs a step inside an operation is refused, naming that step.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cowcheck.engine.replay import replay
from cowcheck.mm.actions import DEVICE, OUTSIDER, RECLAIM, SPECULATIVE, Action, actor_thread
from cowcheck.mm.model import MMModel
from cowcheck.mm.rule import GupFlags
from cowcheck.mm.state import PTE_PRESENT, MMState, Ref
from cowcheck.reproduce.mechanisms import ODIRECT, Mechanism, mechanism_for


class Refused(Exception):
    """The trace has no user-space schedule: ``step`` (1-based, 0: the trace as a
    whole) and why."""

    def __init__(self, step: int, label: str, reason: str) -> None:
        self.step = step
        self.label = label
        self.reason = reason
        at = f"step {step} ({label}): " if step else ""
        super().__init__(f"{at}{reason}")


@dataclass(frozen=True, slots=True)
class Atomic:
    """The trace with every kernel operation run whole where it starts."""

    actions: tuple[Action, ...]
    origin: tuple[int, ...]  # per action: the 1-based trace step, 0 for one added to finish an operation
    moved: tuple[int, ...]  # trace steps that ran inside another actor's operation in the trace
    states: tuple[MMState, ...]


RefKey = tuple[str, int, int, int, bool, bool, bool]


def _key(r: Ref) -> RefKey:
    # A reference's frame and flags never change; attached and crossed do.
    return (r.name, r.owner, r.vpage, r.frame, r.pin, r.write, r.longterm)


def _owner_of_steps(states: tuple[MMState, ...], actions: tuple[Action, ...]) -> dict[int, int]:
    """For each continuation in the trace, the index of the action that started
    its operation (the last start by the same actor)."""
    started: dict[int, int] = {}
    belongs: dict[int, int] = {}
    for i, a in enumerate(actions):
        if a.op == "step":
            belongs[i] = started.get(a.actor, -1)
        elif any(op.actor == a.actor for op in states[i + 1].inflight):
            started[a.actor] = i
    return belongs


def _finish(
    model: MMModel, s: MMState, actor: int, hint: list[Action], step: int, label: str
) -> list[tuple[Action, MMState]]:
    """The continuations that run ``actor``'s operation in flight to its end, each
    with the state it leads to: the trace's own where they are enabled, else the
    only one the model offers."""
    out: list[tuple[Action, MMState]] = []
    for _ in range(64):
        if not any(op.actor == actor for op in s.inflight):
            return out
        offered = [a for a in model.actions(s) if a.op == "step" and a.actor == actor]
        nxt = next((h for h in hint if h in offered), None)
        if nxt is None:
            if len(offered) != 1:
                raise Refused(step, label, "the kernel operation it starts can end in more than one way here")
            nxt = offered[0]
        else:
            hint.remove(nxt)
        st = model.next_step(s, nxt)
        if st is None:
            raise Refused(step, label, "the kernel operation it starts cannot run to its end")
        s = st.state
        out.append((nxt, s))
    raise Refused(step, label, "the kernel operation it starts does not end")


def run_op(
    model: MMModel,
    s: MMState,
    a: Action,
    hint: list[Action] | None = None,
    step: int = 0,
    label: str = "",
    refusal: str = "not enabled",
) -> list[tuple[Action, MMState]]:
    """``a`` (which the caller has checked the model offers) and, if it starts a
    kernel operation, the continuations that run it whole: each action with its
    state. Refused with ``refusal`` if ``a`` cannot run."""
    nx = model.next_step(s, a)
    if nx is None:
        raise Refused(step, label or a.op, refusal)
    s = nx.state
    out = [(a, s)]
    if a.op != "step" and any(op.actor == a.actor for op in s.inflight):
        out += _finish(model, s, a.actor, hint or [], step, label)
    return out


def atomize(model: MMModel, actions: tuple[Action, ...], labels: tuple[str, ...]) -> Atomic:
    run = replay(model, actions)
    if run.diverged_at is not None:
        k = run.diverged_at
        raise Refused(k + 1, labels[k], "not enabled under the trace's own rule")
    belongs = _owner_of_steps(run.states, actions)
    s = run.states[0]
    out: list[Action] = []
    origin: list[int] = []
    states: list[MMState] = [s]
    moved: list[int] = []
    done: set[int] = set()  # starts whose operation already ran whole
    released: set[int] = set()  # releases already run with their O_DIRECT completion
    for i, a in enumerate(actions):
        if any(op.actor != a.actor for op in run.states[i].inflight):
            moved.append(i + 1)
        if a.op == "step" and belongs.get(i, -1) in done:
            continue
        if a.op == "release" and i in released:
            continue
        whole = "cannot run once the kernel operations before it have run whole"
        if a not in model.actions(s):
            raise Refused(i + 1, labels[i], whole)
        hint = [actions[j] for j, b in belongs.items() if b == i]
        ran = run_op(model, s, a, hint, i + 1, labels[i], whole)
        for n, (c, s) in enumerate(ran):
            out.append(c)
            origin.append(i + 1 if n == 0 else 0)
            states.append(s)
        if len(ran) > 1:  # it started an operation, which ran whole: skip its continuations
            done.add(i)
        if a.op == "dma_write":
            r = ref_of(s, a)
            if r is not None and mechanism_for(GupFlags(r.pin, r.write, r.longterm)) is ODIRECT:
                # The read completes when its data lands, and the block layer drops
                # its references then (bio_release_pages()): the release comes at once.
                j = next(
                    (
                        j
                        for j in range(i + 1, len(actions))
                        if actions[j].op == "release" and same_ref(ref_of(run.states[j], actions[j]), r)
                    ),
                    None,
                )
                offered = [c for c in model.actions(s) if c.op == "release" and same_ref(ref_of(s, c), r)]
                rel = actions[j] if j is not None and actions[j] in offered else (offered[0] if offered else None)
                if rel is None:
                    raise Refused(
                        i + 1,
                        labels[i],
                        "an O_DIRECT read drops its reference when its data lands, "
                        "and the model cannot release it here",
                    )
                nx = model.next_step(s, rel)
                assert nx is not None
                s = nx.state
                out.append(rel)
                origin.append(j + 1 if j is not None else 0)
                states.append(s)
                if j is not None:
                    released.add(j)
    return Atomic(tuple(out), tuple(origin), tuple(dict.fromkeys(moved)), tuple(states))


@dataclass(frozen=True, slots=True)
class Reference:
    """A GUP reference of the schedule and the syscall that takes it."""

    number: int
    owner: int  # process
    vpage: int
    flags: GupFlags
    name: str
    mechanism: Mechanism
    slot: int  # per mechanism: which of its instances (O_DIRECT: the AIO slot)
    fast: bool = False  # the trace's GUP was GUP-fast
    cell: int = 0  # O_DIRECT: the cell its device write lands in
    token: int = 63  # O_DIRECT: the disk block it reads (63: one no step looks at)


@dataclass(frozen=True, slots=True)
class UStep:
    """One user-space step."""

    op: str
    proc: int  # the process that runs it
    executor: str  # which of that process's threads
    covers: tuple[int, ...]  # the trace steps (1-based) it runs
    labels: tuple[str, ...]
    vpage: int = 0
    cell: int = 0
    token: int = 0  # write, dma_write: the token the model stores
    ref: int = -1  # GUP, DMA, release: the reference
    prot: str = ""
    child: int = -1  # fork: the model's number for the child


@dataclass(frozen=True, slots=True)
class Schedule:
    steps: tuple[UStep, ...]
    refs: tuple[Reference, ...]
    atomic: Atomic
    nprocs: int
    executors: tuple[tuple[int, str], ...] = field(default=())
    live: tuple[tuple[RefKey, int], ...] = ()  # the references held at the end, by key

    def number_of(self, r: Ref) -> int:
        """The schedule's number for a reference of the final state."""
        return dict(self.live)[_key(r)]


def _executor(model: MMModel, a: Action, owner: int) -> tuple[int, str]:
    """Which thread of which process runs ``a``: a program thread runs its own
    steps; what a device, reclaim or another process does to process P runs in P's
    agent thread (it needs P's file descriptors, or acts on P's mm through madvise
    and /proc/self)."""
    if a.actor >= 0 and model.scenario.litmus:
        actor = model.scenario.actors[a.actor]
        if actor.kind == "thread":
            return actor.process, actor.name
        return owner, "agent"
    if a.actor in (DEVICE, RECLAIM, OUTSIDER, SPECULATIVE):
        return owner, "agent"
    pid, tid = actor_thread(a.actor)
    return pid, f"thread {tid}"


def build(model: MMModel, atomic: Atomic, labels: tuple[str, ...]) -> Schedule:
    """The user-space steps of an atomic schedule, with the references they take."""
    steps: list[UStep] = []
    refs: list[Reference] = []
    live: dict[RefKey, int] = {}
    slots: dict[str, int] = {}
    nprocs = 1
    acts, states = atomic.actions, atomic.states
    i = 0
    while i < len(acts):
        a, before = acts[i], states[i]
        covers = [atomic.origin[i]] if atomic.origin[i] else []
        j = i + 1
        while j < len(acts) and acts[j].op == "step":
            if atomic.origin[j]:
                covers.append(atomic.origin[j])
            j += 1
        after = states[j]
        k = covers[0] if covers else 0
        label = labels[k - 1] if k else a.op
        if a.op == "step":
            raise Refused(k, label, "a kernel operation continues with no start in the schedule")
        if a.op in ("spec_get", "spec_put"):
            raise Refused(
                k,
                label,
                "a speculative page reference (another task's GUP-fast or page-cache lookup) "
                "cannot be placed by user space",
            )
        if a.op == "exit":
            raise Refused(k, label, "process exit is not generated yet")
        if a.op in ("force_write", "uffd_continue"):
            raise Refused(k, label, f"{a.op} (/proc/PID/mem, UFFDIO_CONTINUE) is not generated yet")
        ref = -1
        token = 0
        owner = a.pid
        if a.op in ("dma_read", "dma_write", "release"):
            r = ref_of(before, a)
            if r is None or _key(r) not in live:
                raise Refused(k, label, "names a reference the schedule does not hold")
            ref = live[_key(r)]
            if a.op == "release":
                del live[_key(r)]
            owner = refs[ref].owner
            m = refs[ref].mechanism
            if a.op == "dma_read" and not m.device_read:
                raise Refused(k, label, f"the device cannot read through {m.name}")
            if a.op == "dma_write" and not m.device_write:
                raise Refused(k, label, f"the device cannot write through {m.name}")
            if a.op == "release" and m is ODIRECT and refs[ref].token == 63:
                raise Refused(k, label, "an O_DIRECT read always writes its data before it drops its reference")
        if a.op in ("write", "dma_write"):
            new = sorted(set(dict(after.toks)) - set(dict(before.toks)))
            if len(new) != 1:
                raise Refused(k, label, "stores no single new token")
            token = new[0]
            if a.op == "dma_write" and refs[ref].mechanism is ODIRECT:
                if refs[ref].token != 63:
                    raise Refused(k, label, "an O_DIRECT read writes its data once")
                refs[ref] = replace(refs[ref], cell=a.cell, token=token)
        if a.op == "gup":
            added = [r for r in after.refs if _key(r) not in {_key(b) for b in before.refs}]
            if len(added) != 1:
                raise Refused(k, label, "takes no single new reference (the GUP failed or was retried)")
            r = added[0]
            mech = mechanism_for(GupFlags(r.pin, r.write, r.longterm))
            if mech is None:
                raise Refused(
                    k,
                    label,
                    f"no syscall reliably takes a {GupFlags(r.pin, r.write, r.longterm).describe()} "
                    "reference whose use user space can watch",
                )
            slot = slots.get(mech.name, 0)
            if mech.name in ("io_uring", "vfio") and slot:
                raise Refused(k, label, f"a second {mech.name} reference is not generated yet")
            if slot >= 4:  # MAX_PIPES in runtime.h, ODIRECT_SLOTS in devices.h
                raise Refused(k, label, f"a fifth {mech.name} reference is not generated yet")
            slots[mech.name] = slot + 1
            ref = len(refs)
            live[_key(r)] = ref
            refs.append(
                Reference(ref, r.owner, r.vpage, GupFlags(r.pin, r.write, r.longterm), r.name, mech, slot, a.fast)
            )
        vpage = a.vpage
        if a.op == "swapout":
            owner, vpage = _check_swapout(before, a, k, label)
        if a.op == "fork":
            child = len(after.procs) - 1
            nprocs = max(nprocs, child + 1)
        else:
            child = -1
        proc, executor = _executor(model, a, owner)
        steps.append(
            UStep(
                a.op,
                proc,
                executor,
                tuple(covers),
                tuple(labels[c - 1] for c in covers) or (label,),
                vpage,
                a.cell,
                token,
                ref,
                a.prot,
                child,
            )
        )
        i = j
    for x in refs:
        if x.mechanism is ODIRECT and x.token == 63:
            k = next(u.covers[0] for u in steps if u.op == "gup" and u.ref == x.number and u.covers)
            raise Refused(
                k,
                labels[k - 1],
                "an O_DIRECT read that the trace never completes: its data would land at a point of the run "
                "that no step decides",
            )
    execs = tuple(dict.fromkeys((s.proc, s.executor) for s in steps))
    return Schedule(tuple(steps), tuple(refs), atomic, nprocs, execs, tuple(live.items()))


def same_ref(a: Ref | None, b: Ref) -> bool:
    return a is not None and _key(a) == _key(b)


def ref_of(s: MMState, a: Action) -> Ref | None:
    """The reference ``a`` goes through: by name in litmus scenarios, else by index."""
    if a.name:
        return next((r for r in s.refs if r.name == a.name), None)
    return s.refs[a.idx] if 0 <= a.idx < len(s.refs) else None


def swapout_target(s: MMState, a: Action) -> tuple[int, int] | None:
    """The one (process, vpage) that maps the page reclaim takes: litmus steps name
    it, open scenarios name the page (``idx``, as ops/kernel.py's frame_of)."""
    if a.pid >= 0:
        return a.pid, a.vpage
    maps = [
        (pid, v)
        for pid, pr in enumerate(s.procs)
        for v, pte in enumerate(pr.ptes)
        if pte.kind == PTE_PRESENT and pte.target == a.idx
    ]
    return maps[0] if len(maps) == 1 else None


def _check_swapout(s: MMState, a: Action, k: int, label: str) -> tuple[int, int]:
    """MADV_PAGEOUT reclaims only a page mapped once (madvise_cold_or_pageout_pte_range():
    "Do not interfere with other mappings of this page"), through the mapping of the
    process that calls it: reclaim of a shared or unmapped page happens, but user
    space cannot choose when."""
    target = swapout_target(s, a)
    page = None
    if target is not None:
        pte = s.procs[target[0]].ptes[target[1]]
        page = dict(s.pages).get(pte.target) if pte.kind == PTE_PRESENT else None
    if target is None or page is None or page.mapcount != 1:
        raise Refused(
            k,
            label,
            "reclaim of a page not mapped by exactly one process: MADV_PAGEOUT skips it, and "
            "user space cannot choose when reclaim takes it",
        )
    return target


def run_whole(model: MMModel, steps: tuple[Action, ...], labels: tuple[str, ...]) -> tuple[MMState, ...]:
    """Run user-space steps under ``model``, each kernel operation whole: the
    schedule a real kernel runs, for another rule than the trace's. Raises Refused
    at the first step the model does not offer there."""
    s = model.init_states()[0]
    states = [s]
    for a, label in zip(steps, labels, strict=True):
        if a not in model.actions(s):
            raise Refused(0, label, "not enabled")
        s = run_op(model, s, a, label=label)[-1][1]
        states.append(s)
    return tuple(states)
