"""Saved counterexamples: versioned JSON that replays on its own.

The file embeds the scenario's TOML source (so it replays even if the catalog
changes), the rule name (and, for a rule file, its path relative to the trace), the
properties and contract, the bounds, and the steps as
actions. ``replay`` re-executes the actions under any rule and reports whether the
trace still fails.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cowcheck.api import CheckReport, build_model, resolve_rule
from cowcheck.catalog import display_path
from cowcheck.errors import InputError
from cowcheck.mm.actions import Action
from cowcheck.mm.rule import Rule
from cowcheck.reuse_expr import split_spec
from cowcheck.rules import builtin_rules
from cowcheck.scenario import parse_scenario
from cowcheck.trace import Trace, build_trace

FORMAT = "cowcheck-trace"
VERSION = 1


def _rule_file(rule: Rule) -> Path | None:
    """The file a rule came from, unless it is a built-in (or built from one by name)."""
    builtin = builtin_rules().get(rule.name)
    if (builtin is not None and type(builtin) is type(rule)) or split_spec(rule.name) is not None:
        return None
    try:
        src = inspect.getsourcefile(type(rule))
    except TypeError:
        return None
    return Path(src) if src else None


def to_document(report: CheckReport, where: Path | None = None) -> dict[str, Any]:
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
        **_rule_file_field(report.rule, where),
        "steps": [
            {"actor": s.actor, "label": s.label, "action": s.action.to_json(), "notes": list(s.notes)}
            for s in report.trace.steps
        ],
    }


def _rule_file_field(rule: Rule, where: Path | None) -> dict[str, str]:
    """``rule_file``: where a rule from a file came from, relative to the trace's
    directory, so that the trace replays without naming the rule again."""
    f = _rule_file(rule)
    if f is None:
        return {}
    base = (where or Path.cwd()).resolve()
    try:
        return {"rule_file": os.path.relpath(f.resolve(), base)}
    except ValueError:  # another drive
        return {"rule_file": str(f.resolve())}


def save(report: CheckReport, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(to_document(report, p.parent), indent=2) + "\n", encoding="utf-8")
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

    @property
    def title(self) -> str:
        """How the replayed trace is headed: "<scenario> under <rule>"."""
        return f"{self.document['scenario']['name']} under {self.rule.name}"

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


def _saved_rule(doc: dict[str, Any], path: Path) -> str:
    """The saved rule: its file when it came from one and the name is not built in."""
    name = str(doc["rule"])
    f = doc.get("rule_file")
    if name in builtin_rules() or split_spec(name) is not None or not isinstance(f, str):
        return name
    p = Path(f) if Path(f).is_absolute() else path.parent / f
    if not p.is_file():
        raise InputError(str(path), "rule_file", f"the rule file {str(p)!r} is gone; replay with --rule FILE")
    return str(p)


def replay_file(path: str | Path, rule: Rule | str | None = None) -> Replay:
    where = str(path)
    doc = load_document(path)
    sc_doc = doc["scenario"]
    if not isinstance(sc_doc, dict) or not isinstance(sc_doc.get("toml"), str):
        raise InputError(where, "scenario.toml", "expected the embedded scenario source")
    scenario = parse_scenario(sc_doc["toml"], f"{where} (embedded scenario)")
    r = resolve_rule(rule if rule is not None else _saved_rule(doc, Path(path)))
    model = build_model(scenario, r, doc.get("properties"), doc.get("form", "observational"), bool(doc.get("strict")))
    try:
        actions = [Action.from_json(s["action"]) for s in doc["steps"]]
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(where, "steps", f"expected steps with an action each ({e})") from None
    trace = build_trace(model, actions)
    return Replay(doc, r, trace, str(doc["violation"].get("property")))
