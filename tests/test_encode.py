"""encode_record: the fast path equals pydantic's output; fallbacks never fail."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from structlog_events import Event, VerbosityLevel
from structlog_events._encode import encode_record
from structlog_events._mapping import record_of_event

from .strategies import _BadRepr, _circular, _nested, awkward_values, json_data, unicode_text


def _record(data: dict[str, Any]) -> dict[str, Any]:
    return record_of_event(Event(event_type="e", simulation_id="s", data={})) | {"data": data}


def _strict_loads(line: bytes) -> Any:
    """Parse with the stdlib, refusing NaN/Infinity the way strict parsers do."""

    def refuse(name: str) -> None:
        raise ValueError(f"non-standard constant {name}")

    return json.loads(line.decode("utf-8"), parse_constant=refuse)


class TestFastPath:
    @given(
        event_type=unicode_text.filter(bool),
        data=json_data,
        verbosity=st.sampled_from(VerbosityLevel),
        level=st.none() | st.sampled_from(["debug", "info", "warning"]),
    )
    def test_identical_to_model_dump_json(
        self, event_type: str, data: dict[str, Any], verbosity: VerbosityLevel, level: str | None
    ) -> None:
        """The orjson fast path writes exactly the bytes of model_dump_json() plus a newline."""
        event = Event(
            event_type=event_type, simulation_id="sim", verbosity=verbosity, level=level, data=data
        )
        line, fallback = encode_record(record_of_event(event))
        assert not fallback
        assert line == event.model_dump_json().encode() + b"\n"

    def test_microsecond_zero_timestamp(self) -> None:
        """A timestamp with no microseconds is written the way pydantic writes it."""
        event = Event(event_type="e", simulation_id="s", timestamp=datetime(2024, 1, 1))
        line, _ = encode_record(record_of_event(event))
        assert line == event.model_dump_json().encode() + b"\n"

    @pytest.mark.parametrize("data", ["{'n': 1}", "{'bad': 2**70}"])
    def test_lines_hold_no_spare_buffer(self, data: str) -> None:
        """20,000 queued lines of ~250 bytes take a few MB, not orjson's 4 KiB buffer each."""
        script = f"""
from structlog_events import Event
from structlog_events._encode import encode_record
from structlog_events._mapping import record_of_event

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

record = record_of_event(Event(event_type="e", simulation_id="s", data={data}))
before = rss_kib()
lines = [encode_record(record)[0] for _ in range(20_000)]
print(rss_kib() - before)
"""
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
        )
        growth_mib = int(result.stdout) / 1024
        assert growth_mib < 20, f"{growth_mib:.0f} MiB for 20,000 lines"


class TestFallbacks:
    @given(value=awkward_values)
    def test_any_value_gives_one_strict_json_line(self, value: Any) -> None:
        """Whatever the data holds, the result is one line a strict JSON parser accepts."""
        line, _ = encode_record(_record({"value": value}))
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1
        parsed = _strict_loads(line)
        Event.model_validate_json(line)
        assert set(parsed["data"]) == {"value"}

    def test_big_int_becomes_text(self) -> None:
        """An int beyond 64 bits is written as its decimal text, flagged as a fallback."""
        line, fallback = encode_record(_record({"n": 2**70}))
        assert fallback
        assert orjson.loads(line)["data"]["n"] == str(2**70)

    def test_lone_surrogate_is_escaped(self) -> None:
        """A lone surrogate is spelled out, not dropped and not an error."""
        line, fallback = encode_record(_record({"s": "a\udc80b"}))
        assert fallback
        assert orjson.loads(line)["data"]["s"] == "a\\udc80b"

    def test_non_str_keys(self) -> None:
        """Non-string keys become text the way orjson's OPT_NON_STR_KEYS spells them."""
        line, _ = encode_record(_record({"m": {1: "a", None: "b", 2.5: "d"}, "t": {True: 0}}))
        data = orjson.loads(line)["data"]
        assert data == {"m": {"1": "a", "null": "b", "2.5": "d"}, "t": {"true": 0}}

    def test_circular_reference_is_cut(self) -> None:
        """A structure that contains itself is written with a marker where it loops."""
        line, fallback = encode_record(_record({"c": _circular()}))
        assert fallback
        assert orjson.loads(line)["data"]["c"]["self"] == "<circular reference: dict>"

    def test_deep_nesting_is_cut(self) -> None:
        """Nesting 300 deep is written, cut off with a marker past the depth limit."""
        line, fallback = encode_record(_record({"deep": _nested(300)}))
        assert fallback
        assert b"nested deeper than" in line

    def test_shared_but_not_circular_is_kept(self) -> None:
        """The same list twice in one structure is not mistaken for a loop."""
        shared = [1, 2]
        line, _ = encode_record(_record({"a": shared, "b": shared, "bad": 2**70}))
        data = orjson.loads(line)["data"]
        assert data["a"] == data["b"] == [1, 2]

    def test_decimal_bytes_sets_and_bad_repr(self) -> None:
        """Decimal and bytes become natural text, sets lists, a raising repr a marker."""
        line, fallback = encode_record(
            _record({"d": Decimal("1.10"), "b": b"\xffok", "s": {3}, "r": _BadRepr()})
        )
        assert fallback
        data = orjson.loads(line)["data"]
        assert data == {"d": "1.10", "b": "\\xffok", "s": [3], "r": "<unrepresentable _BadRepr>"}

    def test_nan_is_null(self) -> None:
        """NaN and infinities become null, which strict parsers accept."""
        line, _ = encode_record(_record({"x": math.nan, "y": math.inf}))
        assert _strict_loads(line)["data"] == {"x": None, "y": None}

    def test_u2028_stays_inside_one_line(self) -> None:
        """U+2028 is written raw inside its string: the line splits only on newline."""
        line, _ = encode_record(_record({"t": "a\u2028b"}))
        assert line.count(b"\n") == 1
        assert orjson.loads(line)["data"]["t"] == "a\u2028b"


class Money:
    """A value with structlog's ``__structlog__`` hook."""

    def __init__(self, cents: int) -> None:
        self.cents = cents

    def __structlog__(self) -> Any:
        return {"amount": self.cents / 100, "currency": "EUR", "raw": Decimal("0.5")}


class Plain:
    def __structlog__(self) -> str:
        return "plain text"


class Broken:
    def __structlog__(self) -> str:
        raise RuntimeError("cannot")

    def __repr__(self) -> str:
        return "<Broken>"


class TestStructlogHook:
    def test_written_as_what_structlog_returns_like_json_renderer(self) -> None:
        """A value with __structlog__() is written as its result, as JSONRenderer writes it."""
        line, fallback = encode_record(_record({"v": Plain(), "n": 1}))
        assert not fallback
        rendered = structlog.processors.JSONRenderer()(None, "info", {"v": Plain(), "n": 1})
        assert orjson.loads(line)["data"] == json.loads(rendered)

    def test_a_result_orjson_refuses_goes_through_the_fallback(self) -> None:
        """A __structlog__ result holding a Decimal is still written, as a fallback."""
        line, fallback = encode_record(_record({"price": Money(250)}))
        assert fallback
        assert orjson.loads(line)["data"]["price"] == {
            "amount": 2.5, "currency": "EUR", "raw": "0.5",
        }  # fmt: skip

    def test_used_in_the_fallback_path_too(self) -> None:
        """When another value needs the fallback, __structlog__ values are still their result."""
        line, fallback = encode_record(_record({"v": Plain(), "big": 2**70}))
        assert fallback
        assert orjson.loads(line)["data"]["v"] == "plain text"

    def test_a_hook_that_raises_is_described(self) -> None:
        """A __structlog__ that raises gives the value's repr, never an error."""
        line, fallback = encode_record(_record({"v": Broken()}))
        assert fallback
        assert orjson.loads(line)["data"]["v"] == "<Broken>"
