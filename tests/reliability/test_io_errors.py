"""Injected I/O errors: failing and short ``write()``, failing ``fsync()``.

The calls ``structlog_events._file``, ``_directory`` and ``_recovery`` make go through
``FlakyOs``, which fails a random share of them (seeded).  Whatever fails,
every line on disk is whole, the counters add up, and an event covered by a
failed ``fsync`` is never reported durable (the PostgreSQL "fsyncgate" rule).
"""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path
from typing import Any

import pytest

from structlog_events import EventWriter, WriteMode, _directory, _file, _recovery
from structlog_events._file import EventFile
from structlog_events._layout import CURRENT_NAME

from ..helpers import check_dir, keys, log, src_and_n

EVENTS = 3000


class FlakyOs:
    """``os`` with random failures of ``write`` and ``fsync``; everything else real."""

    def __init__(
        self,
        seed: int,
        *,
        write_error: float = 0.0,
        short_write: float = 0.0,
        fsync_error: float = 0.0,
    ) -> None:
        self._rng = random.Random(seed)
        self.write_error = write_error
        self.short_write = short_write
        self.fsync_error = fsync_error
        self.failed_fsyncs = 0
        #: The outcome of every fsync, in order.
        self.fsync_log: list[bool] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        if self._rng.random() < self.write_error:
            code = self._rng.choice([errno.EIO, errno.ENOSPC, errno.EFBIG])
            raise OSError(code, os.strerror(code))
        if len(data) > 1 and self._rng.random() < self.short_write:
            data = bytes(data)[: self._rng.randint(1, len(data) - 1)]
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        if self._rng.random() < self.fsync_error:
            self.failed_fsyncs += 1
            self.fsync_log.append(False)
            raise OSError(errno.EIO, "Input/output error")
        os.fsync(fd)
        self.fsync_log.append(True)


def use_os(monkeypatch: pytest.MonkeyPatch, fake: object) -> None:
    """Route the OS calls of the event file, its directory and its repairs through *fake*."""
    for module in (_file, _directory, _recovery):
        monkeypatch.setattr(module, "os", fake)


class TestWriteErrors:
    @pytest.mark.parametrize("mode", [WriteMode.SYNC, WriteMode.ASYNC])
    @pytest.mark.parametrize("seed", [1, 2])
    def test_failed_and_short_writes_never_merge_lines(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: WriteMode, seed: int
    ) -> None:
        """With writes failing or short at random, lines stay whole and counts are exact."""
        flaky = FlakyOs(seed, write_error=0.03, short_write=0.05)
        use_os(monkeypatch, flaky)
        writer = EventWriter(tmp_path, "sim", mode=mode, max_file_size=8192, overflow="block")
        for n in range(EVENTS):
            log(writer, src="flaky", n=n)
            if mode is WriteMode.ASYNC and n % 10 == 0:
                # Small batches: many writes to fail.  True only while nothing was lost.
                assert writer.flush(timeout=30) == (writer.stats.failed == 0)
        assert writer.flush(timeout=30) == (writer.stats.failed == 0)
        flaky.write_error = flaky.short_write = 0.0
        for n in range(100):
            log(writer, src="after", n=n)
        assert writer.close() == (writer.stats.failed == 0)
        contents = check_dir(tmp_path, key=src_and_n, max_file_size=8192)
        stats = writer.stats
        assert keys("after", 100) <= set(contents.keys)  # writing resumed
        assert stats.written == len(contents.keys)
        assert stats.written + stats.failed == EVENTS + 100
        assert 0 < stats.failed < EVENTS // 5


class TestFsyncErrors:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_no_event_of_a_failed_fsync_is_acknowledged(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
    ) -> None:
        """Lines covered by a failed fsync are failed, and no acknowledged line follows them."""
        flaky = FlakyOs(seed, fsync_error=0.05, write_error=0.01, short_write=0.02)
        use_os(monkeypatch, flaky)
        event_file = EventFile(tmp_path, max_file_size=4096)
        acked: set[int] = set()
        for n in range(1500):
            line = b'{"n":%d}\n' % n
            seq = event_file.append([line])
            if not seq:
                continue
            fsyncs_before = len(flaky.fsync_log)
            if event_file.sync_through(seq):
                acked.add(n)
                # The first fsync of the call is the one of this line's file.
                assert flaky.fsync_log[fsyncs_before], f"line {n} acknowledged"
        event_file.close()
        assert flaky.failed_fsyncs > 10
        counts = event_file.counts()
        assert counts.written == len(acked)
        assert counts.written + counts.failed == 1500
        files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("events"))
        seen: list[int] = []
        for path in files:
            numbers = [int(line[5:-1]) for line in path.read_bytes().split(b"\n")[:-1]]
            seen.extend(numbers)
            # Nothing acknowledged behind an unacknowledged line in one file:
            # after a failed fsync the file is rotated away at once.
            first_unacked = next((i for i, n in enumerate(numbers) if n not in acked), None)
            if first_unacked is not None:
                assert not acked & set(numbers[first_unacked:]), path.name
        assert acked <= set(seen)
        assert len(seen) == len(set(seen))

    def test_a_later_successful_fsync_does_not_acknowledge_a_failed_one(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """fsyncgate: line 1's fsync failed; line 2's succeeds; line 1 stays unacknowledged."""
        flaky = FlakyOs(0)
        use_os(monkeypatch, flaky)
        event_file = EventFile(tmp_path, max_file_size=10**6)
        assert event_file.append([b'{"n":1}\n']) == 1
        first_inode = (tmp_path / CURRENT_NAME).stat().st_ino
        flaky.fsync_error = 1.0
        assert event_file.sync_through(1) is False
        flaky.fsync_error = 0.0
        assert event_file.append([b'{"n":2}\n']) == 2
        assert event_file.sync_through(2) is True
        assert event_file.sync_through(1) is False
        event_file.close()
        counts = event_file.counts()
        assert (counts.written, counts.failed, counts.rotations) == (1, 1, 1)
        [rotated] = [p for p in tmp_path.iterdir() if p.name.startswith("events_")]
        assert rotated.stat().st_ino == first_inode  # the failed file went away at once
        assert rotated.read_bytes() == b'{"n":1}\n'
        assert (tmp_path / CURRENT_NAME).read_bytes() == b'{"n":2}\n'

    def test_a_failed_fsync_at_close_rotates_the_file_away(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A file whose last fsync failed is not left as events.jsonl for the next writer."""
        flaky = FlakyOs(0)
        use_os(monkeypatch, flaky)
        event_file = EventFile(tmp_path, max_file_size=10**6)
        event_file.append([b'{"n":1}\n'])
        flaky.fsync_error = 1.0
        event_file.close()
        assert event_file.counts().failed == 1
        assert not (tmp_path / CURRENT_NAME).exists()
        [rotated] = [p for p in tmp_path.iterdir() if p.name.startswith("events_")]
        assert rotated.read_bytes() == b'{"n":1}\n'


class TestUnexpectedErrors:
    @pytest.mark.parametrize("mode", [WriteMode.SYNC, WriteMode.ASYNC])
    def test_an_error_that_is_not_oserror_is_counted_not_raised(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: WriteMode
    ) -> None:
        """A non-I/O exception inside the write fails that event; the writer goes on."""

        class RaisingOnce(FlakyOs):
            def write(self, fd: int, data: bytes) -> int:
                if not self.failed_fsyncs:
                    self.failed_fsyncs = 1  # only once
                    raise RuntimeError("not an I/O error")
                return os.write(fd, data)

        writer = EventWriter(tmp_path, "sim", mode=mode)
        use_os(monkeypatch, RaisingOnce(0))
        log(writer, src="x", n=0)
        assert writer.flush(timeout=30) is False
        log(writer, src="x", n=1)
        assert writer.close() is False
        check_dir(tmp_path, key=src_and_n, expected={("x", 1)})
        assert (writer.stats.written, writer.stats.failed) == (1, 1)
