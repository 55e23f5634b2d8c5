"""The shape of a pfnmap property. Property files in properties/pfnmap/ build these.

A property checks states (a bookkeeping shape) or transitions (what a step did:
the kernel's WARN and "freeing invalid memtype" messages, a CPU access through an
aliased mapping), in each form: ``observational`` is what the machine or the
kernel log would show, ``structural`` the bookkeeping that leads there (earlier,
shorter traces)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cowcheck.engine import Step
from cowcheck.pfnmap.state import PfnState

StateCheck = Callable[[PfnState], str | None]
StepCheck = Callable[[PfnState, Step[PfnState]], str | None]


@dataclass(frozen=True, slots=True)
class PfnProperty:
    id: str
    title: str
    models: str  # the kernel failure it models
    cite: str = ""
    observational: StateCheck | None = None
    structural: StateCheck | None = None
    observational_step: StepCheck | None = None
    structural_step: StepCheck | None = None
    metric: bool = False  # none of this family's are: every property is a failure

    def state_check(self, form: str) -> StateCheck | None:
        return self.observational if form == "observational" else self.structural

    def step_check(self, form: str) -> StepCheck | None:
        return self.observational_step if form == "observational" else self.structural_step

    def check_for(self, form: str) -> StateCheck | StepCheck | None:
        """Whether it checks anything in ``form`` (as the anon family's properties say)."""
        return self.state_check(form) or self.step_check(form)
