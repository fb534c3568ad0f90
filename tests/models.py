"""Event models the tests write and read: the simulation framework's, and odd ones.

``SimEvent`` and ``DecisionEvent`` are the simulation framework's models.  The
others each take one road through the writer: their own ``event_id`` or
``timestamp`` default, a validator of their own (validated whole), a field
serializer, typed fields pydantic writes in its own way.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_serializer,
    model_validator,
)

from structlog_events import Event


class SimEvent(Event):
    """The simulation framework's fields, on every event."""

    turn_number: int = Field(ge=0)
    agent_id: str | None = None
    caused_by: list[str] | None = None
    description: str | None = Field(default=None, max_length=500)
    details: dict[str, Any] | None = None


class DecisionEvent(SimEvent):
    """A decision: made by an agent, so ``agent_id`` is required."""

    agent_id: str


_ulids = itertools.count()


def next_ulid() -> str:
    """An id of the user's own kind (ULID-like: 26 characters)."""
    return f"01J{next(_ulids):023d}"


class UlidEvent(SimEvent):
    """Its own ``event_id`` default: ids of the user's kind."""

    event_id: str = Field(default_factory=next_ulid, min_length=1)


#: The simulated clock ``ClockEvent`` stamps its events with.
SIMULATED_START = datetime(2030, 1, 1, tzinfo=UTC)
_ticks = itertools.count()


def simulated_now() -> datetime:
    """The simulation's clock: a millisecond per call from ``SIMULATED_START``."""
    return SIMULATED_START + timedelta(milliseconds=next(_ticks))


class ClockEvent(Event):
    """Its own ``timestamp`` default, for records that carry no timestamp; a tick written
    as text by a serializer in its type."""

    timestamp: datetime = Field(default_factory=simulated_now)
    tick: Annotated[int, PlainSerializer(str, return_type=str)] = 0


class Mood(StrEnum):
    CALM = "calm"
    PANIC = "panic"


class Position(BaseModel):
    x: float
    y: float


def _rounded(value: Decimal) -> Decimal:
    return round(value, 2)


class RichEvent(Event):
    """Typed fields pydantic writes its own way: a decimal, an enum, a model, a time, a set."""

    price: Annotated[Decimal, AfterValidator(_rounded)] = Decimal("0")
    mood: Mood = Mood.CALM
    position: Position | None = None
    due: datetime | None = None
    tags: frozenset[str] = frozenset()
    hidden: str = Field(default="", exclude=True)


class CheckedEvent(SimEvent):
    """A validator of its own, across fields: validated whole."""

    budget: int = 0
    spent: int = 0

    @model_validator(mode="after")
    def _within_budget(self) -> Self:
        if self.spent > self.budget:
            raise ValueError("spent more than the budget")
        return self


class AuditedEvent(CheckedEvent):
    """Its own ``event_id`` and ``timestamp`` defaults, and a validator: validated whole."""

    event_id: str = Field(default_factory=next_ulid, min_length=1)
    timestamp: datetime = Field(default_factory=simulated_now)


class LabelledEvent(SimEvent):
    """A field serializer of its own (labels in sorted order): validated and serialized whole."""

    labels: set[str] = Field(default_factory=set)

    @field_serializer("labels")
    def _sorted(self, value: set[str]) -> list[str]:
        return sorted(value)


class NarrowedEvent(SimEvent):
    """An envelope field narrowed to a Literal: validated whole."""

    level: Literal["info", "warning"] = "info"


class StrippedEvent(SimEvent):
    """A configuration that changes validation (stripped text), the envelope's too: whole."""

    model_config = ConfigDict(str_strip_whitespace=True)


class SummaryEvent(SimEvent):
    """A default factory that takes the validated data, the envelope's too: whole."""

    summary: str = Field(default_factory=lambda data: f"{data['event_type']}@{data['turn_number']}")


class SecretEvent(Event):
    """Its only own field is left out of the JSON."""

    token: str = Field(default="", exclude=True)


class Thing:
    """A type pydantic knows nothing of."""


def _not_thirteen(value: int) -> int:
    if value == 13:
        raise LookupError("13 is unlucky")  # not a validation error: it escapes pydantic
    return value


class AnyEvent(Event):
    """Fields pydantic cannot always serialize (any type, an arbitrary type), and a field
    validator raising something other than a validation error: spliced."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    payload: Any = None
    thing: Thing | None = None
    number: Annotated[int, AfterValidator(_not_thirteen)] = 0


class GuardedEvent(SimEvent):
    """A model whose own checks raise something other than a validation error."""

    def model_post_init(self, context: Any) -> None:
        if self.turn_number > 1000:
            raise RuntimeError("the simulation never runs that long")


#: Every model the property tests write, by name.
MODELS: dict[str, type[Event]] = {
    model.__name__: model
    for model in (
        SimEvent,
        DecisionEvent,
        UlidEvent,
        ClockEvent,
        RichEvent,
        CheckedEvent,
        AuditedEvent,
        LabelledEvent,
        NarrowedEvent,
        StrippedEvent,
        SummaryEvent,
        SecretEvent,
    )
}
