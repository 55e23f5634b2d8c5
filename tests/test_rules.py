"""Rules: the hooks decide what the kernel era decides, and broken rules are caught."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cowcheck.api import check
from cowcheck.checks.catalog import outcome
from cowcheck.errors import InputError
from cowcheck.input.rule_files import builtin_path, builtin_rule, builtin_rules, is_builtin_name, load_rule
from cowcheck.mm.rule import GupFlags, PageView


def view(rc: int = 1, mc: int = 1, pins: int = 0, excl: bool = False, sc: bool = False, swaps: int = 0) -> PageView:
    return PageView(rc, mc, pins, excl, sc, swaps, False, False)


def test_builtin_rules_cite_commits() -> None:
    rules = builtin_rules()
    assert list(rules) == [
        "mapcount-4.8",
        "mapcount",
        "gup-breaks-cow",
        "page-count",
        "page-count-5.11",
        "page-count-5.16",
        "page-count-5.18",
        "mapcount-cor",
        "anon-exclusive-5.19",
        "anon-exclusive-6.1",
        "anon-exclusive",
    ]
    for r in rules.values():
        assert r.kernels and r.commits
        assert sys.modules[type(r).__module__].__doc__, "a rule file explains what it models"
        for c in r.commits:
            assert len(c.split()[0]) == 12, c  # 12-digit abbreviated kernel commit


def test_builtin_rules_are_found_by_name_alone() -> None:
    """A built-in rule loads from its own file and a scenario's [expect] keys are
    checked without running the files: both hold only if each file is named for its
    rule and states the name."""
    for name, r in builtin_rules().items():
        assert builtin_path(name).is_file() and is_builtin_name(name)
        assert builtin_rule(name) is r and load_rule(name) is r
    for wrong in ("page-count-5-11", "page_count", "anon-exclusive-6", "", "../models/page_count"):
        assert not is_builtin_name(wrong) and builtin_rule(wrong) is None, wrong


def test_write_fault_decisions() -> None:
    mc, pc, ae = (load_rule(n) for n in ("mapcount", "page-count", "anon-exclusive"))
    gup_ref = view(rc=2, mc=1)  # mapped once, one GUP reference
    assert mc.do_wp_page(gup_ref, False).reuse  # mapcount ignores GUP
    assert not pc.do_wp_page(gup_ref, False).reuse  # page_count 2 -> copy
    assert ae.do_wp_page(view(rc=2, mc=1, excl=True), False).reuse  # exclusive -> reuse
    assert not ae.do_wp_page(gup_ref, False).reuse  # shared and referenced -> copy
    # The swapcache alone: page_count copies, anon-exclusive frees the swap and reuses.
    in_swapcache = view(rc=2, mc=1, sc=True, swaps=0)
    assert not pc.do_wp_page(in_swapcache, False).reuse
    d = ae.do_wp_page(in_swapcache, False)
    assert d.reuse and d.free_swapcache
    # Another swap entry still shares the page: nobody may reuse it.
    shared_by_swap = view(rc=2, mc=1, sc=True, swaps=1)
    assert not mc.do_wp_page(shared_by_swap, False).reuse
    assert not ae.do_wp_page(shared_by_swap, False).reuse


def test_gup_must_unshare_only_for_ro_pins() -> None:
    ae = load_rule("anon-exclusive")
    shared = view(rc=2, mc=2)
    assert ae.gup_must_unshare(GupFlags(True, False, False), shared, True)
    assert not ae.gup_must_unshare(GupFlags(True, True, False), shared, True)
    assert not ae.gup_must_unshare(GupFlags(False, False, False), shared, True)
    zero = PageView(1, 0, 0, False, False, 0, False, True)
    assert ae.gup_must_unshare(GupFlags(True, False, True), zero, True)
    assert not ae.gup_must_unshare(GupFlags(True, False, False), zero, True)


RULE_FILE = """
from cowcheck.input.rule_files import builtin_rules
from cowcheck.mm.rule import WpDecision

Base = type(builtin_rules()["anon-exclusive"])


class AlwaysReuse(Base):
    name = "always-reuse"
    title = "reuse every page in place"

    def do_wp_page(self, page, unshare):
        return WpDecision(True, "always reuse")


RULE = AlwaysReuse()
"""


def test_a_rule_file_that_never_copies_leaks(tmp_path: Path) -> None:
    f = tmp_path / "always_reuse.py"
    f.write_text(RULE_FILE)
    rep = check("open-standard", str(f))
    assert outcome(rep) == "missed-cow", rep.summary()
    assert outcome(check("vmsplice-child", str(f))) == "missed-cow"


BUGGY_SWAPCACHE = """
from cowcheck.input.rule_files import builtin_rules
from cowcheck.mm.rule import WpDecision

Base = type(builtin_rules()["anon-exclusive"])


class DropsSwapcache(Base):
    name = "drops-swapcache"

    def do_wp_page(self, page, unshare):
        return WpDecision(True, "reuse and drop the swapcache", free_swapcache=page.swapcache)


RULE = DropsSwapcache()
"""


def test_bookkeeping_a_rule_breaks_is_memory_safety(tmp_path: Path) -> None:
    f = tmp_path / "drops.py"
    f.write_text(BUGGY_SWAPCACHE)
    rep = check("open-standard", str(f), ["memory-safety"])
    assert outcome(rep) == "memory-safety"
    assert rep.trace is not None and rep.trace.message is not None
    assert "BUG" in rep.trace.message


def test_bad_rule_files(tmp_path: Path) -> None:
    f = tmp_path / "syntax.py"
    f.write_text("RULE = (\n")
    with pytest.raises(InputError, match=r"syntax\.py:1"):
        load_rule(str(f))
    f = tmp_path / "norule.py"
    f.write_text("X = 1\n")
    with pytest.raises(InputError, match="RULE"):
        load_rule(str(f))


GRANDCHILD = Path(__file__).parent / "scenarios" / "fork-odirect-grandchild.toml"


@pytest.mark.parametrize("rule", ["page-count", "anon-exclusive"])
def test_fork_exemption_reaches_grandchildren(rule: str) -> None:
    """open(2)'s "undefined in parent and child" covers a child's child forked while the
    O_DIRECT read is in flight; only --strict still sees the device's data leak."""
    assert check(GRANDCHILD, rule).result.verdict.value == "holds"
    strict = check(GRANDCHILD, rule, strict=True)
    assert strict.result.violation is not None
    assert strict.result.violation.property_id == "missed-cow"
