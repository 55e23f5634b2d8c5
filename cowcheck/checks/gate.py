"""The CI property gate: expected verdicts in a config file, checked on every change.

The config is ``cowcheck.toml``, or ``[tool.cowcheck]`` in ``pyproject.toml``:

    rule = "anon-exclusive"          # default rule of every check (built-in or a path)

    [[check]]
    scenario = "odirect-swap"        # bundled name or a path (relative to the config)
    expect = "holds"                 # holds | violated | a property id
    # name, rule, properties, strict, max_states, timeout: optional

    [[counterexample]]
    path = "traces/cve.json"         # a saved trace that must still fail
    # rule: replay under this rule instead of the one saved

A check passes when its verdict is the expected one, in either direction: a new
violation fails the gate, and so does a check expected to fail that now holds (the
rule changed, or the scenario no longer reaches the race). A saved counterexample
passes while it still fails with its property. A replay that cannot be followed (a
step not enabled under the rule) proves nothing either way: the gate then runs the
check that decides it, with the trace's scenario and options, and reports that.
An invalid trace file is bad input (exit 2), never a fixed bug.
"""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cowcheck.api import CheckReport, check, resolve_rule, resolve_scenario
from cowcheck.checks.catalog import Job, outcome, run_pool
from cowcheck.checks.saved_trace import Replay, replay_file
from cowcheck.engine import Bounds, SearchOptions
from cowcheck.errors import InputError
from cowcheck.families import FAMILY_NAMES, family, load_any_rule, load_scenario, misfit
from cowcheck.input.bundled import find_scenario
from cowcheck.input.trace_file import check_file
from cowcheck.report.diagram import render_columns
from cowcheck.report.document import Shown
from cowcheck.report.repro import non_default

CONFIG_NAMES = ("cowcheck.toml", "pyproject.toml")
_CHECK_FIELDS = ("name", "rule", "scenario", "expect", "properties", "strict", "max_states", "timeout")
_CEX_FIELDS = ("path", "rule", "name")


@dataclass(frozen=True, slots=True)
class GateCheck:
    name: str
    rule: str
    scenario: str
    expect: str  # holds | violated | a property id
    properties: tuple[str, ...] = ()
    strict: bool = False
    max_states: int | None = None
    timeout: float | None = None
    line: int | None = field(default=None, compare=False)  # of its [[check]] header in the config


@dataclass(frozen=True, slots=True)
class GateCounterexample:
    name: str
    path: str
    rule: str | None = None
    line: int | None = field(default=None, compare=False)  # of its [[counterexample]] header


@dataclass(frozen=True, slots=True)
class GateConfig:
    path: Path
    checks: tuple[GateCheck, ...]
    counterexamples: tuple[GateCounterexample, ...]


@dataclass(slots=True)
class GateResult:
    """One test case of the gate: a check or a counterexample replay."""

    kind: str  # "check" | "counterexample"
    name: str
    expected: str
    got: str
    passed: bool
    message: str
    seconds: float = 0.0
    trace_text: str = ""  # the rendered counterexample, where there is one
    file: str = ""  # the scenario or trace file, for SARIF locations
    property_id: str | None = None
    shown: Shown | None = None  # the counterexample, for the HTML report
    command: str = ""  # what reproduces the result: a `cowcheck check` or `cowcheck replay`
    search: str = ""  # the options of the search it ran, where not the defaults (repro.non_default)
    line: int | None = None  # of the [[check]] or [[counterexample]] in the config, for SARIF locations

    @property
    def detail(self) -> str:
        """The message, with the search options where they are not the defaults: what
        the JUnit, SARIF and HTML reports say of the result."""
        return f"{self.message} ({self.search})" if self.search else self.message


@dataclass(slots=True)
class GateRun:
    config: GateConfig
    results: list[GateResult] = field(default_factory=list)

    @property
    def failed(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def find_config(start: Path) -> Path:
    """cowcheck.toml, else a pyproject.toml with [tool.cowcheck], in ``start``."""
    for name in CONFIG_NAMES:
        p = start / name
        if p.is_file() and (name == "cowcheck.toml" or "cowcheck" in _read(p).get("tool", {})):
            return p
    raise InputError(str(start), None, "no cowcheck.toml and no [tool.cowcheck] in pyproject.toml (run: cowcheck init)")


def _read(path: Path) -> dict[str, Any]:
    return _parse(path, _text(path))


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(str(path), None, f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        bad = f"byte 0x{e.object[e.start]:02x} at offset {e.start}"
        raise InputError(str(path), None, f"expected UTF-8 TOML text, got {bad}") from None


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(str(path), None, f"malformed TOML: {e}") from None
    except (RecursionError, MemoryError):  # tomllib recurses into nested arrays and tables
        raise InputError(str(path), None, "malformed TOML: nested too deeply") from None


def load_config(path: Path) -> GateConfig:
    where = str(path)
    text = _text(path)
    doc = _parse(path, text)
    table: Any = doc.get("tool", {}).get("cowcheck") if path.name == "pyproject.toml" else doc
    prefix = "tool.cowcheck." if path.name == "pyproject.toml" else ""
    if not isinstance(table, dict):
        raise InputError(where, prefix.rstrip(".") or None, "expected a table")
    _no_extra(where, prefix, table, ("rule", "check", "counterexample"))
    default_rule = table.get("rule")
    if default_rule is not None and not isinstance(default_rule, str):
        raise InputError(where, f"{prefix}rule", "expected a rule name or path")
    base = path.parent
    at = ("tool", "cowcheck") if prefix else ()
    check_lines = _lines(text, (*at, "check"), len(_list(where, prefix, table, "check")))
    cex_lines = _lines(text, (*at, "counterexample"), len(_list(where, prefix, table, "counterexample")))
    checks = [
        replace(_check(where, f"{prefix}check[{i}]", c, default_rule, base), line=check_lines[i])
        for i, c in enumerate(_list(where, prefix, table, "check"))
    ]
    cexs = [
        replace(_cex(where, f"{prefix}counterexample[{i}]", c, base), line=cex_lines[i])
        for i, c in enumerate(_list(where, prefix, table, "counterexample"))
    ]
    if not checks and not cexs:
        raise InputError(where, f"{prefix}check", "expected at least one [[check]] or [[counterexample]]")
    names = [c.name for c in checks] + [c.name for c in cexs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise InputError(where, f"{prefix}check", f"two entries named {dup!r}: give them distinct names")
    return GateConfig(path, tuple(checks), tuple(cexs))


# A line that looks like an array-of-tables header: `[[ key ]]`, then at most a comment.
_HEADER = re.compile(r"[ \t]*\[\[(?P<key>.*?)\]\][ \t]*(?:#.*)?\r?")


def _header_key(key: str) -> tuple[str, ...] | None:
    """The dotted key of ``[[key]]`` as tomllib reads it (quotes and spaces resolved),
    or None where it is no key."""
    try:
        node: Any = tomllib.loads(f"[[{key}]]")
    except tomllib.TOMLDecodeError:
        return None
    out: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        [(k, node)] = node.items()
        out.append(k)
    return tuple(out) if isinstance(node, list) else None


def _lines(text: str, key: tuple[str, ...], count: int) -> list[int | None]:
    """The line (from 1) of each of the ``count`` tables of the array ``key``, in order.

    tomllib gives no positions, so the headers are found in the text: a line that reads
    as ``[[key]]`` is one where the text above it is whole TOML on its own (not inside
    a multi-line string or array). Where the array is written inline
    (``check = [{...}]``) the entries have no header and no line."""
    lines = text.split("\n")
    found: list[int] = []
    for i, line in enumerate(lines):
        m = _HEADER.fullmatch(line)
        if m is None or _header_key(m["key"]) != key:
            continue
        try:
            tomllib.loads("\n".join(lines[:i]))
        except tomllib.TOMLDecodeError:
            continue
        found.append(i + 1)
    out: list[int | None] = [*found] if len(found) == count else [None] * count
    return out


def _list(where: str, prefix: str, table: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = table.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise InputError(where, f"{prefix}{key}", f"expected [[{key}]] tables")
    return v


def _no_extra(where: str, prefix: str, c: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """``prefix`` is the table's field path with its dot ("check[0].") or empty."""
    unknown = sorted(set(c) - set(allowed))
    if unknown:
        raise InputError(where, f"{prefix}{unknown[0]}", f"unknown field (expected one of: {', '.join(allowed)})")


def _resolve(base: Path, ref: str) -> str:
    """A path relative to the config if it names a file there; else a bundled name."""
    p = base / ref
    return str(p) if p.exists() else ref


def _stem(ref: str, suffix: str) -> str:
    """A file's stem, or a name as given: "page-count-5.11" is a rule, not a file."""
    return Path(ref).stem if ref.endswith(suffix) or "/" in ref else ref


def _check(where: str, fld: str, c: dict[str, Any], default_rule: str | None, base: Path) -> GateCheck:
    _no_extra(where, f"{fld}.", c, _CHECK_FIELDS)
    scenario = c.get("scenario")
    if not isinstance(scenario, str) or not scenario:
        raise InputError(where, f"{fld}.scenario", "expected a scenario name or path")
    rule = c.get("rule", default_rule)
    if not isinstance(rule, str) or not rule:
        raise InputError(where, f"{fld}.rule", "expected a rule name or path (here or as the top-level rule)")
    expect = c.get("expect")
    known = ["holds", "violated", *(i for f in FAMILY_NAMES for i in family(f).property_ids())]
    if expect not in known:
        raise InputError(where, f"{fld}.expect", f"expected one of: {', '.join(known)}; got {expect!r}")
    props = c.get("properties", [])
    if not isinstance(props, list) or not all(isinstance(p, str) for p in props):
        raise InputError(where, f"{fld}.properties", "expected a list of property ids")
    strict = c.get("strict", False)
    if not isinstance(strict, bool):
        raise InputError(where, f"{fld}.strict", "expected true or false")
    max_states = c.get("max_states")
    if max_states is not None and (not isinstance(max_states, int) or isinstance(max_states, bool) or max_states < 1):
        raise InputError(where, f"{fld}.max_states", "expected a positive integer")
    timeout = c.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0):
        raise InputError(where, f"{fld}.timeout", "expected a positive number of seconds")
    name = c.get("name") or f"{_stem(scenario, '.toml')} under {_stem(rule, '.py')}{' --strict' if strict else ''}"
    if not isinstance(name, str):
        raise InputError(where, f"{fld}.name", "expected a string")
    rule_ref, scenario_ref = _resolve(base, rule), _resolve(base, scenario)
    _known(where, fld, rule_ref, scenario_ref, props)
    return GateCheck(
        name,
        rule_ref,
        scenario_ref,
        str(expect),
        tuple(props),
        strict,
        max_states,
        float(timeout) if timeout is not None else None,
    )


def _known(where: str, fld: str, rule: str, scenario: str, props: list[str]) -> None:
    """The rule, scenario and properties a check names exist, said before any check
    runs and in the config's words (not as if the command line had named them)."""

    def again(key: str, e: InputError) -> InputError:
        # An error inside the named file keeps its own place; a bad name is the config's.
        return InputError(where, f"{fld}.{key}", e.expected if e.where.startswith("--") else str(e))

    try:
        r = load_any_rule(rule)
    except InputError as e:
        raise again("rule", e) from None
    path = find_scenario(scenario)
    if not path.is_file():
        raise InputError(
            where, f"{fld}.scenario", f"no scenario {scenario!r} (expected a bundled name or a file next to the config)"
        )
    sc = load_scenario(path)
    wrong = misfit(r, sc)
    if wrong is not None:
        raise InputError(where, f"{fld}.rule", wrong)
    try:
        family(sc.family).select_properties(props)
    except InputError as e:
        raise again("properties", e) from None


def _cex(where: str, fld: str, c: dict[str, Any], base: Path) -> GateCounterexample:
    _no_extra(where, f"{fld}.", c, _CEX_FIELDS)
    path = c.get("path")
    if not isinstance(path, str) or not (base / path).is_file():
        raise InputError(where, f"{fld}.path", f"expected a saved trace file (relative to {base}), got {path!r}")
    rule = c.get("rule")
    if rule is not None and not isinstance(rule, str):
        raise InputError(where, f"{fld}.rule", "expected a rule name or path")
    name = c.get("name") or f"replay {path}"
    return GateCounterexample(str(name), str(base / path), _resolve(base, rule) if rule else None)


def _matches(expect: str, got: str) -> bool:
    if expect == "violated":
        return got not in ("holds", "incomplete")
    return expect == got


def check_options(c: GateCheck, options: SearchOptions | None = None) -> SearchOptions:
    """How ``c`` searches: ``options`` (the defaults) in one process, with the check's
    own bounds."""
    return replace(options or SearchOptions(), bounds=Bounds(max_states=c.max_states, timeout=c.timeout), workers=1)


def run_check(c: GateCheck, options: SearchOptions | None = None) -> tuple[GateResult, CheckReport]:
    rep = check(c.scenario, c.rule, list(c.properties) or None, strict=c.strict, options=check_options(c, options))
    return judge(c, rep), rep


def judge(c: GateCheck, rep: CheckReport) -> GateResult:
    """The gate's verdict on one check's report."""
    got = outcome(rep)
    ok = _matches(c.expect, got)
    if ok:
        msg = f"{got}, as expected"
    elif got == "holds":
        msg = f"expected {c.expect}, but it now holds: {rep.summary()}"
    elif got == "incomplete":
        msg = f"expected {c.expect}, but the search was incomplete: {rep.result.incomplete_reason}"
    else:
        msg = f"expected {c.expect}, got {got}: {rep.trace.message if rep.trace else got}"
    text = _with_command(render_columns(rep.trace, rep.title), rep.command) if rep.trace is not None else ""
    return GateResult(
        "check",
        c.name,
        c.expect,
        got,
        ok,
        msg,
        rep.stats.seconds,
        text,
        rep.scenario.path,
        rep.trace.property_id if rep.trace is not None else None,
        rep.shown(),
        rep.command,
        non_default(rep.searched),
        c.line,
    )


def _with_command(text: str, command: str) -> str:
    return f"{text}\n\nReproduce: {command}"


def run_counterexample(c: GateCounterexample) -> GateResult:
    """Replay a saved trace; where the replay is inconclusive, run the check that
    decides instead of counting the bug as fixed."""
    t0 = time.monotonic()
    rp = replay_file(c.path, c.rule)
    if rp.outcome == "inconclusive":
        return _decide(c, rp, t0)
    got = rp.trace.property_id or "holds"
    # The message is rp.describe(): the text beside it is the trace and its command only.
    text = _with_command(render_columns(rp.trace, rp.title), rp.replay_command)
    return GateResult(
        "counterexample",
        c.name,
        rp.expected_property,
        got,
        rp.same_violation,
        rp.describe(),
        time.monotonic() - t0,
        text,
        c.path,
        rp.trace.property_id,
        rp.shown(),
        rp.replay_command,
        line=c.line,
    )


def _decide(c: GateCounterexample, rp: Replay, t0: float) -> GateResult:
    """The saved trace's question, asked of every path: its embedded scenario under the
    replay's rule, with the trace's options. Still failing means the same property."""
    o = rp.check
    rep = check(
        rp.scenario, rp.rule, list(o.properties) or None, form=o.form, strict=o.strict, options=o.carried_search()
    )
    got = outcome(rep)
    want = rp.expected_property
    if got == want:
        verdict = f"still fails: {rp.reason}; the check finds {got} again"
    elif got == "holds":
        verdict = f"no longer fails: {rp.reason}; the check holds"
    elif got == "incomplete":
        verdict = f"undecided: {rp.reason}; the check is incomplete ({rep.result.incomplete_reason})"
    else:
        verdict = f"changed: {rp.reason}; the check finds {got}, not {want}"
    msg = f"{verdict}: {rp.command}{rp.scenario_note}"
    search = non_default(rep.searched)
    if rep.trace is not None:
        # rp.command, not rep.command: rep ran the trace's embedded scenario, which
        # rp.command names by the file that holds it.
        text, shown = render_columns(rep.trace, rep.title), Shown(rep.title, rep.trace, rp.command, msg, search=search)
    else:
        text, shown = f"{render_columns(rp.trace, rp.title)}\n\n{rp.describe()}", rp.shown()
    return GateResult(
        "counterexample",
        c.name,
        want,
        got,
        got == want,
        msg,
        time.monotonic() - t0,
        _with_command(text, rp.command),
        c.path,
        rep.trace.property_id if rep.trace is not None else None,
        shown,
        rp.command,
        search,
        c.line,
    )


def run_gate(
    config: GateConfig, on_result: Callable[[GateResult], None] | None = None, options: SearchOptions | None = None
) -> GateRun:
    """Every check, then every saved counterexample. Each check searches as ``options``
    say, with its own bounds (``check_options``). With ``options.workers`` > 1 the
    checks run in that many processes, and open scenarios expected to hold (the ones
    explored in full) with the partitioned search over as many (``catalog.run_pool``):
    same verdicts, state counts and traces as one process."""
    workers = options.workers if options is not None else 1
    run = GateRun(config)
    for x in config.counterexamples:  # a corrupt trace is bad input: say so before any search runs
        check_file(x.path)
    reports: list[CheckReport] = []
    if workers > 1 and config.checks:
        jobs: list[Job] = [
            (resolve_scenario(c.scenario), resolve_rule(c.rule), c.strict, check_options(c, options), c.properties)
            for c in config.checks
        ]
        reports = run_pool(jobs, workers, [c.expect for c in config.checks])
    for i, c in enumerate(config.checks):
        res = judge(c, reports[i]) if reports else run_check(c, options)[0]
        run.results.append(res)
        if on_result is not None:
            on_result(res)
    for x in config.counterexamples:
        res = run_counterexample(x)
        run.results.append(res)
        if on_result is not None:
            on_result(res)
    return run


STARTER = """\
# cowcheck gate configuration: `cowcheck gate` runs every check and replays every
# saved counterexample, and fails on any change of verdict, in either direction.
# Reference: the README's section on the CI gate, and docs/tutorial.md.

# The reuse rule under test: a built-in rule (cowcheck rules) or a path to a rule file.
rule = "anon-exclusive"

# Each check: a scenario (bundled name or path), the verdict it must keep
# (holds, violated, or a property id), and optionally name, rule, properties,
# strict, max_states, timeout.
[[check]]
scenario = "odirect-clear-refs"
expect = "holds"

[[check]]
scenario = "odirect-swap"
expect = "holds"

[[check]]
scenario = "gup-fast-fork"
expect = "holds"

[[check]]
scenario = "vmsplice-child"
expect = "holds"

[[check]]
name = "fork with an O_DIRECT read in flight, Andrea's contract (--strict)"
scenario = "fork-odirect"
strict = true
expect = "missed-cow"

# Saved counterexamples (cowcheck check ... --save FILE) that must keep failing:
# [[counterexample]]
# path = "traces/my-race.json"
"""


def write_starter(directory: Path, force: bool = False) -> Path:
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "no such directory"
        raise InputError(str(directory), None, f"{what} (expected an existing directory for cowcheck.toml)")
    p = directory / "cowcheck.toml"
    if p.is_dir():
        raise InputError(str(p), None, "is a directory (expected a file to write)")
    if p.exists() and not force:
        raise InputError(str(p), None, "already exists (use --force to overwrite)")
    try:
        p.write_text(STARTER, encoding="utf-8")
    except OSError as e:
        raise InputError(str(p), None, f"cannot write: {e.strerror or e}") from None
    return p
