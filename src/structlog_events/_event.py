"""Event ids and timestamps: what writing an event needs, without pydantic.

The ``Event`` model itself is defined in ``_event_model``, which imports
pydantic (the largest part of the package's import time); a writer of plain
events never needs it.  ``Event`` and ``ExtendedEvent`` are still importable
from here: the first access loads the model.
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._event_model import Event as Event
    from ._event_model import ExtendedEvent as ExtendedEvent

# An event id is 30 lowercase hex digits: the creation time in nanoseconds (16),
# a per-process sequence number (6) and a per-process random tag (8).  Ids sort
# by creation time as plain strings; the sequence number orders ids made in one
# clock tick and the tag keeps processes apart.  Building one costs a clock read
# and one format, a fraction of ``uuid4()``.
_sequence = itertools.count()
_process_tag = os.urandom(4).hex()


def after_fork_in_child() -> None:
    """Give a forked child its own tag, so its ids never repeat the parent's."""
    global _process_tag, _sequence
    _process_tag = os.urandom(4).hex()
    _sequence = itertools.count()


def new_event_id(time_ns: int | None = None) -> str:
    """Return a new unique event id that sorts by creation time.

    Args:
        time_ns: creation time in nanoseconds since the epoch; now if omitted.
    """
    if time_ns is None:
        time_ns = time.time_ns()
    return f"{time_ns << 24 | next(_sequence) & 0xFFFFFF:022x}{_process_tag}"


def utc_from_ns(time_ns: int) -> datetime:
    """Return the timezone-aware UTC datetime (microsecond precision) of *time_ns*."""
    return _EPOCH + timedelta(microseconds=time_ns // 1000)  # exact, unlike a float


# The date-and-time text of the current second, computed once per second.  One
# tuple, replaced whole, so a thread never pairs one second with another's text.
_second_text: tuple[int, str] = (-1, "")


def iso_utc_from_ns(time_ns: int) -> str:
    """Return *time_ns* as the ISO-8601 text pydantic writes for an aware UTC datetime.

    ``2024-01-01T00:00:00.000120Z``, or ``2024-01-01T00:00:00Z`` on a whole
    second, exactly as ``Event.model_dump_json()`` spells ``utc_from_ns(time_ns)``,
    at a fraction of the cost of building a datetime for each event.
    """
    global _second_text
    microseconds = time_ns // 1000
    second = microseconds // 1_000_000
    cached_second, text = _second_text
    if second != cached_second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_text = (second, text)
    fraction = microseconds - second * 1_000_000
    return "%s.%06dZ" % (text, fraction) if fraction else text + "Z"  # noqa: UP031 - faster


def utc_now() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return *value* in UTC; a naive datetime is taken as local time, as Python does."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.astimezone(UTC)
    return value if value.utcoffset() == _ZERO else value.astimezone(UTC)


_ZERO = datetime(2000, 1, 1, tzinfo=UTC).utcoffset()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def __getattr__(name: str) -> Any:
    """Load ``Event`` and ``ExtendedEvent`` (and pydantic) on first access."""
    if name in ("Event", "ExtendedEvent"):
        from . import _event_model

        value = getattr(_event_model, name)
        globals()[name] = value  # later accesses skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
