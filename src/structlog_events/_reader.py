"""Reading an event directory back: ``read_events`` and ``follow_events``.

Events are read in write order: the rotated files oldest first (their names
sort by the UTC time of their rotation, compressed ``.jsonl.gz`` files among
them), then the live ``events.jsonl``.  Lines are split on ``b"\\n"`` only,
never with ``str.splitlines()``, which would also split on the U+2028 that
orjson leaves raw inside strings.

Reading goes on safely while writers write, rotate and compress.  The live
file is read through one open descriptor, so a rotation never loses its end.
While that descriptor is open, the file's rotated name is recognised by its
inode (an open file's inode cannot be reused), and its compressed copy by its
first bytes.  Every file read is remembered by its first bytes, never by its
inode (a deleted file's inode is reused): the writer makes every file's first
line unique, as log shippers expect, so a file met again (under its rotated
name, compressed, or still as ``events.jsonl`` after an interrupted rotation)
is not read twice.  ``_scan`` holds the machinery.

Several directories or files read together are merged by timestamp, each
stream keeping its own order: a k-way merge that holds one line of each
stream at a time.

Given models (``model``, ``models``), each line is read as the model of its
event type (see ``_models``); without, as an ``Event``.
"""

from __future__ import annotations

import heapq
import os
import threading
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeAlias, TypedDict, overload

from typing_extensions import TypeVar, Unpack

from . import _lifecycle
from ._event_model import Event
from ._models import EventModels
from ._query import event_filter
from ._scan import (
    CAUGHT_UP,
    CaughtUp,
    LineParser,
    LineProblem,
    ScanItem,
    ScannedLine,
    parse_line,
    scan,
    scan_file,
)
from ._verbosity import VerbosityLevel
from .exceptions import CorruptEventError

#: A writer's directory or one event file, as a path.
Source: TypeAlias = str | os.PathLike[str]

#: Seconds ``read_events`` waits for this process's own writers on a directory
#: to write what they queued before it reads.
OWN_WRITERS_TIMEOUT: Final = 10.0

#: Problems an ``EventStream`` keeps in ``problems``; the counters go on counting.
MAX_KEPT_PROBLEMS: Final = 1000

#: The type of the events a stream yields: ``Event``, or the model read with.
_E = TypeVar("_E", bound=Event, default=Event)
_M = TypeVar("_M", bound=Event)


class EventFilters(TypedDict, total=False):
    """The filters ``read_events`` and ``follow_events`` take, as keyword arguments."""

    event_types: Collection[str] | None
    verbosity: VerbosityLevel | str | None
    level: str | int | None
    where: Mapping[str, Any] | None
    since: datetime | None
    until: datetime | None
    simulation_id: str | None
    strict: bool


class FollowOptions(EventFilters, total=False):
    """The options of ``follow_events`` beyond the filters."""

    from_start: bool
    stop: threading.Event | None
    poll_interval: float


class EventStream(Iterator[_E]):
    """The events read by ``read_events`` and ``follow_events``.

    An iterator of ``Event`` (or of the model read with: ``EventStream[SimEvent]``)
    that also counts the lines it skipped.  Stopping early (``break``,
    ``close()``, leaving a ``with`` block) closes the files it holds open.

    Attributes:
        torn_lines: unterminated last lines of the live file that were skipped.
        corrupt_lines: corrupt lines met (skipped with ``strict=False``).
        invalid_lines: events that are not valid as their model, read with
            models (skipped with ``strict=False``).
        problems: the first ``MAX_KEPT_PROBLEMS`` torn, corrupt or invalid
            lines, in order.
    """

    def __init__(
        self,
        items: Generator[ScanItem, None, None],
        keep: Callable[[Event], bool],
        *,
        strict: bool,
    ) -> None:
        self._items = items
        self._keep = keep
        self._strict = strict
        self.torn_lines = 0
        self.corrupt_lines = 0
        self.invalid_lines = 0
        self.problems: list[LineProblem] = []

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> _E:
        """Return the next event the filters keep.

        Raises:
            CorruptEventError: a corrupt or invalid line, with ``strict=True``.
            StopIteration: no more events (``read_events``), or the follow was stopped.
        """
        keep = self._keep
        for item in self._items:
            if isinstance(item, ScannedLine):
                if keep(item.event):
                    return item.event  # type: ignore[return-value]  # read as _E
            elif isinstance(item, LineProblem):
                self._count(item)
                if self._strict and not item.torn:
                    raise CorruptEventError(item.path, item.line_number, item.reason)
        raise StopIteration

    def _count(self, problem: LineProblem) -> None:
        if problem.torn:
            self.torn_lines += 1
        elif problem.invalid:
            self.invalid_lines += 1
        else:
            self.corrupt_lines += 1
        if len(self.problems) < MAX_KEPT_PROBLEMS:
            self.problems.append(problem)

    def close(self) -> None:
        """Stop reading and close the open files; idempotent."""
        self._items.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@overload
def read_events(
    source: Source | Iterable[Source],
    *,
    model: None = None,
    models: Mapping[str, type[Event]] | None = None,
    **filters: Unpack[EventFilters],
) -> EventStream[Event]: ...


@overload
def read_events(
    source: Source | Iterable[Source],
    *,
    model: type[_M],
    models: Mapping[str, type[_M]] | None = None,
    **filters: Unpack[EventFilters],
) -> EventStream[_M]: ...


def read_events(
    source: Source | Iterable[Source],
    *,
    model: type[Event] | None = None,
    models: Mapping[str, type[Event]] | None = None,
    event_types: Collection[str] | None = None,
    verbosity: VerbosityLevel | str | None = None,
    level: str | int | None = None,
    where: Mapping[str, Any] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    simulation_id: str | None = None,
    strict: bool = True,
) -> EventStream[Any]:
    """Return every event of *source* in write order, each validated as ``Event`` or its model.

    *source* is a writer's directory, one event file (``events.jsonl``, a
    rotated ``events_<time>.jsonl[.gz]``, any ``.jsonl`` or ``.jsonl.gz``
    file), or a list of them.  A directory's rotated files come first, oldest
    first, ``.jsonl.gz`` ones read transparently, then ``events.jsonl``.
    Every event written before the call is read; events written while
    reading may be too.  The writers of this process on a directory read are
    flushed first (``OWN_WRITERS_TIMEOUT`` seconds at most), so events logged
    just before the call, even in queued mode, are read too.  Files of other
    names (the ``.events.lock`` lock file, temporary files) are ignored.

    Several sources are merged in timestamp order: each keeps its own write
    order, and of events with equal timestamps the one of the source listed
    first comes first.  The merge reads each source lazily, one line ahead.

    The unterminated last line of ``events.jsonl`` (or of a plain file read on
    its own) is skipped and counted in ``torn_lines``, never an error.  Any
    other line that is not a valid event raises ``CorruptEventError`` naming
    its file and line, or with ``strict=False`` is skipped and counted in
    ``corrupt_lines``.

    With *model* or *models*, each event is an instance of the model of its
    type.  A line that is an ``Event`` but not a valid instance of its model
    (one the writer found invalid and kept with ``data["_invalid"]``, or one
    written with another model) is handled like a corrupt line: it raises
    ``CorruptEventError`` naming the file, the line, the model and the fields,
    or with ``strict=False`` is skipped and counted in ``invalid_lines``.
    Without models every line is an ``Event``: an invalid one with its
    ``data["_invalid"]``, one written with a model with that model's fields in
    ``model_extra``.

    Args:
        source: a directory or event file, or several.
        model: read each event as this subclass of ``Event`` (the writer's
            ``event_model``), unless *models* names one for its type.
        models: a model per event type (the writer's ``event_models``).
        event_types: keep only events of these types.
        verbosity: keep only events at this level or less verbose, as a writer
            at that level would (a ``VerbosityLevel`` or its name in any case).
        level: keep only events logged at this level or more severe (``"error"``,
            any case, or a stdlib number such as ``logging.ERROR``); ``exception``
            counts as ``error``.  Events with no level are dropped; events whose
            level no one knows (a custom stdlib level) are kept.
        where: keep only events whose every key has the given value, compared
            as text: ``{"agent_id": "a1", "config.region": "eu", "turn": 3}``.
            A key is an event field (``event_type``, ``level``, a field of the
            event's model, ...) or a dotted path into ``data`` (optionally
            prefixed ``data.``); a value that is not a string is compared as
            its JSON text (``3``, ``true``, ``null``).
        since: keep only events at or after this time (a naive datetime is
            local time, as Python takes it).
        until: keep only events before this time.
        simulation_id: keep only events of this simulation.
        strict: raise on a corrupt or invalid line (``True``) or skip it (``False``).

    Raises:
        FileNotFoundError: a source does not exist.
        ValueError: a source is a file not named ``.jsonl`` or ``.jsonl.gz``,
            or not a regular file; or *source* is an empty list.
        TypeError, ValueError: a filter has the wrong type or value, or a
            model is not one the writer could write (see ``EventWriter``).
        All are raised by this call, before any reading.
    """
    paths = [check_source(path) for path in _paths(source)]
    parse = line_parser(model, models)
    keep = event_filter(
        event_types=event_types,
        verbosity=verbosity,
        level=level,
        where=where,
        since=since,
        until=until,
        simulation_id=simulation_id,
    )
    for path in paths:
        _lifecycle.flush_directory(path if path.is_dir() else path.parent, OWN_WRITERS_TIMEOUT)
    return EventStream(scan_sources(paths, parse), keep, strict=strict)


@overload
def follow_events(
    output_dir: Source,
    *,
    model: None = None,
    models: Mapping[str, type[Event]] | None = None,
    **options: Unpack[FollowOptions],
) -> EventStream[Event]: ...


@overload
def follow_events(
    output_dir: Source,
    *,
    model: type[_M],
    models: Mapping[str, type[_M]] | None = None,
    **options: Unpack[FollowOptions],
) -> EventStream[_M]: ...


def follow_events(
    output_dir: Source,
    *,
    model: type[Event] | None = None,
    models: Mapping[str, type[Event]] | None = None,
    event_types: Collection[str] | None = None,
    verbosity: VerbosityLevel | str | None = None,
    level: str | int | None = None,
    where: Mapping[str, Any] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    simulation_id: str | None = None,
    strict: bool = True,
    from_start: bool = True,
    stop: threading.Event | None = None,
    poll_interval: float = 0.25,
) -> EventStream[Any]:
    """Yield the events of *output_dir* as they are written, across rotations, like ``tail -F``.

    Each event is yielded once, in write order, including those in files
    rotated (and compressed) between two looks at the directory.  An
    unterminated last line is waited for until its newline arrives.  The
    directory and ``events.jsonl`` may appear later.  What retention deletes
    (``max_files``, ``max_total_size``) before the follower reaches it is
    missed: give a follower that may fall behind room in the retention limits.

    Following ends in one of two ways: *stop* is set, and the iterator ends
    after yielding every event complete on disk when it saw *stop* (so a writer
    closed before *stop* is set has all its events read); or the consumer stops
    iterating (``break``, ``close()``), which closes the open files.  Without
    *stop* it runs until then.

    One directory is followed: a merge in timestamp order would have to wait
    for every directory's next event before yielding any.

    Args:
        output_dir: the writer's directory.
        model, models, event_types, verbosity, level, where, since, until,
            simulation_id, strict: as for ``read_events``.
        from_start: begin with the events already in the directory (``True``)
            or only with those written from now on (``False``).
        stop: set it (from any thread) to end the iteration.
        poll_interval: seconds between looks at the directory when there is
            nothing new; *stop* is noticed within one interval.

    Raises:
        TypeError, ValueError: a filter or model has the wrong type or value,
            *output_dir* is not one path, or *poll_interval* is not positive;
            raised by this call.
    """
    if not isinstance(output_dir, str | os.PathLike):
        raise TypeError(
            f"follow_events follows one directory, not {type(output_dir).__name__}; "
            "read several with read_events([...]), or follow each in its own thread"
        )
    if not isinstance(poll_interval, int | float) or not poll_interval > 0:
        raise ValueError(
            f"poll_interval must be a positive number of seconds, not {poll_interval!r}"
        )
    parse = line_parser(model, models)
    keep = event_filter(
        event_types=event_types,
        verbosity=verbosity,
        level=level,
        where=where,
        since=since,
        until=until,
        simulation_id=simulation_id,
    )
    items = scan(
        Path(output_dir),
        follow=True,
        from_start=from_start,
        stop=stop,
        poll_interval=poll_interval,
        parse=parse,
    )
    return EventStream(items, keep, strict=strict)


def line_parser(model: Any, models: Any) -> LineParser:
    """How lines are read: as ``Event``, or, given models, as the model of each event type.

    Raises:
        TypeError, ValueError: a model is not one the writer could write.
    """
    if model is None and models is None:
        return parse_line
    return EventModels(model, models).parse_line


def check_source(path: Path) -> Path:
    """Return *path* if it can be read as events: a directory, or a ``.jsonl[.gz]`` file.

    Raises:
        FileNotFoundError: *path* does not exist.
        ValueError: *path* is a file of another name, or not a regular file.
    """
    if path.is_dir():
        return path
    if not path.exists():
        raise FileNotFoundError(f"no event directory or file {str(path)!r}")
    if not path.name.endswith((".jsonl", ".jsonl.gz")):
        raise ValueError(
            f"{str(path)!r} is not an event file: give a writer's output_dir, "
            "or a .jsonl or .jsonl.gz file"
        )
    if not path.is_file():
        raise ValueError(f"{str(path)!r} is not a regular file: give a writer's output_dir")
    return path


def scan_sources(
    paths: Sequence[Path], parse: LineParser = parse_line
) -> Generator[ScanItem, None, None]:
    """Scan each checked source (see ``check_source``) and merge them by timestamp.

    Yields every line once, read by *parse*, and ``CAUGHT_UP`` once at the end.
    """
    scans = [
        scan(path, follow=False, parse=parse) if path.is_dir() else scan_file(path, parse)
        for path in paths
    ]
    return scans[0] if len(scans) == 1 else merge_scans(scans)


def merge_scans(
    scans: Sequence[Generator[ScanItem, None, None]],
) -> Generator[ScanItem, None, None]:
    """Merge finished scans by event timestamp, each keeping its order, then ``CAUGHT_UP``.

    Of lines with equal timestamps, the one of the scan listed first comes
    first.  A problem line keeps its place in its own scan: it comes out right
    after the line before it.  Closing the merge closes every scan.
    """
    try:
        keyed = [_keyed_by_time(items) for items in scans]
        for _, item in heapq.merge(*keyed, key=_time_key):
            yield item
        yield CAUGHT_UP
    finally:
        for items in scans:
            items.close()


def _keyed_by_time(items: Iterator[ScanItem]) -> Iterator[tuple[datetime, ScanItem]]:
    """Pair each line with its merge key: its event's time, or for a problem the last time seen."""
    last = _EARLIEST
    for item in items:
        if isinstance(item, ScannedLine):
            last = item.event.timestamp
        elif isinstance(item, CaughtUp):
            continue
        yield last, item


def _time_key(pair: tuple[datetime, ScanItem]) -> datetime:
    return pair[0]


_EARLIEST: Final = datetime.min.replace(tzinfo=UTC)


def _paths(source: Source | Iterable[Source]) -> list[Path]:
    """The paths *source* names: itself, or each of a list."""
    if isinstance(source, str | os.PathLike):
        return [Path(source)]
    try:
        paths = [Path(path) for path in source]
    except TypeError:
        raise TypeError(
            "read_events reads a directory or event file given as a str or PathLike, "
            f"or a list of them, not {source!r}"
        ) from None
    if not paths:
        raise ValueError("read_events needs at least one directory or event file, not []")
    return paths
