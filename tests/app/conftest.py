"""AppTest fixtures; the helpers the page tests import live in tests/app/helpers.py."""

import functools

import pandas as pd
import pytest
from streamlit.components.v2 import manifest_scanner
from streamlit.testing.v1 import AppTest

from tests.app.helpers import open_app, scored_as_shown

# Each new AppTest scans every installed package's metadata for Streamlit components (about 0.5 s, and the page
# tests make about a hundred AppTests). The installed packages do not change during a test run, so the scan's
# answer is read once per process and each AppTest gets its own copy of it.
_scan_once = functools.cache(manifest_scanner.scan_component_manifests)
manifest_scanner.scan_component_manifests = lambda *args, **kwargs: list(_scan_once(*args, **kwargs))


@pytest.fixture
def app():
    return open_app


@pytest.fixture(scope="module")
def sample(at: AppTest) -> tuple[pd.DataFrame, pd.Timestamp]:
    """:func:`scored_as_shown` for the test module's own ``at`` fixture (its page), and the latest snapshot date."""
    scored = scored_as_shown(at)
    return scored, scored["snapshot_date"].max()
