"""Reading an event directory back, and checking it whole in one assertion."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from structlog_events import Event, EventWriter, VerbosityLevel
from structlog_events._layout import ARCHIVE_SUFFIX, CURRENT_NAME, ROTATED_PATTERN


def event_files(directory: Path, *, extra: Iterable[Path] = ()) -> list[Path]:
    """Rotated files oldest first, then *extra*, then ``events.jsonl``: write order."""
    rotated = sorted(p for p in directory.iterdir() if ROTATED_PATTERN.match(p.name))
    current = directory / CURRENT_NAME
    return [*rotated, *sorted(extra), *([current] if current.exists() else [])]


def content_of(path: Path) -> bytes:
    """The lines a file holds: a ``.jsonl.gz`` archive decompressed."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(ARCHIVE_SUFFIX) else data


def raw_lines(directory: Path) -> list[bytes]:
    """Every line of every event file, in write order, newline included."""
    lines: list[bytes] = []
    for path in event_files(directory):
        content = content_of(path)
        assert content == b"" or content.endswith(b"\n"), f"{path} ends in a torn line"
        lines.extend(line + b"\n" for line in content.split(b"\n")[:-1])
    return lines


def read_events(directory: Path) -> list[Event]:
    """Every event of the directory, in write order, each validated as ``Event``."""
    return [Event.model_validate_json(line) for line in raw_lines(directory)]


def read_events_of(path: Path) -> list[Event]:
    """Every event of one plain event file, each validated as ``Event``."""
    return [Event.model_validate_json(line) for line in path.read_bytes().split(b"\n")[:-1]]


@dataclass(frozen=True)
class DirectoryReport:
    """What ``check_dir`` found: the events, the files and their sizes."""

    events: list[Event]
    files: list[Path]
    sizes: list[int]


def check_dir(
    directory: Path,
    *,
    max_file_size: int | None = None,
    expected_count: int | None = None,
) -> DirectoryReport:
    """Assert the directory's whole state at once, and return what is in it.

    Every line is one complete, strictly valid JSON object that validates as an
    ``Event``; event ids are unique; no file exceeds *max_file_size* unless it
    holds a single line that alone is larger; no empty rotated file; and there
    are *expected_count* events if given.
    """
    files = event_files(directory)
    problems: list[str] = []
    events: list[Event] = []
    sizes: list[int] = []
    for path in files:
        content = path.read_bytes()
        sizes.append(len(content))
        if content and not content.endswith(b"\n"):
            problems.append(f"{path.name}: torn last line")
        lines = content.split(b"\n")[:-1]
        if path.name != "events.jsonl" and not lines:
            problems.append(f"{path.name}: empty rotated file")
        if max_file_size is not None and len(content) > max_file_size and len(lines) > 1:
            problems.append(f"{path.name}: {len(content)} bytes > {max_file_size}")
        for number, line in enumerate(lines, 1):
            try:
                orjson.loads(line)
                events.append(Event.model_validate_json(line))
            except ValueError as error:
                problems.append(f"{path.name}:{number}: {error}")
    ids = [event.event_id for event in events]
    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} duplicated event ids")
    if expected_count is not None and len(events) != expected_count:
        problems.append(f"{len(events)} events, expected {expected_count}")
    assert not problems, "\n".join(problems)
    return DirectoryReport(events=events, files=files, sizes=sizes)


#: The time of the first event ``write_one_per_level`` writes.
LEVELS_BASE = datetime(2024, 5, 1, 12, tzinfo=UTC)

#: The log level of each event ``write_one_per_level`` writes: not in the order
#: of their verbosity, so a test tells the two apart.
LOG_LEVELS = ("info", "error", "debug", "warning", "exception")


def write_one_per_level(directory: Path) -> Path:
    """Five events, one per level, a minute apart, two types and two simulations.

    Event ``number`` n has verbosity n, log level ``LOG_LEVELS[n]``, type
    ``type{n % 2}``, simulation ``a`` for n < 3 else ``b``; the last one's
    ``note`` holds a space.
    """
    with EventWriter(directory, "a", mode="sync", verbosity="DETAIL") as writer:
        for number, level in enumerate(VerbosityLevel):
            writer.emit(
                Event(
                    event_type=f"type{number % 2}",
                    simulation_id="a" if number < 3 else "b",
                    verbosity=level,
                    level=LOG_LEVELS[number],
                    timestamp=LEVELS_BASE + timedelta(minutes=number),
                    data={"number": number, "note": "two words" if number == 4 else "word"},
                )
            )
    return directory
