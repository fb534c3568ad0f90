"""The ``structlog-events`` command: read, follow, summarise and check event directories."""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final, TypeVar

import click
import orjson

from ._event import Event
from ._layout import CURRENT_NAME, event_files
from ._reader import event_filter
from ._scan import CaughtUp, LineProblem, ScanItem, ScannedLine, scan
from ._verbosity import VerbosityLevel

#: Exit status of a run that found corrupt lines (validate), or stopped at one (cat, tail).
EXIT_PROBLEMS: Final = 1
#: Exit status of a usage error (click's own): unknown option, bad value, missing DIR.
EXIT_USAGE: Final = 2
#: Exit status after Ctrl-C, the usual way to end ``tail -f``: 128 + SIGINT, as shells report.
EXIT_INTERRUPTED: Final = 130

_EXIT_CODES_HELP: Final = f"""\b
Exit status:
  0    success; for validate: every line is a valid event
  {EXIT_PROBLEMS}    validate found problems; cat or tail stopped at a corrupt
       line (see --skip-corrupt)
  {EXIT_USAGE}    usage error: unknown option, bad value, DIR missing
  {EXIT_INTERRUPTED}  interrupted with Ctrl-C (how tail -f is usually ended)
"""

_LEVEL_WIDTH: Final = max(len(level.value) for level in VerbosityLevel)
_TYPE_WIDTH: Final = 24

_LEVEL_STYLE: Final[dict[VerbosityLevel, dict[str, Any]]] = {
    VerbosityLevel.MILESTONE: {"fg": "magenta", "bold": True},
    VerbosityLevel.DECISION: {"fg": "cyan", "bold": True},
    VerbosityLevel.ACTION: {"fg": "green"},
    VerbosityLevel.STATE: {"fg": "blue"},
    VerbosityLevel.DETAIL: {"dim": True},
}

_F = TypeVar("_F", bound=Callable[..., Any])


class IsoTime(click.ParamType[datetime]):
    """An ISO 8601 date or time; naive times are local time, as Python takes them."""

    name = "ISO-TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO 8601 time; examples: 2024-05-01, "
                "2024-05-01T12:30:00Z, 2024-05-01T14:30:00+02:00",
                param,
                ctx,
            )


_DIRECTORY = click.Path(exists=True, file_okay=False, path_type=Path)


def _filter_options(command: _F) -> _F:
    """Add the options that choose events, shared by cat and tail."""
    options = [
        click.option(
            "--type",
            "-t",
            "event_types",
            multiple=True,
            metavar="TYPE",
            help="Only events of this type (repeat for several).",
        ),
        click.option(
            "--verbosity",
            "-v",
            type=click.Choice([level.value for level in VerbosityLevel], case_sensitive=False),
            help="Only events at this level or less verbose, as a writer at this level keeps.",
        ),
        click.option(
            "--since",
            type=IsoTime(),
            help="Only events at or after this time (no zone: local time).",
        ),
        click.option(
            "--until",
            type=IsoTime(),
            help="Only events before this time (no zone: local time).",
        ),
        click.option("--simulation-id", help="Only events of this simulation."),
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="Print each event's line as stored (JSON), not the readable form.",
        ),
        click.option(
            "--skip-corrupt",
            is_flag=True,
            help="Skip lines that are not valid events (warning on stderr) instead of stopping.",
        ),
        click.option(
            "--color/--no-color",
            default=None,
            help="Colour the readable form; default: only on a terminal, unless NO_COLOR is set.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group(
    name="structlog-events",
    epilog=_EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="structlog-events")
def cli() -> None:
    """Read the event files an EventWriter writes (DIR is its output_dir).

    Events come in write order: rotated files oldest first (.jsonl.gz too),
    then events.jsonl.
    """


@cli.command(epilog=_EXIT_CODES_HELP)
@click.argument("directory", metavar="DIR", type=_DIRECTORY)
@_filter_options
def cat(directory: Path, **options: Any) -> None:
    """Print every event of DIR in write order.

    One aligned line per event: time (UTC), verbosity, type, then the data as
    key=value.  With --json, the stored JSON lines instead.
    """
    printer = _Printer(as_json=options["as_json"], color=options["color"])
    items = scan(directory, follow=False)
    try:
        for item in _kept_lines(items, options):
            if isinstance(item, ScannedLine):
                printer.print(item)
        printer.flush()
    finally:
        items.close()


@cli.command(epilog=_EXIT_CODES_HELP)
@click.argument("directory", metavar="DIR", type=_DIRECTORY)
@click.option(
    "--lines",
    "-n",
    "count",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many of the last events to print.",
)
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Then print new events as they are written, across rotations, until Ctrl-C.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.01),
    default=0.25,
    show_default=True,
    help="Seconds between looks at DIR while following.",
)
@_filter_options
def tail(directory: Path, count: int, follow: bool, poll_interval: float, **options: Any) -> None:
    """Print the last events of DIR; with -f, keep printing new ones.

    Following works like tail -F: each event is printed once, in order, also
    when files are rotated or compressed in between.
    """
    printer = _Printer(as_json=options["as_json"], color=options["color"])
    items = scan(directory, follow=follow, poll_interval=poll_interval)
    last: deque[ScannedLine] = deque(maxlen=count)
    caught_up = False
    try:
        for item in _kept_lines(items, options):
            if isinstance(item, CaughtUp):
                if not caught_up:
                    caught_up = True
                    for line in last:
                        printer.print(line)
                printer.flush()
            elif caught_up:
                printer.print(item)
            else:
                last.append(item)
    except KeyboardInterrupt:
        printer.flush()
        sys.exit(EXIT_INTERRUPTED)
    finally:
        items.close()


@cli.command(epilog=_EXIT_CODES_HELP, short_help="Summarise DIR: files, events, time span.")
@click.argument("directory", metavar="DIR", type=_DIRECTORY)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many event types and simulations to list, most frequent first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def stats(directory: Path, top: int, as_json: bool) -> None:
    """Summarise DIR: files, bytes, events by type and verbosity, time span, bad lines."""
    summary = _Summary.of(directory)
    if as_json:
        options = orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z
        click.echo(orjson.dumps(summary.as_dict(), option=options).decode())
    else:
        click.echo(summary.render(top))


@cli.command(epilog=_EXIT_CODES_HELP, short_help="Check that every line is a valid Event.")
@click.argument("directory", metavar="DIR", type=_DIRECTORY)
def validate(directory: Path) -> None:
    """Check that every line of DIR's event files is a valid Event.

    Lists FILE:LINE: REASON for each line that is not, including an
    incomplete last line of events.jsonl (a writer still writing it, or one
    that stopped mid-write), and exits 1 if there is any.
    """
    lines = files = problems = 0
    seen: set[Path] = set()
    for item in scan(directory, follow=False):
        if isinstance(item, CaughtUp):
            continue
        if item.path not in seen:
            seen.add(item.path)
            files += 1
        lines += 1
        if isinstance(item, LineProblem):
            problems += 1
            click.echo(_describe_problem(item))
    if problems:
        click.echo(f"{problems} of {lines} lines in {files} files are not valid events", err=True)
        sys.exit(EXIT_PROBLEMS)
    click.echo(f"{lines} lines in {files} files: all valid events", err=True)


@cli.command(epilog=_EXIT_CODES_HELP, short_help="Print the JSON Schema of Event.")
def schema() -> None:
    """Print the JSON Schema of an event line, for downstream consumers."""
    click.echo(orjson.dumps(Event.model_json_schema(), option=orjson.OPT_INDENT_2).decode())


def main() -> None:
    """Run the ``structlog-events`` command line."""
    cli()


# -- pieces -----------------------------------------------------------------------


def _kept_lines(
    items: Iterator[ScanItem],
    options: dict[str, Any],
) -> Iterator[ScannedLine | CaughtUp]:
    """Yield the lines the filter options keep, and the ``CAUGHT_UP`` markers.

    Torn and corrupt lines are reported on stderr; a corrupt line ends the
    command with ``EXIT_PROBLEMS`` unless ``--skip-corrupt`` was given.
    """
    # The options were checked by their click types: this cannot raise.
    keep = event_filter(
        event_types=options["event_types"] or None,
        verbosity=options["verbosity"],
        since=options["since"],
        until=options["until"],
        simulation_id=options["simulation_id"],
    )
    for item in items:
        if isinstance(item, ScannedLine):
            if keep(item.event):
                yield item
        elif isinstance(item, LineProblem):
            sys.stdout.flush()  # keep stdout and stderr in order on a terminal
            if item.torn or options["skip_corrupt"]:
                click.echo(f"skipped {_describe_problem(item)}", err=True)
            else:
                click.echo(f"error: {_describe_problem(item)}", err=True)
                click.echo(
                    "(--skip-corrupt goes on past such lines; validate lists them all)", err=True
                )
                sys.exit(EXIT_PROBLEMS)
        else:
            yield item


def _describe_problem(problem: LineProblem) -> str:
    kind = "torn" if problem.torn else "corrupt"
    return f"{problem.path}:{problem.line_number}: {kind}: {problem.reason}"


class _Printer:
    """Writes events to stdout, raw or as aligned readable lines, buffered until ``flush``."""

    def __init__(self, *, as_json: bool, color: bool | None) -> None:
        self._as_json = as_json
        self._text: IO[str] = sys.stdout
        self._binary: IO[bytes] = sys.stdout.buffer
        if color is None:
            color = self._text.isatty() and not os.environ.get("NO_COLOR")
        self._color = color

    def print(self, line: ScannedLine) -> None:
        if self._as_json:
            self._binary.write(line.raw + b"\n")
        else:
            self._text.write(readable(line.event, color=self._color) + "\n")

    def flush(self) -> None:
        (self._binary if self._as_json else self._text).flush()


def readable(event: Event, *, color: bool = False) -> str:
    """One aligned line for *event*: time, verbosity, type, then ``key=value`` data."""
    stamp = event.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    level = event.verbosity.value.ljust(_LEVEL_WIDTH)
    event_type = _text(event.event_type).ljust(_TYPE_WIDTH)
    if color:
        stamp = click.style(stamp, dim=True)
        level = click.style(level, **_LEVEL_STYLE[event.verbosity])
        event_type = click.style(event_type, bold=True)
    fields = [
        f"{click.style(_text(key), fg='cyan') if color else _text(key)}={_value(value)}"
        for key, value in event.data.items()
    ]
    return "  ".join([stamp, level, event_type, *([" ".join(fields)] if fields else [])]).rstrip()


def _text(value: str) -> str:
    """*value* as is, or JSON-quoted if it holds a control character (one line, no escapes)."""
    if any(char < " " or char in "\x7f\u2028\u2029" for char in value):
        return orjson.dumps(value).decode()
    return value


def _value(value: Any) -> str:
    """A data value: plain text if it is one word, else JSON (quoted strings, compact)."""
    if (
        isinstance(value, str)
        and value
        and not any(char <= " " or char in '"=\x7f\u2028\u2029' for char in value)
    ):
        return value
    return orjson.dumps(value).decode()


class _Summary:
    """What ``stats`` reports about a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.rotated = 0
        self.compressed = 0
        self.live = False
        self.bytes = 0
        self.events = 0
        self.by_type: Counter[str] = Counter()
        self.by_verbosity: Counter[VerbosityLevel] = Counter()
        self.by_simulation: Counter[str] = Counter()
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.torn = 0
        self.corrupt = 0

    @classmethod
    def of(cls, directory: Path) -> _Summary:
        summary = cls(directory)
        summary._count_files()
        for item in scan(directory, follow=False):
            if isinstance(item, ScannedLine):
                summary._count_event(item.event)
            elif isinstance(item, LineProblem):
                if item.torn:
                    summary.torn += 1
                else:
                    summary.corrupt += 1
        return summary

    def _count_files(self) -> None:
        files = event_files(self.directory)
        self.live = bool(files) and files[-1].name == CURRENT_NAME
        self.rotated = len(files) - self.live
        self.compressed = sum(path.suffix == ".gz" for path in files)
        for path in files:
            # A file deleted by retention since it was listed adds nothing.
            with contextlib.suppress(FileNotFoundError):
                self.bytes += path.stat().st_size

    def _count_event(self, event: Event) -> None:
        self.events += 1
        self.by_type[event.event_type] += 1
        self.by_verbosity[event.verbosity] += 1
        self.by_simulation[event.simulation_id] += 1
        if self.first is None or event.timestamp < self.first:
            self.first = event.timestamp
        if self.last is None or event.timestamp > self.last:
            self.last = event.timestamp

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "files": self.rotated + self.live,
            "rotated_files": self.rotated,
            "compressed_files": self.compressed,
            "live_file": self.live,
            "bytes": self.bytes,
            "events": self.events,
            "first": self.first,
            "last": self.last,
            "torn_lines": self.torn,
            "corrupt_lines": self.corrupt,
            "by_verbosity": {level.value: self.by_verbosity[level] for level in VerbosityLevel},
            "by_type": dict(self.by_type.most_common()),
            "by_simulation": dict(self.by_simulation.most_common()),
        }

    def render(self, top: int) -> str:
        files = (
            f"{self.rotated + self.live} ({self.rotated} rotated, {self.compressed} of them "
            f"compressed; {'plus' if self.live else 'no'} live {CURRENT_NAME})"
        )
        rows = [
            ("directory", str(self.directory)),
            ("files", files),
            ("bytes", f"{self.bytes:,}"),
            ("events", f"{self.events:,}"),
            ("first", _time(self.first)),
            ("last", _time(self.last)),
            ("torn lines", f"{self.torn:,}"),
            ("corrupt lines", f"{self.corrupt:,}"),
        ]
        out = _aligned(rows, indent="")
        out.append("by verbosity")
        out += _aligned(
            [(level.value, f"{self.by_verbosity[level]:,}") for level in VerbosityLevel]
        )
        for title, counter in (("by type", self.by_type), ("by simulation", self.by_simulation)):
            out.append(title)
            out += _aligned([(_text(name), f"{n:,}") for name, n in counter.most_common(top)])
            if len(counter) > top:
                out.append(f"  ... and {len(counter) - top:,} more")
        return "\n".join(out)


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _aligned(rows: Iterable[tuple[str, str]], *, indent: str = "  ") -> list[str]:
    """Rows as ``name  value`` lines, names padded to one width."""
    rows = list(rows)
    width = max((len(name) for name, _ in rows), default=0)
    return [f"{indent}{name.ljust(width)}  {value}" for name, value in rows]
