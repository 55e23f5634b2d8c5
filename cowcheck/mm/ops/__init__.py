"""The table of operations: every kind of action the model can take, one entry each
(``operation.Operation`` says what an entry holds).

The order is the scenario format's (docs/scenario-format.md lists them so) and the
order in which an open scenario offers them, which decides which of two equally
short counterexamples the search finds first: add a new operation where its actions
should come. Adding one is an entry in the module of its kind, its line here, and
its kernel path (a module of ``cowcheck/mm``).
"""

from __future__ import annotations

from typing import Final

from cowcheck.mm.actions import Action
from cowcheck.mm.ops.cpu import READ, WRITE
from cowcheck.mm.ops.inflight import CONTINUE
from cowcheck.mm.ops.kernel import SPEC_GET, SPEC_PUT, SWAPOUT
from cowcheck.mm.ops.mappings import CLEAR_REFS, DONTFORK, DONTNEED, MPROTECT, MUNMAP, UFFD_CONTINUE
from cowcheck.mm.ops.operation import Operation
from cowcheck.mm.ops.process import EXIT, FORK
from cowcheck.mm.ops.references import DMA_READ, DMA_WRITE, FORCE_WRITE, GUP, RELEASE

# What scenarios and budgets name.
OPERATIONS: Final[tuple[Operation, ...]] = (
    WRITE,
    READ,
    FORK,
    GUP,
    RELEASE,
    MPROTECT,
    MUNMAP,
    DONTNEED,
    DONTFORK,
    EXIT,
    CLEAR_REFS,
    DMA_WRITE,
    DMA_READ,
    SWAPOUT,
    SPEC_GET,
    SPEC_PUT,
    FORCE_WRITE,
    UFFD_CONTINUE,
)

# Every action's operation, by Action.op: the table's and the continuation of a
# kernel path in flight.
OPERATION: Final[dict[str, Operation]] = {op.name: op for op in (*OPERATIONS, CONTINUE)}


def describe(a: Action) -> str:
    """The action as a kernel developer would write it in a diagram column."""
    op = OPERATION.get(a.op)
    return op.describe(a) if op is not None else a.op
