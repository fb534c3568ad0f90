"""Writing events as your own models: fields from record keys, defaults, invalid values, emit()."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
from hypothesis import given, reject
from hypothesis import strategies as st
from pydantic import ValidationError

from structlog_events import Event, EventWriter, VerbosityLevel, read_events
from structlog_events._encode import encode_record

from .helpers import MakeWriter, raw_lines
from .models import (
    MODELS,
    SIMULATED_START,
    AnyEvent,
    AuditedEvent,
    CheckedEvent,
    ClockEvent,
    DecisionEvent,
    GuardedEvent,
    LabelledEvent,
    NarrowedEvent,
    SecretEvent,
    SimEvent,
    StrippedEvent,
    SummaryEvent,
    Thing,
    UlidEvent,
)
from .strategies import awkward_values, model_fields, record_data, unicode_text

_directories = itertools.count()


def _log(writer: EventWriter) -> Any:
    structlog.configure(processors=[structlog.processors.add_log_level, writer])
    return structlog.get_logger()


def _lines(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in raw_lines(directory)]


class TestRecordKeysToFields:
    def test_keys_naming_fields_become_fields_the_others_data(self, tmp_path: Path) -> None:
        """Record keys naming a model field are top-level fields, converted; the rest go to data."""
        with EventWriter(tmp_path, "sim-42", mode="sync", event_model=SimEvent) as writer:
            _log(writer).info("agent_moved", turn_number="3", agent_id="a1", speed=2)
        [line] = _lines(tmp_path)
        assert line["turn_number"] == 3
        assert line["agent_id"] == "a1"
        assert line["caused_by"] is None
        assert line["data"] == {"speed": 2}
        assert list(line)[-6:] == [
            "data",
            "turn_number",
            "agent_id",
            "caused_by",
            "description",
            "details",
        ]

    def test_a_model_per_event_type_and_the_default_for_others(self, tmp_path: Path) -> None:
        """event_models picks a type's model; other types get event_model, or plain Event."""
        with EventWriter(
            tmp_path / "both",
            "s",
            mode="sync",
            event_model=SimEvent,
            event_models={"agent_decided": DecisionEvent},
        ) as writer:
            log = _log(writer)
            log.info("agent_decided", turn_number=1, agent_id="a1")
            log.info("tick", turn_number=2)
        assert [type(e) for e in read_events(tmp_path / "both", model=SimEvent)] == [
            SimEvent,
            SimEvent,
        ]
        assert writer.stats.invalid == 0
        with EventWriter(
            tmp_path / "typed-only", "s", mode="sync", event_models={"agent_decided": DecisionEvent}
        ) as writer:
            log = _log(writer)
            log.info("agent_decided", turn_number=1, agent_id="a1")
            log.info("tick", turn_number=2)
        decided, tick = _lines(tmp_path / "typed-only")
        assert decided["agent_id"] == "a1"
        assert "turn_number" not in tick
        assert tick["data"] == {"turn_number": 2}

    def test_own_event_id_default_applies(self, tmp_path: Path) -> None:
        """A model's own event_id default factory makes the ids (a user's ULIDs)."""
        with EventWriter(tmp_path, "s", mode="sync", event_model=UlidEvent) as writer:
            _log(writer).info("e", turn_number=0)
        [line] = _lines(tmp_path)
        assert line["event_id"].startswith("01J")
        assert len(line["event_id"]) == 26

    def test_own_timestamp_default_applies_when_the_record_has_none(self, tmp_path: Path) -> None:
        """A model's own timestamp default stamps records without one; a record's own wins."""
        with EventWriter(tmp_path, "s", mode="sync", event_model=ClockEvent) as writer:
            log = _log(writer)
            log.info("unstamped", tick=5)
            log.info("stamped", timestamp="2024-05-01T12:00:00Z")
        unstamped, stamped = read_events(tmp_path, model=ClockEvent)
        assert unstamped.timestamp >= SIMULATED_START
        assert stamped.timestamp.isoformat() == "2024-05-01T12:00:00+00:00"
        assert _lines(tmp_path)[0]["tick"] == "5", "the serializer in the field's type applies"

    def test_a_model_validated_whole_takes_its_own_defaults_too(self, tmp_path: Path) -> None:
        """A model validated whole makes its own ids, and stamps records without a timestamp."""
        with EventWriter(tmp_path, "s", mode="sync", event_model=AuditedEvent) as writer:
            log = _log(writer)
            log.info("unstamped", turn_number=1)
            log.info("stamped", turn_number=2, timestamp="2024-05-01T12:00:00Z")
        unstamped, stamped = read_events(tmp_path, model=AuditedEvent)
        assert unstamped.event_id.startswith("01J")
        assert stamped.event_id.startswith("01J")
        assert unstamped.timestamp >= SIMULATED_START
        assert stamped.timestamp.isoformat() == "2024-05-01T12:00:00+00:00"

    def test_a_field_value_beyond_64_bits_is_written_as_pydantic_writes_it(
        self, tmp_path: Path
    ) -> None:
        """A value orjson refuses in a plain field is written by pydantic: a JSON number."""
        with EventWriter(tmp_path, "s", mode="sync", event_model=SimEvent) as writer:
            _log(writer).info("e", turn_number=2**70)
        [event] = read_events(tmp_path, model=SimEvent)
        [raw] = raw_lines(tmp_path)
        assert raw == event.model_dump_json().encode() + b"\n"
        assert b'"turn_number":1180591620717411303424,' in raw
        assert writer.stats.fallbacks == 0

    def test_a_models_own_serializer_and_narrowed_fields_apply(self, tmp_path: Path) -> None:
        """A model's field serializer writes its field; a narrowed Event field is validated."""
        with EventWriter(tmp_path / "labelled", "s", mode="sync", event_model=LabelledEvent) as w:
            _log(w).info("e", turn_number=1, labels={"c", "a", "b", "d"})
        [line] = _lines(tmp_path / "labelled")
        assert line["labels"] == ["a", "b", "c", "d"]
        with EventWriter(tmp_path / "narrowed", "s", mode="sync", event_model=NarrowedEvent) as w:
            log = _log(w)
            log.warning("e", turn_number=1)
            log.error("e", turn_number=2)
        kept, refused = _lines(tmp_path / "narrowed")
        assert kept["level"] == "warning"
        assert refused["data"]["_invalid"]["errors"][0]["loc"] == ["level"]

    def test_whole_model_validation_sees_the_envelope(self, tmp_path: Path) -> None:
        """Configuration and data-taking factories of a model apply to the envelope too."""
        with EventWriter(tmp_path, "s", mode="sync", event_model=StrippedEvent) as writer:
            _log(writer).info(" tick ", turn_number=1, agent_id=" a1 ")
        with EventWriter(tmp_path, "s", mode="sync", event_model=SummaryEvent) as writer:
            _log(writer).info("tick", turn_number=2)
        stripped, summary = _lines(tmp_path)
        assert (stripped["event_type"], stripped["agent_id"]) == ("tick", "a1")
        assert summary["summary"] == "tick@2"

    def test_a_field_left_out_of_the_json_is_left_out(self, tmp_path: Path) -> None:
        """A model whose only own field is excluded writes Event's line, as pydantic would."""
        with EventWriter(tmp_path, "s", mode="sync", event_model=SecretEvent) as writer:
            _log(writer).info("login", token="hunter2", user="u")
        [line] = _lines(tmp_path)
        assert "token" not in line
        assert line["data"] == {"user": "u"}

    def test_a_field_value_pydantic_cannot_write_goes_through_the_fallback(
        self, tmp_path: Path
    ) -> None:
        """An object in a field of any type is written by the fallbacks, counted as one."""
        with EventWriter(tmp_path, "s", mode="sync", event_model=AnyEvent) as writer:
            log = _log(writer)
            log.info("e", payload=object(), n=1)
            log.info("e", thing=Thing())
        anything, thing = _lines(tmp_path)
        assert anything["payload"].startswith("<object object")
        assert anything["data"] == {"n": 1}
        assert thing["thing"].startswith("<tests.models.Thing object")
        assert (writer.stats.fallbacks, writer.stats.invalid) == (2, 0)

    def test_plain_event_keeps_the_fast_path(self, tmp_path: Path, make_writer: MakeWriter) -> None:
        """Without a model (or with Event itself) records are encoded by the orjson fast path."""
        assert make_writer(tmp_path / "a", "s")._encode is encode_record
        assert make_writer(tmp_path / "b", "s", event_model=Event)._encode is encode_record

    @given(
        name=st.sampled_from(sorted(MODELS)),
        data=st.data(),
        event_type=unicode_text.filter(bool),
        method=st.sampled_from(["info", "warning"]),
    )
    def test_line_equals_model_dump_json_and_reads_back_equal(
        self, tmp_path: Path, name: str, data: st.DataObject, event_type: str, method: str
    ) -> None:
        """Any valid record of any model is written as Model(...).model_dump_json(), read equal."""
        model = MODELS[name]
        fields = data.draw(model_fields[name], label="fields")
        other = data.draw(record_data, label="data")

        def instance(**written: Any) -> Event:
            return model(
                event_type=event_type,
                simulation_id="sim",
                level=method,
                data=other,
                **fields,
                **written,
            )

        try:
            instance()
        except ValidationError:
            reject()  # not a valid record: an event_type StrippedEvent strips to nothing
        directory = tmp_path / str(next(_directories))
        with EventWriter(directory, "sim", mode="sync", event_model=model) as writer:
            getattr(_log(writer), method)(event_type, **fields, **other)
        [raw] = raw_lines(directory)
        written = orjson.loads(raw)
        expected = instance(
            event_id=written["event_id"],
            timestamp=written["timestamp"],
            verbosity=written["verbosity"],
        )
        assert writer.stats.invalid == 0
        assert raw == expected.model_dump_json().encode() + b"\n"
        assert list(read_events(directory, model=model)) == [expected]


class TestInvalidValues:
    def test_written_as_plain_event_with_the_errors(self, tmp_path: Path) -> None:
        """An invalid event is the plain Event line, values as logged, errors in data._invalid."""
        with EventWriter(
            tmp_path, "s", mode="sync", event_models={"agent_decided": DecisionEvent}
        ) as writer:
            _log(writer).info("agent_decided", turn_number=-1, choice="buy")
        [line] = _lines(tmp_path)
        assert "turn_number" not in line
        assert line["data"] == {
            "turn_number": -1,
            "choice": "buy",
            "_invalid": {
                "model": "DecisionEvent",
                "errors": [
                    {
                        "type": "greater_than_equal",
                        "loc": ["turn_number"],
                        "msg": "Input should be greater than or equal to 0",
                    },
                    {"type": "missing", "loc": ["agent_id"], "msg": "Field required"},
                ],
            },
        }
        assert Event.model_validate(line).event_type == "agent_decided"

    def test_counted_and_said_once_naming_model_field_and_type(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each invalid event counts in stats.invalid; stderr names model, field, type once."""
        with EventWriter(tmp_path, "s", mode="sync", event_model=DecisionEvent) as writer:
            log = _log(writer)
            for _ in range(3):
                log.info("agent_decided", turn_number=1)
            log.info("agent_decided", turn_number=1, agent_id="a1")
        assert writer.stats.invalid == 3
        assert writer.stats.written == 4
        err = capsys.readouterr().err
        assert err.count("structlog-events:") == 1
        assert "'agent_decided' is not a valid DecisionEvent" in err
        assert "agent_id: Field required" in err
        assert "stats.invalid" in err

    def test_a_model_validated_whole_keeps_invalid_events_too(self, tmp_path: Path) -> None:
        """A model's own validator failing makes the event invalid, kept with its error."""
        with EventWriter(tmp_path, "s", mode="sync", event_model=CheckedEvent) as writer:
            _log(writer).info("bought", turn_number=1, budget=5, spent=9)
        [line] = _lines(tmp_path)
        assert line["data"]["spent"] == 9
        [error] = line["data"]["_invalid"]["errors"]
        assert error["loc"] == []
        assert "spent more than the budget" in error["msg"]
        assert writer.stats.invalid == 1

    def test_a_model_check_raising_another_error_makes_the_event_invalid(
        self, tmp_path: Path
    ) -> None:
        """An exception other than a validation error from the model's own code is kept too."""
        with EventWriter(tmp_path, "s", mode="sync", event_model=GuardedEvent) as writer:
            _log(writer).info("e", turn_number=5000)
        [line] = _lines(tmp_path)
        assert line["data"]["turn_number"] == 5000
        assert line["data"]["_invalid"]["errors"] == [
            {"type": "RuntimeError", "loc": [], "msg": "the simulation never runs that long"}
        ]
        assert (writer.stats.invalid, writer.stats.failed) == (1, 0)
        with EventWriter(tmp_path / "field", "s", mode="sync", event_model=AnyEvent) as writer:
            _log(writer).info("e", number=13)
        [line] = _lines(tmp_path / "field")
        assert line["data"]["number"] == 13
        assert line["data"]["_invalid"]["errors"][0]["type"] == "LookupError"

    @given(value=awkward_values, field=st.sampled_from(["turn_number", "agent_id", "caused_by"]))
    def test_no_value_makes_a_log_call_raise_or_lose_the_event(
        self, tmp_path: Path, value: Any, field: str
    ) -> None:
        """Whatever a model field holds, the call returns and one line is written."""
        directory = tmp_path / str(next(_directories))
        with EventWriter(directory, "s", mode="sync", event_model=DecisionEvent) as writer:
            _log(writer).info("e", **{"turn_number": 1, "agent_id": "a", field: value})
        assert len(raw_lines(directory)) == 1
        assert writer.stats.written == 1
        assert writer.stats.failed == 0


class TestEmit:
    def test_an_instance_is_written_unchanged(self, tmp_path: Path) -> None:
        """emit() writes an instance of a model exactly as model_dump_json() does."""
        event = DecisionEvent(
            event_type="agent_decided",
            simulation_id="s",
            verbosity=VerbosityLevel.DECISION,
            turn_number=2,
            agent_id="a1",
            data={"choice": "buy"},
        )
        with EventWriter(tmp_path, "s", mode="sync", event_model=SimEvent) as writer:
            writer.emit(event)
        assert raw_lines(tmp_path) == [event.model_dump_json().encode() + b"\n"]

    def test_an_instance_without_verbosity_takes_event_verbosity(self, tmp_path: Path) -> None:
        """An instance built without verbosity is written at its type's event_verbosity level."""
        event = SimEvent(event_type="turn_completed", simulation_id="s", turn_number=1)
        with EventWriter(
            tmp_path, "s", mode="sync", event_verbosity={"turn_completed": "MILESTONE"}
        ) as writer:
            writer.emit(event)
        [read] = read_events(tmp_path, model=SimEvent)
        assert read.verbosity is VerbosityLevel.MILESTONE
        assert read.model_dump(exclude={"verbosity"}) == event.model_dump(exclude={"verbosity"})

    def test_an_unserializable_value_goes_through_the_fallback(self, tmp_path: Path) -> None:
        """An instance pydantic cannot serialize is still written, counted as a fallback."""
        event = LabelledEvent(
            event_type="e", simulation_id="s", turn_number=1, data={"thing": object()}
        )
        with EventWriter(tmp_path, "s", mode="sync") as writer:
            writer.emit(event)
        [line] = _lines(tmp_path)
        assert line["turn_number"] == 1
        assert line["data"]["thing"].startswith("<object object")
        assert writer.stats.fallbacks == 1
