"""Exceptions raised by structlog-events."""

from __future__ import annotations

from pathlib import Path


class CorruptEventError(ValueError):
    """A line of an event file is not a valid ``Event``.

    Raised by ``read_events`` and ``follow_events`` (unless ``strict=False``)
    for a line that is not valid JSON, does not validate as an ``Event``, or is
    the unterminated last line of a rotated file; and for a compressed file
    whose data is damaged.  A ``ValueError`` because it is bad data, not a
    failure of the reader.

    Attributes:
        path: the file holding the line.
        line_number: the line's number in that file, counting from 1.
        reason: what is wrong with the line.
    """

    def __init__(self, path: Path, line_number: int, reason: str) -> None:
        self.path = path
        self.line_number = line_number
        self.reason = reason
        super().__init__(
            f"{path}:{line_number}: {reason} (read with strict=False to skip such lines; "
            "`structlog-events validate` lists every one)"
        )
