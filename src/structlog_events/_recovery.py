"""Repairs of ``events.jsonl`` after a crash: torn and damaged tails, interrupted rotations.

Nothing repaired here was ever acknowledged as durable: a torn last line's
writer died mid-write, lines a power loss damaged were never fsynced, and a
file left under two names by an interrupted rotation is already a rotated file.
``EventFile`` calls these with the directory lock held, when it opens the file
and when it finds the file changed by another writer.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Final

import orjson

from ._report import report

_TAIL_CHUNK: Final = 64 * 1024

#: Bytes at the end of ``events.jsonl`` checked line by line when a writer opens
#: it.  Writes a power loss can damage are those not yet fsynced: one call's
#: lines in SYNC mode, at most ``_sinks.SYNC_EVERY_BYTES`` in queued mode.
RECOVERY_SCAN_BYTES: Final = 4 * 1024 * 1024


def repair_tail(fd: int, path: Path, size: int) -> int:
    """Cut a torn last line (no final newline) back to the last complete line.

    Such a line was never acknowledged: its writer died mid-write.

    Args:
        fd: the file, open for reading and writing.
        path: its name, for the report.
        size: its size.

    Returns:
        The size after the repair.

    Raises:
        OSError: reading, cutting or the ``fsync`` after the cut failed.
    """
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        block = os.pread(fd, end - start, start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    _cut(fd, end)
    report(
        f"torn:{path}",
        f"{path}: cut {size - end} bytes of an incomplete last line "
        "(a write interrupted by a crash, never acknowledged)",
    )
    return end


def cut_damaged_lines(fd: int, path: Path, size: int) -> int:
    """Cut the file back to before its first damaged line among the last lines.

    A power loss can leave writes that were never fsynced as garbage or
    zeros; every line after such a write was never fsynced either, so
    cutting from the first line that is not a JSON object loses nothing
    acknowledged.  Only the last ``RECOVERY_SCAN_BYTES`` are checked: older
    lines were fsynced long ago.

    Args:
        fd: the file, open for reading and writing, its tail already repaired.
        path: its name, for the report.
        size: its size.

    Returns:
        The size after the cut.

    Raises:
        OSError: reading, cutting or the ``fsync`` after the cut failed.
    """
    start = max(0, size - RECOVERY_SCAN_BYTES)
    block = os.pread(fd, size - start, start)
    offset = 0
    if start:
        # The line the window starts inside is not judged: it is old.
        offset = block.find(b"\n") + 1
        if offset == 0:
            return size  # one line longer than the window: nothing to judge
    while offset < len(block):
        end = block.find(b"\n", offset)
        if end < 0:
            break
        if not _is_json_object(block[offset:end]):
            _cut(fd, start + offset)
            report(
                f"damaged:{path}",
                f"{path}: cut {size - start - offset} bytes from a damaged line on "
                "(writes a power loss interrupted before their fsync, never acknowledged)",
            )
            return start + offset
        offset = end + 1
    return size


def repair_interrupted_rotation(path: Path, directory: Path, rotated: re.Pattern[str]) -> bool:
    """Unlink *path* if it is also linked under a rotated name (crash mid-rotation).

    Args:
        path: ``events.jsonl``.
        directory: its directory.
        rotated: the pattern of rotated names.

    Returns:
        ``True`` if *path* was unlinked: the caller makes that durable with an
        ``fsync`` of the directory.

    Raises:
        OSError: the directory cannot be listed or the name unlinked.
    """
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if info.st_nlink < 2 or not stat.S_ISREG(info.st_mode):
        return False
    with os.scandir(directory) as entries:
        leftover = any(
            rotated.match(entry.name) and entry.inode() == info.st_ino for entry in entries
        )
    if leftover:
        os.unlink(path)
    return leftover


def _cut(fd: int, size: int) -> None:
    os.ftruncate(fd, size)
    os.fsync(fd)


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False
