"""EventWriter: the structlog processor, its modes, options and lifecycle."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import structlog

from structlog_events import Event, EventWriter, Overflow, VerbosityLevel, WriteMode

from .helpers import MakeWriter, check_dir, raw_lines, read_events


def _configure(writer: EventWriter, *extra: Any) -> Any:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            *extra,
            writer,
        ]
    )
    return structlog.get_logger()


@pytest.fixture(params=[WriteMode.SYNC, WriteMode.ASYNC])
def mode(request: pytest.FixtureRequest) -> WriteMode:
    """Both write modes."""
    return request.param  # type: ignore[no-any-return]


class TestAcceptance:
    """The design's original acceptance tests, adapted to this package."""

    def test_sync_mode_writes_immediately(self, tmp_path: Path, make_writer: MakeWriter) -> None:
        """In SYNC mode the line is in the file when the log call returns."""
        writer = make_writer(mode=WriteMode.SYNC)
        log = _configure(writer)
        log.info("hello", x=1)
        assert [e.event_type for e in read_events(tmp_path)] == ["hello"]

    def test_rotation_at_1000_bytes_with_500_byte_payloads(self, tmp_path: Path) -> None:
        """Rotation leaves events.jsonl plus at least one events_*.jsonl."""
        with EventWriter(tmp_path, "sim", mode="sync", max_file_size=1000) as writer:
            log = _configure(writer)
            for i in range(6):
                log.info("big", i=i, payload="x" * 500)
        assert (tmp_path / "events.jsonl").exists()
        assert list(tmp_path.glob("events_*.jsonl"))
        report = check_dir(tmp_path, expected_count=6)
        assert [e.data["i"] for e in report.events] == list(range(6))
        assert writer.stats.rotations == len(report.files) - 1

    def test_ten_sync_emits_without_event_loop(
        self, tmp_path: Path, make_writer: MakeWriter
    ) -> None:
        """Ten emit() calls with no event loop running give ten lines."""
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()
        writer = make_writer(mode=WriteMode.SYNC)
        for i in range(10):
            writer.emit(Event(event_type="tick", simulation_id="sim", data={"i": i}))
        assert len(raw_lines(tmp_path)) == 10

    def test_mode_attribute_follows_argument_and_defaults_to_async(
        self, tmp_path: Path, make_writer: MakeWriter
    ) -> None:
        """mode is ASYNC by default and whatever was given otherwise, by enum or name."""
        assert make_writer(tmp_path / "a", "s").mode is WriteMode.ASYNC
        assert make_writer(tmp_path / "b", "s", mode=WriteMode.SYNC).mode is WriteMode.SYNC
        assert make_writer(tmp_path / "c", "s", mode="SYNC").mode is WriteMode.SYNC
        assert {m.value for m in WriteMode} == {"sync", "async"}

    def test_attributes(self, tmp_path: Path, make_writer: MakeWriter) -> None:
        """The documented attributes reflect the options."""
        writer = make_writer(tmp_path, "sim-1", "state", 7, 4096, "sync")
        assert writer.output_dir == tmp_path
        assert writer.simulation_id == "sim-1"
        assert writer.verbosity is VerbosityLevel.STATE
        assert writer.max_queue_size == 7
        assert writer.max_file_size == 4096
        assert writer.current_file == tmp_path / "events.jsonl"
        assert writer.current_size == 0


class TestProcessor:
    def test_terminal_drops_record_after_writing(self, tmp_path: Path, mode: WriteMode) -> None:
        """As the last processor it writes the event and structlog renders nothing."""
        calls: list[Any] = []
        writer = EventWriter(tmp_path, "sim", mode=mode)
        structlog.configure(
            processors=[structlog.processors.add_log_level, writer],
            logger_factory=lambda *a: _RecordingLogger(calls),
        )
        structlog.get_logger().info("kept", n=1)
        writer.close()
        assert calls == []
        [event] = read_events(tmp_path)
        assert (event.event_type, event.level, event.data) == ("kept", "info", {"n": 1})

    def test_passthrough_returns_record_for_a_renderer(self, tmp_path: Path) -> None:
        """With passthrough=True the record goes on, unchanged, to the next processor."""
        seen: list[dict[str, Any]] = []

        def renderer(_: Any, __: str, event_dict: Any) -> str:
            seen.append(dict(event_dict))
            return "rendered"

        writer = EventWriter(tmp_path, "sim", mode="sync", passthrough=True)
        structlog.configure(
            processors=[writer, renderer], logger_factory=lambda *a: _RecordingLogger([])
        )
        structlog.get_logger().info("both", k="v")
        writer.close()
        assert seen == [{"event": "both", "k": "v"}]
        assert [e.event_type for e in read_events(tmp_path)] == ["both"]

    def test_verbosity_filtering(self, tmp_path: Path, mode: WriteMode) -> None:
        """A writer at ACTION keeps MILESTONE..ACTION and drops STATE and DETAIL."""
        writer = EventWriter(tmp_path, "sim", verbosity="ACTION", mode=mode)
        log = _configure(writer)
        log.info("simulation_starting", agents=3)
        log.info("turn_completed", turn_number=1, verbosity="MILESTONE")
        log.debug("price_computed", value=1.25)
        log.info("state_dump", verbosity=VerbosityLevel.STATE)
        log.debug("promoted", verbosity="decision")
        log.warning("careful")
        writer.close()
        events = read_events(tmp_path)
        assert [(e.event_type, e.verbosity.value) for e in events] == [
            ("simulation_starting", "ACTION"),
            ("turn_completed", "MILESTONE"),
            ("promoted", "DECISION"),
            ("careful", "MILESTONE"),
        ]

    @pytest.mark.parametrize("level", list(VerbosityLevel))
    def test_each_level_keeps_exactly_its_prefix(
        self, tmp_path: Path, level: VerbosityLevel
    ) -> None:
        """At each level the writer keeps the levels at or below it and nothing else."""
        writer = EventWriter(tmp_path, "sim", verbosity=level, mode="sync")
        log = _configure(writer)
        for each in VerbosityLevel:
            log.info(each.value, verbosity=each)
        writer.close()
        kept = [e.event_type for e in read_events(tmp_path)]
        assert kept == [each.value for each in VerbosityLevel if each <= level]

    def test_event_verbosity_mapping(self, tmp_path: Path) -> None:
        """event_verbosity gives levels to event types whose records name none."""
        writer = EventWriter(
            tmp_path, "sim", "DECISION", mode="sync",
            event_verbosity={"turn_completed": "milestone", "noise": VerbosityLevel.DETAIL},
        )  # fmt: skip
        log = _configure(writer)
        log.debug("turn_completed")
        log.warning("noise")
        log.info("plain")
        writer.close()
        assert [e.event_type for e in read_events(tmp_path)] == ["turn_completed"]

    def test_contextvars_bound_values_and_exceptions_land_in_data(self, tmp_path: Path) -> None:
        """Context variables, bound values and formatted exceptions all go to data."""
        writer = EventWriter(tmp_path, "sim", mode="sync")
        log = _configure(writer, structlog.processors.format_exc_info)
        structlog.contextvars.bind_contextvars(run="r1")
        bound = log.bind(agent="a7")
        try:
            raise ValueError("boom")
        except ValueError:
            bound.exception("failed", step=3)
        writer.close()
        [event] = read_events(tmp_path)
        assert event.level == "error"
        assert event.verbosity is VerbosityLevel.MILESTONE
        assert event.data["run"] == "r1"
        assert event.data["agent"] == "a7"
        assert event.data["step"] == 3
        assert "ValueError: boom" in event.data["exception"]

    def test_timestamper_time_is_kept(self, tmp_path: Path) -> None:
        """A TimeStamper's timestamp becomes the event's timestamp, not a data field."""
        writer = EventWriter(tmp_path, "sim", mode="sync")
        log = _configure(writer, structlog.processors.TimeStamper(fmt="iso", utc=True))
        log.info("stamped")
        writer.close()
        [event] = read_events(tmp_path)
        assert "timestamp" not in event.data
        assert event.timestamp.utcoffset() is not None

    def test_filtered_record_is_never_mapped_or_encoded(
        self, monkeypatch: pytest.MonkeyPatch, make_writer: MakeWriter
    ) -> None:
        """A record the verbosity drops costs no mapping and no serialization."""
        writer = make_writer(verbosity="MILESTONE", mode="sync")

        def forbidden(*_: Any) -> Any:
            raise AssertionError("filtered record was mapped or encoded")

        monkeypatch.setattr("structlog_events._mapping.RecordMapper.to_record", forbidden)
        monkeypatch.setattr("structlog_events._writer.encode_record", forbidden)
        with pytest.raises(structlog.DropEvent):
            writer(None, "info", {"event": "dropped"})
        writer.emit(
            Event(event_type="dropped", simulation_id="sim", verbosity=VerbosityLevel.DETAIL)
        )
        assert writer.stats.written == writer.stats.failed == 0

    def test_emit_filters_by_verbosity(self, tmp_path: Path) -> None:
        """emit() applies the writer's verbosity like any record."""
        writer = EventWriter(tmp_path, "sim", verbosity="DECISION", mode="sync")
        writer.emit(
            Event(event_type="kept", simulation_id="sim", verbosity=VerbosityLevel.MILESTONE)
        )
        writer.emit(
            Event(event_type="dropped", simulation_id="sim", verbosity=VerbosityLevel.ACTION)
        )
        writer.close()
        assert [e.event_type for e in read_events(tmp_path)] == ["kept"]

    def test_emit_writes_the_event_as_is(self, tmp_path: Path, mode: WriteMode) -> None:
        """A ready-made event is read back equal."""
        event = Event(event_type="ready", simulation_id="x", data={"a": [1, "b"]}, level="info")
        with EventWriter(tmp_path, "sim", mode=mode) as writer:
            writer.emit(event)
        assert read_events(tmp_path) == [event]


class TestWrite:
    def test_writes_what_the_processor_writes(self, tmp_path: Path, mode: WriteMode) -> None:
        """write(record, method_name=...) writes the event a log call with that record writes."""
        records: list[tuple[dict[str, Any], str]] = [
            ({"event": "order_filled", "order_id": 7}, "info"),
            ({"event": "disk_low", "free_mb": 3}, "warning"),
            ({"event": "turn", "verbosity": "MILESTONE", "simulation_id": "other"}, "debug"),
        ]
        with EventWriter(tmp_path / "written", "sim", mode=mode) as writer:
            for record, method_name in records:
                writer.write(dict(record), method_name=method_name)
        with EventWriter(tmp_path / "logged", "sim", mode=mode) as writer:
            for record, method_name in records:
                with pytest.raises(structlog.DropEvent):
                    writer(None, method_name, dict(record))

        def without_id_and_time(directory: Path) -> list[dict[str, Any]]:
            return [e.model_dump(exclude={"event_id", "timestamp"}) for e in read_events(directory)]

        written = without_id_and_time(tmp_path / "written")
        assert written == without_id_and_time(tmp_path / "logged")
        assert [(e["event_type"], e["level"]) for e in written] == [
            ("order_filled", "info"), ("disk_low", "warning"), ("turn", "debug"),
        ]  # fmt: skip

    def test_the_verbosity_decides_and_the_record_is_left_unchanged(self, tmp_path: Path) -> None:
        """A method_name the verbosity drops writes nothing; the record itself is never changed."""
        record = MappingProxyType({"event": "chatty", "n": 1})
        with EventWriter(tmp_path, "sim", mode="sync", verbosity="ACTION") as writer:
            writer.write(record, method_name="debug")
            writer.write(record)
            assert writer.stats.written == 1
        assert record == {"event": "chatty", "n": 1}
        [event] = read_events(tmp_path)
        assert (event.event_type, event.verbosity, event.data) == (
            "chatty", VerbosityLevel.ACTION, {"n": 1},
        )  # fmt: skip

    def test_bad_input_is_counted_not_raised(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """What is not a record is counted failed and said once; odd values take a fallback."""
        with EventWriter(tmp_path, "sim", mode="sync") as writer:
            writer.write("rendered text")  # type: ignore[arg-type]
            writer.write(None)  # type: ignore[arg-type]
            writer.write({"event": "odd", "value": object()})
            stats = writer.stats
        assert (stats.written, stats.failed, stats.fallbacks) == (1, 2, 1)
        assert capsys.readouterr().err.count("not an event dict") == 1
        [event] = read_events(tmp_path)
        assert event.data["value"].startswith("<object object")


class TestExceptions:
    def test_exception_with_the_readme_chain(self, tmp_path: Path, mode: WriteMode) -> None:
        """log.exception() with no exception processor writes a structured traceback."""
        with EventWriter(tmp_path, "sim", mode=mode) as writer:
            log = _configure(writer)
            try:
                dict[str, int]()["k"]
            except KeyError:
                log.exception("boom", order=7)
        [event] = read_events(tmp_path)
        assert list(event.data) == ["order", "exception"]
        [stack] = event.data["exception"]
        assert (stack["exc_type"], stack["exc_value"]) == ("KeyError", "'k'")
        assert stack["frames"][-1]["name"] == "test_exception_with_the_readme_chain"

    def test_exception_instance_outside_an_except_block(self, tmp_path: Path) -> None:
        """exc_info=<exception> gives that exception's traceback, not its repr."""
        try:
            raise ValueError("late")
        except ValueError as caught:
            error = caught
        with EventWriter(tmp_path, "sim", mode="sync") as writer:
            _configure(writer).error("reported", exc_info=error)
        [event] = read_events(tmp_path)
        assert event.data["exception"][0]["exc_value"] == "late"
        assert "exc_info" not in event.data

    @pytest.mark.parametrize(
        "processor", [structlog.processors.format_exc_info, structlog.processors.dict_tracebacks]
    )
    def test_an_exception_processor_that_ran_is_kept(self, tmp_path: Path, processor: Any) -> None:
        """After format_exc_info or dict_tracebacks, their exception is written once, as is."""
        seen: list[Any] = []

        def spy(_: Any, __: str, event_dict: Any) -> Any:
            seen.append(event_dict["exception"])
            return event_dict

        with EventWriter(tmp_path, "sim", mode="sync") as writer:
            log = _configure(writer, processor, spy)
            try:
                raise ValueError("boom")
            except ValueError:
                log.exception("failed")
        [event] = read_events(tmp_path)
        assert event.data == {"exception": seen[0]}


class TestEmit:
    def test_event_verbosity_decides_for_an_event_without_verbosity(self, tmp_path: Path) -> None:
        """emit() gives an event built without verbosity its level from event_verbosity."""
        levels = {"system_started": "MILESTONE", "env_snapshot": "STATE"}
        with EventWriter(tmp_path, "sim", mode="sync", verbosity="MILESTONE",
                         event_verbosity=levels) as writer:  # fmt: skip
            writer.emit(Event(event_type="system_started", simulation_id="sim"))
            writer.emit(Event(event_type="env_snapshot", simulation_id="sim"))
            writer.emit(Event(event_type="unmapped", simulation_id="sim"))
        [event] = read_events(tmp_path)
        assert (event.event_type, event.verbosity) == ("system_started", VerbosityLevel.MILESTONE)

    def test_explicit_verbosity_wins(self, tmp_path: Path) -> None:
        """An event whose verbosity was given keeps it, whatever event_verbosity says."""
        with EventWriter(tmp_path, "sim", mode="sync", verbosity="MILESTONE",
                         event_verbosity={"e": "MILESTONE"}) as writer:  # fmt: skip
            writer.emit(Event(event_type="e", simulation_id="sim", verbosity=VerbosityLevel.ACTION))
            writer.emit(
                Event(
                    event_type="e",
                    simulation_id="sim",
                    verbosity=VerbosityLevel.MILESTONE,
                    data={"n": 2},
                )
            )
        [event] = read_events(tmp_path)
        assert event.data == {"n": 2}

    def test_events_read_back_are_written_again_exactly(self, tmp_path: Path) -> None:
        """Re-emitting events read from a file gives the same lines, event_verbosity or not."""
        with EventWriter(tmp_path / "a", "sim", mode="sync", verbosity="DETAIL",
                         event_verbosity={"e": "MILESTONE"}) as writer:  # fmt: skip
            writer.emit(Event(event_type="e", simulation_id="sim"))
            writer.emit(Event(event_type="e", simulation_id="sim", verbosity=VerbosityLevel.DETAIL))
        with EventWriter(tmp_path / "b", "sim", mode="sync", verbosity="DETAIL",
                         event_verbosity={"e": "STATE"}) as writer:  # fmt: skip
            for event in read_events(tmp_path / "a"):
                writer.emit(event)
        assert raw_lines(tmp_path / "b") == raw_lines(tmp_path / "a")
        assert [e.verbosity for e in read_events(tmp_path / "b")] == ["MILESTONE", "DETAIL"]


class TestThreads:
    def test_eight_threads_ten_thousand_events_each(self, tmp_path: Path, mode: WriteMode) -> None:
        """8 threads x 10,000 events: each exactly once, no corrupt line."""
        threads, per_thread = 8, 10_000
        writer = EventWriter(tmp_path, "sim", mode=mode, max_file_size=256 * 1024, overflow="block")
        log = _configure(writer)

        def produce(thread: int) -> None:
            for i in range(per_thread):
                log.info("work", thread=thread, i=i)

        workers = [threading.Thread(target=produce, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert writer.close()
        report = check_dir(tmp_path, max_file_size=256 * 1024, expected_count=threads * per_thread)
        seen = {(e.data["thread"], e.data["i"]) for e in report.events}
        assert len(seen) == threads * per_thread
        for thread in range(threads):
            own = [e.data["i"] for e in report.events if e.data["thread"] == thread]
            assert own == list(range(per_thread)), "one thread's events out of order"
        stats = writer.stats
        assert (stats.written, stats.dropped, stats.failed) == (threads * per_thread, 0, 0)
        assert stats.bytes == sum(report.sizes)


class TestQueued:
    def test_works_under_a_running_event_loop_that_blocks(self, tmp_path: Path) -> None:
        """Events logged from a coroutine that never yields are written all the same."""
        writer = EventWriter(tmp_path, "sim")
        log = _configure(writer)

        async def blocking_program() -> None:
            for i in range(100):
                log.info("step", i=i)
            assert writer.flush(timeout=10)  # the loop is blocked right here

        asyncio.run(blocking_program())
        assert len(raw_lines(tmp_path)) == 100
        asyncio.run(writer.aclose())

    def test_flush_writes_everything_and_current_size_is_true(
        self, tmp_path: Path, make_writer: MakeWriter
    ) -> None:
        """After flush() every accepted event is in the file and current_size is its size."""
        writer = make_writer()
        log = _configure(writer)
        for i in range(1000):
            log.info("e", i=i)
        assert writer.flush(timeout=10)
        assert len(raw_lines(tmp_path)) == 1000
        assert writer.current_size == (tmp_path / "events.jsonl").stat().st_size

    def test_drop_policy_counts_exactly(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """With a full queue and overflow='drop', written + dropped is what was logged, and
        stderr says so."""
        gate = threading.Event()
        writer = EventWriter(tmp_path, "sim", max_queue_size=10)
        real_append = writer._file.append

        def slow_append(lines: list[bytes]) -> int:
            gate.wait(10)
            return real_append(lines)

        monkeypatch.setattr(writer._file, "append", slow_append)
        log = _configure(writer)
        for i in range(500):
            log.info("e", i=i)
        gate.set()
        assert writer.close()
        stats = writer.stats
        assert stats.dropped > 0
        assert stats.written + stats.dropped == 500
        assert len(raw_lines(tmp_path)) == stats.written
        assert "queue full (10 events)" in capsys.readouterr().err

    def test_a_busy_producer_leaves_the_writer_thread_room(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A tight logging loop on a disk that keeps up drops nothing with overflow='drop'.

        The writer thread waits for the GIL after each system call; without the
        producers handing it over as the queue fills, a busy loop starves it and
        a large share of the events is dropped.
        """
        writer = EventWriter(tmp_path, "sim", max_queue_size=2000)
        monkeypatch.setattr(writer._file, "sync_through", lambda seq: True)  # page cache only
        log = _configure(writer)
        for i in range(100_000):
            log.info("e", i=i, payload="x" * 200)
        assert writer.close()
        assert writer.stats.dropped == 0
        assert writer.stats.written == 100_000

    def test_block_policy_loses_nothing(self, tmp_path: Path) -> None:
        """With overflow='block' a tiny queue makes callers wait, never drop."""
        writer = EventWriter(tmp_path, "sim", max_queue_size=2, overflow=Overflow.BLOCK)
        log = _configure(writer)
        for i in range(3000):
            log.info("e", i=i)
        assert writer.close()
        assert writer.stats.dropped == 0
        assert [e.data["i"] for e in read_events(tmp_path)] == list(range(3000))

    def test_queued_events_written_at_exit_without_close(self, tmp_path: Path) -> None:
        """A program that never calls close() still has every queued event written at exit."""
        script = textwrap.dedent(
            f"""
            import structlog
            from structlog_events import EventWriter
            writer = EventWriter({str(tmp_path)!r}, "sim", max_queue_size=100_000)
            structlog.configure(processors=[writer])
            log = structlog.get_logger()
            for i in range(20_000):
                log.info("e", i=i)
            """
        )
        subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
        report = check_dir(tmp_path, expected_count=20_000)
        assert [e.data["i"] for e in report.events] == list(range(20_000))

    def test_thread_starts_on_first_event_only(self, tmp_path: Path) -> None:
        """No writer thread exists before the first event; close() before any write is fine."""
        before = threading.active_count()
        writer = EventWriter(tmp_path, "sim")
        assert threading.active_count() == before
        assert writer.close()
        assert not (tmp_path / "events.jsonl").exists()


class TestLifecycle:
    def test_close_and_flush_are_idempotent(self, tmp_path: Path, mode: WriteMode) -> None:
        """flush() and close() may be called any number of times, before or after writes."""
        writer = EventWriter(tmp_path, "sim", mode=mode)
        assert writer.flush()
        writer.emit(Event(event_type="e", simulation_id="sim"))
        assert writer.flush(timeout=10)
        assert writer.close()
        assert writer.close()
        assert writer.flush()
        assert len(raw_lines(tmp_path)) == 1

    def test_events_after_close_are_counted_failed(
        self, tmp_path: Path, mode: WriteMode, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An event logged after close() is not written, counted failed, and said on stderr."""
        writer = EventWriter(tmp_path, "sim", mode=mode)
        writer.close()
        writer.emit(Event(event_type="late", simulation_id="sim"))
        assert writer.stats.failed == 1
        assert "after close()" in capsys.readouterr().err

    def test_context_manager_closes(self, tmp_path: Path) -> None:
        """Leaving the with block writes what is queued and closes the writer."""
        with EventWriter(tmp_path, "sim") as writer:
            writer.emit(Event(event_type="e", simulation_id="sim"))
        assert len(raw_lines(tmp_path)) == 1
        writer.emit(Event(event_type="late", simulation_id="sim"))
        assert writer.stats.failed == 1

    def test_aclose(self, tmp_path: Path) -> None:
        """aclose() closes from a coroutine without blocking the loop for good."""

        async def main() -> None:
            writer = EventWriter(tmp_path, "sim")
            writer.emit(Event(event_type="e", simulation_id="sim"))
            assert await writer.aclose()
            assert await writer.aclose()

        asyncio.run(main())
        assert len(raw_lines(tmp_path)) == 1

    def test_reopen_continues_from_existing_size(self, tmp_path: Path, mode: WriteMode) -> None:
        """A writer opened on a directory with events.jsonl continues from its size."""
        with EventWriter(tmp_path, "sim", mode=mode, max_file_size=10_000) as first:
            first.emit(Event(event_type="one", simulation_id="sim"))
        size = (tmp_path / "events.jsonl").stat().st_size
        second = EventWriter(tmp_path, "sim", mode=mode, max_file_size=10_000)
        assert second.current_size == size
        second.emit(Event(event_type="two", simulation_id="sim"))
        second.close()
        assert second.current_size == (tmp_path / "events.jsonl").stat().st_size
        assert [e.event_type for e in read_events(tmp_path)] == ["one", "two"]


class TestBadOptions:
    @pytest.mark.parametrize(
        ("options", "error", "message"),
        [
            ({"max_file_size": 0}, ValueError, "max_file_size must be a positive number of bytes"),
            ({"max_file_size": -5}, ValueError, "positive"),
            ({"max_file_size": 1.5}, TypeError, "max_file_size must be an int"),
            (
                {"max_queue_size": 0},
                ValueError,
                "max_queue_size must be a positive number of events",
            ),
            ({"max_queue_size": True}, TypeError, "must be an int"),
            ({"mode": "fast"}, ValueError, "mode must be one of 'sync', 'async'"),
            (
                {"verbosity": "loud"},
                ValueError,
                "'MILESTONE', 'DECISION', 'ACTION', 'STATE', 'DETAIL'",
            ),
            ({"overflow": "explode"}, ValueError, "overflow must be one of 'drop', 'block'"),
            ({"event_verbosity": {"e": "loud"}}, ValueError, r"event_verbosity\['e'\] must be"),
            ({"file_mode": 0o17777}, ValueError, "file_mode"),
            ({"simulation_id": 3}, TypeError, "simulation_id must be a str"),
            ({"event_verbosity": ["x"]}, TypeError, "event_verbosity must be a mapping"),
            ({"event_verbosity": {1: "DETAIL"}}, TypeError, "keys must be event types"),
            (
                {"event_verbosity": {"e": 3}},
                TypeError,
                r"event_verbosity\['e'\] must be one of 'MILE",
            ),
            ({"verbosity": 2}, TypeError, r"verbosity must be one of .* \(or VerbosityLevel\)"),
            ({"mode": 1}, TypeError, "mode must be one of 'sync', 'async'"),
            ({"overflow": None}, TypeError, "overflow must be one of 'drop', 'block'"),
            ({"passthrough": "yes"}, TypeError, "passthrough must be True or False"),
            ({"compress": 1}, TypeError, "compress must be True or False"),
            ({"file_mode": "644"}, TypeError, "file_mode must be permission bits"),
            ({"max_files": 2.0}, TypeError, "max_files must be an int or None"),
            ({"max_total_size": 0}, ValueError, "max_total_size must be a positive number"),
            ({"output_dir": 3}, TypeError, "output_dir must be a str or os.PathLike"),
            ({"output_dir": b"out"}, TypeError, "output_dir must be a str or os.PathLike"),
        ],
    )
    def test_rejected_at_construction(
        self, tmp_path: Path, options: dict[str, Any], error: type[Exception], message: str
    ) -> None:
        """A wrong option raises at construction with a message naming the valid values."""
        arguments: dict[str, Any] = {"output_dir": tmp_path, "simulation_id": "s"} | options
        with pytest.raises(error, match=message):
            EventWriter(**arguments)

    def test_output_dir_that_is_a_file(self, tmp_path: Path) -> None:
        """An output_dir that is a file is a ValueError."""
        target = tmp_path / "file"
        target.write_text("x")
        with pytest.raises(ValueError, match="is not a directory"):
            EventWriter(target, "s")

    def test_output_dir_created_with_parents(self, tmp_path: Path) -> None:
        """A missing output_dir is created, parents included."""
        EventWriter(tmp_path / "a" / "b" / "c", "s", mode="sync").close()
        assert (tmp_path / "a" / "b" / "c").is_dir()

    def test_symlink_at_events_jsonl_is_refused(self, tmp_path: Path) -> None:
        """A symbolic link planted at events.jsonl is refused and its target left untouched."""
        target = tmp_path / "precious"
        target.write_text("keep me\n")
        out = tmp_path / "out"
        out.mkdir()
        (out / "events.jsonl").symlink_to(target)
        with pytest.raises(ValueError, match="symbolic link"):
            EventWriter(out, "s", mode="sync")
        assert target.read_text() == "keep me\n"

    @pytest.mark.parametrize("plant", ["fifo", "hard link"])
    def test_fifo_or_hard_link_at_events_jsonl_is_refused(self, tmp_path: Path, plant: str) -> None:
        """A FIFO or a foreign hard link at events.jsonl is a ValueError, not a hang or a write."""
        out = tmp_path / "out"
        out.mkdir()
        if plant == "fifo":
            os.mkfifo(out / "events.jsonl")
        else:
            (tmp_path / "precious").write_text("keep me\n")
            os.link(tmp_path / "precious", out / "events.jsonl")
        with pytest.raises(ValueError, match="not a plain file of its own"):
            EventWriter(out, "s", mode="sync")
        if plant == "hard link":
            assert (tmp_path / "precious").read_text() == "keep me\n"


class TestRunTimeErrors:
    def test_unserializable_values_use_a_fallback(self, tmp_path: Path, mode: WriteMode) -> None:
        """Values orjson refuses are written through a fallback and counted, never raised."""
        writer = EventWriter(tmp_path, "sim", mode=mode)
        log = _configure(writer)
        log.info("odd", obj=object(), big=2**80, s="\ud800", k={(1, 2): "tuple key"})
        log.info("plain", n=1)
        writer.close()
        stats = writer.stats
        assert (stats.written, stats.fallbacks, stats.failed) == (2, 1, 0)
        odd, plain = read_events(tmp_path)
        assert odd.data["big"] == str(2**80)
        assert odd.data["obj"].startswith("<object object")
        assert plain.data == {"n": 1}

    def test_io_error_is_counted_and_writer_goes_on(
        self,
        tmp_path: Path,
        mode: WriteMode,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """An I/O error fails that event only: counted, said once on stderr, writing resumes;
        flush() and close() say from then on that not everything is on disk."""
        writer = EventWriter(tmp_path, "sim", mode=mode)
        log = _configure(writer)
        log.info("before")
        assert writer.flush(timeout=10)
        real_write = os.write
        failing = {"on": True}

        def write(fd: int, data: bytes) -> int:
            if failing["on"]:
                raise OSError(28, "No space left on device")
            return real_write(fd, data)

        monkeypatch.setattr("structlog_events._file.os.write", write)
        log.info("lost")
        assert writer.flush(timeout=10) is False
        failing["on"] = False
        log.info("after")
        assert writer.flush(timeout=10) is False
        assert writer.close() is False
        assert [e.event_type for e in read_events(tmp_path)] == ["before", "after"]
        assert (writer.stats.written, writer.stats.failed) == (2, 1)
        assert "No space left on device" in capsys.readouterr().err

    def test_mapping_error_is_counted_not_raised(self, tmp_path: Path) -> None:
        """A record whose event name cannot be turned into text still never raises."""

        class Unprintable:
            def __str__(self) -> str:
                raise RuntimeError("no")

        writer = EventWriter(tmp_path, "sim", mode="sync")
        log = _configure(writer)
        log.info(Unprintable())
        writer.close()
        [event] = read_events(tmp_path)
        assert event.event_type.startswith("<unprintable ")
        assert event.event_type.endswith("Unprintable>")

    def test_emit_of_a_non_event_is_counted(self, make_writer: MakeWriter) -> None:
        """emit() of something that is not an Event is counted failed, not raised."""
        writer = make_writer(mode="sync")
        writer.emit({"event_type": "dict"})  # type: ignore[arg-type]
        assert writer.stats.failed == 1


class _RecordingLogger:
    def __init__(self, calls: list[Any]) -> None:
        self._calls = calls

    def msg(self, *args: Any, **kwargs: Any) -> None:
        self._calls.append((args, kwargs))

    info = debug = warning = error = critical = exception = msg
