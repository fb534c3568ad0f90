"""The package's import: POSIX only, and saying so on Windows."""

from __future__ import annotations

import subprocess
import sys
import textwrap


class TestPlatform:
    def test_import_on_windows_fails_with_a_clear_message(self) -> None:
        """Imported where sys.platform is win32, it raises ImportError saying POSIX only."""
        script = textwrap.dedent(
            """
            import sys
            sys.platform = "win32"
            try:
                import structlog_events
            except ImportError as error:
                print(error)
                print("fcntl" in sys.modules)
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
        )
        message, fcntl_imported = result.stdout.splitlines()
        assert "POSIX systems only (Linux, macOS)" in message
        assert fcntl_imported == "False", "the check must come before fcntl is imported"

    def test_classifiers_name_the_supported_systems(self) -> None:
        """The package metadata says POSIX, Linux and macOS, and no other system."""
        from importlib.metadata import metadata

        classifiers = metadata("structlog-events").get_all("Classifier") or []
        systems = sorted(c for c in classifiers if c.startswith("Operating System"))
        assert systems == [
            "Operating System :: MacOS",
            "Operating System :: POSIX",
            "Operating System :: POSIX :: Linux",
        ]
