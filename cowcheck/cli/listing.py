"""``cowcheck rules``, ``scenarios`` and ``properties``: what is built in."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from cowcheck.cli.console import out
from cowcheck.input.bundled import scenario_files
from cowcheck.input.properties import all_properties
from cowcheck.input.rule_files import builtin_rules
from cowcheck.input.scenario import load_scenario


def rules_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the built-in rules with their kernel versions and commits."""
    rules = builtin_rules()
    if as_json:
        print(
            json.dumps(
                [
                    {"name": r.name, "title": r.title, "kernels": r.kernels, "commits": list(r.commits)}
                    for r in rules.values()
                ],
                indent=2,
            )
        )
        return
    t = Table("rule", "kernels", "decision", "commits", show_lines=True)
    for r in rules.values():
        t.add_row(r.name, r.kernels, r.title, "\n".join(r.commits))
    out.print(t)


def scenarios_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the bundled scenarios and the verdicts they expect."""
    scs = [load_scenario(f) for f in scenario_files()]
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "kind": s.kind,
                        "title": s.title,
                        "path": s.path,
                        "source": s.source,
                        "expect": s.expect,
                        "expect_strict": s.expect_strict,
                    }
                    for s in scs
                ],
                indent=2,
            )
        )
        return
    t = Table("scenario", "kind", "title", "expected", show_lines=True)
    for s in scs:
        exp = ", ".join(f"{k}: {v}" for k, v in s.expect.items())
        if s.expect_strict:
            exp += "\n--strict: " + ", ".join(f"{k}: {v}" for k, v in s.expect_strict.items())
        t.add_row(s.name, s.kind, s.title, exp)
    out.print(t)


def properties_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the properties, the kernel failure each models, and its forms."""
    props = all_properties()
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "id": p.id,
                        "title": p.title,
                        "models": p.models,
                        "metric": p.metric,
                        "forms": [f for f in ("observational", "structural") if p.check_for(f)],
                    }
                    for p in props.values()
                ],
                indent=2,
            )
        )
        return
    t = Table("id", "checks", "kernel failure", "kind", show_lines=True)
    for p in props.values():
        t.add_row(p.id, p.title, p.models, "metric (fails only with --property)" if p.metric else "property")
    out.print(t)
