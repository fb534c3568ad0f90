"""The sinks: group commit of concurrent SYNC callers, and what a commit never leaves behind."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from structlog_events import Event, EventWriter
from structlog_events._sinks import SyncSink

from .helpers import MakeWriter, read_events, wait_until


class TestGroupCommit:
    def test_callers_arriving_during_a_commit_share_the_next_one(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Three callers that arrive while an fsync runs are written and fsynced together."""
        writer = EventWriter(tmp_path, "sim", mode="sync")
        sink = writer._sink
        assert isinstance(sink, SyncSink)
        event_file = writer._file
        batches: list[int] = []
        in_fsync, release = threading.Event(), threading.Event()
        real_append, real_sync = event_file.append, event_file.sync_written

        def append(lines: list[bytes]) -> int:
            batches.append(len(lines))
            return real_append(lines)

        def sync_written() -> bool:
            if len(batches) == 1:  # hold the first commit inside its fsync
                in_fsync.set()
                release.wait(10)
            return real_sync()

        monkeypatch.setattr(event_file, "append", append)
        monkeypatch.setattr(event_file, "sync_written", sync_written)

        def emit(i: int) -> None:
            writer.emit(Event(event_type="e", simulation_id="sim", data={"i": i}))

        leader = threading.Thread(target=emit, args=(0,))
        leader.start()
        assert in_fsync.wait(10)
        followers = [threading.Thread(target=emit, args=(i,)) for i in (1, 2, 3)]
        for follower in followers:
            follower.start()
        assert wait_until(lambda: len(sink._queue) == 3, 10)
        assert all(follower.is_alive() for follower in followers), "returned before its fsync"
        release.set()
        for thread in (leader, *followers):
            thread.join(10)
        writer.close()
        assert batches == [1, 3]
        assert sorted(e.data["i"] for e in read_events(tmp_path)) == [0, 1, 2, 3]

    def test_a_failing_commit_releases_every_waiter(
        self,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        make_writer: MakeWriter,
    ) -> None:
        """An unexpected error in a commit is counted, and no caller is left waiting."""
        writer = make_writer(mode="sync")

        def broken(lines: list[bytes]) -> int:
            raise RuntimeError("bug")

        monkeypatch.setattr(writer._file, "append", broken)
        threads = [
            threading.Thread(target=writer.emit, args=(Event(event_type="e", simulation_id="sim"),))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert not any(thread.is_alive() for thread in threads)
        assert writer.stats.failed == 8
        assert "RuntimeError('bug')" in capsys.readouterr().err
        monkeypatch.undo()
