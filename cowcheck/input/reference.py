"""Render the scenario format reference (docs/scenario-format.md) from the loader's schema
and the model's table of operations.

    python -m cowcheck.input.reference > docs/scenario-format.md

tests/test_docs.py checks that the file is what this prints, so the reference
cannot drift from what ``scenario.py`` accepts.
"""

from __future__ import annotations

from cowcheck.input.bundled import scenarios_dir
from cowcheck.input.properties import all_properties
from cowcheck.input.schema import (
    BUDGET_EXTRA,
    BUDGET_KINDS,
    BUDGET_MAX,
    EXPECT_FIELDS,
    LITMUS_BUDGET_KINDS,
    OPS,
    STEP,
    TABLES,
    Field,
    Table,
)

# Complete catalog files shown verbatim, so the examples are ones the loader accepts.
EXAMPLES = (("litmus", "odirect-clear-refs.toml"), ("open", "open-standard.toml"))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(f: Field) -> str:
    if f.required:
        return "required"
    if f.default is None:
        return ""
    if isinstance(f.default, bool):
        return "true" if f.default else "false"
    if isinstance(f.default, str):
        return f'`"{f.default}"`'
    return f"`{f.default}`"


def _fields(fields: tuple[Field, ...]) -> list[str]:
    out = ["| field | type | default | values | meaning |", "|---|---|---|---|---|"]
    for f in fields:
        meaning = f.doc + (f" Only in {f.only} scenarios." if f.only else "")
        out.append(f"| `{f.key}` | {f.type} | {_default(f)} | {_cell(f.range_text())} | {_cell(meaning)} |")
    return out


def _table(t: Table) -> list[str]:
    out = [f"## {t.heading}", ""]
    if t.doc:
        out += [t.doc, ""]
    return [*out, *_fields(t.fields), ""]


def _ops() -> list[str]:
    out = [
        "## Operations",
        "",
        "What a litmus step's `op` may be, which kinds of actor may run it, the fields it takes",
        "(required ones in bold) and the kernel path it models: the model's own table of",
        "operations (`cowcheck/mm/ops`). The budget kind is what the same action spends in an",
        "open scenario; free actions spend nothing.",
        "",
        "| op | actors | fields | budget | kernel path |",
        "|---|---|---|---|---|",
    ]
    for op in OPS:
        fields = ", ".join(f"**`{k}`**" if k in op.required else f"`{k}`" for k in op.fields)
        budget = f"`{op.budget}`" if op.budget else "free"
        out.append(f"| `{op.name}` | {', '.join(op.actors)} | {fields} | {budget} | {_cell(op.kernel)} |")
    return [*out, ""]


def _budget() -> list[str]:
    extra = dict(BUDGET_EXTRA)
    out = [
        "## [budget]",
        "",
        f"How many actions of each kind one run may take (0 .. {BUDGET_MAX} each). An open scenario",
        "needs at least one. A litmus scenario may budget only "
        + ", ".join(f"`{k}`" for k in LITMUS_BUDGET_KINDS)
        + ":",
        "the environment (another process's clear_refs, reclaim, speculative references) then",
        "acts at any point of the fixed programs. Releases, device reads and the kernel's",
        "internal steps are free.",
        "",
        "| kind | spent by |",
        "|---|---|",
    ]
    for k in BUDGET_KINDS:
        ops = [f"`{op.name}`" for op in OPS if op.budget == k]
        out.append(f"| `{k}` | {_cell(extra.get(k, ', '.join(ops)))} |")
    return [*out, ""]


def _expect() -> list[str]:
    out = [
        "## [expect]",
        "",
        "The verdict each rule should get; `cowcheck catalog` and `cowcheck matrix --check` fail",
        "where the search disagrees. Each key is a built-in rule (`cowcheck rules`).",
        "",
        *_fields(EXPECT_FIELDS),
        "",
        "| verdict | meaning |",
        "|---|---|",
        "| `holds` | every state within the bounds was explored and no property failed |",
    ]
    for pid, p in all_properties().items():
        out.append(f"| `{pid}` | {_cell(p.title)}: {_cell(p.models)}{' (a metric)' if p.metric else ''} |")
    return [*out, ""]


def _ends() -> list[str]:
    return [
        "## Runs that end early: `stuck` and `unreached`",
        "",
        "A litmus scenario claims something about its programs run to the end. A step that",
        "cannot run (a reference no GUP holds, a store to a read-only or unmapped VMA, a page",
        "not present, a process that has exited) would otherwise end its run silently, and a",
        "run that checked less would count as one that holds. So, as SPIN does with invalid",
        "end states, every check also fails, with exit code 1 and a trace, when:",
        "",
        "- `stuck`: a run ends (no program step and no kernel step in flight can go on; a",
        "  `[budget]`'s environment may stop acting at any point) while an actor still has a",
        "  step that is not `optional`. The trace is the shortest such run, and the message",
        "  names each step held and why, following `after` to the step it waits for.",
        "- `unreached`: a complete search finds a step, `optional` or not, that runs on no",
        "  run at all. The trace is one run, which like every run goes without it.",
        "",
        "These are verdicts, not input errors: they depend on the rule (a rule can make a",
        "step impossible) and come with a trace. What the loader can see alone is rejected",
        "with exit code 2 before any search: a `ref` that a `dma_*` or `release` step uses",
        "but no `gup` step takes, a reference released more often than it is taken, a cycle",
        "of waits (`after` and program order), an `[expect]` key that is not a built-in rule,",
        "and a scenario name that is empty or not a word of letters, digits, `-`, `_`, `.`, `+`.",
        "",
        "Mark a step `optional = true` when only some interleavings allow it, say why in",
        "a comment or its `label`, and mark the actor's later steps optional too.",
        "",
    ]


def render() -> str:
    out = [
        "<!-- Generated by `python -m cowcheck.input.reference > docs/scenario-format.md`",
        "     from cowcheck/input/schema.py, the schema the loader reads through, and the",
        "     model's table of operations (cowcheck/mm/ops). Do not edit. -->",
        "",
        "# Scenario format reference",
        "",
        "A scenario is a TOML file. The loader (`cowcheck/input/scenario.py`) rejects anything else",
        "with one line naming the file, the field and what it expected, and exits with code 2.",
        "For how to write one, see the [guide](guide.md).",
        "",
    ]
    for t in TABLES:
        if t is STEP:
            out += _ops()
        out += _table(t)
    out += _budget() + _expect() + _ends()
    for kind, name in EXAMPLES:
        text = (scenarios_dir() / name).read_text(encoding="utf-8")
        out += [f"## Example: {kind} (`models/scenarios/{name}`)", "", "```toml", text.rstrip("\n"), "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(render(), end="")
