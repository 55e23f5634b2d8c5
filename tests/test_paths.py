"""Every kernel path the model claims to have is reached by some bundled scenario."""

from __future__ import annotations

from collections import deque

import pytest

from cowcheck.api import build_model
from cowcheck.mm.model import MMModel


def _notes(scenario: str, rule: str) -> set[str]:
    m0 = build_model(scenario, rule)
    m = MMModel(m0.scenario, m0.rule, [])  # no properties: explore everything
    seen = {m.canonical(s) for s in m.init_states()}
    todo = deque(m.init_states())
    notes: set[str] = set()
    while todo:
        s = todo.popleft()
        for a in m.actions(s):
            st = m.next_step(s, a)
            if st is None:
                continue
            notes.update(st.notes)
            k = m.canonical(st.state)
            if k not in seen:
                seen.add(k)
                todo.append(st.state)
    return notes


@pytest.mark.parametrize(
    ("scenario", "rule", "fragment"),
    [
        ("gup-fast-fork", "page-count", "gup-fast re-check: PTE changed"),
        ("gup-fast-fork", "anon-exclusive", "write_protect_seq odd (fork running) -> slow path"),
        ("gup-fast-fork", "anon-exclusive", "gup-fast re-check passes"),
        ("gup-fast-fork", "page-count", "copy_present_page: has_pinned && page_maybe_dma_pinned"),
        ("gup-fast-fork", "anon-exclusive", "folio_try_dup_anon_rmap_pte: -EBUSY"),
        ("odirect-swap", "anon-exclusive", "do_swap_page: pte_swp_exclusive -> RMAP_EXCLUSIVE, writable"),
        ("odirect-swap", "page-count", "__remove_mapping: refcount 3 != 2 -> stays in the swapcache"),
        ("odirect-swap", "mapcount", "reuse_swap_page: mapcount 1 + swapcount 0 = 1 -> reuse"),
        ("fork-io-uring-dontfork", "mapcount", "vpage 0: VM_DONTCOPY, not copied"),
        ("odirect-mprotect", "page-count", "change_pte_range: pte_wrprotect"),
        ("vmsplice-child", "anon-exclusive", "folio_try_dup_anon_rmap_pte: ClearPageAnonExclusive, share"),
    ],
)
def test_path_is_reached(scenario: str, rule: str, fragment: str) -> None:
    assert any(fragment in n for n in _notes(scenario, rule)), fragment
