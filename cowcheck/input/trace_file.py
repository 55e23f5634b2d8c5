"""Reading a saved counterexample: its fields, options and steps checked before
anything runs (``checks/saved_trace.py`` saves and replays them).

What no rule could ever run is a corrupt file, bad input naming the JSON path of the
field (exit 2), not a step "not enabled here": an unknown op, an actor or page out of
range, a step out of program order, an option out of range, a digest that does not
match.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, NamedTuple

from cowcheck.engine import Bounds, OptionError, SearchOptions, StoreSpec
from cowcheck.errors import ActionError, InputError, json_type
from cowcheck.input.properties import select
from cowcheck.input.scenario import Scenario
from cowcheck.input.schema import OP_BY_NAME
from cowcheck.mm.actions import DEVICE, OUTSIDER, RECLAIM, SPECULATIVE, Action, actor_thread
from cowcheck.mm.offers import program_action
from cowcheck.mm.ops import OPERATIONS
from cowcheck.mm.property import FORMS

FORMAT = "cowcheck-trace"
VERSION = 1

_REQUIRED = ("format", "version", "rule", "scenario", "steps", "violation")
_OPTIONAL = ("properties", "form", "strict", "bounds", "search", "rule_file", "options", "command", "digest")
_STEP_FIELDS = ("actor", "label", "notes", "action")
# What report/repro.py's CheckOptions.saved() writes: --reuse and the search options.
_OPTION_FIELDS = ("reuse", *SearchOptions().to_json())


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


# Actors outside the programs, and what each does (the environment's offers, mm/ops/).
_SPECIAL = {
    DEVICE: ("device", ("release", "dma_write")),
    RECLAIM: ("reclaim", ("swapout", "step")),
    OUTSIDER: ("clear_refs writer", ("clear_refs",)),
    SPECULATIVE: ("speculative", ("spec_get", "spec_put")),
}
# What a thread of an open scenario is offered (mm/ops/), and its continuations.
_THREAD_OPS = (*(op.name for op in OPERATIONS if op.per_vpage or op.per_process), "step")
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
            same_as_program(where, fld, name, a.step, a, program_action(sc, a.actor, a.step))
            next_step[a.actor] += 1
        out.append(a)
    return out


def same_as_program(where: str, fld: str, name: str, step: int, got: NamedTuple, want: NamedTuple) -> None:
    """A saved program step must be the action the embedded program runs there, field
    by field (any family's action records): InputError naming the first that is not."""
    for key, g, w in zip(got._fields, got, want, strict=True):
        if g != w:
            raise InputError(
                where, f"{fld}.{key}", f"expected {w!r} ({name}:{step + 1} in the embedded scenario), got {g!r}"
            )


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
    from cowcheck.families import family  # the embedded scenario's family
    from cowcheck.families import parse_scenario as parse_any

    doc = load_document(path)
    sc = parse_any(doc["scenario"]["toml"], f"{path} (embedded scenario)")
    family(sc.family).saved_actions(str(path), doc, sc)
    check_digest(str(path), doc)


def check_digest(where: str, doc: dict[str, Any]) -> None:
    """Checked after the steps, so that a step that is wrong in itself is named."""
    if "digest" in doc and doc["digest"] != digest(doc):
        raise InputError(
            where,
            "digest",
            "does not match the steps, violation and options (the trace was edited; drop the field "
            "to replay it as edited)",
        )
