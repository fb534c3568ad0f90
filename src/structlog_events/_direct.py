"""A bound logger's way straight to the writer that ends its processor chain.

structlog's ``info`` calls ``_proxy_to_logger``, which calls ``_process_event``:
the context is copied, each processor runs, the writer (last) writes the record
and raises ``DropEvent``, and ``_proxy_to_logger`` catches it.  The way here
does the same work without the two call layers, the two re-packings of the
keyword arguments, the exception raised and caught, and the ``getattr`` of the
logger's method: the record is built as ``_process_event`` builds it, the
processors before the writer run as structlog runs them, and the writer is
handed the record through ``EventWriter._as_processor``, which says
``Ended.ENDED`` where ``__call__`` raises ``DropEvent``.

Whatever this way would do differently from structlog is left to structlog,
decided at each call from what the call and the chain are:

- positional arguments (``log.info("x %s", 1)``): structlog interpolates them;
- a ``method_name`` keyword, which structlog's ``_proxy_to_logger`` refuses
  with a ``TypeError``;
- a chain that does not end with an ``EventWriter`` (a renderer after a
  ``passthrough=True`` writer, another destination, structlog's
  ``capture_logs``) or that is not a list or tuple;
- a subclass of the bound logger class, which may have its own
  ``_process_event`` or ``_proxy_to_logger``.

A call that the writer does not end (``passthrough=True``, a rendered record,
a ``ProcessorFormatter`` record) ends as structlog ends it, in structlog's own
``_proxy_to_logger``, with what the writer handed on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from structlog import BoundLoggerBase, DropEvent

from ._chain import Ended
from ._writer import EventWriter

#: The body of a log method: ``(self, event, args, kw)`` with *kw* the call's
#: own keyword dict, passed on as it is, not re-packed.
Core: TypeAlias = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


def direct_core(owner: type[Any], method_name: str, structlog_method: Callable[..., Any]) -> Core:
    """Return the body of the level method *method_name* of the class *owner*.

    Args:
        owner: the bound logger class the method is for: its instances take
            the direct way, those of a subclass structlog's.
        method_name: the name structlog passes to the processors (``"info"``
            for ``info`` and ``msg``).
        structlog_method: structlog's own method, for the calls left to it.
    """

    def to_writer(self: Any, event: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        processors = self._processors
        if (
            args
            or "method_name" in kw
            or self.__class__ is not owner
            or (type(processors) is not list and type(processors) is not tuple)
            or not processors
            or type(processors[-1]) is not EventWriter
        ):
            return structlog_method(self, event, *args, **kw)
        writer: EventWriter = processors[-1]
        logger = self._logger
        # What structlog's _proxy_to_logger does, in its order, DropEvent caught
        # wherever it comes from.
        try:
            event_dict = self._context.copy()
            if type(event_dict) is dict:
                event_dict.update(kw)
            else:  # a context_class of one's own: called as structlog calls it
                event_dict.update(**kw)
            if event is not None:
                event_dict["event"] = event
            for processor in processors[:-1]:
                event_dict = processor(logger, method_name, event_dict)
            handed_on = writer._as_processor(method_name, event_dict)
        except DropEvent:
            return None
        if handed_on is Ended.ENDED:
            return None
        return finish_as_structlog(logger, method_name, handed_on)

    return to_writer


def finish_as_structlog(logger: Any, method_name: str, handed_on: Any) -> Any:
    """End a call as structlog ends it when its last processor returned *handed_on*.

    structlog's own code does it: its ``_proxy_to_logger`` on a chain whose one
    processor returns *handed_on*, so *logger*'s method gets what it would
    get from structlog (or structlog raises its ``ValueError`` for a value it
    cannot pass on).
    """

    def last_processor(_logger: Any, _method_name: str, _event_dict: Any) -> Any:
        return handed_on

    return BoundLoggerBase(logger, (last_processor,), {})._proxy_to_logger(method_name)
