"""``cowcheck reproduce``: a saved counterexample as a standalone C program."""

from __future__ import annotations

import argparse
from pathlib import Path

from cowcheck.cli.args import Command
from cowcheck.cli.console import err, output_file, write


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "trace",
        metavar="TRACE",
        type=Path,
        help="A saved counterexample (JSON), or a litmus scenario (a file or a bundled name): its run, read at its "
        "last device read.",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="Write the C program to FILE (default: standard output).",
    )


def run(a: argparse.Namespace) -> int:
    from cowcheck.reproduce import COMPILE, Refused, emit
    from cowcheck.reproduce.plan import plan_path

    if a.output is not None:
        output_file("--output", a.output, make_parents=True)
    try:
        p = plan_path(a.trace)
    except Refused as e:
        err.print(f"cowcheck reproduce: {a.trace}: refused: {e}")
        return 3
    text = emit(p)
    if a.output is None:
        print(text, end="")
    else:
        write("--output", a.output, lambda: a.output.write_text(text, encoding="utf-8"))
        build = COMPILE.format(out=a.output.with_suffix(""), src=a.output)
        err.print(f"wrote {a.output}: {len(p.schedule.steps)} steps; build: {build}")
    return 0


REPRODUCE = Command(
    arguments,
    run,
    "Writes one C program that runs the trace's schedule on the running kernel: a thread or process per "
    "actor, taking turns through a counter in shared memory, each step the syscall or memory access that "
    "does it in user space, then the read that shows the violation. The program prints one line, "
    "COWCHECK-RESULT NAME observed=holds|missed-cow|wrong-cow|skipped|error, and exits 0, 1, 77 or 2. "
    "A trace whose failure needs a step inside one kernel operation (GUP-fast between fork's PTE copies, "
    "reclaim's phases split by other actors), a speculative reference or the reclaim of a shared page is "
    "refused with one line naming the step (exit 3).",
)
