"""``EventWriter``: the terminal structlog processor, and the public face of a writer."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Callable, Mapping, MutableMapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from structlog import DropEvent
from structlog.typing import ProcessorReturnValue

from . import _lifecycle
from . import _options as options
from ._chain import ChainEnd, Ended
from ._directory import fsync_directory
from ._encode import encode_record
from ._file import EventFile
from ._handlers import reraise_if_from_a_signal_handler
from ._layout import CURRENT_NAME, LOCK_NAME
from ._mapping import RecordMapper
from ._options import Overflow, WriteMode
from ._report import report
from ._retention import Retention
from ._sinks import QueuedSink, SyncSink
from ._stats import Counters, WriterStats
from ._verbosity import VerbosityLevel
from .typing import Sink

if TYPE_CHECKING:
    # pydantic: imported at run time only by a writer given models or events.
    from ._event_model import Event

MiB: Final = 1024 * 1024


class EventWriter:
    """Writes structlog records as typed events, one JSON line each, to ``events.jsonl``.

    Put it last in ``structlog.configure(processors=[...])``: each record the
    writer's verbosity keeps becomes an ``Event`` line in
    ``output_dir/events.jsonl``; then the writer raises ``structlog.DropEvent``
    (or, with ``passthrough=True``, returns the record for a renderer after it).

    ``exc_info`` (``log.exception(...)``, ``exc_info=True``, an exception or a
    ``sys.exc_info()`` tuple) is written as ``data["exception"]``, a structured
    traceback in the form of ``structlog.processors.dict_tracebacks``; no
    exception processor is needed, and one that ran before is kept.  A value
    with a ``__structlog__()`` method is written as what that returns.

    A log call never raises because of the writer: a value JSON cannot hold is
    written through a fallback (``stats.fallbacks``), an event that cannot be
    written is counted (``stats.failed``) and reported once on stderr.

    Args:
        output_dir: directory of the event files; created if missing.
        simulation_id: ``simulation_id`` of events whose record has none.
        verbosity: the most verbose level kept (a ``VerbosityLevel`` or its
            name in any case).
        max_queue_size: events the queue holds in ``ASYNC`` mode.
        max_file_size: bytes at which ``events.jsonl`` is rotated to
            ``events_<UTC time>.jsonl``; no file grows past it unless a single
            line is larger.
        mode: ``WriteMode.ASYNC`` (queued, the default) or ``WriteMode.SYNC``
            (written and fsynced before the log call returns).
        event_verbosity: level per event type, for records without a
            ``verbosity`` key (otherwise the log method decides: debug is
            DETAIL, info ACTION, warning and above MILESTONE).
        overflow: ``"drop"`` (default) or ``"block"`` when the queue is full.
            Callers hand the writer thread the GIL once the queue is half
            full, so a queue only fills when the disk cannot keep up.
        passthrough: return the record instead of raising ``DropEvent``, for
            processors after the writer (a renderer for a console,
            ``ProcessorFormatter.wrap_for_formatter``).  Without it, processors
            placed after the writer never run, which the writer says once on
            stderr at its first call.  Inside ``ProcessorFormatter``'s
            ``processors`` the writer always hands the record on.
        file_mode: permission bits of created files, before the umask.
        rotate_every: also rotate at the first write after each boundary of
            this period (a ``timedelta``), boundaries aligned in UTC: whole
            hours for ``timedelta(hours=1)``, midnight UTC for
            ``timedelta(days=1)``.  Combined with ``max_file_size``: whichever
            comes first.  A file begun before the last boundary (by an earlier
            run, or another process) is rotated at the first write after it.
        max_files: keep at most this many rotated files (plain or gzipped),
            deleting the oldest at each rotation; ``None`` (default) keeps all.
        max_total_size: keep the newest rotated files whose sizes add up to at
            most this many bytes, deleting the older ones at each rotation;
            ``None`` (default) for no limit.
        max_age: delete rotated files rotated longer ago than this (a
            ``timedelta``), by the time in their name, at each rotation and
            when a writer opens the directory.  Only rotated event files of
            ``output_dir`` are ever deleted, never ``events.jsonl``.
        compress: gzip rotated files to ``events_<UTC time>.jsonl.gz`` on a
            background thread (written under a temporary name, fsynced, then
            renamed; the plain file is removed after).  ``close()`` and
            interpreter exit wait for compressions under way.
        event_model: your own subclass of ``Event``, the model of every event
            (unless *event_models* names one for its type): record keys naming
            one of its fields become that field, validated by the model, the
            others go to ``data``; its defaults apply, ``event_id`` and
            ``timestamp`` ones included.  ``None`` (default) for ``Event``.
        event_models: a model per event type, such as
            ``{"agent_decided": DecisionEvent}``.  An event whose values do
            not validate as its model is written as a plain ``Event`` with the
            errors in ``data["_invalid"]``, counted in ``stats.invalid`` and
            said once on stderr.

    Raises:
        ValueError: an option has a value outside its valid range or names,
            ``output_dir`` is a file, or ``events.jsonl`` is not a plain file of
            its own (a symbolic link, FIFO or foreign hard link planted there is
            refused); or a model cannot be written as given (a field with an
            alias, a field named ``event`` or ``exc_info``, record keys the
            writer consumes, an ``Event`` field redefined with another JSON type).
        TypeError: an option has the wrong type (``event_verbosity`` is not a
            mapping, ``passthrough`` not a bool, a size not an int, a model
            not a subclass of ``Event``, ...).
    """

    def __init__(
        self,
        output_dir: str | os.PathLike[str],
        simulation_id: str,
        verbosity: VerbosityLevel | str = VerbosityLevel.ACTION,
        max_queue_size: int = 10_000,
        max_file_size: int = 500 * MiB,
        mode: WriteMode | str = WriteMode.ASYNC,
        *,
        event_verbosity: Mapping[str, VerbosityLevel | str] | None = None,
        overflow: Overflow | str = Overflow.DROP,
        passthrough: bool = False,
        file_mode: int = 0o644,
        rotate_every: timedelta | None = None,
        max_files: int | None = None,
        max_total_size: int | None = None,
        max_age: timedelta | None = None,
        compress: bool = False,
        event_model: type[Event] | None = None,
        event_models: Mapping[str, type[Event]] | None = None,
    ) -> None:
        self.output_dir = options.directory_path(output_dir, "output_dir")
        self.simulation_id = options.text(simulation_id, "simulation_id")
        self.verbosity = options.parse_choice(VerbosityLevel, verbosity, "verbosity")
        self.max_queue_size = options.positive_int(max_queue_size, "max_queue_size", "events")
        self.max_file_size = options.positive_int(max_file_size, "max_file_size", "bytes")
        self.mode = options.parse_choice(WriteMode, mode, "mode")
        self.overflow = options.parse_choice(Overflow, overflow, "overflow")
        self.passthrough = options.flag(passthrough, "passthrough")
        levels = options.levels_by_event_type(event_verbosity, "event_verbosity")
        file_mode = options.permission_bits(file_mode, "file_mode")
        self.rotate_every = options.optional_period(rotate_every, "rotate_every")
        self._models = options.event_models(event_model, event_models)
        self.event_models: Mapping[str, type[Event]] = MappingProxyType(
            self._models.by_type if self._models is not None else {}
        )
        self.event_verbosity: Mapping[str, VerbosityLevel] = MappingProxyType(levels)
        self._chain = ChainEnd(self, passthrough=self.passthrough)
        self._kept = tuple(level for level in VerbosityLevel if level <= self.verbosity)
        self._mapper = RecordMapper(simulation_id, levels)
        self._counters = Counters()
        #: How a record becomes a line: the ``Event`` fast path, or through the models.
        self._encode: Callable[[dict[str, Any]], tuple[bytes, bool]] = encode_record
        if self._models is not None and self._models.typed:
            from ._typed import TypedEncoder

            self._encode = TypedEncoder(self._models, self._counters).encode
        self._retention = Retention(
            self.output_dir,
            max_files=max_files,
            max_total_size=max_total_size,
            max_age=max_age,
            compress=compress,
            file_mode=file_mode,
        )
        _make_directory(self.output_dir)
        try:
            self._file = EventFile(
                self.output_dir,
                max_file_size=self.max_file_size,
                file_mode=file_mode,
                after_rotation=self._retention.after_rotation,
                rotate_every=self.rotate_every,
            )
        except OSError as error:
            self._retention.close(0)
            if error.errno in (errno.ELOOP, errno.EINVAL):
                # ELOOP: a symbolic link; EINVAL: a FIFO, device or foreign hard link.
                raise ValueError(
                    f"{self.output_dir / CURRENT_NAME} (or {LOCK_NAME}) is not a plain "
                    f"file of its own ({error.strerror}); refusing to write through it: "
                    "remove it or choose another output_dir"
                ) from error
            raise
        self._sink: Sink = (
            SyncSink(self._file, self._counters)
            if self.mode is WriteMode.SYNC
            else QueuedSink(
                self._file,
                self._counters,
                max_queue_size=self.max_queue_size,
                overflow=self.overflow,
            )
        )
        self._parts = _lifecycle.Parts(
            directory=_lifecycle.resolved(self.output_dir),
            counters=self._counters,
            sink=self._sink,
            file=self._file,
            retention=self._retention,
        )
        _lifecycle.register(self, self._parts)

    # -- writing ---------------------------------------------------------------

    def write(self, event_dict: Mapping[str, Any], *, method_name: str = "info") -> None:
        """Write a record as an event if the writer's verbosity keeps it.

        What the writer does for each structlog call, without structlog and
        without ``DropEvent``: for code that has a record in hand (a bridge
        from another logging system, a replay, a test).  The record is read
        as structlog's event dict: ``event`` is the event type, ``verbosity``,
        ``level``, ``timestamp``, ``simulation_id`` and ``exc_info`` mean what
        they mean in a log call, every other key goes to ``data``.  The
        record itself is not changed.

        Example::

            writer.write({"event": "order_filled", "order_id": 7})
            writer.write({"event": "disk_low", "free_mb": 3}, method_name="warning")

        Returns once the event is written and fsynced (``WriteMode.SYNC``) or
        queued (``WriteMode.ASYNC``), as a log call does.  Never raises
        because of the record or the disk: a value JSON cannot hold is
        written through a fallback (``stats.fallbacks``); a record that
        cannot be written, or an argument that is not a mapping, is counted
        in ``stats.failed`` and said once on stderr.  Like a log call, it lets
        through what a signal handler raises, wherever it lands
        (``KeyboardInterrupt`` included): the event is then written once or
        not at all.

        Args:
            event_dict: the record, as a processor chain hands it on.
            method_name: the log method the record stands for (``"debug"``,
                ``"info"``, ``"warning"``, ``"error"``, ``"exception"``,
                ``"critical"``): its verbosity unless the record has a
                ``verbosity`` key or ``event_verbosity`` names its type, and
                the event's ``level`` unless the record has one.
        """
        try:
            verbosity = self._mapper.verbosity_of(method_name, event_dict)
            if verbosity not in self._kept:
                return
            record, fallback = self._mapper.to_record(method_name, event_dict, verbosity)
        except Exception as error:
            reraise_if_from_a_signal_handler(error)
            self._counters.add(failed=1)
            self._chain.not_written(event_dict, error)
            return
        try:
            line, encoded_with_fallback = self._encode(record)
        except Exception as error:
            reraise_if_from_a_signal_handler(error)
            self._not_encodable(error)
            return
        if fallback or encoded_with_fallback:
            self._counters.add(fallbacks=1)
        # Outside the try: the sink never raises, so what comes out of it is
        # a signal handler's, raised while the call waited, and the program's.
        self._sink.submit(line)

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> ProcessorReturnValue:
        """Write the record as an event if the verbosity keeps it (``write()``), then drop it.

        Returns:
            the record, unchanged, with ``passthrough=True`` or inside a
            ``ProcessorFormatter``; a rendered record (the writer placed after
            a renderer) is counted failed, said once on stderr, and returned.

        Raises:
            structlog.DropEvent: otherwise; it is how a terminal processor tells
                structlog that the record is handled.
        """
        handed_on = self._as_processor(method_name, event_dict)
        if handed_on is Ended.ENDED:
            raise DropEvent
        return handed_on

    def _as_processor(
        self, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> ProcessorReturnValue | Ended:
        """What ``__call__`` does, with ``Ended.ENDED`` where it raises ``DropEvent``.

        The one place that decides how the writer ends its part of a call:
        ``__call__`` is built on it, and the bound logger of
        ``make_filtering_bound_logger`` calls it when the writer ends its
        chain, so that no exception is raised and caught for every record.
        """
        self.write(event_dict, method_name=method_name)
        # A dict first: the isinstance() of an ABC costs more than the rest of the check.
        if type(event_dict) is not dict and not isinstance(event_dict, MutableMapping):
            return event_dict  # rendered text or a tuple: the logger after the writer wants it
        if self.passthrough or "_from_structlog" in event_dict:  # not ending the chain
            return self._chain.hand_on(event_dict)
        if self._chain.unchecked:
            self._chain.check_configured_chain()
        return Ended.ENDED

    def emit(self, event: Event) -> None:
        """Write a ready-made event, if the writer's verbosity keeps it.

        An event built without an explicit ``verbosity`` gets its level from
        ``event_verbosity`` when its type is there, and is written with it; an
        explicit ``verbosity`` (as every event read back from a file has) wins.
        An instance of your own model (a subclass of ``Event``) is written as
        it is, as ``event.model_dump_json()`` writes it; the writer's models do
        not validate it again.

        Never raises: an argument that is not an ``Event`` is counted as failed.
        """
        from ._event_model import Event  # imported already whenever *event* is one
        from ._typed import encode_event

        if not isinstance(event, Event):
            self._counters.add(failed=1)
            report("emit-type", f"emit() takes an Event, not {type(event).__name__}")
            return
        verbosity = self._mapper.verbosity_of_event(event)
        if verbosity in self._kept:
            try:
                line, fallback = encode_event(event, verbosity)
            except Exception as error:
                reraise_if_from_a_signal_handler(error)
                self._not_encodable(error)
                return
            if fallback:
                self._counters.add(fallbacks=1)
            self._sink.submit(line)

    def keeps(self, verbosity: VerbosityLevel | str) -> bool:
        """Whether this writer keeps events of *verbosity* (a level or its name).

        Raises:
            ValueError: *verbosity* names no level.
        """
        return VerbosityLevel.parse(verbosity) in self._kept

    def _not_encodable(self, error: Exception) -> None:
        self._counters.add(failed=1)
        report(f"encode:{type(error).__name__}", f"event not encodable: {error!r}")

    # -- state -----------------------------------------------------------------

    @property
    def event_model(self) -> type[Event]:
        """The model of events whose type has none in ``event_models``: ``Event`` by default."""
        if self._models is None:
            from ._event_model import Event

            return Event
        return self._models.default

    @property
    def current_file(self) -> Path:
        """``output_dir / "events.jsonl"``, the file being written."""
        return self._file.path

    @property
    def current_size(self) -> int:
        """Bytes of ``current_file`` as of this writer's last write or flush."""
        return self._file.size

    @property
    def stats(self) -> WriterStats:
        """A snapshot of the counters: written, dropped, failed, fallbacks, rotations, bytes."""
        return self._counters.snapshot(self._file.counts())

    # -- lifecycle -------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Return once every event accepted before the call is written and fsynced.

        Safe to call from any thread and from a signal handler.

        Returns:
            ``True`` only if every event this writer accepted before the call
            is in the file and fsynced.  ``False`` if *timeout* seconds passed
            first, or if an event was ever lost (a failed write or ``fsync``,
            see ``stats.failed``): from then on the answer stays ``False``.
        """
        return self._sink.flush(timeout)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Write what is queued, fsync and close the file; then finish compressions.

        Idempotent, and safe from any thread and from a signal handler: every
        call, the first or a later one (even while the first still runs, or
        after one that timed out), waits up to *timeout* for the same outcome.
        With ``compress=True`` it then waits (up to *timeout* again) for the
        compression of rotated files.  Events logged once ``close()`` has
        begun are not written, and are counted as failed.

        Returns:
            ``True`` only if every event accepted before the call is in the file
            and fsynced, and the compressions finished; ``False`` if *timeout*
            seconds passed first (the background threads go on while the
            process lives, and a later ``close()`` or the interpreter's exit
            waits for them again) or an event was lost.
        """
        return _lifecycle.close(self._parts, timeout)

    async def aclose(self) -> bool:
        """``close()`` without blocking the running event loop."""
        return await asyncio.to_thread(self.close)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"EventWriter(output_dir={str(self.output_dir)!r}, "
            f"simulation_id={self.simulation_id!r}, verbosity={self.verbosity.name}, "
            f"mode={self.mode.name})"
        )


def _make_directory(directory: Path) -> None:
    """Create *directory* (and parents), making each new entry durable.

    Raises:
        ValueError: the path exists and is not a directory.
    """
    if directory.exists():
        if not directory.is_dir():
            raise ValueError(f"output_dir {str(directory)!r} exists and is not a directory")
        return
    missing = [directory, *(p for p in directory.parents if not p.exists())]
    directory.mkdir(parents=True, exist_ok=True)
    for created in missing:
        fsync_directory(created.parent)
