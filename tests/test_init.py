"""The package's import: POSIX only, and saying so on Windows; pydantic only when needed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


class TestPlatform:
    def test_import_on_windows_fails_with_a_clear_message(self) -> None:
        """Imported where sys.platform is win32, it raises ImportError saying POSIX only."""
        script = textwrap.dedent(
            """
            import sys
            sys.platform = "win32"
            try:
                import structlog_events
            except ImportError as error:
                print(error)
                print("fcntl" in sys.modules)
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
        )
        message, fcntl_imported = result.stdout.splitlines()
        assert "POSIX systems only (Linux, macOS)" in message
        assert fcntl_imported == "False", "the check must come before fcntl is imported"

    def test_classifiers_name_the_supported_systems(self) -> None:
        """The package metadata says POSIX, Linux and macOS, and no other system."""
        from importlib.metadata import metadata

        classifiers = metadata("structlog-events").get_all("Classifier") or []
        systems = sorted(c for c in classifiers if c.startswith("Operating System"))
        assert systems == [
            "Operating System :: MacOS",
            "Operating System :: POSIX",
            "Operating System :: POSIX :: Linux",
        ]


def _run(script: str, *args: str) -> list[str]:
    """Run *script* in a fresh interpreter; return the lines it printed."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


class TestLazyImport:
    @pytest.mark.parametrize("mode", ["async", "sync"])
    def test_writing_plain_events_never_imports_pydantic(self, tmp_path: Path, mode: str) -> None:
        """Logging through structlog's chain to a writer without models never imports pydantic."""
        script = """
            import sys
            from decimal import Decimal

            import structlog
            import structlog_events

            imported = ["pydantic" in sys.modules]
            writer = structlog_events.EventWriter(sys.argv[1], "sim", mode=sys.argv[2])
            structlog.configure(
                processors=[
                    structlog.contextvars.merge_contextvars,
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso"),
                    writer,
                ]
            )
            log = structlog.get_logger()
            log.info("started", agents=3)
            log.warning("slow", ms=900, amount=Decimal("1.5"))
            try:
                {}["missing"]
            except KeyError:
                log.exception("lookup_failed")
            imported.append("pydantic" in sys.modules)
            print(writer.close(), writer.stats.written, writer.stats.fallbacks)
            imported.append("pydantic" in sys.modules)
            print(*imported)
        """
        closed, imported = _run(script, str(tmp_path), mode)
        assert closed == "True 3 1"
        assert imported == "False False False", "import, logging, close: none may import pydantic"
        lines = (tmp_path / "events.jsonl").read_text().splitlines()
        assert [line.split('"event_type":"')[1].split('"')[0] for line in lines] == [
            "started",
            "slow",
            "lookup_failed",
        ]

    def test_the_model_and_the_readers_import_pydantic_on_first_use(self, tmp_path: Path) -> None:
        """Event and read_events load on access and read back what a plain writer wrote."""
        script = """
            import sys

            import structlog
            from structlog_events import EventWriter

            with EventWriter(sys.argv[1], "sim") as writer:
                structlog.configure(processors=[writer])
                structlog.get_logger().info("started", agents=3)
            before = "pydantic" in sys.modules
            from structlog_events import Event, read_events

            events = list(read_events(sys.argv[1]))
            print(before, "pydantic" in sys.modules, writer.event_model is Event)
            print(type(events[0]) is Event, events[0].data)
        """
        loaded, read = _run(script, str(tmp_path))
        assert loaded == "False True True"
        assert read == "True {'agents': 3}"

    def test_every_public_name_resolves(self) -> None:
        """Each name of __all__ is an attribute, in dir(), and star-importable; others raise."""
        script = """
            import structlog_events

            names = structlog_events.__all__
            print(names == sorted(names))
            print(set(names) <= set(dir(structlog_events)))
            from structlog_events import *  # noqa: F403

            print(all(getattr(structlog_events, name) is globals()[name] for name in names))
            print(structlog_events.Event is structlog_events._event.Event)
            try:
                structlog_events.NoSuchName
            except AttributeError as error:
                print(error)
        """
        assert _run(script) == [
            "True",
            "True",
            "True",
            "True",
            "module 'structlog_events' has no attribute 'NoSuchName'",
        ]
