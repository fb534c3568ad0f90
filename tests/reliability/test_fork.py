"""fork() while another thread is mid-write: every child's writer works, nothing doubles.

The forks happen in a child interpreter (forking the test runner itself, with
its threads, would be asking for trouble), whose result the test checks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..helpers import check_dir, keys, run_script, src_and_n

CHILDREN = 20
CHILD_EVENTS = 300

FORKING_PARENT = """
import faulthandler
directory, mode = sys.argv[1], sys.argv[2]
writer = EventWriter(directory, "sim", mode=mode, max_file_size=256_000, overflow="block")
stop = threading.Event()
sent = {"parent": 0}

def keep_logging():
    n = 0
    while not stop.is_set():
        log(writer, src="parent", n=n)
        n += 1
    sent["parent"] = n

thread = threading.Thread(target=keep_logging)
thread.start()
time.sleep(0.05)
children = {}
for c in range(20):
    time.sleep(0.01)  # the logging thread is busy writing at every fork
    pid = os.fork()
    if pid == 0:
        status = 3
        # A child still running after 45 s (its close() waits 60) says where it is stuck.
        faulthandler.dump_traceback_later(45, exit=False)
        try:
            for n in range(300):
                log(writer, src=f"child{c}", n=n)
            status = 0 if writer.close(timeout=60) else 1
            s = writer.stats
            if s.failed or s.dropped:
                status = 2
        finally:
            os._exit(status)
    children[pid] = c
# The parent stops logging once the forks are done: a writer appending without pause
# (its rotations each fsync twice under the flock) can keep the directory's flock from
# the children for a minute on a slow disk, since flock is not fair.
stop.set()
thread.join(60)
statuses = {}
deadline = time.monotonic() + 120
while children and time.monotonic() < deadline:
    pid, status = os.waitpid(-1, os.WNOHANG)
    if pid:
        statuses[children.pop(pid)] = os.waitstatus_to_exitcode(status)
    else:
        time.sleep(0.01)
for pid, c in children.items():  # hung: a deadlock in the child
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    statuses[c] = "hung"
assert writer.close(timeout=60)
print(json.dumps({"parent": sent["parent"], "statuses": statuses}))
"""


class TestFork:
    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_forked_children_write_their_own_events_once(self, tmp_path: Path, mode: str) -> None:
        """20 of 20 forked children log and close; no parent event is written twice."""
        result = run_script(FORKING_PARENT, tmp_path, mode, timeout=240)
        outcome = json.loads(result.stdout)
        assert outcome["statuses"] == {str(c): 0 for c in range(CHILDREN)}, result.stderr[-6000:]
        expected = keys("parent", outcome["parent"]).union(
            *(keys(f"child{c}", CHILD_EVENTS) for c in range(CHILDREN))
        )
        check_dir(tmp_path, key=src_and_n, expected=expected, max_file_size=256_000)


class TestForkThenExec:
    def test_a_child_that_only_execs_touches_no_event_file(self, tmp_path: Path) -> None:
        """``subprocess`` with ``preexec_fn`` forks and execs: the at-fork hook opens no file and
        syncs nothing in the child, so a disk that stopped answering does not hang it, and a
        forked child that logs opens the file then."""
        run_script(
            """
            import subprocess
            from structlog_events import _directory, _file
            directory = sys.argv[1]
            writer = EventWriter(directory, "sim", mode="sync")
            log(writer, src="parent", n=0)

            class StuckOs:
                def __getattr__(self, name):
                    return getattr(os, name)
                def fsync(self, fd):
                    time.sleep(3600)

            _file.os = _directory.os = StuckOs()
            child = subprocess.run(
                [sys.executable, "-c", "pass"], preexec_fn=lambda: None, timeout=20
            )
            assert child.returncode == 0
            _file.os = _directory.os = os
            pid = os.fork()
            if pid == 0:
                log(writer, src="child", n=0)
                os._exit(0 if writer.close(timeout=20) else 1)
            assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
            log(writer, src="parent", n=1)
            assert writer.close()
            """,
            tmp_path,
            timeout=60,
        )
        check_dir(tmp_path, key=src_and_n, expected=keys("parent", 2) | keys("child", 1))
