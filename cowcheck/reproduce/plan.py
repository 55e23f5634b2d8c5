"""A saved trace as a plan for a C program: the schedule user space runs, the read
that shows the violation, and what each value of that read means.

``plan`` refuses (``Refused``, naming the step) a trace that no program can run:
one whose failure needs a step inside a kernel operation, a speculative reference,
reclaim of a shared page, or a reference no syscall takes with watchable effects.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from cowcheck.api import build_model, resolve_scenario
from cowcheck.checks.saved_trace import replay_file
from cowcheck.engine.replay import replay
from cowcheck.input.bundled import find_scenario
from cowcheck.input.rule_files import load_rule
from cowcheck.input.scenario import Scenario
from cowcheck.input.trace_file import steps_of
from cowcheck.mm.actions import Action
from cowcheck.mm.model import MMModel
from cowcheck.mm.ops import describe
from cowcheck.mm.rule import GupFlags, Rule
from cowcheck.mm.state import ForceOp, MMState
from cowcheck.reproduce.mechanisms import ODIRECT, mechanism_for
from cowcheck.reproduce.schedule import Atomic, Refused, Schedule, UStep, atomize, build, ref_of, run_op, same_ref
from cowcheck.reproduce.witness import Observation, choose, judge, value, verdicts


@dataclass(frozen=True, slots=True)
class Plan:
    path: str
    name: str  # the trace file's stem: the program's name
    scenario: Scenario
    rule: Rule
    strict: bool
    violation: str
    message: str
    command: str
    schedule: Schedule  # the observation is its last step
    observation: Observation
    table: dict[int, str]  # token read -> verdict, by the trace's rule's final state
    expected: int  # the token the model reads at the end of the trace
    user_steps: tuple[Action, ...]  # the schedule's model actions, one per user step but the observation
    user_labels: tuple[str, ...]
    init: MMState

    @property
    def moved(self) -> tuple[int, ...]:
        return self.schedule.atomic.moved


def model_of(scenario: Scenario, rule: Rule, strict: bool) -> MMModel:
    return build_model(scenario, rule, None, "observational", strict)


def plan(path: str | Path) -> Plan:
    """Raises InputError for a file that is not a trace, Refused for one that no
    program can reproduce."""
    where = str(path)
    rp = replay_file(path)
    doc = rp.document
    scenario, rule, strict = rp.scenario, rp.rule, rp.strict
    actions = tuple(steps_of(where, doc, scenario))
    labels = tuple(f"[{s.get('actor', '?')}] {s.get('label', '')}" for s in doc["steps"])
    violation = str(doc["violation"]["property"])
    model = model_of(scenario, rule, strict)
    _inside_the_retry_loop(model, actions, labels)
    _generated(scenario)
    if violation not in ("missed-cow", "wrong-cow"):
        raise Refused(0, "", f"{violation} has no read that a program can make to show it")
    atomic = atomize(model, actions, labels)
    s = atomic.states[-1]
    obs = choose(model, s, violation, strict)
    if obs is None:
        atomic, obs = _through_the_device(model, atomic, violation, strict)
    if obs is None:
        if atomic.moved:
            k = atomic.moved[0]
            raise Refused(
                k,
                labels[k - 1],
                "runs inside another actor's kernel operation, and the failure needs it there: user space "
                "cannot place a step inside one syscall or one reclaim pass",
            )
        raise Refused(0, "", f"no read that a program can make shows {violation} at the end of the trace")
    return _assemble(
        where,
        Path(where).stem,
        scenario,
        model,
        atomic,
        labels,
        obs,
        (rule, strict, violation, str(doc["violation"].get("message", "")), str(doc.get("command", ""))),
    )


def _assemble(
    where: str,
    name: str,
    scenario: Scenario,
    model: MMModel,
    atomic: Atomic,
    labels: tuple[str, ...],
    obs: Observation,
    what: tuple[Rule, bool, str, str, str],
) -> Plan:
    """The plan of an atomic schedule that ends with the read ``obs``."""
    rule, strict, violation, message, command = what
    sched = build(model, atomic, labels)
    final = atomic.states[-1]
    ref = -1
    if obs.kind == "device":
        ref = sched.number_of(final.refs[obs.ref_index])
    step = UStep("observe", obs.pid, "agent", (), (obs.describe(),), obs.vpage, obs.cell, ref=ref)
    steps = (*sched.steps, step)
    sched = replace(sched, steps=steps, executors=tuple(dict.fromkeys((x.proc, x.executor) for x in steps)))
    expected = value(final, obs, scenario.cells)
    assert expected is not None  # the caller read it
    users = tuple(a for a in atomic.actions if a.op != "step")
    ulabels = tuple(
        labels[o - 1] if o else a.op for a, o in zip(atomic.actions, atomic.origin, strict=True) if a.op != "step"
    )
    return Plan(
        where,
        name,
        scenario,
        rule,
        strict,
        violation,
        message,
        command,
        sched,
        obs,
        verdicts(final, obs, strict),
        expected,
        users,
        ulabels,
        atomic.states[0],
    )


RUN_RULE = "anon-exclusive"  # the rule a scenario's run is laid out under: its steps are the same under all


def _generated(sc: Scenario) -> None:
    """What the programs can map: anonymous memory, memfds (shmem) and regular files,
    private or shared; not a shared mapping of a file that needs dirty tracking (the
    conformance VM has no disk filesystem), nor a userfaultfd registration."""
    for v, vi in enumerate(sc.vpages):
        if vi.backing == "shared-file":
            raise Refused(
                0, "", f"vpage {v} is a MAP_SHARED file that needs dirty tracking: no such filesystem is generated yet"
            )
        if vi.uffd_minor:
            raise Refused(0, "", f"vpage {v} is registered with userfaultfd: minor mode is not generated yet")
        if vi.dontfork and vi.backing != "anon":
            raise Refused(0, "", f"vpage {v} is a {vi.backing} mapping with MADV_DONTFORK: not generated yet")


def _inside_the_retry_loop(model: MMModel, actions: tuple[Action, ...], labels: tuple[str, ...]) -> None:
    """A step of another actor while a write to /proc/PID/mem is in its
    __get_user_pages() retry loop: the Dirty COW window, which no program can hold
    open (its proof of concept loops until the race hits)."""
    run = replay(model, actions)
    for i, a in enumerate(actions[: len(run.states)]):
        if any(type(op) is ForceOp and op.actor != a.actor for op in run.states[i].inflight):
            raise Refused(
                i + 1,
                labels[i],
                "runs while a write to /proc/PID/mem is inside __get_user_pages()'s retry loop (after "
                "faultin_page(), before the next follow_page_mask()): user space cannot stop a syscall there; "
                "a proof of concept loops until the race hits",
            )


def plan_run(scenario: str | Path) -> Plan:
    """A litmus scenario with no saved counterexample, as a program: its programs run
    in actor order wherever their ``after`` constraints allow, each kernel operation
    whole, up to the last device read of the run, which is the read at the end. The
    model holds on it under every built-in rule, and a kernel should too."""
    sc = resolve_scenario(scenario)
    where = str(sc.path) if sc.path is not None else sc.name
    if not sc.litmus:
        raise Refused(0, "", "an open scenario has no one run to reproduce: save a counterexample of it")
    _generated(sc)
    model = model_of(sc, load_rule(RUN_RULE, None), False)
    s = model.init_states()[0]
    run: list[Action] = []
    for _ in range(1000):
        offered = [a for a in model.actions(s) if a.op != "step"]
        if not offered:
            break
        ran = run_op(model, s, offered[0])
        run += [c for c, _ in ran]
        s = ran[-1][1]
    last = max((i for i, a in enumerate(run) if a.op == "dma_read"), default=None)
    if last is None:
        raise Refused(0, "", "its programs have no device read to make at the end")
    read = run[last]
    steps = tuple(run[:last])
    labels = tuple(f"[{sc.actors[a.actor].name}] {describe(a)}" for a in steps)
    atomic = atomize(model, steps, labels)
    final = atomic.states[-1]
    i = next(i for i, r in enumerate(final.refs) if r.name == read.name)
    r = final.refs[i]
    obs = Observation("device", r.owner, r.vpage, read.cell, r.name, i)
    verdict = judge(final, obs, value(final, obs, sc.cells) or 0, False)
    name = run_name(sc.name)
    what = (
        model.rule,
        False,
        verdict,
        f"a run of the litmus programs, read by its last device read ({RUN_RULE})",
        f"cowcheck check {sc.name} -r {RUN_RULE}",
    )
    return _assemble(where, name, sc, model, atomic, labels, obs, what)


def run_name(scenario: str) -> str:
    """The program name of a scenario's run (a trace's is its file's stem)."""
    return f"{scenario}--run"


def plan_path(path: Path) -> Plan:
    """A saved trace (.json) or a litmus scenario (a file or a bundled name): its run."""
    anon_only(path)
    return plan(path) if path.suffix == ".json" else plan_run(path)


def anon_only(path: Path) -> None:
    """The C programs drive the anon family's operations; another family's trace or
    scenario is bad input, said before anything is planned."""
    import json

    from cowcheck.errors import InputError
    from cowcheck.families import DEFAULT, family_of

    if path.suffix == ".json":
        try:
            toml = json.loads(path.read_text(encoding="utf-8"))["scenario"]["toml"]
            name = tomllib.loads(toml).get("family", DEFAULT)
        except (OSError, ValueError, KeyError, TypeError):
            return  # the trace's own reader says what is wrong with it
    else:
        name = family_of(find_scenario(str(path))).name
    if name != DEFAULT:
        raise InputError(
            str(path),
            "scenario.family" if path.suffix == ".json" else "family",
            f"a {name} family trace or scenario: C reproducers are written for the anon family's only",
        )


def program_name(path: Path) -> str:
    """What ``plan_path(path)`` names its program, known without planning it."""
    return path.stem if path.suffix == ".json" else run_name(path.stem)


def _through_the_device(
    model: MMModel, atomic: Atomic, violation: str, strict: bool
) -> tuple[Atomic, Observation | None]:
    """A lost write that only a read through an O_DIRECT reference would show:
    let the read complete instead (its data lands, its reference drops) and have
    the owner read the cell, where the model shows the same violation."""
    s = atomic.states[-1]
    for r in s.refs:
        if mechanism_for(GupFlags(r.pin, r.write, r.longterm)) is not ODIRECT:
            continue
        for w in model.actions(s):
            if w.op != "dma_write" or not same_ref(ref_of(s, w), r):
                continue
            s1 = model.next_step(s, w)
            if s1 is None:
                continue
            rel = [c for c in model.actions(s1.state) if c.op == "release" and same_ref(ref_of(s1.state, c), r)]
            if not rel:
                continue
            s2 = model.next_step(s1.state, rel[0])
            if s2 is None:
                continue
            o = choose(model, s2.state, violation, strict)
            if o is not None and o.kind == "cpu":
                ext = Atomic(
                    (*atomic.actions, w, rel[0]),
                    (*atomic.origin, 0, 0),
                    atomic.moved,
                    (*atomic.states, s1.state, s2.state),
                )
                return ext, o
    return atomic, None
