"""`cowcheck init` and `cowcheck gate`: the CI property gate, end to end in a fresh
temporary project, as a CI job would run it."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import run_cli_in

ROOT = Path(__file__).resolve().parent.parent


cli = run_cli_in


def junit(path: Path) -> dict[str, str | None]:
    """testcase name -> failure type (None where it passed)."""
    out: dict[str, str | None] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        fail = case.find("failure")
        out[str(case.get("name"))] = None if fail is None else fail.get("type")
    return out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    rc, _, err = cli(tmp_path, "init")
    assert rc == 0, err
    assert (tmp_path / "cowcheck.toml").is_file()
    return tmp_path


def test_init_then_gate_passes(project: Path) -> None:
    rc, out, err = cli(project, "gate", "--sarif", "gate.sarif")
    assert rc == 0, out + err
    cases = junit(project / "cowcheck-junit.xml")
    assert len(cases) == 5 and all(t is None for t in cases.values())
    sarif = json.loads((project / "gate.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []


def test_changing_the_rule_to_page_count_fails_and_names_the_checks(project: Path) -> None:
    cfg = project / "cowcheck.toml"
    cfg.write_text(cfg.read_text().replace('rule = "anon-exclusive"', 'rule = "page-count"'))
    rc, out, _ = cli(project, "gate", "--sarif", "gate.sarif")
    assert rc == 1
    cases = junit(project / "cowcheck-junit.xml")
    failed = {n: t for n, t in cases.items() if t is not None}
    assert failed == {
        "odirect-clear-refs under page-count": "wrong-cow",
        "odirect-swap under page-count": "wrong-cow",
        "gup-fast-fork under page-count": "missed-cow",
    }
    # The failure carries the rendered counterexample, as in the terminal.
    body = ET.parse(project / "cowcheck-junit.xml").getroot().find(".//failure")
    assert body is not None and "VIOLATION" in (body.text or "")
    assert "FAILED odirect-swap under page-count" in out
    results = json.loads((project / "gate.sarif").read_text())["runs"][0]["results"]
    assert sorted(r["ruleId"] for r in results) == ["missed-cow", "wrong-cow", "wrong-cow"]
    assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(".toml") for r in results)


def test_a_check_expected_to_fail_that_now_holds_fails_the_gate(tmp_path: Path) -> None:
    (tmp_path / "cowcheck.toml").write_text(
        'rule = "anon-exclusive"\n[[check]]\nscenario = "odirect-clear-refs"\nexpect = "wrong-cow"\n'
    )
    rc, out, _ = cli(tmp_path, "gate")
    assert rc == 1 and "now holds" in out
    assert junit(tmp_path / "cowcheck-junit.xml") == {"odirect-clear-refs under anon-exclusive": "verdict-now-holds"}


def test_saved_counterexamples_are_replayed(tmp_path: Path) -> None:
    shutil.copy(ROOT / "counterexamples" / "odirect-clear-refs--page-count.json", tmp_path / "race.json")
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text('[project]\nname = "x"\n\n[tool.cowcheck]\n[[tool.cowcheck.counterexample]]\npath = "race.json"\n')
    rc, out, err = cli(tmp_path, "gate")
    assert rc == 0, out + err
    # Replayed under a rule that fixed the race (the entry's own rule), the saved
    # trace no longer fails: the gate fails.
    cfg.write_text(cfg.read_text() + 'rule = "anon-exclusive"\n')
    rc, out, _ = cli(tmp_path, "gate")
    assert rc == 1 and "no longer fails" in out
    assert junit(tmp_path / "cowcheck-junit.xml") == {"replay race.json": "counterexample-no-longer-fails"}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[[check]]\nscenario = "odirect-swap"\nexpect = "holds"\nrule = "page-count"\nbogus = 1\n', "check[0].bogus"),
        ('[[check]]\nscenario = "odirect-swap"\nexpect = "maybe"\nrule = "page-count"\n', "check[0].expect"),
        ('[[check]]\nscenario = "odirect-swap"\nexpect = "holds"\n', "check[0].rule"),
        ('rule = "page-count"\n[[counterexample]]\npath = "missing.json"\n', "counterexample[0].path"),
        ('rule = "page-count"\n', "check"),
        ("[[check]\n", None),
    ],
)
def test_bad_config_is_one_line_exit_2(tmp_path: Path, text: str, field: str | None) -> None:
    (tmp_path / "cowcheck.toml").write_text(text)
    rc, _, err = cli(tmp_path, "gate")
    assert rc == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "cowcheck.toml" in err
    if field is not None:
        assert field in err


def test_unknown_rule_or_scenario_in_a_check_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "cowcheck.toml").write_text(
        'rule = "no-such-rule"\n[[check]]\nscenario = "odirect-swap"\nexpect = "holds"\n'
    )
    rc, _, err = cli(tmp_path, "gate")
    assert rc == 2 and "no-such-rule" in err and "Traceback" not in err


def test_no_config_and_init_over_an_existing_one_are_exit_2(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rc, _, err = cli(project, "init")
    assert rc == 2 and "already exists" in err
    empty = tmp_path_factory.mktemp("empty")
    rc, _, err = cli(empty, "gate")
    assert rc == 2 and "cowcheck init" in err


SMALL_OPEN = """
name = "small-open"
kind = "open"
gup_kinds = [["FOLL_PIN", "FOLL_WRITE"], ["FOLL_GET"]]
[[vpage]]
state = "present"
[budget]
fork = 1
write = 1
gup = 1
dma_write = 1
clear_refs = 1
total = 3
"""


@pytest.mark.parametrize("rule", ["anon-exclusive", "page-count"])
def test_gate_workers_give_the_serial_results(project: Path, rule: str) -> None:
    """`gate -j 2` runs the checks in a pool, and the open check expected to hold with
    the partitioned search: the same verdicts and traces as one process."""
    from cowcheck.checks.gate import GateRun, load_config, run_gate
    from cowcheck.engine import SearchOptions

    (project / "small-open.toml").write_text(SMALL_OPEN)
    cfg = project / "cowcheck.toml"
    text = cfg.read_text().replace('rule = "anon-exclusive"', f'rule = "{rule}"')
    cfg.write_text(text + '\n[[check]]\nscenario = "small-open.toml"\nexpect = "holds"\n')
    config = load_config(cfg)
    serial, pooled = run_gate(config), run_gate(config, options=SearchOptions(workers=2))

    def key(run: GateRun) -> list[tuple[str, str, str, bool, str]]:
        return [(r.name, r.expected, r.got, r.passed, r.trace_text) for r in run.results]

    assert key(pooled) == key(serial)
    failed = {r.name: r.got for r in pooled.results if not r.passed}
    if rule == "anon-exclusive":
        assert failed == {}
    else:
        assert set(failed) >= {"odirect-clear-refs under page-count", "gup-fast-fork under page-count"}
    rc, out, err = cli(project, "gate", "-j", "2")
    assert rc == (0 if rule == "anon-exclusive" else 1), out + err
    assert junit(project / "cowcheck-junit.xml").keys() == {r.name for r in serial.results}
