"""Worker processes: every event a worker logs is written when the worker ends normally.

``multiprocessing`` and ``concurrent.futures`` workers end with ``os._exit()``,
which skips ``atexit``.  The program here is the usual one: a queued writer
created at module level (so every worker, forked or spawned, has one on the
same directory), structlog configured with it, and a pool mapping a function
that logs.  Each start method runs with each way of ending workers normally.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ..helpers import check_dir, keys, src_and_n

PROGRAM = """
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import structlog
from structlog_events import EventWriter

# Queued, the default mode; a queue that never drops, so that every loss is the exit's.
writer = EventWriter(os.environ["EVENTS_DIR"], "sim", overflow="block")
structlog.configure(processors=[writer])
log = structlog.get_logger()
EVENTS, PER_TASK = 1000, 20


def work(n):
    for k in range(PER_TASK):
        log.info("tick", src="w", n=n * PER_TASK + k)
    return n


def work_range(start):
    for n in range(start, start + EVENTS // 4):
        work(n)


if __name__ == "__main__":
    method, shape = sys.argv[1], sys.argv[2]
    context = multiprocessing.get_context(method)
    if shape == "pool":
        pool = context.Pool(4)
        assert pool.map(work, range(EVENTS)) == list(range(EVENTS))
        pool.close()
        pool.join()
    elif shape == "executor":
        with ProcessPoolExecutor(4, mp_context=context) as executor:
            assert list(executor.map(work, range(EVENTS), chunksize=25)) == list(range(EVENTS))
    else:
        starts = range(0, EVENTS, EVENTS // 4)
        processes = [context.Process(target=work_range, args=(start,)) for start in starts]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
            assert process.exitcode == 0
"""


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
@pytest.mark.parametrize("shape", ["pool", "executor", "process"])
def test_every_event_a_worker_logs_is_written(tmp_path: Path, method: str, shape: str) -> None:
    """Pool.close()/join(), ProcessPoolExecutor and Process: 0 of 20,000 events lost, none
    twice."""
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent(PROGRAM))
    directory = tmp_path / "events"
    result = subprocess.run(
        [sys.executable, str(program), method, shape],
        env={**os.environ, "EVENTS_DIR": str(directory)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    check_dir(directory, key=src_and_n, expected=keys("w", 20_000))
