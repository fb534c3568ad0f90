"""From a structlog record to an event's fields: the one place that knows structlog's keys."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from ._event import as_utc, iso_utc_from_ns, new_event_id
from ._exc_info import structured_exception
from ._handlers import reraise_if_from_a_signal_handler
from ._report import report
from ._verbosity import METHOD_VERBOSITY, VerbosityLevel

if TYPE_CHECKING:
    from ._event_model import Event

#: ``event_type`` of a record logged without an event name.
UNNAMED_EVENT: Final = "<unnamed>"

#: Keys ``structlog.stdlib.ProcessorFormatter`` adds for its own processors.
_FORMATTER_KEYS: Final = ("_record", "_from_structlog")


class RecordMapper:
    """Decides a record's verbosity and turns the record into event fields.

    Args:
        simulation_id: the ``simulation_id`` of records that do not carry one.
        event_verbosity: level per event type, for records without a
            ``verbosity`` key; others get their level from the log method.
    """

    __slots__ = ("_event_verbosity", "_simulation_id")

    def __init__(
        self,
        simulation_id: str,
        event_verbosity: Mapping[str, VerbosityLevel] | None = None,
    ) -> None:
        self._simulation_id = simulation_id
        self._event_verbosity = dict(event_verbosity or {})

    def verbosity_of(self, method_name: str, event_dict: Mapping[str, Any]) -> VerbosityLevel:
        """Return the record's level: its ``verbosity`` key, else by event type, else by method.

        An unknown ``verbosity`` value is reported once and ignored; it never
        raises, since this runs inside a log call.
        """
        named = event_dict.get("verbosity")
        if named is not None:
            if isinstance(named, VerbosityLevel):
                return named
            try:
                return VerbosityLevel.parse(named)
            except (TypeError, ValueError) as error:
                reraise_if_from_a_signal_handler(error)
                report(
                    f"verbosity:{named!r:.80}",
                    f"{error}; level taken from the log method",
                )
        if self._event_verbosity:
            level = self._event_verbosity.get(_event_type(event_dict.get("event")))
            if level is not None:
                return level
        return METHOD_VERBOSITY.get(method_name, VerbosityLevel.ACTION)

    def verbosity_of_event(self, event: Event) -> VerbosityLevel:
        """Return a ready-made event's level: its own if given, else by its type.

        An ``Event`` built without ``verbosity`` has ACTION by default; the
        writer's ``event_verbosity`` decides for such an event instead, as it
        does for a record without a ``verbosity`` key.  A verbosity given
        explicitly, as every event read back from a file has, wins.
        """
        if "verbosity" in event.model_fields_set or not self._event_verbosity:
            return event.verbosity
        return self._event_verbosity.get(event.event_type, event.verbosity)

    def to_record(
        self,
        method_name: str,
        event_dict: Mapping[str, Any],
        verbosity: VerbosityLevel,
    ) -> tuple[dict[str, Any], bool]:
        """Return the event's fields in ``Event`` order, and whether a value needed a fallback.

        Every key but the reserved ones goes into ``data`` unchanged.  A
        timestamp that cannot be read is kept in ``data["timestamp"]`` and the
        event is stamped now; a missing event name becomes ``"<unnamed>"``; a
        ``verbosity`` value that names no level stays in ``data``.
        ``exc_info`` becomes ``data["exception"]``, a structured traceback
        (see ``_exc_info``), unless an ``exception`` key is there already
        (``format_exc_info`` or ``dict_tracebacks`` ran): that one is kept.
        The keys ``ProcessorFormatter`` adds for its processors (``_record``,
        ``_from_structlog``) are left out.  A timestamp the writer stamped is
        text, one read from the record a ``datetime``: a model's own
        ``timestamp`` default replaces only the first (see ``_typed``).
        """
        # One C-level copy, then the reserved keys popped out of it: cheaper than
        # filtering every key, and the record itself is left as it was.
        data = dict(event_dict)
        pop = data.pop
        if "exc_info" in data:  # the only cost a record without one pays
            exc_info = pop("exc_info")
            if "exception" not in data:
                exception = structured_exception(exc_info)
                if exception is not None:
                    data["exception"] = exception
        if "_from_structlog" in data:
            for key in _FORMATTER_KEYS:
                pop(key, None)
        name = pop("event", None)
        simulation_id = pop("simulation_id", self._simulation_id)
        named = pop("verbosity", None)
        level = pop("level", method_name)
        stamp = pop("timestamp", None)
        fallback = False
        event_type = name if type(name) is str else _event_type(name)
        if not event_type:
            event_type, fallback = UNNAMED_EVENT, True
        if type(simulation_id) is not str:
            simulation_id = str(simulation_id)
        if named is not None and not _named(verbosity, named):
            data["verbosity"] = named  # named no level: kept, so nothing said is lost
        if level is not None and type(level) is not str:
            level = str(level)
        now_ns = time.time_ns()
        timestamp: datetime | str
        if stamp is None:
            timestamp = iso_utc_from_ns(now_ns)
        else:
            parsed = _timestamp(stamp)
            if parsed is None:
                data["timestamp"] = stamp
                timestamp, fallback = iso_utc_from_ns(now_ns), True
            else:
                timestamp = parsed
        record = {
            "event_id": new_event_id(now_ns),
            "timestamp": timestamp,
            "event_type": event_type,
            "simulation_id": simulation_id,
            "verbosity": verbosity._value_,  # not .value: a property, and a call per event
            "level": level,
            "data": data,
        }
        return record, fallback


def record_of_event(event: Event, verbosity: VerbosityLevel | None = None) -> dict[str, Any]:
    """Return the fields of a ready-made ``Event`` in the form ``encode_record`` takes.

    Args:
        event: the event.
        verbosity: the level to write, when the writer decided another than
            the event's default (see ``RecordMapper.verbosity_of_event``).
    """
    return {
        "event_id": event.event_id,
        "timestamp": event.timestamp,
        "event_type": event.event_type,
        "simulation_id": event.simulation_id,
        "verbosity": (event.verbosity if verbosity is None else verbosity).value,
        "level": event.level,
        "data": event.data,
    }


def _event_type(name: Any) -> str:
    if name is None:
        return ""
    if isinstance(name, str):
        return name
    try:
        return str(name)
    except Exception as error:
        reraise_if_from_a_signal_handler(error)
        return f"<unprintable {type(name).__qualname__}>"


def _named(verbosity: VerbosityLevel, named: Any) -> bool:
    """Whether *named*, a record's ``verbosity`` value, is what gave it *verbosity*.

    ``verbosity_of`` already parsed it: a valid value became the level itself,
    an invalid one was passed over, so comparing is enough; no second parse.
    """
    return named is verbosity or (type(named) is str and named.upper() == verbosity.value)


def _timestamp(stamp: Any) -> datetime | None:
    """Read a structlog timestamp: a datetime, an ISO-8601 string or epoch seconds."""
    try:
        if isinstance(stamp, datetime):
            return as_utc(stamp)
        if isinstance(stamp, str):
            return as_utc(datetime.fromisoformat(stamp))
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            return datetime.fromtimestamp(stamp, UTC)
    except (ValueError, OverflowError, OSError) as error:
        reraise_if_from_a_signal_handler(error)
        return None
    return None
