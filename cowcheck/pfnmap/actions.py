"""The pfnmap family's actions: small records that name everything needed to run
them again, so that a trace is a list of actions that replays exactly."""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from cowcheck.errors import ActionError, json_type
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
        default = PfnAction("", 0)
        d: dict[str, Any] = {"op": self.op, "actor": self.actor}
        for k, v in self._asdict().items():
            if k not in d and v != getattr(default, k):
                d[k] = v
        return d

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


_TYPE_NAMES: Final[dict[type, str]] = {str: "a string", int: "an integer", bool: "true or false"}
_FIELD_TYPES: Final[dict[str, type]] = {k: type(v) for k, v in PfnAction("", 0)._asdict().items()}


def action_from_json(d: object) -> PfnAction:
    """The inverse of ``to_json``; ValueError naming the field at fault."""
    if not isinstance(d, dict):
        raise ActionError(None, f"expected an object with op and actor, got {json_type(d)}")
    for k in d:
        if k not in _FIELD_TYPES:
            raise ActionError(str(k), f"unknown field (expected one of: {', '.join(PfnAction._fields)})")
    for k in ("op", "actor"):
        if k not in d:
            raise ActionError(k, "missing")
    for k, v in d.items():
        if type(v) is not _FIELD_TYPES[k]:
            raise ActionError(k, f"expected {_TYPE_NAMES[_FIELD_TYPES[k]]}, got {json_type(v)}")
    if not -1 <= d.get("type", -1) < len(TYPE_NAMES):
        raise ActionError("type", f"expected a cache type 0..{len(TYPE_NAMES) - 1} ({', '.join(TYPE_NAMES)}) or -1")
    if not 0 <= d.get("fail", 0) < len(FAIL_NAMES):
        raise ActionError("fail", f"expected 0..{len(FAIL_NAMES) - 1} (none, {', '.join(FAIL_NAMES[1:])})")
    if d["op"] not in (*OPS, FORK_STEP):
        raise ActionError("op", f"unknown operation {d['op']!r} (expected one of: {', '.join(OPS)}, step)")
    return PfnAction(**d)
