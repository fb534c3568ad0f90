"""Reporting the writer's own trouble without going through logging.

The writer must never log into itself (a structlog call from inside the terminal
processor would recurse), and a log call must never raise, so problems go to
stderr directly, once per kind of problem, or at most every few seconds for a
recurring one such as queue overflow.
"""

from __future__ import annotations

import sys
import threading
import time

from ._handlers import reraise_if_from_a_signal_handler

# Re-entrant: a signal handler that logs may interrupt a thread holding it.
_lock = threading.RLock()
_last_reported: dict[str, float] = {}


def report(key: str, message: str, *, every: float | None = None) -> None:
    """Write ``structlog-events: <message>`` to stderr, never raising.

    Args:
        key: what kind of problem this is; each key is reported once, or again
            after *every* seconds when that is given.
        message: the text, naming what happened and what the writer did about it.
        every: seconds before the same key may be reported again.
    """
    now = time.monotonic()
    with _lock:
        last = _last_reported.get(key)
        if last is not None and (every is None or now - last < every):
            return
        _last_reported[key] = now
    try:
        sys.stderr.write(f"structlog-events: {message}\n")
        sys.stderr.flush()
    except Exception as error:  # stderr itself is gone: nowhere left to report
        reraise_if_from_a_signal_handler(error)


def after_fork_in_child() -> None:
    """A fresh lock: another thread may have held it at ``fork()``."""
    global _lock
    _lock = threading.RLock()


def forget_reports() -> None:
    """Forget what was reported, so each problem is reported again (for tests)."""
    with _lock:
        _last_reported.clear()
