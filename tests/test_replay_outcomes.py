"""Issue 21, item 3: a saved trace that cannot be followed is not "fixed".

`cowcheck replay` has four outcomes: it still fails (exit 1); it runs to the end and
nothing fails (exit 0, fixed); a step is not enabled under this rule (exit 3,
inconclusive, with the `cowcheck check` that decides); the file is invalid (exit 2,
one line naming the file and the JSON path of the bad field). `show` draws the same
outcomes, and the gate runs the deciding check instead of trusting the replay.
"""

from __future__ import annotations

import copy
import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_cli_in

from cowcheck.checks.gate import GateCounterexample, run_counterexample
from cowcheck.checks.saved_trace import replay_file
from cowcheck.errors import InputError

TRACES = ROOT / "counterexamples"
STRICT = TRACES / "fork-odirect--anon-exclusive--strict.json"  # missed-cow, 5 steps, litmus
OPEN = TRACES / "open-standard--page-count.json"  # an open scenario's trace
DIVERGES = TRACES / "gup-fast-fork--page-count.json"  # under anon-exclusive: step 6 is not enabled
# Under page-count-5.11, pin-vs-swapout's page-count trace diverges at step 3, but the
# scenario still fails with wrong-cow by another path.
DIVERGES_STILL_FAILS = TRACES / "pin-vs-swapout--page-count.json"

Edit = Callable[[dict[str, Any]], None]


def _set(path: tuple[str | int, ...], value: object) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        node: Any = d
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value

    return edit


def _drop(path: tuple[str | int, ...]) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        node: Any = d
        for k in path[:-1]:
            node = node[k]
        del node[path[-1]]

    return edit


def _tampered(tmp_path: Path, edit: Edit, src: Path = STRICT) -> Path:
    """``src`` edited on purpose: without its digest, which would refuse any edit
    before the field the edit breaks is looked at (tested on its own below)."""
    doc = json.loads(src.read_text())
    doc.pop("digest", None)
    edit(doc)
    p = tmp_path / "t.json"
    p.write_text(json.dumps(doc))
    return p


# (what is wrong, the edit, the JSON path the error names, words of what was expected)
INVALID: list[tuple[str, Edit, str, str]] = [
    ("unknown op", _set(("steps", 0, "action", "op"), "teleport"), "steps[0].action.op", "unknown operation"),
    ("op of the wrong type", _set(("steps", 0, "action", "op"), 7), "steps[0].action.op", "a string"),
    ("actor out of range", _set(("steps", 0, "action", "actor"), 99), "steps[0].action.actor", "actor of"),
    ("vpage out of range", _set(("steps", 0, "action", "vpage"), 7), "steps[0].action.vpage", "vpage of"),
    ("cell on a continuation", _set(("steps", 2, "action", "cell"), 9), "steps[2].action.cell", "continuation"),
    ("process out of range", _set(("steps", 0, "action", "pid"), 5), "steps[0].action.pid", "process of"),
    ("program step out of range", _set(("steps", 0, "action", "step"), 9), "steps[0].action.step", "has 1 step"),
    ("another op than the program's", _set(("steps", 0, "action", "op"), "read"), "steps[0].action.op", "'gup'"),
    ("another reference", _set(("steps", 4, "action", "name"), "odirct"), "steps[4].action.name", "'odirect'"),
    ("integer for a boolean", _set(("steps", 0, "action", "write"), 1), "steps[0].action.write", "true or false"),
    ("string for an integer", _set(("steps", 0, "action", "vpage"), "0"), "steps[0].action.vpage", "an integer"),
    ("unknown action field", _set(("steps", 0, "action", "colour"), "red"), "steps[0].action.colour", "unknown"),
    ("action is an array", _set(("steps", 0, "action"), ["gup", 0]), "steps[0].action", "an object"),
    ("step is a string", _set(("steps", 1), "fork"), "steps[1]", "an object"),
    ("steps is an object", _set(("steps",), {"0": {}}), "steps", "a list"),
    ("action missing", _drop(("steps", 0, "action")), "steps[0].action", "missing"),
    ("steps missing", _drop(("steps",)), "steps", "missing"),
    ("violation missing", _drop(("violation",)), "violation", "missing"),
    ("violated property not a string", _set(("violation", "property"), 3), "violation.property", "property id"),
    ("wrong format", _set(("format",), "something-else"), "format", "cowcheck-trace"),
    ("wrong version", _set(("version",), 99), "version", "expected 1"),
    ("version as a string", _set(("version",), "1"), "version", "expected 1"),
    ("strict as a string", _set(("strict",), "yes"), "strict", "true or false"),
    ("properties as a string", _set(("properties",), "missed-cow"), "properties", "a list"),
    ("unknown property", _set(("properties",), ["nonesuch"]), "properties[0]", "unknown property"),
    ("unknown form", _set(("form",), "weird"), "form", "observational"),
    ("scenario as a string", _set(("scenario",), "fork-odirect"), "scenario", "embedded scenario"),
    ("rule as an integer", _set(("rule",), 5), "rule", "a rule name"),
    ("unknown rule", _set(("rule",), "no-such-rule"), "rule", "unknown rule"),
    ("unknown top-level field", _set(("strickt",), True), "strickt", "unknown field"),
    ("bad saved bound", _set(("options",), {"max_states": 0}), "options.max_states", "positive integer"),
    ("bad saved store", _set(("options",), {"store": "bitstate:x"}), "options.store", "bitstate size"),
]


@pytest.mark.parametrize(("what", "edit", "field", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_an_invalid_trace_names_the_field(tmp_path: Path, what: str, edit: Edit, field: str, expected: str) -> None:
    p = _tampered(tmp_path, edit)
    with pytest.raises(InputError) as e:
        replay_file(p)
    assert e.value.where == str(p) and e.value.field == field, str(e.value)
    assert expected in e.value.expected, str(e.value)


def test_an_open_scenarios_thread_must_exist(tmp_path: Path) -> None:
    # 16 * pid + tid: P0 of open-standard has one thread, so 1 is no one.
    p = _tampered(tmp_path, _set(("steps", 0, "action", "actor"), 1), OPEN)
    with pytest.raises(InputError, match=r"steps\[0\]\.action\.actor: expected a thread"):
        replay_file(p)


def _one_line(rc: int, out: str, err: str) -> str:
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in out + err and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_teleport_is_invalid_not_fixed(tmp_path: Path) -> None:
    """The issue's example: the first step's op changed to `teleport` replayed as "no
    longer fails", exit 0. It is bad input."""
    p = _tampered(tmp_path, _set(("steps", 0, "action", "op"), "teleport"))
    line = _one_line(*run_cli_in(tmp_path, "replay", "t.json"))
    assert line.startswith("cowcheck: error: t.json: steps[0].action.op: unknown operation 'teleport'")
    assert "no longer fails" not in line
    # show does not draw it either, in any format.
    for fmt in ("columns", "markdown", "html"):
        _one_line(*run_cli_in(tmp_path, "show", str(p), "-f", fmt))


def test_json_nested_too_deep_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text("[" * 100_000 + "]" * 100_000)
    line = _one_line(*run_cli_in(tmp_path, "replay", "t.json"))
    assert line == "cowcheck: error: t.json: malformed trace: JSON nested too deeply"


def test_still_fails_is_exit_1() -> None:
    rc, out, _ = run_cli_in(ROOT, "replay", str(STRICT))
    assert rc == 1
    assert "still fails under anon-exclusive: missed-cow at step 5 of 5 (fork-odirect)" in out


def test_fixed_is_exit_0_and_says_fixed() -> None:
    rc, out, _ = run_cli_in(ROOT, "replay", str(TRACES / "odirect-swap--page-count.json"), "-r", "anon-exclusive")
    assert rc == 0
    assert "fixed: no longer fails under anon-exclusive: the trace runs to the end with no violation" in out
    assert "check every path: cowcheck check odirect-swap -r anon-exclusive" in out


def test_diverging_is_inconclusive_exit_3_and_names_the_deciding_check(tmp_path: Path) -> None:
    rc, out, _ = run_cli_in(ROOT, "replay", str(DIVERGES), "-r", "anon-exclusive")
    assert rc == 3
    step6 = "step 6 (thread1: fork: copy_present_pte(vaddr+0): set the PTEs)"
    assert f"INCONCLUSIVE: {step6} is not enabled here" in out
    assert "no longer fails" not in out and "no violation" not in out
    assert f"inconclusive: {step6.replace('6', '6 of 7', 1)} is not enabled under anon-exclusive" in out
    cmd = out.rsplit("decide with: ", 1)[1].strip()
    assert cmd == "cowcheck check gup-fast-fork -r anon-exclusive"
    # The printed check runs, and decides: under anon-exclusive the race is gone.
    rc, out, _ = run_cli_in(tmp_path, *shlex.split(cmd)[1:], "-q")
    assert rc == 0 and out.startswith("holds: gup-fast-fork under anon-exclusive")


def test_replay_json_gives_the_outcome() -> None:
    rc, out, _ = run_cli_in(ROOT, "replay", str(DIVERGES), "-r", "anon-exclusive", "--json")
    d = json.loads(out)
    assert rc == 3 == d["exit_code"] and d["outcome"] == "inconclusive" and d["diverged_at"] == 5
    assert d["check"] == "cowcheck check gup-fast-fork -r anon-exclusive"


def test_a_property_the_replay_does_not_check_is_inconclusive() -> None:
    """Replayed with -p wrong-cow, a missed-cow trace runs to the end without a
    violation: that is not "fixed", and the deciding check looks for both."""
    rp = replay_file(STRICT, properties=["wrong-cow"])
    assert rp.outcome == "inconclusive" and rp.exit_code == 3
    assert "does not check missed-cow" in rp.describe()
    assert rp.command == "cowcheck check fork-odirect -r anon-exclusive --strict -p wrong-cow -p missed-cow"


def test_a_property_no_replay_can_show_is_inconclusive(tmp_path: Path) -> None:
    """A trace saved for a property a single path cannot show (the lead's "unreached")
    or one this cowcheck does not know: running to the end proves nothing."""
    for prop in ("unreached", "some-future-check"):
        p = _tampered(tmp_path, _set(("violation", "property"), prop))
        rp = replay_file(p, strict=False)  # without --strict the path has no violation
        assert rp.outcome == "inconclusive", rp.describe()


def test_a_different_property_still_fails_but_says_so(tmp_path: Path) -> None:
    p = _tampered(tmp_path, _set(("violation", "property"), "wrong-cow"))
    rp = replay_file(p)
    assert rp.outcome == "fails" and not rp.same_violation
    assert "with another property: missed-cow" in rp.describe() and "saved for wrong-cow" in rp.describe()
    res = run_counterexample(GateCounterexample("x", str(p)))
    assert not res.passed  # the gate wants the same property


def test_the_saved_options_apply_unless_overridden() -> None:
    """The strict trace fails under its saved --strict; --no-strict on the command line
    replays it under the default contract, where fork may share a FOLL_GET page."""
    assert replay_file(STRICT).outcome == "fails"
    rp = replay_file(STRICT, strict=False)
    assert rp.outcome == "fixed" and rp.command == "cowcheck check fork-odirect -r anon-exclusive"
    assert rp.replay_command == f"cowcheck replay {STRICT} --no-strict"
    rc, out, _ = run_cli_in(ROOT, "replay", str(STRICT), "--no-strict")
    assert rc == 0 and "fixed" in out


def test_reuse_needs_a_rule() -> None:
    with pytest.raises(InputError, match="--rule BASE"):
        replay_file(STRICT, reuse="refcount == 1")


def test_show_draws_a_diverging_trace_as_inconclusive(tmp_path: Path) -> None:
    rc, cols, _ = run_cli_in(ROOT, "show", str(DIVERGES), "-r", "anon-exclusive")
    assert rc == 3 and "INCONCLUSIVE: step 6" in cols and "no violation" not in cols
    assert "decide with: cowcheck check gup-fast-fork -r anon-exclusive" in cols
    rc, md, _ = run_cli_in(ROOT, "show", str(DIVERGES), "-r", "anon-exclusive", "-f", "markdown")
    assert rc == 3
    head = " ".join(md.split("\n\n", 1)[0].split())  # the first paragraph, wrapped at 75 columns
    assert head == "cowcheck: gup-fast-fork under anon-exclusive: inconclusive: the trace stops at step 6"
    assert "Check every path: `cowcheck check gup-fast-fork -r anon-exclusive`" in md
    out = tmp_path / "t.html"
    rc, _, _ = run_cli_in(ROOT, "show", str(DIVERGES), "-r", "anon-exclusive", "-f", "html", "-o", str(out))
    html = out.read_text()
    assert rc == 3 and 'class="inconclusive"' in html and 'class="ok"' not in html


def test_gate_runs_the_deciding_check_when_the_replay_diverges() -> None:
    """Fixed by another path: the replay diverges and the check holds, so the gate fails
    with "no longer fails", having checked every path, not one."""
    res = run_counterexample(GateCounterexample("x", str(DIVERGES), "anon-exclusive"))
    assert not res.passed and res.got == "holds"
    assert res.message.startswith("no longer fails: step 6 of 7")
    assert res.message.endswith("the check holds: cowcheck check gup-fast-fork -r anon-exclusive")
    # Still failing by another path: the replay diverges, the check finds the bug again.
    res = run_counterexample(GateCounterexample("y", str(DIVERGES_STILL_FAILS), "page-count-5.11"))
    assert res.passed and res.got == "wrong-cow", res.message
    assert res.message.startswith("still fails: step 3 of")
    assert "the check finds wrong-cow again: cowcheck check pin-vs-swapout -r page-count-5.11" in res.message
    assert res.shown is not None and res.shown.source == "cowcheck check pin-vs-swapout -r page-count-5.11"


def test_gate_with_an_invalid_trace_is_exit_2_before_any_check(tmp_path: Path) -> None:
    _tampered(tmp_path, _set(("steps", 0, "action", "op"), "teleport"))
    (tmp_path / "cowcheck.toml").write_text(
        'rule = "page-count"\n[[check]]\nscenario = "odirect-swap"\nexpect = "holds"\n'
        '[[counterexample]]\npath = "t.json"\n'
    )
    rc, out, err = run_cli_in(tmp_path, "gate")
    line = _one_line(rc, out, err)
    assert "t.json: steps[0].action.op: unknown operation 'teleport'" in line
    assert not (tmp_path / "cowcheck-junit.xml").exists()  # nothing ran


def test_gate_passes_a_trace_that_still_fails(tmp_path: Path) -> None:
    shutil.copy(STRICT, tmp_path / "race.json")
    (tmp_path / "cowcheck.toml").write_text('[[counterexample]]\npath = "race.json"\n')
    rc, out, err = run_cli_in(tmp_path, "gate")
    assert rc == 0, out + err


def test_every_bundled_trace_is_valid_and_deep_copies_stay_valid() -> None:
    """The validation accepts every bundled trace, and each fails again."""
    for p in sorted(TRACES.glob("*.json")):
        doc = json.loads(p.read_text())
        assert replay_file(p).outcome == "fails", p
        assert copy.deepcopy(doc) == doc


# Traces as cowcheck saved them before it recorded the search options and a digest,
# with the scenario text and step labels of then: they must keep loading and failing.
OLD_TRACES = Path(__file__).parent / "data" / "old-traces"


def test_traces_saved_before_options_and_digests_still_replay() -> None:
    olds = sorted(OLD_TRACES.glob("*.json"))
    assert len(olds) == 3
    for p in olds:
        doc = json.loads(p.read_text())
        assert "options" not in doc and "digest" not in doc  # saved before both were recorded
        assert replay_file(p).outcome == "fails", p


# The lead's built-in checks (tests/test_vacuity.py): t1's store cannot run once t0 has
# unmapped the page (stuck); the store waits for the mprotect that forbids it (unreached).
_TWO_THREADS = 'kind = "litmus"\n[world]\nthreads = 2\n[[vpage]]\nstate = "present"\n'
UNMAP_RACE = (
    f'name = "unmap-race"\n{_TWO_THREADS}'
    '[[actor]]\nname = "t0"\nsteps = [ { op = "munmap" } ]\n'
    '[[actor]]\nname = "t1"\nsteps = [ { op = "write", cell = 1 }, { op = "read" } ]\n'
)
NEVER = (
    f'name = "never"\n{_TWO_THREADS}'
    '[[actor]]\nname = "t0"\nsteps = [ { op = "mprotect", prot = "ro" } ]\n'
    '[[actor]]\nname = "t1"\nsteps = [ { op = "write", cell = 1, optional = true, after = "t0:1" } ]\n'
)


def test_stuck_and_unreached_traces_replay_gracefully(tmp_path: Path) -> None:
    """A stuck trace ends where its programs cannot go on: replayed, it is stuck again
    (exit 1). An unreached trace is a run without the goal, as every run is: no replay
    of one run decides it (exit 3, with the check that does)."""
    (tmp_path / "stuck.toml").write_text(UNMAP_RACE)
    (tmp_path / "never.toml").write_text(NEVER)
    for scenario, trace in (("stuck.toml", "stuck.json"), ("never.toml", "never.json")):
        rc, out, err = run_cli_in(tmp_path, "check", scenario, "-r", "page-count", "-q", "--save", trace)
        assert rc == 1, out + err
    rc, out, _ = run_cli_in(tmp_path, "replay", "stuck.json")
    assert rc == 1 and "still fails under page-count: stuck at step 1 of 1" in out
    rc, out, _ = run_cli_in(tmp_path, "replay", "never.json")
    assert rc == 3 and "unreached is about every run" in out
    assert out.rstrip().endswith("decide with: cowcheck check never.toml -r page-count")


def test_the_deciding_check_names_the_file_that_holds_the_embedded_scenario(tmp_path: Path) -> None:
    """The trace embeds its scenario; the deciding check names a file only where that
    file holds the same source, and says so where none does."""
    doc = json.loads(DIVERGES.read_text())
    src = doc["scenario"]["toml"]
    # Beside the trace, under the path it was saved with: that file.
    (tmp_path / "mine.toml").write_text(src)
    doc["scenario"]["path"] = "mine.toml"
    doc["scenario"]["toml"] = src
    p = tmp_path / "t.json"
    p.write_text(json.dumps(doc))
    assert replay_file(p, "anon-exclusive").command == "cowcheck check gup-fast-fork -r anon-exclusive"  # bundled first
    doc["scenario"]["toml"] = src + "\n# edited\n"
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"scenario\.toml: does not match scenario\.sha256"):
        replay_file(p, "anon-exclusive")
    del doc["scenario"]["sha256"]  # edited on purpose: replayed as edited
    p.write_text(json.dumps(doc))
    rp = replay_file(p, "anon-exclusive")
    assert rp.command == "cowcheck check gup-fast-fork -r anon-exclusive"
    assert f"no file holds the scenario embedded in {p}" in rp.describe()
    (tmp_path / "mine.toml").write_text(src + "\n# edited\n")
    rp = replay_file(p, "anon-exclusive")
    assert rp.check.scenario.endswith("mine.toml") and "no file holds" not in rp.describe()


def test_a_trace_cut_short_or_reordered_is_invalid_not_fixed(tmp_path: Path) -> None:
    """A trace that can still be followed after an edit would replay as "fixed": its
    digest makes the edit bad input instead, unless the digest is dropped on purpose."""
    rc, _, err = run_cli_in(tmp_path, "check", "odirect-clear-refs", "-r", "page-count", "-q", "--save", "t.json")
    assert rc == 1, err
    doc = json.loads((tmp_path / "t.json").read_text())
    for name, steps in (("cut", doc["steps"][:-1]), ("swapped", [doc["steps"][1], doc["steps"][0], *doc["steps"][2:]])):
        (tmp_path / f"{name}.json").write_text(json.dumps({**doc, "steps": steps}))
        rc, out, err = run_cli_in(tmp_path, "replay", f"{name}.json")
        assert rc == 2 and out == "" and err.count("\n") == 1 and f"{name}.json: digest: does not match" in err
    (tmp_path / "cut.json").write_text(
        json.dumps({**{k: v for k, v in doc.items() if k != "digest"}, "steps": doc["steps"][:-1]})
    )
    rc, out, _ = run_cli_in(tmp_path, "replay", "cut.json")
    assert rc == 0 and "fixed" in out


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("timeout", "Infinity", "options.timeout: expected"),
        ("workers", "100000", "options.workers: expected at most"),
        ("max_states", "9" * 5000, "malformed trace"),
    ],
    ids=["timeout-inf", "workers-100000", "max-states-5000-digits"],
)
def test_saved_options_out_of_range_are_bad_input(tmp_path: Path, key: str, value: str, words: str) -> None:
    rc, _, err = run_cli_in(tmp_path, "check", "odirect-clear-refs", "-r", "page-count", "-q", "--save", "t.json")
    assert rc == 1, err
    doc = json.loads((tmp_path / "t.json").read_text())
    del doc["digest"]
    doc["options"][key] = 123454321  # a marker, replaced by the raw JSON text
    (tmp_path / "e.json").write_text(json.dumps(doc).replace("123454321", value))
    rc, out, err = run_cli_in(tmp_path, "replay", "e.json")
    assert rc == 2 and out == "" and err.count("\n") == 1 and words in err, err
