"""Verbosity levels and how a log record gets one."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class VerbosityLevel(StrEnum):
    """How much detail an event carries, from least to most verbose.

    A writer at level ``V`` keeps the events whose level is at or below ``V``:
    a writer at ``ACTION`` keeps MILESTONE, DECISION and ACTION events and drops
    STATE and DETAIL ones.  Levels compare by that order, with each other and
    with level names in any case (``VerbosityLevel.MILESTONE < "detail"``);
    comparing with anything else is a ``TypeError``.
    """

    MILESTONE = "MILESTONE"
    DECISION = "DECISION"
    ACTION = "ACTION"
    STATE = "STATE"
    DETAIL = "DETAIL"

    @property
    def rank(self) -> int:
        """Position in the hierarchy: 0 for MILESTONE up to 4 for DETAIL."""
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        return _RANK[self] < _rank_of(other)

    def __le__(self, other: object) -> bool:
        return _RANK[self] <= _rank_of(other)

    def __gt__(self, other: object) -> bool:
        return _RANK[self] > _rank_of(other)

    def __ge__(self, other: object) -> bool:
        return _RANK[self] >= _rank_of(other)

    @classmethod
    def parse(cls, value: VerbosityLevel | str) -> VerbosityLevel:
        """Return the level for an enum member or a level name in any case.

        Raises:
            ValueError: *value* names no level; the message lists the valid names.
            TypeError: *value* is neither a string nor a ``VerbosityLevel``.
        """
        if isinstance(value, VerbosityLevel):
            return value
        if not isinstance(value, str):
            raise TypeError(
                f"verbosity must be a VerbosityLevel or one of its names "
                f"({_NAMES}), not {type(value).__name__}"
            )
        level = _BY_NAME.get(value.upper())
        if level is None:
            raise ValueError(f"unknown verbosity {value!r}; valid names are {_NAMES}")
        return level


_RANK: Final[dict[VerbosityLevel, int]] = {level: rank for rank, level in enumerate(VerbosityLevel)}
_BY_NAME: Final[dict[str, VerbosityLevel]] = {level.value: level for level in VerbosityLevel}
_NAMES: Final[str] = ", ".join(level.value for level in VerbosityLevel)


def _rank_of(other: object) -> int:
    """Rank of a level or level name, for comparisons; a str compares by level, never
    alphabetically (``VerbosityLevel`` is a ``str``, so Python would otherwise
    fall back to comparing the names)."""
    try:
        return _RANK[VerbosityLevel.parse(other)]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(
            f"a VerbosityLevel compares only with levels or level names ({_NAMES}), not {other!r}"
        ) from None


#: Level of a record that names none, by the structlog method that logged it.
METHOD_VERBOSITY: Final[dict[str, VerbosityLevel]] = {
    "debug": VerbosityLevel.DETAIL,
    "info": VerbosityLevel.ACTION,
    "msg": VerbosityLevel.ACTION,
    "warning": VerbosityLevel.MILESTONE,
    "warn": VerbosityLevel.MILESTONE,
    "error": VerbosityLevel.MILESTONE,
    "err": VerbosityLevel.MILESTONE,
    "critical": VerbosityLevel.MILESTONE,
    "fatal": VerbosityLevel.MILESTONE,
    "exception": VerbosityLevel.MILESTONE,
}
