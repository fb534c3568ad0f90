"""The layout of an event directory: every name the library gives a file, and their order.

An event directory holds:

- ``events.jsonl``, the live file, appended to by every writer of the directory;
- ``events_<UTC %Y-%m-%d_%H-%M-%S-%f>.jsonl``, the rotated files, named when
  they were rotated, so their names sort in write order; ``….jsonl.gz`` once
  compressed;
- ``.events_<…>.jsonl.gz.tmp``, an archive being written (a dot name, which no
  reader takes for an event file);
- ``.events.lock``, the file whose ``flock`` every writer takes to append,
  rotate or compress.

This module is the one place that spells these names; the writer, retention,
the reader and the command line ask it.  It also holds the figures of the
durability contract that are derived from each other.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from ._handlers import reraise_if_from_a_signal_handler

CURRENT_NAME: Final = "events.jsonl"
LOCK_NAME: Final = ".events.lock"
ARCHIVE_SUFFIX: Final = ".gz"

#: What a directory's event files are called, for messages.
EVENT_FILE_NAMES: Final = f"{CURRENT_NAME} or events_<time>.jsonl[.gz]"

_STAMP_FORMAT: Final = "%Y-%m-%d_%H-%M-%S-%f"
_STAMP: Final = r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}-\d{6}"

#: A rotated file's name, plain or compressed; group 1 is the plain name.
ROTATED_PATTERN: Final = re.compile(rf"^(events_({_STAMP})\.jsonl)(?:\.gz)?$")
#: An archive being written; group 1 is the plain name of the file it compresses.
TEMP_ARCHIVE_PATTERN: Final = re.compile(rf"^\.(events_{_STAMP}\.jsonl)\.gz\.tmp$")

#: Bytes a queued writer gathers into one append at most.
BATCH_BYTES: Final = 1024 * 1024

#: Bytes the live file may grow past the last ``fsync`` a writer knows of
#: before that writer fsyncs it again (queued writers also fsync whenever their
#: queue runs empty).  The growth counts every writer's lines, and a writer
#: knows only its own fsyncs, so after any append fewer than this many bytes
#: are unsynced, however many processes share the directory.
SYNC_EVERY_BYTES: Final = 1024 * 1024

#: The most a power loss can find unsynced: the bound above, plus the append
#: that was under way.
MAX_UNSYNCED_BYTES: Final = SYNC_EVERY_BYTES + BATCH_BYTES

#: Bytes at the end of ``events.jsonl`` a writer checks for damage when it
#: opens the file: what a power loss can have left unsynced, twice over.
RECOVERY_SCAN_BYTES: Final = 2 * MAX_UNSYNCED_BYTES


def rotated_name(stamp: datetime) -> str:
    """The rotated name for a rotation at *stamp* (an aware datetime, written in UTC)."""
    return f"events_{stamp.astimezone(UTC).strftime(_STAMP_FORMAT)}.jsonl"


def rotation_time(name: str) -> datetime | None:
    """When the rotated file *name* (plain or compressed) was rotated; ``None`` for other names."""
    match = ROTATED_PATTERN.match(name)
    if match is None:
        return None
    return datetime.strptime(match.group(2), _STAMP_FORMAT).replace(tzinfo=UTC)


def archive_name(plain_name: str) -> str:
    """The name of the compressed copy of the rotated file *plain_name*."""
    return plain_name + ARCHIVE_SUFFIX


def temp_archive_name(plain_name: str) -> str:
    """The name an archive of *plain_name* is written under before it is complete."""
    return f".{archive_name(plain_name)}.tmp"


def is_event_file_name(name: str) -> bool:
    """Whether *name* is a name the library gives an event file (live, rotated or archive)."""
    return name == CURRENT_NAME or ROTATED_PATTERN.match(name) is not None


@dataclass(frozen=True, slots=True)
class RotatedFile:
    """A rotated file: plain, compressed, or both while it is being compressed.

    Attributes:
        key: its plain name, ``events_<UTC time>.jsonl``; keys sort by rotation time.
        plain: the ``.jsonl`` path, if present when listed.
        compressed: the ``.jsonl.gz`` path, if present when listed.
        inode: inode number of the plain file, 0 if there is none.
    """

    key: str
    plain: Path | None
    compressed: Path | None
    inode: int


@dataclass(frozen=True, slots=True)
class Listing:
    """What one look at a directory found under event file names.

    Attributes:
        rotated: the rotated files that are regular files, oldest first.
        strays: entries named like rotated files that are not regular files
            (a directory, FIFO, device or symbolic link): never written,
            read or deleted by the library.
    """

    rotated: list[RotatedFile]
    strays: list[Path]


def list_rotated(directory: Path, *, after: str = "") -> Listing:
    """List the rotated files of *directory*, oldest first; nothing if it does not exist.

    Args:
        directory: the event directory.
        after: list only files whose plain name sorts after this one (a reader
            that has read up to there need not pay for the rest).

    Raises:
        OSError: the directory exists but cannot be listed.
    """
    plain: dict[str, int] = {}
    compressed: set[str] = set()
    strays: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return Listing([], [])
    for entry in entries:
        match = ROTATED_PATTERN.match(entry.name)
        if match is None or match.group(1) <= after:
            continue
        try:
            regular = entry.is_file(follow_symlinks=False)
        except OSError as error:
            reraise_if_from_a_signal_handler(error)
            continue  # gone since the listing
        if not regular:
            strays.append(Path(entry.path))
        elif entry.name.endswith(ARCHIVE_SUFFIX):
            compressed.add(match.group(1))
        else:
            plain[entry.name] = entry.inode()
    files = [
        RotatedFile(
            key=key,
            plain=directory / key if key in plain else None,
            compressed=directory / archive_name(key) if key in compressed else None,
            inode=plain.get(key, 0),
        )
        for key in sorted(plain.keys() | compressed)
    ]
    return Listing(files, sorted(strays))


def next_rotated_name(directory: Path, now: datetime, *, after: str = "") -> str:
    """The name for a rotation now: later than every rotated name in *directory* and *after*.

    Names sort in write order even when the clock has gone back: a rotation
    then takes the microsecond after the newest name instead of its own time.
    The caller holds the directory lock, so no other writer takes the name.

    Args:
        directory: the event directory.
        now: the current time.
        after: a name the result must also follow (the caller's last rotation).

    Raises:
        OSError: the directory cannot be listed.
    """
    newest = after
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if name > newest and (match := ROTATED_PATTERN.match(name)) is not None:
                newest = max(newest, match.group(1))
    name = rotated_name(now)
    newest_time = rotation_time(newest)
    if name > newest or newest_time is None:
        return name
    return rotated_name(newest_time + timedelta(microseconds=1))


def event_files(directory: Path) -> list[Path]:
    """The event files of *directory* in write order: rotated files oldest first, then the live one.

    A rotated file present both plain and compressed (compression under way)
    is listed once, plain.
    """
    files: list[Path] = [
        path
        for file in list_rotated(directory).rotated
        if (path := file.plain or file.compressed) is not None
    ]
    current = directory / CURRENT_NAME
    if current.is_file():
        files.append(current)
    return files
