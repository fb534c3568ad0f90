"""The stdlib ``logging`` bridge: third-party ``logging`` calls as events of a writer.

``bridge_stdlib_logging(writer)`` attaches an ``EventHandler`` to the root
logger; from then on ``logging.getLogger("thirdparty").warning("disk low",
extra={"free": 3})`` becomes an event of *writer*, verbosity-filtered like the
writer's own structlog records.  The handler builds a structlog-style record
and hands it to ``EventWriter.write()``, so level mapping, filtering and
encoding stay in one place.

Records that ``structlog.stdlib.ProcessorFormatter.wrap_for_formatter`` made
(a structlog call routed into ``logging``) carry structlog's event dict in
``record.msg``: the handler gives the writer that dict, as if the writer were
in structlog's chain, and skips it if the writer already handled it there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from ._verbosity import VerbosityLevel
from ._writer import EventWriter

#: Attributes every ``LogRecord`` has; any other attribute came from ``extra``.
_RECORD_ATTRIBUTES: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

#: Keys the handler sets itself; an ``extra`` field of one of these names is
#: kept as ``extra_<name>`` rather than overwriting it.
_BRIDGE_KEYS: Final = frozenset(
    {"event", "level", "timestamp", "logger", "message_template", "exception", "stack"}
)

#: Lowest stdlib level whose records a writer at each verbosity may keep.
_LOWEST_LEVEL: Final = {
    VerbosityLevel.MILESTONE: logging.WARNING,
    VerbosityLevel.DECISION: logging.WARNING,
    VerbosityLevel.ACTION: logging.INFO,
    VerbosityLevel.STATE: logging.INFO,
    VerbosityLevel.DETAIL: logging.DEBUG,
}


def method_name_of(levelno: int) -> str:
    """Return the structlog method name whose verbosity a record of *levelno* gets.

    Below INFO is ``debug`` (DETAIL), below WARNING ``info`` (ACTION), and
    WARNING and above are ``warning``, ``error`` or ``critical`` (MILESTONE);
    custom levels fall in with the standard level below them.
    """
    if levelno < logging.INFO:
        return "debug"
    if levelno < logging.WARNING:
        return "info"
    if levelno < logging.ERROR:
        return "warning"
    if levelno < logging.CRITICAL:
        return "error"
    return "critical"


class EventHandler(logging.Handler):
    """A ``logging.Handler`` that writes each record as an event of an ``EventWriter``.

    A record made by ``ProcessorFormatter.wrap_for_formatter`` (a structlog
    call sent on to ``logging``) is written exactly as the writer writes a
    record of structlog's chain, from structlog's event dict; if this writer
    was itself in that chain (with ``passthrough=True``) and handled the call
    already, the record is skipped, so no event is written twice.

    Any other record has ``event_type`` = the formatted message and ``timestamp`` =
    the record's creation time; ``data`` holds ``logger`` (the logger's name),
    every ``extra`` field, ``message_template`` (the unformatted message, when
    it had arguments, so events of one template can be grouped),
    ``exception`` (for ``exc_info``: the structured traceback every event
    of the writer has, see ``EventWriter``) and ``stack`` (for
    ``stack_info``).  The ``level`` field is the record's level name in
    lower case.

    Verbosity: DEBUG (and below) is DETAIL, INFO is ACTION, WARNING and above
    are MILESTONE, unless the record carries a ``verbosity`` extra (a
    ``VerbosityLevel`` or its name), exactly as for structlog records; the
    writer keeps or drops the event by its own ``verbosity``.  A
    ``simulation_id`` extra sets the event's simulation.  An ``extra`` field
    named like a field the handler sets (``event``, ``level``, ``timestamp``,
    ``logger``, ``message_template``, ``exception``, ``stack``) is kept as
    ``extra_<name>``.

    Args:
        writer: the writer to write to; closing it is the caller's business.
        level: the handler's own stdlib level threshold (default: none, the
            writer's verbosity decides).
    """

    def __init__(self, writer: EventWriter, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        """Hand the record to the writer; a failure goes to ``handleError``, as logging expects."""
        try:
            event_dict: Mapping[str, Any]
            method_name = getattr(record, "_name", None)
            if isinstance(record.msg, dict) and isinstance(method_name, str):
                if self.writer._chain.handed_on(record.msg):
                    return  # the writer wrote it in structlog's chain already
                event_dict = record.msg
            else:
                method_name = method_name_of(record.levelno)
                event_dict = self.event_dict_of(record)
            self.writer.write(event_dict, method_name=method_name)
        except Exception:
            self.handleError(record)

    def event_dict_of(self, record: logging.LogRecord) -> MutableMapping[str, Any]:
        """Return the structlog-style record the writer is given for a ``logging`` record."""
        event_dict: dict[str, Any] = {
            "event": record.getMessage(),
            "level": record.levelname.lower(),
            "timestamp": record.created,
            "logger": record.name,
        }
        if record.args:
            event_dict["message_template"] = str(record.msg)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES:
                event_dict[f"extra_{key}" if key in _BRIDGE_KEYS else key] = value
        if record.exc_info and record.exc_info != (None, None, None):
            event_dict["exc_info"] = record.exc_info  # rendered by the writer
        elif record.exc_text:
            # Only the text came (a record sent over a socket): kept as it is.
            event_dict["exception"] = record.exc_text
        if record.stack_info:
            event_dict["stack"] = record.stack_info
        return event_dict

    def __repr__(self) -> str:
        return f"<EventHandler {self.writer!r} ({logging.getLevelName(self.level)})>"


def bridge_stdlib_logging(
    writer: EventWriter,
    *,
    logger: logging.Logger | str | None = None,
    set_level: bool = True,
) -> EventHandler:
    """Send stdlib ``logging`` records to *writer* as events, in one call.

    Attaches an ``EventHandler`` to the root logger (or *logger*), so records
    of every library that logs through ``logging`` reach it.  Calling it again
    for the same writer and logger returns the handler already attached.
    Remove the bridge with ``logging.getLogger().removeHandler(handler)``.

    Args:
        writer: the writer to write to.
        logger: the logger (or its name) to attach to; the root logger by default.
        set_level: lower the logger's level, if need be, to the most verbose
            level *writer* keeps (DEBUG for DETAIL, INFO for ACTION and STATE,
            WARNING otherwise), so that the writer's verbosity decides: the
            root logger drops INFO and DEBUG records by default.  This also lets
            those records through to the logger's other handlers; pass
            ``False`` to leave the level alone.

    Raises:
        TypeError: *writer* is not an ``EventWriter``.
    """
    if not isinstance(writer, EventWriter):
        raise TypeError(
            f"bridge_stdlib_logging() takes an EventWriter, not {type(writer).__name__}"
        )
    target = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
    handler = next(
        (
            existing
            for existing in target.handlers
            if isinstance(existing, EventHandler) and existing.writer is writer
        ),
        None,
    )
    if handler is None:
        handler = EventHandler(writer)
        target.addHandler(handler)
    if set_level:
        lowest = _LOWEST_LEVEL[writer.verbosity]
        if target.getEffectiveLevel() > lowest:
            target.setLevel(lowest)
    return handler
