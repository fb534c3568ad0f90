"""Shared test configuration: Hypothesis profiles, a fresh structlog, and ``make_writer``.

``HYPOTHESIS_PROFILE=thorough uv run pytest`` runs the property tests with many
more examples than the default ``ci`` profile.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, settings

from structlog_events import EventWriter
from structlog_events._report import forget_reports

from .helpers import MakeWriter

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _fresh_structlog_and_reports() -> Iterator[None]:
    """Each test starts with structlog's defaults and with every problem reportable again."""
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    forget_reports()
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def make_writer(tmp_path: Path) -> Iterator[MakeWriter]:
    """Create writers (on ``tmp_path`` unless told otherwise) that are closed when the test ends.

    ``make_writer(verbosity="DETAIL", mode="sync")`` takes ``EventWriter``'s
    arguments, with ``simulation_id="sim"`` by default.  Closing at the end is
    for the test's own sake (no writer thread or descriptor outlives it, even
    when it fails): a test that checks what ``close()`` returns calls it itself.
    """
    writers: list[EventWriter] = []

    def make(
        output_dir: Path | None = None,
        simulation_id: str = "sim",
        *arguments: Any,
        **options: Any,
    ) -> EventWriter:
        writer = EventWriter(output_dir or tmp_path, simulation_id, *arguments, **options)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.close()
