"""Your own event models: checking them, the model of each event type, their JSON Schema.

A user subclasses ``Event`` to add typed top-level fields, and gives the writer
(or a reader) one model for every event and, optionally, one per event type.
``EventModels`` holds that choice, checked once; the writer's side of it is in
``_typed``, the reader's is ``EventModels.parse_line``.

An event whose values do not validate as its model is written as a plain
``Event`` (every value as logged, in ``data``) with the validation errors in
``data["_invalid"]``: ``{"model": "DecisionEvent", "errors": [{"type":
"missing", "loc": ["agent_id"], "msg": "Field required"}]}``, pydantic's own
error form without the input.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Union

from pydantic import Discriminator, Tag, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic.json_schema import models_json_schema

from ._event_model import Event
from ._scan import LineProblem, ScannedLine, parse_line

#: The key of ``data`` holding the validation errors of an invalid event.
INVALID_KEY: Final = "_invalid"

#: The fields every event has, ``Event``'s own: what every reader relies on.
ENVELOPE: Final = tuple(Event.model_fields)

#: Record keys the writer consumes before fields are chosen: a model field of
#: this name could never be set from a log call.
_CONSUMED_KEYS: Final = {
    "event": "the record's event name, which becomes event_type",
    "exc_info": "how structlog passes an exception, which becomes data['exception']",
}

#: The JSON types of each envelope field: an override must keep within them, so
#: that every line of the model still reads as an ``Event``.
_ENVELOPE_JSON_TYPES: Final = {
    "event_id": {"string"},
    "timestamp": {"string"},
    "event_type": {"string"},
    "simulation_id": {"string"},
    "verbosity": {"string"},
    "level": {"string", "null"},
    "data": {"object"},
}

#: Tag of the default model in the union read back: not a possible dict key of
#: ``models`` in practice, since event types never hold a NUL.
_DEFAULT_TAG: Final = "\x00default"


class EventModels:
    """The models events are written and read as: a default one, and one per event type.

    Args:
        model: the model of events whose type has no model of its own;
            ``None`` for ``Event``.
        models: a model per event type.
        option: how the caller names the two options, for error messages:
            ``("event_model", "event_models")`` for the writer.

    Raises:
        TypeError: a model is not a subclass of ``Event``, or *models* is not
            a mapping of event type (str) to such a model.
        ValueError: a model cannot be written as given (see ``check_model``).
    """

    def __init__(
        self,
        model: Any = None,
        models: Any = None,
        *,
        option: tuple[str, str] = ("model", "models"),
    ) -> None:
        model_option, models_option = option
        self.default: type[Event] = Event if model is None else check_model(model, model_option)
        self.by_type: dict[str, type[Event]] = {}
        self._union: TypeAdapter[Event] | None = None
        if models is None:
            return
        if not isinstance(models, Mapping):
            raise TypeError(
                f"{models_option} must be a mapping of event type to model, such as "
                f"{{'agent_decided': DecisionEvent}}, or None, not {type(models).__name__}"
            )
        for event_type, typed in models.items():
            if not isinstance(event_type, str):
                raise TypeError(
                    f"{models_option} keys must be event types (str), not "
                    f"{type(event_type).__name__} {event_type!r}"
                )
            self.by_type[event_type] = check_model(typed, f"{models_option}[{event_type!r}]")

    @property
    def typed(self) -> bool:
        """Whether any event has a model other than ``Event``."""
        return self.default is not Event or any(m is not Event for m in self.by_type.values())

    def model_for(self, event_type: str) -> type[Event]:
        """The model of events of *event_type*."""
        return self.by_type.get(event_type, self.default)

    def all_models(self) -> list[type[Event]]:
        """Every model once: the per-type ones in order, then the default."""
        return list(dict.fromkeys([*self.by_type.values(), self.default]))

    # -- reading ------------------------------------------------------------------

    def validate_json(self, raw: bytes) -> Event:
        """Return the line *raw* as an instance of the model of its event type.

        Raises:
            ValidationError: the line is not a valid instance of that model
                (see ``field_errors`` for its errors by field).
        """
        if not self.by_type:
            return self.default.model_validate_json(raw)
        if self._union is None:
            self._union = _union_adapter(self.default, self.by_type)
        return self._union.validate_json(raw)

    def field_errors(self, error: ValidationError) -> list[Any]:
        """The errors of ``validate_json``, located by the model's fields.

        The union of models per event type puts its tag first in each
        location; it is taken off.
        """
        details = error.errors(include_url=False, include_context=False, include_input=False)
        if self.by_type:
            for detail in details:
                detail["loc"] = detail["loc"][1:]
        return details

    def parse_line(self, path: Path, line_number: int, raw: bytes) -> ScannedLine | LineProblem:
        """Read one line as its model: a ``ScannedLine``, or the problem with it.

        A line that is an ``Event`` but not a valid instance of its model (the
        writer found it invalid, or it was written with another model) is an
        *invalid* problem naming the model and the fields; a line that is not
        even an ``Event`` is corrupt, as without models.
        """
        try:
            event = self.validate_json(raw)
        except ValidationError as error:
            plain = parse_line(path, line_number, raw)
            if isinstance(plain, LineProblem):
                return plain
            reason = self._invalid_reason(plain.event, self.field_errors(error))
            return LineProblem(path, line_number, reason, invalid=True)
        if INVALID_KEY in event.data:
            return LineProblem(path, line_number, self._invalid_reason(event, None), invalid=True)
        return ScannedLine(path, line_number, raw, event)

    def _invalid_reason(self, event: Event, errors: list[Any] | None) -> str:
        """Why *event* is not its model: the errors the writer kept, else *errors*."""
        model = self.model_for(event.event_type).__name__
        marker = event.data.get(INVALID_KEY)
        kept = marker.get("errors") if isinstance(marker, dict) else None
        if isinstance(kept, list):
            written = "; the writer kept it as an Event with the errors in data['_invalid']"
            errors = kept
        else:
            written = ""
        return (
            f"not a valid {model} (event type {event.event_type!r:.80}): "
            f"{describe_errors(errors or [])}{written}"
        )

    # -- the schema ---------------------------------------------------------------

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of an event line: the default model's, or the union per event type.

        With models per event type, each alternative of ``oneOf`` is a model
        with the event types it applies to: ``event_type`` is the type for a
        model of its own, and none of those for the default model.

        Raises:
            pydantic.errors.PydanticInvalidForJsonSchema: a field's type has
                no JSON Schema.
        """
        if not self.by_type:
            return self.default.model_json_schema()
        refs, schema = models_json_schema([(model, "validation") for model in self.all_models()])
        alternatives = [
            {
                "allOf": [refs[(model, "validation")]],
                "properties": {"event_type": {"const": event_type}},
            }
            for event_type, model in self.by_type.items()
        ]
        alternatives.append(
            {
                "allOf": [refs[(self.default, "validation")]],
                "properties": {"event_type": {"not": {"enum": list(self.by_type)}}},
            }
        )
        return {
            "title": f"{self.default.__name__} event line",
            "description": "One line of an event file: the model of its event type.",
            "oneOf": alternatives,
            **schema,
        }


def check_model(model: Any, option: str) -> type[Event]:
    """Return *model* if events can be written and read as it.

    Its fields are written under their names and read back by them, every
    line must still read as an ``Event`` (the envelope every reader relies
    on), and each field must be reachable from a log call.

    Raises:
        TypeError: *model* is not a subclass of ``Event``.
        ValueError: a field has an alias; a field is named ``event`` or
            ``exc_info`` (record keys the writer consumes); an ``Event`` field
            is redefined with a type whose JSON is not the envelope's (an
            ``event_type`` that is not a string, a ``data`` that is not an
            object); or the model is not fully defined.
    """
    if not (isinstance(model, type) and issubclass(model, Event)):
        raise TypeError(
            f"{option} must be a subclass of structlog_events.Event, such as "
            f"`class SimEvent(Event): turn_number: int`, not {model!r}"
        )
    name = model.__name__
    if not model.__pydantic_complete__ and not model.model_rebuild(raise_errors=False):
        raise ValueError(
            f"{option} {name} is not fully defined (a type it names is not defined yet): "
            f"define it, then call {name}.model_rebuild()"
        )
    for field, info in model.model_fields.items():
        alias = info.alias or info.validation_alias or info.serialization_alias
        if alias is not None:
            raise ValueError(
                f"{option} {name}.{field} has the alias {alias!r}: events are written and "
                "read back under their field names, and a record key names the field; "
                "remove the alias (and any alias_generator)"
            )
        if field in _CONSUMED_KEYS:
            raise ValueError(
                f"{option} {name} has a field {field!r}, but that record key is "
                f"{_CONSUMED_KEYS[field]}: a log call can never set it; rename the field"
            )
        if field in _ENVELOPE_JSON_TYPES and not same_type(info, Event.model_fields[field]):
            _check_envelope_field(model, field, info, option)
    return model


def same_type(info: FieldInfo, other: FieldInfo) -> bool:
    """Whether two fields have the same type and constraints (defaults aside)."""
    return info.annotation == other.annotation and info.metadata == other.metadata


def describe_errors(errors: list[Any]) -> str:
    """Validation errors on one line: ``loc: msg`` for the first three, and how many more."""
    shown = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc') or ()) or 'event'}: {error.get('msg')}"
        for error in errors[:3]
        if isinstance(error, dict)
    )
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"{shown}{more}"


def error_list(error: ValidationError) -> list[dict[str, Any]]:
    """The errors as ``data["_invalid"]["errors"]`` holds them: type, location, message."""
    return [
        {"type": detail["type"], "loc": list(detail["loc"]), "msg": detail["msg"]}
        for detail in error.errors(include_url=False, include_context=False, include_input=False)
    ]


def _check_envelope_field(model: type[Event], field: str, info: FieldInfo, option: str) -> None:
    """Refuse a redefined ``Event`` field whose JSON types are not within the envelope's."""
    expected = _ENVELOPE_JSON_TYPES[field]
    try:
        field_type: Any = Annotated[info.annotation, info]
        schema = TypeAdapter(field_type).json_schema()
        found = _json_types(schema, schema.get("$defs", {}))
    except Exception:  # a type without a JSON Schema: what it writes is unknown
        found = {"unknown"}
    if not found <= expected:
        shown = " or ".join(sorted(found))
        raise ValueError(
            f"{option} {model.__name__} redefines the Event field {field!r} as "
            f"{_type_name(info.annotation)}, which is JSON {shown}; every event line "
            f"holds {' or '.join(sorted(expected))} there and must still read as an Event: "
            f"keep its type, or narrow it (a Literal, a subtype)"
        )


def _json_types(schema: Any, defs: dict[str, Any]) -> set[str]:
    """The JSON types a schema admits: ``{"any"}`` where it does not say."""
    if not isinstance(schema, dict):
        return {"any"}
    if "$ref" in schema:
        return _json_types(defs.get(schema["$ref"].rsplit("/", 1)[-1]), defs)
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            return set().union(*(_json_types(part, defs) for part in schema[combined]))
    if "type" in schema:
        kinds = schema["type"]
        return set(kinds) if isinstance(kinds, list) else {kinds}
    values = [schema["const"]] if "const" in schema else schema.get("enum")
    if values is not None:
        return {_json_type_of(value) for value in values}
    return {"any"}


def _json_type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number" if isinstance(value, float) else "integer"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _type_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else repr(annotation)


def _union_adapter(default: type[Event], by_type: Mapping[str, type[Event]]) -> TypeAdapter[Event]:
    """A pydantic union of the models, discriminated by ``event_type``."""

    def tag_of(value: Any) -> str:
        event_type = value.get("event_type") if isinstance(value, dict) else None
        return event_type if isinstance(event_type, str) and event_type in by_type else _DEFAULT_TAG

    members = [Annotated[model, Tag(event_type)] for event_type, model in by_type.items()]
    members.append(Annotated[default, Tag(_DEFAULT_TAG)])
    # Union[...] of a tuple: the members are known only at run time.
    union: Any = Annotated[Union[tuple(members)], Discriminator(tag_of)]  # noqa: UP007
    adapter: TypeAdapter[Event] = TypeAdapter(union)
    return adapter
