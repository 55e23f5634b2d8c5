"""The pytest plugin (entry point ``pytest11: cowcheck``): verdicts as assertions.

    from cowcheck.pytest_plugin import assert_holds, assert_violates

    def test_my_rule_keeps_odirect_reads():
        assert_holds("odirect-swap", "rules/my_rule.py")

    def test_page_count_loses_the_read():
        assert_violates("odirect-clear-refs", "page-count", "wrong-cow")

The arguments come in the order ``cowcheck.check(scenario, rule, properties)`` takes
them: the scenario (a ``Scenario``, a bundled scenario's name or a ``.toml`` path), then
the rule (a ``Rule``, a built-in rule's name, a ``.py`` rule file or ``BASE+reuse(EXPR)``).

A failed assertion's message is the rendered counterexample, as ``cowcheck check``
prints it. The plugin also offers both as the ``cowcheck`` fixture.

Bad input fails the test before any search, with one line that says what is wrong and
no traceback (``pytest.fail(..., pytrace=False)``): an unknown scenario or rule (with
the names it could be), an unknown property id (with the known ids), a scenario where
the rule goes or the reverse, a rule file that does not load, an impossible bound::

    assert_holds: unknown property 'wrong_cow' (expected one of: missed-cow, wrong-cow, memory-safety, unnecessary-cow)

An argument a test gets wrong is that test's bug, so it is reported as that test's
failure, and the session runs the other tests. Not ``pytest.UsageError``: pytest gives
that one meaning only while it reads its command line and configuration (it prints it
and exits with code 4); raised inside a test it is one more exception, with the
traceback this plugin is there to spare. Nor the library's ``InputError``: raised from
deep inside the loaders, its traceback hides the one line that matters.

The old order, the rule first (``assert_holds("page-count", "odirect-swap")``), still
works in this release, with a ``DeprecationWarning`` pointing at the call; it goes away
in the next release. It is told from the new order only where that is certain: the
first argument is a rule (a ``Rule``, a built-in rule's name, a ``.py`` file or a
``+reuse(...)`` spec) and the second a scenario (a ``Scenario``, a bundled scenario's
name, a ``.toml`` path or another file that exists), and the arguments do not also read
the new way round. Where they read both ways (two names, each both a scenario and a
rule) the test fails saying so, rather than guessing.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from cowcheck.api import CheckReport, check, resolve_rule, resolve_scenario
from cowcheck.engine import STUCK, UNREACHED, Bounds, OptionError, SearchOptions, Verdict
from cowcheck.errors import InputError
from cowcheck.families import FAMILY_NAMES, Family, family
from cowcheck.input.bundled import find_scenario
from cowcheck.input.reuse_expr import split_spec
from cowcheck.input.scenario import Scenario
from cowcheck.mm.rule import Rule
from cowcheck.report.diagram import render_columns

# The frame warnings.warn names: the test that called an assertion, counted from
# _order (1) <- _run (2) <- assert_holds / assert_violates (3) <- the test (4).
_CALLER = 4
# The ids the search itself reports, which no property file defines: a run that cannot
# finish, and a litmus goal that no run reaches (engine/model.py).
_ENGINE_IDS = (STUCK, UNREACHED)
_ORDER = "the scenario comes first, then the rule, as in cowcheck.check(scenario, rule)"


class _Names:
    """What a bare name can be, looked up at most once per assertion, and only when a
    name asks: the built-in rules of each family (the objects, so that a built-in rule
    named here is not loaded a second time to run it)."""

    def __init__(self) -> None:
        self._rules: dict[str, dict[str, Rule]] = {}

    def rules(self, family_name: str) -> dict[str, Rule]:
        if family_name not in self._rules:
            self._rules[family_name] = dict(family(family_name).builtin_rules())
        return self._rules[family_name]

    def is_builtin_rule(self, name: str) -> bool:
        return any(name in self.rules(f) for f in FAMILY_NAMES)


def _is_scenario(arg: object) -> bool:
    """``arg`` names a scenario as ``api.resolve_scenario`` reads it: a Scenario, a
    ``.toml`` path, a bundled scenario's name, or another file that exists."""
    if isinstance(arg, Scenario):
        return True
    if not isinstance(arg, str | Path):
        return False
    s = str(arg)
    if s.endswith(".py") or split_spec(s) is not None:
        return False
    return s.endswith(".toml") or find_scenario(s).is_file()


def _is_rule(arg: object, names: _Names) -> bool:
    """``arg`` names a rule as ``api.resolve_rule`` reads it: a Rule, a ``.py`` path,
    ``BASE+reuse(EXPR)``, or a built-in rule's name."""
    if isinstance(arg, Rule):
        return True
    if not isinstance(arg, str | Path):
        return False
    s = str(arg)
    if s.endswith(".toml"):
        return False
    return s.endswith(".py") or split_spec(s) is not None or names.is_builtin_rule(s)


def _label(arg: object) -> str:
    if isinstance(arg, Rule | Scenario):
        return f"{'Rule' if isinstance(arg, Rule) else 'Scenario'} {arg.name!r}"
    return repr(str(arg)) if isinstance(arg, Path) else repr(arg)


def _order(fn: str, first: object, second: object, names: _Names) -> tuple[object, object]:
    """(scenario, rule) from the arguments as given: swapped, with a DeprecationWarning,
    where they are certainly the old order (rule, scenario)."""
    __tracebackhide__ = True
    for arg, what in ((first, "scenario"), (second, "rule")):
        if not isinstance(arg, Scenario | Rule | str | Path):
            pytest.fail(f"{fn}: expected a {what} (a name, a path or a {what.title()}), got {arg!r:.80}", pytrace=False)
    new = _is_scenario(first) and _is_rule(second, names)
    old = _is_rule(first, names) and _is_scenario(second)
    if new and old:
        pytest.fail(
            f"{fn}: cannot tell the scenario from the rule: {_label(first)} and {_label(second)} each name both "
            "a scenario and a rule; pass the scenario as a .toml path or a Scenario, the rule as a .py path or a Rule",
            pytrace=False,
        )
    if old:
        warnings.warn(
            f"{fn}(rule, scenario) is deprecated and goes away in the next release: {_ORDER} "
            f"(got the rule {_label(first)} first and the scenario {_label(second)} second)",
            DeprecationWarning,
            stacklevel=_CALLER,
        )
        return second, first
    if not new:
        if _is_rule(first, names) and not _is_scenario(first):
            pytest.fail(f"{fn}: {_label(first)} is a rule, not a scenario: {_ORDER}", pytrace=False)
        if _is_scenario(second) and not _is_rule(second, names):
            pytest.fail(f"{fn}: {_label(second)} is a scenario, not a rule: {_ORDER}", pytrace=False)
    return first, second


def _scenario(fn: str, arg: object) -> Scenario:
    __tracebackhide__ = True
    if isinstance(arg, Scenario):
        return arg
    assert isinstance(arg, str | Path)
    s = str(arg)
    if not s.endswith(".toml") and "/" not in s and not Path(s).exists() and not find_scenario(s).exists():
        # A bare name that names no bundled scenario: say which ones there are, not
        # which file is missing.
        known = ", ".join(p.stem for f in FAMILY_NAMES for p in family(f).scenario_files())
        pytest.fail(f"{fn}: unknown scenario {s!r} (expected one of: {known}, or a .toml path)", pytrace=False)
    return resolve_scenario(arg)


def _rule(arg: object, fam: Family, names: _Names) -> Rule:
    if isinstance(arg, Rule):
        return arg
    assert isinstance(arg, str | Path)
    s = str(arg)
    if not s.endswith(".py") and "/" not in s and split_spec(s) is None:
        # A built-in rule's name: the object the order was told with, not loaded again.
        found = names.rules(fam.name).get(s)
        if found is not None:
            return found
    return resolve_rule(s, fam.name)


def _property_ids(
    fn: str, fam: Family, properties: Sequence[str] | str | None, property_id: str | None
) -> list[str] | None:
    """The property ids as ``check`` takes them, each one known to the scenario's family;
    ``property_id`` one that the check can report."""
    __tracebackhide__ = True
    ids = [properties] if isinstance(properties, str) else list(properties or ())
    catalogue = {p.id: p for p in fam.select_properties(None)[0]}
    for i in ids:
        if i not in catalogue:
            pytest.fail(
                f"{fn}: unknown property {i!r} (expected one of: {', '.join(catalogue)})",
                pytrace=False,
            )
    if property_id is not None and property_id not in _ENGINE_IDS:
        if property_id not in catalogue:
            known = ", ".join([*catalogue, *_ENGINE_IDS])
            pytest.fail(f"{fn}: unknown property_id {property_id!r} (expected one of: {known})", pytrace=False)
        if ids and property_id not in ids:
            pytest.fail(
                f"{fn}: property_id {property_id!r} is not among the properties checked ({', '.join(ids)})",
                pytrace=False,
            )
        if not ids and getattr(catalogue[property_id], "metric", False):
            pytest.fail(
                f"{fn}: {property_id!r} is a metric, which fails only when asked for: "
                f"pass properties=[{property_id!r}]",
                pytrace=False,
            )
    return ids or None


def _message(e: InputError | OptionError) -> str:
    # The loaders name a command-line option where the input came from one (--rule,
    # --property): here it came from an argument, which the line already names.
    if isinstance(e, InputError) and e.field is None and e.where in ("--rule", "--property", "--form"):
        return e.expected
    return str(e)


def _run(
    fn: str,
    scenario: object,
    rule: object,
    properties: Sequence[str] | str | None,
    property_id: str | None,
    strict: bool,
    max_states: int | None,
    timeout: float | None,
) -> CheckReport:
    __tracebackhide__ = True
    try:
        names = _Names()
        s_arg, r_arg = _order(fn, scenario, rule, names)
        sc = _scenario(fn, s_arg)
        fam = family(sc.family)
        r = _rule(r_arg, fam, names)
        ids = _property_ids(fn, fam, properties, property_id)
        options = SearchOptions(Bounds(max_states=max_states, timeout=timeout))
        return check(sc, r, ids, strict=strict, options=options)
    except (InputError, OptionError) as e:
        # A bad name or file, found before the search, or a rule file's hook that
        # fails during it (the error names its line).
        pytest.fail(f"{fn}: {_message(e)}", pytrace=False)


def _trace(rep: CheckReport) -> str:
    assert rep.trace is not None
    return render_columns(rep.trace, rep.title)


def assert_holds(
    scenario: Scenario | str | Path,
    rule: Rule | str | Path,
    properties: Sequence[str] | str | None = None,
    *,
    strict: bool = False,
    max_states: int | None = None,
    timeout: float | None = None,
) -> CheckReport:
    """Every state of ``scenario`` under ``rule`` within the bounds was explored and no
    property (of ``properties``, default all but the metrics) failed. Bad input fails
    the test with one line (the module docstring); so does the old order (rule,
    scenario), with a DeprecationWarning, where it is certain."""
    __tracebackhide__ = True
    rep = _run("assert_holds", scenario, rule, properties, None, strict, max_states, timeout)
    if rep.verdict is Verdict.VIOLATED:
        pytest.fail(f"{rep.summary()}\n\n{_trace(rep)}", pytrace=False)
    if rep.verdict is Verdict.INCOMPLETE:
        pytest.fail(f"not verified: {rep.summary()}", pytrace=False)
    return rep


def assert_violates(
    scenario: Scenario | str | Path,
    rule: Rule | str | Path,
    property_id: str | None = None,
    *,
    properties: Sequence[str] | str | None = None,
    strict: bool = False,
    max_states: int | None = None,
    timeout: float | None = None,
) -> CheckReport:
    """The search of ``scenario`` under ``rule`` finds a counterexample (of
    ``property_id``, where given: a known id, among ``properties`` where those are
    given). Bad input and the old order as for ``assert_holds``."""
    __tracebackhide__ = True
    rep = _run("assert_violates", scenario, rule, properties, property_id, strict, max_states, timeout)
    if rep.verdict is not Verdict.VIOLATED:
        pytest.fail(
            f"expected a violation{f' of {property_id}' if property_id else ''}: {rep.summary()}", pytrace=False
        )
    assert rep.trace is not None
    if property_id is not None and rep.trace.property_id != property_id:
        pytest.fail(f"expected {property_id}, found {rep.trace.property_id}:\n\n{_trace(rep)}", pytrace=False)
    return rep


@pytest.fixture
def cowcheck() -> SimpleNamespace:
    """``cowcheck.assert_holds(scenario, rule, ...)`` and ``cowcheck.assert_violates(scenario, rule, ...)``."""
    return SimpleNamespace(assert_holds=assert_holds, assert_violates=assert_violates)
