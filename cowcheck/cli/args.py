"""The command line's grammar: argparse, with help that reads as kernel tools' does
(``-r, --rule RULE``), usage errors as one line and exit 2, and the flags that several
verbs share declared once.

argparse, not a framework: it is in the standard library, so a small ``check`` pays
nothing to import it (typer, its pydantic coercion and rich cost ~0.3 s of start-up
here, more than the search itself)."""

from __future__ import annotations

import argparse
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from cowcheck.cli.helptext import (
    DASK_HELP,
    MAX_MEMORY_HELP,
    POR_HELP,
    REUSE_HELP,
    STORE_HELP,
    STRICT_HELP,
    SUBSUME_HELP,
    WORKERS_HELP,
)

EXIT_CODES = "Exit codes: 0 holds, 1 violated, 2 bad input, 3 incomplete."


class UsageError(Exception):
    """A command line that does not parse: unknown option, missing argument, bad value."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(f"{prog}: {message} (see: {prog} --help)")


class HelpFormatter(argparse.HelpFormatter):
    """``-r, --rule RULE`` rather than ``-r RULE, --rule RULE``; paragraphs kept."""

    def __init__(self, prog: str) -> None:
        width = min(shutil.get_terminal_size((100, 24)).columns, 100) - 2
        super().__init__(prog, max_help_position=30, width=width)

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings:
            return super()._format_action_invocation(action)
        names = ", ".join(action.option_strings)
        if action.nargs == 0:
            return names
        return f"{names} {self._format_args(action, self._get_default_metavar_for_optional(action))}"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        paras = [" ".join(p.split()) for p in text.strip().split("\n\n")]
        return "\n\n".join(textwrap.fill(p, width, initial_indent=indent, subsequent_indent=indent) for p in paras)


class Parser(argparse.ArgumentParser):
    """A usage error raises ``UsageError`` (one line, exit 2), never prints the usage
    and exits on its own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("add_help", False)
        super().__init__(*args, **kwargs)
        self.add_argument("-h", "--help", action="help", help="Show this help and exit.")

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)

    _intermixing = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # A verb's positionals may come on either side of its options (`synth BASE
        # --features X PATH`): intermixed, as most tools read them. The top parser,
        # which has the subcommands, cannot be (argparse refuses), and needs not.
        if self._intermixing or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        return super().parse_args(prepared(self, list(args or [])), namespace)


def prepared(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``argv`` as argparse should read it, in one pass over ``parser`` and the
    subcommand ``argv`` names:

    - an unknown option is a usage error at once: argparse would complain of a
      missing argument before it looks at the option that caused it;
    - an option that takes a value takes the next word, whatever it is, as git's and
      most tools' do: ``--reuse "-1 < refcount"`` becomes ``--reuse=-1 < refcount``,
      where argparse would take the value for an option."""
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    known = parser._option_string_actions
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        i += 1
        if tok == "--":
            return [*out, tok, *argv[i:]]
        if sub is not None and tok in sub.choices:
            return [*out, tok, *prepared(sub.choices[tok], argv[i:])]
        if not tok.startswith("-") or tok == "-" or re.fullmatch(r"-\d+(\.\d*)?", tok):
            out.append(tok)
            continue
        name, eq, _ = tok.partition("=")
        action = known.get(name)
        takes_next = action is not None and not eq and action.nargs != 0
        if action is None:
            # -j4, -pwrong-cow: a short option with its value; -qj 4: flags run together.
            cluster = _short_cluster(known, tok) if not tok.startswith("--") and len(tok) > 2 else None
            if cluster is None:
                parser.error(f"unknown option {name}")
            takes_next = cluster
        out.append(tok)
        if takes_next and i < len(argv):
            value = argv[i]
            i += 1
            if value == "--" and action is not None and action.nargs is None:
                # argparse would strip it and hand the option an empty list.
                parser.error(f"argument {name}: expected one argument")
            if action is not None and action.nargs is None and value.startswith("-"):
                out[-1] = f"{tok}={value}" if tok.startswith("--") else f"{tok}{value}"
            else:
                out.append(value)
    return out


def _short_cluster(known: Mapping[str, argparse.Action], tok: str) -> bool | None:
    """Whether ``-abc``, read as argparse reads it (single-letter flags, the first
    that takes a value taking the rest of the word), takes the next word as a value;
    None if it is not options at all."""
    for i in range(1, len(tok)):
        action = known.get(f"-{tok[i]}")
        if action is None:
            return None
        if action.nargs != 0:
            return i + 1 == len(tok)  # -qj 4: the next word; -j4: attached
    return False


# The flags several verbs share, each declared once, so that they read the same in
# every verb's help.

SYMMETRY_HELP = "Process symmetry in open scenarios (off by default)."
FORMS = ("observational", "structural")
FORM_HELP = (
    "observational (what the kernel does wrong: the ground truth) or structural (the "
    "bookkeeping invariant). Default: observational."
)
SCENARIO_HELP = "A scenario file, or the name of a bundled one (cowcheck scenarios)."
RULE_HELP = "A built-in rule (cowcheck rules) or a rule file."


def integer(text: str) -> int:
    """An integer; its range is checked with the other flags (options.search_options)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None


def add_rule_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("rule and properties")
    g.add_argument("-r", "--rule", required=True, metavar="RULE", help=RULE_HELP)
    g.add_argument("--reuse", metavar="EXPR", help=REUSE_HELP)
    g.add_argument(
        "-p",
        "--property",
        dest="prop",
        action="append",
        metavar="ID",
        help="Check only this property (repeatable; cowcheck properties).",
    )
    g.add_argument(
        "--form",
        default="observational",
        choices=FORMS,
        metavar="FORM",
        help=FORM_HELP,
    )
    g.add_argument("--strict", action=argparse.BooleanOptionalAction, default=False, help=STRICT_HELP)


SCENARIO_PATHS_HELP = "Scenario files and directories of them (one level). Default: the bundled catalog."


def add_paths(p: argparse.ArgumentParser, help: str = SCENARIO_PATHS_HELP) -> None:
    """The PATH... that the verbs of many checks take (``input/sources.py`` reads them)."""
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help=help)


def add_bounds(p: argparse.ArgumentParser, per: str = "") -> None:
    """The bounds; ``per`` says of what (a verb of many checks bounds each)."""

    def h(text: str) -> str:
        return f"{per}{text[0].lower()}{text[1:]}" if per else text

    g = p.add_argument_group("bounds (a bound that stops a search makes it incomplete: exit 3, nothing claimed)")
    g.add_argument("--max-states", type=integer, metavar="N", help=h("Stop after N states."))
    g.add_argument("--max-depth", type=integer, metavar="N", help=h("Do not explore deeper than N steps."))
    g.add_argument("--timeout", type=seconds, metavar="SECONDS", help=h("Stop after SECONDS."))
    g.add_argument("--max-memory", type=integer, metavar="MIB", help=h(MAX_MEMORY_HELP))


def add_search(p: argparse.ArgumentParser, workers_help: str = WORKERS_HELP, workers_default: int = 1) -> None:
    g = p.add_argument_group("search (same verdicts; the figures say what each saved)")
    g.add_argument("-j", "--workers", type=integer, default=workers_default, metavar="N", help=workers_help)
    g.add_argument("--store", default="exact", metavar="STORE", help=STORE_HELP)
    g.add_argument("--symmetry", action=argparse.BooleanOptionalAction, default=False, help=SYMMETRY_HELP)
    g.add_argument("--por", action="store_true", help=POR_HELP)
    g.add_argument("--subsume", action=argparse.BooleanOptionalAction, default=True, help=SUBSUME_HELP)
    g.add_argument("--dask", metavar="ADDRESS", help=DASK_HELP)


def add_output(p: argparse.ArgumentParser, quiet: bool = True) -> Any:
    """The output group (returned, for a verb's own output flags)."""
    g = p.add_argument_group("output")
    g.add_argument("--json", dest="as_json", action="store_true", help="Print the result as JSON on stdout.")
    if quiet:
        g.add_argument("-q", "--quiet", action="store_true", help="No progress on stderr.")
    return g


def search_flags(a: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``options.search_options`` that ``a`` holds."""
    names = (
        "max_states",
        "max_depth",
        "timeout",
        "max_memory",
        "store",
        "symmetry",
        "por",
        "subsume",
        "workers",
        "dask",
    )
    return {n: getattr(a, n) for n in names if hasattr(a, n)}


@dataclass(frozen=True)
class Command:
    """One verb: its flags and what it does (the exit code)."""

    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""
