"""Tests for the ``structlog-events`` command line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from structlog_events import Event, EventWriter
from structlog_events._cli import EXIT_INTERRUPTED, cli

from . import checks
from .checks import write_one_per_level
from .test_reader import append, compress, event_line, fill, log, rotated

ANSI = re.compile(r"\x1b\[[0-9;]*m")
BASE = checks.LEVELS_BASE


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args], env=env)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Five events, one per level, a minute apart, two types and two simulations."""
    return write_one_per_level(tmp_path)


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Return once *condition* holds; fail after *timeout* seconds (a bound, not a measure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def numbers_in(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"number=(-?\d+)", output)]


class TestCat:
    def test_readable_lines_are_aligned_and_complete(self, mixed: Path) -> None:
        """One line per event: UTC time, padded verbosity, padded type, key=value data."""
        result = run("cat", mixed)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0] == (
            "2024-05-01T12:00:00.000000Z  MILESTONE  type0                     number=0 note=word"
        )
        assert lines[4].endswith('DETAIL     type0                     number=4 note="two words"')
        assert len({line.index("number=") for line in lines}) == 1
        assert "\x1b" not in result.stdout

    def test_json_prints_the_stored_lines(self, tmp_path: Path) -> None:
        """--json prints every stored line byte for byte, across rotations and gzip."""
        fill(tmp_path, 30)
        spaced = b'{"event_type": "step",  "simulation_id": "sim", "data": {"number": 30}}\n'
        append(tmp_path / "events.jsonl", spaced)
        stored = b"".join(checks.raw_lines(tmp_path))
        assert stored.endswith(spaced)
        compress(rotated(tmp_path)[0])
        result = run("cat", "--json", tmp_path)
        assert result.exit_code == 0
        assert result.stdout_bytes == stored

    def test_filters(self, mixed: Path) -> None:
        """--type, --verbosity, --since, --until and --simulation-id choose events."""
        assert numbers_in(run("cat", mixed, "-t", "type1").stdout) == [1, 3]
        assert numbers_in(run("cat", mixed, "-t", "type1", "-t", "type0").stdout) == [0, 1, 2, 3, 4]
        assert numbers_in(run("cat", mixed, "--verbosity", "decision").stdout) == [0, 1]
        window = ["--since", "2024-05-01T12:01:00Z", "--until", "2024-05-01T14:03:00+02:00"]
        assert numbers_in(run("cat", mixed, *window).stdout) == [1, 2]
        assert numbers_in(run("cat", mixed, "--simulation-id", "b").stdout) == [3, 4]

    def test_colour_only_when_asked_or_on_a_terminal(self, mixed: Path) -> None:
        """--color styles the output; without a terminal or with --no-color it is plain."""
        coloured = run("cat", "--color", mixed).stdout
        assert "\x1b[" in coloured
        assert ANSI.sub("", coloured) == run("cat", mixed).stdout
        assert "\x1b" not in run("cat", "--no-color", mixed).stdout

    def test_control_characters_in_events_are_escaped(self, tmp_path: Path) -> None:
        """A terminal escape or newline inside an event cannot reach the terminal raw."""
        with EventWriter(tmp_path, "s", mode="sync") as writer:
            log(writer, event="evil\x1b[2Jtype\n", payload="\x1b]0;title\x07", **{"k\x1b": 1})
        output = run("cat", tmp_path).stdout
        assert "\x1b" not in output
        assert "\x07" not in output
        assert output.count("\n") == 1
        assert '"evil\\u001b[2Jtype\\n"' in output

    def test_bad_time_is_a_usage_error_with_examples(self, mixed: Path) -> None:
        """An unreadable --since exits 2 and shows what a valid time looks like."""
        result = run("cat", mixed, "--since", "yesterday")
        assert result.exit_code == 2
        assert "is not an ISO 8601 time" in result.stderr
        assert "2024-05-01T12:30:00Z" in result.stderr

    def test_missing_directory_is_a_usage_error(self, tmp_path: Path) -> None:
        """A DIR that does not exist exits 2, naming it."""
        result = run("cat", tmp_path / "absent")
        assert result.exit_code == 2
        assert "absent" in result.stderr

    def test_corrupt_line_stops_with_exit_1_unless_skipped(self, tmp_path: Path) -> None:
        """A corrupt line ends cat with status 1 and file:line; --skip-corrupt goes past it."""
        live = tmp_path / "events.jsonl"
        live.write_bytes(event_line(0) + b"garbage\n" + event_line(2))
        stopped = run("cat", tmp_path)
        assert stopped.exit_code == 1
        assert numbers_in(stopped.stdout) == [0]
        assert f"{live}:2: corrupt: not valid JSON" in stopped.stderr
        skipped = run("cat", "--skip-corrupt", tmp_path)
        assert skipped.exit_code == 0
        assert numbers_in(skipped.stdout) == [0, 2]
        assert f"skipped {live}:2: corrupt" in skipped.stderr

    def test_torn_last_line_is_reported_not_an_error(self, tmp_path: Path) -> None:
        """An incomplete last line of events.jsonl is mentioned on stderr; status stays 0."""
        fill(tmp_path, 3)
        append(tmp_path / "events.jsonl", b'{"event_id"')
        result = run("cat", tmp_path)
        assert result.exit_code == 0
        assert numbers_in(result.stdout) == [0, 1, 2]
        assert "torn: incomplete last line" in result.stderr


class TestTail:
    def test_last_events(self, tmp_path: Path) -> None:
        """tail prints the last N events (10 by default), in order."""
        fill(tmp_path, 30)
        assert numbers_in(run("tail", tmp_path).stdout) == list(range(20, 30))
        assert numbers_in(run("tail", "-n", "3", tmp_path).stdout) == [27, 28, 29]
        assert run("tail", "-n", "0", tmp_path).stdout == ""

    def test_last_events_after_filtering(self, mixed: Path) -> None:
        """The last N are counted among the events the filters keep."""
        assert numbers_in(run("tail", "-n", "1", "-t", "type1", mixed).stdout) == [3]

    def test_negative_count_is_a_usage_error(self, mixed: Path) -> None:
        """-n takes a count of zero or more."""
        assert run("tail", "-n", "-1", mixed).exit_code == 2

    def test_follow_in_a_real_process_across_rotations(self, tmp_path: Path) -> None:
        """`python -m structlog_events tail -f` prints new events once, in order; Ctrl-C ends."""
        fill(tmp_path, 5)
        process = subprocess.Popen(
            [sys.executable, "-m", "structlog_events", "tail", "-f", "-n", "2", "--json",
             "--poll-interval", "0.02", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Block-buffered stdout, as in a pipeline: output must be flushed by tail.
            env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        )  # fmt: skip
        assert process.stdout is not None
        lines: list[bytes] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()))
        reader.start()
        try:
            wait_for(lambda: len(lines) >= 2)
            fill(tmp_path, 200, start=5)
            wait_for(lambda: len(lines) >= 202)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == EXIT_INTERRUPTED
            reader.join(timeout=30)
        finally:
            process.kill()
            process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        assert len(rotated(tmp_path)) > 50
        assert [Event.model_validate_json(line).data["number"] for line in lines] == list(
            range(3, 205)
        )


class TestStats:
    def test_summary(self, tmp_path: Path) -> None:
        """stats counts files, bytes, events by type and verbosity, time span, bad lines."""
        fill(tmp_path, 20)
        compress(rotated(tmp_path)[0])
        append(tmp_path / "events.jsonl", b"{")
        files = [*rotated(tmp_path), tmp_path / "events.jsonl"]
        result = run("stats", tmp_path)
        assert result.exit_code == 0
        text = result.stdout
        plain = len(files) - 1
        assert f"files          {len(files)} ({plain} rotated, 1 of them compressed" in text
        assert f"bytes          {sum(p.stat().st_size for p in files):,}\n" in text
        assert "events         20\n" in text
        assert "torn lines     1\n" in text
        assert "corrupt lines  0\n" in text
        assert "  ACTION     20\n" in text
        assert "  DETAIL     0\n" in text
        assert "  step  20\n" in text

    def test_json_summary(self, mixed: Path) -> None:
        """stats --json gives the same figures as one JSON object."""
        earliest = Event(event_type="step", simulation_id="a", timestamp=BASE - timedelta(days=1))
        append(mixed / "events.jsonl", b"junk\n" + earliest.model_dump_json().encode() + b"\n")
        result = run("stats", "--json", mixed)
        assert result.exit_code == 0
        summary = json.loads(result.stdout)
        assert summary["events"] == 6
        assert summary["corrupt_lines"] == 1
        assert summary["by_verbosity"] == {
            "MILESTONE": 1,
            "DECISION": 1,
            "ACTION": 2,
            "STATE": 1,
            "DETAIL": 1,
        }
        assert summary["by_type"] == {"type0": 3, "type1": 2, "step": 1}
        assert summary["first"] == "2024-04-30T12:00:00Z"
        assert summary["last"] == "2024-05-01T12:04:00Z"
        assert summary["files"] == 1
        assert summary["live_file"] is True

    def test_top_limits_the_lists(self, tmp_path: Path) -> None:
        """Only the most frequent types are listed, with a count of the rest."""
        with EventWriter(tmp_path, "s", mode="sync") as writer:
            for number in range(5):
                for _ in range(number + 1):
                    log(writer, event=f"type{number}")
        text = run("stats", "--top", "2", tmp_path).stdout
        assert "type4  5" in text
        assert "type3  4" in text
        assert "type2" not in text
        assert "... and 3 more" in text

    def test_empty_directory(self, tmp_path: Path) -> None:
        """An empty directory has no files, no events and no time span."""
        text = run("stats", tmp_path).stdout
        assert "events         0\n" in text
        assert "first          -\n" in text
        assert "no live events.jsonl" in text


class TestValidate:
    def test_valid_directory_exits_0(self, tmp_path: Path) -> None:
        """Every line valid (gzip files included): status 0 and a one-line summary."""
        fill(tmp_path, 20)
        compress(rotated(tmp_path)[0])
        result = run("validate", tmp_path)
        assert result.exit_code == 0
        assert result.stdout == ""
        assert "20 lines in" in result.stderr
        assert "all valid events" in result.stderr

    def test_every_problem_is_listed_with_file_and_line(self, tmp_path: Path) -> None:
        """Each bad line is listed as FILE:LINE, torn tail included, and the status is 1."""
        fill(tmp_path, 20)
        first = rotated(tmp_path)[0]
        first.write_bytes(first.read_bytes() + b"[1, 2]\n")
        live = tmp_path / "events.jsonl"
        append(live, b'{"event_type": 3, "verbosity": "LOUD", "data": 1, "extra": 1}\n{"half')
        result = run("validate", tmp_path)
        assert result.exit_code == 1
        listed = result.stdout.splitlines()
        first_count = first.read_bytes().count(b"\n")
        live_count = live.read_bytes().count(b"\n")
        assert listed == [
            f"{first}:{first_count}: corrupt: not a valid Event: line: Input should be an object",
            f"{live}:{live_count}: corrupt: not a valid Event: event_type: Input should be a "
            "valid string; simulation_id: Field required; verbosity: Value error, unknown "
            "verbosity 'LOUD'; valid names are MILESTONE, DECISION, ACTION, STATE, DETAIL "
            "(and 2 more)",
            f"{live}:{live_count + 1}: torn: incomplete last line (a write in progress, or a "
            "writer that stopped mid-write; the next writer to open the file cuts it)",
        ]
        assert "3 of 23 lines" in result.stderr


class TestSchemaAndHelp:
    def test_schema_is_the_event_json_schema(self) -> None:
        """schema prints Event's JSON Schema as JSON."""
        result = run("schema")
        assert result.exit_code == 0
        assert json.loads(result.stdout) == Event.model_json_schema()

    def test_help_documents_exit_status(self) -> None:
        """Every command's help explains its exit status."""
        for command in ([], ["cat"], ["tail"], ["stats"], ["validate"], ["schema"]):
            result = run(*command, "--help")
            assert result.exit_code == 0
            assert "Exit status:" in result.stdout
            assert "130" in result.stdout

    def test_version(self) -> None:
        """--version names the package version."""
        result = run("--version")
        assert result.exit_code == 0
        assert "0.1.0" in result.stdout

    def test_console_script_is_declared(self) -> None:
        """The structlog-events script is installed next to the interpreter."""
        script = Path(sys.executable).with_name("structlog-events")
        assert script.exists()
        result = subprocess.run(
            [script, "schema"], capture_output=True, timeout=60, env={**os.environ}, check=False
        )
        assert result.returncode == 0
        assert json.loads(result.stdout)["title"] == "Event"
