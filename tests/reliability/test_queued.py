"""Queued (ASYNC) mode: exact accounting, no deadlock, nothing left behind at exit.

A slowed disk (``os.write`` through a proxy that sleeps) keeps the queue full,
so drops, blocking and draining really happen.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
from pathlib import Path

import pytest

from structlog_events import EventWriter, _file, install_signal_handlers
from structlog_events._layout import SYNC_EVERY_BYTES
from structlog_events._signals import DEFAULT_SIGNALS

from ..helpers import SlowOs, check_dir, keys, log, src_and_n, start_script


class TestAccounting:
    def test_drops_are_counted_exactly_under_a_slow_disk(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With overflow='drop', dropped equals exactly the events missing from the files."""
        monkeypatch.setattr(_file, "os", SlowOs(0.002))
        writer = EventWriter(tmp_path, "sim", max_queue_size=50, max_file_size=20_000)
        for n in range(3000):
            log(writer, src="q", n=n)
        assert writer.close(timeout=60)
        stats = writer.stats
        contents = check_dir(tmp_path, key=src_and_n, max_file_size=20_000)
        assert stats.dropped > 0
        assert stats.failed == 0
        assert stats.written == len(contents.keys)
        assert len(keys("q", 3000) - set(contents.keys)) == stats.dropped
        assert stats.written + stats.dropped == 3000

    def test_block_policy_under_load_never_deadlocks(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Producers, a flusher and a tiny queue with overflow='block' all finish; none lost."""
        monkeypatch.setattr(_file, "os", SlowOs(0.0005))
        writer = EventWriter(
            tmp_path, "sim", max_queue_size=5, overflow="block", max_file_size=50_000
        )
        done = threading.Event()

        def produce(src: str) -> None:
            for n in range(2000):
                log(writer, src=src, n=n)

        def keep_flushing() -> None:
            while not done.is_set():
                writer.flush(timeout=30)

        producers = [threading.Thread(target=produce, args=(f"t{i}",)) for i in range(4)]
        flusher = threading.Thread(target=keep_flushing)
        for thread in [*producers, flusher]:
            thread.start()
        for thread in producers:
            thread.join(timeout=120)
        done.set()
        flusher.join(timeout=60)
        assert not any(thread.is_alive() for thread in [*producers, flusher]), "deadlock"
        assert writer.close(timeout=60)
        expected = set().union(*(keys(f"t{i}", 2000) for i in range(4)))
        check_dir(tmp_path, key=src_and_n, expected=expected, max_file_size=50_000)
        assert (writer.stats.written, writer.stats.dropped, writer.stats.failed) == (8000, 0, 0)

    def test_a_busy_queue_is_fsynced_every_mebibyte(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """While the queue never runs empty, the thread still fsyncs after each MiB written."""
        file_fsyncs: list[int] = []

        class CountingFsyncs(SlowOs):
            def fsync(self, fd: int) -> None:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    file_fsyncs.append(fd)
                os.fsync(fd)

        monkeypatch.setattr(_file, "os", CountingFsyncs(0.05))
        writer = EventWriter(tmp_path, "sim", max_queue_size=20_000, max_file_size=10**9)
        for n in range(10_000):  # about 6 MiB, queued long before the slow disk takes it
            log(writer, src="q", n=n, pad="p" * 500)
        assert writer.close(timeout=120)
        assert writer.stats.bytes > 5 * SYNC_EVERY_BYTES
        assert len(file_fsyncs) >= writer.stats.bytes // SYNC_EVERY_BYTES

    def test_the_writer_thread_survives_a_failing_hook(self, tmp_path: Path) -> None:
        """An exception where the thread writes (a rotation hook) is reported; writing goes on."""

        def hook(path: Path) -> None:
            raise RuntimeError("hook broke")

        writer = EventWriter(tmp_path, "sim", max_file_size=2000)
        writer._file._after_rotation = hook
        for n in range(200):
            log(writer, src="q", n=n)
            if n % 20 == 0:
                assert writer.flush(timeout=30)
        assert writer.close(timeout=30)
        check_dir(tmp_path, key=src_and_n, expected=keys("q", 200))
        assert writer.stats.rotations > 3


#: A queued writer on a slow disk with 20,000 events still queued when it says "ready".
QUEUED_CHILD = """
from structlog_events import _file, install_signal_handlers
from tests.helpers import SlowOs
directory, setup, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])

def previous_handler(signum, frame):
    os.write(1, b"previous handler ran\\n")
    os._exit(7)

_file.os = SlowOs(delay)
if setup == "previous":
    signal.signal(signal.SIGTERM, previous_handler)
if setup in ("handlers", "previous"):
    install_signal_handlers(timeout=float(sys.argv[4]))
writer = EventWriter(directory, "sim", max_queue_size=100_000)
for n in range(20_000):
    log(writer, src="q", n=n)
os.write(1, b"ready\\n")
if setup == "exit":
    sys.exit(0)
if setup == "exception":
    raise RuntimeError("the program fails; its events must not")
time.sleep(120)
"""


def run_queued_child(
    directory: Path, setup: str, delay: float, send: signal.Signals | None, timeout: float = 5.0
) -> tuple[int, bytes]:
    """Run the child until it says ready, send *send*, and return its exit status and stdout."""
    process = start_script(QUEUED_CHILD, directory, setup, delay, timeout)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready == b"ready\n", process.communicate(timeout=30)[1][-2000:]
        if send is not None:
            process.send_signal(send)
        out, _ = process.communicate(timeout=60)
        return process.returncode, ready + out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


class TestExit:
    @pytest.mark.parametrize("setup", ["exit", "exception"])
    def test_events_queued_at_exit_are_written(self, tmp_path: Path, setup: str) -> None:
        """Exiting without close() (normally, or by an exception) writes the whole queue."""
        status, _ = run_queued_child(tmp_path, setup, 0.05, None)
        assert status == (0 if setup == "exit" else 1)
        check_dir(tmp_path, key=src_and_n, expected=keys("q", 20_000))


class TestSignalHandlers:
    def test_sigterm_drains_the_queue_then_terminates(self, tmp_path: Path) -> None:
        """With the handlers, SIGTERM writes every queued event, then the process dies of it."""
        status, _ = run_queued_child(tmp_path, "handlers", 0.1, signal.SIGTERM)
        assert status == -signal.SIGTERM
        check_dir(tmp_path, key=src_and_n, expected=keys("q", 20_000))

    def test_without_the_handlers_sigterm_loses_the_queue(self, tmp_path: Path) -> None:
        """The control: SIGTERM's default action skips atexit, so queued events are lost."""
        status, _ = run_queued_child(tmp_path, "none", 0.1, signal.SIGTERM)
        assert status == -signal.SIGTERM
        assert len(check_dir(tmp_path, key=src_and_n).keys) < 20_000

    def test_sigint_drains_then_raises_keyboard_interrupt(self, tmp_path: Path) -> None:
        """SIGINT drains the queue, then Python's handler raises KeyboardInterrupt."""
        status, _ = run_queued_child(tmp_path, "handlers", 0.1, signal.SIGINT)
        assert status == -signal.SIGINT  # how CPython ends on an uncaught KeyboardInterrupt
        check_dir(tmp_path, key=src_and_n, expected=keys("q", 20_000))

    def test_the_previous_handler_runs_after_the_drain(self, tmp_path: Path) -> None:
        """A handler installed before is called after the drain (here it exits at once)."""
        status, out = run_queued_child(tmp_path, "previous", 0.1, signal.SIGTERM)
        assert status == 7
        assert b"previous handler ran" in out
        check_dir(tmp_path, key=src_and_n, expected=keys("q", 20_000))

    def test_a_stuck_disk_delays_termination_only_by_the_timeout(self, tmp_path: Path) -> None:
        """When the disk does not answer, the handler gives up after its timeout and the
        process still ends by SIGTERM."""
        status, _ = run_queued_child(tmp_path, "handlers", 60, signal.SIGTERM, timeout=0.5)
        assert status == -signal.SIGTERM

    def test_installing_twice_changes_nothing(self) -> None:
        """A second install keeps the first handler, which chains to the original one."""
        saved = {signum: signal.getsignal(signum) for signum in DEFAULT_SIGNALS}
        try:
            install_signal_handlers()
            first = {signum: signal.getsignal(signum) for signum in DEFAULT_SIGNALS}
            install_signal_handlers(timeout=1)
            assert {signum: signal.getsignal(signum) for signum in DEFAULT_SIGNALS} == first
            assert all(first[signum] is not saved[signum] for signum in DEFAULT_SIGNALS)
        finally:
            for signum, handler in saved.items():
                signal.signal(signum, handler)

    def test_bad_arguments_and_threads_are_refused(self) -> None:
        """A negative or non-numeric timeout, or a call off the main thread, raises."""
        with pytest.raises(ValueError, match="timeout"):
            install_signal_handlers(timeout=-1)
        with pytest.raises(TypeError, match="timeout"):
            install_signal_handlers(timeout="5")  # type: ignore[arg-type]
        errors: list[BaseException] = []

        def off_main() -> None:
            try:
                install_signal_handlers()
            except ValueError as error:
                errors.append(error)

        thread = threading.Thread(target=off_main)
        thread.start()
        thread.join(timeout=30)
        assert len(errors) == 1
