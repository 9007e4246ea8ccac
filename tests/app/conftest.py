"""AppTest fixtures; the helpers the page tests import live in tests/app/helpers.py."""

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.helpers import open_app, scored_as_shown


@pytest.fixture
def app():
    return open_app


@pytest.fixture(scope="module")
def sample(at: AppTest) -> tuple[pd.DataFrame, pd.Timestamp]:
    """:func:`scored_as_shown` for the test module's own ``at`` fixture (its page), and the latest snapshot date."""
    scored = scored_as_shown(at)
    return scored, scored["snapshot_date"].max()
