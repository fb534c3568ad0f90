"""Tests for the stdlib ``logging`` bridge."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog

from structlog_events import (
    Event,
    EventHandler,
    EventWriter,
    VerbosityLevel,
    bridge_stdlib_logging,
    read_events,
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Each test leaves the root logger's handlers and level as it found them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    third = logging.getLogger("thirdparty")
    third_level = third.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    third.handlers.clear()
    third.setLevel(third_level)


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[EventWriter]:
    with EventWriter(tmp_path, "sim", mode="sync", verbosity="DETAIL") as writer:
        yield writer


def events(writer: EventWriter) -> list[Event]:
    writer.flush()
    return list(read_events(writer.output_dir))


class TestEventHandler:
    def test_third_party_warning_becomes_an_event(self, writer: EventWriter) -> None:
        """Message, logger name and extra fields land as event_type and data."""
        bridge_stdlib_logging(writer)
        logging.getLogger("thirdparty").warning("disk low", extra={"free_mb": 3, "disk": "sda"})
        [event] = events(writer)
        assert event.event_type == "disk low"
        assert event.verbosity is VerbosityLevel.MILESTONE
        assert event.level == "warning"
        assert event.simulation_id == "sim"
        assert event.data == {"logger": "thirdparty", "free_mb": 3, "disk": "sda"}
        assert writer.stats.written == 1

    def test_levels_map_to_verbosity(self, writer: EventWriter) -> None:
        """DEBUG is DETAIL, INFO ACTION, WARNING and above MILESTONE; custom levels fall in."""
        bridge_stdlib_logging(writer)
        log = logging.getLogger("thirdparty")
        log.setLevel(1)
        for level in (5, logging.DEBUG, logging.INFO, 25, logging.WARNING, logging.ERROR, 45,
                      logging.CRITICAL, 60):  # fmt: skip
            log.log(level, "at %s", level)
        found = {event.event_type: event.verbosity for event in events(writer)}
        detail, action, milestone = (
            VerbosityLevel.DETAIL,
            VerbosityLevel.ACTION,
            VerbosityLevel.MILESTONE,
        )
        assert found == {
            "at 5": detail,
            "at 10": detail,
            "at 20": action,
            "at 25": action,
            "at 30": milestone,
            "at 40": milestone,
            "at 45": milestone,
            "at 50": milestone,
            "at 60": milestone,
        }

    def test_writer_verbosity_filters_stdlib_records(self, tmp_path: Path) -> None:
        """A writer at MILESTONE keeps warnings and drops info and debug records."""
        with EventWriter(tmp_path, "sim", mode="sync", verbosity="MILESTONE") as writer:
            handler = EventHandler(writer)
            log = logging.getLogger("thirdparty")
            log.setLevel(logging.DEBUG)
            log.addHandler(handler)
            log.debug("d")
            log.info("i")
            log.error("e")
        assert [event.event_type for event in read_events(tmp_path)] == ["e"]

    def test_verbosity_extra_overrides_the_level(self, tmp_path: Path) -> None:
        """A record's ``verbosity`` extra decides its level, as for structlog records."""
        with EventWriter(tmp_path, "sim", mode="sync", verbosity="ACTION") as writer:
            bridge_stdlib_logging(writer)
            log = logging.getLogger("thirdparty")
            log.setLevel(logging.DEBUG)
            log.debug("promoted", extra={"verbosity": "decision"})
            log.warning("demoted", extra={"verbosity": VerbosityLevel.DETAIL})
        [event] = read_events(tmp_path)
        assert (event.event_type, event.verbosity) == ("promoted", VerbosityLevel.DECISION)
        assert "verbosity" not in event.data

    def test_exception_and_stack(self, writer: EventWriter) -> None:
        """logger.exception() gives the traceback structlog calls get; stack_info the stack."""
        bridge_stdlib_logging(writer)
        log = logging.getLogger("thirdparty")
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            log.exception("failed")
            structlog.wrap_logger(None, processors=[writer]).exception("native")
        log.warning("where", stack_info=True)
        failed, native, where = events(writer)
        [stack] = failed.data["exception"]
        assert (stack["exc_type"], stack["exc_value"]) == ("ZeroDivisionError", "division by zero")
        assert stack["frames"][-1]["name"] == "test_exception_and_stack"
        assert failed.data["exception"] == native.data["exception"]
        assert failed.level == "error"
        assert where.data["stack"].startswith("Stack (most recent call last):")

    def test_exception_text_without_exc_info_is_kept(self, writer: EventWriter) -> None:
        """A record that carries only traceback text (sent over a socket) keeps that text."""
        record = logging.makeLogRecord(
            {"msg": "remote", "levelno": logging.ERROR, "levelname": "ERROR",
             "exc_text": "Traceback ...\nKeyError: 'k'"}
        )  # fmt: skip
        EventHandler(writer).handle(record)
        [event] = events(writer)
        assert event.data["exception"] == "Traceback ...\nKeyError: 'k'"

    def test_message_arguments_and_template(self, writer: EventWriter) -> None:
        """The event type is the formatted message; its template is kept when it had arguments."""
        bridge_stdlib_logging(writer)
        logging.getLogger("thirdparty").warning("retry %d of %s", 2, "fetch")
        logging.getLogger("thirdparty").warning("plain")
        retry, plain = events(writer)
        assert retry.event_type == "retry 2 of fetch"
        assert retry.data["message_template"] == "retry %d of %s"
        assert "message_template" not in plain.data

    def test_record_time_and_simulation_id(self, writer: EventWriter) -> None:
        """The event is stamped with the record's creation time; a simulation_id extra is used."""
        handler = EventHandler(writer)
        record = logging.makeLogRecord(
            {"msg": "old", "levelno": logging.WARNING, "levelname": "WARNING", "created": 1e9,
             "simulation_id": "other"}
        )  # fmt: skip
        handler.handle(record)
        [event] = events(writer)
        assert event.timestamp == datetime.fromtimestamp(1e9, UTC)
        assert event.simulation_id == "other"

    def test_extra_fields_named_like_bridge_fields_are_kept_apart(
        self, writer: EventWriter
    ) -> None:
        """An extra ``event``, ``logger`` or ``exception`` field does not overwrite the bridge's."""
        bridge_stdlib_logging(writer)
        extra = {"event": "mine", "logger": "fake", "exception": "none", "level": "x"}
        logging.getLogger("thirdparty").warning("real", extra=extra)
        [event] = events(writer)
        assert event.event_type == "real"
        assert event.level == "warning"
        assert event.data == {
            "logger": "thirdparty",
            "extra_event": "mine",
            "extra_logger": "fake",
            "extra_exception": "none",
            "extra_level": "x",
        }

    def test_a_broken_record_goes_to_handle_error(
        self, writer: EventWriter, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A record whose message cannot be formatted is reported the logging way, not raised."""
        record = logging.makeLogRecord({"msg": "%d apples", "args": ("three",)})
        EventHandler(writer).handle(record)
        assert "--- Logging error ---" in capsys.readouterr().err
        assert events(writer) == []


class TestBridgeSetup:
    def test_one_call_attaches_once_to_the_root_logger(self, writer: EventWriter) -> None:
        """bridge_stdlib_logging attaches one handler to the root; again returns the same one."""
        handler = bridge_stdlib_logging(writer)
        assert bridge_stdlib_logging(writer) is handler
        root = logging.getLogger()
        assert [h for h in root.handlers if isinstance(h, EventHandler)] == [handler]
        assert handler.writer is writer
        assert "EventHandler" in repr(handler)

    def test_level_lowered_to_what_the_writer_keeps(self, tmp_path: Path) -> None:
        """The logger's level drops to DEBUG, INFO or WARNING by the writer's verbosity."""
        root = logging.getLogger()
        expected = {
            "DETAIL": logging.DEBUG,
            "STATE": logging.INFO,
            "ACTION": logging.INFO,
            "DECISION": logging.WARNING,
            "MILESTONE": logging.WARNING,
        }
        for verbosity, level in expected.items():
            root.setLevel(logging.CRITICAL)
            with EventWriter(tmp_path / verbosity, "s", mode="sync", verbosity=verbosity) as w:
                bridge_stdlib_logging(w)
            assert root.level == level, verbosity

    def test_level_never_raised_and_left_alone_on_request(self, writer: EventWriter) -> None:
        """A logger already more verbose keeps its level; set_level=False changes nothing."""
        root = logging.getLogger()
        root.setLevel(5)
        bridge_stdlib_logging(writer)
        assert root.level == 5
        root.setLevel(logging.ERROR)
        bridge_stdlib_logging(writer, set_level=False)
        assert root.level == logging.ERROR

    def test_named_logger(self, writer: EventWriter) -> None:
        """A logger name attaches the bridge there only."""
        handler = bridge_stdlib_logging(writer, logger="thirdparty")
        assert handler in logging.getLogger("thirdparty").handlers
        assert handler not in logging.getLogger().handlers
        logging.getLogger("thirdparty").info("kept")
        logging.getLogger("other").warning("not bridged")
        assert [event.event_type for event in events(writer)] == ["kept"]

    def test_queued_writer(self, tmp_path: Path) -> None:
        """The bridge works with a queued (ASYNC) writer: events are there after close."""
        with EventWriter(tmp_path, "sim") as writer:
            bridge_stdlib_logging(writer)
            for number in range(50):
                logging.getLogger("thirdparty").warning("n", extra={"number": number})
        assert [event.data["number"] for event in read_events(tmp_path)] == list(range(50))

    def test_refuses_what_is_not_a_writer(self) -> None:
        """Passing something else is a TypeError naming what is expected."""
        with pytest.raises(TypeError, match="takes an EventWriter"):
            bridge_stdlib_logging("writer")  # type: ignore[arg-type]


def stdlib_structlog(*processors: Any) -> None:
    """structlog configured for logging, as its "standard library" docs show."""
    structlog.configure(
        processors=list(processors),
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )


def console(
    *, level: int = logging.NOTSET, **formatter: Any
) -> tuple[logging.Handler, io.StringIO]:
    """A stream handler rendering with structlog's ConsoleRenderer, and its output."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setLevel(level)
    processors = formatter.pop("processors", [])
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                *processors,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.dev.ConsoleRenderer(colors=False),
            ],
            **formatter,
        )
    )
    logging.getLogger().addHandler(handler)
    return handler, out


def written(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(event.event_type, event.data) for event in read_events(directory)]


class TestStructlogRecords:
    def test_wrap_for_formatter_records_map_like_native_ones(self, tmp_path: Path) -> None:
        """A structlog call routed into logging is mapped as in the chain: no private keys."""
        with EventWriter(tmp_path, "sim", mode="sync") as writer:
            stdlib_structlog(
                structlog.stdlib.add_log_level,
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            )
            console()
            bridge_stdlib_logging(writer)
            structlog.get_logger("app").info("request", path="/x")
        [event] = read_events(tmp_path)
        assert (event.event_type, event.level, event.verbosity) == ("request", "info", "ACTION")
        assert event.data == {"path": "/x"}

    def test_wrapped_exception_is_structured(self, tmp_path: Path) -> None:
        """log.exception() through logging gives the structured traceback too."""
        with EventWriter(tmp_path, "sim", mode="sync") as writer:
            stdlib_structlog(
                structlog.stdlib.add_log_level,
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            )
            bridge_stdlib_logging(writer)
            try:
                raise KeyError("k")
            except KeyError:
                structlog.get_logger("app").exception("failed")
        [event] = read_events(tmp_path)
        assert event.data["exception"][0]["exc_type"] == "KeyError"
        assert event.level == "error"


class TestPlacements:
    """The documented ways to fit the writer into a structlog.stdlib setup: every event once."""

    def test_writer_in_the_chain_and_the_bridge_for_foreign_calls(self, tmp_path: Path) -> None:
        """structlog calls reach the writer in the chain, logging calls the bridge: each once."""
        with EventWriter(tmp_path, "sim", mode="sync") as writer:
            structlog.configure(
                processors=[
                    structlog.contextvars.merge_contextvars,
                    structlog.processors.add_log_level,
                    writer,
                ]
            )
            bridge_stdlib_logging(writer)
            structlog.get_logger().info("request", path="/x")
            logging.getLogger("thirdparty").warning("retrying", extra={"attempt": 2})
        assert written(tmp_path) == [
            ("request", {"path": "/x"}),
            ("retrying", {"logger": "thirdparty", "attempt": 2}),
        ]
        assert writer.stats.written == 2

    def test_writer_in_the_chain_before_wrap_for_formatter_and_bridged(
        self, tmp_path: Path
    ) -> None:
        """A writer handing records on to logging, where it is bridged too, writes each once."""
        with EventWriter(tmp_path, "sim", mode="sync", passthrough=True) as writer:
            stdlib_structlog(
                structlog.stdlib.add_log_level,
                writer,
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            )
            _, out = console()
            bridge_stdlib_logging(writer)
            log = structlog.get_logger("app")
            for number in range(3):
                log.info("request", number=number)
            logging.getLogger("thirdparty").warning("retrying")
        assert written(tmp_path) == [
            ("request", {"number": 0}),
            ("request", {"number": 1}),
            ("request", {"number": 2}),
            ("retrying", {"logger": "thirdparty"}),
        ]
        assert writer.stats.written == 4
        assert out.getvalue().count("request") == 3

    @pytest.mark.parametrize("passthrough", [True, False])
    def test_writer_inside_processor_formatter(self, tmp_path: Path, passthrough: bool) -> None:
        """In ProcessorFormatter's processors, with foreign_pre_chain, both kinds of call: once."""
        shared = [structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name]
        with EventWriter(tmp_path, "sim", mode="sync", passthrough=passthrough) as writer:
            stdlib_structlog(*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter)
            _, out = console(foreign_pre_chain=shared, processors=[writer])
            logging.getLogger().setLevel(logging.INFO)
            structlog.get_logger("app").info("request", path="/x")
            logging.getLogger("thirdparty").warning("retrying")
        assert [(e.event_type, e.level, e.data) for e in read_events(tmp_path)] == [
            ("request", "info", {"path": "/x", "logger": "app"}),
            ("retrying", "warning", {"logger": "thirdparty"}),
        ]
        assert writer.stats.written == 2
        assert "request" in out.getvalue()
        assert "retrying" in out.getvalue()

    def test_console_and_file_at_their_own_levels(self, tmp_path: Path) -> None:
        """File at DETAIL, console at WARNING: every event once in the file, warnings shown."""
        with EventWriter(
            tmp_path, "sim", mode="sync", verbosity="DETAIL", passthrough=True
        ) as writer:
            stdlib_structlog(
                structlog.stdlib.add_log_level,
                writer,
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            )
            _, out = console(level=logging.WARNING)
            bridge_stdlib_logging(writer)
            log = structlog.get_logger("app")
            log.debug("cache_miss")
            log.info("served")
            log.warning("slow_request")
            logging.getLogger("thirdparty").debug("connecting")
            logging.getLogger("thirdparty").warning("retrying")
        assert [event.event_type for event in read_events(tmp_path)] == [
            "cache_miss", "served", "slow_request", "connecting", "retrying",
        ]  # fmt: skip
        shown = out.getvalue()
        assert [name in shown for name in ("cache_miss", "served", "slow_request")] == [
            False, False, True,
        ]  # fmt: skip
        assert "retrying" in shown
        assert "connecting" not in shown
