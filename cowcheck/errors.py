"""Bad input: one clear message naming the file, the field and what was expected."""

from __future__ import annotations

from typing import Any


class InputError(Exception):
    """Raised for malformed scenario or rule files, unknown names and impossible bounds.

    The CLI prints ``str(err)`` on one line and exits with code 2.
    """

    def __init__(self, where: str, field: str | None, expected: str) -> None:
        self.where = where
        self.field = field
        self.expected = expected
        loc = f"{where}: {field}" if field else where
        super().__init__(f"{loc}: {expected}")

    def __reduce__(self) -> tuple[Any, ...]:
        # As it was built: a worker process sends it to the coordinator, which raises it.
        return type(self), (self.where, self.field, self.expected), dict(self.__dict__)


class ActionError(ValueError):
    """A saved action that is not one: ``field`` (None: the action itself) and what
    was expected."""

    def __init__(self, field: str | None, expected: str) -> None:
        self.field = field
        self.expected = expected
        super().__init__(f"{field}: {expected}" if field else expected)


def json_type(v: object) -> str:
    """A value's type as JSON names it (in errors about saved traces)."""
    if v is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array"}
    return names.get(type(v), "an object" if isinstance(v, dict) else type(v).__name__)
