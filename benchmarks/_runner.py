"""Planning the interleaved runs, starting one child per run, and aggregating.

Repetition ``r`` runs every case once, in an order rotated by ``r``, before
repetition ``r + 1`` starts: a burst of load from elsewhere on the machine then
hits every configuration alike instead of one configuration's repetitions.
Ratios to our configuration are taken within a repetition (paired) and their
median is reported, which cancels most of the drift between repetitions.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._child import RESULT_PREFIX
from ._verify import verify_output
from .configs import REGISTRY, Kind, reference_of

#: Where ``python -m benchmarks._child`` can import the package from.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Metrics that get a ratio to our configuration.
RATIO_METRICS = ("caller_us", "total_us", "p50_us", "p99_us", "rss_peak_mib")

#: Metrics summarised by their median over repetitions.
MEDIAN_METRICS = (
    "caller_us",
    "total_us",
    "events_per_s",
    "p50_us",
    "p99_us",
    "max_us",
    "rss_setup_mib",
    "rss_peak_mib",
    "rss_growth_mib",
)


@dataclass(frozen=True, slots=True, order=True)
class Case:
    """One configuration at one size and thread count, run ``reps`` times."""

    config: str
    threads: int
    n: int
    reps: int = field(compare=False)

    @property
    def key(self) -> str:
        """Name of the case in the results: ``config/threads/n``."""
        return f"{self.config}/t{self.threads}/n{self.n}"


@dataclass(frozen=True, slots=True)
class Plan:
    """Which cases to run, how often, and how each run samples latencies."""

    cases: tuple[Case, ...]
    workdir: Path
    keep: bool = False
    timeout: float = 900.0
    #: Import root of the library to measure, put first on the children's path.
    library: Path | None = None

    def runs(self) -> Iterator[tuple[int, Case]]:
        """``(repetition, case)`` pairs, each repetition complete before the next."""
        most = max((case.reps for case in self.cases), default=0)
        for rep in range(most):
            due = [case for case in self.cases if case.reps > rep]
            shift = rep % len(due) if due else 0
            for case in due[shift:] + due[:shift]:
                yield rep, case


def export_library(commit: str, workdir: Path) -> Path:
    """Write ``src/structlog_events`` as of *commit* under *workdir*; return the import root."""
    root = workdir / f"library-{commit}"
    root.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "src/structlog_events"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return root / "src"


def child_environment(library: Path | None = None) -> dict[str, str]:
    """The runner's environment, with bytecode cached outside the source tree.

    With ``PYTHONDONTWRITEBYTECODE`` set, every child would compile pydantic and
    the peers from source again (most of a second each); the cache lives in the
    temporary directory, so the tree and the virtualenv stay untouched.  Imports
    happen before the clock starts, so this changes no timing, only the wall
    time of a whole run.
    """
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment["PYTHONPYCACHEPREFIX"] = str(
        Path(tempfile.gettempdir()) / "structlog-events-bench-pycache"
    )
    if library is not None:
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(library), *filter(None, [environment.get("PYTHONPATH")])]
        )
    return environment


def sample_every(config: str) -> int:
    """Time every call of an fsync configuration, one call in 16 of the others.

    An fsync takes ~100 µs, so timing each call costs nothing visible; a fast
    call costs ~1-10 µs, where two clock reads per call would show.
    """
    return 1 if REGISTRY[config].kind is Kind.DURABLE else 16


def run_one(plan: Plan, rep: int, case: Case, index: int) -> dict[str, Any]:
    """Run *case* once in a fresh child process and directory; verify its output."""
    configuration = REGISTRY[case.config]
    directory = (
        plan.workdir / "runs" / f"{index:04d}-{case.config}-t{case.threads}-n{case.n}-r{rep}"
    )
    directory.mkdir(parents=True)
    spec = {
        "config": case.config,
        "n": case.n,
        "threads": case.threads,
        "directory": str(directory),
        "sample_every": sample_every(case.config),
    }
    load = os.getloadavg()[0]
    record: dict[str, Any] = {"case": case.key, "config": case.config, "threads": case.threads}
    record |= {"n": case.n, "rep": rep, "load_1min": load}
    try:
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks._child", json.dumps(spec)],
            cwd=PROJECT_ROOT,
            env=child_environment(plan.library),
            capture_output=True,
            text=True,
            timeout=plan.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        record["error"] = f"timed out after {plan.timeout:.0f} s"
        _clean(plan, directory)
        return record
    results = [
        line[len(RESULT_PREFIX) :]
        for line in child.stdout.splitlines()
        if line.startswith(RESULT_PREFIX)
    ]
    if child.returncode != 0 or not results:
        record["error"] = f"exit {child.returncode}: {child.stderr.strip()[-2000:]}"
        _clean(plan, directory)
        return record
    record |= json.loads(results[-1])
    if child.stderr.strip():
        record["stderr"] = child.stderr.strip()[-2000:]
    verification = verify_output(
        directory,
        case.n,
        configuration.seq_of,
        lines_per_event=configuration.expected_lines,
    )
    record["verification"] = verification.as_dict()
    record["verified"] = verification.ok
    record["verdict"] = verification.describe()
    _clean(plan, directory)
    return record


def _clean(plan: Plan, directory: Path) -> None:
    if not plan.keep:
        shutil.rmtree(directory, ignore_errors=True)


def execute(plan: Plan, *, progress: bool = True) -> list[dict[str, Any]]:
    """Run every ``(repetition, case)`` of *plan* in order; return one record per run."""
    records: list[dict[str, Any]] = []
    planned = list(plan.runs())
    started = time.monotonic()
    for index, (rep, case) in enumerate(planned):
        record = run_one(plan, rep, case, index)
        records.append(record)
        if progress:
            elapsed = time.monotonic() - started
            outcome = record.get("error") or (
                f"{record['total_us']:9.2f} µs/event total, "
                f"{record['caller_us']:8.2f} caller, {record['verdict']}"
            )
            sys.stderr.write(
                f"[{index + 1:3d}/{len(planned)} {elapsed:6.0f}s] rep {rep} "
                f"{case.key:34s} {outcome}\n"
            )
            sys.stderr.flush()
    return records


def summarize(plan: Plan, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per case: medians over repetitions and paired ratios to our configuration."""
    by_case: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_case.setdefault(record["case"], []).append(record)
    by_case_rep = {(r["case"], r["rep"]): r for r in records}
    rows = []
    for case in plan.cases:
        runs = by_case.get(case.key, [])
        good = [r for r in runs if "error" not in r]
        configuration = REGISTRY[case.config]
        row: dict[str, Any] = {
            "case": case.key,
            "config": case.config,
            "label": configuration.label,
            "kind": configuration.kind.value,
            "ours": configuration.ours,
            "threads": case.threads,
            "n": case.n,
            "runs": len(runs),
            "errors": [r["error"] for r in runs if "error" in r],
            "verified": bool(good) and len(good) == len(runs) and all(r["verified"] for r in good),
            "verdicts": sorted({r["verdict"] for r in good}),
            "losing_runs": sum(1 for r in good if not r["verified"]),
            "missing": sorted(r["verification"]["missing"] for r in good if not r["verified"]),
            "load_1min": _median(r["load_1min"] for r in runs),
        }
        for metric in MEDIAN_METRICS:
            row[metric] = _median(r[metric] for r in good)
        reference = Case(reference_of(configuration), case.threads, case.n, 0).key
        row["reference"] = reference
        for metric in RATIO_METRICS:
            ratios = []
            for r in good:
                ours = by_case_rep.get((reference, r["rep"]))
                if ours is not None and "error" not in ours and ours[metric] > 0:
                    ratios.append(r[metric] / ours[metric])
            row[f"{metric}_ratio"] = _median(ratios)
        rows.append(row)
    return rows


def _median(values: Iterable[float]) -> float | None:
    finite = [v for v in values if v == v]  # NaN != NaN
    return statistics.median(finite) if finite else None
