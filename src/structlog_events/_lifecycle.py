"""Process-wide lifecycle: the registry of live writers, and what happens to them when.

A writer is made of parts, and every process-wide event handles them in one
order, the order data flows: the **sink** (its queue and writer thread), then
the **file**, then **retention** (compression of rotated files).

- ``fork()``, in the child: process-wide state first (the report lock, the
  event id tag), then for each writer its counters' lock, sink (an empty
  queue, no thread: the parent's lines are the parent's to write), file (its
  own descriptors) and retention (no thread).
- A worker process ending (``multiprocessing`` and ``concurrent.futures``
  workers end with ``os._exit()``, which skips ``atexit``), and equally the
  start of a normal interpreter exit: ``threading`` calls its shutdown hooks
  in both, before it joins the threads still running.  Each sink is flushed
  (queued lines written and fsynced); in a worker, each is then told to make
  every caller wait until its line is written, so what threads still running
  log is in the file before the worker ends.
- Normal interpreter exit (``atexit``): each writer is closed, sink then file
  then retention, waiting for compressions under way.  Both exit hooks
  together wait ``EXIT_TIMEOUT`` at most.
- The signal drain of ``install_signal_handlers()``: each sink is flushed.
- A writer dropped without ``close()``: when it is garbage-collected, its sink
  is told to close (the writer thread writes what is queued, then closes the
  file and ends) and its retention thread to stop, without waiting; it stays
  in the registry until that is done, so the exit still waits for it.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from . import _event, _report

if TYPE_CHECKING:
    from ._file import EventFile
    from ._retention import Retention
    from ._sinks import QueuedSink, SyncSink
    from ._stats import Counters

#: Seconds the interpreter's exit (or a worker process's end) gives the writers,
#: in all, to write what they queued and, at ``atexit``, to finish compressions.  A
#: compression cut short leaves its plain file in place (and at most a
#: dot-named temporary), which the next writer on the directory compresses.
EXIT_TIMEOUT: Final = 30.0


@dataclass(frozen=True, slots=True)
class Parts:
    """The parts of one writer, in the order the lifecycle handles them."""

    directory: Path
    counters: Counters
    sink: SyncSink | QueuedSink
    file: EventFile
    retention: Retention


_live: dict[int, Parts] = {}
_keys = itertools.count()


def register(owner: object, parts: Parts) -> None:
    """Track *parts* until they are closed; when *owner* (the ``EventWriter``) is dropped
    without ``close()``, close them without waiting (the exit waits for what is left)."""
    for key, registered in list(_live.items()):
        if registered.sink.finished:
            _live.pop(key, None)  # closed for good: nothing left to do at exit
    key = next(_keys)
    _live[key] = parts
    finalizer = weakref.finalize(owner, _release, key)
    finalizer.atexit = False  # live writers are closed by ``_at_exit``, in order


def close(parts: Parts, timeout: float | None) -> bool:
    """Close one writer's parts in order; ``False`` if *timeout* passed or a line was lost.

    The sink writes what it holds and closes the file (its writer thread does,
    after the last line); then retention finishes its compressions.  Both
    together wait *timeout* at most.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    written = parts.sink.close(timeout)
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    return parts.retention.close(left) and written


def flush_all(timeout: float) -> bool:
    """Write and fsync what every writer of this process holds, within *timeout* in all.

    Safe in a signal handler: it takes no lock a log call may hold.

    Returns:
        ``False`` if *timeout* seconds passed first, or a line was lost.
    """
    deadline = time.monotonic() + timeout
    flushed = True
    for parts in list(_live.values()):
        flushed = parts.sink.flush(max(0.0, deadline - time.monotonic())) and flushed
    return flushed


def flush_directory(directory: Path, timeout: float) -> bool:
    """Flush this process's writers on *directory*, so a reader sees what they accepted."""
    deadline = time.monotonic() + timeout
    target = resolved(directory)
    flushed = True
    for parts in list(_live.values()):
        if parts.directory == target:
            flushed = parts.sink.flush(max(0.0, deadline - time.monotonic())) and flushed
    return flushed


def resolved(directory: Path) -> Path:
    """*directory* as the registry compares it: absolute, links resolved."""
    try:
        return directory.resolve()
    except OSError:
        return directory.absolute()


def _release(key: int) -> None:
    """A writer was garbage-collected without ``close()``: close its parts, without waiting.

    They stay registered until the close is done, so an exit meanwhile still
    waits for the queue to be written.
    """
    parts = _live.get(key)
    if parts is not None:
        close(parts, 0)


def _after_fork_in_child() -> None:
    _report.after_fork_in_child()
    _event.after_fork_in_child()
    for parts in list(_live.values()):
        parts.counters.after_fork_in_child()
        parts.sink.after_fork_in_child()
        parts.file.after_fork_in_child()
        parts.retention.after_fork_in_child()


_exit_deadline: float | None = None


def _exit_time_left() -> float:
    """Seconds left of ``EXIT_TIMEOUT``, counted from the first exit hook that ran."""
    global _exit_deadline
    if _exit_deadline is None:
        _exit_deadline = time.monotonic() + EXIT_TIMEOUT
    return max(0.0, _exit_deadline - time.monotonic())


def _at_threads_shutdown() -> None:
    flush_all(_exit_time_left())
    if _in_worker_process():
        deadline = time.monotonic() + _exit_time_left()
        for parts in list(_live.values()):
            parts.sink.wait_in_callers(deadline)


def _in_worker_process() -> bool:
    """Whether this process is a ``multiprocessing`` (or ``concurrent.futures``) worker.

    A worker ends with ``os._exit()`` once its threads are joined, without
    ``atexit``: what its threads log from now on must be written by the time
    their call returns.  Elsewhere ``atexit`` closes the writers after the
    threads are joined, and log calls stay queued and quick until then.
    """
    multiprocessing = sys.modules.get("multiprocessing")
    return multiprocessing is not None and multiprocessing.parent_process() is not None


def _at_exit() -> None:
    for parts in list(_live.values()):
        close(parts, _exit_time_left())


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
# ``threading`` runs these hooks when the main thread ends, both at a normal
# exit (before ``atexit``) and in a multiprocessing worker before it calls
# ``os._exit()``.  The hook is CPython's (``concurrent.futures`` uses it); where
# it is missing, ``atexit`` alone remains, and workers lose what they queued.
_register_at_threads_shutdown = getattr(threading, "_register_atexit", None)
if _register_at_threads_shutdown is not None:
    with contextlib.suppress(RuntimeError):  # imported while the interpreter shuts down
        _register_at_threads_shutdown(_at_threads_shutdown)
