"""An in-memory model of one directory on a disk that can lose power.

Like SQLite's crash tests: what a program writes goes to a "page cache" that
reads see at once, while the "disk" keeps only what an ``fsync`` made durable.
At a power loss (``materialise``) each write not yet fsynced is kept, dropped,
torn (only a prefix reached the disk) or garbled (the disk holds garbage or
zeros there), each truncation not yet fsynced is kept or not, and of the
directory operations (create, link, unlink, rename) not yet made durable by an
``fsync`` of the directory only a prefix survives (a journal replays in order).

A failed file ``fsync`` follows Linux (PostgreSQL's "fsyncgate"): the writes it
covered, by any descriptor, are marked clean, so no later ``fsync`` makes them
durable; what the disk holds there stays uncertain until the power loss decides
it.  The error is reported once to each descriptor open when it happened (the
kernel's ``errseq_t``), never to one opened later.

``FakeOs`` and ``FakeFcntl`` stand in for the ``os`` and ``fcntl`` modules as
``structlog_events._file``, ``_directory`` and ``_recovery`` use them;
``FakeOs.crash_at`` raises ``PowerLoss`` from the n-th call, the moment the power goes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class PowerLoss(BaseException):
    """The power went: raised from the OS call at the crash point, and every one after.

    A ``BaseException``, like ``KeyboardInterrupt``: the code under test must
    not catch it as an I/O error and carry on.
    """


@dataclass
class _Change:
    """A change to a file's content, not known to be on the disk.

    ``offset``/``data`` for a write; ``size`` for a truncation.  ``lost``: a
    failed ``fsync`` covered it, so no later ``fsync`` makes it durable.
    """

    offset: int = 0
    data: bytes = b""
    size: int | None = None
    lost: bool = False


@dataclass
class _Inode:
    number: int
    is_dir: bool = False
    #: What reads see (the page cache).
    data: bytearray = field(default_factory=bytearray)
    #: The disk content as of the last fsync that left no uncertainty.
    base: bytes = b""
    #: Changes since ``base``, in order; those not ``committed`` are uncertain.
    changes: list[_Change] = field(default_factory=list)
    committed: int = 0  # changes[:committed] minus the lost ones are durable
    #: Write-back errors so far (Linux's errseq_t): each open file description
    #: that was open when one happened has its next fsync fail.
    errors: int = 0


@dataclass(frozen=True)
class Faults:
    """Rates (0 to 1) of injected failures per call."""

    short_write: float = 0.0
    enospc: float = 0.0
    fsync_error: float = 0.0
    directory_fsync_error: float = 0.0
    link_unsupported: bool = False


NO_FAULTS = Faults()


class ModelDisk:
    """One directory (and the files in it) on a model disk.

    Args:
        directory: the path the code under test uses for the directory.
        rng: the source of every random decision, for reproducible seeds.
        faults: failures to inject while running (none at a power loss).
    """

    def __init__(self, directory: Path, rng: random.Random, faults: Faults = NO_FAULTS) -> None:
        self.directory = directory
        self.rng = rng
        self.faults = faults
        self._next_inode = 100
        self.dir_inode = self._new_inode(is_dir=True)
        #: name -> inode number, as the program sees the directory.
        self.entries: dict[str, int] = {}
        #: name -> inode number, as the disk holds the directory.
        self.durable_entries: dict[str, int] = {}
        #: Directory operations since the last directory fsync, in order.
        self.pending_dir_ops: list[tuple[str, str, str | int]] = []
        self.inodes: dict[int, _Inode] = {}

    def _new_inode(self, *, is_dir: bool = False) -> int:
        self._next_inode += 1
        return self._next_inode

    # -- building ----------------------------------------------------------

    def add_durable_file(self, name: str, content: bytes) -> int:
        """Put a file on the disk as if fsynced with its directory entry."""
        inode = self._new_inode()
        self.inodes[inode] = _Inode(inode, data=bytearray(content), base=content)
        self.entries[name] = inode
        self.durable_entries[name] = inode
        return inode

    def files(self) -> dict[str, bytes]:
        """Name -> content of every file, as the program sees them now."""
        return {name: bytes(self.inodes[ino].data) for name, ino in self.entries.items()}

    def inode_of(self, name: str) -> int:
        return self.entries[name]

    # -- the power loss ----------------------------------------------------

    def materialise(self, rng: random.Random) -> ModelDisk:
        """Return the disk as a restart after a power loss now finds it."""
        after = ModelDisk(self.directory, rng)
        after._next_inode = self._next_inode
        entries = dict(self.durable_entries)
        ops = self.pending_dir_ops
        for kind, first, second in ops[: rng.randint(0, len(ops))]:
            _apply_dir_op(entries, kind, first, second)
        for ino in set(entries.values()):
            content = self._disk_content(self.inodes[ino], rng)
            after.inodes[ino] = _Inode(ino, data=bytearray(content), base=content)
        after.entries = entries
        after.durable_entries = dict(entries)
        return after

    def _disk_content(self, inode: _Inode, rng: random.Random) -> bytes:
        content = bytearray(inode.base)
        for index, change in enumerate(inode.changes):
            certain = index < inode.committed and not change.lost
            if change.size is not None:
                if certain or rng.random() < 0.5:
                    del content[change.size :]
                continue
            data = change.data
            if not certain:
                fate = rng.random()
                if fate < 0.3:
                    continue  # dropped
                if fate < 0.5:
                    data = data[: rng.randint(0, len(data))]  # torn
                elif fate < 0.65:
                    data = rng.randbytes(len(data))  # garbage
                elif fate < 0.75:
                    data = bytes(len(data))  # zeros
            end = change.offset + len(data)
            if len(content) < change.offset:
                content.extend(bytes(change.offset - len(content)))
            content[change.offset : end] = data
        return bytes(content)


def _apply_dir_op(entries: dict[str, int], kind: str, first: str, second: str | int) -> None:
    if kind == "create":
        assert isinstance(second, int)
        entries[first] = second
    elif kind == "link":
        assert isinstance(second, str)
        entries[second] = entries[first]
    elif kind == "unlink":
        entries.pop(first, None)
    elif kind == "rename":
        assert isinstance(second, str)
        entries[second] = entries.pop(first)


@dataclass
class _Open:
    inode: int
    append: bool
    is_dir: bool = False
    #: ``_Inode.errors`` when this description last reported (or was opened).
    errors_seen: int = 0


class _StatResult:
    """The fields of ``os.stat_result`` that the code under test reads."""

    def __init__(self, inode: _Inode, nlink: int) -> None:
        self.st_dev = 1
        self.st_ino = inode.number
        self.st_mode = (stat.S_IFDIR if inode.is_dir else stat.S_IFREG) | 0o644
        self.st_size = len(inode.data)
        self.st_nlink = nlink


class _DirEntry:
    def __init__(self, name: str, inode: int) -> None:
        self.name = name
        self._inode = inode

    def inode(self) -> int:
        return self._inode


class FakeOs:
    """The calls of ``os`` that ``structlog_events._file``, ``_directory`` and ``_recovery`` make.

    They run on a ``ModelDisk``.

    Args:
        disk: the model disk.
        crash_at: raise ``PowerLoss`` from this call on (counting from 1);
            ``None`` for never.
    """

    def __init__(self, disk: ModelDisk, crash_at: int | None = None) -> None:
        self.disk = disk
        self.crash_at = crash_at
        self.calls = 0
        self._fds: dict[int, _Open] = {}
        self._next_fd = 1000
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        # O_* flags and anything else harmless come from the real module.
        if name.startswith("O_"):
            return getattr(os, name)
        raise AttributeError(f"the model has no os.{name}")

    def _tick(self) -> None:
        self.calls += 1
        if self.crashed or (self.crash_at is not None and self.calls >= self.crash_at):
            self.crashed = True
            raise PowerLoss

    def _name(self, path: Any) -> str | None:
        entry = Path(path)
        if entry == self.disk.directory:
            return None
        if entry.parent != self.disk.directory:
            raise OSError(errno.ENOENT, "outside the model directory", str(entry))
        return entry.name

    def _new_fd(self, handle: _Open) -> int:
        self._next_fd += 1
        self._fds[self._next_fd] = handle
        return self._next_fd

    def _fd(self, fd: int) -> _Open:
        try:
            return self._fds[fd]
        except KeyError:
            raise OSError(errno.EBADF, "bad file descriptor") from None

    def _nlink(self, inode: int) -> int:
        return sum(1 for ino in self.disk.entries.values() if ino == inode)

    # -- namespace ---------------------------------------------------------

    def open(self, path: Any, flags: int, mode: int = 0o777) -> int:
        self._tick()
        disk = self.disk
        name = self._name(path)
        if name is None:
            return self._new_fd(_Open(disk.dir_inode, append=False, is_dir=True))
        ino = disk.entries.get(name)
        if ino is None:
            if not flags & os.O_CREAT:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
            ino = disk._new_inode()
            disk.inodes[ino] = _Inode(ino)
            disk.entries[name] = ino
            disk.pending_dir_ops.append(("create", name, ino))
        elif flags & os.O_CREAT and flags & os.O_EXCL:
            raise FileExistsError(errno.EEXIST, "File exists", str(path))
        handle = _Open(ino, append=bool(flags & os.O_APPEND))
        handle.errors_seen = disk.inodes[ino].errors
        return self._new_fd(handle)

    def close(self, fd: int) -> None:
        self._tick()
        self._fd(fd)
        del self._fds[fd]

    def dup(self, fd: int) -> int:
        self._tick()
        return self._new_fd(self._fd(fd))

    def link(self, src: Any, dst: Any, *, follow_symlinks: bool = True) -> None:
        self._tick()
        disk = self.disk
        if disk.faults.link_unsupported:
            raise OSError(errno.EPERM, "Operation not permitted")
        first, second = self._name(src), self._name(dst)
        assert first is not None
        assert second is not None
        if first not in disk.entries:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(src))
        if second in disk.entries:
            raise FileExistsError(errno.EEXIST, "File exists", str(dst))
        disk.entries[second] = disk.entries[first]
        disk.pending_dir_ops.append(("link", first, second))

    def unlink(self, path: Any) -> None:
        self._tick()
        name = self._name(path)
        assert name is not None
        if name not in self.disk.entries:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        del self.disk.entries[name]
        self.disk.pending_dir_ops.append(("unlink", name, ""))

    def rename(self, src: Any, dst: Any) -> None:
        self._tick()
        first, second = self._name(src), self._name(dst)
        assert first is not None
        assert second is not None
        if first not in self.disk.entries:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(src))
        self.disk.entries[second] = self.disk.entries.pop(first)
        self.disk.pending_dir_ops.append(("rename", first, second))

    def stat(self, path: Any, *, follow_symlinks: bool = True) -> _StatResult:
        self._tick()
        name = self._name(path)
        if name is None:
            return _StatResult(_Inode(self.disk.dir_inode, is_dir=True), 2)
        ino = self.disk.entries.get(name)
        if ino is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        return _StatResult(self.disk.inodes[ino], self._nlink(ino))

    def fstat(self, fd: int) -> _StatResult:
        self._tick()
        handle = self._fd(fd)
        if handle.is_dir:
            return _StatResult(_Inode(handle.inode, is_dir=True), 2)
        return _StatResult(self.disk.inodes[handle.inode], self._nlink(handle.inode))

    def scandir(self, path: Any) -> contextlib.nullcontext[list[_DirEntry]]:
        self._tick()
        return contextlib.nullcontext([_DirEntry(n, ino) for n, ino in self.disk.entries.items()])

    # -- content -----------------------------------------------------------

    def write(self, fd: int, data: bytes) -> int:
        self._tick()
        handle = self._fd(fd)
        faults, rng = self.disk.faults, self.disk.rng
        if faults.enospc and rng.random() < faults.enospc:
            raise OSError(errno.ENOSPC, "No space left on device")
        if faults.short_write and len(data) > 1 and rng.random() < faults.short_write:
            data = data[: rng.randint(1, len(data) - 1)]
        inode = self.disk.inodes[handle.inode]
        offset = len(inode.data)
        assert handle.append, "the writer only appends"
        inode.data += data
        inode.changes.append(_Change(offset=offset, data=bytes(data)))
        return len(data)

    def pread(self, fd: int, count: int, offset: int) -> bytes:
        self._tick()
        inode = self.disk.inodes[self._fd(fd).inode]
        return bytes(inode.data[offset : offset + count])

    def ftruncate(self, fd: int, size: int) -> None:
        self._tick()
        inode = self.disk.inodes[self._fd(fd).inode]
        del inode.data[size:]
        inode.changes.append(_Change(size=size))

    def fsync(self, fd: int) -> None:
        self._tick()
        handle = self._fd(fd)
        disk = self.disk
        if handle.is_dir:
            if disk.faults.directory_fsync_error and (
                disk.rng.random() < disk.faults.directory_fsync_error
            ):
                # A journal that failed to commit keeps its operations pending:
                # the next directory fsync commits them (no silent loss here).
                raise OSError(errno.EIO, "Input/output error")
            disk.durable_entries = dict(disk.entries)
            disk.pending_dir_ops = []
            return
        inode = disk.inodes[handle.inode]
        if disk.faults.fsync_error and disk.rng.random() < disk.faults.fsync_error:
            # The write-back of every dirty page of the file failed, whoever
            # wrote it: the page cache is per file, not per descriptor.
            for change in inode.changes[inode.committed :]:
                change.lost = True
            inode.committed = len(inode.changes)
            inode.errors += 1
        elif not any(change.lost for change in inode.changes):
            inode.base = bytes(inode.data)
            inode.changes = []
            inode.committed = 0
        else:
            inode.committed = len(inode.changes)
        if handle.errors_seen < inode.errors:
            handle.errors_seen = inode.errors
            raise OSError(errno.EIO, "Input/output error")


class FakeFcntl:
    """``fcntl`` for one process on the model disk: ``flock`` always succeeds."""

    LOCK_EX = 2
    LOCK_UN = 8

    def __init__(self, fake_os: FakeOs) -> None:
        self._os = fake_os

    def flock(self, fd: int, operation: int) -> None:
        self._os._tick()
        self._os._fd(fd)
