"""What ``structlog-events stats`` reports: files, events by level, type and time, bad lines."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ._event_model import Event
from ._layout import CURRENT_NAME, ROTATED_PATTERN, event_files
from ._query import LEVEL_NAMES, level_rank
from ._reader import scan_sources
from ._render import NO_LEVEL, format_time, safe_text
from ._scan import LineProblem, ScannedLine
from ._verbosity import VerbosityLevel


class Summary:
    """Counts over the events of one source, or the sum over several (``total``)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self.files = 0
        self.rotated = 0
        self.compressed = 0
        self.live = 0
        self.bytes = 0
        self.events = 0
        self.by_level: Counter[str] = Counter(dict.fromkeys(LEVEL_NAMES, 0))
        self.by_verbosity: Counter[VerbosityLevel] = Counter()
        self.by_type: Counter[str] = Counter()
        self.by_simulation: Counter[str] = Counter()
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.torn = 0
        self.corrupt = 0

    @classmethod
    def of(cls, path: Path) -> Summary:
        """Count the files and lines of one checked source: a directory or an event file."""
        summary = cls([path])
        summary._count_files(event_files(path) if path.is_dir() else [path])
        for item in scan_sources([path]):
            if isinstance(item, ScannedLine):
                summary._count_event(item.event)
            elif isinstance(item, LineProblem):
                if item.torn:
                    summary.torn += 1
                else:
                    summary.corrupt += 1
        return summary

    @classmethod
    def total(cls, parts: Sequence[Summary]) -> Summary:
        """The sum of several summaries."""
        total = cls([path for part in parts for path in part.paths])
        for part in parts:
            total.files += part.files
            total.rotated += part.rotated
            total.compressed += part.compressed
            total.live += part.live
            total.bytes += part.bytes
            total.events += part.events
            total.torn += part.torn
            total.corrupt += part.corrupt
            total.by_level.update(part.by_level)
            total.by_verbosity.update(part.by_verbosity)
            total.by_type.update(part.by_type)
            total.by_simulation.update(part.by_simulation)
            total.first = _earliest(total.first, part.first)
            total.last = _latest(total.last, part.last)
        return total

    def _count_files(self, files: Iterable[Path]) -> None:
        for path in files:
            self.files += 1
            self.rotated += bool(ROTATED_PATTERN.match(path.name))
            self.compressed += path.name.endswith(".gz")
            self.live += path.name == CURRENT_NAME
            # A file deleted by retention since it was listed adds nothing.
            with contextlib.suppress(FileNotFoundError):
                self.bytes += path.stat().st_size

    def _count_event(self, event: Event) -> None:
        self.events += 1
        self.by_level[NO_LEVEL if event.level is None else event.level] += 1
        self.by_verbosity[event.verbosity] += 1
        self.by_type[event.event_type] += 1
        self.by_simulation[event.simulation_id] += 1
        self.first = _earliest(self.first, event.timestamp)
        self.last = _latest(self.last, event.timestamp)

    def levels(self) -> list[tuple[str, int]]:
        """Counts by level, least severe first; unknown names, then no level, last."""

        def severity(name: str) -> tuple[int, int, str]:
            rank = level_rank(None if name == NO_LEVEL else name)
            return (0, rank, name) if rank is not None else (1 + (name == NO_LEVEL), 0, name)

        return [(name, self.by_level[name]) for name in sorted(self.by_level, key=severity)]

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values."""
        return {
            "paths": [str(path) for path in self.paths],
            "files": self.files,
            "rotated_files": self.rotated,
            "compressed_files": self.compressed,
            "live_files": self.live,
            "bytes": self.bytes,
            "events": self.events,
            "first": self.first,
            "last": self.last,
            "torn_lines": self.torn,
            "corrupt_lines": self.corrupt,
            "by_level": dict(self.levels()),
            "by_verbosity": {level.value: self.by_verbosity[level] for level in VerbosityLevel},
            "by_type": dict(self.by_type.most_common()),
            "by_simulation": dict(self.by_simulation.most_common()),
        }

    def render(self, top: int) -> list[str]:
        """The figures as aligned lines, the *top* most frequent types and simulations listed."""
        paths = str(self.paths[0]) if len(self.paths) == 1 else f"{len(self.paths)}"
        rows = [
            ("path" if len(self.paths) == 1 else "paths", paths),
            ("files", self._files_text()),
            ("bytes", f"{self.bytes:,}"),
            ("events", f"{self.events:,}"),
            ("first", format_time(self.first)),
            ("last", format_time(self.last)),
            ("torn lines", f"{self.torn:,}"),
            ("corrupt lines", f"{self.corrupt:,}"),
        ]
        out = aligned(rows, indent="")
        out.append("by level")
        out += aligned((safe_text(name), f"{count:,}") for name, count in self.levels())
        out.append("by verbosity")
        out += aligned((level.value, f"{self.by_verbosity[level]:,}") for level in VerbosityLevel)
        for title, counter in (("by type", self.by_type), ("by simulation", self.by_simulation)):
            out.append(title)
            out += aligned((safe_text(name), f"{n:,}") for name, n in counter.most_common(top))
            if len(counter) > top:
                out.append(f"  ... and {len(counter) - top:,} more")
        return out

    def _files_text(self) -> str:
        parts = [
            f"{self.rotated:,} rotated",
            f"{self.live:,} live {CURRENT_NAME}" if self.live else f"no live {CURRENT_NAME}",
        ]
        other = self.files - self.rotated - self.live
        if other:
            parts.append(f"{other:,} other")
        return f"{self.files:,} ({', '.join(parts)}; {self.compressed:,} compressed)"


def per_path_table(parts: Sequence[Summary], levels: Sequence[str]) -> list[str]:
    """One row per source: its events, its counts at each of *levels*, its time span."""
    header = ["path", "events", *levels, "first", "last"]
    rows = [
        [
            str(part.paths[0]),
            f"{part.events:,}",
            *(f"{part.by_level[name]:,}" for name in levels),
            format_time(part.first),
            format_time(part.last),
        ]
        for part in parts
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [
            cell.ljust(width) if column == 0 or column >= len(row) - 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def aligned(rows: Iterable[tuple[str, str]], *, indent: str = "  ") -> list[str]:
    """Rows as ``name  value`` lines, names padded to one width."""
    rows = list(rows)
    width = max((len(name) for name, _ in rows), default=0)
    return [f"{indent}{name.ljust(width)}  {value}" for name, value in rows]


def _earliest(one: datetime | None, other: datetime | None) -> datetime | None:
    return other if one is None or (other is not None and other < one) else one


def _latest(one: datetime | None, other: datetime | None) -> datetime | None:
    return other if one is None or (other is not None and other > one) else one
