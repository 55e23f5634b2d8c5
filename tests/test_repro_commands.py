"""Issue 21, item 7: what users copy reproduces what they saw.

Every printed reproduction (the summary line, `show` in each format, `replay`,
`report`, the gate's "Reproduce" line) comes from one builder (repro.CheckOptions),
carries every option that decides the verdict, and saved traces record those options.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from conftest import run_cli_in

from cowcheck.api import check
from cowcheck.checks.gate import GateCheck, run_check
from cowcheck.checks.saved_trace import replay_file, save
from cowcheck.engine import Bounds, SearchOptions, StoreSpec
from cowcheck.report.repro import CheckOptions

RULE_FILE = """\
from cowcheck.rules import rule_class


class Mine(rule_class("page-count")):
    name = "mine"


RULE = Mine()
"""


def _reproduce(out: str) -> str:
    m = re.search(r"; reproduce: (cowcheck check .*)$", out, re.M)
    assert m, out
    return m.group(1)


def test_a_strict_trace_reproduces_with_the_printed_command(tmp_path: Path) -> None:
    """The issue's example: the command printed for a --strict trace dropped --strict,
    and ran to "holds". Every printed command must fail as the original did."""
    rc, out, _ = run_cli_in(tmp_path, "check", "fork-odirect", "-r", "anon-exclusive", "--strict", "--save", "t.json")
    assert rc == 1 and "violated: fork-odirect under anon-exclusive --strict: missed-cow" in out
    cmd = _reproduce(out)
    assert cmd == "cowcheck check fork-odirect -r anon-exclusive --strict"
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["command"] == cmd and doc["strict"] is True
    # What replay, show (each format) and the saved trace print is that same command.
    rc, rout, _ = run_cli_in(tmp_path, "replay", "t.json")
    assert rc == 1 and f"check every path: {cmd}" in rout
    rc, cols, _ = run_cli_in(tmp_path, "show", "t.json")
    assert rc == 0 and f"check every path: {cmd}" in cols and "reproduce: cowcheck replay t.json" in cols
    rc, md, _ = run_cli_in(tmp_path, "show", "t.json", "-f", "markdown")
    assert rc == 0 and f"Check every path: `{cmd}`" in md
    rc, _, _ = run_cli_in(tmp_path, "show", "t.json", "-f", "html", "-o", "t.html")
    assert rc == 0 and f"<code>{cmd}</code>" in (tmp_path / "t.html").read_text()
    # Run as printed: it fails as the original did.
    rc, again, _ = run_cli_in(tmp_path, *shlex.split(cmd)[1:], "-q")
    assert rc == 1 and "missed-cow in 5 steps" in again and _reproduce(again) == cmd


def test_every_verdict_affecting_option_is_in_the_command() -> None:
    o = CheckOptions(
        "odirect-swap",
        "page-count",
        "refcount == 1",
        True,
        ("wrong-cow", "missed-cow"),
        "structural",
        SearchOptions(
            Bounds(max_states=1000, max_depth=9, timeout=2.5),
            StoreSpec.parse("bitstate:8"),
            symmetry=True,
            por=True,
            subsume=False,
            workers=2,
        ),
    )
    assert o.command == (
        "cowcheck check odirect-swap -r page-count --reuse 'refcount == 1' --strict -p wrong-cow -p missed-cow "
        "--form structural --max-states 1000 --max-depth 9 --timeout 2.5 --store bitstate:8 "
        "--symmetry --por --no-subsume -j 2"
    )


def test_reductions_are_carried_only_where_they_can_change_the_verdict() -> None:
    """Without a bound or a lossy store, symmetry, POR, subsumption and -j give the same
    verdict, so the command leaves them out; with a bound they decide what fits."""
    reduced = SearchOptions(symmetry=True, por=True, subsume=False, workers=4)
    assert CheckOptions("open-standard", "page-count", search=reduced).argv() == ["open-standard", "-r", "page-count"]
    bounded = CheckOptions("open-standard", "page-count", search=reduced.with_bounds(Bounds(max_states=50)))
    assert bounded.argv()[-6:] == ["50", "--symmetry", "--por", "--no-subsume", "-j", "4"]
    fingerprint = StoreSpec.parse("fingerprint")
    lossy = CheckOptions("open-standard", "page-count", search=SearchOptions(store=fingerprint, symmetry=True))
    assert lossy.argv()[-3:] == ["--store", "fingerprint", "--symmetry"]


@pytest.mark.parametrize(
    ("kwargs", "verdict", "want"),
    [
        ({}, "holds", "cowcheck check odirect-clear-refs -r anon-exclusive"),
        (
            {"properties": ["wrong-cow"], "form": "structural", "options": SearchOptions(Bounds(max_states=3))},
            "incomplete",
            "cowcheck check odirect-clear-refs -r anon-exclusive -p wrong-cow --form structural --max-states 3",
        ),
        ({"strict": True, "options": SearchOptions(store=StoreSpec.parse("bitstate:4"))}, "violated", None),
    ],
)
def test_the_summary_line_ends_with_the_command(kwargs: dict[str, object], verdict: str, want: str | None) -> None:
    scenario = "fork-odirect" if verdict == "violated" else "odirect-clear-refs"
    rep = check(scenario, "anon-exclusive", **kwargs)  # type: ignore[arg-type]
    assert rep.summary().startswith(f"{verdict}:")
    want = want or "cowcheck check fork-odirect -r anon-exclusive --strict --store bitstate:4"
    assert rep.summary().endswith(f"; reproduce: {want}") and rep.command == want
    assert rep.to_json()["command"] == want


def test_a_rule_file_and_reuse_on_it_are_named_and_saved(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(RULE_FILE)
    rc, out, _ = run_cli_in(
        tmp_path, "check", "odirect-swap", "-r", "mine.py", "--reuse", "refcount == 1", "--save", "t.json"
    )
    assert rc == 1
    cmd = _reproduce(out)
    assert cmd == "cowcheck check odirect-swap -r mine.py --reuse 'refcount == 1'"
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["rule"] == "mine+reuse(refcount == 1)" and doc["rule_file"] == "mine.py"
    assert doc["options"]["reuse"] == "refcount == 1"
    rp = replay_file(tmp_path / "t.json")  # the rule comes back from its file, with the expression
    assert rp.outcome == "fails" and rp.rule.name == "mine+reuse(refcount == 1)"
    rc, again, _ = run_cli_in(tmp_path, *shlex.split(cmd)[1:], "-q")
    assert rc == 1 and _reproduce(again) == cmd


def test_saved_bounds_and_store_reach_the_replays_check(tmp_path: Path) -> None:
    options = SearchOptions(Bounds(max_states=500), StoreSpec.parse("bitstate:2"))
    rep = check("fork-odirect", "anon-exclusive", ["missed-cow"], strict=True, options=options)
    p = save(rep, tmp_path / "t.json")
    doc = json.loads(p.read_text())
    assert doc["options"]["max_states"] == 500 and doc["options"]["store"] == "bitstate:2"
    want = "cowcheck check fork-odirect -r anon-exclusive --strict -p missed-cow --max-states 500 --store bitstate:2"
    assert doc["command"] == want and replay_file(p).command == want


def test_the_gate_and_its_report_reproduce_with_every_option(tmp_path: Path) -> None:
    c = GateCheck("strict", "anon-exclusive", "fork-odirect", "holds", ("missed-cow",), True, 1000)
    res, _ = run_check(c)
    want = "cowcheck check fork-odirect -r anon-exclusive --strict -p missed-cow --max-states 1000"
    assert not res.passed and res.command == want
    assert res.shown is not None and res.shown.source == want
    assert res.trace_text.endswith(f"Reproduce: {want}")
    (tmp_path / "cowcheck.toml").write_text(
        'rule = "anon-exclusive"\n[[check]]\nname = "strict"\nscenario = "fork-odirect"\nstrict = true\n'
        'properties = ["missed-cow"]\nmax_states = 1000\nexpect = "holds"\n'
    )
    rc, out, _ = run_cli_in(tmp_path, "gate")
    assert rc == 1 and f"Reproduce: {want}" in out
    rc, _, _ = run_cli_in(tmp_path, "report", "-o", "r.html")
    assert rc == 0 and f"Reproduce: <code>{want}</code>" in (tmp_path / "r.html").read_text()
