"""Choosing events and their fields: log levels, ``KEY=VALUE`` matches, field paths.

The one implementation behind the filters of ``read_events`` and
``follow_events`` and the command line's ``--level``, ``--where`` and
``--fields``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime
from typing import Any, Final

import orjson
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from ._event import as_utc
from ._event_model import Event
from ._verbosity import VerbosityLevel

#: Rank of each level name an event may carry, as the stdlib numbers its levels:
#: structlog's method names (what the writer stores without ``add_log_level``)
#: and the stdlib's level names (what ``add_log_level`` and the stdlib bridge store).
LEVEL_RANKS: Final[Mapping[str, int]] = {
    "notset": 0,
    "debug": 10,
    "info": 20,
    "msg": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "err": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}

#: The levels a minimum is usually chosen from, least severe first.
LEVEL_NAMES: Final = ("debug", "info", "warning", "error", "critical")

#: How the stdlib names a level it has no name for: ``logging.getLevelName(25)``.
_NUMBERED_LEVEL: Final = re.compile(r"level (\d+)")

#: Event fields a key names directly; any other key is a field of the event's own
#: model or a path into ``data``.
EVENT_FIELDS: Final = ("event_id", "timestamp", "event_type", "simulation_id", "verbosity", "level")

#: Every field of ``Event``: what a model's own fields are beyond.
_ENVELOPE: Final = frozenset(Event.model_fields)


def level_rank(level: str | None) -> int | None:
    """Return the rank of a stored level name (any case); ``None`` if missing or unknown.

    ``"level 25"``, the stdlib's name for an unnamed level, ranks as 25.
    """
    if level is None:
        return None
    name = level.lower()
    rank = LEVEL_RANKS.get(name)
    if rank is None and (numbered := _NUMBERED_LEVEL.fullmatch(name)):
        rank = int(numbered.group(1))
    return rank


def minimum_rank(level: str | int) -> int:
    """Return the rank a ``level`` filter keeps from: a level name, or a stdlib number.

    Raises:
        TypeError: *level* is neither a string nor an int.
        ValueError: *level* names no level; the message lists the names.
    """
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if not isinstance(level, str):
        raise TypeError(
            f"level must be a level name such as 'error' or a stdlib level number such as "
            f"logging.ERROR, not {type(level).__name__}"
        )
    rank = level_rank(level)
    if rank is None:
        raise ValueError(
            f"unknown level {level!r}; valid names are {', '.join(LEVEL_NAMES)} "
            "(also warn, exception, fatal), or a stdlib level number"
        )
    return rank


class _Missing:
    """What ``FieldPath.get`` returns for a field the event does not have."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def own_fields(event: Event) -> Iterator[tuple[str, Any]]:
    """The top-level fields of *event* beyond ``Event``'s: its model's, or those read without it."""
    if type(event) is Event:
        return
    for name, value in event.__dict__.items():
        if name not in _ENVELOPE:
            yield name, value
    if event.__pydantic_extra__:
        yield from event.__pydantic_extra__.items()


class FieldPath:
    """A key as ``where`` and ``--fields`` take it: an event field, or a path into ``data``.

    ``level``, ``event_type`` and the other ``EVENT_FIELDS`` name the field; a
    key whose first step names a field of the event's own model
    (``turn_number``, ``details.kind``) reaches that field; any other key is a
    dotted path into ``data`` (``agent_id``, ``config.region``), with an
    optional ``data.`` prefix that also reaches a data key named like a field
    (``data.timestamp``).  A path step matches a key holding dots too
    (``http.status`` finds ``{"http.status": 200}``), and a number indexes a
    list (``items.0``).
    """

    __slots__ = ("_field", "_in_data", "_steps", "key")

    def __init__(self, key: str) -> None:
        """Parse *key*.

        Raises:
            TypeError: *key* is not a string.
            ValueError: *key* is empty or has an empty step (``a..b``).
        """
        if not isinstance(key, str):
            raise TypeError(f"a field key is a string such as 'agent_id', not {key!r}")
        steps = key.split(".")
        if not all(steps):
            raise ValueError(
                f"{key!r} is not a field: name an event field ({', '.join(EVENT_FIELDS)}) "
                "or a key of data, e.g. agent_id or data.config.region"
            )
        self.key = key
        self._field = key if key in EVENT_FIELDS else None
        self._in_data = steps[0] == "data"
        self._steps = tuple(steps[1:] if self._in_data else steps)

    @property
    def data_key(self) -> str | None:
        """The top-level key of ``data`` this path names, if it names exactly one."""
        return self._steps[0] if self._field is None and len(self._steps) == 1 else None

    def get(self, event: Event) -> Any:
        """Return the value at this path in *event*, or ``MISSING``."""
        if self._field is not None:
            return getattr(event, self._field)
        if not self._in_data and type(event) is not Event:
            value = _own_field(event, self._steps[0])
            if value is not MISSING:
                return _lookup(value, self._steps[1:])
        return _lookup(event.data, self._steps)

    def __repr__(self) -> str:
        return f"FieldPath({self.key!r})"


def _own_field(event: Event, name: str) -> Any:
    """The top-level field *name* of *event* beyond the envelope, or ``MISSING``."""
    if name in _ENVELOPE:
        return MISSING
    value = event.__dict__.get(name, MISSING)
    if value is MISSING and event.__pydantic_extra__:
        value = event.__pydantic_extra__.get(name, MISSING)
    return value


def _lookup(value: Any, steps: tuple[str, ...]) -> Any:
    if not steps:
        return value
    if isinstance(value, BaseModel):
        value = value.__dict__
    if isinstance(value, dict):
        # The longest key first: "http.status.code" tries that key, then "http.status", ...
        for cut in range(len(steps), 0, -1):
            key = ".".join(steps[:cut])
            if key in value:
                found = _lookup(value[key], steps[cut:])
                if found is not MISSING:
                    return found
        return MISSING
    if isinstance(value, list) and steps[0].isdecimal() and int(steps[0]) < len(value):
        return _lookup(value[int(steps[0])], steps[1:])
    return MISSING


def json_dumps(value: Any) -> bytes:
    """*value* as compact JSON, as an event line holds it; a model's field values too."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z, default=to_jsonable_python)


def json_text(value: Any) -> str:
    """The text a ``where`` value is compared as: a string itself, anything else as JSON.

    ``3`` is ``"3"``, ``True`` is ``"true"``, ``None`` is ``"null"``, a list or
    object is compact JSON, a time is ISO 8601 in UTC with ``Z``: as the event
    line stores it.  A value the line holds as a JSON string (a time, an
    enum, a decimal of a model's field) is that string.
    """
    if isinstance(value, str):
        return value
    text = json_dumps(value)
    return orjson.loads(text) if text[:1] == b'"' else text.decode()


def event_filter(
    *,
    event_types: Collection[str] | None = None,
    verbosity: VerbosityLevel | str | None = None,
    level: str | int | None = None,
    where: Mapping[str, Any] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    simulation_id: str | None = None,
) -> Callable[[Event], bool]:
    """Return a predicate that keeps the events matching every given filter.

    Args:
        event_types: keep only events of these types.
        verbosity: keep only events at this verbosity or less verbose.
        level: keep only events logged at this level or more severe (a name
            in any case, or a stdlib level number); ``exception`` counts as
            ``error``.  An event with no level never passes; one whose level
            is a name no one knows (a custom stdlib level) always does: it
            cannot be ranked, and hiding it could hide an error.
        where: keep only events whose value at each key (see ``FieldPath``)
            has the given text (see ``json_text``); a missing key never matches.
        since: keep only events at or after this time.
        until: keep only events before this time.
        simulation_id: keep only events of this simulation.

    Raises:
        TypeError: *event_types* is a single string (pass a list), *since* or
            *until* is not a datetime, *where* is not a mapping, or *level*
            is neither a name nor a number.
        ValueError: *verbosity* or *level* names no level, or a *where* key is empty.
    """
    checks: list[Callable[[Event], bool]] = []
    if event_types is not None:
        if isinstance(event_types, str):
            raise TypeError(
                f"event_types takes a collection of event types, e.g. [{event_types!r}], "
                "not a single string"
            )
        wanted = frozenset(event_types)
        checks.append(lambda event: event.event_type in wanted)
    if verbosity is not None:
        kept = frozenset(
            verbose for verbose in VerbosityLevel if verbose <= VerbosityLevel.parse(verbosity)
        )
        checks.append(lambda event: event.verbosity in kept)
    if level is not None:
        checks.append(_at_least(minimum_rank(level)))
    if where is not None:
        if not isinstance(where, Mapping):
            raise TypeError(
                f"where takes a mapping of key to value, e.g. {{'agent_id': 'a1'}}, "
                f"not {type(where).__name__}"
            )
        checks.extend(_matching(FieldPath(key), json_text(value)) for key, value in where.items())
    if since is not None:
        start = _utc_bound(since, "since")
        checks.append(lambda event: event.timestamp >= start)
    if until is not None:
        end = _utc_bound(until, "until")
        checks.append(lambda event: event.timestamp < end)
    if simulation_id is not None:
        checks.append(lambda event: event.simulation_id == simulation_id)
    if not checks:
        return lambda event: True
    if len(checks) == 1:
        return checks[0]
    return lambda event: all(check(event) for check in checks)


def _at_least(minimum: int) -> Callable[[Event], bool]:
    def keep(event: Event) -> bool:
        rank = level_rank(event.level)
        if rank is None:
            return event.level is not None  # unknown name: kept; no level: dropped
        return rank >= minimum

    return keep


def _matching(path: FieldPath, expected: str) -> Callable[[Event], bool]:
    def keep(event: Event) -> bool:
        value = path.get(event)
        return value is not MISSING and json_text(value) == expected

    return keep


def _utc_bound(value: datetime, option: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{option} must be a datetime, not {type(value).__name__}")
    return as_utc(value)
