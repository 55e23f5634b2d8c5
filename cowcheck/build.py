"""Which build of cowcheck is running: interpreted, or the optional mypyc build.

The compiled build (``pyproject.toml``, hook ``mypyc``; the README says how to install
it) turns the hot modules of the mm model and the search into C extensions. Python
imports an extension module in preference to the ``.py`` beside it, so the extension
files present in the package are the modules that run compiled.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def compiled_modules() -> list[str]:
    """Dotted names of cowcheck's modules that load from a compiled extension."""
    # Longest first: ".cpython-311-x86_64-linux-gnu.so" before ".abi3.so" before ".so".
    suffixes = sorted(EXTENSION_SUFFIXES, key=len, reverse=True)
    found = set()
    for path in _PACKAGE.rglob("*"):
        suffix = next((s for s in suffixes if path.name.endswith(s)), None)
        if suffix is not None:
            rel = path.relative_to(_PACKAGE.parent)
            found.add(".".join(rel.parts)[: -len(suffix)])
    return sorted(found)


def build_name() -> str:
    """'interpreted', or 'mypyc-compiled (N modules)'."""
    n = len(compiled_modules())
    return f"mypyc-compiled ({n} modules)" if n else "interpreted"
