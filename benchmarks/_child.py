"""Run one configuration in this process and print its timings as one JSON line.

Started by the runner as ``python -m benchmarks._child '<spec JSON>'`` in a fresh
process, so that imports, structlog's global configuration and the peak RSS
belong to this configuration alone.

Caller time runs from the moment every producer thread is released until the
last log call has returned; total time runs until ``finish()`` (close, flush,
drain) has returned, that is until everything is on disk.  One call in
``sample_every`` is timed on its own for the latency percentiles.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .configs import REGISTRY

#: Marks the result line among whatever else the configuration printed.
RESULT_PREFIX = "BENCHMARK-RESULT "


@dataclass(frozen=True, slots=True)
class Spec:
    """What one child process runs."""

    config: str
    n: int
    threads: int
    directory: str
    sample_every: int


def _peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB.

    ``VmHWM`` is the high-water mark of this process's own address space.
    ``ru_maxrss`` would do on a fresh process, but Linux carries the parent's
    peak over an ``exec`` that follows a ``vfork`` (as ``subprocess`` uses), so
    a growing runner would show up in every child.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _produce(
    emit: Callable[[int], None], first: int, stop: int, every: int, latencies: list[int]
) -> None:
    """Emit events ``first..stop-1``, timing every *every*-th call on its own."""
    clock = time.perf_counter_ns
    for seq in range(first, stop):
        if seq % every:
            emit(seq)
        else:
            started = clock()
            emit(seq)
            latencies.append(clock() - started)


def _percentile(ordered: list[int], fraction: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[index] / 1000


def run(spec: Spec) -> dict[str, Any]:
    """Set up the configuration, log ``spec.n`` events from the producer threads, finish."""
    configuration = REGISTRY[spec.config]
    target = configuration.setup(Path(spec.directory))
    rss_setup = _peak_rss_mib()
    shares = [spec.n * i // spec.threads for i in range(spec.threads + 1)]
    latencies: list[list[int]] = [[] for _ in range(spec.threads)]
    if spec.threads == 1:
        started = time.perf_counter()
        _produce(target.emit, 0, spec.n, spec.sample_every, latencies[0])
        returned = time.perf_counter()
    else:
        # Threads are created before the clock starts and released together.
        gate = threading.Barrier(spec.threads + 1)

        def producer(index: int) -> None:
            gate.wait()
            _produce(
                target.emit,
                shares[index],
                shares[index + 1],
                spec.sample_every,
                latencies[index],
            )

        threads = [
            threading.Thread(target=producer, args=(index,)) for index in range(spec.threads)
        ]
        for thread in threads:
            thread.start()
        gate.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        returned = time.perf_counter()
    target.finish()
    finished = time.perf_counter()
    ordered = sorted(sample for samples in latencies for sample in samples)
    rss_peak = _peak_rss_mib()
    caller, total = returned - started, finished - started
    return {
        "caller_us": caller / spec.n * 1e6,
        "total_us": total / spec.n * 1e6,
        "events_per_s": spec.n / total,
        "p50_us": _percentile(ordered, 0.50),
        "p99_us": _percentile(ordered, 0.99),
        "max_us": ordered[-1] / 1000 if ordered else float("nan"),
        "samples": len(ordered),
        "rss_setup_mib": rss_setup,
        "rss_peak_mib": rss_peak,
        "rss_growth_mib": rss_peak - rss_setup,
        "library": _library_path(),
        "wrapper_class": _wrapper_class(),
    }


def _library_path() -> str:
    """Where structlog_events was imported from (a prototype on PYTHONPATH shows here)."""
    module = sys.modules.get("structlog_events")
    return str(Path(module.__file__).parent) if module and module.__file__ else ""


def _wrapper_class() -> str:
    """Name of structlog's configured wrapper class, if structlog was configured."""
    structlog = sys.modules.get("structlog")
    if structlog is None:
        return ""
    wrapper = structlog.get_config().get("wrapper_class")
    return getattr(wrapper, "__name__", "") or ""


def main(argv: list[str]) -> None:
    spec = Spec(**json.loads(argv[0]))
    result = run(spec)
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
