"""The example simulation, end to end, as a newcomer runs it."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from structlog_events import read_events

from .helpers import check_dir

EXAMPLES = Path(__file__).parent.parent / "examples"
EXAMPLE = EXAMPLES / "simulation.py"
TYPED_EXAMPLE = EXAMPLES / "typed_simulation.py"


def run_example(*arguments: str, example: Path = EXAMPLE) -> tuple[Path, str]:
    """Run the example; return the run directory it names and its output."""
    result = subprocess.run(
        [sys.executable, str(example), *arguments],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    match = re.search(r"^this run's directory: (.+)/$", result.stdout, flags=re.M)
    assert match, result.stdout
    return Path(match.group(1)), result.stdout


class TestExampleSimulation:
    def test_writes_events_and_prints_a_summary(self, tmp_path: Path) -> None:
        """The example writes simulation_starting and turn_completed and reports them read back."""
        run_dir, output = run_example("--output-root", str(tmp_path), "--turns", "3")
        assert run_dir == tmp_path / "sim-42" / "run-1"
        types = [event.event_type for event in check_dir(run_dir).events]
        assert "simulation_starting" in types
        assert types.count("turn_completed") == 3
        assert "price_computed" not in types, "DETAIL events must be filtered at ACTION"
        count = len(types)
        assert f"{count} events read back with read_events; the writer wrote {count}" in output

    def test_each_run_reports_only_its_own_events(self, tmp_path: Path) -> None:
        """Run twice, the example writes two directories and each run reports its own count."""
        first_dir, first = run_example("--output-root", str(tmp_path))
        second_dir, second = run_example("--output-root", str(tmp_path))
        assert first_dir != second_dir
        counts = [len(check_dir(path).events) for path in (first_dir, second_dir)]
        assert counts[0] == counts[1] > 0
        for output in (first, second):
            assert f"{counts[0]} events read back with read_events" in output

    def test_queued_mode_writes_the_same_events(self, tmp_path: Path) -> None:
        """Run in queued mode, the example writes the same event types as in SYNC mode."""
        runs = {}
        for mode in ("sync", "async"):
            run_dir, _ = run_example("--output-root", str(tmp_path / mode), "--mode", mode)
            runs[mode] = [event.event_type for event in check_dir(run_dir).events]
        assert runs["sync"] == runs["async"]


class TestTypedSimulation:
    def test_writes_each_category_as_its_model_and_reads_it_back_typed(
        self, tmp_path: Path
    ) -> None:
        """Every event is its category's model, at its category's verbosity; none invalid."""
        run_dir, output = run_example("--output-root", str(tmp_path), example=TYPED_EXAMPLE)
        sys.path.insert(0, str(EXAMPLES))
        try:
            example = importlib.import_module("typed_simulation")
        finally:
            sys.path.remove(str(EXAMPLES))
        events = list(read_events(run_dir, model=example.SimEvent, models=example.EVENT_MODELS))
        assert [type(e) for e in events] == [example.EVENT_MODELS[e.event_type] for e in events]
        by_category = Counter(e.category.value for e in events)
        assert by_category == {"SYSTEM": 2, "MILESTONE": 3, "DECISION": 9, "ACTION": 12, "ENV": 3}
        levels = {(e.category.value, e.verbosity.value) for e in events}
        assert levels == {
            ("SYSTEM", "MILESTONE"),
            ("MILESTONE", "MILESTONE"),
            ("DECISION", "DECISION"),
            ("ACTION", "ACTION"),
            ("ENV", "STATE"),
        }
        ids = {e.event_id for e in events if e.category.value == "DECISION"}
        placed = [e for e in events if e.event_type == "bid_placed"]
        assert all(e.caused_by and set(e.caused_by) <= ids for e in placed)
        assert f"{len(events)} events read back as their models; the writer wrote " in output
        assert "(0 invalid)" in output
        turn_two = [e.event_type for e in events if e.turn_number == 2]
        assert f"turn 2: {', '.join(turn_two)}" in output
        alices = [e for e in events if e.agent_id == "alice" and e.category.value == "ACTION"]
        assert output.count("alice: turn ") == len(alices) > 0
