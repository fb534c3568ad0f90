"""make_filtering_bound_logger: drop at the call what the writer would drop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import structlog

from structlog_events import EventWriter, VerbosityLevel, make_filtering_bound_logger

from .helpers import MakeWriter, read_events


def _logger(writer: EventWriter, seen: list[str]) -> Any:
    def spy(_: Any, method: str, event_dict: Any) -> Any:
        seen.append(f"{method}:{event_dict['event']}")
        return event_dict

    structlog.configure(
        processors=[spy, writer],
        wrapper_class=make_filtering_bound_logger(writer),
        cache_logger_on_first_use=True,
    )
    return structlog.get_logger()


class TestFilteringBoundLogger:
    def test_dropped_methods_never_reach_a_processor(self, tmp_path: Path) -> None:
        """At ACTION, debug calls return before any processor runs; info calls go through."""
        writer = EventWriter(tmp_path, "sim", verbosity="ACTION", mode="sync")
        seen: list[str] = []
        log = _logger(writer, seen)
        log.debug("noise", x=1)
        log.info("kept")
        writer.close()
        assert seen == ["info:kept"]
        assert [e.event_type for e in read_events(tmp_path)] == ["kept"]

    def test_verbosity_key_still_promotes(self, tmp_path: Path) -> None:
        """A debug call with verbosity=MILESTONE is not lost to the fast path."""
        writer = EventWriter(tmp_path, "sim", verbosity="DECISION", mode="sync")
        seen: list[str] = []
        log = _logger(writer, seen)
        log.debug("promoted", verbosity="MILESTONE")
        log.info("dropped")
        log.info("also_dropped_by_writer", verbosity="STATE")
        writer.close()
        assert [e.event_type for e in read_events(tmp_path)] == ["promoted"]
        assert seen == ["debug:promoted"]

    @pytest.mark.parametrize("named", ["DETAIL", "detail", "Detail", VerbosityLevel.DETAIL])
    def test_verbosity_key_naming_a_dropped_level_is_dropped_at_the_call(
        self, tmp_path: Path, named: object
    ) -> None:
        """info(..., verbosity=DETAIL) at ACTION never reaches a processor."""
        writer = EventWriter(tmp_path, "sim", verbosity="ACTION", mode="sync")
        seen: list[str] = []
        log = _logger(writer, seen)
        log.info("chatty", verbosity=named)
        log.warning("also_chatty", verbosity=named)
        log.info("odd_spelling", verbosity="dEtAiL")
        log.info("unhashable", verbosity=["DETAIL"])
        log.info("kept", verbosity="MILESTONE")
        writer.close()
        assert seen == ["info:odd_spelling", "info:unhashable", "info:kept"]
        assert [e.event_type for e in read_events(tmp_path)] == ["unhashable", "kept"]

    def test_event_verbosity_still_promotes(self, tmp_path: Path) -> None:
        """An event type the mapping raises to a kept level passes the fast path."""
        writer = EventWriter(
            tmp_path, "sim", verbosity="ACTION", mode="sync",
            event_verbosity={"turn_completed": "MILESTONE", "hidden": "DETAIL"},
        )  # fmt: skip
        seen: list[str] = []
        log = _logger(writer, seen)
        log.debug("turn_completed", turn=1)
        log.debug("other")
        log.info("hidden")
        writer.close()
        assert [e.event_type for e in read_events(tmp_path)] == ["turn_completed"]
        assert seen == ["debug:turn_completed", "info:hidden"]

    @pytest.mark.parametrize(
        ("verbosity", "reaching"),
        [
            ("MILESTONE", {"warning", "error", "critical", "exception"}),
            ("ACTION", {"info", "msg", "warning", "error", "critical", "exception"}),
            ("DETAIL", {"debug", "info", "msg", "warning", "error", "critical", "exception"}),
        ],
    )
    def test_which_methods_reach_the_processors(
        self, verbosity: str, reaching: set[str], make_writer: MakeWriter
    ) -> None:
        """Exactly the methods whose default level the writer keeps reach the processors."""
        writer = make_writer(verbosity=verbosity, mode="sync")
        seen: list[str] = []
        log = _logger(writer, seen)
        methods = ("debug", "info", "msg", "warning", "error", "critical", "exception")
        for method in methods:
            getattr(log, method)(method)  # the event is named after the method called
        assert {entry.split(":")[1] for entry in seen} == reaching

    @pytest.mark.parametrize(("verbosity", "looked_at"), [("DETAIL", False), ("ACTION", True)])
    def test_nothing_is_checked_at_the_call_when_nothing_is_dropped(
        self, verbosity: str, looked_at: bool, make_writer: MakeWriter
    ) -> None:
        """At DETAIL no method looks at a call's verbosity= key: the writer alone decides."""
        hashed: list[str] = []

        class Watched(str):
            __slots__ = ()

            def __hash__(self) -> int:
                hashed.append(str(self))
                return str.__hash__(self)

        writer = make_writer(verbosity=verbosity)
        log = _logger(writer, [])
        for name in ("debug", "info", "msg", "warning", "error", "critical", "exception"):
            getattr(log, name)(name, verbosity=Watched("MILESTONE"))
        log.log(logging.INFO, "log", verbosity=Watched("MILESTONE"))
        assert bool(hashed) is looked_at

    def test_non_string_event_goes_through(self, tmp_path: Path) -> None:
        """An unhashable event never raises in the fast path: the writer decides."""
        writer = EventWriter(
            tmp_path, "sim", verbosity="ACTION", mode="sync", event_verbosity={"x": "MILESTONE"}
        )
        log = _logger(writer, [])
        log.debug(["not", "hashable"])
        writer.close()
        assert read_events(tmp_path) == []


#: Every log method structlog's own filtering class has, with its async twin.
METHODS = ("debug", "info", "msg", "warning", "warn", "error", "critical", "fatal", "exception")


def reached(seen: list[str]) -> set[str]:
    return {entry.split(":")[1] for entry in seen}


class TestAsyncAndLevelMethods:
    @pytest.mark.parametrize("verbosity", ["MILESTONE", "ACTION", "DETAIL"])
    def test_async_methods_filter_like_their_sync_twins(
        self, verbosity: str, make_writer: MakeWriter
    ) -> None:
        """await log.adebug(...) and the others reach the processors exactly as the sync calls."""
        writer = make_writer(verbosity=verbosity, mode="sync")
        sync_seen: list[str] = []
        log = _logger(writer, sync_seen)
        for method in METHODS:
            getattr(log, method)(method)
        async_seen: list[str] = []
        log = _logger(writer, async_seen)

        async def call_every_async_method() -> None:
            for method in METHODS:
                await getattr(log, f"a{method}")(method)

        asyncio.run(call_every_async_method())
        assert reached(async_seen) == reached(sync_seen)
        assert len(reached(sync_seen)) < len(METHODS) or verbosity == "DETAIL"

    def test_log_and_alog_drop_as_the_level_method_does(self, tmp_path: Path) -> None:
        """log(level, ...) and alog(level, ...) drop as the level's method does, promotions kept."""
        writer = EventWriter(tmp_path, "sim", verbosity="ACTION", mode="sync")
        seen: list[str] = []
        log = _logger(writer, seen)

        def calls(prefix: str) -> list[tuple[Any, ...]]:
            return [
                (logging.DEBUG, f"{prefix}debug", {}),
                (logging.INFO, f"{prefix}info", {}),
                (logging.DEBUG, f"{prefix}promoted", {"verbosity": "MILESTONE"}),
                (logging.WARNING, f"{prefix}demoted", {"verbosity": "DETAIL"}),
            ]

        for level, event, kw in calls(""):
            log.log(level, event, **kw)

        async def call_alog() -> None:
            for level, event, kw in calls("a_"):
                await log.alog(level, event, **kw)

        asyncio.run(call_alog())
        writer.close()
        assert seen == ["info:info", "debug:promoted", "info:a_info", "debug:a_promoted"]
        assert [e.event_type for e in read_events(tmp_path)] == [
            "info", "promoted", "a_info", "a_promoted",
        ]  # fmt: skip

    def test_aexception_keeps_the_exception(self, tmp_path: Path) -> None:
        """await log.aexception() inside except writes the exception being handled."""
        writer = EventWriter(tmp_path, "sim", verbosity="MILESTONE", mode="sync")
        log = _logger(writer, [])

        async def fail() -> None:
            try:
                raise KeyError("k")
            except KeyError:
                await log.aexception("failed")
                await log.ainfo("dropped", exc_info=True)

        asyncio.run(fail())
        writer.close()
        [event] = read_events(tmp_path)
        assert event.data["exception"][0]["exc_type"] == "KeyError"


class TestKeeps:
    def test_keeps(self, make_writer: MakeWriter) -> None:
        """keeps() answers by level order and accepts names."""
        writer = make_writer(verbosity="ACTION")
        assert writer.keeps("milestone")
        assert writer.keeps("ACTION")
        assert not writer.keeps("STATE")
        with pytest.raises(ValueError, match="unknown verbosity"):
            writer.keeps("loud")
