"""The ``Event`` model: a pydantic model, imported only by what needs one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._event import as_utc, new_event_id, utc_now
from ._verbosity import VerbosityLevel


class Event(BaseModel):
    """One typed event: what the writer stores as one JSON line.

    ``Event.model_validate_json(line)`` reads back a stored line as an equal
    event.  ``timestamp`` is always timezone-aware UTC: an aware datetime is
    converted, a naive one is taken as local time.

    Subclass it to type fields of your own beside these (``turn_number: int``)
    and give the subclass to ``EventWriter(event_model=...)`` and to
    ``read_events(model=...)``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(default_factory=new_event_id, min_length=1)
    timestamp: datetime = Field(default_factory=utc_now)
    event_type: Annotated[str, Field(min_length=1)]
    simulation_id: str
    verbosity: VerbosityLevel = VerbosityLevel.ACTION
    level: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timestamp")
    @classmethod
    def _timestamp_in_utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @field_validator("verbosity", mode="before")
    @classmethod
    def _verbosity_by_name(cls, value: Any) -> Any:
        return VerbosityLevel.parse(value) if isinstance(value, str) else value


class ExtendedEvent(Event):
    """A line with top-level fields beyond ``Event``'s, read without its model.

    A line written with your own event model (a subclass of ``Event``) holds
    that model's fields beside the envelope.  Read without the model, it is
    still an ``Event``, with those fields in ``model_extra``.
    """

    model_config = ConfigDict(extra="allow")
