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
import time
from pathlib import Path

import pytest

from structlog_events import EventWriter

from .helpers import Key, check_event_dir, start_script, stop_process

#: Kills per mode; each run gets its own ``src`` so its numbers never collide.
KILLS = 40
#: Small files: a rotation every ~15 events, so kills land in rotations too.
MAX_FILE_SIZE = 3000

CHILD = """
directory, src, mode = sys.argv[1], sys.argv[2], sys.argv[3]
writer = EventWriter(directory, "sim", mode=mode, max_file_size=3000, overflow="block")
n = 0
while True:
    if mode == "sync":
        log(writer, src, n)
        os.write(1, b"%d\\n" % n)
        n += 1
    else:
        for _ in range(25):
            log(writer, src, n)
            n += 1
        if writer.flush(timeout=30):
            os.write(1, b"%d\\n" % (n - 1))
"""


class TestKillLoop:
    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_acknowledged_events_survive_kill_9(self, tmp_path: Path, mode: str) -> None:
        """Killed at random points many times, no acknowledged event is missing or doubled."""
        rng = random.Random(f"kill-{mode}")
        acked: set[Key] = set()
        for run in range(KILLS):
            src = f"run{run}"
            process = start_script(CHILD, tmp_path, src, mode)
            try:
                assert process.stdout is not None
                selector = selectors.DefaultSelector()
                selector.register(process.stdout, selectors.EVENT_READ)
                wanted = rng.randint(1, 120)
                buffer = b""
                last = -1
                deadline = time.monotonic() + 60
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
                assert last + 1 >= wanted, f"run {run}: the restarted writer made no progress"
                time.sleep(rng.random() * 0.003)  # land anywhere: mid-write, mid-rotation
                process.send_signal(signal.SIGKILL)
                rest, _ = process.communicate(timeout=30)
                selector.close()
                buffer += rest
                *done, _ = buffer.split(b"\n")
                if done:
                    last = max(last, int(done[-1]))
                acked.update((src, n) for n in range(last + 1))
            finally:
                stop_process(process)
        # A writer opening the directory repairs what the last kill tore.
        EventWriter(tmp_path, "sim", max_file_size=MAX_FILE_SIZE).close()
        contents = check_event_dir(tmp_path, max_file_size=MAX_FILE_SIZE)
        missing = acked - set(contents.keys)
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
        assert len(contents.files) > KILLS  # rotations happened along the way
