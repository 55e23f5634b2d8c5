"""Builders for the records the model makes on its hot paths, one per record.

Why by position: a NamedTuple's own constructor and its ``_replace()`` run Python
code, and the model rebuilds a record for almost every change an action makes, and
builds actions, steps and page views for every state. ``tuple.__new__(Cls, fields)``
builds the same record in C, a few times cheaper. Each builder below is that call
bound to its class (a method of ``tuple.__new__``), so calling one is a call in C as
well, with no Python frame: it takes the record's fields as one tuple, in the class's
field order (written above each builder, and pinned by tests/test_canon.py). A field
added to or moved in a record must move in every call of its builder.

Rebuild a record field by field, not as ``(*r[:3], x, *r[4:])``: the compiled build
makes a starred tuple through a list and a slice, about twice the cost of the record
itself.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MethodType
from typing import Final

from cowcheck.engine import Step
from cowcheck.mm.actions import Action
from cowcheck.mm.rule import GupFlags, PageView
from cowcheck.mm.state import (
    Expect,
    ForceOp,
    ForkOp,
    GupFastOp,
    Holder,
    InFlight,
    MMState,
    NamedRef,
    Page,
    Proc,
    Pte,
    Ref,
    Slot,
    SwapoutOp,
    Tok,
    Vma,
)

_new = tuple.__new__

# -- the mm (state.py) ------------------------------------------------------------------

# kind, target, writable, exclusive, dirty
pte: Final[Callable[[tuple[int, int, bool, bool, bool]], Pte]] = MethodType(_new, Pte)

# refcount, mapcount, pincount, anon_exclusive, swapcache, locked, content, file
PageFields = tuple[int, int, int, bool, int, bool, tuple[int, ...], int]
page: Final[Callable[[PageFields], Page]] = MethodType(_new, Page)

# swapcount, cache, content
slot: Final[Callable[[tuple[int, int, tuple[int, ...]]], Slot]] = MethodType(_new, Slot)

# alive, parent, threads, has_pinned, wp_seq, vmas, ptes, expect
ProcFields = tuple[bool, int, int, bool, int, tuple[Vma, ...], tuple[Pte, ...], tuple[Expect, ...]]
proc: Final[Callable[[ProcFields], Proc]] = MethodType(_new, Proc)

# writer, device, visible, file
tok: Final[Callable[[tuple[int, bool, int, bool]], Tok]] = MethodType(_new, Tok)

# name, owner, vpage, frame, pin, write, longterm, attached, crossed
RefFields = tuple[str, int, int, int, bool, bool, bool, bool, int]
_plain_ref: Final[Callable[[RefFields], Ref]] = MethodType(_new, Ref)
_named_ref: Final[Callable[[RefFields], Ref]] = MethodType(_new, NamedRef)


def ref(fields: RefFields) -> Ref:
    """A GUP reference, of the type its name asks for (``state.NamedRef``)."""
    return _named_ref(fields) if fields[0] else _plain_ref(fields)


# actor, parent, child, next_vpage, held
fork_op: Final[Callable[[tuple[int, int, int, int, bool]], ForkOp]] = MethodType(_new, ForkOp)

# actor, pid, vpage, pin, write, longterm, name, stage, seq, snap_frame, snap_writable
GupFastFields = tuple[int, int, int, bool, bool, bool, str, int, int, int, bool]
gup_fast_op: Final[Callable[[GupFastFields], GupFastOp]] = MethodType(_new, GupFastOp)

# actor, frame, stage
swapout_op: Final[Callable[[tuple[int, int, int]], SwapoutOp]] = MethodType(_new, SwapoutOp)

# actor, pid, vpage, cell, write, cow
force_op: Final[Callable[[tuple[int, int, int, int, bool, bool]], ForceOp]] = MethodType(_new, ForceOp)

# procs, pages, slots, refs, toks, inflight, spec, zero, pcs, budget, bug
StateFields = tuple[
    tuple[Proc, ...],
    tuple[tuple[int, Page], ...],
    tuple[tuple[int, Slot], ...],
    tuple[Ref, ...],
    tuple[tuple[int, Tok], ...],
    tuple[InFlight, ...],
    tuple[int, ...],
    tuple[int, ...],
    tuple[int, ...],
    tuple[int, ...],
    str,
]
mm_state: Final[Callable[[StateFields], MMState]] = MethodType(_new, MMState)

# kind, pid, detail
holder: Final[Callable[[tuple[str, int, str]], Holder]] = MethodType(_new, Holder)

# -- what the model hands the search and the rules ------------------------------------------

# op, actor, pid, vpage, cell, idx, pin, write, longterm, fast, name, step, prot
ActionFields = tuple[str, int, int, int, int, int, bool, bool, bool, bool, str, int, str]
action: Final[Callable[[ActionFields], Action]] = MethodType(_new, Action)

# state, notes, events
step: Final[Callable[[tuple[MMState, tuple[str, ...], tuple[object, ...]]], Step[MMState]]] = MethodType(_new, Step)

# pin, write, longterm
gup_flags: Final[Callable[[tuple[bool, bool, bool]], GupFlags]] = MethodType(_new, GupFlags)

# refcount, mapcount, pincount, exclusive, swapcache, swapcount, locked, zero, file
PageViewFields = tuple[int, int, int, bool, bool, int, bool, bool, bool]
page_view: Final[Callable[[PageViewFields], PageView]] = MethodType(_new, PageView)
