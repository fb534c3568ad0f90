"""Writing records as events of your own models: fields validated, invalid values kept.

The writer maps a record to the envelope as for every ``Event``; record keys
naming a field of the event's model then become that field.  Each model is
written one of two ways, chosen once when the writer is built:

- **spliced**, when the model only adds fields (and perhaps its own default for
  ``event_id`` or ``timestamp``): a model of the added fields alone validates
  them.  Fields of JSON's own types (ints, text, lists, ... as SimEvent's) are
  then encoded with the envelope by the fast path, in one ``orjson`` call;
  others are serialized by pydantic and their JSON appended to the envelope's
  line.  Either way the line is the bytes ``Model(...).model_dump_json()``
  would give, at a fraction of the cost.
- **whole**, for anything else (validators, serializers or computed fields of
  its own, a redefined ``Event`` field type, a configuration that changes how
  the envelope validates or serializes): the model validates and serializes
  the whole event.

An event that does not validate is written as the plain ``Event`` a writer
without models would write, plus ``data["_invalid"]`` (see ``_models``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from copy import copy
from typing import Any, Final, cast

from pydantic import ConfigDict, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticSerializationError, SchemaSerializer, SchemaValidator, core_schema

from ._encode import encode_record
from ._event_model import Event
from ._handlers import reraise_if_from_a_signal_handler
from ._mapping import record_of_event
from ._models import (
    ENVELOPE,
    INVALID_KEY,
    EventModels,
    describe_errors,
    error_list,
    same_type,
)
from ._report import report
from ._stats import Counters
from ._verbosity import VerbosityLevel

#: ``model_config`` keys that change nothing of how the envelope validates and
#: serializes: a model setting only these (beyond ``Event``'s) can be spliced.
_NEUTRAL_CONFIG: Final = frozenset(
    {
        "title",
        "json_schema_extra",
        "json_schema_mode_override",
        "json_schema_serialization_defaults_required",
        "model_title_generator",
        "field_title_generator",
        "use_attribute_docstrings",
        "extra",
        "frozen",
        "arbitrary_types_allowed",
        "regex_engine",
        "hide_input_in_errors",
        "protected_namespaces",
        "defer_build",
        "plugin_settings",
        "cache_strings",
    }
)

#: Of those, the ones that concern how the added fields validate.
_FIELD_CONFIG: Final = frozenset(
    {"arbitrary_types_allowed", "regex_engine", "hide_input_in_errors"}
)

#: Envelope fields whose value the writer makes only when the record has none:
#: a model's own default for them applies instead.
_DEFAULTED: Final = ("event_id", "timestamp")


class TypedEncoder:
    """Encodes records as lines of their models: the writer's encoder once models are given.

    Args:
        models: the models, checked.
        counters: where invalid events are counted.
    """

    __slots__ = ("_by_type", "_counters", "_default")

    def __init__(self, models: EventModels, counters: Counters) -> None:
        self._default = _writing_of(models.default)
        self._by_type = {event_type: _writing_of(m) for event_type, m in models.by_type.items()}
        self._counters = counters

    def encode(self, record: dict[str, Any]) -> tuple[bytes, bool]:
        """Return the line of *record* (as ``RecordMapper.to_record`` made it), and whether
        a value needed a fallback.

        Never raises for an invalid value: such an event is written as a plain
        ``Event`` with ``data["_invalid"]``, counted and reported.
        """
        writing = (
            self._by_type.get(record["event_type"], self._default)
            if self._by_type
            else self._default
        )
        if writing is None:
            return encode_record(record)
        try:
            return writing.encode(record)
        except ValidationError as error:
            errors = error_list(error)
        except Exception as error:  # a validator of the model's own raising something else
            reraise_if_from_a_signal_handler(error)
            errors = [{"type": type(error).__name__, "loc": [], "msg": _message_of(error)}]
        return self._invalid(writing.model, record, errors)

    def _invalid(
        self, model: type[Event], record: dict[str, Any], errors: list[dict[str, Any]]
    ) -> tuple[bytes, bool]:
        """The line of an invalid event: the record as a plain ``Event``, with its errors."""
        record["data"][INVALID_KEY] = {"model": model.__name__, "errors": errors}
        self._counters.add(invalid=1)
        fields = ",".join(".".join(str(part) for part in e["loc"]) for e in errors)
        event_type = record["event_type"]
        report(
            f"invalid:{model.__module__}.{model.__qualname__}:{event_type}:{fields}",
            f"an event of type {event_type!r:.80} is not a valid {model.__name__} "
            f"({describe_errors(errors)}): written as a plain Event with the errors in "
            f"data[{INVALID_KEY!r}] and counted in stats.invalid (said once per model, "
            "event type and fields)",
        )
        return encode_record(record)


def encode_event(event: Event, verbosity: VerbosityLevel) -> tuple[bytes, bool]:
    """Return the line of a ready-made event written with *verbosity*, unchanged otherwise.

    A plain ``Event`` takes the fast path; an instance of your own model is
    written by pydantic, as ``event.model_dump_json()`` writes it.
    """
    if type(event) is Event:
        return encode_record(record_of_event(event, verbosity))
    if verbosity is not event.verbosity:
        event = event.model_copy(update={"verbosity": verbosity})
    return encode_instance(event)


def encode_instance(event: Event) -> tuple[bytes, bool]:
    """Return ``event.model_dump_json()`` as a line, and whether a fallback was needed.

    A value pydantic cannot serialize (an arbitrary object in ``data``) is
    written through ``encode_record``'s fallbacks instead.
    """
    try:
        return event.__pydantic_serializer__.to_json(event, warnings=False) + b"\n", False
    except PydanticSerializationError as error:
        reraise_if_from_a_signal_handler(error)
        return encode_record(dict(event))[0], True


class _Whole:
    """Writes a model by validating and serializing the whole event."""

    __slots__ = ("_fields", "_own_defaults", "_validate", "model")

    def __init__(self, model: type[Event], fields: tuple[str, ...], own: tuple[str, ...]) -> None:
        self.model = model
        self._fields = fields
        self._own_defaults = own
        self._validate = model.__pydantic_validator__.validate_python

    def encode(self, record: dict[str, Any]) -> tuple[bytes, bool]:
        """The line of *record* as an instance of the model; *record* is left as it was.

        Raises:
            ValidationError: the values are not valid for the model.
        """
        values = dict(record)
        data = values["data"] = dict(record["data"])
        for name in self._fields:
            if name in data:
                values[name] = data.pop(name)
        for name in self._own_defaults:
            if _made_by_writer(record, name):
                del values[name]
        return encode_instance(self._validate(values))


class _AddedFields:
    """A model that only adds fields (and perhaps its own ``event_id`` or ``timestamp``
    default): the added fields are validated alone, the envelope is the record's."""

    __slots__ = ("_defaults", "_fields", "_to_json", "_validate", "model")

    def __init__(self, model: type[Event], fields: tuple[str, ...], own: tuple[str, ...]) -> None:
        self.model = model
        self._fields = fields
        info = model.model_fields
        self._defaults = tuple((name, _default_of(info[name])) for name in own)
        self._validate: Callable[[Any], Any]
        self._to_json: Callable[..., bytes]

    def _validated(self, record: dict[str, Any]) -> Any:
        """Put the model's own defaults in *record*, take its fields out of ``data``, validated.

        Raises:
            ValidationError: the values are not valid for the model; *record*'s
                ``data`` holds them again (last), as logged.
        """
        for name, make in self._defaults:
            if _made_by_writer(record, name):
                record[name] = make()  # a default is not validated: as Model(...) does
        data = record["data"]
        values = {}
        for name in self._fields:
            if name in data:
                values[name] = data.pop(name)
        try:
            return self._validate(values)
        except Exception:
            data.update(values)
            raise

    def _spliced(self, record: dict[str, Any], typed: Any) -> tuple[bytes, bool]:
        """The envelope's line with the fields' JSON, from pydantic, appended."""
        line, fallback = encode_record(record)
        try:
            fields = self._to_json(typed, warnings=False)
        except Exception as error:  # a value pydantic cannot serialize: the fallbacks take it
            reraise_if_from_a_signal_handler(error)
            return encode_record({**record, **dict(typed)})[0], True
        if len(fields) <= 2:  # b"{}": every added field is excluded from the JSON
            return line, fallback
        return line[:-2] + b"," + fields[1:] + b"\n", fallback


class _Spliced(_AddedFields):
    """Added fields validated by a model of their own, their JSON appended to the envelope's."""

    __slots__ = ()

    def __init__(
        self, model: type[Event], fields: tuple[str, ...], own: tuple[str, ...], added: Any
    ) -> None:
        super().__init__(model, fields, own)
        self._validate = added.__pydantic_validator__.validate_python
        self._to_json = added.__pydantic_serializer__.to_json

    def encode(self, record: dict[str, Any]) -> tuple[bytes, bool]:
        """The line of *record*.

        Raises:
            ValidationError: the values are not valid for the model.
        """
        return self._spliced(record, self._validated(record))


class _Joined(_AddedFields):
    """Added fields of JSON's own types (see ``_writes_plainly``): validated as a dict, and
    encoded with the envelope in one ``orjson`` call."""

    __slots__ = ()

    def __init__(
        self, model: type[Event], fields: tuple[str, ...], own: tuple[str, ...], added: Any
    ) -> None:
        super().__init__(model, fields, own)
        # The model's field schemas as a typed dict: the same validation, the same
        # errors, without building an instance.
        schema = added.__pydantic_core_schema__
        as_dict = core_schema.typed_dict_schema(
            {
                name: core_schema.typed_dict_field(
                    field["schema"], required=field["schema"]["type"] != "default"
                )
                for name, field in schema["schema"]["fields"].items()
            }
        )
        self._validate = SchemaValidator(as_dict, schema.get("config")).validate_python
        self._to_json = SchemaSerializer(as_dict, schema.get("config")).to_json

    def encode(self, record: dict[str, Any]) -> tuple[bytes, bool]:
        """The line of *record*.

        Raises:
            ValidationError: the values are not valid for the model.
        """
        typed = self._validated(record)
        record.update(typed)  # after data: in the model's field order
        line, fallback = encode_record(record)
        if not fallback:
            return line, False
        for name in typed:  # a value orjson refused: pydantic writes the fields
            del record[name]
        return self._spliced(record, typed)


def _writing_of(model: type[Event]) -> _Joined | _Spliced | _Whole | None:
    """How events of *model* are written; ``None`` for the plain ``Event`` fast path."""
    if model is Event:
        return None
    fields = tuple(name for name in model.model_fields if name not in ENVELOPE)
    own = tuple(name for name in _DEFAULTED if _has_own_default(model, name))
    if not _spliceable(model):
        return _Whole(model, fields, own)
    if not fields and not own:
        return None  # adds nothing: its lines are Event's
    info = model.model_fields
    config = cast(ConfigDict, {k: v for k, v in model.model_config.items() if k in _FIELD_CONFIG})
    added = create_model(  # type: ignore[call-overload]
        f"{model.__name__}Fields",
        __config__=config,
        __module__=model.__module__,
        **{name: (info[name].annotation, copy(info[name])) for name in fields},
    )
    plain = all(
        _writes_plainly(field)
        for field in added.__pydantic_core_schema__["schema"]["fields"].values()
    )
    return (_Joined if plain else _Spliced)(model, fields, own, added)


def _has_own_default(model: type[Event], name: str) -> bool:
    info, base = model.model_fields[name], Event.model_fields[name]
    return (info.default, info.default_factory) != (base.default, base.default_factory)


def _default_of(info: FieldInfo) -> Callable[[], Any]:
    return lambda: info.get_default(call_default_factory=True, validated_data={})


def _made_by_writer(record: dict[str, Any], name: str) -> bool:
    """Whether the record's *name* (``event_id`` or ``timestamp``) is one the writer made.

    The writer makes every ``event_id``; a ``timestamp`` it stamped is text, one
    read from the record a ``datetime`` (see ``RecordMapper.to_record``).
    """
    return name == "event_id" or type(record["timestamp"]) is str


def _message_of(error: Exception) -> str:
    try:
        return str(error)
    except Exception as unprintable:
        reraise_if_from_a_signal_handler(unprintable)
        return f"<unprintable {type(error).__name__}>"


def _spliceable(model: type[Event]) -> bool:
    """Whether validating only the added fields gives what validating the model would."""
    config, base_config = model.model_config, Event.model_config
    if any(
        key not in _NEUTRAL_CONFIG and value != base_config.get(key)
        for key, value in config.items()
    ):
        return False
    decorators = model.__pydantic_decorators__
    if (
        decorators.validators
        or decorators.root_validators
        or decorators.field_serializers
        or decorators.model_serializers
        or decorators.model_validators
        or decorators.computed_fields
        or _functions(decorators.field_validators)
        != _functions(Event.__pydantic_decorators__.field_validators)
        or model.__pydantic_post_init__ is not None
    ):
        return False
    fields = model.model_fields
    return all(same_type(fields[name], Event.model_fields[name]) for name in ENVELOPE) and not any(
        info.default_factory_takes_validated_data for info in fields.values()
    )


#: Core schema types whose validated values ``orjson`` writes as pydantic does.
_PLAIN_TYPES: Final = frozenset({"int", "str", "bool", "float", "none", "any"})


def _writes_plainly(schema: Mapping[str, Any]) -> bool:
    """Whether every value a core schema validates is written alike by orjson and pydantic.

    JSON's own types, alone, optional, in lists, dicts and unions of them,
    with no serializer of their own and not left out of the JSON.  A value
    orjson refuses even so (an int beyond 64 bits) is caught by its fallback,
    and the fields are then serialized by pydantic.
    """
    if "serialization" in schema or schema.get("serialization_exclude"):
        return False
    kind = schema["type"]
    if kind in _PLAIN_TYPES:
        return True
    if kind == "literal":
        return all(type(value) in (str, int, bool, type(None)) for value in schema["expected"])
    if kind in ("default", "nullable", "model-field"):  # a default is never validated:
        # one of another type is written by pydantic as by orjson, by its own type
        return _writes_plainly(schema["schema"])
    if kind == "list":
        return _writes_plainly(schema.get("items_schema", {"type": "any"}))
    if kind == "dict":
        return _writes_plainly(schema.get("values_schema", {"type": "any"}))
    if kind == "union":
        return all(
            _writes_plainly(choice[0] if isinstance(choice, tuple) else choice)
            for choice in schema["choices"]
        )
    return False


def _functions(decorators: dict[str, Any]) -> dict[str, Any]:
    return {name: getattr(d.func, "__func__", d.func) for name, d in decorators.items()}
