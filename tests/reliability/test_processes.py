"""Several writers on one directory: processes, and two writers in one process.

Every event lands exactly once, lines never interleave, no file exceeds the
limit, and rotation happens once per threshold crossing: a file was rotated
only when the next line would not have fitted in it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from structlog_events import EventWriter

from ..helpers import DirectoryReport, Key, check_dir, keys, log, src_and_n, start_script

WRITER_PROCESS = """
directory, src, mode, count, max_file_size = sys.argv[1:6]
writer = EventWriter(directory, "sim", mode=mode, max_file_size=int(max_file_size),
                     overflow="block", max_queue_size=5000)
start = Path(directory, "start")
while not start.exists():  # all processes begin together
    time.sleep(0.001)
for n in range(int(count)):
    log(writer, src=src, n=n)
assert writer.close(timeout=120)
print(json.dumps(stats_of(writer)))
"""


def assert_rotated_once_per_crossing(contents: DirectoryReport[Key], max_file_size: int) -> None:
    """Each rotated file was full: the first line of the next file would not have fitted."""
    early = [
        (path.name, size, len(next_first) + 1)
        for path, size, next_first in zip(
            contents.files[:-1], contents.sizes[:-1], contents.first_lines[1:], strict=True
        )
        if size + len(next_first) + 1 <= max_file_size
    ]
    assert not early, f"rotated before the limit (name, size, next line): {early[:5]}"


def run_writer_processes(
    directory: Path, mode: str, processes: int, count: int, max_file_size: int
) -> list[dict[str, int]]:
    children = [
        start_script(WRITER_PROCESS, directory, f"p{i}", mode, count, max_file_size)
        for i in range(processes)
    ]
    try:
        (directory / "start").touch()
        outputs = [child.communicate(timeout=200) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate(timeout=30)
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err[-2000:]
    (directory / "start").unlink()
    return [json.loads(out) for out, _ in outputs]


class TestSeveralProcesses:
    @pytest.mark.parametrize(
        ("mode", "count", "max_file_size"),
        [("async", 25_000, 64 * 1024), ("sync", 1_000, 16 * 1024)],
    )
    def test_four_processes_write_every_event_exactly_once(
        self, tmp_path: Path, mode: str, count: int, max_file_size: int
    ) -> None:
        """4 processes on one directory: exactly once, whole lines, limits and rotations right."""
        stats = run_writer_processes(tmp_path, mode, 4, count, max_file_size)
        expected = set().union(*(keys(f"p{i}", count) for i in range(4)))
        contents = check_dir(
            tmp_path, key=src_and_n, expected=expected, max_file_size=max_file_size
        )
        assert_rotated_once_per_crossing(contents, max_file_size)
        assert all(s["written"] == count and s["failed"] == s["dropped"] == 0 for s in stats)
        assert sum(s["rotations"] for s in stats) == len(contents.files) - 1
        # The writers really took turns within files, not one file each.
        assert any(len({src for src, _ in file_keys}) > 1 for file_keys in contents.keys_per_file)


class TestTwoWritersInOneProcess:
    def test_two_writers_on_one_directory_share_it_safely(self, tmp_path: Path) -> None:
        """A SYNC and an ASYNC writer of one process, on one directory, in four threads."""
        limit = 8192
        writers = [
            EventWriter(tmp_path, "sim", mode="sync", max_file_size=limit),
            EventWriter(tmp_path, "sim", max_file_size=limit, overflow="block"),
        ]

        def produce(writer: EventWriter, src: str) -> None:
            for n in range(1500):
                log(writer, src=src, n=n)

        threads = [
            threading.Thread(target=produce, args=(writer, f"w{w}t{t}"))
            for w, writer in enumerate(writers)
            for t in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
        assert all(writer.close(timeout=60) for writer in writers)
        expected = set().union(*(keys(f"w{w}t{t}", 1500) for w in range(2) for t in range(2)))
        contents = check_dir(tmp_path, key=src_and_n, expected=expected, max_file_size=limit)
        assert_rotated_once_per_crossing(contents, limit)
        assert sum(w.stats.rotations for w in writers) == len(contents.files) - 1
