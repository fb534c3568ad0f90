"""Tests for laying out a stored exception as Python prints it."""

from __future__ import annotations

import traceback
from typing import Any

from hypothesis import given
from structlog.tracebacks import ExceptionDictTransformer

from structlog_events._traceback import traceback_lines

from .strategies import json_values

#: Code compiled under a name linecache cannot find: Python prints its frames
#: without source lines, as the stored form has none, so the two compare equal.
GENERATED = """
def recurse(n):
    if n == 0:
        raise ValueError("inner\\nsecond line")
    recurse(n - 1)

def chained():
    try:
        try:
            recurse(6)
        except ValueError as error:
            raise KeyError("middle") from error
    except KeyError:
        noted = RuntimeError("outer")
        noted.add_note("a note")
        noted.add_note("and another\\nover two lines")
        raise noted

def grouped():
    try:
        raise OSError("deep")
    except OSError:
        raise ExceptionGroup("inner group", [TypeError("t"), ValueError("")])

def syntax():
    compile("x = (1 +\\n", "<cell>", "exec")

def caught(function):
    try:
        function()
    except BaseException as error:
        return error

def group_of_all():
    members = [
        caught(chained), caught(grouped), caught(syntax), ArithmeticError(), caught(grouped)
    ]
    return caught(lambda: exec("raise ExceptionGroup('all', members)", {"members": members}))
"""


def generated() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(GENERATED, "<generated>", "exec"), namespace)
    return namespace


def stored(error: BaseException, **options: Any) -> Any:
    """The exception as the writer stores it: structlog's dict form."""
    transform = ExceptionDictTransformer(show_locals=False, **options)
    return transform((type(error), error, error.__traceback__))


def printed(error: BaseException) -> list[str]:
    """The exception as Python prints it, one string per line."""
    return "".join(traceback.format_exception(error)).rstrip("\n").split("\n")


class TestStructuredForm:
    def test_chain_is_laid_out_as_python_prints_it(self) -> None:
        """Causes and contexts, root first; notes, multi-line values, repeated frames counted."""
        code = generated()
        error = code["caught"](code["chained"])
        lines = traceback_lines(stored(error))
        assert lines == printed(error)
        assert "The above exception was the direct cause of the following exception:" in lines
        assert "During handling of the above exception, another exception occurred:" in lines
        assert "  [Previous line repeated 3 more times]" in lines

    def test_exception_groups_are_framed_as_python_frames_them(self) -> None:
        """Members numbered in +/| frames, nested groups and members' own chains included."""
        error = generated()["group_of_all"]()
        lines = traceback_lines(stored(error))
        assert lines == printed(error)
        assert "  +-+---------------- 1 ----------------" in lines
        assert "    +-+---------------- 1 ----------------" in lines  # the nested group
        assert "    | ArithmeticError" in lines
        # A nested group last in its group closes both frames with its own closing line.
        assert lines[-2:] == ["      | ValueError", "      +------------------------------------"]

    def test_syntax_error_shows_the_code_and_a_caret(self) -> None:
        """A SyntaxError shows its file, line, code and column as Python shows them."""
        code = generated()
        error = code["caught"](code["syntax"])
        lines = traceback_lines(stored(error))
        assert lines == printed(error)
        assert lines is not None
        assert lines[-3:] == ["    x = (1 +", "        ^", "SyntaxError: '(' was never closed"]

    def test_locals_and_cut_frames_are_shown(self) -> None:
        """Locals (show_locals=True) follow their frame; a max_frames cut is marked."""
        code = generated()
        error = code["caught"](lambda: code["recurse"](10))
        transform = ExceptionDictTransformer(show_locals=True, max_frames=4)
        lines = traceback_lines(transform((type(error), error, error.__traceback__)))
        assert lines is not None
        assert "    n = 0" in lines
        assert "  [Skipped frames: 9]" in lines


class TestOtherForms:
    def test_text_is_split_into_its_lines(self) -> None:
        """format_exc_info or stdlib text comes back as its lines, Windows ends included."""
        text = "Traceback (most recent call last):\r\n  File 'x', line 1\r\nValueError: v\n"
        assert traceback_lines(text) == [
            "Traceback (most recent call last):",
            "  File 'x', line 1",
            "ValueError: v",
        ]

    def test_values_of_other_shapes_are_not_exc_info(self) -> None:
        """An empty text, a dict, a list of other things or a broken member is None."""
        broken_member = [{"exc_type": "ExceptionGroup", "is_group": True, "exceptions": [[1]]}]
        values: list[object] = ["", "\n", {}, [], [1], [{"frames": []}], 3, None, broken_member]
        for value in values:
            assert traceback_lines(value) is None, value

    @given(value=json_values)
    def test_any_stored_value_is_laid_out_or_refused_never_raises(self, value: Any) -> None:
        """Whatever a file holds under exception, laying it out gives lines or None."""
        lines = traceback_lines(value)
        assert lines is None or all(isinstance(line, str) for line in lines)

    @given(value=json_values)
    def test_any_value_in_a_stack_field_never_raises(self, value: Any) -> None:
        """Odd values in every field of an exception dictionary are shown, never raised on."""
        stack = {
            "exc_type": "E",
            "exc_value": value,
            "exc_notes": [value],
            "syntax_error": {"line": value, "offset": value, "lineno": value},
            "frames": [{"filename": value, "lineno": value, "name": value, "locals": value}],
            "is_group": True,
            "exceptions": [],
        }
        lines = traceback_lines([stack])
        assert lines is not None
        assert lines[0].endswith("Exception Group Traceback (most recent call last):")
