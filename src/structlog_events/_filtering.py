"""A structlog bound logger that drops, at the call, what the writer would drop.

structlog's ``make_filtering_bound_logger`` makes the methods of filtered levels
a bare ``return None``, so a filtered call costs almost nothing.  A writer
decides by verbosity instead, and a record can raise its own level with a
``verbosity`` key or through ``event_verbosity``, so a method cannot be made a
bare no-op.  The bound logger built here comes close: a method whose default
level the writer drops only checks for those two ways out before returning.
Every method structlog's own class has is filtered so: the sync ones
(``debug`` ... ``exception``), their async twins (``adebug`` ... ``aexception``)
and ``log(level, ...)`` / ``alog(level, ...)``.

A sync call that goes on takes the direct way of ``_direct`` to the writer
that ends the chain, when one does.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import structlog
from structlog.typing import FilteringBoundLogger

from ._direct import Core, direct_core
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
    whatever its method.  The async methods (``await log.ainfo(...)``) and
    ``log(level, ...)`` / ``alog(level, ...)`` decide in the same way, as
    structlog's own filtering class builds them.  The writer's verbosity is
    read once, here: build the class again after changing writers.

    A kept call of a sync method (``debug`` ... ``critical``, ``msg``,
    ``exception``, ``log(level, ...)``) whose bound logger's chain ends with
    an ``EventWriter`` goes straight to that writer: the context is merged
    and the processors before the writer run as structlog runs them, but
    structlog does not raise and catch ``DropEvent`` for every call.  What
    is written, and what the call returns or raises, is what structlog's own
    path gives.  Calls with positional arguments (``log.info("x %s", 1)``),
    the async methods, a chain that ends otherwise (``passthrough=True``
    before a renderer) and subclasses of the class take structlog's path.

    Args:
        writer: the writer whose verbosity and ``event_verbosity`` decide.
    """
    base: type[Any] = structlog.make_filtering_bound_logger(logging.DEBUG)
    cls: type[Any] = type(f"EventFilteringBoundLogger{writer.verbosity.value.title()}", (base,), {})
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
    cores = _direct_cores(cls, base)
    overrides: dict[str, Callable[..., Any]] = {}
    checks: dict[int, Callable[..., Any]] = {}  # by stdlib level, for log() and alog()
    for method, level in METHOD_VERBOSITY.items():
        if not hasattr(base, method):
            continue
        structlog_method = getattr(base, method)
        core = cores.get(method)
        gate: Callable[[Core], Callable[..., Any]]
        if not writer.keeps(level):
            gate = functools.partial(
                _dropping_method, may_be_kept=may_be_kept, dropped_names=dropped_names
            )
        elif dropped_names:
            gate = functools.partial(_keeping_method, dropped_names=dropped_names)
        else:
            if core is not None:  # kept whatever the call says: only the direct way
                overrides[method] = _method(core, structlog_method)
            continue
        overrides[method] = _named(
            gate(core if core is not None else _calling(structlog_method)),
            structlog_method.__name__,
        )
        # The same decision, made by the sync method's own code: a check
        # returns None for a dropped call and _GOES_ON for one that goes on.
        check = gate(_goes_on)
        overrides[f"a{method}"] = _checked_coroutine(getattr(base, f"a{method}"), check)
        if method in _STDLIB_LEVELS:
            checks[_STDLIB_LEVELS[method]] = check
    log = _direct_log(base.log, {_STDLIB_LEVELS[n]: cores[n] for n in _STDLIB_LEVELS if n in cores})
    overrides["log"] = _checked_log(log, checks) if checks else log
    if checks:
        overrides["alog"] = _checked_alog(base.alog, checks)
    for attribute, value in overrides.items():
        setattr(cls, attribute, value)
    return cls


#: The method ``log(level, ...)`` calls for each level, as in structlog.
_STDLIB_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def _direct_cores(cls: type[Any], base: type[Any]) -> dict[str, Core]:
    """The body of each level method of *cls* (see ``_direct``), by method name.

    structlog's aliases (``msg``, ``warn``, ``fatal``) are the very function of
    their level's method and pass its name to the processors: they share its
    body here.  A method that structlog does not name after its level is left
    to structlog.
    """
    cores: dict[str, Core] = {}
    for level_name in _STDLIB_LEVELS:
        structlog_method: Callable[..., Any] | None = getattr(base, level_name, None)
        if structlog_method is None or structlog_method.__name__ != level_name:
            continue
        core = direct_core(cls, level_name, structlog_method)
        for method in METHOD_VERBOSITY:
            if getattr(base, method, None) is structlog_method:
                cores[method] = core
    return cores


#: What a check returns for a call that goes on to the processors.
_GOES_ON: Final = object()


def _goes_on(self: Any, event: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> object:
    return _GOES_ON


def _calling(method: Callable[..., Any]) -> Core:
    """The body of a method that is structlog's *method* (``exception``, which calls ``error``)."""

    def call(self: Any, event: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        return method(self, event, *args, **kw)

    return call


def _method(core: Core, structlog_method: Callable[..., Any]) -> Callable[..., Any]:
    """A level method with *core* as its body and the signature of *structlog_method*."""

    def method(self: Any, event: Any, *args: Any, **kw: Any) -> Any:
        return core(self, event, args, kw)

    # structlog's names: a call without its event fails with structlog's message.
    method.__name__ = structlog_method.__name__
    method.__qualname__ = structlog_method.__qualname__
    return method


def _named(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    method.__name__ = name
    return method


def _direct_log(method: Callable[..., Any], cores: dict[int, Core]) -> Callable[..., Any]:
    """``log(level, event, ...)`` by the body of the level's method; other levels as structlog."""

    def log(self: Any, level: Any, event: Any, *args: Any, **kw: Any) -> Any:
        core = cores.get(level) if type(level) is int else None
        if core is None:  # NOTSET, a level of one's own, or not an int: structlog decides
            return method(self, level, event, *args, **kw)
        return core(self, event, args, kw)

    log.__name__ = method.__name__
    log.__qualname__ = method.__qualname__
    return log


def _checked_coroutine(method: Callable[..., Any], check: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an async method (``ainfo``): return at once if its sync twin would drop the call."""

    async def checked(self: Any, event: Any = None, *args: Any, **kw: Any) -> Any:
        if check(self, event, *args, **kw) is None:
            return None
        return await method(self, event, *args, **kw)

    checked.__name__ = method.__name__
    return checked


def _checked_log(method: Callable[..., Any], checks: dict[int, Callable[..., Any]]) -> Any:
    """Wrap ``log(level, event, ...)``: drop the call as the level's own method would."""

    def log(self: Any, level: int, event: Any = None, *args: Any, **kw: Any) -> Any:
        if _drops(checks, level, self, event, args, kw):
            return None
        return method(self, level, event, *args, **kw)

    return log


def _checked_alog(method: Callable[..., Any], checks: dict[int, Callable[..., Any]]) -> Any:
    """Wrap ``alog(level, event, ...)``: drop the call as the level's own method would."""

    async def alog(self: Any, level: int, event: Any = None, *args: Any, **kw: Any) -> Any:
        if _drops(checks, level, self, event, args, kw):
            return None
        return await method(self, level, event, *args, **kw)

    return alog


def _drops(
    checks: dict[int, Callable[..., Any]],
    level: int,
    self: Any,
    event: Any,
    args: tuple[Any, ...],
    kw: dict[str, Any],
) -> bool:
    """Whether the method of *level* drops the call; a level without one lets it through."""
    check = checks.get(level)
    return check is not None and check(self, event, *args, **kw) is None


def _dropping_method(
    core: Core, *, may_be_kept: frozenset[str], dropped_names: frozenset[str]
) -> Callable[..., Any]:
    """A method whose level the writer drops: return at once unless the call may be kept."""

    def dropping(self: Any, event: Any = None, *args: Any, **kw: Any) -> Any:
        if "verbosity" in kw:
            if _names_one_of(kw["verbosity"], dropped_names):
                return None
            return core(self, event, args, kw)
        if may_be_kept and (type(event) is not str or event in may_be_kept):
            return core(self, event, args, kw)
        return None

    return dropping


def _keeping_method(core: Core, *, dropped_names: frozenset[str]) -> Callable[..., Any]:
    """A method whose level the writer keeps: drop a call whose verbosity= it drops."""

    def keeping(self: Any, event: Any = None, *args: Any, **kw: Any) -> Any:
        if "verbosity" in kw and _names_one_of(kw["verbosity"], dropped_names):
            return None
        return core(self, event, args, kw)

    return keeping


def _names_one_of(value: Any, names: frozenset[str]) -> bool:
    try:
        return value in names
    except TypeError:  # unhashable: the writer reports it and goes by the method
        return False
