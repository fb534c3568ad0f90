"""Shared test configuration: Hypothesis profiles and writer fixtures.

``HYPOTHESIS_PROFILE=thorough uv run pytest`` runs the property tests with many
more examples than the default ``ci`` profile.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import HealthCheck, settings

from structlog_events._report import forget_reports

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
