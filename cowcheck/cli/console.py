"""What every verb shares for its output: the two consoles, output paths checked
before any search, writes that leave no partial file, progress on stderr, and the
last line of a run that a signal stopped."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from cowcheck.api import CheckReport
from cowcheck.engine import Stats, Verdict
from cowcheck.engine.limits import peak_rss_mb
from cowcheck.engine.signals import stop_requested
from cowcheck.errors import InputError

# Piped output keeps whole lines: tables are not squeezed to 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

Progress = Callable[[Stats, int], None]


# Output paths are checked before any search: a run must not end in a traceback, its
# hour of work lost, because the file it was asked to write cannot be written.


def output_file(option: str, path: Path, make_parents: bool = False) -> Path:
    """A file that can be written: not a directory, in a writable directory (with
    ``make_parents``, the nearest existing ancestor of its directory, which the write
    creates)."""
    try:
        return _writable(option, path, make_parents)
    except OSError as e:  # a name too long, a loop of links: what stat() says
        raise InputError(option, str(path), f"cannot be written: {e.strerror or e}") from None


def _writable(option: str, path: Path, make_parents: bool) -> Path:
    if path.is_dir():
        raise InputError(option, str(path), "is a directory (expected a file to write)")
    parent = path.parent
    while make_parents and not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.exists():
        raise InputError(option, str(path), f"no such directory {str(parent)!r} (expected an existing directory)")
    if not parent.is_dir():
        raise InputError(option, str(path), f"{str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(option, str(path), f"cannot write in {str(parent)!r} (permission denied)")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(option, str(path), "cannot be written (permission denied)")
    return path


def output_dir(option: str, path: Path, create: bool) -> Path:
    """A directory to write files in: an existing one, or with ``create`` one that can
    be made."""
    if not path.exists():
        if not create:
            raise InputError(option, str(path), "no such directory (expected an existing directory)")
        return output_file(option, path, make_parents=True)
    if not path.is_dir():
        raise InputError(option, str(path), "is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(option, str(path), "cannot write in it (permission denied)")
    return path


def write(option: str, path: Path, do: Callable[[], object]) -> None:
    """Write, and on failure (a full disk, a path that changed) leave no partial file."""
    try:
        do()
    except OSError as e:
        with contextlib.suppress(OSError):
            if path.is_file():
                path.unlink()
        raise InputError(option, str(path), f"cannot write: {e.strerror or e}") from None


def cut(rep: CheckReport) -> bool:
    """Whether a signal stopped this run (or it never started)."""
    return rep.verdict is Verdict.INCOMPLETE and (rep.result.incomplete_reason or "").startswith("interrupted")


def interrupted(finished: int, what: str, to_stderr: bool = False) -> None:
    """The last line of a command that a signal stopped; it exits with 3 and writes no
    file (a report, a JUnit file or a trace directory would pass for a finished run's)."""
    line = f"incomplete: interrupted by {stop_requested()}: {finished} {what} finished, no file written"
    (err if to_stderr else out).print(line, markup=False)


def progress(enabled: bool) -> Progress | None:
    """States, depth, rate, queue and memory on stderr: rewritten in place on a
    terminal (5 times a second at most), a plain line every 10 s otherwise (CI logs);
    COWCHECK_PROGRESS_EVERY sets the interval in seconds."""
    if not enabled:
        return None
    tty = err.is_terminal
    every = float(os.environ.get("COWCHECK_PROGRESS_EVERY", 0.2 if tty else 10.0))
    last = [time.monotonic()]

    def show(stats: Stats, queue: int) -> None:
        now = time.monotonic()
        if now - last[0] < every:
            return
        last[0] = now
        line = (
            f"  {stats.states:,} states, depth {stats.max_depth}, {stats.states_per_second:,.0f} states/s, "
            f"queue {queue:,}, {peak_rss_mb():,.0f} MiB"
        )
        if tty:
            err.print("\r" + line, end="", markup=False)
        else:
            err.print(line, markup=False)

    return show
