"""Built-in rules (one file each in models/) and rules loaded from a path."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from cowcheck.catalog import models_dir
from cowcheck.errors import InputError
from cowcheck.mm.rule import Rule
from cowcheck.pyload import load_module
from cowcheck.reuse_expr import reuse_rule, split_spec

# Display order: Linux history, with the unmerged proposal after the era it forked from.
BUILTIN_ORDER = (
    "mapcount",
    "gup-breaks-cow",
    "page-count",
    "page-count-5.11",
    "page-count-5.18",
    "mapcount-cor",
    "anon-exclusive-6.1",
    "anon-exclusive",
)


HOOKS = tuple(n for n, v in vars(Rule).items() if callable(v) and not n.startswith("_") and n != "describe")


def _rule_from(path: Path) -> Rule:
    mod = load_module(path, "cowcheck_rule")
    rule = getattr(mod, "RULE", None)
    if not isinstance(rule, Rule):
        raise InputError(str(path), "RULE", "expected a module-level RULE = <instance of cowcheck.mm.rule.Rule>")
    _validate(rule, path)
    return rule


def _validate(rule: Rule, path: Path) -> None:
    """Names and signatures of the hooks a rule file defines: a misspelt hook would
    otherwise be ignored silently and the base rule's decision checked instead."""
    if not isinstance(rule.name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", rule.name):
        expected = "a rule name of letters, digits, '-', '_' or '.'"
        raise InputError(str(path), "name", f"expected {expected}, got {rule.name!r}")
    for cls in type(rule).__mro__:
        if cls is Rule or cls is object:
            break
        for attr, fn in vars(cls).items():
            if attr.startswith("_") or not inspect.isfunction(fn):
                continue
            line = fn.__code__.co_firstlineno
            where = f"{inspect.getsourcefile(fn) or path}:{line}"
            if attr not in HOOKS and attr != "describe":
                raise InputError(where, None, f"unknown hook {attr!r} (expected one of: {', '.join(HOOKS)})")
            want = list(inspect.signature(getattr(Rule, attr)).parameters)
            got = list(inspect.signature(fn).parameters)
            if len(got) != len(want):
                raise InputError(where, None, f"hook {attr} takes ({', '.join(want)}), got ({', '.join(got)})")


def rule_class(name: str) -> type[Rule]:
    """The class of a built-in rule, to start a new rule from:
    ``class Mine(rule_class("anon-exclusive")): ...`` overriding only some hooks."""
    path = models_dir() / (name.replace("-", "_").replace(".", "_") + ".py")
    if not path.is_file():
        names = ", ".join(builtin_rules())
        raise InputError("rule_class()", None, f"unknown built-in rule {name!r} (expected one of: {names})")
    return type(_rule_from(path))


def builtin_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for p in sorted(models_dir().glob("*.py")):
        if p.name.startswith("_"):
            continue
        r = _rule_from(p)
        rules[r.name] = r
    order = {n: i for i, n in enumerate(BUILTIN_ORDER)}
    return dict(sorted(rules.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def load_rule(name_or_path: str, reuse: str | None = None) -> Rule:
    """A built-in rule by name, a rule file by path, or ``BASE+reuse(EXPR)``; with
    ``reuse``, that rule with its write-fault decision replaced (``--reuse``)."""
    if reuse is not None:
        return reuse_rule(load_rule(name_or_path), reuse)
    spec = split_spec(name_or_path)
    if spec is not None:
        return reuse_rule(load_rule(spec[0]), spec[1])
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
