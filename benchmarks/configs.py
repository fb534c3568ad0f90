"""The configurations the suite compares, one setup function each.

Every configuration writes the same realistic event: a name and six fields (two
strings, an int, a float, a small dict, a short list).  The int is the event's
sequence number, which is how the output verification finds each event once.
Each setup function configures its logger in a fresh process, in a fresh
directory, and returns a ``Target``: the per-call ``emit(seq)`` and the
``finish()`` that returns once everything is on disk (closed, flushed, drained).

Peers are imported inside their setup function, so the registry itself (and the
configurations built only on structlog-events, structlog and orjson) runs
without the ``bench`` dependency group.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import orjson

#: Rotation size of every configuration that rotates: 16 MiB, so a 100k-event
#: run (about 30 MB) rotates at least once and pays for its rotation checks.
ROTATE_BYTES: Final = 16 * 1024 * 1024

#: The name every configuration logs its event under.
EVENT_NAME: Final = "order_placed"


class Kind(StrEnum):
    """What a configuration is measured for, and which of ours it is compared with."""

    #: Buffered or queued writers: compared with our queued (ASYNC) mode.
    THROUGHPUT = "throughput"
    #: An fsync before the call returns: compared with our SYNC mode.
    DURABLE = "durable"
    #: Calls dropped by a level filter: nothing is written.
    FILTER = "filter"
    #: Our queued mode writing your own event model: compared with the same call
    #: written as a plain ``Event``.
    MODEL = "model"


@dataclass(frozen=True, slots=True)
class Target:
    """A configured logger, ready to be timed.

    Attributes:
        emit: logs the event with sequence number ``seq``, the way a user writes it.
        finish: returns once every event emitted is written (and, for ours, fsynced).
    """

    emit: Callable[[int], None]
    finish: Callable[[], object]


@dataclass(frozen=True, slots=True)
class Configuration:
    """One way of logging the event, and how to find the event again in its output.

    Attributes:
        name: short id used on the command line and in the results.
        label: what the tables call it.
        kind: what it is measured for.
        setup: builds the ``Target`` in the child process, writing to a directory.
        seq_of: the sequence number in one parsed output line.
        expected_lines: lines per event the output should hold (0 for filters).
        ours: one of structlog-events' own configurations.
        selftest: a deliberately broken configuration for the suite's own tests,
            never part of a default run.
    """

    name: str
    label: str
    kind: Kind
    setup: Callable[[Path], Target]
    seq_of: Callable[[Any], int]
    expected_lines: int = 1
    ours: bool = False
    selftest: bool = False


REGISTRY: dict[str, Configuration] = {}


def _register(
    name: str,
    label: str,
    kind: Kind,
    seq_of: Callable[[Any], int],
    **options: Any,
) -> Callable[[Callable[[Path], Target]], Callable[[Path], Target]]:
    def add(setup: Callable[[Path], Target]) -> Callable[[Path], Target]:
        REGISTRY[name] = Configuration(name, label, kind, setup, seq_of, **options)
        return setup

    return add


def _seq_in_data(line: Any) -> int:
    return int(line["data"]["seq"])


def _seq_at_top(line: Any) -> int:
    return int(line["seq"])


def _seq_in_loguru_extra(line: Any) -> int:
    return int(line["record"]["extra"]["seq"])


def _no_output(line: Any) -> int:
    raise AssertionError("a filtered configuration wrote a line")


# -- structlog-events ------------------------------------------------------------


def recommended_structlog_configuration(writer: Any) -> None:
    """Configure structlog the way the README recommends for an ``EventWriter``.

    The wrapper class drops a call the writer would drop before structlog
    builds a record: ``structlog_events.make_filtering_bound_logger(writer)``
    where the library has it, else structlog's own
    ``make_filtering_bound_logger(logging.INFO)``, which matches a writer at
    ACTION (it drops DETAIL, the level of ``debug()``).  ``merge_contextvars``
    keeps ``bind_contextvars`` working; there is no timestamper, level adder or
    renderer, because the writer stamps, levels and encodes each event itself.
    """
    import structlog

    import structlog_events

    library_wrapper = getattr(structlog_events, "make_filtering_bound_logger", None)
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, writer],
        wrapper_class=(
            library_wrapper(writer)
            if library_wrapper is not None
            else structlog.make_filtering_bound_logger(logging.INFO)
        ),
        # The writer is terminal (it raises DropEvent): the logger is never called.
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=True,
    )


def _keyword_emit(log: Any, method: str = "info") -> Callable[[int], None]:
    """The event as keyword arguments to ``log.<method>``: structlog and loguru alike."""
    info = getattr(log, method)

    def emit(seq: int) -> None:
        info(
            EVENT_NAME,
            user="alice",
            action="checkout",
            seq=seq,
            amount=99.95,
            context={"region": "eu-west-1", "retries": 2},
            tags=["new", "mobile"],
        )

    return emit


def _events_target(directory: Path, **options: Any) -> Target:
    import structlog

    from structlog_events import EventWriter

    writer = EventWriter(directory, "bench", max_file_size=ROTATE_BYTES, **options)
    recommended_structlog_configuration(writer)
    log = structlog.get_logger().bind()
    return Target(_keyword_emit(log), writer.close)


@_register(
    "events-async",
    'structlog-events ASYNC (queued, overflow="block")',
    Kind.THROUGHPUT,
    _seq_in_data,
    ours=True,
)
def _events_async(directory: Path) -> Target:
    # "block": a log call waits for room rather than drop when the queue is full,
    # the setting for a program that must not lose events in a burst.
    return _events_target(directory, mode="async", overflow="block")


@_register(
    "events-async-drop",
    "structlog-events ASYNC, default options (10k queue, overflow=drop)",
    Kind.THROUGHPUT,
    _seq_in_data,
    ours=True,
)
def _events_async_drop(directory: Path) -> Target:
    return _events_target(directory, mode="async")


@_register(
    "events-sync",
    "structlog-events SYNC (fsync, group commit)",
    Kind.DURABLE,
    _seq_in_data,
    ours=True,
)
def _events_sync(directory: Path) -> Target:
    return _events_target(directory, mode="sync")


# -- structlog-events with your own event model ------------------------------------


def _sim_event_model(*, checked: bool = False) -> Any:
    """The simulation framework's event model: typed top-level fields beside the envelope.

    *checked* adds a model validator of its own, which has the writer validate
    and serialize each event whole.
    """
    from pydantic import Field, model_validator

    from structlog_events import Event

    class SimEvent(Event):
        turn_number: int = Field(ge=0)
        agent_id: str | None = None
        caused_by: list[str] | None = None
        description: str | None = Field(default=None, max_length=500)

    if not checked:
        return SimEvent

    class CheckedSimEvent(SimEvent):
        @model_validator(mode="after")
        def _caused_by_others(self) -> Any:
            if self.caused_by and self.event_id in self.caused_by:
                raise ValueError("an event cannot cause itself")
            return self

    return CheckedSimEvent


def _sim_target(directory: Path, **options: Any) -> Target:
    """The benchmark's event, logged by a simulation's agent in a turn: both bound."""
    import structlog

    from structlog_events import EventWriter

    writer = EventWriter(
        directory, "bench", max_file_size=ROTATE_BYTES, overflow="block", **options
    )
    recommended_structlog_configuration(writer)
    log = structlog.get_logger().bind(turn_number=7, agent_id="a1")
    return Target(_keyword_emit(log), writer.close)


@_register(
    "events-async-sim",
    "structlog-events ASYNC, turn_number and agent_id bound, in data (Event)",
    Kind.MODEL,
    _seq_in_data,
    ours=True,
)
def _events_async_sim(directory: Path) -> Target:
    return _sim_target(directory)


@_register(
    "events-async-model",
    "structlog-events ASYNC, turn_number and agent_id bound, event_model=SimEvent",
    Kind.MODEL,
    _seq_in_data,
    ours=True,
)
def _events_async_model(directory: Path) -> Target:
    return _sim_target(directory, event_model=_sim_event_model())


@_register(
    "events-async-model-whole",
    "structlog-events ASYNC, turn_number and agent_id bound, SimEvent with a model_validator",
    Kind.MODEL,
    _seq_in_data,
    ours=True,
)
def _events_async_model_whole(directory: Path) -> Target:
    return _sim_target(directory, event_model=_sim_event_model(checked=True))


# -- structlog's performance recipe -------------------------------------------------


def _structlog_recipe(file: Any, level: int = logging.INFO) -> Any:
    """structlog's "as fast as it gets" configuration (docs/performance.md)."""
    import structlog

    structlog.configure(
        cache_logger_on_first_use=True,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        logger_factory=structlog.BytesLoggerFactory(file),
    )
    return structlog.get_logger().bind()


@_register(
    "structlog-recipe",
    "structlog recipe + orjson + BytesLogger (no rotation)",
    Kind.THROUGHPUT,
    _seq_at_top,
)
def _structlog_recipe_target(directory: Path) -> Target:
    file = (directory / "structlog.jsonl").open("wb")
    return Target(_keyword_emit(_structlog_recipe(file)), file.close)


# -- the standard library ---------------------------------------------------------


def _stdlib_logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger("bench")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def _json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    formatter: logging.Formatter = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    return formatter


def _rotating_handler(directory: Path, handler_class: type[Any] | None = None) -> Any:
    from logging.handlers import RotatingFileHandler

    # Enough backups that rotation never deletes an event the run wrote.
    handler = (handler_class or RotatingFileHandler)(
        directory / "stdlib.jsonl", maxBytes=ROTATE_BYTES, backupCount=10_000
    )
    handler.setFormatter(_json_formatter())
    return handler


def _stdlib_emit(logger: logging.Logger) -> Callable[[int], None]:
    info = logger.info

    def emit(seq: int) -> None:
        info(
            EVENT_NAME,
            extra={
                "user": "alice",
                "action": "checkout",
                "seq": seq,
                "amount": 99.95,
                "context": {"region": "eu-west-1", "retries": 2},
                "tags": ["new", "mobile"],
            },
        )

    return emit


@_register(
    "stdlib-rotating",
    "stdlib RotatingFileHandler + python-json-logger",
    Kind.THROUGHPUT,
    _seq_at_top,
)
def _stdlib_rotating(directory: Path) -> Target:
    handler = _rotating_handler(directory)
    return Target(_stdlib_emit(_stdlib_logger(handler)), handler.close)


@_register(
    "stdlib-queue",
    "stdlib QueueHandler + QueueListener + rotating handler",
    Kind.THROUGHPUT,
    _seq_at_top,
)
def _stdlib_queue(directory: Path) -> Target:
    import queue
    from logging.handlers import QueueHandler, QueueListener

    records: queue.Queue[logging.LogRecord] = queue.Queue()
    handler = _rotating_handler(directory)
    listener = QueueListener(records, handler)
    listener.start()

    def finish() -> None:
        listener.stop()  # writes what is queued, then joins the thread
        handler.close()

    return Target(_stdlib_emit(_stdlib_logger(QueueHandler(records))), finish)


def _fsync_rotating_handler_class() -> type[Any]:
    from logging.handlers import RotatingFileHandler

    class FsyncRotatingFileHandler(RotatingFileHandler):
        """A rotating handler that fsyncs after each record (``emit`` flushes each)."""

        def flush(self) -> None:
            super().flush()
            if self.stream is not None:
                os.fsync(self.stream.fileno())

    return FsyncRotatingFileHandler


@_register(
    "stdlib-fsync",
    "stdlib rotating handler + fsync per record",
    Kind.DURABLE,
    _seq_at_top,
)
def _stdlib_fsync(directory: Path) -> Target:
    handler = _rotating_handler(directory, _fsync_rotating_handler_class())
    return Target(_stdlib_emit(_stdlib_logger(handler)), handler.close)


# -- loguru -------------------------------------------------------------------------


def _loguru_target(directory: Path, **options: Any) -> Target:
    from loguru import logger

    logger.remove()
    logger.add(directory / "loguru.jsonl", serialize=True, rotation=ROTATE_BYTES, **options)
    # remove() drains an enqueue=True sink's queue, joins its thread and closes.
    return Target(_keyword_emit(logger), logger.remove)


@_register(
    "loguru-rotating",
    "loguru serialize=True + rotation",
    Kind.THROUGHPUT,
    _seq_in_loguru_extra,
)
def _loguru_rotating(directory: Path) -> Target:
    return _loguru_target(directory)


@_register(
    "loguru-enqueue",
    "loguru serialize=True + rotation + enqueue=True",
    Kind.THROUGHPUT,
    _seq_in_loguru_extra,
)
def _loguru_enqueue(directory: Path) -> Target:
    return _loguru_target(directory, enqueue=True)


@_register(
    "loguru-fsync",
    "loguru serialize=True, sink with fsync per record",
    Kind.DURABLE,
    _seq_in_loguru_extra,
)
def _loguru_fsync(directory: Path) -> Target:
    from loguru import logger

    fd = os.open(directory / "loguru.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def durable_sink(message: str) -> None:
        os.write(fd, message.encode())
        os.fsync(fd)

    logger.remove()
    logger.add(durable_sink, serialize=True)

    def finish() -> None:
        logger.remove()
        os.close(fd)

    return Target(_keyword_emit(logger), finish)


# -- floors: what the hardware and orjson allow ---------------------------------------


def _plain_line(seq: int) -> bytes:
    return orjson.dumps(
        {
            "event": EVENT_NAME,
            "user": "alice",
            "action": "checkout",
            "seq": seq,
            "amount": 99.95,
            "context": {"region": "eu-west-1", "retries": 2},
            "tags": ["new", "mobile"],
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )


def _append_only(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


#: Events per write() of the batched floor.
FLOOR_BATCH: Final = 1000


@_register(
    "floor-batched",
    "floor: orjson.dumps + one write per 1000 events",
    Kind.THROUGHPUT,
    _seq_at_top,
)
def _floor_batched(directory: Path) -> Target:
    fd = _append_only(directory / "floor.jsonl")
    local = threading.local()
    buffers: list[list[bytes]] = []
    buffers_lock = threading.Lock()

    def own_buffer() -> list[bytes]:
        buffer: list[bytes] = []
        with buffers_lock:
            buffers.append(buffer)
        local.buffer = buffer
        return buffer

    def emit(seq: int) -> None:
        buffer = getattr(local, "buffer", None)
        if buffer is None:
            buffer = own_buffer()
        buffer.append(_plain_line(seq))
        if len(buffer) >= FLOOR_BATCH:
            os.write(fd, b"".join(buffer))
            buffer.clear()

    def finish() -> None:
        for buffer in buffers:
            if buffer:
                os.write(fd, b"".join(buffer))
                buffer.clear()
        os.close(fd)

    return Target(emit, finish)


@_register(
    "raw-fsync",
    "floor: os.write + os.fsync per event",
    Kind.DURABLE,
    _seq_at_top,
)
def _raw_fsync(directory: Path) -> Target:
    fd = _append_only(directory / "raw.jsonl")

    def emit(seq: int) -> None:
        os.write(fd, _plain_line(seq))
        os.fsync(fd)

    return Target(emit, lambda: os.close(fd))


# -- filtering: what a dropped call costs ---------------------------------------------


@_register(
    "filter-structlog",
    "structlog recipe: debug() dropped by make_filtering_bound_logger(INFO)",
    Kind.FILTER,
    _no_output,
    expected_lines=0,
)
def _filter_structlog(directory: Path) -> Target:
    file = (directory / "structlog.jsonl").open("wb")
    return Target(_keyword_emit(_structlog_recipe(file), "debug"), file.close)


@_register(
    "filter-events",
    "structlog-events: debug() dropped by the recommended wrapper_class",
    Kind.FILTER,
    _no_output,
    expected_lines=0,
    ours=True,
)
def _filter_events(directory: Path) -> Target:
    import structlog

    from structlog_events import EventWriter

    writer = EventWriter(directory, "bench", verbosity="ACTION")
    recommended_structlog_configuration(writer)
    return Target(_keyword_emit(structlog.get_logger().bind(), "debug"), writer.close)


@_register(
    "filter-events-verbosity",
    'structlog-events: info(..., verbosity="DETAIL") dropped by the writer',
    Kind.FILTER,
    _no_output,
    expected_lines=0,
    ours=True,
)
def _filter_events_verbosity(directory: Path) -> Target:
    import structlog

    from structlog_events import EventWriter

    writer = EventWriter(directory, "bench", verbosity="ACTION")
    recommended_structlog_configuration(writer)
    info = structlog.get_logger().bind().info

    def emit(seq: int) -> None:
        info(
            EVENT_NAME,
            verbosity="DETAIL",
            user="alice",
            action="checkout",
            seq=seq,
            amount=99.95,
            context={"region": "eu-west-1", "retries": 2},
            tags=["new", "mobile"],
        )

    return Target(emit, writer.close)


@_register(
    "filter-events-unwrapped",
    "structlog-events: debug() dropped by the writer (no filtering wrapper_class)",
    Kind.FILTER,
    _no_output,
    expected_lines=0,
    ours=True,
)
def _filter_events_unwrapped(directory: Path) -> Target:
    import structlog

    from structlog_events import EventWriter

    writer = EventWriter(directory, "bench", verbosity="ACTION")
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, writer],
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    return Target(_keyword_emit(structlog.get_logger().bind(), "debug"), writer.close)


@_register(
    "noop",
    "reference: the benchmark loop calling an empty function",
    Kind.FILTER,
    _no_output,
    expected_lines=0,
)
def _noop(directory: Path) -> Target:
    def emit(seq: int) -> None:
        pass

    return Target(emit, lambda: None)


# -- the suite's own check ------------------------------------------------------------


@_register(
    "lossy",
    "self-test: loses every 97th event and writes every 89th twice",
    Kind.THROUGHPUT,
    _seq_at_top,
    selftest=True,
)
def _lossy(directory: Path) -> Target:
    fd = _append_only(directory / "lossy.jsonl")

    def emit(seq: int) -> None:
        if seq % 97 == 96:
            return
        line = _plain_line(seq)
        os.write(fd, line + line if seq % 89 == 0 else line)

    return Target(emit, lambda: os.close(fd))


def configurations(*, include_selftest: bool = False) -> Iterator[Configuration]:
    """The registered configurations, in registration order."""
    return (c for c in REGISTRY.values() if include_selftest or not c.selftest)


def reference_of(configuration: Configuration) -> str:
    """Name of our configuration that *configuration*'s ratios are taken against."""
    if configuration.kind is Kind.DURABLE:
        return "events-sync"
    if configuration.kind is Kind.FILTER:
        return "filter-events-verbosity"
    if configuration.kind is Kind.MODEL:
        return "events-async-sim"
    return "events-async"
