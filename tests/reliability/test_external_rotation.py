"""External rotation (logrotate's rename + create) every few milliseconds: nothing lost.

A thread renames ``events.jsonl`` to ``events.jsonl.<n>`` and creates a new
empty ``events.jsonl`` (with ``O_EXCL``, as logrotate's ``create`` does) every
2 ms, without taking the writer's lock, while the writer logs.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

from structlog_events import EventWriter

from ..helpers import check_dir, keys, log, src_and_n


class Logrotate:
    """Renames the current file away and creates an empty one, again and again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.rotations = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> Logrotate:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        current = self.directory / "events.jsonl"
        while not self._stop.wait(0.002):
            try:
                current.rename(self.directory / f"events.jsonl.{self.rotations}")
            except FileNotFoundError:
                continue
            self.rotations += 1
            with contextlib.suppress(FileExistsError):  # the writer was quicker
                os.close(os.open(current, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))

    def renamed_files(self) -> list[Path]:
        return [self.directory / f"events.jsonl.{n}" for n in range(self.rotations)]


class TestExternalRotation:
    @pytest.mark.parametrize(("mode", "count"), [("async", 100_000), ("sync", 2_000)])
    def test_rename_and_create_by_another_tool_loses_nothing(
        self, tmp_path: Path, mode: str, count: int
    ) -> None:
        """Every event lands exactly once across the renamed files and the writer's own."""
        writer = EventWriter(tmp_path, "sim", mode=mode, overflow="block", max_file_size=10**6)
        with Logrotate(tmp_path) as logrotate:
            for n in range(count):
                log(writer, src="x", n=n)
                if n % 500 == 0:
                    assert writer.flush(timeout=60)  # appends spread over the rotations
        assert writer.close(timeout=60)
        assert logrotate.rotations > 20
        contents = check_dir(
            tmp_path, key=src_and_n, expected=keys("x", count), extra=logrotate.renamed_files()
        )
        # The writer followed each new events.jsonl rather than writing on in
        # the first file renamed away.
        assert sum(1 for file_keys in contents.keys_per_file if file_keys) > 10
