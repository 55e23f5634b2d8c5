"""``--reuse EXPR``: a write-fault reuse decision written as an expression.

The expression replaces a base rule's ``do_wp_page`` (the write fault and the
FAULT_FLAG_UNSHARE fault on a R/O PTE of an anonymous page); every other hook stays
the base rule's. It reads the page's bookkeeping as ``do_wp_page()`` would, under the
PT lock: ``exclusive or (refcount == 1 and not swapcache)``. Only comparisons,
``and``/``or``/``not``, ``+ - *`` and integer or boolean constants are accepted, so
the expression cannot do anything but decide.

When it says reuse and the page is in the swapcache with no swap entry left, the
swapcache copy is dropped first (try_to_free_swap()), if the page lock is free; with
swap entries left, or the lock held elsewhere (reclaim), the page stays in the
swapcache, and the properties judge the result.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from cowcheck.errors import InputError
from cowcheck.mm.rule import PageView, Rule, WpDecision

NAMES = {
    "refcount": "page_count() / folio_ref_count(), including the mapping's own reference",
    "mapcount": "page_mapcount()",
    "pincount": "FOLL_PIN references",
    "maybe_dma_pinned": "page_maybe_dma_pinned()",
    "exclusive": "PageAnonExclusive (always false unless the base rule has it)",
    "swapcache": "PageSwapCache",
    "swapcount": "swap entries still pointing at the page's swap slot",
    "locked": "PG_locked held by someone else (trylock_page() would fail)",
    "unshare": "the fault is FAULT_FLAG_UNSHARE (GUP), not a write",
}

_OK_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Name,
    ast.Load,
    ast.Constant,
)

# Bounds of the language: a real decision is a line (``exclusive or (refcount == 1 and
# not swapcache)`` is 47 characters, 4 levels deep). Past them Python's own parser and
# compiler recurse until they fail (RecursionError, MemoryError) instead of answering.
MAX_LENGTH = 1000
MAX_DEPTH = 32

_SPEC = re.compile(r"^(?P<base>[A-Za-z0-9_.\-]+)\+reuse\((?P<expr>.*)\)$", re.S)


def _depth(tree: ast.AST) -> int:
    """How deeply expressions nest in ``tree``, without recursion."""
    deepest, todo = 0, [(tree, 0)]
    while todo:
        node, d = todo.pop()
        d += isinstance(node, ast.expr)
        deepest = max(deepest, d)
        todo.extend((child, d) for child in ast.iter_child_nodes(node))
    return deepest


def compile_reuse(expr: str, where: str = "--reuse") -> Callable[[dict[str, Any]], bool]:
    if len(expr) > MAX_LENGTH:
        raise InputError(where, None, f"expected an expression of at most {MAX_LENGTH} characters, got {len(expr)}")
    too_deep = f"expected an expression nested at most {MAX_DEPTH} levels deep"
    # The language's words, numbers and operators are ASCII; anything else (a byte
    # that was not UTF-8 reaches Python as a lone surrogate) is not an expression.
    bad = next(((i, c) for i, c in enumerate(expr) if not (c.isascii() and (c.isprintable() or c.isspace()))), None)
    if bad is not None:
        i, c = bad
        raise InputError(where, None, f"expected printable ASCII, got {c!a} at offset {i}")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as e:
        raise InputError(where, None, f"syntax error at column {e.offset}: {e.msg} in {expr!r}") from None
    except (RecursionError, MemoryError):
        raise InputError(where, None, too_deep) from None
    if _depth(tree) > MAX_DEPTH:
        raise InputError(where, None, f"{too_deep}, got {_depth(tree)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in NAMES and node.id not in ("True", "False"):
            raise InputError(where, None, f"unknown name {node.id!r} (expected one of: {', '.join(NAMES)})")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int):
            raise InputError(where, None, f"unsupported constant {node.value!r} (expected integers or True/False)")
        if not isinstance(node, _OK_NODES):
            what = type(node).__name__
            expected = "comparisons, and/or/not, + - *, names, integers"
            raise InputError(where, None, f"unsupported {what} in {expr!r} (expected {expected})")
    code = compile(tree, where, "eval")

    def decide(env: dict[str, Any]) -> bool:
        return bool(eval(code, {"__builtins__": {}}, env))  # the AST is checked above

    return decide


def reuse_env(page: PageView, unshare: bool) -> dict[str, Any]:
    """The names an expression reads (``NAMES``), at one call of ``do_wp_page``."""
    env: dict[str, Any] = dict(page._asdict())
    env["maybe_dma_pinned"] = page.maybe_dma_pinned
    env["unshare"] = unshare
    return env


def frees_swapcache(page: PageView, reuse: bool) -> bool:
    """Whether a reuse drops the swapcache copy first (try_to_free_swap()): with no
    swap entry left, and only if the page lock is free (someone else may hold it)."""
    return reuse and page.swapcache and page.swapcount == 0 and not page.locked


def reuse_rule(base: Rule, expr: str) -> Rule:
    """A rule that is ``base`` with its write-fault reuse decision replaced by ``expr``."""
    decide = compile_reuse(expr)
    text = " ".join(expr.split())

    def do_wp_page(self: Rule, page: PageView, unshare: bool) -> WpDecision:
        reuse = decide(reuse_env(page, unshare))
        free = frees_swapcache(page, reuse)
        return WpDecision(reuse, f"do_wp_page: `{text}` -> {'reuse' if reuse else 'wp_page_copy'}", free_swapcache=free)

    cls = type(
        f"Reuse_{type(base).__name__}",
        (type(base),),
        {
            "name": f"{base.name}+reuse({text})",
            "title": f"reuse iff {text}; everything else as {base.name}",
            "kernels": f"proposal on {base.name} ({base.kernels})",
            "do_wp_page": do_wp_page,
        },
    )
    rule: Rule = cls()
    return rule


def split_spec(name: str) -> tuple[str, str] | None:
    """``base+reuse(EXPR)``, the name a --reuse rule is saved under, as (base, EXPR)."""
    m = _SPEC.match(name)
    return (m["base"], m["expr"]) if m else None
