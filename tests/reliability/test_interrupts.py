"""Interrupts at every point: Ctrl-C, and signal handlers that log or close.

Python runs signal handlers, and raises ``KeyboardInterrupt``, on the main
thread, and only where the interpreter checks for pending calls: as a
function starts, after every call returns (a call into C included, such as
``os.write``), and at every backward jump of a loop.  Instead of hoping a
flood of real signals lands at the right moment, these tests step through
every such point the package passes in the calling thread during a log call,
a ``flush()`` or a ``close()`` (a trace function that sees each bytecode
finds them) and, in one run per point, interrupt exactly there: by raising
``KeyboardInterrupt``, or by running a "signal handler" that logs or closes
the writer.  Each run must finish (no hang: it runs in a thread with a
deadline, treated as the main thread), and the accounting
must be exact: every line in the file is counted written, nothing is there
twice, nothing acknowledged is missing.

``test_signals.py`` does the same with real signals in real processes.
"""

from __future__ import annotations

import contextlib
import dis
import gc
import itertools
import linecache
import sys
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import orjson
import pytest

import structlog_events
from structlog_events import EventWriter, WriteMode, _sinks

from ..helpers import log

#: Each run goes in a thread of its own, treated as the main thread (see the fixture).
pytestmark = pytest.mark.usefixtures("as_on_the_main_thread")

PACKAGE = str(Path(structlog_events.__file__).parent)

#: Seconds one interrupted run may take before it counts as a hang.
DEADLINE = 20.0

#: Where the interpreter checks for pending signals: after these return normally...
CALLS = frozenset(dis.opmap[name] for name in ("CALL", "CALL_FUNCTION_EX"))
#: ... at these when they jump back (a loop's next pass) ...
BACKWARD_JUMPS = frozenset(
    code
    for name, code in dis.opmap.items()
    if "JUMP_BACKWARD" in name and "NO_INTERRUPT" not in name
)
#: ... and at a function's start (``RESUME`` with an argument below 2).
RESUME = dis.opmap["RESUME"]


@cache
def next_offsets(code: CodeType) -> dict[int, int]:
    """The offset of the instruction after each one, in the order they are laid out."""
    offsets = [instruction.offset for instruction in dis.get_instructions(code)]
    return dict(itertools.pairwise(offsets))


class Interrupt:
    """A trace function that runs *action* at the *at*-th point of the package, in its
    thread, where the interpreter would run a signal handler."""

    def __init__(self, at: int, action: Callable[[], None]) -> None:
        self.at = at
        self.action = action
        self.points = 0
        self.fired = False
        self._previous: dict[FrameType, int] = {}  # offset of each frame's last instruction

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            if not frame.f_code.co_filename.startswith(PACKAGE):
                return None
            frame.f_trace_lines = False
            frame.f_trace_opcodes = True
        elif event == "return":
            self._previous.pop(frame, None)
        elif event == "opcode" and not self.fired:
            offset = frame.f_lasti
            previous = self._previous.get(frame)
            self._previous[frame] = offset
            if self._is_a_point(frame.f_code, previous, offset):
                self.points += 1
                if self.points == self.at:
                    self.fired = True
                    self.action()  # what it raises goes into the instruction
        return self

    @staticmethod
    def _is_a_point(code: CodeType, previous: int | None, offset: int) -> bool:
        if previous is None:
            raw = code.co_code
            return raw[offset] == RESUME and raw[offset + 1] < 2
        last = code.co_code[previous]
        if last in CALLS:
            return next_offsets(code).get(previous) == offset  # returned, not raised
        return last in BACKWARD_JUMPS and offset < previous

    @contextlib.contextmanager
    def armed(self) -> Any:
        # No collection in the run: a writer dropped by an earlier run would be
        # closed by its finalizer wherever the collector happened to run.
        previous = sys.gettrace()  # coverage's, when it measures: given back after
        gc.disable()
        sys.settrace(self)
        try:
            yield
        finally:
            sys.settrace(previous)
            gc.enable()


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


def points_passed(operation: Callable[[], object]) -> int:
    """At how many points of the package *operation* could be interrupted, in its thread."""
    counter = Interrupt(at=0, action=lambda: None)
    with counter.armed():
        operation()
    return counter.points


def every_point(
    tmp_path: Path,
    setup: Callable[[Path], EventWriter],
    operation: Callable[[EventWriter], object],
    action: Callable[[EventWriter], Callable[[], None]],
    check: Callable[[EventWriter, Path, bool], None],
) -> int:
    """Run *operation* once per point it passes, interrupted there by *action*; *check* each run.

    A run may pass fewer points than the first (a wait that polls loops fewer
    times, another thread that did part of the work first): one that ends
    before its point was reached has nothing to check, and is only closed.
    Most points must be reached.

    Returns:
        The number of points interrupted.
    """
    probe_dir = tmp_path / "probe"
    probe = setup(probe_dir)
    total = points_passed(lambda: operation(probe))
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
            raise AssertionError(f"interrupted at point {at} of {total}: {error!r}") from error
    assert reached >= total // 2, f"only {reached} of {total} points reached"
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


def queueing_offsets() -> dict[CodeType, int]:
    """Where each sink's ``submit`` has queued the caller's line: the offset of the call that
    appends it (``_put`` for a worker at its end)."""
    offsets = {}
    for submit in (_sinks.SyncSink.submit, _sinks.QueuedSink.submit):
        code = submit.__code__
        calls = [
            instruction
            for instruction in dis.get_instructions(code)
            if instruction.opname == "CALL"
            and instruction.positions is not None
            and instruction.positions.lineno is not None
            and any(
                text in linecache.getline(code.co_filename, instruction.positions.lineno)
                for text in ("queue.append(", "self._put(")
            )
        ]
        assert calls, submit
        offsets[code] = min(call.offset for call in calls)
    return offsets


class Queueing:
    """Knows, at any point of a log call, whether the call has queued its line yet: its sink's
    ``submit`` returned, or is past the call that appends the line."""

    def __init__(self) -> None:
        self.offsets = queueing_offsets()
        self.returned = False
        self.queued: list[bool] = []  # noted at each interrupt

    def watch(self, writer: EventWriter) -> EventWriter:
        self.returned = False
        sink = writer._parts.sink
        submit = sink.submit

        def watched(line: bytes) -> None:
            self.returned = False
            submit(line)
            self.returned = True

        sink.submit = watched  # type: ignore[method-assign]
        return writer

    def ctrl_c(self) -> None:
        """Ctrl-C, noting first whether the interrupted log call had queued its line."""
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and frame.f_code not in self.offsets:
            frame = frame.f_back
        in_submit = frame is not None and frame.f_lasti > self.offsets[frame.f_code]
        self.queued.append(self.returned or in_submit)
        raise KeyboardInterrupt


class TestCtrlCAtEveryPoint:
    @pytest.mark.parametrize("first", [True, False], ids=["first-call", "later-call"])
    def test_a_log_call(self, tmp_path: Path, mode: WriteMode, first: bool) -> None:
        """Ctrl-C anywhere in a log call (the first one starts the writer thread): no hang; the
        event is written, once, exactly if its line was queued; the next call and close()
        work."""
        logged = () if first else ("before",)
        queueing = Queueing()

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            log(writer, "after")
            assert writer.close(timeout=10)
            names = names_in(directory)
            assert names in ([*logged, "hit", "after"], [*logged, "after"])
            assert names == [*logged, "hit", "after"] or interrupted
            if interrupted:
                assert ("hit" in names) == queueing.queued[-1], "written exactly if queued"
            assert (writer.stats.written, writer.stats.failed) == (len(names), 0)

        every_point(
            tmp_path,
            lambda directory: queueing.watch(fresh(mode, logged=logged)(directory)),
            lambda w: log(w, "hit"),
            lambda w: queueing.ctrl_c,
            check,
        )
        assert any(queueing.queued)
        assert not all(queueing.queued)

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

        every_point(tmp_path, fresh(mode, logged=logged), operation, lambda w: ctrl_c, check)

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

        every_point(tmp_path, setup, lambda w: w.close(), lambda w: ctrl_c, check)

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

        every_point(tmp_path, at_shutdown(mode), lambda w: log(w, "hit"), lambda w: ctrl_c, check)


class TestSignalHandlerAtEveryPoint:
    def test_a_handler_that_logs(self, tmp_path: Path, mode: WriteMode) -> None:
        """A handler logging in the middle of a log call returns; in SYNC its event is on disk
        when its call returns, or, if it interrupted its own thread's write, when the
        interrupted call returns; both events are written once."""
        interrupted_own_write: list[bool] = []

        def handler(writer: EventWriter) -> Callable[[], None]:
            def run() -> None:
                own_write = writer._parts.sink._drain_is_mine()
                interrupted_own_write.append(own_write)
                log(writer, "handler")
                if mode is WriteMode.SYNC and not own_write:
                    assert "handler" in names_in(writer.output_dir), "returned before durable"

            return run

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            assert not interrupted
            if mode is WriteMode.SYNC:
                assert {"handler", "outer"} <= set(names_in(directory)), "returned before durable"
            assert writer.close(timeout=10)
            assert sorted(names_in(directory)) == ["before", "handler", "outer"]
            assert writer.stats.written == 3

        every_point(
            tmp_path, fresh(mode, logged=("before",)), lambda w: log(w, "outer"), handler, check
        )
        if mode is WriteMode.SYNC:
            assert any(interrupted_own_write), "no handler interrupted the caller's own write"

    def test_a_handler_that_raises(self, tmp_path: Path, mode: WriteMode) -> None:
        """A handler's exception reaches the program wherever it lands (while the writer
        maps the record, writes it or waits), never swallowed or counted as the writer's
        error; the event is written once or not at all."""

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            assert interrupted, "the handler's exception was swallowed"
            log(writer, "after")
            assert writer.close(timeout=10)
            names = names_in(directory)
            assert names in (["before", "outer", "after"], ["before", "after"])
            assert (writer.stats.written, writer.stats.failed) == (len(names), 0)

        every_point(
            tmp_path,
            fresh(mode, logged=("before",)),
            lambda w: log(w, "outer"),
            lambda w: handler_raises,
            check,
        )

    def test_a_handler_that_closes(self, tmp_path: Path, mode: WriteMode) -> None:
        """A handler closing the writer in the middle of a log call: no hang, exact counts.
        Its close() returns True, or False at once if it interrupted its own thread's write,
        which then finishes the close."""

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            assert not interrupted
            assert writer.close(timeout=10)  # the same outcome as the handler's close
            names = names_in(directory)
            assert names in (["before", "outer"], ["before"])
            assert (writer.stats.written, writer.stats.failed) == (len(names), 2 - len(names))

        every_point(
            tmp_path,
            fresh(mode, logged=("before",)),
            lambda w: log(w, "outer"),
            closes_unless_in_its_own_write,
            check,
        )

    def test_a_handler_that_closes_during_close(self, tmp_path: Path, mode: WriteMode) -> None:
        """close() from a handler that interrupted close() waits for the same outcome (or,
        interrupting its own thread's write, leaves the close to it)."""
        logged = tuple(f"e{n}" for n in range(20))

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            assert not interrupted
            assert writer.close(timeout=10)
            assert names_in(directory) == list(logged)

        every_point(
            tmp_path,
            fresh(mode, logged=logged),
            lambda w: assert_true(w.close(timeout=10)),
            closes_unless_in_its_own_write,
            check,
        )

    def test_a_handler_that_logs_at_shutdown(self, tmp_path: Path, mode: WriteMode) -> None:
        """At shutdown a handler's event, like the caller's, is on disk when its call returns
        (or, in SYNC, when the write the handler interrupted returns)."""

        def handler(writer: EventWriter) -> Callable[[], None]:
            def run() -> None:
                own_write = writer._parts.sink._drain_is_mine()
                log(writer, "handler")
                if not own_write:
                    assert "handler" in names_in(writer.output_dir), "returned before durable"

            return run

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            assert not interrupted
            assert {"handler", "outer"} <= set(names_in(directory)), "returned before durable"
            assert writer.close(timeout=10)
            assert sorted(names_in(directory)) == ["before", "handler", "outer"]

        every_point(tmp_path, at_shutdown(mode), lambda w: log(w, "outer"), handler, check)


def assert_true(value: bool) -> None:
    assert value


def closes_unless_in_its_own_write(writer: EventWriter) -> Callable[[], None]:
    """A handler that closes *writer*: ``True``, unless it interrupted its own thread's
    write, which it cannot wait for (the write finishes the close once the handler returns)."""

    def run() -> None:
        own_write = writer._parts.sink._drain_is_mine()
        closed = writer.close(timeout=10)
        assert closed or own_write
        assert not closed or writer._parts.sink.finished, "True before the close finished"

    return run
