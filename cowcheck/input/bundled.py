"""Where the bundled rules, properties, scenarios and saved traces live.

In a source checkout (or an editable install) they are the top-level ``models/``,
``properties/`` and ``counterexamples/`` directories; a wheel carries copies under
``cowcheck/_bundled/``.
"""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parents[1]


def _root() -> Path:
    bundled = _PKG / "_bundled"
    if (bundled / "models").is_dir():
        return bundled
    return _PKG.parent


def models_dir() -> Path:
    return _root() / "models"


def scenarios_dir() -> Path:
    return models_dir() / "scenarios"


def properties_dir() -> Path:
    return _root() / "properties"


def counterexamples_dir() -> Path:
    return _root() / "counterexamples"


def pfnmap_scenarios_dir() -> Path:
    return models_dir() / "pfnmap" / "scenarios"


def scenario_dirs() -> tuple[Path, ...]:
    """Each family's bundled scenarios: the anon family's, then the pfnmap family's."""
    return (scenarios_dir(), pfnmap_scenarios_dir())


def scenario_files() -> list[Path]:
    """The anon family's bundled scenarios (``families.all_scenario_files()``: every
    family's)."""
    return sorted(scenarios_dir().glob("*.toml"))


def display_path(path: str) -> str:
    """A bundled file's path relative to the catalog root; other paths as given."""
    try:
        return str(Path(path).resolve().relative_to(_root()))
    except ValueError:
        return path


def bundled_scenario(name: str) -> Path | None:
    """The bundled scenario file named ``name`` (a bare name, not a path), if there
    is one: what a command-line path that is no file names (input/sources.py)."""
    if not name or "/" in name or os.sep in name or name.startswith("."):
        return None
    return next((p for d in scenario_dirs() if (p := d / f"{name}.toml").is_file()), None)


def find_scenario(name_or_path: str) -> Path:
    """A path as given, or the name of a bundled scenario."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists() or "/" in name_or_path:
        return p
    return bundled_scenario(name_or_path) or scenarios_dir() / f"{name_or_path}.toml"
