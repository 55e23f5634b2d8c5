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

import math
import sys
from array import array
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

MASK64 = (1 << 64) - 1


def fingerprint(key: Hashable) -> int:
    """64-bit fingerprint of a state: CPython's tuple hash (xxHash lanes) finished with
    splitmix64's avalanche, so the low bits used as table index and partition are
    well mixed. Deterministic across runs as long as the state holds no str whose hash
    is salted (models give such fields a stable ``__hash__``) and no None, which
    Python 3.11 hashes by its address (3.12 made it a constant)."""
    z = hash(key) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


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


class ExactStore:
    kind = "exact"

    def __init__(self) -> None:
        self._seen: set[Hashable] = set()

    def add(self, key: Hashable) -> bool:
        n = len(self._seen)
        self._seen.add(key)
        return len(self._seen) != n

    def __contains__(self, key: Hashable) -> bool:
        return key in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def nbytes(self) -> int:
        return sys.getsizeof(self._seen)

    def exact(self) -> bool:
        return True

    def note(self, generated: int) -> str:
        return "exact visited set"


class FingerprintStore:
    """Open addressing with linear probing over ``array('Q')``; 0 marks an empty slot."""

    kind = "fingerprint"
    _MAX_LOAD = 0.75

    def __init__(self, log2_slots: int = 16) -> None:
        self._table = array("Q", bytes(8 << log2_slots))
        self._mask = (1 << log2_slots) - 1
        self._n = 0
        self._limit = int((self._mask + 1) * self._MAX_LOAD)

    def _insert(self, fp: int) -> bool:
        t, mask = self._table, self._mask
        i = fp & mask
        while True:
            cur = t[i]
            if cur == 0:
                t[i] = fp
                return True
            if cur == fp:
                return False
            i = (i + 1) & mask

    def add_fp(self, fp: int) -> bool:
        fp = fp or 1
        if not self._insert(fp):
            return False
        self._n += 1
        if self._n > self._limit:
            self._grow()
        return True

    def has_fp(self, fp: int) -> bool:
        fp = fp or 1
        t, mask = self._table, self._mask
        i = fp & mask
        while True:
            cur = t[i]
            if cur == 0:
                return False
            if cur == fp:
                return True
            i = (i + 1) & mask

    def add(self, key: Hashable) -> bool:
        return self.add_fp(fingerprint(key))

    def __contains__(self, key: Hashable) -> bool:
        return self.has_fp(fingerprint(key))

    def _grow(self) -> None:
        old = self._table
        size = 2 * len(old)
        self._table = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._limit = int(size * self._MAX_LOAD)
        for fp in old:
            if fp:
                self._insert(fp)

    def __len__(self) -> int:
        return self._n

    def nbytes(self) -> int:
        return self._table.buffer_info()[1] * self._table.itemsize

    def exact(self) -> bool:
        return True  # up to the collision probability reported by note()

    def collision_probability(self, generated: int) -> float:
        return min(1.0, self._n * generated / 2.0**64)

    def note(self, generated: int) -> str:
        return (
            f"64-bit fingerprints: probability of a collision (TLC's bound, distinct x generated / 2^64) "
            f"<= {self.collision_probability(generated):.2e}"
        )


class BitstateStore:
    """Holzmann's bitstate hashing: k bits per state from double hashing one fingerprint."""

    kind = "bitstate"

    def __init__(self, megabytes: int = 64, k: int = 3) -> None:
        self._bits = bytearray(megabytes << 20)
        self._m = len(self._bits) * 8
        self._k = k
        self._n = 0

    def _positions(self, fp: int) -> list[int]:
        h1, h2 = fp & 0xFFFFFFFF, (fp >> 32) | 1
        return [(h1 + i * h2) % self._m for i in range(self._k)]

    def add(self, key: Hashable) -> bool:
        bits = self._bits
        new = False
        for p in self._positions(fingerprint(key)):
            byte, mask = p >> 3, 1 << (p & 7)
            if not bits[byte] & mask:
                bits[byte] |= mask
                new = True
        if new:
            self._n += 1
        return new

    def __contains__(self, key: Hashable) -> bool:
        bits = self._bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in self._positions(fingerprint(key)))

    def __len__(self) -> int:
        return self._n

    def nbytes(self) -> int:
        return len(self._bits)

    def exact(self) -> bool:
        return False

    def omission_probability(self) -> float:
        """Chance that the next new state is taken as seen: (1 - e^(-kn/m))^k. Every
        earlier lookup had a lower chance, so 1 minus this bounds coverage from below."""
        return (1.0 - math.exp(-self._k * self._n / self._m)) ** self._k

    def note(self, generated: int) -> str:
        return (
            f"bitstate hashing ({self._m:,} bits, k={self._k}): estimated coverage >= "
            f"{100.0 * (1.0 - self.omission_probability()):.4f}%"
        )


# The largest bitstate table: the k bit positions come from the two 32-bit halves of
# a fingerprint (``BitstateStore._positions``), which reach 2^32 bits, 512 MiB. A larger
# table would only cost memory; allocating it could not, in any case, be made to fail
# cleanly (the zeroed bytes are touched at once, and the OOM killer answers).
MAX_BITSTATE_MB = 512


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
