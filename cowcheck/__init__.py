"""cowcheck: a model checker for Linux copy-on-write versus get_user_pages semantics."""

from cowcheck.api import CheckReport, build_model, check
from cowcheck.engine import Bounds, OptionError, SearchOptions
from cowcheck.errors import InputError

__version__ = "0.1.0"
__all__ = ["Bounds", "CheckReport", "InputError", "OptionError", "SearchOptions", "build_model", "check"]
