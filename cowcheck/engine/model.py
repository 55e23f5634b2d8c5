"""The contract between a model and the search."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, Protocol, TypeVar

S = TypeVar("S")
A = TypeVar("A")

# The built-in checks of ``Capabilities.stuck`` and ``Capabilities.coverage_goals``: a failure of
# either is a violation (exit 1). STUCK's trace is the shortest run that ended stuck;
# UNREACHED's (SPIN's "unreached") is a run without the goal, as every run is.
STUCK = "stuck"
UNREACHED = "unreached"


class Step(NamedTuple, Generic[S]):
    """The outcome of one action: the successor state and what happened on the way.

    ``notes`` are human-readable annotations (a renderer shows them under the action);
    ``events`` are structured facts for transition properties and metrics.

    A NamedTuple, not a frozen dataclass: a model makes one per transition, and a
    frozen dataclass's ``__init__`` runs ``object.__setattr__`` per field, in
    Python. A model on the hot path can build it in C
    with ``tuple.__new__(Step, (state, notes, events))``.
    """

    state: S
    notes: tuple[str, ...] = ()
    events: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class Invariant(Generic[S]):
    """A property of every reachable state. ``check`` returns None or a message."""

    id: str
    check: Callable[[S], str | None]


@dataclass(frozen=True, slots=True)
class TransitionCheck(Generic[S, A]):
    """A property of every explored transition.

    With ``metric`` set, a hit is counted instead of ending the search.
    """

    id: str
    check: Callable[[S, A, Step[S]], str | None]
    metric: bool = False


@dataclass(frozen=True, slots=True)
class Capabilities(Generic[S, A]):
    """What a model offers the search beyond the required methods, declared once
    (``Model.capabilities``) rather than looked up by name. Each is optional; the
    search runs without the feature where a model leaves it unset.

    - ``symmetric``: the canonical form up to a symmetry the model allows (process
      symmetry), used instead of ``canonical`` with ``SearchOptions.symmetry``; the
      same contract as ``canonical``.
    - ``partition_key``: a projection of a state that canonicalisation never changes,
      which a partitioned search routes on (``partition.py``); it must not read
      the resources ``split_resources`` splits off.
    - ``split_resources``: ``(core, resources)`` for subsumption (``store/cover.py``);
      unset where a property reads the resources.
    - ``ample_candidates``: proposed ample sets for partial-order reduction (C0-C2;
      the engine checks C3).
    - ``stuck(state, moves)``: None, or what is blocked when ``state`` is an end its
      programs should not have (a violation of ``STUCK``).
    - ``coverage_goals`` and ``goal_of(action)``: things every complete search must
      see happen at least once, and the goal an action achieves (-1 for none).
    """

    symmetric: Callable[[S], S] | None = None
    partition_key: Callable[[S], Hashable] | None = None
    split_resources: Callable[[S], tuple[Hashable, tuple[int, ...]]] | None = None
    ample_candidates: Callable[[S, Sequence[A]], Iterable[Sequence[int]]] | None = None
    stuck: Callable[[S, list[A]], str | None] | None = None
    coverage_goals: tuple[str, ...] = ()
    goal_of: Callable[[A], int] | None = None


class Model(Protocol[S, A]):
    """What the search needs from a model (stateright's ``Model`` trait): initial
    states, the actions of a state in a fixed order, their successors, a canonical
    form, the properties, and the optional features it declares (``Capabilities``)."""

    def capabilities(self) -> Capabilities[S, A]:
        """The optional features this model offers; asked once per search."""
        ...

    def init_states(self) -> Sequence[S]: ...

    def actions(self, state: S) -> Iterable[A]:
        """Candidate actions in a deterministic order."""
        ...

    def next_step(self, state: S, action: A) -> Step[S] | None:
        """The successor under ``action``, or None if the action is not enabled."""
        ...

    def canonical(self, state: S) -> S:
        """The representative of the states that behave identically up to renaming.

        It must be idempotent and every property must give it the verdict it gives
        ``state``: the search stores and expands representatives only, and rebuilds
        a concrete path afterwards (``engine/rebuild.py``)."""
        ...

    def invariants(self) -> Sequence[Invariant[S]]: ...

    def transition_checks(self) -> Sequence[TransitionCheck[S, A]]: ...
