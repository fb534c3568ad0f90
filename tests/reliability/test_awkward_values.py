"""Awkward values: every log call gives one valid JSON line or a counted failure.

Arbitrary nested Python values, among them lone surrogates, non-str keys,
NaN and infinities, integers beyond 64 bits, Decimal, bytes, sets, datetimes,
nesting 300 deep, circular references, U+2028 and objects whose ``__repr__``
raises.  No exception reaches the caller, and the file stays valid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog import DropEvent

from structlog_events import Event

from ..helpers import MakeWriter
from ..strategies import awkward_values, keys


class _KeyWithBadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr refuses")

    def __hash__(self) -> int:
        return 1


#: Keys of every kind a dict may have, including one whose repr raises.
awkward_keys = st.one_of(
    keys,
    st.integers(),
    st.floats(),
    st.none(),
    st.booleans(),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),
    st.builds(_KeyWithBadRepr),
)

records = st.dictionaries(
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=10).filter(
        lambda key: key not in ("event", "simulation_id", "verbosity", "level", "timestamp")
    ),
    awkward_values,
    max_size=4,
).flatmap(
    lambda data: st.dictionaries(awkward_keys, awkward_values, max_size=3).map(
        lambda odd: {**data, "odd_keys": odd}
    )
)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strictly_valid(line: bytes) -> bool:
    """One line, UTF-8, strict JSON (no NaN), a valid ``Event``."""
    if not line.endswith(b"\n") or b"\n" in line[:-1]:
        return False
    try:
        json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
        Event.model_validate_json(line)
    except ValueError:
        return False
    return True


class TestAwkwardValues:
    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_every_call_gives_a_valid_line_or_a_counted_failure(
        self, tmp_path: Path, mode: str, make_writer: MakeWriter
    ) -> None:
        """Whatever the values, a log call never raises and the file holds only valid lines."""
        writer = make_writer(mode=mode)
        calls = 0

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(record=records)
        def log_one(record: dict[str, Any]) -> None:
            nonlocal calls
            calls += 1
            with pytest.raises(DropEvent):
                writer(None, "info", {"event": "awkward", **record})

        log_one()
        assert writer.flush(timeout=60)
        content = (tmp_path / "events.jsonl").read_bytes()
        assert content.endswith(b"\n")
        # Split on b"\n" only: orjson leaves U+2028 raw, and splitlines() splits there.
        lines = [line + b"\n" for line in content.split(b"\n")[:-1]]
        bad = [line[:200] for line in lines if not strictly_valid(line)]
        assert not bad
        stats = writer.stats
        assert stats.written == len(lines)
        assert stats.written + stats.failed == calls
        assert stats.fallbacks > 0  # the awkward values did reach the fallback

    def test_the_check_rejects_what_strict_parsers_reject(self) -> None:
        """NaN, a lone surrogate's raw bytes and a line split in two are not valid lines."""
        line = Event(event_type="e", simulation_id="s").model_dump_json().encode() + b"\n"
        assert strictly_valid(line)
        assert not strictly_valid(line.replace(b'"data":{}', b'"data":{"x":NaN}'))
        assert not strictly_valid(line.replace(b'"data":{}', b'"data":{"x":"\xed\xa0\x80"}'))
        assert not strictly_valid(line[:20] + b"\n" + line[20:])
