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
