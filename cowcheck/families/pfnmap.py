"""The second family: x86 PAT memtype tracking of VM_PFNMAP mappings
(Peter Xu, <20240712144244.3090089-1-peterx@redhat.com>).

Its model is ``pfnmap/``; its scenarios are TOML files with ``family = "pfnmap"``
(``pfnmap/scenario.py``), bundled in ``models/pfnmap/scenarios/``; its rules (eras)
are ``models/pfnmap/*.py``, each a module-level ``RULE``, an instance of
``cowcheck.pfnmap.rule.PatRule``; its properties are ``properties/pfnmap/*.py``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cowcheck.errors import InputError
from cowcheck.families import Family
from cowcheck.input.bundled import models_dir, pfnmap_scenarios_dir, properties_dir
from cowcheck.input.properties import properties_in
from cowcheck.input.pyload import blame, load_module
from cowcheck.input.rule_files import check_hook_signatures, check_hooks_callable, check_rule_name
from cowcheck.pfnmap.model import PfnModel
from cowcheck.pfnmap.property import PfnProperty
from cowcheck.pfnmap.rule import (
    DUP_FORK,
    DUP_MREMAP,
    DUP_SPLIT,
    FORK_CLEAR,
    FORK_KEEP,
    FORK_UNDO,
    HOOKS,
    TRACK_CTX,
    UNMAP_VMAS,
    VM_PAT,
    ZAP_SINGLE,
    PatRule,
)

# Linux history, with the unmerged proposal after the tree it was written for.
BUILTIN_ORDER = ("pat-2.6.29", "pat-6.4", "pat-6.9", "pat-peterx", "pat-6.11", "pat-6.15", "pfnmap-6.16")
PROPERTY_ORDER = ("pat-reservation", "pat-leak", "pat-invalid-free", "pat-warn")


def rules_dir() -> Path:
    return models_dir() / "pfnmap"


def scenario_files() -> list[Path]:
    return sorted(pfnmap_scenarios_dir().glob("*.toml"))


def builtin_rule_names() -> tuple[str, ...]:
    return BUILTIN_ORDER


def property_ids() -> tuple[str, ...]:
    return PROPERTY_ORDER


def _rule_from(path: Path) -> PatRule:
    mod = load_module(path, "cowcheck_rule")  # the anon loader's name: one module per file
    rule = getattr(mod, "RULE", None)
    if not isinstance(rule, PatRule):
        raise InputError(str(path), "RULE", "expected a module-level RULE = <instance of cowcheck.pfnmap.rule.PatRule>")
    check_rule_name(rule, path, PatRule)
    check_hooks_callable(rule, path, HOOKS)
    check_hook_signatures(rule, path, PatRule, HOOKS)
    _check_decisions(rule, path)
    return rule


def _check_decisions(rule: PatRule, path: Path) -> None:
    """The era's settings, and each hook's answer over its whole (small) domain, asked
    once at load: a wrong value would otherwise pick another branch of the kernel
    paths silently (a ``tracking`` of "ctx" untracks nothing)."""
    settings: list[tuple[str, object, tuple[object, ...]]] = [
        ("tracking", rule.tracking, (VM_PAT, TRACK_CTX)),
        ("warn_in", rule.warn_in, ("get_pat_info", "untrack_pfn")),
        ("cow_pgoff_fallback", rule.cow_pgoff_fallback, (True, False)),
        ("remap_error_zaps", rule.remap_error_zaps, (True, False)),
    ]
    for name, v, allowed in settings:
        if type(v) is not type(allowed[0]) or v not in allowed:
            raise InputError(str(path), name, f"expected one of: {', '.join(map(repr, allowed))}, got {v!r:.60}")
    asks: list[tuple[str, tuple[object, ...], tuple[object, ...]]] = [
        *(("unmap_single_vma_untracks", (c,), (True, False)) for c in (UNMAP_VMAS, ZAP_SINGLE)),
        *(("vm_area_dup_keeps_pat", (w,), (True, False)) for w in (DUP_FORK, DUP_SPLIT, DUP_MREMAP)),
        ("fork_copy_failed", (), (FORK_KEEP, FORK_CLEAR, FORK_UNDO)),
    ]
    for hook, args, allowed in asks:
        try:
            got = getattr(rule, hook)(*args)
        except Exception as e:
            raise blame(e) or InputError(str(path), hook, f"raised {type(e).__name__}: {e}") from None
        if type(got) is not type(allowed[0]) or got not in allowed:
            asked = f"{hook}({', '.join(map(repr, args))})"
            raise InputError(
                str(path), hook, f"{asked} returned {got!r:.60} (expected one of: {', '.join(map(repr, allowed))})"
            )


@functools.cache
def builtin_rule(name: str) -> PatRule | None:
    path = rules_dir() / (name.replace("-", "_").replace(".", "_") + ".py")
    if not re.fullmatch(r"[a-z0-9.\-]+", name) or not path.is_file():
        return None
    r = _rule_from(path)
    return r if r.name == name else None


def builtin_rules() -> dict[str, PatRule]:
    out = {}
    for n in BUILTIN_ORDER:
        r = builtin_rule(n)
        assert r is not None, n
        out[n] = r
    return out


def load_rule(name_or_path: str) -> PatRule:
    if name_or_path.endswith(".py") or "/" in name_or_path:
        return _rule_from(Path(name_or_path))
    found = builtin_rule(name_or_path)
    if found is None:
        raise InputError(
            "--rule",
            None,
            f"unknown pfnmap rule {name_or_path!r} (expected one of: {', '.join(BUILTIN_ORDER)}, "
            "or a path to a .py rule file)",
        )
    return found


def rule_class(name: str) -> type[PatRule]:
    r = builtin_rule(name)
    if r is None:
        raise InputError(
            "pfnmap_rule_class()", None, f"unknown pfnmap rule {name!r} (expected one of: {', '.join(BUILTIN_ORDER)})"
        )
    return type(r)


@functools.cache
def all_properties() -> dict[str, PfnProperty]:
    return properties_in(properties_dir() / "pfnmap", PfnProperty, PROPERTY_ORDER, "cowcheck_pfnmap_property")


def select(ids: Sequence[str] | None) -> tuple[Sequence[Any], Sequence[str]]:
    props = all_properties()
    if not ids:
        return list(props.values()), []
    for i in ids:
        if i not in props:
            raise InputError("--property", None, f"unknown pfnmap property {i!r} (expected one of: {', '.join(props)})")
    return [props[i] for i in ids], []


def _load_scenario(path: Path) -> Any:
    from cowcheck.pfnmap.scenario import load_pfn_scenario

    return load_pfn_scenario(path)


def _parse_scenario(text: str, where: str) -> Any:
    from cowcheck.pfnmap.scenario import parse_pfn_scenario

    return parse_pfn_scenario(text, where)


def _saved_actions(where: str, doc: dict[str, Any], sc: Any) -> list[Any]:
    from cowcheck.pfnmap.scenario import saved_actions

    return saved_actions(where, doc, sc)


def _build(
    scenario: Any, rule: Any, properties: Sequence[Any], form: str, strict: bool, failing: Sequence[str]
) -> PfnModel:
    if not isinstance(rule, PatRule):
        raise InputError(
            "--rule", None, f"{rule.name!r} is not a pfnmap rule (expected one of: {', '.join(BUILTIN_ORDER)})"
        )
    return PfnModel(scenario, rule, properties, form, strict, failing)


def describe_state(s: Any) -> list[str]:
    from cowcheck.pfnmap.describe import describe_state as draw

    return draw(s)


FAMILY = Family(
    name="pfnmap",
    title="x86 PAT memtype tracking of VM_PFNMAP mappings",
    model_package="cowcheck.pfnmap",
    scenario_files=scenario_files,
    load_scenario=_load_scenario,
    builtin_rules=builtin_rules,
    load_rule=load_rule,
    select_properties=select,
    build_model=_build,
    describe_state=describe_state,
    owns_rule=lambda r: isinstance(r, PatRule),
    builtin_names=builtin_rule_names,
    property_ids=property_ids,
    parse_scenario=_parse_scenario,
    saved_actions=_saved_actions,
)
