"""``python -m structlog_events``: the ``structlog-events`` command."""

from __future__ import annotations

from ._cli import main

if __name__ == "__main__":
    main()
