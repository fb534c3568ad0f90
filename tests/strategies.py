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
