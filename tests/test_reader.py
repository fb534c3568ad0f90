"""Tests for ``read_events`` and ``follow_events``."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from structlog_events import (
    CorruptEventError,
    Event,
    EventWriter,
    VerbosityLevel,
    _scan,
    follow_events,
    read_events,
)
from structlog_events._layout import Listing, list_rotated
from structlog_events._reader import merge_scans
from structlog_events._scan import CAUGHT_UP, LineProblem, ScanItem, ScannedLine, scan

from . import helpers
from .helpers import MakeWriter, log, write_one_per_level
from .models import DecisionEvent, RichEvent, SimEvent
from .strategies import aware_datetimes, json_data, unicode_text

#: Room for about three events of ``fill`` per file: many rotations, quickly.
SMALL_FILE = 600


def fill(directory: Path, count: int, *, max_file_size: int = SMALL_FILE, start: int = 0) -> None:
    """Write *count* events numbered from *start* with a SYNC writer, then close it."""
    with EventWriter(
        directory, "sim", mode="sync", max_file_size=max_file_size, verbosity="DETAIL"
    ) as writer:
        for number in range(start, start + count):
            log(writer, event="step", number=number)


def numbers(events: Iterator[Event] | list[Event]) -> list[int]:
    return [event.data["number"] for event in events]


def rotated(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith("events_"))


def compress(path: Path) -> Path:
    """Gzip a rotated file the safe way: temporary name, rename, then drop the plain file."""
    target = path.with_name(path.name + ".gz")
    temporary = path.with_name(f".{path.name}.gz.tmp")
    with gzip.open(temporary, "wb") as archive:
        archive.write(path.read_bytes())
    temporary.rename(target)
    path.unlink()
    return target


def event_line(number: int, **fields: Any) -> bytes:
    """A valid stored line, for hand-made files."""
    event = Event(event_type="step", simulation_id="sim", data={"number": number, **fields})
    return event.model_dump_json().encode() + b"\n"


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as file:
        file.write(data)


def open_fds(directory: Path) -> int:
    """Descriptors of this process open on files in *directory*.

    Counting only those keeps other threads' descriptors (a writer thread
    finishing elsewhere, a pipe) out of the count.
    """
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith(f"{directory}/"):
            count += 1
    return count


class TestReadEvents:
    def test_reads_every_event_in_write_order_across_rotations(self, tmp_path: Path) -> None:
        """All events of all files come back in write order, the same as the files hold."""
        fill(tmp_path, 60)
        assert len(rotated(tmp_path)) > 10
        events = list(read_events(tmp_path))
        assert numbers(events) == list(range(60))
        assert events == helpers.read_events(tmp_path)

    def test_events_this_process_just_queued_are_read_without_a_flush(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_writer: MakeWriter
    ) -> None:
        """Reading right after logging in queued mode sees every event: the process's own
        writers on the directory are flushed first (also when reading one of its files)."""
        writer = make_writer(overflow="block")
        real_append = writer._file.append

        def slow_append(lines: list[bytes]) -> int:
            time.sleep(0.05)  # the writer thread lags behind the caller
            return real_append(lines)

        monkeypatch.setattr(writer._file, "append", slow_append)
        for number in range(50):
            log(writer, event="step", number=number)
        assert numbers(read_events(tmp_path)) == list(range(50))
        for number in range(50, 60):
            log(writer, event="step", number=number)
        assert numbers(read_events(tmp_path / "events.jsonl")) == list(range(60))

    @given(data=json_data, event_type=unicode_text.filter(bool), stamp=aware_datetimes)
    def test_round_trip_of_any_event(
        self,
        tmp_path_factory: pytest.TempPathFactory,
        data: dict[str, Any],
        event_type: str,
        stamp: datetime,
    ) -> None:
        """Any event written (U+2028, control characters included) reads back equal."""
        directory = tmp_path_factory.mktemp("events")
        event = Event(event_type=event_type, simulation_id="s", data=data, timestamp=stamp)
        with EventWriter(directory, "s", mode="sync", verbosity="DETAIL") as writer:
            writer.emit(event)
        assert list(read_events(directory)) == [event]

    def test_large_files_and_lines_longer_than_a_read(self, tmp_path: Path) -> None:
        """Files of several MiB and a line longer than one read chunk come back whole."""
        sizes = [300_000] * 7 + [1_500_000] + [300_000] * 7
        with EventWriter(tmp_path, "s", mode="sync", max_file_size=1_000_000) as writer:
            for number, size in enumerate(sizes):
                log(writer, event="big", number=number, text=f"{number}" * size)
        stored = helpers.read_events(tmp_path)
        compress(rotated(tmp_path)[1])
        assert len(rotated(tmp_path)) >= 4
        assert list(read_events(tmp_path)) == stored
        stop = threading.Event()
        stop.set()
        assert list(follow_events(tmp_path, stop=stop)) == stored

    def test_line_separator_inside_a_string_does_not_split_the_line(self, tmp_path: Path) -> None:
        """U+2028 and U+2029, raw in the file, stay inside their event."""
        with EventWriter(tmp_path, "s", mode="sync") as writer:
            log(writer, event="a\u2028b", text="c\u2029d\u0085e")
        assert "\u2028".encode() in (tmp_path / "events.jsonl").read_bytes()
        [event] = read_events(tmp_path)
        assert event.event_type == "a\u2028b"
        assert event.data["text"] == "c\u2029d\u0085e"

    def test_compressed_rotated_files_are_read_in_timestamp_order(self, tmp_path: Path) -> None:
        """``.jsonl.gz`` files are read transparently, in order among the plain ones."""
        fill(tmp_path, 40)
        for path in rotated(tmp_path)[::2]:
            compress(path)
        names = [p.name for p in rotated(tmp_path)]
        assert any(n.endswith(".gz") for n in names)
        assert any(n.endswith(".jsonl") for n in names)
        assert numbers(read_events(tmp_path)) == list(range(40))

    def test_file_both_plain_and_compressed_is_read_once(self, tmp_path: Path) -> None:
        """While a compression is between its rename and its unlink, the file counts once."""
        fill(tmp_path, 20)
        first = rotated(tmp_path)[0]
        with gzip.open(first.with_name(first.name + ".gz"), "wb") as archive:
            archive.write(first.read_bytes())
        assert numbers(read_events(tmp_path)) == list(range(20))

    def test_file_linked_under_both_names_is_read_once(self, tmp_path: Path) -> None:
        """A rotation between its link() and unlink() (or crashed there) reads each event once."""
        fill(tmp_path, 2, max_file_size=10_000)
        os.link(tmp_path / "events.jsonl", tmp_path / "events_2999-01-01_00-00-00-000000.jsonl")
        assert numbers(read_events(tmp_path)) == [0, 1]

    @pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
    def test_files_that_begin_alike_are_each_read(self, tmp_path: Path, compressed: bool) -> None:
        """One Event emitted again and again fills files with the same bytes: every line of
        every file is read, reading once and following alike."""
        heartbeat = Event(event_type="heartbeat", simulation_id="sim", data={"pad": "x" * 200})
        with EventWriter(
            tmp_path, "sim", mode="sync", max_file_size=5_000, compress=compressed
        ) as writer:
            for _ in range(300):
                writer.emit(heartbeat)
        files = rotated(tmp_path)
        assert len(files) > 10
        assert all(path.name.endswith(".gz") == compressed for path in files)
        assert len(list(read_events(tmp_path))) == 300
        stop = threading.Event()
        stop.set()  # read what is there, then end
        assert len(list(follow_events(tmp_path, stop=stop, from_start=True))) == 300

    def test_other_files_are_ignored(self, tmp_path: Path) -> None:
        """The lock file, temporary files and files of other names are not read."""
        fill(tmp_path, 10)
        assert (tmp_path / ".events.lock").exists()
        for name in (
            ".events_2020-01-01_00-00-00-000000.jsonl.gz.tmp",
            "events_2020-01-01_00-00-00-000000.jsonl.gz.tmp",
            "events_2020-01-01.jsonl",
            "events.jsonl.1",
            "notes.txt",
        ):
            (tmp_path / name).write_bytes(b"not an event\n")
        (tmp_path / "events_2020-01-01_00-00-00-000000.jsonl.d").mkdir()
        assert numbers(read_events(tmp_path)) == list(range(10))

    def test_torn_last_line_of_live_file_is_skipped_and_counted(self, tmp_path: Path) -> None:
        """An unterminated last line of events.jsonl is no error: skipped, counted, reported."""
        fill(tmp_path, 5)
        live = tmp_path / "events.jsonl"
        append(live, event_line(99)[:-1])  # complete JSON, no newline yet
        stream = read_events(tmp_path)
        assert numbers(stream) == list(range(5))
        assert stream.torn_lines == 1
        assert stream.corrupt_lines == 0
        [problem] = stream.problems
        assert problem.torn
        assert problem.path == live
        assert problem.line_number == len(live.read_bytes().split(b"\n"))

    def test_corrupt_line_in_a_rotated_file_raises_naming_file_and_line(
        self, tmp_path: Path
    ) -> None:
        """A bad line before the end raises CorruptEventError (a ValueError) with file:line."""
        fill(tmp_path, 30)
        victim = rotated(tmp_path)[2]
        lines = victim.read_bytes().split(b"\n")
        lines[1] = b'{"event_id": "x", "timestamp": '
        victim.write_bytes(b"\n".join(lines))
        stream = read_events(tmp_path)
        with pytest.raises(CorruptEventError) as caught:
            list(stream)
        assert isinstance(caught.value, ValueError)
        assert caught.value.path == victim
        assert caught.value.line_number == 2
        assert f"{victim}:2: not valid JSON" in str(caught.value)
        assert "strict=False" in str(caught.value)

    def test_invalid_event_in_the_live_file_raises(self, tmp_path: Path) -> None:
        """Valid JSON that is not an Event, followed by more lines, is corrupt."""
        live = tmp_path / "events.jsonl"
        live.write_bytes(event_line(0) + b'{"event_type": ""}\n' + event_line(2))
        with pytest.raises(CorruptEventError, match=r"events\.jsonl:2: not a valid Event: "):
            list(read_events(tmp_path))

    def test_unterminated_last_line_of_a_rotated_file_is_corrupt(self, tmp_path: Path) -> None:
        """Only the live file may end in a torn line: a rotated one never grows again."""
        (tmp_path / "events_2020-01-01_00-00-00-000000.jsonl").write_bytes(
            event_line(0) + event_line(1)[:-1]
        )
        with pytest.raises(CorruptEventError, match=r"000000\.jsonl:2: unterminated last line"):
            list(read_events(tmp_path))

    def test_empty_line_is_corrupt(self, tmp_path: Path) -> None:
        """A blank line is not an event."""
        (tmp_path / "events.jsonl").write_bytes(event_line(0) + b"\n" + event_line(1))
        with pytest.raises(CorruptEventError, match=r"events\.jsonl:2: empty line"):
            list(read_events(tmp_path))

    def test_lenient_reading_skips_and_counts_corrupt_lines(self, tmp_path: Path) -> None:
        """With strict=False corrupt lines are skipped, counted and listed; the rest is read."""
        live = tmp_path / "events.jsonl"
        live.write_bytes(
            event_line(0) + b"garbage\n" + event_line(1) + b"[]\n" + event_line(2) + b"{"
        )
        stream = read_events(tmp_path, strict=False)
        assert numbers(stream) == [0, 1, 2]
        assert (stream.corrupt_lines, stream.torn_lines) == (2, 1)
        assert [(p.line_number, p.torn) for p in stream.problems] == [
            (2, False),
            (4, False),
            (6, True),
        ]

    def test_damaged_compressed_file_is_corrupt(self, tmp_path: Path) -> None:
        """A cut-off gzip file raises naming the file, or is skipped with strict=False."""
        fill(tmp_path, 20)
        archive = compress(rotated(tmp_path)[1])
        archive.write_bytes(archive.read_bytes()[:-12])
        with pytest.raises(CorruptEventError, match="compressed data is damaged") as caught:
            list(read_events(tmp_path))
        assert caught.value.path == archive
        stream = read_events(tmp_path, strict=False)
        assert numbers(stream)[:3] == [0, 1, 2]
        assert stream.corrupt_lines == 1

    def test_empty_directory_has_no_events(self, tmp_path: Path) -> None:
        """A directory without event files reads as no events."""
        assert list(read_events(tmp_path)) == []

    def test_missing_path_or_other_file_is_refused_at_call(self, tmp_path: Path) -> None:
        """A path that is neither a directory nor a .jsonl[.gz] file raises at the call."""
        with pytest.raises(FileNotFoundError, match="no event directory or file"):
            read_events(tmp_path / "absent")
        (tmp_path / "notes.txt").write_text("")
        with pytest.raises(ValueError, match=r"not an event file: .* \.jsonl or \.jsonl\.gz"):
            read_events(tmp_path / "notes.txt")
        os.mkfifo(tmp_path / "pipe.jsonl")
        with pytest.raises(ValueError, match="not a regular file"):
            read_events(tmp_path / "pipe.jsonl")

    def test_closing_early_releases_the_files(self, tmp_path: Path) -> None:
        """close() (or leaving a with block) after a partial read closes the open file."""
        fill(tmp_path, 30, max_file_size=100_000)
        before = open_fds(tmp_path)
        with read_events(tmp_path) as stream:
            next(stream)
            assert open_fds(tmp_path) > before
        assert open_fds(tmp_path) == before
        stream.close()  # idempotent


class TestStrays:
    @pytest.mark.parametrize("kind", ["fifo", "directory"])
    def test_an_entry_named_like_an_event_file_that_is_no_file_is_refused(
        self, tmp_path: Path, kind: str
    ) -> None:
        """A FIFO or directory under a rotated name is reported, never opened or waited on."""
        fill(tmp_path, 3, max_file_size=100_000)
        stray = tmp_path / "events_2000-01-01_00-00-00-000000.jsonl"
        os.mkfifo(stray) if kind == "fifo" else stray.mkdir()
        with pytest.raises(CorruptEventError, match="not a regular file") as raised:
            list(read_events(tmp_path))
        assert raised.value.path == stray
        events = read_events(tmp_path, strict=False)
        assert numbers(events) == [0, 1, 2]
        assert events.corrupt_lines == 1

    def test_a_fifo_at_the_live_name_is_not_waited_on(self, tmp_path: Path) -> None:
        """A FIFO planted at events.jsonl is not opened for reading (that would block)."""
        fill(tmp_path, 3, max_file_size=100)
        os.rename(tmp_path / "events.jsonl", tmp_path / "events_2999-01-01_00-00-00-000000.jsonl")
        os.mkfifo(tmp_path / "events.jsonl")
        done: list[list[int]] = []
        reader = threading.Thread(target=lambda: done.append(numbers(read_events(tmp_path))))
        reader.start()
        reader.join(timeout=30)
        assert not reader.is_alive(), "blocked on the FIFO"
        assert done == [[0, 1, 2]]


class TestFilters:
    @pytest.fixture
    def directory(self, tmp_path: Path) -> Path:
        return write_one_per_level(tmp_path)

    def test_event_types(self, directory: Path) -> None:
        """Only events of the given types are kept."""
        assert numbers(read_events(directory, event_types=["type1"])) == [1, 3]
        assert numbers(read_events(directory, event_types={"type0", "type1"})) == [0, 1, 2, 3, 4]

    def test_verbosity_keeps_what_a_writer_at_that_level_keeps(self, directory: Path) -> None:
        """verbosity=ACTION keeps MILESTONE, DECISION and ACTION; names in any case work."""
        assert numbers(read_events(directory, verbosity=VerbosityLevel.ACTION)) == [0, 1, 2]
        assert numbers(read_events(directory, verbosity="milestone")) == [0]

    def test_time_window_is_half_open(self, directory: Path) -> None:
        """since is inclusive, until exclusive, other time zones converted."""
        since = datetime(2024, 5, 1, 7, 1, tzinfo=timezone(timedelta(hours=-5)))
        until = datetime(2024, 5, 1, 14, 3, tzinfo=timezone(timedelta(hours=2)))
        assert numbers(read_events(directory, since=since, until=until)) == [1, 2]

    def test_simulation_id_and_combined_filters(self, directory: Path) -> None:
        """Filters combine: every one must hold."""
        assert numbers(read_events(directory, simulation_id="b")) == [3, 4]
        assert numbers(read_events(directory, simulation_id="a", event_types=["type0"])) == [0, 2]

    def test_level_keeps_that_level_and_more_severe(self, directory: Path) -> None:
        """level="warning" keeps warning, error and exception; any case or a stdlib number works."""
        assert helpers.LOG_LEVELS == ("info", "error", "debug", "warning", "exception")
        assert numbers(read_events(directory, level="warning")) == [1, 3, 4]
        assert numbers(read_events(directory, level="ERROR")) == [1, 4]
        assert numbers(read_events(directory, level=logging.INFO)) == [0, 1, 3, 4]
        assert numbers(read_events(directory, level="debug")) == [0, 1, 2, 3, 4]
        assert numbers(read_events(directory, level="critical")) == []
        assert numbers(read_events(directory, level="exception")) == [1, 4]

    def test_level_of_aliases_unknown_and_missing_levels(self, tmp_path: Path) -> None:
        """Aliases rank as their level, unknown names always pass, a missing level never does."""
        stored = [
            ("fatal", 0), ("warn", 1), ("err", 2), ("Level 45", 3), ("level 5", 4),
            ("notice", 5), (None, 6), ("CRITICAL", 7),
        ]  # fmt: skip
        with EventWriter(tmp_path, "s", mode="sync", verbosity="DETAIL") as writer:
            for level, number in stored:
                writer.emit(
                    Event(event_type="e", simulation_id="s", level=level, data={"n": number})
                )
        kept = [event.data["n"] for event in read_events(tmp_path, level="error")]
        assert kept == [0, 2, 3, 5, 7]
        kept = [event.data["n"] for event in read_events(tmp_path, level="warning")]
        assert kept == [0, 1, 2, 3, 5, 7]
        kept = [event.data["n"] for event in read_events(tmp_path, level=0)]
        assert kept == [0, 1, 2, 3, 4, 5, 7]

    def test_where_matches_fields_and_data_paths_as_text(self, tmp_path: Path) -> None:
        """where keys name event fields or paths into data; values compare as JSON text."""
        data = {
            "agent_id": "a1",
            "turn": 3,
            "ok": True,
            "gone": None,
            "config": {"region": "eu", "sizes": [1, 2]},
            "http.status": 200,
            "timestamp": "kept by the writer",
        }
        with EventWriter(tmp_path, "s", mode="sync") as writer:
            writer.emit(Event(event_type="step", simulation_id="s", level="info", data=data))
            writer.emit(Event(event_type="step", simulation_id="s", data={"agent_id": "a2"}))
        matching: list[dict[str, Any]] = [
            {"agent_id": "a1"},
            {"data.agent_id": "a1"},
            {"turn": "3"},
            {"turn": 3},
            {"ok": "true"},
            {"ok": True},
            {"gone": "null"},
            {"config.region": "eu"},
            {"data.config.sizes.1": "2"},
            {"config.sizes": "[1,2]"},
            {"config": '{"region":"eu","sizes":[1,2]}'},
            {"http.status": "200"},
            {"data.timestamp": "kept by the writer"},
            {"level": "info", "event_type": "step", "simulation_id": "s", "verbosity": "ACTION"},
        ]
        for where in matching:
            assert [e.data.get("agent_id") for e in read_events(tmp_path, where=where)] == ["a1"]
        assert len(list(read_events(tmp_path, where={"level": "null"}))) == 1
        failing: list[dict[str, Any]] = [
            {"agent_id": "A1"},
            {"turn": "3.0"},
            {"ok": "True"},
            {"config.region": '"eu"'},
            {"config.sizes.2": "3"},
            {"missing": "null"},
            {"agent_id": "a1", "turn": "4"},
        ]
        for where in failing:
            assert list(read_events(tmp_path, where=where)) == [], where

    def test_where_on_the_timestamp_compares_its_stored_text(self, directory: Path) -> None:
        """The timestamp matches as the line stores it: ISO 8601, UTC, Z."""
        stamp = (helpers.LEVELS_BASE + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert numbers(read_events(directory, where={"timestamp": stamp})) == [2]

    def test_bad_filters_raise_at_call(self, directory: Path) -> None:
        """Wrong filter values raise with the fix named, before reading."""
        with pytest.raises(TypeError, match=r"e.g. \['type0'\]"):
            read_events(directory, event_types="type0")
        with pytest.raises(ValueError, match="valid names are"):
            read_events(directory, verbosity="loud")
        with pytest.raises(TypeError, match="since must be a datetime"):
            read_events(directory, since="2024-05-01")  # type: ignore[call-overload]
        with pytest.raises(ValueError, match="poll_interval"):
            follow_events(directory, poll_interval=0)
        with pytest.raises(ValueError, match="valid names are debug, info, warning, error"):
            read_events(directory, level="loud")
        with pytest.raises(TypeError, match=r"logging\.ERROR"):
            read_events(directory, level=4.0)  # type: ignore[call-overload]
        with pytest.raises(TypeError, match=r"\{'agent_id': 'a1'\}"):
            read_events(directory, where=[("agent_id", "a1")])  # type: ignore[call-overload]
        with pytest.raises(ValueError, match=r"e\.g\. agent_id or data\.config\.region"):
            read_events(directory, where={"config..region": "eu"})
        with pytest.raises(TypeError, match="follows one directory"):
            follow_events([directory])  # type: ignore[call-overload]


class TestSources:
    def test_one_file_of_a_directory(self, tmp_path: Path) -> None:
        """events.jsonl, a rotated file or its .gz copy can each be read on its own."""
        fill(tmp_path, 30)
        first, second, *_ = rotated(tmp_path)
        whole = helpers.read_events(tmp_path)
        copy = tmp_path / "elsewhere" / (second.name + ".gz")
        copy.parent.mkdir()
        copy.write_bytes(gzip.compress(second.read_bytes()))
        assert list(read_events(first)) == helpers.read_events_of(first)
        assert list(read_events(copy)) == helpers.read_events_of(second)
        live = tmp_path / "events.jsonl"
        assert list(read_events(live)) == whole[len(whole) - len(helpers.read_events_of(live)) :]

    def test_torn_tail_of_a_plain_file_is_torn_of_a_rotated_one_corrupt(
        self, tmp_path: Path
    ) -> None:
        """A plain file may still grow (torn tail skipped); a rotated or .gz file never does."""
        copy = tmp_path / "copy.jsonl"
        copy.write_bytes(event_line(0) + event_line(1)[:-1])
        stream = read_events(copy)
        assert numbers(stream) == [0]
        assert (stream.torn_lines, stream.corrupt_lines) == (1, 0)
        for name in ("events_2024-01-01_00-00-00-000000.jsonl", "copy.jsonl.gz"):
            path = tmp_path / name
            content = event_line(0) + event_line(1)[:-1]
            path.write_bytes(gzip.compress(content) if name.endswith(".gz") else content)
            with pytest.raises(CorruptEventError, match=r":2: unterminated last line"):
                list(read_events(path))

    def test_damaged_gzip_file_given_alone_is_corrupt(self, tmp_path: Path) -> None:
        """A .jsonl.gz that is not gzip data raises naming it, or is counted with strict=False."""
        path = tmp_path / "copy.jsonl.gz"
        path.write_bytes(event_line(0))
        with pytest.raises(CorruptEventError, match="compressed data is damaged"):
            list(read_events(path))
        stream = read_events(path, strict=False)
        assert list(stream) == []
        assert stream.corrupt_lines == 1

    def test_several_directories_merge_by_timestamp(self, tmp_path: Path) -> None:
        """Events of several directories come in timestamp order, ties in argument order."""
        minutes = {"a": [0, 2, 2, 5, 9], "b": [1, 2, 3, 9, 10], "c": []}
        for name, stamps in minutes.items():
            (tmp_path / name).mkdir()
            with EventWriter(tmp_path / name, name, mode="sync", max_file_size=300) as writer:
                for index, minute in enumerate(stamps):
                    stamp = helpers.LEVELS_BASE + timedelta(minutes=minute)
                    writer.emit(
                        Event(
                            event_type="e", simulation_id=name, timestamp=stamp, data={"i": index}
                        )
                    )
        assert len(rotated(tmp_path / "a")) > 1
        merged = [
            (e.simulation_id, e.data["i"]) for e in read_events(tmp_path / name for name in "abc")
        ]
        assert merged == [
            ("a", 0), ("b", 0), ("a", 1), ("a", 2), ("b", 1), ("b", 2), ("a", 3), ("a", 4),
            ("b", 3), ("b", 4),
        ]  # fmt: skip
        reversed_order = read_events([tmp_path / "b", str(tmp_path / "a")])
        assert [(e.simulation_id, e.data["i"]) for e in reversed_order][2:5] == [
            ("b", 1),
            ("a", 1),
            ("a", 2),
        ]

    def test_files_and_directories_mix_and_filters_apply(self, tmp_path: Path) -> None:
        """A directory and a file of another run merge; the filters apply to the merge."""
        run = write_one_per_level(tmp_path / "run")
        other = tmp_path / "other.jsonl"
        late = helpers.LEVELS_BASE + timedelta(seconds=90)
        other.write_bytes(
            Event(event_type="x", simulation_id="o", level="error", timestamp=late)
            .model_dump_json()
            .encode()
            + b"\n"
        )
        events = list(read_events([run, other], level="error"))
        assert [(e.simulation_id, e.data.get("number")) for e in events] == [
            ("a", 1),
            ("o", None),
            ("b", 4),
        ]

    def test_empty_list_and_non_paths_are_refused(self, tmp_path: Path) -> None:
        """No source at all, or something that is not a path, raises naming what is expected."""
        with pytest.raises(ValueError, match="at least one directory or event file"):
            read_events([])
        with pytest.raises(TypeError, match="str or PathLike, or a list of them"):
            read_events([tmp_path, 3])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="str or PathLike, or a list of them"):
            read_events(3)  # type: ignore[call-overload]

    def test_closing_a_merge_closes_every_directory(self, tmp_path: Path) -> None:
        """Leaving a merged read early closes the files of every source."""
        for name in ("a", "b"):
            fill(tmp_path / name, 5, max_file_size=100_000)
        before = open_fds(tmp_path)
        with read_events([tmp_path / "a", tmp_path / "b"]) as stream:
            next(stream)
            assert open_fds(tmp_path) >= before + 2
        assert open_fds(tmp_path) == before


def scanned(stream: int, stamps: list[int]) -> Generator[ScanItem, None, None]:
    """A finished scan of events at *stamps* (seconds), tagged with their stream and index."""
    for index, second in enumerate(stamps):
        stamp = helpers.LEVELS_BASE + timedelta(seconds=second)
        event = Event(
            event_type="e", simulation_id="s", timestamp=stamp, data={"at": [stream, index]}
        )
        yield ScannedLine(Path(f"s{stream}"), index + 1, b"", event)
    yield CAUGHT_UP


def tags(items: Iterable[ScanItem]) -> list[tuple[int, int]]:
    return [tuple(item.event.data["at"]) for item in items if isinstance(item, ScannedLine)]


class TestMerge:
    @given(streams=st.lists(st.lists(st.integers(0, 30), max_size=12), min_size=1, max_size=5))
    def test_ordered_streams_merge_in_timestamp_order_ties_by_stream(
        self, streams: list[list[int]]
    ) -> None:
        """N time-ordered streams merge into time order; equal times keep the streams' order."""
        ordered = [sorted(stamps) for stamps in streams]
        merged = list(merge_scans([scanned(n, stamps) for n, stamps in enumerate(ordered)]))
        everything = [
            (stamp, n, index)
            for n, stamps in enumerate(ordered)
            for index, stamp in enumerate(stamps)
        ]
        assert tags(merged) == [(n, index) for _, n, index in sorted(everything)]
        assert merged[-1] is CAUGHT_UP
        assert merged.count(CAUGHT_UP) == 1

    @given(streams=st.lists(st.lists(st.integers(0, 30), max_size=12), min_size=1, max_size=5))
    def test_every_stream_keeps_its_own_order(self, streams: list[list[int]]) -> None:
        """Even when a stream's times go backwards, its events come out in its order, all once."""
        merged = tags(merge_scans([scanned(n, stamps) for n, stamps in enumerate(streams)]))
        assert sorted(merged) == [
            (n, i) for n, stamps in enumerate(streams) for i in range(len(stamps))
        ]
        for n, stamps in enumerate(streams):
            assert [index for stream, index in merged if stream == n] == list(range(len(stamps)))

    def test_reads_each_stream_one_line_ahead(self) -> None:
        """The merge pulls a line from a stream only when the one before it is yielded."""
        pulled = [0, 0]

        def counted(stream: int, stamps: list[int]) -> Generator[ScanItem, None, None]:
            for item in scanned(stream, stamps):
                pulled[stream] += 1
                yield item

        merged = merge_scans(
            [counted(0, list(range(0, 1000, 2))), counted(1, list(range(1, 1000, 2)))]
        )
        assert tags(itertools.islice(merged, 5)) == [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]
        assert pulled == [3, 3]  # three and two yielded, one more held

    def test_problem_lines_keep_their_place_in_their_stream(self) -> None:
        """A corrupt line comes right after the line before it in its own file."""
        problem = LineProblem(Path("s1"), 2, "bad")

        def with_problem() -> Generator[ScanItem, None, None]:
            items = list(scanned(1, [5, 8]))
            yield from [items[0], problem, items[1], CAUGHT_UP]

        merged = list(merge_scans([scanned(0, [1, 6, 7, 9]), with_problem()]))
        assert merged.index(problem) == 2
        assert tags(merged[:2]) == [(0, 0), (1, 0)]

    def test_closing_the_merge_closes_every_scan(self) -> None:
        """close() on a merge closes each scan it holds, read to the end or not."""
        closed: list[int] = []

        def tracked(stream: int) -> Generator[ScanItem, None, None]:
            try:
                yield from scanned(stream, [stream, 10])
            finally:
                closed.append(stream)

        scans = [tracked(0), tracked(1), tracked(2)]  # held here, as a caller may
        merged = merge_scans(scans)
        next(merged)
        merged.close()
        assert sorted(closed) == [0, 1, 2]


@contextlib.contextmanager
def following(directory: Path, *, poll_interval: float = 0.005) -> Iterator[list[Event]]:
    """Follow *directory* in a thread while the block runs; then read on to the end, stop."""
    stop = threading.Event()
    followed: list[Event] = []
    stream = follow_events(directory, stop=stop, poll_interval=poll_interval)
    reader = threading.Thread(target=lambda: followed.extend(stream))
    reader.start()
    try:
        yield followed
    finally:
        stop.set()
        reader.join(timeout=60)
    assert not reader.is_alive(), "the follower did not end"


def step(items: Iterator[ScanItem]) -> list[int]:
    """Advance a following scan to its next CAUGHT_UP; return the event numbers met."""
    found: list[int] = []
    for item in items:
        if item is CAUGHT_UP:
            return found
        assert isinstance(item, ScannedLine), item
        found.append(item.event.data["number"])
    raise AssertionError("the scan ended")


class TestFollowRotations:
    """Deterministic follows: the test moves the directory between two looks."""

    def test_rotations_between_looks_are_read_once(self, tmp_path: Path) -> None:
        """Files created and rotated away between two looks are read, in order, once."""
        writer = EventWriter(tmp_path, "sim", mode="sync", max_file_size=SMALL_FILE)
        items = scan(tmp_path, follow=True, poll_interval=0.001)
        try:
            for number in range(2):
                log(writer, event="step", number=number)
            assert step(items) == [0, 1]
            for number in range(2, 20):
                log(writer, event="step", number=number)
            assert len(rotated(tmp_path)) > 4
            assert step(items) + step(items) == list(range(2, 20))
        finally:
            items.close()
            writer.close()

    def test_live_file_compressed_after_rotation_is_not_read_twice(self, tmp_path: Path) -> None:
        """The file being read, rotated and gzipped before the next look, is finished once."""
        writer = EventWriter(tmp_path, "sim", mode="sync", max_file_size=SMALL_FILE)
        items = scan(tmp_path, follow=True, poll_interval=0.001)
        try:
            log(writer, event="step", number=0)
            assert step(items) == [0]
            for number in range(1, 12):
                log(writer, event="step", number=number)
            for path in rotated(tmp_path):
                compress(path)
            assert step(items) + step(items) == list(range(1, 12))
        finally:
            items.close()
            writer.close()

    def test_live_file_deleted_after_rotation_is_finished_through_its_descriptor(
        self, tmp_path: Path
    ) -> None:
        """A file rotated and deleted (retention) before the next look still gives its end."""
        writer = EventWriter(tmp_path, "sim", mode="sync", max_file_size=SMALL_FILE)
        items = scan(tmp_path, follow=True, poll_interval=0.001)
        try:
            log(writer, event="step", number=0)
            assert step(items) == [0]
            log(writer, event="step", number=1)
            while not rotated(tmp_path):
                log(writer, event="filler", number=-1)
            log(writer, event="step", number=2)
            [old] = rotated(tmp_path)
            old.unlink()
            found = step(items) + step(items)
            assert [n for n in found if n >= 0] == [1, 2]
        finally:
            items.close()
            writer.close()

    def test_torn_tail_cut_by_the_next_writer_is_never_read(self, tmp_path: Path) -> None:
        """A half line left by a crash, cut and replaced by a new writer, is not mixed in."""
        live = tmp_path / "events.jsonl"
        live.write_bytes(event_line(0) + event_line(1)[:40])
        items = scan(tmp_path, follow=True, poll_interval=0.001)
        try:
            assert step(items) == [0]
            with EventWriter(tmp_path, "sim", mode="sync") as writer:
                log(writer, event="step", number=2)
            assert step(items) == [2]
        finally:
            items.close()

    def test_new_events_only_when_not_from_start(self, tmp_path: Path) -> None:
        """from_start=False skips what is already there, rotated files included."""
        fill(tmp_path, 10)
        append(tmp_path / "events.jsonl", b'{"torn')
        items = scan(tmp_path, follow=True, from_start=False, poll_interval=0.001)
        try:
            assert step(items) == []
            fill(tmp_path, 10, start=10)
            assert step(items) + step(items) == list(range(10, 20))
        finally:
            items.close()

    def test_a_live_file_whose_rotated_name_retention_deleted_comes_before_newer_files(
        self, tmp_path: Path
    ) -> None:
        """The live file read so far is rotated, then its rotated name deleted (oldest first,
        as retention deletes), and newer files rotated: its rest comes first, in order."""
        live = tmp_path / "events.jsonl"
        live.write_bytes(event_line(0) + event_line(1))
        items = scan(tmp_path, follow=True, poll_interval=0.001)
        try:
            assert step(items) == [0, 1]
            append(live, event_line(2))
            live.rename(tmp_path / "events_2999-01-01_00-00-00-000001.jsonl")
            for number, stamp in ((3, 2), (4, 3)):
                name = f"events_2999-01-01_00-00-00-00000{stamp}.jsonl"
                (tmp_path / name).write_bytes(event_line(number))
            live.write_bytes(event_line(5))
            (tmp_path / "events_2999-01-01_00-00-00-000001.jsonl").unlink()
            assert step(items) + step(items) == [2, 3, 4, 5]
        finally:
            items.close()

    def test_a_writer_with_retention_is_followed_in_order(self, tmp_path: Path) -> None:
        """A follower kept by a writer that rotates and deletes fast sees a subsequence of
        the events in write order: retention may delete files first, never reorder them."""
        with (
            following(tmp_path, poll_interval=0.001) as followed,
            EventWriter(tmp_path, "sim", mode="sync", max_file_size=400, max_files=1) as writer,
        ):
            for number in range(400):
                log(writer, event="step", number=number)
        seen = numbers(followed)
        assert seen == sorted(set(seen))
        assert seen[-1] == 399


class TestIncompleteListings:
    """readdir() may miss a file created or renamed while it runs, yet return newer ones."""

    @pytest.fixture
    def hide(self, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
        """Make the next listings miss the named files, one set of names per listing."""

        def hide(*plans: set[str]) -> None:
            pending = list(plans)

            def listing(directory: Path, *, after: str = "") -> Listing:
                hidden = pending.pop(0) if pending else set()
                real = real_listing(directory, after=after)
                return Listing([file for file in real.rotated if file.key not in hidden], [])

            monkeypatch.setattr(_scan, "list_rotated", listing)

        real_listing = list_rotated
        return hide

    def test_file_missed_by_a_listing_is_read_in_its_place(
        self, tmp_path: Path, hide: Callable[..., None]
    ) -> None:
        """A listing without an older file but with a newer one loses nothing, reorders nothing."""
        fill(tmp_path, 30)
        names = [path.name for path in rotated(tmp_path)]
        hide({names[3]})
        assert numbers(read_events(tmp_path)) == list(range(30))

    def test_live_file_waits_for_an_older_file_missed_by_a_listing(
        self, tmp_path: Path, hide: Callable[..., None]
    ) -> None:
        """The live file is not read while an older rotated file may still be unlisted."""
        fill(tmp_path, 30)
        names = {path.name for path in rotated(tmp_path)}
        newest = max(names)
        hide({newest}, set(), {newest}, set())
        items = scan(tmp_path, follow=True, poll_interval=0.001)
        try:
            assert step(items) == list(range(30))
        finally:
            items.close()

    def test_file_compressed_after_it_was_listed_is_read_from_the_archive(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A plain file gone by the time it is opened is read from its ``.gz``."""
        fill(tmp_path, 30)
        stale = list_rotated(tmp_path)
        for path in rotated(tmp_path):
            compress(path)
        monkeypatch.setattr(_scan, "list_rotated", lambda directory, after="": stale)
        assert numbers(read_events(tmp_path)) == list(range(30))

    def test_a_new_live_file_beginning_like_a_file_read_is_read(self, tmp_path: Path) -> None:
        """A new events.jsonl whose content equals a rotated file read already (one event
        emitted again and again) is read: only one file under two names is read once."""
        fill(tmp_path, 2, max_file_size=100_000)
        live = tmp_path / "events.jsonl"
        copy = compress(live.rename(tmp_path / "events_2999-01-01_00-00-00-000000.jsonl"))
        items = scan(tmp_path, follow=True, poll_interval=0.001)
        try:
            assert step(items) == [0, 1]
            live.write_bytes(gzip.decompress(copy.read_bytes()))
            assert step(items) + step(items) == [0, 1]
        finally:
            items.close()

    def test_newer_file_listed_before_an_older_one_waits(
        self, tmp_path: Path, hide: Callable[..., None]
    ) -> None:
        """A file newer than every file of the first listing waits for a later look."""
        fill(tmp_path, 30)
        *_, older, newer = (path.name for path in rotated(tmp_path))
        hide({older, newer}, {older})
        assert numbers(read_events(tmp_path)) == list(range(30))

    def test_live_file_finished_unlisted_is_not_read_again_when_listed(
        self, tmp_path: Path, hide: Callable[..., None]
    ) -> None:
        """A live file rotated away, finished through its descriptor, is skipped once listed."""
        live = tmp_path / "events.jsonl"
        live.write_bytes(event_line(0) + event_line(1))
        items = scan(tmp_path, follow=True, poll_interval=0.001)
        try:
            assert step(items) == [0, 1]
            live.rename(tmp_path / "events_2999-01-01_00-00-00-000000.jsonl")
            hide(
                {"events_2999-01-01_00-00-00-000000.jsonl"},
                {"events_2999-01-01_00-00-00-000000.jsonl"},
            )
            assert step(items) + step(items) == []
        finally:
            items.close()

    def test_live_file_read_to_its_end_is_not_opened_again(self, tmp_path: Path) -> None:
        """A live file finished under its compressed name, still named events.jsonl, stays done."""
        live = tmp_path / "events.jsonl"
        live.write_bytes(event_line(0) + event_line(1))
        items = scan(tmp_path, follow=True, poll_interval=0.001)
        try:
            assert step(items) == [0, 1]
            rotated_name = tmp_path / "events_2999-01-01_00-00-00-000000.jsonl"
            os.link(live, rotated_name)
            compress(rotated_name)
            assert step(items) + step(items) == []
            live.unlink()
            live.write_bytes(event_line(2))
            assert step(items) + step(items) == [2]
        finally:
            items.close()


class TestFollowEvents:
    def test_follows_a_writing_thread_exactly_once_in_order(self, tmp_path: Path) -> None:
        """Following while a queued writer rotates gives exactly the events on disk, in order."""
        with (
            following(tmp_path) as followed,
            EventWriter(tmp_path, "sim", max_file_size=2_000, overflow="block") as writer,
        ):
            for number in range(10_000):
                log(writer, event="step", number=number)
                if number % 1_000 == 0:
                    time.sleep(0.01)  # let the follower catch up now and then
            assert writer.close(timeout=120)  # a thousand rotations, each fsynced, on a busy disk
        assert writer.stats.rotations > 100
        assert numbers(followed) == list(range(10_000))
        assert followed == list(read_events(tmp_path))

    def test_follows_a_writer_that_compresses_its_rotated_files(self, tmp_path: Path) -> None:
        """Files gzipped (compress=True) while being followed are still read once, in order."""
        with (
            following(tmp_path) as followed,
            EventWriter(tmp_path, "sim", mode="sync", max_file_size=2_000, compress=True) as w,
        ):
            for number in range(2_000):
                log(w, event="step", number=number)
        assert any(path.name.endswith(".gz") for path in rotated(tmp_path))
        assert numbers(followed) == list(range(2_000))

    def test_follows_a_writer_of_files_that_begin_alike(self, tmp_path: Path) -> None:
        """One Event emitted again and again, files rotated and gzipped while followed: each
        line is followed once."""
        heartbeat = Event(event_type="heartbeat", simulation_id="sim", data={"pad": "x" * 200})
        with (
            following(tmp_path, poll_interval=0.001) as followed,
            EventWriter(tmp_path, "sim", mode="sync", max_file_size=2_000, compress=True) as w,
        ):
            for number in range(1_500):
                w.emit(heartbeat)
                if number % 100 == 0:
                    time.sleep(0.01)  # let the follower catch up now and then
            assert w.close(timeout=120)
        assert w.stats.rotations > 100
        assert len(followed) == 1_500

    def test_follows_two_writing_processes(self, tmp_path: Path) -> None:
        """Two processes rotating one directory: each event is followed once, in file order."""
        script = (
            "import sys\n"
            "from structlog_events import EventWriter\n"
            "w = EventWriter(sys.argv[1], sys.argv[2], mode='sync', max_file_size=1500)\n"
            "for n in range(400):\n"
            "    w.write({'event': 'step', 'number': n})\n"
            "w.close()\n"
        )
        with following(tmp_path) as followed:
            writers = [
                subprocess.Popen([sys.executable, "-c", script, str(tmp_path), name])
                for name in ("p1", "p2")
            ]
            try:
                for process in writers:
                    assert process.wait(timeout=120) == 0
            finally:
                for process in writers:
                    process.kill()
        on_disk = list(read_events(tmp_path))
        assert len(on_disk) == 800
        assert [e.event_id for e in followed] == [e.event_id for e in on_disk]
        for name in ("p1", "p2"):
            assert numbers(e for e in followed if e.simulation_id == name) == list(range(400))

    def test_stop_ends_after_what_is_on_disk(self, tmp_path: Path) -> None:
        """With stop already set, following reads what is there (torn tail counted), then ends."""
        fill(tmp_path, 12)
        append(tmp_path / "events.jsonl", b'{"torn')
        stop = threading.Event()
        stop.set()
        stream = follow_events(tmp_path, stop=stop)
        assert numbers(stream) == list(range(12))
        assert stream.torn_lines == 1

    def test_waits_for_the_directory_to_appear(self, tmp_path: Path) -> None:
        """A follow started before the writer made its directory picks up its events."""
        directory = tmp_path / "later"
        with following(directory) as followed:
            time.sleep(0.05)
            fill(directory, 5)
        assert numbers(followed) == list(range(5))

    def test_filters_apply_while_following(self, tmp_path: Path) -> None:
        """Filters, level and where included, work as for read_events; corrupt lines raise."""
        with EventWriter(tmp_path, "sim", mode="sync", verbosity="DETAIL") as writer:
            log(writer, "detail", method_name="debug", number=0)
            log(writer, "milestone", method_name="warning", number=1)
        append(tmp_path / "events.jsonl", b"oops\n" + event_line(2))
        stop = threading.Event()
        stop.set()
        kept = follow_events(tmp_path, stop=stop, verbosity="ACTION", strict=False)
        assert numbers(kept) == [1, 2]
        assert kept.corrupt_lines == 1
        errors = follow_events(
            tmp_path, stop=stop, level="warning", where={"number": 1}, strict=False
        )
        assert numbers(errors) == [1]
        with pytest.raises(CorruptEventError, match=r"events\.jsonl:3: "):
            list(follow_events(tmp_path, stop=stop))

    def test_breaking_out_closes_the_files(self, tmp_path: Path) -> None:
        """A consumer that stops iterating and closes the stream leaves no file open."""
        fill(tmp_path, 5, max_file_size=100_000)
        before = open_fds(tmp_path)
        stream = follow_events(tmp_path)
        for event in stream:
            if event.data["number"] == 4:
                break
        assert open_fds(tmp_path) > before
        stream.close()
        assert open_fds(tmp_path) == before


def write_typed_run(directory: Path, *, max_file_size: int = 500 * 1024 * 1024) -> EventWriter:
    """Decisions and ticks of three turns, one invalid decision (turn -1, no agent): 7 events."""
    with EventWriter(
        directory,
        "sim",
        mode="sync",
        max_file_size=max_file_size,
        event_model=SimEvent,
        event_models={"agent_decided": DecisionEvent},
    ) as writer:
        for turn in range(3):
            log(writer, event="agent_decided", turn_number=turn, agent_id=f"a{turn % 2}")
            log(writer, event="tick", turn_number=turn, price=1.5)
        log(writer, event="agent_decided", turn_number=-1, choice="buy")
    return writer


#: The models of ``write_typed_run`` per event type.
PER_TYPE = {"agent_decided": DecisionEvent}


class TestTypedReading:
    def test_each_event_is_its_types_model_and_filters_reach_fields(self, tmp_path: Path) -> None:
        """Read with models, events are their type's model; where reaches the typed fields."""
        write_typed_run(tmp_path, max_file_size=SMALL_FILE)
        assert rotated(tmp_path), "the run spans rotated files"
        events = read_events(tmp_path, strict=False, model=SimEvent, models=PER_TYPE)
        read = list(events)
        assert [type(e).__name__ for e in read] == ["DecisionEvent", "SimEvent"] * 3
        assert [e.turn_number for e in read] == [0, 0, 1, 1, 2, 2]
        assert events.invalid_lines == 1
        assert events.corrupt_lines == 0
        wanted = read_events(
            tmp_path,
            where={"turn_number": 2, "agent_id": "a0"},
            strict=False,
            model=SimEvent,
            models=PER_TYPE,
        )
        assert [(e.event_type, e.turn_number) for e in wanted] == [("agent_decided", 2)]

    def test_invalid_event_raises_naming_file_line_model_and_field(self, tmp_path: Path) -> None:
        """strict=True raises at the invalid event, naming file, line, model and fields."""
        write_typed_run(tmp_path)
        with pytest.raises(CorruptEventError) as raised:
            list(read_events(tmp_path, model=SimEvent, models=PER_TYPE))
        error = raised.value
        assert (error.path, error.line_number) == (tmp_path / "events.jsonl", 7)
        assert "not a valid DecisionEvent (event type 'agent_decided')" in error.reason
        assert "turn_number: Input should be greater than or equal to 0" in error.reason
        assert "agent_id: Field required" in error.reason

    def test_without_models_every_line_is_an_event(self, tmp_path: Path) -> None:
        """Without models, typed lines are Events with their fields in model_extra, invalid ones
        Events with data._invalid."""
        write_typed_run(tmp_path)
        read = list(read_events(tmp_path))
        assert len(read) == 7
        assert all(isinstance(e, Event) for e in read)
        assert read[0].model_extra == {
            "turn_number": 0,
            "agent_id": "a0",
            "caused_by": None,
            "description": None,
            "details": None,
        }
        assert read[-1].data["_invalid"]["model"] == "DecisionEvent"
        turn = read_events(tmp_path, where={"turn_number": 1})
        assert [(e.event_type, e.data) for e in turn] == [
            ("agent_decided", {}),
            ("tick", {"price": 1.5}),
        ]

    def test_follow_reads_typed_events(self, tmp_path: Path) -> None:
        """follow_events with models yields each event as its type's model."""
        write_typed_run(tmp_path, max_file_size=SMALL_FILE)
        stop = threading.Event()
        stop.set()
        followed = follow_events(tmp_path, stop=stop, strict=False, model=SimEvent, models=PER_TYPE)
        assert [type(e).__name__ for e in followed] == ["DecisionEvent", "SimEvent"] * 3
        assert followed.invalid_lines == 1

    def test_where_compares_typed_values_as_the_line_holds_them(self, tmp_path: Path) -> None:
        """A decimal, a time and a nested model's field match as the line writes them."""
        with EventWriter(tmp_path, "sim", mode="sync", event_model=RichEvent) as writer:
            log(writer, event="quote", price="1.25", due="2030-01-01T00:00:00Z")
            log(writer, event="quote", price="2", position={"x": 1.5, "y": 0})
        for where in (
            {"price": "1.25"},
            {"due": "2030-01-01T00:00:00Z"},
            {"position.x": 1.5},
            {"position.y": "0.0"},
        ):
            matched = read_events(tmp_path, model=RichEvent, where=where)
            assert len(list(matched)) == 1, where

    def test_a_model_is_checked_at_call(self, tmp_path: Path) -> None:
        """A model that is not an Event subclass is refused by the call, before any reading."""
        with pytest.raises(TypeError, match="model must be a subclass"):
            read_events(tmp_path, model=dict)  # type: ignore[type-var]
