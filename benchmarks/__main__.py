"""``python -m benchmarks``: run the suite, write the results, draw the docs.

The recorded run (6 to 18 minutes on 2 cores, by the machine)::

    uv run --group bench python -m benchmarks

writes ``benchmarks/results.json`` and regenerates the tables of
``docs/benchmarks.md`` and ``docs/benchmarks.png``; it also times ``import
structlog_events`` against ``import structlog`` in fresh processes.  ``--quick``
runs small sizes with two repetitions and only prints the table; ``--report``
redraws the docs from an existing results file without running anything.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from ._imports import measure_imports
from ._report import format_imports, format_table, format_targets, write_docs
from ._runner import PROJECT_ROOT, Case, Plan, execute, export_library, summarize
from .configs import REGISTRY, Kind, configurations

RESULTS_PATH = PROJECT_ROOT / "benchmarks" / "results.json"
SCALING_CONFIG = "events-async"
PEER_PACKAGES = ("structlog-events", "structlog", "orjson", "pydantic", "loguru")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="structlog-events against its peers, each configuration in a fresh "
        "process and directory, output verified before speed is reported.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 repetitions")
    parser.add_argument("-n", "--n", type=int, help="events per throughput run (100000)")
    parser.add_argument("--fsync-n", type=int, help="events per fsync run (5000)")
    parser.add_argument("--filter-n", type=int, help="calls per filtering run (1000000)")
    parser.add_argument("--reps", type=int, help="repetitions (5)")
    parser.add_argument(
        "--threads", type=int, nargs="+", help="producer thread counts (1 4)", metavar="T"
    )
    parser.add_argument(
        "--scaling",
        type=int,
        nargs="*",
        help=f"sizes of the {SCALING_CONFIG} scaling check (10000 100000 1000000); none to skip it",
        metavar="N",
    )
    parser.add_argument(
        "--large-reps", type=int, help="repetitions at 1M events and above (3)", metavar="R"
    )
    parser.add_argument(
        "--configs",
        nargs="+",
        choices=sorted(REGISTRY),
        help="configurations to run (default: all but the self-test)",
        metavar="NAME",
    )
    parser.add_argument(
        "--at",
        metavar="COMMIT",
        help="benchmark structlog_events as committed at COMMIT (e.g. HEAD), exported to "
        "a scratch directory, instead of the working tree",
    )
    parser.add_argument(
        "--import-reps",
        type=int,
        help="fresh-process runs of each import statement (21; 7 with --quick; "
        "with --configs, none unless given); 0 to skip",
        metavar="R",
    )
    parser.add_argument("--workdir", type=Path, help="where run directories are made (a tmp dir)")
    parser.add_argument("--keep", action="store_true", help="keep each run's output directory")
    parser.add_argument("--out", type=Path, help=f"results JSON (default {RESULTS_PATH})")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="RESULTS",
        help="only redraw docs/benchmarks.md and the chart from a results JSON",
    )
    parser.add_argument(
        "--show",
        type=Path,
        metavar="RESULTS",
        help="print the table and the targets of a results JSON, touching nothing",
    )
    parser.add_argument("--list", action="store_true", help="list the configurations and exit")
    return parser


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    return {
        "n": args.n or (20_000 if quick else 100_000),
        "fsync_n": args.fsync_n or (500 if quick else 5_000),
        "filter_n": args.filter_n or (100_000 if quick else 1_000_000),
        "reps": args.reps or (2 if quick else 5),
        "large_reps": args.large_reps or (1 if quick else 3),
        "threads": args.threads or [1, 4],
        "scaling": (
            args.scaling
            if args.scaling is not None
            else ([10_000, 100_000] if quick else [10_000, 100_000, 1_000_000])
        ),
        "configs": args.configs or [c.name for c in configurations()],
        "import_reps": _import_reps(args),
    }


def _import_reps(args: argparse.Namespace) -> int:
    """Fresh-process runs per import statement: none unless asked when --configs picks cases."""
    if args.import_reps is not None:
        return int(args.import_reps)
    if args.configs:
        return 0
    return 7 if args.quick else 21


def build_cases(settings: dict[str, Any]) -> tuple[Case, ...]:
    """Every case the settings ask for: each configuration at its kind's size."""
    cases: list[Case] = []
    for name in settings["configs"]:
        kind = REGISTRY[name].kind
        if kind is Kind.FILTER:
            cases.append(Case(name, 1, settings["filter_n"], settings["reps"]))
            continue
        n = settings["fsync_n"] if kind is Kind.DURABLE else settings["n"]
        cases.extend(Case(name, threads, n, settings["reps"]) for threads in settings["threads"])
    if SCALING_CONFIG in settings["configs"]:
        for n in settings["scaling"]:
            reps = settings["large_reps"] if n >= 1_000_000 else settings["reps"]
            case = Case(SCALING_CONFIG, 1, n, reps)
            if case not in cases:
                cases.append(case)
    return tuple(cases)


def machine_details(workdir: Path) -> dict[str, Any]:
    """What the numbers were measured on: CPU, memory, kernel, filesystem, versions."""
    cpu = ""
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        memory_kib = int(info.readline().split()[1])
    versions: dict[str, str | None] = {}
    for package in (*PEER_PACKAGES, "python-json-logger"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "filesystem": _filesystem_of(workdir),
        "versions": versions,
    }


def _filesystem_of(path: Path) -> str:
    """Type and mount point of the filesystem holding *path* (fsync means little on tmpfs)."""
    best, kind = "", "unknown"
    resolved = str(path.resolve())
    with open("/proc/mounts") as mounts:
        for line in mounts:
            _, mount_point, fs_type, *_ = line.split()
            inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, kind = mount_point, fs_type
    return f"{kind} ({best})"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def _git_commit(at: str | None) -> str:
    """The commit whose library was measured; notes a working tree that differs from it."""
    if at:
        return _git("rev-parse", "--short", at)
    dirty = _git("status", "--porcelain", "src")
    return f"{_git('rev-parse', '--short', 'HEAD')}{' + uncommitted src changes' if dirty else ''}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        for c in configurations(include_selftest=True):
            print(f"{c.name:26s} {c.kind.value:10s} {c.label}")
        return 0
    if args.report:
        write_docs(json.loads(args.report.read_text()))
        return 0
    if args.show:
        results = json.loads(args.show.read_text())
        print(format_table(results["summary"]))
        if "imports" in results:
            print()
            print(format_imports(results["imports"]))
        print()
        print(format_targets(results))
        return 0
    settings = _settings(args)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="structlog-events-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    library = export_library(args.at, workdir) if args.at else None
    plan = Plan(build_cases(settings), workdir, keep=args.keep, library=library)
    command = "uv run --group bench python -m benchmarks " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    meta: dict[str, Any] = {
        "command": command.strip(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(args.at),
        "pythonpath": os.environ.get("PYTHONPATH", ""),
        "library": str(library) if library else "working tree",
        "settings": settings,
        "machine": machine_details(workdir),
        "load_before": os.getloadavg(),
    }
    sys.stderr.write(f"{len(list(plan.runs()))} runs in {workdir}\n")
    records = execute(plan)
    imports = None
    if settings["import_reps"]:
        sys.stderr.write(f"import time: {settings['import_reps']} fresh processes per statement\n")
        imports = measure_imports(settings["import_reps"], workdir, library)
    meta["load_after"] = os.getloadavg()
    meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results = {"meta": meta, "summary": summarize(plan, records), "runs": records}
    if imports is not None:
        results["imports"] = imports
    # Only a complete run replaces the recorded results and the docs drawn from them.
    recorded = not (args.quick or args.configs or args.out)
    out = args.out or (RESULTS_PATH if recorded else workdir / "results.json")
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(format_table(results["summary"]))
    if "imports" in results:
        print()
        print(format_imports(results["imports"]))
    print(f"\nresults: {out}")
    if recorded and not args.no_docs:
        write_docs(results)
    if not args.keep:
        _clean_workdir(workdir, remove=args.workdir is None and out.parent != workdir)
    return 0


def _clean_workdir(workdir: Path, *, remove: bool) -> None:
    """Remove the exported library and the (emptied) run directories."""
    shutil.rmtree(workdir / "library", ignore_errors=True)
    with contextlib.suppress(OSError):
        (workdir / "runs").rmdir()
    if remove:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
