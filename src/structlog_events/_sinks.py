"""How a line reaches the file: in the caller's thread, or through a queue.

``SyncSink`` writes and fsyncs before ``submit`` returns.  ``QueuedSink`` puts
the line on a bounded queue that a daemon thread drains in batches.  Both follow
the ``Sink`` protocol; the writer picks one when it is built.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections import deque
from typing import Final

from ._file import EventFile
from ._options import Overflow
from ._report import report
from ._stats import Counters

#: Longest a SYNC leader waits for the rest of its group (see ``SyncSink._gather``).
GATHER_SECONDS: Final = 0.0002


class SyncSink:
    """Writes and fsyncs each line before ``submit`` returns, committing in groups.

    A caller adds its line to a pending list.  If no commit is running it
    becomes the leader: it takes every pending line, writes them with one
    ``write()`` and runs one ``fsync``, then wakes all waiting callers at once.
    Callers that arrive while a commit runs wait for it; those whose lines it
    did not cover elect the next leader, which takes all of their lines
    together.  So N threads share one ``fsync`` per commit instead of queueing
    N of them (writes to a file under ``fsync`` would wait anyway).
    """

    def __init__(self, event_file: EventFile) -> None:
        self._file = event_file
        self._init_locks()
        _live_sync_sinks.add(self)

    def _init_locks(self) -> None:
        self._state = threading.Condition(threading.Lock())
        self._pending: list[bytes] = []
        self._submitted = 0
        self._committed = 0
        self._committing = False
        self._last_batch = 1
        self._gather_until = 0  # while a leader gathers: the batch size it waits for

    def submit(self, line: bytes) -> None:
        state = self._state
        with state:
            self._pending.append(line)
            self._submitted += 1
            ticket = self._submitted
            if self._gather_until and len(self._pending) >= self._gather_until:
                state.notify_all()
            while self._committed < ticket:
                if self._committing:
                    state.wait()
                    continue
                self._committing = True
                self._gather()
                batch, self._pending = self._pending, []
                self._last_batch = len(batch)
                through = self._submitted
                state.release()
                try:
                    self._commit(batch)
                finally:
                    state.acquire()
                    self._committing = False
                    self._committed = through
                    state.notify_all()

    def _gather(self) -> None:
        """Give the callers of the last group a moment to join this one.

        When the last commit covered several callers, they all return at once
        and log again; the first one back would otherwise commit alone while
        the rest wait out its ``fsync``.  So it waits, a fraction of one
        ``fsync`` at most, until as many lines are pending as the last commit
        had.  A lone caller never waits.
        """
        if self._last_batch > 1 and len(self._pending) < self._last_batch:
            self._gather_until = self._last_batch
            self._state.wait(GATHER_SECONDS)
            self._gather_until = 0

    def _commit(self, batch: list[bytes]) -> None:
        """Write and fsync *batch*, outside the state lock; never raises."""
        # The file turns I/O errors into counts; anything else it raises (a bug,
        # MemoryError) is counted here, since a log call must never raise.
        try:
            seq = self._file.append(batch)
        except Exception as error:
            self._file.count_failed(len(batch))
            report(f"append:{type(error).__name__}", f"events not written: {error!r}")
            return
        if seq:
            try:
                self._file.sync_through(seq)
            except Exception as error:  # written, but not known to be durable
                report(f"sync:{type(error).__name__}", f"fsync not done: {error!r}")

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self, timeout: float | None = None) -> bool:
        self._file.close()
        return True

    def _after_fork_in_child(self) -> None:
        # A parent thread may have held the lock at fork(); its pending lines
        # are the parent's to write.
        self._init_locks()


_live_sync_sinks: weakref.WeakSet[SyncSink] = weakref.WeakSet()


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

#: Bytes the writer thread gathers into one append, and writes at most before it
#: fsyncs even while the queue stays busy: what a power loss can take from a
#: queued writer (besides its queue), and what ``EventFile`` checks at open.
SYNC_EVERY_BYTES: Final = 1024 * 1024


class QueuedSink:
    """Queues lines for a daemon writer thread; ``submit`` returns at once.

    The thread starts with the first line (there is no ``start()`` to forget)
    and works in plain blocking code, in other threads and under a running
    asyncio loop alike.  It writes what it finds queued in batches, and fsyncs
    whenever the queue runs empty and after every ``SYNC_EVERY_BYTES``.  Lines
    still queued at normal interpreter exit are written by an ``atexit`` hook;
    ``install_signal_handlers()`` does the same on SIGTERM and SIGINT.  After
    ``fork()`` the child starts with an empty queue (the parent's lines are the
    parent's to write) and its own thread.

    Producers append to a ``deque`` without taking a lock; the thread is only
    woken (one ``Event.set``) when it went idle.  Once the queue is half full,
    each producer yields the GIL (``time.sleep(0)``) before queueing, so busy
    producers cannot starve the writer thread into dropping events the disk
    could take.
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
        self._high_water = max(1, max_queue_size // 2)
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
            self._file.count_failed(1)
            report("closed", "event logged after close() was not written (counted as failed)")
            return
        queue = self._queue
        if len(queue) >= self._high_water:
            # The writer thread waits for the GIL after each of its system calls
            # (up to the 5 ms switch interval) while producers keep it busy; a
            # filling queue hands the GIL over rather than drop events.
            time.sleep(0)
            if len(queue) >= self._max_queue_size and not self._make_room():
                return
        queue.append(line)
        if self._thread is None:
            self._start()
        if self._idle:
            self._wakeup.set()

    def flush(self, timeout: float | None = None) -> bool:
        marker = self._request_flush()
        if marker is None:
            thread = self._thread
            if thread is None or thread is threading.current_thread():
                # Never started, or asked by the writer thread itself (from a
                # rotation hook), which cannot wait for its own queue.
                return thread is None
            thread.join(timeout)  # closing: the thread ends once all is written
            return not thread.is_alive()
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = None) -> bool:
        if self._closed:
            return True
        self._closed = True
        thread = self._thread
        if thread is None:
            self._file.close()
            return True
        marker = _Stop()
        self._put_marker(marker)
        if thread is threading.current_thread():
            return False  # closed from the writer thread: it stops after this batch
        if marker.done.wait(timeout):
            thread.join(timeout)
            return True
        report(
            "close-timeout",
            f"close() timed out with {len(self._queue)} events still queued; the "
            "writer thread goes on writing them while the process lives",
        )
        return False

    # -- producers -------------------------------------------------------------

    def _request_flush(self) -> _Flush | None:
        """Queue a flush marker, or return ``None`` if there is no open queue to flush."""
        if self._thread is None or self._closed or threading.current_thread() is self._thread:
            return None
        marker = _Flush()
        self._put_marker(marker)
        return marker

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
                    # Bounded wait: a missed notify costs 0.1 s, never a deadlock.
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
        # Daemon thread: it never keeps the interpreter from exiting (a
        # non-daemon thread blocked in a wait would keep atexit from running).
        unsynced_bytes = 0
        while True:
            batch: list[bytes] = []
            marker: _Flush | None = None
            try:
                if not self._queue:
                    if unsynced_bytes:
                        unsynced_bytes = 0
                        self._file.sync_through(self._file.written_seq)
                    self._wait_for_work()
                    continue
                marker = self._take_batch(batch)
                if batch:
                    self._file.append(batch)
                    unsynced_bytes += sum(map(len, batch))
                    batch = []
                if marker is not None or unsynced_bytes >= SYNC_EVERY_BYTES:
                    unsynced_bytes = 0
                    self._file.sync_through(self._file.written_seq)
            except Exception as error:  # the writer thread must not die
                if batch:
                    self._file.count_failed(len(batch))
                report(
                    f"thread-error:{type(error).__name__}",
                    f"writer thread error, carrying on: {error!r}",
                    every=10.0,
                )
            if isinstance(marker, _Stop):
                self._finish(marker)
                return
            if marker is not None:
                marker.done.set()

    def _wait_for_work(self) -> None:
        self._idle = True
        # Checked again after _idle is set: a producer that saw _idle still
        # False has already queued its line, so nothing is missed.
        if not self._queue:
            self._wakeup.wait(1.0)
            self._wakeup.clear()
        self._idle = False

    def _take_batch(self, batch: list[bytes]) -> _Flush | None:
        """Move queued lines into *batch*, up to a marker; return that marker."""
        queue = self._queue
        size = 0
        try:
            while queue and len(batch) < BATCH_LINES and size < SYNC_EVERY_BYTES:
                item = queue.popleft()
                if isinstance(item, _Flush):
                    return item
                batch.append(item)
                size += len(item)
            return None
        finally:
            if self._waiting_for_room:
                with self._room:
                    self._room.notify_all()

    def _finish(self, marker: _Stop) -> None:
        # Lines submitted after close() raced the marker: the file is closing,
        # so they are counted as failed, never silently left behind.
        leftover = list(self._queue)
        self._queue.clear()
        try:
            self._file.close()
            lines = [item for item in leftover if not isinstance(item, _Flush)]
            if lines:
                self._file.append(lines)
        finally:
            for item in leftover:
                if isinstance(item, _Flush):
                    item.done.set()
            marker.done.set()

    def _after_fork_in_child(self) -> None:
        closed = self._closed
        self._init_threading()
        self._closed = closed


_live_sinks: weakref.WeakSet[QueuedSink] = weakref.WeakSet()


def flush_queued_sinks(timeout: float) -> bool:
    """Write and fsync what every queued writer of this process holds, within *timeout*.

    The flushes run at once, so *timeout* bounds the whole call.  Safe to call
    from a signal handler: it takes no lock a log call may hold.

    Returns:
        ``False`` if *timeout* seconds passed before all were done, else ``True``.
    """
    deadline = time.monotonic() + timeout
    markers = [sink._request_flush() for sink in list(_live_sinks)]
    done = [
        marker.done.wait(max(0.0, deadline - time.monotonic()))
        for marker in markers
        if marker is not None
    ]
    return all(done)


def _drain_at_exit() -> None:
    """Write what is still queued when the interpreter exits normally."""
    for sink in list(_live_sinks):
        sink.close(timeout=10.0)


def _after_fork_in_child() -> None:
    for sink in list(_live_sinks):
        sink._after_fork_in_child()
    for sync_sink in list(_live_sync_sinks):
        sync_sink._after_fork_in_child()


atexit.register(_drain_at_exit)
os.register_at_fork(after_in_child=_after_fork_in_child)
