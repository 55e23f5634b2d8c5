"""The pytest plugin, as a project's test suite would use it (pytester runs a test
file in a fresh pytest session with the plugin loaded from its entry point)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_plugin_assertions_pass_and_fail_with_the_trace(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from cowcheck.pytest_plugin import assert_holds, assert_violates

        def test_anon_exclusive_keeps_the_read():
            assert_holds("anon-exclusive", "odirect-clear-refs")

        def test_page_count_loses_the_read():
            assert_violates("page-count", "odirect-clear-refs", "wrong-cow")

        def test_page_count_claimed_safe():
            assert_holds("page-count", "odirect-clear-refs")

        def test_wrong_property_claimed(cowcheck):
            cowcheck.assert_violates("page-count", "odirect-clear-refs", "missed-cow")

        def test_fixed_rule_claimed_broken(cowcheck):
            cowcheck.assert_violates("anon-exclusive", "odirect-clear-refs")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=3)
    text = result.stdout.str()
    # The failure message is the rendered counterexample, columns and all.
    assert "VIOLATION wrong-cow" in text and "thread0" in text
    assert "expected missed-cow, found wrong-cow" in text
    assert "expected a violation: holds: odirect-clear-refs under anon-exclusive" in text
