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
FAMILIES: Mapping[str, str] = {"anon": "cowcheck.families.anon"}
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


def load_scenario(path: Path) -> Any:
    """A scenario file, read by its family's loader."""
    return family_of(path).load_scenario(path)
