"""The event file: append, count bytes, rotate, fsync.

``EventFile`` is ``events.jsonl`` as one writer writes it: the durable append,
its byte and line accounting, and which lines an ``fsync`` made durable.  What
it shares with the directory's other writers goes through an
``EventDirectory`` (``_directory``): every append runs under a thread lock and
the directory's ``flock``, and under it the directory says whether the file
held open is still the live one and how big it is now, which also notices a
rotation done by another writer or by logrotate.  This object decides when to
rotate; the directory renames the file away.

What survives a crash, and why (``docs/guarantees.md`` names the tests):

- A line is acknowledged as durable only after an ``fsync`` that began after
  it was written has succeeded, on the file it is in.  Leaving a file (rotation,
  a rotation by another writer, close) fsyncs it first.
- A file's directory entry is made durable (``fsync`` of the directory) after
  every open, before any line is written to it, so the fsync of a line never
  acknowledges a file that a power loss could unlink; the same fsync persists
  the rename of the rotation that preceded it.
- A failed ``fsync`` is never retried into success (the kernel may have dropped
  the pages and would not report it twice): every line of that file not yet
  durable is moved from written to failed, the file is rotated away at once
  (so no later line lands behind a region a power loss may have garbled), and
  writing continues in a fresh ``events.jsonl``.
- Repairs never delete a complete line.  A torn last line (no final newline)
  was never acknowledged, and is cut.  A file whose last lines are not all
  JSON objects (a power loss garbled unsynced writes, or another program
  appended to it) is rotated away intact at open and reported, so no later
  line lands behind the damage (``_recovery`` finds both).

Interrupts: a ``KeyboardInterrupt`` or a signal handler's exception can land
in an append made on the main thread wherever the interpreter runs handlers
(after any call, the ``write()`` and ``fsync`` included).  The chunk being
written is recorded before its ``write()``; an exception that escapes the
append settles it under the ``flock`` still held, from the bytes at its
offset: complete lines of it are counted written, a torn one at the end is
cut, and the rest were not written, for the caller to hand over again.  A
settling cut short by a second interrupt is done again
(``settle_interrupted_write``).  Each count changes in one step with no call
in it, so an interrupt lands before or after, never halfway.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Final

from ._directory import EventDirectory
from ._handlers import from_a_signal_handler, ignoring_own, reraise_if_from_a_signal_handler
from ._layout import SYNC_EVERY_BYTES
from ._report import report
from ._stats import FileCounts

#: macOS's ``fsync`` leaves the data in the drive's cache; ``F_FULLFSYNC``
#: flushes it to the medium (SQLite does the same).  ``None`` elsewhere.
_FULL_FSYNC: Final[int | None] = getattr(fcntl, "F_FULLFSYNC", None)


def sync_file(fd: int) -> None:
    """Make the file's data durable: ``fcntl(F_FULLFSYNC)`` where it exists, else ``fsync``.

    Raises:
        OSError: the flush failed.
    """
    if _FULL_FSYNC is not None:
        fcntl.fcntl(fd, _FULL_FSYNC)
    else:
        os.fsync(fd)


class EventFile:
    """``events.jsonl`` in one directory, with exact byte accounting and rotation.

    Lines are numbered in the order this object writes them; ``sync_through(n)``
    returns once line ``n`` is durable.  The object is thread-safe, but the
    sinks call it from one thread at a time (whoever holds their drain).  It
    counts what became of the lines handed to it (``counts``).

    Args:
        directory: the directory; it must exist.
        max_file_size: a line that would take the file past this many bytes goes
            to a fresh file instead, unless the file is empty.
        file_mode: permission bits of created files (the umask applies).
        after_rotation: called with the path of each file this object rotated
            away, under no lock (retention and compression hook in here); what
            it raises is reported, never passed to the caller of ``append``.
        rotate_every: also rotate at the first append after each boundary of
            this period, boundaries aligned to the Unix epoch in UTC (whole
            hours, days at midnight UTC).  When a file was begun is recorded in
            the lock file, so every writer of the directory, and a writer
            started later, agree on it: one rotation per boundary.

    Raises:
        OSError: ``events.jsonl`` or ``.events.lock`` is a symbolic link
            (``ELOOP``), ``events.jsonl`` is not a regular file or has a second
            hard link (``EINVAL``), or the directory cannot be written.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_file_size: int,
        file_mode: int = 0o644,
        after_rotation: Callable[[Path], None] | None = None,
        rotate_every: timedelta | None = None,
    ) -> None:
        self._after_rotation = after_rotation
        self._rotated: list[Path] = []
        self.max_file_size = max_file_size
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._size = 0
        self._synced_size = 0
        self._closed = False
        self._fsync_failed = False
        self._written_seq = 0
        self._durable_seq = 0
        self._failed_ranges: list[tuple[int, int]] = []
        self._fsync_error: OSError | None = None  # a failed fsync not yet acted on
        self._in_flight: tuple[int, list[bytes]] | None = None  # (offset, lines) being written
        self.lost = 0  # lines handed to this file that failed: write or fsync
        self._fsync_lost = 0  # of those, lines written whose fsync failed
        self._bytes_written = 0
        self._rotations = 0
        self._directory = EventDirectory(directory, file_mode=file_mode, rotate_every=rotate_every)
        self.path = self._directory.path
        try:
            with self._lock, self._directory.lock():
                self._open(create=False, recover=True)
        except FileNotFoundError:
            pass  # created by the first append
        except BaseException:
            self._directory.close()
            raise
        self._run_rotation_hooks()

    # -- public face -------------------------------------------------------

    @property
    def size(self) -> int:
        """Bytes of ``events.jsonl`` as of this object's last write or open."""
        return self._size

    def counts(self) -> FileCounts:
        """What became of the lines handed to this file so far."""
        return FileCounts(
            written=self._written_seq - self._fsync_lost,
            failed=self.lost,
            bytes=self._bytes_written,
            rotations=self._rotations,
        )

    @property
    def settled_lines(self) -> int:
        """Lines handed to ``append`` whose write is settled: written, or failed to be."""
        return self._written_seq + self.lost - self._fsync_lost

    @property
    def written_seq(self) -> int:
        """Number of the last line written."""
        return self._written_seq

    @property
    def durable_seq(self) -> int:
        """Number of the last line whose fate is settled: fsynced, or counted as failed."""
        return self._durable_seq

    def append(self, lines: list[bytes]) -> int:
        """Write complete lines, rotating where a line would cross the size limit.

        Lines that cannot be written (I/O error, disk full, file closed) are
        counted as failed and reported; no partial line is left in the file.
        Each rotation's hooks run before the next rotation: retention holds
        within one long append (a queued writer's batch) too.  Interrupted
        (see the module), the lines not settled were not written:
        ``settled_lines`` says how many were.

        Returns:
            The number of the last line written, for ``sync_through``; 0 if none was.
        """
        seq_before = self._written_seq
        index, count = 0, len(lines)
        while index < count:
            with self._lock:
                if self._closed:
                    self._fail(count - index)
                    report(
                        "closed",
                        "event logged after close() was not written (counted as failed)",
                    )
                    break
                try:
                    with self._directory.lock():
                        try:
                            self._follow_other_writers()
                            index = self._append_locked(lines, index)
                        except BaseException:
                            self._settle_interrupted_write()
                            raise
                except OSError as error:
                    reraise_if_from_a_signal_handler(error)
                    self._fail(count - index)
                    self._report_error(error)
                    break
            if self._rotated:
                self._run_rotation_hooks()
        return self._written_seq if self._written_seq > seq_before else 0

    def let_go_of_the_directory(self) -> None:
        """Release the directory's ``flock`` if this object still holds it.

        For a caller whose append, fsync or close an interrupt cut short: a
        ``with`` block's exit is Python code an interrupt can land in before it
        unlocks, and every other writer of the directory would wait.
        """
        self._directory.unlock()

    def count_lost(self, count: int) -> None:
        """Count *count* lines handed to this file as lost (their write raised unexpectedly)."""
        with self._lock:
            self.lost += count

    def sync_through(self, seq: int) -> bool:
        """Return once line *seq* is durable (``fsync``); ``False`` if its ``fsync`` failed.

        One ``fsync`` covers every line written before it, so a caller whose
        line an earlier ``fsync`` covered returns without one.  After a failed
        ``fsync`` the lines it covered are moved from written to failed, never
        acknowledged by a later ``fsync`` (the page cache may have dropped
        them); the file is rotated away at once and the writer continues in a
        fresh one.
        """
        if self._durable_seq < seq:
            self._sync_now(seq)
            if self._rotated:
                self._run_rotation_hooks()
        return not self._failed_ranges or not any(
            low < seq <= high for low, high in self._failed_ranges
        )

    def sync_written(self) -> bool:
        """``sync_through`` the last line written."""
        return self.sync_through(self._written_seq)

    def sync_due(self) -> bool:
        """Whether ``events.jsonl`` grew by ``SYNC_EVERY_BYTES`` since this object's last fsync.

        The growth counts every writer's lines (the size is re-read at each
        append), so the unsynced bytes of a shared file stay bounded however
        many writers share it.
        """
        return self._fd is not None and self._size - self._synced_size >= SYNC_EVERY_BYTES

    def close(self) -> None:
        """Make every written line durable and close the file; idempotent."""
        with self._lock:
            if self._closed:
                return
            if self._fd is not None:
                self._fsync_current_locked()
                if self._fsync_failed:
                    try:
                        with self._directory.lock():
                            self._rotate_away_at_close()
                    except OSError as error:
                        reraise_if_from_a_signal_handler(error)
                        self._report_error(error)
                self._close_fd()
            self._directory.close()
            self._closed = True  # only now: interrupted before, a later close() does it all
        self._run_rotation_hooks()

    def after_fork_in_child(self) -> None:
        """Fresh locks, and no descriptors: the parent's are shared with the child.

        Nothing is opened here: a child that only calls ``exec()`` (``subprocess``
        with ``preexec_fn``) must not wait on the disk.  The first append opens the
        file again, after the ``flock``, so it sees the file as a parent thread
        mid-write at the fork left it.
        """
        self._lock = threading.Lock()
        self._rotated = []
        # The parent's lines are the parent's to fsync; the copies of its
        # descriptors close here, the parent's stay open.
        self._durable_seq = self._written_seq
        if self._fd is not None:
            with ignoring_own(OSError):
                os.close(self._fd)
        self._fd = None
        self._identity = None
        self._directory.after_fork_in_child()

    def _run_rotation_hooks(self) -> None:
        """Hand each file rotated away to ``after_rotation``, under no lock."""
        if not self._rotated or self._after_rotation is None:
            self._rotated = []
            return
        with self._lock:
            rotated, self._rotated = self._rotated, []
        for path in rotated:
            try:
                self._after_rotation(path)
            except Exception as error:  # a hook's failure is not the caller's
                reraise_if_from_a_signal_handler(error)
                report(
                    f"after-rotation:{type(error).__name__}",
                    f"after rotation of {path}: {error!r}",
                )

    def _fail(self, count: int) -> None:
        """Count *count* lines handed to this file as failed (under ``self._lock``)."""
        self.lost += count

    # -- durability ----------------------------------------------------------

    def _sync_now(self, seq: int) -> None:
        # The fsync runs under the lock: two fsyncs of one open file racing each
        # other could let one of them report success for pages whose write-back
        # error the other consumed, and the lock makes the outcome and the
        # bookkeeping one step.
        with self._lock:
            if self._fsync_error is not None:
                self._settle_fsync_error(raise_the_programs=False)
            if self._durable_seq >= seq:
                return  # covered by an fsync that ran while this caller waited
            if self._fd is None:
                # Every file this object let go of was fsynced (or its lines failed).
                self._durable_seq = max(self._durable_seq, self._written_seq)
                return
            self._fsync_current_locked()
            if self._fsync_failed and not self._closed:
                try:
                    with self._directory.lock():
                        self._follow_other_writers()
                        self._rotate_after_failed_fsync()
                except OSError as error:
                    reraise_if_from_a_signal_handler(error)
                    self._report_error(error)  # the next append tries again

    def _rotate_after_failed_fsync(self) -> None:
        """Rotate the open file away now, since an fsync of it failed (directory lock held).

        Its lines not yet durable may be garbage on the disk after a power
        loss.  Left as ``events.jsonl``, a later writer (this process restarted)
        would append behind them and acknowledge its lines, and the damage
        would sit before acknowledged lines instead of at the end of a file.
        The caller has just followed the disk; a fresh file is begun.  A
        failure leaves the file open and flagged: the next append tries again.
        """
        if self._fd is not None and self._size > 0:
            self._rotate()

    def _rotate_away_at_close(self) -> None:
        """At close, rename the file away if an fsync of it failed (directory lock held).

        The size on disk decides, not this object's view: other writers' lines
        may be among the pages lost.
        """
        assert self._identity is not None
        if self._directory.is_current_and_not_empty(self._identity):
            self._retire_current()

    def _fsync_current_locked(self) -> None:
        """fsync the open file; on failure, fail its lines not yet durable."""
        assert self._fd is not None
        if self._fsync_error is not None:
            self._settle_fsync_error(raise_the_programs=False)
        target = self._written_seq
        if self._fsync_failed:
            # An fsync of this file failed before: a later one may report success
            # for pages the kernel already dropped, so it acknowledges nothing.
            self._fail_unsynced(target)
            return
        try:
            sync_file(self._fd)
        except OSError as error:
            # Kept first, in one step: an interrupt that lands while it is told
            # apart leaves it kept, for the next fsync to settle before it runs.
            self._fsync_error = error
            self._settle_fsync_error(raise_the_programs=True)
        else:
            self._durable_seq = max(self._durable_seq, target)
            self._synced_size = self._size

    def _settle_fsync_error(self, *, raise_the_programs: bool) -> None:
        """Act on the failed ``fsync`` kept in ``_fsync_error``, if any.

        A signal handler's exception raised in the ``fsync`` call is the
        program's, not the disk's: the fsync may have succeeded, and runs
        again.  Any other failure means the fsyncgate rule: from now on no
        fsync of this file acknowledges anything, and its lines not yet durable
        are failed.  Even with none of this object's lines at stake: the page
        cache is the file's, and the pages lost may hold another writer's lines.

        Args:
            raise_the_programs: raise the handler's exception (it was raised
                just now); otherwise it was raised into a call that has ended.
        """
        error = self._fsync_error
        if error is None:
            return
        program_error = from_a_signal_handler(error)
        self._fsync_error = None
        if program_error is not None:
            if raise_the_programs:
                raise program_error
            return
        self._fsync_failed = True  # with the line above, one step with no call in it
        self._fail_unsynced(self._written_seq)
        self._report_error(error)

    def _fail_unsynced(self, target: int) -> None:
        """Count lines up to *target* not yet durable as failed (the fsyncgate rule).

        The file is then rotated away (see ``_rotate_after_failed_fsync``) and never
        fsynced again.
        """
        if target <= self._durable_seq:
            return
        lost = target - self._durable_seq
        # One step with no call in it: an interrupt lands before or after.
        self._failed_ranges = [*self._failed_ranges, (self._durable_seq, target)]
        self.lost += lost
        self._fsync_lost += lost
        self._durable_seq = target
        self._fsync_failed = True

    def _leave_current_file(self) -> None:
        """fsync and close the open file: no line is left behind unsynced.

        Interrupted before its fsync finished, the file stays open: the next
        append finds it renamed away again and leaves it then, fsync first.
        """
        self._fsync_current_locked()
        self._close_fd()

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        self._identity = None
        if fd is not None:
            with ignoring_own(OSError):
                os.close(fd)

    # -- under the thread lock and the directory lock ------------------------

    def _append_locked(self, lines: list[bytes], index: int) -> int:
        """Write *lines* from *index* on, up to the second rotation they need.

        Returns:
            The index of the first line not handled yet: where a second
            rotation is due, else the end (lines that failed count as handled).
        """
        if self._fsync_failed and self._size == 0:
            # An empty file holds no lost page: nothing to move away from.
            self._fsync_failed = False
        count = len(lines)
        rotated = False
        while index < count:
            first = lines[index]
            try:
                if self._fd is None:
                    self._open(create=True)
                # Checked after an open too: another writer may have created and
                # nearly filled the file since this one last looked.
                if self._size > 0 and (
                    self._fsync_failed
                    or self._size + len(first) > self.max_file_size
                    or self._directory.period_ended()
                ):
                    if rotated:
                        return index  # the rotation hooks run first
                    self._rotate()
                    rotated = True
            except OSError as error:
                reraise_if_from_a_signal_handler(error)
                self._fail(count - index)
                self._report_error(error)
                return count
            # Gather the lines that fit in this file into one write() call.
            end, chunk_size = index + 1, len(first)
            while end < count and self._size + chunk_size + len(lines[end]) <= self.max_file_size:
                chunk_size += len(lines[end])
                end += 1
            chunk = lines[index:end]
            written_lines = self._write_chunk(chunk, chunk_size)
            if written_lines < len(chunk):
                self._fail(count - index - written_lines)
                return count
            index = end
        return index

    def _write_chunk(self, chunk: list[bytes], chunk_size: int) -> int:
        """Write *chunk* with as many ``write()`` calls as it takes, and count it.

        On an error the file is cut back to the end of the last complete line,
        so a later write never completes a torn line with another record.

        Returns:
            The complete lines written.
        """
        assert self._fd is not None
        data = chunk[0] if len(chunk) == 1 else b"".join(chunk)
        start, done = self._size, 0
        self._in_flight = (start, chunk)
        error: OSError | None = None
        while done < chunk_size:
            try:
                n = os.write(self._fd, data[done:] if done else data)
            except OSError as exc:
                reraise_if_from_a_signal_handler(exc)
                error = exc
                break
            if n <= 0:
                error = OSError(errno.EIO, "write() made no progress")
                break
            done += n
        if error is None:
            # The common case in one step with no call in it.
            self._size, self._written_seq, self._bytes_written = (
                start + done,
                self._written_seq + len(chunk),
                self._bytes_written + done,
            )
            self._in_flight = None
            return len(chunk)
        self._report_error(error)
        return self._count_in_flight(done)

    def settle_interrupted_write(self) -> None:
        """Settle a write an interrupt cut short, if its settling was cut short too.

        Two signals pending together do that: Python runs the second handler
        at the first point after the first one raised, inside the settling.
        The caller whose drain was interrupted calls this before it counts
        what the file wrote.
        """
        if self._in_flight is not None:
            with self._lock, self._directory.lock():
                self._settle_interrupted_write()

    def _settle_interrupted_write(self) -> None:
        """Count what reached the file of a chunk whose write was interrupted (both locks held).

        The bytes at the chunk's offset say which of its lines were written:
        read back, not inferred from the file's size, since another writer may
        have appended since (a settling cut short and done again later).
        """
        if self._in_flight is None or self._fd is None:
            return
        start, chunk = self._in_flight
        try:
            size = os.fstat(self._fd).st_size
            on_disk = os.pread(self._fd, max(0, min(size - start, sum(map(len, chunk)))), start)
        except OSError as error:
            reraise_if_from_a_signal_handler(error)
            self._report_error(error)
            self.lost += len(chunk)  # its fate unknown: never acknowledged, never written again
            self._in_flight = None
            return
        written = lines = 0
        for line in chunk:
            if on_disk[written : written + len(line)] != line:
                break
            written += len(line)
            lines += 1
        torn = on_disk[written:]
        if torn and start + len(on_disk) == size and chunk[lines].startswith(torn):
            written = len(on_disk)  # a torn line of ours ends the file: cut off below
        self._count_in_flight(written)

    def _count_in_flight(self, written: int) -> int:
        """Count the complete lines among the first *written* bytes of the chunk in flight,
        cutting a torn line off the file.

        Returns:
            The complete lines written.
        """
        assert self._in_flight is not None
        assert self._fd is not None
        start, chunk = self._in_flight
        complete_lines, complete_bytes = 0, 0
        for line in chunk:
            if complete_bytes + len(line) > written:
                break
            complete_bytes += len(line)
            complete_lines += 1
        end = start + complete_bytes
        if complete_bytes < written:
            try:
                os.ftruncate(self._fd, end)
            except OSError as error:
                reraise_if_from_a_signal_handler(error)
                end = -1  # unknown: the next append repairs the tail
        # One step with no call in it: an interrupt lands before or after.
        self._size = end
        self._written_seq += complete_lines
        self._bytes_written += complete_bytes
        self._in_flight = None
        return complete_lines

    def _rotate(self) -> None:
        """Retire the current file under a fresh name and begin a new ``events.jsonl``.

        The file stays open until it is renamed: if the rename fails, the next
        append finds it open, still due for rotation, and tries again.
        """
        self._fsync_current_locked()
        self._retire_current()
        self._close_fd()
        self._open(create=True)

    def _retire_current(self) -> None:
        """Rename ``events.jsonl`` away and count the rotation, for the hooks to see."""
        rotated = self._directory.retire_current()
        if rotated is not None:
            self._rotated = [*self._rotated, rotated]
            self._rotations += 1

    def _open(self, *, create: bool, recover: bool = False) -> None:
        """Open ``events.jsonl`` (creating it if asked) and take its size as this object's.

        Args:
            create: create the file if it does not exist.
            recover: also check the last lines for damage (the first open of a
                writer).  A damaged file is rotated away intact, and nothing is
                left open: the first append begins a fresh file.

        Raises:
            FileNotFoundError: the file does not exist and *create* is false.
            OSError: see ``EventDirectory.open_current``; nothing is left open.
        """
        opened = self._directory.open_current(create=create, recover=recover)
        self._fd = opened.fd
        self._identity = opened.identity
        self._size = opened.size
        self._synced_size = 0  # other writers' lines in it may not be durable yet
        self._fsync_failed = False
        if opened.damaged:
            self._retire_current()
            self._close_fd()

    def _follow_other_writers(self) -> None:
        """Catch up with other writers: reopen after a rotation, re-read the size."""
        if self._fd is None:
            return
        assert self._identity is not None
        size = self._directory.current_size(self._fd, self._identity, self._size)
        if size is None:
            # Renamed away by another writer or by logrotate: what this object
            # wrote there must still become durable before it lets go.
            self._leave_current_file()
            self._open(create=True)
        else:
            self._size = size

    def _report_error(self, error: OSError) -> None:
        report(
            f"oserror:{error.errno}",
            f"cannot write {self.path}: {error}; affected events counted as failed, "
            "writing continues",
            every=10.0,
        )
