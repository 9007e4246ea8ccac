"""Test-wide set-up: every test process gets its own throwaway workspace, never data/workspace.duckdb."""

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Set before any lib module reads it; pytest-xdist workers each import this file, so each gets its own.
os.environ["HSS_WORKSPACE"] = str(Path(tempfile.mkdtemp(prefix="hss-test-")) / "workspace.duckdb")

# Never a timed assertion: Hypothesis' per-example deadline fails a correct test on a busy shared machine.
from hypothesis import settings  # noqa: E402 - after the environment is set

settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")
