"""Fixtures for the engine's tests; the plain helpers they import live in tests/lib/helpers.py."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)
