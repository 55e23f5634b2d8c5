"""The rule author's API: what a rule file imports.

A rule file subclasses a built-in rule (``rule_class(NAME)``) or ``Rule`` itself and
overrides the kernel decisions it changes (docs/guide.md). The loading and checking of
rule files is ``input/rule_files.py``'s; this module only keeps the names rule files
use stable.
"""

from cowcheck.input.rule_files import builtin_rules, load_rule, rule_class
from cowcheck.mm.rule import GupFlags, Rule

__all__ = ["GupFlags", "Rule", "builtin_rules", "load_rule", "rule_class"]
