"""Bad input: one clear message naming the file, the field and what was expected."""

from __future__ import annotations

from typing import Any, Protocol


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


class Record(Protocol):
    """An action record (any family's NamedTuple of op, actor and its fields)."""

    def _asdict(self) -> dict[str, Any]: ...


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false"}


def record_to_json(rec: Record, default: Record) -> dict[str, Any]:
    """An action record as a saved trace keeps it: ``op`` and ``actor``, then every
    field that differs from ``default`` (the record with only op and actor set)."""
    mine, base = rec._asdict(), default._asdict()
    d: dict[str, Any] = {"op": mine["op"], "actor": mine["actor"]}
    d.update((k, v) for k, v in mine.items() if k not in d and v != base[k])
    return d


def record_from_json(d: object, default: Record) -> dict[str, Any]:
    """The fields of a saved action, as ``record_to_json`` wrote them, for the record
    type of ``default``. Raises ``ActionError`` naming the field at fault: a saved
    trace is user input, and a field of the wrong type must not replay as something
    else (``write: 1`` is not ``true``, ``vpage: "0"`` is not ``0``)."""
    if not isinstance(d, dict):
        raise ActionError(None, f"expected an object with op and actor, got {json_type(d)}")
    types = {k: type(v) for k, v in default._asdict().items()}
    for k in d:
        if k not in types:
            raise ActionError(str(k), f"unknown field (expected one of: {', '.join(types)})")
    for k in ("op", "actor"):
        if k not in d:
            raise ActionError(k, "missing")
    for k, v in d.items():
        # bool is an int to Python, not to a trace: each must be the one it says.
        if type(v) is not types[k]:
            raise ActionError(k, f"expected {_TYPE_NAMES[types[k]]}, got {json_type(v)}")
    return d
