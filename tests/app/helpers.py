"""AppTest helpers the page tests import (``from tests.app.helpers import …``): every page is tested through
app.py (st.navigation), the way a person reaches it."""

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from app_pages.tune_state import Draft, key
from lib import ui
from lib.engine.model import parse_model
from lib.engine.scored_portfolio import attach_attributes
from lib.engine.sql import score

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = ["overview", "trends", "account", "tune", "compare", "validate", "present", "worklists", "data"]


def open_app(page: str | None = None, timeout: float = 120) -> AppTest:
    """Run app.py on the sample workspace and switch to `app_pages/<page>.py` (the default page when None)."""
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    if page is not None:
        at.switch_page(f"app_pages/{page}.py").run()
    return at


def scored_as_shown(at: AppTest) -> pd.DataFrame:
    """The sample scored as the page sees it: its dataset and model version, no filter, all snapshot dates."""
    # The selection the page shows (another test in this process may have saved a newer model version).
    ctx = at.session_state["_ctx"]
    data = ui.workspace().load_dataset(ctx.dataset.name)
    model = parse_model(ctx.model_yaml)
    return attach_attributes(score(model, data.df), data.df, data.roles.segments, list(model.metrics))


def errors(at: AppTest) -> list[str]:
    """Exception messages shown on the page (empty when it rendered cleanly)."""
    return [e.message for e in at.exception]


def number(at, label: str) -> float:
    """The value of the st.metric labelled ``label`` as a number ("1,234" → 1234)."""
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric labelled {label!r}: {[m.label for m in at.metric]}"
    return float(values[0].replace(",", ""))


def draft(at):
    return parse_model(at.session_state[Draft.YAML])


def control(at, *parts) -> str:
    """The widget key of the Tune control bound to the draft that ``parts`` name (at the draft's revision)."""
    return key(*parts, revision=at.session_state[Draft.REVISION])
