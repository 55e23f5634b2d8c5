"""One partition in the search's own process: the serial search."""

from __future__ import annotations

from typing import Any

from cowcheck.engine.limits import Limits
from cowcheck.engine.partition import Answer, Partition


class Local:
    n = 1
    label = ""
    local = True

    def __init__(self, part: Partition[Any, Any]) -> None:
        self.part = part

    def start(self) -> list[Answer]:
        return [self.part.start()]

    def level(self, limits: Limits) -> list[Answer]:
        return [self.part.sweep(limits)]

    def can_move(self) -> bool:
        return self.part.can_move()

    def link(self, gid: int) -> tuple[int, int]:
        return self.part.link(gid)

    def note(self, generated: int) -> str:
        return self.part.note(generated)

    def snapshot(self) -> list[Answer] | None:
        return [([], self.part.figures())]

    def close(self) -> None:
        pass
