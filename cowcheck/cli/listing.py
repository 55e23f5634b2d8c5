"""``cowcheck rules``, ``scenarios`` and ``properties``: what is built in."""

from __future__ import annotations

import argparse
import json

from cowcheck.cli.args import Command, add_output
from cowcheck.cli.console import out
from cowcheck.input.bundled import scenario_files
from cowcheck.input.properties import all_properties
from cowcheck.input.rule_files import builtin_rules
from cowcheck.input.scenario import load_scenario


def _json_only(p: argparse.ArgumentParser) -> None:
    add_output(p, quiet=False)


def rules(a: argparse.Namespace) -> int:
    found = builtin_rules()
    if a.as_json:
        doc = [
            {"name": r.name, "title": r.title, "kernels": r.kernels, "commits": list(r.commits)} for r in found.values()
        ]
        print(json.dumps(doc, indent=2))
        return 0
    out.table(
        ("rule", "kernels", "decision", "commits"),
        [(r.name, r.kernels, r.title, "\n".join(r.commits)) for r in found.values()],
        lines=True,
    )
    return 0


def scenarios(a: argparse.Namespace) -> int:
    scs = [load_scenario(f) for f in scenario_files()]
    if a.as_json:
        doc = [
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
        ]
        print(json.dumps(doc, indent=2))
        return 0
    rows = []
    for s in scs:
        exp = ", ".join(f"{k}: {v}" for k, v in s.expect.items())
        if s.expect_strict:
            exp += "\n--strict: " + ", ".join(f"{k}: {v}" for k, v in s.expect_strict.items())
        rows.append((s.name, s.kind, s.title, exp))
    out.table(("scenario", "kind", "title", "expected"), rows, lines=True)
    return 0


def properties(a: argparse.Namespace) -> int:
    props = all_properties()
    if a.as_json:
        doc = [
            {
                "id": p.id,
                "title": p.title,
                "models": p.models,
                "metric": p.metric,
                "forms": [f for f in ("observational", "structural") if p.check_for(f)],
            }
            for p in props.values()
        ]
        print(json.dumps(doc, indent=2))
        return 0
    rows = [
        (p.id, p.title, p.models, "metric (fails only with --property)" if p.metric else "property")
        for p in props.values()
    ]
    out.table(("id", "checks", "kernel failure", "kind"), rows, lines=True)
    return 0


RULES = Command(_json_only, rules)
SCENARIOS = Command(_json_only, scenarios)
PROPERTIES = Command(_json_only, properties)
