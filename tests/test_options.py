"""Option checking: one style of message, naming the option and what is valid."""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Any

import pytest

from structlog_events import VerbosityLevel, WriteMode
from structlog_events._options import (
    directory_path,
    levels_by_event_type,
    parse_choice,
    positive_int,
)


class TestPositiveInt:
    def test_any_option_name_and_unit(self) -> None:
        """An option the checker has never heard of gets its own name and unit in the message."""
        with pytest.raises(ValueError, match="batch must be a positive number of lines, not 0"):
            positive_int(0, "batch", "lines")
        assert positive_int(3, "batch", "lines") == 3

    @pytest.mark.parametrize("value", [1.0, "1", True, None])
    def test_wrong_type_is_a_type_error(self, value: Any) -> None:
        """Anything but an int, a bool included, is a TypeError naming the option."""
        with pytest.raises(TypeError, match="batch must be an int"):
            positive_int(value, "batch", "lines")


class TestParseChoice:
    @pytest.mark.parametrize("value", ["SYNC", "sync", WriteMode.SYNC])
    def test_member_value_or_name(self, value: Any) -> None:
        """A member, its value or its name in any case gives the member."""
        assert parse_choice(WriteMode, value, "mode") is WriteMode.SYNC

    def test_not_a_string_is_a_type_error(self) -> None:
        """A value of another type is a TypeError listing the valid choices."""
        with pytest.raises(
            TypeError, match=r"mode must be one of 'sync', 'async' \(or WriteMode\)"
        ):
            parse_choice(WriteMode, ["sync"], "mode")


class TestLevelsByEventType:
    def test_names_and_levels(self) -> None:
        """A mapping of names and levels in any case becomes levels; None is empty."""
        assert levels_by_event_type({"a": "milestone", "b": VerbosityLevel.DETAIL}, "o") == {
            "a": VerbosityLevel.MILESTONE,
            "b": VerbosityLevel.DETAIL,
        }
        assert levels_by_event_type(None, "o") == {}

    def test_a_list_names_the_fix(self) -> None:
        """A list (a common slip for a mapping) is a TypeError showing the expected form."""
        with pytest.raises(TypeError, match=r"such as \{'turn_completed': 'MILESTONE'\}"):
            levels_by_event_type(["x"], "event_verbosity")


class TestDirectoryPath:
    def test_str_and_path_like(self, tmp_path: Path) -> None:
        """A str or any os.PathLike text path is accepted as a Path."""
        assert directory_path(str(tmp_path), "d") == tmp_path
        assert directory_path(PurePath("a") / "b", "d") == Path("a/b")
