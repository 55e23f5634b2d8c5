"""Reporting: counterexamples as traces, column diagrams, markdown and HTML, CI
files (JUnit, SARIF), state graphs, and the command that reproduces a verdict."""
