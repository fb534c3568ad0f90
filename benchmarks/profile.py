"""Where a configuration spends its time: py-spy over one benchmark child.

    uv run --group bench python -m benchmarks.profile events-async -n 300000
    uv run --group bench python -m benchmarks.profile events-sync -n 3000 --threads 4 --idle

runs the same child process the suite times, under ``py-spy record``, and
prints the share of samples per function: *self* (the function was running)
and *inclusive* (it was on the stack), for the producer threads and for every
other thread (the writer thread of a queued configuration).  Import and setup
samples are left out: only stacks under the producer loop, or in a thread the
configuration started, count.

``--gil`` samples only the thread holding the GIL, which is what limits a
queued writer: the producer and the writer thread take turns on one GIL.
``--idle`` keeps samples of threads waiting (fsync, locks), which is what an
fsync configuration spends most of its time in.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from ._runner import PROJECT_ROOT, child_environment, sample_every
from .configs import REGISTRY

#: The frame every producer thread's stack passes through.
PRODUCER_FRAME = "_produce ("
#: The frame at the root of every thread but the main one.
THREAD_ENTRY = "Thread._bootstrap (threading.py"
#: Frames of the harness itself, left out of the tables.
HARNESS = (
    "_produce (",
    "producer (",
    "Thread.",
    "_run_module_as_main (",
    "_run_code (",
    "<module> (",
)
_LINE = re.compile(r" \((?:.*/)?([^/]+?):\d+\)$")


def _function(frame: str) -> str:
    """``name (path/file.py:123)`` becomes ``name (file.py)``: lines merged per function."""
    return _LINE.sub(r" (\1)", frame)


def summarize(raw: str, top: int = 25) -> str:
    """Self and inclusive shares per function of py-spy's raw (collapsed) output."""
    groups: dict[str, tuple[Counter[str], Counter[str]]] = {}
    totals: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        if any(frame.startswith(PRODUCER_FRAME) for frame in frames):
            group = "producer threads"
            start = next(i for i, f in enumerate(frames) if f.startswith(PRODUCER_FRAME)) + 1
        elif not any(frame.startswith(THREAD_ENTRY) for frame in frames):
            continue  # the main thread's imports, setup and finish: not the timed work
        else:
            group = "other threads (writer, listener, queue feeder)"
            start = 1  # after the thread's own name
        count = int(count_text)
        totals[group] += count
        own, inclusive = groups.setdefault(group, (Counter(), Counter()))
        named = [_function(f) for f in frames[start:] if not f.startswith(HARNESS)]
        if named:
            own[named[-1]] += count
            for function in set(named):
                inclusive[function] += count
    everything = sum(totals.values()) or 1
    out = []
    for group, (own, inclusive) in groups.items():
        out.append(f"\n## {group}: {totals[group] / everything:.0%} of samples\n")
        out.append(f"{'self':>6s} {'incl':>6s}  function")
        ranked = sorted(inclusive, key=lambda f: (-own[f], -inclusive[f]))[:top]
        for function in ranked:
            share = totals[group] or 1
            out.append(
                f"{own[function] / share:6.1%} {inclusive[function] / share:6.1%}  {function}"
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("config", choices=sorted(REGISTRY))
    parser.add_argument("-n", "--n", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rate", type=int, default=1000, help="samples per second")
    parser.add_argument("--gil", action="store_true", help="only the thread holding the GIL")
    parser.add_argument("--idle", action="store_true", help="keep waiting threads")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--raw", type=Path, help="also keep py-spy's raw output here")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        parser.error("py-spy not found: run with `uv run --group bench`")
    with tempfile.TemporaryDirectory(prefix="structlog-events-profile-") as scratch:
        directory = Path(scratch) / "run"
        directory.mkdir()
        raw_path = Path(scratch) / "profile.txt"
        spec = {
            "config": args.config,
            "n": args.n,
            "threads": args.threads,
            "directory": str(directory),
            "sample_every": sample_every(args.config),
        }
        command = [py_spy, "record", "--rate", str(args.rate), "--format", "raw"]
        command += ["--threads", "--output", str(raw_path)]
        command += ["--gil"] * args.gil + ["--idle"] * args.idle
        command += ["--", sys.executable, "-m", "benchmarks._child", json.dumps(spec)]
        child = subprocess.run(
            command, cwd=PROJECT_ROOT, env=child_environment(), capture_output=True, text=True
        )
        if child.returncode != 0:
            sys.stderr.write(child.stderr)
            return child.returncode
        raw = raw_path.read_text()
        if args.raw:
            args.raw.write_text(raw)
    result = next(
        json.loads(line.split(" ", 1)[1])
        for line in child.stdout.splitlines()
        if line.startswith("BENCHMARK-RESULT ")
    )
    print(
        f"# {args.config}, {args.n:,} events, {args.threads} thread(s), "
        f"{'GIL holder only' if args.gil else 'all threads'}"
        f"{', idle included' if args.idle else ''}; under py-spy: "
        f"{result['total_us']:.2f} µs/event total, {result['caller_us']:.2f} caller"
    )
    print(summarize(raw, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
