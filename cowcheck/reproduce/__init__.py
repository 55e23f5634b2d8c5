"""Saved counterexamples as C programs that run their schedule on a real kernel.

``plan`` turns a trace into user-space steps (``schedule``) and the final read that
shows its violation (``witness``); ``emit`` writes the C; ``predict`` says what the
model expects of that program on a kernel of a given era. The conformance harness
(``cowcheck.conform``) runs the programs and compares.
"""

from cowcheck.reproduce.plan import Plan, plan
from cowcheck.reproduce.program import COMPILE, compile_command, emit
from cowcheck.reproduce.schedule import Refused

__all__ = ["COMPILE", "Plan", "Refused", "compile_command", "emit", "plan"]
