"""What a crash can leave at the end of ``events.jsonl``, found when a writer opens it.

Repairs never delete a complete line: a complete line may be acknowledged,
and what looks odd may be another program's.  Only a torn last line (no final
newline) is cut: its writer died mid-write, so it was never acknowledged, and
a later line appended to it would be garbled.  Damage further back (lines that
are not JSON objects: writes a power loss garbled before their ``fsync``, or
lines another program appended) is only *found* here; the file is then rotated
away intact, so that no acknowledged line lands behind it, and the reader
reports the bad lines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import orjson

from ._layout import RECOVERY_SCAN_BYTES
from ._report import report

_TAIL_CHUNK: Final = 64 * 1024


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


def find_damaged_line(fd: int, path: Path, size: int) -> bool:
    """Whether a line among the file's last ``RECOVERY_SCAN_BYTES`` is not a JSON object.

    Only the window is checked: it holds every byte a power loss can have
    left unsynced (see ``_layout``); older lines were fsynced long ago.  A
    damaged line found is reported on stderr.

    Args:
        fd: the file, open for reading, its torn tail already cut.
        path: its name, for the report.
        size: its size.

    Raises:
        OSError: reading failed.
    """
    start = max(0, size - RECOVERY_SCAN_BYTES)
    block = os.pread(fd, size - start, start)
    offset = 0
    if start:
        # The line the window starts inside is not judged: it is old.
        offset = block.find(b"\n") + 1
        if offset == 0:
            return False  # one line longer than the window: nothing to judge
    while offset < len(block):
        end = block.find(b"\n", offset)
        if end < 0:
            break
        if not _is_json_object(block[offset:end]):
            report(
                f"damaged:{path}",
                f"{path}: the line at byte {start + offset} is not an event (a write a power "
                "loss garbled, or another program's line); the file was rotated away intact "
                "and a fresh one begun (read it with strict=False; `structlog-events "
                "validate` lists the bad lines)",
            )
            return True
        offset = end + 1
    return False


def _cut(fd: int, size: int) -> None:
    os.ftruncate(fd, size)
    os.fsync(fd)


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False
