"""Interrupts in the corners ``test_interrupts.py`` does not reach on its own.

The directory's ``flock`` after an interrupted log call, two signals at once (real
ones, in a child), other threads whose lines the interrupted write had taken,
retention and rotation running in the caller's thread.  Each test is bounded in time
(``run_with_deadline``, or a timeout for the child).
"""

from __future__ import annotations

import contextlib
import fcntl
import inspect
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from structlog_events import EventWriter, WriteMode, _sinks
from structlog_events._layout import LOCK_NAME

from ..helpers import log, run_script
from .test_interrupts import (
    HandlerError,
    Interrupt,
    ctrl_c,
    every_point,
    fresh,
    handler_raises,
    run_with_deadline,
)

#: Each run goes in a thread of its own, treated as the main thread (see the fixture).
pytestmark = pytest.mark.usefixtures("as_on_the_main_thread")


def flock_is_free(directory: Path) -> bool:
    """Whether another writer of *directory* (another open file description) could take
    the directory's flock now, without waiting."""
    fd = os.open(directory / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases it
    return True


@pytest.fixture(params=[WriteMode.SYNC, WriteMode.ASYNC], ids=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> WriteMode:
    return request.param  # type: ignore[no-any-return]


class TestFlockLeftHeld:
    """A handler's exception (or Ctrl-C) landing in ``_FileLock.__enter__`` after
    ``flock()`` returned, or at the start of ``_FileLock.__exit__``, leaves the
    directory's flock held: every other writer of the directory (another process)
    blocks in its next log call until this process happens to log again."""

    def test_interrupted_log_call_releases_the_directory_lock(self, tmp_path: Path) -> None:
        raiser = ctrl_c
        where: list[str] = []
        held_at: list[str] = []

        def interrupt() -> None:
            frame = sys._getframe(2)  # the trace function's caller is the traced frame
            where.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
            raiser()

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            if not flock_is_free(directory):
                # Another writer of the directory now blocks until this one logs again.
                others: list[EventWriter] = []
                done = threading.Event()

                def other_writer() -> None:
                    others.append(EventWriter(directory, "other", mode=WriteMode.SYNC))
                    log(others[0], "other")
                    done.set()

                thread = threading.Thread(target=other_writer, daemon=True)
                thread.start()
                if not done.wait(2.0):
                    held_at.append(where[-1])
                assert writer.close(timeout=10)  # releases it: the other writer goes on
                thread.join(10)
                assert done.is_set()
                others[0].close(timeout=10)
                return
            assert writer.close(timeout=10)

        every_point(
            tmp_path,
            fresh(WriteMode.SYNC, logged=("before",)),
            lambda w: log(w, "outer"),
            lambda w: interrupt,
            check,
        )
        assert not held_at, f"another writer of the directory hung; interrupted at {held_at}"


TWO_SIGNALS_CHILD = """
import contextlib, faulthandler
from structlog_events import WriteMode
from tests.reliability.test_interrupts import Interrupt, names_in, points_passed
base, second_kind, scenario = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
faulthandler.dump_traceback_later(100, exit=True)  # a hang ends the child

class First(Exception):  # a timeout built on SIGUSR1, say
    pass
class Second(Exception):
    pass
where = []
def first(signum, frame):
    where.append(f"first in {frame.f_code.co_name}:{frame.f_lineno}")
    raise First
def second(signum, frame):
    where.append(f"second in {frame.f_code.co_name}:{frame.f_lineno}")
    if second_kind == "ctrl-c":
        raise KeyboardInterrupt
    raise Second
signal.signal(signal.SIGUSR1, first)
signal.signal(signal.SIGUSR2, second)
BOTH = {signal.SIGUSR1, signal.SIGUSR2}
main = threading.get_ident()
fired = []
import ctypes
libc = ctypes.CDLL(None)
mask = (ctypes.c_ulong * 16)()
for number in BOTH:
    mask[(number - 1) // 64] |= 1 << ((number - 1) % 64)

def two_signals_at_once():
    # Both pending together, unblocked in one C call (libc's, which runs no handler):
    # CPython runs the first handler at the next point, which raises, and the second
    # at the point after (it re-arms the check when a handler raises).
    signal.pthread_sigmask(signal.SIG_BLOCK, BOTH)
    signal.pthread_kill(main, signal.SIGUSR1)
    signal.pthread_kill(main, signal.SIGUSR2)
    fired.append(True)
    libc.pthread_sigmask(signal.SIG_UNBLOCK, ctypes.byref(mask), None)

def setup(directory):
    writer = EventWriter(directory, "sim", mode="sync", max_file_size=SIZE)
    for name in BEFORE:
        log(writer, name)
    return writer

if scenario == "plain":
    SIZE, BEFORE = 10_000_000, ["before"]
else:  # rotation: the outer event rotates the file
    SIZE, BEFORE = 700, ["before"]

probe = setup(base / "probe")
total = points_passed(lambda: log(probe, "outer"))
probe.close()
failures = []
for at in range(1, total + 1):
    directory = base / f"at-{at}"
    writer = setup(directory)
    fired.clear()
    where.clear()
    try:
        with Interrupt(at, two_signals_at_once).armed():
            log(writer, "outer")
    except (First, Second, KeyboardInterrupt):
        pass
    try:
        time.sleep(0)  # a point for a signal still pending
    except (First, Second, KeyboardInterrupt):
        pass
    try:
        log(writer, "after")
        closed = writer.close(timeout=10)
        names = []
        for path in sorted(directory.glob("events*.jsonl")):
            names += [json.loads(line)["event_type"] for line in path.read_bytes().splitlines()]
        stats = writer.stats
        ok = (
            closed
            and names in ([*BEFORE, "outer", "after"], [*BEFORE, "after"])
            and (stats.written, stats.failed) == (len(names), 0)
        )
        if not ok:
            failures.append(f"point {at}: closed={closed} names={names} "
                            f"written={stats.written} failed={stats.failed} {where}")
    except BaseException as error:
        import traceback
        trace = "".join(traceback.format_exception(error))[-1500:]
        failures.append(f"point {at}: {error!r} {trace}")
print(json.dumps({"total": total, "failures": failures}))
"""


class TestTwoSignalsAtOnce:
    """Two signals pending together (a SIGALRM timeout and Ctrl-C, or any two handlers):
    CPython runs the first handler; when it raises, it runs the second one at the very next
    point it checks for signals (``_PyErr_CheckSignalsTstate`` sets ``is_tripped`` again),
    which is in the ``except`` code that settles the first interrupt
    (``_settle_interrupted_write``, ``_hand_back``...).  Real signals, real main thread."""

    @pytest.mark.parametrize(("second", "scenario"), [("handler", "plain"), ("ctrl-c", "rotation")])
    def test_log_call_interrupted_by_two_signals(
        self, tmp_path: Path, second: str, scenario: str
    ) -> None:
        result = run_script(TWO_SIGNALS_CHILD, tmp_path, second, scenario, timeout=300)
        outcome = json.loads(result.stdout)
        assert outcome["total"] > 20
        assert not outcome["failures"], "\n".join(outcome["failures"])


def all_names(directory: Path) -> list[str]:
    """Event types of every event file in *directory* (rotated ones first, gzipped too)."""
    import gzip

    names: list[str] = []
    rotated = sorted(
        p for p in directory.iterdir() if p.name.startswith("events_") and ".tmp" not in p.name
    )
    for path in [*rotated, directory / "events.jsonl"]:
        if not path.exists():
            continue
        content = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        assert content == b"" or content.endswith(b"\n"), f"torn line in {path.name}"
        names += [json.loads(line)["event_type"] for line in content.splitlines()]
    return names


def rotating(mode: WriteMode, **options: Any) -> Callable[[Path], EventWriter]:
    """A writer whose next event rotates the file (one event fits, two do not)."""

    def setup(directory: Path) -> EventWriter:
        writer = EventWriter(directory, "sim", mode=mode, max_file_size=250, **options)
        log(writer, "before")
        return writer

    return setup


class TestInterruptsWhileRotating:
    """A log call that rotates the file, interrupted at every point."""

    @pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
    def test_a_log_call_that_rotates(self, tmp_path: Path) -> None:
        """Interrupted anywhere in a SYNC log call that rotates the file: every line once,
        counts exact."""

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            log(writer, "after")
            assert writer.close(timeout=10)
            names = all_names(directory)
            assert names in (["before", "outer", "after"], ["before", "after"]), names
            stats = writer.stats
            assert (stats.written, stats.failed) == (len(names), 0), stats

        every_point(
            tmp_path, rotating(WriteMode.SYNC), lambda w: log(w, "outer"), lambda w: ctrl_c, check
        )


class AlarmTimeout(TimeoutError):
    """What a timeout built on ``signal.alarm`` raises: an ``OSError``, as the disk's are."""


def alarm_timeout() -> None:
    raise AlarmTimeout


class TestHandlerExceptionInRetention:
    """Retention (``max_files``, ``compress``) runs as the rotation hook in the SYNC caller's
    thread: the main thread, where handlers run.  Its code catches ``OSError`` and the hook
    runner catches ``Exception``, neither telling a handler's exception from its own."""

    @pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
    @pytest.mark.parametrize(
        "options", [{"max_files": 1}, {"max_files": 1, "compress": True}], ids=["prune", "gzip"]
    )
    def test_a_handler_exception_during_retention_reaches_the_program(
        self, tmp_path: Path, options: dict[str, Any]
    ) -> None:
        """A timeout's ``TimeoutError`` (an ``OSError``, and an ``Exception``: the kinds the
        writer catches of its own) reaches the program wherever it lands."""
        raiser = alarm_timeout
        swallowed: list[str] = []
        where: list[str] = []

        def interrupt() -> None:
            frame = sys._getframe(2)
            where.append(f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_code.co_name}")
            raiser()

        def setup(directory: Path) -> EventWriter:
            writer = rotating(WriteMode.SYNC, **options)(directory)
            log(writer, "second")  # one rotated file already: the next rotation prunes
            return writer

        def check(writer: EventWriter, directory: Path, interrupted: bool) -> None:
            if not interrupted:
                swallowed.append(where[-1])
            writer.close(timeout=10)

        def catching_timeouts(writer: EventWriter) -> None:
            try:
                log(writer, "outer")
            except AlarmTimeout as error:
                raise HandlerError from error  # what the harness expects

        every_point(tmp_path, setup, catching_timeouts, lambda w: interrupt, check)
        assert not swallowed, f"swallowed in {sorted(set(swallowed))}"


class Locating(Interrupt):
    """Counts the points like ``Interrupt`` and notes where each is: (function, line)."""

    def __init__(self) -> None:
        super().__init__(at=0, action=lambda: None)
        self.where: list[tuple[str, int]] = []

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        points = self.points
        result = super().__call__(frame, event, arg)
        if self.points != points:
            self.where.append((frame.f_code.co_name, frame.f_lineno))
        return result


def located_points(operation: Callable[[], object]) -> list[tuple[str, int]]:
    locating = Locating()
    with locating.armed():
        operation()
    return locating.where


def with_waiting_threads(directory: Path, threads: list[threading.Thread]) -> EventWriter:
    """A SYNC writer with three other threads' lines queued, their callers waiting: the
    next log call of this thread drains them with its own."""
    writer = fresh(WriteMode.SYNC, logged=("before",))(directory)
    sink = writer._parts.sink
    # Hold the drain as another caller would, so the threads only queue and wait.
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with sink._drain_lock:
            sink._draining = True
            held.set()
            release.wait(10)
            sink._draining = False

    threading.Thread(target=holder, daemon=True).start()
    held.wait(10)
    threads[:] = [
        threading.Thread(target=log, args=(writer, f"t{n}"), daemon=True) for n in range(3)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(sink._queue) < 3 and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()
    while sink._draining and time.monotonic() < deadline:
        time.sleep(0.001)
    return writer


class TestOtherThreadsWaitingOnAnInterruptedDrain:
    """Three threads' SYNC lines wait in the queue; the main thread's log call drains them
    with its own (one write, one fsync) and is interrupted just after the fsync returns,
    before the completions are set.  Unless the drain settles the batch there, the other
    threads' completions are never set, and their log calls never return."""

    @pytest.mark.parametrize("raiser", [handler_raises, ctrl_c], ids=["handler", "ctrl-c"])
    def test_threads_waiting_on_the_main_threads_drain_return(
        self, tmp_path: Path, raiser: Callable[[], None]
    ) -> None:
        threads: list[threading.Thread] = []
        probe = with_waiting_threads(tmp_path / "probe", threads)
        where = located_points(lambda: log(probe, "outer"))
        probe.close()
        # The line of the fsync: an interrupt there lands just after it returns.
        source = inspect.getsource(_sinks._Pipeline._drain).splitlines()
        first_line = _sinks._Pipeline._drain.__code__.co_firstlineno
        after_fsync = first_line + next(
            n for n, text in enumerate(source) if "file.sync_written()" in text
        )
        between = [at for at, point in enumerate(where, start=1) if point[1] == after_fsync]
        assert between, where
        hung: list[str] = []
        for at in between:
            directory = tmp_path / f"at-{at}"

            def scenario(at: int = at, directory: Path = directory) -> None:
                writer = with_waiting_threads(directory, threads)
                with (
                    contextlib.suppress(KeyboardInterrupt, HandlerError),
                    Interrupt(at, raiser).armed(),
                ):
                    log(writer, "outer")
                deadline = time.monotonic() + 3  # HEAL_SECONDS is 1
                for thread in threads:
                    thread.join(max(0.0, deadline - time.monotonic()))
                alive = sum(thread.is_alive() for thread in threads)
                if alive:
                    hung.append(f"point {at} {where[at - 1]}: {alive} threads never returned")
                writer._parts.sink._queue.clear()

            run_with_deadline(scenario)
        assert not hung, "\n".join(hung)


class TestOtherThreadsStalled:
    """Interrupted anywhere in its drain, the main thread leaves the other SYNC callers'
    lines to the next heal: they wait HEAL_SECONDS (1 s) for nothing."""

    def test_ctrl_c_in_the_main_threads_drain_stalls_the_others(self, tmp_path: Path) -> None:
        threads: list[threading.Thread] = []
        probe = with_waiting_threads(tmp_path / "probe", threads)
        where = located_points(lambda: log(probe, "outer"))
        probe.close()
        at = next(
            at for at, (function, _) in enumerate(where, start=1) if function == "_write_chunk"
        )
        took: list[float] = []

        def scenario() -> None:
            writer = with_waiting_threads(tmp_path / "run", threads)
            start = time.monotonic()
            with contextlib.suppress(KeyboardInterrupt), Interrupt(at, ctrl_c).armed():
                log(writer, "outer")
            for thread in threads:
                thread.join(5)
            took.append(time.monotonic() - start)
            assert writer.close(timeout=10)

        run_with_deadline(scenario)
        # Not left to their next look, HEAL_SECONDS away.
        assert took[0] < 0.8 * _sinks.HEAL_SECONDS, f"the other threads waited {took[0]:.2f}s"
