"""``cowcheck replay`` and ``cowcheck show``: a saved counterexample, run again under
its saved options (or those given) and printed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cowcheck.checks.saved_trace import replay_file
from cowcheck.cli.args import FORMS, RULE_HELP, Command, add_output
from cowcheck.cli.console import emit, out, output_file, write
from cowcheck.cli.helptext import REPLAY_FORM_HELP, REPLAY_PROP_HELP, REPLAY_STRICT_HELP, REUSE_HELP
from cowcheck.report.diagram import render_columns
from cowcheck.report.repro import non_default, search_text

SHOW_FORMATS = ("columns", "markdown", "html")


def _replay_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "trace", type=Path, metavar="TRACE", help="A saved counterexample (JSON), as check --save writes it."
    )
    g = p.add_argument_group("replay under other options than the saved ones")
    g.add_argument("-r", "--rule", metavar="RULE", help=f"Replay under this rule instead. {RULE_HELP}")
    g.add_argument("--reuse", metavar="EXPR", help="With --rule BASE: " + REUSE_HELP)
    g.add_argument("--strict", action=argparse.BooleanOptionalAction, default=None, help=REPLAY_STRICT_HELP)
    g.add_argument("-p", "--property", dest="prop", action="append", metavar="ID", help=REPLAY_PROP_HELP)
    g.add_argument("--form", choices=FORMS, metavar="FORM", help=REPLAY_FORM_HELP)


def replay_arguments(p: argparse.ArgumentParser) -> None:
    _replay_args(p)
    add_output(p, quiet=False)


def replay(a: argparse.Namespace) -> int:
    rp = replay_file(a.trace, a.rule, reuse=a.reuse, strict=a.strict, properties=a.prop, form=a.form)
    if a.as_json:
        doc = {
            "trace": str(a.trace),
            "rule": rp.rule.name,
            "outcome": rp.outcome,
            "exit_code": rp.exit_code,
            "still_fails": rp.still_fails,
            "property": rp.trace.property_id,
            "message": rp.trace.message,
            "expected_property": rp.expected_property,
            "diverged_at": rp.trace.diverged_at,
            "describe": rp.describe(),
            "reproduce": rp.replay_command,
            "check": rp.command,
            "search": search_text(rp.check.search),
        }
        print(json.dumps(doc, indent=2))
        return rp.exit_code
    title = f"replay of {a.trace} under {rp.rule.name}" + (" --strict" if rp.strict else "")
    out.print(render_columns(rp.trace, title))
    out.print()
    out.print(rp.describe())
    if non_default(rp.check.search):  # the options it was saved with
        out.print(non_default(rp.check.search))
    if rp.outcome != "inconclusive":  # there, describe() already names the check
        out.print(f"check every path: {rp.command}{rp.scenario_note}")
    return rp.exit_code


def show_arguments(p: argparse.ArgumentParser) -> None:
    _replay_args(p)
    g = p.add_argument_group("output")
    g.add_argument(
        "-f",
        "--format",
        dest="fmt",
        default="columns",
        choices=SHOW_FORMATS,
        help="columns for the terminal, markdown for a commit message or a mail, html for a page. Default: columns.",
    )
    g.add_argument("-o", "--output", type=Path, metavar="FILE", help="Write to FILE instead of stdout.")


def show(a: argparse.Namespace) -> int:
    from cowcheck.report.commit import commit_message
    from cowcheck.report.document import to_html

    if a.output is not None:
        output_file("--output", a.output)
    rp = replay_file(a.trace, a.rule, reuse=a.reuse, strict=a.strict, properties=a.prop, form=a.form)
    shown = rp.shown()
    if a.fmt == "columns":
        lines = [render_columns(rp.trace, shown.title), "", rp.describe()]
        if shown.search:
            lines.append(shown.search)
        lines.append(f"reproduce: {shown.source}")
        if rp.outcome != "inconclusive":  # there, describe() already names the check
            lines.append(f"check every path: {shown.check}{rp.scenario_note}")
        text = "\n".join(lines)
    else:
        text = commit_message(shown) if a.fmt == "markdown" else to_html(shown)
    if a.output is not None:
        path: Path = a.output
        write("--output", path, lambda: path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8"))
        out.print(f"wrote {path}")
    else:
        emit(text)
    return 3 if rp.outcome == "inconclusive" else 0


REPLAY = Command(
    replay_arguments,
    replay,
    "Exit 1 if it still fails, 0 if it runs to the end and nothing fails (fixed), 3 if a "
    "step is not enabled under this rule (inconclusive: it prints the check that "
    "decides), 2 if the file is invalid.",
)
SHOW = Command(
    show_arguments,
    show,
    "Columns for the terminal, markdown for a commit message (75 columns), or a "
    "self-contained HTML page with a sequence diagram and the page state after each "
    "step. Exit 0 when drawn, 3 when drawn but the trace cannot be followed under this "
    "rule (inconclusive), 2 when the file is invalid.",
)
