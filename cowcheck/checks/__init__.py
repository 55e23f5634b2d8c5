"""Running checks over many searches: the catalog, the history matrix, ``verify``,
the CI gate, counterexample minimisation, and saved traces replayed."""
