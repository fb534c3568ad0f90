"""Counters of what a writer did with the events it was given."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WriterStats:
    """A snapshot of a writer's counters, taken by ``EventWriter.stats``.

    Every event that passed the verbosity filter ends in exactly one of
    ``written``, ``dropped`` or ``failed`` (in queued mode, once ``flush()`` or
    ``close()`` has returned ``True``).

    Attributes:
        written: events whose line is in the file (in SYNC mode: and fsynced).
        dropped: events refused because the queue was full (``overflow="drop"``).
        failed: events that could not be written, or whose ``fsync`` failed.
        fallbacks: events written with a fallback encoding for values that JSON
            cannot hold as they are (``repr``, text for big integers, ...).
        rotations: files this writer rotated away.
        bytes: bytes this writer wrote (complete lines only).
    """

    written: int = 0
    dropped: int = 0
    failed: int = 0
    fallbacks: int = 0
    rotations: int = 0
    bytes: int = 0


class Counters:
    """The mutable counters behind ``WriterStats``.

    Each counter is only changed under the lock of the part that owns it (the
    file's lock for written/failed/rotations/bytes, the queue's for dropped, the
    writer's for fallbacks), so the totals are exact with any number of threads.
    """

    __slots__ = ("bytes", "dropped", "failed", "fallbacks", "rotations", "written")

    def __init__(self) -> None:
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.fallbacks = 0
        self.rotations = 0
        self.bytes = 0

    def snapshot(self) -> WriterStats:
        """Return the current values as a frozen ``WriterStats``."""
        return WriterStats(
            written=self.written,
            dropped=self.dropped,
            failed=self.failed,
            fallbacks=self.fallbacks,
            rotations=self.rotations,
            bytes=self.bytes,
        )
