"""Every way a command can fail, as exit 2 and one line on stderr (the traceback too
with COWCHECK_DEBUG=1): never exit 1, which CI reads as "violated"."""

from __future__ import annotations

import contextlib
import os
import sys

from cowcheck.engine import OptionError
from cowcheck.engine.errors import WorkerDied
from cowcheck.errors import InputError
from cowcheck.input.pyload import blame

EXIT_BAD_INPUT = 2
BROKEN_PIPE = "stdout: the reader went away before the output was written (broken pipe)"


def failure(e: BaseException) -> int:
    """Exit 2 and one line, for whatever ``e`` is."""
    found = blame(e)
    if found is not None:  # raised in a rule or property file, here or in a worker
        return fail(str(found))
    # Bad input from a worker, where no user file was on the stack; a search option
    # that cannot run; a worker that died.
    if isinstance(e, InputError | OptionError | WorkerDied):
        return fail(str(e))
    return internal(e)


def internal(e: BaseException) -> int:
    if os.environ.get("COWCHECK_DEBUG"):
        import traceback

        traceback.print_exception(e)
    what = f"SystemExit({e.code!r})" if isinstance(e, SystemExit) else type(e).__name__
    return fail(f"internal error: {what}: {e} (set COWCHECK_DEBUG=1 for the traceback)", prefix="cowcheck: ")


def fail(message: str, prefix: str = "cowcheck: error: ") -> int:
    say(prefix + message)
    return EXIT_BAD_INPUT


def say(line: str) -> None:
    """One line on stderr, whatever the message holds (newlines, markup, emoji codes)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(" ".join(line.splitlines()) + "\n")
        sys.stderr.flush()


def quiet_stdout() -> None:
    # The interpreter's last flush would fail again: point stdout at /dev/null.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
