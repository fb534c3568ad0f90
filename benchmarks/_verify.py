"""Checking what a configuration left on disk, before its speed counts.

Every visible file of the run's directory is read (rotated files included, the
current one too); hidden files such as ``.events.lock`` are not output.  The
output is correct when it holds exactly the expected number of lines, every
line is complete and parses as JSON, and every sequence number from 0 to N-1 is
found exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Verification:
    """What the output of one run holds, compared with what was logged.

    Attributes:
        ok: the output is exactly the events logged, once each.
        lines: complete lines found.
        expected_lines: lines the run should have written.
        missing: sequence numbers not found.
        duplicated: lines whose sequence number was already found.
        unparsable: lines that are not JSON, or carry no readable sequence number.
        torn_files: files whose last line has no final newline.
        files: output files read.
    """

    ok: bool
    lines: int
    expected_lines: int
    missing: int
    duplicated: int
    unparsable: int
    torn_files: int
    files: int

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, for the results JSON."""
        return asdict(self)

    def describe(self) -> str:
        """One line saying what is wrong, or ``verified``."""
        if self.ok:
            return f"verified: {self.lines} lines, each event once"
        problems = [
            f"{count} {what}"
            for count, what in (
                (self.missing, "missing"),
                (self.duplicated, "duplicated"),
                (self.unparsable, "unparsable"),
                (self.torn_files, "torn files"),
            )
            if count
        ]
        found = f"{self.lines} lines for {self.expected_lines} expected"
        return f"LOSES EVENTS: {found}; " + ", ".join(problems or ["wrong line count"])


def output_files(directory: Path) -> list[Path]:
    """The run's output files: every regular, non-hidden file in *directory*."""
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def verify_output(
    directory: Path, n: int, seq_of: Callable[[Any], int], *, lines_per_event: int = 1
) -> Verification:
    """Check that *directory* holds each of the *n* events exactly once.

    Args:
        directory: the run's directory.
        n: events logged, with sequence numbers ``0..n-1``.
        seq_of: finds the sequence number in one parsed line.
        lines_per_event: 1, or 0 for a configuration whose calls are all filtered.
    """
    seen = bytearray(n)
    lines = duplicated = unparsable = torn = 0
    files = output_files(directory)
    for path in files:
        content = path.read_bytes()
        if content and not content.endswith(b"\n"):
            torn += 1
        # Split on b"\n" only: orjson leaves U+2028 raw inside strings.
        for raw in content.split(b"\n"):
            if not raw:
                continue
            lines += 1
            try:
                seq = seq_of(orjson.loads(raw))
            except Exception:
                unparsable += 1
                continue
            if not 0 <= seq < n:
                unparsable += 1
            elif seen[seq]:
                duplicated += 1
            else:
                seen[seq] = 1
    expected = n * lines_per_event
    missing = seen.count(0) if lines_per_event else 0
    ok = lines == expected and not (missing or duplicated or unparsable or torn)
    return Verification(
        ok=ok,
        lines=lines,
        expected_lines=expected,
        missing=missing,
        duplicated=duplicated,
        unparsable=unparsable,
        torn_files=torn,
        files=len(files),
    )
