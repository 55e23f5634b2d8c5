"""Canonical form: relabel frames, swap slots and tokens, and optionally processes.

Two states that differ only in the numbers given to anonymous identities behave
identically, so they get the same key. Frames, slots and tokens are relabelled by
first appearance in a traversal that does not look at their numbers; the relabelling
is a bijection applied to every occurrence, so the canonical state is isomorphic to
the concrete one. Tokens that nothing refers to any more are dropped from the token
table, since no property or action can observe them. ``write_protect_seq`` keeps only
what is read of it: its parity and its distance from in-flight gup-fast snapshots.

Process symmetry (``canonical_procs``): in an open scenario nothing a process can do
depends on its number. Fork gives the child the next free number and ``Proc.parent``
is bookkeeping nobody reads; budgets are global, the first process's extra threads
are recorded in its ``Proc.threads``; properties speak of "the owner" and "the
processes that may see a token" (bitmasks), never of P0. So renaming pids
everywhere (procs order, ``Ref.owner``/``crossed``, ``Tok.writer``/``visible``,
in-flight actors, fork's parent/child) maps a state to one that behaves the same.
Litmus scenarios bind named programs to pids, so they keep their numbering.
"""

from __future__ import annotations

from itertools import permutations, product
from typing import Final

from cowcheck.mm import records
from cowcheck.mm.actions import actor_thread, thread_actor
from cowcheck.mm.gup import gup_fast_op_with
from cowcheck.mm.state import (
    NO_FRAME,
    NO_SLOT,
    PTE_PRESENT,
    PTE_SWAP,
    ZERO_FRAME,
    ZERO_TOKEN,
    ForceOp,
    ForkOp,
    GupFastOp,
    MMState,
    Proc,
    Slot,
    SwapoutOp,
    Tok,
)

# The numbers canonical() never renames, as the maps it starts from: copied at each
# call, which the compiled build does faster than it builds a dict display.
_FRAMES0: Final = {ZERO_FRAME: ZERO_FRAME, NO_FRAME: NO_FRAME}
_SLOTS0: Final = {NO_SLOT: NO_SLOT}
_TOKENS0: Final = {ZERO_TOKEN: ZERO_TOKEN}
# How many of each there are: new numbers start after them.
_KEPT_FRAMES: Final = 2
_KEPT_SLOTS: Final = 1
_KEPT_TOKENS: Final = 0


def _first_sight(ids: dict[int, int], x: int, kept: int) -> bool:
    """Number ``x``, seen for the first time: the next number after the ``kept``
    numbers that are never renamed. Whether it is its own new number."""
    n = len(ids) - kept
    ids[x] = n
    return x == n


def canonical(s: MMState) -> MMState:
    fmap = _FRAMES0.copy()
    smap = _SLOTS0.copy()
    # Whether every number so far is its own new number: then the state is already
    # canonical (most are) and nothing needs rebuilding. Tracked as the maps grow,
    # since the first appearance of i gets number i exactly when nothing moved.
    same = True
    slots: dict[int, Slot] | None = None  # by slot number, built when first needed

    # Pass 1: frames and slots, in a traversal order that ignores their numbers.
    for pr in s.procs:
        for pte in pr.ptes:
            kind, t = pte[0], pte[1]
            if kind == PTE_PRESENT:
                if t not in fmap:
                    same = _first_sight(fmap, t, _KEPT_FRAMES) and same
            elif kind == PTE_SWAP:
                if t not in smap:
                    same = _first_sight(smap, t, _KEPT_SLOTS) and same
                if slots is None:
                    slots = dict(s.slots)
                sv = slots.get(t)
                c = sv.cache if sv is not None else NO_FRAME
                if c not in fmap:
                    same = _first_sight(fmap, c, _KEPT_FRAMES) and same
    for r in s.refs:
        f = r.frame
        if f not in fmap:
            same = _first_sight(fmap, f, _KEPT_FRAMES) and same
    for op in s.inflight:
        f = op.snap_frame if type(op) is GupFastOp else op.frame if type(op) is SwapoutOp else NO_FRAME
        if f not in fmap:
            same = _first_sight(fmap, f, _KEPT_FRAMES) and same
    for f in s.spec:
        if f not in fmap:
            same = _first_sight(fmap, f, _KEPT_FRAMES) and same
    for f, _p in s.pages:  # sorted by frame: unreachable pages (leaks) last
        if f not in fmap:
            same = _first_sight(fmap, f, _KEPT_FRAMES) and same
    # With every frame its own number, the new order of the pages is their order.
    page_order = s.pages if same else tuple(sorted(s.pages, key=lambda fp: fmap[fp[0]]))
    for _f, p in page_order:
        x = p.swapcache
        if x not in smap:
            same = _first_sight(smap, x, _KEPT_SLOTS) and same
    for x, _sl in s.slots:
        if x not in smap:
            same = _first_sight(smap, x, _KEPT_SLOTS) and same
    slot_order = s.slots if same else tuple(sorted(s.slots, key=lambda xs: smap[xs[0]]))

    # Pass 2: tokens, in the new frame/slot order.
    # A cell of ``expect`` is a set: its members are taken in the order of what is
    # known about them (writer, device, visibility), not of their numbers.
    tmap = _TOKENS0.copy()
    tokd: dict[int, Tok] | None = None  # by token number, built when first needed
    for pr in s.procs:
        for ex in pr.expect:
            for cell in ex:
                if len(cell) == 1:
                    t = cell[0]
                    if t not in tmap:
                        same = _first_sight(tmap, t, _KEPT_TOKENS) and same
                    continue
                fresh = [t for t in cell if t not in tmap]
                if len(fresh) > 1:
                    if tokd is None:
                        tokd = dict(s.toks)
                    tok_of = tokd.get
                    fresh.sort(key=lambda t: (tok_of(t) or (), t))
                for t in fresh:
                    same = _first_sight(tmap, t, _KEPT_TOKENS) and same
    for _f, p in page_order:
        for t in p.content:
            if t not in tmap:
                same = _first_sight(tmap, t, _KEPT_TOKENS) and same
    for _x, sl in slot_order:
        for t in sl.content:
            if t not in tmap:
                same = _first_sight(tmap, t, _KEPT_TOKENS) and same
    for t in s.zero:
        if t not in tmap:
            same = _first_sight(tmap, t, _KEPT_TOKENS) and same

    # write_protect_seq: only its parity and its equality with a gup-fast snapshot
    # are ever read (gup.py), so subtract the same even number from both.
    base = [pr.wp_seq & ~1 for pr in s.procs]
    for op in s.inflight:
        if type(op) is GupFastOp:
            base[op.pid] = min(base[op.pid], op.seq & ~1)

    # The token table keeps exactly the tokens something refers to: with every token
    # its own number, those are 1 .. len(tmap) - 1 (distinct, sorted, none below 1).
    k = len(tmap) - 1
    unshifted = base.count(0) == len(base)  # not any(base), without a builtin's lookup
    if same and unshifted and len(s.toks) == k and (k == 0 or (s.toks[0][0] == 1 and s.toks[-1][0] == k)):
        return s  # already canonical: most states, and no new tuples to build

    if tokd is None:
        tokd = dict(s.toks)
    tok_of = tokd.get
    procs: list[Proc] = []
    for pr in s.procs:
        expect = tuple(tuple(tuple(sorted([tmap[t] for t in cell])) for cell in ex) for ex in pr.expect)
        ptes = tuple(
            records.pte((p[0], fmap[p[1]], p[2], p[3], p[4]))
            if p[0] == PTE_PRESENT
            else records.pte((p[0], smap[p[1]], p[2], p[3], p[4]))
            if p[0] == PTE_SWAP
            else p
            for p in pr.ptes
        )
        wp_seq = pr.wp_seq - base[len(procs)]
        procs.append(records.proc((pr.alive, pr.parent, pr.threads, pr.has_pinned, wp_seq, pr.vmas, ptes, expect)))
    new_pages = tuple(
        (
            fmap[f],
            records.page(
                (
                    p.refcount,
                    p.mapcount,
                    p.pincount,
                    p.anon_exclusive,
                    smap[p.swapcache],
                    p.locked,
                    tuple([tmap[t] for t in p.content]),
                    p.file,
                ),
            ),
        )
        for f, p in page_order
    )
    new_slots = tuple(
        (smap[x], records.slot((sl.swapcount, fmap[sl.cache], tuple([tmap[t] for t in sl.content]))))
        for x, sl in slot_order
    )
    new_toks = tuple((new, tok) for old, new in tmap.items() if (tok := tok_of(old)) is not None)
    # As _replace() would, by position (records.py): Ref.frame, GupFastOp.seq and
    # .snap_frame, SwapoutOp.frame.
    refs = tuple(
        records.ref((r.name, r.owner, r.vpage, fmap[r.frame], r.pin, r.write, r.longterm, r.attached, r.crossed))
        for r in s.refs
    )
    inflight = tuple(
        gup_fast_op_with(op, op.stage, op.seq - base[op.pid], fmap[op.snap_frame], op.snap_writable)
        if type(op) is GupFastOp
        else records.swapout_op((op.actor, fmap[op.frame], op.stage))
        if type(op) is SwapoutOp
        else op
        for op in s.inflight
    )
    return records.mm_state(
        (
            tuple(procs),
            new_pages,
            new_slots,
            refs,
            new_toks,
            inflight,
            tuple(sorted([fmap[f] for f in s.spec])),
            tuple([tmap[t] for t in s.zero]),
            s.pcs,
            s.budget,
            s.bug,
        )
    )


# -- process symmetry ---------------------------------------------------------------


def _bits(mask: int, perm: tuple[int, ...]) -> int:
    out = 0
    for old, new in enumerate(perm):
        if mask >> old & 1:
            out |= 1 << new
    return out


def _actor(a: int, perm: tuple[int, ...]) -> int:
    if a < 0:
        return a  # device, reclaim, outsiders: not threads of a process
    pid, tid = actor_thread(a)
    return thread_actor(perm[pid], tid)


def permute(s: MMState, perm: tuple[int, ...]) -> MMState:
    """Rename process ``i`` to ``perm[i]`` everywhere."""
    procs = list(s.procs)
    for old, pr in enumerate(s.procs):
        procs[perm[old]] = pr._replace(parent=perm[pr.parent] if pr.parent >= 0 else pr.parent)
    refs = tuple(r._replace(owner=perm[r.owner], crossed=_bits(r.crossed, perm)) for r in s.refs)
    toks = tuple(
        (t, records.tok((perm[k.writer] if k.writer >= 0 else k.writer, k.device, _bits(k.visible, perm), k.file)))
        for t, k in s.toks
    )
    inflight = []
    for op in s.inflight:
        if type(op) is ForkOp:
            op = op._replace(actor=_actor(op.actor, perm), parent=perm[op.parent], child=perm[op.child])
        elif type(op) is GupFastOp or type(op) is ForceOp:
            op = op._replace(actor=_actor(op.actor, perm), pid=perm[op.pid])
        inflight.append(op)
    return s._replace(procs=tuple(procs), refs=refs, toks=toks, inflight=tuple(inflight))


def _signature(pr: Proc) -> tuple[object, ...]:
    """What a process looks like without naming any frame, slot, token or pid."""
    return (
        pr.alive,
        pr.threads,
        pr.has_pinned,
        pr.wp_seq & 1,  # canonical() keeps only its parity and snapshot distances
        pr.vmas,
        tuple((p.kind, p.writable, p.exclusive, p.dirty) for p in pr.ptes),
        tuple(tuple(len(c) for c in ex) if ex else (-1,) for ex in pr.expect),
    )


def canonical_procs(s: MMState) -> MMState:
    """canonical() up to renaming processes as well.

    Processes are ordered by a pid-free signature; among processes with equal
    signatures every order is tried and the smallest canonical form (by repr, which
    is total and deterministic) wins. Any member of the orbit would be sound; taking
    the least one is what makes symmetric states meet."""
    n = len(s.procs)
    if n < 2:
        return canonical(s)
    sigs = [_signature(p) for p in s.procs]
    order = sorted(range(n), key=sigs.__getitem__)
    groups: list[list[int]] = []
    for i in order:
        if groups and sigs[groups[-1][0]] == sigs[i]:
            groups[-1].append(i)
        else:
            groups.append([i])
    best: MMState | None = None
    best_repr = ""
    for choice in product(*(permutations(g) for g in groups)):
        new_order = [i for g in choice for i in g]  # new pid -> old pid
        perm = [0] * n
        for new, old in enumerate(new_order):
            perm[old] = new
        c = canonical(permute(s, tuple(perm)) if perm != list(range(n)) else s)
        if best is None:
            best = c
            if len(groups) == n:
                return c  # no ties: one candidate
            best_repr = repr(c)
            continue
        r = repr(c)
        if r < best_repr:
            best, best_repr = c, r
    assert best is not None
    return best
