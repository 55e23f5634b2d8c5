"""Scenario files (TOML): the world's bounds and what its actors may do.

Two kinds:
- ``litmus``: each actor runs a fixed program; the checker explores every
  interleaving of the programs and of the kernel's internal steps.
- ``open``: a budget per kind of action; the checker explores everything within it.

The format is the schema in schema.py (its operations are the model's own table,
``mm/ops``), which this loader reads through and docs/scenario-format.md renders.
Every error names the file, the field and what was expected. What it builds is the
model's plain description of the world (``mm/world.py``) and the file's own fields.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cowcheck.errors import InputError
from cowcheck.input.schema import (
    ACTOR,
    ACTOR_KINDS,
    BOOLEAN,
    BUDGET_KINDS,
    BUDGET_MAX,
    CHOICE,
    EXPECT_FIELDS,
    GUP_FLAG_NAMES,
    INTEGER,
    LITMUS_BUDGET_KINDS,
    OP_BY_NAME,
    OPS,
    STEP,
    STEP_COMMON,
    STRING,
    TOP,
    VPAGE,
    WORLD,
    Field,
    Table,
)
from cowcheck.mm.rule import GupFlags
from cowcheck.mm.world import NO_FLAGS, Actor, GupKind, LitmusStep, VpageInit, World

# Which litmus operations each kind of actor may run.
ACTOR_OPS: dict[str, tuple[str, ...]] = {k: tuple(op.name for op in OPS if k in op.actors) for k in ACTOR_KINDS}


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario(World):
    """A scenario file: the world the model explores (``mm/world.py``), and what
    the file says about it besides."""

    title: str
    path: str
    text: str  # the TOML source, embedded in saved traces so they replay standalone
    family: str = "anon"  # cowcheck/families/: whose loader read it, whose model runs it
    description: str = ""
    source: str = ""
    expect: dict[str, str] = field(default_factory=dict)
    expect_strict: dict[str, str] = field(default_factory=dict)
    expect_notes: str = ""

    def bounds_parts(self) -> list[str]:
        """The bounds as ``holds`` states them."""
        return bounds_parts(
            self.kind, f"{len(self.vpages)} vpage(s), {self.cells} cells", self.max_processes, self.budget
        )


def bounds_parts(kind: str, size: str, max_processes: int, budget: tuple[tuple[str, int], ...]) -> list[str]:
    """A scenario's bounds as ``holds`` states them (any family's; ``size`` says its
    memory): its kind, its size, its processes and its budget."""
    parts = [f"{kind} scenario", size, f"up to {max_processes} processes"]
    if budget:
        parts.append("budget: " + ", ".join(f"{k} {n}" for k, n in budget))
    return parts


class _Reader:
    """Typed access to a TOML table with errors that name the file and field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def err(self, fld: str, expected: str) -> InputError:
        return InputError(self.where, fld, expected)

    def table(self, d: dict[str, Any], key: str, fld: str) -> dict[str, Any]:
        v = d.get(key, {})
        if not isinstance(v, dict):
            raise self.err(fld, f"expected a table, got {type(v).__name__}")
        return v

    def str_(self, d: dict[str, Any], key: str, fld: str, default: str | None = None) -> str:
        if key not in d:
            if default is None:
                raise self.err(fld, "missing (expected a string)")
            return default
        v = d[key]
        if not isinstance(v, str):
            raise self.err(fld, f"expected a string, got {v!r}")
        return v

    def int_(self, d: dict[str, Any], key: str, fld: str, default: int, lo: int = 0, hi: int = 1 << 30) -> int:
        v = d.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.err(fld, f"expected an integer, got {v!r}")
        if not lo <= v <= hi:
            raise self.err(fld, f"expected an integer in [{lo}, {hi}], got {v}")
        return v

    def bool_(self, d: dict[str, Any], key: str, fld: str, default: bool) -> bool:
        v = d.get(key, default)
        if not isinstance(v, bool):
            raise self.err(fld, f"expected true or false, got {v!r}")
        return v

    def choice(
        self, d: dict[str, Any], key: str, fld: str, choices: tuple[str, ...], default: str | None = None
    ) -> str:
        v = self.str_(d, key, fld, default)
        if v not in choices:
            raise self.err(fld, f"unknown value {v!r} (expected one of: {', '.join(choices)})")
        return v

    def get(self, d: dict[str, Any], f: Field, prefix: str, world: dict[str, int] | None = None) -> Any:
        """A scalar field as the schema describes it: type, default, range, choices."""
        fld = f"{prefix}.{f.key}" if prefix else f.key
        default = None if f.required else f.default
        if f.type == STRING:
            return self.str_(d, f.key, fld, None if default is None else str(default))
        if f.type == CHOICE:
            return self.choice(d, f.key, fld, f.choices, None if default is None else str(default))
        if f.type == BOOLEAN:
            return self.bool_(d, f.key, fld, bool(default))
        if f.type == INTEGER:
            hi = f.hi if not f.hi_from else (world or {})[f.hi_from] - 1
            return self.int_(d, f.key, fld, int(default or 0), f.lo, hi)
        raise TypeError(f"{fld}: {f.type} is not a scalar")

    def fields(self, d: dict[str, Any], t: Table, prefix: str) -> None:
        self.no_extra(d, t.keys(), prefix)

    def no_extra(self, d: dict[str, Any], allowed: tuple[str, ...], fld: str) -> None:
        for k in d:
            if k not in allowed:
                where = f"{fld}.{k}" if fld else k
                raise self.err(where, f"unknown field (expected one of: {', '.join(allowed)})")


def _parse_flags(r: _Reader, v: Any, fld: str) -> GupFlags:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise r.err(fld, f"expected a list of GUP flags ({', '.join(GUP_FLAG_NAMES)}), got {v!r}")
    for x in v:
        if x not in GUP_FLAG_NAMES:
            raise r.err(fld, f"unknown GUP flag {x!r} (expected one of: {', '.join(GUP_FLAG_NAMES)})")
    if ("FOLL_GET" in v) == ("FOLL_PIN" in v):
        raise r.err(fld, "expected exactly one of FOLL_GET and FOLL_PIN")
    return GupFlags("FOLL_PIN" in v, "FOLL_WRITE" in v, "FOLL_LONGTERM" in v)


def load_scenario(path: str | Path) -> Scenario:
    p = Path(path)
    where = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(where, None, "no such scenario file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(where, None, f"cannot read: {e}") from None
    return parse_scenario(text, where)


def parse_scenario(text: str, where: str) -> Scenario:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(where, None, f"malformed TOML: {e}") from None
    except RecursionError:
        raise InputError(where, None, "malformed TOML: nested too deeply") from None
    r = _Reader(where)
    r.fields(doc, TOP, "")
    # First, so that a file naming another family is told so before anything else.
    family = r.get(doc, TOP.field("family"), "")
    name = r.get(doc, TOP.field("name"), "")
    if not re.fullmatch(r"[A-Za-z0-9_.+\-]+", name):
        # It names saved traces and matrix rows: a file name, a word in a table.
        raise r.err("name", f"expected a non-empty name of letters, digits, '-', '_', '.' or '+', got {name!r}")
    kind = r.get(doc, TOP.field("kind"), "")
    wt = r.table(doc, "world", "world")
    r.fields(wt, WORLD, "world")
    world: dict[str, int] = {f.key: r.get(wt, f, "world") for f in WORLD.fields}
    nv = world["vpages"]

    vinit = [VpageInit() for _ in range(nv)]
    vlist = doc.get("vpage", [])
    if not isinstance(vlist, list):
        raise r.err("vpage", "expected an array of tables ([[vpage]])")
    for i, vt in enumerate(vlist):
        fld = f"vpage[{i}]"
        if not isinstance(vt, dict):
            raise r.err(fld, "expected a table")
        r.fields(vt, VPAGE, fld)
        idx = r.get({"index": i} | vt, VPAGE.field("index"), fld, world)
        vkeys = ("state", "writable", "dontfork", "backing", "uffd_minor")
        vinit[idx] = VpageInit(*(r.get(vt, VPAGE.field(k), fld) for k in vkeys))
        vi = vinit[idx]
        if vi.backing != "anon" and vi.state not in ("none", "present"):
            raise r.err(f"{fld}.state", f'a {vi.backing} page starts "none" or "present", not {vi.state!r}')
        if vi.uffd_minor and vi.backing != "shmem":
            raise r.err(
                f"{fld}.uffd_minor",
                f'minor mode is for a private shmem mapping (backing = "shmem"), not {vi.backing!r}',
            )

    actors = _parse_actors(r, doc, kind, world)

    btab = r.table(doc, "budget", "budget")
    budget: list[tuple[str, int]] = []
    for k in btab:
        if k not in BUDGET_KINDS:
            raise r.err(f"budget.{k}", f"unknown action kind (expected one of: {', '.join(BUDGET_KINDS)})")
        if kind == "litmus" and k not in LITMUS_BUDGET_KINDS:
            raise r.err(
                f"budget.{k}",
                f"a litmus scenario's programs are fixed (expected one of: {', '.join(LITMUS_BUDGET_KINDS)})",
            )
        budget.append((k, r.int_(btab, k, f"budget.{k}", 0, 0, BUDGET_MAX)))
    if kind == "open" and not budget:
        raise r.err("budget", "an open scenario needs a budget for at least one kind of action")

    gk_raw = doc.get("gup_kinds", [])
    if not isinstance(gk_raw, list):
        raise r.err("gup_kinds", "expected a list of flag lists")
    if kind == "litmus" and gk_raw:
        raise r.err("gup_kinds", "only an open scenario tries GUP kinds (a litmus step names its own flags)")
    gup_kinds: list[GupKind] = []
    for i, g in enumerate(gk_raw):
        fld = f"gup_kinds[{i}]"
        if not isinstance(g, list):
            raise r.err(fld, "expected a list of GUP flags")
        gup_kinds.append(GupKind(_parse_flags(r, g, fld), False))
    if kind == "open" and any(n for k, n in budget if k in ("gup", "gup_fast")) and not gup_kinds:
        raise r.err("gup_kinds", "a GUP budget needs the GUP flag combinations to try")

    exp = r.table(doc, "expect", "expect")
    expect: dict[str, str] = {}
    expect_strict: dict[str, str] = {}
    notes_f, strict_f, verdict_f = EXPECT_FIELDS
    for k in exp:
        if k == strict_f.key:
            st = r.table(exp, k, "expect.strict")
            for sk in st:
                expect_strict[sk] = r.get(st, replace(verdict_f, key=sk), "expect.strict")
        elif k != notes_f.key:
            if isinstance(exp[k], dict):
                raise r.err(f"expect.{k}", 'a verdict, not a table (quote rule names with a dot: "a-5.11" = ...)')
            expect[k] = r.get(exp, replace(verdict_f, key=k), "expect")
    for fld, keys in (("expect", expect), ("expect.strict", expect_strict)):
        _known_rules(r, fld, keys)

    return Scenario(
        name=name,
        family=family,
        title=r.get(doc, TOP.field("title"), ""),
        kind=kind,
        path=where,
        text=text,
        description=r.get(doc, TOP.field("description"), ""),
        source=r.get(doc, TOP.field("source"), ""),
        threads=world["threads"],
        vpages=tuple(vinit),
        cells=world["cells"],
        max_processes=world["max_processes"],
        actors=actors,
        budget=tuple(budget),
        gup_kinds=tuple(gup_kinds),
        expect=expect,
        expect_strict=expect_strict,
        expect_notes=r.get(exp, notes_f, "expect"),
    )


def _parse_actors(r: _Reader, doc: dict[str, Any], kind: str, world: dict[str, int]) -> tuple[Actor, ...]:
    raw = doc.get("actor", [])
    if not isinstance(raw, list):
        raise r.err("actor", "expected an array of tables ([[actor]])")
    if kind == "litmus" and not raw:
        raise r.err("actor", "a litmus scenario needs at least one [[actor]]")
    if kind == "open" and raw:
        raise r.err("actor", "an open scenario has no fixed programs (use [budget])")
    names: list[str] = []
    for i, a in enumerate(raw):
        if not isinstance(a, dict):
            raise r.err(f"actor[{i}]", "expected a table")
        names.append(r.get(a, ACTOR.field("name"), f"actor[{i}]"))
    if len(set(names)) != len(names):
        raise r.err("actor", "actor names must be unique")
    actors: list[Actor] = []
    thread_slots: dict[tuple[int, int], str] = {}
    for i, a in enumerate(raw):
        fld = f"actor[{i}]"
        r.fields(a, ACTOR, fld)
        akind = r.get(a, ACTOR.field("kind"), fld)
        proc = r.get(a, ACTOR.field("process"), fld, world)
        if akind == "thread":
            n = sum(1 for (pp, _t) in thread_slots if pp == proc)
            limit = world["threads"] if proc == 0 else 1
            if n >= limit:
                raise r.err(
                    f"{fld}.process",
                    f"process {proc} has {limit} thread(s) (world.threads for process 0; a forked child has 1)",
                )
            thread_slots[(proc, n)] = names[i]
        steps_raw = a.get("steps", [])
        if not isinstance(steps_raw, list) or not steps_raw:
            raise r.err(f"{fld}.steps", "expected a non-empty list of steps")
        steps = [_parse_step(r, s, f"{fld}.steps[{j}]", akind, world, names) for j, s in enumerate(steps_raw)]
        actors.append(Actor(names[i], akind, proc, tuple(steps)))
    for i, act in enumerate(actors):
        for j, st in enumerate(act.steps):
            for ai, sj in st.after:
                if sj >= len(actors[ai].steps):
                    raise r.err(
                        f"actor[{i}].steps[{j}].after",
                        f"actor {actors[ai].name!r} has only {len(actors[ai].steps)} steps",
                    )
            if not st.optional and any(x.optional for x in act.steps[:j]):
                k = next(k for k, x in enumerate(act.steps) if x.optional)
                raise r.err(
                    f"actor[{i}].steps[{j}].optional",
                    f"expected true: it follows the optional actor[{i}].steps[{k}], so a run may end before it too",
                )
    _check_refs(r, actors)
    _check_after_cycles(r, actors)
    return tuple(actors)


def _check_refs(r: _Reader, actors: list[Actor]) -> None:
    """A reference is named by the gup that takes it; DMA through it and its release
    refer to that name. A name no gup takes could never be used (a typo holds
    vacuously: the step never runs), and a reference is released at most as often as
    it is taken."""
    taken: dict[str, int] = {}
    for act in actors:
        for st in act.steps:
            if st.op == "gup":
                taken[st.ref] = taken.get(st.ref, 0) + 1
    released: dict[str, int] = {}
    for i, act in enumerate(actors):
        for j, st in enumerate(act.steps):
            fld = f"actor[{i}].steps[{j}].ref"
            if st.op in ("dma_write", "dma_read", "release") and st.ref not in taken:
                names = ", ".join(repr(n) for n in taken) or "none"
                raise r.err(fld, f"no gup step takes a reference named {st.ref!r} (gup steps take: {names})")
            if st.op == "release":
                released[st.ref] = released.get(st.ref, 0) + 1
                if released[st.ref] > taken[st.ref]:
                    n = taken[st.ref]
                    raise r.err(fld, f"reference {st.ref!r} is released twice (taken by {n} gup step(s))")


def _check_after_cycles(r: _Reader, actors: list[Actor]) -> None:
    """Steps wait for their program's previous step and for their ``after`` steps: a
    cycle among those waits means none of its steps can ever run. An iterative DFS:
    a chain of waits may be as long as the programs."""
    state: dict[tuple[int, int], int] = {}  # 1: on the DFS path, 2: done

    def deps(n: tuple[int, int]) -> list[tuple[int, int]]:
        ai, j = n
        return ([(ai, j - 1)] if j > 0 else []) + list(actors[ai].steps[j].after)

    for ai0, act in enumerate(actors):
        for j0 in range(len(act.steps)):
            if (ai0, j0) in state:
                continue
            path: list[tuple[int, int]] = [(ai0, j0)]
            todo: list[list[tuple[int, int]]] = [deps((ai0, j0))]
            state[ai0, j0] = 1
            while todo:
                if not todo[-1]:
                    state[path.pop()] = 2
                    todo.pop()
                    continue
                d = todo[-1].pop(0)
                if state.get(d) == 1:
                    cyc = [*path[path.index(d) :], d]
                    text = " -> ".join(f"{actors[a].name}:{k + 1}" for a, k in cyc)
                    ai, j = path[-1]
                    raise r.err(
                        f"actor[{ai}].steps[{j}].after",
                        f"expected no cycle of waits, got {text} (each waits for the next, so none can run)",
                    )
                if d not in state:
                    state[d] = 1
                    path.append(d)
                    todo.append(deps(d))


def _known_rules(r: _Reader, fld: str, keys: dict[str, str]) -> None:
    """An [expect] key names a built-in rule: a misspelt one would never be compared."""
    if not keys:
        return
    # The rules are Python files: only their file names are looked at, unless one is wrong.
    from cowcheck.input.rule_files import builtin_rules, is_builtin_name

    for k in keys:
        if not is_builtin_name(k):
            raise r.err(f"{fld}.{k}", f"unknown rule {k!r} (expected one of: {', '.join(builtin_rules())})")


def _parse_after(r: _Reader, s: dict[str, Any], fld: str, names: list[str]) -> tuple[tuple[int, int], ...]:
    after: list[tuple[int, int]] = []
    raw_after = s.get("after", [])
    if isinstance(raw_after, str):
        raw_after = [raw_after]
    if not isinstance(raw_after, list):
        raise r.err(f"{fld}.after", 'expected "actor:step" or a list of them')
    for x in raw_after:
        if not isinstance(x, str) or ":" not in x:
            raise r.err(f"{fld}.after", f'expected "actor:step" (step counted from 1), got {x!r}')
        an, _, sn = x.rpartition(":")
        if an not in names:
            raise r.err(f"{fld}.after", f"unknown actor {an!r} (expected one of: {', '.join(names)})")
        if not sn.isdigit() or int(sn) < 1:
            raise r.err(f"{fld}.after", f"expected a step number from 1, got {sn!r}")
        after.append((names.index(an), int(sn) - 1))
    return tuple(after)


def _parse_step(r: _Reader, s: Any, fld: str, akind: str, world: dict[str, int], names: list[str]) -> LitmusStep:
    if not isinstance(s, dict):
        raise r.err(fld, 'expected an inline table such as { op = "write", vpage = 0, cell = 1 }')
    opname = r.str_(s, "op", f"{fld}.op")
    op = OP_BY_NAME.get(opname)
    if op is None:
        raise r.err(f"{fld}.op", f"unknown action {opname!r} (expected one of: {', '.join(OP_BY_NAME)})")
    if akind not in op.actors:
        raise r.err(
            f"{fld}.op",
            f"a {akind} actor cannot run {opname!r} (expected one of: {', '.join(ACTOR_OPS[akind])})",
        )
    r.no_extra(s, (*op.fields, *STEP_COMMON), fld)
    for k in op.required:
        if k not in s:
            raise r.err(f"{fld}.{k}", f"missing (expected {_REQUIRED_HINT[k]})")
    taken = {k: r.get(s, STEP.field(k), fld, world) for k in op.fields if k not in ("flags", "ref")}
    return LitmusStep(
        op=opname,
        flags=_parse_flags(r, s["flags"], f"{fld}.flags") if "flags" in op.fields else NO_FLAGS,
        ref=r.str_(s, "ref", f"{fld}.ref") if "ref" in op.fields else "",
        after=_parse_after(r, s, fld, names),
        label=r.get(s, STEP.field("label"), fld),
        optional=r.get(s, STEP.field("optional"), fld),
        **taken,
    )


_REQUIRED_HINT = {"flags": 'a list such as ["FOLL_PIN", "FOLL_WRITE"]', "ref": "the reference's name"}
