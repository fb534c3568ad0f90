"""VerbosityLevel: order and parsing."""

from __future__ import annotations

import pytest

from structlog_events import VerbosityLevel
from structlog_events._verbosity import METHOD_VERBOSITY

ORDER = ["MILESTONE", "DECISION", "ACTION", "STATE", "DETAIL"]


class TestVerbosityLevel:
    def test_order_is_milestone_to_detail(self) -> None:
        """Levels sort from the least verbose (MILESTONE) to the most (DETAIL)."""
        shuffled = [VerbosityLevel.DETAIL, VerbosityLevel.MILESTONE, VerbosityLevel.STATE,
                    VerbosityLevel.ACTION, VerbosityLevel.DECISION]  # fmt: skip
        assert [level.value for level in sorted(shuffled)] == ORDER
        assert [level.rank for level in VerbosityLevel] == [0, 1, 2, 3, 4]

    def test_comparisons_follow_rank_not_alphabet(self) -> None:
        """ACTION < STATE although 'A' < 'S' too; DECISION < ACTION although 'D' > 'A'."""
        assert VerbosityLevel.DECISION < VerbosityLevel.ACTION
        assert VerbosityLevel.DETAIL > VerbosityLevel.STATE
        assert VerbosityLevel.ACTION >= VerbosityLevel.ACTION
        assert VerbosityLevel.ACTION <= VerbosityLevel.STATE

    def test_comparison_with_names_follows_rank(self) -> None:
        """A level compares with level names by rank, in either order, never alphabetically."""
        assert VerbosityLevel.DECISION < "action"
        assert "action" > VerbosityLevel.DECISION
        assert VerbosityLevel.ACTION >= "Action"

    @pytest.mark.parametrize("other", ["loud", 3, None])
    def test_comparison_with_other_values_is_refused(self, other: object) -> None:
        """Comparing a level with a non-level is a TypeError, not an alphabetic answer."""
        with pytest.raises(TypeError, match="compares only with levels"):
            _ = VerbosityLevel.ACTION < other

    @pytest.mark.parametrize("name", ["action", "ACTION", "Action", VerbosityLevel.ACTION])
    def test_parse_accepts_enum_and_names_in_any_case(self, name: object) -> None:
        """parse() takes the enum or its name in any case."""
        assert VerbosityLevel.parse(name) is VerbosityLevel.ACTION  # type: ignore[arg-type]

    def test_parse_unknown_name_lists_valid_names(self) -> None:
        """An unknown name is a ValueError that names every valid level."""
        with pytest.raises(ValueError, match="MILESTONE, DECISION, ACTION, STATE, DETAIL"):
            VerbosityLevel.parse("loud")

    def test_parse_wrong_type(self) -> None:
        """A non-string is a TypeError."""
        with pytest.raises(TypeError, match="verbosity must be"):
            VerbosityLevel.parse(3)  # type: ignore[arg-type]

    def test_method_defaults(self) -> None:
        """debug is DETAIL, info ACTION, warning and above MILESTONE."""
        assert METHOD_VERBOSITY["debug"] is VerbosityLevel.DETAIL
        assert METHOD_VERBOSITY["info"] is VerbosityLevel.ACTION
        for method in ("warning", "error", "critical", "exception"):
            assert METHOD_VERBOSITY[method] is VerbosityLevel.MILESTONE
