"""A writer's life in a process: dropped without close(), closed twice or late, raced, at exit.

``close()`` and ``flush()`` return ``True`` only once every event accepted
before the call is written and fsynced, and every caller waits for the same
outcome; a writer nobody closes still releases its file and thread; racing
producers, flushers and closers never hang and account for every event.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from structlog_events import EventWriter, WriteMode, _file

from ..helpers import SlowOs, check_dir, keys, log, run_script, src_and_n, wait_until


def descriptors_on(directory: Path) -> int:
    """How many descriptors of this process are open on files in *directory*."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").startswith(f"{directory}/"):
                count += 1
    return count


def writer_threads() -> int:
    return sum(thread.name == "structlog-events-writer" for thread in threading.enumerate())


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
class TestDroppedWriters:
    @pytest.mark.parametrize("mode", [WriteMode.SYNC, WriteMode.ASYNC])
    def test_writers_dropped_without_close_release_files_and_threads(
        self, tmp_path: Path, mode: WriteMode
    ) -> None:
        """300 writers garbage-collected without close(): no descriptor or thread left."""
        threads_before = writer_threads()
        for n in range(300):
            writer = EventWriter(tmp_path, "sim", mode=mode)
            log(writer, src="w", n=n)
            del writer
        gc.collect()
        assert wait_until(
            lambda: descriptors_on(tmp_path) == 0 and writer_threads() == threads_before, 30
        )
        check_dir(tmp_path, key=src_and_n, expected=keys("w", 300))

    def test_a_dropped_queued_writer_writes_its_queue_first(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """What a dropped queued writer still held is written before its file is closed."""
        monkeypatch.setattr(_file, "os", SlowOs(0.01))
        writer = EventWriter(tmp_path, "sim", overflow="block", max_file_size=20_000)
        for n in range(2000):
            log(writer, src="w", n=n)
        del writer
        gc.collect()
        assert wait_until(lambda: descriptors_on(tmp_path) == 0, 30)
        check_dir(tmp_path, key=src_and_n, expected=keys("w", 2000))

    def test_a_writer_dropped_before_the_exit_has_its_queue_written(self, tmp_path: Path) -> None:
        """A queued writer garbage-collected just before the interpreter exits (a logger
        local to a function) still has every event it accepted written."""
        run_script(
            """
            from structlog_events import _file
            from tests.helpers import SlowOs
            directory = sys.argv[1]

            def work():
                writer = EventWriter(directory, "sim", overflow="block", max_file_size=4000)
                for n in range(2000):
                    log(writer, src="w", n=n)

            _file.os = SlowOs(0.01)
            work()  # the writer is dropped here, its queue far from written
            """,
            tmp_path,
        )
        check_dir(tmp_path, key=src_and_n, expected=keys("w", 2000))


class TestCloseOutcome:
    def test_a_second_close_waits_for_the_first(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A close() that timed out leaves the outcome to a later one, which waits for it."""
        monkeypatch.setattr(_file, "os", SlowOs(0.05))
        writer = EventWriter(tmp_path, "sim", overflow="block", max_file_size=4000)
        for n in range(300):
            log(writer, src="w", n=n)
        assert writer.close(timeout=0.01) is False
        assert writer.flush(timeout=0.01) is False
        assert writer.close(timeout=60) is True
        assert writer.flush(timeout=0) is True
        check_dir(tmp_path, key=src_and_n, expected=keys("w", 300))

    def test_concurrent_closes_return_the_same_outcome_once_written(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Closers racing each other all return True, and only once everything is written."""
        monkeypatch.setattr(_file, "os", SlowOs(0.01))
        writer = EventWriter(tmp_path, "sim", overflow="block", max_file_size=4000)
        for n in range(500):
            log(writer, src="w", n=n)
        outcomes: list[tuple[bool, int]] = []

        def close() -> None:
            closed = writer.close(timeout=60)
            outcomes.append((closed, len(check_dir(tmp_path, key=src_and_n).keys)))

        closers = [threading.Thread(target=close) for _ in range(4)]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join(timeout=90)
        assert outcomes == [(True, 500)] * 4

    @pytest.mark.parametrize("ending", ["os._exit", "exit"])
    def test_a_close_that_timed_out_is_finished_by_a_later_close_or_the_exit(
        self, tmp_path: Path, ending: str
    ) -> None:
        """On a slow disk: close(timeout) times out; a later close() (then os._exit) or the
        interpreter's exit still writes every event."""
        run_script(
            """
            from structlog_events import _file
            from tests.helpers import SlowOs
            directory, ending = sys.argv[1], sys.argv[2]
            _file.os = SlowOs(0.02)
            writer = EventWriter(directory, "sim", overflow="block", max_file_size=10_000)
            for n in range(3000):
                log(writer, src="w", n=n)
            assert writer.close(timeout=0.01) is False
            if ending == "os._exit":
                assert writer.close(timeout=60) is True
                os._exit(0)
            """,
            tmp_path,
            ending,
        )
        check_dir(tmp_path, key=src_and_n, expected=keys("w", 3000))


class TestRaces:
    @pytest.mark.parametrize("mode", [WriteMode.SYNC, WriteMode.ASYNC])
    def test_close_flush_and_producers_racing_never_hang_and_count_every_event(
        self, tmp_path: Path, mode: WriteMode
    ) -> None:
        """With thread switches every microsecond: producers, a flusher without timeout and a
        closer; each round ends, and written + failed + dropped is exactly what was logged."""
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        try:
            for round_number in range(40):
                directory = tmp_path / str(round_number)
                writer = EventWriter(directory, "sim", mode=mode, max_queue_size=50)
                logged = [0, 0, 0]

                def produce(
                    index: int, writer: EventWriter = writer, logged: list[int] = logged
                ) -> None:
                    for n in range(200):
                        log(writer, src=f"p{index}", n=n)
                        logged[index] += 1

                def keep_flushing(writer: EventWriter = writer) -> None:
                    for _ in range(20):
                        writer.flush()

                threads = [threading.Thread(target=produce, args=(i,)) for i in range(3)]
                threads.append(threading.Thread(target=keep_flushing))
                threads.append(threading.Thread(target=writer.close))
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=60)
                    assert not thread.is_alive(), f"round {round_number}: hung"
                assert writer.close(timeout=30)
                stats = writer.stats
                found = check_dir(directory, key=src_and_n).keys
                assert stats.written == len(found)
                assert stats.written + stats.failed + stats.dropped == sum(logged)
        finally:
            sys.setswitchinterval(interval)


class TestExit:
    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_a_stuck_disk_delays_the_exit_by_the_timeout_at_most(
        self, tmp_path: Path, mode: str
    ) -> None:
        """A disk that stops answering keeps the exit waiting EXIT_TIMEOUT at most, in all."""
        result = run_script(
            """
            from structlog_events import _file, _lifecycle
            directory, mode = sys.argv[1], sys.argv[2]
            _lifecycle.EXIT_TIMEOUT = 3.0

            class StuckOs:
                def __getattr__(self, name):
                    return getattr(os, name)
                def fsync(self, fd):
                    time.sleep(3600)

            writer = EventWriter(directory, "sim", mode=mode)
            log(writer, src="w", n=0)
            _file.os = StuckOs()
            if mode == "async":
                log(writer, src="w", n=1)
            else:
                late = threading.Thread(target=log, args=(writer,), kwargs={"src": "w", "n": 1})
                late.daemon = True
                late.start()
            time.sleep(0.5)
            print(time.time(), flush=True)  # the program's end; the exit begins
            """,
            tmp_path,
            mode,
            timeout=60,
        )
        exit_seconds = time.time() - float(result.stdout)
        assert 2.5 < exit_seconds < 5.5

    def test_atexit_handlers_that_log_to_a_stuck_disk_do_not_stretch_the_exit(
        self, tmp_path: Path
    ) -> None:
        """An atexit handler that logs a hundred events to a disk that stopped answering
        still ends within EXIT_TIMEOUT in all."""
        result = run_script(
            """
            import atexit
            from structlog_events import _file, _lifecycle
            from tests.helpers import SlowOs
            directory = sys.argv[1]
            _lifecycle.EXIT_TIMEOUT = 3.0

            writer = EventWriter(directory, "sim", overflow="block")
            log(writer, src="w", n=0)
            writer.flush()
            _file.os = SlowOs(3600)  # a disk that stopped answering

            @atexit.register
            def goodbye():
                for n in range(1, 101):
                    log(writer, src="w", n=n)

            print(time.time(), flush=True)
            """,
            tmp_path,
            timeout=60,
        )
        exit_seconds = time.time() - float(result.stdout)
        assert exit_seconds < 5.5

    def test_threads_logging_after_the_main_thread_returned_stay_queued(
        self, tmp_path: Path
    ) -> None:
        """A program whose main thread returns while a worker thread goes on logging: the
        worker's queued calls are not turned into one write each (that is for worker
        processes about to end with os._exit), and every event is written."""
        result = run_script(
            """
            from structlog_events import _file
            directory = sys.argv[1]
            writes = [0]

            class CountingOs:
                def __getattr__(self, name):
                    return getattr(os, name)
                def write(self, fd, data):
                    writes[0] += 1
                    return os.write(fd, data)

            writer = EventWriter(directory, "sim", overflow="block")
            log(writer, src="w", n=0)
            writer.flush()
            _file.os = CountingOs()
            started = threading.Event()

            def worker():
                started.set()
                time.sleep(0.3)  # the main thread has returned by now
                for n in range(1, 501):
                    log(writer, src="w", n=n)
                os.write(1, b"%d\\n" % writes[0])

            threading.Thread(target=worker).start()
            started.wait()
            """,
            tmp_path,
            timeout=60,
        )
        assert int(result.stdout.split()[-1]) < 250
        check_dir(tmp_path, key=src_and_n, expected=keys("w", 501))
