"""Errors the engine raises.

A module of its own, left interpreted by the compiled build (pyproject.toml): mypyc
cannot compile a subclass of a built-in exception other than Exception itself.
"""

from __future__ import annotations

import contextlib
import signal

# (file, line, function) of each traceback frame, innermost last.
Frames = list[tuple[str, int, str]]


class WorkerDied(RuntimeError):
    """A worker process ended without answering: which one, and how it ended."""


class WorkerFailed(RuntimeError):
    """A worker raised something that cannot travel to the coordinator as itself
    (SystemExit from a rule hook, an exception that does not pickle): what it was, and
    where (``frames``), so that the CLI can name the user's file and line."""

    def __init__(self, message: str, kind: str, detail: str, frames: Frames) -> None:
        super().__init__(message, kind, detail, frames)
        self.kind = kind  # "RuntimeError", "SystemExit(7)"
        self.detail = detail  # str() of what was raised
        self.frames = frames

    def __str__(self) -> str:
        return str(self.args[0])


def how_it_ended(exitcode: int | None) -> str:
    """A process's end in words: 'was killed by SIGKILL', 'exited with code 7'."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def frames_of(e: BaseException) -> Frames:
    """Where ``e`` was raised; for one brought from a worker, where it was raised there."""
    carried: Frames | None = getattr(e, "worker_frames", None)
    if carried:
        return carried
    if isinstance(e, WorkerFailed):
        return e.frames
    import traceback  # here: a small check need not load it

    return [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_tb(e.__traceback__)]


def portable(e: BaseException, who: str) -> Exception:
    """``e`` as a worker sends it to the coordinator, who raises it: the exception
    itself where it pickles (an InputError stays one), with its frames attached; else
    a WorkerFailed saying what it was. Never a BaseException: one raised again in the
    coordinator must not look like its own SystemExit or Ctrl-C."""
    import pickle  # here: only a worker that fails needs it

    frames = frames_of(e)
    if isinstance(e, Exception):
        with contextlib.suppress(Exception):
            e.worker_frames = frames  # type: ignore[attr-defined]
            copy = pickle.loads(pickle.dumps(e))
            if type(copy) is type(e) and str(copy) == str(e):
                return e
    kind = f"SystemExit({e.code!r})" if isinstance(e, SystemExit) else type(e).__name__
    return WorkerFailed(f"{who} failed: {kind}: {e}", kind, str(e), frames)
