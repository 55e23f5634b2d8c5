"""64-bit fingerprints in an open-addressing table (TLC's fingerprint set)."""

from __future__ import annotations

from array import array
from collections.abc import Hashable

from cowcheck.engine.store.hashing import fingerprint


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
