"""Model families: the kinds of memory cowcheck models, each one bundle the commands
go through.

A family bundles what the commands need from a model and the engine does not: its
scenario format and bundled scenarios, its rules (the kernel eras, and how a rule
file is loaded), its properties, how a model is built from a scenario, a rule and
properties (its state and its table of operations), and how a state is drawn. The
engine (``engine/``) searches any of them. Today a scenario file is loaded, and every
model is built (``api.build_model``, which every command uses), through this
registry; the listings, the catalog's rule list and the reports still import the
anon family's pieces directly, and move behind the record as the second family
arrives.

A scenario file names its family with a top-level ``family`` key; without one it is
``anon``: order-0 anonymous pages and the shared zero page (``mm/``). Adding a family
(x86 PAT pfnmap memtype tracking, say: Peter Xu, "[PATCH] mm/x86/pat: Only untrack
the pfn range if unmap region", <20240712144244.3090089-1-peterx@redhat.com>) is a
package for its model beside ``mm/``, its scenario reader, rules and properties, one
module here that builds its ``Family`` record, and its name in ``FAMILIES``.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cowcheck.engine import Model

DEFAULT = "anon"
# Each family's name and the module whose FAMILY builds its record, imported only when
# asked for: the scenario schema lists the names, and must not import the models.
FAMILIES: Mapping[str, str] = {"anon": "cowcheck.families.anon", "pfnmap": "cowcheck.families.pfnmap"}
FAMILY_NAMES = tuple(FAMILIES)


@dataclass(frozen=True, slots=True)
class Family:
    """What the commands need from one kind of memory model."""

    name: str  # as a scenario file's ``family`` key names it
    title: str
    model_package: str  # where its state, operations and kernel paths live
    scenario_files: Callable[[], list[Path]]  # its bundled scenarios
    load_scenario: Callable[[Path], Any]  # a scenario file of this family, checked
    builtin_rules: Callable[[], Mapping[str, Any]]  # its eras, by name
    load_rule: Callable[[str], Any]  # a built-in rule by name, or a rule file by path
    select_properties: Callable[[Sequence[str] | None], tuple[Sequence[Any], Sequence[str]]]
    build_model: Callable[[Any, Any, Sequence[Any], str, bool, Sequence[str]], Model[Any, Any]]
    describe_state: Callable[[Any], list[str]]  # a state, one line per part
    owns_rule: Callable[[Any], bool]  # a rule object of this family's
    builtin_names: Callable[[], Sequence[str]]  # its eras' names, in history order, unloaded
    property_ids: Callable[[], Sequence[str]]  # every property it checks by default
    parse_scenario: Callable[[str, str], Any]  # a scenario's TOML text (a saved trace embeds it), where
    saved_actions: Callable[[str, dict[str, Any], Any], list[Any]]  # a saved trace's steps, checked


def family(name: str) -> Family:
    """The family named ``name``; KeyError for one that is not registered."""
    fam: Family = importlib.import_module(FAMILIES[name]).FAMILY
    return fam


def family_of(path: Path) -> Family:
    """The family a scenario file names (``family = "..."``), else the default. A file
    that cannot be read or parsed, or names no registered family, goes to the default
    family's loader, whose errors name the file and the field."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError, MemoryError):
        # Unreadable, not UTF-8, not TOML (TOMLDecodeError), nested too deeply: the
        # default loader reads it again and says which, naming the file.
        return family(DEFAULT)
    name = doc.get("family", DEFAULT)
    return family(name if isinstance(name, str) and name in FAMILIES else DEFAULT)


def family_of_rule(rule: Any) -> Family:
    """The family whose rule ``rule`` is (its base class says)."""
    for n in FAMILIES:
        f = family(n)
        if f.owns_rule(rule):
            return f
    raise TypeError(f"{rule!r} is no family's rule")


def misfit(rule: Any, scenario: Any) -> str | None:
    """None if ``rule`` is a rule of ``scenario``'s family; else what was expected, as
    an error says it (a rule decides only its own family's kernel paths)."""
    fam = family(scenario.family)
    if fam.owns_rule(rule):
        return None
    return (
        f"{rule.name!r} is a rule of the {family_of_rule(rule).name} family, and {scenario.name} a scenario of "
        f"the {fam.name} family (expected one of: {', '.join(fam.builtin_names())}, or a rule file of the "
        f"{fam.name} family)"
    )


def builtin_family(name: str) -> Family | None:
    """The family with a built-in rule named ``name``, if one has it."""
    return next((family(n) for n in FAMILIES if name in family(n).builtin_names()), None)


def load_any_rule(name_or_path: str, reuse: str | None = None) -> Any:
    """A built-in rule of any family by name, a rule file by path (its ``RULE``'s class
    says whose), or the anon family's ``BASE+reuse(EXPR)``."""
    from cowcheck.errors import InputError
    from cowcheck.input.reuse_expr import split_spec

    if reuse is not None or split_spec(name_or_path) is not None:
        return _reuse(name_or_path, reuse)  # --reuse replaces do_wp_page(): the anon family's
    if name_or_path.endswith(".py") or "/" in name_or_path:
        from cowcheck.input.pyload import load_module

        path = Path(name_or_path)
        mod = load_module(path, "cowcheck_rule") if path.is_file() else None
        owner = next(
            (family(n) for n in FAMILIES if mod is not None and family(n).owns_rule(getattr(mod, "RULE", None))), None
        )
        return (owner or family(DEFAULT)).load_rule(name_or_path)
    fam = builtin_family(name_or_path)
    if fam is None:
        names = ", ".join(n for f in FAMILIES for n in family(f).builtin_names())
        raise InputError(
            "--rule", None, f"unknown rule {name_or_path!r} (expected one of: {names}, or a path to a .py rule file)"
        )
    return fam.load_rule(name_or_path)


def _reuse(name_or_path: str, reuse: str | None) -> Any:
    from cowcheck.input.rule_files import load_rule

    return load_rule(name_or_path, reuse)


def all_scenario_files() -> list[Path]:
    """The bundled catalog: every family's scenarios, family by family."""
    return [p for n in FAMILIES for p in family(n).scenario_files()]


def parse_scenario(text: str, where: str) -> Any:
    """A scenario's TOML text (as a saved trace embeds it), read by its family's parser."""
    try:
        name = tomllib.loads(text).get("family", DEFAULT)
    except (ValueError, RecursionError, MemoryError):
        name = DEFAULT  # the default parser says what is wrong, naming ``where``
    return family(name if isinstance(name, str) and name in FAMILIES else DEFAULT).parse_scenario(text, where)


def load_scenario(path: Path) -> Any:
    """A scenario file, read by its family's loader."""
    return family_of(path).load_scenario(path)
