"""`cowcheck init` and `cowcheck gate`: the CI property gate, end to end in a fresh
temporary project, as a CI job would run it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import chromium, needs_chromium, run_cli_in

if TYPE_CHECKING:
    from cowcheck.checks.catalog import CatalogRow

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
    # Each result is placed on its [[check]] in the user's config, not in cowcheck's files.
    lines = [n for n, text in enumerate(cfg.read_text().splitlines(), 1) if text == "[[check]]"]
    places = [r["locations"][0]["physicalLocation"] for r in results]
    assert [p["artifactLocation"] for p in places] == [{"uri": "cowcheck.toml", "uriBaseId": "%SRCROOT%"}] * 3
    assert [p["region"]["startLine"] for p in places] == lines[:3]
    assert all("relatedLocations" not in r for r in results)  # bundled scenarios: not the user's files


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


# -- where the results point: the config's lines, SARIF and JUnit -----------------------

CONFIG_WITH_COMMENTS = """\
# [[check]] in a comment is no table
rule = "page-count"

[[counterexample]]   # a saved race
path = "race.json"

  [[ "check" ]]
name = \"\"\"
[[check]]
a name over lines, with what looks like a table in it\"\"\"
scenario = "small-open.toml"
expect = "holds"     # fails: page-count loses the DMA write
"""


def test_config_records_the_line_of_each_table(tmp_path: Path) -> None:
    """tomllib gives no positions: the loader finds each [[check]] and [[counterexample]]
    header in the text, past comments, strings, arrays and odd spacing, in any order."""
    from cowcheck.checks.gate import _lines, load_config

    shutil.copy(ROOT / "counterexamples" / "odirect-clear-refs--page-count.json", tmp_path / "race.json")
    (tmp_path / "small-open.toml").write_text(SMALL_OPEN)
    assert _lines(CONFIG_WITH_COMMENTS, ("check",), 1) == [7]
    # A line inside an array that reads as a header is a value, not a table.
    assert _lines('[[check]]\nx = [\n[["check"]]\n]\n[[check]]\n', ("check",), 2) == [1, 5]
    text = CONFIG_WITH_COMMENTS + '\n[[check]]\nname = "second"\nscenario = "odirect-swap"\nexpect = "wrong-cow"\n'
    text += '\n# between\n[[counterexample]]\nname = "again"\npath = "race.json"\n'
    cfg = tmp_path / "cowcheck.toml"
    cfg.write_text(text)
    config = load_config(cfg)
    lines = text.splitlines()
    assert [c.line for c in config.checks] == [7, 14]
    assert [x.line for x in config.counterexamples] == [4, 20]
    assert all("[[" in lines[n - 1] for n in (7, 14, 4, 20))
    # The same tables in pyproject.toml, under [tool.cowcheck]: four lines further down.
    body = (
        text.replace("[[counterexample]]", "[[tool.cowcheck.counterexample]]")
        .replace('\n[[check]]\nname = "second', '\n[[tool.cowcheck.check]]\nname = "second')
        .replace('[[ "check" ]]', '[[ tool . cowcheck . "check" ]]')
        .replace('rule = "page-count"', '[tool.cowcheck]\nrule = "page-count"')
    )
    py = tmp_path / "pyproject.toml"
    py.write_text('[project]\nname = "x"\n\n' + body)
    moved = load_config(py)
    assert [c.line for c in moved.checks] == [11, 18] and [x.line for x in moved.counterexamples] == [8, 24]
    # An array written inline has no headers: no lines, the rest as before.
    inline = tmp_path / "inline" / "cowcheck.toml"
    inline.parent.mkdir()
    inline.write_text('rule = "page-count"\ncheck = [{ scenario = "odirect-swap", expect = "wrong-cow" }]\n')
    assert [c.line for c in load_config(inline).checks] == [None]
    # The line is not part of what a check is: moving a table changes no check.
    assert moved.checks == config.checks


def _failing_project(tmp_path: Path) -> Path:
    """A git work tree with the config in a subdirectory: a failing check of a bundled
    scenario, one of the project's own scenario, and a saved trace no longer failing."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    sub = tmp_path / "tools" / "cow check"  # a space: the URI is percent-encoded
    sub.mkdir(parents=True)
    (sub / "small-open.toml").write_text(SMALL_OPEN)
    shutil.copy(ROOT / "counterexamples" / "odirect-clear-refs--page-count.json", sub / "race.json")
    (sub / "cowcheck.toml").write_text(
        'rule = "page-count"\n\n'
        "# bundled\n[[check]]\n"
        'scenario = "odirect-swap"\nexpect = "holds"\n\n'
        "[[check]]\n"
        'name = "still holds"\nscenario = "vmsplice-child"\nexpect = "holds"\n\n'
        "[[counterexample]]\n"
        'path = "race.json"\nrule = "anon-exclusive"\n\n'
        "[[check]]  # the project's own\n"
        'scenario = "small-open.toml"\nexpect = "holds"\n'
    )
    return sub / "cowcheck.toml"


def test_sarif_places_failures_on_the_config_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cowcheck.checks.gate import GateRun, load_config, run_gate
    from cowcheck.report.ci import write_sarif

    cfg = _failing_project(tmp_path)
    monkeypatch.chdir(cfg.parent)  # where a user runs the gate: paths still from the repository root
    run = run_gate(load_config(Path("cowcheck.toml")))
    assert [r.passed for r in run.results] == [False, True, False, False]
    sarif = json.loads(write_sarif(run, tmp_path / "out.sarif").read_text())
    (only,) = sarif["runs"]
    assert only["originalUriBaseIds"] == {"%SRCROOT%": {"uri": tmp_path.resolve().as_uri() + "/"}}
    results = only["results"]
    assert [r["ruleId"] for r in results] == ["wrong-cow", "wrong-cow", "counterexample-no-longer-fails"]
    where = [r["locations"][0]["physicalLocation"] for r in results]
    assert {json.dumps(p["artifactLocation"]) for p in where} == {
        json.dumps({"uri": "tools/cow%20check/cowcheck.toml", "uriBaseId": "%SRCROOT%"})
    }
    # The failed checks' tables, then the counterexample's (results in the gate's order).
    assert [p["region"]["startLine"] for p in where] == [4, 17, 13]
    # The project's own scenario and trace are related locations; the bundled scenario is not.
    related = [
        [x["physicalLocation"]["artifactLocation"]["uri"] for x in r.get("relatedLocations", [])] for r in results
    ]
    assert related == [[], ["tools/cow%20check/small-open.toml"], ["tools/cow%20check/race.json"]]
    assert "small-open.toml](1)" in results[1]["message"]["text"]
    assert str(ROOT) not in json.dumps(results) and str(tmp_path) not in json.dumps(results)
    # Outside any git work tree the paths are relative to the current directory.
    shutil.rmtree(tmp_path / ".git")
    monkeypatch.chdir(tmp_path / "tools")
    run = GateRun(load_config(cfg), run.results)
    sarif = json.loads(write_sarif(run, tmp_path / "out.sarif").read_text())
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert uris == {"cow%20check/cowcheck.toml"}


def test_junit_says_each_message_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cowcheck.checks.gate import load_config, run_gate
    from cowcheck.report.ci import write_junit

    cfg = _failing_project(tmp_path)
    run = run_gate(load_config(cfg))
    root = ET.parse(write_junit(run, tmp_path / "j.xml")).getroot()
    cases = list(root.iter("testcase"))
    assert [c.get("name") for c in cases] == [r.name for r in run.results]
    for case, r in zip(cases, run.results, strict=True):
        fail, out = case.find("failure"), case.find("system-out")
        if r.passed:
            assert fail is None and out is not None and out.text == r.detail == "holds, as expected"
        else:
            # The failure says it, with the counterexample where there is one; nothing repeats it.
            assert out is None and fail is not None and fail.get("message") == r.detail
            assert (fail.text or "") == r.trace_text
        assert ET.tostring(case, encoding="unicode").count(r.detail.replace("'", "&apos;")) <= 1
    by_name = {c.get("name"): c.find("failure") for c in cases}
    fail = by_name["odirect-swap under page-count"]
    assert fail is not None and str(fail.get("message")).startswith("expected holds, got wrong-cow: read lost")


# -- report --matrix: the README's grid ------------------------------------------------


class _Cells(HTMLParser):
    """The grid's cells (verdict text, class, link) and every element's id."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.sections: set[str] = set()  # the ids of the counterexamples drawn
        self.rows: list[list[tuple[str, str, str]]] = []
        self.head: list[str] = []
        self._in: str | None = None  # "cell", "scenario", "rule"
        self._cls = ""
        self._href = ""
        self._text = ""
        self._grid = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
            if tag == "section":
                self.sections.add(a["id"])
        if tag == "table":
            self._grid = a.get("id") == "matrix"
        if not self._grid:
            return
        if tag == "tr":
            self.rows.append([])
        cls = a.get("class", "").split()
        if tag == "td" and "scenario" in cls:
            self._in, self._text = "scenario", ""
        elif tag == "th" and "rule" in cls:
            self._in, self._text = "rule", ""
        elif tag == "td" and "cell" in cls:
            self._in, self._text, self._cls, self._href = "cell", "", a["class"], ""
        elif tag == "a" and self._in == "cell":
            self._href = a.get("href", "")
            self._in = "verdict"

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._grid:
            self._grid = False
            self.rows = [r for r in self.rows if r]  # the heading's row has no cells
        if tag == "a" and self._in == "verdict":
            self._in = "cell"
        if tag == "th" and self._in == "rule":
            self.head.append(self._text)
            self._in = None
        if tag == "td" and self._in == "scenario":
            self.rows[-1].append((self._text, "", ""))
            self._in = None
        if tag == "td" and self._in == "cell":
            self.rows[-1].append((self._verdict, self._cls, self._href))
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "verdict":
            self._verdict = data
        elif self._in in ("scenario", "rule"):
            self._text += data


def _matrix_rows(tmp_path: Path) -> list[CatalogRow]:
    """A corner of the catalog, with one scenario file whose expectation is wrong."""
    from cowcheck.checks.catalog import run_catalog
    from cowcheck.input.bundled import scenarios_dir

    wrong = tmp_path / "odirect-swap-claimed.toml"
    text = (scenarios_dir() / "odirect-swap.toml").read_text()
    wrong.write_text(
        text.replace('name = "odirect-swap"', 'name = "odirect-swap-claimed"').replace(
            'page-count = "wrong-cow"', 'page-count = "holds"'
        )
    )
    files = [scenarios_dir() / f"{n}.toml" for n in ("fork-odirect", "gup-fast-fork")] + [wrong]
    return run_catalog(["mapcount", "page-count", "anon-exclusive"], files)


def test_matrix_report_is_the_readme_grid(tmp_path: Path) -> None:
    from cowcheck.checks.matrix import Cell
    from cowcheck.report.document import matrix_html

    rows = _matrix_rows(tmp_path)
    html = matrix_html(rows)
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    p = _Cells()
    p.feed(html)
    # Rows are scenarios (strict ones on their own row), columns are rules, cells the
    # README's symbols: what `cowcheck matrix` prints for the same cells.
    cells = {(c.scenario, c.rule): c for c in map(Cell.of, rows)}
    assert p.head == ["mapcount", "page-count", "anon-exclusive"]
    assert [r[0][0] for r in p.rows] == [
        "fork-odirect",
        "fork-odirect --strict",
        "gup-fast-fork",
        "odirect-swap-claimed",
    ]
    grid = [[row[0][0], *(v for v, _, _ in row[1:])] for row in p.rows]
    assert grid == [[s, *(cells[s, r].symbol() for r in p.head)] for s, *_ in grid]
    assert grid[1][1:] == ["✗ missed-cow (5)"] * 3 and grid[2][1:] == ["✗ missed-cow (7)", "✗ missed-cow (7)", "✓"]
    # Every cell links to its details, which exist; a ✗ to its drawn counterexample.
    for row in p.rows:
        for verdict, _, href in row[1:]:
            assert href.startswith("#") and href[1:] in p.ids
            assert (href[1:] in p.sections) == verdict.startswith("✗")
    n = sum(r.report.trace is not None for r in rows)
    assert html.count("<svg") == n and html.count("back to the matrix") == n
    # The one cell that differs from its scenario file is marked, and says what it expected.
    marked = [(row[0][0], p.head[j]) for row in p.rows for j, (_, cls, _) in enumerate(row[1:]) if "mismatch" in cls]
    assert marked == [("odirect-swap-claimed", "page-count")]
    assert "expected holds</small>" in html and f"{len(rows) - 1} of {len(rows)} cells" in html


@needs_chromium
def test_matrix_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    from cowcheck.report.document import matrix_html

    page = tmp_path / "matrix.html"
    page.write_text(matrix_html(_matrix_rows(tmp_path)), encoding="utf-8")
    shot = tmp_path / "matrix.png"
    dom = chromium(page.as_uri(), shot, "1200,900", tmp_path / "p")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    p = _Cells()
    p.feed(dom)
    assert p.head == ["mapcount", "page-count", "anon-exclusive"] and len(p.rows) == 4
    assert [v for v, _, _ in p.rows[1][1:]] == ["✗ missed-cow (5)"] * 3
