"""Where the repository and the tests are, for tests that run scripts or read committed files."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
