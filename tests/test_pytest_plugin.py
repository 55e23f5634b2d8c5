"""The pytest plugin, as a project's test suite would use it (pytester runs a test
file in a fresh pytest session with the plugin loaded from its entry point), and its
argument handling called directly: the order (scenario, rule) as ``cowcheck.check``
takes it, the old order (rule, scenario) with a DeprecationWarning, and bad input as
one line that fails the test."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cowcheck.api import CheckReport, resolve_scenario
from cowcheck.input.rule_files import load_rule
from cowcheck.pytest_plugin import assert_holds, assert_violates

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_FILE = ROOT / "models" / "scenarios" / "odirect-clear-refs.toml"
RULE_FILE = ROOT / "models" / "page_count.py"


def test_plugin_assertions_pass_and_fail_with_the_trace(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from cowcheck.pytest_plugin import assert_holds, assert_violates

        def test_anon_exclusive_keeps_the_read():
            assert_holds("odirect-clear-refs", "anon-exclusive")

        def test_page_count_loses_the_read():
            assert_violates("odirect-clear-refs", "page-count", "wrong-cow")

        def test_page_count_claimed_safe():
            assert_holds("odirect-clear-refs", "page-count")

        def test_wrong_property_claimed(cowcheck):
            cowcheck.assert_violates("odirect-clear-refs", "page-count", "missed-cow")

        def test_fixed_rule_claimed_broken(cowcheck):
            cowcheck.assert_violates("odirect-clear-refs", "anon-exclusive")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error::DeprecationWarning")
    result.assert_outcomes(passed=2, failed=3)
    text = result.stdout.str()
    # The failure message is the rendered counterexample, columns and all.
    assert "VIOLATION wrong-cow" in text and "thread0" in text
    assert "expected missed-cow, found wrong-cow" in text
    assert "expected a violation: holds: odirect-clear-refs under anon-exclusive" in text
    assert "DeprecationWarning" not in text


def test_plugin_old_order_warns_at_the_call_and_bad_input_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_old="""
        from cowcheck.pytest_plugin import assert_holds, assert_violates

        def test_old_order_still_works():
            assert_violates("page-count", "odirect-clear-refs", "wrong-cow")

        def test_old_order_through_the_fixture(cowcheck):
            cowcheck.assert_holds("anon-exclusive", "odirect-clear-refs")

        def test_unknown_scenario():
            assert_holds("odirect-clear-ref", "anon-exclusive")

        def test_unknown_property():
            assert_holds("odirect-clear-refs", "anon-exclusive", ["wrong_cow"])

        def test_two_rules():
            assert_holds("page-count", "anon-exclusive")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=3)
    text = result.stdout.str()
    # The warning names the line of the test that made the call (stacklevel).
    result.stdout.fnmatch_lines(
        [
            "*test_old.py:4: DeprecationWarning: assert_violates(rule, scenario) is deprecated*next release*",
            "*test_old.py:7: DeprecationWarning: assert_holds(rule, scenario) is deprecated*next release*",
        ]
    )
    # Each bad input: its one line under the test's header, and no traceback into
    # cowcheck's loaders.
    result.stdout.fnmatch_lines(
        [
            "*_ test_unknown_scenario _*",
            "assert_holds: unknown scenario 'odirect-clear-ref' (expected one of: *odirect-clear-refs*",
            "*_ test_unknown_property _*",
            "assert_holds: unknown property 'wrong_cow' (expected one of: missed-cow, wrong-cow, *",
            "*_ test_two_rules _*",
            "assert_holds: 'page-count' is a rule, not a scenario: the scenario comes first*",
            "*= warnings summary =*",
        ],
        consecutive=True,
    )
    assert "InputError" not in text and "Traceback" not in text
    assert "cowcheck/pytest_plugin.py" not in text and "cowcheck/api.py" not in text


def _fails(call: Callable[..., CheckReport], *args: Any, **kwargs: Any) -> str:
    """The one line a call fails its test with (and that it warned of nothing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(pytest.fail.Exception) as e:
            call(*args, **kwargs)
    msg = e.value.msg
    assert e.value.pytrace is False and msg is not None
    assert "\n" not in msg, msg
    return msg


def _quiet(call: Callable[..., CheckReport], *args: Any, **kwargs: Any) -> CheckReport:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call(*args, **kwargs)


@pytest.mark.parametrize(
    ("scenario", "rule"),
    [
        ("odirect-clear-refs", "page-count"),
        (SCENARIO_FILE, RULE_FILE),
        (str(SCENARIO_FILE), str(RULE_FILE)),
        ("odirect-clear-refs", "page-count+reuse(refcount == 1)"),
    ],
)
def test_new_order_runs_without_a_warning(scenario: Any, rule: Any) -> None:
    rep = _quiet(assert_violates, scenario, rule, "wrong-cow")
    assert rep.scenario.name == "odirect-clear-refs"
    assert rep.rule.name.startswith("page-count")


def test_new_order_with_objects_and_the_fixture(cowcheck: SimpleNamespace) -> None:
    sc, rule = resolve_scenario("odirect-clear-refs"), load_rule("anon-exclusive")
    rep = _quiet(cowcheck.assert_holds, sc, rule)
    assert rep.scenario is sc and rep.rule is rule


@pytest.mark.parametrize(
    ("rule", "scenario"),
    [
        ("page-count", "odirect-clear-refs"),
        (RULE_FILE, SCENARIO_FILE),
        (str(RULE_FILE), "odirect-clear-refs"),
        ("page-count+reuse(refcount == 1)", "odirect-clear-refs"),
        ("objects", "objects"),
    ],
)
def test_old_order_works_with_a_deprecation_warning_at_the_caller(rule: Any, scenario: Any) -> None:
    if rule == "objects":
        rule, scenario = load_rule("page-count"), resolve_scenario("odirect-clear-refs")
    with pytest.warns(DeprecationWarning, match=r"assert_violates\(rule, scenario\) is deprecated") as rec:
        rep = assert_violates(rule, scenario, "wrong-cow")
    assert len(rec) == 1
    assert "goes away in the next release" in str(rec[0].message)
    assert "cowcheck.check(scenario, rule)" in str(rec[0].message)
    assert rec[0].filename == __file__  # this line's caller, not the plugin
    assert rep.scenario.name == "odirect-clear-refs" and rep.rule.name.startswith("page-count")
    assert rep.trace is not None and rep.trace.property_id == "wrong-cow"


def test_old_order_through_the_fixture_warns_at_the_caller(cowcheck: SimpleNamespace) -> None:
    with pytest.warns(DeprecationWarning, match="next release") as rec:
        rep = cowcheck.assert_holds("anon-exclusive", "odirect-clear-refs")
    assert rec[0].filename == __file__
    assert rep.rule.name == "anon-exclusive"


def test_names_that_read_both_ways_are_not_guessed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file in the working directory is a scenario by that name (input/bundled.py
    # find_scenario): here two names that are also built-in rules.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "page-count").write_text(SCENARIO_FILE.read_text())
    (tmp_path / "anon-exclusive").write_text(SCENARIO_FILE.read_text())
    msg = _fails(assert_holds, "page-count", "anon-exclusive")
    assert msg.startswith("assert_holds: cannot tell the scenario from the rule: 'page-count' and 'anon-exclusive'")
    assert ".toml path" in msg and ".py path" in msg
    # Where one of them reads one way only, the order is certain.
    rep = _quiet(assert_holds, "page-count", str(ROOT / "models" / "anon_exclusive.py"))
    assert rep.scenario.name == "odirect-clear-refs"


@pytest.mark.parametrize(
    ("args", "kwargs", "line"),
    [
        (
            ("odirect-clear-ref", "page-count"),
            {},
            "assert_holds: unknown scenario 'odirect-clear-ref' (expected one of: dirty-cow-zeropage",
        ),
        (
            ("odirect-clear-refs", "page_count"),
            {},
            "assert_holds: unknown rule 'page_count' (expected one of: mapcount",
        ),
        (("nope.toml", "page-count"), {}, "assert_holds: nope.toml: no such scenario file"),
        (("odirect-clear-refs", "nope.py"), {}, "assert_holds: nope.py: no such file"),
        (("page-count", "anon-exclusive"), {}, "assert_holds: 'page-count' is a rule, not a scenario"),
        (("page-count", "odirect-clear-ref"), {}, "assert_holds: 'page-count' is a rule, not a scenario"),
        (("odirect-swap", "odirect-clear-refs"), {}, "assert_holds: 'odirect-clear-refs' is a scenario, not a rule"),
        (("odirect-swap", 3), {}, "assert_holds: expected a rule (a name, a path or a Rule), got 3"),
        (("odirect-swap", "page-count"), {"max_states": -1}, "assert_holds: --max-states: expected a positive"),
    ],
)
def test_bad_input_fails_the_test_with_one_line(args: tuple[Any, ...], kwargs: dict[str, Any], line: str) -> None:
    msg = _fails(assert_holds, *args, **kwargs)
    assert msg.startswith(line), msg


def test_unknown_property_ids_are_rejected_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    import cowcheck.pytest_plugin as plugin

    def no_search(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("searched before the property ids were checked")

    monkeypatch.setattr(plugin, "check", no_search)
    known = "(expected one of: missed-cow, wrong-cow, memory-safety, unnecessary-cow, dirty-tracking, read-only-data)"
    msg = _fails(assert_holds, "odirect-swap", "page-count", ["wrong-cow", "wrong_cow"])
    assert msg == f"assert_holds: unknown property 'wrong_cow' {known}"
    msg = _fails(assert_violates, "odirect-swap", "page-count", properties=["missed_cow"])
    assert msg == f"assert_violates: unknown property 'missed_cow' {known}"
    msg = _fails(assert_violates, "odirect-swap", "page-count", "wrong_cow")
    assert msg == (
        "assert_violates: unknown property_id 'wrong_cow' "
        "(expected one of: missed-cow, wrong-cow, memory-safety, unnecessary-cow, dirty-tracking, read-only-data, "
        "stuck, unreached)"
    )
    msg = _fails(assert_violates, "odirect-swap", "page-count", "missed-cow", properties=["wrong-cow"])
    assert msg == "assert_violates: property_id 'missed-cow' is not among the properties checked (wrong-cow)"
    msg = _fails(assert_violates, "odirect-swap", "page-count", "unnecessary-cow")
    assert msg == (
        "assert_violates: 'unnecessary-cow' is a metric, which fails only when asked for: "
        "pass properties=['unnecessary-cow']"
    )


def test_a_single_property_id_is_one_id() -> None:
    rep = _quiet(assert_violates, "odirect-clear-refs", "page-count", "wrong-cow", properties="wrong-cow")
    assert rep.properties == ["wrong-cow"]


def test_a_rule_file_failing_in_the_search_is_one_line_naming_it(tmp_path: Path) -> None:
    rule = tmp_path / "bad_rule.py"
    rule.write_text(
        "from cowcheck.rules import rule_class\n"
        "\n"
        "class Bad(rule_class('anon-exclusive')):\n"
        "    name = 'bad'\n"
        "\n"
        "    def do_wp_page(self, page, unshare):\n"
        "        return True\n"
        "\n"
        "RULE = Bad()\n"
    )
    msg = _fails(assert_holds, "odirect-clear-refs", rule)
    assert msg.startswith(f"assert_holds: {rule}:6: hook do_wp_page returned True"), msg
