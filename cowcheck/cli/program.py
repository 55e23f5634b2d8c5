"""The command line: its verbs in the order ``--help`` lists them, the parser, and the
two entry points: ``main`` (the console script) and ``run`` (the same, returning the
exit code).

Only the verb that runs is imported: ``cowcheck check`` loads the checker, not the
gate, the reports or networkx (benchmarks/startup.py).

Exit codes (stable): 0 holds, 1 violated, 2 bad input, 3 incomplete.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from cowcheck.cli.args import EXIT_CODES, Command, Parser, UsageError
from cowcheck.cli.failures import BROKEN_PIPE, fail, failure, internal, quiet_stdout, say
from cowcheck.engine.signals import Interrupted, install


@dataclass(frozen=True)
class Verb:
    name: str
    where: str  # "module:attribute" of its Command
    summary: str  # one line, for `cowcheck --help`


VERBS = (
    Verb("check", "check:CHECK", "Check a scenario under a rule: 'holds', or a minimal counterexample."),
    Verb("replay", "traces:REPLAY", "Re-run a saved counterexample, under its saved options or others."),
    Verb("reproduce", "reproduce:REPRODUCE", "Write a saved counterexample as a C program to run on a real kernel."),
    Verb("conform", "conform:CONFORM", "Run the reproducers and the kernel's selftests on real kernels in QEMU."),
    Verb("rules", "listing:RULES", "List the built-in rules with their kernel versions and commits."),
    Verb("scenarios", "listing:SCENARIOS", "List the bundled scenarios and the verdicts they expect."),
    Verb("properties", "listing:PROPERTIES", "List the properties, the kernel failure each models, and its forms."),
    Verb("catalog", "catalog:CATALOG", "Run scenarios under rules and compare with the verdicts their files expect."),
    Verb("verify", "catalog:VERIFY", "Check one rule against the catalog: a table of properties x scenarios."),
    Verb("matrix", "catalog:MATRIX", "Print the history: rules x scenarios, each cell's verdict."),
    Verb("synth", "synth:SYNTH", "The weakest safe do_wp_page decision over chosen bookkeeping, or why none is."),
    Verb("compare", "compare:COMPARE", "Where two rules decide do_wp_page differently, with a trace to each state."),
    Verb("init", "gate:INIT", "Write a starter cowcheck.toml for `cowcheck gate`."),
    Verb("gate", "gate:GATE", "Run a project's checks and saved counterexamples; exit 1 on any change of verdict."),
    Verb("show", "traces:SHOW", "Draw a saved counterexample: columns, markdown or HTML."),
    Verb("report", "gate:REPORT", "Write a self-contained HTML report of a gate run or of the matrix."),
    Verb("graph", "graph:GRAPH", "Export the explored state graph and report livelocks and stuck states."),
)


def command(v: Verb) -> Command:
    module, attr = v.where.split(":")
    found: Command = getattr(importlib.import_module(f"cowcheck.cli.{module}"), attr)
    return found


def parser(argv: Sequence[str] = (), every: bool = False) -> Parser:
    """The parser, with the flags of the verb that ``argv`` names (of every verb with
    ``every``: the documentation's); the other verbs are listed, not loaded."""
    top = Parser(
        prog="cowcheck",
        description="Model checker for Linux copy-on-write versus GUP. " + EXIT_CODES,
        epilog="`cowcheck COMMAND --help` for a command's options.",
    )
    top.add_argument("--version", action=Version, nargs=0, help="Print the version and the build, and exit.")
    top.add_argument("--completion", choices=("bash", "zsh"), help="Print a shell completion script, and exit.")
    sub = top.add_subparsers(dest="verb", metavar="COMMAND", title="commands")
    chosen = argv[0] if argv else None
    for v in VERBS:
        p = sub.add_parser(v.name, help=v.summary, description=v.summary, epilog=EXIT_CODES)
        if every or v.name == chosen:
            c = command(v)
            p.description = f"{v.summary}\n\n{c.description}" if c.description else v.summary
            c.arguments(p)
            p.set_defaults(run=c.run)
    return top


class Version(argparse.Action):
    """--version: the build is looked up only when asked for (platform is slow to import)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        import platform

        from cowcheck import __version__
        from cowcheck.build import build_name

        sys.stdout.write(f"cowcheck {__version__} ({build_name()}, Python {platform.python_version()})\n")
        parser.exit()


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


def _parse(argv: list[str]) -> argparse.Namespace | int:
    """The parsed command line, or the exit code of one that ends here (help,
    --version, --completion, a usage error)."""
    try:
        a: argparse.Namespace = parser(argv).parse_args(argv)
    except UsageError as e:
        return fail(str(e))
    except SystemExit as e:  # --help and --version print and exit 0
        return e.code if isinstance(e.code, int) else 0
    if a.completion is not None:
        from cowcheck.cli.completion import script

        sys.stdout.write(script(a.completion))
        return 0
    if a.verb is None:
        parser(every=False).print_help(sys.stderr)
        return 2
    return a


def _dispatch(argv: list[str]) -> int:
    a = _parse(argv)
    if isinstance(a, int):
        return a
    try:
        code: int = a.run(a)
        return code
    except Interrupted:
        raise
    except KeyboardInterrupt as e:  # raised by code: a real Ctrl-C arrives as Interrupted
        from cowcheck.input.pyload import blame

        found = blame(e)
        if found is not None:
            return fail(str(found))
        say("cowcheck: incomplete: interrupted")
        return 3
    except SystemExit as e:
        from cowcheck.input.pyload import blame

        found = blame(e)
        if found is not None:  # a rule or property file's sys.exit()
            return fail(str(found))
        cause = e.__context__
        if isinstance(cause, OSError) and cause.errno == errno.EPIPE:
            quiet_stdout()
            return fail(BROKEN_PIPE)
        return internal(e)
    except BrokenPipeError:
        raise
    except BaseException as e:
        return failure(e)
