"""The abstract mm as an engine model: a world, a rule, properties and a contract.

What each action does, and how it is offered, is the table of operations'
(``mm/ops``); this module runs an action through its entry, charges the budget, and
gives the search what it may use besides (``capabilities``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable, Iterator, Sequence

from cowcheck.engine import Capabilities, Invariant, Step, TransitionCheck
from cowcheck.errors import InputError
from cowcheck.mm import records
from cowcheck.mm.actions import DEVICE, OUTSIDER, RECLAIM, SPECULATIVE, Action, actor_thread
from cowcheck.mm.budget import Budget
from cowcheck.mm.canon import canonical, canonical_procs
from cowcheck.mm.context import Ctx
from cowcheck.mm.footprint import ample_singletons
from cowcheck.mm.offers import Offers, program_action
from cowcheck.mm.ops import OPERATION
from cowcheck.mm.property import MMProperty, StateCheck, TransitionFn
from cowcheck.mm.rule import Rule
from cowcheck.mm.state import (
    ANON,
    BUDGET_FIELD,
    PTE_EMPTY,
    PTE_SWAP,
    UNMAPPED,
    ZERO_FRAME,
    ZERO_TOKEN,
    MMState,
    Proc,
    Pte,
    Slot,
    SwapoutOp,
    Vma,
    bit,
)
from cowcheck.mm.stuck import explain, step_name
from cowcheck.mm.work import Blocked, ModelBug, Work
from cowcheck.mm.world import BACKINGS, World

__all__ = ["MMModel", "program_action"]  # program_action: saved traces check their steps with it


class MMModel:
    """Implements cowcheck.engine.Model for MMState and Action."""

    family = "anon"  # its record in cowcheck/families/ (who draws its states)

    def __init__(
        self,
        scenario: World,
        rule: Rule,
        properties: Sequence[MMProperty],
        form: str = "observational",
        strict: bool = False,
        failing_metrics: Sequence[str] = (),
    ) -> None:
        self.scenario = scenario
        self.rule = rule
        self.properties = tuple(properties)
        self.form = form
        self.litmus = scenario.litmus
        self.nv = len(scenario.vpages)
        self.ctx = Ctx(
            rule,
            scenario.cells,
            strict,
            self.litmus,
            scenario.max_processes,
            self.nv,
            tuple(BACKINGS[vi.backing] for vi in scenario.vpages),
            tuple(vi.uffd_minor for vi in scenario.vpages),
            _forces(scenario),
        )
        self.budget = Budget(scenario)
        self.failing_metrics = frozenset(failing_metrics)
        self.offers = Offers(scenario, self.budget)
        self._offer_cache = self.offers.cache  # what an idle thread may do (tests look at it)
        self._prop_reads = frozenset().union(*(p.reads for p in self.properties))
        # Read once: a rule is a user's class, and reading its attribute is a lookup
        # by name through its class at every action.
        self._uses_pae = rule.uses_anon_exclusive
        self._goal_base: list[int] = []  # per actor, the goal number of its first step
        n = 0
        for actor in scenario.actors:
            self._goal_base.append(n)
            n += len(actor.steps)
        # Process symmetry only where processes are anonymous (see canon.py).
        # Subsumption by budget (engine/store/cover.py) is sound only if no property
        # reads the budget; a property that does not say what it reads may read it.
        # Vacuity (engine/model.py): a litmus run must finish its programs, and each
        # step must run on some run; open scenarios have no programs to finish.
        self._capabilities: Capabilities[MMState, Action] = Capabilities(
            symmetric=None if self.litmus else self.symmetric,
            partition_key=self.partition_key,
            split_resources=None if "budget" in self._prop_reads else self.split_budget,
            ample_candidates=self.ample_candidates,
            stuck=self._stuck if self.litmus else None,
            coverage_goals=self._coverage_goals(),
            goal_of=self.goal_of,
        )

    def __reduce__(self) -> tuple[type[MMModel], tuple[object, ...]]:
        # Pickled (for Dask's workers) as its constructor's arguments, without the
        # caches. The compiled build needs it: mypyc's classes pickle no attributes.
        fm = tuple(self.failing_metrics)
        return MMModel, (self.scenario, self.rule, self.properties, self.form, self.ctx.strict, fm)

    def capabilities(self) -> Capabilities[MMState, Action]:
        """What the search may use besides the required methods (engine/model.py)."""
        return self._capabilities

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
        empty = MMState((p0,), (), (), (), (), (), (), (), tuple(0 for _ in sc.actors), self.budget.start)
        w = Work(empty, self.rule.uses_anon_exclusive)
        zero = ((ZERO_TOKEN,),) * cells
        for v, vi in enumerate(sc.vpages):
            if self.ctx.backing[v] != ANON:
                # The file's data, in its page-cache page (the page cache's reference);
                # ``present``: read-faulted, do_read_fault() mapped it R/O.
                toks = tuple(w.new_token(0, False, bit(0), True) for _ in range(cells))
                f = w.alloc_page(toks, exclusive=False, file=v)
                w.set_expect(0, v, tuple((t,) for t in toks))
                if vi.state == "present":
                    w.get_page(f)
                    w.map_page(0, v, f, False)
                continue
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
        return canonical(state)

    def actions(self, s: MMState) -> list[Action]:
        if s.bug:
            return []
        return self.offers.actions(s)

    def next_step(self, s: MMState, a: Action) -> Step[MMState] | None:
        if s.bug:
            return None
        op = OPERATION.get(a.op)
        if op is None:
            raise ValueError(f"unknown action {a.op!r}")
        # Operation.spends(), written out: this runs for every action offered. A
        # program step spends nothing: the program is the bound.
        kind = op.fast_budget if a.fast and op.fast_budget else op.budget
        charged = a.step < 0 and kind != ""
        if charged and kind not in self.budget.available(s.budget):
            return None
        w = Work(s, self._uses_pae)
        try:
            if not op.run(self.ctx, w, a):
                return None
        except Blocked:
            return None
        except ModelBug as e:
            bugged = s._replace(bug=str(e))
            return records.step((bugged, (*w.notes, f"BUG: {e}"), tuple(w.events)))
        except Exception as e:
            raise _in_rule_file(self.rule, e) from None
        pcs = s.pcs
        if a.step >= 0:
            pcl = list(pcs)
            pcl[a.actor] += 1
            pcs = tuple(pcl)
        # The same tuple where nothing is charged.
        budget = self.budget.charge(s.budget, kind) if charged else s.budget
        ns = w.freeze(pcs, budget)
        # An action that changes nothing but the budget leads nowhere new: a state
        # with more budget left can do everything one with less can. (Both bug
        # fields are empty here.)
        if charged and ns[:BUDGET_FIELD] == s[:BUDGET_FIELD]:
            return None
        return records.step((ns, tuple(w.notes), tuple(w.events)))

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

    # -- capabilities ------------------------------------------------------------------

    def symmetric(self, state: MMState) -> MMState:
        """The canonical form up to renaming processes too, where that is sound: not
        while reclaim may walk the rmap (``_reclaim_may_walk``)."""
        if self._reclaim_may_walk(state):
            return canonical(state)
        return canonical_procs(state)

    def split_budget(self, s: MMState) -> tuple[Hashable, tuple[int, ...]]:
        """The state without its budget, and the budget as far as it can be spent.

        The budget only enables: it is read where actions are offered
        (``Offers.actions``) and charged (``next_step``), both monotone in it, and each
        charge takes one from the same kinds whatever is left (``tests/test_subsume.py``
        checks this over reachable states). No kind can be spent more often than
        ``total`` allows, so each is clipped to ``total``: that commutes with every
        charge (min(k, t) - 1 = min(k - 1, t - 1)) and offers the same actions, so a
        state and its clipped one are bisimilar, and comparing clipped budgets
        covers more (two states with ``total`` 0 are alike whatever is left of
        each kind)."""
        got = self.budget.clipped(s.budget)
        # The core keeps the bug string where there is one: a core with it is longer,
        # so it never equals the core of a state without one.
        return (s[:BUDGET_FIELD] if not s.bug else (*s[:BUDGET_FIELD], s.bug)), got

    def partition_key(self, s: MMState) -> tuple[object, ...]:
        """What the parallel search partitions on: what canonical() never changes (it
        renames frames, slots, tokens and processes, keeps their counts and drops
        unreferenced tokens), and not the budget, so that the states subsumption
        compares have one owner. The page counts make enough distinct keys (788 on
        open-standard) for the coordinator to balance their owners (engine/balance.py)."""
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
        return "swapout" in self.budget.available(s.budget) or any(type(op) is SwapoutOp for op in s.inflight)

    def _stuck(self, s: MMState, moves: list[Action]) -> str | None:
        """What holds up the programs where no program step or in-flight kernel step
        can move. The environment (a [budget]'s clear_refs, reclaim, speculative
        references) is not waited for: its budget is what a run may spend, not what it
        must, so a run may stop using it anywhere. That also makes the answer the same
        for every budget, as subsumption by budget needs (engine/store/cover.py)."""
        for a in moves:
            if a.step >= 0 or a.op == "step":
                return None
        if s.bug:
            # The kernel oopsed: an end of the run, which memory-safety reports when it
            # is checked (verify checks the other properties without it, on purpose).
            return None
        return explain(self.scenario, s)

    def _coverage_goals(self) -> tuple[str, ...]:
        """Every litmus step: a complete search must see each run at least once."""
        sc = self.scenario
        return tuple(
            step_name(sc, ai, j) + (" (optional)" if st.optional else "")
            for ai, actor in enumerate(sc.actors)
            for j, st in enumerate(actor.steps)
        )

    def goal_of(self, a: Action) -> int:
        return self._goal_base[a.actor] + a.step if a.step >= 0 else -1

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


def _forces(world: World) -> bool:
    """Whether a FOLL_FORCE write may run, the one reader of PTE dirty bits."""
    return any(st.op == "force_write" for actor in world.actors for st in actor.steps) or any(
        k == "force_write" and n > 0 for k, n in world.budget
    )


def _in_rule_file(rule: Rule, e: Exception) -> Exception:
    """An exception raised inside a rule file's hook is that file's error: name its
    line. Anything else is a bug of cowcheck itself and keeps its traceback."""
    files = set()
    for cls in type(rule).__mro__:
        try:
            files.add(inspect.getsourcefile(cls))
        except TypeError:
            continue
    import traceback  # here: only a failing user hook needs it

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
