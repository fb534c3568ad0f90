"""structlog-events: structlog calls as a durable, typed JSON Lines event stream.

Put an ``EventWriter`` last in structlog's processor chain and each log call the
writer's verbosity keeps becomes an ``Event``, one JSON line in
``output_dir/events.jsonl``.

The names that need pydantic (``Event`` and the readers) are loaded on first
use, so a program that only writes plain events never imports pydantic.

POSIX only (Linux, macOS): the event file relies on ``fcntl`` locks, ``fsync``
of directories and atomic ``rename`` over open files.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, Final

if sys.platform == "win32":  # before any module that imports fcntl
    raise ImportError(
        "structlog-events runs on POSIX systems only (Linux, macOS): its event files "
        "rely on fcntl locks and POSIX rename and fsync semantics, which Windows lacks. "
        "Use it under WSL on Windows."
    )

from ._event import new_event_id
from ._filtering import make_filtering_bound_logger
from ._options import Overflow, WriteMode
from ._signals import install_signal_handlers
from ._stats import WriterStats
from ._stdlib import EventHandler, bridge_stdlib_logging
from ._verbosity import VerbosityLevel
from ._writer import EventWriter
from .exceptions import CorruptEventError

if TYPE_CHECKING:
    from ._event_model import Event
    from ._reader import EventStream, follow_events, read_events
    from ._scan import LineProblem

__all__ = [
    "CorruptEventError",
    "Event",
    "EventHandler",
    "EventStream",
    "EventWriter",
    "LineProblem",
    "Overflow",
    "VerbosityLevel",
    "WriteMode",
    "WriterStats",
    "bridge_stdlib_logging",
    "follow_events",
    "install_signal_handlers",
    "make_filtering_bound_logger",
    "new_event_id",
    "read_events",
]

#: Public names loaded on first use, and the module of each: they import pydantic.
_LAZY: Final = {
    "Event": "._event_model",
    "EventStream": "._reader",
    "LineProblem": "._scan",
    "follow_events": "._reader",
    "read_events": "._reader",
}


def __getattr__(name: str) -> Any:
    """Load a name of ``_LAZY`` (and pydantic) on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
