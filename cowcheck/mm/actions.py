"""Actions: what an actor can do next, as small serialisable records.

An action names everything needed to re-execute it, so a trace is a list of actions
that replays exactly (stateright keeps traces as action paths the same way). What
each ``op`` does, and how a trace names it, is its entry in ``mm/ops``.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from cowcheck.errors import record_from_json, record_to_json
from cowcheck.mm.rule import GupFlags

# Actor ids that are not threads of a process. Final, as state.py's constants.
DEVICE: Final = -1
RECLAIM: Final = -2
OUTSIDER: Final = -3
SPECULATIVE: Final = -4
_THREADS_PER_PID: Final = 16  # open scenarios: thread actor id = 16 * pid + tid


class Action(NamedTuple):
    op: str
    actor: int
    pid: int = -1
    vpage: int = -1
    cell: int = -1
    idx: int = -1  # ref / in-flight / speculative index, or a frame (swapout, spec_get)
    pin: bool = False
    write: bool = False
    longterm: bool = False
    fast: bool = False
    name: str = ""  # litmus: the reference's name
    step: int = -1  # litmus: program step this action runs (advances the actor's pc)
    prot: str = ""

    @property
    def flags(self) -> GupFlags:
        return GupFlags(self.pin, self.write, self.longterm)

    def to_json(self) -> dict[str, Any]:
        return record_to_json(self, _DEFAULT)

    @staticmethod
    def from_json(d: object) -> Action:
        """The inverse of ``to_json``; ``ActionError`` naming the field at fault."""
        return Action(**record_from_json(d, _DEFAULT))


_DEFAULT: Final = Action("", 0)  # what a saved action leaves out


def thread_actor(pid: int, tid: int) -> int:
    return _THREADS_PER_PID * pid + tid


def actor_thread(actor: int) -> tuple[int, int]:
    return divmod(actor, _THREADS_PER_PID)


def cell_addr(vpage: int, cell: int) -> str:
    """Cells are 512-byte sectors of a page, as in the O_DIRECT race diagram of
    <20210110004435.26382-2-aarcange@redhat.com> (vaddr+0, vaddr+512)."""
    off = vpage * 4096 + cell * 512
    return f"vaddr+{off}"
