"""The command line: a thin layer over cowcheck.api, one module per group of verbs.

Exit codes (stable): 0 holds, 1 violated, 2 bad input, 3 incomplete.

- ``program``: the verbs in their order, the parser, ``main()`` and ``run()``;
- ``args``: the grammar (argparse), usage errors, the flags verbs share;
- ``failures``: every exception as exit 2 and one line;
- ``console``: stdout and stderr, tables, output paths checked before a search,
  progress, signals;
- ``options``: the search options from the flags, made and checked once;
- ``helptext``: the help texts several verbs share;
- ``completion``: the shell completion script;
- ``docs``: docs/cli.md, from the parser;
- the verbs: ``check``; ``traces`` (replay, show); ``listing`` (rules, scenarios,
  properties); ``catalog`` (catalog, verify, matrix); ``gate`` (init, gate, report);
  ``graph``.
"""

from cowcheck.cli.program import main, run

__all__ = ["main", "run"]
