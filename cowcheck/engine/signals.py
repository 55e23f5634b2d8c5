"""How a search, and a command, stop early: signals, the --timeout deadline, workers.

- ``install`` (the CLI, once per command): the first SIGINT or SIGTERM raises
  ``Interrupted`` where the main process is, so the search under way ends INCOMPLETE
  with its figures, and ``stop_requested`` tells every search started after it not to
  start (a command of many runs then reports what it finished). A second signal ends
  the process at once, exit 3: the first one's clean-up is taking too long.
- ``Deadline``: --timeout as an interval timer whose SIGALRM handler raises
  ``SearchTimeout`` wherever the search is, a rule hook that never returns included.
- ``forking`` and ``become_worker``: a forked worker dies with its parent and leaves
  SIGINT and SIGTERM to it (Ctrl-C reaches the whole process group; the coordinator
  decides, and ends its workers).

Not compiled (pyproject.toml): mypyc cannot compile a subclass of BaseException.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_stop: list[str] = []  # the signals received since install(), by name
_installed: list[bool] = [False]


class Interrupted(BaseException):
    """SIGINT or SIGTERM under the CLI's handler. Not a KeyboardInterrupt: a rule
    hook's ``raise KeyboardInterrupt`` is not a signal, and code that catches
    ``Exception`` or ``KeyboardInterrupt`` must not swallow one."""

    def __init__(self, signame: str) -> None:
        super().__init__(signame)
        self.signame = signame


class SearchTimeout(BaseException):
    """--timeout's deadline passed. A BaseException, so that a rule hook's
    ``except Exception`` cannot swallow it."""


def stop_requested() -> str | None:
    """The signal that asked this command to stop, if one did."""
    return _stop[0] if _stop else None


def interrupted_reason(e: BaseException) -> str:
    """The incomplete reason for a search ended by ``e`` (a KeyboardInterrupt or
    ``Interrupted``)."""
    return f"interrupted by {e.signame}" if isinstance(e, Interrupted) else "interrupted"


def _on_signal(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if _stop:
        # No print(): the stream may be half-way through a write.
        os.write(2, f"cowcheck: {name} again: stopping now\n".encode())
        os._exit(3)
    _stop.append(name)
    raise Interrupted(name)


def install() -> Callable[[], None]:
    """Handle SIGINT and SIGTERM in this process (the main thread's); returns how to
    put the previous handlers back."""
    _stop.clear()
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {s: signal.signal(s, _on_signal) for s in _STOP_SIGNALS}
    _installed[0] = True

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        _installed[0] = False
        _stop.clear()

    return restore


def installed() -> bool:
    """Whether a real SIGINT arrives as ``Interrupted``: then a bare KeyboardInterrupt
    was raised by code (a rule file's), not by Ctrl-C."""
    return _installed[0]


# Longer deadlines (a year) are left to the search's own clock checks: setitimer()
# overflows its time_t somewhere past 1e9 seconds.
_TIMER_MAX = 3.2e7


class Deadline:
    """Raise ``SearchTimeout`` in the main thread ``seconds`` from now, and every second
    after that until cancelled (a hook that swallows one meets the next). Off where a
    timer cannot work: outside the main thread, or where an interval timer is already
    set (pytest-timeout's, say); the search's own clock checks remain."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.armed = False
        self._old: Any = None

    def start(self) -> None:
        """Arm the timer: call it inside the ``try`` that catches SearchTimeout, since
        a short deadline fires at once."""
        if self.seconds is None or threading.current_thread() is not threading.main_thread():
            return
        if not 0 <= self.seconds < _TIMER_MAX:  # nan, or past what setitimer() takes
            return
        if signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0):
            return
        self._old = signal.signal(signal.SIGALRM, self._fire)
        self.armed = True
        signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 1e-6), 1.0)

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        if self.armed:
            raise SearchTimeout

    def cancel(self) -> None:
        if not self.armed:
            return
        self.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._old if self._old is not None else signal.SIG_DFL)


@contextlib.contextmanager
def forking() -> Iterator[None]:
    """Around a fork: SIGINT, SIGTERM and SIGALRM wait until the child has become a
    worker (``become_worker``), so none lands in it while it still has this process's
    handlers. Here they arrive when the block ends."""
    blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGALRM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def become_worker(parent: int) -> None:
    """In a forked worker (``parent`` is the coordinator's pid): SIGKILL when the
    parent dies, however it dies (prctl(PR_SET_PDEATHSIG), Linux); SIGINT and SIGTERM
    ignored, since the coordinator decides and ends its workers."""
    _stop.clear()
    _installed[0] = False
    for s in _STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGALRM})
    if sys.platform == "linux":
        import ctypes  # here: only a worker needs it

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)  # the parent died before prctl() took effect
