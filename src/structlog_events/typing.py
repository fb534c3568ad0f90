"""Extension points of structlog-events, as Protocols."""

from __future__ import annotations

from typing import Protocol


class Sink(Protocol):
    """**Protocol:** where ``EventWriter`` hands each encoded line.

    The writer picks its sink once, from ``mode``: ``SyncSink`` writes and
    fsyncs in the caller's thread, ``QueuedSink`` queues for a writer thread.
    A sink never raises out of ``submit``: what it cannot write it counts.
    """

    def submit(self, line: bytes) -> None:
        """Take one complete JSON line (ending in ``\\n``)."""

    def flush(self, timeout: float | None = None) -> bool:
        """Return once every line submitted so far is written and fsynced.

        Returns ``False`` if *timeout* seconds passed first.
        """

    def close(self, timeout: float | None = None) -> bool:
        """Flush, then release the file; later submits are counted as failed.

        Returns ``False`` if *timeout* seconds passed before everything was written.
        """
