"""No verdict without proof: a litmus run that ends before its programs do is `stuck`,
a step that runs on no run is `unreached`, and what the loader can see alone is bad
input. Each reduction and the partitioned search give the unreduced verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, run_cli, run_cli_in

from cowcheck.api import build_model, check
from cowcheck.checks.catalog import run_catalog
from cowcheck.checks.verify import verify
from cowcheck.engine import STUCK, UNREACHED, Bounds, SearchOptions, StoreSpec, Verdict, explore
from cowcheck.errors import InputError
from cowcheck.input.bundled import scenario_files
from cowcheck.input.rule_files import builtin_rules
from cowcheck.input.scenario import load_scenario, parse_scenario
from cowcheck.mm.model import MMModel

TWO_THREADS = """
kind = "litmus"
[world]
threads = 2
[[vpage]]
state = "present"
"""

# t1's store can never run once t0 has unmapped the page: stuck, unless optional.
UNMAP_RACE = (
    'name = "unmap-race"'
    + TWO_THREADS
    + """
[[actor]]
name = "t0"
steps = [ { op = "munmap" } ]
[[actor]]
name = "t1"
steps = [ { op = "write", cell = 1 }, { op = "read" } ]
"""
)
UNMAP_RACE_OPTIONAL = UNMAP_RACE.replace(
    '{ op = "write", cell = 1 }, { op = "read" }',
    '{ op = "write", cell = 1, optional = true }, { op = "read", optional = true }',
).replace('name = "unmap-race"', 'name = "unmap-race-ok"')
# The store waits for the mprotect that makes it impossible: it runs on no run.
NEVER = (
    'name = "never"'
    + TWO_THREADS
    + """
[[actor]]
name = "t0"
steps = [ { op = "mprotect", prot = "ro" } ]
[[actor]]
name = "t1"
steps = [ { op = "write", cell = 1, optional = true, after = "t0:1" } ]
"""
)
# A device step waits for a step that cannot run: the message follows the wait.
CHAIN = (
    'name = "chain"'
    + TWO_THREADS
    + """
[[actor]]
name = "t0"
steps = [ { op = "mprotect", prot = "ro" }, { op = "gup", flags = ["FOLL_PIN"], ref = "r" } ]
[[actor]]
name = "t1"
steps = [ { op = "write", cell = 1, after = "t0:1" } ]
[[actor]]
name = "dev"
kind = "device"
steps = [ { op = "release", ref = "r", after = "t1:1" } ]
"""
)


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_stuck_run_is_a_violation_with_the_shortest_run(tmp_path: Path) -> None:
    rep = check(write(tmp_path, UNMAP_RACE), "anon-exclusive")
    assert rep.verdict is Verdict.VIOLATED and rep.trace is not None
    assert rep.trace.property_id == STUCK
    assert [s.action.op for s in rep.trace.steps] == ["munmap"]
    assert rep.trace.message == "t1:1 (write vpage=0) cannot run: vpage 0 of P0 is unmapped (the access would SIGSEGV)"


def test_stuck_names_the_step_waited_for(tmp_path: Path) -> None:
    rep = check(write(tmp_path, CHAIN), "anon-exclusive")
    assert rep.trace is not None and rep.trace.property_id == STUCK
    assert rep.trace.message is not None
    assert "t1:1 (write vpage=0) cannot run: the VMA of vpage 0 of P0 is read-only" in rep.trace.message
    assert "dev:1 (release ref=r) cannot run: waits for t1:1 (write vpage=0), which cannot run" in rep.trace.message


def test_optional_steps_may_not_run(tmp_path: Path) -> None:
    rep = check(write(tmp_path, UNMAP_RACE_OPTIONAL), "anon-exclusive")
    assert rep.verdict is Verdict.HOLDS, rep.summary()


def test_a_step_that_runs_nowhere_is_reported_even_if_optional(tmp_path: Path) -> None:
    rep = check(write(tmp_path, NEVER), "anon-exclusive")
    assert rep.verdict is Verdict.VIOLATED and rep.trace is not None
    assert rep.trace.property_id == UNREACHED
    assert rep.trace.message == "runs on no path: t1:1 (write vpage=0) (optional)"


def test_the_cli_exits_1_on_stuck_and_unreached(tmp_path: Path) -> None:
    for text, prop in ((UNMAP_RACE, STUCK), (NEVER, UNREACHED)):
        rc, out, err = run_cli("check", str(write(tmp_path, text)), "-r", "page-count", "-q")
        assert rc == 1, out + err
        assert f"violated: {text.split(chr(34))[1]} under page-count: {prop} in 1 steps" in out


@pytest.mark.parametrize("text", [UNMAP_RACE, UNMAP_RACE_OPTIONAL, NEVER, CHAIN], ids=["stuck", "ok", "unr", "chain"])
def test_reductions_and_workers_agree_with_the_unreduced_search(tmp_path: Path, text: str) -> None:
    model = build_model(write(tmp_path, text), "anon-exclusive", None, "observational", False)
    plain = explore(model, SearchOptions(subsume=False))
    for other in (
        explore(model),
        explore(model, SearchOptions(por=True)),
        explore(model, SearchOptions(store=StoreSpec.parse("fingerprint"))),
        explore(model, SearchOptions(workers=2)),
    ):
        assert other.verdict is plain.verdict
        got = other.violation and (other.violation.property_id, other.violation.message, len(other.violation.path))
        want = plain.violation and (plain.violation.property_id, plain.violation.message, len(plain.violation.path))
        assert got == want


def test_ends_at_a_depth_bound_are_checked(tmp_path: Path) -> None:
    """The states at --max-depth are not expanded, but an end among them is checked
    as every state is: the stuck run after one step is found with the bound at 1."""
    model = build_model(write(tmp_path, UNMAP_RACE), "anon-exclusive", None, "observational", False)
    for r in (
        explore(model, SearchOptions(Bounds(max_depth=1), subsume=False)),
        explore(model, SearchOptions(Bounds(max_depth=1), workers=2, subsume=False)),
    ):
        assert r.verdict is Verdict.VIOLATED and r.violation is not None
        assert r.violation.property_id == STUCK and len(r.violation.path) == 1
    # Nothing lies beyond depth 3, so the bound does not make it incomplete.
    ok = build_model(write(tmp_path, UNMAP_RACE_OPTIONAL), "anon-exclusive", None, "observational", False)
    assert explore(ok, SearchOptions(Bounds(max_depth=3), subsume=False)).verdict is Verdict.HOLDS
    assert explore(ok, SearchOptions(Bounds(max_depth=2), subsume=False)).verdict is Verdict.INCOMPLETE


# From review: a mprotect(RO) that strands the store, racing the O_DIRECT read.
MIX = """name = "mix2"
kind = "litmus"
[world]
threads = 3
vpages = 1
cells = 2
[[vpage]]
state = "present"
[[actor]]
name = "thread0"
steps = [ { op = "gup", flags = ["FOLL_GET", "FOLL_WRITE"], ref = "odirect" } ]
[[actor]]
name = "thread1"
steps = [ { op = "write", cell = 1 } ]
[[actor]]
name = "other process"
kind = "outsider"
steps = [ { op = "clear_refs", process = 0 } ]
[[actor]]
name = "t2"
steps = [ { op = "mprotect", prot = "ro" } ]
[[actor]]
name = "device"
kind = "device"
steps = [ { op = "dma_write", ref = "odirect", cell = 0 }, { op = "release", ref = "odirect" } ]

"""


def test_stuck_is_found_at_its_own_depth(tmp_path: Path) -> None:
    """Stuck is checked where a state is stored, with the invariants: the shortest
    violation is reported, stuck or not, serial or partitioned (stuck was found only
    when a state was expanded, after its successors' violations)."""
    model = build_model(write(tmp_path, MIX), "page-count", None, "observational", False)
    runs = [explore(model, SearchOptions(subsume=False, workers=n)) for n in (1, 2, 3)]
    lengths = {len(r.violation.path) for r in runs if r.violation is not None}
    assert len(lengths) == 1 and all(r.verdict is Verdict.VIOLATED for r in runs)
    assert lengths == {3} and runs[0].violation is not None and runs[0].violation.property_id == STUCK


def test_every_bundled_litmus_run_finishes_under_every_rule() -> None:
    """With no property to stop it, every run of every bundled litmus scenario, under
    every rule, with and without --strict, finishes every program and runs every step:
    none of their verdicts rests on a run that ended early."""
    rules = builtin_rules().values()
    for f in scenario_files():
        sc = load_scenario(f)
        if sc.kind != "litmus":
            continue
        for rule in rules:
            for strict in (False, True):
                r = explore(MMModel(sc, rule, (), strict=strict), SearchOptions(subsume=False))
                assert r.verdict is Verdict.HOLDS, (sc.name, rule.name, strict, r.violation and r.violation.message)


def test_graph_reports_stuck_end_states(tmp_path: Path) -> None:
    rc, out, err = run_cli_in(tmp_path, "graph", str(write(tmp_path, UNMAP_RACE)), "-r", "anon-exclusive")
    assert rc == 1, out + err
    assert "stuck: 2 end states where a program cannot go on; the first, after 1 steps: t1:1 (write" in out
    assert "some of them stuck" in out
    dot = (tmp_path / "cowcheck-graph.dot").read_text()
    assert dot.count("color=orange") == 2 and "STUCK: t1:1 (write vpage=0) cannot run" in dot
    rc, out, _ = run_cli_in(tmp_path, "graph", str(write(tmp_path, NEVER)), "-r", "anon-exclusive")
    assert rc == 1 and "unreached: runs on no path: t1:1 (write vpage=0) (optional)" in out
    rc, out, _ = run_cli_in(tmp_path, "graph", str(write(tmp_path, UNMAP_RACE_OPTIONAL)), "-r", "anon-exclusive")
    assert rc == 0 and "stuck" not in out and "unreached" not in out


def test_verify_has_a_column_for_runs_that_end_early(tmp_path: Path) -> None:
    v = verify("anon-exclusive", [write(tmp_path, UNMAP_RACE), write(tmp_path, UNMAP_RACE_OPTIONAL, "ok.toml")])
    assert v.verdict is Verdict.VIOLATED
    assert v.cells["unmap-race", STUCK].verdict is Verdict.VIOLATED
    # The run stopped there: nothing else was checked to the end.
    assert {v.cells["unmap-race", p].verdict for p in v.properties if p != STUCK} == {Verdict.INCOMPLETE}
    assert {c.verdict for (s, _p), c in v.cells.items() if s == "unmap-race-ok"} == {Verdict.HOLDS}


def test_catalog_rows_carry_it_in_the_pool_too(tmp_path: Path) -> None:
    files = [write(tmp_path, UNMAP_RACE), write(tmp_path, NEVER, "n.toml")]
    for workers in (1, 2):
        rows = run_catalog(["anon-exclusive"], files, SearchOptions(workers=workers))
        assert [r.got for r in rows] == [STUCK, UNREACHED]
        assert rows[1].report.trace is not None and rows[1].report.trace.message is not None
        assert rows[1].report.trace.message.startswith("runs on no path")


def test_gate_fails_a_stuck_check(tmp_path: Path) -> None:
    write(tmp_path, UNMAP_RACE)
    write(tmp_path, 'rule = "anon-exclusive"\n[[check]]\nscenario = "s.toml"\nexpect = "holds"\n', "cowcheck.toml")
    rc, out, err = run_cli_in(tmp_path, "gate", "--sarif", "gate.sarif")
    assert rc == 1, out + err
    assert "stuck" in out
    sarif = json.loads((tmp_path / "gate.sarif").read_text())["runs"][0]
    (res,) = sarif["results"]
    assert res["ruleId"] == STUCK and sarif["tool"]["driver"]["rules"][res["ruleIndex"]]["id"] == STUCK


def test_save_and_replay_a_stuck_trace(tmp_path: Path) -> None:
    s = write(tmp_path, UNMAP_RACE)
    rc, _, err = run_cli_in(tmp_path, "check", str(s), "-r", "anon-exclusive", "-q", "--save", "t.json")
    assert rc == 1, err
    rc, out, err = run_cli_in(tmp_path, "replay", "t.json")
    assert rc == 1, out + err
    assert STUCK in out


# -- what the loader rejects before any search ---------------------------------------


def rejects(text: str, field: str, words: str) -> None:
    with pytest.raises(InputError) as e:
        parse_scenario(text, "x.toml")
    assert str(e.value).startswith(f"x.toml: {field}: "), str(e.value)
    assert words in str(e.value)


def test_the_issue_examples_are_bad_input(tmp_path: Path) -> None:
    src = (ROOT / "models/scenarios/odirect-clear-refs.toml").read_text()
    typo = write(tmp_path, src.replace('ref = "odirect", cell = 0', 'ref = "odirct", cell = 0'))
    rc, out, err = run_cli("check", str(typo), "-r", "page-count")
    assert rc == 2 and out == ""
    assert err.strip().splitlines() == [
        f"cowcheck: error: {typo}: actor[3].steps[0].ref: no gup step takes a reference named 'odirct' "
        "(gup steps take: 'odirect')"
    ]
    cycle = write(
        tmp_path,
        'name = "w"' + TWO_THREADS + '[[actor]]\nname = "a"\nsteps = [ { op = "write", after = "b:1" } ]\n'
        '[[actor]]\nname = "b"\nsteps = [ { op = "write", after = "a:1" } ]\n',
        "w.toml",
    )
    rc, out, err = run_cli("graph", str(cycle), "-r", "page-count", "-o", str(tmp_path / "g.dot"))
    assert rc == 2 and len(err.strip().splitlines()) == 1 and not (tmp_path / "g.dot").exists()
    assert "a cycle of waits" not in err and "expected no cycle of waits, got a:1 -> b:1 -> a:1" in err


def actors(*steps: str) -> str:
    out = 'name = "x"\nkind = "litmus"\n[world]\nthreads = 3\n'
    for i, s in enumerate(steps):
        kind = "device" if "dma" in s or "release" in s else "thread"
        out += f'[[actor]]\nname = "a{i}"\nkind = "{kind}"\nsteps = [ {s} ]\n'
    return out


GUP = '{ op = "gup", flags = ["FOLL_GET", "FOLL_WRITE"], ref = "r" }'


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        ((GUP, '{ op = "dma_read", ref = "q" }'), "actor[1].steps[0].ref", "no gup step takes a reference named 'q'"),
        (('{ op = "release", ref = "r" }',), "actor[0].steps[0].ref", "(gup steps take: none)"),
        (
            (GUP, '{ op = "release", ref = "r" }, { op = "release", ref = "r" }'),
            "actor[1].steps[1].ref",
            "reference 'r' is released twice",
        ),
        (('{ op = "write", after = "a0:1" }',), "actor[0].steps[0].after", "a0:1 -> a0:1"),
        (
            (
                '{ op = "write", after = "a1:1" }',
                '{ op = "write", after = "a2:1" }',
                '{ op = "write", after = "a0:1" }',
            ),
            "actor[2].steps[0].after",
            "a0:1 -> a1:1 -> a2:1 -> a0:1",
        ),
        # Program order closes the cycle: a0:1 waits for a1:2, which follows a1:1.
        (
            ('{ op = "write", after = "a1:2" }, { op = "read" }', '{ op = "write", after = "a0:2" }, { op = "read" }'),
            "actor[0].steps[1].after",
            "expected no cycle of waits",
        ),
        (
            ('{ op = "write", optional = true }, { op = "read" }',),
            "actor[0].steps[1].optional",
            "it follows the optional actor[0].steps[0]",
        ),
    ],
)
def test_loader_rejects_programs_that_cannot_be_meant(steps: tuple[str, ...], field: str, words: str) -> None:
    rejects(actors(*steps), field, words)


def test_loader_rejects_unknown_expect_keys_and_bad_names() -> None:
    ok = actors('{ op = "write" }')
    parse_scenario(ok + '[expect]\n"page-count-5.11" = "holds"\n', "x.toml")
    rejects(ok + '[expect]\n"page-count-5.1" = "holds"\n', "expect.page-count-5.1", "unknown rule 'page-count-5.1'")
    rejects(ok + "[expect.strict]\npagecount = 'holds'\n", "expect.strict.pagecount", "unknown rule")
    rejects(ok.replace('name = "x"', 'name = ""'), "name", "expected a non-empty name")
    rejects(ok.replace('name = "x"', 'name = "a/b"'), "name", "got 'a/b'")


RULE_HEAD = 'from cowcheck.rules import rule_class\n\n\nclass Mine(rule_class("anon-exclusive")):\n'


@pytest.mark.parametrize(
    ("scenario", "body", "words"),
    [
        (
            "odirect-swap",
            "    def do_wp_page(self, page, unshare):\n        return super().do_wp_page(page, unshare)\n",
            "name: expected the rule class to set its own name (it inherits 'anon-exclusive')",
        ),
        (
            "odirect-clear-refs",
            '    name = "mine"\n\n    def do_wp_page(self, page, unshare):\n        return True\n',
            ":7: hook do_wp_page returned True (expected WpDecision(reuse: True or False, note: a string",
        ),
        (
            "vmsplice-child",
            '    name = "mine"\n\n    def gup_must_unshare(self, flags, page, have_vma):\n        return "no"\n',
            ":7: hook gup_must_unshare returned 'no' (expected True or False)",
        ),
        (
            "odirect-swap",
            '    name = "mine"\n\n    def swapout_add_to_swapcache(self, page):\n        return (True, 3)\n',
            "hook swapout_add_to_swapcache returned (True, 3) (expected a tuple (True or False, a string))",
        ),
    ],
    ids=["no-name", "wp-bool", "unshare-str", "tuple"],
)
def test_rule_files_that_misbehave_are_bad_input(tmp_path: Path, scenario: str, body: str, words: str) -> None:
    f = write(tmp_path, RULE_HEAD + body + "\n\nRULE = Mine()\n", "mine.py")
    rc, out, err = run_cli("check", scenario, "-r", str(f), "-q")
    assert rc == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(f) in lines[0] and words in lines[0], err
