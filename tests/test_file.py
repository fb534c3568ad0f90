"""Rotation and byte accounting of the event file, proven with Hypothesis.

Every accepted event appears exactly once across all files, in order; the sum of
the file sizes equals the sum of the encoded line lengths; each file respects
the size limit (unless it holds one line that alone is larger); and
``current_size`` equals the size of ``events.jsonl``.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from structlog_events import Event, EventWriter, WriteMode, _directory

from .helpers import event_files, raw_lines
from .strategies import unicode_text

payloads = st.tuples(unicode_text, st.integers(min_value=0, max_value=600))


def _event(text: str, pad: int) -> Event:
    return Event(event_type="e", simulation_id="sim", data={"text": text, "pad": "é" * pad})


def _line(event: Event) -> bytes:
    return event.model_dump_json().encode() + b"\n"


def assert_directory_matches(directory: Path, expected: list[bytes], max_file_size: int) -> None:
    """The directory holds exactly *expected*, in order, within the size limit."""
    files = event_files(directory)
    assert raw_lines(directory) == expected
    sizes = [path.stat().st_size for path in files]
    assert sum(sizes) == sum(len(line) for line in expected)
    for path, size in zip(files, sizes, strict=True):
        lines = path.read_bytes().count(b"\n")
        assert size <= max_file_size or lines == 1, f"{path.name}: {size} > {max_file_size}"
        if path.name != "events.jsonl":
            assert lines >= 1, f"{path.name} is an empty rotated file"


class TestRotationProperties:
    @given(
        events=st.lists(payloads, max_size=25),
        max_file_size=st.integers(min_value=1, max_value=3000),
        mode=st.sampled_from(WriteMode),
    )
    def test_exact_accounting(
        self, events: list[tuple[str, int]], max_file_size: int, mode: WriteMode
    ) -> None:
        """Any events at any size limit: exactly once, in order, bytes exact, limits kept."""
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            writer = EventWriter(directory, "sim", mode=mode, max_file_size=max_file_size)
            expected = []
            for text, pad in events:
                event = _event(text, pad)
                writer.emit(event)
                expected.append(_line(event))
            assert writer.flush(timeout=30)
            current = directory / "events.jsonl"
            assert writer.current_size == (current.stat().st_size if current.exists() else 0)
            assert writer.close()
            assert_directory_matches(directory, expected, max_file_size)
            stats = writer.stats
            assert stats.written == len(expected)
            assert stats.bytes == sum(len(line) for line in expected)
            assert stats.rotations == max(0, len(event_files(directory)) - 1)

    def test_line_larger_than_limit_gets_a_file_of_its_own(self, tmp_path: Path) -> None:
        """A line longer than max_file_size is written whole, alone in its file."""
        with EventWriter(tmp_path, "sim", mode="sync", max_file_size=100) as writer:
            for pad in (10, 500, 10):
                writer.emit(_event("", pad))
        files = event_files(tmp_path)
        assert [path.read_bytes().count(b"\n") for path in files] == [1, 1, 1]
        assert files[1].stat().st_size > 100

    def test_rotated_names_sort_in_write_order(self, tmp_path: Path) -> None:
        """Many rotations within microseconds still get distinct names that sort in order."""
        with EventWriter(tmp_path, "sim", mode="sync", max_file_size=1) as writer:
            for i in range(50):
                writer.emit(Event(event_type="e", simulation_id="sim", data={"i": i}))
        rotated = sorted(tmp_path.glob("events_*.jsonl"))
        assert len(rotated) == 49
        order = [Event.model_validate_json(p.read_bytes()).data["i"] for p in rotated]
        assert order == list(range(49))

    def test_a_clock_stepped_back_still_names_rotations_in_write_order(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Rotations after the clock went back an hour (and one by another process named in
        the future) take the microsecond after the newest name: in order, at once."""
        (tmp_path / "events_2999-01-01_00-00-00-000000.jsonl").write_bytes(_line(_event("x", 0)))
        now = datetime(2024, 5, 1, 12, tzinfo=UTC)

        class SteppingClock(datetime):
            @classmethod
            def now(cls, tz: tzinfo | None = None) -> SteppingClock:
                nonlocal now
                now -= timedelta(hours=1)  # every reading an hour before the last
                return cls.fromtimestamp(now.timestamp(), tz)

        monkeypatch.setattr(_directory, "datetime", SteppingClock)
        with EventWriter(tmp_path, "sim", mode="sync", max_file_size=1) as writer:
            for i in range(6):
                writer.emit(Event(event_type="e", simulation_id="sim", data={"i": i}))
        names = sorted(p.name for p in tmp_path.glob("events_*.jsonl"))
        assert names[1:] == [f"events_2999-01-01_00-00-00-00000{n}.jsonl" for n in range(1, 6)]
        lines = [(tmp_path / name).read_bytes() for name in names]
        assert [Event.model_validate_json(line).data.get("i") for line in lines] == [
            None,
            0,
            1,
            2,
            3,
            4,
        ]

    def test_a_first_line_checks_the_size_of_a_file_another_writer_began(
        self, tmp_path: Path
    ) -> None:
        """A writer that opened before events.jsonl existed rotates if another writer has
        meanwhile nearly filled it, rather than push it past max_file_size."""
        late = EventWriter(tmp_path, "sim", mode="sync", max_file_size=2000)
        assert not (tmp_path / "events.jsonl").exists()
        with EventWriter(tmp_path, "sim", mode="sync", max_file_size=2000) as early:
            for _ in range(2000 // len(_line(_event("", 10)))):
                early.emit(_event("", 10))
        assert (early.stats.rotations, early.current_size > 1800) == (0, True)
        late.emit(_event("", 100))
        late.close()
        sizes = [path.stat().st_size for path in event_files(tmp_path)]
        assert len(sizes) == 2
        assert max(sizes) <= 2000


class WriterMachine(RuleBasedStateMachine):
    """emit / flush / close / reopen in any order, in either mode, at any size limit."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp())
        self.expected: list[bytes] = []
        self.writer: EventWriter | None = None

    @initialize(
        max_file_size=st.integers(min_value=1, max_value=2500),
        mode=st.sampled_from(WriteMode),
    )
    def open_writer(self, max_file_size: int, mode: WriteMode) -> None:
        self.max_file_size = max_file_size
        self.mode = mode
        self.writer = self._new_writer()

    def _new_writer(self) -> EventWriter:
        return EventWriter(self.directory, "sim", mode=self.mode, max_file_size=self.max_file_size)

    @precondition(lambda self: self.writer is not None)
    @rule(payload=payloads)
    def emit(self, payload: tuple[str, int]) -> None:
        assert self.writer is not None
        event = _event(*payload)
        self.writer.emit(event)
        self.expected.append(_line(event))

    @precondition(lambda self: self.writer is not None)
    @rule()
    def flush(self) -> None:
        assert self.writer is not None
        assert self.writer.flush(timeout=30)
        current = self.directory / "events.jsonl"
        size = current.stat().st_size if current.exists() else 0
        assert self.writer.current_size == size
        assert_directory_matches(self.directory, self.expected, self.max_file_size)

    @precondition(lambda self: self.writer is not None)
    @rule()
    def close(self) -> None:
        assert self.writer is not None
        assert self.writer.close()
        self.writer = None
        assert_directory_matches(self.directory, self.expected, self.max_file_size)

    @precondition(lambda self: self.writer is None)
    @rule()
    def reopen(self) -> None:
        self.writer = self._new_writer()
        current = self.directory / "events.jsonl"
        assert self.writer.current_size == (current.stat().st_size if current.exists() else 0)

    @invariant()
    def sync_writer_is_always_on_disk(self) -> None:
        if self.writer is not None and self.mode is WriteMode.SYNC:
            assert_directory_matches(self.directory, self.expected, self.max_file_size)

    def teardown(self) -> None:
        if self.writer is not None:
            self.writer.close()
        assert_directory_matches(self.directory, self.expected, self.max_file_size)
        shutil.rmtree(self.directory, ignore_errors=True)


TestWriterMachine = WriterMachine.TestCase
TestWriterMachine.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)


class FakeClock:
    """``time`` and ``datetime`` for ``_directory``: a wall clock the test sets."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def time_ns(self) -> int:
        return int(self.now.timestamp() * 1_000_000) * 1000

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Set ``_directory``'s clock: 2024-05-01 23:59 UTC, a minute before a day boundary."""
    fake = FakeClock(datetime(2024, 5, 1, 23, 59, tzinfo=UTC))

    class Now(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Now:
            return cls.fromtimestamp(fake.now.timestamp(), tz)

    monkeypatch.setattr(_directory, "time", fake)
    monkeypatch.setattr(_directory, "datetime", Now)
    return fake


def _days_of(directory: Path) -> list[list[str]]:
    """The ``day`` field of each file's events, file by file, in write order."""
    return [
        [Event.model_validate_json(line).data["day"] for line in path.read_bytes().splitlines()]
        for path in event_files(directory)
    ]


def _emit_day(writer: EventWriter, day: str) -> None:
    writer.emit(Event(event_type="e", simulation_id="sim", data={"day": day}))


class TestRotateEvery:
    def test_the_first_write_after_a_boundary_rotates(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        """With rotate_every=1 day, the first write after midnight UTC begins a new file."""
        with EventWriter(tmp_path, "sim", mode="sync", rotate_every=timedelta(days=1)) as writer:
            _emit_day(writer, "1")
            _emit_day(writer, "1")
            clock.advance(timedelta(minutes=2))
            _emit_day(writer, "2")
            clock.advance(timedelta(hours=23))
            _emit_day(writer, "2")
        assert _days_of(tmp_path) == [["1", "1"], ["2", "2"]]
        assert writer.stats.rotations == 1

    def test_size_and_time_whichever_comes_first(self, tmp_path: Path, clock: FakeClock) -> None:
        """The size limit still rotates within a period, and the boundary rotates a small file."""
        line_size = len(_line(Event(event_type="e", simulation_id="sim", data={"day": "1"})))
        with EventWriter(
            tmp_path,
            "sim",
            mode="sync",
            max_file_size=2 * line_size,
            rotate_every=timedelta(hours=1),
        ) as writer:
            for _ in range(3):
                _emit_day(writer, "1")
            clock.advance(timedelta(minutes=2))
            _emit_day(writer, "2")
        assert _days_of(tmp_path) == [["1", "1"], ["1"], ["2"]]

    def test_one_rotation_per_boundary_with_several_writers(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        """Three writers on one directory, each writing after the boundary: one rotation."""
        writers = [
            EventWriter(tmp_path, "sim", mode="sync", rotate_every=timedelta(days=1))
            for _ in range(3)
        ]
        for writer in writers:
            _emit_day(writer, "1")
        clock.advance(timedelta(minutes=2))
        for writer in writers:
            _emit_day(writer, "2")
        for writer in writers:
            writer.close()
        assert _days_of(tmp_path) == [["1", "1", "1"], ["2", "2", "2"]]
        assert sum(writer.stats.rotations for writer in writers) == 1

    def test_a_file_begun_before_the_boundary_by_an_earlier_run_is_rotated(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        """A writer started after the boundary rotates the file an earlier run began before it;
        one started within the same period continues it."""
        with EventWriter(tmp_path, "sim", mode="sync", rotate_every=timedelta(days=1)) as writer:
            _emit_day(writer, "1")
        with EventWriter(tmp_path, "sim", mode="sync", rotate_every=timedelta(days=1)) as writer:
            _emit_day(writer, "1")
        clock.advance(timedelta(hours=3))
        with EventWriter(tmp_path, "sim", mode="sync", rotate_every=timedelta(days=1)) as writer:
            _emit_day(writer, "2")
        assert _days_of(tmp_path) == [["1", "1"], ["2"]]

    def test_a_clock_stepped_back_does_not_rotate_again(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        """After a boundary rotation the clock goes back a day: no rotation until the next
        boundary is passed again, and names still sort in write order."""
        with EventWriter(tmp_path, "sim", mode="sync", rotate_every=timedelta(days=1)) as writer:
            _emit_day(writer, "1")
            clock.advance(timedelta(minutes=2))
            _emit_day(writer, "2")
            clock.advance(timedelta(days=-1))
            _emit_day(writer, "back")
            clock.advance(timedelta(days=2))
            _emit_day(writer, "3")
        assert _days_of(tmp_path) == [["1"], ["2", "back"], ["3"]]

    def test_a_file_without_a_record_counts_as_begun_when_first_seen(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        """events.jsonl written by a writer without rotate_every is continued until the next
        boundary, not rotated at once."""
        with EventWriter(tmp_path, "sim", mode="sync") as writer:
            _emit_day(writer, "1")
        with EventWriter(tmp_path, "sim", mode="sync", rotate_every=timedelta(days=1)) as writer:
            _emit_day(writer, "1")
            clock.advance(timedelta(minutes=2))
            _emit_day(writer, "2")
        assert _days_of(tmp_path) == [["1", "1"], ["2"]]
