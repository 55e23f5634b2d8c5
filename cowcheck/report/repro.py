"""The one command that reproduces a verdict.

Every printed reproduction (the summary line, ``show``, ``replay``, ``report``, the
gate's "Reproduce" line) and every saved trace comes from ``CheckOptions.command``,
so none of them can drop an option that decides the verdict.

What decides a verdict, and is therefore always carried: the scenario; the rule (a
built-in name, a rule file, or ``--rule BASE --reuse EXPR``); ``--strict``; each
``-p``; ``--form``; the bounds ``--max-states``, ``--max-depth`` and ``--timeout``; and a
store other than ``exact`` (``bitstate`` never says "holds" and misses states by
design, ``fingerprint`` may in principle by a collision).

What does not, and is left out unless a bound or a lossy store is in play:
``--symmetry``, ``--por``, ``--no-subsume`` and ``-j``. Without either, they are
reductions that give the same verdict (tests/test_reductions.py, test_vacuity.py);
with a bound, they change how many states fit under it, and with a lossy store which
states collide, so there they can turn "holds" into "incomplete" or hide a violation,
and they are carried. ``--dask`` never is: a cluster address does not travel, and its
partitions are ``-j``'s. Nor is ``--max-memory``: it bounds the machine, not the
question.

The options are the engine's one record (``engine.SearchOptions``: the bounds, the
store, the reductions, the transport), as the search ran with them; a report prints
them where they differ from the defaults (``non_default``).
"""

from __future__ import annotations

import inspect
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cowcheck.engine import SearchOptions
from cowcheck.families import builtin_family
from cowcheck.input.bundled import bundled_scenario
from cowcheck.input.reuse_expr import split_spec
from cowcheck.input.scenario import Scenario
from cowcheck.mm.rule import Rule

DEFAULT_FORM = "observational"


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """Everything ``cowcheck check`` needs to give the same verdict again."""

    scenario: str  # a bundled scenario's name, or a path
    rule: str  # a built-in rule's name, or a path to a rule file
    reuse: str | None = None
    strict: bool = False
    properties: tuple[str, ...] = ()  # empty: the defaults
    form: str = DEFAULT_FORM
    search: SearchOptions = field(default_factory=SearchOptions)  # the bounds with the rest

    def argv(self) -> list[str]:
        """The arguments after ``cowcheck check``."""
        args = [self.scenario, "-r", self.rule]
        if self.reuse is not None:
            args += ["--reuse", self.reuse]
        if self.strict:
            args.append("--strict")
        for p in self.properties:
            args += ["-p", p]
        if self.form != DEFAULT_FORM:
            args += ["--form", self.form]
        s = self.carried_search()
        b = s.bounds
        if b.max_states is not None:
            args += ["--max-states", str(b.max_states)]
        if b.max_depth is not None:
            args += ["--max-depth", str(b.max_depth)]
        if b.timeout is not None:
            args += ["--timeout", f"{b.timeout:g}"]
        if s.store.kind != "exact":
            args += ["--store", s.store.text]
        if s.symmetry:
            args.append("--symmetry")
        if s.por:
            args.append("--por")
        if not s.subsume:
            args.append("--no-subsume")
        if s.workers > 1:
            args += ["-j", str(s.workers)]
        return args

    def carried_search(self) -> SearchOptions:
        """The search options that can change this verdict (the module's docstring);
        the others as their defaults, since they give the same verdict."""
        s = self.search
        if s.bounds.any or s.store.kind != "exact":
            return s
        return SearchOptions(bounds=s.bounds)

    @property
    def command(self) -> str:
        """The command line, quoted for a POSIX shell."""
        return shlex.join(["cowcheck", "check", *self.argv()])

    def saved(self) -> dict[str, Any]:
        """What a saved trace records beyond its top-level rule, strict, properties and
        form: the rest of the command, so that a replay can print it again."""
        return {"reuse": self.reuse, **self.search.to_json()}


def search_text(options: SearchOptions) -> str:
    """How a report words the options a search ran with: "search bounds: ..." and
    then whatever is not the default."""
    return f"search {options.describe()}"


def non_default(options: SearchOptions) -> str:
    """``search_text``, or "" where every option is the default: what a report adds
    only when it says something."""
    return "" if options == SearchOptions() else search_text(options)


def _shown_path(p: Path) -> str:
    """A path as a command line in this directory can use it: relative when it is
    below the current directory, else absolute."""
    full = p.resolve()
    try:
        return str(full.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(full)


def scenario_ref(scenario: Scenario) -> str:
    """How ``cowcheck check`` names this scenario: the bundled one by its name, any
    other by its path."""
    bundled = bundled_scenario(scenario.name)
    p = Path(scenario.path)
    if p.is_file() and bundled is not None and p.resolve() == bundled.resolve():
        return scenario.name
    return scenario.path


def bundled_scenario_with(name: str, text: str) -> str | None:
    """``name`` if the bundled scenario of that name has exactly this source."""
    p = bundled_scenario(name)
    if p is None:
        return None
    try:
        same = p.is_file() and _sha(p.read_text(encoding="utf-8")) == _sha(text)
    except (OSError, UnicodeDecodeError):
        return None
    return name if same else None


def file_with(candidates: list[Path], text: str) -> str | None:
    """The first of ``candidates`` that holds exactly this source, as a command names it."""
    for p in candidates:
        try:
            if p.is_file() and _sha(p.read_text(encoding="utf-8")) == _sha(text):
                return _shown_path(p)
        except (OSError, UnicodeDecodeError):
            continue
    return None


def _sha(text: str) -> str:
    import hashlib  # here: only a rule given by path needs it

    return hashlib.sha256(text.encode()).hexdigest()


def rule_file(rule: Rule) -> Path | None:
    """The file a rule came from; None for a built-in rule (or a --reuse rule on one)."""
    cls = type(rule)
    if split_spec(rule.name) is not None:
        # reuse_rule() derives a class from the base rule's: that class's file.
        cls = cls.__mro__[1]
    fam = builtin_family(_base_name(rule.name))
    builtin = fam.load_rule(_base_name(rule.name)) if fam is not None else None
    if builtin is not None and type(builtin) is cls:
        return None
    try:
        src = inspect.getsourcefile(cls)
    except TypeError:
        return None
    return Path(src) if src else None


def _base_name(name: str) -> str:
    spec = split_spec(name)
    return spec[0] if spec is not None else name


def rule_ref(rule: Rule) -> tuple[str, str | None]:
    """``(--rule, --reuse)`` naming this rule on a command line."""
    spec = split_spec(rule.name)
    f = rule_file(rule)
    base = _shown_path(f) if f is not None else _base_name(rule.name)
    return base, (spec[1] if spec is not None else None)


def relpath_from(f: Path, where: Path) -> str:
    """``f`` relative to directory ``where`` (absolute across drives)."""
    try:
        return os.path.relpath(f.resolve(), where.resolve())
    except ValueError:
        return str(f.resolve())
