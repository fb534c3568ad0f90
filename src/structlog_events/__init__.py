"""structlog-events: structlog calls as a durable, typed JSON Lines event stream.

Put an ``EventWriter`` last in structlog's processor chain and each log call the
writer's verbosity keeps becomes an ``Event``, one JSON line in
``output_dir/events.jsonl``.

POSIX only (Linux, macOS): the event file relies on ``fcntl`` locks, ``fsync``
of directories and atomic ``rename`` over open files.
"""

from __future__ import annotations

import sys

if sys.platform == "win32":  # before any module that imports fcntl
    raise ImportError(
        "structlog-events runs on POSIX systems only (Linux, macOS): its event files "
        "rely on fcntl locks and POSIX rename and fsync semantics, which Windows lacks. "
        "Use it under WSL on Windows."
    )

from ._event import Event, new_event_id
from ._filtering import make_filtering_bound_logger
from ._options import Overflow, WriteMode
from ._reader import EventStream, follow_events, read_events
from ._scan import LineProblem
from ._signals import install_signal_handlers
from ._stats import WriterStats
from ._stdlib import EventHandler, bridge_stdlib_logging
from ._verbosity import VerbosityLevel
from ._writer import EventWriter
from .exceptions import CorruptEventError

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
