"""The command line: a thin layer over cowcheck.api, one module per group of verbs.

Exit codes (stable): 0 holds, 1 violated, 2 bad input, 3 incomplete.

- ``program``: the typer app, the verbs in their order, ``main()`` and ``run()``;
- ``failures``: every exception as exit 2 and one line;
- ``console``: the consoles, output paths checked before a search, progress, signals;
- ``options``: the search options from the flags, made and checked once;
- ``helptext``: the help texts several verbs share;
- the verbs: ``check``; ``traces`` (replay, show); ``listing`` (rules, scenarios,
  properties); ``catalog`` (catalog, verify, matrix); ``gate`` (init, gate, report);
  ``graph``.
"""

from cowcheck.cli.program import main, make_app, run

app = make_app()  # for `python -m typer cowcheck.cli utils docs` (docs/cli.md)

__all__ = ["app", "main", "run"]
