"""dirty-tracking: no device writes a file's page-cache page through a long-term
reference behind the back of a filesystem that tracks dirty pages. Kernel failure:
RDMA, io_uring fixed buffers or vfio writing a MAP_SHARED mapping of an ext4, xfs or
btrfs file through a FOLL_LONGTERM pin: the filesystem never saw ->page_mkwrite for
those writes, so writeback may clean the page while the device still writes it, and
the filesystem meets dirty data it never prepared for. 8ac268436e6d (6.5) refuses such
pins: "Writing to
file-backed mappings which require folio dirty tracking using GUP is a fundamentally
broken operation, as kernel write access to GUP mappings do not adhere to the semantics
expected by a file system." shmem and hugetlbfs need no dirty tracking and are allowed.

The model has no writeback: it marks the state the filesystem cannot handle, which is
the pin itself. A device writes through a long-term pin whenever it likes (an RDMA
peer, an io_uring request), so no later step of the process's is needed to show it,
and both forms report the reference as soon as it is held.
"""

from __future__ import annotations

from cowcheck.mm.context import Ctx
from cowcheck.mm.contract import describe_ref
from cowcheck.mm.footprint import MM_KINDS
from cowcheck.mm.observe import page_of
from cowcheck.mm.property import MMProperty
from cowcheck.mm.state import SHARED_FILE, MMState, Ref


def _tracked_longterm(s: MMState, ctx: Ctx) -> list[Ref]:
    if SHARED_FILE not in ctx.backing:
        return []
    out = []
    for r in s.refs:
        if r.write and r.longterm and ctx.backing[r.vpage] == SHARED_FILE:
            p = page_of(s, r.frame)
            if p is not None and p.file >= 0:
                out.append(r)
    return out


def observational(s: MMState, ctx: Ctx) -> str | None:
    for r in _tracked_longterm(s, ctx):
        return (
            f"{describe_ref(r)} of P{r.owner} holds page-cache page #{r.frame} of a file that needs dirty "
            "tracking (vma_needs_dirty_tracking()): the device writes it behind the filesystem's back"
        )
    return None


PROPERTY = MMProperty(
    id="dirty-tracking",
    title="no long-term device writes into files that need dirty tracking",
    models="writable FOLL_LONGTERM pins of MAP_SHARED ext4/xfs/btrfs mappings (before 8ac268436e6d, 6.5)",
    cite="8ac268436e6d mm/gup: disallow FOLL_LONGTERM GUP-nonfast writing to file-backed mappings",
    observational=observational,
    structural=observational,
    reads=MM_KINDS,  # the mm only: never a program counter or the budget
)
