"""Built-in rules (one file each in models/) and rules loaded from a path."""

from __future__ import annotations

from pathlib import Path

from cowcheck.catalog import models_dir
from cowcheck.errors import InputError
from cowcheck.mm.rule import Rule
from cowcheck.pyload import load_module

# Display order: Linux history.
BUILTIN_ORDER = ("mapcount", "page-count", "anon-exclusive")


def _rule_from(path: Path) -> Rule:
    mod = load_module(path, "cowcheck_rule")
    rule = getattr(mod, "RULE", None)
    if not isinstance(rule, Rule):
        raise InputError(str(path), "RULE", "expected a module-level RULE = <instance of cowcheck.mm.rule.Rule>")
    return rule


def builtin_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for p in sorted(models_dir().glob("*.py")):
        if p.name.startswith("_"):
            continue
        r = _rule_from(p)
        rules[r.name] = r
    order = {n: i for i, n in enumerate(BUILTIN_ORDER)}
    return dict(sorted(rules.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def load_rule(name_or_path: str) -> Rule:
    if name_or_path.endswith(".py") or "/" in name_or_path:
        return _rule_from(Path(name_or_path))
    rules = builtin_rules()
    if name_or_path not in rules:
        raise InputError(
            "--rule",
            None,
            f"unknown rule {name_or_path!r} (expected one of: {', '.join(rules)}, or a path to a .py rule file)",
        )
    return rules[name_or_path]
