"""Retention (``max_files``, ``max_total_size``) and gzip compression of rotated files."""

from __future__ import annotations

import fcntl
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from structlog_events import Event, EventWriter, WriterStats, read_events
from structlog_events._file import EventFile
from structlog_events._layout import ROTATED_PATTERN, rotated_name
from structlog_events._retention import Retention

#: Bytes at which the tests rotate: a few events per file.
SMALL_FILE: int = 1200


def _event(number: int) -> Event:
    return Event(event_type="tick", simulation_id="sim", data={"i": number, "pad": "x" * 60})


def write_numbered(directory: Path, count: int, *, start: int = 0, **options: Any) -> WriterStats:
    """Emit events numbered ``start``, ``start + 1``, ... through a writer, then close it."""
    options.setdefault("max_file_size", SMALL_FILE)
    options.setdefault("mode", "sync")
    writer = EventWriter(directory, "sim", **options)
    for number in range(start, start + count):
        writer.emit(_event(number))
    assert writer.close()
    return writer.stats


def rotated_names(directory: Path) -> list[str]:
    """Names of the rotated event files, plain and compressed, oldest first."""
    return sorted(name for name in os.listdir(directory) if ROTATED_PATTERN.match(name))


def numbers_in(directory: Path) -> list[int]:
    """The ``data.i`` of every event, in write order, reading archives and plain files."""
    contents: list[bytes] = []
    names = rotated_names(directory)
    for name in names:
        if name.endswith(".gz"):
            if name.removesuffix(".gz") not in names:
                contents.append(gzip.decompress((directory / name).read_bytes()))
        else:
            contents.append((directory / name).read_bytes())
    live = directory / "events.jsonl"
    if live.exists():
        contents.append(live.read_bytes())
    numbers: list[int] = []
    for content in contents:
        assert not content or content.endswith(b"\n"), "a file ends in a torn line"
        numbers.extend(orjson.loads(line)["data"]["i"] for line in content.split(b"\n")[:-1])
    return numbers


def make_rotated(
    directory: Path, stamp: int, content: bytes = b"old\n", *, gz: bool = False
) -> Path:
    """Create a rotated file as an earlier run would have left it, dated *stamp* µs into 2000."""
    name = f"events_2000-01-01_00-00-00-{stamp:06d}.jsonl" + (".gz" if gz else "")
    path = directory / name
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


class TestOptions:
    @pytest.mark.parametrize("option", ["max_files", "max_total_size"])
    @pytest.mark.parametrize("value", [0, -1])
    def test_limit_below_one_is_refused(self, tmp_path: Path, option: str, value: Any) -> None:
        """A limit of zero or less raises ValueError naming the option and ``None``."""
        options: dict[str, Any] = {option: value}
        with pytest.raises(ValueError, match=rf"{option} must be a positive .* or None"):
            EventWriter(tmp_path / "out", "sim", **options)

    @pytest.mark.parametrize("option", ["max_files", "max_total_size"])
    @pytest.mark.parametrize("value", [True, 2.5, "3"])
    def test_limit_of_wrong_type_is_refused(self, tmp_path: Path, option: str, value: Any) -> None:
        """A limit that is not an int (a bool, a float, a string) raises TypeError."""
        options: dict[str, Any] = {option: value}
        with pytest.raises(TypeError, match=rf"{option} must be an int or None"):
            EventWriter(tmp_path / "out", "sim", **options)

    @pytest.mark.parametrize("value", ["yes", 1, None])
    def test_compress_must_be_a_bool(self, tmp_path: Path, value: Any) -> None:
        """``compress`` takes True or False only."""
        with pytest.raises(TypeError, match="compress must be True or False"):
            EventWriter(tmp_path / "out", "sim", compress=value)

    def test_refused_options_create_nothing(self, tmp_path: Path) -> None:
        """Options are checked before the output directory is created."""
        with pytest.raises(ValueError, match="max_files"):
            EventWriter(tmp_path / "out", "sim", max_files=0)
        assert not (tmp_path / "out").exists()

    def test_default_keeps_every_rotated_file_plain(self, tmp_path: Path) -> None:
        """Without options every rotated file stays, uncompressed."""
        stats = write_numbered(tmp_path, 100)
        names = rotated_names(tmp_path)
        assert len(names) == stats.rotations > 5
        assert not any(name.endswith(".gz") for name in names)
        assert numbers_in(tmp_path) == list(range(100))


class TestMaxFiles:
    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_keeps_the_newest_rotated_files(self, tmp_path: Path, mode: str) -> None:
        """Only the newest ``max_files`` rotated files remain, holding the latest events."""
        stats = write_numbered(tmp_path, 200, max_files=3, mode=mode)
        assert stats.rotations > 10
        assert len(rotated_names(tmp_path)) == 3
        numbers = numbers_in(tmp_path)
        assert numbers == list(range(200 - len(numbers), 200))

    def test_counts_plain_and_compressed_files_alike(self, tmp_path: Path) -> None:
        """Older ``.jsonl`` and ``.jsonl.gz`` files count toward ``max_files`` together."""
        old = [make_rotated(tmp_path, stamp, gz=stamp % 2 == 0) for stamp in range(1, 5)]
        assert write_numbered(tmp_path, 8, max_files=3).rotations == 1
        kept = rotated_names(tmp_path)
        assert len(kept) == 3
        assert kept[:2] == [old[2].name, old[3].name]
        assert not kept[2].startswith("events_2000")

    def test_limit_applies_as_soon_as_the_writer_is_created(self, tmp_path: Path) -> None:
        """Files beyond a limit lowered since the last run go when the writer opens."""
        old = [make_rotated(tmp_path, stamp) for stamp in range(5)]
        writer = EventWriter(tmp_path, "sim", max_files=2)
        assert rotated_names(tmp_path) == [old[3].name, old[4].name]
        assert writer.close()

    def test_never_deletes_the_live_file_the_lock_or_other_names(self, tmp_path: Path) -> None:
        """Retention deletes rotated event files only; every other name survives."""
        outside = tmp_path / "elsewhere.jsonl"
        outside.write_bytes(b"keep\n")
        out = tmp_path / "out"
        out.mkdir()
        foreign = [
            "notes.txt",
            "events.jsonl.bak",
            "events_backup.jsonl",
            "events_2000-01-01_00-00-00-000001.jsonl.old",
            "events_2000-01-01_00-00-00-1.jsonl",
            "other_2000-01-01_00-00-00-000001.jsonl",
        ]
        for name in foreign:
            (out / name).write_bytes(b"keep\n")
        # A symbolic link named like a rotated file is not one this library wrote.
        (out / "events_2000-01-01_00-00-00-000002.jsonl").symlink_to(outside)
        write_numbered(out, 200, max_files=1)
        assert (out / "events.jsonl").stat().st_size > 0
        assert (out / ".events.lock").exists()
        for name in foreign:
            assert (out / name).read_bytes() == b"keep\n", name
        assert (out / "events_2000-01-01_00-00-00-000002.jsonl").is_symlink()
        assert outside.read_bytes() == b"keep\n"
        assert len([n for n in rotated_names(out) if not n.startswith("events_2000")]) == 1

    def test_limit_holds_within_one_long_append(self, tmp_path: Path) -> None:
        """One append that fills many files (a queued writer's batch) applies retention after
        each rotation: there are never more than ``max_files`` rotated files, plus the one just
        rotated whose hook is running."""
        retention = Retention(tmp_path, max_files=2)
        seen: list[int] = []

        def after_rotation(path: Path) -> None:
            seen.append(len(rotated_names(tmp_path)))
            assert retention.after_rotation is not None
            retention.after_rotation(path)

        event_file = EventFile(tmp_path, max_file_size=100, after_rotation=after_rotation)
        event_file.append([b'{"i": %d, "pad": "%s"}\n' % (i, b"x" * 60) for i in range(50)])
        event_file.close()
        assert len(seen) == 49
        assert max(seen) == 3
        assert len(rotated_names(tmp_path)) == 2


class TestMaxTotalSize:
    def test_rotated_files_stay_within_the_byte_budget(self, tmp_path: Path) -> None:
        """The newest rotated files kept add up to at most ``max_total_size`` bytes."""
        budget = 5 * SMALL_FILE
        stats = write_numbered(tmp_path, 300, max_total_size=budget)
        names = rotated_names(tmp_path)
        assert stats.rotations > 20
        total = sum((tmp_path / name).stat().st_size for name in names)
        # Files are nearly SMALL_FILE bytes each: four fit, a sixth never would.
        assert 3 * SMALL_FILE < total <= budget
        numbers = numbers_in(tmp_path)
        assert numbers == list(range(300 - len(numbers), 300))

    def test_a_file_being_compressed_counts_once_by_its_archive(self, tmp_path: Path) -> None:
        """Plain and ``.gz`` copies of one file count once, at the archive's size."""
        older = make_rotated(tmp_path, 1, b"o" * 99 + b"\n")
        plain = make_rotated(tmp_path, 2, b"p" * 999 + b"\n")
        archive = plain.with_name(plain.name + ".gz")
        archive.write_bytes(b"z" * 100)
        Retention(tmp_path, max_total_size=200).sweep()
        assert rotated_names(tmp_path) == [older.name, plain.name, archive.name]
        Retention(tmp_path, max_total_size=199).sweep()
        assert rotated_names(tmp_path) == [plain.name, archive.name]

    @given(
        files=st.lists(
            st.tuples(st.integers(0, 3000), st.sampled_from(["plain", "gz", "both"])),
            max_size=10,
        ),
        max_files=st.none() | st.integers(1, 12),
        max_total_size=st.none() | st.integers(1, 20_000),
    )
    def test_keeps_the_longest_run_of_newest_files_within_both_limits(
        self,
        files: list[tuple[int, str]],
        max_files: int | None,
        max_total_size: int | None,
    ) -> None:
        """Newest first, files are kept while both limits hold; that one and all older go."""
        with tempfile.TemporaryDirectory() as name:
            directory = Path(name)
            (directory / "events.jsonl").write_bytes(b"live\n")
            (directory / "unrelated.txt").write_bytes(b"x" * 50_000)
            keys = []
            for stamp, (size, kind) in enumerate(files):
                plain = make_rotated(directory, stamp, b"p" * size)
                if kind != "plain":
                    plain.with_name(plain.name + ".gz").write_bytes(b"g" * size)
                if kind == "gz":
                    plain.unlink()
                keys.append((plain.name, size))
            expected: set[str] = set()
            kept_bytes = 0
            for count, (key, size) in enumerate(reversed(keys)):
                if (max_files is not None and count >= max_files) or (
                    max_total_size is not None and kept_bytes + size > max_total_size
                ):
                    break
                kept_bytes += size
                expected.add(key)
            Retention(directory, max_files=max_files, max_total_size=max_total_size).sweep()
            assert {n.removesuffix(".gz") for n in rotated_names(directory)} == expected
            assert (directory / "events.jsonl").exists()
            assert (directory / "unrelated.txt").exists()


def rotated_at(directory: Path, when: datetime, content: bytes = b"old\n") -> Path:
    """Create a rotated file named for a rotation at *when*."""
    path = directory / rotated_name(when)
    path.write_bytes(content)
    return path


class TestMaxAge:
    def test_files_rotated_longer_ago_are_deleted_others_never(self, tmp_path: Path) -> None:
        """Rotated files older than max_age go, by the time in their name; younger ones, the
        live file, the lock file and files of other names stay."""
        now = datetime.now(UTC)
        old = [rotated_at(tmp_path, now - timedelta(days=days)) for days in (9, 8)]
        kept = [rotated_at(tmp_path, now - timedelta(days=days)) for days in (6, 1)]
        others = [tmp_path / name for name in ("notes.txt", "events.jsonl.bak", "events.jsonl")]
        for path in others:
            path.write_bytes(b"x\n")
        for path in old:
            os.utime(path, (now.timestamp(), now.timestamp()))  # a fresh mtime changes nothing
        Retention(tmp_path, max_age=timedelta(days=7))
        assert sorted(tmp_path.iterdir()) == sorted([*kept, *others])

    def test_a_name_in_the_future_is_young(self, tmp_path: Path) -> None:
        """After the clock went back, a rotation named later than now is kept."""
        future = rotated_at(tmp_path, datetime.now(UTC) + timedelta(days=30))
        Retention(tmp_path, max_age=timedelta(hours=1))
        assert future.exists()

    def test_a_writer_opening_the_directory_deletes_what_is_older(self, tmp_path: Path) -> None:
        """rotate_every=1 day with max_age=3 days: a writer started today keeps the files of
        the last three days only."""
        rotated_at(tmp_path, datetime.now(UTC) - timedelta(days=5))
        rotated_at(tmp_path, datetime.now(UTC) - timedelta(days=2))
        with EventWriter(
            tmp_path, "sim", mode="sync", rotate_every=timedelta(days=1), max_age=timedelta(days=3)
        ) as writer:
            writer.emit(Event(event_type="e", simulation_id="sim"))
        assert len(rotated_names(tmp_path)) == 1

    @pytest.mark.parametrize("value", [timedelta(0), timedelta(seconds=-1)])
    def test_a_max_age_not_above_zero_is_refused(self, tmp_path: Path, value: timedelta) -> None:
        """max_age=0 or negative raises ValueError naming the option."""
        with pytest.raises(ValueError, match="max_age must be a positive timedelta"):
            EventWriter(tmp_path, "sim", max_age=value)

    def test_seconds_as_a_number_are_refused(self, tmp_path: Path) -> None:
        """max_age and rotate_every take a timedelta, not a number of seconds."""
        for option in ("max_age", "rotate_every"):
            with pytest.raises(TypeError, match=f"{option} must be a datetime.timedelta"):
                EventWriter(tmp_path, "sim", **{option: 3600})  # type: ignore[arg-type]


class TestCompression:
    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_rotated_files_become_archives_holding_every_event(
        self, tmp_path: Path, mode: str
    ) -> None:
        """After close, each rotated file is a ``.jsonl.gz`` and every event reads back in order."""
        stats = write_numbered(tmp_path, 150, compress=True, mode=mode)
        names = rotated_names(tmp_path)
        assert len(names) == stats.rotations > 5
        assert all(name.endswith(".jsonl.gz") for name in names)
        assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
        assert numbers_in(tmp_path) == list(range(150))

    def test_read_events_reads_the_archives_in_order(self, tmp_path: Path) -> None:
        """The package's reader takes the archives for the rotated files they replace."""
        write_numbered(tmp_path, 80, compress=True, max_files=5)
        numbers = [event.data["i"] for event in read_events(tmp_path)]
        assert numbers == numbers_in(tmp_path)
        assert numbers == list(range(80 - len(numbers), 80))

    def test_archive_header_names_the_event_file_not_the_temporary(self, tmp_path: Path) -> None:
        """The gzip header carries ``events_<time>.jsonl``, the name it decompresses to."""
        write_numbered(tmp_path, 20, compress=True)
        name = rotated_names(tmp_path)[0]
        header = (tmp_path / name).read_bytes()[:200]
        assert header[3] & 0x08  # FNAME present
        assert header[10:].split(b"\0")[0].decode() == name.removesuffix(".gz")

    def test_archives_are_written_off_the_logging_thread(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """In SYNC mode the caller's thread rotates, but gzip runs on its own thread."""
        threads = _record_archive_threads(monkeypatch)
        stats = write_numbered(tmp_path, 100, compress=True, mode="sync")
        assert len(threads) == stats.rotations
        assert set(threads) == {"structlog-events-compress"}

    def test_close_waits_for_the_compressions_under_way(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``close()`` returns only once every rotated file is compressed."""
        _slow_archives(monkeypatch, delay=0.05)
        write_numbered(tmp_path, 60, compress=True)
        assert all(name.endswith(".gz") for name in rotated_names(tmp_path))

    def test_close_timeout_returns_false_and_compression_goes_on(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A compression outlasting the timeout makes ``close()`` return False, not stop it."""
        gate = threading.Event()
        original = Retention._write_archive

        def gated(self: Retention, *args: Any) -> None:
            gate.wait(30)
            original(self, *args)

        monkeypatch.setattr(Retention, "_write_archive", gated)
        writer = EventWriter(tmp_path, "sim", max_file_size=SMALL_FILE, mode="sync", compress=True)
        for number in range(30):
            writer.emit(_event(number))
        assert writer.close(timeout=0.1) is False
        assert any(not name.endswith(".gz") for name in rotated_names(tmp_path))
        gate.set()
        assert writer._retention.close(timeout=30)
        assert all(name.endswith(".gz") for name in rotated_names(tmp_path))
        assert numbers_in(tmp_path) == list(range(30))

    def test_failed_compression_keeps_the_plain_file_and_no_archive(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A write error mid-archive leaves the plain file, no archive and no temporary."""

        def disk_full(source: Any, target: Any, length: int = 0) -> None:
            target.write(source.read(100))
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(shutil, "copyfileobj", disk_full)
        write_numbered(tmp_path, 40, compress=True)
        names = rotated_names(tmp_path)
        assert names
        assert not any(name.endswith(".gz") for name in names)
        assert sorted(os.listdir(tmp_path)) == sorted([*names, ".events.lock", "events.jsonl"])
        assert "No space left on device" in capsys.readouterr().err
        assert numbers_in(tmp_path) == list(range(40))

    def test_crash_mid_compression_leaves_no_archive_under_the_final_name(
        self, tmp_path: Path
    ) -> None:
        """A process killed mid-archive leaves its plain file and a dot-named partial only."""
        script = textwrap.dedent(
            """
            import os, shutil, sys
            from structlog_events import Event, EventWriter

            def crash(source, target, length=0):
                target.write(source.read(300))
                target.flush()
                os._exit(9)  # killed mid-archive

            shutil.copyfileobj = crash
            writer = EventWriter(sys.argv[1], "sim", max_file_size=1200, mode="sync", compress=True)
            for number in range(20):
                writer.emit(Event(event_type="tick", simulation_id="sim",
                                  data={"i": number, "pad": "x" * 60}))
            writer.close()
            """
        )
        result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], timeout=60)
        assert result.returncode == 9
        names = rotated_names(tmp_path)
        assert names
        assert not any(name.endswith(".gz") for name in names)
        temporaries = [name for name in os.listdir(tmp_path) if name.endswith(".gz.tmp")]
        assert temporaries == [f".{names[0]}.gz.tmp"]
        written_before_crash = numbers_in(tmp_path)
        # The next writer on the directory finishes the job.
        write_numbered(tmp_path, 20, start=20, compress=True)
        assert all(name.endswith(".gz") for name in rotated_names(tmp_path))
        assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
        assert numbers_in(tmp_path) == [*written_before_crash, *range(20, 40)]

    def test_next_writer_finishes_what_a_crash_left(self, tmp_path: Path) -> None:
        """A partial archive is redone, an orphan removed, a finished one's plain file dropped."""
        redo = make_rotated(tmp_path, 1, b'{"i": 1}\n')
        (tmp_path / f".{redo.name}.gz.tmp").write_bytes(b"half an archive")
        orphan = tmp_path / ".events_2000-01-01_00-00-00-000002.jsonl.gz.tmp"
        orphan.write_bytes(b"half an archive")
        done = make_rotated(tmp_path, 3, b'{"i": 3}\n')
        archive = done.with_name(done.name + ".gz")
        archive.write_bytes(gzip.compress(b'{"i": 3}\n'))
        archived = archive.read_bytes()
        write_numbered(tmp_path, 12, compress=True)  # one rotation triggers the sweep
        assert gzip.decompress((tmp_path / f"{redo.name}.gz").read_bytes()) == b'{"i": 1}\n'
        assert archive.read_bytes() == archived
        assert not redo.exists()
        assert not done.exists()
        assert not orphan.exists()
        assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]

    def test_uncompressed_leftovers_are_compressed_when_the_writer_opens(
        self, tmp_path: Path
    ) -> None:
        """Rotated files an earlier run left plain are compressed without waiting for a rotation."""
        old = [make_rotated(tmp_path, stamp, b'{"i": %d}\n' % stamp) for stamp in range(3)]
        writer = EventWriter(tmp_path, "sim", compress=True, max_files=2)
        assert writer.close()
        assert rotated_names(tmp_path) == [old[1].name + ".gz", old[2].name + ".gz"]

    def test_a_file_another_writer_is_compressing_is_left_to_it(self, tmp_path: Path) -> None:
        """While another process holds the plain file's flock, it is not compressed twice."""
        retention = Retention(tmp_path, compress=True)  # before the file: no catch-up sweep
        plain = make_rotated(tmp_path, 1, b'{"i": 1}\n')
        with open(plain, "rb") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            retention.sweep()
            assert rotated_names(tmp_path) == [plain.name]
        retention.sweep()
        assert rotated_names(tmp_path) == [plain.name + ".gz"]

    @pytest.mark.parametrize("orphan_removed", [False, True], ids=["temporary-left", "swept"])
    def test_a_file_deleted_mid_compression_is_not_brought_back(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str],
        orphan_removed: bool,
    ) -> None:
        """A plain file deleted (by another writer's retention) while compressed gets no archive,
        and no error is reported, also when that writer's sweep removed the temporary archive
        as an orphan."""
        retention = Retention(tmp_path, compress=True)  # before the file: no catch-up sweep
        plain = make_rotated(tmp_path, 1, b'{"i": 1}\n')
        original = Retention._write_archive

        def deleted_meanwhile(self: Retention, source_fd: int, temp: Path, *args: Any) -> None:
            original(self, source_fd, temp, *args)
            plain.unlink()
            if orphan_removed:
                temp.unlink()

        monkeypatch.setattr(Retention, "_write_archive", deleted_meanwhile)
        assert retention.compress_file(plain) is False
        retention.sweep()
        assert os.listdir(tmp_path) == []
        assert capfd.readouterr().err == ""

    def test_retention_counts_archives_after_compression(self, tmp_path: Path) -> None:
        """With compression, ``max_total_size`` is measured on the archives, not the plain files."""
        write_numbered(tmp_path, 300, compress=True, max_file_size=6000, max_total_size=5000)
        names = rotated_names(tmp_path)
        # A plain file (near 6000 bytes) would not fit the budget at all.
        assert len(names) >= 2
        assert all(name.endswith(".gz") for name in names)
        assert sum((tmp_path / name).stat().st_size for name in names) <= 5000
        numbers = numbers_in(tmp_path)
        assert numbers == list(range(300 - len(numbers), 300))

    def test_the_newest_file_awaiting_compression_does_not_push_out_archives(
        self, tmp_path: Path
    ) -> None:
        """The newest rotated file, still plain, is not counted; older plain files count in full."""
        retention = Retention(tmp_path, compress=True, max_total_size=300)
        archives = [make_rotated(tmp_path, stamp, b"a" * 50, gz=True) for stamp in (1, 2)]
        waiting = make_rotated(tmp_path, 3, b"p" * 5000)
        retention._prune()
        assert rotated_names(tmp_path) == [archives[0].name, archives[1].name, waiting.name]
        newer = make_rotated(tmp_path, 4, b"q" * 100)
        retention._prune()
        assert rotated_names(tmp_path) == [newer.name]

    def test_limits_hold_however_far_compression_lags(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With the compressor stalled, a busy writer still keeps max_files and max_total_size."""
        stalled = threading.Event()
        original = Retention.compress_file

        def stall(self: Retention, source: Path) -> bool:
            stalled.wait(30)
            return original(self, source)

        monkeypatch.setattr(Retention, "compress_file", stall)
        writer = EventWriter(
            tmp_path, "sim", max_file_size=2000, max_files=5, max_total_size=8000, compress=True
        )
        for n in range(3000):
            writer.emit(Event(event_type="tick", simulation_id="sim", data={"n": n}))
            if n % 100 == 0:
                writer.flush()
                files = [p for p in tmp_path.iterdir() if ROTATED_PATTERN.match(p.name)]
                newest = max(files, default=None)
                counted = [p for p in files if p != newest or p.suffix == ".gz"]
                assert len(counted) <= 5
                assert sum(p.stat().st_size for p in counted) <= 8000
        assert writer.stats.rotations > 50
        stalled.set()
        assert writer.close(timeout=30)

    def test_rotation_after_close_is_compressed_in_the_rotating_thread(
        self, tmp_path: Path
    ) -> None:
        """Once closed, the hook compresses at once, in its caller's thread."""
        retention = Retention(tmp_path, compress=True)
        assert retention.close()
        plain = make_rotated(tmp_path, 1, b'{"i": 1}\n')
        assert retention.after_rotation is not None
        retention.after_rotation(plain)
        assert rotated_names(tmp_path) == [plain.name + ".gz"]
        assert retention.close()

    def test_close_is_idempotent_and_fine_before_any_rotation(self, tmp_path: Path) -> None:
        """``close()`` with nothing rotated, and twice, returns True."""
        retention = Retention(tmp_path, compress=True, max_files=2)
        assert retention.close()
        assert retention.close()


class TestCompressionAcrossProcessLife:
    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_pending_compressions_finish_at_interpreter_exit(
        self, tmp_path: Path, mode: str
    ) -> None:
        """A process that exits without ``close()`` still leaves every rotated file compressed."""
        script = textwrap.dedent(
            """
            import sys, time
            from structlog_events import Event, EventWriter
            from structlog_events._retention import Retention

            original = Retention._write_archive
            def slow(self, *args):
                time.sleep(0.02)  # compression lags behind rotation
                original(self, *args)
            Retention._write_archive = slow

            writer = EventWriter(sys.argv[1], "sim", max_file_size=1200, mode=sys.argv[2],
                                 compress=True)
            for number in range(200):
                writer.emit(Event(event_type="tick", simulation_id="sim",
                                  data={"i": number, "pad": "x" * 60}))
            """
        )
        subprocess.run([sys.executable, "-c", script, str(tmp_path), mode], check=True, timeout=60)
        names = rotated_names(tmp_path)
        assert len(names) > 10
        assert all(name.endswith(".gz") for name in names)
        assert numbers_in(tmp_path) == list(range(200))

    def test_forked_child_compresses_its_own_rotations(self, tmp_path: Path) -> None:
        """After ``fork()`` the child starts its own compression thread."""
        script = textwrap.dedent(
            """
            import os, sys
            from structlog_events import Event, EventWriter

            def emit(writer, numbers):
                for number in numbers:
                    writer.emit(Event(event_type="tick", simulation_id="sim",
                                      data={"i": number, "pad": "x" * 60}))

            writer = EventWriter(sys.argv[1], "sim", max_file_size=1200, mode="sync",
                                 compress=True)
            emit(writer, range(0, 30))  # the parent's compression thread is running
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(write_end)
                os.read(read_end, 1)  # the parent has closed: only the child compresses
                emit(writer, range(30, 60))
                ok = writer.close()
                os._exit(0 if ok else 3)
            os.close(read_end)
            writer.close()
            os.write(write_end, b"x")
            _, status = os.waitpid(pid, 0)
            sys.exit(os.waitstatus_to_exitcode(status))
            """
        )
        subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, timeout=60)
        names = rotated_names(tmp_path)
        assert len(names) > 6
        assert all(name.endswith(".gz") for name in names)
        assert numbers_in(tmp_path) == list(range(60))


def _record_archive_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    threads: list[str] = []
    original = Retention._write_archive

    def recording(self: Retention, *args: Any) -> None:
        threads.append(threading.current_thread().name)
        original(self, *args)

    monkeypatch.setattr(Retention, "_write_archive", recording)
    return threads


def _slow_archives(monkeypatch: pytest.MonkeyPatch, delay: float) -> None:
    original: Callable[..., None] = Retention._write_archive

    def slow(self: Retention, *args: Any) -> None:
        time.sleep(delay)  # compression lags behind rotation
        original(self, *args)

    monkeypatch.setattr(Retention, "_write_archive", slow)
