"""Scanning an event directory: its files in write order, line by line.

The machinery behind ``read_events``, ``follow_events`` and the CLI: listing
the rotated files, opening each plain or compressed, holding the live
``events.jsonl`` open across rotations, splitting lines on ``b"\\n"`` and
validating each as an ``Event``.  A directory listing is not a snapshot
(``readdir()`` may miss a file created or renamed while it runs, yet return a
newer one), so each look lists twice and trusts the second only up to the
newest file of the first.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import stat
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from ._event import Event, ExtendedEvent
from ._layout import (
    ARCHIVE_SUFFIX,
    CURRENT_NAME,
    ROTATED_PATTERN,
    RotatedFile,
    archive_name,
    list_rotated,
)

#: Bytes read per call; a longer line is gathered from several reads.
_CHUNK: Final = 1024 * 1024

#: Looks in a row that may leave the live file unread because a listing was
#: incomplete (files created or compressed while it ran); the next one reads it.
_PATIENCE: Final = 3

#: Bytes at the start of a file that identify it, as log shippers fingerprint files.
_HEAD: Final = 4096

#: Files a scan remembers having read, to never read one twice (see ``_Scan``).
_REMEMBERED_FILES: Final = 64

#: What a damaged gzip file raises while it is read.
_GZIP_ERRORS: Final = (gzip.BadGzipFile, EOFError, zlib.error)

_STRAY_REASON: Final = (
    "named like an event file but not a regular file (a directory, FIFO, device or link); not read"
)

_TORN_REASON: Final = (
    "incomplete last line (a write in progress, or a writer that stopped mid-write; "
    "the next writer to open the file cuts it)"
)


@dataclass(frozen=True, slots=True)
class LineProblem:
    """A line that is not a valid event.

    Attributes:
        path: the file holding the line.
        line_number: the line's number in that file, counting from 1.
        reason: what is wrong with it.
        torn: ``True`` for the unterminated last line of the live file, which
            is skipped rather than an error: a writer may be writing it, or
            stopped mid-write (the next writer cuts it).
        invalid: ``True`` for an event that is not a valid instance of the
            model it was read as (see ``read_events``' ``model``).
    """

    path: Path
    line_number: int
    reason: str
    torn: bool = False
    invalid: bool = False


@dataclass(frozen=True, slots=True)
class ScannedLine:
    """A valid event line: where it is, its bytes (without the newline), the event."""

    path: Path
    line_number: int
    raw: bytes
    event: Event


class CaughtUp:
    """Marker a scan yields each time it has read the live file to its current end."""

    __slots__ = ()


CAUGHT_UP: Final = CaughtUp()

ScanItem = ScannedLine | LineProblem | CaughtUp


# -- the files of a directory ---------------------------------------------------


def _union(first: list[RotatedFile], second: list[RotatedFile]) -> list[RotatedFile]:
    """Merge two listings of one directory: every file seen in either, oldest first."""
    merged = {file.key: file for file in first}
    for file in second:
        seen = merged.get(file.key)
        if seen is not None:
            file = RotatedFile(
                key=file.key,
                plain=file.plain or seen.plain,
                compressed=file.compressed or seen.compressed,
                inode=file.inode or seen.inode,
            )
        merged[file.key] = file
    return [merged[key] for key in sorted(merged)]


def _open_rotated(directory: Path, file: RotatedFile) -> tuple[Path, io.BufferedIOBase] | None:
    """Open the plain file, else the compressed one; ``None`` if both are gone (deleted).

    Raises:
        OSError: ``EINVAL`` if what is there now is not a regular file.
    """
    if file.plain is not None:
        try:
            return file.plain, open(_open_regular(file.plain), "rb")
        except FileNotFoundError:
            pass  # compressed since it was listed: the archive exists before the plain file goes
    compressed = file.compressed or directory / archive_name(file.key)
    try:
        return compressed, _open_archive(compressed)
    except FileNotFoundError:
        return None  # deleted by retention since it was listed


def _open_archive(path: Path) -> gzip.GzipFile:
    """Open a ``.jsonl.gz`` file for reading, never blocking (see ``_open_regular``)."""
    raw = open(_open_regular(path), "rb", buffering=0)  # noqa: SIM115 - the stream owns it
    try:
        stream = gzip.GzipFile(fileobj=raw, mode="rb")
    except BaseException:
        raw.close()
        raise
    stream.myfileobj = raw  # closed with the stream, as when gzip opens the file itself
    return stream


def _open_regular(path: Path) -> int:
    """Open *path* for reading, never blocking: a FIFO or device is refused, not waited on.

    Raises:
        OSError: ``EINVAL`` if *path* is not a regular file (``ELOOP`` for a
            symbolic link); ``FileNotFoundError`` if it is gone.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    if not regular:
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return fd


def _split_lines(read: Callable[[], bytes]) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(line, terminated)`` for each line of what *read* returns, until it returns b"".

    Lines are split on ``b"\\n"`` only.  The last pair is unterminated when the
    data does not end in a newline.
    """
    parts: list[bytes] = []
    while True:
        data = read()
        if not data:
            if parts:
                yield b"".join(parts), False
            return
        end = data.rfind(b"\n")
        if end < 0:
            parts.append(data)
            continue
        if parts:
            parts.append(data[:end])
            block = b"".join(parts)
        else:
            block = data[:end]
        for line in block.split(b"\n"):
            yield line, True
        parts = [data[end + 1 :]] if end + 1 < len(data) else []


#: How a scan reads one line (without its newline): the event, or the problem with it.
LineParser = Callable[[Path, int, bytes], ScannedLine | LineProblem]


def parse_line(path: Path, line_number: int, raw: bytes) -> ScannedLine | LineProblem:
    """Validate one line (without its newline) as an ``Event``.

    A line with top-level fields beyond ``Event``'s (written with a model of
    your own) is an ``ExtendedEvent`` holding them in ``model_extra``.
    """
    try:
        return ScannedLine(path, line_number, raw, Event.model_validate_json(raw))
    except ValidationError as error:
        if all(detail["type"] == "extra_forbidden" for detail in error.errors()):
            return ScannedLine(path, line_number, raw, ExtendedEvent.model_validate_json(raw))
        return LineProblem(path, line_number, describe_invalid(raw, error))


def describe_invalid(raw: bytes, error: ValidationError) -> str:
    """One line saying why *raw* is not an ``Event``."""
    if not raw.strip():
        return "empty line"
    details = error.errors(include_url=False)
    if details and details[0]["type"] == "json_invalid":
        return f"not valid JSON ({details[0]['msg'].removeprefix('Invalid JSON: ')})"
    shown = "; ".join(
        f"{'.'.join(str(part) for part in detail['loc']) or 'line'}: {detail['msg']}"
        for detail in details[:3]
    )
    more = f" (and {len(details) - 3} more)" if len(details) > 3 else ""
    return f"not a valid Event: {shown}{more}"


# -- scanning -------------------------------------------------------------------


class _LiveFile:
    """``events.jsonl`` as the scan holds it open: where it is, what was read of it."""

    __slots__ = ("fd", "inode", "line_number", "offset", "path")

    def __init__(self, fd: int, inode: int, path: Path) -> None:
        self.fd = fd
        self.inode = inode
        self.path = path
        #: End of the last complete line read; reading resumes here, so a torn
        #: tail cut by the next writer and replaced by new lines reads right.
        self.offset = 0
        self.line_number = 0

    def head(self) -> bytes:
        """The file's first ``_HEAD`` bytes, fewer while it is shorter: what identifies it."""
        return _read_head(lambda size, done: os.pread(self.fd, size, done))

    def close(self) -> None:
        os.close(self.fd)


class _Scan:
    """One reading of a directory: what was read so far, and the live file held open.

    Each ``look()`` reads what is new: rotated files not read yet, oldest
    first, then the live file up to its last complete line.
    """

    def __init__(self, directory: Path, *, from_start: bool, parse: LineParser) -> None:
        self.directory = directory
        self._parse = parse
        self.current = directory / CURRENT_NAME
        self._live: _LiveFile | None = None
        #: Key of the newest rotated file already read (or skipped).
        self._done_key = ""
        self._skip_existing = not from_start
        #: The last look let go of the live file, rotated away: a newer one waits.
        self.live_closed = False
        #: The last look left rotated files for the next one (see ``look``).
        self.deferred = False
        #: The last live files let go of, by inode and head (first ``_HEAD``
        #: bytes), to read a file with two names once.  An inode alone is
        #: reused once a file is deleted; a head alone repeats when one event
        #: is emitted again and again.
        self._finished: deque[tuple[int, bytes]] = deque(maxlen=_REMEMBERED_FILES)
        #: Those let go of before a listing showed their rotated name (it was
        #: missed, or the file compressed out of sight): a later listing may
        #: show it, plain (same inode and head) or compressed (same head).
        self._unnamed: deque[tuple[int, bytes]] = deque(maxlen=_REMEMBERED_FILES)
        #: The last listing holds every rotated file, and the live file held open
        #: is still ``events.jsonl``: until it is rotated away, looks need not list.
        self._listing_current = False
        #: Entries named like event files that are not regular files, reported once.
        self._strays: set[Path] = set()

    def look(self, *, final: bool, patient: bool = False) -> Iterator[ScanItem]:
        """Read what is new; with *final*, report an unterminated live tail as torn.

        With *patient*, a look that leaves rotated files for the next one
        (``deferred``) does not read the live file: one of them may be older
        (a file compressed while it was listed), and must be read first.
        """
        self.live_closed = self.deferred = False
        if self._live is None:
            self._live = self._open_live()
        live = self._live
        # Look at events.jsonl before listing: a rotation seen here has already
        # linked the rotated name, so the listings below contain it.
        rotated_away = live is not None and _inode_of(self.current) != live.inode
        if self._listing_current and live is not None and not rotated_away:
            # No rotation since a complete listing: the only file that can
            # have grown is the live one, and no directory listing is needed.
            yield from self._read_live(final=final)
            return
        # readdir() may miss a file created or renamed while it runs, yet
        # return a newer one.  Every file up to the newest of a first listing
        # existed when that listing ended, so a second one holds it (or the
        # first did, if it was compressed meanwhile): together they are
        # complete up to there.  Newer files wait for the next look.
        first = list_rotated(self.directory, after=self._done_key)
        second = list_rotated(self.directory, after=self._done_key)
        yield from self._refuse_strays([*first.strays, *second.strays])
        newest = first.rotated[-1].key if first.rotated else ""
        files = [file for file in _union(first.rotated, second.rotated) if file.key <= newest]
        self.deferred = newest < max((file.key for file in second.rotated), default="")
        if rotated_away and not self._live_is_listed(files):
            # Rotated away and its rotated name deleted by retention, which
            # deletes oldest first: every file listed is newer.  What the
            # descriptor still reads comes first.
            yield from self._close_live(self.current, named=False)
        skip = self._skip_existing
        self._skip_existing = False
        for file in files:
            yield from self._read_rotated(file, skip=skip)
            self._done_key = file.key
        self._listing_current = self._live is not None and not rotated_away and not self.deferred
        if self.deferred and patient:
            return
        if self._live is not None:
            if rotated_away:
                # Rotated away, and compressed out of sight since the listing:
                # what the descriptor still reads is all there is.
                yield from self._close_live(self._live.path, named=False)
            else:
                yield from self._read_live(final=final)

    def _live_is_listed(self, files: list[RotatedFile]) -> bool:
        """Whether the live file, rotated away, is among *files*: by inode, or compressed."""
        live = self._live
        assert live is not None
        if any(file.inode == live.inode for file in files):
            return True
        head = live.head()
        for file in files:
            if file.plain is None and file.compressed is not None:
                try:
                    with _open_archive(file.compressed) as stream:
                        if _read_head(lambda size, done: stream.read(size)) == head:
                            return True
                except (OSError, *_GZIP_ERRORS):
                    continue
        return False

    def _refuse_strays(self, strays: list[Path]) -> Iterator[LineProblem]:
        """Report each entry named like an event file that is not a regular file, once."""
        for path in strays:
            if path not in self._strays:
                self._strays.add(path)
                yield LineProblem(path, 0, _STRAY_REASON)

    def close(self) -> None:
        if self._live is not None:
            self._live.close()
            self._live = None

    def _open_live(self) -> _LiveFile | None:
        """Open ``events.jsonl``; ``None`` if it is missing or must be read under another name."""
        try:
            fd = os.open(self.current, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            info = os.fstat(fd)
            live = _LiveFile(fd, info.st_ino, self.current)
            # A file read already under a rotated name that is also its name:
            # a hard link (a backup tool's, or one planted), never a writer's.
            if not stat.S_ISREG(info.st_mode) or (
                info.st_nlink > 1 and (live.inode, live.head()) in self._finished
            ):
                os.close(fd)
                return None
            if self._skip_existing:
                live.offset, live.line_number = _complete_part(fd, info.st_size)
        except BaseException:
            os.close(fd)
            raise
        return live

    def _read_rotated(self, file: RotatedFile, *, skip: bool) -> Iterator[ScanItem]:
        live = self._live
        if live is not None and file.inode == live.inode:
            yield from self._close_live(file.plain or live.path, named=True)
            return
        try:
            opened = _open_rotated(self.directory, file)
        except OSError as error:  # replaced since the listing by what is no event file
            yield LineProblem(file.plain or file.compressed or self.directory, 0, str(error))
            return
        if opened is None:
            return
        path, stream = opened
        number = 0
        with stream:
            try:
                head = _read_head(lambda size, done: stream.read(size))
                archive = path != file.plain
                if not head or self._read_already(head, None if archive else stream):
                    return
                if (
                    live is not None
                    and archive
                    and head == live.head()
                    and _inode_of(self.current) != live.inode
                ):
                    # The live file, rotated and compressed since: read the
                    # rest through the descriptor, which knows what was read.
                    yield from self._close_live(path, named=True)
                    return
                if skip:
                    return
                unread = [head]
                for line, terminated in _split_lines(
                    lambda: unread.pop() if unread else stream.read(_CHUNK)
                ):
                    number += 1
                    if terminated:
                        yield self._parse(path, number, line)
                    else:
                        yield LineProblem(path, number, "unterminated last line of a rotated file")
            except _GZIP_ERRORS as error:
                yield LineProblem(path, number + 1, f"compressed data is damaged ({error})")

    def _read_already(self, head: bytes, plain: io.BufferedIOBase | None) -> bool:
        """Whether the rotated file just opened (*plain*, or an archive) is a live file let go
        of before it was listed: the same inode and head, or for an archive the same head."""
        inode = None if plain is None else os.fstat(plain.fileno()).st_ino
        for unnamed in self._unnamed:
            if unnamed[1] == head and inode in (None, unnamed[0]):
                self._unnamed.remove(unnamed)
                return True
        return False

    def _read_live(self, *, final: bool) -> Iterator[ScanItem]:
        """Read the live file's new complete lines; with *final*, report a torn tail."""
        live = self._live
        assert live is not None
        if live.offset > os.fstat(live.fd).st_size:
            # Cut shorter than what was read: not something a writer does (it
            # only cuts a torn tail, never complete lines), so start over.
            live.offset = live.line_number = 0
        for line, terminated in _split_lines(_reader_at(live.fd, live.offset)):
            if not terminated:
                if final:
                    yield LineProblem(live.path, live.line_number + 1, _TORN_REASON, torn=True)
                return
            live.offset += len(line) + 1
            live.line_number += 1
            yield self._parse(live.path, live.line_number, line)

    def _close_live(self, path: Path, *, named: bool) -> Iterator[ScanItem]:
        """Read the rest of the rotated-away live file, known now as *path*, and close it.

        Args:
            named: whether a listing showed the file under its rotated name;
                if not, that name may turn up in a later listing.
        """
        live = self._live
        assert live is not None
        live.path = path
        try:
            yield from self._read_live(final=False)
            # Nothing is ever written to a file after its rotation.
            tail_position = live.offset
            if os.fstat(live.fd).st_size > tail_position:
                yield LineProblem(
                    path, live.line_number + 1, "unterminated last line of a rotated file"
                )
        finally:
            head = live.head()
            if head:
                self._finished.append((live.inode, head))
                if not named:
                    self._unnamed.append((live.inode, head))
            self._live = None
            self.live_closed = True
            live.close()


def _reader_at(fd: int, position: int) -> Callable[[], bytes]:
    """Return a function reading *fd* chunk by chunk from *position*, with ``pread``."""

    def read() -> bytes:
        nonlocal position
        data = os.pread(fd, _CHUNK, position)
        position += len(data)
        return data

    return read


def _read_head(read: Callable[[int, int], bytes]) -> bytes:
    """Return the first ``_HEAD`` bytes of a file, fewer if it is shorter.

    Args:
        read: ``read(size, done)`` returns at most *size* bytes following the
            *done* bytes read so far; ``b""`` at the end.
    """
    head = b""
    while len(head) < _HEAD:
        data = read(_HEAD - len(head), len(head))
        if not data:
            break
        head += data
    return head


def _inode_of(path: Path) -> int:
    try:
        return os.stat(path).st_ino
    except (FileNotFoundError, NotADirectoryError):
        return 0


def _complete_part(fd: int, size: int) -> tuple[int, int]:
    """Return the end of the last complete line of the file and how many lines precede it."""
    end, lines, position = 0, 0, 0
    while position < size:
        data = os.pread(fd, min(_CHUNK, size - position), position)
        if not data:
            break
        newline = data.rfind(b"\n")
        if newline >= 0:
            end = position + newline + 1
            lines += data.count(b"\n")
        position += len(data)
    return end, lines


def scan(
    directory: Path,
    *,
    follow: bool,
    from_start: bool = True,
    stop: threading.Event | None = None,
    poll_interval: float = 0.25,
    parse: LineParser = parse_line,
) -> Generator[ScanItem, None, None]:
    """Yield every line of *directory* in write order, then, with *follow*, new ones.

    After each look that read the live file to its end, ``CAUGHT_UP`` is
    yielded.  Without *follow* the scan ends there; with it, it ends at the
    first such point after *stop* is set.  Closing the iterator closes the files.
    Each complete line is read by *parse* (as an ``Event``, unless told otherwise).

    A final look reads every line complete when it began: the files rotated
    before it are in its listings, the live file is read to its end.  One
    more look follows only if the live file, opened by an earlier look, was
    rotated away: lines may have reached its successor before the final look.
    """
    reading = _Scan(directory, from_start=from_start, parse=parse)
    final_looks = deferrals = 0
    try:
        while True:
            final = not follow or (stop is not None and stop.is_set())
            progressed = False
            for item in reading.look(final=final, patient=deferrals < _PATIENCE):
                progressed = True
                yield item
            if reading.deferred and deferrals < _PATIENCE:
                deferrals += 1
                continue  # the live file was left for a look with a complete listing
            deferrals = 0
            if final:
                final_looks += 1
                if not reading.live_closed or final_looks > 1:
                    yield CAUGHT_UP
                    return
            if reading.live_closed:
                continue  # a newer live file is waiting: look again at once
            yield CAUGHT_UP
            if not progressed and not reading.deferred:
                if stop is None:
                    time.sleep(poll_interval)
                else:
                    stop.wait(poll_interval)
    finally:
        reading.close()


# -- one file, outside its directory --------------------------------------------


def scan_file(path: Path, parse: LineParser = parse_line) -> Generator[ScanItem, None, None]:
    """Yield every line of the one event file *path* (``.gz`` decompressed), then ``CAUGHT_UP``.

    Each complete line is read by *parse*.

    A rotated or compressed file never grows again, so its unterminated last
    line is corrupt; that of any other file (``events.jsonl``, a copy) may be
    a write in progress, and is torn.
    """
    compressed = path.name.endswith(ARCHIVE_SUFFIX)
    may_grow = not compressed and not ROTATED_PATTERN.match(path.name)
    number = 0
    try:
        with _open_archive(path) if compressed else open(_open_regular(path), "rb") as stream:
            for line, terminated in _split_lines(lambda: stream.read(_CHUNK)):
                number += 1
                if terminated:
                    yield parse(path, number, line)
                elif may_grow:
                    yield LineProblem(path, number, _TORN_REASON, torn=True)
                else:
                    yield LineProblem(path, number, "unterminated last line of a rotated file")
    except _GZIP_ERRORS as error:
        yield LineProblem(path, number + 1, f"compressed data is damaged ({error})")
    yield CAUGHT_UP
