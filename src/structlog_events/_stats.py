"""Counters of what a writer did with the events it was given."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import NamedTuple


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
        invalid: events whose values did not validate as their event model,
            written as a plain ``Event`` with the errors in ``data["_invalid"]``.
    """

    written: int = 0
    dropped: int = 0
    failed: int = 0
    fallbacks: int = 0
    rotations: int = 0
    bytes: int = 0
    invalid: int = 0


class FileCounts(NamedTuple):
    """What an ``EventFile`` did with the lines handed to it (it keeps these itself).

    Attributes:
        written: lines written, less those a failed ``fsync`` lost afterwards.
        failed: lines that could not be written, or whose ``fsync`` failed.
        bytes: bytes of the complete lines written.
        rotations: files rotated away.
    """

    written: int
    failed: int
    bytes: int
    rotations: int


class Counters:
    """The counters behind ``WriterStats`` that are not the file's, with their lock.

    The file counts what became of the lines it was handed (``FileCounts``);
    these are the events that never reached it: dropped, failed before (a
    record that could not be mapped, a line after ``close()``), and how the
    others were encoded.  Every change goes through ``add``, under the
    counters' own lock, so the totals are exact with any number of threads.
    The lock is re-entrant and each change is a few additions with no call in
    between: a signal handler that logs while the thread it interrupted holds
    the lock counts its own events, and neither count is lost.
    """

    __slots__ = ("_lock", "dropped", "failed", "fallbacks", "invalid")

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.dropped = 0
        self.failed = 0
        self.fallbacks = 0
        self.invalid = 0

    def add(
        self, *, dropped: int = 0, failed: int = 0, fallbacks: int = 0, invalid: int = 0
    ) -> None:
        """Add to the counters, all in one step."""
        with self._lock:
            self.dropped += dropped
            self.failed += failed
            self.fallbacks += fallbacks
            self.invalid += invalid

    def snapshot(self, file: FileCounts) -> WriterStats:
        """Return the current values, with the file's, as a frozen ``WriterStats``."""
        with self._lock:
            return WriterStats(
                written=file.written,
                dropped=self.dropped,
                failed=self.failed + file.failed,
                fallbacks=self.fallbacks,
                rotations=file.rotations,
                bytes=file.bytes,
                invalid=self.invalid,
            )

    def after_fork_in_child(self) -> None:
        """A fresh lock: another thread of the parent may have held it at ``fork()``."""
        self._lock = threading.RLock()
