"""Event models: checked at construction, read line by line, their JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import duckdb
import pytest
from pydantic import BaseModel, Field

from structlog_events import Event, EventWriter
from structlog_events._models import EventModels
from structlog_events._scan import LineProblem, ScannedLine

from .helpers import MakeWriter, log
from .models import DecisionEvent, SimEvent
from .test_reader import append


class _Aliased(Event):
    turn: int = Field(default=0, alias="turnNumber")


class _NamedEvent(Event):
    event: str = ""


class _ListData(Event):
    data: list[str] = Field(default_factory=list)  # type: ignore[assignment]


class _NumberedType(Event):
    event_type: int  # type: ignore[assignment]


class _Narrowed(Event):
    event_type: Literal["agent_decided"] = "agent_decided"
    level: str = "info"


class _Unfinished(Event):
    later: Later  # type: ignore[name-defined]  # noqa: F821 - defined nowhere


class TestCheckedAtConstruction:
    @pytest.mark.parametrize(
        "model", [BaseModel, SimEvent(event_type="e", simulation_id="s", turn_number=1), dict]
    )
    def test_not_an_event_subclass_is_a_type_error(self, tmp_path: Path, model: Any) -> None:
        """A model that is not a subclass of Event is a TypeError showing how to write one."""
        with pytest.raises(TypeError, match=r"event_model must be a subclass of .*Event, such as"):
            EventWriter(tmp_path, "s", event_model=model)

    @pytest.mark.parametrize(
        ("models", "message"),
        [
            ([SimEvent], r"event_models must be a mapping of event type to model"),
            ({1: SimEvent}, r"event_models keys must be event types \(str\), not int 1"),
            ({"e": BaseModel}, r"event_models\['e'\] must be a subclass of .*Event"),
        ],
    )
    def test_models_per_type_wrong_shape_is_a_type_error(
        self, tmp_path: Path, models: Any, message: str
    ) -> None:
        """event_models must map event types to Event subclasses; the message says which part."""
        with pytest.raises(TypeError, match=message):
            EventWriter(tmp_path, "s", event_models=models)

    @pytest.mark.parametrize(
        ("model", "message"),
        [
            (_Aliased, r"_Aliased.turn has the alias 'turnNumber'.*remove the alias"),
            (_NamedEvent, r"a field 'event'.*event name.*rename the field"),
            (_ListData, r"redefines the Event field 'data' as list\[str\], which is JSON array"),
            (
                _NumberedType,
                r"redefines the Event field 'event_type' as int, which is JSON integer",
            ),
            (_Unfinished, r"_Unfinished is not fully defined.*model_rebuild\(\)"),
        ],
    )
    def test_a_model_the_writer_cannot_write_is_a_value_error(
        self, tmp_path: Path, model: type[Event], message: str
    ) -> None:
        """Aliases, consumed record keys, envelope fields of another JSON type are refused."""
        with pytest.raises(ValueError, match=message):
            EventWriter(tmp_path, "s", event_model=model)
        with pytest.raises(ValueError, match=message):
            EventModels(None, {"e": model})

    def test_narrowing_an_envelope_field_is_accepted(
        self, tmp_path: Path, make_writer: MakeWriter
    ) -> None:
        """A Literal event_type or a required level keeps within the envelope: accepted."""
        writer = make_writer(tmp_path, "s", event_models={"agent_decided": _Narrowed})
        assert writer.event_models == {"agent_decided": _Narrowed}
        assert writer.event_model is Event


def rows(query: str) -> list[tuple[Any, ...]]:
    """The rows DuckDB gives for *query*."""
    relation = duckdb.sql(query)
    assert relation is not None, "a SELECT gives a relation"
    return relation.fetchall()


def _line(model: type[Event], **fields: Any) -> bytes:
    event = model(event_type=fields.pop("event_type", "e"), simulation_id="s", **fields)
    return event.model_dump_json().encode()


class TestParseLine:
    models = EventModels(SimEvent, {"agent_decided": DecisionEvent})

    def test_each_line_is_the_model_of_its_type(self) -> None:
        """A line becomes an instance of its event type's model, or of the default model."""
        decided = self.models.parse_line(
            Path("f"),
            1,
            _line(DecisionEvent, event_type="agent_decided", turn_number=1, agent_id="a"),
        )
        other = self.models.parse_line(Path("f"), 2, _line(SimEvent, turn_number=2))
        assert isinstance(decided, ScannedLine)
        assert type(decided.event) is DecisionEvent
        assert isinstance(other, ScannedLine)
        assert type(other.event) is SimEvent

    def test_an_event_not_valid_as_its_model_is_invalid_naming_model_and_field(self) -> None:
        """A line of another model is an invalid problem naming the model, type and field."""
        problem = self.models.parse_line(
            Path("f"), 3, _line(SimEvent, event_type="agent_decided", turn_number=1)
        )
        assert problem == LineProblem(
            Path("f"),
            3,
            "not a valid DecisionEvent (event type 'agent_decided'): agent_id: Input should "
            "be a valid string",
            invalid=True,
        )

    def test_an_event_the_writer_kept_invalid_is_invalid_with_its_errors(self) -> None:
        """A line with data._invalid is invalid, even if it validates, with the writer's errors."""
        marker = {"model": "SimEvent", "errors": [{"loc": ["turn_number"], "msg": "too small"}]}
        line = _line(SimEvent, turn_number=0, data={"_invalid": marker})
        problem = self.models.parse_line(Path("f"), 1, line)
        assert isinstance(problem, LineProblem)
        assert problem.invalid
        assert "turn_number: too small; the writer kept it as an Event" in problem.reason

    def test_a_line_that_is_no_event_is_corrupt(self) -> None:
        """A line that is not even an Event is corrupt, not invalid."""
        problem = self.models.parse_line(Path("f"), 1, b'{"event_type": 3}')
        assert isinstance(problem, LineProblem)
        assert not problem.invalid
        assert problem.reason.startswith("not a valid Event")


class TestJsonSchema:
    def test_one_model_is_its_own_schema(self) -> None:
        """With one model, the schema is the model's own."""
        assert EventModels(SimEvent, None).json_schema() == SimEvent.model_json_schema()

    def test_models_per_type_are_a_union_each_with_its_event_types(self) -> None:
        """Per-type models form a oneOf: each model with its event type, the default with others."""
        schema = EventModels(SimEvent, {"agent_decided": DecisionEvent}).json_schema()
        assert schema["oneOf"] == [
            {
                "allOf": [{"$ref": "#/$defs/DecisionEvent"}],
                "properties": {"event_type": {"const": "agent_decided"}},
            },
            {
                "allOf": [{"$ref": "#/$defs/SimEvent"}],
                "properties": {"event_type": {"not": {"enum": ["agent_decided"]}}},
            },
        ]
        assert schema["$defs"]["DecisionEvent"]["required"] == [
            "event_type",
            "simulation_id",
            "turn_number",
            "agent_id",
        ]
        assert schema["$defs"]["SimEvent"]["properties"]["turn_number"]["minimum"] == 0


class TestDownstreamEngines:
    def test_duckdb_reads_a_run_once_with_typed_columns(self, tmp_path: Path) -> None:
        """One DuckDB query over rotated, gzipped and live files gets each event once, typed."""
        run = tmp_path / "sim-42"
        for compress, turns in ((True, range(40)), (False, range(40, 80))):
            with EventWriter(
                run,
                "sim-42",
                mode="sync",
                max_file_size=2_000,
                compress=compress,
                event_model=SimEvent,
                event_models={"agent_decided": DecisionEvent},
            ) as writer:
                for turn in turns:
                    log(
                        writer,
                        event="agent_decided" if turn % 2 else "tick",
                        turn_number=turn,
                        agent_id=f"a{turn % 3}",
                        caused_by=[f"e{turn}"],
                        price=turn / 2,
                    )
        names = [path.name for path in run.iterdir()]
        assert any(name.endswith(".jsonl.gz") for name in names)
        assert any(name.endswith(".jsonl") and name != "events.jsonl" for name in names)
        append(run / "events.jsonl", b'{"event_id": "torn')  # a write in progress
        # The README's one-liner: a torn line is skipped as a row of nulls.
        query = (
            f"SELECT * FROM read_json('{run}/events*.jsonl*', format='newline_delimited', "
            "union_by_name=true, ignore_errors=true) WHERE event_id IS NOT NULL"
        )
        columns = {name: kind for name, kind, *_ in rows(f"DESCRIBE {query}")}
        assert columns["turn_number"] == "BIGINT"
        assert columns["agent_id"] == "VARCHAR"
        assert columns["caused_by"] == "VARCHAR[]"
        assert columns["timestamp"] == "TIMESTAMP WITH TIME ZONE"
        [counts] = rows(
            f"SELECT count(*), count(DISTINCT event_id), count(DISTINCT turn_number) FROM ({query})"
        )
        assert counts == (80, 80, 80)
        by_agent = rows(
            f"SELECT agent_id, count(*) FROM ({query}) WHERE turn_number >= 40 GROUP BY ALL "
            "ORDER BY agent_id"
        )
        assert by_agent == [("a0", 13), ("a1", 14), ("a2", 13)]
