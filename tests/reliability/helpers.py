"""Shared by the reliability tests: a whole-directory check, and small child scripts.

Every event these tests write carries ``data.src`` (who wrote it: a process,
a thread, a run) and ``data.n`` (its number there), so a directory can be
checked against exactly the set of events that must be in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from structlog_events import Event
from structlog_events._layout import ROTATED_PATTERN

from ..checks import content_of, event_files

Key = tuple[str, int]

#: Imported by every child script: ``log(writer, src, n)`` logs one event.
PRELUDE = """
import contextlib, json, os, signal, sys, threading, time
from pathlib import Path
from structlog import DropEvent
from structlog_events import EventWriter

def log(writer, src, n, **extra):
    with contextlib.suppress(DropEvent):
        writer(None, "info", {"event": "tick", "src": src, "n": n, **extra})

def stats_of(writer):
    s = writer.stats
    return {"written": s.written, "dropped": s.dropped, "failed": s.failed,
            "rotations": s.rotations}
"""


def keys(src: str, count: int, start: int = 0) -> set[Key]:
    """The keys of events ``start`` .. ``start + count - 1`` of *src*."""
    return {(src, n) for n in range(start, start + count)}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True)
class Contents:
    """What ``check_event_dir`` read: the files in write order and their events' keys."""

    files: list[Path]
    keys_per_file: list[list[Key]]
    sizes: list[int]
    first_lines: list[bytes]

    @property
    def keys(self) -> list[Key]:
        return [key for file_keys in self.keys_per_file for key in file_keys]


def check_event_dir(
    directory: Path,
    *,
    expected: set[Key] | None = None,
    max_file_size: int | None = None,
    extra: Iterable[Path] = (),
) -> Contents:
    """Assert a directory's whole state in one assertion, and return what is in it.

    Every file ends in a newline; every line is strict JSON (UTF-8, no NaN), a
    valid ``Event`` with ``data.src`` and ``data.n``; no event is there twice;
    no file the writer rotated is empty (*extra* files, renamed by other
    tools, may be); no file exceeds *max_file_size*; and the events
    are exactly *expected* when given.
    """
    files = event_files(directory, extra=extra)
    problems: list[str] = []
    keys_per_file: list[list[Key]] = []
    sizes: list[int] = []
    first_lines: list[bytes] = []
    for path in files:
        content = content_of(path)
        sizes.append(len(content))
        if content and not content.endswith(b"\n"):
            problems.append(f"{path.name}: torn last line")
        lines = content.split(b"\n")[:-1]
        first_lines.append(lines[0] if lines else b"")
        if ROTATED_PATTERN.match(path.name) and not lines:
            problems.append(f"{path.name}: empty rotated file")
        if max_file_size is not None and len(content) > max_file_size:
            problems.append(f"{path.name}: {len(content)} bytes > {max_file_size}")
        file_keys: list[Key] = []
        for number, line in enumerate(lines, 1):
            try:
                json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
                event = Event.model_validate_json(line)
                file_keys.append((str(event.data["src"]), int(event.data["n"])))
            except (ValueError, KeyError, TypeError) as error:
                problems.append(f"{path.name}:{number}: {error!s:.200}")
        keys_per_file.append(file_keys)
    found = Counter(key for file_keys in keys_per_file for key in file_keys)
    twice = sorted(key for key, count in found.items() if count > 1)
    if twice:
        problems.append(f"{len(twice)} events written twice, e.g. {twice[:5]}")
    if expected is not None:
        missing, unexpected = sorted(expected - set(found)), sorted(set(found) - expected)
        if missing:
            problems.append(f"{len(missing)} events missing, e.g. {missing[:5]}")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected events, e.g. {unexpected[:5]}")
    assert not problems, "\n".join(problems)
    return Contents(files, keys_per_file, sizes, first_lines)


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
