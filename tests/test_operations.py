"""The table of operations (cowcheck/mm/ops) against the scenario schema and against
what the model does: each entry's fields and actors are the format's, the budget kind
it names is the one the model charges, the way it is offered is the way its actions
come, its description is the trace's, and its footprint covers what it changes."""

from __future__ import annotations

import pytest
from conftest import reachable

from cowcheck.api import build_model
from cowcheck.input.bundled import scenario_files
from cowcheck.input.scenario import parse_scenario
from cowcheck.input.schema import ACTOR_KINDS, BUDGET_KINDS, OP_BY_NAME, OPS, STEP, STEP_COMMON
from cowcheck.mm.actions import DEVICE, OUTSIDER, RECLAIM, SPECULATIVE, Action
from cowcheck.mm.footprint import Res, future_writes
from cowcheck.mm.model import MMModel
from cowcheck.mm.ops import OPERATION, OPERATIONS, describe
from cowcheck.mm.ops.inflight import CONTINUE
from cowcheck.mm.ops.operation import Operation
from cowcheck.mm.state import MMState
from cowcheck.mm.stuck import REASONS

# Every budget kind at once, two threads and two processes: every operation an open
# scenario offers is offered, and run, within its first states.
OPEN_ALL = """
name = "open-all"
kind = "open"
gup_kinds = [["FOLL_PIN", "FOLL_WRITE"], ["FOLL_GET"]]
[world]
threads = 2
vpages = 2
cells = 2
max_processes = 2
[[vpage]]
state = "present"
[[vpage]]
backing = "shmem"
uffd_minor = true
[budget]
{budget}
total = 4
"""


def _open_all() -> MMModel:
    budget = "\n".join(f"{k} = 1" for k in BUDGET_KINDS if k != "total")
    return build_model(parse_scenario(OPEN_ALL.format(budget=budget), "open-all.toml"), "anon-exclusive")


@pytest.fixture(scope="module")
def open_all() -> tuple[MMModel, list[MMState]]:
    m = _open_all()
    return m, reachable(m, upto=4_000)[0]


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: o.name)
def test_each_entry_is_the_schemas(op: Operation) -> None:
    assert OP_BY_NAME[op.name] is op and op in OPS
    assert op.actors and set(op.actors) <= set(ACTOR_KINDS)
    assert set(op.required) <= set(op.fields) <= set(STEP.keys()) - set(STEP_COMMON)
    assert op.kernel and op.kernel[-1] != "."
    assert op.fast_budget == "" or op.budget != ""
    offers = [op.per_vpage, op.per_process, op.per_reference, op.environment]
    assert sum(o is not None for o in offers) <= 1
    # What may hold up a step is worded by mm/stuck.py; FOLL_WRITE is asked of a held reference.
    assert op.held_by and set(op.held_by) <= REASONS
    assert "ref_write" not in op.held_by or op.held_by.index("ref") < op.held_by.index("ref_write")


def test_the_table() -> None:
    assert tuple(OPERATIONS) == OPS
    assert len(OPERATION) == len(OPERATIONS) + 1 and OPERATION["step"] is CONTINUE
    assert CONTINUE not in OPERATIONS and CONTINUE.actors == ()
    assert all(OPERATION[op.name] is op for op in OPERATIONS)


# One action of each operation, and its column in a trace.
DESCRIBED = [
    (Action("write", 0, 0, 1, 1), "write vaddr+4608"),
    (Action("read", 0, 0, 0, 1), "read vaddr+512"),
    (Action("fork", 0, 0), "fork()"),
    (Action("gup", 0, 0, 0, pin=True, write=True, name="buf"), "pin_user_pages(FOLL_PIN|FOLL_WRITE) vaddr+0 [buf]"),
    (Action("gup", 0, 0, 1, longterm=True, fast=True), "get_user_pages_fast(FOLL_GET|FOLL_LONGTERM) vaddr+4096"),
    (Action("release", DEVICE, 0, 0, idx=2), "release reference 2"),
    (Action("release", 0, 0, name="buf"), "release buf"),
    (Action("mprotect", 0, 0, 0, prot="ro"), "mprotect(vaddr+0, PROT_READ)"),
    (Action("mprotect", 0, 0, 1, prot="rw"), "mprotect(vaddr+4096, PROT_READ|PROT_WRITE)"),
    (Action("munmap", 0, 0, 1), "munmap(vaddr+4096)"),
    (Action("dontneed", 0, 0, 0), "madvise(vaddr+0, MADV_DONTNEED)"),
    (Action("dontfork", 0, 0, 0), "madvise(vaddr+0, MADV_DONTFORK)"),
    (Action("exit", 0, 1), "exit()"),
    (Action("clear_refs", OUTSIDER, 1), "echo 4 > /proc/P1/clear_refs"),
    (Action("dma_write", DEVICE, 0, 0, 1, idx=0), "DMA write vaddr+512 via reference 0"),
    (Action("dma_write", 1, -1, -1, 0, name="odirect"), "DMA write cell 0 via odirect"),
    (Action("dma_read", 1, cell=1, name="buf"), "DMA read cell 1 via buf"),
    (Action("swapout", RECLAIM, idx=3), "reclaim: swap out page #3"),
    (Action("swapout", 2, 0, 1), "reclaim: swap out page of P0 vaddr+4096"),
    (Action("spec_get", SPECULATIVE, idx=0), "speculative get_page(#0)"),
    (Action("spec_get", 2, 1, 0), "speculative get_page(P1 vaddr+0)"),
    (Action("spec_put", SPECULATIVE, idx=0), "speculative put_page"),
    (Action("force_write", 0, 1, 0, 1), "pwrite(/proc/P1/mem, vaddr+512)"),
    (Action("force_write", OUTSIDER, 0, 1, 0), "pwrite(/proc/P0/mem, vaddr+4096)"),
    (Action("uffd_continue", 0, 0, 1), "ioctl(UFFDIO_CONTINUE, vaddr+4096)"),
    (Action("step", 16, idx=0), "(continues)"),
]


def test_descriptions() -> None:
    assert {a.op for a, _ in DESCRIBED} == set(OPERATION)
    for a, text in DESCRIBED:
        assert describe(a) == text == OPERATION[a.op].describe(a)
    assert describe(Action("bogus", 0)) == "bogus"


def test_the_model_charges_each_entrys_budget(open_all: tuple[MMModel, list[MMState]]) -> None:
    """Every budget kind is charged by the actions whose entry names it, once, with
    ``total``; free actions and program steps are charged nothing."""
    m, states = open_all
    kinds = m.budget.kinds
    total = kinds.index("total")
    charged: set[str] = set()
    for s in states:
        for a in m.actions(s):
            st = m.next_step(s, a)
            if st is None:
                continue
            kind = OPERATION[a.op].spends(a)
            want = list(s.budget)
            if kind:
                want[kinds.index(kind)] -= 1
                want[total] -= 1
                charged.add(kind)
            assert st.state.budget == tuple(want), (a, kind)
    assert charged == set(kinds) - {"total"}


def test_offers_come_from_their_entrys_scope(open_all: tuple[MMModel, list[MMState]]) -> None:
    """What an open scenario offers comes from the entry of its operation, by its
    actor: an idle thread (per vpage or per process), a device (per reference), or the
    environment; every entry that says how it is offered is offered."""
    m, states = open_all
    offered: set[str] = set()
    for s in states:
        for a in m.actions(s):
            op = OPERATION[a.op]
            offered.add(a.op)
            if op is CONTINUE:
                assert a.idx < len(s.inflight)
            elif a.actor >= 0:
                assert op.per_vpage is not None or op.per_process is not None, a
            elif a.actor == DEVICE:
                assert op.per_reference is not None, a
            else:
                assert a.actor in (RECLAIM, OUTSIDER, SPECULATIVE) and op.environment is not None, a
    scoped = {
        op.name
        for op in OPERATIONS
        if (op.per_vpage or op.per_process or op.per_reference or op.environment) is not None
    }
    assert scoped | {"step"} == offered


def _changed(s: MMState, t: MMState) -> set[Res]:
    """The footprint resources (mm/footprint.py) whose value differs between ``s`` and
    ``t``. A reference counts as changed where it goes or names another page (what a
    DMA through it reads); pages and references that ``s`` does not have are new, and
    nobody else's yet."""
    out: set[Res] = set()
    if len(s.procs) != len(t.procs):
        out.add(("procs",))
    for pid, (a, b) in enumerate(zip(s.procs, t.procs, strict=False)):
        if a[:6] != b[:6]:
            out.add(("mm", pid))
        if a.ptes != b.ptes:
            out.add(("pte", pid))
        if a.expect != b.expect:
            out.add(("expect", pid))
    pb = dict(t.pages)
    for f, p in s.pages:
        q = pb.get(f)
        if q is None or q.content != p.content:
            out.add(("content", f))
        if q is None or q[:6] != p[:6]:
            out.add(("count", f))
    ra: dict[str, int] = {}
    rb: dict[str, int] = {}
    for refs, by_name in ((s.refs, ra), (t.refs, rb)):
        for r in refs:
            by_name.setdefault(r.name, r.frame)  # the one an action naming it uses
    out.update(("ref", n) for n in ra if ra[n] != rb.get(n))
    sa, sb = dict(s.slots), dict(t.slots)
    out.update(("slot", x) for x in sa.keys() | sb.keys() if sa.get(x) != sb.get(x))
    for key in ("toks", "inflight", "spec", "budget"):
        if getattr(s, key) != getattr(t, key):
            out.add(("tok",) if key == "toks" else (key,))
    out.update(("pc", i) for i, (x, y) in enumerate(zip(s.pcs, t.pcs, strict=True)) if x != y)
    return out


LITMUS = [f for f in scenario_files() if "open" not in f.stem]


@pytest.mark.parametrize("f", LITMUS, ids=[f.stem for f in LITMUS])
def test_footprints_cover_what_each_step_changes(f: object) -> None:
    """Partial-order reduction trusts the table: what an action's ``footprint`` says it
    writes, and what an actor's remaining program may write (``future_writes``, from
    ``thread_writes`` and ``device_writes``), must cover what its next step changes,
    in every reachable state of every litmus scenario."""
    m = build_model(str(f), "anon-exclusive")
    world = m.scenario
    checked = 0
    for s in reachable(MMModel(world, m.rule, []))[0]:
        for a in m.actions(s):
            if a.step < 0:
                continue
            st = m.next_step(s, a)
            if st is None:
                continue
            changed = _changed(s, st.state)
            fp = OPERATION[a.op].footprint
            claim = None if fp is None else fp(s, a)
            if claim is not None:
                assert changed <= claim.writes, (a, changed - claim.writes)
            future = future_writes(world, s, a.actor)
            if future is not None:
                assert changed - {("pc", a.actor)} <= future, (a, changed - future)
                checked += 1
    assert checked > 0


def test_capabilities() -> None:
    litmus = build_model("odirect-swap", "anon-exclusive")
    caps = litmus.capabilities()
    assert caps.symmetric is None and caps.stuck is not None and caps.split_resources is not None
    assert len(caps.coverage_goals) == sum(len(a.steps) for a in litmus.scenario.actors) and caps.goal_of is not None
    assert caps.partition_key is not None and caps.ample_candidates is not None
    open_ = build_model("open-standard", "anon-exclusive")
    caps = open_.capabilities()
    assert caps.stuck is None and caps.coverage_goals == () and caps.symmetric is not None
    (s,) = open_.init_states()
    assert caps.symmetric(s) == open_.canonical(s)
    # A property that reads the budget (all do that declare nothing) turns subsumption off.
    from cowcheck.mm.property import MMProperty

    reads_all = MMProperty("x", "x", "x", observational=lambda s, ctx: None)
    assert MMModel(open_.scenario, open_.rule, [reads_all]).capabilities().split_resources is None
