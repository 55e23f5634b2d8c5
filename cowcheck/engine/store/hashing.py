"""The 64-bit state fingerprint shared by the stores and the partition routing."""

from __future__ import annotations

from collections.abc import Hashable

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
