"""The memtype tree (arch/x86/mm/pat/memtype.c, memtype_interval.c), as a sorted
multiset of entries, and the reserve/free paths over it.

Only what decides a verdict is kept: entries overlap freely when their types match
(that is how fork works: the child reserves again), a request that overlaps an
entry of another type adopts that type when the caller can take it (``new_type``)
and fails otherwise, and ``memtype_erase()`` removes an EXACT match or shrinks an
END match, else the free is invalid. The pfns here are never RAM (RAM is tracked
per page without a tree entry, ``reserve_ram_pages_type()``); a free of RAM, which
``get_pat_info()`` can return for a COW mapping's anonymous page before 6.9, does
nothing (``free_pfn_range()`` skips it).
"""

from __future__ import annotations

from typing import NamedTuple

from cowcheck.pfnmap.state import TYPE_NAMES, UC_MINUS, Entry, mem_range


class Reserved(NamedTuple):
    ok: bool
    type: int  # the type the reservation got (the request's, or the one adopted)
    memtype: tuple[Entry, ...]
    note: str


def memtype_reserve(memtype: tuple[Entry, ...], start: int, end: int, req: int, trk: int, adopt: bool) -> Reserved:
    """memtype_reserve(start, end, req, new_type): memtype_check_conflict() takes the
    type of the first overlapping entry; a different one fails without ``new_type``
    (``adopt``) and is taken with it; any other overlapping entry of another type
    fails it either way."""
    over = [e for e in memtype if e.start < end and start < e.end]
    got = req
    if over and over[0].type != req:
        if not adopt:
            return _busy(memtype, start, end, req, over[0].type)
        got = over[0].type
    clash = next((e for e in over if e.type != got), None)
    if clash is not None:
        # Every other overlapping entry must have the first one's type, new_type or not.
        return _busy(memtype, start, end, req, clash.type)
    new = tuple(sorted((*memtype, Entry(start, end, got, trk))))
    took = "" if got == req else f" (asked {TYPE_NAMES[req]}, takes the existing type)"
    return Reserved(True, got, new, f"memtype_reserve {mem_range(start, end)} {TYPE_NAMES[got]}{took}")


def _busy(memtype: tuple[Entry, ...], start: int, end: int, req: int, other: int) -> Reserved:
    note = f"memtype_reserve {mem_range(start, end)} {TYPE_NAMES[req]}: conflicts with {TYPE_NAMES[other]}: -EBUSY"
    return Reserved(False, req, memtype, note)


class Freed(NamedTuple):
    ok: bool  # False: "freeing invalid memtype"
    memtype: tuple[Entry, ...]
    note: str


def memtype_free(memtype: tuple[Entry, ...], start: int, end: int, trk: int, end_match: bool = True) -> Freed:
    """memtype_free() -> memtype_erase(): an EXACT match is removed (munmap), else an
    END match (start before ``start``, same end) is shrunk to end at ``start``
    (mremap; gone from 6.16, 81baf8450165, with ``end_match`` False), else -EINVAL
    and "freeing invalid memtype". Entries the kernel cannot
    tell apart (same range and type) are interchangeable; the ghost takes the
    caller's own (``trk``) where there is one."""
    exact = [e for e in memtype if e.start == start and e.end == end]
    if exact:
        e = next((x for x in exact if x.trk == trk), exact[0])
        rest = list(memtype)
        rest.remove(e)
        return Freed(True, tuple(rest), f"memtype_free {mem_range(start, end)}: erased")
    ends = [e for e in memtype if e.start < start and e.end == end] if end_match else []
    if ends:
        e = next((x for x in ends if x.trk == trk), ends[0])
        rest = list(memtype)
        rest.remove(e)
        shrunk = e._replace(end=start)
        return Freed(
            True,
            tuple(sorted((*rest, shrunk))),
            f"memtype_free {mem_range(start, end)}: END match, entry shrunk to {mem_range(e.start, start)}",
        )
    return Freed(False, memtype, f"x86/PAT: freeing invalid memtype {mem_range(start, end)}")


def lookup_memtype(memtype: tuple[Entry, ...], pfn: int) -> int:
    """lookup_memtype(): the type of an entry covering ``pfn``; UC- for MMIO without one."""
    for e in memtype:
        if e.start <= pfn < e.end:
            return e.type
    return UC_MINUS
