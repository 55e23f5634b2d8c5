"""The help texts that several verbs share (docs/cli.md is generated from them)."""

from __future__ import annotations

from cowcheck.input.reuse_expr import NAMES

REUSE_HELP = (
    "Replace the rule's write-fault reuse decision with this expression over "
    + ", ".join(NAMES)
    + ", e.g. 'exclusive or (refcount == 1 and not swapcache)'."
)
STRICT_HELP = (
    "Drop the fork exception for FOLL_GET: every GUP reference anchors the page "
    "(Andrea Arcangeli, <20210110004435.26382-2-aarcange@redhat.com>)."
)
REPLAY_STRICT_HELP = "Replay with (or without) the --strict contract instead of the saved one."
REPLAY_PROP_HELP = "Check these properties instead of the saved ones (repeatable)."
REPLAY_FORM_HELP = "observational or structural instead of the saved form."
WORKERS_HELP = "Worker processes for the partitioned search (same states, same verdict)."
STORE_HELP = (
    "Visited store: exact; fingerprint (64-bit, reports its collision bound); "
    "bitstate[:MiB] (reports coverage; never 'holds')."
)
POR_HELP = (
    "Partial-order reduction from action footprints (serial search only; off by default: "
    "see BENCHMARKS.md for what it saves)."
)
SUBSUME_HELP = (
    "Skip a state when one with the same mm and at least as much budget of every kind "
    "was explored (on by default; exact store only, and off under --por). Same verdicts, "
    "fewer states."
)
DASK_HELP = (
    "Run the partitioned search on Dask: 'local' or 'local:N' (N worker processes here), "
    "or a scheduler address (tcp://host:8786). --workers sets the partitions."
)
MAX_MEMORY_HELP = "Stop when the search holds more than this many MiB of memory: incomplete."
CELL_WORKERS_HELP = "Run the cells in this many processes (default: one per core)."
GATE_WORKERS_HELP = (
    "Run the checks in this many processes; open scenarios expected to hold get the "
    "partitioned search. Verdicts do not depend on it, nor do the state counts of checks that hold."
)
