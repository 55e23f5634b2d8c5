"""The abstract mm as an engine model: a scenario, a rule, properties and a contract."""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Hashable, Iterator, Sequence

from cowcheck.engine import Invariant, Step, TransitionCheck
from cowcheck.errors import InputError
from cowcheck.input.scenario import Scenario
from cowcheck.input.schema import OPS
from cowcheck.mm import access, device, fork, gup, reclaim, syscalls
from cowcheck.mm.actions import (
    DEVICE,
    OUTSIDER,
    RECLAIM,
    SPECULATIVE,
    Action,
    actor_thread,
    thread_actor,
)
from cowcheck.mm.canon import canonical, canonical_procs
from cowcheck.mm.context import Ctx
from cowcheck.mm.footprint import ample_singletons
from cowcheck.mm.property import MMProperty, StateCheck, TransitionFn
from cowcheck.mm.rule import GupFlags, Rule
from cowcheck.mm.state import (
    BUDGET_FIELD,
    GUPF_SLOW,
    PTE_EMPTY,
    PTE_PRESENT,
    PTE_SWAP,
    UNMAPPED,
    ZERO_FRAME,
    ZERO_TOKEN,
    ForkOp,
    GupFastOp,
    MMState,
    Proc,
    Pte,
    Slot,
    SwapoutOp,
    Vma,
    bit,
    new_record,
)
from cowcheck.mm.stuck import explain, step_name
from cowcheck.mm.work import Blocked, ModelBug, Work

# Which budget an action consumes. Release, DMA reads and continuations are free:
# each reference can be released once, and reads by a device change nothing.
_BUDGET_OF = {op.name: op.budget for op in OPS if op.budget}


def _action(op: str, actor: int, pid: int = -1, vpage: int = -1, cell: int = -1, idx: int = -1) -> Action:
    """``Action(op, actor, pid, vpage, cell, idx=idx)``, built by position: a
    NamedTuple's own constructor runs Python code, and the in-flight steps and the
    environment's actions are built anew for every state."""
    return new_record(Action, (op, actor, pid, vpage, cell, idx, False, False, False, False, "", -1, ""))


def program_action(sc: Scenario, actor: int, k: int) -> Action:
    """The action that runs step ``k`` of litmus actor ``actor``: what the model
    offers, and what a saved trace's program step must be (tracefile.py)."""
    a = sc.actors[actor]
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


def _budget_kind(a: Action) -> str | None:
    if a.op == "gup":
        return "gup_fast" if a.fast else "gup"
    return _BUDGET_OF.get(a.op)


class MMModel:
    """Implements cowcheck.engine.Model for MMState and Action."""

    def __init__(
        self,
        scenario: Scenario,
        rule: Rule,
        properties: Sequence[MMProperty],
        form: str = "observational",
        strict: bool = False,
        failing_metrics: Sequence[str] = (),
        symmetry: bool = False,
    ) -> None:
        self.scenario = scenario
        self.rule = rule
        self.properties = tuple(properties)
        self.form = form
        self.ctx = Ctx(rule, scenario.cells, strict)
        self.nv = len(scenario.vpages)
        self.budget_kinds = tuple(k for k, _ in scenario.budget)
        self._bidx = {k: i for i, k in enumerate(self.budget_kinds)}
        self._total = self._bidx.get("total")
        self.failing_metrics = frozenset(failing_metrics)
        self.litmus = scenario.kind == "litmus"
        # Process symmetry only where processes are anonymous (see canon.py).
        self.symmetry = symmetry and not self.litmus
        self._prop_reads = frozenset().union(*(p.reads for p in self.properties))
        # Read once: a rule is a user's class, and reading its attribute is a lookup
        # by name through its class at every action.
        self._uses_pae = rule.uses_anon_exclusive
        self._avail_cache: dict[tuple[int, ...], frozenset[str]] = {}
        self._last_avail: tuple[tuple[int, ...], frozenset[str]] = ((-1,), frozenset())
        self._offer_cache: dict[tuple[object, ...], tuple[Action, ...]] = {}
        # Subsumption by budget (engine/subsume.py) is sound only if no property reads
        # the budget; a property that does not say what it reads may read it.
        self.split_resources: Callable[[MMState], tuple[Hashable, tuple[int, ...]]] | None = (
            None if "budget" in self._prop_reads else self.split_budget
        )
        self._clipped: dict[tuple[int, ...], tuple[int, ...]] = {}
        # Vacuity (engine/model.py): a litmus run must finish its programs, and each
        # step must run on some run. Open scenarios have no programs to finish.
        self.stuck: Callable[[MMState, list[Action]], str | None] | None = self._stuck if self.litmus else None
        self._goal_base: list[int] = []  # per actor, the goal number of its first step
        n = 0
        for actor in scenario.actors:
            self._goal_base.append(n)
            n += len(actor.steps)

    def __reduce__(self) -> tuple[type[MMModel], tuple[object, ...]]:
        # Pickled (for Dask's workers) as its constructor's arguments, without the
        # caches. The compiled build needs it: mypyc's classes pickle no attributes.
        # (self.symmetry is already off for litmus scenarios, as the copy's would be.)
        fm = tuple(self.failing_metrics)
        return MMModel, (self.scenario, self.rule, self.properties, self.form, self.ctx.strict, fm, self.symmetry)

    # -- engine protocol -------------------------------------------------------------

    def init_states(self) -> Sequence[MMState]:
        sc = self.scenario
        cells = sc.cells
        p0 = Proc(
            True,
            -1,
            sc.threads,
            False,
            0,
            tuple(Vma(True, vi.writable, vi.dontfork) for vi in sc.vpages),
            (PTE_EMPTY,) * self.nv,
            (UNMAPPED,) * self.nv,
        )
        empty = MMState(
            (p0,),
            (),
            (),
            (),
            (),
            (),
            (),
            tuple(0 for _ in sc.actors),
            tuple(n for _, n in sc.budget),
        )
        w = Work(empty, self.rule.uses_anon_exclusive)
        zero = ((ZERO_TOKEN,),) * cells
        for v, vi in enumerate(sc.vpages):
            if vi.state in ("none", "zero"):
                w.set_expect(0, v, zero)
                if vi.state == "zero":
                    w.map_page(0, v, ZERO_FRAME, False)
                continue
            # Data the process wrote before the scenario starts.
            toks = tuple(w.new_token(0, False, bit(0)) for _ in range(cells))
            w.set_expect(0, v, tuple((t,) for t in toks))
            if vi.state == "present":
                f = w.alloc_page(toks, exclusive=True)
                w.map_page(0, v, f, vi.writable)
            else:  # swapped: written out, page freed, exclusive swap entry
                s = max(w.slots, default=-1) + 1
                w.slots[s] = Slot(1, -2, toks)
                w.set_pte(0, v, Pte(PTE_SWAP, s, False, self.rule.uses_anon_exclusive))
        return (w.freeze(empty.pcs, empty.budget),)

    def canonical(self, state: MMState) -> MMState:
        if self.symmetry and not self._reclaim_may_walk(state):
            return canonical_procs(state)
        return canonical(state)

    def split_budget(self, s: MMState) -> tuple[Hashable, tuple[int, ...]]:
        """The state without its budget, and the budget as far as it can be spent.

        The budget only enables: it is read where actions are offered
        (``_available``) and charged (``next_step``), both monotone in it, and each
        charge takes one from the same kinds whatever is left (``tests/test_subsume.py``
        checks this over reachable states). No kind can be spent more often than
        ``total`` allows, so each is clipped to ``total``: that commutes with every
        charge (min(k, t) - 1 = min(k - 1, t - 1)) and offers the same actions, so a
        state and its clipped one are bisimilar, and comparing clipped budgets
        covers more (two states with ``total`` 0 are alike whatever is left of
        each kind)."""
        b = s.budget
        got = self._clipped.get(b)
        if got is None:
            t = self._total
            got = b if t is None else tuple(min(n, b[t]) for n in b)
            self._clipped[b] = got
        # The core keeps the bug string where there is one: a core with it is longer,
        # so it never equals the core of a state without one.
        return (s[:BUDGET_FIELD] if not s.bug else (*s[:BUDGET_FIELD], s.bug)), got

    def partition_key(self, s: MMState) -> tuple[object, ...]:
        """What the parallel search partitions on: what canonical() never changes (it
        renames frames, slots, tokens and processes, keeps their counts and drops
        unreferenced tokens), and not the budget, so that the states subsumption
        compares have one owner. The page counts make enough distinct keys (788 on
        open-standard) for the coordinator to balance their owners (balance.py)."""
        return (
            s.pcs,
            len(s.procs),
            len(s.refs),
            len(s.inflight),
            len(s.slots),
            len(s.spec),
            tuple(sorted([(p.refcount, p.mapcount, p.pincount) for _, p in s.pages])),
        )

    def ample_candidates(self, state: MMState, actions: Sequence[Action]) -> Iterator[list[int]]:
        """Ample-set candidates for partial-order reduction (``mm/footprint.py``):
        litmus program steps whose only effect is their own program counter and
        that nothing another actor may still do can affect."""
        if not self.litmus or state.bug:
            return iter(())
        # Reclaim, speculative references and clear_refs from a [budget] table may
        # touch any page or PTE.
        environment = (
            any(n > 0 for n in state.budget) or bool(state.spec) or any(type(op) is SwapoutOp for op in state.inflight)
        )
        return ample_singletons(self.scenario, state, actions, self._prop_reads, environment)

    def _reclaim_may_walk(self, s: MMState) -> bool:
        """try_to_unmap() walks the PTEs of a page in pid order (the anon_vma tree's
        order: parents before the children they fork), so once reclaim can run,
        renaming processes changes what it does next. Process symmetry applies only
        to states where no swapout is running and none can start."""
        return self._has_budget(s, "swapout") or any(type(op) is SwapoutOp for op in s.inflight)

    def _stuck(self, s: MMState, moves: list[Action]) -> str | None:
        """What holds up the programs where no program step or in-flight kernel step
        can move. The environment (a [budget]'s clear_refs, reclaim, speculative
        references) is not waited for: its budget is what a run may spend, not what it
        must, so a run may stop using it anywhere. That also makes the answer the same
        for every budget, as subsumption by budget needs (engine/subsume.py)."""
        for a in moves:
            if a.step >= 0 or a.op == "step":
                return None
        if s.bug:
            # The kernel oopsed: an end of the run, which memory-safety reports when it
            # is checked (verify checks the other properties without it, on purpose).
            return None
        return explain(self.scenario, s)

    def coverage_goals(self) -> tuple[str, ...]:
        """Every litmus step: a complete search must see each run at least once."""
        sc = self.scenario
        return tuple(
            step_name(sc, ai, j) + (" (optional)" if st.optional else "")
            for ai, actor in enumerate(sc.actors)
            for j, st in enumerate(actor.steps)
        )

    def goal_of(self, a: Action) -> int:
        return self._goal_base[a.actor] + a.step if a.step >= 0 else -1

    def invariants(self) -> Sequence[Invariant[MMState]]:
        out: list[Invariant[MMState]] = []
        for p in self.properties:
            fn = p.check_for(self.form)
            if fn is None or (p.metric and p.id not in self.failing_metrics):
                continue
            out.append(Invariant(p.id, _bind(fn, self.ctx)))
        return out

    def transition_checks(self) -> Sequence[TransitionCheck[MMState, Action]]:
        out: list[TransitionCheck[MMState, Action]] = []
        for p in self.properties:
            if p.transition is None:
                continue
            metric = p.metric and p.id not in self.failing_metrics
            out.append(TransitionCheck(p.id, _bind_t(p.transition, self.ctx), metric))
        return out

    def actions(self, s: MMState) -> list[Action]:
        if s.bug:
            return []
        acts = [_action("step", op.actor, idx=i) for i, op in enumerate(s.inflight)]
        if self.litmus:
            acts += self._litmus_actions(s)
        else:
            acts += self._open_thread_actions(s)
        acts += self._environment_actions(s)
        return acts

    def next_step(self, s: MMState, a: Action) -> Step[MMState] | None:
        if s.bug:
            return None
        kind = _budget_kind(a)
        charged = a.step < 0 and kind is not None
        if charged and not self._has_budget(s, kind or ""):
            return None
        w = Work(s, self._uses_pae)
        try:
            if not self._apply(w, s, a):
                return None
        except Blocked:
            return None
        except ModelBug as e:
            bugged = s._replace(bug=str(e))
            return new_record(Step, (bugged, (*w.notes, f"BUG: {e}"), tuple(w.events)))
        except Exception as e:
            raise _in_rule_file(self.rule, e) from None
        pcs = s.pcs
        if a.step >= 0:
            pcl = list(pcs)
            pcl[a.actor] += 1
            pcs = tuple(pcl)
        budget = s.budget  # the same tuple where nothing is charged
        if charged:
            bl = list(budget)
            bl[self._bidx[kind or ""]] -= 1
            if self._total is not None:
                bl[self._total] -= 1
            budget = tuple(bl)
        ns = w.freeze(pcs, budget)
        # An action that changes nothing but the budget leads nowhere new: a state
        # with more budget left can do everything one with less can. (Both bug
        # fields are empty here.)
        if charged and ns[:BUDGET_FIELD] == s[:BUDGET_FIELD]:
            return None
        return new_record(Step, (ns, tuple(w.notes), tuple(w.events)))

    # -- naming -------------------------------------------------------------------------

    def actor_name(self, actor: int) -> str:
        special = {
            DEVICE: "device",
            RECLAIM: "reclaim",
            OUTSIDER: "clear_refs writer",
            SPECULATIVE: "speculative",
        }
        if actor in special:
            return special[actor]
        if self.litmus:
            return self.scenario.actors[actor].name
        pid, tid = actor_thread(actor)
        threads = self.scenario.threads if pid == 0 else 1
        return f"P{pid}" if threads == 1 else f"P{pid}.T{tid}"

    # -- enumeration ------------------------------------------------------------------------

    @staticmethod
    def _busy(s: MMState, actor: int) -> bool:
        return any(op.actor == actor for op in s.inflight)

    @staticmethod
    def _being_forked(s: MMState, pid: int) -> bool:
        return any(isinstance(op, ForkOp) and op.child == pid for op in s.inflight)

    def _runnable(self, s: MMState, pid: int) -> bool:
        return pid < len(s.procs) and s.procs[pid].alive and not self._being_forked(s, pid)

    def _step_done(self, s: MMState, actor: int, step: int) -> bool:
        pc = s.pcs[actor]
        return pc > step + 1 or (pc == step + 1 and not self._busy(s, actor))

    def _litmus_actions(self, s: MMState) -> list[Action]:
        out = []
        for ai, actor in enumerate(self.scenario.actors):
            pc = s.pcs[ai]
            if pc >= len(actor.steps) or self._busy(s, ai):
                continue
            st = actor.steps[pc]
            if not all(self._step_done(s, aj, sj) for aj, sj in st.after):
                continue
            if actor.kind == "thread" and not self._runnable(s, actor.process):
                continue
            out.append(program_action(self.scenario, ai, pc))
        return out

    def _has_budget(self, s: MMState, kind: str) -> bool:
        return kind in self._available(s.budget)

    def _available(self, budget: tuple[int, ...]) -> frozenset[str]:
        """The budget kinds left: one computation per distinct budget vector."""
        # The search asks this for one state's actions in a row, with one budget tuple:
        # the same object gives the same answer without hashing it again. (One
        # attribute holds both, so that threads sharing the model never see a budget
        # with another budget's answer.)
        last = self._last_avail
        if budget is last[0]:
            return last[1]
        got = self._avail_cache.get(budget)
        if got is None:
            if self._total is not None and budget[self._total] <= 0:
                got = frozenset()
            else:
                got = frozenset(k for k, n in zip(self.budget_kinds, budget, strict=True) if n > 0)
            self._avail_cache[budget] = got
        self._last_avail = (budget, got)
        return got

    def _open_thread_actions(self, s: MMState) -> list[Action]:
        out: list[Action] = []
        avail = self._available(s.budget)
        can_fork = "fork" in avail and len(s.procs) < self.scenario.max_processes
        for pid, pr in enumerate(s.procs):
            if not self._runnable(s, pid):
                continue
            # Threads are interchangeable: offer new work to the lowest idle one.
            free = [t for t in range(pr.threads) if not self._busy(s, thread_actor(pid, t))]
            if not free:
                continue
            a = thread_actor(pid, free[0])
            # The offer depends on this little of the state; the same offers recur
            # in most states, so they are built once.
            present = tuple(p.kind == PTE_PRESENT for p in pr.ptes)
            key = (avail, pid, a, pr.vmas, present, can_fork, len(free) == pr.threads)
            offer = self._offer_cache.get(key)
            if offer is None:
                offer = self._thread_offer(avail, pid, a, pr, present, can_fork, len(free) == pr.threads)
                self._offer_cache[key] = offer
            out += offer
        return out

    def _thread_offer(
        self, avail: frozenset[str], pid: int, a: int, pr: Proc, present: tuple[bool, ...], fork: bool, idle: bool
    ) -> tuple[Action, ...]:
        out: list[Action] = []
        kinds = self.scenario.gup_kinds
        for v in range(self.nv):
            if not pr.vmas[v].mapped:
                continue
            if "write" in avail:
                out += [Action("write", a, pid, v, c) for c in range(self.scenario.cells)]
            if "read" in avail and not present[v]:
                out.append(Action("read", a, pid, v, 0))
            for fast, kind in ((False, "gup"), (True, "gup_fast")):
                if kind in avail:
                    out += [
                        Action(
                            "gup",
                            a,
                            pid,
                            v,
                            pin=g.flags.pin,
                            write=g.flags.write,
                            longterm=g.flags.longterm,
                            fast=fast,
                        )
                        for g in kinds
                    ]
            if "mprotect" in avail:
                out.append(Action("mprotect", a, pid, v, prot="rw" if not pr.vmas[v].writable else "ro"))
            out += [Action(op, a, pid, v) for op in ("munmap", "dontneed", "dontfork") if op in avail]
        if fork:
            out.append(Action("fork", a, pid))
        if "exit" in avail and idle:
            out.append(Action("exit", a, pid))
        return tuple(out)

    def _environment_actions(self, s: MMState) -> list[Action]:
        """Actors outside the programs: devices, reclaim, clear_refs, speculative refs.
        In litmus scenarios these come only from a [budget] table, if any."""
        out: list[Action] = []
        hb = self._has_budget
        if not self.litmus:
            for ri, r in enumerate(s.refs):
                out.append(_action("release", DEVICE, r.owner, r.vpage, idx=ri))
                if r.write and hb(s, "dma_write"):
                    out += [
                        _action("dma_write", DEVICE, r.owner, r.vpage, c, idx=ri) for c in range(self.scenario.cells)
                    ]
        if hb(s, "clear_refs"):
            out += [_action("clear_refs", OUTSIDER, pid) for pid, pr in enumerate(s.procs) if pr.alive]
        if hb(s, "swapout"):
            busy = {op.frame for op in s.inflight if isinstance(op, SwapoutOp)}
            out += [_action("swapout", RECLAIM, idx=f) for f, _p in s.pages if f not in busy]
        if hb(s, "spec_ref"):
            out += [_action("spec_get", SPECULATIVE, idx=f) for f, _p in s.pages]
        out += [_action("spec_put", SPECULATIVE, idx=i) for i in range(len(s.spec))]
        return out

    # -- execution -------------------------------------------------------------------------

    @staticmethod
    def _forking(w: Work, pid: int) -> bool:
        return any(isinstance(op, ForkOp) and op.parent == pid for op in w.inflight)

    def _need_mmap_lock(self, w: Work, pid: int) -> None:
        if self._forking(w, pid):
            raise Blocked  # fork holds the mmap lock for writing

    def _ref_index(self, w: Work, a: Action) -> int | None:
        if a.name:
            for i, r in enumerate(w.refs):
                if r.name == a.name:
                    return i
            return None
        return a.idx if 0 <= a.idx < len(w.refs) else None

    def _frame_of(self, w: Work, a: Action) -> int | None:
        if a.pid < 0:
            return a.idx if a.idx in w.pages else None
        if a.pid >= len(w.procs):
            return None
        pte = w.pte(a.pid, a.vpage)
        if pte.kind != PTE_PRESENT or pte.target == ZERO_FRAME:
            return None
        return pte.target

    def _apply(self, w: Work, s: MMState, a: Action) -> bool:
        ctx, op = self.ctx, a.op
        if op == "step":
            return self._continue(w, a.idx)
        if op == "write":
            return access.cpu_write(w, ctx, a.pid, a.vpage, a.cell, self._forking(w, a.pid))
        if op == "read":
            return access.cpu_read(w, ctx, a.pid, a.vpage, a.cell, self._forking(w, a.pid))
        if op == "fork":
            self._need_mmap_lock(w, a.pid)
            if len(w.procs) >= self.scenario.max_processes:
                return False
            fork.fork_begin(w, ctx, a.actor, a.pid)
            return True
        if op == "gup":
            flags = new_record(GupFlags, (a.pin, a.write, a.longterm))
            if a.fast:
                gup.gup_fast_start(w, ctx, a.actor, a.pid, a.vpage, flags, a.name)
                return True
            self._need_mmap_lock(w, a.pid)
            ok = gup.gup_slow(w, ctx, a.pid, a.vpage, flags, a.name)
            return ok or self.litmus  # a litmus program goes on after -EFAULT
        if op in ("release", "dma_write", "dma_read"):
            ri = self._ref_index(w, a)
            if ri is None:
                return False
            if op == "release":
                return device.release(w, ri)
            if op == "dma_write":
                return device.dma_write(w, ctx, ri, a.cell)
            return device.dma_read(w, ctx, ri, a.cell)
        if op == "clear_refs":
            if not w.procs[a.pid].alive:
                return False
            self._need_mmap_lock(w, a.pid)
            return syscalls.clear_refs(w, ctx, a.pid) or self.litmus
        if op == "mprotect":
            self._need_mmap_lock(w, a.pid)
            return syscalls.mprotect(w, a.pid, a.vpage, a.prot == "rw") or self.litmus
        if op in ("munmap", "dontneed"):
            self._need_mmap_lock(w, a.pid)
            return syscalls.zap(w, ctx, a.pid, a.vpage, op == "munmap")
        if op == "dontfork":
            self._need_mmap_lock(w, a.pid)
            return syscalls.madvise_dontfork(w, a.pid, a.vpage) or self.litmus
        if op == "exit":
            if any(
                (isinstance(o, GupFastOp) and o.pid == a.pid) or (isinstance(o, ForkOp) and o.parent == a.pid)
                for o in w.inflight
            ):
                raise Blocked
            return syscalls.exit_mm(w, ctx, a.pid)
        if op == "swapout":
            f = self._frame_of(w, a)
            if f is None or w.reclaim_holds(f):
                return False
            reclaim.swapout_start(w, ctx, a.actor, f)
            return True
        if op == "spec_get":
            f = self._frame_of(w, a)
            return f is not None and device.spec_get(w, f)
        if op == "spec_put":
            i = a.idx if a.idx >= 0 else 0
            return i < len(w.spec) and device.spec_put(w, i)
        raise ValueError(f"unknown action {op!r}")

    def _continue(self, w: Work, idx: int) -> bool:
        if idx >= len(w.inflight):
            return False
        op = w.inflight[idx]
        if isinstance(op, ForkOp):
            if op.next_vpage < self.nv:
                fork.fork_copy_pte(w, self.ctx, idx, op)
            else:
                fork.fork_end(w, self.ctx, idx, op)
        elif isinstance(op, GupFastOp):
            if op.stage == GUPF_SLOW:
                self._need_mmap_lock(w, op.pid)
            gup.gup_fast_step(w, self.ctx, idx, op)
        else:
            reclaim.swapout_step(w, self.ctx, idx, op)
        return True


def _in_rule_file(rule: Rule, e: Exception) -> Exception:
    """An exception raised inside a rule file's hook is that file's error: name its
    line. Anything else is a bug of cowcheck itself and keeps its traceback."""
    files = set()
    for cls in type(rule).__mro__:
        try:
            files.add(inspect.getsourcefile(cls))
        except TypeError:
            continue
    inside = [fr for fr in traceback.extract_tb(e.__traceback__) if fr.filename in files]
    if not inside:
        return e
    fr = inside[-1]
    return InputError(f"{fr.filename}:{fr.lineno}", None, f"{type(e).__name__} in rule {rule.name}: {e}")


def _bind(fn: StateCheck, ctx: Ctx) -> Callable[[MMState], str | None]:
    def check(s: MMState) -> str | None:
        return fn(s, ctx)

    return check


def _bind_t(fn: TransitionFn, ctx: Ctx) -> Callable[[MMState, Action, Step[MMState]], str | None]:
    def check(s: MMState, a: Action, step: Step[MMState]) -> str | None:
        return fn(s, step, ctx)

    return check
