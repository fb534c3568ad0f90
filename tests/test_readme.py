"""The README's Python examples run as written, and its setups write each event once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from structlog_events import read_events

README = Path(__file__).parent.parent / "README.md"


def python_blocks() -> list[str]:
    """Every fenced ```python block of the README, in order."""
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.M | re.S)


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The README's Python blocks run one after another in a fresh directory: it and stderr."""
    directory = tmp_path_factory.mktemp("readme")
    result = subprocess.run(
        [sys.executable, "-c", "\n\n".join(python_blocks())],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "turn_completed" in result.stdout
    return directory, result.stderr


def event_types(directory: Path) -> list[str]:
    return [event.event_type for event in read_events(directory)]


class TestReadmeExamples:
    def test_all_python_blocks_run_in_order(self, readme_run: tuple[Path, str]) -> None:
        """Every Python block of the README runs, in order, without an error."""
        directory, _ = readme_run
        assert len(python_blocks()) >= 8
        assert (directory / "runs" / "sim-42" / "events.jsonl").exists()

    def test_write_example(self, readme_run: tuple[Path, str]) -> None:
        """The write() example writes its two records, the second one as a warning."""
        directory, _ = readme_run
        events = list(read_events(directory / "runs" / "replay"))
        assert [(event.event_type, event.level) for event in events] == [
            ("order_filled", "info"),
            ("disk_low", "warning"),
        ]

    def test_chain_and_bridge_setup(self, readme_run: tuple[Path, str]) -> None:
        """The chain-plus-bridge setup writes its three events once, the exception structured."""
        directory, _ = readme_run
        events = list(read_events(directory / "runs" / "app-chain"))
        assert [event.event_type for event in events] == ["request", "disk low", "lookup_failed"]
        assert events[2].data["exception"][0]["exc_type"] == "KeyError"

    def test_processor_formatter_setup(self, readme_run: tuple[Path, str]) -> None:
        """The ProcessorFormatter setup writes the structlog and the logging call once each."""
        directory, stderr = readme_run
        assert event_types(directory / "runs" / "app-formatter") == ["request", "disk low"]
        assert "request" in stderr

    def test_console_plus_file_setup(self, readme_run: tuple[Path, str]) -> None:
        """Console plus file: every event once in the file, only warnings on the console."""
        directory, stderr = readme_run
        assert event_types(directory / "runs" / "app-console") == [
            "cache_miss",
            "slow_request",
            "retrying",
        ]
        assert "slow_request" in stderr
        assert "retrying" in stderr
        assert "cache_miss" not in stderr

    def test_own_event_model_section(self, readme_run: tuple[Path, str]) -> None:
        """The typed section writes its fields top-level, keeps the invalid event, says so once."""
        directory, stderr = readme_run
        decided, turn, invalid = read_events(directory / "runs" / "sim-typed")
        assert decided.model_extra == {
            "turn_number": 3,
            "agent_id": "a1",
            "caused_by": None,
            "description": None,
        }
        assert decided.data == {"choice": "buy"}
        assert turn.model_extra is not None
        assert turn.model_extra["turn_number"] == 3
        assert invalid.data["_invalid"]["model"] == "DecisionEvent"
        assert stderr.count("is not a valid DecisionEvent") == 1
