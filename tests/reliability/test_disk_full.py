"""Disk full and file too large: failures counted, no merged lines, writing resumes.

``RLIMIT_FSIZE`` makes ``write()`` past the limit short and then fail with
EFBIG (CPython ignores SIGXFSZ); a tiny tmpfs makes it fail with ENOSPC.  The
tmpfs test needs root to mount one; where mounting fails it runs the same
scenario under ``RLIMIT_FSIZE`` instead, so it is never skipped.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from structlog_events import EventWriter

from ..helpers import check_dir, keys, log, run_script, src_and_n

#: Events logged before the limit, while the disk is full, and after space returns.
BEFORE, DURING, AFTER = 40, 120, 40

RLIMIT_CHILD = """
import resource
directory, mode = sys.argv[1], sys.argv[2]
writer = EventWriter(directory, "sim", mode=mode, max_file_size=10**9, overflow="block")
for n in range(40):
    log(writer, src="before", n=n)
assert writer.flush(timeout=30)
size = os.path.getsize(Path(directory, "events.jsonl"))
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
# Room for about a dozen more lines, ending mid-line.
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 2537, hard))
for n in range(120):
    log(writer, src="during", n=n)
assert writer.flush(timeout=30) is False  # events were lost: flush says so
full = stats_of(writer)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
for n in range(40):
    log(writer, src="after", n=n)
assert writer.close() is False
print(json.dumps({"full": full, "end": stats_of(writer), "limit": size + 2537}))
"""


def check_full_disk_outcome(directory: Path, full: dict[str, int], end: dict[str, int]) -> None:
    """Every line intact; what failed is counted; before and after are complete."""
    contents = check_dir(directory, key=src_and_n)
    found = set(contents.keys)
    assert keys("before", BEFORE) <= found
    assert keys("after", AFTER) <= found  # writing resumed once there was room
    during = {key for key in found if key[0] == "during"}
    assert 0 < len(during) < DURING
    assert full["failed"] == DURING - len(during)  # every failed event counted
    assert end["written"] == len(found) == BEFORE + len(during) + AFTER
    assert end["failed"] == full["failed"]


class TestFileTooLarge:
    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_efbig_fails_events_cleanly_then_resumes(self, tmp_path: Path, mode: str) -> None:
        """Under RLIMIT_FSIZE, events past the limit are counted failed, lines stay whole."""
        result = run_script(RLIMIT_CHILD, tmp_path, mode)
        outcome = json.loads(result.stdout)
        check_full_disk_outcome(tmp_path, outcome["full"], outcome["end"])
        assert "File too large" in result.stderr  # said on stderr


@contextlib.contextmanager
def tiny_tmpfs(mount_point: Path, size: int) -> Iterator[bool]:
    """Mount a tmpfs of *size* bytes at *mount_point*; yield whether that worked."""
    mount_point.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
            capture_output=True,
            check=False,
            timeout=30,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(mount_point)], check=True, timeout=30)


#: What makes each event of the tmpfs test about 300 bytes: the disk fills in few.
PAD = "p" * 150


class TestDiskFull:
    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_enospc_fails_events_cleanly_then_resumes(self, tmp_path: Path, mode: str) -> None:
        """On a full tmpfs, events that do not fit are counted failed; freeing space resumes."""
        with tiny_tmpfs(tmp_path / "disk", 256 * 1024) as mounted:
            if not mounted:
                # No tmpfs without root: the same scenario, with EFBIG for ENOSPC.
                result = run_script(RLIMIT_CHILD, tmp_path / "disk", mode)
                outcome = json.loads(result.stdout)
                check_full_disk_outcome(tmp_path / "disk", outcome["full"], outcome["end"])
                return
            directory = tmp_path / "disk" / "events"
            writer = EventWriter(directory, "sim", mode=mode, overflow="block")
            for n in range(BEFORE):
                log(writer, src="before", n=n, pad=PAD)
            assert writer.flush(timeout=30)
            # Fill the disk but for a few lines' worth.
            filler = tmp_path / "disk" / "filler"
            with filler.open("wb", buffering=0) as stream, contextlib.suppress(OSError):
                while True:
                    stream.write(b"\0" * 4096)
            filler.write_bytes(filler.read_bytes()[: -3 * 4096])
            for n in range(DURING):
                log(writer, src="during", n=n, pad=PAD)
            assert writer.flush(timeout=30) is False  # events were lost: flush says so
            full = writer.stats
            filler.unlink()
            for n in range(AFTER):
                log(writer, src="after", n=n, pad=PAD)
            assert writer.close() is False
            end = writer.stats
            check_full_disk_outcome(
                directory,
                {"failed": full.failed},
                {"written": end.written, "failed": end.failed},
            )
