"""Built-in rules (one file each in models/) and rules loaded from a path."""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cowcheck.errors import InputError
from cowcheck.input.bundled import models_dir
from cowcheck.input.pyload import load_module
from cowcheck.input.reuse_expr import reuse_rule, split_spec
from cowcheck.mm.rule import Rule

# Display order: Linux history, with the unmerged proposal after the era it forked from.
BUILTIN_ORDER = (
    "mapcount-4.8",
    "mapcount",
    "gup-breaks-cow",
    "page-count",
    "page-count-5.11",
    "page-count-5.16",
    "page-count-5.18",
    "mapcount-cor",
    "anon-exclusive-5.19",
    "anon-exclusive-6.1",
    "anon-exclusive",
)


HOOKS = tuple(n for n, v in vars(Rule).items() if callable(v) and not n.startswith("_") and n != "describe")
# The hooks the base class leaves undecided (it raises NotImplementedError): every era
# makes these decisions its own way.
_ABSTRACT = ("do_wp_page", "do_swap_page")


def _rule_from(path: Path) -> Rule:
    mod = load_module(path, "cowcheck_rule")
    rule = getattr(mod, "RULE", None)
    if not isinstance(rule, Rule):
        raise InputError(str(path), "RULE", "expected a module-level RULE = <instance of cowcheck.mm.rule.Rule>")
    _validate(rule, path)
    return _check_returns(rule)


class _CheckedHook:
    """A rule file's hook that must return what the Rule base class declares: a wrong
    type would otherwise fail deep inside the model (``return True`` from do_wp_page
    was a 60-line traceback), far from the line that caused it. Built from the class's
    function, not the bound method, so that a rule pickles (Dask, -j) as it is."""

    def __init__(self, rule: Rule, attr: str, fn: Callable[..., Any], want: Any) -> None:
        self.rule, self.attr, self.fn, self.want = rule, attr, fn, want
        self.where = f"{inspect.getsourcefile(fn)}:{fn.__code__.co_firstlineno}"

    def __call__(self, *args: Any) -> Any:
        got = self.fn(self.rule, *args)
        if not _returns(got, self.want):
            raise InputError(
                self.where, None, f"hook {self.attr} returned {got!r:.80} (expected {_type_text(self.want)})"
            )
        return got


def _check_returns(rule: Rule) -> Rule:
    """Check the return values of the hooks a user's file defines. The built-in
    rules' hooks and cowcheck's own (a --reuse decision) are checked by the test
    suite, and run unwrapped."""
    ours = (models_dir().resolve(), Path(__file__).resolve().parents[1])
    for attr in HOOKS:
        fn = getattr(type(rule), attr)
        if not inspect.isfunction(fn):
            continue
        src = Path(inspect.getsourcefile(fn) or "").resolve()
        if any(src.is_relative_to(d) for d in ours):
            continue
        want = typing.get_type_hints(getattr(Rule, attr))["return"]
        vars(rule)[attr] = _CheckedHook(rule, attr, fn, want)
    return rule


def _returns(v: object, want: Any) -> bool:
    """``v`` has type ``want``: bool, str, a tuple[...] or one of the decision
    NamedTuples, field by field."""
    if typing.get_origin(want) is tuple:
        args = typing.get_args(want)
        return isinstance(v, tuple) and len(v) == len(args) and all(map(_returns, v, args))
    if not isinstance(want, type) or not isinstance(v, want):
        return False
    if issubclass(want, tuple) and hasattr(want, "_fields"):
        hints = _hints(want)
        return all(_returns(getattr(v, f), hints[f]) for f in want._fields)
    return True


@functools.cache
def _hints(t: type) -> dict[str, Any]:
    # Asked at every hook call, and typing.get_type_hints() resolves every annotation anew.
    return typing.get_type_hints(t)


def _type_text(want: Any) -> str:
    if typing.get_origin(want) is tuple:
        return "a tuple (" + ", ".join(_type_text(a) for a in typing.get_args(want)) + ")"
    if want is bool:
        return "True or False"
    if want is str:
        return "a string"
    fields = ", ".join(f"{f}: {_type_text(t)}" for f, t in typing.get_type_hints(want).items())
    return f"{want.__name__}({fields}) from cowcheck.mm.rule"


def _validate(rule: Rule, path: Path) -> None:
    """Names and signatures of the hooks a rule file defines: a misspelt hook would
    otherwise be ignored silently and the base rule's decision checked instead."""
    check_rule_name(rule, path, Rule)
    check_hooks_callable(rule, path, HOOKS)
    for attr in _ABSTRACT:
        if getattr(type(rule), attr) is getattr(Rule, attr):
            raise InputError(
                str(path), attr, f"expected the rule to decide {attr} (or to derive from a rule_class() that does)"
            )
    check_hook_signatures(rule, path, Rule, HOOKS)


def check_rule_name(rule: Any, path: Path, base: type) -> None:
    """A rule file names its own rule, in letters, digits, '-', '_' and '.' (any family's
    rule; ``base`` its family's base class): one that inherits its base rule's name
    would be reported, saved and compared as that base rule."""
    if not isinstance(rule.name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", rule.name):
        expected = "a rule name of letters, digits, '-', '_' or '.'"
        raise InputError(str(path), "name", f"expected {expected}, got {rule.name!r}")
    named_in = next(c for c in type(rule).__mro__ if "name" in vars(c))
    src = inspect.getsourcefile(named_in) if named_in is not base else None
    if "name" not in vars(rule) and (src is None or Path(src).resolve() != path.resolve()):
        raise InputError(str(path), "name", f"expected the rule class to set its own name (it inherits {rule.name!r})")


def check_hooks_callable(rule: Any, path: Path, hooks: Sequence[str]) -> None:
    """Every hook of the family is still a method (not overwritten by a value)."""
    for attr in hooks:
        v = getattr(rule, attr, None)
        if not callable(v):
            raise InputError(str(path), attr, f"expected the hook to be a method, got {v!r:.40}")


def check_hook_signatures(rule: Any, path: Path, base: type, hooks: Sequence[str]) -> None:
    """Every method a rule's own classes define is one of the family's hooks (or
    ``describe``), taking what ``base``'s does: a misspelt hook is named, not ignored."""
    for cls in type(rule).__mro__:
        if cls is base or cls is object:
            break
        for attr, fn in vars(cls).items():
            if attr.startswith("_") or not inspect.isfunction(fn):
                continue
            line = fn.__code__.co_firstlineno
            where = f"{inspect.getsourcefile(fn) or path}:{line}"
            if attr not in hooks and attr != "describe":
                raise InputError(where, None, f"unknown hook {attr!r} (expected one of: {', '.join(hooks)})")
            want = list(inspect.signature(getattr(base, attr)).parameters)
            got = list(inspect.signature(fn).parameters)
            if len(got) != len(want):
                raise InputError(where, None, f"hook {attr} takes ({', '.join(want)}), got ({', '.join(got)})")


def rule_class(name: str) -> type[Rule]:
    """The class of a built-in rule, to start a new rule from:
    ``class Mine(rule_class("anon-exclusive")): ...`` overriding only some hooks."""
    r = builtin_rule(name)
    if r is None:
        names = ", ".join(builtin_rules())
        raise InputError("rule_class()", None, f"unknown built-in rule {name!r} (expected one of: {names})")
    return type(r)


def builtin_path(name: str) -> Path:
    """The file of the built-in rule ``name``: models/ names each for its rule, with
    '-' and '.' as '_' (tests/test_rules.py holds every built-in rule to it)."""
    return models_dir() / (name.replace("-", "_").replace(".", "_") + ".py")


def is_builtin_name(name: str) -> bool:
    """Whether ``name`` is a built-in rule's, without running the eight files: a
    scenario's [expect] keys are checked with it (tests/test_rules.py holds
    BUILTIN_ORDER to the files)."""
    return name in BUILTIN_ORDER


@functools.cache
def builtin_rule(name: str) -> Rule | None:
    """The built-in rule ``name``, loading its file alone; None if there is none."""
    path = builtin_path(name)
    if not re.fullmatch(r"[a-z0-9.\-]+", name) or not path.is_file():
        return None
    r = _rule_from(path)
    return r if r.name == name else None


def builtin_rules() -> dict[str, Rule]:
    """The built-in rules by name, in history order (a new dict each call)."""
    return dict(_builtin_rules())


@functools.cache
def _builtin_rules() -> dict[str, Rule]:
    # Once per process. The modules were cached already (load_module), so every call
    # returned the same Rule objects anyway.
    rules: dict[str, Rule] = {}
    for p in sorted(models_dir().glob("*.py")):
        if p.name.startswith("_"):
            continue
        r = _rule_from(p)
        rules[r.name] = builtin_rule(r.name) or r
    order = {n: i for i, n in enumerate(BUILTIN_ORDER)}
    return dict(sorted(rules.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def load_rule(name_or_path: str, reuse: str | None = None) -> Rule:
    """A built-in rule by name, a rule file by path, or ``BASE+reuse(EXPR)``; with
    ``reuse``, that rule with its write-fault decision replaced (``--reuse``)."""
    # A --reuse rule is a new subclass of its base: its inherited hooks from a rule
    # file are checked anew.
    if reuse is not None:
        return _check_returns(reuse_rule(load_rule(name_or_path), reuse))
    spec = split_spec(name_or_path)
    if spec is not None:
        return _check_returns(reuse_rule(load_rule(spec[0]), spec[1]))
    if name_or_path.endswith(".py") or "/" in name_or_path:
        return _rule_from(Path(name_or_path))
    # One file, not the eight: loading and validating them all was most of a small
    # check's start-up.
    found = builtin_rule(name_or_path)
    if found is None:
        from cowcheck.families import builtin_family  # here: the registry imports this module's family

        other = builtin_family(name_or_path)
        if other is not None:
            raise InputError(
                "--rule", None, f"{name_or_path!r} is a rule of the {other.name} family (expected an anon rule here)"
            )
        rules = ", ".join(builtin_rules())
        raise InputError(
            "--rule", None, f"unknown rule {name_or_path!r} (expected one of: {rules}, or a path to a .py rule file)"
        )
    return found
