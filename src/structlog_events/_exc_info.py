"""A record's ``exc_info`` as a structured traceback, the way ``dict_tracebacks`` renders it.

The writer renders ``exc_info`` itself, so a chain needs no exception
processor: ``data["exception"]`` becomes a list of dicts, one per exception of
the chain (the one logged first, then its cause or context), each with
``exc_type``, ``exc_value``, ``exc_notes``, ``syntax_error``, ``is_cause``,
``frames`` (``filename``, ``lineno``, ``name``), ``is_group`` and
``exceptions`` (the members of an ``ExceptionGroup``, each such a list).
That is exactly what ``structlog.processors.dict_tracebacks`` writes without
locals, because it is structlog's own ``ExceptionDictTransformer`` at work.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, Final

from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import ExcInfo

from ._handlers import reraise_if_from_a_signal_handler

#: structlog's transformer, without locals (they may hold secrets and are slow to render).
_to_dicts: Final = ExceptionDictTransformer(show_locals=False, use_rich=False)


def structured_exception(exc_info: Any) -> list[dict[str, Any]] | None:
    """Return the traceback *exc_info* stands for, as structlog's ``dict_tracebacks`` would.

    Args:
        exc_info: a record's ``exc_info`` value: an exception, a
            ``sys.exc_info()`` tuple, or any true value for the exception
            being handled.

    Returns:
        ``None`` when *exc_info* stands for no exception (``False``, or
        ``True`` outside an ``except`` block), as structlog ignores it then.
    """
    resolved = _resolve(exc_info)
    if resolved is None:
        return None
    try:
        return _to_dicts(resolved)
    except Exception as error:
        reraise_if_from_a_signal_handler(error)
        # structlog already survives a __str__ that raises; this is for the
        # rest (a __str__ raising an exception whose own __str__ raises,
        # __notes__ that are not a list): the same frames, under a stand-in
        # value and without the chained exceptions.
        exc_type, _, traceback = resolved
        stand_in = RuntimeError(f"<{exc_type.__qualname__} could not be turned into text>")
        return _to_dicts((exc_type, stand_in, traceback))


def _resolve(exc_info: Any) -> ExcInfo | None:
    """The ``(type, value, traceback)`` that *exc_info* stands for, as structlog reads it."""
    if isinstance(exc_info, BaseException):
        return (type(exc_info), exc_info, exc_info.__traceback__)
    if (
        isinstance(exc_info, tuple)
        and len(exc_info) == 3
        and isinstance(exc_info[0], type)
        and issubclass(exc_info[0], BaseException)
        and isinstance(exc_info[1], BaseException)
        and (exc_info[2] is None or isinstance(exc_info[2], TracebackType))
    ):
        return exc_info
    if exc_info:
        current = sys.exc_info()
        return None if current[1] is None else current
    return None
