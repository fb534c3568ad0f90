"""Startup recovery: what a crash left in the directory is repaired when a writer opens it.

A torn last line (a write a crash interrupted) and lines a power loss turned
into garbage are cut, complete lines are kept, and the size is accounted
exactly; a rotation interrupted between its link() and unlink() is completed.
A running writer repairs the same when another writer leaves them behind.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import orjson
from structlog import DropEvent

from structlog_events import EventWriter
from structlog_events._recovery import RECOVERY_SCAN_BYTES

from .helpers import check_event_dir, keys


def log(writer: EventWriter, src: str, n: int) -> None:
    with contextlib.suppress(DropEvent):
        writer(None, "info", {"event": "tick", "src": src, "n": n})


def write_events(directory: Path, src: str, count: int, **options: object) -> None:
    with EventWriter(directory, "sim", mode="sync", **options) as writer:  # type: ignore[arg-type]
        for n in range(count):
            log(writer, src, n)


class TestStartupRecovery:
    def test_a_torn_last_line_is_cut_and_the_size_is_exact(self, tmp_path: Path) -> None:
        """Opening a file that ends mid-line cuts that line and keeps all complete ones."""
        write_events(tmp_path, "a", 10)
        current = tmp_path / "events.jsonl"
        with current.open("ab") as stream:
            stream.write(b'{"event_id":"torn","timest')
        writer = EventWriter(tmp_path, "sim", mode="sync")
        assert writer.current_size == current.stat().st_size
        log(writer, "b", 0)
        writer.close()
        check_event_dir(tmp_path, expected=keys("a", 10) | {("b", 0)})

    def test_lines_a_power_loss_garbled_are_cut(self, tmp_path: Path) -> None:
        """Garbage and zeros after the last intact line are cut, complete lines kept."""
        write_events(tmp_path, "a", 10)
        current = tmp_path / "events.jsonl"
        intact = current.read_bytes()
        garbage = b"\x00" * 300 + b"\n" + b"\x8f\x12garbage{\n" + b'{"n": 1}\n' + b"\x00" * 40
        current.write_bytes(intact + garbage)
        writer = EventWriter(tmp_path, "sim", mode="sync")
        assert current.read_bytes() == intact
        log(writer, "b", 0)
        writer.close()
        check_event_dir(tmp_path, expected=keys("a", 10) | {("b", 0)})

    def test_only_the_last_bytes_are_checked(self, tmp_path: Path) -> None:
        """A damaged line older than the checked window is left to the reader, nothing cut."""
        current = tmp_path / "events.jsonl"
        line = orjson.dumps({"pad": "x" * 1000}) + b"\n"
        content = b"not json\n" + line * (RECOVERY_SCAN_BYTES // len(line) + 2)
        current.write_bytes(content)
        EventWriter(tmp_path, "sim", mode="sync").close()
        assert current.read_bytes() == content

    def test_an_interrupted_rotation_is_completed(self, tmp_path: Path) -> None:
        """events.jsonl also linked under a rotated name is unlinked; no event doubles."""
        write_events(tmp_path, "a", 10)
        os.link(tmp_path / "events.jsonl", tmp_path / "events_2020-01-01_00-00-00-000000.jsonl")
        write_events(tmp_path, "b", 5)
        contents = check_event_dir(tmp_path, expected=keys("a", 10) | keys("b", 5))
        assert [len(file_keys) for file_keys in contents.keys_per_file] == [10, 5]


class TestRepairWhileRunning:
    def test_a_torn_tail_left_by_another_writer_is_cut(self, tmp_path: Path) -> None:
        """A running writer that finds a torn tail (another writer killed) cuts it first."""
        writer = EventWriter(tmp_path, "sim", mode="sync")
        log(writer, "a", 0)
        with (tmp_path / "events.jsonl").open("ab") as stream:
            stream.write(b'{"event_id":"half')
        log(writer, "a", 1)
        writer.close()
        check_event_dir(tmp_path, expected=keys("a", 2))
        assert writer.current_size == (tmp_path / "events.jsonl").stat().st_size

    def test_a_rotation_another_writer_left_half_done_is_not_written_to(
        self, tmp_path: Path
    ) -> None:
        """events.jsonl also under a rotated name (its writer died mid-rotation): a running
        writer moves to a fresh file instead of appending to a rotated one."""
        writer = EventWriter(tmp_path, "sim", mode="sync")
        log(writer, "a", 0)
        rotated = tmp_path / "events_2020-01-01_00-00-00-000000.jsonl"
        os.link(tmp_path / "events.jsonl", rotated)
        log(writer, "a", 1)
        writer.close()
        contents = check_event_dir(tmp_path, expected=keys("a", 2))
        assert contents.files == [rotated, tmp_path / "events.jsonl"]
