"""``cowcheck rules``, ``scenarios`` and ``properties``: what is built in."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cowcheck.cli.args import Command, add_output
from cowcheck.cli.console import out
from cowcheck.families import FAMILY_NAMES, all_scenario_files, family, load_scenario


def _rules() -> list[tuple[str, Any]]:
    return [(f, r) for f in FAMILY_NAMES for r in family(f).builtin_rules().values()]


def _properties() -> list[tuple[str, Any]]:
    return [(f, p) for f in FAMILY_NAMES for p in family(f).select_properties(None)[0]]


def _json_only(p: argparse.ArgumentParser) -> None:
    add_output(p, quiet=False)


def rules(a: argparse.Namespace) -> int:
    found = _rules()
    if a.as_json:
        doc = [
            {"name": r.name, "family": f, "title": r.title, "kernels": r.kernels, "commits": list(r.commits)}
            for f, r in found
        ]
        print(json.dumps(doc, indent=2))
        return 0
    out.table(
        ("rule", "family", "kernels", "decision", "commits"),
        [(r.name, f, r.kernels, r.title, "\n".join(r.commits)) for f, r in found],
        lines=True,
    )
    return 0


def scenarios(a: argparse.Namespace) -> int:
    scs = [load_scenario(f) for f in all_scenario_files()]
    if a.as_json:
        doc = [
            {
                "name": s.name,
                "family": s.family,
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
        rows.append((s.name, s.family, s.kind, s.title, exp))
    out.table(("scenario", "family", "kind", "title", "expected"), rows, lines=True)
    return 0


def properties(a: argparse.Namespace) -> int:
    props = _properties()
    if a.as_json:
        doc = [
            {
                "id": p.id,
                "family": f,
                "title": p.title,
                "models": p.models,
                "metric": p.metric,
                "forms": [f for f in ("observational", "structural") if p.check_for(f)],
            }
            for f, p in props
        ]
        print(json.dumps(doc, indent=2))
        return 0
    rows = [
        (p.id, f, p.title, p.models, "metric (fails only with --property)" if p.metric else "property")
        for f, p in props
    ]
    out.table(("id", "family", "checks", "kernel failure", "kind"), rows, lines=True)
    return 0


RULES = Command(_json_only, rules)
SCENARIOS = Command(_json_only, scenarios)
PROPERTIES = Command(_json_only, properties)
