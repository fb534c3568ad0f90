"""Interrupts at every line: Ctrl-C, and signal handlers that log or close.

Python runs signal handlers, and raises ``KeyboardInterrupt``, on the main
thread between two bytecodes.  Instead of hoping a flood of real signals lands
at the right moment, these tests step through every line the package runs in
the calling thread during a log call, a ``flush()`` or a ``close()`` (a trace
function counts them) and, in one run per line, interrupt exactly there: by
raising ``KeyboardInterrupt``, or by running a "signal handler" that logs or
closes the writer.  Each run must finish (no hang: it runs in a thread with a
deadline), and the accounting must be exact: every line in the file is counted
written, nothing is there twice, nothing acknowledged is missing.

``test_signals.py`` does the same with real signals in real processes.
"""

from __future__ import annotations

import contextlib
import dis
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import pytest

import structlog_events
from structlog_events import EventWriter, WriteMode, _sinks

from ..helpers import log

PACKAGE = str(Path(structlog_events.__file__).parent)

#: Seconds one interrupted run may take before it counts as a hang.
DEADLINE = 20.0


#: A ``try:`` line compiles to a NOP outside every exception handler: CPython
#: runs no handler for an exception a trace function raises there.  A real
#: signal is never handled at a NOP (only where the interpreter checks for
#: pending calls), so those lines are not interrupted.
NOP = dis.opmap["NOP"]


class Interrupt:
    """A trace function that runs *action* at the *at*-th line the package runs in its thread."""

    def __init__(self, at: int, action: Callable[[], None]) -> None:
        self.at = at
        self.action = action
        self.lines = 0
        self.fired = False

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            return self if frame.f_code.co_filename.startswith(PACKAGE) else None
        if event == "line" and not self.fired and frame.f_code.co_code[frame.f_lasti] != NOP:
            self.lines += 1
            if self.lines == self.at:
                self.fired = True
                self.action()  # what it raises goes into the traced line
        return self

    @contextlib.contextmanager
    def armed(self) -> Any:
        previous = sys.gettrace()  # coverage's, when it measures: given back after
        sys.settrace(self)
        try:
            yield
        finally:
            sys.settrace(previous)


def names_in(directory: Path) -> list[str]:
    path = directory / "events.jsonl"
    content = path.read_bytes() if path.exists() else b""
    assert content == b"" or content.endswith(b"\n"), "torn line"
    return [orjson.loads(line)["event_type"] for line in content.splitlines()]


def ctrl_c() -> None:
    raise KeyboardInterrupt


class HandlerError(Exception):
    """What a signal handler raises, as a timeout built on ``signal.alarm`` does."""


def handler_raises() -> None:
    raise HandlerError


def run_with_deadline(scenario: Callable[[], None]) -> None:
    """Run *scenario* in a thread; fail if it hangs or raises."""
    failure: list[BaseException] = []

    def body() -> None:
        try:
            scenario()
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), "hung"
    if failure:
        raise failure[0]


def lines_run(operation: Callable[[], object]) -> int:
    """How many lines of the package *operation* runs in the calling thread."""
    counter = Interrupt(at=0, action=lambda: None)
    with counter.armed():
        operation()
    return counter.lines


@pytest.fixture(autouse=True)
def _as_on_the_main_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run goes in a thread of its own (so a hang can be caught), treated as the main
    thread: the one where Python runs signal handlers and raises KeyboardInterrupt."""
    monkeypatch.setattr(_sinks, "signals_land_here", lambda: True)


def every_line(
    tmp_path: Path,
    setup: Callable[[Path], EventWriter],
    operation: Callable[[EventWriter], object],
    action: Callable[[EventWriter], Callable[[], None]],
    check: Callable[[EventWriter, Path, bool], None],
) -> int:
    """Run *operation* once per line it runs, interrupted there by *action*; *check* each run.

    A run may take fewer lines than the first (a wait that polls loops fewer
    times, another thread that did part of the work first): one that ends
    before its line was reached has nothing to check, and is only closed.
    Most lines must be reached.

    Returns:
        The number of lines interrupted.
    """
    probe_dir = tmp_path / "probe"
    probe = setup(probe_dir)
    total = lines_run(lambda: operation(probe))
    probe.close()
    assert total > 5
    reached = 0
    for at in range(1, total + 1):
        directory = tmp_path / f"at-{at}"

        def scenario(at: int = at, directory: Path = directory) -> None:
            nonlocal reached
            writer = setup(directory)
            interrupt = Interrupt(at, action(writer))
            interrupted = False
            try:
                with interrupt.armed():
                    operation(writer)
            except (KeyboardInterrupt, HandlerError):
                interrupted = True
            if not interrupt.fired:
                assert writer.close(timeout=10)
                return
            reached += 1
            check(writer, directory, interrupted)

        try:
            run_with_deadline(scenario)
        except BaseException as error:
            raise AssertionError(f"interrupted at line {at} of {total}: {error!r}") from error
    assert reached >= total // 2, f"only {reached} of {total} lines reached"
    return reached


def fresh(mode: WriteMode, *, logged: tuple[str, ...] = ()) -> Callable[[Path], EventWriter]:
    def setup(directory: Path) -> EventWriter:
        writer = EventWriter(directory, "sim", mode=mode)
        for name in logged:
            log(writer, name)
        return writer

    return setup


def at_shutdown(mode: WriteMode) -> Callable[[Path], EventWriter]:
    """A writer as a worker process's end leaves it: every caller waits for its line."""

    def setup(directory: Path) -> EventWriter:
        writer = EventWriter(directory, "sim", mode=mode)
        log(writer, "before")
        writer._parts.sink.wait_in_callers(time.monotonic() + 60)
        return writer

    return setup


@pytest.fixture(params=[WriteMode.SYNC, WriteMode.ASYNC], ids=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> WriteMode:
    return request.param  # type: ignore[no-any-return]


class TestCtrlCAtEveryLine:
    @pytest.mark.parametrize("first", [True, False], ids=["first-call", "later-call"])
    def test_a_log_call(self, tmp_path: Path, mode: WriteMode, first: bool) -> None:
        """Ctrl-C anywhere in a log call (the first one starts the writer thread): no hang; the
        event is written once or not at all; the next call and close() work."""
        logged = () if first else ("before",)

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            log(writer, "after")
            assert writer.close(timeout=10)
            names = names_in(directory)
            assert names in ([*logged, "hit", "after"], [*logged, "after"])
            assert names == [*logged, "hit", "after"] or interrupted
            assert (writer.stats.written, writer.stats.failed) == (len(names), 0)

        every_line(
            tmp_path, fresh(mode, logged=logged), lambda w: log(w, "hit"), lambda w: ctrl_c, check
        )

    def test_flush_and_close(self, tmp_path: Path, mode: WriteMode) -> None:
        """Ctrl-C anywhere in flush() or close(): a later close() writes everything and says so."""
        logged = tuple(f"e{n}" for n in range(20))

        def operation(writer: EventWriter) -> None:
            writer.flush()
            writer.close()

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            assert writer.close(timeout=10)
            assert writer.flush(timeout=10)
            assert names_in(directory) == list(logged)
            assert writer.stats.written == len(logged)

        every_line(tmp_path, fresh(mode, logged=logged), operation, lambda w: ctrl_c, check)

    def test_close_with_other_threads_waiting(self, tmp_path: Path, mode: WriteMode) -> None:
        """Ctrl-C anywhere in close() (or in the wait that ends it) never leaves the threads
        waiting for the same outcome behind: their flush() and close() return."""
        logged = tuple(f"e{n}" for n in range(20))
        waiters: list[threading.Thread] = []

        def setup(directory: Path) -> EventWriter:
            writer = fresh(mode, logged=logged)(directory)
            waiters[:] = [
                threading.Thread(target=call, daemon=True)
                for call in (writer.flush, writer.close, writer.flush)
            ]
            for waiter in waiters:
                waiter.start()
            return writer

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            assert writer.close(timeout=10)
            for waiter in waiters:
                waiter.join(timeout=10)
                assert not waiter.is_alive(), "a waiter was left behind"
            assert names_in(directory) == list(logged)

        every_line(tmp_path, setup, lambda w: w.close(), lambda w: ctrl_c, check)

    def test_a_log_call_at_shutdown(self, tmp_path: Path, mode: WriteMode) -> None:
        """At interpreter shutdown every caller waits for its line: Ctrl-C anywhere leaves the
        writer whole, and the event is written once or not at all."""

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            log(writer, "after")
            assert writer.close(timeout=10)
            names = names_in(directory)
            assert names in (["before", "hit", "after"], ["before", "after"])
            assert names == ["before", "hit", "after"] or interrupted
            assert (writer.stats.written, writer.stats.failed) == (len(names), 0)

        every_line(tmp_path, at_shutdown(mode), lambda w: log(w, "hit"), lambda w: ctrl_c, check)


class TestSignalHandlerAtEveryLine:
    def test_a_handler_that_logs(self, tmp_path: Path, mode: WriteMode) -> None:
        """A handler logging in the middle of a log call returns, its event on disk (SYNC) or
        queued (ASYNC); both events are written once."""

        def handler(writer: EventWriter) -> Callable[[], None]:
            def run() -> None:
                log(writer, "handler")
                if mode is WriteMode.SYNC:
                    assert "handler" in names_in(writer.output_dir), "returned before durable"

            return run

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            assert not interrupted
            assert writer.close(timeout=10)
            assert sorted(names_in(directory)) == ["before", "handler", "outer"]
            assert writer.stats.written == 3

        every_line(
            tmp_path, fresh(mode, logged=("before",)), lambda w: log(w, "outer"), handler, check
        )

    def test_a_handler_that_raises(self, tmp_path: Path, mode: WriteMode) -> None:
        """A handler's exception reaches the program (never swallowed while the call waits),
        or, landing in the writer's own mapping of the record, fails that event, counted."""

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            log(writer, "after")
            closed = writer.close(timeout=10)
            names = names_in(directory)
            assert names in (["before", "outer", "after"], ["before", "after"])
            stats = writer.stats
            assert stats.written == len(names)
            assert interrupted or stats.failed == 1 or "outer" in names
            assert stats.failed == (0 if interrupted or "outer" in names else 1)
            assert closed

        every_line(
            tmp_path,
            fresh(mode, logged=("before",)),
            lambda w: log(w, "outer"),
            lambda w: handler_raises,
            check,
        )

    def test_a_handler_that_closes(self, tmp_path: Path, mode: WriteMode) -> None:
        """A handler closing the writer in the middle of a log call: no hang, exact counts."""

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            assert not interrupted
            assert writer.close(timeout=10)  # the same outcome as the handler's close
            names = names_in(directory)
            assert names in (["before", "outer"], ["before"])
            assert (writer.stats.written, writer.stats.failed) == (len(names), 2 - len(names))

        every_line(
            tmp_path,
            fresh(mode, logged=("before",)),
            lambda w: log(w, "outer"),
            lambda w: lambda: assert_true(w.close(timeout=10)),
            check,
        )

    def test_a_handler_that_closes_during_close(self, tmp_path: Path, mode: WriteMode) -> None:
        """close() from a handler that interrupted close() waits for the same outcome."""
        logged = tuple(f"e{n}" for n in range(20))

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            assert not interrupted
            assert writer.close(timeout=10)
            assert names_in(directory) == list(logged)

        every_line(
            tmp_path,
            fresh(mode, logged=logged),
            lambda w: assert_true(w.close(timeout=10)),
            lambda w: lambda: assert_true(w.close(timeout=10)),
            check,
        )

    def test_a_handler_that_logs_at_shutdown(self, tmp_path: Path, mode: WriteMode) -> None:
        """At shutdown a handler's event, like the caller's, is on disk when its call returns."""

        def handler(writer: EventWriter) -> Callable[[], None]:
            def run() -> None:
                log(writer, "handler")
                assert "handler" in names_in(writer.output_dir), "returned before durable"

            return run

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            assert not interrupted
            assert "outer" in names_in(directory), "returned before durable"
            assert writer.close(timeout=10)
            assert sorted(names_in(directory)) == ["before", "handler", "outer"]

        every_line(tmp_path, at_shutdown(mode), lambda w: log(w, "outer"), handler, check)


def assert_true(value: bool) -> None:
    assert value
