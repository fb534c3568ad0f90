"""The README's Python examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def python_blocks() -> list[str]:
    """Every fenced ```python block of the README, in order."""
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.M | re.S)


class TestReadmeExamples:
    def test_all_python_blocks_run_in_order(self, tmp_path: Path) -> None:
        """The README's Python blocks, run one after another in a fresh directory, succeed."""
        blocks = python_blocks()
        assert len(blocks) >= 5
        script = "\n\n".join(blocks)
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "runs" / "sim-42" / "events.jsonl").exists()
        assert "turn_completed" in result.stdout
