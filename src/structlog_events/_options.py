"""Fixed choices of a writer's configuration, and checking the values given.

Every option of ``EventWriter`` is checked here, in one style: a value of the
wrong type is a ``TypeError`` and a value of the right type outside the valid
ones a ``ValueError``, both saying ``<option> must be <what is valid>, not
<what was given>``, so the message names the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._verbosity import VerbosityLevel

if TYPE_CHECKING:
    from ._models import EventModels


class WriteMode(StrEnum):
    """How an ``EventWriter`` gets lines to disk."""

    #: Written and fsynced before the log call returns.
    SYNC = "sync"
    #: Queued: the log call enqueues, a background thread writes (the default).
    ASYNC = "async"


class Overflow(StrEnum):
    """What a queued writer does with an event when its queue is full."""

    #: Refuse the event, count it in ``stats.dropped``, warn now and then.
    DROP = "drop"
    #: Wait until the writer thread has made room.
    BLOCK = "block"


_E = TypeVar("_E", bound=Enum)


def parse_choice(kind: type[_E], value: Any, option: str) -> _E:
    """Return the member of *kind* given as a member, a value or a name, in any case.

    Raises:
        TypeError: *value* is neither a member nor a string.
        ValueError: *value* names no member; the message lists the valid ones.
    """
    if isinstance(value, kind):
        return value
    valid = f"one of {', '.join(repr(member.value) for member in kind)} (or {kind.__name__})"
    if not isinstance(value, str):
        raise TypeError(f"{option} must be {valid}, not {_type_of(value)}")
    for member in kind:
        if value.lower() in (str(member.value).lower(), member.name.lower()):
            return member
    raise ValueError(f"{option} must be {valid}, not {value!r}")


def levels_by_event_type(value: Any, option: str) -> dict[str, VerbosityLevel]:
    """Return a mapping of event type to level, or ``{}`` for ``None``.

    Raises:
        TypeError: *value* is not a mapping, a key is not a string, or a level
            is neither a ``VerbosityLevel`` nor a string.
        ValueError: a level names no level.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{option} must be a mapping of event type to level, such as "
            f"{{'turn_completed': 'MILESTONE'}}, or None, not {_type_of(value)}"
        )
    levels: dict[str, VerbosityLevel] = {}
    for event_type, level in value.items():
        if not isinstance(event_type, str):
            raise TypeError(f"{option} keys must be event types (str), not {_type_of(event_type)}")
        levels[event_type] = parse_choice(VerbosityLevel, level, f"{option}[{event_type!r}]")
    return levels


def event_models(model: Any, models: Any) -> EventModels | None:
    """Return the writer's event models: *model* for every event type, *models* per type.

    ``None`` when neither is given: every event is a plain ``Event``, written
    without pydantic, which is then not even imported.

    Raises:
        TypeError: a model is not a subclass of ``Event``, or *models* is not a
            mapping of event type to one.
        ValueError: a model cannot be written as given (an alias, a field named
            like a record key the writer consumes, an ``Event`` field redefined
            with another JSON type).
    """
    if model is None and models is None:
        return None
    from ._models import EventModels  # pydantic: only for a writer given models

    return EventModels(model, models, option=("event_model", "event_models"))


def positive_int(value: Any, option: str, unit: str) -> int:
    """Return *value* if it is an int above zero; *unit* names what it counts.

    Raises:
        TypeError: *value* is not an int.
        ValueError: *value* is zero or negative.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(
            f"{option} must be an int, a positive number of {unit}, not {_type_of(value)}"
        )
    if value <= 0:
        raise ValueError(f"{option} must be a positive number of {unit}, not {value}")
    return value


def optional_limit(value: Any, option: str, unit: str) -> int | None:
    """Return *value* if it is ``None`` (no limit) or an int above zero.

    Raises:
        TypeError: *value* is neither ``None`` nor an int.
        ValueError: *value* is zero or negative.
    """
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{option} must be an int or None (no limit), not {_type_of(value)}")
    if value <= 0:
        raise ValueError(
            f"{option} must be a positive number of {unit}, or None for no limit, not {value}"
        )
    return value


def optional_period(value: Any, option: str) -> timedelta | None:
    """Return *value* if it is ``None`` or a positive ``timedelta``.

    Raises:
        TypeError: *value* is neither ``None`` nor a ``timedelta`` (seconds as a
            number are refused: ``timedelta(hours=1)`` says what it means).
        ValueError: *value* is zero or negative.
    """
    if value is None:
        return None
    if not isinstance(value, timedelta):
        raise TypeError(
            f"{option} must be a datetime.timedelta (e.g. timedelta(days=1)) or None, "
            f"not {_type_of(value)}"
        )
    if value <= timedelta(0):
        raise ValueError(f"{option} must be a positive timedelta, or None, not {value!r}")
    return value


def flag(value: Any, option: str) -> bool:
    """Return *value* if it is ``True`` or ``False``.

    Raises:
        TypeError: *value* is anything else (``1``, ``"yes"``, ``None``).
    """
    if not isinstance(value, bool):
        raise TypeError(f"{option} must be True or False, not {value!r}")
    return value


def text(value: Any, option: str) -> str:
    """Return *value* if it is a string.

    Raises:
        TypeError: *value* is not a string.
    """
    if not isinstance(value, str):
        raise TypeError(f"{option} must be a str, not {_type_of(value)}")
    return value


def directory_path(value: Any, option: str) -> Path:
    """Return *value*, a ``str`` or ``os.PathLike`` path, as a ``Path``.

    Raises:
        TypeError: *value* is not a text path.
    """
    if isinstance(value, str | os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str):
            return Path(path)
    raise TypeError(f"{option} must be a str or os.PathLike path, not {_type_of(value)}")


def permission_bits(value: Any, option: str) -> int:
    """Return *value* if it is an int of permission bits (``0o644``, at most ``0o7777``).

    Raises:
        TypeError: *value* is not an int.
        ValueError: *value* is outside ``0`` to ``0o7777``.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{option} must be permission bits such as 0o644, not {_type_of(value)}")
    if not 0 <= value <= 0o7777:
        raise ValueError(f"{option} must be permission bits such as 0o644, not {value:#o}")
    return value


def _type_of(value: Any) -> str:
    """How a message names what was given: its type, and the value when short."""
    shown = repr(value)
    return f"{type(value).__name__} {shown}" if len(shown) <= 40 else type(value).__name__
