"""The tables of ``docs/benchmarks.md`` and the chart ``docs/benchmarks.png``.

Only the part of ``docs/benchmarks.md`` between the two ``GENERATED`` markers is
rewritten; the analysis around it is written by hand.  Every table is drawn from
``benchmarks/results.json``, so ``python -m benchmarks --report`` redraws the
docs of a recorded run without running anything.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._runner import PROJECT_ROOT

DOC_PATH = PROJECT_ROOT / "docs" / "benchmarks.md"
CHART_PATH = PROJECT_ROOT / "docs" / "benchmarks.png"
BEGIN = "<!-- BEGIN GENERATED: python -m benchmarks --report benchmarks/results.json -->"
END = "<!-- END GENERATED -->"

Row = dict[str, Any]

#: The multiplication sign of every ratio (spelled out: ruff flags the literal as ambiguous).
X = "\N{MULTIPLICATION SIGN}"


# -- plain text, for the terminal ----------------------------------------------------


def format_table(summary: list[Row]) -> str:
    """The summary as aligned text: one line per case."""
    head = (
        f"{'case':36s} {'total µs':>9s} {'caller µs':>9s} {'p50 µs':>8s} {'p99 µs':>8s} "
        f"{'RSS MiB':>8s} {X + ' ours':>7s}  output"
    )
    lines = [head, "-" * len(head)]
    for row in summary:
        ratio = row.get("total_us_ratio")
        output = "verified" if row["verified"] else "; ".join(row["verdicts"] + row["errors"])
        lines.append(
            f"{row['case']:36s} {_num(row['total_us']):>9s} {_num(row['caller_us']):>9s} "
            f"{_num(row['p50_us']):>8s} {_num(row['p99_us']):>8s} "
            f"{_num(row['rss_peak_mib']):>8s} {_num(ratio):>7s}  {output}"
        )
    return "\n".join(lines)


def format_imports(imports: dict[str, Any]) -> str:
    """The import times as aligned text: one line per statement."""
    head = (
        f"{'import, in a fresh process':56s} {'wall ms':>8s} {'CPU ms':>7s} {X + ' structlog':>12s}"
    )
    lines = [head, "-" * len(head)]
    for row in imports["cases"]:
        note = f"  {row['error'].splitlines()[0][:60]}" if row["error"] else ""
        lines.append(
            f"{row['label']:56s} {_num(row['median_ms']):>8s} {_num(row['median_cpu_ms']):>7s} "
            f"{_num(row['ratio']):>12s}{note}"
        )
    return "\n".join(lines)


def _num(value: float | None, digits: int | None = None) -> str:
    """A number with about three significant digits, or a dash."""
    if value is None:
        return "—"
    if digits is None:
        digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    return f"{value:,.{digits}f}"


# -- Markdown ---------------------------------------------------------------------


def _rows(summary: list[Row], kind: str, n: int | None = None) -> list[Row]:
    return [r for r in summary if r["kind"] == kind and (n is None or r["n"] == n)]


def _output_cell(row: Row) -> str:
    if row["errors"]:
        return "**FAILED**: " + "; ".join(e.splitlines()[0][:80] for e in row["errors"])
    if row["verified"]:
        return "✓ verified"
    missing = row.get("missing") or []
    if not missing:
        return "**" + "; ".join(row["verdicts"]) + "**"
    share = f"{min(missing) / row['n']:.0%}" + (
        f"-{max(missing) / row['n']:.0%}" if max(missing) != min(missing) else ""
    )
    return f"**LOSES EVENTS** in {row['losing_runs']} of {row['runs']} runs ({share} missing)"


def _ratio_cell(row: Row, metric: str) -> str:
    if row["reference"] == row["case"]:
        return "1 (ours)"
    value = row.get(f"{metric}_ratio")
    return "—" if value is None else f"{value:.2f}{X}"


def _speed_table(rows: list[Row]) -> list[str]:
    lines = [
        "| configuration | threads | output | total µs/event | caller µs/event | events/s "
        f"| p50 µs | p99 µs | peak RSS MiB | total {X} ours | caller {X} ours | p99 {X} ours |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in sorted(rows, key=lambda r: (r["threads"], not r["ours"], r["total_us"] or 0)):
        label = f"**{row['label']}**" if row["ours"] else row["label"]
        lines.append(
            f"| {label} | {row['threads']} | {_output_cell(row)} | {_num(row['total_us'])} "
            f"| {_num(row['caller_us'])} | {_num(row['events_per_s'], 0)} "
            f"| {_num(row['p50_us'])} | {_num(row['p99_us'])} | {_num(row['rss_peak_mib'])} "
            f"| {_ratio_cell(row, 'total_us')} | {_ratio_cell(row, 'caller_us')} "
            f"| {_ratio_cell(row, 'p99_us')} |"
        )
    return lines


def _filter_table(rows: list[Row]) -> list[str]:
    loop = next((r["caller_us"] for r in rows if r["config"] == "noop"), None)
    lines = [
        f"| call | output | µs/call | µs/call less the loop | {X} ours |",
        "|---|---|---:|---:|---:|",
    ]
    for row in sorted(rows, key=lambda r: r["caller_us"] or 0):
        net = None if loop is None or row["caller_us"] is None else row["caller_us"] - loop
        label = f"**{row['label']}**" if row["ours"] else row["label"]
        lines.append(
            f"| {label} | {_output_cell(row)} | {_num(row['caller_us'], 3)} "
            f"| {_num(net, 3)} | {_ratio_cell(row, 'caller_us')} |"
        )
    return lines


def _imports_table(imports: dict[str, Any]) -> list[str]:
    interpreter = next((r["median_ms"] for r in imports["cases"] if r["name"] == "python"), None)
    lines = [
        f"| statement, in a fresh process | runs | wall ms | wall ms beyond the interpreter "
        f"| CPU ms | {X} structlog (wall) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in imports["cases"]:
        beyond = (
            None
            if interpreter is None or row["median_ms"] is None or row["name"] == "python"
            else row["median_ms"] - interpreter
        )
        ratio = "1 (reference)" if row["name"] == imports["reference"] else _ratio_of(row["ratio"])
        label = (
            f"**{row['label']}**" if row["name"].startswith("structlog_events") else row["label"]
        )
        if row["error"]:
            label += f" (**FAILED**: {row['error'].splitlines()[0][:80]})"
        lines.append(
            f"| {label} | {len(row['runs_ms'])} | {_num(row['median_ms'])} "
            f"| {_num(beyond)} | {_num(row['median_cpu_ms'])} | {ratio} |"
        )
    return lines


def _ratio_of(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}{X}"


def _scaling_table(summary: list[Row], config: str) -> list[str]:
    rows = sorted(
        (r for r in summary if r["config"] == config and r["threads"] == 1), key=lambda r: r["n"]
    )
    lines = [
        "| events | runs | output | total µs/event | caller µs/event | p99 µs "
        "| RSS after setup MiB | peak RSS MiB | RSS growth MiB |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {row['n']:,} | {row['runs']} | {_output_cell(row)} | {_num(row['total_us'])} "
        f"| {_num(row['caller_us'])} | {_num(row['p99_us'])} "
        f"| {_num(row['rss_setup_mib'])} | {_num(row['rss_peak_mib'])} "
        f"| {_num(row['rss_growth_mib'])} |"
        for row in rows
    )
    return lines


# -- targets ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """One target of the performance issue, checked against the recorded runs."""

    text: str
    measured: str
    met: bool | None


class _Runs:
    """Per-repetition values of the recorded runs, for paired ratios."""

    def __init__(self, results: dict[str, Any]) -> None:
        self._runs: dict[tuple[str, int], Row] = {
            (r["case"], r["rep"]): r for r in results["runs"] if "error" not in r
        }
        self._verified = {r["case"]: r["verified"] for r in results["summary"]}

    def find(self, config: str, threads: int, n: int | None = None) -> str | None:
        """The case key of *config* at *threads* (and *n*, else the most runs)."""
        keys = {case for case, _ in self._runs if case.startswith(f"{config}/t{threads}/")}
        if n is not None:
            keys = {k for k in keys if k.endswith(f"/n{n}")}
        return max(keys, key=lambda k: sum(1 for c, _ in self._runs if c == k), default=None)

    def verified(self, *cases: str | None) -> bool:
        return all(case is not None and self._verified.get(case, False) for case in cases)

    def paired(
        self, a: str | None, b: str | None, value: Callable[[Row, Row], float]
    ) -> float | None:
        """Median over repetitions of ``value(run of a, run of b)`` in the same repetition."""
        if a is None or b is None:
            return None
        values = [
            value(run, self._runs[(b, rep)])
            for (case, rep), run in self._runs.items()
            if case == a and (b, rep) in self._runs
        ]
        return statistics.median(values) if values else None

    def median(self, case: str | None, metric: str) -> float | None:
        if case is None:
            return None
        values = [run[metric] for (c, _), run in self._runs.items() if c == case]
        return statistics.median(values) if values else None


def _ratio(metric_a: str, metric_b: str | None = None) -> Callable[[Row, Row], float]:
    def value(a: Row, b: Row) -> float:
        return float(a[metric_a] / b[metric_b or metric_a])

    return value


def _difference(metric: str) -> Callable[[Row, Row], float]:
    def value(a: Row, b: Row) -> float:
        return float(a[metric] - b[metric])

    return value


def _check(
    text: str, value: float | None, ok: Callable[[float], bool], fmt: str, verified: bool
) -> Target:
    if value is None:
        return Target(text, "not run", None)
    measured = fmt.format(value)
    if not verified:
        return Target(text, measured + " (output not verified)", False)
    return Target(text, measured, ok(value))


def evaluate_targets(results: dict[str, Any]) -> list[Target]:
    """Each target of the performance issue, measured as a paired ratio where it is one."""
    runs = _Runs(results)
    targets: list[Target] = []
    for threads in (1, 4):
        ours = runs.find("events-async", threads, results["meta"]["settings"]["n"])
        recipe = runs.find("structlog-recipe", threads)
        loguru = runs.find("loguru-rotating", threads)
        stdlib = runs.find("stdlib-rotating", threads)
        targets += [
            _check(
                f"ASYNC total ≤ 0.8{X} structlog recipe ({threads} thread{'s' * (threads > 1)})",
                runs.paired(ours, recipe, _ratio("total_us")),
                lambda v: v <= 0.8,
                "{:.2f}" + X,
                runs.verified(ours, recipe),
            ),
            _check(
                f"ASYNC total ≥ 5{X} faster than loguru serialize + rotation ({threads} t.)",
                runs.paired(loguru, ours, _ratio("total_us")),
                lambda v: v >= 5,
                "{:.1f}" + X + " faster",
                runs.verified(ours, loguru),
            ),
            _check(
                f"ASYNC total ≥ 5{X} faster than stdlib rotating handler ({threads} t.)",
                runs.paired(stdlib, ours, _ratio("total_us")),
                lambda v: v >= 5,
                "{:.1f}" + X + " faster",
                runs.verified(ours, stdlib),
            ),
            _check(
                f"ASYNC caller p99 ≤ 1.0{X} the recipe's per-call cost ({threads} t.)",
                runs.paired(ours, recipe, _ratio("p99_us", "caller_us")),
                lambda v: v <= 1.0,
                "{:.2f}" + X,
                runs.verified(ours, recipe),
            ),
        ]
    large = runs.find("events-async", 1, 1_000_000)
    growth = runs.median(large, "rss_growth_mib")
    targets.append(
        _check(
            "ASYNC at 1M events: RSS growth ≤ 50 MB",
            None if growth is None else growth * 1.048576,
            lambda v: v <= 50,
            "{:.1f} MB",
            runs.verified(large),
        )
    )
    sync1, sync4 = runs.find("events-sync", 1), runs.find("events-sync", 4)
    raw1, raw4 = runs.find("raw-fsync", 1), runs.find("raw-fsync", 4)
    for peer, name in (("stdlib-fsync", "stdlib"), ("loguru-fsync", "loguru")):
        other = runs.find(peer, 1)
        targets.append(
            _check(
                f"SYNC 1 thread ≥ 1.8{X} faster than {name} with fsync per record",
                runs.paired(other, sync1, _ratio("total_us")),
                lambda v: v >= 1.8,
                "{:.2f}" + X + " faster",
                runs.verified(sync1, other),
            )
        )
    targets += [
        _check(
            f"SYNC 1 thread total ≤ 1.2{X} raw write + fsync loop",
            runs.paired(sync1, raw1, _ratio("total_us")),
            lambda v: v <= 1.2,
            "{:.2f}" + X,
            runs.verified(sync1, raw1),
        ),
        _check(
            f"SYNC 4 threads ≥ 2.5{X} SYNC 1-thread throughput (group commit)",
            runs.paired(sync4, sync1, _ratio("events_per_s")),
            lambda v: v >= 2.5,
            "{:.2f}" + X,
            runs.verified(sync1, sync4),
        ),
        _check(
            "SYNC 4 threads > 4 threads of raw concurrent fsyncs",
            runs.paired(sync4, raw4, _ratio("events_per_s")),
            lambda v: v > 1.0,
            "{:.2f}" + X + " their throughput",
            runs.verified(sync4, raw4),
        ),
    ]
    typed, plain = runs.find("events-async-model", 1), runs.find("events-async-sim", 1)
    targets.append(
        _check(
            "Own event model (SimEvent): ≤ +3 µs per event over the same call as Event (1 t.)",
            runs.paired(typed, plain, _difference("total_us")),
            lambda v: v <= 3,
            "{:+.2f} µs",
            runs.verified(typed, plain),
        )
    )
    structlog_drop = runs.find("filter-structlog", 1)
    for config, what in (
        ("filter-events-verbosity", 'info(..., verbosity="DETAIL") dropped by the writer'),
        ("filter-events", "debug() dropped by the recommended wrapper_class"),
    ):
        ours_drop = runs.find(config, 1)
        targets.append(
            _check(
                f"Filtering: {what} ≤ 1.2{X} a make_filtering_bound_logger drop",
                runs.paired(ours_drop, structlog_drop, _ratio("caller_us")),
                lambda v: v <= 1.2,
                "{:.2f}" + X,
                runs.verified(ours_drop, structlog_drop),
            )
        )
    targets.append(_import_target(results.get("imports")))
    return targets


def _import_target(imports: dict[str, Any] | None) -> Target:
    """``import structlog_events`` against ``import structlog``, whole fresh processes."""
    text = f"import structlog_events ≤ 1.3{X} import structlog (fresh process)"
    row = next(
        (r for r in (imports or {}).get("cases", []) if r["name"] == "structlog_events"), None
    )
    if row is None:
        return Target(text, "not run", None)
    return _check(text, row["ratio"], lambda v: v <= 1.3, "{:.2f}" + X, row["error"] is None)


def format_targets(results: dict[str, Any]) -> str:
    """The targets as plain text, one line each."""
    verdicts = {True: "met", False: "MISSED", None: "not run"}
    return "\n".join(
        f"{verdicts[t.met]:8s} {t.measured:>24s}  {t.text}" for t in evaluate_targets(results)
    )


def _targets_table(results: dict[str, Any]) -> list[str]:
    lines = ["| target | measured (median of paired runs) | |", "|---|---:|---|"]
    for target in evaluate_targets(results):
        verdict = {True: "met", False: "**missed**", None: "not run"}[target.met]
        lines.append(f"| {target.text} | {target.measured} | {verdict} |")
    return lines


# -- the whole generated block ------------------------------------------------------


def render(results: dict[str, Any]) -> str:
    """The generated part of ``docs/benchmarks.md``."""
    meta, summary = results["meta"], results["summary"]
    settings, machine = meta["settings"], meta["machine"]
    loads = [r["load_1min"] for r in results["runs"]]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    lines = [
        BEGIN,
        "",
        "## Run",
        "",
        f"- Command: `{meta['command']}` (commit {meta['commit']}"
        + (f", `PYTHONPATH={meta['pythonpath']}`" if meta["pythonpath"] else "")
        + ")",
        f"- When: {meta['started']} to {meta['finished']} (UTC)",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB, Linux {machine['kernel']}, "
        f"{machine['implementation']} {machine['python']}, output on {machine['filesystem']}",
        f"- Versions: {versions}",
        f"- Load average (1 min): {meta['load_before'][0]:.2f} before, "
        f"{meta['load_after'][0]:.2f} after, {min(loads):.2f}-{max(loads):.2f} "
        "at the start of each run (2 cores, shared with other work)",
        f"- Sizes: {settings['n']:,} events per buffered/queued run, "
        f"{settings['fsync_n']:,} per fsync run, {settings['filter_n']:,} filtered calls; "
        f"{settings['reps']} interleaved repetitions "
        f"({settings['large_reps']} at 1M events), medians shown",
        "",
        f"`{X} ours` is the configuration's value divided by ours (the first row of the "
        "group) in the same repetition, median over repetitions: above 1 means ours "
        "is faster (or smaller).  Caller = until the log calls return; total = until "
        "everything is on disk (closed, flushed, queue drained; ours also fsyncs).",
        "",
        "## Targets",
        "",
        *_targets_table(results),
        "",
        f"## Buffered and queued writers ({settings['n']:,} events)",
        "",
        *_speed_table(_rows(summary, "throughput", settings["n"])),
        "",
        f"## Durable writers: fsync before the call returns ({settings['fsync_n']:,} events)",
        "",
        *_speed_table(_rows(summary, "durable")),
        "",
        f"## Your own event model ({settings['n']:,} events)",
        "",
        *_speed_table(_rows(summary, "model", settings["n"])),
        "",
        f"## Filtering: cost of a dropped call ({settings['filter_n']:,} calls, 1 thread)",
        "",
        *_filter_table(_rows(summary, "filter")),
        "",
        "## Scaling of the queued mode (1 thread)",
        "",
        *_scaling_table(summary, "events-async"),
        "",
        *_imports_section(results.get("imports")),
        "![bar chart of total µs per event](benchmarks.png)",
        "",
        END,
    ]
    return "\n".join(lines)


def _imports_section(imports: dict[str, Any] | None) -> list[str]:
    if imports is None:
        return []
    return [
        f"## Import time ({imports['reps']} interleaved fresh processes per statement)",
        "",
        *_imports_table(imports),
        "",
    ]


def write_docs(results: dict[str, Any]) -> None:
    """Rewrite the generated block of ``docs/benchmarks.md`` and draw the chart."""
    block = render(results)
    text = DOC_PATH.read_text() if DOC_PATH.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC_PATH.parent.mkdir(exist_ok=True)
    DOC_PATH.write_text(text)
    draw_chart(results, CHART_PATH)


def draw_chart(results: dict[str, Any], path: Path) -> None:
    """Bar chart of total and caller µs per event, buffered/queued and durable side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = results["meta"]["settings"]
    groups = [
        (
            f"Buffered and queued writers ({settings['n']:,} events)",
            _rows(results["summary"], "throughput", settings["n"]),
        ),
        (
            f"fsync before the call returns ({settings['fsync_n']:,} events)",
            _rows(results["summary"], "durable"),
        ),
    ]
    figure, axes = plt.subplots(1, 2, figsize=(15, 7), constrained_layout=True)
    for index_group, (axis, (title, rows)) in enumerate(zip(axes, groups, strict=True)):
        durable = index_group == 1
        labels = sorted(
            {r["label"] for r in rows},
            key=lambda label: -min(r["total_us"] or 0 for r in rows if r["label"] == label),
        )
        height = 0.38
        for offset, threads, colour in ((height / 2, 1, "#4c72b0"), (-height / 2, 4, "#dd8452")):
            for index, label in enumerate(labels):
                row = next(
                    (r for r in rows if r["label"] == label and r["threads"] == threads), None
                )
                if row is None or row["total_us"] is None:
                    continue
                y = index + offset
                hatch = None if row["verified"] else "xx"
                edge = "black" if row["ours"] else colour
                axis.barh(y, row["total_us"], height, color=colour, hatch=hatch, edgecolor=edge)
                axis.plot(row["caller_us"], y, marker="|", color="black", markersize=9)
                note = f"{row['total_us']:.1f}"
                if not row["verified"]:
                    note += "  LOSES EVENTS"
                axis.text(row["total_us"] * 1.05, y, note, va="center", fontsize=7)
        axis.set_yticks(range(len(labels)))
        ours = {r["label"] for r in rows if r["ours"]}
        axis.set_yticklabels([("▶ " if lb in ours else "") + lb for lb in labels], fontsize=8)
        if durable:
            axis.set_xlim(left=0)
            axis.set_xlabel("µs per event until fsynced (| = caller-side µs)")
        else:
            axis.set_xscale("log")
            axis.set_xlabel("µs per event until on disk (log scale; | = caller-side µs)")
        axis.set_title(title, fontsize=10)
        axis.grid(axis="x", which="both", alpha=0.3)
    from matplotlib.patches import Patch

    handles = [Patch(color="#4c72b0"), Patch(color="#dd8452")]
    figure.legend(
        handles, ["1 producer thread", "4 producer threads"], loc="outside lower center", ncol=2
    )
    figure.suptitle(
        "structlog-events (▶) against its peers: lower is faster; medians of interleaved runs",
        fontsize=11,
    )
    figure.savefig(path, dpi=110)
    plt.close(figure)
