"""The bound logger's direct way to its writer: what structlog's path does, without its plumbing."""

from __future__ import annotations

import collections
import io
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.processors import CallsiteParameter, CallsiteParameterAdder

from structlog_events import EventWriter, make_filtering_bound_logger

from .helpers import MakeWriter, raw_lines, read_events


def recommended(writer: EventWriter, *before: Any, **options: Any) -> Any:
    """structlog configured as the README recommends (*before* the writer); a bound logger."""
    structlog.configure(
        processors=[*before, writer],
        wrapper_class=make_filtering_bound_logger(writer),
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=True,
        **options,
    )
    return structlog.get_logger().bind()


def by_structlog(writer: EventWriter) -> Any:
    """*writer* behind a processor of its own: structlog's path, the writer's ``__call__``."""

    def writer_called_by_structlog(logger: Any, method_name: str, event_dict: Any) -> Any:
        return writer(logger, method_name, event_dict)

    return writer_called_by_structlog


@pytest.fixture
def structlog_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The method names structlog's ``_proxy_to_logger`` is called with, from now on."""
    calls: list[str] = []
    proxy = structlog.BoundLoggerBase._proxy_to_logger

    def counted(self: Any, method_name: str, event: Any = None, **kw: Any) -> Any:
        calls.append(method_name)
        return proxy(self, method_name, event, **kw)

    monkeypatch.setattr(structlog.BoundLoggerBase, "_proxy_to_logger", counted)
    return calls


#: structlog's own bound logger class, filtering nothing.
STRUCTLOGS_OWN: Any = structlog.make_filtering_bound_logger(logging.DEBUG)


def without_id_and_time(line: bytes) -> bytes:
    """A line without its event id and timestamp, the two fields no two calls share."""
    stripped, count = re.subn(rb'^\{"event_id":"[^"]+","timestamp":"[^"]+",', b"{", line)
    assert count == 1, line
    return stripped


def log_every_kind_of_call(log: Any) -> None:
    """Each kind of call a program makes; the same lines for both ways, for the same callsite."""
    log.debug("detail_step", n=1)
    log.info("order_placed", user="alice", seq=1, amount=3.5, tags=["a", "b"], extra={"k": None})
    log.msg("by_msg", x=1)
    log.warning("disk_low", free=3)
    log.warn("by_warn")
    log.error("failed", code=2)
    log.critical("down")
    log.fatal("by_fatal")
    log.info("interpolated %s and %d", "text", 7)
    log.info("from a mapping: %(a)s", {"a": 1})
    log.log(logging.WARNING, "by_level", n=2)
    log.log(logging.INFO, "by_level %s", "with args")
    log.log(logging.DEBUG, "by_level_debug")
    log.log(5, "below_debug")
    log.info("promoted", verbosity="MILESTONE")
    log.warning("demoted", verbosity="detail")
    log.info("not_a_level", verbosity="loud")
    log.info(None, unnamed=True)
    log.info(["not", "a", "string"])
    log.info("level_of_its_own", level="custom", timestamp="2024-05-01T12:00:00+00:00")
    log.bind(run=3, seq=0).info("bound", seq=1)
    log.bind(run=3).unbind("run").info("unbound")
    structlog.contextvars.bind_contextvars(request="r1", seq=0)
    log.info("with_contextvars", seq=2)
    structlog.contextvars.clear_contextvars()
    try:
        raise KeyError("k")
    except KeyError:
        log.exception("caught", attempt=1)
        log.error("with_exc_info", exc_info=True)
        log.exception("kept_false", exc_info=False)


class TestSameLines:
    @pytest.mark.parametrize("verbosity", ["DETAIL", "ACTION", "MILESTONE"])
    @pytest.mark.parametrize("context_class", [dict, collections.OrderedDict])
    def test_every_line_is_the_one_structlogs_path_writes(
        self,
        tmp_path: Path,
        make_writer: MakeWriter,
        verbosity: str,
        context_class: type[Any],
    ) -> None:
        """Byte for byte (event id and time aside) what the writer writes through structlog."""
        callsite = CallsiteParameterAdder([CallsiteParameter.FUNC_NAME, CallsiteParameter.LINENO])
        lines = []
        for way, directory in (("direct", tmp_path / "direct"), ("structlog", tmp_path / "s")):
            writer = make_writer(directory, verbosity=verbosity)
            if way == "direct":
                last, wrapper_class = writer, make_filtering_bound_logger(writer)
            else:  # structlog alone: its own class, the writer called as a processor
                last, wrapper_class = by_structlog(writer), STRUCTLOGS_OWN
            structlog.configure(
                processors=[structlog.contextvars.merge_contextvars, callsite, last],
                wrapper_class=wrapper_class,
                context_class=context_class,
                logger_factory=structlog.ReturnLoggerFactory(),
                cache_logger_on_first_use=True,
            )
            log_every_kind_of_call(structlog.get_logger().bind())
            writer.close()
            lines.append([without_id_and_time(line) for line in raw_lines(directory)])
        direct, through_structlog = lines
        assert len(direct) >= 10
        assert direct == through_structlog

    def test_positional_arguments_are_interpolated(self, make_writer: MakeWriter) -> None:
        """log.info("x %s", 1) and a mapping argument are interpolated as structlog does."""
        writer = make_writer(mode="sync")
        log = recommended(writer)
        log.info("x %s", 1)
        log.info("%(who)s came", {"who": "alice"})
        log.info("100%")
        assert [e.event_type for e in read_events(writer.output_dir)] == [
            "x 1", "alice came", "100%",
        ]  # fmt: skip

    def test_exception_writes_the_traceback_at_error_level(self, make_writer: MakeWriter) -> None:
        """log.exception() in an except block: level "error", MILESTONE, the exception written."""
        writer = make_writer(mode="sync", verbosity="MILESTONE")
        log = recommended(writer)
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("failed", step=4)
        [event] = read_events(writer.output_dir)
        assert (event.event_type, event.level, event.verbosity) == ("failed", "error", "MILESTONE")
        assert event.data["step"] == 4
        assert event.data["exception"][0]["exc_type"] == "ValueError"
        assert event.data["exception"][0]["exc_value"] == "bad"

    def test_log_by_level(self, make_writer: MakeWriter) -> None:
        """log(logging.WARNING, ...) writes a warning; an unknown level fails as in structlog."""
        writer = make_writer(mode="sync")
        log = recommended(writer)
        log.log(logging.WARNING, "by_level", n=2)
        with pytest.raises(KeyError):
            log.log(15, "no_such_level")
        [event] = read_events(writer.output_dir)
        assert (event.event_type, event.level, event.verbosity) == (
            "by_level",
            "warning",
            "MILESTONE",
        )
        assert event.data == {"n": 2}

    def test_bound_and_contextvars_context(self, make_writer: MakeWriter) -> None:
        """bind() and merge_contextvars reach the event; the call's own keys win."""
        writer = make_writer(mode="sync")
        log = recommended(writer, structlog.contextvars.merge_contextvars)
        structlog.contextvars.bind_contextvars(request="r1", step=0)
        log.bind(run=3, step=1).info("stepped", step=2)
        log.bind(run=3).new(fresh=True).info("renewed")
        [stepped, renewed] = read_events(writer.output_dir)
        assert stepped.data == {"request": "r1", "run": 3, "step": 2}
        assert renewed.data == {"request": "r1", "step": 0, "fresh": True}

    def test_a_call_without_its_event_fails_as_in_structlog(self, make_writer: MakeWriter) -> None:
        """At DETAIL, log.info() raises structlog's TypeError, word for word."""
        log = recommended(make_writer(verbosity="DETAIL"))
        structlogs = STRUCTLOGS_OWN(None, [], {})
        for method in ("debug", "info", "warning", "error", "critical"):
            with pytest.raises(TypeError) as ours:
                getattr(log, method)()
            with pytest.raises(TypeError) as theirs:
                getattr(structlogs, method)()
            assert str(ours.value) == str(theirs.value)

    def test_a_method_name_keyword_fails_as_in_structlog(
        self, make_writer: MakeWriter, structlog_calls: list[str]
    ) -> None:
        """A method_name= field is refused by structlog's _proxy_to_logger: still refused."""
        writer = make_writer(mode="sync")
        log = recommended(writer)
        with pytest.raises(TypeError, match="multiple values for argument 'method_name'"):
            log.info("named", method_name="x")
        assert read_events(writer.output_dir) == []


class TestTheDirectWay:
    def test_taken_for_the_recommended_configuration(
        self, make_writer: MakeWriter, monkeypatch: pytest.MonkeyPatch, structlog_calls: list[str]
    ) -> None:
        """No _proxy_to_logger, no _process_event, no DropEvent: the writer is handed the record."""

        def not_expected(*args: Any, **kw: Any) -> Any:
            raise AssertionError("structlog's path was taken")

        monkeypatch.setattr(structlog.BoundLoggerBase, "_process_event", not_expected)
        monkeypatch.setattr(EventWriter, "__call__", not_expected)  # the one raising DropEvent
        writer = make_writer(mode="sync", verbosity="ACTION")
        log = recommended(writer, structlog.contextvars.merge_contextvars)
        log.info("one", n=1)
        log.warning("two")
        log.log(logging.ERROR, "three")
        log.debug("four", verbosity="MILESTONE")  # through a dropping method's way on
        try:
            raise KeyError("k")
        except KeyError:
            log.exception("five")
        assert structlog_calls == []
        assert [e.event_type for e in read_events(writer.output_dir)] == [
            "one", "two", "three", "four", "five",
        ]  # fmt: skip

    def test_a_processor_before_the_writer_drops_the_call(self, make_writer: MakeWriter) -> None:
        """DropEvent from an earlier processor ends the call quietly: nothing written."""

        def drop_secrets(_: Any, __: str, event_dict: Any) -> Any:
            if "password" in event_dict:
                raise structlog.DropEvent
            return event_dict

        writer = make_writer(mode="sync")
        log = recommended(writer, drop_secrets)
        assert log.info("login", password="x") is None
        log.info("logout")
        assert [e.event_type for e in read_events(writer.output_dir)] == ["logout"]
        assert writer.stats.failed == 0

    def test_a_processor_before_the_writer_raises_into_the_program(
        self, make_writer: MakeWriter
    ) -> None:
        """Another exception of an earlier processor reaches the caller, as with structlog."""
        error = ValueError("processor broke")

        def broken(_: Any, __: str, event_dict: Any) -> Any:
            raise error

        writer = make_writer(mode="sync")
        log = recommended(writer, broken)
        with pytest.raises(ValueError, match="processor broke") as raised:
            log.info("lost")
        assert raised.value is error
        assert read_events(writer.output_dir) == []

    def test_a_subclass_keeps_its_own_process_event(self, make_writer: MakeWriter) -> None:
        """A subclass overriding _process_event has it called, as before."""
        writer = make_writer(mode="sync")
        seen: list[str] = []

        class Audited(make_filtering_bound_logger(writer)):  # type: ignore[misc]
            def _process_event(self, method_name: str, event: Any, event_kw: Any) -> Any:
                seen.append(event)
                return super()._process_event(method_name, event, event_kw)

        structlog.configure(processors=[writer], wrapper_class=Audited)
        structlog.get_logger().info("audited")
        assert seen == ["audited"]
        assert [e.event_type for e in read_events(writer.output_dir)] == ["audited"]


class TestChainsNotEndedByTheWriter:
    def test_passthrough_and_a_renderer_after_keep_structlogs_path(
        self, make_writer: MakeWriter, structlog_calls: list[str]
    ) -> None:
        """passthrough=True before a renderer: structlog runs the chain, both outputs are there."""
        writer = make_writer(mode="sync", passthrough=True)
        out = io.StringIO()
        structlog.configure(
            processors=[writer, structlog.processors.KeyValueRenderer(sort_keys=True)],
            wrapper_class=make_filtering_bound_logger(writer),
            logger_factory=structlog.PrintLoggerFactory(out),
        )
        structlog.get_logger().info("shown", n=1)
        assert out.getvalue() == "event='shown' n=1\n"
        assert structlog_calls == ["info"]
        assert [e.event_type for e in read_events(writer.output_dir)] == ["shown"]

    @pytest.mark.parametrize("passthrough", [True, False])
    def test_what_the_writer_hands_on_reaches_the_logger_as_with_structlog(
        self, make_writer: MakeWriter, tmp_path: Path, passthrough: bool
    ) -> None:
        """A renderer before the writer, or a passthrough writer last: the logger gets the same."""
        returned = []
        for way in ("direct", "structlog"):
            writer = make_writer(tmp_path / way, mode="sync", passthrough=passthrough)
            last = writer if way == "direct" else by_structlog(writer)
            before = [] if passthrough else [structlog.processors.KeyValueRenderer()]
            structlog.configure(
                processors=[*before, last],
                wrapper_class=make_filtering_bound_logger(writer),
                logger_factory=structlog.ReturnLoggerFactory(),
            )
            returned.append(structlog.get_logger().info("handed_on", n=1))
            assert writer.stats.failed == (0 if passthrough else 1)
            assert len(read_events(writer.output_dir)) == (1 if passthrough else 0)
        assert returned[0] == returned[1]
        # ReturnLogger returns what it is given: (args, kwargs), or the one argument.
        handed_on = ((), {"event": "handed_on", "n": 1}) if passthrough else "n=1 event='handed_on'"
        assert returned[0] == handed_on

    def test_a_rendered_record_reaches_a_print_logger(
        self, make_writer: MakeWriter, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """ConsoleRenderer before the writer: the console prints, the events count failed."""
        writer = make_writer(mode="sync")
        out = io.StringIO()
        structlog.configure(
            processors=[structlog.dev.ConsoleRenderer(colors=False), writer],
            wrapper_class=make_filtering_bound_logger(writer),
            logger_factory=structlog.PrintLoggerFactory(out),
        )
        structlog.get_logger().info("printed", n=1)
        assert "printed" in out.getvalue()
        assert "n=1" in out.getvalue()
        assert writer.stats.failed == 1
        assert "put the EventWriter before the renderer" in capsys.readouterr().err

    def test_reconfigured_without_the_writer_and_back(self, make_writer: MakeWriter) -> None:
        """Each call follows the chain of the moment, its list replaced or changed in place."""
        writer = make_writer(mode="sync")
        captured = structlog.testing.LogCapture()
        options: dict[str, Any] = {
            "wrapper_class": make_filtering_bound_logger(writer),
            "logger_factory": structlog.ReturnLoggerFactory(),
            "cache_logger_on_first_use": False,
        }
        log = structlog.get_logger()
        structlog.configure(processors=[writer], **options)
        log.info("first")
        structlog.configure(processors=[captured], **options)
        log.info("second")
        processors: list[Any] = [writer]
        structlog.configure(processors=processors, **options)
        log.info("third")
        processors[-1] = captured  # the same list, changed
        log.info("fourth")
        processors[-1] = writer
        log.info("fifth")
        assert [e.event_type for e in read_events(writer.output_dir)] == ["first", "third", "fifth"]
        assert [entry["event"] for entry in captured.entries] == ["second", "fourth"]

    def test_a_class_built_for_another_writer(
        self, tmp_path: Path, make_writer: MakeWriter
    ) -> None:
        """A class built for writer A, in a chain that ends with writer B: B writes, A nothing."""
        first = make_writer(tmp_path / "a", mode="sync", verbosity="DETAIL")
        second = make_writer(tmp_path / "b", mode="sync", verbosity="ACTION")
        structlog.configure(processors=[second], wrapper_class=make_filtering_bound_logger(first))
        log = structlog.get_logger().bind()
        log.info("for_b")
        log.debug("dropped_by_b")
        assert read_events(first.output_dir) == []
        assert [e.event_type for e in read_events(second.output_dir)] == ["for_b"]
        assert second.stats.written == 1
