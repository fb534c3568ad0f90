"""structured_exception: a record's exc_info as structlog's dict_tracebacks renders it."""

from __future__ import annotations

import sys
from typing import Any, TypeVar

import pytest
import structlog
from structlog.tracebacks import ExceptionDictTransformer

from structlog_events._exc_info import structured_exception

#: The keys of each exception's dict, as structlog's ``dict_tracebacks`` writes them.
SHAPE = {
    "exc_type", "exc_value", "exc_notes", "syntax_error", "is_cause", "frames", "is_group",
    "exceptions",
}  # fmt: skip


E = TypeVar("E", bound=BaseException)


def raised(error: E) -> E:
    """*error*, raised and caught, so it carries a traceback."""
    try:
        raise error
    except BaseException:
        return error


def dict_tracebacks_without_locals(exc_info: Any) -> Any:
    """What structlog's own ``dict_tracebacks`` processor writes, locals off."""
    renderer = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
    return renderer(None, "error", {"exc_info": exc_info})["exception"]


class TestStructuredException:
    def test_exactly_what_dict_tracebacks_writes(self) -> None:
        """The traceback equals structlog's dict_tracebacks output, key for key."""
        error = raised(KeyError("k"))
        ours = structured_exception(error)
        assert ours == dict_tracebacks_without_locals(error)
        assert ours is not None
        [stack] = ours
        assert set(stack) == SHAPE
        assert (stack["exc_type"], stack["exc_value"]) == ("KeyError", "'k'")
        assert stack["frames"][-1]["name"] == "raised"
        assert set(stack["frames"][-1]) == {"filename", "lineno", "name"}

    def test_true_an_instance_and_a_tuple_give_the_same_traceback(self) -> None:
        """exc_info=True inside except, the exception, and sys.exc_info() all render alike."""
        try:
            raise ValueError("boom")
        except ValueError as error:
            forms = [structured_exception(True), structured_exception(error)]
            forms.append(structured_exception(sys.exc_info()))
        assert forms[0] == forms[1] == forms[2]
        assert forms[0] is not None
        assert forms[0][0]["exc_value"] == "boom"

    @pytest.mark.parametrize("exc_info", [False, None, 0, True, (None, None, None)])
    def test_nothing_when_no_exception_is_meant(self, exc_info: Any) -> None:
        """A false exc_info, or True outside an except block, stands for no exception."""
        assert structured_exception(exc_info) is None

    def test_causes_and_contexts_follow(self) -> None:
        """A cause (raise ... from) and a context (raised while handling) each get a stack."""
        try:
            try:
                raise OSError("disk")
            except OSError as cause:
                raise RuntimeError("save failed") from cause
        except RuntimeError as error:
            caused = structured_exception(error)
        try:
            try:
                raise OSError("disk")
            except OSError:
                raise RuntimeError("cleanup failed")  # noqa: B904 - the context is the point
        except RuntimeError as error:
            in_context = structured_exception(error)
        assert caused is not None
        assert in_context is not None
        assert [(s["exc_type"], s["is_cause"]) for s in caused] == [
            ("RuntimeError", False),
            ("OSError", True),
        ]
        assert [(s["exc_type"], s["is_cause"]) for s in in_context] == [
            ("RuntimeError", False),
            ("OSError", False),
        ]

    def test_exception_group_members(self) -> None:
        """An ExceptionGroup is marked and lists each member's own traceback."""
        group = raised(ExceptionGroup("two", [raised(KeyError("a")), raised(ValueError("b"))]))
        result = structured_exception(group)
        assert result is not None
        [stack] = result
        assert stack["is_group"] is True
        assert [member[0]["exc_type"] for member in stack["exceptions"]] == [
            "KeyError",
            "ValueError",
        ]

    def test_notes_are_kept(self) -> None:
        """Notes added with add_note() are in exc_notes."""
        error = ValueError("v")
        error.add_note("while parsing line 3")
        result = structured_exception(raised(error))
        assert result is not None
        assert result[0]["exc_notes"] == ["while parsing line 3"]


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class WorseError(Exception):
    """An exception whose ``__str__`` raises an exception that cannot be printed either."""

    def __str__(self) -> str:
        raise Unprintable

    __repr__ = __str__


class TestUnprintableExceptions:
    def test_str_and_repr_that_raise(self) -> None:
        """An exception whose __str__ and __repr__ raise still gives its type and frames."""
        result = structured_exception(raised(Unprintable()))
        assert result is not None
        assert result[0]["exc_type"] == "Unprintable"
        assert result[0]["exc_value"].startswith("<str-error")
        assert result[0]["frames"][-1]["name"] == "raised"

    def test_str_raising_an_unprintable_error(self) -> None:
        """Even when the error out of __str__ cannot be printed, the traceback is there."""
        result = structured_exception(raised(WorseError()))
        assert result is not None
        [stack] = result
        assert set(stack) == SHAPE
        assert stack["exc_type"] == "WorseError"
        assert "WorseError could not be turned into text" in stack["exc_value"]
        assert stack["frames"][-1]["name"] == "raised"

    def test_notes_that_are_not_a_list(self) -> None:
        """A __notes__ attribute that is not a list of notes does not lose the traceback."""
        error = ValueError("v")
        error.__notes__ = 42  # type: ignore[assignment]
        result = structured_exception(raised(error))
        assert result is not None
        assert result[0]["exc_type"] == "ValueError"
        assert result[0]["frames"][-1]["name"] == "raised"
