"""A structlog bound logger that drops, at the call, what the writer would drop.

structlog's ``make_filtering_bound_logger`` makes the methods of filtered levels
a bare ``return None``, so a filtered call costs almost nothing.  A writer
decides by verbosity instead, and a record can raise its own level with a
``verbosity`` key or through ``event_verbosity``, so a method cannot be made a
bare no-op.  The bound logger built here comes close: a method whose default
level the writer drops only checks for those two ways out before returning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from structlog.typing import FilteringBoundLogger

from ._verbosity import METHOD_VERBOSITY, VerbosityLevel

if TYPE_CHECKING:
    from ._writer import EventWriter


def make_filtering_bound_logger(writer: EventWriter) -> type[FilteringBoundLogger]:
    """Return a bound logger class that drops what *writer* drops before any processor runs.

    Use it as ``wrapper_class`` when the writer is the only destination of the
    records (with ``passthrough=True`` and a renderer after the writer, the
    renderer would not see the dropped calls either)::

        structlog.configure(
            processors=[structlog.contextvars.merge_contextvars, writer],
            wrapper_class=structlog_events.make_filtering_bound_logger(writer),
            cache_logger_on_first_use=True,
        )

    A call whose method's default level the writer drops (``debug`` is DETAIL,
    ``info`` ACTION) returns at once, unless it carries a ``verbosity`` key or
    its event name has a level in ``writer.event_verbosity``: those go through
    the processors as usual, and the writer decides.  A call whose
    ``verbosity`` key names a level the writer drops returns at once too,
    whatever its method.  The writer's verbosity is
    read once, here: build the class again after changing writers.

    Args:
        writer: the writer whose verbosity and ``event_verbosity`` decide.
    """
    base: type[Any] = structlog.make_filtering_bound_logger(logging.DEBUG)
    may_be_kept = frozenset(
        name for name, level in writer.event_verbosity.items() if writer.keeps(level)
    )
    # A verbosity= key wins over the method and over event_verbosity, in the
    # writer too, so a call naming a dropped level is dropped here.  The usual
    # spellings make it one set lookup (a VerbosityLevel hashes as its value);
    # any other spelling goes on to the writer, which drops it there.
    dropped_names = frozenset(
        spelling
        for level in VerbosityLevel
        if not writer.keeps(level)
        for spelling in (level.value, level.value.lower(), level.value.title())
    )
    overrides: dict[str, Callable[..., Any]] = {}
    for method, level in METHOD_VERBOSITY.items():
        if not hasattr(base, method):
            continue
        if not writer.keeps(level):
            overrides[method] = _dropping_method(getattr(base, method), may_be_kept, dropped_names)
        elif dropped_names:
            overrides[method] = _keeping_method(getattr(base, method), dropped_names)
    name = f"EventFilteringBoundLogger{writer.verbosity.value.title()}"
    return type(name, (base,), overrides)


def _dropping_method(
    method: Callable[..., Any], may_be_kept: frozenset[str], dropped_names: frozenset[str]
) -> Callable[..., Any]:
    """Wrap a method whose level the writer drops: return at once unless the call may be kept."""

    def dropping(self: Any, event: Any = None, *args: Any, **kw: Any) -> Any:
        if "verbosity" in kw:
            if _names_one_of(kw["verbosity"], dropped_names):
                return None
            return method(self, event, *args, **kw)
        if may_be_kept and (type(event) is not str or event in may_be_kept):
            return method(self, event, *args, **kw)
        return None

    dropping.__name__ = method.__name__
    return dropping


def _keeping_method(
    method: Callable[..., Any], dropped_names: frozenset[str]
) -> Callable[..., Any]:
    """Wrap a method whose level the writer keeps: drop a call whose verbosity= it drops."""

    def keeping(self: Any, event: Any = None, *args: Any, **kw: Any) -> Any:
        if "verbosity" in kw and _names_one_of(kw["verbosity"], dropped_names):
            return None
        return method(self, event, *args, **kw)

    keeping.__name__ = method.__name__
    return keeping


def _names_one_of(value: Any, names: frozenset[str]) -> bool:
    try:
        return value in names
    except TypeError:  # unhashable: the writer reports it and goes by the method
        return False
