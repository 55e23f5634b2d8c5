"""How a search runs: one validated record, made once, printed in every report and
saved in every trace (stateright's ``CheckerBuilder`` as a value).

``SearchOptions`` carries the bounds, the visited store, the reductions and the
transport. ``validate`` catches a combination that cannot run (partial-order
reduction with workers) before any search starts, naming the option at fault;
``effective`` says which requested reductions the store and the model allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from cowcheck.engine.store import StoreSpec

# The most worker processes on this machine (--workers/-j). A fixed number, not one
# relative to os.cpu_count(), so that a command valid on one machine is valid on every
# other; 64 because a worker is a whole search process (its own store, ~100 MB and
# more), more workers than cores only share the cores, and a level exchanges N²
# batches. It also keeps the pipes and queues (about 2N + 4 descriptors in every
# process) far below the usual limit of 1024 open files.
MAX_WORKERS = 64


class OptionError(ValueError):
    """An option, or a combination of options, that cannot run: ``option`` names it as
    the command line does (``--por``), ``expected`` says what would."""

    def __init__(self, option: str, expected: str) -> None:
        self.option = option
        self.expected = expected
        super().__init__(f"{option}: {expected}")

    def __reduce__(self) -> tuple[type[OptionError], tuple[str, str]]:
        # Raised in a worker, it must cross back to the coordinator as itself.
        return OptionError, (self.option, self.expected)


@dataclass(frozen=True, slots=True)
class Bounds:
    """Search bounds. Hitting any of them makes the verdict INCOMPLETE, never HOLDS."""

    max_states: int | None = None
    max_depth: int | None = None
    timeout: float | None = None  # seconds
    max_memory_mb: int | None = None

    def describe(self) -> str:
        parts = []
        if self.max_states is not None:
            parts.append(f"max-states {self.max_states}")
        if self.max_depth is not None:
            parts.append(f"max-depth {self.max_depth}")
        if self.timeout is not None:
            parts.append(f"timeout {self.timeout:g}s")
        if self.max_memory_mb is not None:
            parts.append(f"max-memory {self.max_memory_mb} MiB")
        return ", ".join(parts) if parts else "none (exhaustive)"

    @property
    def any(self) -> bool:
        """A bound that can stop the search before the frontier is empty (the memory
        bound aside: it is the machine's, not the question's)."""
        return self.max_states is not None or self.max_depth is not None or self.timeout is not None

    def validate(self) -> Bounds:
        for name, v in (("--max-states", self.max_states), ("--max-memory", self.max_memory_mb)):
            if v is not None and v < 1:
                raise OptionError(name, f"expected a positive number, got {v}")
        if self.max_depth is not None and self.max_depth < 0:
            raise OptionError("--max-depth", f"expected a number >= 0, got {self.max_depth}")
        if self.timeout is not None and not self.timeout > 0:
            raise OptionError("--timeout", f"expected a positive number of seconds, got {self.timeout}")
        return self


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """Everything about how a search runs; nothing about what it checks.

    ``symmetry`` asks the model for its canonical form up to process symmetry (where
    it declares one, ``Capabilities.symmetric``); ``subsume`` for subsumption by
    resources (``engine/store/cover.py``; exact store, no ``por``); ``por`` for
    partial-order reduction (one partition only: the cycle proviso needs the whole
    visited set). ``workers`` > 1 partitions the search over processes, or over Dask
    (``dask``: ``local[:N]`` or a scheduler address; ``workers`` then sets the
    partitions, else one per Dask worker thread)."""

    bounds: Bounds = field(default_factory=Bounds)
    store: StoreSpec = field(default_factory=StoreSpec)
    symmetry: bool = False
    por: bool = False
    subsume: bool = True
    workers: int = 1
    dask: str | None = None

    def validate(self) -> SearchOptions:
        """This record, if it can run; else OptionError naming the option."""
        self.bounds.validate()
        n = self.workers
        if n < 1:
            raise OptionError("--workers", f"expected a positive number of worker processes, got {n}")
        if n > MAX_WORKERS:
            more = "more than the cores would only share them"
            raise OptionError("--workers", f"expected at most {MAX_WORKERS} worker processes, got {n} ({more})")
        if self.por and self.partitioned:
            raise OptionError(
                "--por",
                "partial-order reduction runs in the serial search only (its cycle proviso needs the "
                "whole visited set); drop --workers/--dask or --por",
            )
        return self

    @property
    def partitioned(self) -> bool:
        return self.workers > 1 or self.dask is not None

    @property
    def subsumes(self) -> bool:
        """Subsumption as requested and as the store allows (fingerprints and bits cannot
        compare resources; POR's proviso reads the visited set state by state)."""
        return self.subsume and self.store.kind == "exact" and not self.por

    def with_bounds(self, bounds: Bounds) -> SearchOptions:
        return replace(self, bounds=bounds)

    def describe(self) -> str:
        """One line for a report: the bounds, then whatever is not the default."""
        parts = [f"bounds: {self.bounds.describe()}"]
        if self.store.kind != "exact":
            parts.append(f"store {self.store.text}")
        if self.symmetry:
            parts.append("symmetry")
        if self.por:
            parts.append("partial-order reduction")
        if not self.subsume:
            parts.append("no subsumption")
        if self.dask is not None:
            parts.append(f"dask {self.dask}" + (f" ({self.workers} partitions)" if self.workers > 1 else ""))
        elif self.workers > 1:
            parts.append(f"{self.workers} workers")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """As a saved trace records it (``dask`` is not: an address does not travel,
        and its partitions are ``workers``)."""
        b = self.bounds
        return {
            "max_states": b.max_states,
            "max_depth": b.max_depth,
            "timeout": b.timeout,
            "store": self.store.text,
            "symmetry": self.symmetry,
            "por": self.por,
            "subsume": self.subsume,
            "workers": self.workers,
        }
