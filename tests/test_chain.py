"""The writer's place in structlog's chain: misplacements are said once, never raised."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog

from structlog_events import EventWriter
from structlog_events._mapping import RecordMapper

from .helpers import read_events


def configure(*processors: Any) -> tuple[Any, io.StringIO]:
    """structlog configured as its docs show, printing to a buffer; the logger and the buffer."""
    out = io.StringIO()
    structlog.configure(
        processors=list(processors), logger_factory=structlog.PrintLoggerFactory(out)
    )
    return structlog.get_logger(), out


def messages(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("structlog-events:")]


class TestWriterAfterRenderer:
    def test_console_still_prints_and_stderr_says_once(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Writer after ConsoleRenderer: the console works, events count failed, one hint."""
        writer = EventWriter(tmp_path, "sim", mode="sync")
        log, out = configure(structlog.dev.ConsoleRenderer(colors=False), writer)
        log.info("first", n=1)
        log.info("second")
        writer.close()
        assert "first" in out.getvalue()
        assert "second" in out.getvalue()
        assert writer.stats.failed == 2
        assert read_events(tmp_path) == []
        [message] = messages(capsys.readouterr().err)
        assert "put the EventWriter before the renderer (ConsoleRenderer)" in message

    @pytest.mark.parametrize(
        "rendered",
        [
            "text",
            orjson.dumps({"event": "e"}),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter(None, "info", {"event": "e"}),  # type: ignore[arg-type]
        ],
    )
    def test_rendered_records_are_handed_on(
        self, tmp_path: Path, rendered: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Text, bytes or wrap_for_formatter's tuple come back unchanged and count as failed."""
        with EventWriter(tmp_path, "sim", mode="sync", passthrough=False) as writer:
            assert writer(None, "info", rendered) is rendered
        assert writer.stats.failed == 1
        assert "not an event dict" in capsys.readouterr().err


class TestProcessorsAfterWriter:
    def test_warned_once_at_the_first_call(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A renderer after a writer without passthrough=True is named once on stderr."""
        writer = EventWriter(tmp_path, "sim", mode="sync")
        log, out = configure(writer, structlog.dev.ConsoleRenderer(colors=False))
        log.info("one")
        log.info("two")
        writer.close()
        [message] = messages(capsys.readouterr().err)
        assert "ConsoleRenderer come(s) after the EventWriter" in message
        assert "passthrough=True" in message
        assert out.getvalue() == ""
        assert [event.event_type for event in read_events(tmp_path)] == ["one", "two"]

    @pytest.mark.parametrize("passthrough", [True, False])
    def test_silent_when_the_chain_is_right(
        self, tmp_path: Path, passthrough: bool, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A writer last, or with passthrough=True before a renderer, says nothing."""
        writer = EventWriter(tmp_path, "sim", mode="sync", passthrough=passthrough)
        after = [structlog.dev.ConsoleRenderer(colors=False)] if passthrough else []
        log, out = configure(structlog.processors.add_log_level, writer, *after)
        log.info("fine")
        writer.close()
        assert capsys.readouterr().err == ""
        assert ("fine" in out.getvalue()) is passthrough
        assert [event.event_type for event in read_events(tmp_path)] == ["fine"]


class TestMappingFailure:
    @pytest.mark.parametrize("passthrough", [True, False])
    def test_counted_reported_and_the_call_ends_as_usual(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        passthrough: bool,
    ) -> None:
        """A record the writer cannot map counts failed, is reported, then goes on or ends."""

        def broken(*args: Any) -> Any:
            raise RuntimeError("mapping broke")

        monkeypatch.setattr(RecordMapper, "to_record", broken)
        writer = EventWriter(tmp_path, "sim", mode="sync", passthrough=passthrough)
        renderer = [structlog.dev.ConsoleRenderer(colors=False)] if passthrough else []
        log, out = configure(writer, *renderer)
        log.info("lost")
        writer.close()
        assert writer.stats.failed == 1
        assert ("lost" in out.getvalue()) is passthrough
        assert "event not written: RuntimeError('mapping broke')" in capsys.readouterr().err
