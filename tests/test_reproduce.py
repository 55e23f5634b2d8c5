"""cowcheck reproduce: saved counterexamples as C programs.

What needs no kernel of its own: which traces have a user-space schedule and why the
others do not, that each program's final read shows the trace's violation under its
rule, that the program's own verdict table means the same under every rule, and that
every program compiles. The programs that need nothing but the running kernel
(vmsplice) also run here when the host kernel is of the current era. The rest runs
on real kernels in tests/test_conform.py.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from cowcheck.input.rule_files import BUILTIN_ORDER
from cowcheck.reproduce import Plan, Refused, emit, plan
from cowcheck.reproduce.mechanisms import ODIRECT, VMSPLICE, parse_version
from cowcheck.reproduce.plan import model_of
from cowcheck.reproduce.predict import predict
from cowcheck.reproduce.schedule import run_whole
from cowcheck.reproduce.witness import verdicts

TRACES = sorted((ROOT / "counterexamples").glob("*.json"))
# The traces whose failure needs a step inside a kernel operation: GUP-fast between
# fork's PTE copies (57efa1fe5957's window), reclaim split by fork or by a GUP.
INSIDE = {
    "gup-fast-fork--page-count": 2,
    "open-file--mapcount-cor": 3,
    "open-large--mapcount-cor": 3,
    "open-standard--mapcount-cor": 3,
    "pin-vs-swapout--page-count-5.11": 2,
    "pin-vs-swapout--page-count-5.16": 2,
    "pin-vs-swapout--page-count-5.18": 2,
}
# Dirty COW and its shmem variant: MADV_DONTNEED (step 3) inside the write to
# /proc/PID/mem's retry loop, which no program can hold open.
RETRY_LOOP = {
    t.stem: 3 for t in TRACES if t.stem.split("--")[0] in ("dirty-cow", "dirty-cow-zeropage", "shmem-dirty-cow")
}
# A MAP_SHARED file that needs dirty tracking: the VM has no such filesystem.
NOT_GENERATED = {t.stem for t in TRACES if t.stem.startswith("longterm-shared-file")}
REFUSED = {*INSIDE, *RETRY_LOOP, *NOT_GENERATED}
REQUIRE = os.environ.get("COWCHECK_REQUIRE_QEMU") == "1"
HAVE_GCC = shutil.which("gcc") is not None and Path("/usr/lib/x86_64-linux-gnu/liburing.a").exists()
needs_gcc = pytest.mark.skipif(not HAVE_GCC and not REQUIRE, reason="gcc and liburing-dev not installed")


@cache
def planned(name: str) -> Plan | Refused:
    try:
        return plan(ROOT / "counterexamples" / f"{name}.json")
    except Refused as e:
        return e


def plans() -> list[Plan]:
    return [p for t in TRACES if isinstance(p := planned(t.stem), Plan)]


def test_every_trace_is_planned_or_refused_inside_a_kernel_operation() -> None:
    refused = {t.stem: r for t in TRACES if isinstance(r := planned(t.stem), Refused)}
    assert set(refused) == REFUSED and len(RETRY_LOOP) == 6 and len(NOT_GENERATED) == 20
    for k, r in refused.items():
        if k in INSIDE:
            assert "inside another actor's kernel operation" in r.reason
        elif k in RETRY_LOOP:
            assert "inside __get_user_pages()'s retry loop (after faultin_page()" in r.reason
        else:
            assert "MAP_SHARED file that needs dirty tracking" in r.reason and r.step == 0
    assert {k: r.step for k, r in refused.items() if r.step} == INSIDE | RETRY_LOOP
    for k in INSIDE.keys() | RETRY_LOOP.keys():
        assert str(refused[k]).startswith(f"step {refused[k].step} (")
    assert len(plans()) == len(TRACES) - len(REFUSED)
    # The memfd and tmpfile pages are mapped from files holding the model's tokens.
    c = emit(planned_plan("ro-longterm-memfd--anon-exclusive-6.1"))
    assert "map_file(0, 1, 0, 1, file_0, 1);" in c and "do_read_fault()" in c
    c = emit(planned_plan("ro-longterm-tmpfile--anon-exclusive-6.1"))
    assert "map_file(0, 0, 0, 1, file_0, 1);" in c


def planned_plan(name: str) -> Plan:
    p = planned(name)
    assert isinstance(p, Plan)
    return p


@pytest.mark.parametrize("trace", [t.stem for t in TRACES if t.stem not in REFUSED])
def test_the_final_read_shows_the_violation_under_the_traces_rule(trace: str) -> None:
    p = planned(trace)
    assert isinstance(p, Plan)
    doc = json.loads((ROOT / "counterexamples" / f"{trace}.json").read_text())
    pr = predict(p, p.rule, None)
    assert pr.verdict == doc["violation"]["property"] == p.violation
    assert pr.token == p.expected
    assert p.table[p.expected] == p.violation
    # Every step of the trace that starts something runs, once, in one program
    # step; only continuations of a kernel operation fold into its start, and the
    # order is the trace's unless a step inside an operation was moved after it.
    covered = [k for s in p.schedule.steps for k in s.covers]
    starts = [i + 1 for i, st in enumerate(doc["steps"]) if st["action"]["op"] != "step"]
    assert len(set(covered)) == len(covered)
    assert set(starts) <= set(covered)
    assert all(doc["steps"][k - 1]["action"]["op"] == "step" for k in set(covered) - set(starts))
    assert covered == sorted(covered) or set(p.moved) & set(covered)
    # Every O_DIRECT read is checked to be still in flight up to its device write.
    c = emit(p)
    for r in p.schedule.refs:
        if r.mechanism is ODIRECT:
            k = next(i for i, s in enumerate(p.schedule.steps) if s.op == "dma_write" and s.ref == r.number)
            case = c[c.index(f"\tcase {k}:") :]
            assert f"if (odirect_completed({r.slot})) repro_skip(" in case[: case.index("break;")]


def test_the_programs_verdict_table_is_the_same_under_every_rule() -> None:
    """The program judges its read by a table from the trace's rule's final state.
    That table comes from ghost state (tokens, who may see them, what each process
    must read), which no rule changes: under every rule that can run the schedule,
    the table is the same. Not under other GUP flags: the contract depends on them,
    so the conformance run judges the token a program read by its prediction's table
    (test_a_kernel_that_takes_other_flags_is_judged_by_their_contract)."""
    compared = 0
    for p in plans():
        for rule in BUILTIN_ORDER:
            try:
                states = run_whole(model_of(p.scenario, rule_of(rule), p.strict), p.user_steps, p.user_labels)
            except Refused:
                continue
            assert verdicts(states[-1], p.observation, p.strict) == p.table, (p.name, rule)
            compared += 1
    assert compared > 300


def rule_of(name: str):  # type: ignore[no-untyped-def]
    from cowcheck.input.rule_files import load_rule

    return load_rule(name, None)


def test_predictions_follow_the_flags_each_kernel_takes() -> None:
    """fork-odirect --strict: FOLL_GET O_DIRECT up to 6.1 leaks the device's data
    into the child; 6.12 takes FOLL_PIN, and fork copies the pinned page for the
    child (as Debian 5.10, 6.1 and 6.12 did: missed-cow, missed-cow, holds)."""
    p = planned("fork-odirect--anon-exclusive--strict")
    assert isinstance(p, Plan)
    got = [predict(p, r, v).verdict for r, v in (("page-count", (5, 10)), ("anon-exclusive-6.1", (6, 1)),
                                                  ("anon-exclusive", (6, 12)))]  # fmt: skip
    assert got == ["missed-cow", "missed-cow", "holds"]
    assert predict(p, "anon-exclusive", (6, 12)).as_run  # says what it changed
    assert ODIRECT.taken_on((6, 4)).pin is False and ODIRECT.taken_on((6, 5)).pin is True
    assert parse_version("6.1.0-47-amd64") == (6, 1)


def test_open_scenario_reclaim_runs_in_the_process_that_maps_the_page() -> None:
    """Open scenarios name the page reclaim takes, not a process: MADV_PAGEOUT must be
    called through the one mapping of it, and a page mapped twice is refused."""
    from cowcheck.input.bundled import find_scenario
    from cowcheck.input.scenario import load_scenario
    from cowcheck.reproduce.schedule import atomize, build

    model = model_of(load_scenario(find_scenario("open-standard")), rule_of("anon-exclusive"), False)
    s0 = model.init_states()[0]
    swap = next(a for a in model.actions(s0) if a.op == "swapout")
    assert swap.pid == -1
    sched = build(model, atomize(model, (swap,), ("[reclaim] swap out",)), ("[reclaim] swap out",))
    (step,) = sched.steps
    assert (step.op, step.proc, step.executor, step.vpage) == ("swapout", 0, "agent", 0)
    fork = next(a for a in model.actions(s0) if a.op == "fork")
    forked = atomize(model, (fork,), ("fork",)).states[-1]
    swap2 = next(a for a in model.actions(forked) if a.op == "swapout")
    atomic = atomize(model, (fork, swap2), ("fork", "[reclaim] swap out"))
    with pytest.raises(Refused, match="not mapped by exactly one process"):
        build(model, atomic, ("fork", "[reclaim] swap out"))


def test_a_litmus_scenario_without_counterexample_runs_as_its_programs() -> None:
    """fork-io-uring-dontfork holds under every rule, so no trace of it is saved; its
    run (actor order where `after` allows, up to the last device read) is a program
    all the same, which every era predicts to hold."""
    from cowcheck.reproduce.plan import plan_run

    p = plan_run("fork-io-uring-dontfork")
    assert [s.op for s in p.schedule.steps] == ["dontfork", "gup", "fork", "write", "observe"]
    assert p.observation.kind == "device" and p.violation == "holds"
    for rule in BUILTIN_ORDER:
        for version in ((5, 10), (6, 12)):
            assert predict(p, rule, version).verdict == "holds", rule
    with pytest.raises(Refused, match="no device read"):
        plan_run("fork-swap-shared")
    with pytest.raises(Refused, match="open scenario"):
        plan_run("open-standard")


def test_a_kernel_that_takes_other_flags_is_judged_by_their_contract() -> None:
    """fork-odirect-pin without --strict: on 5.10 the O_DIRECT read is FOLL_GET, and
    what a FOLL_GET read held across fork brings the child is outside the contract
    (open(2)). The child reading the device's data is a leak for a pin (the
    program's own table) and allowed for FOLL_GET (the prediction's)."""
    p = planned("fork-odirect-pin--mapcount")
    assert isinstance(p, Plan)
    old = predict(p, "page-count", (5, 10))
    assert old.token == p.expected and p.table[p.expected] == "missed-cow"
    assert old.verdict == "holds" and old.judge(p.expected) == "holds"
    assert old.judge(999) == "error"


def test_emit_is_deterministic_and_names_every_step() -> None:
    p = planned("vmsplice-child-swap--page-count")
    assert isinstance(p, Plan)
    a, b = emit(p), emit(plan(ROOT / "counterexamples" / "vmsplice-child-swap--page-count.json"))
    assert a == b
    assert "case 5: /* P1 agent: the device reads vaddr+0 through P1's vmsplice */" in a
    assert "trace step 7: [reclaim] reclaim: swap out page of P0 vaddr+0" in a
    assert "{3, V_MISSED}" in a and "{1, V_HOLDS}" in a


def _compile(c: Path) -> subprocess.CompletedProcess[str]:
    from cowcheck.reproduce import COMPILE

    cmd = [*COMPILE.format(out=str(c.with_suffix("")), src=str(c)).split(), "-Werror"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


@needs_gcc
def test_every_generated_program_compiles_static(tmp_path: Path) -> None:
    sources = []
    for p in plans():
        c = tmp_path / f"{p.name}.c"
        c.write_text(emit(p))
        sources.append(c)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_compile, sources))
    bad = {c.name: r.stderr[-2000:] for c, r in zip(sources, results, strict=True) if r.returncode}
    assert not bad


def _host_era() -> str | None:
    """The rule of the running kernel's era, for the programs that need nothing but it."""
    try:
        v = parse_version(platform.release())
    except ValueError:
        return None
    return "anon-exclusive" if v >= (6, 12) else None


@needs_gcc
@pytest.mark.skipif(os.geteuid() != 0 or _host_era() is None, reason="needs root on a 6.12+ kernel")
def test_vmsplice_programs_on_this_kernel_observe_what_the_model_predicts(tmp_path: Path) -> None:
    """The host's own kernel as a judge, for the programs that need no device: their
    swapouts may be refused here (no swap), which a program reports, so only runs
    that swapped nothing are compared."""
    rule = _host_era()
    assert rule is not None
    version = parse_version(platform.release())
    ran = 0
    for p in plans():
        if any(r.mechanism is not VMSPLICE for r in p.schedule.refs):
            continue
        c = tmp_path / f"{p.name}.c"
        c.write_text(emit(p))
        assert _compile(c).returncode == 0
        r = subprocess.run([str(c.with_suffix(""))], capture_output=True, text=True, timeout=60, check=False)
        line = next(ln for ln in r.stdout.splitlines() if ln.startswith("COWCHECK-RESULT"))
        if "swapouts-refused" in line:
            continue
        expected = predict(p, rule, version).verdict
        assert f"observed={expected} " in line, (p.name, line)
        assert r.returncode == {"holds": 0, "missed-cow": 1, "wrong-cow": 1}[expected]
        ran += 1
    assert ran >= 3


def test_cli_writes_the_program_and_refuses_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "r.c"
    code, _, err = run_cli("reproduce", "counterexamples/vmsplice-child--mapcount.json", "-o", str(out))
    assert code == 0, err
    assert "COWCHECK-RESULT" in out.read_text() and "vmsplice_take(0, page_addr(0));" in out.read_text()
    code, stdout, err = run_cli("reproduce", "counterexamples/gup-fast-fork--page-count.json")
    assert code == 3 and stdout == ""
    assert err.strip().count("\n") == 0
    assert "refused: step 2 ([thread1] fork())" in err
    code, _, err = run_cli("reproduce", str(tmp_path / "missing.json"))
    assert code == 2 and "no such trace file" in err and "Traceback" not in err
