"""pfnmap scenario files (TOML, ``family = "pfnmap"``): the device, the VMAs mapped
before the run, and the actors' programs (litmus) or a budget (open). Every error
names the file and the field (docs/scenario-format.md, "The pfnmap family")."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from cowcheck.errors import InputError
from cowcheck.input.scenario import _Reader
from cowcheck.pfnmap.actions import (
    ACCESS,
    EXIT,
    FORK,
    FORK_STEP,
    IOREMAP,
    MMAP,
    MREMAP,
    MUNMAP,
    OPS,
    UNMAP_MAPPING,
    ZAP,
    PfnAction,
    action_from_json,
)
from cowcheck.pfnmap.state import FAIL_COPY, FAIL_NAMES, NO_FAIL, TYPES
from cowcheck.pfnmap.world import DeviceVma, PfnActor, PfnScenario, PfnStep

MAX_PAGES = 4
MAX_PROCESSES = 3
KINDS = ("litmus", "open")
ACTOR_KINDS = ("thread", "kernel")
# Which operations each kind of actor runs: a process's own system calls, or a path
# with no mm of its own (truncate, a driver's revoke, another driver's ioremap()).
ACTOR_OPS = {
    "thread": (MMAP, MUNMAP, MREMAP, FORK, EXIT, ZAP, ACCESS),
    "kernel": (UNMAP_MAPPING, IOREMAP, ZAP),
}
STEP_FIELDS = ("op", "label", "optional", "vpage", "npages", "pfn", "type", "to", "remap", "cow", "fail", "write")
TOP_FIELDS = ("family", "name", "title", "kind", "source", "description", "world", "vma", "actor", "budget", "expect")
VERDICTS_FIXED = ("holds", "incomplete")


def load_pfn_scenario(path: str | Path) -> PfnScenario:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), None, "no such scenario file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(str(path), None, f"cannot read: {e}") from None
    return parse_pfn_scenario(text, str(path))


def parse_pfn_scenario(text: str, where: str) -> PfnScenario:
    from cowcheck.families.pfnmap import builtin_rule_names, property_ids  # the family's own lists

    r = _Reader(where)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(where, None, f"not valid TOML: {e}") from None
    r.no_extra(doc, TOP_FIELDS, "")
    name = r.str_(doc, "name", "name")
    if not re.fullmatch(r"[A-Za-z0-9_.+\-]+", name):
        raise r.err("name", f"expected a non-empty name of letters, digits, '-', '_', '.' or '+', got {name!r}")
    kind = r.choice(doc, "kind", "kind", KINDS)
    world = r.table(doc, "world", "world")
    r.no_extra(world, ("pages", "max_processes"), "world")
    pages = r.int_(world, "pages", "world.pages", 2, 1, MAX_PAGES)
    nproc = r.int_(world, "max_processes", "world.max_processes", 2, 1, MAX_PROCESSES)
    vmas = _vmas(r, doc, pages)
    actors = _actors(r, doc, kind, pages, nproc) if kind == "litmus" else ()
    if kind == "litmus" and not actors:
        raise r.err("actor", "expected at least one [[actor]] in a litmus scenario")
    forks = sum(st.op == FORK for a in actors for st in a.steps)
    if forks >= nproc:
        raise r.err(
            "world.max_processes", f"expected at least {forks + 1} (the programs fork {forks} time(s)), got {nproc}"
        )
    if kind == "open" and "actor" in doc:
        raise r.err("actor", "an open scenario has no programs (expected a [budget] instead)")
    budget = _budget(r, doc, kind)
    exp = r.table(doc, "expect", "expect")
    verdicts = (*VERDICTS_FIXED, *property_ids())
    expect: dict[str, str] = {}
    rules = builtin_rule_names()
    for k, v in exp.items():
        if k == "notes":
            continue
        if k not in rules:
            raise r.err(f"expect.{k}", f"unknown rule {k!r} (expected one of: {', '.join(rules)})")
        if not isinstance(v, str) or v not in verdicts:
            raise r.err(f"expect.{k}", f"expected one of: {', '.join(verdicts)}, got {v!r}")
        expect[k] = v
    return PfnScenario(
        name=name,
        title=r.str_(doc, "title", "title", ""),
        path=where,
        text=text,
        kind=kind,
        description=r.str_(doc, "description", "description", "").strip(),
        source=r.str_(doc, "source", "source", ""),
        pages=pages,
        max_processes=nproc,
        vmas=vmas,
        actors=actors,
        budget=budget,
        expect=expect,
        expect_notes=r.str_(exp, "notes", "expect.notes", "").strip(),
    )


def _type(r: _Reader, d: dict[str, Any], fld: str) -> int:
    return TYPES[r.choice(d, "type", f"{fld}.type", tuple(TYPES), "UC-")]


def _vmas(r: _Reader, doc: dict[str, Any], pages: int) -> tuple[DeviceVma, ...]:
    raw = doc.get("vma", [])
    if not isinstance(raw, list):
        raise r.err("vma", "expected an array of tables ([[vma]])")
    out: list[DeviceVma] = []
    for i, d in enumerate(raw):
        fld = f"vma[{i}]"
        if not isinstance(d, dict):
            raise r.err(fld, "expected a table")
        r.no_extra(d, ("vpage", "npages", "pfn", "type", "remap", "cow"), fld)
        pfn = r.int_(d, "pfn", f"{fld}.pfn", 0, 0, pages - 1)
        n = r.int_(d, "npages", f"{fld}.npages", pages - pfn, 1, pages - pfn)
        vpage = r.int_(d, "vpage", f"{fld}.vpage", 0, 0, 64)
        if any(v.vpage < vpage + n and vpage < v.vpage + v.npages for v in out):
            raise r.err(f"{fld}.vpage", "expected VMAs that do not overlap")
        full = r.choice(d, "remap", f"{fld}.remap", ("full", "partial"), "full") == "full"
        out.append(DeviceVma(vpage, n, pfn, _type(r, d, fld), full, r.bool_(d, "cow", f"{fld}.cow", False)))
    return tuple(out)


def _actors(r: _Reader, doc: dict[str, Any], kind: str, pages: int, nproc: int) -> tuple[PfnActor, ...]:
    raw = doc.get("actor", [])
    if not isinstance(raw, list):
        raise r.err("actor", "expected an array of tables ([[actor]])")
    out: list[PfnActor] = []
    for i, a in enumerate(raw):
        fld = f"actor[{i}]"
        if not isinstance(a, dict):
            raise r.err(fld, "expected a table")
        r.no_extra(a, ("name", "kind", "process", "steps"), fld)
        name = r.str_(a, "name", f"{fld}.name")
        if any(x.name == name for x in out):
            raise r.err(f"{fld}.name", f"expected a name no other actor has, got {name!r}")
        akind = r.choice(a, "kind", f"{fld}.kind", ACTOR_KINDS, "thread")
        process = r.int_(a, "process", f"{fld}.process", 0, 0, nproc - 1)
        steps_raw = a.get("steps")
        if not isinstance(steps_raw, list) or not steps_raw:
            raise r.err(f"{fld}.steps", "expected a non-empty list of steps")
        steps = []
        for j, s in enumerate(steps_raw):
            sf = f"{fld}.steps[{j}]"
            if not isinstance(s, dict):
                raise r.err(sf, "expected a table")
            r.no_extra(s, STEP_FIELDS, sf)
            op = r.choice(s, "op", f"{sf}.op", OPS)
            if op not in ACTOR_OPS[akind]:
                raise r.err(
                    f"{sf}.op", f"a {akind} actor cannot run {op} (expected one of: {', '.join(ACTOR_OPS[akind])})"
                )
            if op == FORK and process != 0:
                raise r.err(f"{sf}.op", "expected fork in process 0 (a forked child is the last process)")
            full = r.choice(s, "remap", f"{sf}.remap", ("full", "partial"), "full") == "full"
            if op in (MMAP, IOREMAP, UNMAP_MAPPING):
                pfn = r.int_(s, "pfn", f"{sf}.pfn", 0, 0, pages - 1)
                r.int_(s, "npages", f"{sf}.npages", pages - pfn if op == MMAP else 1, 1, pages - pfn)
            steps.append(
                PfnStep(
                    op=op,
                    vpage=r.int_(s, "vpage", f"{sf}.vpage", 0, 0, 64),
                    npages=r.int_(s, "npages", f"{sf}.npages", pages - _pfn(s) if op == MMAP else 1, 1, pages),
                    pfn=r.int_(s, "pfn", f"{sf}.pfn", 0, 0, pages - 1),
                    type=_type(r, s, sf),
                    to=r.int_(s, "to", f"{sf}.to", 8, 0, 64),
                    full=full,
                    cow=r.bool_(s, "cow", f"{sf}.cow", False),
                    fail=_fail(r, s, f"{sf}.fail", op),
                    write=r.bool_(s, "write", f"{sf}.write", False),
                    label=r.str_(s, "label", f"{sf}.label", ""),
                    optional=r.bool_(s, "optional", f"{sf}.optional", False),
                )
            )
        out.append(PfnActor(name, akind, process, tuple(steps)))
    return tuple(out)


def _pfn(s: dict[str, Any]) -> int:
    v = s.get("pfn", 0)
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _fail(r: _Reader, s: dict[str, Any], fld: str, op: str) -> int:
    """``fail``: true (the page-table allocation), or for fork the function whose
    allocation fails."""
    v = s.get("fail", False)
    if isinstance(v, bool):
        return FAIL_COPY if v else NO_FAIL
    if op == FORK and v in FAIL_NAMES[1:]:
        return FAIL_NAMES.index(v)
    names = f" or one of: {', '.join(FAIL_NAMES[1:])}" if op == FORK else ""
    raise r.err(fld, f"expected true or false{names}, got {v!r}")


def _budget(r: _Reader, doc: dict[str, Any], kind: str) -> tuple[tuple[str, int], ...]:
    b = r.table(doc, "budget", "budget")
    if kind == "litmus" and b:
        raise r.err("budget", "a litmus scenario's programs are fixed (expected no [budget])")
    out: list[tuple[str, int]] = []
    for k in b:
        if k not in OPS:
            raise r.err(f"budget.{k}", f"unknown operation (expected one of: {', '.join(OPS)})")
        out.append((k, r.int_(b, k, f"budget.{k}", 0, 0, 4)))
    if kind == "open" and not any(n for _, n in out):
        raise r.err("budget", "expected at least one operation with a budget above 0")
    return tuple(out)


def saved_actions(where: str, doc: dict[str, Any], sc: PfnScenario) -> list[PfnAction]:
    """A saved trace's actions, each checked against its embedded scenario: what no
    rule could ever run is a corrupt file (exit 2), not a step "not enabled here"."""
    from cowcheck.errors import ActionError
    from cowcheck.input.trace_file import same_as_program
    from cowcheck.pfnmap.model import program_action

    out: list[PfnAction] = []
    next_step = [0] * len(sc.actors)
    nactors = len(sc.actors) if sc.litmus else sc.max_processes + 2
    for i, st in enumerate(doc["steps"]):
        fld = f"steps[{i}].action"
        try:
            a = action_from_json(st["action"])
        except ActionError as e:
            raise InputError(where, f"{fld}.{e.field}" if e.field else fld, e.expected) from None
        if not 0 <= a.actor < nactors:
            raise InputError(
                where, f"{fld}.actor", f"expected an actor of the embedded scenario (0..{nactors - 1}), got {a.actor}"
            )
        if sc.litmus and a.op != FORK_STEP:
            name = sc.actors[a.actor].name
            if a.step != next_step[a.actor]:
                raise InputError(
                    where, f"{fld}.step", f"expected {next_step[a.actor]} ({name}'s next program step), got {a.step}"
                )
            if a.step >= len(sc.actors[a.actor].steps):
                raise InputError(
                    where,
                    f"{fld}.step",
                    f"expected a step of {name} (it has {len(sc.actors[a.actor].steps)}), got {a.step}",
                )
            same_as_program(where, fld, name, a.step, a, program_action(sc, a.actor, a.step))
            next_step[a.actor] += 1
        elif a.step != -1:
            raise InputError(where, f"{fld}.step", f"expected -1 (no program step here), got {a.step}")
        out.append(a)
    return out
