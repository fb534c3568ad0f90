"""An event directory as its writers share it: the lock, the live file's name, rotation.

``EventDirectory`` is what one writer knows of a directory that other writers
(threads, processes, logrotate) change too.  It takes the advisory ``flock``
on ``.events.lock`` that every writer holds to append, rotate or compress;
opens ``events.jsonl`` (creating it with ``O_EXCL``) and repairs what a crash
left at its end; tells whether the file a writer holds open is still the live
one, and how big it is now; renames it away to a rotated name later than
every other; and keeps the ``rotate_every`` record in the lock file.  The
bytes written, and whether they are durable, are the business of the
``EventFile`` that uses it (``_file``); the names come from ``_layout``.

Every method but ``lock``, ``close`` and ``after_fork_in_child`` is called
with the ``flock`` held, which is what makes its look at the directory and
what it does next one step for all the writers of the directory.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, NamedTuple

from ._handlers import ignoring_own
from ._layout import CURRENT_NAME, LOCK_NAME, next_rotated_name
from ._recovery import find_damaged_line, repair_tail

# Read-write: the tail checks read the file back.  O_NONBLOCK: opening a FIFO or
# device planted at the name must fail or return at once, never hang; it has no
# effect on regular files.
_OPEN_FLAGS: Final = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
_OPEN_ATTEMPTS: Final = 100


def fsync_directory(directory: Path) -> None:
    """Make the directory's entries (created, renamed, removed files) durable.

    Raises:
        OSError: the directory cannot be opened or its ``fsync`` failed.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class OpenedFile(NamedTuple):
    """``events.jsonl`` as ``EventDirectory.open_current`` found it.

    Attributes:
        fd: the open descriptor, read-write and appending.
        identity: ``(st_dev, st_ino)`` of the file.
        size: its size, a torn last line already cut.
        damaged: a line near its end is not a JSON object; it must be rotated
            away intact before anything is written to it.
    """

    fd: int
    identity: tuple[int, int]
    size: int
    damaged: bool


class EventDirectory:
    """The directory of one writer's ``events.jsonl``: its lock, opening, following, rotation.

    Args:
        directory: the directory; it must exist.
        file_mode: permission bits of created files (the umask applies).
        rotate_every: the period of rotation by time, or ``None``.  When a
            file was begun is recorded in the lock file, so every writer of
            the directory, and a writer started later, agree on it.

    Raises:
        OSError: ``.events.lock`` is a symbolic link (``ELOOP``) or cannot be
            created.
    """

    def __init__(self, directory: Path, *, file_mode: int, rotate_every: timedelta | None) -> None:
        self.path = directory / CURRENT_NAME
        self._path_text = str(self.path)  # what os.stat takes fastest, on every append
        self._directory = directory
        self._file_mode = file_mode
        self._period_ns = (
            None if rotate_every is None else rotate_every // timedelta(microseconds=1) * 1000
        )
        self._begun_period = 0  # the period the file last opened was begun in (rotate_every)
        self._last_rotated_name = ""
        self._file_lock: _FileLock | None = None  # the lock file, open; made once per open
        self._open_lock_file()

    # -- the lock --------------------------------------------------------------

    def lock(self) -> _FileLock:
        """The directory's ``flock``, for a ``with`` block; reopens the lock file if needed."""
        file_lock = self._file_lock
        if file_lock is None:
            file_lock = self._open_lock_file()
        return file_lock

    def unlock(self) -> None:
        """Release the ``flock`` if held (a ``with lock()`` an interrupt cut short)."""
        file_lock = self._file_lock
        if file_lock is not None:
            with ignoring_own(OSError):
                fcntl.flock(file_lock.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file; idempotent.  A later ``lock()`` opens it again."""
        file_lock, self._file_lock = self._file_lock, None
        if file_lock is not None:
            with ignoring_own(OSError):
                os.close(file_lock.fd)

    def after_fork_in_child(self) -> None:
        """Close the child's copy of the lock file: a ``flock`` is shared with the parent.

        The parent's descriptor stays open; the child's first ``lock()`` opens
        one of its own.
        """
        self.close()

    def _open_lock_file(self) -> _FileLock:
        self._file_lock = _FileLock(
            os.open(
                self._directory / LOCK_NAME,
                os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK,
                self._file_mode,
            )
        )
        return self._file_lock

    # -- the live file (lock held) ---------------------------------------------

    def open_current(self, *, create: bool, recover: bool = False) -> OpenedFile:
        """Open ``events.jsonl`` (creating it if asked), repair its tail, read its size.

        Args:
            create: create the file if it does not exist.
            recover: also check the last lines for damage (the first open of a
                writer: later opens follow live writers, whose lines are
                intact).

        Raises:
            FileNotFoundError: the file does not exist and *create* is false.
            OSError: ``events.jsonl`` is a symbolic link (``ELOOP``), is not a
                regular file or has a second hard link (``EINVAL``); or the
                repair or the directory fsync failed.  Nothing is left open.
        """
        fd, created = self._open_fd(create=create)
        try:
            info = _safe_file_status(fd, self.path)
            size = repair_tail(fd, self.path, info.st_size)
            damaged = recover and find_damaged_line(fd, self.path, size)
            # Before any line goes in: an fsync of the file alone does not make
            # its name durable, nor the rotation that made room for it.
            fsync_directory(self._directory)
            identity = (info.st_dev, info.st_ino)
            if self._period_ns is not None:
                self._begun_period = self._recorded_period(identity, created)
        except BaseException:
            os.close(fd)
            raise
        return OpenedFile(fd, identity, size, damaged)

    def current_size(self, fd: int, identity: tuple[int, int], size: int) -> int | None:
        """The size of the open file *fd* if it is still ``events.jsonl``; else ``None``.

        ``None`` when another writer or logrotate renamed it away, or when a
        second name was planted on it: it is never written again (the reopen
        refuses it while the link stays).  When other writers made it grow,
        the size on disk is read, and a torn last line they left is cut.

        Args:
            fd: the file the caller holds open.
            identity: its ``(st_dev, st_ino)``.
            size: its size as the caller last knew it.
        """
        try:
            on_disk = os.stat(self._path_text, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if (on_disk.st_dev, on_disk.st_ino) != identity or on_disk.st_nlink > 1:
            return None
        if on_disk.st_size != size:
            return repair_tail(fd, self.path, on_disk.st_size)
        return size

    def is_current_and_not_empty(self, identity: tuple[int, int]) -> bool:
        """Whether ``events.jsonl`` is still the file *identity* and holds bytes on disk.

        The size on disk decides, not a writer's view: other writers' lines
        count.

        Raises:
            OSError: the file cannot be looked at (it is gone, for one).
        """
        on_disk = os.stat(self.path, follow_symlinks=False)
        return (on_disk.st_dev, on_disk.st_ino) == identity and on_disk.st_size > 0

    def period_ended(self) -> bool:
        """Whether a ``rotate_every`` boundary has passed since the open file was begun.

        A clock stepped back finds an earlier period than the file's: no
        rotation until the clock passes the next boundary again.
        """
        return self._period_ns is not None and (
            time.time_ns() // self._period_ns > self._begun_period
        )

    def retire_current(self) -> Path | None:
        """Move ``events.jsonl`` to a rotated name later than every other.

        Returns:
            The rotated path; ``None`` if ``events.jsonl`` was gone meanwhile:
            a tool that does not take the lock (logrotate) renamed it away,
            so it is retired already.

        Raises:
            OSError: the directory cannot be listed, or the rename failed.
        """
        # rename(), not link() + unlink(): shippers (Fluent Bit, tail -F) see a
        # move of the file they follow, never the deletion of its name.  rename()
        # would replace an existing name, but the name is later than every name
        # in the directory, and every writer rotates under the directory lock.
        name = next_rotated_name(self._directory, datetime.now(UTC), after=self._last_rotated_name)
        try:
            os.rename(self.path, self._directory / name)
        except FileNotFoundError:
            return None
        self._last_rotated_name = name
        return self._directory / name

    def _recorded_period(self, identity: tuple[int, int], created: bool) -> int:
        """The ``rotate_every`` period the file *identity* was begun in.

        The writer that creates ``events.jsonl`` records its inode and the time
        in the lock file; the others (and later ones) read it there.  A file
        with no record (created by another tool, or by a writer without
        ``rotate_every``) counts as begun now.
        """
        assert self._period_ns is not None
        assert self._file_lock is not None
        lock_fd = self._file_lock.fd
        now = time.time_ns()
        if not created:
            with ignoring_own(OSError, ValueError):
                dev, ino, begun = map(int, os.pread(lock_fd, 128, 0).split())
                if (dev, ino) == identity:
                    return begun // self._period_ns
        if created:
            with ignoring_own(OSError):  # a file without a record is begun now
                os.ftruncate(lock_fd, 0)
                os.pwrite(lock_fd, b"%d %d %d\n" % (*identity, now), 0)
        return now // self._period_ns

    def _open_fd(self, *, create: bool) -> tuple[int, bool]:
        """Open (or create, if asked) ``events.jsonl``; also say whether this call created it.

        Creation uses ``O_EXCL``, so the file this writer starts is its own;
        if the name exists it is opened as it is.  A tool renaming files in
        between (logrotate) can make both fail: then the pair is tried again.
        """
        for _ in range(_OPEN_ATTEMPTS):
            if create:
                with contextlib.suppress(FileExistsError):
                    flags = _OPEN_FLAGS | os.O_CREAT | os.O_EXCL
                    return os.open(self.path, flags, self._file_mode), True
            try:
                return os.open(self.path, _OPEN_FLAGS), False
            except FileNotFoundError:
                if not create:
                    raise
        raise OSError(errno.EAGAIN, f"{self.path} kept vanishing while being opened")


def _safe_file_status(fd: int, path: Path) -> os.stat_result:
    """Return the status of *fd*, refusing what a writer must not write through.

    Raises:
        OSError: ``EINVAL`` if it is not a regular file, or if it has a hard link
            besides ``events.jsonl`` (one planted in a shared directory could
            point at any file of the same owner).
    """
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EINVAL, f"{path} is not a regular file; refusing to write to it")
    if info.st_nlink > 1:
        raise OSError(errno.EINVAL, f"{path} has another hard link; refusing to write to it")
    return info


class _FileLock:
    """The open lock file: ``flock(LOCK_EX)`` for the duration of a ``with`` block.

    Attributes:
        fd: the lock file's descriptor (it also holds the ``rotate_every`` record).
    """

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            # Interrupted once it was taken (a ``with`` does not call ``__exit__``
            # when ``__enter__`` raises), or while waiting: either way, not held.
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            raise

    def __exit__(self, *exc_info: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
