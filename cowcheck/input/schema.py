"""The scenario file's schema, as data: every table, field, operation and budget kind.

The loader (``scenario.py``) reads files through these tables, so the field names,
types, defaults and ranges it enforces are the ones written here, and
``reference.py`` renders the format reference (docs/scenario-format.md) from the
same tables. The operations are the model's own table (``mm/ops``). A field added
here without loader support fails the tests (tests/test_scenario_schema.py), and so
does one the loader reads but this omits.
"""

from __future__ import annotations

from dataclasses import dataclass

from cowcheck.families import FAMILY_NAMES
from cowcheck.mm.ops import OPERATIONS
from cowcheck.mm.ops.operation import Operation
from cowcheck.mm.world import BACKINGS

# A field's type, as the reference names it.
STRING = "string"
INTEGER = "integer"
BOOLEAN = "boolean"
CHOICE = "string (one of)"


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    type: str
    doc: str
    default: str | int | bool | None = None  # None and not required: absent means empty
    required: bool = False
    lo: int = 0
    hi: int = 0
    # Upper bound taken from the world instead: the named [world] field's value - 1.
    hi_from: str = ""
    choices: tuple[str, ...] = ()
    only: str = ""  # "litmus" or "open" when the field applies to one kind only

    def range_text(self) -> str:
        if self.choices:
            return ", ".join(f'"{c}"' for c in self.choices)
        if self.hi_from:
            return f"{self.lo} .. world.{self.hi_from} - 1"
        if self.type == INTEGER:
            return f"{self.lo} .. {self.hi}"
        return ""


@dataclass(frozen=True, slots=True)
class Table:
    """A TOML table (or array of tables) and its fields."""

    key: str  # "" for the top level
    heading: str
    doc: str
    fields: tuple[Field, ...]
    array: bool = False  # [[key]] rather than [key]

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)


SCENARIO_KINDS = ("litmus", "open")
VPAGE_STATES = ("none", "present", "zero", "swapped")
BACKING_NAMES = tuple(BACKINGS)
ACTOR_KINDS = ("thread", "device", "kernel", "outsider")
GUP_FLAG_NAMES = ("FOLL_GET", "FOLL_PIN", "FOLL_WRITE", "FOLL_LONGTERM")
PROT_NAMES = ("ro", "rw")

TOP = Table(
    "",
    "Top level",
    "",
    (
        Field("name", STRING, "The scenario's id: what `cowcheck check NAME` and saved traces call it.", required=True),
        Field("family", CHOICE, "The model family (cowcheck/families/): `anon`, order-0 anonymous pages and the "
              "zero page, the default and this format; `pfnmap`, x86 PAT memtype tracking of VM_PFNMAP mappings, "
              "whose format is docs/pfnmap.md.", default="anon", choices=FAMILY_NAMES),
        Field("kind", CHOICE, "`litmus`: fixed programs, every interleaving. `open`: a budget per kind of action.",
              required=True, choices=SCENARIO_KINDS),
        Field("title", STRING, "One line, shown above traces and in the matrix.", default=""),
        Field("source", STRING, "Where the race comes from: a mail, a commit, a reproducer.", default=""),
        Field("description", STRING, "What it models, in prose.", default=""),
        Field("world", "table", "The bounds of the abstract mm: see [world]."),
        Field("vpage", "array of tables", "The initial state of each virtual page: see [[vpage]]."),
        Field("actor", "array of tables", "The actors and their programs: see [[actor]].", only="litmus"),
        Field("budget", "table", "How many actions of each kind a run may take: see [budget]."),
        Field("gup_kinds", "array of flag lists",
              'The GUP flag combinations an open scenario tries, e.g. `[["FOLL_GET"], ["FOLL_PIN", "FOLL_WRITE"]]`. '
              "Needed when the budget allows `gup` or `gup_fast`.", only="open"),
        Field("expect", "table", "The verdict expected under each rule: see [expect]."),
    ),
)  # fmt: skip

WORLD = Table(
    "world",
    "[world]",
    "The bounds of the abstract mm. Every field is optional.",
    (
        Field("threads", INTEGER, "Threads of process 0. A forked child has one.", default=1, lo=1, hi=4),
        Field("vpages", INTEGER, "Pages in every process, at the same addresses (each its own VMA: see "
              "[[vpage]] `backing`).",
              default=1, lo=1, hi=4),
        Field("cells", INTEGER, "512-byte cells per page (vaddr+0, vaddr+512, ...): what writes, reads and DMA "
              "address, so a lost write is seen cell by cell.", default=2, lo=1, hi=8),
        Field("max_processes", INTEGER, "Process 0 and its children, including grandchildren.",
              default=2, lo=1, hi=6),
    ),
)  # fmt: skip

VPAGE = Table(
    "vpage",
    "[[vpage]]",
    "One table per virtual page, in order (or with `index`). Pages without one start `none`.",
    (
        Field("index", INTEGER, "Which page this table describes. Default: its position.", lo=0, hi_from="vpages"),
        Field("state", CHOICE, "`none`: never touched. `present`: mapped, exclusive, written. `zero`: mapped to the "
              "shared zero page. `swapped`: a swap entry.", default="none", choices=VPAGE_STATES),
        Field("writable", BOOLEAN, "VM_WRITE on the VMA (mprotect may change it).", default=True),
        Field("dontfork", BOOLEAN, "MADV_DONTFORK already applied: fork leaves it out of the child.", default=False),
        Field("backing", CHOICE, "What the VMA maps. `anon`: private anonymous memory. `file`: MAP_PRIVATE of a "
              "regular file (ext4), `shmem`: MAP_PRIVATE of a tmpfs file or memfd; `shared-shmem` and `shared-file`: "
              "MAP_SHARED of those (a `shared-file` needs dirty tracking: no writable long-term pins from 6.5). The "
              "file is one page, the same in every process, in the page cache from the start; `state` is then `none` "
              "or `present` (read-faulted: the page-cache page mapped R/O).", default="anon", choices=BACKING_NAMES),
        Field("uffd_minor", BOOLEAN, "Registered with userfaultfd in minor mode (`shmem` only, from 5.14): a fault "
              "on a none PTE waits for `uffd_continue`, and a write to /proc/PID/mem fails there.", default=False),
    ),
    array=True,
)  # fmt: skip

ACTOR = Table(
    "actor",
    "[[actor]]",
    "Litmus scenarios only: one table per actor, in the order the trace's columns show them.",
    (
        Field("name", STRING, "Unique; `after` refers to it, and it heads the actor's column.", required=True),
        Field("kind", CHOICE, "`thread` of `process`; `device` doing DMA through references; `kernel` (reclaim, "
              "speculative references); `outsider`, another process (clear_refs).",
              default="thread", choices=ACTOR_KINDS),
        Field("process", INTEGER, "The process a thread belongs to. A child's thread runs once its fork has returned.",
              default=0, lo=0, hi_from="max_processes"),
        Field("steps", "array of inline tables", "The program: operations (below), run in order.", required=True),
    ),
    array=True,
)  # fmt: skip

STEP = Table(
    "actor.steps",
    "Steps",
    "Each step is an inline table `{ op = ..., ... }`. Which fields an operation takes is in the table of "
    "operations; `op`, `after`, `label` and `optional` go with every one.",
    (
        Field("op", CHOICE, "The operation: see the table of operations.", required=True),
        Field("vpage", INTEGER, "The virtual page.", default=0, lo=0, hi_from="vpages"),
        Field("cell", INTEGER, "The 512-byte cell written, read or DMA'd.", default=0, lo=0, hi_from="cells"),
        Field("flags", "list of GUP flags", "Exactly one of FOLL_GET and FOLL_PIN, plus FOLL_WRITE and FOLL_LONGTERM "
              "as wanted.", choices=GUP_FLAG_NAMES),
        Field("fast", BOOLEAN, "gup-fast (lockless, `write_protect_seq` checked) rather than the slow path.",
              default=False),
        Field("ref", STRING, "The reference's name: a GUP names what it takes, DMA and release name what they use."),
        Field("prot", CHOICE, "The new protection.", default="rw", choices=PROT_NAMES),
        Field("process", INTEGER, "The target process.", default=0, lo=0, hi_from="max_processes"),
        Field("after", '"actor:N" or a list of them',
              "Hold this step until step N (counted from 1) of that actor has completed."),
        Field("label", STRING, "What the step means in the race (\"O_DIRECT read\"), shown in the trace.",
              default=""),
        Field("optional", BOOLEAN, "A run may end before this step runs (say why in a comment): for a step that only "
              "some interleavings enable. The actor's later steps must be optional too. Without it, a run that ends "
              "with the step not run fails the check as `stuck`; a step that runs on no run at all fails it as "
              "`unreached`, optional or not.", default=False),
    ),
)  # fmt: skip


# The step fields every operation takes, besides its own (Op.fields).
STEP_COMMON = ("op", "after", "label", "optional")


# The operations a step may name, and the budget kinds they spend: the model's own
# table (mm/ops), so that the format and the model cannot disagree on an operation's
# actors, fields or budget.
Op = Operation
OPS: tuple[Operation, ...] = OPERATIONS
OP_BY_NAME = {op.name: op for op in OPS}

# What spends the budget kinds that are not an operation's own: a GUP with `fast`, and
# every charged action.
BUDGET_EXTRA: tuple[tuple[str, str], ...] = (
    ("gup_fast", "A GUP through gup-fast (open scenarios try both paths within their own budgets)."),
    ("total", "Every charged action also spends one of these: a bound on the run's length."),
)
BUDGET_KINDS: tuple[str, ...] = (
    *dict.fromkeys(op.budget for op in OPS if op.budget),
    *dict.fromkeys(op.fast_budget for op in OPS if op.fast_budget),
    "total",
)
BUDGET_MAX = 16
# A litmus scenario's programs are fixed; its budget can only add the environment
# (Operation.environment): an outsider's clear_refs, reclaim, speculative references.
LITMUS_BUDGET_KINDS: tuple[str, ...] = (*(op.budget for op in OPS if op.environment and op.budget), "total")

EXPECT_FIELDS = (
    Field("notes", STRING, "Why each rule gets its verdict.", default=""),
    Field("strict", "table", "The verdicts under `--strict` (no fork exemption for open(2) FOLL_GET references)."),
    Field("<rule>", CHOICE, 'The verdict under that rule. Quote rule names with a dot: `"page-count-5.11" = ...`.',
          required=True, choices=("holds", "missed-cow", "wrong-cow", "memory-safety", "unnecessary-cow",
                                  "dirty-tracking", "read-only-data")),
)  # fmt: skip
# "holds" or a property id (properties/*.py; a test keeps the two in step).
VERDICT_NAMES = EXPECT_FIELDS[-1].choices

TABLES = (TOP, WORLD, VPAGE, ACTOR, STEP)
