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
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from cowcheck.api import CheckReport, build_model, resolve_rule
from cowcheck.engine import STUCK, UNREACHED, Bounds, OptionError, SearchOptions, StoreSpec
from cowcheck.errors import InputError
from cowcheck.input.bundled import display_path
from cowcheck.input.properties import all_properties, select
from cowcheck.input.reuse_expr import split_spec
from cowcheck.input.rule_files import builtin_rules, load_rule
from cowcheck.input.scenario import Scenario, parse_scenario
from cowcheck.input.schema import OP_BY_NAME
from cowcheck.mm.actions import DEVICE, OUTSIDER, RECLAIM, SPECULATIVE, Action, ActionError, actor_thread, json_type
from cowcheck.mm.model import MMModel, program_action
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

FORMAT = "cowcheck-trace"
VERSION = 1

_REQUIRED = ("format", "version", "rule", "scenario", "steps", "violation")
_OPTIONAL = ("properties", "form", "strict", "bounds", "search", "rule_file", "options", "command", "digest")
_STEP_FIELDS = ("actor", "label", "notes", "action")
_OPTION_FIELDS = tuple(CheckOptions("", "").saved())

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


def digest(doc: dict[str, Any]) -> str:
    """What a replay asks, fixed: the rule, the options, the actions and the violation.
    A trace cut short or reordered by hand can still be followed, and would replay as
    "fixed"; with a digest it is invalid instead (drop the field to replay an edited
    trace on purpose)."""
    parts = {k: doc.get(k) for k in ("rule", "rule_file", "properties", "form", "strict", "options", "violation")}
    steps = doc.get("steps")
    parts["steps"] = (
        [s.get("action") if isinstance(s, dict) else s for s in steps] if isinstance(steps, list) else steps
    )
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


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


def load_document(path: str | Path) -> dict[str, Any]:
    """The trace file, its fields checked (not yet its steps against its scenario)."""
    where = str(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(where, None, "no such trace file") from None
    except IsADirectoryError:
        raise InputError(where, None, "is a directory, not a trace file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(where, None, f"cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise InputError(where, None, f"malformed JSON: {e}") from None
    except ValueError as e:  # an integer of more digits than Python converts
        raise InputError(where, None, f"malformed trace: {e}") from None
    except RecursionError:
        raise InputError(where, None, "malformed trace: JSON nested too deeply") from None
    _no_surrogates(where, doc)
    _check_document(where, doc)
    return doc  # type: ignore[no-any-return]


def _no_surrogates(where: str, doc: object) -> None:
    """JSON may escape a lone surrogate (\\udcff), which is no text: it could be
    neither hashed nor printed. Walked without recursion (the nesting is checked
    after this, field by field)."""
    todo: list[tuple[str, object]] = [("", doc)]
    while todo:
        fld, v = todo.pop()
        if isinstance(v, dict):
            todo += [(f"{fld}.{k}" if fld else str(k), x) for k, x in v.items()]
            todo += [(fld or "(top level)", k) for k in v]
        elif isinstance(v, list):
            todo += [(f"{fld}[{i}]", x) for i, x in enumerate(v)]
        elif isinstance(v, str):
            bad = next((i for i, c in enumerate(v) if "\ud800" <= c <= "\udfff"), None)
            if bad is not None:
                raise InputError(where, fld or None, f"expected Unicode text, got a lone surrogate at offset {bad}")


def _want(where: str, fld: str, v: object, ok: bool, expected: str) -> None:
    if not ok:
        raise InputError(where, fld, f"expected {expected}, got {json_type(v)}")


def _check_document(where: str, doc: object) -> None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(where, "format", f"expected {FORMAT!r}: not a saved cowcheck trace")
    v = doc.get("version")
    if type(v) is not int or v != VERSION:
        raise InputError(where, "version", f"expected {VERSION}, got {v!r}")
    for key in doc:
        if key not in _REQUIRED and key not in _OPTIONAL:
            raise InputError(where, str(key), f"unknown field (expected one of: {', '.join(_REQUIRED + _OPTIONAL)})")
    for key in _REQUIRED:
        if key not in doc:
            raise InputError(where, key, "missing")
    rule = doc["rule"]
    _want(where, "rule", rule, isinstance(rule, str) and bool(rule), "a rule name")
    if "rule_file" in doc:
        _want(where, "rule_file", doc["rule_file"], isinstance(doc["rule_file"], str), "a path")
    sc = doc["scenario"]
    _want(where, "scenario", sc, isinstance(sc, dict), "an object with the embedded scenario")
    for key in ("name", "toml", "path", "sha256"):
        if key in sc or key in ("name", "toml"):  # the first two are required
            _want(where, f"scenario.{key}", sc.get(key), isinstance(sc.get(key), str), "a string")
    # The digests saved with the trace: an edited scenario or trace is another
    # question, and its replay must not pass for the saved bug's.
    if "sha256" in sc and hashlib.sha256(sc["toml"].encode()).hexdigest() != sc["sha256"]:
        raise InputError(where, "scenario.toml", "does not match scenario.sha256 (the embedded scenario was edited)")
    if "digest" in doc:
        _want(where, "digest", doc["digest"], isinstance(doc["digest"], str), "a string")
    props = doc.get("properties", [])
    _want(where, "properties", props, isinstance(props, list), "a list of property ids")
    for i, p in enumerate(props):
        _want(where, f"properties[{i}]", p, isinstance(p, str), "a property id")
        try:
            select([p])
        except InputError as e:
            raise InputError(where, f"properties[{i}]", e.expected) from None
    form = doc.get("form", FORMS[0])
    if form not in FORMS:
        raise InputError(where, "form", f"expected one of: {', '.join(FORMS)}; got {form!r}")
    _want(where, "strict", doc.get("strict"), type(doc.get("strict", False)) is bool, "true or false")
    for key in ("bounds", "command"):
        if key in doc:
            _want(where, key, doc[key], isinstance(doc[key], str), "a string")
    if "search" in doc:
        _want(where, "search", doc["search"], isinstance(doc["search"], dict), "an object")
    viol = doc["violation"]
    _want(where, "violation", viol, isinstance(viol, dict), "an object with the property that failed")
    prop = viol.get("property")
    _want(where, "violation.property", prop, isinstance(prop, str) and bool(prop), "a property id")
    msg = viol.get("message")
    _want(where, "violation.message", msg, msg is None or isinstance(msg, str), "a string")
    if "options" in doc:
        _options(where, doc["options"])
    steps = doc["steps"]
    _want(where, "steps", steps, isinstance(steps, list), "a list of steps")
    for i, st in enumerate(steps):
        fld = f"steps[{i}]"
        _want(where, fld, st, isinstance(st, dict), "an object with an action")
        for key in st:
            if key not in _STEP_FIELDS:
                raise InputError(where, f"{fld}.{key}", f"unknown field (expected one of: {', '.join(_STEP_FIELDS)})")
        if "action" not in st:
            raise InputError(where, f"{fld}.action", "missing")
        for key in ("actor", "label"):
            if key in st:
                _want(where, f"{fld}.{key}", st[key], isinstance(st[key], str), "a string")
        notes = st.get("notes", [])
        _want(
            where,
            f"{fld}.notes",
            notes,
            isinstance(notes, list) and all(isinstance(x, str) for x in notes),
            "a list of strings",
        )


def _options(where: str, opts: object) -> None:
    """``options``: the rest of the command that found the trace (repro.CheckOptions),
    each field of its type, and together a search that can run."""
    _want(where, "options", opts, isinstance(opts, dict), "an object")
    assert isinstance(opts, dict)
    for key, v in opts.items():
        fld = f"options.{key}"
        if key not in _OPTION_FIELDS:
            raise InputError(where, fld, f"unknown field (expected one of: {', '.join(_OPTION_FIELDS)})")
        if key == "reuse":
            _want(where, fld, v, v is None or isinstance(v, str), "an expression or null")
        elif key in ("max_states", "max_depth", "workers"):
            ok = (v is None and key != "workers") or (type(v) is int and v >= 1)
            _want(where, fld, v, ok, "a positive integer" + ("" if key == "workers" else " or null"))
        elif key == "timeout":
            ok = v is None or (type(v) in (int, float) and math.isfinite(v) and v > 0)
            _want(where, fld, v, ok, "a positive, finite number of seconds or null")
        elif key == "store":
            _want(where, fld, v, isinstance(v, str), "a store: exact, fingerprint or bitstate[:MiB]")
        else:
            _want(where, fld, v, type(v) is bool, "true or false")
    try:
        saved_options(opts).validate()
    except OptionError as e:  # named by its command-line option: here, by its field
        raise InputError(where, f"options.{_FIELD_OF.get(e.option, e.option)}", e.expected) from None


# The JSON field of each command-line option that a saved trace records.
_FIELD_OF = {
    "--max-states": "max_states",
    "--max-depth": "max_depth",
    "--timeout": "timeout",
    "--store": "store",
    "--symmetry": "symmetry",
    "--por": "por",
    "--subsume": "subsume",
    "--workers": "workers",
}


def saved_options(o: dict[str, Any]) -> SearchOptions:
    """The search options of a trace's ``options`` (the defaults in traces saved before
    it was recorded; ``options.reuse`` is in the rule's name too); OptionError naming
    the option that cannot run."""
    try:
        store = StoreSpec.parse(o.get("store", "exact"))
    except ValueError as e:
        raise OptionError("--store", str(e)) from None
    return SearchOptions(
        Bounds(max_states=o.get("max_states"), max_depth=o.get("max_depth"), timeout=o.get("timeout")),
        store,
        o.get("symmetry", False),
        o.get("por", False),
        o.get("subsume", True),
        o.get("workers", 1),
    )


# Actors outside the programs, and what each does (MMModel._environment_actions).
_SPECIAL = {
    DEVICE: ("device", ("release", "dma_write")),
    RECLAIM: ("reclaim", ("swapout", "step")),
    OUTSIDER: ("clear_refs writer", ("clear_refs",)),
    SPECULATIVE: ("speculative", ("spec_get", "spec_put")),
}
_THREAD_OPS = ("write", "read", "gup", "fork", "mprotect", "munmap", "dontneed", "dontfork", "exit", "step")
_OPS = (*OP_BY_NAME, "step")


def steps_of(where: str, doc: dict[str, Any], sc: Scenario) -> list[Action]:
    """The saved actions, each checked against the embedded scenario: what no rule
    could ever run is a corrupt file (exit 2), not a step "not enabled here"."""
    out: list[Action] = []
    next_step = [0] * len(sc.actors)
    for i, st in enumerate(doc["steps"]):
        fld = f"steps[{i}].action"
        try:
            a = Action.from_json(st["action"])
        except ActionError as e:
            raise InputError(where, f"{fld}.{e.field}" if e.field else fld, e.expected) from None
        _check_action(where, fld, a, sc)
        if sc.kind == "litmus" and a.step >= 0:
            # The j-th program action of an actor runs its step j: pcs only go forward.
            name = sc.actors[a.actor].name
            if a.step != next_step[a.actor]:
                raise InputError(
                    where, f"{fld}.step", f"expected {next_step[a.actor]} ({name}'s next program step), got {a.step}"
                )
            want = program_action(sc, a.actor, a.step)
            for key, got, exp in zip(Action._fields, a, want, strict=True):
                if got != exp:
                    raise InputError(
                        where,
                        f"{fld}.{key}",
                        f"expected {exp!r} ({name}:{a.step + 1} in the embedded scenario), got {got!r}",
                    )
            next_step[a.actor] += 1
        out.append(a)
    return out


def _check_action(where: str, fld: str, a: Action, sc: Scenario) -> None:
    """Ranges and roles that the scenario fixes, whatever the rule."""

    def bad(key: str, expected: str) -> InputError:
        return InputError(where, f"{fld}.{key}", expected)

    if a.op not in _OPS:
        return_ops = ", ".join(_OPS)
        raise bad("op", f"unknown operation {a.op!r} (expected one of: {return_ops})")
    litmus = sc.kind == "litmus"
    if a.actor in _SPECIAL and not (litmus and a.actor == DEVICE):
        who, ops = _SPECIAL[a.actor]
        if a.op not in ops:
            raise bad("op", f"expected one of: {', '.join(ops)} (what the {who}, actor {a.actor}, does), got {a.op!r}")
    elif litmus:
        if not 0 <= a.actor < len(sc.actors):
            names = ", ".join(f"{i} {x.name}" for i, x in enumerate(sc.actors))
            raise bad("actor", f"expected an actor of the embedded scenario ({names}; or -2..-4), got {a.actor}")
        if a.op != "step" and a.step < 0:
            raise bad("step", f"expected the program step that actor {a.actor} runs, got {a.step}")
        n = len(sc.actors[a.actor].steps)
        if a.op != "step" and a.step >= n:
            raise bad("step", f"expected 0..{n - 1} ({sc.actors[a.actor].name} has {n} step(s)), got {a.step}")
    else:
        pid, tid = actor_thread(a.actor)
        threads = sc.threads if pid == 0 else 1
        if a.actor < 0 or pid >= sc.max_processes or tid >= threads:
            raise bad(
                "actor",
                f"expected a thread (16 * pid + tid, pid < {sc.max_processes}, P0 with {sc.threads} thread(s)) "
                f"or -1..-4, got {a.actor}",
            )
        if a.op not in _THREAD_OPS:
            raise bad("op", f"expected one of: {', '.join(_THREAD_OPS)} (what a thread does), got {a.op!r}")
        if a.op != "step" and a.pid != pid:
            raise bad("pid", f"expected {pid} (the process of thread actor {a.actor}), got {a.pid}")
    if a.op == "step":
        # A continuation names its actor and the operation in flight, nothing else.
        if a.idx < 0:
            raise bad("idx", f"expected the index of an operation in flight (0 or more), got {a.idx}")
        plain = Action("step", a.actor, idx=a.idx)
        for key, got, exp in zip(Action._fields, a, plain, strict=True):
            if got != exp:
                raise bad(key, f"expected {exp!r} on a continuation (op 'step'), got {got!r}")
    elif not litmus or a.actor in _SPECIAL:
        what = "an open scenario" if not litmus else f"actor {a.actor}, which has no program"
        if a.step != -1:
            raise bad("step", f"expected -1 (no program step in {what}), got {a.step}")
        if a.name:
            raise bad("name", f"expected no reference name (none in {what}), got {a.name!r}")
    nv = len(sc.vpages)
    if not -1 <= a.vpage < nv:
        raise bad("vpage", f"expected a vpage of the embedded scenario (0..{nv - 1}) or -1, got {a.vpage}")
    if not -1 <= a.cell < sc.cells:
        raise bad("cell", f"expected a cell of the embedded scenario (0..{sc.cells - 1}) or -1, got {a.cell}")
    if not -1 <= a.pid < sc.max_processes:
        raise bad("pid", f"expected a process of the embedded scenario (0..{sc.max_processes - 1}) or -1, got {a.pid}")
    if a.idx < -1:
        raise bad("idx", f"expected an index (0 or more) or -1, got {a.idx}")
    if a.prot not in (("ro", "rw") if a.op == "mprotect" else ("",)):
        raise bad("prot", f"expected {'ro or rw' if a.op == 'mprotect' else 'none (only mprotect has one)'}")
    if not litmus and a.op == "gup" and not any(g.flags == a.flags for g in sc.gup_kinds):
        kinds = "; ".join(g.flags.describe() for g in sc.gup_kinds)
        raise InputError(
            where, fld, f"expected a GUP with the flags of one of gup_kinds ({kinds}), got {a.flags.describe()}"
        )


def check_file(path: str | Path) -> None:
    """Raise InputError unless ``path`` is a valid trace of its embedded scenario: what
    the gate asks of every saved counterexample before it runs anything."""
    doc = load_document(path)
    steps_of(str(path), doc, parse_scenario(doc["scenario"]["toml"], f"{path} (embedded scenario)"))
    _check_digest(str(path), doc)


def _check_digest(where: str, doc: dict[str, Any]) -> None:
    """Checked after the steps, so that a step that is wrong in itself is named."""
    if "digest" in doc and doc["digest"] != digest(doc):
        raise InputError(
            where,
            "digest",
            "does not match the steps, violation and options (the trace was edited; drop the field "
            "to replay it as edited)",
        )


def _saved_rule(doc: dict[str, Any], path: Path) -> Rule:
    """The saved rule: its file when it came from one (also the base of a --reuse
    rule), else the built-in of that name."""
    where = str(path)
    name = str(doc["rule"])
    spec = split_spec(name)
    base, reuse = spec if spec is not None else (name, None)
    f = doc.get("rule_file")
    if base not in builtin_rules() and isinstance(f, str):
        p = Path(f) if Path(f).is_absolute() else path.parent / f
        if not p.is_file():
            raise InputError(where, "rule_file", f"the rule file {str(p)!r} is gone; replay with --rule FILE")
        base = str(p)
    try:
        return load_rule(base, reuse)
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
    actions = steps_of(where, doc, scenario)
    _check_digest(where, doc)
    overrides: list[str] = []
    if rule is None:
        if reuse is not None:
            raise InputError("--reuse", None, "expected --rule BASE with it (the base rule of the expression)")
        r = _saved_rule(doc, Path(path))
    else:
        r = load_rule(rule, reuse) if isinstance(rule, str) else resolve_rule(rule)
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
    if decide and expected not in decide and expected in all_properties():
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
