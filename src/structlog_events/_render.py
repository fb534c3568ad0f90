"""The readable form of an event: one aligned line, and its traceback under it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Final

import click
import orjson

from ._event_model import Event
from ._query import MISSING, FieldPath, json_dumps, level_rank, own_fields
from ._traceback import traceback_lines
from ._verbosity import VerbosityLevel

#: Keys of ``data`` shown as indented lines under the event rather than as
#: ``key=value``: structlog's and the stdlib bridge's traceback and stack.
BLOCK_KEYS: Final = frozenset({"exception", "stack"})

#: What the level column shows for an event stored without a level.
NO_LEVEL: Final = "-"

_LEVEL_WIDTH: Final = len("exception")
_VERBOSITY_WIDTH: Final = max(len(level.value) for level in VerbosityLevel)
_TYPE_WIDTH: Final = 24
_BLOCK_INDENT: Final = "    "

#: Styles by level rank, most severe first: the first whose rank is reached applies.
_LEVEL_STYLES: Final[tuple[tuple[int, dict[str, Any]], ...]] = (
    (50, {"fg": "white", "bg": "red", "bold": True}),  # critical
    (40, {"fg": "red", "bold": True}),  # error, exception
    (30, {"fg": "yellow", "bold": True}),  # warning
    (20, {"fg": "green"}),  # info
    (0, {"fg": "blue"}),  # debug
)


def format_time(value: datetime | None) -> str:
    """A UTC time as the readable form shows it, ``-`` for none."""
    return "-" if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def level_style(level: str | None) -> dict[str, Any]:
    """The ``click.style`` arguments for a level: red for errors, yellow for warnings."""
    rank = level_rank(level)
    if rank is None:
        return {}
    return next((style for floor, style in _LEVEL_STYLES if rank >= floor), {"dim": True})


class ReadableForm:
    """Turns events into readable text: time, level, verbosity, type, then ``key=value``.

    Events merged from several sources name theirs after the time.
    The values shown are the fields of the event's own model (those not
    ``None``) and all of ``data``, or the chosen *fields* in their order
    (labelled as given, left out where an event has none).  A traceback
    (``exception``, ``stack``) follows on indented lines, laid out as Python
    prints it.  Control characters never reach the terminal raw: text holding
    one is shown JSON-quoted.
    """

    def __init__(self, *, color: bool, fields: Sequence[FieldPath] | None = None) -> None:
        self._color = color
        self._fields = fields

    def render(self, event: Event, *, source: str | None = None) -> str:
        """The lines of *event*, joined by newlines (no newline at the end).

        Args:
            event: the event.
            source: where it was read, shown after the time (padded by the caller).
        """
        color = self._color
        stamp = format_time(event.timestamp)
        if source is not None:
            stamp = f"{stamp}  {safe_text(source)}"
        level = (event.level or NO_LEVEL).ljust(_LEVEL_WIDTH)
        verbosity = event.verbosity.value.ljust(_VERBOSITY_WIDTH)
        event_type = safe_text(event.event_type).ljust(_TYPE_WIDTH)
        if color:
            stamp = click.style(stamp, dim=True)
            level = click.style(safe_text(level), **level_style(event.level))
            verbosity = click.style(verbosity, dim=True)
            event_type = click.style(event_type, bold=True)
        else:
            level = safe_text(level)
        pairs: list[str] = []
        block: list[str] = []
        for label, value, data_key in self._shown(event):
            lines = traceback_lines(value) if data_key in BLOCK_KEYS else None
            if lines is not None:
                block.extend(_BLOCK_INDENT + safe_text(line) if line else "" for line in lines)
            else:
                key = safe_text(label)
                pairs.append(f"{click.style(key, fg='cyan') if color else key}={_value(value)}")
        head = "  ".join(
            [stamp, level, verbosity, event_type, *([" ".join(pairs)] if pairs else [])]
        )
        return "\n".join([head.rstrip(), *block])

    def _shown(self, event: Event) -> Iterator[tuple[str, Any, str | None]]:
        """``(label, value, data key)`` for each value shown, in order."""
        if self._fields is None:
            for key, value in own_fields(event):
                if value is not None:  # an unset optional field: noise on every line
                    yield key, value, None
            for key, value in event.data.items():
                yield key, value, key
            return
        for path in self._fields:
            value = path.get(event)
            if value is not MISSING:
                yield path.key, value, path.data_key


def safe_text(value: str) -> str:
    """*value* as is, or JSON-quoted if it holds a control character (one line, no escapes)."""
    if any(char < " " or char in "\x7f\u2028\u2029" for char in value):
        return orjson.dumps(value).decode()
    return value


def _value(value: Any) -> str:
    """A shown value: plain text if it is one word, else JSON (quoted strings, compact)."""
    if (
        isinstance(value, str)
        and value
        and not any(char <= " " or char in '"=\x7f\u2028\u2029' for char in value)
    ):
        return value
    return json_dumps(value).decode()
