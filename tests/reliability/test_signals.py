"""Real signals in real processes: handlers that log or close while the program logs.

A child logs in a loop while the parent sends it ``SIGUSR1`` every two
milliseconds; its handler logs an event, raises (as a timeout built on
signals does), or closes the writer.  The child must
finish on its own (a hang fails the test after a deadline), and the directory
must hold exactly what the child's counters say.  A child killed by SIGTERM
while it logs, with ``install_signal_handlers()``, must leave every event it
logged before the signal.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from ..helpers import check_dir, keys, src_and_n, start_script, stop_process

SIGNAL_CHILD = """
directory, mode, action, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
import itertools
writer = EventWriter(directory, "sim", mode=mode, overflow="block", max_file_size=200_000)
numbers = itertools.count()  # next() is atomic: handlers can interrupt handlers
handled = []
raised = 0
class Timeout(TimeoutError):  # an OSError, as the disk's errors are
    pass
def handler(signum, frame):
    global raised
    if action == "log":
        n = next(numbers)
        log(writer, src="handler", n=n)
        handled.append(n)
    elif action == "raise":
        if not armed or (frame is not None and frame.f_code.co_name == "<module>"):
            return  # only into the loop's calls, never where the program catches it
        raised += 1
        raise Timeout
    else:
        writer.close()
def logging_loop(deadline):
    global n
    while time.monotonic() < deadline:
        n = next(loop_numbers)
        log(writer, src="loop", n=n)
    n = next(loop_numbers)
loop_numbers = itertools.count()
n = 0
caught = 0
armed = False  # the handler raises only while the loop runs (not into signal.signal())
signal.signal(signal.SIGUSR1, handler)
os.write(1, b"ready\\n")
deadline = time.monotonic() + seconds
armed = True
while True:
    try:
        logging_loop(deadline)
        break
    except Timeout as error:
        while error is not None:  # one raised while Python handled another holds it
            caught += isinstance(error, Timeout)
            error = error.__context__
armed = False
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
closed = writer.close()
print(json.dumps({
    "loop": n, "handled": len(handled), "raised": raised, "caught": caught, "closed": closed,
    **stats_of(writer),
}))
"""

#: Seconds the child logs for, and the longest it may take to finish after that.
LOGGING_SECONDS = 1.5
DEADLINE = 60.0


def run_signalled(directory: Path, mode: str, action: str) -> dict[str, int]:
    """Run ``SIGNAL_CHILD`` under a stream of SIGUSR1; return what it printed."""
    process = start_script(SIGNAL_CHILD, directory, mode, action, LOGGING_SECONDS)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        sent = 0
        end = time.monotonic() + LOGGING_SECONDS
        while time.monotonic() < end and process.poll() is None:
            process.send_signal(signal.SIGUSR1)
            sent += 1
            # Slower than one handler's SYNC call: faster, handlers would nest
            # without end, and the program itself would hit RecursionError.
            time.sleep(0.002)
        out, err = process.communicate(timeout=DEADLINE)
    finally:
        stop_process(process)
    assert process.returncode == 0, err.decode()[-3000:]
    assert sent > 100
    outcome: dict[str, int] = json.loads(out)
    return outcome


@pytest.mark.parametrize("mode", ["sync", "async"])
class TestHandlers:
    def test_a_handler_that_logs(self, tmp_path: Path, mode: str) -> None:
        """Every event of the loop and of the handler is written once; nothing hangs."""
        outcome = run_signalled(tmp_path, mode, "log")
        assert outcome["handled"] > 50
        assert outcome["closed"]
        expected = keys("loop", outcome["loop"]) | keys("handler", outcome["handled"])
        check_dir(tmp_path, key=src_and_n, expected=expected)
        assert (outcome["written"], outcome["failed"]) == (len(expected), 0)

    def test_a_handler_that_raises(self, tmp_path: Path, mode: str) -> None:
        """Every exception the handler raises reaches the program, also from the middle of
        a write (a timeout built on signals keeps working); no event is written twice."""
        outcome = run_signalled(tmp_path, mode, "raise")
        assert outcome["raised"] > 50
        assert outcome["caught"] == outcome["raised"]
        assert outcome["closed"], outcome
        contents = check_dir(tmp_path, key=src_and_n)
        assert set(contents.keys) <= keys("loop", outcome["loop"])
        # An event is missing only if its call was interrupted (and then counted failed
        # if the exception landed while the writer mapped the record).
        assert outcome["loop"] - len(contents.keys) <= outcome["raised"]
        assert outcome["written"] == len(contents.keys)

    def test_a_handler_that_closes(self, tmp_path: Path, mode: str) -> None:
        """The loop's events up to the close are written, the rest counted failed; no hang."""
        outcome = run_signalled(tmp_path, mode, "close")
        contents = check_dir(tmp_path, key=src_and_n)
        written = len(contents.keys)
        assert set(contents.keys) == keys("loop", written)
        assert outcome["written"] == written
        assert outcome["written"] + outcome["failed"] == outcome["loop"]
        assert outcome["failed"] > 0


TERMINATED_CHILD = """
from structlog_events import install_signal_handlers
directory, mode = sys.argv[1], sys.argv[2]
install_signal_handlers(timeout=30)
writer = EventWriter(directory, "sim", mode=mode, overflow="block", max_file_size=200_000)
n = 0
while True:
    log(writer, src="loop", n=n)
    n += 1
    if n % 500 == 0:
        os.write(1, b"%d\\n" % n)
"""


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sigterm_while_logging_keeps_every_event_logged_before_it(
    tmp_path: Path, mode: str
) -> None:
    """SIGTERM lands in the middle of the loop: the process ends by it, and the file holds
    every event up to the last one the loop logged, none missing, none twice."""
    process = start_script(TERMINATED_CHILD, tmp_path, mode)
    try:
        assert process.stdout is not None
        assert int(process.stdout.readline()) == 500
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=DEADLINE)
    finally:
        stop_process(process)
    assert process.returncode == -signal.SIGTERM, err.decode()[-3000:]
    reported = max(int(line) for line in out.split())
    contents = check_dir(tmp_path, key=src_and_n)
    logged = len(contents.keys)
    assert set(contents.keys) == keys("loop", logged)
    assert logged >= reported
