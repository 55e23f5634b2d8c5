"""Saved counterexamples: versioned JSON that replays on its own.

The file embeds the scenario's TOML source (so it replays even if the catalog
changes), the rule name (and, for a rule file, its path relative to the trace), the
properties, contract and form, the rest of the command that found it (``options``:
``--reuse``, the bounds, the store; ``command``: the whole line, for a reader), and
the steps as actions. Version 1 gained ``options`` and ``command`` as optional
fields: older traces lack them and replay as before, and older readers ignore them.

``replay`` checks the file against its embedded scenario first (an unknown op, an
actor or page out of range, a step out of program order: bad input, exit 2), then
re-executes the actions under the saved rule or another. Four outcomes:

* it still fails (exit 1);
* it runs to the end and nothing fails (exit 0: fixed, on this path);
* it cannot be followed: a step is not enabled under this rule, or it fails with a
  property that no single path can show (inconclusive, exit 3; the ``cowcheck check``
  that decides it is in ``Replay.command``);
* the file is invalid (``InputError``, exit 2, naming the JSON path of the field).
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from cowcheck.api import CheckReport, build_model, resolve_rule
from cowcheck.engine import STUCK, UNREACHED
from cowcheck.errors import InputError
from cowcheck.families import builtin_family, family, load_any_rule, parse_scenario
from cowcheck.input.bundled import display_path
from cowcheck.input.reuse_expr import split_spec
from cowcheck.input.scenario import Scenario
from cowcheck.input.trace_file import FORMAT, VERSION, check_digest, digest, load_document, saved_options
from cowcheck.mm.model import MMModel
from cowcheck.mm.property import FORMS
from cowcheck.mm.rule import Rule
from cowcheck.report.counterexample import Trace, build_trace
from cowcheck.report.document import Shown
from cowcheck.report.repro import (
    CheckOptions,
    bundled_scenario_with,
    file_with,
    non_default,
    relpath_from,
    rule_file,
    rule_ref,
)

Outcome = Literal["fails", "fixed", "inconclusive"]
EXIT_CODES: dict[Outcome, int] = {"fails": 1, "fixed": 0, "inconclusive": 3}


def to_document(report: CheckReport, where: Path | None = None) -> dict[str, Any]:
    if report.trace is None or report.trace.property_id is None:
        raise ValueError("only a violated check has a counterexample to save")
    sc = report.scenario
    st = report.stats
    doc: dict[str, Any] = {
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
        "options": report.options.saved(),
        "command": report.command,
        "search": {"states": st.states, "transitions": st.transitions, "bfs_length": report.raw_length},
        "violation": {"property": report.trace.property_id, "message": report.trace.message},
        **_rule_file_field(report.rule, where),
        "steps": [
            {"actor": s.actor, "label": s.label, "action": s.action.to_json(), "notes": list(s.notes)}
            for s in report.trace.steps
        ],
    }
    doc["digest"] = digest(doc)
    return doc


def _rule_file_field(rule: Rule, where: Path | None) -> dict[str, str]:
    """``rule_file``: where a rule from a file (or the base of a --reuse rule) came
    from, relative to the trace's directory, so that the trace replays without naming
    the rule again."""
    f = rule_file(rule)
    if f is None:
        return {}
    return {"rule_file": relpath_from(f, where or Path.cwd())}


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
    scenario: Scenario  # the embedded one, which the replay ran
    check: CheckOptions  # the search that decides what a replay cannot
    checked: frozenset[str]  # the properties this replay can see fail
    path: str  # the trace file, as given
    overrides: tuple[str, ...] = ()  # the replay's own options, as `cowcheck replay` takes them
    scenario_note: str = ""  # why the decisive check's scenario file may not be the embedded one

    @property
    def still_fails(self) -> bool:
        return self.trace.property_id is not None

    @property
    def same_violation(self) -> bool:
        return self.trace.property_id == self.expected_property

    @property
    def strict(self) -> bool:
        return self.check.strict

    @property
    def outcome(self) -> Outcome:
        if self.still_fails:
            return "fails"
        if self.trace.diverged_at is not None or self.expected_property not in self.checked:
            return "inconclusive"
        return "fixed"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    @property
    def title(self) -> str:
        """How the replayed trace is headed: "<scenario> under <rule>" [--strict]."""
        return f"{self.scenario.name} under {self.rule.name}" + (" --strict" if self.strict else "")

    @property
    def command(self) -> str:
        """The ``cowcheck check`` with every option of the replay: the search that
        decides the scenario under this rule, whatever this one path shows."""
        return self.check.command

    @property
    def replay_command(self) -> str:
        """The ``cowcheck replay`` that gives this replay again."""
        return shlex.join(["cowcheck", "replay", self.path, *self.overrides])

    def shown(self) -> Shown:
        """The replayed trace for ``show`` and reports, with its outcome and both commands."""
        return Shown(
            self.title, self.trace, self.replay_command, self.describe(), self.command, non_default(self.check.search)
        )

    @property
    def reason(self) -> str:
        """Why the replay is inconclusive ("" when it is not)."""
        if self.outcome != "inconclusive":
            return ""
        if self.trace.diverged_at is not None:
            k = self.trace.diverged_at + 1
            total = len(self.document["steps"])
            return (
                f"step {k} of {total} ({self.trace.blocked}) is not enabled under {self.rule.name}, so the trace "
                f"cannot be followed and says nothing about {self.expected_property}"
            )
        if self.expected_property == STUCK:
            return (
                f"the trace runs to the end under {self.rule.name}, and the run can go on from there: "
                f"whether it can still end {STUCK} is for the search to say"
            )
        if self.expected_property == UNREACHED:
            return f"{UNREACHED} is about every run, and a replay runs one"
        return (
            f"the trace runs to the end under {self.rule.name}, but this replay does not check "
            f"{self.expected_property}, the property it was saved for"
        )

    def describe(self) -> str:
        name = self.scenario.name
        n, total = len(self.trace), len(self.document["steps"])
        pid = self.trace.property_id
        if pid is not None:
            if pid == self.expected_property:
                return f"still fails under {self.rule.name}: {pid} at step {n} of {total} ({name})"
            return (
                f"still fails under {self.rule.name}, with another property: {pid} at step {n} of {total}, "
                f"where the trace was saved for {self.expected_property} ({name})"
            )
        if self.outcome == "inconclusive":
            return f"inconclusive: {self.reason} ({name}); decide with: {self.command}{self.scenario_note}"
        return f"fixed: no longer fails under {self.rule.name}: the trace runs to the end with no violation ({name})"


def _saved_rule(doc: dict[str, Any], path: Path) -> Rule:
    """The saved rule: its file when it came from one (also the base of a --reuse
    rule), else the built-in of that name."""
    where = str(path)
    name = str(doc["rule"])
    spec = split_spec(name)
    base, reuse = spec if spec is not None else (name, None)
    f = doc.get("rule_file")
    if builtin_family(base) is None and isinstance(f, str):
        p = Path(f) if Path(f).is_absolute() else path.parent / f
        if not p.is_file():
            raise InputError(where, "rule_file", f"the rule file {str(p)!r} is gone; replay with --rule FILE")
        base = str(p)
    try:
        got: Rule = load_any_rule(base, reuse)
        return got
    except InputError as e:
        if e.where in ("--rule", "--reuse"):  # a name or expression of the file, not of the command line
            raise InputError(where, "rule", e.expected) from None
        raise


def _decisive_scenario(doc: dict[str, Any], sc: Scenario, path: Path) -> tuple[str, str]:
    """How ``cowcheck check`` names the embedded scenario, and a note when no file
    holds exactly it (then the check runs the file of that name, which differs)."""
    recorded = str(doc["scenario"].get("path") or sc.name)
    ref = bundled_scenario_with(sc.name, sc.text)
    if ref is None:
        rp = Path(recorded)
        ref = file_with([rp] if rp.is_absolute() else [rp, path.parent / rp], sc.text)
    if ref is not None:
        return ref, ""
    named = recorded if Path(recorded).is_file() else sc.name
    return named, f" (no file holds the scenario embedded in {path}; {named} is not the same)"


def checked_by(model: MMModel) -> frozenset[str]:
    """The properties whose absence along the replayed path means the trace is fixed.
    Not STUCK: a replay that does not end stuck has run a prefix of a run that goes on,
    and where that run ends is for the search to say (a replay that ends stuck still
    fails with it: engine/replay.py checks the end)."""
    return frozenset(
        {inv.id for inv in model.invariants()} | {tc.id for tc in model.transition_checks() if not tc.metric}
    )


def replay_file(
    path: str | Path,
    rule: Rule | str | None = None,
    *,
    reuse: str | None = None,
    strict: bool | None = None,
    properties: Sequence[str] | None = None,
    form: str | None = None,
) -> Replay:
    """Replay a saved trace under its saved rule and options, or under those given
    (``None``: as saved). Raises InputError when the file is not a trace of its
    embedded scenario."""
    where = str(path)
    doc = load_document(path)
    scenario = parse_scenario(doc["scenario"]["toml"], f"{where} (embedded scenario)")
    actions = family(scenario.family).saved_actions(where, doc, scenario)
    check_digest(where, doc)
    overrides: list[str] = []
    if rule is None:
        if reuse is not None:
            raise InputError("--reuse", None, "expected --rule BASE with it (the base rule of the expression)")
        r = _saved_rule(doc, Path(path))
    else:
        r = load_any_rule(rule, reuse) if isinstance(rule, str) else resolve_rule(rule)
        ref, expr = rule_ref(r)
        overrides += ["-r", ref] + (["--reuse", expr] if expr is not None else [])
    eff_strict = bool(doc.get("strict", False)) if strict is None else strict
    eff_props = list(doc.get("properties", [])) if properties is None else list(properties)
    eff_form = str(doc.get("form", FORMS[0])) if form is None else form
    if strict is not None:
        overrides.append("--strict" if strict else "--no-strict")
    for p in properties or ():
        overrides += ["-p", p]
    if form is not None:
        overrides += ["--form", form]
    model = build_model(scenario, r, eff_props or None, eff_form, eff_strict)
    trace = build_trace(model, actions)
    if trace.diverged_at is not None:
        # The step as saved: under another rule its in-flight index may name another
        # operation, and its label here would describe that one.
        saved = doc["steps"][trace.diverged_at]
        if "label" in saved:
            trace = replace(trace, blocked=f"{saved.get('actor', trace.blocked.split(':')[0])}: {saved['label']}")
    ref, expr = rule_ref(r)
    search = saved_options(doc.get("options") or {})  # checked with the document
    sc_ref, note = _decisive_scenario(doc, scenario, Path(path))
    expected = str(doc["violation"]["property"])
    decide = list(eff_props)
    if decide and expected not in decide and expected in family(scenario.family).property_ids():
        decide.append(expected)  # the check must look for what the trace was saved for
    check = CheckOptions(sc_ref, ref, expr, eff_strict, tuple(decide), eff_form, search)
    return Replay(
        doc,
        r,
        trace,
        expected,
        scenario,
        check,
        checked_by(model),
        where,
        tuple(overrides),
        note,
    )
