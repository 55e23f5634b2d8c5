"""The canonical relabelling is a reduction: check it against the unreduced search.

Unreduced, every concrete state is its own key. The reduced search must reach
exactly the canonical images of the unreduced reachable states, with the same
verdicts and the same shortest counterexample lengths.
"""

from __future__ import annotations

import random

import pytest
from conftest import reachable

from cowcheck.api import build_model
from cowcheck.engine import SearchOptions, explore
from cowcheck.input.bundled import scenario_files
from cowcheck.mm.canon import canonical
from cowcheck.mm.model import MMModel
from cowcheck.mm.state import PTE_PRESENT, PTE_SWAP, ZERO_FRAME, GupFastOp, MMState, NamedRef, Ref, SwapoutOp

# The unreduced search: the old search()'s defaults, against which reductions are compared.
PLAIN = SearchOptions(subsume=False)


class Unreduced(MMModel):
    def canonical(self, state: MMState) -> MMState:
        return state


def _reachable(m: MMModel) -> list[MMState]:
    return reachable(m)[0]


def _unreduced(m: MMModel) -> Unreduced:
    u = Unreduced(m.scenario, m.rule, m.properties, m.form, m.ctx.strict)
    return u


LITMUS = [f for f in scenario_files() if "open" not in f.stem]


@pytest.mark.parametrize("f", LITMUS, ids=[f.stem for f in LITMUS])
@pytest.mark.parametrize("rule", ["mapcount", "page-count", "anon-exclusive"])
def test_reduced_search_matches_unreduced(f: object, rule: str) -> None:
    m = build_model(str(f), rule)
    u = _unreduced(m)
    rr, ru = explore(m, PLAIN), explore(u, PLAIN)
    assert rr.verdict is ru.verdict
    if rr.violation is not None and ru.violation is not None:
        assert len(rr.violation.path) == len(ru.violation.path)
        assert rr.violation.property_id == ru.violation.property_id
    # Without properties, both explore everything: the reduced state set is exactly
    # the set of canonical images.
    m_all = MMModel(m.scenario, m.rule, [])
    images = {canonical(s) for s in _reachable(_unreduced(m_all))}
    assert explore(m_all, PLAIN).stats.states == len(images)
    assert {canonical(s) for s in _reachable(m_all)} == images


def test_a_reference_keeps_its_record_type() -> None:
    """A named reference is a NamedRef, which hashes its name stably; an unnamed one a
    plain Ref (mm/state.py). Every path that builds or rebuilds a reference (GUP,
    detaching, fork marking it crossed, canonical renaming) must keep to that, or a
    named one would hash with the process's str salt. Checked on every reachable
    state, concrete and canonical, of every litmus scenario, which name theirs, and of
    the first 5,000 of open-standard, whose references are unnamed."""
    named = unnamed = 0
    for f, upto in [*((f, None) for f in LITMUS), ("open-standard", 5_000)]:
        m = build_model(str(f), "anon-exclusive")
        for s in reachable(_unreduced(MMModel(m.scenario, m.rule, [])), upto=upto)[0]:
            for r in (*s.refs, *canonical(s).refs):
                assert type(r) is (NamedRef if r.name else Ref), (f, r)
                named += bool(r.name)
                unnamed += not r.name
    assert named > 100 and unnamed > 1_000, (named, unnamed)


def test_canonical_is_idempotent_and_renaming_invariant() -> None:
    m = build_model("odirect-swap", "page-count")
    states = _reachable(_unreduced(MMModel(m.scenario, m.rule, [])))
    for s in states:
        c = canonical(s)
        assert canonical(c) == c
    assert len({canonical(s) for s in states}) < len(states)  # renaming does merge states


def test_the_record_layouts_built_by_position() -> None:
    """The model builds its records by position (mm/records.py), not with their own
    constructors or _replace() (a few times dearer): a field added or moved must move
    in every call of its builder too. (Work.set_proc() goes by name, through
    _PROC_FIELD.)"""
    from cowcheck.engine import Step
    from cowcheck.mm.actions import Action
    from cowcheck.mm.rule import GupFlags, PageView
    from cowcheck.mm.state import (
        ForceOp,
        ForkOp,
        GupFastOp,
        Holder,
        MMState,
        Page,
        Proc,
        Pte,
        Ref,
        Slot,
        SwapoutOp,
        Tok,
    )

    assert Pte._fields == ("kind", "target", "writable", "exclusive", "dirty")
    assert Page._fields == (
        "refcount",
        "mapcount",
        "pincount",
        "anon_exclusive",
        "swapcache",
        "locked",
        "content",
        "file",
    )
    assert Slot._fields == ("swapcount", "cache", "content")
    assert Proc._fields == ("alive", "parent", "threads", "has_pinned", "wp_seq", "vmas", "ptes", "expect")
    assert Tok._fields == ("writer", "device", "visible", "file")
    assert ForceOp._fields == ("actor", "pid", "vpage", "cell", "write", "cow")
    assert Ref._fields == ("name", "owner", "vpage", "frame", "pin", "write", "longterm", "attached", "crossed")
    assert ForkOp._fields == ("actor", "parent", "child", "next_vpage", "held")
    assert GupFastOp._fields == (
        "actor",
        "pid",
        "vpage",
        "pin",
        "write",
        "longterm",
        "name",
        "stage",
        "seq",
        "snap_frame",
        "snap_writable",
    )
    assert SwapoutOp._fields == ("actor", "frame", "stage")
    assert MMState._fields == (
        "procs",
        "pages",
        "slots",
        "refs",
        "toks",
        "inflight",
        "spec",
        "zero",
        "pcs",
        "budget",
        "bug",
    )
    assert Action._fields == (
        "op",
        "actor",
        "pid",
        "vpage",
        "cell",
        "idx",
        "pin",
        "write",
        "longterm",
        "fast",
        "name",
        "step",
        "prot",
    )
    assert Step._fields == ("state", "notes", "events")
    assert GupFlags._fields == ("pin", "write", "longterm")
    assert PageView._fields == (
        "refcount",
        "mapcount",
        "pincount",
        "exclusive",
        "swapcache",
        "swapcount",
        "locked",
        "zero",
        "file",
    )
    assert Holder._fields == ("kind", "pid", "detail")


def test_the_hot_constructors_built_by_position() -> None:
    """Each builder of mm/records.py makes what the record's own constructor makes,
    of the same type; and the actions, steps and page views the model builds per
    state are the ones the keyword constructors give."""
    from cowcheck.engine import Step
    from cowcheck.mm import records
    from cowcheck.mm.actions import Action
    from cowcheck.mm.context import page_view
    from cowcheck.mm.ops.operation import new_action
    from cowcheck.mm.rule import GupFlags, PageView
    from cowcheck.mm.state import ForceOp, ForkOp, Page, Pte, Slot, SwapoutOp, Tok
    from cowcheck.mm.work import Work

    def same(got: object, want: object) -> None:
        assert got == want and type(got) is type(want), (got, want)

    same(records.pte((1, 3, True, False, True)), Pte(1, 3, True, False, True))
    same(records.page((1, 2, 0, True, -1, False, (4, 5), -1)), Page(1, 2, 0, True, -1, False, (4, 5), -1))
    same(records.slot((1, -2, ())), Slot(1, -2, ()))
    same(records.tok((0, True, 3, False)), Tok(0, True, 3, False))
    same(records.force_op((16, 0, 0, 1, True, False)), ForceOp(16, 0, 0, 1, True, False))
    same(records.fork_op((16, 0, 1, 0, False)), ForkOp(16, 0, 1, 0, False))
    same(records.swapout_op((-2, 0, 1)), SwapoutOp(-2, 0, 1))
    same(records.gup_flags((True, False, True)), GupFlags(True, False, True))
    same(records.ref(("", 0, 0, 1, True, True, False, True, 0)), Ref("", 0, 0, 1, True, True, False, True, 0))
    same(records.ref(("r", 0, 0, 1, True, True, False, True, 0)), NamedRef("r", 0, 0, 1, True, True, False, True, 0))
    same(new_action("release", -1, 2, 3, idx=4), Action("release", -1, 2, 3, idx=4))
    same(new_action("dma_write", -1, 0, 1, 1, idx=0), Action("dma_write", -1, 0, 1, 1, idx=0))
    same(new_action("step", 16, idx=2), Action("step", 16, idx=2))
    m = build_model("odirect-swap", "anon-exclusive")
    (s,) = m.init_states()
    same(records.step((s, ("n",), ())), Step(s, ("n",), ()))
    w = Work(s, True)
    f = s.pages[0][0]
    p: Page = w.page(f)
    same(
        page_view(w, f, extra_refs=1),
        PageView(
            refcount=p.refcount + 1,
            mapcount=p.mapcount,
            pincount=p.pincount,
            exclusive=p.anon_exclusive,
            swapcache=False,
            swapcount=0,
            locked=False,
            zero=False,
        ),
    )
    same(page_view(w, -1), PageView(1, 0, 0, False, False, 0, False, zero=True))


def _renamed(s: MMState, rnd: random.Random) -> MMState:
    """``s`` with its frames, slots and tokens renumbered by random bijections and its
    write_protect_seq counters moved by the same even number: a state that behaves
    exactly as ``s`` does, written differently."""
    snaps = {op.snap_frame for op in s.inflight if type(op) is GupFastOp and op.snap_frame >= 0}
    frames = sorted(({f for f, _ in s.pages} | {r.frame for r in s.refs} | set(s.spec) | snaps) - {ZERO_FRAME})
    slots = sorted({x for x, _ in s.slots})
    toks = sorted({t for t, _ in s.toks})
    fnew = dict(zip(frames, rnd.sample(range(100, 100 + 2 * len(frames)), len(frames)), strict=True))
    snew = dict(zip(slots, rnd.sample(range(50, 50 + 2 * len(slots)), len(slots)), strict=True))
    tnew = dict(zip(toks, rnd.sample(range(200, 200 + 2 * len(toks)), len(toks)), strict=True))

    def fm(f: int) -> int:
        return fnew.get(f, f)

    def sm(x: int) -> int:
        return snew.get(x, x)

    def tm(t: int) -> int:
        return tnew.get(t, t)

    shift = 2 * rnd.randrange(3)
    procs = tuple(
        pr._replace(
            wp_seq=pr.wp_seq + shift,
            ptes=tuple(
                p._replace(target=fm(p.target))
                if p.kind == PTE_PRESENT
                else p._replace(target=sm(p.target))
                if p.kind == PTE_SWAP
                else p
                for p in pr.ptes
            ),
            expect=tuple(tuple(tuple(sorted(map(tm, cell))) for cell in ex) for ex in pr.expect),
        )
        for pr in s.procs
    )
    inflight = tuple(
        op._replace(seq=op.seq + shift, snap_frame=fm(op.snap_frame))
        if type(op) is GupFastOp
        else op._replace(frame=fm(op.frame))
        if type(op) is SwapoutOp
        else op
        for op in s.inflight
    )
    return s._replace(
        procs=procs,
        pages=tuple(
            sorted(
                (fm(f), p._replace(swapcache=sm(p.swapcache), content=tuple(map(tm, p.content)))) for f, p in s.pages
            )
        ),
        slots=tuple(
            sorted((sm(x), sl._replace(cache=fm(sl.cache), content=tuple(map(tm, sl.content)))) for x, sl in s.slots)
        ),
        refs=tuple(r._replace(frame=fm(r.frame)) for r in s.refs),
        toks=tuple(sorted((tm(t), k) for t, k in s.toks)),
        inflight=inflight,
        spec=tuple(sorted(map(fm, s.spec))),
    )


# The litmus scenarios with swap, fork, gup-fast and clear_refs, and the first
# 12,000 states of open-standard (the first of its states where a reference alone
# names a page out of order is past 11,000).
RENAMED = [
    ("odirect-swap", None),
    ("fork-odirect-pin", None),
    ("gup-fast-fork", None),
    ("odirect-clear-refs", None),
    ("fork-swap-shared", None),
    ("pin-vs-swapout", None),
    ("open-standard", 12_000),
]


@pytest.mark.parametrize(("name", "upto"), RENAMED, ids=[n for n, _ in RENAMED])
def test_canonical_sees_through_any_renaming(name: str, upto: int | None) -> None:
    """canonical() returns a state unchanged when it finds it already canonical,
    deciding that as it numbers frames, slots and tokens. An independent check of
    that shortcut: every reachable state, renamed at random, has the same canonical
    form as the state itself, and a state whose form is itself is one whose renamings
    all come back to it."""
    rnd = random.Random(7)
    m = build_model(name, "anon-exclusive")
    states = reachable(_unreduced(MMModel(m.scenario, m.rule, [])), upto=upto)[0]
    kept = 0
    for s in states:
        c = canonical(s)
        kept += c is s
        for _ in range(2):
            r = _renamed(s, rnd)
            assert canonical(r) == c
    assert 0 < kept < len(states)  # both ways of canonical() were taken
