"""Tests for the ``structlog-events`` command line."""

from __future__ import annotations

import gzip
import json
import logging
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer

from structlog_events import Event, EventWriter, VerbosityLevel, bridge_stdlib_logging
from structlog_events._cli import EXIT_INTERRUPTED, EXIT_PROBLEMS, EXIT_USAGE, cli
from structlog_events._models import EventModels

from . import helpers
from .helpers import log, wait_until, write_one_per_level
from .models import DecisionEvent, SimEvent
from .test_reader import append, compress, event_line, fill, rotated, write_typed_run

ANSI = re.compile(r"\x1b\[[0-9;]*m")
BASE = helpers.LEVELS_BASE


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args], env=env)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Five events, one per level, a minute apart, two types and two simulations."""
    return write_one_per_level(tmp_path)


def numbers_in(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"number=(-?\d+)", output)]


def command(*args: str | Path) -> list[str]:
    """The real command line: ``python -m structlog_events ARGS``."""
    return [sys.executable, "-m", "structlog_events", *(str(arg) for arg in args)]


def buffered_environment() -> dict[str, str]:
    """This environment without PYTHONUNBUFFERED: stdout block-buffered, as in a pipeline."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}


def without_colour_settings() -> dict[str, str]:
    """This environment without NO_COLOR, so each test chooses."""
    return {key: value for key, value in os.environ.items() if key != "NO_COLOR"}


def run_on_terminal(*args: str | Path, env: dict[str, str]) -> str:
    """Run the command with stdout and stderr on a pseudo terminal; return what it showed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command(*args), stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=env
    )
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if not ready:
                continue
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the command closed the terminal
                break
            if not data:
                break
            shown += data
        assert process.wait(timeout=60) == 0, shown
    finally:
        process.kill()
        process.wait()
        os.close(controller)
    return shown.decode()


def write_runs(parent: Path) -> list[Path]:
    """Two runs under *parent* whose events interleave in time, and their directories."""
    runs = []
    for name, minutes in (("sim-1", [0, 2, 4]), ("sim-2", [1, 2, 3])):
        directory = parent / name
        runs.append(directory)
        with EventWriter(directory, name, mode="sync") as writer:
            for minute in minutes:
                stamp = BASE + timedelta(minutes=minute)
                writer.emit(
                    Event(
                        event_type="turn",
                        simulation_id=name,
                        level="error" if minute == 2 else "info",
                        timestamp=stamp,
                        data={"number": minute},
                    )
                )
    return runs


def simulations_in(output: str) -> list[str]:
    """The run each readable line names (the source column of several PATHs)."""
    return re.findall(r"Z  \S*(sim-\d) ", output)


class TestCat:
    def test_readable_lines_are_aligned_and_complete(self, mixed: Path) -> None:
        """One line per event: UTC time, level, verbosity, type, key=value data, all aligned."""
        result = run("cat", mixed)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0] == (
            "2024-05-01T12:00:00.000000Z  info       MILESTONE  type0"
            "                     number=0 note=word"
        )
        assert lines[1].startswith("2024-05-01T12:01:00.000000Z  error      DECISION   type1")
        assert lines[4].endswith(
            'exception  DETAIL     type0                     number=4 note="two words"'
        )
        assert len({line.index("number=") for line in lines}) == 1
        assert "\x1b" not in result.stdout

    def test_event_without_a_level_shows_a_dash(self, tmp_path: Path) -> None:
        """An event stored with no level shows "-" where the level goes."""
        with EventWriter(tmp_path, "s", mode="sync") as writer:
            writer.emit(Event(event_type="step", simulation_id="s", data={"number": 1}))
        [line] = run("cat", tmp_path).stdout.splitlines()
        assert line.split()[1:4] == ["-", "ACTION", "step"]

    def test_json_prints_the_stored_lines(self, tmp_path: Path) -> None:
        """--json prints every stored line byte for byte, across rotations and gzip."""
        fill(tmp_path, 30)
        spaced = b'{"event_type": "step",  "simulation_id": "sim", "data": {"number": 30}}\n'
        append(tmp_path / "events.jsonl", spaced)
        stored = b"".join(helpers.raw_lines(tmp_path))
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

    def test_level_keeps_that_level_and_more_severe(self, mixed: Path) -> None:
        """--level error keeps error and exception; any case, or a stdlib number, works."""
        assert helpers.LOG_LEVELS == ("info", "error", "debug", "warning", "exception")
        assert numbers_in(run("cat", mixed, "--level", "error").stdout) == [1, 4]
        assert numbers_in(run("cat", mixed, "-l", "WARNING").stdout) == [1, 3, 4]
        assert numbers_in(run("cat", mixed, "--level", "20").stdout) == [0, 1, 3, 4]
        assert numbers_in(run("tail", mixed, "--level", "error", "-n", "1").stdout) == [4]

    def test_unknown_level_is_a_usage_error_listing_the_names(self, mixed: Path) -> None:
        """--level loud exits 2 and names the valid levels."""
        result = run("cat", mixed, "--level", "loud")
        assert result.exit_code == EXIT_USAGE
        assert "valid names are debug, info, warning, error, critical" in result.stderr

    def test_where_matches_fields_and_data(self, mixed: Path) -> None:
        """--where KEY=VALUE on event fields and data paths; repeated, all must match."""
        assert numbers_in(run("cat", mixed, "--where", "simulation_id=b").stdout) == [3, 4]
        assert numbers_in(run("cat", mixed, "-w", "note=word").stdout) == [0, 1, 2, 3]
        assert numbers_in(run("cat", mixed, "-w", "data.note=two words").stdout) == [4]
        both = run("cat", mixed, "-w", "note=word", "-w", "level=warning")
        assert numbers_in(both.stdout) == [3]
        assert numbers_in(run("cat", mixed, "-w", "number=2", "-w", "number=2").stdout) == [2]
        assert numbers_in(run("cat", mixed, "-w", "number=2.0").stdout) == []

    def test_where_without_equals_or_twice_is_a_usage_error(self, mixed: Path) -> None:
        """--where takes KEY=VALUE, one value per key; otherwise exit 2 with an example."""
        result = run("cat", mixed, "--where", "note")
        assert result.exit_code == EXIT_USAGE
        assert "is not KEY=VALUE; examples: level=error" in result.stderr
        twice = run("cat", mixed, "-w", "number=1", "-w", "number=2")
        assert twice.exit_code == EXIT_USAGE
        assert "number is given twice" in twice.stderr
        empty_step = run("cat", mixed, "-w", "data..note=word")
        assert empty_step.exit_code == EXIT_USAGE

    def test_fields_choose_the_values_shown(self, mixed: Path) -> None:
        """--fields shows only the chosen values, in their order, missing ones left out."""
        result = run("cat", mixed, "--fields", "note,simulation_id", "-F", "absent")
        lines = result.stdout.splitlines()
        assert lines[0].endswith("type0                     note=word simulation_id=a")
        assert "number=" not in result.stdout
        assert "absent" not in result.stdout
        assert (
            run("cat", mixed, "-F", "level", "--level", "error")
            .stdout.splitlines()[1]
            .endswith("level=exception")
        )

    def test_fields_with_json_is_a_usage_error(self, mixed: Path) -> None:
        """--fields shapes the readable form only: with --json it exits 2, pointing at jq."""
        result = run("cat", mixed, "--json", "--fields", "note")
        assert result.exit_code == EXIT_USAGE
        assert "jq" in result.stderr

    def test_colour_only_when_asked_or_on_a_terminal(self, mixed: Path) -> None:
        """--color styles the output; without a terminal or with --no-color it is plain."""
        coloured = run("cat", "--color", mixed).stdout
        assert "\x1b[" in coloured
        assert ANSI.sub("", coloured) == run("cat", mixed).stdout
        assert "\x1b" not in run("cat", "--no-color", mixed).stdout

    def test_errors_stand_out_by_level_not_by_verbosity(self, tmp_path: Path) -> None:
        """Errors are red, critical white on red, warnings yellow; verbosity is dim for all."""
        levels = ["debug", "info", "warning", "error", "exception", "critical", "custom"]
        with EventWriter(tmp_path, "s", mode="sync", verbosity="STATE") as writer:
            for level in levels:
                writer.emit(
                    Event(
                        event_type="e",
                        simulation_id="s",
                        level=level,
                        verbosity=VerbosityLevel.STATE,
                    )
                )
        lines = run("cat", "--color", tmp_path).stdout.splitlines()
        styled = {
            level: line.split("\x1b[0m")[1] for level, line in zip(levels, lines, strict=True)
        }
        red, yellow = "\x1b[31m\x1b[1m", "\x1b[33m\x1b[1m"
        assert styled["error"].startswith(f"  {red}error")
        assert styled["exception"].startswith(f"  {red}exception")
        assert styled["critical"].startswith("  \x1b[37m\x1b[41m\x1b[1mcritical")
        assert styled["warning"].startswith(f"  {yellow}warning")
        assert styled["info"].startswith("  \x1b[32minfo")
        assert styled["custom"].startswith("  custom")
        assert all("\x1b[2mSTATE" in line for line in lines)

    def test_control_characters_in_events_are_escaped(self, tmp_path: Path) -> None:
        """A terminal escape or newline inside an event cannot reach the terminal raw."""
        with EventWriter(tmp_path, "s", mode="sync") as writer:
            escaped_key: dict[str, Any] = {"k\x1b": 1}
            log(writer, event="evil\x1b[2Jtype\n", payload="\x1b]0;title\x07", **escaped_key)
        output = run("cat", tmp_path).stdout
        assert "\x1b" not in output
        assert "\x07" not in output
        assert output.count("\n") == 1
        assert '"evil\\u001b[2Jtype\\n"' in output

    def test_traceback_is_printed_under_its_event(self, tmp_path: Path) -> None:
        """A stored exception, structured or text, shows as Python prints it, indented."""
        structured = ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        for name, renderer in (
            ("dict", structured),
            ("text", structlog.processors.format_exc_info),
        ):
            directory = tmp_path / name
            writer = EventWriter(directory, "s", mode="sync")
            structlog.configure(processors=[structlog.processors.add_log_level, renderer, writer])
            try:
                try:
                    1 / 0  # noqa: B018 - raised for its traceback
                except ZeroDivisionError as error:
                    raise ValueError("bad price") from error
            except ValueError:
                structlog.get_logger().exception("pricing_failed", agent_id="a1")
            writer.close()
            result = run("cat", directory)
            head, *block = result.stdout.splitlines()
            assert head.split()[1:] == ["error", "MILESTONE", "pricing_failed", "agent_id=a1"]
            assert block[0] == "    Traceback (most recent call last):"
            assert block[1].startswith(f'      File "{__file__}", line ')
            assert "    ZeroDivisionError: division by zero" in block
            assert (
                "    The above exception was the direct cause of the following exception:" in block
            )
            assert block[-1] == "    ValueError: bad price"
            stored = (directory / "events.jsonl").read_bytes()
            assert run("cat", "--json", directory).stdout_bytes == stored

    def test_stdlib_traceback_is_printed_under_its_event(self, tmp_path: Path) -> None:
        """The stdlib bridge's exception text shows over several lines too."""
        writer = EventWriter(tmp_path, "s", mode="sync")
        handler = bridge_stdlib_logging(writer, logger="thirdparty", set_level=False)
        try:
            try:
                dict[str, int]()["missing"]
            except KeyError:
                logging.getLogger("thirdparty").error("lookup failed", exc_info=True)
        finally:
            logging.getLogger("thirdparty").removeHandler(handler)
            writer.close()
        head, *block = run("cat", tmp_path).stdout.splitlines()
        assert head.split()[1:5] == ["error", "MILESTONE", "lookup", "failed"]
        assert block[0] == "    Traceback (most recent call last):"
        assert block[-1] == "    KeyError: 'missing'"

    def test_traceback_text_cannot_reach_the_terminal_raw(self, tmp_path: Path) -> None:
        """Control characters inside a stored traceback are escaped like any other text."""
        with EventWriter(tmp_path, "s", mode="sync") as writer:
            log(writer, "e", method_name="error", exception="Traceback\nValueError: \x1b[2J")
        output = run("cat", tmp_path).stdout
        assert "\x1b" not in output
        assert output.splitlines()[1:] == ["    Traceback", '    "ValueError: \\u001b[2J"']

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

    def test_last_events_of_several_paths_merged(self, tmp_path: Path) -> None:
        """tail -n N of several runs prints the last N of their merge by time."""
        runs = write_runs(tmp_path)
        result = run("tail", "-n", "3", *runs)
        assert numbers_in(result.stdout) == [2, 3, 4]
        assert simulations_in(result.stdout) == ["sim-2", "sim-2", "sim-1"]

    def test_follow_takes_one_directory(self, tmp_path: Path) -> None:
        """tail -f of several paths, or of a file, exits 2 saying what it follows."""
        runs = write_runs(tmp_path)
        for paths in (runs, [runs[0] / "events.jsonl"]):
            # A real process, bounded: were it to follow, it would never end.
            result = subprocess.run(
                command("tail", "-f", *paths),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == EXIT_USAGE
            message = " ".join(result.stderr.split())
            assert "tail -f follows one writer's directory" in message
            assert "one tail -f per directory" in message

    def test_follow_in_a_real_process_across_rotations(self, tmp_path: Path) -> None:
        """`python -m structlog_events tail -f` prints new events once, in order; Ctrl-C ends."""
        fill(tmp_path, 5)
        process = subprocess.Popen(
            [sys.executable, "-m", "structlog_events", "tail", "-f", "-n", "2", "--json",
             "--poll-interval", "0.02", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Block-buffered stdout, as in a pipeline: output must be flushed by tail.
            env=buffered_environment(),
        )  # fmt: skip
        assert process.stdout is not None
        lines: list[bytes] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()))
        reader.start()
        try:
            assert wait_until(lambda: len(lines) >= 2)
            fill(tmp_path, 200, start=5)
            assert wait_until(lambda: len(lines) >= 202)
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
        """stats counts files, bytes, events by level, verbosity and type, time span, bad lines."""
        fill(tmp_path, 20)
        compress(rotated(tmp_path)[0])
        append(tmp_path / "events.jsonl", b"{")
        files = [*rotated(tmp_path), tmp_path / "events.jsonl"]
        result = run("stats", tmp_path)
        assert result.exit_code == 0
        text = result.stdout
        plain = len(files) - 1
        assert text.startswith(f"path           {tmp_path}\n")
        assert (
            f"files          {len(files)} ({plain} rotated, 1 live events.jsonl; 1 compressed)\n"
            in text
        )
        assert f"bytes          {sum(p.stat().st_size for p in files):,}\n" in text
        assert "events         20\n" in text
        assert "torn lines     1\n" in text
        assert "corrupt lines  0\n" in text
        assert "by level\n  debug     0\n  info      20\n  warning   0\n" in text
        assert "  ACTION     20\n" in text
        assert "  DETAIL     0\n" in text
        assert "  step  20\n" in text

    def test_json_summary(self, mixed: Path) -> None:
        """stats --json gives the same figures as one JSON object, counts by level included."""
        earliest = Event(event_type="step", simulation_id="a", timestamp=BASE - timedelta(days=1))
        append(mixed / "events.jsonl", b"junk\n" + earliest.model_dump_json().encode() + b"\n")
        result = run("stats", "--json", mixed)
        assert result.exit_code == 0
        summary = json.loads(result.stdout)
        assert summary["events"] == 6
        assert summary["corrupt_lines"] == 1
        assert summary["by_level"] == {
            "debug": 1,
            "info": 1,
            "warning": 1,
            "error": 1,
            "exception": 1,
            "critical": 0,
            "-": 1,
        }
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
        assert summary["paths"] == [str(mixed)]
        assert summary["files"] == 1
        assert summary["live_files"] == 1
        [part] = summary["by_path"]
        assert part == {key: value for key, value in summary.items() if key != "by_path"}

    def test_levels_no_one_knows_come_after_the_known_ones(self, tmp_path: Path) -> None:
        """Custom level names are counted after critical, events with no level last."""
        with EventWriter(tmp_path, "s", mode="sync") as writer:
            for level in ("trace", "fatal", None, "level 25", "info"):
                writer.emit(Event(event_type="e", simulation_id="s", level=level))
        summary = json.loads(run("stats", "--json", tmp_path).stdout)
        assert list(summary["by_level"]) == [
            "debug", "info", "level 25", "warning", "error", "critical", "fatal", "trace", "-",
        ]  # fmt: skip

    def test_several_paths_are_summed_and_broken_down(self, tmp_path: Path) -> None:
        """stats of several runs: the figures of all, then one row per run."""
        runs = write_runs(tmp_path)
        result = run("stats", *runs)
        assert result.exit_code == 0
        text = result.stdout
        assert text.startswith("paths          2\n")
        assert "events         6\n" in text
        assert "first          2024-05-01T12:00:00.000000Z\n" in text
        assert "last           2024-05-01T12:04:00.000000Z\n" in text
        assert "  error     2\n" in text
        table = text[text.index("by path\n") :].splitlines()[1:]
        assert table[0].split() == [
            "path", "events", "debug", "info", "warning", "error", "critical", "first", "last",
        ]  # fmt: skip
        assert table[1].split() == [
            str(runs[0]), "3", "0", "2", "0", "1", "0",
            "2024-05-01T12:00:00.000000Z", "2024-05-01T12:04:00.000000Z",
        ]  # fmt: skip
        assert table[2].split()[:2] == [str(runs[1]), "3"]
        summary = json.loads(run("stats", "--json", *runs).stdout)
        assert summary["paths"] == [str(run) for run in runs]
        assert summary["by_level"]["error"] == 2
        assert [part["paths"] for part in summary["by_path"]] == [[str(run)] for run in runs]
        assert [part["by_level"]["error"] for part in summary["by_path"]] == [1, 1]
        assert [part["last"] for part in summary["by_path"]] == [
            "2024-05-01T12:04:00Z",
            "2024-05-01T12:03:00Z",
        ]

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

    def test_empty_directory_when_allowed(self, tmp_path: Path) -> None:
        """With --allow-empty, an empty directory has no files, no events and no time span."""
        text = run("stats", "--allow-empty", tmp_path).stdout
        assert "files          0 (0 rotated, no live events.jsonl; 0 compressed)\n" in text
        assert "events         0\n" in text
        assert "first          -\n" in text


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

    def test_several_paths_are_all_checked(self, tmp_path: Path) -> None:
        """validate of several runs counts every line of each; a bad one anywhere fails."""
        runs = write_runs(tmp_path)
        result = run("validate", *runs)
        assert result.exit_code == 0
        assert "6 lines in 2 files: all valid events" in result.stderr
        append(runs[1] / "events.jsonl", b"junk\n")
        failed = run("validate", *runs)
        assert failed.exit_code == EXIT_PROBLEMS
        assert failed.stdout.startswith(f"{runs[1] / 'events.jsonl'}:4: corrupt: not valid JSON")


class TestTargets:
    """What PATH may be: a run's directory, one event file, several of either."""

    @pytest.mark.parametrize("name", ["cat", "tail", "stats", "validate"])
    def test_parent_of_runs_is_an_error_naming_the_runs(self, tmp_path: Path, name: str) -> None:
        """A directory holding runs, not events, exits 2 saying what it looked for and where."""
        write_runs(tmp_path)
        result = run(name, tmp_path)
        assert result.exit_code == EXIT_USAGE
        message = " ".join(result.stderr.split())
        assert (
            "holds no event files (looked for events.jsonl or events_<time>.jsonl[.gz])" in message
        )
        assert f"its subdirectories do ({tmp_path / 'sim-1'}, {tmp_path / 'sim-2'})" in message
        assert f"e.g. {tmp_path}/*" in message
        assert result.stdout == ""

    @pytest.mark.parametrize("name", ["cat", "tail", "stats", "validate"])
    def test_empty_directory_is_an_error_unless_allowed(self, tmp_path: Path, name: str) -> None:
        """An empty directory exits 2 naming --allow-empty; with it, there are no events."""
        (tmp_path / "notes.txt").write_text("not events\n")
        refused = run(name, tmp_path)
        assert refused.exit_code == EXIT_USAGE
        assert "holds no event files" in refused.stderr
        assert "--allow-empty" in refused.stderr
        allowed = run(name, "--allow-empty", tmp_path)
        assert allowed.exit_code == 0, allowed.output
        assert "all valid" not in allowed.output
        if name == "validate":
            assert allowed.stderr == "no event lines: nothing to validate\n"

    def test_one_event_file_of_any_kind(self, tmp_path: Path) -> None:
        """events.jsonl, a rotated file, a copied .jsonl.gz or any .jsonl is read alone."""
        fill(tmp_path, 30)
        first, second, *_ = rotated(tmp_path)
        copy = tmp_path / "elsewhere" / "copy.jsonl.gz"
        copy.parent.mkdir()
        copy.write_bytes(gzip.compress(second.read_bytes()))
        renamed = tmp_path / "elsewhere" / "mine.jsonl"
        renamed.write_bytes(first.read_bytes())
        live = tmp_path / "events.jsonl"
        for path, source in ((first, first), (copy, second), (renamed, first), (live, live)):
            result = run("cat", path)
            assert result.exit_code == 0, result.output
            expected = [event.data["number"] for event in helpers.read_events_of(source)]
            assert numbers_in(result.stdout) == expected
        lines = len(helpers.read_events_of(first)) + len(helpers.read_events_of(second))
        validated = run("validate", first, copy)
        assert (validated.exit_code, validated.stdout) == (0, "")
        assert f"{lines} lines in 2 files: all valid events" in validated.stderr

    def test_other_files_are_usage_errors(self, tmp_path: Path) -> None:
        """A file not named .jsonl or .jsonl.gz exits 2 saying what PATH may be."""
        (tmp_path / "events.log").write_text("")
        result = run("cat", tmp_path / "events.log")
        assert result.exit_code == EXIT_USAGE
        assert "is not an event file: give a writer's output_dir, or a .jsonl or .jsonl.gz" in (
            " ".join(result.stderr.split())
        )

    def test_several_runs_merge_in_timestamp_order(self, tmp_path: Path) -> None:
        """cat of several runs interleaves their events by time, ties in argument order."""
        runs = write_runs(tmp_path)
        result = run("cat", *runs)
        assert result.exit_code == 0
        assert numbers_in(result.stdout) == [0, 1, 2, 2, 3, 4]
        assert simulations_in(result.stdout) == [
            "sim-1",
            "sim-2",
            "sim-1",
            "sim-2",
            "sim-2",
            "sim-1",
        ]
        swapped = run("cat", runs[1], runs[0])
        assert simulations_in(swapped.stdout)[2:4] == ["sim-2", "sim-1"]
        errors = run("cat", "--level", "error", "--json", *runs)
        assert [json.loads(line)["simulation_id"] for line in errors.stdout.splitlines()] == [
            "sim-1",
            "sim-2",
        ]


class TestOutputEnds:
    """The command run for real, its output read by another program."""

    @pytest.mark.parametrize(
        ("args", "reader"),
        [
            (["cat"], "head -1"),
            (["cat", "--json"], "head -1"),
            (["cat", "--type", "step", "-F", "number"], "head -1"),
            (["tail", "-n", "3000"], "head -1"),
            (["cat"], "true"),
            (["cat", "--json"], "true"),
        ],
    )
    def test_closed_pipe_is_a_normal_end(
        self, tmp_path: Path, args: list[str], reader: str
    ) -> None:
        """`cat ... | head -1` exits 0 with nothing on stderr, output buffered as in a pipeline."""
        count = 3000 if reader == "head -1" else 3  # past the pipe's buffer, or all still held
        (tmp_path / "events.jsonl").write_bytes(b"".join(event_line(n) for n in range(count)))
        pipeline = " ".join([*command(*args, tmp_path), "|", reader])
        result = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {pipeline}"],
            capture_output=True,
            timeout=120,
            check=False,
            env=buffered_environment(),
        )
        assert (result.returncode, result.stderr) == (0, b"")
        assert len(result.stdout.splitlines()) == (1 if reader == "head -1" else 0)

    def test_colours_on_a_terminal_only(self, tmp_path: Path) -> None:
        """On a pseudo terminal the output is coloured; NO_COLOR or a pipe turn colour off."""
        write_runs(tmp_path)
        run_dir = tmp_path / "sim-1"
        environment = without_colour_settings()
        shown = run_on_terminal("cat", run_dir, env=environment)
        assert "\x1b[31m\x1b[1merror" in shown
        assert "\x1b[32minfo" in shown
        plain = run_on_terminal("cat", run_dir, env={**environment, "NO_COLOR": "1"})
        assert "\x1b" not in plain
        assert ANSI.sub("", shown) == plain
        assert "error" in plain
        piped = subprocess.run(
            command("cat", run_dir), capture_output=True, env=environment, timeout=60, check=True
        )
        assert b"\x1b" not in piped.stdout
        assert piped.stdout.decode().replace("\n", "\r\n") == plain
        forced = run_on_terminal("cat", "--color", run_dir, env={**environment, "NO_COLOR": "1"})
        assert forced == shown


class TestSchemaAndHelp:
    def test_schema_is_the_event_json_schema(self) -> None:
        """schema prints Event's JSON Schema as JSON."""
        result = run("schema")
        assert result.exit_code == 0
        assert json.loads(result.stdout) == Event.model_json_schema()

    def test_exit_status_is_documented_once(self) -> None:
        """The group's help has the exit status table; each command says only its own."""
        group = run("--help").stdout
        assert "Exit status:" in group
        for status in ("0 ", f"{EXIT_PROBLEMS} ", f"{EXIT_USAGE} ", f"{EXIT_INTERRUPTED} "):
            assert f"\n    {status}" in group
        assert "holding no event files" in group
        own = {
            "cat": ["Exits 1 if it stops at a corrupt line."],
            "tail": ["Exits 130 when Ctrl-C ends it, 1 if it stops at a corrupt line."],
            "validate": ["exits 1 if there is any."],
            "stats": [],
            "schema": [],
        }
        for name, sentences in own.items():
            result = run(name, "--help")
            assert result.exit_code == 0
            text = " ".join(result.stdout.split())
            assert "Exit status" not in text
            assert "usage error" not in text
            assert "130" not in text or name == "tail"
            for sentence in sentences:
                assert sentence in text

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


class TestModels:
    """--model MODULE:CLASS and TYPE=MODULE:CLASS on cat, tail, validate and schema."""

    models = ("--model", "tests.models:SimEvent", "-m", "agent_decided=tests.models:DecisionEvent")

    def test_cat_shows_typed_fields_and_stops_at_an_invalid_event(self, tmp_path: Path) -> None:
        """cat --model shows a model's set fields; an invalid event stops it unless skipped."""
        write_typed_run(tmp_path)
        stopped = run("cat", tmp_path, *self.models)
        assert stopped.exit_code == EXIT_PROBLEMS
        assert f"error: {tmp_path / 'events.jsonl'}:7: invalid: not a valid DecisionEvent" in (
            stopped.stderr
        )
        result = run("cat", tmp_path, *self.models, "--skip-corrupt", "--where", "turn_number=1")
        assert result.exit_code == 0
        decided, tick = result.stdout.splitlines()
        assert decided.endswith("agent_decided             turn_number=1 agent_id=a1")
        assert tick.endswith("tick                      turn_number=1 price=1.5")
        assert "skipped" in result.stderr
        untyped = run("cat", tmp_path, "--where", "turn_number=1")
        assert untyped.stdout.splitlines() == [decided, tick]

    def test_tail_reads_typed_events(self, tmp_path: Path) -> None:
        """tail --model prints the last typed events."""
        write_typed_run(tmp_path)
        result = run("tail", tmp_path, "-n", "1", *self.models, "--skip-corrupt")
        assert result.exit_code == 0
        assert result.stdout.rstrip().endswith("tick                      turn_number=2 price=1.5")

    def test_validate_lists_events_not_valid_as_their_model(self, tmp_path: Path) -> None:
        """validate --model lists the invalid event and exits 1; without it every line is valid."""
        write_typed_run(tmp_path)
        assert run("validate", tmp_path).exit_code == 0
        result = run("validate", tmp_path, *self.models)
        assert result.exit_code == EXIT_PROBLEMS
        [listed] = result.stdout.splitlines()
        assert listed.startswith(
            f"{tmp_path / 'events.jsonl'}:7: invalid: not a valid DecisionEvent (event type "
            "'agent_decided'): turn_number: Input should be greater than or equal to 0"
        )
        assert "1 of 7 lines" in result.stderr

    def test_schema_of_a_model_and_of_models_per_type(self) -> None:
        """schema --model prints the model's schema; with TYPE= models, their union's."""
        one = run("schema", "--model", "tests.models:SimEvent")
        assert one.exit_code == 0
        assert json.loads(one.stdout) == SimEvent.model_json_schema()
        union = run("schema", *self.models)
        assert union.exit_code == 0
        assert (
            json.loads(union.stdout)
            == EventModels(SimEvent, {"agent_decided": DecisionEvent}).json_schema()
        )

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ("tests.models", "is not MODULE:CLASS or TYPE=MODULE:CLASS"),
            ("no_such_module:X", "cannot import 'no_such_module': ModuleNotFoundError"),
            ("tests.models:Nothing", "module 'tests.models' has no 'Nothing'"),
            ("tests.models:Position", "must be a subclass of structlog_events.Event"),
        ],
    )
    def test_a_model_that_cannot_be_used_is_a_usage_error(self, spec: str, message: str) -> None:
        """A --model that names no Event subclass exits 2, saying why."""
        result = run("schema", "--model", spec)
        assert result.exit_code == EXIT_USAGE
        assert message in result.stderr

    def test_a_model_module_is_found_in_the_current_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """MODULE is imported from the current directory, as python -m would find it."""
        (tmp_path / "my_sim_events.py").write_text(
            "from structlog_events import Event\n\n"
            "class TurnEvent(Event):\n    turn_number: int = 0\n"
        )
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
        result = run("schema", "--model", "my_sim_events:TurnEvent")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["title"] == "TurnEvent"

    def test_two_models_for_every_event_is_a_usage_error(self) -> None:
        """Two --model without TYPE= exit 2: one model is for every event."""
        result = run("schema", "-m", "tests.models:SimEvent", "-m", "tests.models:UlidEvent")
        assert result.exit_code == EXIT_USAGE
        assert "give one --model MODULE:CLASS for every event" in result.stderr
