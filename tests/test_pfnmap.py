"""The pfnmap family (cowcheck/pfnmap/): the memtype tree's matching, the
kernel paths per era, the bundled scenarios' verdicts with their counterexamples,
its saved traces, its rules from files, bad input, and the reductions against the
unreduced search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli, run_cli_in

from cowcheck.api import build_model, check
from cowcheck.checks.saved_trace import replay_file, save
from cowcheck.checks.verify import NEW, verify
from cowcheck.engine import SearchOptions, Verdict, explore
from cowcheck.families import family
from cowcheck.pfnmap.memtype import memtype_free, memtype_reserve
from cowcheck.pfnmap.model import PfnModel
from cowcheck.pfnmap.scenario import parse_pfn_scenario
from cowcheck.pfnmap.state import OTHER, PTE_PFN, UC_MINUS, WC, Entry, PfnState

FAM = family("pfnmap")
RULES = tuple(FAM.builtin_names())
SCENARIOS = [FAM.load_scenario(p) for p in FAM.scenario_files()]

ONE_VMA = """
family = "pfnmap"
name = "t"
kind = "litmus"
[world]
pages = 2
max_processes = {procs}
[[vma]]
npages = 2
cow = {cow}
{actors}
"""


def litmus(*programs: str, procs: int = 1, cow: bool = False) -> str:
    actors = "\n".join(f'[[actor]]\nname = "a{i}"\n{p}' for i, p in enumerate(programs))
    return ONE_VMA.format(procs=procs, cow=str(cow).lower(), actors=actors)


def outcome(text: str, rule: str, form: str = "observational") -> str:
    rep = check(parse_pfn_scenario(text, "t.toml"), rule, form=form)
    return rep.trace.property_id if rep.trace is not None and rep.trace.property_id else rep.verdict.value


# -- the memtype tree -----------------------------------------------------------------


def test_memtype_erase_takes_an_exact_match_then_shrinks_an_end_match_else_fails() -> None:
    tree = (Entry(0, 2, UC_MINUS, 0),)
    assert memtype_free(tree, 0, 2, 0).memtype == ()
    shrunk = memtype_free(tree, 1, 2, 0)
    assert shrunk.ok and shrunk.memtype == (Entry(0, 1, UC_MINUS, 0),)
    front = memtype_free(tree, 0, 1, 0)
    assert not front.ok and front.memtype == tree
    assert "freeing invalid memtype [mem 0xfd000000-0xfd000fff]" in front.note
    # 6.16 (81baf8450165): EXACT only.
    assert not memtype_free(tree, 1, 2, 0, end_match=False).ok


def test_memtype_erase_prefers_the_callers_own_entry_among_identical_ones() -> None:
    tree = (Entry(0, 2, UC_MINUS, 0), Entry(0, 2, UC_MINUS, 1))
    assert memtype_free(tree, 0, 2, 1).memtype == (Entry(0, 2, UC_MINUS, 0),)


def test_memtype_reserve_adopts_the_existing_type_or_fails_without_new_type() -> None:
    tree = (Entry(0, 2, UC_MINUS, 0),)
    adopted = memtype_reserve(tree, 0, 1, WC, OTHER, adopt=True)
    assert adopted.ok and adopted.type == UC_MINUS and len(adopted.memtype) == 2
    refused = memtype_reserve(tree, 0, 1, WC, OTHER, adopt=False)
    assert not refused.ok and refused.memtype == tree and "-EBUSY" in refused.note
    assert memtype_reserve((), 0, 1, WC, OTHER, adopt=False).type == WC


# -- the catalog ------------------------------------------------------------------------


def test_the_bundled_scenarios_state_a_verdict_for_every_era() -> None:
    assert len(SCENARIOS) >= 9
    for sc in SCENARIOS:
        assert sc.family == "pfnmap"
        assert set(sc.expect) == set(RULES), sc.name
        assert sc.expect_notes, sc.name


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.name)
def test_every_era_gives_the_verdict_its_scenario_expects(sc: object) -> None:
    for rule in RULES:
        rep = check(sc, rule)  # type: ignore[arg-type]
        got = rep.trace.property_id if rep.trace is not None else rep.verdict.value
        assert got == sc.expect[rule], (sc.name, rule)  # type: ignore[attr-defined]


def test_the_seeds_bug_is_fixed_only_by_moving_the_untrack_or_by_the_context() -> None:
    """Seed 003 (pat-zap-then-conflict) and David Wang's report (pat-zap-all-then-munmap):
    Peter Xu's proposal fixes the first and breaks the second, as the thread found."""
    by = {sc.name: sc.expect for sc in SCENARIOS}
    seed, wang = by["pat-zap-then-conflict"], by["pat-zap-all-then-munmap"]
    assert [r for r in RULES if seed[r] != "holds"] == ["pat-2.6.29", "pat-6.4", "pat-6.9", "pat-6.11", "pat-6.15"]
    assert [r for r in RULES if wang[r] != "holds"] == ["pat-peterx"]
    assert wang["pat-peterx"] == "pat-warn"


def test_the_counterexample_speaks_the_kernels_words() -> None:
    rep = check("pat-zap-then-conflict", "pat-6.15")
    assert rep.trace is not None and len(rep.trace) == 3
    notes = "\n".join(n for st in rep.trace.steps for n in st.notes)
    assert "zap_page_range_single: unmap_single_vma: untrack_pfn(P0 vaddr+0x0, 0, 0)" in notes
    assert "two cache types alias one pfn" in (rep.trace.message or "")
    warn = check("pat-fork-fail", "pat-2.6.29")
    assert warn.trace is not None and warn.trace.message is not None
    assert warn.trace.message.startswith("WARNING in untrack_pfn: ")  # before 6.9
    later = check("pat-remap-fail", "pat-6.11")
    assert later.trace is not None and (later.trace.message or "").startswith("WARNING in get_pat_info: ")
    free = check("pat-split-unmap", "pat-6.15")
    assert free.trace is not None
    assert free.trace.message == "x86/PAT: freeing invalid memtype [mem 0xfd000000-0xfd000fff]"


def test_the_structural_form_sees_the_freed_reservation_before_any_access() -> None:
    obs = check("pat-zap-then-conflict", "pat-2.6.29")
    st = check("pat-zap-then-conflict", "pat-2.6.29", form="structural")
    assert obs.trace is not None and st.trace is not None
    assert len(st.trace) == 1 < len(obs.trace)
    assert "no memtype reservation covers it" in (st.trace.message or "")


def test_a_one_page_zap_frees_the_whole_reservation_only_where_unmap_single_vma_untracks() -> None:
    zap = litmus('kind = "kernel"\nsteps = [ { op = "unmap_mapping_range", pfn = 1, npages = 1 } ]')
    for rule in RULES:
        m = build_model(parse_pfn_scenario(zap, "t.toml"), rule, form="structural")
        (s,) = m.init_states()
        (a,) = m.actions(s)
        step = m.next_step(s, a)
        assert step is not None
        after: PfnState = step.state
        freed = after.memtype == ()
        assert freed == (rule not in ("pat-peterx", "pfnmap-6.16")), rule
        assert after.vmas[0].ptes == (PTE_PFN, 0)


def test_the_context_is_freed_with_the_last_vma_that_shares_it() -> None:
    text = litmus(
        'steps = [ { op = "fork" }, { op = "munmap", vpage = 0, npages = 1 }, { op = "exit" } ]',
        'process = 1\nsteps = [ { op = "munmap", vpage = 1, npages = 1 }, { op = "exit" } ]',
        procs=2,
    )
    m = build_model(parse_pfn_scenario(text, "t.toml"), "pfnmap-6.16")
    res = explore(m, SearchOptions())
    assert res.verdict is Verdict.HOLDS
    assert res.stats.states > 10


def test_the_fork_window_is_where_truncate_reaches_the_childs_vma() -> None:
    rep = check("pat-truncate-during-fork", "pat-6.9")
    assert rep.trace is not None
    labels = [st.label for st in rep.trace.steps]
    assert labels[:2] == ["fork()", "fork: vm_area_dup(vaddr+0x0), link into i_mmap"]
    assert labels[2].startswith("truncate: unmap_mapping_range(")
    # 6.15: the child's VMA has VM_PAT from track_pfn_copy() on, before its PTEs.
    later = check("pat-truncate-during-fork", "pat-6.15")
    assert later.trace is not None
    labels = [st.label for st in later.trace.steps]
    assert labels[2] == "fork: copy_page_range(vaddr+0x0): track_pfn_copy()"
    assert labels[3].startswith("truncate: unmap_mapping_range(")


# -- the open scenario, and the search's reductions --------------------------------------


def test_the_open_scenario_holds_under_the_context_and_fails_every_earlier_era() -> None:
    rep = check("pfnmap-open", "pfnmap-6.16")
    assert rep.verdict is Verdict.HOLDS
    assert rep.stats.states == 9032  # as BENCHMARKS.md and the README say
    for rule in RULES[:-1]:
        assert check("pfnmap-open", rule).verdict is Verdict.VIOLATED


class _Raw(PfnModel):
    """The model without its canonical form: every tracking id kept as numbered."""

    def canonical(self, state: PfnState) -> PfnState:
        return state


@pytest.mark.parametrize("rule", ["pat-6.15", "pfnmap-6.16"])
def test_canonical_numbering_and_partitions_give_the_unreduced_verdicts(rule: str) -> None:
    sc = FAM.load_scenario(FAM.scenario_files()[-1])
    assert sc.name == "pfnmap-open"
    m = build_model(sc, rule)
    raw = _Raw(sc, m.rule, m.properties, "observational", False, ())
    reduced, unreduced = explore(m, SearchOptions()), explore(raw, SearchOptions())
    assert reduced.verdict is unreduced.verdict
    assert reduced.stats.states <= unreduced.stats.states
    parts = explore(m, SearchOptions(workers=2))
    assert parts.verdict is reduced.verdict
    if reduced.verdict is Verdict.HOLDS:
        assert parts.stats.states == reduced.stats.states
    canon = m.canonical
    (s,) = m.init_states()
    for a in m.actions(s):
        step = m.next_step(s, a)
        assert step is not None
        assert canon(canon(step.state)) == canon(step.state)


def test_the_same_run_gives_the_same_counts_and_trace() -> None:
    a, b = check("pat-cow-fork", "pat-6.11"), check("pat-cow-fork", "pat-6.11")
    assert a.stats.states == b.stats.states and a.stats.transitions == b.stats.transitions
    assert a.trace is not None and b.trace is not None
    assert [s.action for s in a.trace.steps] == [s.action for s in b.trace.steps]


# -- saved traces, rule files, the CLI -----------------------------------------------------


def test_a_saved_trace_replays_and_its_fix_is_seen(tmp_path: Path) -> None:
    rep = check("pat-fork-fail", "pat-6.4")
    f = save(rep, tmp_path / "t.json")
    assert replay_file(f).outcome == "fails"
    fixed = replay_file(f, "pat-6.15")
    assert fixed.outcome == "fixed"
    code, out, _ = run_cli("replay", str(f))
    assert code == 1 and "still fails under pat-6.4: pat-leak" in out
    doc = json.loads(f.read_text())
    doc["steps"][0]["action"]["fail"] = 0
    doc.pop("digest")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, _, err = run_cli("replay", str(bad))
    assert code == 2
    want = f"{bad}: steps[0].action.fail: expected 1 (P0:1 in the embedded scenario), got 0"
    assert err.strip() == f"cowcheck: error: {want}"


def test_a_rule_file_of_the_family_is_verified_against_its_base(tmp_path: Path) -> None:
    f = tmp_path / "mine.py"
    f.write_text(
        "from cowcheck.pfnmap.rule import UNMAP_VMAS\n"
        "from cowcheck.rules import pfnmap_rule_class\n\n\n"
        'class Mine(pfnmap_rule_class("pat-6.15")):\n'
        '    name = "pat-6.15-peterx"\n\n'
        "    def unmap_single_vma_untracks(self, caller: str) -> bool:\n"
        "        return caller == UNMAP_VMAS\n\n\n"
        "RULE = Mine()\n"
    )
    v = verify(str(f), ["pat-zap-then-conflict", "pat-zap-all-then-munmap"])
    assert v.base is not None and v.base.name == "pat-6.15"
    assert v.cells["pat-zap-then-conflict", "pat-reservation"].verdict is Verdict.HOLDS
    wang = v.cells["pat-zap-all-then-munmap", "pat-warn"]
    assert wang.verdict is Verdict.VIOLATED and wang.origin == NEW
    code, out, _ = run_cli("verify", str(f), "-s", "pat-zap-all-then-munmap")
    assert code == 1 and "new (pat-6.15 holds)" in out


def test_a_rule_of_one_family_and_a_scenario_of_another_are_bad_input(tmp_path: Path) -> None:
    code, _, err = run_cli("check", "pat-split-unmap", "-r", "anon-exclusive")
    assert code == 2
    assert err.strip().startswith("cowcheck: error: --rule: 'anon-exclusive' is a rule of the anon family")
    code, _, err = run_cli("check", "pat-split-unmap", "-r", "pat-6.15", "--strict")
    assert code == 2 and "no --strict contract" in err
    code, _, err = run_cli("verify", "pat-6.15", "vmsplice-child")
    assert code == 2 and "a scenario of the anon family, and pat-6.15 a rule of the pfnmap family" in err
    config = '[[check]]\nscenario = "vmsplice-child"\nrule = "pat-6.9"\nexpect = "holds"\n'
    (tmp_path / "cowcheck.toml").write_text(config)
    code, _, err = run_cli_in(tmp_path, "gate")
    assert code == 2
    assert "check[0].rule: 'pat-6.9' is a rule of the pfnmap family, and vmsplice-child a scenario of the anon" in err


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ('op = "fork"', "actor[0].steps[0].op: unknown value 'frok' (expected one of: mmap,"),
        ("npages = 2", "vma[0].npages: expected an integer in [1, 2], got 3"),
        ('name = "a0"', "actor[0].kind: unknown value 'cpu' (expected one of: thread, kernel)"),
    ],
)
def test_bad_scenarios_are_one_line_naming_the_field(tmp_path: Path, edit: str, message: str) -> None:
    text = litmus('steps = [ { op = "fork" } ]', procs=2)
    broken = {
        'op = "fork"': text.replace('op = "fork"', 'op = "frok"'),
        "npages = 2": text.replace("npages = 2", "npages = 3"),
        'name = "a0"': text.replace('name = "a0"', 'name = "a0"\nkind = "cpu"'),
    }[edit]
    f = tmp_path / "bad.toml"
    f.write_text(broken)
    code, _, err = run_cli("check", str(f), "-r", "pat-6.9")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"cowcheck: error: {f}: {message}")


def test_the_commands_list_the_family() -> None:
    code, out, _ = run_cli("rules", "--json")
    assert code == 0
    fams = {r["name"]: r["family"] for r in json.loads(out)}
    assert [n for n, f in fams.items() if f == "pfnmap"] == list(RULES)
    code, out, _ = run_cli("matrix", "--family", "pfnmap", "--check")
    assert code == 0
    assert out.splitlines()[0].split() == ["scenario", *RULES]
    code, out, _ = run_cli("catalog", "pat-cow-munmap", "vmsplice-child")
    # Each scenario under its own family's eras only: 7 pfnmap cells, 11 anon ones.
    assert code == 0 and "18 of 18 verdicts as expected" in out


def test_the_cow_fallback_answers_untrack_and_fails_fork() -> None:
    """04c35ab3bdae: a COW mapping whose first page was COWed untracks through vm_pgoff
    (pat-cow-munmap holds from 6.9), but fork, which needs the cache type, fails."""
    text = litmus('steps = [ { op = "access", vpage = 0, write = true }, { op = "fork" } ]', procs=2, cow=True)
    assert outcome(text, "pat-6.4") == "holds"
    m = build_model(parse_pfn_scenario(text, "t.toml"), "pat-6.15")
    (s,) = m.init_states()
    for _ in range(4):
        moves = m.actions(s)
        if not moves:
            break
        step = m.next_step(s, moves[0])
        assert step is not None
        s = step.state
    assert s.procs == (1, 2)  # the child never ran: fork failed in track_pfn_copy()


def test_a_dask_search_counts_the_states_the_serial_one_does() -> None:
    """Partitions on other processes route states by fingerprint: a state must hash
    alike in every process (no None in it: Python 3.11 hashes None by address)."""
    serial = check("pfnmap-open", "pfnmap-6.16")
    spread = check("pfnmap-open", "pfnmap-6.16", options=SearchOptions(workers=2, dask="local:2"))
    assert spread.verdict is Verdict.HOLDS
    assert (spread.stats.states, spread.stats.transitions) == (serial.stats.states, serial.stats.transitions)


def test_a_program_that_cannot_finish_is_stuck_not_a_vacuous_holds() -> None:
    """The child's program needs the fork to succeed: where it fails, the run ends with
    the child's step unrun, and the verdict is STUCK with the reason, never "holds"."""
    text = litmus(
        'steps = [ { op = "fork", fail = true } ]',
        'process = 1\nsteps = [ { op = "exit", label = "the child exits" } ]',
        procs=2,
    )
    rep = check(parse_pfn_scenario(text, "t.toml"), "pfnmap-6.16")
    assert rep.verdict is Verdict.VIOLATED and rep.trace is not None
    assert rep.trace.property_id == "stuck"
    assert "a1 cannot run step 1 (the child exits): process P1 is gone" in (rep.trace.message or "")


def test_a_failed_track_pfn_copy_leaves_the_childs_vm_pat_until_6_15() -> None:
    rep = check("pat-fork-track-fail", "pat-6.4")
    assert rep.trace is not None and rep.trace.property_id == "pat-warn"
    notes = "\n".join(n for st in rep.trace.steps for n in st.notes)
    assert "memtype_reserve() cannot allocate the entry: -ENOMEM" in notes
    assert "untrack_pfn_clear" not in notes  # d155df53f310 clears VM_PAT on the copy failure only
    assert check("pat-fork-track-fail", "pat-6.15").verdict is Verdict.HOLDS


def test_memtype_reserve_fails_on_any_overlap_of_another_type() -> None:
    tree = (Entry(0, 1, UC_MINUS, 0), Entry(1, 2, WC, OTHER))
    got = memtype_reserve(tree, 0, 2, UC_MINUS, OTHER, adopt=True)
    assert not got.ok and got.memtype == tree and "conflicts with WC" in got.note


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('tracking = "ctx"', "tracking: expected one of: 'VM_PAT', 'pfnmap_track_ctx', got 'ctx'"),
        ("warn_in = 1", "warn_in: expected one of: 'get_pat_info', 'untrack_pfn', got 1"),
        (
            'def fork_copy_failed(self) -> str:\n        return "clear"',
            "fork_copy_failed: fork_copy_failed() returned 'clear' (expected one of: 'keep', 'untrack_pfn_clear', "
            "'untrack_pfn_copy')",
        ),
        (
            "def vm_area_dup_keeps_pat(self, why: str) -> bool:\n        return why",
            "vm_area_dup_keeps_pat: vm_area_dup_keeps_pat('fork') returned 'fork' (expected one of: True, False)",
        ),
    ],
)
def test_a_rule_file_with_a_decision_no_era_makes_is_one_line(tmp_path: Path, setting: str, message: str) -> None:
    f = tmp_path / "bad.py"
    f.write_text(
        "from cowcheck.rules import pfnmap_rule_class\n\n\n"
        'class Bad(pfnmap_rule_class("pat-6.15")):\n'
        '    name = "bad"\n'
        f"    {setting}\n\n\n"
        "RULE = Bad()\n"
    )
    code, _, err = run_cli("check", "pat-fork-fail", "-r", str(f))
    assert code == 2
    assert err.strip() == f"cowcheck: error: {f}: {message}"


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            '{ op = "ioremap", pfn = 1, npages = 2 }',
            "actor[0].steps[0].npages: expected an integer in [1, 1], got 2",
        ),
        ('{ op = "mmap", pfn = 1, npages = 2 }', "actor[0].steps[0].npages: expected an integer in [1, 1], got 2"),
        ('{ op = "fork", fail = "exit_mmap" }', "actor[0].steps[0].fail: expected true or false or one of:"),
        ('{ op = "fork" }, { op = "fork" }', "world.max_processes: expected at least 3 (the programs fork 2 time(s))"),
    ],
)
def test_a_step_out_of_the_devices_range_is_one_line(tmp_path: Path, step: str, message: str) -> None:
    kind = 'kind = "kernel"\n' if "ioremap" in step else ""
    f = tmp_path / "bad.toml"
    f.write_text(litmus(f"{kind}steps = [ {step} ]", procs=2))
    code, _, err = run_cli("check", str(f), "-r", "pat-6.9")
    assert code == 2
    assert err.startswith(f"cowcheck: error: {f}: {message}") and err.count("\n") == 1


def test_a_saved_action_out_of_range_is_bad_input(tmp_path: Path) -> None:
    f = save(check("pfnmap-open", "pat-6.15"), tmp_path / "t.json")
    doc = json.loads(f.read_text())
    doc.pop("digest")
    doc["steps"][0]["action"]["type"] = 9
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, _, err = run_cli("replay", str(bad))
    assert code == 2
    assert err.strip() == f"cowcheck: error: {bad}: steps[0].action.type: expected a cache type 0..1 (UC-, WC) or -1"


def test_mmap_and_mremap_never_overlap_a_mapping() -> None:
    text = litmus(
        'steps = [ { op = "mmap", vpage = 1, npages = 1 }, { op = "mremap", vpage = 0, npages = 1, to = 1 } ]'
    )
    rep = check(parse_pfn_scenario(text, "t.toml"), "pfnmap-6.16")
    assert rep.verdict is Verdict.HOLDS
    m = build_model(parse_pfn_scenario(text, "t.toml"), "pfnmap-6.16")
    (s,) = m.init_states()
    notes: list[str] = []
    for _ in range(2):
        (a,) = m.actions(s)
        step = m.next_step(s, a)
        assert step is not None
        notes += step.notes
        s = step.state
    assert notes == ["mmap: vaddr+0x1000 is taken: -EEXIST", "mremap: vaddr+0x1000 is taken: -EINVAL"]
    assert [(v.start, len(v.ptes)) for v in s.vmas] == [(0, 2)]


def test_the_html_matrix_draws_a_grid_per_family() -> None:
    from cowcheck.checks.catalog import run_catalog
    from cowcheck.report.document import matrix_html

    html = matrix_html(run_catalog(paths=["vmsplice-child", "pat-split-unmap"]))
    anon = html.split('<h2>The anon family</h2><table class="matrix" id="matrix">')[1].split("</table>")[0]
    pfnmap = html.split('<h2>The pfnmap family</h2><table class="matrix" id="matrix-pfnmap">')[1].split("</table>")[0]
    assert "pat-6.15" in pfnmap and "anon-exclusive" not in pfnmap and "pat-split-unmap" in pfnmap
    assert "anon-exclusive" in anon and "pat-6.15" not in anon and "vmsplice-child" in anon


def test_an_optional_step_that_never_runs_is_unreached_not_a_vacuous_holds() -> None:
    text = litmus(
        'steps = [ { op = "fork", fail = true } ]',
        'process = 1\nsteps = [ { op = "exit", optional = true } ]',
        procs=2,
    )
    rep = check(parse_pfn_scenario(text, "t.toml"), "pat-6.15")
    assert rep.verdict is Verdict.VIOLATED and rep.trace is not None
    assert rep.trace.property_id == "unreached"
    assert "a1: exit()" in (rep.trace.message or "")
