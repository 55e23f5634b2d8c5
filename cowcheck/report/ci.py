"""A gate run as the files CI systems display: JUnit XML and SARIF 2.1.0."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from cowcheck.checks.gate import GateResult, GateRun
from cowcheck.engine import STUCK, UNREACHED
from cowcheck.input.properties import all_properties

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# Verdict changes that are not one property's violation.
_NOW_HOLDS = "verdict-now-holds"
_INCOMPLETE = "verdict-incomplete"
_REPLAY = "counterexample-no-longer-fails"


def write_junit(run: GateRun, path: Path) -> Path:
    """One testsuite, a testcase per check and per counterexample; a failure carries
    the message and, where there is one, the rendered counterexample."""
    total = sum(r.seconds for r in run.results)
    suites = ET.Element("testsuites", name="cowcheck", tests=str(len(run.results)), failures=str(len(run.failed)))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"cowcheck gate ({run.config.path.name})",
        tests=str(len(run.results)),
        failures=str(len(run.failed)),
        errors="0",
        skipped="0",
        time=f"{total:.3f}",
    )
    for r in run.results:
        case = ET.SubElement(suite, "testcase", classname=f"cowcheck.{r.kind}", name=r.name, time=f"{r.seconds:.3f}")
        if not r.passed:
            fail = ET.SubElement(case, "failure", message=r.message, type=_rule_id(r))
            fail.text = r.trace_text or r.message
        out = ET.SubElement(case, "system-out")
        out.text = f"expected {r.expected}, got {r.got}: {r.detail}"
    ET.indent(suites)
    path.write_bytes(ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n")
    return path


def _rule_id(r: GateResult) -> str:
    """What changed: a fixed bug, an expected failure that now holds, a bound, or the
    property that fails now (a saved counterexample that fails another way included)."""
    if r.got == "holds":
        return _REPLAY if r.kind == "counterexample" else _NOW_HOLDS
    if r.got == "incomplete":
        return _INCOMPLETE
    return r.property_id or r.got


def write_sarif(run: GateRun, path: Path) -> Path:
    rules: list[dict[str, Any]] = [
        {"id": p.id, "name": p.id, "shortDescription": {"text": p.title}, "fullDescription": {"text": p.models}}
        for p in all_properties().values()
    ]
    rules += [
        {"id": _NOW_HOLDS, "shortDescription": {"text": "a check expected to fail now holds"}},
        {"id": _INCOMPLETE, "shortDescription": {"text": "a check's search stopped at a bound"}},
        {"id": _REPLAY, "shortDescription": {"text": "a saved counterexample no longer fails"}},
        {"id": STUCK, "shortDescription": {"text": "a litmus run ends before its programs do"}},
        {"id": UNREACHED, "shortDescription": {"text": "a litmus step runs on no run"}},
    ]
    results = []
    for r in run.failed:
        rid = _rule_id(r)
        if all(x["id"] != rid for x in rules):  # a verdict no rule above names
            rules.append({"id": rid, "shortDescription": {"text": rid}})
        res: dict[str, Any] = {
            "ruleId": rid,
            "ruleIndex": next(i for i, x in enumerate(rules) if x["id"] == rid),
            "level": "error",
            "message": {"text": f"{r.name}: {r.detail}"},
        }
        if r.file:
            res["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": Path(r.file).as_posix()}}}]
        results.append(res)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "cowcheck", "rules": rules}},
                "results": results,
            }
        ],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path
