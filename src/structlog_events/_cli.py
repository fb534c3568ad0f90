"""The ``structlog-events`` command: read, follow, summarise and check event files."""

from __future__ import annotations

import importlib
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final, TypeVar

import click
import orjson

from ._event_model import Event
from ._layout import EVENT_FILE_NAMES, event_files
from ._models import EventModels, check_model
from ._query import LEVEL_NAMES, FieldPath, event_filter, minimum_rank
from ._reader import check_source, scan_sources
from ._render import ReadableForm
from ._scan import CaughtUp, LineParser, LineProblem, ScanItem, ScannedLine, parse_line, scan
from ._summary import Summary, per_path_table
from ._verbosity import VerbosityLevel

#: Exit status of a run that found corrupt lines (validate), or stopped at one (cat, tail).
EXIT_PROBLEMS: Final = 1
#: Exit status of a usage error (click's own): unknown option, bad value, a PATH
#: missing or holding no event files.
EXIT_USAGE: Final = 2
#: Exit status after Ctrl-C, the usual way to end ``tail -f``: 128 + SIGINT, as shells report.
EXIT_INTERRUPTED: Final = 130

_EXIT_CODES_HELP: Final = f"""\b
Exit status:
  0    success; for validate: every line is a valid event
  {EXIT_PROBLEMS}    validate found problems; cat or tail stopped at a corrupt
       line (see --skip-corrupt)
  {EXIT_USAGE}    usage error: unknown option, bad value, a PATH missing or
       holding no event files (see --allow-empty)
  {EXIT_INTERRUPTED}  interrupted with Ctrl-C (how tail -f is usually ended)
A reader that stops early (cat ... | head) ends the output normally: status 0.
"""

#: How many subdirectories holding event files a "no event files" error names.
_SUGGESTED_RUNS: Final = 3

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


class LogLevel(click.ParamType[int]):
    """A level name in any case, or a stdlib level number; converted to its rank."""

    name = "LEVEL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value)
        try:
            return minimum_rank(int(text) if text.isdecimal() else text)
        except ValueError as error:
            self.fail(str(error), param, ctx)


class ModelSpec(click.ParamType[tuple[str | None, type[Event]]]):
    """``MODULE:CLASS``, a model for every event, or ``TYPE=MODULE:CLASS``, for one type.

    The module is imported as Python would from the current directory.
    """

    name = "[TYPE=]MODULE:CLASS"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str | None, type[Event]]:
        text = str(value)
        event_type, equals, target = text.rpartition("=")
        module_name, colon, class_name = target.partition(":")
        if not (module_name and colon and class_name):
            self.fail(
                f"{text!r} is not MODULE:CLASS or TYPE=MODULE:CLASS; examples: "
                "sim.events:SimEvent, agent_decided=sim.events:DecisionEvent",
                param,
                ctx,
            )
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m` would find it
        try:
            module = importlib.import_module(module_name)
        except Exception as error:
            self.fail(f"cannot import {module_name!r}: {type(error).__name__}: {error}", param, ctx)
        model = getattr(module, class_name, None)
        if model is None:
            self.fail(f"module {module_name!r} has no {class_name!r}", param, ctx)
        try:
            return (event_type if equals else None), check_model(model, f"--model {text}")
        except (TypeError, ValueError) as error:
            self.fail(str(error), param, ctx)


def _event_models(
    ctx: click.Context, param: click.Parameter, values: tuple[tuple[str | None, type[Event]], ...]
) -> EventModels | None:
    """``--model`` options as the models lines are read as: one default, one per type."""
    if not values:
        return None
    defaults = {model for event_type, model in values if event_type is None}
    if len(defaults) > 1:
        raise click.BadParameter(
            "give one --model MODULE:CLASS for every event, and TYPE=MODULE:CLASS for "
            f"the models of single event types, not {len(defaults)} without a TYPE"
        )
    by_type = {event_type: model for event_type, model in values if event_type is not None}
    return EventModels(next(iter(defaults), None), by_type)


_model_option = click.option(
    "--model",
    "-m",
    "models",
    multiple=True,
    type=ModelSpec(),
    callback=_event_models,
    help=(
        "Read each event as this model, a subclass of Event (MODULE:CLASS, imported from "
        "the current directory); TYPE=MODULE:CLASS for the events of one type (repeat). "
        "An event that is not valid as its model is a problem, as a corrupt line is."
    ),
)


def _where_pairs(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str] | None:
    """``--where KEY=VALUE`` options as one mapping, each KEY checked."""
    where: dict[str, str] = {}
    for text in values:
        key, equals, value = text.partition("=")
        if not equals:
            raise click.BadParameter(
                f"{text!r} is not KEY=VALUE; examples: level=error, agent_id=a1, data.region=eu"
            )
        try:
            FieldPath(key)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
        if where.get(key, value) != value:
            raise click.BadParameter(
                f"{key} is given twice ({where[key]!r}, {value!r}): an event has one value there"
            )
        where[key] = value
    return where or None


def _field_paths(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[FieldPath] | None:
    """``--fields A,B --fields C`` as the paths A, B, C."""
    try:
        return [FieldPath(key) for text in values for key in text.split(",")] or None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _options(*options: Callable[[_F], _F]) -> Callable[[_F], _F]:
    """Apply several click decorators, the first listed first in the help."""

    def apply(command: _F) -> _F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


_paths_argument = click.argument(
    "paths",
    metavar="PATH...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, path_type=Path),
)

_allow_empty_option = click.option(
    "--allow-empty",
    is_flag=True,
    help="Accept a PATH with no event files (as no events) instead of exiting 2.",
)

_filter_options = _options(
    click.option(
        "--level",
        "-l",
        type=LogLevel(),
        help=(
            f"Only events logged at this level or more severe ({', '.join(LEVEL_NAMES)}; "
            "exception counts as error). Events with no level are left out, "
            "events of a level no one knows are kept."
        ),
    ),
    click.option(
        "--where",
        "-w",
        multiple=True,
        metavar="KEY=VALUE",
        callback=_where_pairs,
        help=(
            "Only events whose KEY has this value, compared as text (numbers, true, false, "
            "null as JSON writes them). KEY is an event field (event_type, level, ...) or a "
            "path into data: agent_id, data.config.region. Repeat: all must match."
        ),
    ),
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
        help="Only events at this verbosity or less verbose, as a writer at it keeps.",
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
)

_output_options = _options(
    click.option(
        "--fields",
        "-F",
        multiple=True,
        metavar="KEY,...",
        callback=_field_paths,
        help=(
            "Show only these values after the type, in this order (keys as for --where; "
            "comma-separated or repeated). Readable form only."
        ),
    ),
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
    _allow_empty_option,
)


class _Commands(click.Group):
    """The command group: a reader that closes the pipe (``| head``) ends the output normally."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(0)


@click.group(
    cls=_Commands,
    name="structlog-events",
    epilog=_EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="structlog-events")
def cli() -> None:
    """Read the event files an EventWriter writes.

    PATH is a writer's output_dir (its events.jsonl and rotated
    events_<time>.jsonl[.gz] files, read in write order) or one event file
    (any .jsonl or .jsonl.gz).  Several PATHs (runs/*) are merged in
    timestamp order, each keeping its own order.
    """


@cli.command()
@_paths_argument
@_filter_options
@_model_option
@_output_options
def cat(paths: tuple[Path, ...], **options: Any) -> None:
    """Print every event of PATH in write order.

    One aligned line per event: time (UTC), level (errors in red on a
    terminal), verbosity, type, then the data as key=value; a traceback
    follows on indented lines.  With --json, the stored JSON lines instead.

    Exits 1 if it stops at a corrupt line.
    """
    sources = _sources(paths, allow_empty=options["allow_empty"])
    printer = _Printer(options, sources)
    items = scan_sources(sources, _parser(options["models"]))
    try:
        for item in _kept_lines(items, options):
            if isinstance(item, ScannedLine):
                printer.print(item)
        printer.flush()
    finally:
        items.close()


@cli.command()
@_paths_argument
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
    help="Seconds between looks at the directory while following.",
)
@_filter_options
@_model_option
@_output_options
def tail(
    paths: tuple[Path, ...], count: int, follow: bool, poll_interval: float, **options: Any
) -> None:
    """Print the last events of PATH; with -f, keep printing new ones.

    Following works like tail -F on one directory: each event is printed
    once, in order, also when files are rotated or compressed in between.

    Exits 130 when Ctrl-C ends it, 1 if it stops at a corrupt line.
    """
    sources = _sources(paths, allow_empty=options["allow_empty"])
    if follow and (len(sources) > 1 or not sources[0].is_dir()):
        raise click.UsageError(
            "tail -f follows one writer's directory (events.jsonl is rotated away under a "
            "follower of the file): give one, e.g. tail -f runs/sim-42, and run one tail -f "
            "per directory to follow several"
        )
    printer = _Printer(options, sources)
    items = (
        scan(sources[0], follow=True, poll_interval=poll_interval, parse=_parser(options["models"]))
        if follow
        else scan_sources(sources, _parser(options["models"]))
    )
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


@cli.command(short_help="Summarise PATH: files, events by level and type, time span.")
@_paths_argument
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many event types and simulations to list, most frequent first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@_allow_empty_option
def stats(paths: tuple[Path, ...], top: int, as_json: bool, allow_empty: bool) -> None:
    """Summarise PATH: files, bytes, events by level, verbosity and type, time span.

    Bad lines (torn, corrupt) are counted too; types and simulations are
    listed most frequent first.

    With several PATHs: the figures of all of them, then a table of each
    one's events by level and time span (in JSON, by_path: each one's figures).
    """
    parts = [Summary.of(path) for path in _sources(paths, allow_empty=allow_empty)]
    total = parts[0] if len(parts) == 1 else Summary.total(parts)
    if as_json:
        summary = {**total.as_dict(), "by_path": [part.as_dict() for part in parts]}
        options = orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z
        click.echo(orjson.dumps(summary, option=options).decode())
        return
    lines = total.render(top)
    if len(parts) > 1:
        lines.append("by path")
        lines += per_path_table(parts, [name for name, _ in total.levels()])
    click.echo("\n".join(lines))


@cli.command(short_help="Check that every line is a valid Event.")
@_paths_argument
@_model_option
@_allow_empty_option
def validate(paths: tuple[Path, ...], models: EventModels | None, allow_empty: bool) -> None:
    """Check that every line of PATH's event files is a valid Event.

    With --model, every line must be a valid instance of the model of its
    event type: an event the writer kept as invalid (data._invalid) is a
    problem too.

    Lists FILE:LINE: REASON for each line that is not, including an
    incomplete last line of events.jsonl (a writer still writing it, or one
    that stopped mid-write), and exits 1 if there is any.
    """
    lines = problems = 0
    files: set[Path] = set()
    parse = _parser(models)
    for path in _sources(paths, allow_empty=allow_empty):
        for item in scan_sources([path], parse):
            if isinstance(item, CaughtUp):
                continue
            files.add(item.path)
            lines += 1
            if isinstance(item, LineProblem):
                problems += 1
                click.echo(_describe_problem(item))
    if problems:
        click.echo(
            f"{problems} of {lines} lines in {len(files)} files are not valid events", err=True
        )
        sys.exit(EXIT_PROBLEMS)
    if not lines:
        click.echo("no event lines: nothing to validate", err=True)
        return
    click.echo(f"{lines} lines in {len(files)} files: all valid events", err=True)


@cli.command(short_help="Print the JSON Schema of Event, or of your models.")
@_model_option
def schema(models: EventModels | None) -> None:
    """Print the JSON Schema of an event line, for downstream consumers.

    With --model, the schema of your model; with models per event type, of
    their union: each one with the event types it applies to.
    """
    try:
        document = Event.model_json_schema() if models is None else models.json_schema()
    except Exception as error:  # a field type without a JSON Schema
        raise click.ClickException(f"no JSON Schema for these models: {error}") from None
    click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())


def main() -> None:
    """Run the ``structlog-events`` command line."""
    cli()


# -- pieces -----------------------------------------------------------------------


def _sources(paths: Sequence[Path], *, allow_empty: bool) -> list[Path]:
    """Check each PATH: a directory with event files (unless *allow_empty*), or an event file.

    Raises:
        click.BadParameter: a PATH cannot be read as events; exit status 2.
    """
    for path in paths:
        try:
            check_source(path)
        except (OSError, ValueError) as error:
            raise click.BadParameter(str(error), param_hint="PATH") from None
        if not allow_empty and path.is_dir() and not event_files(path):
            raise click.BadParameter(_no_event_files(path), param_hint="PATH")
    return list(paths)


def _no_event_files(directory: Path) -> str:
    """Say that *directory* has no event files, and where some are if it holds runs."""
    message = f"{str(directory)!r} holds no event files (looked for {EVENT_FILE_NAMES})"
    runs: list[Path] = []
    try:
        children = sorted(directory.iterdir())
    except OSError:
        children = []
    for child in children:
        if child.is_dir() and event_files(child):
            runs.append(child)
            if len(runs) == _SUGGESTED_RUNS:
                break
    if runs:
        names = ", ".join(str(run) for run in runs)
        more = ", ..." if len(runs) == _SUGGESTED_RUNS else ""
        return f"{message}; its subdirectories do ({names}{more}): give them, e.g. {directory}/*"
    return f"{message}; give a writer's output_dir, or --allow-empty to read it as no events"


def _kept_lines(
    items: Iterator[ScanItem], options: dict[str, Any]
) -> Iterator[ScannedLine | CaughtUp]:
    """Yield the lines the filter options keep, and the ``CAUGHT_UP`` markers.

    Torn and corrupt lines are reported on stderr; a corrupt line ends the
    command with ``EXIT_PROBLEMS`` unless ``--skip-corrupt`` was given.
    """
    # The options were checked by their click types: this cannot raise.
    keep = event_filter(
        event_types=options["event_types"] or None,
        verbosity=options["verbosity"],
        level=options["level"],
        where=options["where"],
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


def _parser(models: EventModels | None) -> LineParser:
    return parse_line if models is None else models.parse_line


def _describe_problem(problem: LineProblem) -> str:
    kind = "torn" if problem.torn else "invalid" if problem.invalid else "corrupt"
    return f"{problem.path}:{problem.line_number}: {kind}: {problem.reason}"


class _Printer:
    """Writes events to stdout, raw or readable, buffered until ``flush``.

    Readable lines of several sources name their source: the PATH given.
    """

    def __init__(self, options: dict[str, Any], sources: Sequence[Path]) -> None:
        self._as_json: bool = options["as_json"]
        if self._as_json and options["fields"] is not None:
            raise click.UsageError(
                "--fields chooses what the readable form shows; with --json, choose with "
                "jq instead, e.g. --json | jq '{level, agent_id: .data.agent_id}'"
            )
        self._text: IO[str] = sys.stdout
        self._binary: IO[bytes] = sys.stdout.buffer
        color = options["color"]
        if color is None:
            color = self._text.isatty() and not os.environ.get("NO_COLOR")
        self._form = ReadableForm(color=color, fields=options["fields"])
        width = max(len(str(path)) for path in sources)
        self._labels = (
            {path: str(path).ljust(width) for path in sources} if len(sources) > 1 else {}
        )

    def print(self, line: ScannedLine) -> None:
        if self._as_json:
            self._binary.write(line.raw + b"\n")
        elif self._labels:
            # A directory's files lie in it; a file given as PATH is its own source.
            source = self._labels.get(line.path) or self._labels[line.path.parent]
            self._text.write(self._form.render(line.event, source=source) + "\n")
        else:
            self._text.write(self._form.render(line.event) + "\n")

    def flush(self) -> None:
        (self._binary if self._as_json else self._text).flush()


def _silence_stdout() -> None:
    """Point stdout at ``os.devnull`` after a closed pipe, as the Python docs recommend.

    Python flushes stdout again at exit; into the closed pipe that would fail
    once more and print a traceback.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (an embedding, a test runner)
        pass
