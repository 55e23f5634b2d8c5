"""Visited-state stores: exact, 64-bit fingerprints, and bitstate hashing.

All three answer one question, "was this canonical state seen before?", and differ in
what a wrong answer costs:

- ``exact`` keeps every canonical state: never wrong, but the states themselves are
  the memory bill.
- ``fingerprint`` keeps a 64-bit hash per state in an open-addressing table backed by
  ``array('Q')`` (8 bytes a slot, at most 75 % full, so at most 21.4 bytes a state).
  Two distinct states with one fingerprint make the search skip the second: TLC's
  bound on the chance of that is ``distinct * generated / 2**64``, reported with
  the result.
- ``bitstate`` (Holzmann's supertrace) sets k bits in a fixed bit array. A state whose
  k bits are all set already is taken as seen, so coverage is estimated, and a
  search that finds nothing is INCOMPLETE, never HOLDS.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

from cowcheck.engine.store.bitstate import MAX_BITSTATE_MB, BitstateStore
from cowcheck.engine.store.exact import ExactStore
from cowcheck.engine.store.fingerprint import FingerprintStore
from cowcheck.engine.store.hashing import MASK64, fingerprint

__all__ = [
    "MASK64",
    "MAX_BITSTATE_MB",
    "BitstateStore",
    "ExactStore",
    "FingerprintStore",
    "Store",
    "StoreSpec",
    "fingerprint",
]


class Store(Protocol):
    kind: str

    def add(self, key: Hashable) -> bool:
        """Record ``key``; True if it was not there before."""
        ...

    def __contains__(self, key: Hashable) -> bool: ...

    def __len__(self) -> int: ...

    def nbytes(self) -> int:
        """Bytes held by the store's own table (not counting shared key objects)."""
        ...

    def exact(self) -> bool:
        """True if a miss can never be a false hit (a HOLDS verdict is exhaustive)."""
        ...

    def note(self, generated: int) -> str:
        """One line for the report: what the store can have missed."""
        ...


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """Which store to use: ``exact``, ``fingerprint`` or ``bitstate[:MiB]``."""

    kind: str = "exact"
    megabytes: int = 64

    @staticmethod
    def parse(text: str) -> StoreSpec:
        kind, _, size = text.partition(":")
        if kind not in ("exact", "fingerprint", "bitstate"):
            raise ValueError(f"unknown store {text!r} (expected exact, fingerprint or bitstate[:MiB])")
        if size and kind != "bitstate":
            raise ValueError(f"only bitstate takes a size, not {text!r}")
        if size:
            digits = size.lstrip("0")
            if not (size.isascii() and size.isdigit()) or not digits:
                raise ValueError(f"bitstate size must be a positive number of MiB, not {size!r}")
            # By length first: int() refuses strings of more than 4300 digits.
            if len(digits) > len(str(MAX_BITSTATE_MB)) or int(digits) > MAX_BITSTATE_MB:
                raise ValueError(
                    f"bitstate size must be at most {MAX_BITSTATE_MB} MiB (2^32 bits: all that its "
                    f"32-bit hash halves can address), not {size[:20]}{'...' if len(size) > 20 else ''}"
                )
            return StoreSpec(kind, int(digits))
        return StoreSpec(kind)

    @property
    def text(self) -> str:
        """As ``--store`` takes it."""
        return f"bitstate:{self.megabytes}" if self.kind == "bitstate" else self.kind

    def make(self) -> Store:
        if self.kind == "fingerprint":
            return FingerprintStore()
        if self.kind == "bitstate":
            return BitstateStore(self.megabytes)
        return ExactStore()
