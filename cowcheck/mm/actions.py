"""Actions: what an actor can do next, as small serialisable records.

An action names everything needed to re-execute it, so a trace is a list of actions
that replays exactly (stateright keeps traces as action paths the same way).
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

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
        default = Action("", 0)
        d: dict[str, Any] = {"op": self.op, "actor": self.actor}
        for k, v in self._asdict().items():
            if k not in d and v != getattr(default, k):
                d[k] = v
        return d

    @staticmethod
    def from_json(d: object) -> Action:
        """The inverse of ``to_json``. Raises ``ActionError`` naming the field at fault:
        a saved trace is user input, and a field of the wrong type must not replay as
        something else (``write: 1`` is not ``true``, ``vpage: "0"`` is not ``0``)."""
        if not isinstance(d, dict):
            raise ActionError(None, f"expected an object with op and actor, got {json_type(d)}")
        for k in d:
            if k not in _FIELD_TYPES:
                raise ActionError(str(k), f"unknown field (expected one of: {', '.join(Action._fields)})")
        for k in ("op", "actor"):
            if k not in d:
                raise ActionError(k, "missing")
        for k, v in d.items():
            want = _FIELD_TYPES[k]
            # bool is an int to Python, not to a trace: each must be the one it says.
            if type(v) is not want:
                raise ActionError(k, f"expected {_TYPE_NAMES[want]}, got {json_type(v)}")
        return Action(**d)


class ActionError(ValueError):
    """A saved action that is not one: ``field`` (None: the action itself) and what
    was expected."""

    def __init__(self, field: str | None, expected: str) -> None:
        self.field = field
        self.expected = expected
        super().__init__(f"{field}: {expected}" if field else expected)


_FIELD_TYPES: Final[dict[str, type]] = {k: type(v) for k, v in Action("", 0)._asdict().items()}
_TYPE_NAMES: Final[dict[type, str]] = {str: "a string", int: "an integer", bool: "true or false"}


def json_type(v: object) -> str:
    """A value's type as JSON names it (in errors about saved traces)."""
    if v is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array"}
    return names.get(type(v), "an object" if isinstance(v, dict) else type(v).__name__)


def thread_actor(pid: int, tid: int) -> int:
    return _THREADS_PER_PID * pid + tid


def actor_thread(actor: int) -> tuple[int, int]:
    return divmod(actor, _THREADS_PER_PID)


def cell_addr(vpage: int, cell: int) -> str:
    """Cells are 512-byte sectors of a page, as in seed 004 (vaddr+0, vaddr+512)."""
    off = vpage * 4096 + cell * 512
    return f"vaddr+{off}"


def describe(a: Action) -> str:
    """The action as a kernel developer would write it in a diagram column."""
    op = a.op
    if op == "write":
        return f"write {cell_addr(a.vpage, a.cell)}"
    if op == "read":
        return f"read {cell_addr(a.vpage, a.cell)}"
    if op == "gup":
        fn = ("pin_user_pages" if a.pin else "get_user_pages") + ("_fast" if a.fast else "")
        nm = f" [{a.name}]" if a.name else ""
        return f"{fn}({a.flags.describe()}) vaddr+{a.vpage * 4096}{nm}"
    if op == "fork":
        return "fork()"
    if op == "release":
        return f"release {a.name or f'reference {a.idx}'}"
    if op == "dma_write":
        where = cell_addr(a.vpage, a.cell) if a.vpage >= 0 else f"cell {a.cell}"
        return f"DMA write {where} via {a.name or f'reference {a.idx}'}"
    if op == "dma_read":
        return f"DMA read cell {a.cell} via {a.name or f'reference {a.idx}'}"
    if op == "clear_refs":
        return f"echo 4 > /proc/P{a.pid}/clear_refs"
    if op == "mprotect":
        prot = "PROT_READ" if a.prot == "ro" else "PROT_READ|PROT_WRITE"
        return f"mprotect(vaddr+{a.vpage * 4096}, {prot})"
    if op == "munmap":
        return f"munmap(vaddr+{a.vpage * 4096})"
    if op == "dontneed":
        return f"madvise(vaddr+{a.vpage * 4096}, MADV_DONTNEED)"
    if op == "dontfork":
        return f"madvise(vaddr+{a.vpage * 4096}, MADV_DONTFORK)"
    if op == "exit":
        return "exit()"
    if op == "swapout":
        return (
            f"reclaim: swap out page of P{a.pid} vaddr+{a.vpage * 4096}"
            if a.pid >= 0
            else f"reclaim: swap out page #{a.idx}"
        )
    if op == "spec_get":
        return (
            f"speculative get_page(#{a.idx})" if a.pid < 0 else f"speculative get_page(P{a.pid} vaddr+{a.vpage * 4096})"
        )
    if op == "spec_put":
        return "speculative put_page"
    if op == "step":
        return "(continues)"
    return op
