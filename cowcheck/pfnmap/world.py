"""The pfnmap family's world: a device of ``pages`` pfns, the VMAs mapped before
the run, and what the actors may do (litmus programs, or an open budget)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cowcheck.input.scenario import bounds_parts


@dataclass(frozen=True, slots=True)
class DeviceVma:
    """A mmap() of the device by P0 before the run, whose ->mmap remap_pfn_range()s it."""

    vpage: int = 0
    npages: int = 2
    pfn: int = 0
    type: int = 0
    full: bool = True
    cow: bool = False


@dataclass(frozen=True, slots=True)
class PfnStep:
    op: str
    vpage: int = 0
    npages: int = 1
    pfn: int = 0
    type: int = 0
    to: int = 0
    full: bool = True
    cow: bool = False
    fail: int = 0  # state.py's FAIL_*
    write: bool = False
    label: str = ""
    optional: bool = False


@dataclass(frozen=True, slots=True)
class PfnActor:
    name: str
    kind: str  # "thread" (of ``process``) or "kernel" (truncate, another driver)
    process: int
    steps: tuple[PfnStep, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PfnScenario:
    name: str
    title: str
    path: str
    text: str
    kind: str  # "litmus" | "open"
    family: str = "pfnmap"
    description: str = ""
    source: str = ""
    pages: int = 2
    max_processes: int = 2
    vmas: tuple[DeviceVma, ...] = ()
    actors: tuple[PfnActor, ...] = ()
    budget: tuple[tuple[str, int], ...] = ()
    expect: dict[str, str] = field(default_factory=dict)
    expect_strict: dict[str, str] = field(default_factory=dict)
    expect_notes: str = ""

    @property
    def litmus(self) -> bool:
        return self.kind == "litmus"

    def bounds_parts(self) -> list[str]:
        """The bounds as ``holds`` states them."""
        size = f"{self.pages} device pfn(s), {len(self.vmas)} device VMA(s) at the start"
        return bounds_parts(self.kind, size, self.max_processes, self.budget)
