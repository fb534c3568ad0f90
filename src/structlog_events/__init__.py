"""structlog-events: structlog calls as a durable, typed JSON Lines event stream.

Put an ``EventWriter`` last in structlog's processor chain and each log call the
writer's verbosity keeps becomes an ``Event``, one JSON line in
``output_dir/events.jsonl``.
"""

from __future__ import annotations

from ._event import Event, new_event_id
from ._options import Overflow, WriteMode
from ._stats import WriterStats
from ._verbosity import VerbosityLevel
from ._writer import EventWriter

__all__ = [
    "Event",
    "EventWriter",
    "Overflow",
    "VerbosityLevel",
    "WriteMode",
    "WriterStats",
    "new_event_id",
]
