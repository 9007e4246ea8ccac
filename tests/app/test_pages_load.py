"""Every page opens on the sample portfolio without an exception, with the shared sidebar in place."""

import pytest

from tests.app.helpers import PAGES, errors, open_app


@pytest.mark.parametrize("page", PAGES)
def test_page_opens_on_the_sample_without_exception(page):
    at = open_app(page)
    assert not errors(at), errors(at)
    assert at.title, f"app_pages/{page}.py shows no title"


def test_sidebar_offers_sample_dataset_default_model_and_latest_date():
    at = open_app()
    assert at.sidebar.selectbox(key="ctx.dataset").value == "Sample portfolio"
    assert at.sidebar.selectbox(key="ctx.model").value == "Default"
    assert at.sidebar.selectbox(key="ctx.version").value == 1
    dates = at.sidebar.select_slider(key="ctx.as_of")
    assert dates.value == "2026-10-01"
