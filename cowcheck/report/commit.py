"""A counterexample as markdown for a commit message or a linux-mm mail: every line
at most 75 columns (``COMMIT_WIDTH``), where git, checkpatch.pl and mail clients wrap.

The trace is drawn by ``diagram.render_trace``: one column per actor where they fit,
else one line per step prefixed by its actor. Prose is wrapped; a command too long
for one line is given as a shell block with backslash continuations, so that it
still pastes into a shell.
"""

from __future__ import annotations

import re

from cowcheck.report.diagram import COMMIT_WIDTH, prose, render_trace
from cowcheck.report.document import Shown, headline

_WORD = re.compile(r"""(?:[^\s'"]+|'[^']*'|"[^"]*")+""")  # a shell word, quotes and all


def _units(cmd: str) -> list[str]:
    """A command's shell words, kept together where a cut would read badly: the
    program with its subcommand, an option with its value."""
    words = _WORD.findall(cmd)
    out = [" ".join(words[:2])] if words else []
    i = 2
    while i < len(words):
        w = words[i]
        if w.startswith("-") and i + 1 < len(words) and not words[i + 1].startswith("-"):
            out.append(f"{w} {words[i + 1]}")
            i += 2
        else:
            out.append(w)
            i += 1
    return out


def command_lines(what: str, cmd: str, width: int) -> list[str]:
    """``What: `cmd` `` where it fits in ``width``, else ``What:`` and the command as an
    indented code block, cut between shell words with backslash continuations (a path
    longer than a line stays whole: cut, it would not paste)."""
    line = f"{what}: `{cmd}`"
    if len(line) <= width:
        return [line]
    out = [f"{what}:", ""]
    cur = "    "
    for unit in _units(cmd):
        if cur.strip() and len(cur) + 1 + len(unit) + 2 > width:
            out.append(cur + " \\")
            cur = "      "
        cur += (" " if cur.strip() else "") + unit
    out.append(cur)
    return out


def commit_message(s: Shown, width: int = COMMIT_WIDTH) -> str:
    """``s`` as markdown that fits in ``width`` columns: the verdict, the violation in
    the kernel's words, the trace in a code block (with its token legend), the replay's
    outcome and the commands that reproduce it."""
    t = s.trace
    out = [*prose(f"cowcheck: {s.title}: {headline(t)}", width), ""]
    if t.message:
        out += [*prose(t.message, width), ""]
    out += ["```", render_trace(t, s.title, width), "```"]
    for para in (s.outcome, s.search):
        if para:
            out += ["", *prose(para, width)]
    commands = [("Reproduce", s.source)] if s.source else []
    if s.check and s.check != s.source:
        commands.append(("Check every path", s.check))
    if commands:
        out.append("")
        for what, cmd in commands:
            block = command_lines(what, cmd, width)
            if len(block) > 1 and out[-1] != "":
                out.append("")  # an indented code block starts after a blank line
            out += block
            if len(block) > 1:
                out.append("")
        if out[-1] == "":
            out.pop()
    return "\n".join(out) + "\n"
