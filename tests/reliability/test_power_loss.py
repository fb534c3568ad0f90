"""Simulated power loss: thousands of crash points on a model disk.

Each seed runs a random workload against ``EventFile`` on the model disk of
``model_fs``: single lines fsynced one by one as in SYNC mode, batches as in
queued mode, lines never fsynced, closes and reopens, a small
``max_file_size`` so files rotate, and one writer or two taking turns (each
following the other's rotations).  It cuts the power at a random OS call,
materialises what the disk holds, and checks it; then a writer opens the
directory (sometimes losing power again while it repairs), appends, and the
directory is checked again."""

from __future__ import annotations

import contextlib
import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from structlog_events import _directory, _file, _layout, _recovery
from structlog_events._file import EventFile
from structlog_events._layout import CURRENT_NAME, ROTATED_PATTERN

from .model_fs import NO_FAULTS, FakeFcntl, FakeOs, Faults, ModelDisk, PowerLoss

DIRECTORY = Path("/model/events")

#: Seeds per configuration; each seed is one crash (or two) on its own disk.
SEEDS_CLEAN = 15_000
SEEDS_FAULTS = 6_000
SEEDS_QUEUED = 1_500
#: The fsync cadence and recovery window scaled down, in the proportions of
#: ``_layout``: batches of at most the cadence (3 lines of at most 200 bytes),
#: and a window of twice the cadence plus a batch.
SMALL_CADENCE = {"SYNC_EVERY_BYTES": 600, "RECOVERY_SCAN_BYTES": 2 * (600 + 600)}
#: Seeds a control build gets to show a loss (it shows one within a few dozen).
SEEDS_CONTROL = 400

FAULTS = Faults(short_write=0.05, enospc=0.03, fsync_error=0.04, directory_fsync_error=0.03)


@dataclass
class History:
    """Every line handed to the writer, and those acknowledged as durable."""

    ids: dict[bytes, int] = field(default_factory=dict)
    acked: set[int] = field(default_factory=set)

    def new_line(self, rng: random.Random) -> bytes:
        number = len(self.ids)
        line = orjson.dumps({"n": number, "pad": "x" * rng.randint(0, 150)}) + b"\n"
        self.ids[line] = number
        return line


#: The modules whose OS calls run on the model disk: the event file, its
#: directory, its repairs, and the listing that names rotated files.
MODEL_MODULES = (_file, _directory, _recovery, _layout)


@contextlib.contextmanager
def model_os(fake: FakeOs, **replaced: Any) -> Iterator[None]:
    """Run ``MODEL_MODULES`` on the model disk (and with *replaced* names).

    Each name is replaced in every one of them that has it; a name none has
    is an error, so a control build never silently keeps its safeguard.
    """
    values = {"os": fake, "fcntl": FakeFcntl(fake), **replaced}
    saved = [
        (module, name, getattr(module, name))
        for module in MODEL_MODULES
        for name in values
        if hasattr(module, name)
    ]
    missing = set(values) - {name for _, name, _ in saved}
    assert not missing, f"no module to replace {sorted(missing)} in"
    for module, name, _ in saved:
        setattr(module, name, values[name])
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def append_and_sync(event_file: EventFile, lines: list[bytes], history: History) -> None:
    """Append *lines*; acknowledge each one ``sync_through`` reports durable."""
    before = event_file.written_seq
    last = event_file.append(lines)
    if not last:
        return
    event_file.sync_through(last)
    for number in range(before + 1, last + 1):
        if event_file.sync_through(number):
            history.acked.add(history.ids[lines[number - before - 1]])


def append_queued(event_file: EventFile, lines: list[bytes]) -> None:
    """Append as a queued writer does: fsync only once the file has grown enough (or never)."""
    event_file.append(lines)
    if event_file.sync_due():
        event_file.sync_written()


def workload(rng: random.Random, history: History, *, queued: bool = False) -> None:
    """Random appends, syncs, closes and reopens, until done or the power goes.

    Half the seeds run two writers on the directory, taking turns, so each
    also follows the other's rotations.  *queued* runs five queued writers on
    one file instead: batches fsynced only as their cadence says.
    """
    if queued:
        queued_workload(rng, history)
        return
    max_file_size = rng.choice([300, 700, 1500, 100_000])
    writers: list[EventFile | None] = [None] * rng.choice([1, 2])
    try:
        for _ in range(rng.randint(5, 60)):
            which = rng.randrange(len(writers))
            event_file = writers[which]
            if event_file is None:
                try:
                    event_file = EventFile(DIRECTORY, max_file_size=max_file_size)
                except OSError:
                    continue  # an injected fault while opening: try again
                writers[which] = event_file
            action = rng.random()
            if action < 0.55:
                append_and_sync(event_file, [history.new_line(rng)], history)
            elif action < 0.85:
                lines = [history.new_line(rng) for _ in range(rng.randint(2, 8))]
                append_and_sync(event_file, lines, history)
            elif action < 0.95:
                event_file.append([history.new_line(rng)])  # written, never fsynced
            else:
                event_file.close()
                writers[which] = None
        for event_file in writers:
            if event_file is not None:
                event_file.close()
    finally:
        # Dropped without touching the disk again: the descriptors are the
        # model's, and the power may be gone.
        writers.clear()


def queued_workload(rng: random.Random, history: History) -> None:
    """Ten queued writers append a line each to one file in turn (equally busy, so their
    cadences line up), none ever flushing."""
    writers = [EventFile(DIRECTORY, max_file_size=10**9) for _ in range(10)]
    try:
        for turn in range(rng.randint(20, 200)):
            append_queued(writers[turn % len(writers)], [history.new_line(rng)])
    finally:
        writers.clear()


def restart(history: History, rng: random.Random) -> None:
    """Open the directory as a restarted writer does, then append a line and fsync it."""
    event_file = EventFile(DIRECTORY, max_file_size=1500)
    append_and_sync(event_file, [history.new_line(rng)], history)
    event_file.close()


def check(disk: ModelDisk, history: History, *, recovered: bool) -> list[str]:
    """What is wrong with the directory on *disk*; an empty list if nothing.

    Every acknowledged line is in exactly one file, and no line in two; a
    line that is not one the writer was given (garbage, a torn piece) comes
    after the last acknowledged line of its file (the reader skips only a
    damaged tail).  Once a writer has opened the directory: ``events.jsonl``
    holds no damaged line at all and no file is under two names.
    """
    problems: list[str] = []
    names_of: dict[int, list[str]] = {}
    for name, inode in sorted(disk.entries.items()):
        if name == CURRENT_NAME or ROTATED_PATTERN.match(name):
            names_of.setdefault(inode, []).append(name)
    seen: Counter[int] = Counter()
    for inode, names in names_of.items():
        parts = bytes(disk.inodes[inode].data).split(b"\n")
        ids = [history.ids.get(line + b"\n") for line in parts[:-1]]
        if parts[-1]:
            ids.append(None)  # a torn last line
        acked_at = [index for index, number in enumerate(ids) if number in history.acked]
        damaged_at = [index for index, number in enumerate(ids) if number is None]
        if acked_at and damaged_at and damaged_at[0] < acked_at[-1]:
            problems.append(f"{names}: damaged line {damaged_at[0]} before acknowledged lines")
        seen.update(number for number in ids if number is not None)
        if recovered and len(names) > 1:
            problems.append(f"{names}: one file under two names")
        if recovered and CURRENT_NAME in names and damaged_at:
            problems.append(f"{CURRENT_NAME}: damaged line {damaged_at[0]} after recovery")
    problems.extend(
        f"acknowledged line {number} lost" for number in sorted(history.acked - set(seen))
    )
    problems.extend(f"line {number} {count} times" for number, count in seen.items() if count > 1)
    return problems


def run_seed(
    seed: int, faults: Faults = NO_FAULTS, *, queued: bool = False, **replaced: Any
) -> list[str]:
    """One power loss (sometimes a second during recovery); the problems found."""
    rng = random.Random(seed)
    history = History()
    disk = ModelDisk(DIRECTORY, rng, faults)
    crash_at = rng.randint(1, 1500 if queued else 350)
    with model_os(FakeOs(disk, crash_at=crash_at), **replaced), contextlib.suppress(PowerLoss):
        workload(rng, history, queued=queued)
    window = int(replaced.get("RECOVERY_SCAN_BYTES", _layout.RECOVERY_SCAN_BYTES))
    problems = [
        f"at the crash: {span} unsynced bytes at the end of {CURRENT_NAME}, more than the "
        f"{window} recovery checks"
        for span in [unsynced_span(disk)]
        if span > window
    ]
    disk = disk.materialise(rng)
    problems += [f"after the crash: {p}" for p in check(disk, history, recovered=False)]
    if rng.random() < 0.3:
        fake = FakeOs(disk, crash_at=rng.randint(1, 40))
        with model_os(fake, **replaced), contextlib.suppress(PowerLoss):
            restart(history, rng)
        disk = disk.materialise(rng)
    with model_os(FakeOs(disk), **replaced):
        restart(history, rng)
    problems.extend(f"after recovery: {p}" for p in check(disk, history, recovered=True))
    return [f"seed {seed}: {problem}" for problem in problems]


def unsynced_span(disk: ModelDisk) -> int:
    """Bytes of the live file from its first byte not known to be on disk to its end."""
    inode_number = disk.entries.get(CURRENT_NAME)
    if inode_number is None:
        return 0
    inode = disk.inodes[inode_number]
    offsets = [
        change.offset
        for index, change in enumerate(inode.changes)
        if change.size is None and (index >= inode.committed or change.lost)
    ]
    return len(inode.data) - min(offsets) if offsets else 0


def first_problems(seeds: range, **kwargs: Any) -> list[str]:
    for seed in seeds:
        problems = run_seed(seed, **kwargs)
        if problems:
            return problems
    return []


class TestPowerLoss:
    def test_no_acknowledged_line_is_lost_at_any_crash_point(self) -> None:
        """Over thousands of crash points, no fsynced line is lost and damage is only a tail."""
        assert first_problems(range(SEEDS_CLEAN)) == []

    def test_injected_faults_never_cost_an_acknowledged_line(self) -> None:
        """Short writes, ENOSPC and failed fsyncs before the crash lose nothing acknowledged."""
        assert first_problems(range(SEEDS_FAULTS), faults=FAULTS) == []

    def test_the_recovery_window_covers_ten_queued_writers(self) -> None:
        """Ten queued writers on one file never leave more unsynced bytes than the window a
        writer checks at open, whatever the crash point, and lose nothing acknowledged.

        The cadence and the window are scaled down together (as ``_layout`` derives one
        from the other) so that a few hundred lines cross them many times over.
        """
        assert first_problems(range(SEEDS_QUEUED), queued=True, **SMALL_CADENCE) == []

    def test_the_model_drops_writes_and_reverts_renames(self) -> None:
        """The model loses what was not fsynced: data, and a rename without a directory fsync."""
        rng = random.Random(1)
        disk = ModelDisk(DIRECTORY, rng)
        fake = FakeOs(disk)
        fd = fake.open(DIRECTORY / "a", os.O_CREAT | os.O_APPEND | os.O_RDWR)
        fake.write(fd, b"kept\n")
        fake.fsync(fd)
        fake.write(fd, b"x" * 10_000)
        fake.rename(DIRECTORY / "a", DIRECTORY / "b")
        outcomes = {tuple(sorted(disk.materialise(random.Random(s)).files())) for s in range(50)}
        contents = {disk.materialise(random.Random(s)).files().get("a") for s in range(50)}
        assert outcomes == {(), ("a",), ("b",)}
        assert None in contents  # no directory fsync: the file itself may be gone
        assert b"kept\n" in contents
        assert any(c is not None and len(c) > 5 and c[5:] != b"x" * 10_000 for c in contents)


class TestControlBuilds:
    """Builds with one safeguard removed: the same checks must find a loss."""

    @pytest.mark.parametrize(
        ("safeguard", "replaced", "faults"),
        [
            ("directory fsync", {"fsync_directory": lambda directory: None}, NO_FAULTS),
            ("damaged file set aside at open", {"RECOVERY_SCAN_BYTES": 0}, NO_FAULTS),
        ],
    )
    def test_without_a_safeguard_the_check_fails(
        self, safeguard: str, replaced: dict[str, object], faults: Faults
    ) -> None:
        """Without the safeguard some seed loses an acknowledged line or keeps a damaged one."""
        assert first_problems(range(SEEDS_CONTROL), faults=faults, **replaced), safeguard

    def test_with_a_cadence_per_writer_the_check_fails(self) -> None:
        """Ten writers that each fsync after their own bytes (not the file's growth) leave
        more unsynced than the window for some seed."""
        fsynced_at: dict[int, int] = {}

        def own_bytes_due(self: EventFile) -> bool:
            written = self.counts().bytes
            if written - fsynced_at.get(id(self), 0) < SMALL_CADENCE["SYNC_EVERY_BYTES"]:
                return False
            fsynced_at[id(self)] = written
            return True

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(EventFile, "sync_due", own_bytes_due)
            assert first_problems(range(SEEDS_CONTROL), queued=True, **SMALL_CADENCE)
