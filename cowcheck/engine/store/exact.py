"""The exact visited store: every canonical state, never wrong."""

from __future__ import annotations

import sys
from collections.abc import Hashable


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
