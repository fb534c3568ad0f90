"""Retention and compression of rotated event files.

``Retention`` is the ``after_rotation`` hook of an ``EventFile``.  It deletes
the oldest rotated files beyond ``max_files``, ``max_total_size`` or ``max_age`` and, with
``compress=True``, gzips rotated files to ``events_<UTC time>.jsonl.gz`` on a
background thread of its own: the hook runs in the thread that wrote (the
caller's, in SYNC mode), which must not wait for gzip.

Retention is applied at once, in the thread that rotated, counting every
rotated file at its size on disk, plain or compressed: the limits hold however
far compression falls behind (the one file being compressed aside, whose
archive is written before its plain file goes).  Compression is only a flag
raised for the thread, which then compresses every rotated ``.jsonl`` it finds,
newest first (the oldest are the next to go, and are not worth compressing).
Its backlog is the files on disk, never a queue in memory.  The same sweep
finishes what a crash left (a rotated file not yet compressed, a half-written
temporary archive).

An archive is written to ``.events_<UTC time>.jsonl.gz.tmp`` (a dot name, which
no reader takes for an event file), fsynced, renamed to its final name, and
only then is the plain file removed: at every moment one complete copy of the
events exists under an event file name.  Writers of several processes sharing
the directory agree through an ``flock`` on the plain file, held while it is
compressed.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import shutil
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, NamedTuple

from ._directory import fsync_directory
from ._handlers import ignoring_own, reraise_if_from_a_signal_handler
from ._layout import (
    ARCHIVE_SUFFIX,
    ROTATED_PATTERN,
    TEMP_ARCHIVE_PATTERN,
    archive_name,
    list_rotated,
    rotated_name,
    temp_archive_name,
)
from ._options import flag, optional_limit, optional_period
from ._report import report
from ._wakeup import Wakeup

#: gzip's own default level.  On event lines level 9 took 1.4 times the CPU for
#: archives 3% smaller; level 1 half the CPU for archives 10% larger.
COMPRESS_LEVEL: Final = 6

_COPY_CHUNK: Final = 1024 * 1024
# Linux gives each thread its own nice value: compression yields the CPU to
# the threads that log and write.
_WORKER_NICE: Final = 10
# Longest the thread sleeps before looking for a request again (requests wake
# it; this bounds the cost of a wake-up a bug might lose).
_IDLE_SECONDS: Final = 1.0


class Retention:
    """What happens to the files an ``EventFile`` rotates away.

    Retention counts rotated files, plain and compressed alike, of this
    directory only (``events_<UTC time>.jsonl`` and ``.jsonl.gz``); it never
    touches ``events.jsonl``, the lock file or files of any other name.  It is
    applied when the writer is created and each time it rotates a file (and
    again after compression when ``compress=True``).  Rotated files an earlier run left
    uncompressed are handed to the compression thread as soon as the writer
    is created.

    Args:
        directory: the writer's ``output_dir``.
        max_files: keep at most this many rotated files, the newest; ``None``
            keeps them all.
        max_total_size: keep the newest rotated files whose sizes add up to
            at most this many bytes and delete the older ones; ``None`` for
            no limit.
        max_age: delete rotated files rotated longer ago than this, by the UTC
            time in their name; ``None`` for no limit.  A name in the future (a
            clock stepped back) is young.
        compress: gzip rotated files, on a background thread.
        file_mode: permission bits of the archives (the umask applies).

    Raises:
        TypeError: an option has the wrong type.
        ValueError: ``max_files``, ``max_total_size`` or ``max_age`` is zero or
            negative.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_files: int | None = None,
        max_total_size: int | None = None,
        max_age: timedelta | None = None,
        compress: bool = False,
        file_mode: int = 0o644,
    ) -> None:
        self.directory = directory
        self.max_files = optional_limit(max_files, "max_files", "rotated files to keep")
        self.max_total_size = optional_limit(
            max_total_size, "max_total_size", "bytes of rotated files to keep"
        )
        self.compress = flag(compress, "compress")
        self._file_mode = file_mode
        self.max_age = optional_period(max_age, "max_age")
        self._limited = any(
            limit is not None for limit in (self.max_files, self.max_total_size, self.max_age)
        )
        # The hook the writer's file calls, chosen once: retention is a
        # directory listing done at once, compression is handed to the thread.
        self.after_rotation: Callable[[Path], None] | None
        if compress:
            self.after_rotation = self._prune_and_request_sweep
        elif self._limited:
            self.after_rotation = self._prune_after_rotation
        else:
            self.after_rotation = None
        self._init_threading()
        if directory.is_dir():
            # What an earlier run left is handled now, not at the first
            # rotation: files it had no time to compress, limits lowered since.
            self._catch_up()

    def _init_threading(self) -> None:
        # No lock: close() may come from a signal handler, or be cut short by
        # Ctrl-C, on the main thread; it sets a flag and posts a wake-up.
        self._wake = Wakeup()
        self._requested = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- public face -------------------------------------------------------

    def sweep(self) -> None:
        """Apply retention, compress every rotated plain file left (if ``compress``), again.

        Runs in the calling thread; never raises: a failure is reported on
        stderr and the files concerned are left as they are, for the next sweep.
        """
        if self._limited:
            self._prune()
        if self.compress and self._compress_all() and self._limited:
            self._prune()  # the archives made now count at their own size

    def close(self, timeout: float | None = None) -> bool:
        """Finish the compressions requested so far and stop the thread; idempotent.

        Rotations after ``close()`` are compressed in the thread that rotated.

        Returns:
            ``False`` if *timeout* seconds passed first (the thread goes on
            while the process lives), else ``True``.
        """
        self._stopping = True
        self._wake.post()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            if timeout is not None and timeout <= 0:
                return False  # not waiting was the point: nothing to report
            report(
                "compress-timeout",
                "close() timed out while rotated files were being compressed; "
                "compression goes on in the background while the process lives",
            )
            return False
        return True

    # -- the hooks -------------------------------------------------------------

    def _catch_up(self) -> None:
        if self.compress and _has_unfinished_compression(self.directory):
            self._request_sweep(self.directory)
        elif self._limited:
            self._prune()

    def _prune_after_rotation(self, path: Path) -> None:
        self._prune()

    def _prune_and_request_sweep(self, path: Path) -> None:
        if self._limited:
            self._prune()
        self._request_sweep(path)

    def _request_sweep(self, path: Path) -> None:
        """Hand a sweep to the thread, started at the first request.

        Requests come from rotations, which the writer's drain serialises, and
        from the constructor before any: one caller at a time starts the thread.
        """
        self._requested = True
        if not self._stopping and (self._thread is not None or self._start_thread()):
            self._wake.post()
            if not self._stopping:
                return
        # Closed (the thread may be gone), or the interpreter is exiting: do it
        # here.  A sweep the thread runs too at worst finds the work done.
        self.sweep()

    def _start_thread(self) -> bool:
        thread = threading.Thread(target=self._run, name="structlog-events-compress", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # "can't create new thread at interpreter shutdown"
            return False
        self._thread = thread
        return True

    # -- the thread ------------------------------------------------------------

    def _run(self) -> None:
        with ignoring_own(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _WORKER_NICE)
        while True:
            # Stopping is read before the request: a request made after this
            # look finds the thread stopping, and sweeps itself.
            stopping = self._stopping
            if self._requested:
                self._requested = False
                try:
                    self.sweep()
                except Exception as error:  # the thread must outlive any one failure
                    report("compress-error", f"compression thread error, carrying on: {error!r}")
            elif stopping:
                return  # every request was served
            else:
                self._wake.wait(_IDLE_SECONDS)

    # -- compression -----------------------------------------------------------

    def _compress_all(self) -> bool:
        """Compress the rotated plain files, newest first; remove orphaned temporaries.

        Returns:
            Whether a file was compressed.
        """
        try:
            entries = {entry.name: entry for entry in os.scandir(self.directory)}
        except OSError as error:
            self._report_error("list", error)
            return False
        for name, entry in entries.items():
            temp = TEMP_ARCHIVE_PATTERN.match(name)
            if temp is not None and temp.group(1) not in entries:
                # Orphaned by a crash or by retention: its plain file is gone.
                with ignoring_own(OSError):
                    os.unlink(entry.path)
        compressed = False
        for file in reversed(list_rotated(self.directory).rotated):
            if file.plain is None:
                continue
            try:
                compressed = self.compress_file(file.plain) or compressed
            except OSError as error:
                self._report_error(f"compress {file.key}", error)
        return compressed

    def compress_file(self, source: Path) -> bool:
        """Gzip one rotated file to ``<name>.gz``, then remove it.

        Nothing happens if another writer is compressing it (it holds the
        ``flock``) or has already done so.  A complete archive left by a crash
        before the plain file's removal is kept, and the plain file removed.

        Returns:
            ``True`` if this call compressed *source* or finished its compression.

        Raises:
            OSError: reading, writing, fsync or rename failed; the plain file
                is left in place and no archive exists under the final name.
        """
        target = source.with_name(archive_name(source.name))
        temp = source.with_name(temp_archive_name(source.name))
        try:
            fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return False  # compressed or deleted since it was listed
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # another writer is compressing it
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or not _still_named(source, info):
                return False
            if not os.path.lexists(target):
                self._write_archive(fd, temp, target.name, info.st_mtime)
                try:
                    if not _still_named(source, info):
                        # Deleted by retention meanwhile: do not bring it back.
                        os.unlink(temp)
                        return False
                    os.rename(temp, target)
                except FileNotFoundError:
                    # The temporary is gone: another writer's sweep took it for
                    # an orphan, its plain file deleted by retention meanwhile.
                    return False
                fsync_directory(self.directory)
            # The archive is complete and durable under its name: the plain
            # file can go.  Removed under the flock, so a writer that takes the
            # lock next finds it gone (or retention removed it already).
            with ignoring_own(FileNotFoundError):
                os.unlink(source)
            fsync_directory(self.directory)
            return True
        finally:
            os.close(fd)

    def _write_archive(self, source_fd: int, temp: Path, name: str, mtime: float) -> None:
        """Write the gzip of *source_fd* to *temp* and fsync it; remove *temp* on failure."""
        temp_fd = os.open(
            temp,
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW,
            self._file_mode,
        )
        try:
            with (
                open(source_fd, "rb", closefd=False) as plain,
                open(temp_fd, "wb", closefd=False) as raw,
                # The header names the final archive, not the temporary file.
                gzip.GzipFile(
                    filename=name, mode="wb", fileobj=raw, compresslevel=COMPRESS_LEVEL, mtime=mtime
                ) as archive,
            ):
                shutil.copyfileobj(plain, archive, _COPY_CHUNK)
            os.fsync(temp_fd)
        except BaseException:
            with ignoring_own(OSError):
                os.unlink(temp)
            raise
        finally:
            os.close(temp_fd)

    # -- retention -------------------------------------------------------------

    def _prune(self) -> None:
        """Delete the oldest rotated files beyond ``max_files``, ``max_total_size`` or ``max_age``.

        Every rotated file counts at its size on disk, plain or compressed, so
        the limits hold however far compression lags, with one exception:
        with ``compress=True`` the newest rotated file, while it is still
        plain, is kept and not counted.  It is the next to be compressed (or
        being compressed), and at its plain size it would push out archives
        that fit once it is compressed.
        """
        try:
            files = _rotated_files(self.directory)
        except OSError as error:
            self._report_error("list", error)
            return
        if self.compress and files and not files[0].compressed:
            files = files[1:]
        oldest_kept = (
            None if self.max_age is None else rotated_name(datetime.now(UTC) - self.max_age)
        )
        kept_files, kept_bytes = 0, 0
        for index, file in enumerate(files):
            if (
                (self.max_files is None or kept_files < self.max_files)
                and (self.max_total_size is None or kept_bytes + file.size <= self.max_total_size)
                and (oldest_kept is None or file.name >= oldest_kept)
            ):
                kept_files += 1
                kept_bytes += file.size
                continue
            # This file and every older one go: retention keeps the newest, in order.
            for old in files[index:]:
                for path in old.paths:
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass  # deleted by another writer sharing the directory
                    except OSError as error:
                        self._report_error(f"delete {path.name}", error)
            # Deletions are not fsynced: if a crash undoes one, the next
            # rotation deletes the file again.
            return

    def _report_error(self, action: str, error: OSError) -> None:
        reraise_if_from_a_signal_handler(error)  # retention may run in the caller's thread
        report(
            f"retention:{error.errno}",
            f"cannot {action} in {self.directory}: {error}; the rotated files stay "
            "as they are and are retried at the next rotation",
            every=60.0,
        )

    def after_fork_in_child(self) -> None:
        """No thread: the parent's does not exist in the child, which starts its own."""
        stopping = self._stopping
        self._init_threading()
        self._stopping = stopping


class _RotatedFile(NamedTuple):
    """One rotated file: its plain name, the paths it has now, and the bytes it keeps."""

    name: str
    paths: list[Path]
    size: int
    compressed: bool


def _rotated_files(directory: Path) -> list[_RotatedFile]:
    """Rotated files of *directory*, newest first.

    A file present plain and compressed (compression under way) is one file,
    sized by its archive, which is what stays.
    """
    files: list[_RotatedFile] = []
    for file in reversed(list_rotated(directory).rotated):
        paths = [path for path in (file.plain, file.compressed) if path is not None]
        for path in reversed(paths):  # the archive first
            try:
                size = os.stat(path, follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
            files.append(
                _RotatedFile(file.key, paths, size, compressed=file.compressed is not None)
            )
            break
    return files


def _has_unfinished_compression(directory: Path) -> bool:
    """Whether *directory* holds a rotated plain file or a temporary archive."""
    try:
        with os.scandir(directory) as entries:
            return any(
                TEMP_ARCHIVE_PATTERN.match(entry.name)
                or (ROTATED_PATTERN.match(entry.name) and not entry.name.endswith(ARCHIVE_SUFFIX))
                for entry in entries
            )
    except OSError as error:
        reraise_if_from_a_signal_handler(error)
        return False  # the writer's own checks report an unusable directory


def _still_named(path: Path, info: os.stat_result) -> bool:
    """Whether *path* still names the file of *info*."""
    try:
        now = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino)
