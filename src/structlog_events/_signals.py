"""Draining queued writers when the process is told to stop: an opt-in.

SIGTERM's default action ends the process at once, without ``atexit``, so the
events a queued writer still holds would be lost; SIGINT raises
``KeyboardInterrupt``, which usually unwinds to a normal exit (and ``atexit``
drains), but not always.  ``install_signal_handlers()`` puts a handler in front
that writes and fsyncs every queue first, within a timeout, and then lets what
was there before proceed.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, Final

from ._lifecycle import flush_all

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

#: The signals ``install_signal_handlers()`` handles unless told otherwise.
DEFAULT_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)


def install_signal_handlers(
    signals: Iterable[signal.Signals] = DEFAULT_SIGNALS,
    *,
    timeout: float = 5.0,
) -> None:
    """On each of *signals*, drain every queued writer, then act as before.

    The handler flushes every writer of the process, waiting at most
    *timeout* seconds in all, and then hands the signal on: to the
    Python handler installed before (SIGINT's raises ``KeyboardInterrupt``), or,
    for the default action, re-raises it with that action restored, so the
    process ends as it would have (killed by SIGTERM, exit status 143 from a
    shell).  An ignored signal stays ignored, after the drain.  ``SYNC``
    writers need nothing: their events are on disk when the log call returns.

    Calling it again for a signal already handled changes nothing.  Writers
    created after the call are drained too.

    Args:
        signals: the signals to handle.
        timeout: seconds the drain may take before the signal goes on anyway
            (a disk that stopped answering must not keep the process alive).

    Raises:
        ValueError: not called from the main thread (Python runs signal
            handlers there only), *timeout* is negative, or a signal cannot be
            handled (``SIGKILL``, ``SIGSTOP``).
        TypeError: *timeout* is not a number.
    """
    if not isinstance(timeout, int | float) or isinstance(timeout, bool):
        raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
    if timeout < 0:
        raise ValueError(f"timeout must be zero or more seconds, not {timeout}")
    for signum in signals:
        previous = signal.getsignal(signum)
        if isinstance(previous, _DrainThenContinue):
            continue
        signal.signal(signum, _DrainThenContinue(previous, float(timeout)))


class _DrainThenContinue:
    """A signal handler: flush the queued writers, then do what was done before."""

    __slots__ = ("_previous", "_timeout")

    def __init__(self, previous: _Handler, timeout: float) -> None:
        self._previous = previous
        self._timeout = timeout

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        flush_all(self._timeout)
        previous = self._previous
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            # SIG_DFL, or a handler installed outside Python (None): the
            # default action, as if this handler had never been there.
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
