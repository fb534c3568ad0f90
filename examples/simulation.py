"""A small multi-agent market simulation that logs through structlog into events.

Three traders bid for a good over a few turns.  The simulation only knows
structlog: ``EventWriter``, last in the processor chain, turns each log call its
verbosity keeps into an ``Event`` line.  Each run writes a fresh directory,
``runs/<simulation id>/run-<n>/``, and at the end reads it back with
``read_events`` and prints what it found, so two runs never mix.

Run it with ``uv run --no-dev examples/simulation.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import itertools
import random
from collections import Counter
from pathlib import Path

import structlog

from structlog_events import EventWriter, VerbosityLevel, WriteMode, WriterStats, read_events


def run_market(turns: int, seed: int) -> None:
    """Play *turns* rounds of a sealed-bid market between three traders."""
    rng = random.Random(seed)
    log = structlog.get_logger()
    cash = {"alice": 100.0, "bob": 100.0, "carol": 100.0}
    price = 10.0
    log.info("simulation_starting", agents=len(cash), turns=turns, seed=seed)
    for turn in range(1, turns + 1):
        structlog.contextvars.bind_contextvars(turn=turn)
        bids = {}
        for agent, money in cash.items():
            bid = round(price * rng.uniform(0.8, 1.25), 2)
            log.debug("price_computed", agent=agent, value=bid)  # DETAIL
            if bid <= money:
                bids[agent] = bid
                log.info("bid_placed", agent=agent, bid=bid)  # ACTION
            else:
                log.info("bid_skipped", agent=agent, cash=money, verbosity="DECISION")
        if bids:
            winner = max(bids, key=lambda name: bids[name])
            cash[winner] -= bids[winner]
            price = bids[winner]
            log.info("trade_cleared", winner=winner, price=price, verbosity="DECISION")
        log.info("market_state", cash=dict(cash), verbosity="STATE")
        log.info("turn_completed", turn_number=turn, verbosity="MILESTONE")
    structlog.contextvars.clear_contextvars()
    log.info("simulation_finished", final_cash=cash, verbosity="MILESTONE")


def fresh_run_directory(parent: Path) -> Path:
    """Create and return ``parent/run-<n>`` for the first free *n*: one directory per run."""
    parent.mkdir(parents=True, exist_ok=True)
    for number in itertools.count(1):
        candidate = parent / f"run-{number}"
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")


def summarize(output_dir: Path, stats: WriterStats) -> str:
    """What *output_dir* holds, read back with ``read_events``: events by type and level."""
    events = list(read_events(output_dir))
    by_type = Counter(event.event_type for event in events)
    by_level = Counter(event.verbosity.value for event in events)
    lines = [
        f"this run's directory: {output_dir}/",
        f"{len(events)} events read back with read_events; the writer wrote {stats.written}",
        "by type:      " + ", ".join(f"{k}={v}" for k, v in sorted(by_type.items())),
        "by verbosity: " + ", ".join(f"{k}={v}" for k, v in sorted(by_level.items())),
    ]
    return "\n".join(lines)


def run_arguments(
    description: str, *, simulation_id: str, turns: int, verbosity: VerbosityLevel
) -> argparse.ArgumentParser:
    """The options of a run: its id, where it goes, how long, its seed, what it keeps."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--simulation-id", default=simulation_id)
    parser.add_argument(
        "--output-root",
        type=Path,
        default=Path("runs"),
        help="each run writes <output-root>/<simulation-id>/run-<n>/ (default: runs)",
    )
    parser.add_argument("--turns", type=int, default=turns)
    parser.add_argument("--seed", type=int, default=42)
    dropped = " and ".join(level.value for level in VerbosityLevel if level > verbosity)
    parser.add_argument(
        "--verbosity",
        default=verbosity.value,
        choices=[level.value for level in VerbosityLevel],
        help=f"most verbose level kept (default {verbosity.value}: drops {dropped})",
    )
    return parser


def main() -> None:
    parser = run_arguments(
        __doc__.split("\n\n")[0], simulation_id="sim-42", turns=5, verbosity=VerbosityLevel.ACTION
    )
    parser.add_argument("--mode", default="sync", choices=[mode.value for mode in WriteMode])
    args = parser.parse_args()

    output_dir = fresh_run_directory(args.output_root / args.simulation_id)
    writer = EventWriter(
        output_dir=output_dir,
        simulation_id=args.simulation_id,
        verbosity=args.verbosity,
        mode=args.mode,
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            writer,
        ]
    )
    with writer:
        run_market(args.turns, args.seed)
    print(summarize(output_dir, writer.stats))
    print(f"writer stats: {writer.stats}")


if __name__ == "__main__":
    main()
