"""``cowcheck replay`` and ``cowcheck show``: a saved counterexample, run again under
its saved options (or those given) and printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cowcheck.checks.saved_trace import replay_file
from cowcheck.cli.console import out, output_file, write
from cowcheck.cli.helptext import REPLAY_FORM_HELP, REPLAY_PROP_HELP, REPLAY_STRICT_HELP, REUSE_HELP
from cowcheck.errors import InputError
from cowcheck.report.diagram import render_columns
from cowcheck.report.document import to_html, to_markdown
from cowcheck.report.repro import non_default, search_text


def replay_cmd(
    trace: Annotated[Path, typer.Argument(help="A saved counterexample (JSON).")],
    rule: Annotated[str | None, typer.Option("--rule", "-r", help="Replay under this rule instead.")] = None,
    reuse: Annotated[str | None, typer.Option("--reuse", help="With --rule BASE: " + REUSE_HELP)] = None,
    strict: Annotated[bool | None, typer.Option("--strict/--no-strict", help=REPLAY_STRICT_HELP)] = None,
    prop: Annotated[list[str] | None, typer.Option("--property", "-p", help=REPLAY_PROP_HELP)] = None,
    form: Annotated[str | None, typer.Option(help=REPLAY_FORM_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-run a saved trace with its saved options: exit 1 if it still fails, 0 if it
    runs to the end and nothing fails (fixed), 3 if a step is not enabled under this
    rule (inconclusive: it prints the check that decides), 2 if the file is invalid."""
    rp = replay_file(trace, rule, reuse=reuse, strict=strict, properties=prop or None, form=form)
    if as_json:
        print(
            json.dumps(
                {
                    "trace": str(trace),
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
                },
                indent=2,
            )
        )
    else:
        title = f"replay of {trace} under {rp.rule.name}" + (" --strict" if rp.strict else "")
        out.print(render_columns(rp.trace, title), markup=False)
        out.print()
        out.print(rp.describe(), markup=False)
        if non_default(rp.check.search):  # the options it was saved with
            out.print(non_default(rp.check.search), markup=False)
        if rp.outcome != "inconclusive":  # there, describe() already names the check
            out.print(f"check every path: {rp.command}{rp.scenario_note}", markup=False)
    raise typer.Exit(rp.exit_code)


def show_cmd(
    trace: Annotated[Path, typer.Argument(help="A saved counterexample (JSON).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="columns, markdown or html.")] = "columns",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    rule: Annotated[str | None, typer.Option("--rule", "-r", help="Replay under this rule instead.")] = None,
    reuse: Annotated[str | None, typer.Option("--reuse", help="With --rule BASE: " + REUSE_HELP)] = None,
    strict: Annotated[bool | None, typer.Option("--strict/--no-strict", help=REPLAY_STRICT_HELP)] = None,
    prop: Annotated[list[str] | None, typer.Option("--property", "-p", help=REPLAY_PROP_HELP)] = None,
    form: Annotated[str | None, typer.Option(help=REPLAY_FORM_HELP)] = None,
) -> None:
    """Render a saved trace: columns for the terminal, markdown for a commit message, or a
    self-contained HTML page with a sequence diagram and the page state after each step.
    Exit 0 when drawn, 3 when drawn but the trace cannot be followed under this rule
    (inconclusive), 2 when the file is invalid."""
    if fmt not in ("columns", "markdown", "html"):
        raise InputError("--format", None, f"unknown format {fmt!r} (expected columns, markdown or html)")
    if output is not None:
        output_file("--output", output)
    rp = replay_file(trace, rule, reuse=reuse, strict=strict, properties=prop or None, form=form)
    shown = rp.shown()
    if fmt == "columns":
        lines = [render_columns(rp.trace, shown.title), "", rp.describe()]
        if shown.search:
            lines.append(shown.search)
        lines.append(f"reproduce: {shown.source}")
        if rp.outcome != "inconclusive":  # there, describe() already names the check
            lines.append(f"check every path: {shown.check}{rp.scenario_note}")
        text = "\n".join(lines)
    else:
        text = to_markdown(shown) if fmt == "markdown" else to_html(shown)
    if output is not None:
        write(
            "--output",
            output,
            lambda: output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8"),
        )
        out.print(f"wrote {output}", markup=False)
    else:
        out.print(text, markup=False, end="" if text.endswith("\n") else "\n")
    raise typer.Exit(3 if rp.outcome == "inconclusive" else 0)
