"""Helpers the engine's tests import (``from tests.lib.helpers import …``): models, frames, score comparison,
the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from lib.engine.model import Model, model_from_dict

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"


def make_model(metrics: dict, **top) -> Model:
    """A model from a metrics mapping plus any top-level keys (bands default {red: 30, yellow: 70})."""
    return model_from_dict({"name": "Test", "bands": {"red": 30, "yellow": 70}, **top, "metrics": metrics})


def frame(rows: list[dict], start: str = "2025-01-01", freq: str = "MS") -> pd.DataFrame:
    """A canonical portfolio table from rows; ``t`` (0, 1, …) picks the snapshot date, default 0."""
    df = pd.DataFrame(rows)
    if "snapshot_date" not in df:
        dates = pd.date_range(start, periods=int(df.get("t", pd.Series([0])).max()) + 1, freq=freq)
        df["snapshot_date"] = dates[df["t"].to_numpy()] if "t" in df else dates[0]
        df = df.drop(columns=[c for c in ("t",) if c in df])
    df["account_id"] = df["account_id"].astype(str)
    return df


def assert_same_scores(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Two score tables equal row for row (numbers to 1e-9)."""
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False,
                                  rtol=1e-9, atol=1e-9)


def run(*args: str, cwd=ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The command line (``python -m lib.cli …``) run as a user runs it, from ``cwd`` (``env`` added to the
    environment)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}  # so `-m lib.cli` works from any folder
    return subprocess.run([sys.executable, "-m", "lib.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)


def bad(result: subprocess.CompletedProcess) -> str:
    """Assert a clean bad-input exit and return stderr."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    return result.stderr
