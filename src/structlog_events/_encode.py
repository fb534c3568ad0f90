"""One JSON line per event, with fallbacks for values JSON cannot hold.

The fast path hands the event's fields, as plain values, to ``orjson`` in one
call: no pydantic validation, no ``model_dump_json()``.  It produces exactly the
bytes ``Event.model_dump_json()`` would (a property test holds it to that).

A value orjson does not know but that has a ``__structlog__()`` method is
written as what that method returns, as structlog's ``JSONRenderer`` does; it
is handed to orjson as its ``default``, which orjson calls only for such
values, so other events pay nothing for it.

When orjson refuses a value (a type it does not know, a lone surrogate, an
integer beyond 64 bits, a non-string key, a circular reference or nesting past
its limit) the fields are rebuilt from JSON-safe values and encoded again.  The
event is still written, and the caller counts it as a fallback.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import PurePath
from typing import Any, Final

import orjson

from ._handlers import reraise_if_from_a_signal_handler

#: ``Z`` for UTC like pydantic.  No OPT_APPEND_NEWLINE: see ``encode_record``.
OPTIONS: Final = orjson.OPT_UTC_Z

#: Deeper structures are cut off (orjson's own limit is 254).
MAX_DEPTH: Final = 200

_INT_MIN: Final = -(2**63)
_UINT_MAX: Final = 2**64 - 1


def encode_record(record: Mapping[str, Any]) -> tuple[bytes, bool]:
    """Return the JSON line of *record* and whether a fallback was needed.

    Args:
        record: the event's fields in ``Event`` field order, as plain values.

    Raises:
        Exception: only if even the fallback cannot encode the record (for
            instance a ``RecursionError`` when called with almost no stack
            left); the writer counts such an event as failed.
    """
    try:
        # The newline is concatenated rather than asked of orjson: the result is
        # then a fresh, exactly sized bytes object.  orjson's own result keeps
        # its ~4 KiB working buffer, which a queue of 10,000 lines turns into
        # ~40 MB of resident memory.
        return orjson.dumps(record, default=_structlog_form, option=OPTIONS) + b"\n", False
    except (TypeError, ValueError, RecursionError) as error:
        # orjson.JSONEncodeError subclasses TypeError.
        reraise_if_from_a_signal_handler(error)
    safe = _json_safe(record, 0, set())
    return orjson.dumps(safe, option=OPTIONS) + b"\n", True


def _structlog_form(value: Any) -> Any:
    """orjson's ``default``: what ``value.__structlog__()`` returns, as ``JSONRenderer`` writes.

    Raises:
        TypeError: *value* has no ``__structlog__`` method; orjson then
            refuses the record and the fallback encodes it.
    """
    method = getattr(value, "__structlog__", None)
    if method is None:
        raise TypeError(f"{type(value).__qualname__} is not JSON serializable")
    return method()


def _json_safe(value: Any, depth: int, path: set[int]) -> Any:
    """Return *value* rebuilt from types orjson always encodes.

    *path* holds the ids of the containers between the root and *value*, so a
    container met again on its own path is a circular reference.
    """
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return _safe_str(value)
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _UINT_MAX else str(value)
    if isinstance(value, float | datetime | date | time | uuid.UUID):
        return value
    if isinstance(value, enum.Enum):
        return _json_safe(value.value, depth, path)
    if depth >= MAX_DEPTH:
        return f"<nested deeper than {MAX_DEPTH}: {type(value).__name__}>"
    if isinstance(value, Mapping | list | tuple | set | frozenset) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        if id(value) in path:
            return f"<circular reference: {type(value).__name__}>"
        path.add(id(value))
        try:
            return _json_safe_container(value, depth + 1, path)
        finally:
            path.discard(id(value))
    try:
        method = getattr(value, "__structlog__", None)
        if method is not None:
            return _json_safe(method(), depth + 1, path)
    except Exception as error:  # a __structlog__ that raises: described like any other value
        reraise_if_from_a_signal_handler(error)
    return _safe_str(_describe(value))


def _json_safe_container(value: Any, depth: int, path: set[int]) -> Any:
    if isinstance(value, Mapping):
        return {_safe_key(key): _json_safe(item, depth, path) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item, depth, path) for item in value]
    if isinstance(value, set | frozenset):
        return [_json_safe(item, depth, path) for item in value]
    return {
        field.name: _json_safe(getattr(value, field.name, None), depth, path)
        for field in dataclasses.fields(value)
    }


def _safe_key(key: Any) -> str:
    """Text for a mapping key, spelled the way orjson's ``OPT_NON_STR_KEYS`` does."""
    if isinstance(key, str):
        return _safe_str(key)
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float):
        return str(key)
    if isinstance(key, enum.Enum):
        return _safe_key(key.value)
    return _safe_str(_describe(key))


def _safe_str(text: str) -> str:
    """Return *text*, with lone surrogates spelled out as ``\\udcxx`` escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _describe(value: Any) -> str:
    """Text for a value JSON has no type for: natural text for common types, else repr."""
    try:
        if _instance_of(value, "pydantic.main", "BaseModel"):
            return value.model_dump_json()  # type: ignore[no-any-return]
        if isinstance(value, PurePath | timedelta) or _instance_of(value, "decimal", "Decimal"):
            return str(value)
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value).decode("utf-8", "backslashreplace")
        return repr(value)
    except Exception as error:
        reraise_if_from_a_signal_handler(error)
        return f"<unrepresentable {type(value).__qualname__}>"


def _instance_of(value: Any, module: str, name: str) -> bool:
    """Whether *value* is an instance of *module*'s class *name*, without importing *module*.

    An instance exists only once the module defining its class is imported;
    until then nothing is one.  So writing plain events never imports pydantic
    (which takes longer to import than structlog) or ``decimal``.
    """
    defining = sys.modules.get(module)
    return defining is not None and isinstance(value, getattr(defining, name, ()))
