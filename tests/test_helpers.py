"""The tests' own helpers: ``check_dir`` names each kind of damage; ``log`` and ``wait_until``."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from structlog_events import VerbosityLevel
from structlog_events._layout import rotated_name

from .helpers import MakeWriter, check_dir, keys, log, read_events, src_and_n, wait_until

#: The size limit of the directory the checks look at: two events a file.
LIMIT = 600


@pytest.fixture
def directory(tmp_path: Path, make_writer: MakeWriter) -> Path:
    """Six events of ``src="a"``, two to a file: two rotated files and ``events.jsonl``."""
    writer = make_writer(mode="sync", max_file_size=LIMIT)
    for n in range(6):
        log(writer, src="a", n=n, pad="p" * 100)
    assert writer.close()
    return tmp_path


def append(path: Path, content: bytes) -> None:
    with path.open("ab") as stream:
        stream.write(content)


def last_line(path: Path) -> bytes:
    return path.read_bytes().splitlines(keepends=True)[-1]


def strict_json_but_nan(line: bytes) -> bytes:
    """*line* with its ``pad`` NaN: a valid ``Event`` to a lenient parser, not strict JSON."""
    damaged = line.replace(b'"pad":"' + b"p" * 100 + b'"', b'"pad":NaN')
    assert damaged != line
    return damaged


#: Each kind of damage ``check_dir`` finds, and how it names it.
DAMAGE: dict[str, tuple[Callable[[Path], object], str]] = {
    "torn last line": (
        lambda d: append(d / "events.jsonl", b'{"event_id":"half'),
        r"events\.jsonl: torn last line",
    ),
    "not strict JSON": (
        lambda d: append(d / "events.jsonl", strict_json_but_nan(last_line(d / "events.jsonl"))),
        r"events\.jsonl:3: ",
    ),
    "not an Event": (
        lambda d: append(d / "events.jsonl", b'{"n": 1}\n'),
        r"events\.jsonl:3: ",
    ),
    "no key": (
        lambda d: append(d / "events.jsonl", last_line(d / "events.jsonl").replace(b'"n"', b'"m"')),
        r"events\.jsonl:3: 'n'",
    ),
    "an event twice": (
        lambda d: append(d / "events.jsonl", last_line(d / "events.jsonl")),
        r"1 keys there twice, e\.g\. \[\('a', 5\)\]",
    ),
    "an event missing": (
        lambda d: (d / "events.jsonl").write_bytes(b""),
        r"2 events missing, e\.g\. \[\('a', 4\), \('a', 5\)\]",
    ),
    "an unexpected event": (
        lambda d: append(d / "events.jsonl", last_line(d / "events.jsonl").replace(b'"a"', b'"b"')),
        r"1 unexpected events, e\.g\. \[\('b', 5\)\]",
    ),
    "an empty rotated file": (
        lambda d: (d / rotated_name(datetime(2000, 1, 1, tzinfo=UTC))).touch(),
        r"events_2000-01-01_00-00-00-000000\.jsonl: empty rotated file",
    ),
}


class TestCheckDir:
    def test_an_intact_directory_is_returned_whole(self, directory: Path) -> None:
        """Files in write order with their sizes, first lines, events and keys."""
        report = check_dir(directory, key=src_and_n, expected=keys("a", 6), max_file_size=LIMIT)
        assert [path.name for path in report.files][-1] == "events.jsonl"
        assert len(report.files) == 3
        assert report.sizes == [path.stat().st_size for path in report.files]
        assert report.first_lines == [path.read_bytes().split(b"\n")[0] for path in report.files]
        assert report.keys == [("a", n) for n in range(6)]
        assert [[key for _, key in file_keys] for file_keys in report.keys_per_file] == [
            [0, 1], [2, 3], [4, 5],
        ]  # fmt: skip
        assert report.events == read_events(directory)
        assert check_dir(directory, expected_count=6).keys == [e.event_id for e in report.events]

    @pytest.mark.parametrize("kind", list(DAMAGE))
    def test_each_kind_of_damage_is_named(self, directory: Path, kind: str) -> None:
        """A torn line, a line not strict JSON, not an Event or without its key, an event
        twice, missing or unexpected, an empty rotated file: each fails the one assertion."""
        damage, problem = DAMAGE[kind]
        damage(directory)
        with pytest.raises(AssertionError, match=problem):
            check_dir(directory, key=src_and_n, expected=keys("a", 6), max_file_size=LIMIT)

    def test_a_file_over_the_limit_is_named_unless_it_is_one_line(self, directory: Path) -> None:
        """A file of several lines over max_file_size fails; a line alone larger passes."""
        with pytest.raises(AssertionError, match=r"events\.jsonl: \d+ bytes > 300"):
            check_dir(directory, max_file_size=300)
        for rotated in directory.glob("events_*.jsonl"):
            rotated.unlink()
        (directory / "events.jsonl").write_bytes(last_line(directory / "events.jsonl"))
        check_dir(directory, key=src_and_n, expected={("a", 5)}, max_file_size=100)

    def test_the_count_is_checked(self, directory: Path) -> None:
        """expected_count is the number of events, by default keyed by their event ids."""
        with pytest.raises(AssertionError, match="6 events, expected 5"):
            check_dir(directory, expected_count=5)


class TestLog:
    def test_writes_the_record_a_log_call_writes(self, make_writer: MakeWriter) -> None:
        """log(writer, event, method_name=..., **fields) is log.<method_name>(event, **fields)."""
        writer = make_writer(mode="sync", verbosity="DETAIL")
        log(writer, src="a", n=0)
        log(writer, "step", method_name="warning", number=1)
        tick, step = read_events(writer.output_dir)
        assert (tick.event_type, tick.level, tick.data) == ("tick", "info", {"src": "a", "n": 0})
        assert (step.event_type, step.level, step.verbosity) == (
            "step", "warning", VerbosityLevel.MILESTONE,
        )  # fmt: skip


class TestWaitUntil:
    def test_says_whether_the_condition_came_in_time(self) -> None:
        """True as soon as the condition holds; False once the timeout has passed."""
        calls = itertools.count()
        assert wait_until(lambda: next(calls) == 3, timeout=10)
        assert not wait_until(lambda: False, timeout=0.05)
