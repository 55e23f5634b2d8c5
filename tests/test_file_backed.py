"""File-backed memory, FOLL_FORCE and UFFDIO_CONTINUE (cowcheck/mm/force.py,
cowcheck/mm/userfaultfd.py, the file paths of cowcheck/mm/fault.py): the kernel paths
step by step, the era each rule puts them in, the two properties that watch them, and
every reduction against the unreduced search on the scenarios that use them."""

from __future__ import annotations

import pytest
from conftest import assert_reduced_matches, reachable, run_cli

from cowcheck.api import build_model, check
from cowcheck.engine import SearchOptions, Verdict, explore
from cowcheck.input.properties import all_properties
from cowcheck.input.rule_files import BUILTIN_ORDER
from cowcheck.input.scenario import parse_scenario
from cowcheck.mm import records
from cowcheck.mm.actions import Action
from cowcheck.mm.model import MMModel
from cowcheck.mm.rule import PageView, WpDecision
from cowcheck.mm.state import NO_FILE, PTE_NONE, PTE_PRESENT, ZERO_FRAME, ForceOp, MMState
from cowcheck.rules import rule_class

ALL_RULES = BUILTIN_ORDER  # every era, in history order (test_rules.py holds it to the files)

ONE = """
name = "t"
kind = "litmus"
[world]
threads = {threads}
vpages = 1
cells = 1
[[vpage]]
{vpage}
{actors}
"""


def litmus(vpage: str, *programs: str, threads: int = 2) -> str:
    actors = "\n".join(f'[[actor]]\nname = "a{i}"\nsteps = [ {p} ]' for i, p in enumerate(programs))
    return ONE.format(threads=threads, vpage=vpage, actors=actors)


def model(text: str, rule: str) -> MMModel:
    return build_model(parse_scenario(text, "t.toml"), rule)


def run(m: MMModel, *actions: Action) -> tuple[MMState, list[str]]:
    """Run ``actions`` in order from the initial state; each must be enabled."""
    (s,) = m.init_states()
    notes: list[str] = []
    for a in actions:
        st = m.next_step(s, a)
        assert st is not None, (a, notes)
        s = st.state
        notes += st.notes
    return s, notes


def step(m: MMModel, a: Action) -> Action:
    """The program action ``a`` as the model offers it (step numbers, pids)."""
    (s,) = m.init_states()
    for b in m.actions(s):
        if b.op == a.op and b.actor == a.actor:
            return b
    raise AssertionError(a)


def cont(idx: int = 0) -> Action:
    return Action("step", 0, idx=idx)


def page_cache(s: MMState) -> tuple[int, tuple[int, ...]]:
    (f, p) = next((f, p) for f, p in s.pages if p.file >= 0)
    return f, p.content


def force(actor: int = 0) -> Action:
    return Action("force_write", actor, 0, 0, 0, step=0)


FILE_RO = 'backing = "file"\nstate = "present"\nwritable = false'


def test_dirty_cow_step_by_step() -> None:
    """<= 4.8: the COW fault drops FOLL_WRITE; MADV_DONTNEED; the read retry maps the
    page-cache page and the write lands in the file."""
    m = model(litmus(FILE_RO, '{ op = "force_write" }', '{ op = "dontneed" }'), "mapcount-4.8")
    dontneed = Action("dontneed", 1, 0, 0, step=0)
    s, notes = run(m, force(), cont(), dontneed, cont(), cont())
    assert "faultin_page: VM_FAULT_WRITE without VM_WRITE -> FOLL_WRITE dropped: the retry only reads" in notes
    assert any(n.startswith("do_read_fault: map page-cache page") for n in notes)
    f, content = page_cache(s)
    (t,) = content
    assert not dict(s.toks)[t].file  # a private write in the file
    assert s.procs[0].ptes[0].target == f and not s.procs[0].ptes[0].writable
    assert not s.inflight
    ro = all_properties()["read-only-data"]
    assert ro.observational is not None and ro.observational(s, m.ctx) is not None


@pytest.mark.parametrize("rule", [r for r in ALL_RULES if r != "mapcount-4.8"])
def test_after_the_fix_the_same_schedule_writes_a_copy(rule: str) -> None:
    m = model(litmus(FILE_RO, '{ op = "force_write" }', '{ op = "dontneed" }'), rule)
    dontneed = Action("dontneed", 1, 0, 0, step=0)
    (s,) = m.init_states()
    for a in (force(), cont(), dontneed):
        st = m.next_step(s, a)
        assert st is not None
        s = st.state
    while s.inflight:
        st = m.next_step(s, cont())
        assert st is not None
        s = st.state
    _f, content = page_cache(s)
    assert all(dict(s.toks)[t].file for t in content)  # the file is untouched
    pte = s.procs[0].ptes[0]
    p = dict(s.pages)[pte.target]
    assert p.file == NO_FILE and not pte.writable
    (t,) = p.content
    assert dict(s.toks)[t].writer == 0 and not dict(s.toks)[t].file


def test_foll_cow_is_what_trusts_the_dirty_bit() -> None:
    """4.9-5.19: faultin_page() sets FOLL_COW and keeps FOLL_WRITE; the copy the fault
    made is mapped R/O and dirty."""
    m = model(litmus(FILE_RO, '{ op = "force_write" }'), "mapcount")
    s, notes = run(m, force(), cont())
    (op,) = s.inflight
    assert isinstance(op, ForceOp) and op.write and op.cow
    pte = s.procs[0].ptes[0]
    assert pte.kind == PTE_PRESENT and pte.dirty and not pte.writable
    assert "faultin_page: VM_FAULT_WRITE without VM_WRITE -> FOLL_COW" in notes
    # 6.0: neither flag changes; the exclusive anonymous copy passes by itself.
    m = model(litmus(FILE_RO, '{ op = "force_write" }'), "anon-exclusive")
    s, _ = run(m, force(), cont())
    (op,) = s.inflight
    assert isinstance(op, ForceOp) and op.write and not op.cow
    s, _ = run(m, force(), cont(), cont())
    assert not s.inflight


def test_dirty_bits_are_kept_only_where_a_forced_write_reads_them() -> None:
    anon = build_model("fork-odirect", "anon-exclusive")
    assert not anon.ctx.dirty
    states, _ = reachable(anon)
    assert not any(p.dirty for s in states for pr in s.procs for p in pr.ptes)
    forced = build_model("dirty-cow", "mapcount")
    assert forced.ctx.dirty
    states, _ = reachable(forced)
    assert any(p.dirty for s in states for pr in s.procs for p in pr.ptes)


def test_do_wp_page_never_asks_the_rule_about_a_page_cache_page() -> None:
    class Never(rule_class("anon-exclusive")):  # type: ignore[misc]
        name = "never"

        def do_wp_page(self, page: PageView, unshare: bool) -> WpDecision:
            raise AssertionError("asked about a page that is not anonymous")

    text = litmus('backing = "file"\nstate = "present"', '{ op = "write" }', threads=1)
    m = MMModel(parse_scenario(text, "t.toml"), Never(), list(all_properties().values()))
    s, notes = run(m, Action("write", 0, 0, 0, 0, step=0))
    assert "do_wp_page: page-cache page #0 is not PageAnon -> wp_page_copy" in notes
    f, _content = page_cache(s)
    assert s.procs[0].ptes[0].target != f
    assert dict(s.pages)[f].refcount == 1  # only the page cache holds it now


def test_page_cache_pages_stay_in_the_page_cache() -> None:
    text = litmus('backing = "shmem"\nstate = "present"', '{ op = "dontneed" }', threads=1)
    m = model(text, "anon-exclusive")
    s, _ = run(m, Action("dontneed", 0, 0, 0, step=0))
    f, _content = page_cache(s)
    assert dict(s.pages)[f].refcount == 1 and s.procs[0].ptes[0].kind == PTE_NONE
    # The next read maps the file's page again, and the expectation is the file's data.
    assert s.procs[0].expect[0] == tuple((t,) for t in dict(s.pages)[f].content)


@pytest.mark.parametrize(
    ("rule", "outcome"),
    [
        ("mapcount", "UFFDIO_CONTINUE: -EINVAL (no VM_UFFD_MINOR on this vma)"),
        ("page-count-5.11", "mfill_atomic_install_pte: map page-cache page #0 R/O"),
        ("page-count-5.16", "mfill_atomic_install_pte: map page-cache page #0 R/O, dirty"),
        ("anon-exclusive", "mfill_atomic_install_pte: map page-cache page #0 R/O, dirty"),
    ],
)
def test_uffdio_continue_by_era(rule: str, outcome: str) -> None:
    vpage = 'backing = "shmem"\nuffd_minor = true\nwritable = false'
    text = litmus(vpage, '{ op = "uffd_continue" }', '{ op = "force_write" }')
    m = model(text, rule)
    s, notes = run(m, Action("uffd_continue", 0, 0, 0, step=0))
    assert outcome in notes
    pte = s.procs[0].ptes[0]
    if "-EINVAL" in outcome:
        assert pte.kind == PTE_NONE
        return
    assert pte.kind == PTE_PRESENT and not pte.writable and pte.dirty == outcome.endswith("dirty")
    # A second one finds the PTE: -EEXIST, and nothing changes.
    st = m.next_step(s, Action("uffd_continue", 0, 0, 0, step=0))
    assert st is not None and st.state[:-3] == s[:-3]


def test_a_forced_write_into_a_minor_registered_hole_fails() -> None:
    """get_user_pages_remote() cannot retry: the userfault is VM_FAULT_SIGBUS."""
    vpage = 'backing = "shmem"\nuffd_minor = true\nwritable = false'
    m = model(litmus(vpage, '{ op = "force_write" }'), "page-count-5.16")
    s, notes = run(m, force(), cont())
    assert "handle_userfault: VM_UFFD_MINOR without FAULT_FLAG_ALLOW_RETRY -> VM_FAULT_SIGBUS" in notes
    assert not s.inflight and all(dict(s.toks)[t].file for t in page_cache(s)[1])
    # A CPU read there waits for the handler instead.
    m = model(litmus(vpage, '{ op = "read" }'), "page-count-5.16")
    (s0,) = m.init_states()
    assert m.next_step(s0, Action("read", 0, 0, 0, 0, step=0)) is None


def test_check_vma_flags_refuses_a_forced_write_to_a_shared_read_only_mapping() -> None:
    m = model(litmus('backing = "shared-shmem"\nwritable = false', '{ op = "force_write" }'), "mapcount-4.8")
    s, notes = run(m, force())
    assert "check_vma_flags: FOLL_FORCE without VM_WRITE in a shared mapping -> -EFAULT" in notes
    assert not s.inflight


def test_the_forced_write_holds_the_mmap_lock_against_writers() -> None:
    text = litmus(FILE_RO, '{ op = "force_write" }', '{ op = "munmap" }', '{ op = "dontneed" }', threads=3)
    m = model(text, "anon-exclusive")
    s, _ = run(m, force())
    assert m.next_step(s, Action("munmap", 1, 0, 0, step=0)) is None
    assert m.next_step(s, Action("dontneed", 2, 0, 0, step=0)) is not None  # a reader


@pytest.mark.parametrize("rule", ALL_RULES)
def test_writable_long_term_pins_of_dirty_tracked_files(rule: str) -> None:
    text = litmus(
        'backing = "shared-file"\nstate = "present"',
        '{ op = "gup", flags = ["FOLL_PIN", "FOLL_WRITE", "FOLL_LONGTERM"], ref = "r" }',
        threads=1,
    )
    m = model(text, rule)
    s, notes = run(m, step(m, Action("gup", 0)))
    refused = rule == "anon-exclusive"
    assert (not s.refs) == refused
    assert any("writable_file_mapping_allowed" in n for n in notes) == refused
    prop = all_properties()["dirty-tracking"]
    for form in (prop.observational, prop.structural):
        assert form is not None and (form(s, m.ctx) is None) == refused


def test_read_only_data_structural_sees_the_writable_pte_first() -> None:
    m = model(litmus('backing = "file"\nstate = "present"', '{ op = "write" }', threads=1), "anon-exclusive")
    (s,) = m.init_states()
    ro = all_properties()["read-only-data"]
    assert ro.structural is not None and ro.observational is not None
    assert ro.structural(s, m.ctx) is None
    pte = s.procs[0].ptes[0]
    bad = s._replace(procs=(s.procs[0]._replace(ptes=(records.pte((PTE_PRESENT, pte.target, True, False, False)),)),))
    assert "maps page-cache page #0 writable" in (ro.structural(bad, m.ctx) or "")
    assert ro.observational(bad, m.ctx) is None
    zero = s._replace(zero=(5,))
    assert "zero page was written" in (ro.observational(zero, m.ctx) or "")
    assert s.procs[0].ptes[0].target != ZERO_FRAME


def test_writes_through_a_shared_mapping_are_the_files() -> None:
    text = litmus('backing = "shared-shmem"\nstate = "present"', '{ op = "write" }', threads=1)
    m = model(text, "mapcount-4.8")
    s, notes = run(m, Action("write", 0, 0, 0, 0, step=0))
    f, (t,) = page_cache(s)
    assert s.procs[0].ptes[0].target == f and s.procs[0].ptes[0].writable
    assert dict(s.toks)[t].file and any(n.startswith("wp_page_shared") for n in notes)
    assert check(parse_scenario(text, "t.toml"), "mapcount-4.8").result.verdict is Verdict.HOLDS


# The scenarios that use the new paths, under the rules where they differ: every
# reduction against the unreduced search (tests/test_reductions.py does the same for
# the whole catalog under two rules).
CASES = [
    ("dirty-cow", "mapcount-4.8"),
    ("dirty-cow", "mapcount"),
    ("dirty-cow-zeropage", "mapcount-4.8"),
    ("shmem-dirty-cow", "page-count-5.16"),
    ("shmem-dirty-cow", "page-count-5.11"),
    ("open-file", "mapcount-4.8"),
    ("open-file", "page-count-5.16"),
]


@pytest.mark.parametrize(("scenario", "rule"), CASES)
@pytest.mark.parametrize(
    "opts",
    [
        SearchOptions(symmetry=True, subsume=False),
        SearchOptions(por=True, subsume=False),
        SearchOptions(symmetry=True, subsume=True),
        SearchOptions(symmetry=True, subsume=True, workers=2),
    ],
    ids=["symmetry", "por", "subsume", "workers"],
)
def test_reductions_match_the_unreduced_search(scenario: str, rule: str, opts: SearchOptions) -> None:
    unreduced = explore(build_model(scenario, rule), SearchOptions(symmetry=False, subsume=False))
    reduced = explore(build_model(scenario, rule), opts)
    if opts.workers > 1 and unreduced.violation is not None:
        # Workers finish the violating level in parallel: its state count may differ.
        assert reduced.violation is not None
        assert reduced.violation.property_id == unreduced.violation.property_id
        assert len(reduced.violation.path) == len(unreduced.violation.path)
        return
    assert_reduced_matches(reduced, unreduced)


def test_the_cli_draws_dirty_cow() -> None:
    code, out, _err = run_cli("check", "dirty-cow", "-r", "mapcount-4.8")
    assert code == 1
    assert "VIOLATION read-only-data: the file was written through a private mapping" in out
    assert "FOLL_WRITE dropped" in out and "MADV_DONTNEED" in out
    code, out, _err = run_cli("check", "shmem-dirty-cow", "-r", "anon-exclusive-5.19", "--form", "structural")
    assert code == 1 and "UFFDIO_CONTINUE" in out


DURING_FORK = """
name = "during-fork"
kind = "litmus"
[world]
threads = 2
vpages = 1
cells = 1
[[vpage]]
state = "present"
[[actor]]
name = "parent"
steps = [ { op = "fork" } ]
[[actor]]
name = "odirect"
steps = [ { op = "gup", flags = ["FOLL_GET", "FOLL_WRITE"], fast = true, ref = "r" } ]
[[actor]]
name = "device"
kind = "device"
steps = [ { op = "dma_write", ref = "r" } ]
[[actor]]
name = "child"
process = 1
steps = [ { op = "read", after = "device:1" } ]
"""


@pytest.mark.parametrize("rule", ["page-count", "anon-exclusive"])
def test_a_get_reference_taken_while_fork_copies_is_held_across_it(rule: str) -> None:
    """Found by open-file with two threads: gup-fast (FOLL_GET takes no
    write_protect_seq) grabs the page between fork's PTE copies. The reference is held
    across that fork, and open(2) leaves what its device writes undefined for the
    child: not a missed COW, except under --strict."""
    sc = parse_scenario(DURING_FORK, "during-fork.toml")
    assert check(sc, rule).result.verdict is Verdict.HOLDS
    strict = check(sc, rule, strict=True)
    assert strict.result.verdict is Verdict.VIOLATED and strict.trace is not None
    assert strict.trace.property_id == "missed-cow"
    m = build_model(sc, rule)
    states, _ = reachable(m)
    during = [r for s in states for r in s.refs if r.crossed]
    assert during and all(r.crossed == 0b10 for r in during)
