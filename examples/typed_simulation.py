"""A market simulation whose events are typed: your own Event models from plain structlog calls.

The simulation framework this library grew out of gives every event a turn
number, the agent it concerns, the events that caused it, a description and
details, and sorts events into six categories, each with a model of its own:
SYSTEM, MILESTONE, DECISION, ACTION, ENV and DETAIL.  Decisions and actions
must name their agent.  Here those models are subclasses of ``Event``; the
writer validates each log call against the model of its event type, and the
categories map to verbosity levels with ``event_verbosity``.

The run is logged through ordinary structlog calls (decisions are built as
events, so that the actions they cause can name them), then read back as the
same types and filtered on ``turn_number`` and ``agent_id``.

Run it with ``uv run --no-dev examples/typed_simulation.py`` (``--help`` for options).
"""

from __future__ import annotations

import random
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import Field
from simulation import fresh_run_directory, run_arguments  # the other example, beside this one

from structlog_events import Event, EventWriter, VerbosityLevel, read_events


class Category(StrEnum):
    SYSTEM = "SYSTEM"
    MILESTONE = "MILESTONE"
    DECISION = "DECISION"
    ACTION = "ACTION"
    ENV = "ENV"
    DETAIL = "DETAIL"


class SimEvent(Event):
    """What every event of the simulation carries, beside the envelope."""

    turn_number: int = Field(ge=0)
    agent_id: str | None = None
    caused_by: list[str] | None = None  # ids of the events that caused this one
    description: str | None = Field(default=None, max_length=500)
    details: dict[str, Any] | None = None


class SystemEvent(SimEvent):
    category: Literal[Category.SYSTEM] = Category.SYSTEM


class MilestoneEvent(SimEvent):
    category: Literal[Category.MILESTONE] = Category.MILESTONE


class DecisionEvent(SimEvent):
    category: Literal[Category.DECISION] = Category.DECISION
    agent_id: str  # a decision is an agent's


class ActionEvent(SimEvent):
    category: Literal[Category.ACTION] = Category.ACTION
    agent_id: str  # so is an action


class EnvEvent(SimEvent):
    category: Literal[Category.ENV] = Category.ENV


class DetailEvent(SimEvent):
    category: Literal[Category.DETAIL] = Category.DETAIL


#: Each category: its model, the verbosity its events are written at, its event types.
CATEGORIES: dict[Category, tuple[type[SimEvent], VerbosityLevel, tuple[str, ...]]] = {
    Category.SYSTEM: (
        SystemEvent,
        VerbosityLevel.MILESTONE,
        ("simulation_started", "simulation_finished"),
    ),
    Category.MILESTONE: (MilestoneEvent, VerbosityLevel.MILESTONE, ("turn_completed",)),
    Category.DECISION: (DecisionEvent, VerbosityLevel.DECISION, ("bid_chosen",)),
    Category.ACTION: (ActionEvent, VerbosityLevel.ACTION, ("bid_placed", "trade_cleared")),
    Category.ENV: (EnvEvent, VerbosityLevel.STATE, ("price_moved",)),
    Category.DETAIL: (DetailEvent, VerbosityLevel.DETAIL, ("valuation_computed",)),
}

#: The model of each event type, for the writer and for reading back.
EVENT_MODELS = {name: model for model, _, names in CATEGORIES.values() for name in names}
#: The verbosity of each event type: its category's.
EVENT_VERBOSITY = {name: level for _, level, names in CATEGORIES.values() for name in names}

AGENTS = ("alice", "bob", "carol")


def run_market(writer: EventWriter, turns: int, seed: int) -> None:
    """Play *turns* rounds of a sealed-bid market between three traders."""
    rng = random.Random(seed)
    log = structlog.get_logger()
    price = 10.0
    log.info(
        "simulation_started",
        turn_number=0,
        description="a sealed-bid market",
        details={"agents": list(AGENTS), "turns": turns, "seed": seed},
    )
    for turn in range(1, turns + 1):
        structlog.contextvars.bind_contextvars(turn_number=turn)
        price = round(price * rng.uniform(0.9, 1.1), 2)
        log.info("price_moved", details={"price": price})
        bids: dict[str, float] = {}
        decision_ids: list[str] = []
        for agent in AGENTS:
            value = round(price * rng.uniform(0.8, 1.25), 2)
            log.debug("valuation_computed", agent_id=agent, details={"value": value})
            # Built as an event, so that the bid it causes can name it in caused_by.
            decision = DecisionEvent(
                event_type="bid_chosen",
                simulation_id=writer.simulation_id,
                turn_number=turn,
                agent_id=agent,
                description=f"{agent} values the good at {value} and bids it",
                details={"bid": value},
            )
            writer.emit(decision)
            decision_ids.append(decision.event_id)
            bids[agent] = value
            log.info("bid_placed", agent_id=agent, caused_by=[decision.event_id], bid=value)
        winner = max(bids, key=lambda agent: bids[agent])
        log.info("trade_cleared", agent_id=winner, caused_by=decision_ids, price=bids[winner])
        log.info("turn_completed")
    structlog.contextvars.clear_contextvars()
    log.info("simulation_finished", turn_number=turns)


def summarize(output_dir: Path, writer: EventWriter, turn: int, agent: str) -> str:
    """The run read back as its models, and two filters: one turn, one agent's actions."""
    events = list(read_events(output_dir, model=SimEvent, models=EVENT_MODELS))
    by_category = Counter(getattr(event, "category", "none") for event in events)
    lines = [
        f"this run's directory: {output_dir}/",
        f"{len(events)} events read back as their models; the writer wrote "
        f"{writer.stats.written} ({writer.stats.invalid} invalid)",
        "by category: " + ", ".join(f"{k}={v}" for k, v in sorted(by_category.items())),
    ]
    in_turn = read_events(
        output_dir, model=SimEvent, models=EVENT_MODELS, where={"turn_number": turn}
    )
    lines.append(f"turn {turn}: " + ", ".join(event.event_type for event in in_turn))
    actions = read_events(
        output_dir,
        model=SimEvent,
        models=EVENT_MODELS,
        where={"agent_id": agent, "category": "ACTION"},
    )
    for action in actions:
        causes = ", ".join(action.caused_by or [])
        lines.append(f"{agent}: turn {action.turn_number} {action.event_type} caused by {causes}")
    return "\n".join(lines)


def main() -> None:
    parser = run_arguments(
        __doc__.split("\n\n")[0],
        simulation_id="sim-typed",
        turns=3,
        verbosity=VerbosityLevel.STATE,
    )
    args = parser.parse_args()

    output_dir = fresh_run_directory(args.output_root / args.simulation_id)
    writer = EventWriter(
        output_dir,
        args.simulation_id,
        verbosity=args.verbosity,
        mode="sync",
        event_model=SimEvent,
        event_models=EVENT_MODELS,
        event_verbosity=EVENT_VERBOSITY,
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            writer,
        ]
    )
    with writer:
        run_market(writer, args.turns, args.seed)
    print(summarize(output_dir, writer, turn=min(2, args.turns), agent="alice"))


if __name__ == "__main__":
    main()
