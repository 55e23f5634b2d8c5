"""Where a search stops short: its bounds and its progress reports, in one place.

The search loop (``core.py``) asks at the end of every level; a partition that runs
in the search's own process (one partition: the serial search) also asks every
``EVERY`` states within a level, so that a bound or a progress line does not wait for a level
to end. Interruptions (Ctrl-C, SIGTERM, the deadline's SIGALRM) arrive as exceptions
(``signals.py``), which the loop turns into "incomplete".
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from cowcheck.engine.options import Bounds
from cowcheck.engine.result import Stats

Progress = Callable[[Stats, int], None]

# How often a level in the search's own process asks, in states expanded: often
# enough for a progress line several times a second on the slowest models (a state
# costs well under a millisecond), rarely enough to cost nothing.
EVERY: Final = 64  # Final: the compiled build reads it as a constant, once per state


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Limits:
    """The bounds of one search, its clock and its progress callback."""

    def __init__(self, bounds: Bounds, stats: Stats, progress: Progress | None = None) -> None:
        self.bounds = bounds
        self.stats = stats
        self.progress = progress
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def depth_reached(self, depth: int) -> str | None:
        """The reason to stop before expanding level ``depth``, if its bound is hit;
        the search calls it incomplete only if some state there can still move."""
        d = self.bounds.max_depth
        return f"max-depth {d} reached" if d is not None and depth >= d else None

    def states_reached(self, states: int, more: bool) -> str | None:
        """``states`` stored with ``more`` left to explore."""
        cap = self.bounds.max_states
        return f"max-states {cap} reached" if cap is not None and states >= cap and more else None

    def within_level(self, states: int, transitions: int, more: int, held: int = 0) -> str | None:
        """Every ``EVERY`` states of a level, in the search's own process: report
        progress (``more`` states are still to be expanded or kept; ``held`` new ones
        wait for the level's end, where subsumption decides which to keep), then check
        the clock and the memory."""
        if self.progress is not None:
            st = self.stats
            st.states, st.transitions, st.seconds = states, transitions, self.elapsed()
            # The progress line counts the held states too: without them it would
            # stand still for a whole level under subsumption.
            self.progress(replace(st, states=states + held) if held else st, more)
        if not more:
            return None
        b = self.bounds
        if b.timeout is not None and self.elapsed() > b.timeout:
            return f"timeout {b.timeout:g}s reached"
        if b.max_memory_mb is not None and peak_rss_mb() > b.max_memory_mb:
            return f"max-memory {b.max_memory_mb} MiB reached"
        return None

    def after_level(self, states: int, queue: int, rss_mb: float) -> str | None:
        """At the end of a level with ``queue`` states to expand next: report progress,
        then check every bound. ``rss_mb`` is what the search's processes hold."""
        if self.progress is not None:
            self.progress(self.stats, queue)
        if not queue:
            return None  # finished: no bound stopped it
        b = self.bounds
        if (reason := self.states_reached(states, True)) is not None:
            return reason
        if b.timeout is not None and self.elapsed() > b.timeout:
            return f"timeout {b.timeout:g}s reached"
        if b.max_memory_mb is not None and rss_mb > b.max_memory_mb:
            return f"max-memory {b.max_memory_mb} MiB reached"
        return None

    def timeout_reason(self) -> str:
        return f"timeout {self.bounds.timeout:g}s reached"
