"""Every page, opened in a real browser on the sample, renders its title with no exception block and no
JavaScript dialog. Screenshots land in test-artifacts/ for people to look at."""

import pytest

from tests.app.helpers import PAGES
from tests.browser.conftest import exception_count, open_page, screenshot

# Overview, Trends and Account are opened with their charts drawn in test_portfolio_pages.py.
DRAWN_ELSEWHERE = {"overview", "trends", "account"}


@pytest.mark.parametrize("name", [p for p in PAGES if p not in DRAWN_ELSEWHERE])
def test_page_opens_in_browser_without_exception(page, name):
    open_page(page, "/" if name == "overview" else f"/{name}")
    title = page.locator("h1").first
    title.wait_for(timeout=90_000)
    assert title.inner_text().strip(), "the page shows a title"
    assert exception_count(page) == 0, page.locator('[data-testid="stException"]').first.inner_text()
    assert page.dialogs == []
    screenshot(page, f"page-{name}")
