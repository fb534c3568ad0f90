"""What the tests share: logging a record, waiting, reading a directory back and checking it whole.

- ``log(writer, "step", number=1)`` writes one record, as ``log.info("step",
  number=1)`` would.  The reliability tests log ``src`` (who wrote it: a
  process, a thread, a run) and ``n`` (its number there) in every event, so a
  directory can be checked against exactly the events that must be in it:
  ``check_dir(directory, key=src_and_n, expected=keys("w", 300))``.
- ``check_dir`` asserts a directory's whole state in one assertion.
- ``run_script`` and ``start_script`` run a small child script that begins
  with ``PRELUDE``, for what needs a process of its own (a crash, a fork, a
  signal, the interpreter's exit).

The ``make_writer`` fixture (``conftest.py``) creates writers that are closed
when the test ends.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, overload

import orjson

from structlog_events import Event, EventWriter, VerbosityLevel
from structlog_events._layout import ARCHIVE_SUFFIX, CURRENT_NAME, ROTATED_PATTERN

#: The checkout: child scripts import this module from there.
ROOT = Path(__file__).resolve().parents[1]

# -- writing -----------------------------------------------------------------


def log(
    writer: EventWriter, event: str = "tick", *, method_name: str = "info", **fields: Any
) -> None:
    """Write one record through *writer*, as ``log.<method_name>(event, **fields)`` would."""
    writer.write({"event": event, **fields}, method_name=method_name)


class MakeWriter(Protocol):
    """**Protocol:** the ``make_writer`` fixture: an ``EventWriter`` closed when the test ends."""

    def __call__(
        self,
        output_dir: Path | None = None,
        simulation_id: str = "sim",
        *arguments: Any,
        **options: Any,
    ) -> EventWriter:
        """``EventWriter(output_dir, simulation_id, ...)``, in ``tmp_path`` by default."""
        ...


class SlowOs:
    """``os`` whose ``write`` sleeps *delay* seconds first: a slow disk, for ``_file.os``."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        time.sleep(self.delay)
        return os.write(fd, data)


def wait_until(condition: Callable[[], object], timeout: float = 60.0) -> bool:
    """Poll *condition* every 10 ms until it holds; return whether it did within *timeout* seconds.

    The timeout is a bound for a test that would otherwise hang, not a measure:
    assert the result where the test needs the condition.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# -- reading a directory back ------------------------------------------------


def event_files(directory: Path, *, extra: Iterable[Path] = ()) -> list[Path]:
    """Rotated files oldest first, then *extra*, then ``events.jsonl``: write order."""
    rotated = sorted(p for p in directory.iterdir() if ROTATED_PATTERN.match(p.name))
    current = directory / CURRENT_NAME
    return [*rotated, *sorted(extra), *([current] if current.exists() else [])]


def content_of(path: Path) -> bytes:
    """The lines a file holds: a ``.jsonl.gz`` archive decompressed."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(ARCHIVE_SUFFIX) else data


def raw_lines(directory: Path) -> list[bytes]:
    """Every line of every event file, in write order, newline included."""
    lines: list[bytes] = []
    for path in event_files(directory):
        content = content_of(path)
        assert content == b"" or content.endswith(b"\n"), f"{path} ends in a torn line"
        lines.extend(line + b"\n" for line in content.split(b"\n")[:-1])
    return lines


def read_events(directory: Path) -> list[Event]:
    """Every event of the directory, in write order, each validated as ``Event``."""
    return [Event.model_validate_json(line) for line in raw_lines(directory)]


def read_events_of(path: Path) -> list[Event]:
    """Every event of one plain event file, each validated as ``Event``."""
    return [Event.model_validate_json(line) for line in path.read_bytes().split(b"\n")[:-1]]


# -- checking a directory whole ------------------------------------------------

K = TypeVar("K", bound=Hashable)

#: What ``src_and_n`` finds in an event: who wrote it, and its number there.
Key = tuple[str, int]


def event_id(event: Event) -> str:
    """The default key of ``check_dir``: no event id is there twice."""
    return event.event_id


def src_and_n(event: Event) -> Key:
    """The key of an event ``log(writer, src=..., n=...)`` wrote: who wrote it, and its number."""
    return str(event.data["src"]), int(event.data["n"])


def keys(src: str, count: int, start: int = 0) -> set[Key]:
    """The keys of events ``start`` .. ``start + count - 1`` of *src*."""
    return {(src, n) for n in range(start, start + count)}


@dataclass(frozen=True)
class DirectoryReport(Generic[K]):
    """What ``check_dir`` found, per file in write order: size, first line, events, keys."""

    files: list[Path]
    sizes: list[int]
    first_lines: list[bytes]
    events_per_file: list[list[Event]]
    keys_per_file: list[list[K]]

    @property
    def events(self) -> list[Event]:
        return [event for file_events in self.events_per_file for event in file_events]

    @property
    def keys(self) -> list[K]:
        return [key for file_keys in self.keys_per_file for key in file_keys]


@overload
def check_dir(
    directory: Path,
    *,
    expected_count: int | None = None,
    max_file_size: int | None = None,
    extra: Iterable[Path] = (),
) -> DirectoryReport[str]: ...


@overload
def check_dir(
    directory: Path,
    *,
    key: Callable[[Event], K],
    expected: Collection[K] | None = None,
    expected_count: int | None = None,
    max_file_size: int | None = None,
    extra: Iterable[Path] = (),
) -> DirectoryReport[K]: ...


def check_dir(
    directory: Path,
    *,
    key: Callable[[Event], Any] = event_id,
    expected: Collection[Any] | None = None,
    expected_count: int | None = None,
    max_file_size: int | None = None,
    extra: Iterable[Path] = (),
) -> DirectoryReport[Any]:
    """Assert a directory's whole state in one assertion, and return what is in it.

    Every file (rotated ones gzipped or not, then *extra*, files other tools
    renamed, then ``events.jsonl``) ends in a newline; every line is strict
    JSON (UTF-8, no NaN) and a valid ``Event`` that *key* accepts; no key is
    there twice (by default the event id); no rotated file is empty (*extra*
    ones may be); no file exceeds *max_file_size* unless it is one line that
    alone is larger; and, when given, the keys are exactly *expected* and
    there are *expected_count* events.
    """
    files = event_files(directory, extra=extra)
    problems: list[str] = []
    report = DirectoryReport[Any]([], [], [], [], [])
    for path in files:
        content = content_of(path)
        report.sizes.append(len(content))
        if content and not content.endswith(b"\n"):
            problems.append(f"{path.name}: torn last line")
        lines = content.split(b"\n")[:-1]
        report.first_lines.append(lines[0] if lines else b"")
        if ROTATED_PATTERN.match(path.name) and not lines:
            problems.append(f"{path.name}: empty rotated file")
        if max_file_size is not None and len(content) > max_file_size and len(lines) > 1:
            problems.append(f"{path.name}: {len(content)} bytes > {max_file_size}")
        file_events: list[Event] = []
        file_keys: list[Any] = []
        for number, line in enumerate(lines, 1):
            try:
                orjson.loads(line)
                event = Event.model_validate_json(line)
                file_keys.append(key(event))
                file_events.append(event)
            except (ValueError, KeyError, TypeError) as error:
                problems.append(f"{path.name}:{number}: {error!s:.200}")
        report.events_per_file.append(file_events)
        report.keys_per_file.append(file_keys)
    found = Counter(report.keys)
    twice = sorted(k for k, count in found.items() if count > 1)
    if twice:
        problems.append(f"{len(twice)} keys there twice, e.g. {twice[:5]}")
    if expected is not None:
        missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
        if missing:
            problems.append(f"{len(missing)} events missing, e.g. {missing[:5]}")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected events, e.g. {unexpected[:5]}")
    if expected_count is not None and len(report.keys) != expected_count:
        problems.append(f"{len(report.keys)} events, expected {expected_count}")
    assert not problems, "\n".join(problems)
    report.files.extend(files)
    return report


# -- a directory to read -------------------------------------------------------

#: The time of the first event ``write_one_per_level`` writes.
LEVELS_BASE = datetime(2024, 5, 1, 12, tzinfo=UTC)

#: The log level of each event ``write_one_per_level`` writes: not in the order
#: of their verbosity, so a test tells the two apart.
LOG_LEVELS = ("info", "error", "debug", "warning", "exception")


def write_one_per_level(directory: Path) -> Path:
    """Five events, one per level, a minute apart, two types and two simulations.

    Event ``number`` n has verbosity n, log level ``LOG_LEVELS[n]``, type
    ``type{n % 2}``, simulation ``a`` for n < 3 else ``b``; the last one's
    ``note`` holds a space.
    """
    with EventWriter(directory, "a", mode="sync", verbosity="DETAIL") as writer:
        for number, level in enumerate(VerbosityLevel):
            writer.emit(
                Event(
                    event_type=f"type{number % 2}",
                    simulation_id="a" if number < 3 else "b",
                    verbosity=level,
                    level=LOG_LEVELS[number],
                    timestamp=LEVELS_BASE + timedelta(minutes=number),
                    data={"number": number, "note": "two words" if number == 4 else "word"},
                )
            )
    return directory


# -- child scripts -------------------------------------------------------------

#: What every child script begins with: ``log`` is this module's.
PRELUDE = f"""
import json, os, signal, sys, threading, time
from pathlib import Path
sys.path.insert(0, {str(ROOT)!r})
from structlog_events import EventWriter
from tests.helpers import log

def stats_of(writer):
    s = writer.stats
    return {{"written": s.written, "dropped": s.dropped, "failed": s.failed,
            "rotations": s.rotations}}
"""


def run_script(
    body: str, *args: object, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``PRELUDE`` + *body* in a fresh interpreter; fail the test on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(body), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    return result


def start_script(body: str, *args: object, **popen: Any) -> subprocess.Popen[bytes]:
    """Start ``PRELUDE`` + *body* in a fresh interpreter, stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(body), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Kill *process* if it still runs, and reap it."""
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=30)


def child_env() -> dict[str, str]:
    """The environment for a child, with warnings shown but not fatal."""
    return {**os.environ, "PYTHONWARNINGS": "default"}
