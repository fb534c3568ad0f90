"""Startup recovery: what a crash left in the directory is repaired when a writer opens it.

A torn last line (a write a crash interrupted) is cut and the size accounted
exactly; a running writer cuts one another writer left behind.  A complete line
is never deleted: a file whose last lines are damaged (a power loss) or
foreign (another program appended to it) is rotated away intact.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from structlog_events import EventWriter, read_events
from structlog_events._layout import RECOVERY_SCAN_BYTES

from ..helpers import MakeWriter, check_dir, keys, log, src_and_n


def keys_in_order(src: str, count: int) -> list[tuple[str, int]]:
    return [(src, n) for n in range(count)]


def write_events(directory: Path, src: str, count: int, **options: object) -> None:
    with EventWriter(directory, "sim", mode="sync", **options) as writer:  # type: ignore[arg-type]
        for n in range(count):
            log(writer, src=src, n=n)


class TestStartupRecovery:
    def test_a_torn_last_line_is_cut_and_the_size_is_exact(self, tmp_path: Path) -> None:
        """Opening a file that ends mid-line cuts that line and keeps all complete ones."""
        write_events(tmp_path, "a", 10)
        current = tmp_path / "events.jsonl"
        with current.open("ab") as stream:
            stream.write(b'{"event_id":"torn","timest')
        writer = EventWriter(tmp_path, "sim", mode="sync")
        assert writer.current_size == current.stat().st_size
        log(writer, src="b", n=0)
        writer.close()
        check_dir(tmp_path, key=src_and_n, expected=keys("a", 10) | {("b", 0)})

    def test_a_file_a_power_loss_garbled_is_rotated_away_intact(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Garbage after the intact lines is kept, in a rotated file; only the torn tail goes."""
        write_events(tmp_path, "a", 10)
        current = tmp_path / "events.jsonl"
        intact = current.read_bytes()
        damage = b"\x00" * 300 + b"\n" + b"\x8f\x12garbage{\n" + b'{"n": 1}\n'
        current.write_bytes(intact + damage + b"\x00" * 40)
        writer = EventWriter(tmp_path, "sim", mode="sync")
        [rotated] = [path for path in tmp_path.iterdir() if path.name.startswith("events_")]
        assert rotated.read_bytes() == intact + damage  # the unterminated zeros were cut
        assert not current.exists()
        log(writer, src="b", n=0)
        writer.close()
        [line] = current.read_bytes().splitlines()
        assert orjson.loads(line)["data"] == {"src": "b", "n": 0}
        assert "not an event" in capsys.readouterr().err

    def test_a_foreign_line_never_costs_acknowledged_events(self, tmp_path: Path) -> None:
        """A line another program appends is kept; every acknowledged event after it too."""
        writer = EventWriter(tmp_path, "sim", mode="sync")
        for n in range(5):
            log(writer, src="a", n=n)
        with (tmp_path / "events.jsonl").open("ab") as stream:
            stream.write(b"restarted service\n")
        for n in range(5, 55):
            log(writer, src="a", n=n)  # acknowledged: written and fsynced
        writer.close()
        before = (tmp_path / "events.jsonl").read_bytes()
        restarted = EventWriter(tmp_path, "sim", mode="sync")
        log(restarted, src="b", n=0)
        restarted.close()
        [rotated] = [path for path in tmp_path.iterdir() if path.name.startswith("events_")]
        assert rotated.read_bytes() == before
        events = list(read_events(tmp_path, strict=False))
        assert [(e.data["src"], e.data["n"]) for e in events] == [
            *keys_in_order("a", 55),
            ("b", 0),
        ]

    def test_only_the_last_bytes_are_checked(self, tmp_path: Path) -> None:
        """A damaged line older than the checked window is left to the reader, nothing cut."""
        current = tmp_path / "events.jsonl"
        line = orjson.dumps({"pad": "x" * 1000}) + b"\n"
        content = b"not json\n" + line * (RECOVERY_SCAN_BYTES // len(line) + 2)
        current.write_bytes(content)
        EventWriter(tmp_path, "sim", mode="sync").close()
        assert current.read_bytes() == content


class TestRepairWhileRunning:
    def test_a_torn_tail_left_by_another_writer_is_cut(self, tmp_path: Path) -> None:
        """A running writer that finds a torn tail (another writer killed) cuts it first."""
        writer = EventWriter(tmp_path, "sim", mode="sync")
        log(writer, src="a", n=0)
        with (tmp_path / "events.jsonl").open("ab") as stream:
            stream.write(b'{"event_id":"half')
        log(writer, src="a", n=1)
        writer.close()
        check_dir(tmp_path, key=src_and_n, expected=keys("a", 2))
        assert writer.current_size == (tmp_path / "events.jsonl").stat().st_size

    def test_a_hard_link_planted_while_running_is_never_written_through(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], make_writer: MakeWriter
    ) -> None:
        """A second name put on events.jsonl makes the writer refuse it: events fail, counted."""
        writer = make_writer(mode="sync")
        log(writer, src="a", n=0)
        planted = tmp_path / "elsewhere"
        os.link(tmp_path / "events.jsonl", planted)
        before = planted.read_bytes()
        log(writer, src="a", n=1)
        assert planted.read_bytes() == before
        assert writer.stats.failed == 1
        assert "hard link" in capsys.readouterr().err
