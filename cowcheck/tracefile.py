"""Saved counterexamples: versioned JSON that replays on its own.

The file embeds the scenario's TOML source (so it replays even if the catalog
changes), the rule name, the properties and contract, the bounds, and the steps as
actions. ``replay`` re-executes the actions under any rule and reports whether the
trace still fails.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cowcheck.api import CheckReport, build_model, resolve_rule
from cowcheck.catalog import display_path
from cowcheck.errors import InputError
from cowcheck.mm.actions import Action
from cowcheck.mm.rule import Rule
from cowcheck.scenario import parse_scenario
from cowcheck.trace import Trace, build_trace

FORMAT = "cowcheck-trace"
VERSION = 1


def to_document(report: CheckReport) -> dict[str, Any]:
    if report.trace is None or report.trace.property_id is None:
        raise ValueError("only a violated check has a counterexample to save")
    sc = report.scenario
    st = report.stats
    return {
        "format": FORMAT,
        "version": VERSION,
        "rule": report.rule.name,
        "scenario": {
            "name": sc.name,
            "path": display_path(sc.path),
            "sha256": hashlib.sha256(sc.text.encode()).hexdigest(),
            "toml": sc.text,
        },
        "properties": report.properties,
        "form": report.form,
        "strict": report.strict,
        "bounds": report.bounds_text(),
        "search": {"states": st.states, "transitions": st.transitions, "bfs_length": report.raw_length},
        "violation": {"property": report.trace.property_id, "message": report.trace.message},
        "steps": [
            {"actor": s.actor, "label": s.label, "action": s.action.to_json(), "notes": list(s.notes)}
            for s in report.trace.steps
        ],
    }


def save(report: CheckReport, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(to_document(report), indent=2) + "\n", encoding="utf-8")
    return p


@dataclass(frozen=True, slots=True)
class Replay:
    document: dict[str, Any]
    rule: Rule
    trace: Trace
    expected_property: str

    @property
    def still_fails(self) -> bool:
        return self.trace.property_id is not None

    @property
    def same_violation(self) -> bool:
        return self.trace.property_id == self.expected_property

    def describe(self) -> str:
        name = self.document["scenario"]["name"]
        if self.still_fails:
            return (
                f"still fails under {self.rule.name}: {self.trace.property_id} at step "
                f"{len(self.trace)} of {len(self.document['steps'])} ({name})"
            )
        if self.trace.diverged_at is not None:
            return (
                f"no longer fails under {self.rule.name}: step {self.trace.diverged_at + 1} is not "
                f"enabled there ({name})"
            )
        return f"no longer fails under {self.rule.name}: the trace runs to the end with no violation ({name})"


def load_document(path: str | Path) -> dict[str, Any]:
    where = str(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(where, None, "no such trace file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(where, None, f"cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise InputError(where, None, f"malformed JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(where, "format", f"expected {FORMAT!r}")
    if doc.get("version") != VERSION:
        raise InputError(where, "version", f"expected {VERSION}, got {doc.get('version')!r}")
    for key in ("rule", "scenario", "steps", "violation"):
        if key not in doc:
            raise InputError(where, key, "missing")
    return doc


def replay_file(path: str | Path, rule: Rule | str | None = None) -> Replay:
    where = str(path)
    doc = load_document(path)
    sc_doc = doc["scenario"]
    if not isinstance(sc_doc, dict) or not isinstance(sc_doc.get("toml"), str):
        raise InputError(where, "scenario.toml", "expected the embedded scenario source")
    scenario = parse_scenario(sc_doc["toml"], f"{where} (embedded scenario)")
    r = resolve_rule(rule if rule is not None else doc["rule"])
    model = build_model(scenario, r, doc.get("properties"), doc.get("form", "observational"), bool(doc.get("strict")))
    try:
        actions = [Action.from_json(s["action"]) for s in doc["steps"]]
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(where, "steps", f"expected steps with an action each ({e})") from None
    trace = build_trace(model, actions)
    return Replay(doc, r, trace, str(doc["violation"].get("property")))
