"""Loading a Python file (a rule or a property) by path, with errors that name it."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from cowcheck.errors import InputError

_LOADED: list[ModuleType] = []


def loaded_modules() -> list[ModuleType]:
    """Every module loaded by path: the distributed search pickles them by value,
    since workers cannot import them by name."""
    return list(_LOADED)


def load_module(path: Path, prefix: str) -> ModuleType:
    where = str(path)
    if not path.is_file():
        raise InputError(where, None, "no such file")
    modname = f"{prefix}_{path.stem}_{abs(hash(str(path.resolve())))}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise InputError(where, None, "cannot be loaded as a Python file")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except SyntaxError as e:
        raise InputError(f"{where}:{e.lineno}", None, f"syntax error: {e.msg}") from None
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)
        line = next((fr.lineno for fr in reversed(tb) if fr.filename == str(path)), None)
        loc = f"{where}:{line}" if line else where
        raise InputError(loc, None, f"{type(e).__name__}: {e}") from None
    sys.modules[modname] = mod
    _LOADED.append(mod)
    return mod
