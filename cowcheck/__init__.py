"""cowcheck: a model checker for Linux copy-on-write versus get_user_pages semantics.

The library API (``check``, ``build_model``, ``CheckReport``, ``compare``,
``synthesise``) and the search options
are imported when first asked for, not with the package: a command imports only what
its verb uses (``python -X importtime -m cowcheck ...``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cowcheck.api import CheckReport, build_model, check
    from cowcheck.engine import Bounds, OptionError, SearchOptions
    from cowcheck.errors import InputError
    from cowcheck.synth.cegis import synthesise
    from cowcheck.synth.compare import compare

__version__ = "0.1.0"
__all__ = [
    "Bounds",
    "CheckReport",
    "InputError",
    "OptionError",
    "SearchOptions",
    "build_model",
    "check",
    "compare",
    "synthesise",
]

_HOME = {
    "CheckReport": "cowcheck.api",
    "build_model": "cowcheck.api",
    "check": "cowcheck.api",
    "Bounds": "cowcheck.engine",
    "OptionError": "cowcheck.engine",
    "SearchOptions": "cowcheck.engine",
    "InputError": "cowcheck.errors",
    "compare": "cowcheck.synth.compare",
    "synthesise": "cowcheck.synth.cegis",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'cowcheck' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
