"""How a line reaches the file: in the caller's thread, or through a queue.

``SyncSink`` writes and fsyncs before ``submit`` returns.  ``QueuedSink`` puts
the line on a bounded queue that a daemon thread drains in batches.  Both follow
the ``Sink`` protocol; the writer picks one when it is built.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections import deque
from typing import Final

from ._file import EventFile
from ._options import Overflow
from ._report import report
from ._stats import Counters


class SyncSink:
    """Writes and fsyncs each line in the caller's thread before returning.

    Concurrent callers share ``fsync`` calls (group commit, see
    ``EventFile.sync_through``): each returns once an ``fsync`` that started
    after its line was written has completed.
    """

    def __init__(self, event_file: EventFile) -> None:
        self._file = event_file

    def submit(self, line: bytes) -> None:
        seq = self._file.append([line])
        if seq:
            self._file.sync_through(seq)

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self, timeout: float | None = None) -> bool:
        self._file.close()
        return True


class _Flush:
    """Queue marker: the writer thread syncs the file, then sets ``done``."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class _Stop(_Flush):
    """Queue marker: like ``_Flush``, then the writer thread closes the file and ends."""

    __slots__ = ()


#: Lines the writer thread gathers into one append (one ``write()`` per file).
BATCH_LINES: Final = 4096


class QueuedSink:
    """Queues lines for a daemon writer thread; ``submit`` returns at once.

    The thread starts with the first line (there is no ``start()`` to forget)
    and works in plain blocking code, in other threads and under a running
    asyncio loop alike.  It writes what it finds queued in batches, and fsyncs
    whenever the queue runs empty.  Lines still queued at normal interpreter
    exit are written by an ``atexit`` hook; after ``fork()`` the child starts
    with an empty queue (the parent's lines are the parent's to write) and its
    own thread.

    Producers append to a ``deque`` without taking a lock; the thread is only
    woken (one ``Event.set``) when it went idle.
    """

    def __init__(
        self,
        event_file: EventFile,
        counters: Counters,
        *,
        max_queue_size: int,
        overflow: Overflow,
    ) -> None:
        self._file = event_file
        self._counters = counters
        self._max_queue_size = max_queue_size
        self._block = overflow is Overflow.BLOCK
        self._init_threading()
        _live_sinks.add(self)

    def _init_threading(self) -> None:
        self._queue: deque[bytes | _Flush] = deque()
        self._wakeup = threading.Event()
        self._room = threading.Condition(threading.Lock())
        self._count_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._idle = False
        self._waiting_for_room = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- Sink ------------------------------------------------------------------

    def submit(self, line: bytes) -> None:
        if self._closed:
            self._file.append([line])  # counted as failed: the file is closed
            return
        queue = self._queue
        if len(queue) >= self._max_queue_size and not self._make_room():
            return
        queue.append(line)
        if self._thread is None:
            self._start()
        if self._idle:
            self._wakeup.set()

    def flush(self, timeout: float | None = None) -> bool:
        thread = self._thread
        if thread is None or not thread.is_alive():
            return True  # nothing was queued, or close() has written it all
        marker = _Flush()
        self._put_marker(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = None) -> bool:
        if self._closed:
            return True
        self._closed = True
        if self._thread is None:
            self._file.close()
            return True
        marker = _Stop()
        self._put_marker(marker)
        if marker.done.wait(timeout):
            self._thread.join(timeout)
            return True
        report(
            "close-timeout",
            f"close() timed out with {len(self._queue)} events still queued; the "
            "writer thread goes on writing them while the process lives",
        )
        return False

    # -- producers -------------------------------------------------------------

    def _make_room(self) -> bool:
        """Drop the event (``False``) or wait for room in the queue (``True``)."""
        if not self._block:
            with self._count_lock:
                self._counters.dropped += 1
                dropped = self._counters.dropped
            report(
                "queue-full",
                f"queue full ({self._max_queue_size} events): {dropped} events dropped "
                "so far; raise max_queue_size or use overflow='block'",
                every=10.0,
            )
            return False
        if threading.current_thread() is self._thread:
            return True  # never wait for ourselves
        with self._room:
            self._waiting_for_room += 1
            try:
                while len(self._queue) >= self._max_queue_size:
                    thread = self._thread
                    if thread is None or not thread.is_alive():
                        break  # nobody left to make room: let the queue grow
                    self._wakeup.set()
                    self._room.wait(0.1)
            finally:
                self._waiting_for_room -= 1
        return True

    def _put_marker(self, marker: _Flush) -> None:
        self._queue.append(marker)
        self._wakeup.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._run, name="structlog-events-writer", daemon=True)
            thread.start()
            self._thread = thread

    # -- the writer thread -----------------------------------------------------

    def _run(self) -> None:
        queue, file = self._queue, self._file
        unsynced = False
        while True:
            if not queue:
                if unsynced:
                    file.sync_through(file.written_seq)
                    unsynced = False
                self._idle = True
                if not queue:
                    self._wakeup.wait(1.0)
                    self._wakeup.clear()
                self._idle = False
                continue
            batch: list[bytes] = []
            marker: _Flush | None = None
            try:
                while queue and len(batch) < BATCH_LINES:
                    item = queue.popleft()
                    if isinstance(item, _Flush):
                        marker = item
                        break
                    batch.append(item)
                if self._waiting_for_room:
                    with self._room:
                        self._room.notify_all()
                if batch:
                    file.append(batch)
                    batch = []
                    unsynced = True
                if marker is not None:
                    file.sync_through(file.written_seq)
                    unsynced = False
            except Exception as error:  # the writer thread must not die
                file.count_failed(len(batch))
                report("thread-error", f"writer thread error, carrying on: {error!r}")
            if isinstance(marker, _Stop):
                self._finish(marker)
                return
            if marker is not None:
                marker.done.set()

    def _finish(self, marker: _Stop) -> None:
        # Lines submitted after close() raced the marker: the file is closing,
        # so they are counted as failed, never silently left behind.
        leftover = [item for item in self._queue if not isinstance(item, _Flush)]
        self._queue.clear()
        self._file.close()
        if leftover:
            self._file.append(leftover)
        marker.done.set()

    def _after_fork_in_child(self) -> None:
        closed = self._closed
        self._init_threading()
        self._closed = closed


_live_sinks: weakref.WeakSet[QueuedSink] = weakref.WeakSet()


def _drain_at_exit() -> None:
    """Write what is still queued when the interpreter exits normally."""
    for sink in list(_live_sinks):
        sink.close(timeout=10.0)


def _after_fork_in_child() -> None:
    for sink in list(_live_sinks):
        sink._after_fork_in_child()


atexit.register(_drain_at_exit)
os.register_at_fork(after_in_child=_after_fork_in_child)
