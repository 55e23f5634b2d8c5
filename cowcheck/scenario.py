"""Scenario files (TOML): the world's bounds and what its actors may do.

Two kinds:
- ``litmus``: each actor runs a fixed program; the checker explores every
  interleaving of the programs and of the kernel's internal steps.
- ``open``: a budget per kind of action; the checker explores everything within it.

See docs in models/scenarios/README.md for the format. Every error names the file,
the field and what was expected.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cowcheck.errors import InputError
from cowcheck.mm.rule import GupFlags

NO_FLAGS = GupFlags(False, False, False)
VPAGE_STATES = ("none", "present", "zero", "swapped")
BUDGET_KINDS = (
    "fork",
    "write",
    "read",
    "gup",
    "gup_fast",
    "dma_write",
    "clear_refs",
    "mprotect",
    "swapout",
    "munmap",
    "dontneed",
    "dontfork",
    "exit",
    "spec_ref",
    "total",  # every charged action also consumes this: a bound on the run's length
)
ACTOR_KINDS = ("thread", "device", "kernel", "outsider")
# Which litmus operations each kind of actor may run.
ACTOR_OPS: dict[str, tuple[str, ...]] = {
    "thread": (
        "write",
        "read",
        "fork",
        "gup",
        "release",
        "mprotect",
        "munmap",
        "dontneed",
        "dontfork",
        "exit",
        "clear_refs",
    ),
    "device": ("dma_write", "dma_read", "release"),
    "kernel": ("swapout", "spec_get", "spec_put"),
    "outsider": ("clear_refs",),
}
# Fields each operation takes (besides op, after, label).
OP_FIELDS: dict[str, tuple[str, ...]] = {
    "write": ("vpage", "cell"),
    "read": ("vpage", "cell"),
    "fork": (),
    "gup": ("vpage", "flags", "fast", "ref"),
    "release": ("ref",),
    "mprotect": ("vpage", "prot"),
    "munmap": ("vpage",),
    "dontneed": ("vpage",),
    "dontfork": ("vpage",),
    "exit": (),
    "clear_refs": ("process",),
    "dma_write": ("ref", "cell"),
    "dma_read": ("ref", "cell"),
    "swapout": ("process", "vpage"),
    "spec_get": ("process", "vpage"),
    "spec_put": (),
}
GUP_FLAG_NAMES = ("FOLL_GET", "FOLL_PIN", "FOLL_WRITE", "FOLL_LONGTERM")
VERDICT_NAMES = ("holds", "missed-cow", "wrong-cow", "memory-safety", "unnecessary-cow")


@dataclass(frozen=True, slots=True)
class VpageInit:
    state: str = "none"
    writable: bool = True
    dontfork: bool = False


@dataclass(frozen=True, slots=True)
class LitmusStep:
    op: str
    vpage: int = 0
    cell: int = 0
    flags: GupFlags = NO_FLAGS
    fast: bool = False
    ref: str = ""
    prot: str = ""
    process: int = 0
    after: tuple[tuple[int, int], ...] = ()  # (actor index, step index), 0-based
    label: str = ""


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    kind: str
    process: int  # threads: the process it belongs to
    steps: tuple[LitmusStep, ...]


@dataclass(frozen=True, slots=True)
class GupKind:
    flags: GupFlags
    fast: bool


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    kind: str  # "litmus" | "open"
    path: str
    text: str  # the TOML source, embedded in saved traces so they replay standalone
    description: str = ""
    source: str = ""
    threads: int = 1
    vpages: tuple[VpageInit, ...] = (VpageInit(),)
    cells: int = 2
    max_processes: int = 2
    actors: tuple[Actor, ...] = ()
    budget: tuple[tuple[str, int], ...] = ()
    gup_kinds: tuple[GupKind, ...] = ()
    expect: dict[str, str] = field(default_factory=dict)
    expect_strict: dict[str, str] = field(default_factory=dict)
    expect_notes: str = ""


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
    r = _Reader(where)
    r.no_extra(
        doc,
        (
            "name",
            "title",
            "kind",
            "description",
            "source",
            "world",
            "vpage",
            "actor",
            "budget",
            "gup_kinds",
            "expect",
        ),
        "",
    )
    name = r.str_(doc, "name", "name")
    kind = r.choice(doc, "kind", "kind", ("litmus", "open"))
    world = r.table(doc, "world", "world")
    r.no_extra(world, ("threads", "vpages", "cells", "max_processes"), "world")
    threads = r.int_(world, "threads", "world.threads", 1, 1, 4)
    nv = r.int_(world, "vpages", "world.vpages", 1, 1, 4)
    cells = r.int_(world, "cells", "world.cells", 2, 1, 8)
    maxp = r.int_(world, "max_processes", "world.max_processes", 2, 1, 6)

    vinit = [VpageInit() for _ in range(nv)]
    vlist = doc.get("vpage", [])
    if not isinstance(vlist, list):
        raise r.err("vpage", "expected an array of tables ([[vpage]])")
    for i, vt in enumerate(vlist):
        fld = f"vpage[{i}]"
        if not isinstance(vt, dict):
            raise r.err(fld, "expected a table")
        r.no_extra(vt, ("index", "state", "writable", "dontfork"), fld)
        idx = r.int_(vt, "index", f"{fld}.index", i, 0, nv - 1)
        vinit[idx] = VpageInit(
            r.choice(vt, "state", f"{fld}.state", VPAGE_STATES, "none"),
            r.bool_(vt, "writable", f"{fld}.writable", True),
            r.bool_(vt, "dontfork", f"{fld}.dontfork", False),
        )

    actors = _parse_actors(r, doc, kind, nv, cells, maxp, threads)

    btab = r.table(doc, "budget", "budget")
    budget: list[tuple[str, int]] = []
    for k in btab:
        if k not in BUDGET_KINDS:
            raise r.err(f"budget.{k}", f"unknown action kind (expected one of: {', '.join(BUDGET_KINDS)})")
        budget.append((k, r.int_(btab, k, f"budget.{k}", 0, 0, 16)))
    if kind == "open" and not budget:
        raise r.err("budget", "an open scenario needs a budget for at least one kind of action")

    gk_raw = doc.get("gup_kinds", [])
    if not isinstance(gk_raw, list):
        raise r.err("gup_kinds", "expected a list of flag lists")
    gup_kinds: list[GupKind] = []
    for i, g in enumerate(gk_raw):
        fld = f"gup_kinds[{i}]"
        if not isinstance(g, list):
            raise r.err(fld, "expected a list of GUP flags")
        gup_kinds.append(GupKind(_parse_flags(r, g, fld), False))
    if kind == "open" and (dict(budget).get("gup") or dict(budget).get("gup_fast")) and not gup_kinds:
        raise r.err("gup_kinds", "a GUP budget needs the GUP flag combinations to try")

    exp = r.table(doc, "expect", "expect")
    expect: dict[str, str] = {}
    expect_strict: dict[str, str] = {}
    notes = ""
    for k in exp:
        if k == "notes":
            notes = r.str_(exp, k, "expect.notes")
        elif k == "strict":
            st = r.table(exp, "strict", "expect.strict")
            for sk in st:
                expect_strict[sk] = r.choice(st, sk, f"expect.strict.{sk}", VERDICT_NAMES)
        elif isinstance(exp[k], dict):
            raise r.err(f"expect.{k}", 'a verdict, not a table (quote rule names with a dot: "page-count-5.11" = ...)')
        else:
            expect[k] = r.choice(exp, k, f"expect.{k}", VERDICT_NAMES)

    return Scenario(
        name=name,
        title=r.str_(doc, "title", "title", ""),
        kind=kind,
        path=where,
        text=text,
        description=r.str_(doc, "description", "description", ""),
        source=r.str_(doc, "source", "source", ""),
        threads=threads,
        vpages=tuple(vinit),
        cells=cells,
        max_processes=maxp,
        actors=actors,
        budget=tuple(budget),
        gup_kinds=tuple(gup_kinds),
        expect=expect,
        expect_strict=expect_strict,
        expect_notes=notes,
    )


def _parse_actors(
    r: _Reader, doc: dict[str, Any], kind: str, nv: int, cells: int, maxp: int, threads: int
) -> tuple[Actor, ...]:
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
        names.append(r.str_(a, "name", f"actor[{i}].name"))
    if len(set(names)) != len(names):
        raise r.err("actor", "actor names must be unique")
    actors: list[Actor] = []
    thread_slots: dict[tuple[int, int], str] = {}
    for i, a in enumerate(raw):
        fld = f"actor[{i}]"
        r.no_extra(a, ("name", "kind", "process", "steps"), fld)
        akind = r.choice(a, "kind", f"{fld}.kind", ACTOR_KINDS, "thread")
        proc = r.int_(a, "process", f"{fld}.process", 0, 0, maxp - 1)
        if akind == "thread":
            n = sum(1 for (pp, _t) in thread_slots if pp == proc)
            limit = threads if proc == 0 else 1
            if n >= limit:
                raise r.err(
                    f"{fld}.process",
                    f"process {proc} has {limit} thread(s) (world.threads for process 0; a forked child has 1)",
                )
            thread_slots[(proc, n)] = names[i]
        steps_raw = a.get("steps", [])
        if not isinstance(steps_raw, list) or not steps_raw:
            raise r.err(f"{fld}.steps", "expected a non-empty list of steps")
        steps = [_parse_step(r, s, f"{fld}.steps[{j}]", akind, nv, cells, maxp, names) for j, s in enumerate(steps_raw)]
        actors.append(Actor(names[i], akind, proc, tuple(steps)))
    for i, act in enumerate(actors):
        for j, st in enumerate(act.steps):
            for ai, sj in st.after:
                if sj >= len(actors[ai].steps):
                    raise r.err(
                        f"actor[{i}].steps[{j}].after",
                        f"actor {actors[ai].name!r} has only {len(actors[ai].steps)} steps",
                    )
    return tuple(actors)


def _parse_step(
    r: _Reader, s: Any, fld: str, akind: str, nv: int, cells: int, maxp: int, names: list[str]
) -> LitmusStep:
    if not isinstance(s, dict):
        raise r.err(fld, 'expected an inline table such as { op = "write", vpage = 0, cell = 1 }')
    op = r.str_(s, "op", f"{fld}.op")
    if op not in OP_FIELDS:
        raise r.err(f"{fld}.op", f"unknown action {op!r} (expected one of: {', '.join(OP_FIELDS)})")
    if op not in ACTOR_OPS[akind]:
        raise r.err(
            f"{fld}.op",
            f"a {akind} actor cannot run {op!r} (expected one of: {', '.join(ACTOR_OPS[akind])})",
        )
    allowed = (*OP_FIELDS[op], "op", "after", "label")
    r.no_extra(s, allowed, fld)
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
    flags = GupFlags(False, False, False)
    if op == "gup":
        if "flags" not in s:
            raise r.err(f"{fld}.flags", 'missing (expected a list such as ["FOLL_PIN", "FOLL_WRITE"])')
        flags = _parse_flags(r, s["flags"], f"{fld}.flags")
    if op in ("gup", "release", "dma_write", "dma_read") and "ref" not in s:
        raise r.err(f"{fld}.ref", "missing (expected the reference's name)")
    return LitmusStep(
        op=op,
        vpage=r.int_(s, "vpage", f"{fld}.vpage", 0, 0, nv - 1),
        cell=r.int_(s, "cell", f"{fld}.cell", 0, 0, cells - 1),
        flags=flags,
        fast=r.bool_(s, "fast", f"{fld}.fast", False),
        ref=r.str_(s, "ref", f"{fld}.ref", ""),
        prot=r.choice(s, "prot", f"{fld}.prot", ("ro", "rw"), "rw") if op == "mprotect" else "",
        process=r.int_(s, "process", f"{fld}.process", 0, 0, maxp - 1),
        after=tuple(after),
        label=r.str_(s, "label", f"{fld}.label", ""),
    )
