"""A shared directory: planted symlinks, hard links and FIFOs are refused.

The target of a planted link is never written to; a FIFO never hangs the
writer; files are created with the configured mode, the umask applying; and no
path comes from event data.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from structlog_events import EventWriter

from ..helpers import check_dir, log, src_and_n


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A file outside the event directory that an attacker wants written."""
    path = tmp_path / "precious"
    path.write_bytes(b"do not touch\n")
    return path


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    path = tmp_path / "events"
    path.mkdir()
    return path


def untouched(path: Path) -> bool:
    return path.read_bytes() == b"do not touch\n"


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


class TestPlantedLinks:
    @pytest.mark.parametrize("name", ["events.jsonl", ".events.lock"])
    def test_a_symlink_planted_before_start_is_refused(
        self, directory: Path, target: Path, name: str
    ) -> None:
        """A symlink at events.jsonl or .events.lock: the writer refuses to start."""
        (directory / name).symlink_to(target)
        with pytest.raises(ValueError, match="symbolic link"):
            EventWriter(directory, "sim", mode="sync")
        assert untouched(target)

    def test_a_symlink_planted_after_a_rotation_is_refused(
        self, directory: Path, target: Path
    ) -> None:
        """A symlink put where the next events.jsonl goes: events fail, the target is safe."""
        writer = EventWriter(directory, "sim", mode="sync")
        log(writer, src="s", n=0)
        (directory / "events.jsonl").rename(directory / "moved.jsonl")
        (directory / "events.jsonl").symlink_to(target)
        log(writer, src="s", n=1)
        assert writer.stats.failed == 1
        assert untouched(target)
        (directory / "events.jsonl").unlink()
        log(writer, src="s", n=2)  # once the link is gone, writing resumes
        writer.close()
        moved = directory / "moved.jsonl"
        check_dir(directory, key=src_and_n, expected={("s", 0), ("s", 2)}, extra=[moved])

    def test_a_planted_hard_link_is_refused(self, directory: Path, target: Path) -> None:
        """A hard link at events.jsonl to another file is not written through."""
        os.link(target, directory / "events.jsonl")
        with pytest.raises((ValueError, OSError), match="hard link"):
            EventWriter(directory, "sim", mode="sync")
        assert untouched(target)

    def test_a_planted_fifo_is_refused_without_hanging(self, directory: Path) -> None:
        """A FIFO at events.jsonl is refused at once: opening it never waits for a reader."""
        os.mkfifo(directory / "events.jsonl")
        with pytest.raises((ValueError, OSError), match="not a regular file"):
            EventWriter(directory, "sim", mode="sync")


class TestFileModes:
    def test_files_are_created_with_the_given_mode(self, directory: Path) -> None:
        """file_mode=0o600 gives owner-only event and lock files."""
        with umask(0o022):
            writer = EventWriter(directory, "sim", mode="sync", file_mode=0o600)
            log(writer, src="s", n=0)
            writer.close()
        for name in ("events.jsonl", ".events.lock"):
            assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600

    def test_the_umask_applies(self, directory: Path) -> None:
        """The default 0o644 under umask 0o077 gives 0o600."""
        with umask(0o077):
            writer = EventWriter(directory, "sim", mode="sync", max_file_size=300)
            for n in range(5):
                log(writer, src="s", n=n)  # rotated files keep the mode they were created with
            writer.close()
        modes = {stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}
        assert modes == {0o600}


class TestNoPathFromEventData:
    def test_event_data_never_names_a_file(self, tmp_path: Path, directory: Path) -> None:
        """Event names and values that look like paths change no file name."""
        writer = EventWriter(directory, "../../escape", mode="sync", max_file_size=400)
        for n in range(5):
            log(writer, "../../../x", src="s", n=n, path="/etc/passwd")
        writer.close()
        names = {p.name for p in directory.iterdir()}
        assert names - {"events.jsonl", ".events.lock"}
        assert all(n.startswith(("events", ".events")) for n in names)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["events"]
