"""Command-line paths as the scenarios and rules of a run: what ``catalog``, ``matrix``
and ``verify`` take besides the bundled catalog.

A path is one of:

- a scenario file (``*.toml``): its ``[expect]`` table states the verdict each
  built-in rule should get (docs/scenario-format.md);
- a rule file (``*.py``, docs/guide.md): a module-level ``RULE``. It may state the
  verdicts its own rule should get, by scenario name, in module-level ``EXPECT``
  (and ``EXPECT_STRICT``, for ``--strict``) dicts: ``EXPECT = {"my-race": "holds"}``.
  A scenario file's ``[expect]`` names built-in rules only (the loader rejects other
  keys, so that a misspelt one is never silently not compared), so a rule file's
  expectations are written beside the rule. A cell neither names has no expectation:
  shown as ``-``, never a mismatch;
- a directory: its ``*.toml`` and ``*.py`` files, sorted by name. Not recursive:
  a project's directory holds caches (``__pycache__``), virtual environments and
  version control, whose ``.py`` files are not rules. Files whose names start with
  ``_`` or ``.`` are skipped (helpers, as in ``models/``), and so are the gate's
  ``cowcheck.toml`` and ``pyproject.toml``, which sit beside scenarios in a project;
  named as files, they are read (and rejected) like any other;
- the name of a bundled scenario (``cowcheck scenarios``), where no such file exists.

Each file is taken once (by its resolved path), in the order given. Bad paths raise
``InputError`` naming the path and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cowcheck.errors import InputError
from cowcheck.families import builtin_family, family_of_rule, load_any_rule
from cowcheck.input.bundled import bundled_scenario
from cowcheck.input.pyload import loaded_modules
from cowcheck.input.reuse_expr import split_spec
from cowcheck.input.schema import VERDICT_NAMES
from cowcheck.mm.rule import Rule
from cowcheck.pfnmap.rule import PatRule

SCENARIO_SUFFIX = ".toml"  # as bundled.py names the bundled ones
RULE_SUFFIX = ".py"
# Files a project keeps beside its scenarios that are not scenarios: skipped in a
# directory (named on their own, they are read and rejected).
NOT_SCENARIOS = ("cowcheck.toml", "pyproject.toml")

_EXPECTED = (
    "expected a scenario file (.toml), a rule file (.py), a directory of them, or the name of a bundled scenario"
)
_EXPECTED_SCENARIO = "expected a scenario file (.toml), a directory of them, or the name of a bundled scenario"


@dataclass(frozen=True, slots=True)
class Sources:
    """The files a run's paths name: scenario files and rule files, in order."""

    scenarios: tuple[Path, ...] = ()
    rules: tuple[Path, ...] = ()


def collect(paths: Sequence[str | Path], *, rules: bool = True) -> Sources:
    """The scenario and rule files ``paths`` name (see the module's docstring). With
    ``rules=False`` (``verify``, whose rule is its first argument) a rule file named
    on its own is an error and a directory's ``.py`` files are not read."""
    expected = _EXPECTED if rules else _EXPECTED_SCENARIO
    scen: dict[Path, Path] = {}
    rule_files: dict[Path, Path] = {}

    def add(p: Path) -> None:
        key = p.resolve()
        if p.suffix == SCENARIO_SUFFIX:
            scen.setdefault(key, p)
        else:
            rule_files.setdefault(key, p)

    for given in paths:
        p = Path(given)
        where = str(given)
        try:
            p.stat()
        except (FileNotFoundError, NotADirectoryError):
            pass  # no such file: perhaps a bundled scenario's name
        except OSError as e:  # a name too long, a loop of links, no permission
            raise InputError(where, None, f"cannot read: {e.strerror or e} ({expected})") from None
        if p.is_dir():
            found = _directory(p, rules)
            if not found:
                what = "scenario files (*.toml) or rule files (*.py)" if rules else "scenario files (*.toml)"
                raise InputError(where, None, f"no {what} in this directory ({expected})")
            for f in found:
                add(f)
        elif p.exists():
            if p.suffix == SCENARIO_SUFFIX or (rules and p.suffix == RULE_SUFFIX):
                if not p.is_file():
                    raise InputError(where, None, f"not a regular file ({expected})")
                add(p)
            elif p.suffix == RULE_SUFFIX:
                raise InputError(
                    where,
                    None,
                    f"a rule file, not a scenario: verify checks the one rule given before its scenarios ({expected})",
                )
            else:
                raise InputError(where, None, f"unknown kind of file ({expected})")
        else:
            bundled = bundled_scenario(where)
            if bundled is None:
                raise InputError(where, None, f"no such file or directory, nor a bundled scenario ({expected})")
            add(bundled)
    return Sources(tuple(scen.values()), tuple(rule_files.values()))


def scenario_paths(paths: Sequence[str | Path]) -> list[Path]:
    """The scenario files ``paths`` name: files, directories and bundled names."""
    return list(collect(paths, rules=False).scenarios)


def _directory(d: Path, rules: bool) -> list[Path]:
    try:
        entries = sorted(d.iterdir(), key=lambda p: p.name)
    except OSError as e:
        raise InputError(str(d), None, f"cannot read the directory: {e.strerror or e}") from None
    wanted = (SCENARIO_SUFFIX, RULE_SUFFIX) if rules else (SCENARIO_SUFFIX,)
    return [
        p
        for p in entries
        if p.suffix in wanted
        and not p.name.startswith(("_", "."))
        and p.name not in NOT_SCENARIOS
        and p.is_file()  # a directory named x.toml is not a scenario
        and (p.suffix != RULE_SUFFIX or _states_a_rule(p))
    ]


def _states_a_rule(p: Path) -> bool:
    """A directory's .py file is a rule file only if it assigns a module-level RULE:
    `cowcheck matrix .` must not run a project's setup.py or conftest.py. Read, not
    run; a file named on the command line is always taken for a rule file."""
    try:
        return re.search(r"^RULE\s*[:=]", p.read_text(encoding="utf-8", errors="replace"), re.M) is not None
    except OSError:
        return True  # then loading it says what is wrong


# -- rules --------------------------------------------------------------------------


def load_rules(files: Sequence[Path]) -> list[Any]:
    """The rules of these rule files, each checked as ``--rule FILE`` checks it, and
    its expectations (``EXPECT``) checked too."""
    out = []
    for f in files:
        r = load_any_rule(str(f))  # a .py path: always read as a file, of its RULE's family
        rule_expectations(r)  # a malformed EXPECT is bad input before anything runs
        out.append(r)
    return out


def is_builtin(rule: Rule) -> bool:
    """One of the bundled eras (models/*.py), itself: not a rule file that copies a name."""
    fam = builtin_family(rule.name)
    return fam is not None and fam.load_rule(rule.name) is rule


def _module_of(rule: Rule) -> ModuleType | None:
    """The rule file whose ``RULE`` this rule is (built-in or the user's)."""
    return next((m for m in loaded_modules() if getattr(m, "RULE", None) is rule), None)


def own_rule_file(rule: Rule) -> Path | None:
    """The file of a rule loaded from a user's rule file; None for a built-in rule and
    for a rule made without a file of its own (``--reuse``)."""
    if is_builtin(rule):
        return None
    m = _module_of(rule)
    f = getattr(m, "__file__", None) if m is not None else None
    return Path(f) if f else None


@dataclass(frozen=True, slots=True)
class Expectations:
    """The verdicts a rule file expects of its rule, by scenario name."""

    normal: Mapping[str, str]
    strict: Mapping[str, str]

    def get(self, scenario: str, strict: bool) -> str | None:
        return (self.strict if strict else self.normal).get(scenario)


_NONE = Expectations({}, {})


def rule_expectations(rule: Rule) -> Expectations:
    """A user's rule file's ``EXPECT`` and ``EXPECT_STRICT``: empty for a built-in rule
    (the scenario files state theirs) and for a rule without a file (``--reuse``)."""
    if is_builtin(rule):
        return _NONE
    m = _module_of(rule)
    if m is None:
        return _NONE
    where = str(getattr(m, "__file__", rule.name))
    fam = family_of_rule(rule)
    verdicts = VERDICT_NAMES if fam.name == "anon" else ("holds", "incomplete", "stuck", *fam.property_ids())
    return Expectations(_table(m, "EXPECT", where, verdicts), _table(m, "EXPECT_STRICT", where, verdicts))


def _table(m: ModuleType, attr: str, where: str, verdicts: Sequence[str]) -> dict[str, str]:
    v = getattr(m, attr, None)
    if v is None:
        return {}
    expected = f"expected a dict of scenario name -> verdict ({', '.join(verdicts)})"
    if not isinstance(v, dict):
        raise InputError(where, attr, f"{expected}, got {type(v).__name__}")
    for k, x in v.items():
        if not isinstance(k, str) or not isinstance(x, str) or x not in verdicts:
            raise InputError(where, attr, f"{expected}, got {k!r:.60}: {x!r:.60}")
    return dict(v)


def base_rule(rule: Any) -> Any:
    """The rule a user's rule starts from: the nearest class of its ancestry that is
    another loaded rule's (a built-in era's, ``rule_class(NAME)``, or a rule file's
    ``RULE``); for a ``--reuse`` rule, the rule it changes. None for a built-in rule
    and for a rule that starts from ``Rule`` itself."""
    if is_builtin(rule):
        return None
    fam = family_of_rule(rule)
    builtins = fam.builtin_rules()
    by_class: dict[type, Any] = {}
    for m in loaded_modules():
        r = getattr(m, "RULE", None)
        if fam.owns_rule(r):
            by_class.setdefault(type(r), r)
    by_class.update({type(r): r for r in builtins.values()})  # the built-in instance, always
    for cls in type(rule).__mro__:
        if cls is Rule or cls is PatRule:
            return None
        found = by_class.get(cls)
        if found is not None and found is not rule:
            return found
    return None


def own_description(rule: Rule, base: Rule | None) -> str:
    """What a rule says of itself, not what it inherits from ``base``: its own
    ``describe()``, else its title (or its class's docstring, or its rule file's),
    its kernel versions if it states them, its file and its base rule's name."""
    if split_spec(rule.name) is not None:
        return rule.describe()  # --reuse: its title and kernels say what it is, and on what
    own = []
    for cls in type(rule).__mro__:
        if cls is Rule or (base is not None and cls is type(base)):
            break
        own.append(cls)
    if any("describe" in vars(c) for c in own):
        return rule.describe()
    title = next((str(vars(c)["title"]) for c in own if "title" in vars(c)), "")
    if not title:
        docs = [c.__doc__ for c in own]
        m = _module_of(rule)
        docs.append(getattr(m, "__doc__", None) if m is not None else None)  # the rule file's own
        title = next((_first_paragraph(d) for d in docs if isinstance(d, str) and d.strip()), "")
    kernels = next((str(vars(c)["kernels"]) for c in own if "kernels" in vars(c)), "")
    notes = [kernels] if kernels else []
    f = own_rule_file(rule)
    if f is not None:
        notes.append(f"rule file {f}")
    if base is not None:
        notes.append(f"based on {base.name}")
    head = f"{rule.name}: {title}" if title else rule.name
    return head + (f" ({'; '.join(notes)})" if notes else "")


def _first_paragraph(doc: str) -> str:
    return " ".join(doc.strip().split("\n\n")[0].split())
