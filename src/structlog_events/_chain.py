"""The writer's place in a processor chain: how it ends its part of a call, and mistakes there.

A terminal writer ends structlog's chain with ``DropEvent``; with
``passthrough=True`` it hands the record on to the processors after it (a
renderer for a console, ``ProcessorFormatter.wrap_for_formatter``).  Inside a
``structlog.stdlib.ProcessorFormatter``, where ``DropEvent`` would escape the
logging call, it always hands the record on.

Two ways of placing the writer lose events without a word from structlog; each
is said once on stderr:

- processors after a writer without ``passthrough=True`` never run (checked in
  ``structlog.get_config()["processors"]`` at the writer's first call);
- a writer after a renderer gets the rendered text instead of a record: it
  cannot write it, counts it failed and hands the text on unchanged, so the
  renderer's output still reaches its logger.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, TypeAlias

import structlog

from ._report import report

Record: TypeAlias = MutableMapping[str, Any]


class Ended(enum.Enum):
    """What the writer answers where, as a processor, it raises ``DropEvent``: the call ends here.

    For the package's own callers (the bound logger that hands a record
    straight to the writer), which need no exception to learn it.
    """

    ENDED = "ENDED"


class ChainEnd:
    """Where one writer stands in a chain: what it handed on, whether its chain was checked.

    The writer itself raises ``DropEvent`` (a frame less to unwind on every
    call); this object holds what that decision needs.

    Args:
        writer: the writer, found by identity in structlog's configured chain.
        passthrough: whether the writer hands records on.
    """

    __slots__ = ("_handed_on", "_writer_id", "unchecked")

    def __init__(self, writer: object, *, passthrough: bool) -> None:
        self._writer_id = id(writer)  # no reference: the writer holds this object
        self._handed_on = threading.local()
        #: Whether structlog's configured chain is still to be looked at, at
        #: the first call that ends the chain.
        self.unchecked = not passthrough

    def hand_on(self, event_dict: Record) -> Record:
        """Return *event_dict* for the processors after the writer, remembering it for this thread.

        Inside ``ProcessorFormatter.processors`` (``_from_structlog`` in the
        record) this is what the writer does even without ``passthrough``:
        ``DropEvent`` would escape the logging call there.
        """
        self._handed_on.event_dict = event_dict
        return event_dict

    def handed_on(self, event_dict: object) -> bool:
        """Whether this thread's writer handled *event_dict* and handed it on.

        With the writer in structlog's chain (``passthrough=True``) before
        ``ProcessorFormatter.wrap_for_formatter``, the same dict reaches the
        stdlib bridge inside the same call: the bridge asks, and skips it.
        """
        return getattr(self._handed_on, "event_dict", None) is event_dict

    def check_configured_chain(self) -> None:
        """Say once on stderr if processors follow the writer in structlog's configured chain."""
        self.unchecked = False
        after = _neighbour(self._writer_id, +1)
        if after:
            report(
                "processors-after-writer",
                f"{after} come(s) after the EventWriter in structlog's processors and "
                "never run: the writer ends the chain. Give it passthrough=True to hand "
                "each record on, or remove them",
            )

    def not_written(self, event_dict: object, error: Exception) -> None:
        """Say once on stderr why the writer could not write *event_dict* (it counted it failed).

        A record that is not a mapping (text, bytes, the tuple
        ``wrap_for_formatter`` makes) means the writer came after the
        renderer: said once, naming the renderer.  Any other failure is said
        once per kind of error.
        """
        if isinstance(event_dict, Mapping):
            report(f"map:{type(error).__name__}", f"event not written: {error!r}")
            return
        before = _neighbour(self._writer_id, -1)
        renderer = f" ({before})" if before else ""
        report(
            "rendered-record",
            f"the EventWriter was given a rendered record ({type(event_dict).__name__}), "
            "not an event dict: put the EventWriter before the renderer"
            f"{renderer} in structlog's processors (with passthrough=True to keep the "
            "renderer's output). Its events are not written: counted in stats.failed",
        )


def _neighbour(writer_id: int, side: int) -> str:
    """Names of the processors after (*side* +1) or the one before (-1) the writer.

    Looks in structlog's configured chain; empty if the writer is not in it
    (a ``wrap_logger`` chain, a ``ProcessorFormatter``) or nothing is there.
    """
    processors: Sequence[Any] = structlog.get_config()["processors"]
    for position, processor in enumerate(processors):
        if id(processor) == writer_id:
            if side > 0:
                return ", ".join(_name_of(p) for p in processors[position + 1 :])
            return _name_of(processors[position - 1]) if position else ""
    return ""


def _name_of(processor: Any) -> str:
    name = getattr(processor, "__qualname__", None)
    return name if isinstance(name, str) else type(processor).__qualname__
