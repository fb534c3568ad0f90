"""Event: the model, its ids and its timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from structlog_events import Event, VerbosityLevel, new_event_id
from structlog_events._event import iso_utc_from_ns, utc_from_ns

from .strategies import aware_datetimes, json_data, unicode_text


class TestEvent:
    def test_defaults(self) -> None:
        """An event gets an id, a UTC timestamp of now, ACTION, no level and empty data."""
        before = datetime.now(UTC)
        event = Event(event_type="started", simulation_id="s")
        assert event.event_id
        assert before <= event.timestamp <= datetime.now(UTC)
        assert event.timestamp.tzinfo is not None
        assert event.timestamp.utcoffset() == timedelta(0)
        assert event.verbosity is VerbosityLevel.ACTION
        assert event.level is None
        assert event.data == {}

    def test_event_type_must_not_be_empty(self) -> None:
        """An empty event_type is rejected."""
        with pytest.raises(ValidationError):
            Event(event_type="", simulation_id="s")

    def test_verbosity_by_name_in_any_case(self) -> None:
        """verbosity accepts a level name in any case."""
        named: Any = "state"  # pydantic converts the name; the type says the enum
        assert Event(event_type="e", simulation_id="s", verbosity=named).verbosity is (
            VerbosityLevel.STATE
        )

    def test_timestamp_converted_to_utc(self) -> None:
        """An aware timestamp in another zone is stored as the same instant in UTC."""
        local = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
        event = Event(event_type="e", simulation_id="s", timestamp=local)
        assert event.timestamp == local
        assert event.timestamp.utcoffset() == timedelta(0)
        assert event.timestamp.hour == 10

    @given(
        event_type=unicode_text.filter(bool),
        simulation_id=unicode_text,
        data=json_data,
        timestamp=aware_datetimes,
        verbosity=...,
    )
    def test_one_line_round_trip(
        self,
        event_type: str,
        simulation_id: str,
        data: dict[str, object],
        timestamp: datetime,
        verbosity: VerbosityLevel,
    ) -> None:
        """An event serializes to one JSON line and model_validate_json gives it back equal."""
        event = Event(
            event_type=event_type,
            simulation_id=simulation_id,
            data=data,
            timestamp=timestamp,
            verbosity=verbosity,
            level="info",
        )
        line = event.model_dump_json()
        assert "\n" not in line
        assert Event.model_validate_json(line) == event


class TestEventId:
    def test_unique(self) -> None:
        """Ids made in a tight loop are all different."""
        ids = [new_event_id() for _ in range(100_000)]
        assert len(set(ids)) == len(ids)

    def test_sorted_by_creation_time(self) -> None:
        """Ids sort as strings in the order they were made, even within one clock tick."""
        ids = [new_event_id() for _ in range(10_000)]
        assert ids == sorted(ids)
        assert new_event_id(1_000) < new_event_id(2_000)

    def test_fixed_width(self) -> None:
        """Every id has the same length, so string order is numeric order."""
        assert {len(new_event_id(n)) for n in (0, 1, 2**60)} == {30}


class TestTimestampText:
    @given(time_ns=st.integers(min_value=0, max_value=2**62) | st.just(1_700_000_000 * 10**9))
    def test_same_text_as_pydantic(self, time_ns: int) -> None:
        """The fast timestamp text is exactly what pydantic writes for that instant."""
        event = Event(event_type="e", simulation_id="s", timestamp=utc_from_ns(time_ns))
        dumped = event.model_dump_json()
        assert f'"timestamp":"{iso_utc_from_ns(time_ns)}"' in dumped
