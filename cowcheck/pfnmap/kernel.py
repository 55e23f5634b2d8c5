"""One transition's scratch copy of the state: the kernel paths mutate it, and it
is frozen into a new ``PfnState`` at the end (states stay immutable). It collects
the notes printed under the step and the events the properties read."""

from __future__ import annotations

from typing import NamedTuple

from cowcheck.pfnmap.rule import PatRule
from cowcheck.pfnmap.state import Entry, Fork, PfnState, Vma


class Warned(NamedTuple):
    """A WARN_ON_ONCE() fired: the function, and the condition in the kernel's words."""

    where: str
    text: str


class InvalidFree(NamedTuple):
    """memtype_free() found no entry to erase ("freeing invalid memtype")."""

    text: str


class Accessed(NamedTuple):
    """A CPU access through a PTE: the pfn, the type it was accessed with, and every
    other live mapping of the pfn with another type (the alias, if any)."""

    who: str
    pfn: int
    type: int
    others: tuple[tuple[str, int], ...]


class Kernel:
    __slots__ = ("ctxs", "events", "fork", "kmap", "memtype", "next_trk", "notes", "procs", "rule", "vmas")

    def __init__(self, s: PfnState, rule: PatRule) -> None:
        self.rule = rule
        self.vmas: list[Vma] = list(s.vmas)
        self.memtype: tuple[Entry, ...] = s.memtype
        self.kmap = list(s.kmap)
        self.ctxs = list(s.ctxs)
        self.procs = list(s.procs)
        self.fork: Fork | None = s.fork
        self.next_trk = s.next_trk
        self.notes: list[str] = []
        self.events: list[object] = []

    def vma_at(self, pid: int, page: int) -> int:
        """The index of ``pid``'s VMA holding virtual page ``page``; -1 if none (find_vma())."""
        return next((i for i, v in enumerate(self.vmas) if v.pid == pid and v.start <= page < v.end), -1)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def warn(self, where: str, text: str) -> None:
        self.notes.append(f"WARNING in {where}(): {text}")
        self.events.append(Warned(where, text))

    def new_trk(self) -> int:
        t = self.next_trk
        self.next_trk += 1
        return t

    def freeze(self, s: PfnState, pcs: tuple[int, ...], used: tuple[int, ...]) -> PfnState:
        return PfnState(
            tuple(sorted(self.vmas)),
            self.memtype,
            tuple(self.kmap),
            tuple(sorted(self.ctxs)),
            tuple(self.procs),
            pcs,
            used,
            (self.fork,) if self.fork is not None else (),
            self.next_trk,
        )
