"""RecordMapper: from a structlog record to event fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from structlog_events import VerbosityLevel
from structlog_events import _mapping as mapping
from structlog_events._mapping import UNNAMED_EVENT, RecordMapper

V = VerbosityLevel


def _map(event_dict: dict[str, Any], method: str = "info", **options: Any) -> dict[str, Any]:
    mapper = RecordMapper("default-sim", **options)
    level = mapper.verbosity_of(method, event_dict)
    record, _ = mapper.to_record(method, event_dict, level)
    return record


class TestVerbosityOf:
    @pytest.mark.parametrize(
        ("method", "expected"),
        [("debug", V.DETAIL), ("info", V.ACTION), ("warning", V.MILESTONE),
         ("error", V.MILESTONE), ("critical", V.MILESTONE), ("exception", V.MILESTONE),
         ("something_custom", V.ACTION)],
    )  # fmt: skip
    def test_by_method(self, method: str, expected: VerbosityLevel) -> None:
        """Without a verbosity key or mapping, the log method decides."""
        assert RecordMapper("s").verbosity_of(method, {"event": "e"}) is expected

    @pytest.mark.parametrize("named", ["STATE", "state", V.STATE])
    def test_key_wins(self, named: Any) -> None:
        """A verbosity key (enum or name in any case) overrides method and mapping."""
        mapper = RecordMapper("s", {"e": V.MILESTONE})
        assert mapper.verbosity_of("debug", {"event": "e", "verbosity": named}) is V.STATE

    def test_mapping_before_method(self) -> None:
        """The event_verbosity mapping decides for records without a verbosity key."""
        mapper = RecordMapper("s", {"turn": V.MILESTONE})
        assert mapper.verbosity_of("debug", {"event": "turn"}) is V.MILESTONE
        assert mapper.verbosity_of("debug", {"event": "other"}) is V.DETAIL

    def test_unknown_name_falls_back_to_method(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown verbosity name never raises: the method decides and stderr says why."""
        assert RecordMapper("s").verbosity_of("debug", {"verbosity": "loud"}) is V.DETAIL
        assert "unknown verbosity 'loud'" in capsys.readouterr().err


class TestToRecord:
    def test_field_order_and_values(self) -> None:
        """Fields come in Event order; other keys go to data unchanged."""
        record = _map({"event": "moved", "agent": "a1", "pos": [1, 2], "level": "info"})
        assert list(record) == [
            "event_id", "timestamp", "event_type", "simulation_id", "verbosity", "level", "data",
        ]  # fmt: skip
        assert record["event_type"] == "moved"
        assert record["simulation_id"] == "default-sim"
        assert record["verbosity"] == "ACTION"
        assert record["level"] == "info"
        assert record["data"] == {"agent": "a1", "pos": [1, 2]}

    def test_simulation_id_key(self) -> None:
        """A simulation_id key wins over the writer's, and is not repeated in data."""
        record = _map({"event": "e", "simulation_id": "other"})
        assert record["simulation_id"] == "other"
        assert "simulation_id" not in record["data"]

    def test_level_from_method_without_add_log_level(self) -> None:
        """Without a level key the method name is the level."""
        assert _map({"event": "e"}, method="warning")["level"] == "warning"

    def test_non_string_event_is_converted(self) -> None:
        """A non-string event name is converted with str()."""
        assert _map({"event": 42})["event_type"] == "42"

    def test_missing_event_name(self) -> None:
        """A record without an event name gets a placeholder type, flagged as a fallback."""
        mapper = RecordMapper("s")
        record, fallback = mapper.to_record("info", {"x": 1}, V.ACTION)
        assert record["event_type"] == UNNAMED_EVENT
        assert fallback

    @pytest.mark.parametrize(
        "stamp",
        [
            datetime(2024, 3, 1, 12, 0, 0, 500, tzinfo=UTC),
            "2024-03-01T12:00:00.000500Z",
            "2024-03-01T14:00:00.000500+02:00",
            1709294400.0005,
            datetime(2024, 3, 1, 7, 0, 0, 500, tzinfo=timezone(timedelta(hours=-5))),
        ],
    )
    def test_timestamp_forms(self, stamp: Any) -> None:
        """datetime, ISO-8601 text and epoch seconds all give the same UTC instant."""
        record = _map({"event": "e", "timestamp": stamp})
        expected = datetime(2024, 3, 1, 12, 0, 0, 500, tzinfo=UTC)
        assert abs(record["timestamp"] - expected) < timedelta(microseconds=2)
        assert record["timestamp"].utcoffset() == timedelta(0)
        assert "timestamp" not in record["data"]

    def test_unreadable_timestamp_kept_in_data(self) -> None:
        """A timestamp that cannot be read stays in data; the event is stamped now."""
        before = datetime.now(UTC)
        mapper = RecordMapper("s")
        record, fallback = mapper.to_record(
            "info", {"event": "e", "timestamp": "yesterday"}, V.ACTION
        )
        assert record["data"]["timestamp"] == "yesterday"
        assert datetime.fromisoformat(record["timestamp"]) >= before
        assert fallback

    def test_unknown_verbosity_kept_in_data(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown verbosity value is kept in data so nothing the caller said is lost."""
        record = _map({"event": "e", "verbosity": "loud"})
        assert record["data"]["verbosity"] == "loud"
        assert record["verbosity"] == "ACTION"

    def test_known_verbosity_not_in_data(self) -> None:
        """A valid verbosity key becomes the field only."""
        record = _map({"event": "e", "verbosity": "milestone"})
        assert record["verbosity"] == "MILESTONE"
        assert "verbosity" not in record["data"]

    def test_record_not_mutated(self) -> None:
        """Mapping leaves the structlog record as it was (passthrough relies on it)."""
        event_dict = {
            "event": "e", "x": 1, "verbosity": "STATE", "level": "info",
            "exc_info": ValueError("v"), "_record": object(), "_from_structlog": True,
        }  # fmt: skip
        copy = dict(event_dict)
        _map(event_dict)
        assert event_dict == copy

    def test_processor_formatter_keys_left_out(self) -> None:
        """The _record and _from_structlog keys ProcessorFormatter adds never reach data."""
        record = _map({"event": "e", "_record": object(), "_from_structlog": False, "x": 1})
        assert record["data"] == {"x": 1}


def _raised() -> ValueError:
    try:
        raise ValueError("boom")
    except ValueError as error:
        return error


class TestExceptions:
    def test_exc_info_becomes_a_structured_exception(self) -> None:
        """exc_info is rendered into data["exception"], and no exc_info key is left."""
        record = _map({"event": "e", "order": 7, "exc_info": _raised()}, method="error")
        assert list(record["data"]) == ["order", "exception"]
        [stack] = record["data"]["exception"]
        assert (stack["exc_type"], stack["exc_value"]) == ("ValueError", "boom")
        assert stack["frames"][-1]["name"] == "_raised"

    @pytest.mark.parametrize("exception", ["Traceback ...\nValueError: boom", [{"exc_type": "X"}]])
    def test_an_exception_already_rendered_is_kept_once(self, exception: Any) -> None:
        """format_exc_info's text or dict_tracebacks' list stays as it is, alone."""
        record = _map({"event": "e", "exception": exception, "exc_info": _raised()})
        assert record["data"] == {"exception": exception}

    @pytest.mark.parametrize("exc_info", [False, None, True])
    def test_exc_info_meaning_no_exception_leaves_nothing(self, exc_info: Any) -> None:
        """exc_info that stands for no exception (here, outside an except block) is dropped."""
        record = _map({"event": "e", "exc_info": exc_info})
        assert record["data"] == {}

    def test_records_without_exc_info_never_reach_the_renderer(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A record without exc_info pays nothing for exceptions: the renderer is not called."""

        def fail(exc_info: Any) -> Any:
            raise AssertionError("rendered")

        monkeypatch.setattr(mapping, "structured_exception", fail)
        assert _map({"event": "e", "exception": "text"})["data"] == {"exception": "text"}
