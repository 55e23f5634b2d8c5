"""Holzmann's bitstate hashing (supertrace): k bits per state, coverage estimated."""

from __future__ import annotations

import math
from collections.abc import Hashable

from cowcheck.engine.store.hashing import fingerprint

# The largest bitstate table: the k bit positions come from the two 32-bit halves of
# a fingerprint (``BitstateStore._positions``), which reach 2^32 bits, 512 MiB. A larger
# table would only cost memory; allocating it could not, in any case, be made to fail
# cleanly (the zeroed bytes are touched at once, and the OOM killer answers).
MAX_BITSTATE_MB = 512


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
