"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

#: Text of every kind orjson writes raw: any code point but lone surrogates,
#: U+2028/U+2029 and control characters included.
unicode_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)

keys = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)

#: Values JSON holds as they are (what pydantic and orjson encode alike).
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | unicode_text
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)
json_data = st.dictionaries(keys, json_values, max_size=6)

aware_datetimes = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr refuses")


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _circular() -> dict[str, Any]:
    value: dict[str, Any] = {"name": "loop"}
    value["self"] = value
    return value


#: Values orjson refuses or changes: each must still give one valid JSON line.
awkward_scalars = st.one_of(
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),  # lone surrogates
    st.integers(min_value=2**64, max_value=2**200) | st.integers(max_value=-(2**63) - 1),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.decimals(allow_nan=False),
    st.binary(max_size=8),
    st.frozensets(st.integers(), max_size=3),
    st.sets(st.text(max_size=3), max_size=3),
    st.datetimes(),
    st.sampled_from(["line\u2028separator", "para\u2029graph", "nul\x00byte"]),
    st.builds(_BadRepr),
    st.builds(object),
    st.just(_nested(300)),
    st.builds(_circular),
    st.just(Decimal("1e-400")),
)
awkward_values: st.SearchStrategy[Any] = st.recursive(
    awkward_scalars | json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(
            st.one_of(keys, st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False)),
            children,
            max_size=3,
        )
    ),
    max_leaves=8,
)


# -- records of the event models in tests/models.py -----------------------------------

_optional_text = st.none() | unicode_text
_sim_fields = {
    "agent_id": _optional_text,
    "caused_by": st.none() | st.lists(unicode_text, max_size=3),
    "description": st.none() | st.text(st.characters(exclude_categories=["Cs"]), max_size=500),
    "details": st.none() | json_data,
}
_turn_number = st.integers(min_value=0, max_value=2**100)  # beyond 64 bits too
_sim_record = st.fixed_dictionaries({"turn_number": _turn_number}, optional=_sim_fields)


def _within_budget(values: dict[str, Any]) -> dict[str, Any]:
    budget = values.get("budget", 0)
    return {**values, "spent": min(values.get("spent", 0), budget)}


#: For each model of ``tests/models.py``, the record keys of a valid event.
model_fields: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "SimEvent": _sim_record,
    "DecisionEvent": st.fixed_dictionaries(
        {"turn_number": _turn_number, "agent_id": unicode_text},
        optional={k: v for k, v in _sim_fields.items() if k != "agent_id"},
    ),
    "UlidEvent": _sim_record,
    "ClockEvent": st.fixed_dictionaries({}, optional={"tick": st.integers(0, 2**40)}),
    "RichEvent": st.fixed_dictionaries(
        {},
        optional={
            "price": st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False),
            "mood": st.sampled_from(["calm", "panic"]),
            "position": st.none()
            | st.fixed_dictionaries(
                {
                    "x": st.floats(allow_nan=False, allow_infinity=False),
                    "y": st.floats(allow_nan=False, allow_infinity=False),
                }
            ),
            "due": st.none() | aware_datetimes,
            "tags": st.frozensets(unicode_text, max_size=3),
        },
    ),
    "CheckedEvent": st.fixed_dictionaries(
        {"turn_number": _turn_number},
        optional={"budget": st.integers(0, 100), "spent": st.integers(0, 100), **_sim_fields},
    ).map(_within_budget),
    "AuditedEvent": st.fixed_dictionaries(
        {"turn_number": _turn_number},
        optional={"budget": st.integers(0, 100), "spent": st.integers(0, 100), **_sim_fields},
    ).map(_within_budget),
    "LabelledEvent": st.fixed_dictionaries(
        {"turn_number": _turn_number},
        optional={"labels": st.sets(unicode_text, max_size=4), **_sim_fields},
    ),
    "NarrowedEvent": _sim_record,
    "StrippedEvent": _sim_record,
    "SummaryEvent": _sim_record,
    "SecretEvent": st.just({}),
}

#: Keys a record's data may not use: the writer's own, and the fields of any test model.
_RESERVED_KEYS = frozenset(
    {
        "event",
        "exc_info",
        "exception",
        "level",
        "timestamp",
        "verbosity",
        "simulation_id",
        "_record",
        "_from_structlog",
        "_invalid",
        "turn_number",
        "agent_id",
        "caused_by",
        "description",
        "details",
        "tick",
        "price",
        "mood",
        "position",
        "due",
        "tags",
        "hidden",
        "budget",
        "spent",
        "labels",
        "summary",
        "token",
        "payload",
    }
)

#: The other keys of a record: what goes to ``data``.
record_data = st.dictionaries(
    keys.filter(lambda key: key not in _RESERVED_KEYS), json_values, max_size=4
)
