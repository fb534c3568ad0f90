"""The benchmark suite: structlog-events against the loggers users pick today.

Run every configuration, each in a fresh subprocess writing to a fresh directory,
with interleaved repetitions::

    uv run --group bench python -m benchmarks            # the recorded run
    uv run --group bench python -m benchmarks --quick    # a one-minute look

Each run's output is verified (line count, every line parses, every event
present once) before its speed is reported.  Results go to
``benchmarks/results.json``; the tables of ``docs/benchmarks.md`` and the chart
``docs/benchmarks.png`` are drawn from it.

Modules:
    configs: the configurations, one small setup function each, in a registry.
    _child: runs one configuration in its own process and prints its timings.
    _verify: checks what a configuration left on disk.
    _runner: plans the interleaved runs, starts the children, aggregates.
    _report: the Markdown tables and the chart.
"""
