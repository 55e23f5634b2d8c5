"""Loading a Python file (a rule or a property) by path, with errors that name it."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from cowcheck.engine.errors import frames_of
from cowcheck.engine.signals import Interrupted, installed
from cowcheck.errors import InputError

_LOADED: list[ModuleType] = []


def loaded_modules() -> list[ModuleType]:
    """Every module loaded by path: the distributed search pickles them by value,
    since workers cannot import them by name."""
    # One taken out of sys.modules since (a test's clean-up) is not loaded any more,
    # and cloudpickle refuses to register it.
    return [m for m in _LOADED if sys.modules.get(m.__name__) is m]


def _user_files() -> set[str]:
    return {os.path.realpath(f) for m in _LOADED if (f := getattr(m, "__file__", None))}


def _what(e: BaseException, hook: str) -> str:
    at = "at import" if hook == "<module>" else f"in hook {hook}"
    # One brought from a worker (WorkerFailed) says what it was there.
    kind, detail = getattr(e, "kind", type(e).__name__), str(getattr(e, "detail", e))
    if isinstance(e, SystemExit):
        kind = f"SystemExit({e.code!r})"
    if kind.startswith("SystemExit("):
        code = kind.removeprefix("SystemExit(").removesuffix(")")
        return f"calls sys.exit({code}) {at}: cowcheck, not a rule or property file, ends the run"
    if kind == "KeyboardInterrupt":
        return f"raises KeyboardInterrupt {at}: a rule or property file must not fake Ctrl-C"
    return f"{kind} {at}: {detail}" if detail else f"{kind} {at}"


def blame(e: BaseException, files: set[str] | None = None) -> InputError | None:
    """An exception that came out of a user's rule or property file (here, or in a
    worker process), as that file's error: ``FILE:LINE: <what> in <hook>: <message>``,
    the line the innermost in the file, the hook the outermost (what cowcheck called).
    None where no frame is in such a file: then it is cowcheck's own failure."""
    files = _user_files() if files is None else files
    mine = [fr for fr in frames_of(e) if os.path.realpath(fr[0]) in files]
    if not mine:
        return None
    file, line, _ = mine[-1]
    return InputError(f"{file}:{line}", None, _what(e, mine[0][2]))


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
    except Interrupted:
        raise
    except KeyboardInterrupt as e:
        if not installed():
            raise  # Ctrl-C under the library API: not the file's doing
        raise _import_error(where, path, e) from None
    except BaseException as e:  # SystemExit too: a file must not end the run
        raise _import_error(where, path, e) from None
    sys.modules[modname] = mod
    _LOADED.append(mod)
    return mod


def _import_error(where: str, path: Path, e: BaseException) -> InputError:
    found = blame(e, {os.path.realpath(path)})
    if found is not None:
        return found
    return InputError(where, None, _what(e, "<module>"))
