"""A wake-up that one thread posts and another consumes, safe in a signal handler."""

from __future__ import annotations

from _thread import allocate_lock

from ._handlers import reraise_if_from_a_signal_handler


class Wakeup:
    """A binary semaphore: posting twice before a wait counts once.

    Both sides are single C calls on a bare lock: a signal handler (or a
    ``KeyboardInterrupt``) that lands on either side never leaves a lock held,
    as it can with ``threading.Condition``, whose ``__exit__`` is Python code.
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = allocate_lock()
        self._lock.acquire()

    def post(self) -> None:
        if not self._lock.locked():
            return  # posted already (the usual case for a producer in a hurry)
        try:
            self._lock.release()
        except RuntimeError as error:  # posted already
            reraise_if_from_a_signal_handler(error)

    def wait(self, timeout: float) -> bool:
        """Consume a post, waiting up to *timeout* seconds for one; ``False`` if none came."""
        return self._lock.acquire(timeout=timeout)
