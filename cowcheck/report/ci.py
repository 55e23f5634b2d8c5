"""A gate run as the files CI systems display: JUnit XML and SARIF 2.1.0.

A SARIF result is placed where code scanning can show it: on the line of the
``[[check]]`` (or ``[[counterexample]]``) of the user's config that failed, by a path
relative to the root of the repository that holds the config (``%SRCROOT%``). The
scenario or saved trace it ran is a related location where it is the user's own file,
never where it is one bundled with cowcheck.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cowcheck import __version__
from cowcheck.checks.gate import GateResult, GateRun
from cowcheck.engine import STUCK, UNREACHED
from cowcheck.input.bundled import counterexamples_dir, models_dir, properties_dir
from cowcheck.input.properties import all_properties

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# Verdict changes that are not one property's violation.
_NOW_HOLDS = "verdict-now-holds"
_INCOMPLETE = "verdict-incomplete"
_REPLAY = "counterexample-no-longer-fails"


def write_junit(run: GateRun, path: Path) -> Path:
    """One testsuite, a testcase per check and per counterexample. A failure carries
    the message (with the search options where not the defaults) and, where there is
    one, the rendered counterexample; a case that passed says the same in system-out."""
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
        if r.passed:
            ET.SubElement(case, "system-out").text = r.detail
        else:
            fail = ET.SubElement(case, "failure", message=r.detail, type=_rule_id(r))
            fail.text = r.trace_text or None
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


SRCROOT = "%SRCROOT%"


def source_root(config: Path) -> Path:
    """What the config's path is relative to in SARIF: the git work tree that holds it
    (the repository code scanning shows), else the current directory where the config
    is below it, else the config's own directory."""
    config = config.resolve()
    for d in config.parents:
        if (d / ".git").exists():
            return d
    cwd = Path.cwd().resolve()
    return cwd if config.is_relative_to(cwd) else config.parent


def _bundled(p: Path) -> bool:
    """A file that comes with cowcheck, not one of the user's."""
    package = Path(__file__).resolve().parents[1]
    roots = (package, models_dir().resolve(), properties_dir().resolve(), counterexamples_dir().resolve())
    return any(p.is_relative_to(r) for r in roots)


def _uri(p: Path) -> str:
    """A relative path as a URI reference: '/'-separated, each segment percent-encoded."""
    return "/".join(quote(part) for part in p.parts)


def _location(path: Path, root: Path, line: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(path.relative_to(root)), "uriBaseId": SRCROOT}}
    physical["region"] = {"startLine": line or 1}
    return {"physicalLocation": physical}


def _own_file(file: str, root: Path) -> Path | None:
    """The scenario or trace file of a result, resolved, where it is the user's own
    (below the source root, not bundled with cowcheck)."""
    if not file:
        return None
    p = Path(file).resolve()
    if not p.is_file() or _bundled(p) or not p.is_relative_to(root):
        return None
    return p


def write_sarif(run: GateRun, path: Path, root: Path | None = None) -> Path:
    """A result per failed check or counterexample, at its table in the config (see the
    module's docstring); ``root`` is what the paths are relative to (default:
    ``source_root`` of the config)."""
    config = run.config.path.resolve()
    root = (root or source_root(config)).resolve()
    if not config.is_relative_to(root):
        root = config.parent
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
        text = f"{r.name}: {r.detail}"
        own = _own_file(r.file, root)
        related: list[dict[str, Any]] = []
        if own is not None:
            what = "scenario" if r.kind == "check" else "saved trace"
            related.append({"id": 1, **_location(own, root, None), "message": {"text": f"the {what}"}})
            shown = own.relative_to(root).as_posix().replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
            text += f" ({what}: [{shown}](1))"  # a link to related location 1 (SARIF 3.11.6)
        res: dict[str, Any] = {
            "ruleId": rid,
            "ruleIndex": next(i for i, x in enumerate(rules) if x["id"] == rid),
            "level": "error",
            "message": {"text": text},
            "locations": [_location(config, root, r.line)],
        }
        if related:
            res["relatedLocations"] = related
        results.append(res)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "cowcheck", "version": __version__, "rules": rules}},
                "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri().rstrip("/") + "/"}},
                "results": results,
            }
        ],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path
