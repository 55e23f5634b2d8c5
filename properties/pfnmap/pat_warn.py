"""pat-warn: untrack_pfn() and track_pfn_copy() always find the page table they
read. Kernel failure: "WARNING in get_pat_info" (before 6.9, "WARNING in
untrack_pfn"): syzbot's reports, a failed fork (d155df53f310, dc84bc2aba85), a
remap_pfn_range() error path (79a61cc3fc04) and, under Peter Xu's patch, David
Wang's report <1182a459.1e35.190b0e61754.Coremail.00107082@163.com>. A WARN is a kernel bug
report, and with panic_on_warn a crash.
"""

from __future__ import annotations

from cowcheck.engine import Step
from cowcheck.pfnmap.kernel import Warned
from cowcheck.pfnmap.property import PfnProperty
from cowcheck.pfnmap.state import PfnState


def check(s: PfnState, step: Step[PfnState]) -> str | None:
    for e in step.events:
        if isinstance(e, Warned):
            return f"WARNING in {e.where}: {e.text}"
    return None


PROPERTY = PfnProperty(
    id="pat-warn",
    title="untracking never finds the page table gone",
    models='"WARNING in get_pat_info" / "WARNING in untrack_pfn" (WARN_ON_ONCE in arch/x86/mm/pat/memtype.c)',
    cite="syzbot; dc84bc2aba85; David Wang <1182a459.1e35.190b0e61754.Coremail.00107082@163.com>",
    observational_step=check,
    structural_step=check,
)
