"""kill -9 at random points, rotation included: nothing acknowledged is lost.

A child logs numbered events and acknowledges each on its stdout once the log
call returned (SYNC), or once ``flush()`` returned for a batch (ASYNC).  The
test kills it with SIGKILL at a random moment, starts the next child on the
same directory, and at the end checks the directory whole.
"""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import time
from pathlib import Path

import pytest

from structlog_events import EventWriter

from ..helpers import Key, check_dir, src_and_n, start_script, stop_process

#: Kills per mode; each run gets its own ``src`` so its numbers never collide.
KILLS = 40
#: Small files: a rotation every ~15 events, so kills land in rotations too.
MAX_FILE_SIZE = 3000

CHILD = """
directory, src, mode, compress = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "gz"
writer = EventWriter(
    directory, "sim", mode=mode, max_file_size=3000, overflow="block", compress=compress
)
n = 0
while True:
    if mode == "sync":
        log(writer, src=src, n=n)
        os.write(1, b"%d\\n" % n)
        n += 1
    else:
        for _ in range(25):
            log(writer, src=src, n=n)
            n += 1
        if writer.flush(timeout=30):
            os.write(1, b"%d\\n" % (n - 1))
"""


def read_acks(process: subprocess.Popen[bytes], wanted: int) -> int:
    """Read the child's acknowledgements until it acknowledged *wanted* events; the last one."""
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    buffer, last = b"", -1
    deadline = time.monotonic() + 60
    try:
        while last + 1 < wanted and time.monotonic() < deadline:
            if not selector.select(timeout=1):
                assert process.poll() is None, process.stderr and process.stderr.read()
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            assert chunk, "the child ended before it was killed"
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            if done:
                last = int(done[-1])
    finally:
        selector.close()
    assert last + 1 >= wanted, "the restarted writer made no progress"
    return last


def kill_and_collect(process: subprocess.Popen[bytes], last: int) -> int:
    """SIGKILL *process*; return the last event it acknowledged before it died."""
    process.send_signal(signal.SIGKILL)
    rest, _ = process.communicate(timeout=30)
    *done, _ = rest.split(b"\n")
    return max([last, *(int(line) for line in done if line)])


class TestKillLoop:
    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_acknowledged_events_survive_kill_9(self, tmp_path: Path, mode: str) -> None:
        """Killed at random points many times, no acknowledged event is missing or doubled."""
        rng = random.Random(f"kill-{mode}")
        acked: set[Key] = set()
        for run in range(KILLS):
            src = f"run{run}"
            process = start_script(CHILD, tmp_path, src, mode, "plain")
            try:
                last = read_acks(process, rng.randint(1, 120))
                time.sleep(rng.random() * 0.003)  # land anywhere: mid-write, mid-rotation
                last = kill_and_collect(process, last)
                acked.update((src, n) for n in range(last + 1))
            finally:
                stop_process(process)
        # A writer opening the directory repairs what the last kill tore.
        EventWriter(tmp_path, "sim", max_file_size=MAX_FILE_SIZE).close()
        contents = check_dir(tmp_path, key=src_and_n, max_file_size=MAX_FILE_SIZE)
        missing = acked - set(contents.keys)
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
        assert len(contents.files) > KILLS  # rotations happened along the way

    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_several_processes_compressing_survive_kill_9_together(
        self, tmp_path: Path, mode: str
    ) -> None:
        """Three processes share a directory with compress=True, rotating and compressing,
        and are killed at once, again and again: nothing acknowledged is lost or doubled,
        and no file is left both plain and compressed once a writer has opened it."""
        rng = random.Random(f"kill-many-{mode}")
        acked: set[Key] = set()
        for run in range(KILLS // 4):
            sources = [f"run{run}-{k}" for k in range(3)]
            processes = [start_script(CHILD, tmp_path, src, mode, "gz") for src in sources]
            try:
                lasts = [read_acks(process, rng.randint(1, 60)) for process in processes]
                time.sleep(rng.random() * 0.01)
                for src, process, last in zip(sources, processes, lasts, strict=True):
                    last = kill_and_collect(process, last)
                    acked.update((src, n) for n in range(last + 1))
            finally:
                for process in processes:
                    stop_process(process)
        EventWriter(tmp_path, "sim", max_file_size=MAX_FILE_SIZE, compress=True).close()
        contents = check_dir(tmp_path, key=src_and_n, max_file_size=MAX_FILE_SIZE)
        missing = acked - set(contents.keys)
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
        assert any(path.name.endswith(".gz") for path in contents.files)
        assert not [path for path in tmp_path.iterdir() if path.name.endswith(".tmp")]
