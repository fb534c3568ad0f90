"""Telling the program's exceptions from the writer's own.

The writer never raises into the program: an error of its own (a value that
will not encode, a full disk, a bug) is counted and reported.  But Python runs
signal handlers on the main thread wherever the interpreter checks for them,
in the middle of the writer's code too, and what a handler raises (a timeout
built on ``signal.alarm``, often a ``TimeoutError``, which is an ``OSError``)
is the program's: it must reach the program, whatever the writer was doing.
So every place in the write path that catches an error to count it, or to
fall back, first calls ``reraise_if_from_a_signal_handler``, and ignores
errors with ``ignoring_own`` rather than ``contextlib.suppress``.
"""

from __future__ import annotations

import contextlib
import threading
from inspect import CO_VARARGS
from pathlib import Path
from types import FrameType, TracebackType

_PACKAGE = str(Path(__file__).parent)


def reraise_if_from_a_signal_handler(error: BaseException) -> None:
    """Raise again what a signal handler raised, if *error* is it or was caused by it."""
    program_error = from_a_signal_handler(error)
    if program_error is not None:
        raise program_error


class ignoring_own(contextlib.suppress):
    """``contextlib.suppress`` for the writer's own errors: a signal handler's goes on."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        suppressed = super().__exit__(exc_type, exc_value, traceback)
        return suppressed and (exc_value is None or from_a_signal_handler(exc_value) is None)


def from_a_signal_handler(error: BaseException) -> BaseException | None:
    """What a signal handler raised, if *error* is it or was caused by it; else ``None``.

    Python calls a handler with the frame it interrupted, and that frame is
    the handler's caller: the traceback of what a handler raised holds a frame
    one of whose arguments is its own caller's frame.  (Trace functions are
    called the same way, and what they raise is the program's too.)  A
    library that wraps the handler's exception, as orjson does for its
    ``default``, keeps it as ``__cause__``.
    """
    if not on_the_main_thread():
        return None  # handlers run on the main thread only
    cause: BaseException | None = error
    while cause is not None:
        traceback = cause.__traceback__
        while traceback is not None:
            if _called_with_its_caller(traceback.tb_frame):
                return cause
            traceback = traceback.tb_next
        cause = cause.__cause__
    return None


def on_the_main_thread() -> bool:
    """Whether this is the main thread, where Python runs signal handlers."""
    return threading.get_ident() == threading.main_thread().ident


def _called_with_its_caller(frame: FrameType) -> bool:
    """Whether one of *frame*'s arguments is the frame that called it."""
    caller = frame.f_back
    code = frame.f_code
    if caller is None or code.co_filename.startswith(_PACKAGE):
        return False
    count = code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & CO_VARARGS)
    values = frame.f_locals
    for name in code.co_varnames[:count]:
        value = values.get(name)
        if value is caller or (type(value) is tuple and any(item is caller for item in value)):
            return True
    return False
