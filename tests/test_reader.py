"""Tests for ``read_events`` and ``follow_events``."""

from __future__ import annotations

import contextlib
import gzip
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from structlog import DropEvent

from structlog_events import (
    CorruptEventError,
    Event,
    EventWriter,
    VerbosityLevel,
    _scan,
    follow_events,
    read_events,
)
from structlog_events._layout import Listing
from structlog_events._scan import CAUGHT_UP, ScanItem, ScannedLine, scan

from . import checks
from .checks import write_one_per_level
from .strategies import aware_datetimes, json_data, unicode_text

#: Room for about three events of ``fill`` per file: many rotations, quickly.
SMALL_FILE = 600


def log(writer: EventWriter, method: str = "info", **fields: Any) -> None:
    """Log one record through the writer, as structlog would."""
    with contextlib.suppress(DropEvent):
        writer(None, method, fields)


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
        assert events == checks.read_events(tmp_path)

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
        stored = checks.read_events(tmp_path)
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

    def test_missing_directory_or_file_is_refused_at_call(self, tmp_path: Path) -> None:
        """A path that is not a directory raises when read_events is called, not later."""
        with pytest.raises(FileNotFoundError, match="no event directory"):
            read_events(tmp_path / "absent")
        (tmp_path / "file").write_text("")
        with pytest.raises(NotADirectoryError):
            read_events(tmp_path / "file")

    def test_closing_early_releases_the_files(self, tmp_path: Path) -> None:
        """close() (or leaving a with block) after a partial read closes the open file."""
        fill(tmp_path, 30, max_file_size=100_000)
        before = open_fds(tmp_path)
        with read_events(tmp_path) as stream:
            next(stream)
            assert open_fds(tmp_path) > before
        assert open_fds(tmp_path) == before
        stream.close()  # idempotent


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

    def test_bad_filters_raise_at_call(self, directory: Path) -> None:
        """Wrong filter values raise with the fix named, before reading."""
        with pytest.raises(TypeError, match=r"e.g. \['type0'\]"):
            read_events(directory, event_types="type0")
        with pytest.raises(ValueError, match="valid names are"):
            read_events(directory, verbosity="loud")
        with pytest.raises(TypeError, match="since must be a datetime"):
            read_events(directory, since="2024-05-01")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="poll_interval"):
            follow_events(directory, poll_interval=0)


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

        real_listing = _scan.list_rotated
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
        stale = _scan.list_rotated(tmp_path)
        for path in rotated(tmp_path):
            compress(path)
        monkeypatch.setattr(_scan, "list_rotated", lambda directory, after="": stale)
        assert numbers(read_events(tmp_path)) == list(range(30))

    def test_file_read_under_its_rotated_name_is_not_read_again_as_live(
        self, tmp_path: Path
    ) -> None:
        """A file read as a rotated file, then still found as events.jsonl, is not read twice."""
        fill(tmp_path, 2, max_file_size=100_000)
        live = tmp_path / "events.jsonl"
        copy = compress(live.rename(tmp_path / "events_2999-01-01_00-00-00-000000.jsonl"))
        items = scan(tmp_path, follow=True, poll_interval=0.001)
        try:
            assert step(items) == [0, 1]
            live.write_bytes(gzip.decompress(copy.read_bytes()))
            assert step(items) + step(items) == []
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
        stop = threading.Event()
        followed: list[Event] = []
        stream = follow_events(tmp_path, stop=stop, poll_interval=0.005)
        reader = threading.Thread(target=lambda: followed.extend(stream))
        reader.start()
        with EventWriter(tmp_path, "sim", max_file_size=2_000, overflow="block") as writer:
            for number in range(10_000):
                log(writer, event="step", number=number)
                if number % 1_000 == 0:
                    time.sleep(0.01)  # let the follower catch up now and then
        stop.set()
        reader.join(timeout=60)
        assert not reader.is_alive()
        assert writer.stats.rotations > 100
        assert numbers(followed) == list(range(10_000))
        assert followed == list(read_events(tmp_path))

    def test_follows_a_writer_that_compresses_its_rotated_files(self, tmp_path: Path) -> None:
        """Files gzipped (compress=True) while being followed are still read once, in order."""
        stop = threading.Event()
        followed: list[Event] = []
        stream = follow_events(tmp_path, stop=stop, poll_interval=0.005)
        reader = threading.Thread(target=lambda: followed.extend(stream))
        reader.start()
        with EventWriter(tmp_path, "sim", mode="sync", max_file_size=2_000, compress=True) as w:
            for number in range(2_000):
                log(w, event="step", number=number)
        stop.set()
        reader.join(timeout=60)
        assert not reader.is_alive()
        assert any(path.name.endswith(".gz") for path in rotated(tmp_path))
        assert numbers(followed) == list(range(2_000))

    def test_follows_two_writing_processes(self, tmp_path: Path) -> None:
        """Two processes rotating one directory: each event is followed once, in file order."""
        script = (
            "import sys\n"
            "from structlog_events import EventWriter\n"
            "from structlog import DropEvent\n"
            "w = EventWriter(sys.argv[1], sys.argv[2], mode='sync', max_file_size=1500)\n"
            "for n in range(400):\n"
            "    try:\n"
            "        w(None, 'info', {'event': 'step', 'number': n})\n"
            "    except DropEvent:\n"
            "        pass\n"
            "w.close()\n"
        )
        stop = threading.Event()
        followed: list[Event] = []
        stream = follow_events(tmp_path, stop=stop, poll_interval=0.005)
        reader = threading.Thread(target=lambda: followed.extend(stream))
        reader.start()
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
            stop.set()
            reader.join(timeout=60)
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
        stop = threading.Event()
        followed: list[Event] = []
        stream = follow_events(directory, stop=stop, poll_interval=0.005)
        reader = threading.Thread(target=lambda: followed.extend(stream))
        reader.start()
        time.sleep(0.05)
        fill(directory, 5)
        stop.set()
        reader.join(timeout=30)
        assert numbers(followed) == list(range(5))

    def test_filters_apply_while_following(self, tmp_path: Path) -> None:
        """Filters work as for read_events; a corrupt line raises unless strict=False."""
        with EventWriter(tmp_path, "sim", mode="sync", verbosity="DETAIL") as writer:
            log(writer, "debug", event="detail", number=0)
            log(writer, "warning", event="milestone", number=1)
        append(tmp_path / "events.jsonl", b"oops\n" + event_line(2))
        stop = threading.Event()
        stop.set()
        kept = follow_events(tmp_path, stop=stop, verbosity="ACTION", strict=False)
        assert numbers(kept) == [1, 2]
        assert kept.corrupt_lines == 1
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
