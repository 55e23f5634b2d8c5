"""What every verb shares for its output: stdout and stderr, tables, output paths
checked before any search, writes that leave no partial file, progress on stderr, and
the last line of a run that a signal stopped.

Plain writes, not rich: rich is imported only by a verb that prints a table (its
import costs more than a small search)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cowcheck.engine.limits import peak_rss_mb
from cowcheck.engine.signals import stop_requested
from cowcheck.errors import InputError

if TYPE_CHECKING:
    from cowcheck.api import CheckReport
    from cowcheck.engine import Stats


class Stream:
    """stdout or stderr, looked up at each write (tests swap them)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def file(self) -> TextIO:
        f: TextIO = getattr(sys, self.name)
        return f

    @property
    def is_terminal(self) -> bool:
        return self.file.isatty()

    def print(self, text: str = "", end: str = "\n") -> None:
        self.file.write(text + end)

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        title: str | None = None,
        lines: bool = False,
    ) -> None:
        """A boxed table (rich's), whole lines when piped: not squeezed to 80 columns."""
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        t = Table(*headers, title=Text(title) if title else None, title_justify="left", show_lines=lines)
        for r in rows:
            t.add_row(*(Text(c) for c in r))  # Text, not markup: names are the user's, "[/b]" included
        width = None if self.is_terminal else 160
        Console(file=self.file, highlight=False, soft_wrap=True, width=width).print(t)


out = Stream("stdout")
err = Stream("stderr")


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
    from cowcheck.engine import Verdict

    return rep.verdict is Verdict.INCOMPLETE and (rep.result.incomplete_reason or "").startswith("interrupted")


def interrupted(finished: int, what: str, to_stderr: bool = False) -> None:
    """The last line of a command that a signal stopped; it exits with 3 and writes no
    file (a report, a JUnit file or a trace directory would pass for a finished run's)."""
    line = f"incomplete: interrupted by {stop_requested()}: {finished} {what} finished, no file written"
    (err if to_stderr else out).print(line)


class ProgressLine:
    """States, depth, rate, frontier and memory on stderr.

    On a terminal, one line rewritten in place (a carriage return and an erase to the
    end of the line, cut to the terminal's width so that it never wraps), at most five
    times a second; ``close`` erases it, so that what follows starts in column 0.
    Elsewhere (CI logs) a plain line every 10 s. COWCHECK_PROGRESS_EVERY sets the
    interval in seconds. The rate is over the last second or so, not the average
    since the start: it shows what the search is doing now."""

    def __init__(self, stream: Stream = err) -> None:
        self.stream = stream
        self.tty = stream.is_terminal
        self.every = _interval(0.2 if self.tty else 10.0)
        now = time.monotonic()
        self.last = now
        self.shown = False
        self.window: tuple[float, int] = (now, 0)  # when the rate's window opened, and the states then
        self.rate = 0.0

    def __call__(self, stats: Stats, frontier: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        self._show(self._line(now, stats, frontier))

    def _line(self, now: float, stats: Stats, frontier: int) -> str:
        t0, s0 = self.window
        if now - t0 >= 1.0 or self.rate == 0.0:
            self.rate = (stats.states - s0) / max(now - t0, 1e-9)
            self.window = (now, stats.states)
        return (
            f"{stats.states:,} states, depth {stats.max_depth}, {self.rate:,.0f} states/s, "
            f"frontier {frontier:,}, {peak_rss_mb():,.0f} MiB, {stats.seconds:,.0f}s"
        )

    def _show(self, line: str) -> None:
        if self.tty:
            cols = shutil.get_terminal_size((80, 24)).columns
            self._put("\r" + line[: cols - 1] + "\x1b[K")
            self.shown = True
        else:
            self._put(line + "\n")

    def close(self) -> None:
        if self.shown:
            self._put("\r\x1b[K")
            self.shown = False

    def _put(self, text: str) -> None:
        # A progress line never ends a search: stderr closed or gone loses the line only.
        with contextlib.suppress(OSError, ValueError):
            self.stream.file.write(text)
            self.stream.file.flush()


def _interval(default: float) -> float:
    raw = os.environ.get("COWCHECK_PROGRESS_EVERY")
    if raw is None:
        return default
    try:
        every = float(raw)
    except ValueError:
        every = -1.0
    if not every >= 0:
        raise InputError("COWCHECK_PROGRESS_EVERY", None, f"expected a number of seconds >= 0, got {raw!r}")
    return every


class TallyLine(ProgressLine):
    """The same line for the verbs of many checks: cells (or runs) done, of how many,
    and the time; written as each one finishes, as often as ``ProgressLine``."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self.start = time.monotonic()

    def tally(self, done: int, total: int | None = None) -> None:
        now = time.monotonic()
        if now - self.last < self.every and done != total:
            return
        self.last = now
        of = f" of {total:,}" if total is not None else ""
        self._show(f"{done:,}{of} {self.what} done, {now - self.start:,.0f}s, {peak_rss_mb():,.0f} MiB")


@contextlib.contextmanager
def progress(enabled: bool) -> Iterator[ProgressLine | None]:
    """A progress line for the search inside the ``with``, erased when it ends (or
    None, when not ``enabled``)."""
    if not enabled:
        yield None
        return
    line = ProgressLine()
    try:
        yield line
    finally:
        line.close()


@contextlib.contextmanager
def tally(enabled: bool, what: str) -> Iterator[TallyLine | None]:
    """``progress`` for the verbs of many checks: ``what`` done (cells, runs)."""
    if not enabled:
        yield None
        return
    line = TallyLine(what)
    try:
        yield line
    finally:
        line.close()


def emit(text: str) -> None:
    """``text`` on stdout, with its newline if it has none."""
    out.print(text, end="" if text.endswith("\n") else "\n")
