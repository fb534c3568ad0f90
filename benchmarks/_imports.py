"""Import time: ``import structlog_events`` against ``import structlog``, in fresh processes.

Each statement runs in a fresh interpreter (``python -c "import structlog"``),
timed from the runner: the whole process, start-up included, which is what a
short script or a command line pays at every start.  The wall time is what the
target judges; the CPU time (user + system) of the same process is recorded
beside it, since it hardly changes with the load of a shared machine.  One untimed run of each
statement fills the bytecode cache first (see ``child_environment``).
Repetitions are interleaved as for the other cases, so a burst of load from
elsewhere hits every statement alike, and each ratio to structlog is taken
within a repetition, its median reported.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final

from ._runner import child_environment


@dataclass(frozen=True, slots=True)
class ImportCase:
    """One statement timed in a fresh interpreter.

    Attributes:
        name: its key in the results.
        label: what the tables call it.
        statement: the ``python -c`` program.
        needs: the top-level module it imports; the case is skipped where it is
            not installed (loguru is in the ``bench`` group only).
    """

    name: str
    label: str
    statement: str
    needs: str | None = None


#: The reference every ratio is taken against.
REFERENCE: Final = "structlog"

IMPORT_CASES: Final = (
    ImportCase("structlog", "import structlog", "import structlog", "structlog"),
    ImportCase(
        "structlog_events",
        "import structlog_events",
        "import structlog_events",
        "structlog_events",
    ),
    ImportCase(
        "structlog_events_model",
        "from structlog_events import Event (the pydantic model)",
        "from structlog_events import Event",
        "structlog_events",
    ),
    ImportCase("loguru", "import loguru", "import loguru", "loguru"),
    ImportCase("python", "the interpreter alone: python -c pass", "pass"),
)


def measure_imports(reps: int, workdir: Path, library: Path | None = None) -> dict[str, Any]:
    """Time each installed case *reps* times, interleaved; return runs, medians and ratios.

    Args:
        reps: repetitions of each statement.
        workdir: the children's working directory (nothing is imported from it).
        library: import root of the library to measure, as for the other cases.
    """
    environment = child_environment(library)
    cases = [case for case in IMPORT_CASES if case.needs is None or find_spec(case.needs)]
    runs: dict[str, list[float]] = {case.name: [] for case in cases}
    cpu: dict[str, list[float]] = {case.name: [] for case in cases}
    errors: dict[str, str] = {}
    for case in cases:  # untimed: fills the bytecode cache
        error = _run(case, environment, workdir)[2]
        if error is not None:
            errors[case.name] = error
    timed = [case for case in cases if case.name not in errors]
    for rep in range(reps):
        shift = rep % len(timed) if timed else 0
        for case in timed[shift:] + timed[:shift]:
            wall_ms, cpu_ms, error = _run(case, environment, workdir)
            if error is None:
                runs[case.name].append(wall_ms)
                cpu[case.name].append(cpu_ms)
            else:
                errors.setdefault(case.name, error)
    rows = [_row(case, runs, cpu[case.name], errors.get(case.name)) for case in cases]
    return {"reps": reps, "reference": REFERENCE, "cases": rows}


def _run(
    case: ImportCase, environment: dict[str, str], cwd: Path
) -> tuple[float, float, str | None]:
    """Wall and CPU milliseconds of one fresh interpreter running *case*, and why it failed."""
    cpu_before = _children_cpu_seconds()
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", case.statement],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    cpu_ms = (_children_cpu_seconds() - cpu_before) * 1000
    if child.returncode != 0:
        return wall_ms, cpu_ms, f"exit {child.returncode}: {child.stderr.strip()[-500:]}"
    return wall_ms, cpu_ms, None


def _children_cpu_seconds() -> float:
    """User and system CPU of the children reaped so far: one child runs at a time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _row(
    case: ImportCase, runs: dict[str, list[float]], cpu: list[float], error: str | None
) -> dict[str, Any]:
    """Median milliseconds and the paired median ratio to the reference, with the runs."""
    own, reference = runs[case.name], runs.get(REFERENCE, [])
    # Runs of one repetition share an index only if no run of either failed.
    paired = len(own) == len(reference)
    return {
        "name": case.name,
        "label": case.label,
        "statement": case.statement,
        "runs_ms": own,
        "median_ms": statistics.median(own) if own else None,
        "cpu_ms": cpu,
        "median_cpu_ms": statistics.median(cpu) if cpu else None,
        "ratio": (
            statistics.median(a / b for a, b in zip(own, reference, strict=True))
            if own and paired
            else None
        ),
        "error": error,
    }
