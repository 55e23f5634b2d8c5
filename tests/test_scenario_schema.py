"""The loader enforces exactly the schema the reference is generated from: its field
names, defaults, ranges, choices and required fields, per table and per operation;
every operation and budget kind does something in the model."""

from __future__ import annotations

import re

import pytest
from conftest import reachable

from cowcheck.api import build_model
from cowcheck.errors import InputError
from cowcheck.input.properties import all_properties
from cowcheck.input.scenario import LitmusStep, Scenario, parse_scenario
from cowcheck.input.schema import (
    ACTOR,
    BUDGET_EXTRA,
    BUDGET_KINDS,
    CHOICE,
    INTEGER,
    LITMUS_BUDGET_KINDS,
    OPS,
    STEP,
    STEP_COMMON,
    TOP,
    VERDICT_NAMES,
    VPAGE,
    WORLD,
    Field,
    Op,
    Table,
)

BASE = """
name = "t"
kind = "litmus"
{top}
[world]
{world}
[[vpage]]
{vpage}
[[actor]]
name = "a"
{actor}
steps = [ {step} ]
{tail}
"""


def make(
    *,
    top: str = "",
    world: str = "",
    vpage: str = 'state = "present"',
    actor: str = "",
    step: str = '{ op = "write" }',
    tail: str = "",
) -> str:
    return BASE.format(top=top, world=world, vpage=vpage, actor=actor, step=step, tail=tail)


def load(text: str) -> Scenario:
    return parse_scenario(text, "t.toml")


def rejects(text: str, field: str, *words: str) -> str:
    with pytest.raises(InputError) as e:
        load(text)
    assert e.value.where == "t.toml" and e.value.field == field, str(e.value)
    for w in words:
        assert w in e.value.expected, (w, str(e.value))
    return e.value.expected


@pytest.mark.parametrize("table", [TOP, WORLD, VPAGE, ACTOR], ids=lambda t: t.heading)
def test_unknown_field_lists_the_schema_keys(table: Table) -> None:
    slot = {"": "top", "world": "world", "vpage": "vpage", "actor": "actor"}[table.key]
    prefix = {"": "", "world": "world.", "vpage": "vpage[0].", "actor": "actor[0]."}[table.key]
    msg = rejects(make(**{slot: "bogus = 1"}), f"{prefix}bogus", "unknown field")
    assert re.findall(r"expected one of: (.*)\)", msg)[0].split(", ") == list(table.keys())


def test_defaults_are_the_schema_defaults() -> None:
    sc = load(make(step='{ op = "mprotect" }'))
    got = {"threads": sc.threads, "vpages": len(sc.vpages), "cells": sc.cells, "max_processes": sc.max_processes}
    assert got == {f.key: f.default for f in WORLD.fields}
    assert sc.actors[0].kind == ACTOR.field("kind").default and sc.actors[0].process == ACTOR.field("process").default
    st = sc.actors[0].steps[0]
    for k in ("vpage", "prot", "label"):
        assert getattr(st, k) == STEP.field(k).default
    sc = load(make(step='{ op = "gup", flags = ["FOLL_GET"], ref = "r" }'))
    assert sc.actors[0].steps[0].fast is STEP.field("fast").default
    bare = load(make())
    assert (bare.title, bare.source, bare.description) == ("", "", "")
    v = load(make(vpage=""))
    assert v.vpages[0].state == VPAGE.field("state").default
    assert v.vpages[0].writable is VPAGE.field("writable").default
    assert v.vpages[0].dontfork is VPAGE.field("dontfork").default


@pytest.mark.parametrize("f", [f for f in WORLD.fields if f.type == INTEGER], ids=lambda f: f.key)
def test_world_ranges(f: Field) -> None:
    for bad in (f.lo - 1, f.hi + 1):
        rejects(make(world=f"{f.key} = {bad}"), f"world.{f.key}", f"[{f.lo}, {f.hi}]")
    for good in (f.lo, f.hi):
        if f.key == "threads":
            continue  # threads only bounds process 0's thread actors
        load(make(world=f"{f.key} = {good}"))


@pytest.mark.parametrize(
    ("where", "key", "of"),
    [("vpage", "index", "vpages"), ("actor", "process", "max_processes"), ("step", "vpage", "vpages"),
     ("step", "cell", "cells")],
)  # fmt: skip
def test_ranges_taken_from_the_world(where: str, key: str, of: str) -> None:
    f = {"vpage": VPAGE, "actor": ACTOR, "step": STEP}[where].field(key)
    assert f.hi_from == of
    world = f"{of} = 2"
    if where == "step":
        ok, bad = (
            make(world=world, step=f'{{ op = "write", {key} = 1 }}'),
            make(world=world, step=f'{{ op = "write", {key} = 2 }}'),
        )
        path = f"actor[0].steps[0].{key}"
    else:
        ok, bad = make(world=world, **{where: f"{key} = 1"}), make(world=world, **{where: f"{key} = 2"})
        path = f"{where}[0].{key}"
    load(ok)
    rejects(bad, path, "[0, 1]")


@pytest.mark.parametrize(
    ("table", "key"),
    [(TOP, "kind"), (VPAGE, "state"), (ACTOR, "kind"), (STEP, "prot")],
    ids=lambda x: x if isinstance(x, str) else x.heading,
)
def test_choices(table: Table, key: str) -> None:
    f = table.field(key)
    assert f.type == CHOICE
    if table is TOP:
        text, path = make().replace('kind = "litmus"', 'kind = "bogus"'), "kind"
    elif table is STEP:
        text, path = make(step='{ op = "mprotect", prot = "bogus" }'), "actor[0].steps[0].prot"
    else:
        slot = {"vpage": "vpage", "actor": "actor"}[table.key]
        text, path = make(**{slot: f'{key} = "bogus"'}), f"{slot}[0].{key}"
    msg = rejects(text, path, "unknown value 'bogus'")
    assert msg.endswith(f"(expected one of: {', '.join(f.choices)})")


def test_required_fields() -> None:
    for f in TOP.fields:
        if f.required:
            rejects(make().replace(f"{f.key} = ", "# ", 1), f.key, "missing")
    rejects(make().replace('name = "a"', ""), "actor[0].name", "missing")
    rejects(make(step="").replace("steps = [  ]", "steps = []"), "actor[0].steps", "non-empty")


# An actor of each kind and, for the steps that need them, what must come first.
KIND_ACTOR = {"thread": "", "device": 'kind = "device"', "kernel": 'kind = "kernel"', "outsider": 'kind = "outsider"'}
NEEDS_REF = '\n[[actor]]\nname = "owner"\nsteps = [ { op = "gup", flags = ["FOLL_GET", "FOLL_WRITE"], ref = "r" } ]\n'


def op_step(name: str, drop: str = "") -> str:
    values = {"flags": '["FOLL_PIN", "FOLL_WRITE"]', "ref": '"r"', "prot": '"ro"', "fast": "true"}
    fields = [f"{k} = {values.get(k, '0')}" for k in OPS_BY[name].fields if k != drop]
    return "{ " + ", ".join([f'op = "{name}"', *fields]) + " }"


OPS_BY = {op.name: op for op in OPS}


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_operation_fields_and_actors(op: Op) -> None:
    assert set(op.required) <= set(op.fields) <= set(STEP.keys())
    # A reference a step uses must be one a gup step takes (the loader checks).
    tail = NEEDS_REF if "ref" in op.fields and op.name != "gup" else ""
    world = "threads = 2" if tail else ""
    for kind, line in KIND_ACTOR.items():
        text = make(world=world, actor=line, step=op_step(op.name), tail=tail)
        if kind in op.actors:
            st: LitmusStep = load(text).actors[0].steps[0]
            assert st.op == op.name
        else:
            rejects(text, "actor[0].steps[0].op", f"a {kind} actor cannot run {op.name!r}")
    kind = op.actors[0]
    for k in op.required:
        rejects(
            make(actor=KIND_ACTOR[kind], step=op_step(op.name, drop=k), tail=tail), f"actor[0].steps[0].{k}", "missing"
        )
    for k in set(STEP.keys()) - set(op.fields) - set(STEP_COMMON):
        text = make(actor=KIND_ACTOR[kind], step=op_step(op.name)[:-2] + f", {k} = 0 }}", tail=tail)
        rejects(text, f"actor[0].steps[0].{k}", "unknown field")


def _fired(sc: Scenario) -> set[str]:
    """Every operation that runs in some reachable state."""
    ops: set[str] = set()
    reachable(build_model(sc, "anon-exclusive", None, "observational", False), ops=ops)
    return ops


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_every_operation_runs_in_the_model(op: Op) -> None:
    kind = op.actors[-1]
    prelude = {"dma_write": NEEDS_REF, "dma_read": NEEDS_REF, "release": NEEDS_REF}.get(op.name, "")
    step = op_step(op.name)
    if op.name == "spec_put":
        step = '{ op = "spec_get" }, ' + step
    if kind == "device" or op.name == "release":
        kind, step = "device", step.replace("}", ', after = "owner:1" }')
    text = make(actor=KIND_ACTOR[kind], step=step, tail=prelude)
    assert op.name in _fired(load(text))


def test_budget_kinds_are_charged_by_the_model() -> None:
    """Every budget kind but ``total`` is what some action spends (tests/test_operations.py
    checks that the model charges it), and each is documented."""
    from cowcheck.mm.actions import Action

    charged = {op.spends(Action(op.name, 0, fast=fast)) for op in OPS for fast in (False, True)}
    assert set(BUDGET_KINDS) - {"total"} == charged - {""}
    documented = {op.budget for op in OPS} | {k for k, _doc in BUDGET_EXTRA}
    assert set(BUDGET_KINDS) <= documented


def test_litmus_budget_adds_the_environment() -> None:
    text = make(step='{ op = "write" }')
    assert "swapout" not in _fired(load(text))
    assert "swapout" in _fired(load(text + "\n[budget]\nswapout = 1\n"))
    for k in set(BUDGET_KINDS) - set(LITMUS_BUDGET_KINDS):
        rejects(text + f"\n[budget]\n{k} = 1\n", f"budget.{k}", "programs are fixed")
    rejects(make(top='gup_kinds = [["FOLL_GET"]]'), "gup_kinds", "only an open scenario")


def test_verdicts_are_holds_and_the_properties() -> None:
    assert ("holds", *all_properties()) == VERDICT_NAMES
    rejects(make(tail='[expect]\nanon-exclusive = "bogus"'), "expect.anon-exclusive", "unknown value")
    sc = load(make(tail='[expect]\nnotes = "n"\nanon-exclusive = "holds"\n[expect.strict]\nmapcount = "missed-cow"'))
    assert (sc.expect, sc.expect_strict, sc.expect_notes) == (
        {"anon-exclusive": "holds"},
        {"mapcount": "missed-cow"},
        "n",
    )
