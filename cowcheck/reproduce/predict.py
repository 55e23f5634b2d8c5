"""What the model expects a reproducer to observe on a kernel of a given era.

The program runs the plan's schedule, but the kernel picks some GUP flags itself
(an O_DIRECT read is FOLL_GET before 6.5 and FOLL_PIN from then on): the model is
asked about the schedule that kernel runs, with the flags it takes, under the rule
of its era, each kernel operation whole. The read at the end is judged as the
program judges it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cowcheck.input.rule_files import load_rule
from cowcheck.input.scenario import Scenario
from cowcheck.mm.actions import Action
from cowcheck.mm.rule import GupFlags, Rule
from cowcheck.mm.state import PTE_PRESENT
from cowcheck.reproduce.mechanisms import mechanism_for
from cowcheck.reproduce.plan import Plan, model_of
from cowcheck.reproduce.schedule import Refused, run_whole, swapout_target
from cowcheck.reproduce.witness import judge, value, verdicts


@dataclass(frozen=True, slots=True)
class Prediction:
    verdict: str  # holds, missed-cow, wrong-cow, or "n/a" when the model cannot follow the schedule
    token: int | None  # what the model reads at the end
    as_run: tuple[str, ...]  # how the kernel's flags differ from the trace's
    reason: str = ""
    # What each token the program may read means for this schedule: the contract
    # depends on the flags the kernel took (a FOLL_GET read across fork owes the
    # child nothing, open(2)), so the program's own table, from the trace's flags,
    # is not the judge here.
    table: dict[int, str] = field(default_factory=dict)
    # Reclaim passes that leave the page mapped (try_to_unmap() refuses a pinned
    # PageAnonExclusive page from 5.19): the program reports those it saw.
    swapouts_refused: int = 0

    def judge(self, token: int) -> str:
        return self.table.get(token, "error")


def as_run(plan: Plan, version: tuple[int, int] | None) -> tuple[Scenario, tuple[Action, ...], tuple[str, ...]]:
    """The scenario and the steps with the GUP flags this kernel's syscalls take
    (``version`` None: the trace's own)."""
    sc = plan.scenario
    if version is None:
        return sc, plan.user_steps, ()
    steps: list[Action] = []
    notes: list[str] = []
    for a, label in zip(plan.user_steps, plan.user_labels, strict=True):
        if a.op == "gup":
            have = GupFlags(a.pin, a.write, a.longterm)
            m = mechanism_for(have)
            taken = m.taken_on(version) if m is not None else have
            if taken != have:
                notes.append(f"{label}: {taken.describe()} here, not {have.describe()}")
                a = a._replace(pin=taken.pin, write=taken.write, longterm=taken.longterm)
                if sc.litmus:
                    sc = _with_flags(sc, a.actor, a.step, taken)
        steps.append(a)
    return sc, tuple(steps), tuple(notes)


def _with_flags(sc: Scenario, actor: int, step: int, flags: GupFlags) -> Scenario:
    actors = list(sc.actors)
    act = actors[actor]
    st = list(act.steps)
    st[step] = replace(st[step], flags=flags)
    actors[actor] = replace(act, steps=tuple(st))
    return replace(sc, actors=tuple(actors))


def predict(plan: Plan, rule: Rule | str, version: tuple[int, int] | None) -> Prediction:
    r = load_rule(rule, None) if isinstance(rule, str) else rule
    sc, steps, notes = as_run(plan, version)
    model = model_of(sc, r, plan.strict)
    try:
        states = run_whole(model, steps, plan.user_labels)
    except Refused as e:
        return Prediction("n/a", None, notes, f"{e.label}: not enabled under {r.name}")
    final = states[-1]
    t = value(final, plan.observation, sc.cells)
    if t is None:
        return Prediction("n/a", None, notes, f"{plan.observation.describe()}: no such read under {r.name}")
    table = verdicts(final, plan.observation, plan.strict)
    kept = 0
    for i, a in enumerate(steps):
        target = swapout_target(states[i], a) if a.op == "swapout" else None
        if target is not None and states[i + 1].procs[target[0]].ptes[target[1]].kind == PTE_PRESENT:
            kept += 1
    return Prediction(judge(final, plan.observation, t, plan.strict), t, notes, table=table, swapouts_refused=kept)
