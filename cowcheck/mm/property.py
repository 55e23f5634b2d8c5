"""The shape of a property over the abstract mm. Property files in properties/ build these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cowcheck.engine import Step
from cowcheck.mm.context import Ctx
from cowcheck.mm.footprint import ALL_KINDS
from cowcheck.mm.state import MMState

StateCheck = Callable[[MMState, Ctx], str | None]
TransitionFn = Callable[[MMState, Step[MMState], Ctx], str | None]

FORMS = ("observational", "structural")


@dataclass(frozen=True, slots=True)
class MMProperty:
    id: str  # stable id, used on the command line and in saved traces
    title: str
    models: str  # the kernel failure it models
    cite: str = ""
    observational: StateCheck | None = None  # ground truth: values a read would return
    structural: StateCheck | None = None  # bookkeeping shape; earlier, shorter traces
    transition: TransitionFn | None = None  # for transition properties and metrics
    metric: bool = False  # counted in every report; a failure only when asked for
    # Resource kinds the checks look at (mm/footprint.py); partial-order reduction
    # may reorder actions that write none of them. Undeclared: everything.
    reads: frozenset[str] = ALL_KINDS

    def check_for(self, form: str) -> StateCheck | None:
        return self.observational if form == "observational" else self.structural
