"""The benchmark suite runs end to end, and its output check catches lost events.

Only configurations built on structlog-events, structlog and orjson run here, so
the test needs no ``bench`` dependency group.  Nothing about speed is asserted:
timing belongs to ``python -m benchmarks``, not to unit tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class TestBenchmarkSuite:
    def test_tiny_run_verifies_good_output_and_flags_lossy_output(self, tmp_path: Path) -> None:
        """A tiny run verifies ours (an event model too) and the recipe, flags the lossy one,
        and times the imports against structlog's."""
        out = tmp_path / "results.json"
        command = [
            sys.executable,
            "-m",
            "benchmarks",
            "--configs",
            "events-async",
            "events-sync",
            "events-async-model",
            "structlog-recipe",
            "lossy",
            "--n",
            "2000",
            "--fsync-n",
            "20",
            "--reps",
            "1",
            "--threads",
            "1",
            "4",
            "--scaling",
            "--import-reps",
            "2",
            "--workdir",
            str(tmp_path / "runs"),
            "--out",
            str(out),
        ]
        subprocess.run(command, cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=120)

        summary = {row["case"]: row for row in json.loads(out.read_text())["summary"]}
        verified = {case for case, row in summary.items() if row["verified"]}
        assert verified == {
            "events-async/t1/n2000",
            "events-async/t4/n2000",
            "events-sync/t1/n20",
            "events-sync/t4/n20",
            "events-async-model/t1/n2000",
            "events-async-model/t4/n2000",
            "structlog-recipe/t1/n2000",
            "structlog-recipe/t4/n2000",
        }
        runs = [r for r in json.loads(out.read_text())["runs"] if r["config"] == "lossy"]
        lost = sum(1 for seq in range(2000) if seq % 97 == 96)
        doubled = sum(1 for seq in range(2000) if seq % 89 == 0 and seq % 97 != 96)
        assert [r["verification"]["missing"] for r in runs] == [lost, lost]
        assert [r["verification"]["duplicated"] for r in runs] == [doubled, doubled]
        assert all(r["verdict"].startswith("LOSES EVENTS") for r in runs)
        assert list((tmp_path / "runs").iterdir()) == [], "run directories are cleaned up"
        imports = {row["name"]: row for row in json.loads(out.read_text())["imports"]["cases"]}
        for name in ("structlog", "structlog_events", "structlog_events_model", "python"):
            assert imports[name]["error"] is None
            assert len(imports[name]["runs_ms"]) == 2
            assert imports[name]["ratio"] is not None
