"""unnecessary-cow: a copy nobody needed. Kernel failure: performance, not correctness;
a page copied on a write fault although no other process and no GUP reference could
observe it, only transient kernel references (the swapcache with no swap entry left,
reclaim's isolation reference, LRU pagevecs and other speculative references). The
spurious COWs of the page_count rule: Nadav Amit's LRU pagevec report
<FFA0057D-1A17-4DF4-9550-A8CDEE9E0CE0@gmail.com> and the swapcache copies that
53a05ad9f21d (5.18) removed.

A metric counted in every report; a failure only when asked for with --property.
"""

from __future__ import annotations

from cowcheck.engine import Step
from cowcheck.mm.context import Ctx
from cowcheck.mm.events import WpCopy
from cowcheck.mm.footprint import MM_KINDS
from cowcheck.mm.observe import holders, swap_sharers
from cowcheck.mm.property import MMProperty
from cowcheck.mm.state import ZERO_FRAME, MMState


def transition(before: MMState, step: Step[MMState], ctx: Ctx) -> str | None:
    for ev in step.events:
        if not isinstance(ev, WpCopy) or ev.old == ZERO_FRAME:
            continue
        needed = False
        for h in holders(before, ev.old):
            if h.kind == "pte" and h.detail != f"P{ev.pid} vpage {ev.vpage}":
                needed = True
            elif h.kind in ("ref", "pagecache"):
                # Copying under a reference is either required or wrong-cow's; a
                # page-cache page in a private mapping is always copied.
                needed = True
            elif h.kind == "swapcache":
                slot = dict(before.pages)[ev.old].swapcache
                needed = needed or any(True for _ in swap_sharers(before, slot))
        if not needed:
            return f"unnecessary COW: P{ev.pid} copied page #{ev.old}, which only transient kernel references held"
    return None


PROPERTY = MMProperty(
    id="unnecessary-cow",
    title="no copies that nobody needed",
    models="spurious COW of the page_count rule (5.9-5.17)",
    cite=(
        "53a05ad9f21d (mm: optimize do_wp_page() for exclusive pages in the swapcache, 5.18); "
        "David Hildenbrand <3ae33b08-d9ef-f846-56fb-645e3b9b4c66@redhat.com>, section 5"
    ),
    transition=transition,
    metric=True,
    reads=MM_KINDS,  # the mm only: never a program counter or the budget
)
