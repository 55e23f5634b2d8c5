"""Canonical form: relabel frames, swap slots and tokens by first appearance.

Two states that differ only in the numbers given to anonymous identities behave
identically, so they get the same key. The relabelling is a bijection applied to
every occurrence, so the canonical state is isomorphic to the concrete one; tokens
that nothing refers to any more are dropped from the token table, since no
property or action can observe them.
"""

from __future__ import annotations

from cowcheck.mm.state import (
    NO_FRAME,
    NO_SLOT,
    PTE_PRESENT,
    PTE_SWAP,
    ZERO_FRAME,
    ZERO_TOKEN,
    ForkOp,
    GupFastOp,
    MMState,
    Pte,
    SwapoutOp,
)


def canonical(s: MMState) -> MMState:
    fmap: dict[int, int] = {ZERO_FRAME: ZERO_FRAME, NO_FRAME: NO_FRAME}
    smap: dict[int, int] = {NO_SLOT: NO_SLOT}
    pages = dict(s.pages)
    slots = dict(s.slots)

    def fr(f: int) -> int:
        if f not in fmap:
            fmap[f] = len(fmap) - 2
        return fmap[f]

    def sl(x: int) -> int:
        if x not in smap:
            smap[x] = len(smap) - 1
        return smap[x]

    # Pass 1: frames and slots, in a traversal order that ignores their numbers.
    for pr in s.procs:
        for pte in pr.ptes:
            if pte.kind == PTE_PRESENT:
                fr(pte.target)
            elif pte.kind == PTE_SWAP:
                sl(pte.target)
                c = slots[pte.target].cache if pte.target in slots else NO_FRAME
                fr(c)
    for r in s.refs:
        fr(r.frame)
    for op in s.inflight:
        if isinstance(op, GupFastOp):
            fr(op.snap_frame)
        elif isinstance(op, SwapoutOp):
            fr(op.frame)
    for f in s.spec:
        fr(f)
    for f in sorted(pages):  # unreachable pages (leaks) last
        fr(f)
    for _f, p in sorted(pages.items(), key=lambda kv: fmap[kv[0]]):
        if p.swapcache != NO_SLOT:
            sl(p.swapcache)
    for x in sorted(slots):
        sl(x)

    # Pass 2: tokens, in the new frame/slot order.
    tmap: dict[int, int] = {ZERO_TOKEN: ZERO_TOKEN}

    def tk(t: int) -> int:
        if t not in tmap:
            tmap[t] = len(tmap)
        return tmap[t]

    procs = []
    for pr in s.procs:
        expect = tuple(
            None if ex is None else tuple(tuple(sorted(tk(t) for t in cell)) for cell in ex) for ex in pr.expect
        )
        ptes = tuple(
            Pte(p.kind, fr(p.target), p.writable, p.exclusive)
            if p.kind == PTE_PRESENT
            else Pte(p.kind, sl(p.target), p.writable, p.exclusive)
            if p.kind == PTE_SWAP
            else p
            for p in pr.ptes
        )
        procs.append(pr._replace(ptes=ptes, expect=expect))
    new_pages = []
    for f, p in sorted(pages.items(), key=lambda kv: fmap[kv[0]]):
        new_pages.append((fmap[f], p._replace(swapcache=smap[p.swapcache], content=tuple(tk(t) for t in p.content))))
    new_slots = []
    for x, v in sorted(slots.items(), key=lambda kv: smap[kv[0]]):
        new_slots.append((smap[x], v._replace(cache=fr(v.cache), content=tuple(tk(t) for t in v.content))))
    toks = dict(s.toks)
    new_toks = tuple((new, toks[old]) for old, new in sorted(tmap.items(), key=lambda kv: kv[1]) if old in toks)
    refs = tuple(r._replace(frame=fr(r.frame)) for r in s.refs)
    inflight = tuple(
        op._replace(snap_frame=fr(op.snap_frame))
        if isinstance(op, GupFastOp)
        else op._replace(frame=fr(op.frame))
        if isinstance(op, SwapoutOp)
        else op
        for op in s.inflight
        if isinstance(op, GupFastOp | SwapoutOp | ForkOp)
    )
    out = MMState(
        tuple(procs),
        tuple(new_pages),
        tuple(new_slots),
        refs,
        new_toks,
        inflight,
        tuple(sorted(fr(f) for f in s.spec)),
        s.pcs,
        s.budget,
        s.bug,
    )
    return s if out == s else out  # share the object: most states are already canonical
