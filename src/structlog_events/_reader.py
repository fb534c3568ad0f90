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
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Generator, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from ._event import Event, as_utc
from ._scan import LineProblem, ScanItem, ScannedLine, scan
from ._verbosity import VerbosityLevel
from .exceptions import CorruptEventError

#: Problems an ``EventStream`` keeps in ``problems``; the counters go on counting.
MAX_KEPT_PROBLEMS: Final = 1000


class EventStream(Iterator[Event]):
    """The events of a directory, as returned by ``read_events`` and ``follow_events``.

    An iterator of ``Event`` that also counts the lines it skipped.  Stopping
    early (``break``, ``close()``, leaving a ``with`` block) closes the files
    it holds open.

    Attributes:
        torn_lines: unterminated last lines of the live file that were skipped.
        corrupt_lines: corrupt lines met (skipped with ``strict=False``).
        problems: the first ``MAX_KEPT_PROBLEMS`` torn or corrupt lines, in order.
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
        self.problems: list[LineProblem] = []

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Event:
        """Return the next event the filters keep.

        Raises:
            CorruptEventError: a corrupt line, with ``strict=True``.
            StopIteration: no more events (``read_events``), or the follow was stopped.
        """
        keep = self._keep
        for item in self._items:
            if isinstance(item, ScannedLine):
                if keep(item.event):
                    return item.event
            elif isinstance(item, LineProblem):
                self._count(item)
                if self._strict and not item.torn:
                    raise CorruptEventError(item.path, item.line_number, item.reason)
        raise StopIteration

    def _count(self, problem: LineProblem) -> None:
        if problem.torn:
            self.torn_lines += 1
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


def read_events(
    output_dir: str | os.PathLike[str],
    *,
    event_types: Collection[str] | None = None,
    verbosity: VerbosityLevel | str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    simulation_id: str | None = None,
    strict: bool = True,
) -> EventStream:
    """Return every event of *output_dir* in write order, each validated as ``Event``.

    Rotated files come first, oldest first, ``.jsonl.gz`` ones read
    transparently, then ``events.jsonl``.  Every event written before the
    call is read; events written while reading may be too.  Files of other
    names (the ``.events.lock`` lock file, temporary files) are ignored.

    The unterminated last line of ``events.jsonl`` is skipped and counted in
    ``torn_lines``, never an error.  Any other line that is not a valid event
    raises ``CorruptEventError`` naming its file and line, or with
    ``strict=False`` is skipped and counted in ``corrupt_lines``.

    Args:
        output_dir: the writer's directory.
        event_types: keep only events of these types.
        verbosity: keep only events at this level or less verbose, as a writer
            at that level would (a ``VerbosityLevel`` or its name in any case).
        since: keep only events at or after this time (a naive datetime is
            local time, as Python takes it).
        until: keep only events before this time.
        simulation_id: keep only events of this simulation.
        strict: raise on a corrupt line (``True``) or skip it (``False``).

    Raises:
        FileNotFoundError: *output_dir* does not exist.
        NotADirectoryError: *output_dir* is not a directory.
        TypeError, ValueError: a filter has the wrong type or value; raised by
            this call, before any reading.
    """
    directory = Path(output_dir)
    if not directory.is_dir():
        if directory.exists():
            raise NotADirectoryError(f"{str(directory)!r} is not a directory of event files")
        raise FileNotFoundError(f"no event directory {str(directory)!r}")
    keep = event_filter(
        event_types=event_types,
        verbosity=verbosity,
        since=since,
        until=until,
        simulation_id=simulation_id,
    )
    return EventStream(scan(directory, follow=False), keep, strict=strict)


def follow_events(
    output_dir: str | os.PathLike[str],
    *,
    event_types: Collection[str] | None = None,
    verbosity: VerbosityLevel | str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    simulation_id: str | None = None,
    strict: bool = True,
    from_start: bool = True,
    stop: threading.Event | None = None,
    poll_interval: float = 0.25,
) -> EventStream:
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

    Args:
        output_dir: the writer's directory.
        event_types, verbosity, since, until, simulation_id, strict: as for
            ``read_events``.
        from_start: begin with the events already in the directory (``True``)
            or only with those written from now on (``False``).
        stop: set it (from any thread) to end the iteration.
        poll_interval: seconds between looks at the directory when there is
            nothing new; *stop* is noticed within one interval.

    Raises:
        TypeError, ValueError: a filter has the wrong type or value, or
            *poll_interval* is not positive; raised by this call.
    """
    if not isinstance(poll_interval, int | float) or not poll_interval > 0:
        raise ValueError(
            f"poll_interval must be a positive number of seconds, not {poll_interval!r}"
        )
    keep = event_filter(
        event_types=event_types,
        verbosity=verbosity,
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
    )
    return EventStream(items, keep, strict=strict)


def event_filter(
    *,
    event_types: Collection[str] | None = None,
    verbosity: VerbosityLevel | str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    simulation_id: str | None = None,
) -> Callable[[Event], bool]:
    """Return a predicate that keeps the events matching every given filter.

    Raises:
        TypeError: *event_types* is a single string (pass a list), or *since*
            or *until* is not a datetime.
        ValueError: *verbosity* names no level.
    """
    checks: list[Callable[[Event], bool]] = []
    if event_types is not None:
        if isinstance(event_types, str):
            raise TypeError(
                f"event_types takes a collection of event types, e.g. [{event_types!r}], "
                "not a single string"
            )
        wanted = frozenset(event_types)
        checks.append(lambda event: event.event_type in wanted)
    if verbosity is not None:
        kept = frozenset(
            level for level in VerbosityLevel if level <= VerbosityLevel.parse(verbosity)
        )
        checks.append(lambda event: event.verbosity in kept)
    if since is not None:
        start = _utc_bound(since, "since")
        checks.append(lambda event: event.timestamp >= start)
    if until is not None:
        end = _utc_bound(until, "until")
        checks.append(lambda event: event.timestamp < end)
    if simulation_id is not None:
        checks.append(lambda event: event.simulation_id == simulation_id)
    if not checks:
        return lambda event: True
    if len(checks) == 1:
        return checks[0]
    return lambda event: all(check(event) for check in checks)


def _utc_bound(value: datetime, option: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{option} must be a datetime, not {type(value).__name__}")
    return as_utc(value)
