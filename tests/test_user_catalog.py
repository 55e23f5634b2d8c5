"""A project's own catalog: scenario files, rule files and directories of them given
to ``catalog``, ``matrix`` and ``verify`` (input/sources.py), with the verdicts each
file expects, in one process with a pool of workers; and ``verify`` of a user's rule
against its base rule, each failure marked new or inherited."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import run_cli_in
from test_vacuity import UNMAP_RACE

from cowcheck.checks.catalog import catalog_plan, run_catalog
from cowcheck.checks.matrix import run_matrix
from cowcheck.checks.verify import INHERITED, NEW, RUNS_END, verify
from cowcheck.engine import SearchOptions, Verdict
from cowcheck.errors import InputError
from cowcheck.families import all_scenario_files, family
from cowcheck.input.bundled import scenarios_dir
from cowcheck.input.rule_files import builtin_rules, load_rule
from cowcheck.input.sources import base_rule, collect, rule_expectations

# Three bundled litmus scenarios under names of the project's own, and a rule that
# starts from page-count-5.18 and reuses on mapcount alone, as before 5.8: it fixes
# page-count-5.18's failure on the clear_refs race (the FOLL_GET reference no longer
# forces a copy), brings back CVE-2020-29374 (new), and keeps the failure of a R/O pin
# taken after fork (inherited).
SCENARIOS = {"odirect-clear-refs": "my-clear-refs", "vmsplice-child": "my-vmsplice", "ro-pin-after-fork": "my-ro-pin"}

RULE = '''\
"""page-count-5.18, but reuse on mapcount alone, as before 5.8."""

from cowcheck.mm.rule import WpDecision
from cowcheck.rules import rule_class


class MapcountReuse(rule_class("page-count-5.18")):
    name = "mapcount-reuse"

    def do_wp_page(self, page, unshare):
        return WpDecision(page.mapcount == 1, f"do_wp_page: mapcount {page.mapcount}")


RULE = MapcountReuse()
EXPECT = {"my-clear-refs": "holds", "my-vmsplice": "missed-cow", "my-ro-pin": "wrong-cow"}
'''


def project(d: Path, rule: str = RULE, expect: dict[str, str] | None = None) -> Path:
    """A fresh project: the three scenarios (their [expect] tables as bundled, but
    for the changes in ``expect``: "scenario:rule" -> verdict) and the rule file."""
    d.mkdir(parents=True, exist_ok=True)
    for src, name in SCENARIOS.items():
        text = (scenarios_dir() / f"{src}.toml").read_text()
        text = text.replace(f'name = "{src}"', f'name = "{name}"', 1)
        for key, verdict in (expect or {}).items():
            scen, rule_name = key.split(":")
            if scen == name:
                text, n = re.subn(rf'(?m)^"?{re.escape(rule_name)}"? = ".*"$', f'"{rule_name}" = "{verdict}"', text)
                assert n == 1
        (d / f"{name}.toml").write_text(text)
    (d / "mapcount_reuse.py").write_text(rule)
    return d


def test_matrix_over_a_project_directory_agrees_with_its_files(tmp_path: Path) -> None:
    """The acceptance test: a directory of three scenarios and one rule file, -j 2,
    every cell as its file expects, in this one process."""
    d = project(tmp_path / "proj")
    m = run_matrix(paths=[d], options=SearchOptions(workers=2))
    assert m.rules == (*builtin_rules(), "mapcount-reuse")
    assert m.scenarios == ("my-clear-refs", "my-ro-pin", "my-vmsplice")  # the directory's order
    assert len(m.cells) == 3 * (len(builtin_rules()) + 1)
    assert all(c.expected is not None for c in m.cells.values())  # each file states every verdict
    assert not m.mismatches, [(c.scenario, c.rule, c.expected, c.got) for c in m.mismatches]
    mine = {s: m.cells[s, "mapcount-reuse"].got for s in m.scenarios}
    assert mine == {"my-clear-refs": "holds", "my-vmsplice": "missed-cow", "my-ro-pin": "wrong-cow"}
    assert m.cells["my-clear-refs", "page-count-5.18"].got == "wrong-cow"  # the base's, fixed
    # The pool gives what one process gives.
    serial = run_matrix(paths=[d])
    assert {k: (c.got, c.length, c.expected) for k, c in serial.cells.items()} == {
        k: (c.got, c.length, c.expected) for k, c in m.cells.items()
    }


def test_the_cli_runs_a_project_directory_in_one_process(tmp_path: Path) -> None:
    """`cowcheck matrix DIR -j 2 --check` as a user types it; a project's other Python
    files (conftest.py, setup.py) are not rule files and are never run."""
    d = project(tmp_path / "proj")
    boom = 'raise SystemExit("ran")\n'
    (d / "conftest.py").write_text(boom)
    (d / "setup.py").write_text("RULES = 1\n" + boom)
    code, out, err = run_cli_in(tmp_path, "matrix", "proj", "-j", "2", "--check", "-q")
    assert code == 0 and not err, (out, err)
    assert "mapcount-reuse" in out.splitlines()[0] and len(out.splitlines()) == 2 + 3
    code, out, err = run_cli_in(tmp_path, "verify", "proj/mapcount_reuse.py", "proj", "-j", "2", "-q")
    assert code == 1 and "1 new, 1 inherited" in out and not err, (out, err)


def test_a_verdict_other_than_the_file_says_is_a_mismatch(tmp_path: Path) -> None:
    wrong_rule = RULE.replace('"my-vmsplice": "missed-cow"', '"my-vmsplice": "holds"')
    wrong_rule = wrong_rule.replace(', "my-ro-pin": "wrong-cow"', "")  # no expectation: '-', never a mismatch
    d = project(tmp_path / "proj", wrong_rule, {"my-ro-pin:anon-exclusive": "wrong-cow"})
    rows = run_catalog(paths=[d], options=SearchOptions(workers=2))
    bad = {(r.scenario, r.rule, r.expected, r.got) for r in rows if not r.ok}
    assert bad == {
        ("my-vmsplice", "mapcount-reuse", "holds", "missed-cow"),
        ("my-ro-pin", "anon-exclusive", "wrong-cow", "holds"),
    }
    unstated = next(r for r in rows if (r.scenario, r.rule) == ("my-ro-pin", "mapcount-reuse"))
    assert unstated.expected is None and unstated.got == "wrong-cow" and unstated.ok


def test_rules_chosen_and_a_rule_file_given_on_its_own(tmp_path: Path) -> None:
    d = project(tmp_path / "proj")
    rows = run_catalog(["anon-exclusive"], paths=[d / "my-vmsplice.toml", d / "mapcount_reuse.py"])
    assert [(r.scenario, r.rule, r.expected, r.got) for r in rows] == [
        ("my-vmsplice", "anon-exclusive", "holds", "holds"),
        ("my-vmsplice", "mapcount-reuse", "missed-cow", "missed-cow"),
    ]
    # A rule file alone: the bundled scenarios of every family, under every family's
    # built-in rules and it (the catalog runs each scenario under its family's rules).
    scens, rules = catalog_plan(paths=[d / "mapcount_reuse.py"])
    assert [s.path for s in scens] == [str(f) for f in all_scenario_files()]
    assert [r.name for r in rules] == [*builtin_rules(), *family("pfnmap").builtin_names(), "mapcount-reuse"]
    # Named twice (a path and a rule given as a file): one column.
    _, rules = catalog_plan([str(d / "mapcount_reuse.py")], paths=[d, d / "mapcount_reuse.py"])
    assert [r.name for r in rules] == ["mapcount-reuse"]


def test_a_rule_file_expecting_strict_verdicts_adds_the_strict_row(tmp_path: Path) -> None:
    rule = RULE + 'EXPECT_STRICT = {"my-vmsplice": "missed-cow"}\n'
    d = project(tmp_path / "proj", rule)
    rows = run_catalog(["page-count"], paths=[d / "my-vmsplice.toml", d / "mapcount_reuse.py"])
    assert [(r.rule, r.strict, r.expected) for r in rows] == [
        ("page-count", False, "holds"),
        ("mapcount-reuse", False, "missed-cow"),
        ("page-count", True, None),  # the scenario file states no --strict verdicts
        ("mapcount-reuse", True, "missed-cow"),
    ]
    assert all(r.ok for r in rows), [(r.rule, r.strict, r.got) for r in rows]


def test_directories_are_read_one_level_sorted(tmp_path: Path) -> None:
    d = project(tmp_path / "proj")
    (d / "deeper").mkdir()
    (d / "deeper" / "other.toml").write_text("not read")
    (d / "_helpers.py").write_text("raise SystemExit('not read')")
    (d / ".hidden.toml").write_text("not read")
    (d / "cowcheck.toml").write_text('rule = "anon-exclusive"\n')  # the gate's configuration
    (d / "notes.txt").write_text("not read")
    src = collect([d, d / "my-ro-pin.toml", "vmsplice-child"])
    names = ["my-clear-refs.toml", "my-ro-pin.toml", "my-vmsplice.toml", "vmsplice-child.toml"]
    assert [p.name for p in src.scenarios] == names  # the directory's, then the others; each once
    assert src.scenarios[-1] == scenarios_dir() / "vmsplice-child.toml"  # a bundled scenario by name
    assert [p.name for p in src.rules] == ["mapcount_reuse.py"]
    assert collect([d], rules=False).rules == ()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "nope", r"nope: no such file or directory, nor a bundled scenario \(expected a scenario file"),
        (lambda d: "no-such-scenario", r"no-such-scenario: no such file or directory, nor a bundled scenario"),
        (lambda d: _file(d / "notes.txt", "x"), r"notes\.txt: unknown kind of file \(expected a scenario file"),
        (lambda d: _mkdir(d / "empty"), r"empty: no scenario files \(\*\.toml\) or rule files \(\*\.py\) in this"),
        (lambda d: _fifo(d / "pipe.toml"), r"pipe\.toml: not a regular file \(expected a scenario file"),
    ],
)
def test_bad_paths_name_the_path_and_what_was_expected(tmp_path: Path, make: object, message: str) -> None:
    assert callable(make)
    with pytest.raises(InputError, match=message):
        collect([make(tmp_path)])


def _file(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


def _fifo(p: Path) -> Path:
    os.mkfifo(p)
    return p


def _mkdir(p: Path) -> Path:
    p.mkdir()
    return p


def test_bad_sources_are_input_errors_before_any_search(tmp_path: Path) -> None:
    d = project(tmp_path / "proj")
    with pytest.raises(
        InputError, match=r"mapcount_reuse\.py: a rule file, not a scenario: verify checks the one rule"
    ):
        verify("page-count", [d / "mapcount_reuse.py"])
    only_rules = _mkdir(tmp_path / "rules")
    _file(only_rules / "r.py", RULE)
    with pytest.raises(InputError, match=r"rules: no scenario files \(\*\.toml\) in this directory"):
        verify("page-count", [only_rules])
    # Two scenarios of one name: the rows and the matrix could not tell them apart.
    twin = _file(tmp_path / "twin.toml", (d / "my-ro-pin.toml").read_text())
    with pytest.raises(InputError, match=r"twin\.toml: name: 'my-ro-pin' is also the name of .*my-ro-pin\.toml"):
        catalog_plan(paths=[d, twin])
    with pytest.raises(InputError, match=r"'my-ro-pin' is also the name of another scenario"):
        verify("page-count", [d, twin])
    # A rule file that takes a built-in rule's name, in a run with that rule.
    clash = _mkdir(tmp_path / "clash")
    _file(clash / "pc.py", RULE.replace('name = "mapcount-reuse"', 'name = "page-count"'))
    with pytest.raises(InputError, match=r"pc\.py: name: 'page-count' is also the name of the built-in rule"):
        catalog_plan(paths=[clash / "pc.py"])
    # Expectations that are not verdicts.
    bad = _mkdir(tmp_path / "bad")
    _file(bad / "r.py", RULE.replace('"my-ro-pin": "wrong-cow"', '"my-ro-pin": "fails"'))
    with pytest.raises(InputError, match=r"r\.py: EXPECT: expected a dict of scenario name -> verdict .*'fails'"):
        catalog_plan(paths=[bad])
    listed = _file(tmp_path / "listed.py", RULE.replace("EXPECT = {", 'EXPECT = "holds"  # {'))
    with pytest.raises(InputError, match=r"listed\.py: EXPECT: expected a dict of scenario name -> .*, got str"):
        rule_expectations(load_rule(str(listed)))


def test_verify_marks_each_failure_new_or_inherited(tmp_path: Path) -> None:
    d = project(tmp_path / "proj")
    rule = load_rule(str(d / "mapcount_reuse.py"))
    base = base_rule(rule)
    assert base is builtin_rules()["page-count-5.18"]
    for workers in (1, 2):
        v = verify(rule, [d], options=SearchOptions(workers=workers))
        assert v.base is base
        assert v.verdict is Verdict.VIOLATED
        failed = {(s, p): c.origin for s, p, c in v.failures()}
        assert failed == {("my-vmsplice", "missed-cow"): NEW, ("my-ro-pin", "wrong-cow"): INHERITED}, workers
        # The base ran only where the rule fails, only on what it fails.
        assert sorted((r.scenario.name, tuple(r.properties)) for r in v.base_runs) == [
            ("my-ro-pin", ("wrong-cow",)),
            ("my-vmsplice", ("missed-cow",)),
        ]
    assert v.cells["my-clear-refs", "wrong-cow"].verdict is Verdict.HOLDS  # the base's failure, fixed
    # The user's rule as written: not the base's title or kernel versions.
    assert v.heading.startswith("mapcount-reuse: page-count-5.18, but reuse on mapcount alone, as before 5.8.")
    assert "v5.18" not in v.heading and base.title not in v.heading
    assert "based on page-count-5.18" in v.heading and str(d / "mapcount_reuse.py") in v.heading
    text = v.text()
    assert text.splitlines()[0] == v.heading
    assert "failures against the base rule page-count-5.18: 1 new, 1 inherited" in text
    assert re.search(r"my-ro-pin\s+wrong-cow\s+\d+\s+inherited from page-count-5\.18", text), text
    assert re.search(r"my-vmsplice\s+missed-cow\s+\d+\s+new \(page-count-5\.18 holds\)", text), text
    doc = json.loads(json.dumps(v.to_json()))
    assert doc["rule"] == "mapcount-reuse" and doc["base"] == "page-count-5.18"
    assert doc["description"] == v.heading and doc["rule_file"] == str(d / "mapcount_reuse.py")
    origins = {(c["scenario"], c["property"]): c["origin"] for c in doc["cells"] if c["origin"]}
    assert origins == {("my-vmsplice", "missed-cow"): "new", ("my-ro-pin", "wrong-cow"): "inherited"}
    # Without the comparison: no base runs, no marks.
    alone = verify(rule, [d], against_base=False)
    assert not alone.base_runs and all(c.origin is None for c in alone.cells.values())


def test_verify_a_built_in_rule_and_a_reuse_rule(tmp_path: Path) -> None:
    d = project(tmp_path / "proj")
    v = verify("page-count-5.18", [d / "my-ro-pin.toml"])
    assert v.base is None and not v.base_runs
    assert v.heading == builtin_rules()["page-count-5.18"].describe()  # a built-in era: its kernel versions
    assert "failures against" not in v.text() and v.cells["my-ro-pin", "wrong-cow"].origin is None
    # A --reuse rule: the rule it changes is its base.
    r = load_rule("page-count-5.18", "mapcount == 1")
    v = verify(r, [d / "my-ro-pin.toml", d / "my-vmsplice.toml"])
    assert v.base is builtin_rules()["page-count-5.18"]
    assert v.heading == r.describe()
    assert {(s, p): c.origin for s, p, c in v.failures()} == {
        ("my-ro-pin", "wrong-cow"): INHERITED,
        ("my-vmsplice", "missed-cow"): NEW,
    }


def test_a_run_that_does_not_end_is_compared_with_the_base_too(tmp_path: Path) -> None:
    s = _file(tmp_path / "race.toml", UNMAP_RACE)
    r = _file(tmp_path / "r.py", RULE.replace("page-count-5.18", "anon-exclusive"))
    v = verify(str(r), [s])
    assert v.cells["unmap-race", RUNS_END].verdict is Verdict.VIOLATED
    assert v.cells["unmap-race", RUNS_END].origin == INHERITED  # anon-exclusive's runs end there no better
    # Every property, not only the failed ones: the column is checked by every run.
    assert [tuple(x.properties) for x in v.base_runs] == [tuple(p for p in v.properties if p != RUNS_END)]
