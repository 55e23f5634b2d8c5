"""Every kernel path the model claims to have is reached by some bundled scenario."""

from __future__ import annotations

import pytest
from conftest import reachable

from cowcheck.api import build_model
from cowcheck.mm.model import MMModel


def _notes(scenario: str, rule: str) -> set[str]:
    m0 = build_model(scenario, rule)
    return reachable(MMModel(m0.scenario, m0.rule, []))[1]  # no properties: explore everything


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
