"""The rule author's API: what a rule file imports.

A rule file subclasses a built-in rule (``rule_class(NAME)``) or ``Rule`` itself and
overrides the kernel decisions it changes (docs/guide.md). The loading and checking of
rule files is ``input/rule_files.py``'s; this module only keeps the names rule files
use stable.
"""

from cowcheck.input.rule_files import builtin_rules, load_rule, rule_class
from cowcheck.mm.rule import GupFlags, Rule
from cowcheck.pfnmap.rule import PatRule


def pfnmap_rule_class(name: str) -> type[PatRule]:
    """The class of a built-in pfnmap rule, to start a new pfnmap rule from:
    ``class Mine(pfnmap_rule_class("pat-6.15")): ...``."""
    from cowcheck.families.pfnmap import rule_class as pfn_rule_class

    return pfn_rule_class(name)


__all__ = ["GupFlags", "PatRule", "Rule", "builtin_rules", "load_rule", "pfnmap_rule_class", "rule_class"]
