"""Fixtures of the reliability tests."""

from __future__ import annotations

import pytest

from structlog_events import _handlers


@pytest.fixture
def as_on_the_main_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's runs go in threads of their own (so a hang can be caught), treated as the
    main thread: the one where Python runs signal handlers and raises KeyboardInterrupt.
    (What the interrupt harness's trace function raises, the writer tells from its own
    errors as it does what a real handler raises: both are called with the frame they
    interrupted.)"""
    monkeypatch.setattr(_handlers, "on_the_main_thread", lambda: True)
