"""The example simulation, end to end, as a newcomer runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .checks import check_dir

EXAMPLE = Path(__file__).parent.parent / "examples" / "simulation.py"


class TestExampleSimulation:
    def test_writes_events_and_prints_a_summary(self, tmp_path: Path) -> None:
        """The example writes events.jsonl with simulation_starting and turn_completed."""
        result = subprocess.run(
            [sys.executable, str(EXAMPLE), "--output-root", str(tmp_path), "--turns", "3"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        report = check_dir(tmp_path / "sim-42")
        types = [event.event_type for event in report.events]
        assert "simulation_starting" in types
        assert types.count("turn_completed") == 3
        assert "price_computed" not in types, "DETAIL events must be filtered at ACTION"
        assert f"{len(types)} events in 1 file(s)" in result.stdout

    def test_queued_mode_writes_the_same_events(self, tmp_path: Path) -> None:
        """Run in queued mode, the example writes the same event types as in SYNC mode."""
        runs = {}
        for mode in ("sync", "async"):
            root = tmp_path / mode
            subprocess.run(
                [sys.executable, str(EXAMPLE), "--output-root", str(root), "--mode", mode],
                capture_output=True,
                check=True,
                timeout=120,
            )
            runs[mode] = [event.event_type for event in check_dir(root / "sim-42").events]
        assert runs["sync"] == runs["async"]
