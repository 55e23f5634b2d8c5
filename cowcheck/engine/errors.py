"""Errors the engine raises.

A module of its own, left interpreted by the compiled build (pyproject.toml): mypyc
cannot compile a subclass of a built-in exception other than Exception itself.
"""

from __future__ import annotations


class WorkerDied(RuntimeError):
    """A worker process ended without answering (its traceback is on stderr)."""
