"""User rules: rule files that start from a built-in rule, --reuse expressions,
their validation, and `verify` end to end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import run_cli

from cowcheck.api import check
from cowcheck.checks.catalog import outcome
from cowcheck.checks.verify import verify
from cowcheck.errors import InputError
from cowcheck.input.reuse_expr import compile_reuse
from cowcheck.input.rule_files import load_rule
from cowcheck.mm.rule import PageView


def readme_rule(root: Path) -> str:
    """The rule file shown in the README, exactly as printed there."""
    text = (root / "README.md").read_text()
    m = re.search(r"```python\n(from cowcheck\.mm\.rule import WpDecision\n.*?)```", text, re.S)
    assert m, "README shows an example rule file"
    return m.group(1)


def test_readme_rule_file_runs(tmp_path: Path, root: Path) -> None:
    f = tmp_path / "my_rule.py"
    f.write_text(readme_rule(root))
    rule = load_rule(str(f))
    assert rule.name == "my-rule"
    # It starts from page-count-5.18: its other hooks are that era's.
    assert type(rule).__mro__[1].name == "page-count-5.18"
    assert outcome(check("odirect-clear-refs-pin", rule)) == "holds"  # pinned: refcount == 1 + pins
    assert outcome(check("odirect-clear-refs", rule)) == "wrong-cow"  # a FOLL_GET reference is not a pin


def test_reuse_expression_replaces_only_the_write_fault_decision() -> None:
    r = load_rule("anon-exclusive", "exclusive or (refcount == 1 and not swapcache)")
    assert r.name == "anon-exclusive+reuse(exclusive or (refcount == 1 and not swapcache))"
    assert load_rule(r.name).name == r.name  # saved traces name it; it loads back
    page = PageView(2, 1, 0, True, False, 0, False, False)
    assert r.do_wp_page(page, False).reuse
    assert not r.do_wp_page(page._replace(exclusive=False), False).reuse
    # try_to_free_swap() only with the page lock: never while reclaim holds it.
    in_swapcache = page._replace(swapcache=True)
    assert r.do_wp_page(in_swapcache, False).free_swapcache
    assert not r.do_wp_page(in_swapcache._replace(locked=True), False).free_swapcache
    assert not r.do_wp_page(in_swapcache._replace(swapcount=1), False).free_swapcache
    base = load_rule("anon-exclusive")
    flags_page = page._replace(exclusive=False)
    from cowcheck.mm.rule import GupFlags

    ro_pin = GupFlags(True, False, False)
    assert r.gup_must_unshare(ro_pin, flags_page, True) == base.gup_must_unshare(ro_pin, flags_page, True)


def test_mapcount_alone_misses_the_swap_entry_sharer() -> None:
    rep = check("fork-swap-shared", load_rule("page-count-5.18", "mapcount == 1"))
    assert outcome(rep) == "missed-cow", rep.summary()
    assert rep.trace is not None and any("`mapcount == 1` -> reuse" in n for s in rep.trace.steps for n in s.notes)
    # With the swap entries counted, as reuse_swap_page() does, it holds.
    assert outcome(check("fork-swap-shared", load_rule("page-count-5.18", "mapcount + swapcount <= 1"))) == "holds"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("refcnt == 1", r"--reuse: unknown name 'refcnt' \(expected one of: refcount, mapcount"),
        ("refcount ==", r"--reuse: syntax error at column"),
        ("__import__('os')", r"unsupported Call"),
        ("refcount / 2 == 1", r"unsupported Div"),
        ("refcount == 'x'", r"unsupported constant 'x'"),
        ("[refcount]", r"unsupported List"),
    ],
)
def test_bad_reuse_expressions(expr: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        compile_reuse(expr)


MISSPELT = """
from cowcheck.mm.rule import WpDecision
from cowcheck.rules import rule_class


class Typo(rule_class("anon-exclusive")):
    name = "typo"

    def do_wp_pag(self, page, unshare):
        return WpDecision(True, "never called")


RULE = Typo()
"""

WRONG_ARITY = MISSPELT.replace("def do_wp_pag(self, page, unshare)", "def do_wp_page(self, page)")

RAISES = """
from cowcheck.rules import rule_class


class Raises(rule_class("anon-exclusive")):
    name = "raises"

    def do_wp_page(self, page, unshare):
        return page.refcnt == 1


RULE = Raises()
"""


def test_rule_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "typo.py"
    f.write_text(MISSPELT)
    with pytest.raises(InputError, match=r"typo\.py:9: unknown hook 'do_wp_pag' \(expected one of: do_wp_page"):
        load_rule(str(f))
    g = tmp_path / "arity.py"
    g.write_text(WRONG_ARITY)
    with pytest.raises(InputError, match=r"arity\.py:9: hook do_wp_page takes \(self, page, unshare\), got"):
        load_rule(str(g))
    with pytest.raises(InputError, match=r"unknown built-in rule 'nosuch'"):
        load_rule(str(_write(tmp_path, "base.py", 'from cowcheck.rules import rule_class\nrule_class("nosuch")\n')))


def _write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.write_text(text)
    return p


def test_an_exception_inside_a_hook_is_bad_input(tmp_path: Path) -> None:
    f = _write(tmp_path, "raises.py", RAISES)
    code, out, err = run_cli("check", "odirect-clear-refs", "--rule", str(f))
    assert code == 2, (out, err)
    assert re.fullmatch(r"cowcheck: error: .*raises\.py:9: AttributeError in rule raises: .*refcnt.*\n", err), err
    assert "Traceback" not in err


def test_verify_a_failing_reuse_expression_end_to_end() -> None:
    scen = ["fork-swap-shared", "odirect-clear-refs", "vmsplice-child"]
    code, out, err = run_cli(
        "verify", "page-count-5.18", "--reuse", "mapcount == 1", *[f"--scenario={s}" for s in scen]
    )
    assert code == 1, (out, err)
    assert re.search(r"fork-swap-shared\s+✗ \(\d+\)\s+✓\s+✓", out), out  # missed-cow only
    assert "shortest counterexample" in out and "VIOLATION missed-cow" in out
    assert "violated: page-count-5.18+reuse(mapcount == 1): 2 of 3 scenarios violate a property" in out


EXCLUSIVE_ONLY = """
from cowcheck.mm.rule import WpDecision
from cowcheck.rules import rule_class


class ExclusiveOnly(rule_class("anon-exclusive")):
    name = "exclusive-only"

    def do_wp_page(self, page, unshare):
        return WpDecision(page.exclusive, "reuse only PageAnonExclusive pages")


RULE = ExclusiveOnly()
"""


def test_verify_rule_files(tmp_path: Path, root: Path) -> None:
    scen = ["odirect-clear-refs", "odirect-swap", "fork-swap-shared", "vmsplice-child-swap"]
    # The README's rule on PAE's hooks: FOLL_GET references force copies again (the O_DIRECT race under clear_refs).
    f = _write(tmp_path, "pins_only.py", readme_rule(root).replace("page-count-5.18", "anon-exclusive"))
    v = verify(str(f), scen)
    assert v.verdict.value == "violated"
    assert v.cells["odirect-clear-refs", "wrong-cow"].length is not None
    assert v.cells["odirect-clear-refs", "missed-cow"].verdict.value == "holds"  # checked on its own
    # Never reusing a page that is not exclusive costs copies and breaks nothing.
    g = _write(tmp_path, "exclusive_only.py", EXCLUSIVE_ONLY)
    code, out, err = run_cli("verify", str(g), *[a for s in scen for a in ("-s", s)])
    assert code == 0, (out, err)
    assert re.search(r"odirect-swap\s+✓\s+✓\s+✓", out), out
    assert "holds: exclusive-only: 0 of 4 scenarios violate a property" in out
