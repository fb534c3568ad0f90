"""Real log shippers follow the event stream across rotations: GNU ``tail -F`` and rsyslog.

Each test writes 100,000 events with over 200 rotations from a separate process
while the shipper follows ``events.jsonl``, and checks that the shipper's output
is, byte for byte, every file's content in write order: every event exactly
once, in order, no line torn or glued to another.

The writer stays within the conditions ``docs/shipping.md`` documents: the
shipper follows the file before the first rotation, and each file stays the
live file long enough for the shipper to notice the next one.  Here that is
at most ``RATE`` events per second with no catch-up after a stall, and a queue
of ``QUEUE`` events, far less than a file holds, so a burst after a stall of
the writer thread never fills a whole file: every file lives about 80 ms or
more.  The tools come from the system: where one is missing the test is
skipped with the Debian package to install, except in CI (the ``CI``
variable set, as ``.ci/run`` does), where it fails: CI always runs them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

import orjson
import pytest
import structlog

from structlog_events import EventWriter, WriteMode

from .helpers import event_files, wait_until

DOCS = Path(__file__).resolve().parents[1] / "docs" / "shipping.md"

#: Events written while the shipper follows.
COUNT = 100_000
#: Bytes per file: about 470 events of ~213 bytes, so over 200 rotations.
MAX_FILE_SIZE = 100_000
#: Most events per second the writer process logs.
RATE = 5_000
#: Queue of the (ASYNC) writer: the largest burst its thread can write at once.
QUEUE = 64
#: Seconds the writer may take, and the shipper after it, before the test gives up.
WRITE_TIMEOUT = 60.0
DRAIN_TIMEOUT = 30.0

WRITER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import structlog
    from structlog_events import EventWriter

    directory, count, max_file_size, rate, queue = sys.argv[1:6]
    count, rate = int(count), float(rate)
    writer = EventWriter(directory, "shipping", max_file_size=int(max_file_size),
                         max_queue_size=int(queue), overflow="block")
    log = structlog.wrap_logger(None, processors=[writer])
    # Multi-byte text and a raw U+2028 (orjson leaves it unescaped): a shipper
    # must pass bytes through and split on b"\\n" only.
    text = "\\u00e9 \\u2713 \\u2028 end"
    log.info("tick", i=0, text=text)
    writer.flush()
    print("ready", flush=True)  # events.jsonl exists: the shipper may start
    sys.stdin.readline()
    batch = 50
    for start in range(1, count, batch):
        began = time.monotonic()
        for number in range(start, min(start + batch, count)):
            log.info("tick", i=number, text=text)
        # At most `rate` events per second, and no catching up after a stall:
        # a stall never turns into a burst that fills a whole file.
        rest = batch / rate - (time.monotonic() - began)
        if rest > 0:
            time.sleep(rest)
    closed = writer.close()
    stats = writer.stats
    print(json.dumps({"closed": closed, "written": stats.written,
                      "rotations": stats.rotations}), flush=True)
    """
)


@contextlib.contextmanager
def running(command: list[str], **options: Any) -> Iterator[subprocess.Popen[bytes]]:
    """Run *command*; kill it on the way out, whatever happened."""
    process = subprocess.Popen(command, **options)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def read_line(stream: IO[bytes], timeout: float) -> bytes:
    """One line from a child's pipe, or ``b""`` if none came within *timeout* seconds."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else b""


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class PacedWriter:
    """The writer process: creates ``events.jsonl`` with event 0, then writes on ``start()``."""

    def __init__(self, process: subprocess.Popen[bytes], directory: Path) -> None:
        self.process = process
        self.directory = directory
        assert process.stdout is not None
        line = read_line(process.stdout, 30)
        assert line == b"ready\n", f"writer did not start: {line!r}"

    def start(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        self.process.stdin.flush()

    def finish(self) -> bytes:
        """Wait for the writer to close; return every file's content, in write order."""
        assert self.process.stdout is not None
        line = read_line(self.process.stdout, WRITE_TIMEOUT)
        assert line, "writer did not finish in time"
        stats = json.loads(line)
        assert stats == {"closed": True, "written": COUNT, "rotations": stats["rotations"]}
        files = event_files(self.directory)
        assert stats["rotations"] >= 200
        assert len(files) == stats["rotations"] + 1
        return b"".join(path.read_bytes() for path in files)


def start_writer(directory: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        WRITER_SCRIPT,
        str(directory),
        str(COUNT),
        str(MAX_FILE_SIZE),
        str(RATE),
        str(QUEUE),
    ]


def assert_shipped(shipped: bytes, written: bytes) -> None:
    """The shipper's output is the written bytes: every event once, in order, lines intact."""
    numbers = []
    for line in shipped.split(b"\n")[:-1]:
        try:
            numbers.append(orjson.loads(line)["data"]["i"])
        except orjson.JSONDecodeError:
            pytest.fail(f"shipped a line that is not an event: {line[:120]!r}")
    missing = sorted(set(range(COUNT)) - set(numbers))
    assert not missing, f"{len(missing)} events never shipped, first {missing[:5]}"
    assert len(numbers) == COUNT, f"{len(numbers) - COUNT} events shipped twice"
    assert numbers == sorted(numbers), "events shipped out of order"
    assert shipped == written


def in_ci() -> bool:
    """Whether the tests run in CI: the ``CI`` variable is set (``.ci/run`` sets it)."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def unavailable(problem: str, package: str) -> NoReturn:
    """Skip the test, saying which Debian package to install; in CI, fail instead."""
    reason = f"{problem}: install the Debian package {package} (apt-get install {package})"
    if in_ci():
        pytest.fail(f"{reason}; required where CI is set (.ci/run installs it)")
    pytest.skip(reason)


def tool(name: str, package: str) -> str:
    """Path of a system tool the shipper tests drive, from the Debian *package*."""
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if path is None:
        unavailable(f"{name} is not installed", package)
    return path


class TestSystemTools:
    def test_a_missing_tool_skips_with_its_package(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without CI a missing tool skips the test, naming the Debian package to install."""
        monkeypatch.delenv("CI", raising=False)
        with pytest.raises(pytest.skip.Exception, match="install the Debian package rsyslog"):
            tool("rsyslogd-that-does-not-exist", "rsyslog")

    @pytest.mark.parametrize("value", ["1", "true"])
    def test_a_missing_tool_fails_in_ci(self, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
        """Where CI is set a missing tool fails the test: CI must run the shipper tests."""
        monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.fail.Exception, match="required where CI is set"):
            tool("rsyslogd-that-does-not-exist", "rsyslog")

    def test_ci_script_sets_ci_and_installs_the_packages(self) -> None:
        """.ci/run sets CI for the test run and installs rsyslog and coreutils."""
        script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
        assert "export CI=1" in script
        assert script.index("export CI=1") < script.index("uv run pytest")
        assert "APT_PACKAGES=(coreutils rsyslog)" in script


class TestGnuTail:
    def test_tail_follow_name_prints_every_event_once_in_order(self, tmp_path: Path) -> None:
        """``tail -F events.jsonl`` prints every event of 200+ rotations exactly once, in order."""
        tail = tool("tail", "coreutils")
        version = subprocess.run([tail, "--version"], capture_output=True).stdout
        if b"GNU coreutils" not in version:  # the documented conditions are GNU tail's
            unavailable(f"{tail} is not GNU tail", "coreutils")
        directory = tmp_path / "events"
        shipped_path, errors_path = tmp_path / "tail.out", tmp_path / "tail.err"
        with (
            running(start_writer(directory), stdin=subprocess.PIPE, stdout=subprocess.PIPE) as w,
            open(shipped_path, "wb") as shipped_file,
            open(errors_path, "wb") as errors_file,
        ):
            writer = PacedWriter(w, directory)
            # Started once events.jsonl exists, so tail watches it with inotify.
            command = [tail, "-F", "-n", "+1", str(directory / "events.jsonl")]
            with running(command, stdout=shipped_file, stderr=errors_file):
                assert wait_until(lambda: size_of(shipped_path) > 0, 30), "tail printed nothing"
                writer.start()
                written = writer.finish()
                # A bound only: assert_shipped says what did not arrive.
                wait_until(lambda: size_of(shipped_path) >= len(written), DRAIN_TIMEOUT)
        assert_shipped(shipped_path.read_bytes(), written)


#: What the documented configuration's paths become in the test.
DOCUMENTED_INPUT = "/var/log/myapp/events/events.jsonl"
DOCUMENTED_OUTPUT = "/var/log/shipped/events.jsonl"


def documented_rsyslog_config() -> str:
    """The rsyslog configuration of ``docs/shipping.md``, exactly as users copy it."""
    blocks = re.findall(r"```rsyslog\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert len(blocks) == 1, "docs/shipping.md has one ```rsyslog block"
    config: str = blocks[0]
    assert DOCUMENTED_INPUT in config
    assert DOCUMENTED_OUTPUT in config
    return config


class TestRsyslog:
    def test_imfile_to_omfile_ships_every_event_once_in_order(self, tmp_path: Path) -> None:
        """rsyslog (imfile on events.jsonl, omfile out) ships every event of 200+ rotations once."""
        rsyslogd = tool("rsyslogd", "rsyslog")
        directory = tmp_path / "events"
        work = tmp_path / "rsyslog"
        work.mkdir()
        shipped_path = tmp_path / "shipped.jsonl"
        config = documented_rsyslog_config()
        config = config.replace(DOCUMENTED_INPUT, str(directory / "events.jsonl"))
        config = config.replace(DOCUMENTED_OUTPUT, str(shipped_path))
        # What a system's rsyslog.conf sets; the test's daemon is its own, no network.
        config_path = work / "rsyslog.conf"
        config_path.write_text(f'global(workDirectory="{work}" maxMessageSize="64k")\n{config}')
        check = subprocess.run(
            [rsyslogd, "-N1", "-f", str(config_path)], capture_output=True, timeout=60
        )
        assert check.returncode == 0, check.stderr.decode()
        command = [rsyslogd, "-n", "-f", str(config_path), "-i", str(work / "rsyslogd.pid")]
        with (
            running(start_writer(directory), stdin=subprocess.PIPE, stdout=subprocess.PIPE) as w,
            open(work / "rsyslogd.log", "wb") as log_file,
        ):
            writer = PacedWriter(w, directory)
            with running(command, stdout=log_file, stderr=subprocess.STDOUT) as daemon:
                assert wait_until(lambda: size_of(shipped_path) > 0, 30), "rsyslog shipped nothing"
                writer.start()
                written = writer.finish()
                # A bound only: assert_shipped says what did not arrive.
                wait_until(lambda: size_of(shipped_path) >= len(written), DRAIN_TIMEOUT)
                # SIGTERM: rsyslog flushes and closes its output before it exits.
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(timeout=30)
        assert_shipped(shipped_path.read_bytes(), written)


class TestFirstLines:
    @pytest.mark.parametrize("mode", list(WriteMode))
    def test_first_line_of_every_file_differs(self, tmp_path: Path, mode: WriteMode) -> None:
        """Identical log calls still start every file with a line no other file starts with."""
        writer = EventWriter(tmp_path, "sim", max_file_size=2_000, mode=mode, overflow="block")
        log = structlog.wrap_logger(None, processors=[writer])
        for _ in range(3_000):
            log.info("same", value=1)
        assert writer.close()
        files = event_files(tmp_path)
        assert len(files) > 100
        first_lines = [path.read_bytes().split(b"\n", 1)[0] for path in files]
        assert all(first_lines)
        assert len(set(first_lines)) == len(first_lines)
