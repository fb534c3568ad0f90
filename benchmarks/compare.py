"""A/B runs of library variants: which change to the write path pays, measured in one run.

    uv run --group bench python -m benchmarks.compare --configs events-sync \\
        --threads 1 4 --n 3000 --reps 7 -V head=@HEAD -V proposal=/tmp/proto-src

Each variant is an import root holding ``structlog_events`` (a scratch copy of
``src`` with a change in it), or ``@COMMIT`` for the library as committed
there.  Repetition ``r`` runs every case with every variant before repetition
``r + 1`` starts, so the variants share the machine's load; the table shows
medians per variant and the median of the paired ratios to the first variant.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

from ._runner import Case, Plan, export_library, run_one
from .configs import REGISTRY


def _library(spec: str, scratch: Path) -> Path:
    return export_library(spec[1:], scratch) if spec.startswith("@") else Path(spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__)
    parser.add_argument(
        "-V",
        "--variant",
        action="append",
        required=True,
        metavar="NAME=PATH|NAME=@COMMIT",
        help="a library variant; the first is the base of the ratios",
    )
    parser.add_argument("--configs", nargs="+", required=True, choices=sorted(REGISTRY))
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("-n", "--n", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--metric",
        nargs="+",
        default=["total_us", "caller_us", "p99_us"],
        help="metrics to show (any key of a run record)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="structlog-events-compare-") as scratch_dir:
        scratch = Path(scratch_dir)
        variants = {}
        for item in args.variant:
            name, _, spec = item.partition("=")
            variants[name] = _library(spec, scratch)
        cases = [Case(c, t, args.n, 1) for c in args.configs for t in args.threads]
        records: dict[tuple[str, str], list[dict[str, Any]]] = {}
        index = 0
        for rep in range(args.reps):
            for case in cases:
                for name, library in variants.items():
                    plan = Plan((case,), scratch / name, library=library)
                    record = run_one(plan, rep, case, index)
                    index += 1
                    if "error" in record or not record["verified"]:
                        problem = record.get("error") or record["verdict"]
                        print(f"{name} {case.key} rep {rep}: {problem}")
                        continue
                    records.setdefault((case.key, name), []).append(record)
    first = next(iter(variants))
    print(f"medians of {args.reps} interleaved repetitions; ratio = variant / {first}, paired")
    for case in cases:
        for metric in args.metric:
            base = {r["rep"]: r[metric] for r in records.get((case.key, first), [])}
            cells = []
            for name in variants:
                runs = records.get((case.key, name), [])
                if not runs:
                    cells.append(f"{name} —")
                    continue
                value = statistics.median(r[metric] for r in runs)
                ratios = [r[metric] / base[r["rep"]] for r in runs if base.get(r["rep"])]
                ratio = f" ({statistics.median(ratios):.2f}x)" if ratios and name != first else ""
                cells.append(f"{name} {value:9.2f}{ratio}")
            print(f"{case.key:32s} {metric:12s} " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
