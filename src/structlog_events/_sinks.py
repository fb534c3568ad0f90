"""How a line reaches the file: a queue drained by one writer at a time, in both modes.

``QueuedSink`` (ASYNC) queues a line and returns; the writer thread drains the
queue.  ``SyncSink`` (SYNC) queues a line and, unless a drain is under way,
drains the queue itself: it writes every line queued (its own and those of
callers that arrived meanwhile) with one ``write()`` and one ``fsync``, and
returns once its own line is durable.  Callers that find a drain under way
wait for it: the drain takes all their lines into its next commit (group
commit).  Whoever holds the drain is the only one writing the file.

Signal handlers: Python runs them on the main thread wherever the interpreter
checks for them (a function's start, just after any call, a loop's next pass),
so one can interrupt its own thread in the middle of a drain.  A handler that
logs then queues its line and returns without waiting (it would wait for
itself): the interrupted drain writes the line once the handler returns,
before the interrupted call returns.  Anywhere else a handler's call is an
ordinary call.  Everything a caller waits on is signal-safe: the queue is a
``deque`` (appends are atomic), wake-ups and completions are bare ``_thread``
locks released by one side and acquired by the other, and the drain is an
``RLock`` that knows its owner, so a handler tells its own thread's drain from
another's exactly.  A ``KeyboardInterrupt``, or a handler's exception, in the
middle of a drain settles what it took (see ``_Pipeline._drain``): nothing is
lost, written twice or counted twice.
"""

from __future__ import annotations

import itertools
import threading
import time
from _thread import allocate_lock
from collections import deque
from collections.abc import Callable
from typing import Final

from ._file import EventFile
from ._handlers import reraise_if_from_a_signal_handler
from ._layout import BATCH_BYTES
from ._options import Overflow
from ._report import report
from ._stats import Counters
from ._wakeup import Wakeup

#: Lines the writer takes into one append, at most (and at most ``BATCH_BYTES``).
BATCH_LINES: Final = 4096

#: How often a caller waiting for a completion looks whether it is done, besides
#: being woken: a waiter interrupted while it passed the wake-up on is covered.
DONE_POLL_SECONDS: Final = 0.05

#: How often a caller still waiting sees again that its item will be written.
HEAL_SECONDS: Final = 1.0

#: Longest the writer thread sleeps with nothing queued before looking again.
#: Nothing depends on it (producers wake the thread); it bounds the cost of a
#: wake-up that a bug might lose.
IDLE_SECONDS: Final = 1.0

#: Longest a drain waits for the rest of the last group of SYNC callers (see
#: ``_Pipeline._gather``).
GATHER_SECONDS: Final = 0.0002


#: How often a producer blocked on a full queue (``overflow="block"``) looks again.
ROOM_POLL_SECONDS: Final = 0.05


class _Done:
    """A one-time completion with an outcome, which any number of threads can wait for."""

    __slots__ = ("_lock", "done", "ok")

    def __init__(self) -> None:
        self._lock = allocate_lock()
        self._lock.acquire()
        self.done = False
        self.ok = False

    def set(self, ok: bool) -> None:
        if self.done:
            return
        self.ok = ok
        self.done = True
        self.wake()

    def wake(self) -> None:
        """Wake the waiters of a completion marked ``done`` (they also look every so often)."""
        try:
            self._lock.release()
        except RuntimeError as error:  # woken twice at once: the first counts
            reraise_if_from_a_signal_handler(error)

    def wait(self, timeout: float | None) -> bool:
        """Return once set (``True``), or ``False`` after *timeout* seconds.

        Each waiter that gets the lock releases it for the next.  A waiter
        interrupted between the two (``KeyboardInterrupt``) keeps it, so the
        others also look at ``done`` every ``DONE_POLL_SECONDS``: they are
        delayed, never left waiting.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            wait = DONE_POLL_SECONDS
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return False
            if self._lock.acquire(timeout=wait):
                self._lock.release()  # let the next waiter through
                return True
        return True


class _SyncLine(_Done):
    """A SYNC caller's line in the queue: done once it is written and fsynced (or failed)."""

    __slots__ = ("line",)

    def __init__(self, line: bytes) -> None:
        super().__init__()
        self.line = line


class _WrittenLine(_SyncLine):
    """A queued caller's line in a worker process about to end: done once written."""

    __slots__ = ()


class _Flush(_Done):
    """Queue marker: done once every line queued before it is written and fsynced."""

    __slots__ = ()


class _Stop(_Flush):
    """Queue marker: like ``_Flush``, then the file is closed and the queue refuses lines."""

    __slots__ = ()


class _Later(_Done):
    """Queue marker: completions whose lines were written by an interrupted drain.

    Set, with its outcome, after the next ``fsync``: a SYNC caller waiting for
    one of them returns only once its line is durable.
    """

    __slots__ = ("waiters",)

    def __init__(self, waiters: list[_Done]) -> None:
        super().__init__()
        self.waiters = waiters

    def set(self, ok: bool) -> None:
        for waiter in self.waiters:
            waiter.set(ok)
        super().set(ok)


_Item = bytes | _Done


#: A pipeline's states, in the order it goes through them (plain ints, compared
#: with ``==``: other threads change the state between two looks at it).
_OPEN, _CLOSING, _CLOSED = range(3)


class _Pipeline:
    """The queue, its drain and the writer thread, shared by both sinks.

    Lifecycle: ``flush``, ``close`` (idempotent; every caller waits for the
    same outcome), ``wait_in_callers`` (a worker process ending: from then on
    every caller waits until its line is written) and ``after_fork_in_child``.

    The outcome of ``flush`` and ``close`` is ``True`` only if every line this
    sink accepted before the call is written and fsynced: once a line is lost
    (a failed write or ``fsync``), both return ``False`` for good, since that
    line is not on disk.
    """

    #: Whether taking lines wakes a producer waiting for room (``QueuedSink``).
    _posts_room = False

    def __init__(self, event_file: EventFile, counters: Counters) -> None:
        self._file = event_file
        self._counters = counters
        self._init_state()

    def _init_state(self) -> None:
        self._queue: deque[_Item] = deque()
        self._wake = Wakeup()
        self._room = Wakeup()
        self._arrival = Wakeup()  # a SYNC line was queued while the drain gathers
        self._gathering = False
        self._last_group = 0  # SYNC lines in the last commit
        # The drain: whoever holds it takes lines from the queue and writes them.
        # An RLock records its owner as it is taken (in one C call), so a
        # handler tells its own thread's drain from another's exactly; it is
        # never taken twice (``_drain_now`` asks ``_drain_is_mine`` first).
        self._drain_lock = threading.RLock()
        self._draining = False  # a hint for callers that would not wait for the lock
        self._idle = False
        self._thread: threading.Thread | None = None
        self._thread_started = False
        self._start_tickets = itertools.count()  # the first ticket starts the thread
        self._starter = 0  # thread id of the caller that started it
        self._no_thread = False  # no writer thread can run: callers write themselves
        self._callers_wait_until = 0.0  # monotonic deadline of wait_in_callers, if called
        self._state = _OPEN
        self._stop_queued = False
        self._closed = _Stop()

    # -- lifecycle -------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Return once every line queued before the call is written and fsynced.

        Returns:
            The outcome (see the class), or ``False`` if *timeout* seconds passed first.
        """
        if self._state != _OPEN:
            return self._wait(self._closed, timeout)
        marker = _Flush()
        self._put(marker, start=False)
        return self._wait(marker, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Write what is queued, fsync and close the file; refuse lines from now on.

        Every call, the first or a later one, concurrent or not, waits (up to
        *timeout*) for the same outcome.  Lines queued after the first call
        are counted as failed.
        """
        if not self._stop_queued:
            # Queued by every call until one has done it: two calls racing, or
            # one interrupted halfway, at worst queue the same marker twice,
            # and the second is settled as a leftover of the first.
            self._state = max(self._state, _CLOSING)
            self._put(self._closed, start=False)
            self._stop_queued = True
        return self._wait(self._closed, timeout)

    def wait_in_callers(self, deadline: float) -> None:
        """From now on, a queued caller too waits until its line is in the file.

        For a worker process about to end with ``os._exit()``: lines logged by
        threads still running are in the file when their call returns.  Each
        waits until *deadline* (a ``time.monotonic()`` time) at most, and the
        line is only written, not fsynced (the process ends, the machine goes
        on).
        """
        self._callers_wait_until = deadline

    @property
    def finished(self) -> bool:
        """Whether the pipeline is closed and its file with it."""
        return self._state == _CLOSED

    def after_fork_in_child(self) -> None:
        """An empty queue and no thread: the parent's lines are the parent's to write."""
        state = self._state
        closed = self._closed
        self._init_state()
        if state != _OPEN:
            self._state = _CLOSED
            self._closed = closed
            self._stop_queued = True
            if not closed.done:
                closed.set(False)  # the parent was closing: its outcome is the parent's

    # -- producers -------------------------------------------------------------

    def _refuse(self) -> None:
        """Count and report a line offered after ``close()``."""
        self._counters.add(failed=1)
        report("closed", "event logged after close() was not written (counted as failed)")

    def _put(self, item: _Item, *, start: bool = True) -> None:
        """Queue *item* and see that someone writes it."""
        self._queue.append(item)
        self._see_to(start=start)

    def _see_to(self, *, start: bool = True) -> None:
        """Make sure what was just queued gets written.

        Args:
            start: start the writer thread if it has not started yet; without,
                this thread writes the queue instead (a flush or close before
                any line needs no thread).
        """
        if self._state == _CLOSED:
            self._settle_leftovers()  # raced the close: the drain has ended
        elif self._no_thread or (self._thread is None and not (start and self._start_thread())):
            self._drain_now()
        elif self._idle:
            self._wake.post()

    def _wait(self, done: _Done, timeout: float | None) -> bool:
        """Wait for *done*; ``False`` at once where waiting would wait on this thread itself.

        Every ``HEAL_SECONDS`` without an outcome the wait sees again that
        someone will write the item (a thread start another caller was
        interrupted in, a wake-up lost): a wait never depends on one signal.
        """
        if done.done:
            return done.ok  # a SYNC caller that drained the queue itself
        if self._drain_is_mine():
            return False  # a handler interrupted this thread's own drain
        me = threading.get_ident()
        thread = self._thread
        if thread is not None and thread.ident == me:
            return False  # the writer thread (a rotation hook) cannot wait for itself
        if not self._thread_started and self._starter == me:
            # A handler that interrupted this thread while it started the
            # writer thread: the start goes on only once the handler returns.
            self._drain_now()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = HEAL_SECONDS if deadline is None else deadline - time.monotonic()
            if done.wait(min(HEAL_SECONDS, max(0.0, left))):
                break
            if deadline is not None and left <= HEAL_SECONDS:
                return False
            if self._thread is None:
                # A start interrupted before it claimed the thread: start again.
                self._start_tickets = itertools.count()
                self._see_to()
            elif self._idle:
                self._wake.post()  # a wake-up lost
        return done.ok

    def _start_thread(self) -> bool:
        """Start the writer thread, or leave it to the caller already starting it.

        Returns:
            ``False`` if no thread can run (interpreter shutdown): callers then
            write what they queue themselves.
        """
        if next(self._start_tickets) != 0:
            return not self._no_thread  # another caller starts it
        thread = None
        try:
            thread = threading.Thread(target=self._run, name="structlog-events-writer", daemon=True)
            # Claimed before start(): a signal handler that logs while start()
            # runs finds the thread claimed, and drains itself (see ``_wait``).
            self._starter = threading.get_ident()
            self._thread = thread
            thread.start()
        except RuntimeError:  # "can't create new thread at interpreter shutdown"
            self._no_thread = True
            return False
        except BaseException:  # interrupted: unclaimed unless the thread runs
            if thread is None or thread.ident is None:
                self._thread = None
                self._start_tickets = itertools.count()  # the next caller starts it
            else:
                self._thread_started = True
            raise
        self._thread_started = True
        return True

    def _drain_now(self, *, wait: bool = False) -> None:
        """Write what is queued, in this thread, unless a drain is under way.

        A drain under way goes on until the queue is empty, so it writes what
        this caller queued: in another thread (the writer thread, or another
        caller) it is not waited for, unless *wait*; in this very thread (a
        signal handler interrupted it) it goes on once the handler returns.
        Never waiting for another thread's drain keeps a caller at shutdown
        from hanging on a thread stuck in a write.
        """
        while self._queue and self._state != _CLOSED:
            if self._drain_is_mine() or (self._draining and not wait):
                return
            self._holding_drain(self._drain)

    def _drain_is_mine(self) -> bool:
        """Whether this thread holds the drain (a signal handler interrupted it)."""
        return self._drain_lock._is_owned()  # type: ignore[attr-defined,no-any-return]

    def _holding_drain(self, step: Callable[[], object]) -> None:
        """Run *step* holding the drain, marked as under way while it runs."""
        with self._drain_lock:
            try:
                self._draining = True
                step()
            finally:
                self._draining = False

    # -- the drain -------------------------------------------------------------

    def _run(self) -> None:
        """The writer thread: drain, fsync when idle, sleep until woken."""
        # Daemon thread: it never keeps the interpreter from exiting (a
        # non-daemon thread blocked in a wait would keep atexit from running).
        queue, file = self._queue, self._file
        while self._state != _CLOSED:
            if queue:
                self._drain_now(wait=True)
                continue
            self._idle = True
            if not queue:
                if file.written_seq > file.durable_seq:
                    self._holding_drain(lambda: self._guarded(file.sync_written))
                if not queue:
                    self._wake.wait(IDLE_SECONDS)
            self._idle = False

    def _drain(self) -> None:
        """Take and write batches until the queue is empty; the caller holds the drain.

        A drain on the main thread can be interrupted, wherever the
        interpreter runs signal handlers, by a ``KeyboardInterrupt`` or an
        exception a handler raises.  What it had taken is then settled before
        the exception goes on: the lines the file did not write (it says how
        many it did, see ``EventFile.append``) are queued again as they were,
        and the completions of those it wrote, set or not yet, wait for a
        later ``fsync`` (see ``_Later``).  Nothing is lost, written twice or
        acknowledged early.  The queue is then left to the writer thread (started
        if need be): callers waiting for lines of the batch are not kept waiting.
        """
        file, queue = self._file, self._queue
        while queue and self._state != _CLOSED:
            items: list[_Item] = []
            lines: list[bytes] = []
            waiters: list[_Done] = []
            handed = False
            settled_before = file.settled_lines
            try:
                if self._last_group > 1 and len(queue) < self._last_group:
                    self._gather()
                sync_lines, durable_wanted = self._take(items, lines, waiters)
                handed = True
                if lines:
                    try:
                        file.append(lines)
                    except Exception as error:
                        self._report_bug(error)
                        # The lines the append did not settle are lost, never retried.
                        file.count_lost(len(lines) - (file.settled_lines - settled_before))
                if durable_wanted or file.sync_due():
                    try:
                        file.sync_written()
                    except Exception as error:
                        self._report_bug(error)
                self._last_group = sync_lines
                ok = file.lost == 0
                for waiter in waiters:
                    if type(waiter) is _Stop:
                        self._finish(waiter)
                    else:
                        waiter.set(ok)
            except BaseException:
                if not handed:
                    self._give_back(items)
                else:  # interrupted at any step: the file's count says what it wrote
                    file.settle_interrupted_write()
                    self._hand_back(items, file.settled_lines - settled_before)
                file.let_go_of_the_directory()  # a ``with`` cut short may have kept it
                if queue:
                    self._see_to()  # the waiting callers are not left to their next look
                raise

    def _give_back(self, items: list[_Item]) -> None:
        """Queue taken *items* again, as they were; the last may not have left the queue."""
        queue = self._queue
        if items and queue and queue[0] is items[-1]:
            items = items[:-1]
        queue.extendleft(reversed(items))

    def _hand_back(self, items: list[_Item], settled: int) -> None:
        """Queue an interrupted batch again: the items after its first *settled* lines as
        they were, and the completions up to them as one ``_Later``."""
        cut = seen = 0
        while seen < settled and cut < len(items):
            item = items[cut]
            cut += 1
            if type(item) is bytes or isinstance(item, _SyncLine):
                seen += 1
        covered = [item for item in items[:cut] if isinstance(item, _Done)]
        rest = items[cut:]
        self._queue.extendleft(reversed([_Later(covered), *rest] if covered else rest))

    def _gather(self) -> None:
        """Give the SYNC callers of the last commit a moment to join the next one.

        The callers a commit covered all return at once and log again; the
        drain would otherwise commit the first one back alone while the rest
        wait out its ``fsync``.  So it waits, a fraction of one ``fsync`` at
        most, until as many lines are queued as the last commit had.  The
        drain calls it only when fewer are queued than the last commit had, and
        that had more than one: a lone caller never waits.
        """
        group = self._last_group
        self._gathering = True
        try:
            deadline = time.monotonic() + GATHER_SECONDS
            while len(self._queue) < group:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._arrival.wait(left)
        finally:
            self._gathering = False

    def _take(
        self, items: list[_Item], lines: list[bytes], waiters: list[_Done]
    ) -> tuple[int, bool]:
        """Move queued items into *items*, their lines into *lines* and completions into
        *waiters*, up to a stop marker, which ends the batch as the last of *waiters*.

        Each item goes into *items* before it leaves the queue: an interrupt
        between the two leaves it in both (see ``_give_back``), never in neither.

        Returns:
            The SYNC callers' lines taken, and whether a completion taken wants
            an ``fsync`` (all but a ``_WrittenLine``'s).
        """
        queue = self._queue
        size = sync_lines = 0
        durable_wanted = False
        try:
            while queue and len(lines) < BATCH_LINES and size < BATCH_BYTES:
                item = queue[0]
                items.append(item)
                queue.popleft()
                if type(item) is bytes:
                    lines.append(item)
                    size += len(item)
                    continue
                assert isinstance(item, _Done)
                waiters.append(item)
                if isinstance(item, _SyncLine):  # a SYNC caller's, or a ``_WrittenLine``
                    lines.append(item.line)
                    size += len(item.line)
                    if type(item) is _SyncLine:
                        sync_lines += 1
                        durable_wanted = True
                    continue
                durable_wanted = True  # a flush, a close, or lines written by an interrupted drain
                if type(item) is _Stop:
                    break
        finally:
            if self._posts_room:
                self._room.post()
        return sync_lines, durable_wanted

    def _report_bug(self, error: Exception) -> None:
        """Report what a step of the file raised, other than its I/O errors (it counts
        those): a bug, or ``MemoryError``.  It must not kill the writer thread or reach
        a log call; unless a signal handler raised it: then it is the program's own, and
        goes on to it (``_drain`` settles the batch first)."""
        reraise_if_from_a_signal_handler(error)
        report(
            f"writer-error:{type(error).__name__}",
            f"error while writing events, carrying on: {error!r}",
            every=10.0,
        )

    def _guarded(self, step: Callable[[], object]) -> None:
        """Call *step* (a method of the file); what it raises is reported (``_report_bug``)."""
        try:
            step()
        except Exception as error:
            self._report_bug(error)

    def _finish(self, stop: _Stop) -> None:
        """Close the file after the last line queued before ``close()``; settle the rest.

        Interrupted while the file closes, the stop goes back to the queue (see
        ``_drain``): the file closes again, since it only counts as closed once
        it is.
        """
        self._guarded(self._file.close)
        # One step with no call in it: closed, and the outcome settled for every
        # waiter (they look at ``done`` every ``DONE_POLL_SECONDS``, woken or not).
        stop.ok = self._file.lost == 0  # read by producers that settle leftovers from now
        stop.done = True
        self._state = _CLOSED
        stop.wake()
        self._settle_leftovers()

    def _settle_leftovers(self) -> None:
        """Fail the lines queued after the close, and complete the markers queued with them.

        Called by the drain when it closes and by every producer that finds the
        queue closed after queueing: ``popleft`` is atomic, so each leftover is
        counted exactly once, whoever gets it.  A completion is set before it
        leaves the queue (setting is idempotent), so an interrupt never leaves
        its waiter behind.
        """
        ok = self._closed.ok
        queue = self._queue
        while True:
            try:
                first = queue[0]
                if isinstance(first, _Done):
                    first.set(ok and not isinstance(first, _SyncLine))
                item = queue.popleft()
            except IndexError:
                return
            if type(item) is bytes or isinstance(item, _SyncLine):
                self._counters.add(failed=1)
                report("closed", "event logged after close() was not written (counted as failed)")
            if isinstance(item, _Done):
                item.set(ok and not isinstance(item, _SyncLine))


class SyncSink(_Pipeline):
    """Returns from ``submit`` once the line is written and fsynced.

    A caller writes itself if no drain is under way: it writes everything
    queued, its own line included, with one ``write()`` and one ``fsync``,
    and goes on while lines keep arriving.  Callers that find a drain under
    way only queue and wait: the drain takes all their lines into its next
    commit, and wakes them together (group commit).

    A signal handler whose log call interrupted its own thread's drain does
    not wait (it would wait for itself): its line is written and fsynced by
    the interrupted drain before the interrupted call returns.  A caller
    interrupted while it waits (``KeyboardInterrupt``) leaves its line
    queued: it is written, though the call did not return.
    """

    def submit(self, line: bytes) -> None:
        if self._state != _OPEN:
            self._refuse()
            return
        waiter = _SyncLine(line)
        self._queue.append(waiter)
        if self._gathering:
            self._arrival.post()
        if self._state == _CLOSED:
            self._settle_leftovers()  # raced the close: the drain has ended
        else:
            self._drain_now()
        self._wait(waiter, None)


class QueuedSink(_Pipeline):
    """Queues lines for the writer thread; ``submit`` returns at once.

    The thread starts with the first line (there is no ``start()`` to forget)
    and works in plain blocking code, in other threads and under a running
    asyncio loop alike.  It writes what it finds queued in batches, and fsyncs
    whenever the queue runs empty and whenever the file has grown by
    ``SYNC_EVERY_BYTES`` since the last ``fsync`` it knows of.  After
    ``fork()`` the child starts with an empty queue and its own thread.

    Producers append to a ``deque`` without taking a lock; the thread is only
    woken when it went idle.  Once the queue is half full, each producer
    yields the GIL (``time.sleep(0)``) before queueing, so busy producers
    cannot starve the writer thread into dropping events the disk could take.
    """

    _posts_room = True  # producers may wait for room in a full queue (overflow="block")

    def __init__(
        self,
        event_file: EventFile,
        counters: Counters,
        *,
        max_queue_size: int,
        overflow: Overflow,
    ) -> None:
        super().__init__(event_file, counters)
        self._max_queue_size = max_queue_size
        self._block = overflow is Overflow.BLOCK
        self._high_water = max(1, max_queue_size // 2)

    def submit(self, line: bytes) -> None:
        if self._state != _OPEN:
            self._refuse()
            return
        queue = self._queue
        if len(queue) >= self._high_water:
            # The writer thread waits for the GIL after each of its system calls
            # (up to the 5 ms switch interval) while producers keep it busy; a
            # filling queue hands the GIL over rather than drop events.
            time.sleep(0)
            if len(queue) >= self._max_queue_size and not self._make_room():
                return
        if self._callers_wait_until:
            waiter = _WrittenLine(line)
            self._put(waiter)
            self._wait(waiter, max(0.0, self._callers_wait_until - time.monotonic()))
            return
        queue.append(line)
        if self._idle or self._thread is None or self._state != _OPEN:
            self._see_to()

    def _make_room(self) -> bool:
        """Drop the event (``False``) or wait for room in the queue (``True``)."""
        if not self._block:
            self._counters.add(dropped=1)
            report(
                "queue-full",
                f"queue full ({self._max_queue_size} events): {self._counters.dropped} events "
                "dropped so far; raise max_queue_size or use overflow='block'",
                every=10.0,
            )
            return False
        thread = self._thread
        while len(self._queue) >= self._max_queue_size and self._state == _OPEN:
            if (
                self._no_thread
                or thread is None
                or not thread.is_alive()
                or thread.ident == threading.get_ident()
            ):
                break  # nobody else left to make room, or it is us: let the queue grow
            self._wake.post()
            self._room.wait(ROOM_POLL_SECONDS)
        self._room.post()  # pass the room on to the next waiting producer
        return True
