"""The first family: order-0 anonymous pages and the shared zero page.

Its model is ``mm/`` (state, the table of operations in ``mm/ops/``, the kernel-path
modules); its scenarios are the TOML files read by ``input/scenario.py`` against
``input/schema.py``, bundled in ``models/scenarios/``; its rules (eras) are
``models/*.py``, loaded by ``input/rule_files.py``; its properties are
``properties/*.py``; a state is drawn by ``report/diagram.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cowcheck.families import Family
from cowcheck.input.bundled import scenario_files
from cowcheck.input.properties import all_properties, select
from cowcheck.input.rule_files import BUILTIN_ORDER, builtin_rules, load_rule
from cowcheck.input.scenario import load_scenario, parse_scenario
from cowcheck.mm.model import MMModel
from cowcheck.mm.rule import Rule
from cowcheck.report.diagram import describe_state


def _load_scenario(path: Path) -> Any:
    return load_scenario(path)


def _load_rule(name_or_path: str) -> Any:
    return load_rule(name_or_path)


def _select(ids: Sequence[str] | None) -> tuple[Sequence[Any], Sequence[str]]:
    return select(list(ids) if ids else None)


def _build(
    scenario: Any, rule: Any, properties: Sequence[Any], form: str, strict: bool, failing: Sequence[str]
) -> MMModel:
    return MMModel(scenario, rule, properties, form, strict, failing)


def _saved_actions(where: str, doc: dict[str, Any], sc: Any) -> list[Any]:
    from cowcheck.input.trace_file import steps_of  # here: a check that saves nothing need not load it

    return list(steps_of(where, doc, sc))


def _owns(rule: Any) -> bool:
    return isinstance(rule, Rule)


def _property_ids() -> tuple[str, ...]:
    return tuple(p.id for p in all_properties().values() if not p.metric)


FAMILY = Family(
    name="anon",
    title="order-0 anonymous pages and the shared zero page",
    model_package="cowcheck.mm",
    scenario_files=scenario_files,
    load_scenario=_load_scenario,
    builtin_rules=builtin_rules,
    load_rule=_load_rule,
    select_properties=_select,
    build_model=_build,
    describe_state=describe_state,
    owns_rule=_owns,
    builtin_names=lambda: BUILTIN_ORDER,
    property_ids=_property_ids,
    parse_scenario=parse_scenario,
    saved_actions=_saved_actions,
)
