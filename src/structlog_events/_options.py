"""Fixed choices of a writer's configuration, and checking the values given."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any, TypeVar


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
        ValueError: *value* names no member; the message lists the valid ones.
    """
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        for member in kind:
            if value.lower() in (str(member.value).lower(), member.name.lower()):
                return member
    valid = ", ".join(repr(member.value) for member in kind)
    raise ValueError(f"{option} must be one of {valid} (or {kind.__name__}), not {value!r}")


def positive_int(value: Any, option: str) -> int:
    """Return *value* if it is an int above zero.

    Raises:
        TypeError: *value* is not an int.
        ValueError: *value* is zero or negative.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{option} must be an int, not {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{option} must be a positive number of {_UNITS[option]}, not {value}")
    return value


_UNITS = {"max_file_size": "bytes", "max_queue_size": "events"}
