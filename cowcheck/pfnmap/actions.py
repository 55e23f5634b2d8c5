"""The pfnmap family's actions: small records that name everything needed to run
them again, so that a trace is a list of actions that replays exactly."""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from cowcheck.errors import ActionError, record_from_json, record_to_json
from cowcheck.pfnmap.state import FAIL_COPY, FAIL_NAMES, FAIL_TRACK, TYPE_NAMES

# Every operation; what each models is in docs/pfnmap.md and its module's docstring.
MMAP: Final = "mmap"
MUNMAP: Final = "munmap"
MREMAP: Final = "mremap"
FORK: Final = "fork"
FORK_STEP: Final = "step"  # the next half-step of the fork in flight
EXIT: Final = "exit"
ZAP: Final = "zap"  # zap_vma_ptes()
UNMAP_MAPPING: Final = "unmap_mapping_range"
IOREMAP: Final = "ioremap"
ACCESS: Final = "access"
OPS: Final = (MMAP, MUNMAP, MREMAP, FORK, EXIT, ZAP, UNMAP_MAPPING, IOREMAP, ACCESS)


class PfnAction(NamedTuple):
    op: str
    actor: int
    step: int = -1  # litmus: the program step it runs
    pid: int = -1
    vpage: int = -1  # virtual page (mmap, munmap, mremap, zap, access)
    npages: int = 0
    pfn: int = -1  # device page (mmap, unmap_mapping_range, ioremap)
    type: int = -1  # cache type (mmap, ioremap)
    to: int = -1  # mremap: the new virtual page
    full: bool = True  # mmap: remap_pfn_range() of the whole VMA
    cow: bool = False  # mmap: MAP_PRIVATE
    fail: int = 0  # state.py's FAIL_*: mmap, fork: what an injected failure fails
    write: bool = False  # access

    def to_json(self) -> dict[str, Any]:
        return record_to_json(self, _DEFAULT)

    def describe(self) -> str:
        at = f"vaddr+{self.vpage * 4096:#x}"
        span = f"{self.npages} page{'s' if self.npages != 1 else ''}"
        if self.op == MMAP:
            how = "whole VMA" if self.full else "first page"
            priv = "MAP_PRIVATE" if self.cow else "MAP_SHARED"
            fail = ", page-table allocation fails" if self.fail else ""
            return f"mmap(dev, {span}, {priv}) at {at}: remap_pfn_range({how}, {TYPE_NAMES[self.type]}){fail}"
        if self.op == MUNMAP:
            return f"munmap({at}, {span})"
        if self.op == MREMAP:
            return f"mremap({at}, {span}) to vaddr+{self.to * 4096:#x}"
        if self.op == FORK:
            what = {
                FAIL_COPY: "copy_page_range()'s page-table allocation",
                FAIL_TRACK: "track_pfn_copy()'s memtype_reserve()",
            }
            return "fork()" + (f" ({what[self.fail]} fails: -ENOMEM)" if self.fail in what else "")
        if self.op == FORK_STEP:
            return "fork: next step"
        if self.op == EXIT:
            return "exit()"
        if self.op == ZAP:
            return f"zap_vma_ptes({at}, {span})"
        if self.op == UNMAP_MAPPING:
            return f"unmap_mapping_range(dev, pfn {self.pfn}, {span})"
        if self.op == IOREMAP:
            return f"ioremap(pfn {self.pfn}, {span}, {TYPE_NAMES[self.type]})"
        if self.op == ACCESS:
            return f"{'write' if self.write else 'read'} {at}"
        return self.op


_DEFAULT: Final = PfnAction("", 0)  # what a saved action leaves out


def action_from_json(d: object) -> PfnAction:
    """The inverse of ``to_json``; ``ActionError`` naming the field at fault."""
    a = PfnAction(**record_from_json(d, _DEFAULT))
    if not -1 <= a.type < len(TYPE_NAMES):
        raise ActionError("type", f"expected a cache type 0..{len(TYPE_NAMES) - 1} ({', '.join(TYPE_NAMES)}) or -1")
    if not 0 <= a.fail < len(FAIL_NAMES):
        raise ActionError("fail", f"expected 0..{len(FAIL_NAMES) - 1} (none, {', '.join(FAIL_NAMES[1:])})")
    if a.op not in (*OPS, FORK_STEP):
        raise ActionError("op", f"unknown operation {a.op!r} (expected one of: {', '.join(OPS)}, step)")
    return a
