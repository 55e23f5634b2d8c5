"""The typer app, its verbs in the order ``--help`` lists them, and the two entry
points: ``main`` (the console script) and ``run`` (the same, returning the exit code).

Exit codes (stable): 0 holds, 1 violated, 2 bad input, 3 incomplete.
"""

from __future__ import annotations

import errno
import platform
import sys
from collections.abc import Sequence

import typer

from cowcheck import __version__
from cowcheck.build import build_name
from cowcheck.cli import catalog, check, gate, graph, listing, traces
from cowcheck.cli.console import out
from cowcheck.cli.failures import (
    BROKEN_PIPE,
    fail,
    failure,
    from_cli_framework,
    internal,
    quiet_stdout,
    say,
)
from cowcheck.engine import OptionError
from cowcheck.engine.signals import Interrupted, install
from cowcheck.errors import InputError
from cowcheck.input.pyload import blame


def _version(value: bool) -> None:
    if value:
        out.print(f"cowcheck {__version__} ({build_name()}, Python {platform.python_version()})", markup=False)
        raise typer.Exit()


def _options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and the build, and exit."
    ),
) -> None:
    """Options before the command: only --version (each command has its own)."""


VERBS = (
    ("check", check.check_cmd),
    ("replay", traces.replay_cmd),
    ("rules", listing.rules_cmd),
    ("scenarios", listing.scenarios_cmd),
    ("properties", listing.properties_cmd),
    ("catalog", catalog.catalog_cmd),
    ("verify", catalog.verify_cmd),
    ("matrix", catalog.matrix_cmd),
    ("init", gate.init_cmd),
    ("gate", gate.gate_cmd),
    ("show", traces.show_cmd),
    ("report", gate.report_cmd),
    ("graph", graph.graph_cmd),
)


def make_app() -> typer.Typer:
    """A new app with every verb. New each time: typer's ``utils docs`` (docs/cli.md)
    loads ``cowcheck.cli`` twice and turns completion off in the first app it gets."""
    app = typer.Typer(
        add_completion=True,
        no_args_is_help=True,
        help="Model checker for Linux copy-on-write versus GUP. Exit codes: 0 holds, 1 violated, "
        "2 bad input, 3 incomplete.",
        pretty_exceptions_enable=False,
    )
    app.callback()(_options)
    for name, verb in VERBS:
        app.command(name)(verb)
    return app


def main() -> None:
    """The console script. It exits 0 holds, 1 violated, 2 bad input, 3 incomplete, and
    with nothing else: any failure is exit 2 with one line on stderr (the traceback
    too with COWCHECK_DEBUG=1), never exit 1, which CI reads as "violated"."""
    sys.exit(run(sys.argv[1:]))


def run(argv: Sequence[str]) -> int:
    """``main`` without the exit: the exit code."""
    restore = install()  # SIGINT and SIGTERM: see engine/signals.py
    try:
        try:
            code = _dispatch(list(argv))
            # Here, not at exit, so that a reader gone away is this function's to report.
            sys.stdout.flush()
            return code
        except BrokenPipeError:
            quiet_stdout()
            return fail(BROKEN_PIPE)
        except Interrupted as e:  # before a command had a result to print
            say(f"cowcheck: incomplete: interrupted by {e.signame}")
            return 3
    finally:
        restore()


def _dispatch(argv: list[str]) -> int:
    try:
        rv = make_app()(args=argv, prog_name="cowcheck", standalone_mode=False)
    except (InputError, OptionError) as e:  # bad input, or search options that cannot run
        return fail(str(e))
    except Interrupted:
        raise
    except KeyboardInterrupt as e:  # raised by code: a real Ctrl-C arrives as Interrupted
        found = blame(e)
        if found is not None:
            return fail(str(found))
        say("cowcheck: incomplete: interrupted")
        return 3
    except SystemExit as e:
        found = blame(e)
        if found is not None:  # a rule or property file's sys.exit()
            return fail(str(found))
        cause = e.__context__
        if isinstance(cause, OSError) and cause.errno == errno.EPIPE:
            quiet_stdout()
            return fail(BROKEN_PIPE)
        if from_cli_framework(e):
            raise  # shell completion answered and exits as it means to
        return internal(e)
    except BaseException as e:
        return failure(e)
    if rv == 130:  # typer's code for a KeyboardInterrupt that a command raised
        say("cowcheck: incomplete: interrupted")
        return 3
    return rv if isinstance(rv, int) else 0
