"""``do_wp_page`` decisions as formulas, and what holds of every state that reaches it.

A rule's write-fault decision is a formula when it is written in the ``--reuse``
language: a ``--reuse`` rule's expression, or a built-in rule's ``WP_REUSE`` (the same
decision as its Python hook, tests/test_compare.py checks it on every small state).
z3 then compares two such decisions over *every* bookkeeping state that satisfies
``INVARIANTS``, counters of any size included, where ``harvest`` sees only the states
the scenarios reach. The invariants are data, in the same language, and are claims
about the model: tests/test_compare.py holds every state harvested from the catalog's
exhaustive walks to them."""

from __future__ import annotations

import ast
from typing import Any

from cowcheck.input.reuse_expr import compile_reuse, split_spec
from cowcheck.mm.rule import Rule

# What every state that reaches do_wp_page satisfies (refcounts and mapcounts as
# properties/memory_safety.py checks them): each page reference is counted.
INVARIANTS = (
    # page_count() counts every mapping, every GUP reference and the swapcache's.
    "refcount >= mapcount + pincount + swapcache",
    # A write fault is taken on a mapped page.
    "mapcount >= 1",
    # Swap entries point at a page only through its swapcache slot.
    "swapcache or swapcount == 0",
    "pincount >= 0 and swapcount >= 0",
)

_INTS = ("refcount", "mapcount", "pincount", "swapcount")
_BOOLS = ("exclusive", "swapcache", "locked", "unshare")


def rule_formula(rule: Rule) -> str | None:
    """The rule's write-fault decision in the --reuse language, if it has one: a
    --reuse rule's expression, or ``WP_REUSE`` of the class that defines its hook."""
    spec = split_spec(rule.name)
    if spec is not None:
        return spec[1]
    cls = next((c for c in type(rule).__mro__ if "do_wp_page" in vars(c)), None)
    if "do_wp_page" in vars(rule) or cls is None:
        return None  # a hook set on the instance (a recorder, a table): no formula
    text = vars(cls).get("WP_REUSE")
    return text if isinstance(text, str) else None


def holds(text: str, env: dict[str, Any]) -> bool:
    """``text`` evaluated on one state (``env``: the --reuse names)."""
    return compile_reuse(text, "formula")(env)


class NoProof(Exception):
    """z3 cannot answer: a formula it is not given (integers as truth values), or
    "unknown" (nonlinear arithmetic, a timeout)."""


def to_z3(text: str, v: dict[str, Any]) -> Any:
    """``text`` as a z3 formula over the variables ``v`` (``variables()``), meaning
    what Python's evaluation of it means (``compile_reuse``)."""
    import z3

    compile_reuse(text, "formula")  # the language's checks, once

    def num(x: Any) -> Any:
        return z3.If(x, 1, 0) if z3.is_bool(x) else x

    def truth(x: Any) -> Any:
        # and/or/not on integers give Python values, not truth values: outside what
        # is translated (the decisions of every era are comparisons and flags).
        if not z3.is_bool(x):
            raise NoProof(f"{text!r} uses an integer as a truth value")
        return x

    def go(n: ast.AST) -> Any:
        if isinstance(n, ast.Expression):
            return go(n.body)
        if isinstance(n, ast.BoolOp):
            parts = [truth(go(x)) for x in n.values]
            return z3.And(parts) if isinstance(n.op, ast.And) else z3.Or(parts)
        if isinstance(n, ast.UnaryOp):
            x = go(n.operand)
            return z3.Not(truth(x)) if isinstance(n.op, ast.Not) else -num(x)
        if isinstance(n, ast.BinOp):
            a, b = num(go(n.left)), num(go(n.right))
            return a + b if isinstance(n.op, ast.Add) else a - b if isinstance(n.op, ast.Sub) else a * b
        if isinstance(n, ast.Compare):
            out, left = [], go(n.left)
            for op, right_node in zip(n.ops, n.comparators, strict=True):
                right = go(right_node)
                same = z3.is_bool(left) and z3.is_bool(right) and isinstance(op, ast.Eq | ast.NotEq)
                a, b = (left, right) if same else (num(left), num(right))
                out.append(_cmp(op, a, b))
                left = right
            return z3.And(out) if len(out) > 1 else out[0]
        if isinstance(n, ast.Name):
            return v[n.id]
        if isinstance(n, ast.Constant):
            return z3.BoolVal(n.value) if isinstance(n.value, bool) else z3.IntVal(n.value)
        raise AssertionError(f"not in the language: {type(n).__name__}")

    whole = go(ast.parse(text.strip(), mode="eval"))
    return whole if z3.is_bool(whole) else whole != 0  # bool(value), as decide() does


def _cmp(op: ast.cmpop, a: Any, b: Any) -> Any:
    if isinstance(op, ast.Eq):
        return a == b
    if isinstance(op, ast.NotEq):
        return a != b
    if isinstance(op, ast.Lt):
        return a < b
    if isinstance(op, ast.LtE):
        return a <= b
    if isinstance(op, ast.Gt):
        return a > b
    return a >= b


def variables() -> dict[str, Any]:
    import z3

    v: dict[str, Any] = {n: z3.Int(n) for n in _INTS}
    v.update({n: z3.Bool(n) for n in _BOOLS})
    v["maybe_dma_pinned"] = v["pincount"] > 0
    return v


def only_where(a: str, b: str) -> dict[str, Any] | None:
    """None if ``a`` reuses only where ``b`` does on every state satisfying the
    invariants; else such a state where ``a`` reuses and ``b`` copies."""
    import z3

    v = variables()
    s = z3.Solver()
    s.set("timeout", 10_000)  # ms: the eras' decisions take milliseconds
    s.add([to_z3(i, v) for i in INVARIANTS])
    s.add(to_z3(a, v), z3.Not(to_z3(b, v)))
    answer = s.check()
    if answer == z3.unsat:
        return None
    if answer != z3.sat:
        raise NoProof(f"z3 answered {answer}: {s.reason_unknown()}")
    m = s.model()
    out: dict[str, Any] = {n: m.eval(v[n], model_completion=True).as_long() for n in _INTS}
    out.update({n: z3.is_true(m.eval(v[n], model_completion=True)) for n in _BOOLS})
    return out
