"""Every page, opened in a real browser on the sample, renders its title with no exception block and no JavaScript
dialog; Overview, Trends and Account draw their charts, and a row of the Overview's at-risk table opens that
account. Screenshots go to test-artifacts/ for people to look at."""

import pytest

from tests.app.helpers import PAGES
from tests.browser.conftest import exception_count, open_page, screenshot, wait_for_app
from tests.browser.helpers import open_row_on_account_page, whole_page_screenshot

CHARTS = {"overview": 2, "trends": 3, "account": 4}  # Overview: ARR by band + the open view


@pytest.mark.parametrize("name", [p for p in PAGES if p not in CHARTS])  # the others: below, with their charts
def test_page_opens_in_browser_without_exception(page, name):
    open_page(page, f"/{name}")
    title = page.locator("h1").first
    title.wait_for(timeout=90_000)
    assert title.inner_text().strip(), "the page shows a title"
    assert exception_count(page) == 0, page.locator('[data-testid="stException"]').first.inner_text()
    assert page.dialogs == []
    screenshot(page, f"page-{name}")


@pytest.mark.parametrize("name", ["overview", "trends", "account"])
def test_page_opens_without_exception_and_draws_its_charts(page, name):
    open_page(page, "/" if name == "overview" else f"/{name}")
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {CHARTS[name]}",
                           timeout=60_000)
    assert exception_count(page) == 0
    assert page.dialogs == []
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    path = whole_page_screenshot(page, name)
    assert path.stat().st_size > 50_000, "the screenshot shows a drawn page"


def picked_account(page) -> str:
    """The Account page's picker text ('Name · ACC-00017')."""
    box = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first
    inputs = box.locator("input")
    return box.inner_text() + " " + " ".join(inputs.nth(i).input_value() for i in range(inputs.count()))


def test_at_risk_row_opens_that_account_on_the_account_page(page):
    page.set_viewport_size({"width": 1440, "height": 3200})  # the whole Overview in view: no scrolling needed
    open_page(page, "/account")
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stSelectbox"]', timeout=60_000)
    default = picked_account(page)
    open_page(page, "/")
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stDataFrame\"]').length >= 2",
                           timeout=60_000)
    # Both charts above the table drawn (three SVG layers each), so the table no longer moves.
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6", timeout=60_000)
    # The second row: the first is the account the Account page opens on anyway.
    open_row_on_account_page(page, page.locator('[data-testid="stDataFrame"]').last, 2)
    assert exception_count(page) == 0 and page.dialogs == []
    chosen = picked_account(page)
    assert " · ACC-" in chosen and chosen != default, (chosen, default)


def test_note_with_markup_stays_text_and_an_override_shows_on_the_score(page):
    page.set_viewport_size({"width": 1440, "height": 3600})
    open_page(page, "/account")
    page.wait_for_selector('textarea[aria-label="Note"]', timeout=60_000)
    page.locator('textarea[aria-label="Note"]').fill("<img src=x onerror=alert(1)> called about renewal")
    page.get_by_role("button", name="Add note").click()
    wait_for_app(page)
    page.locator('input[aria-label="Score (0–100)"]').fill("80")
    page.locator('input[aria-label="Reason (required)"]').fill("Renewal signed for three years")
    page.get_by_role("button", name="Set override").click()
    wait_for_app(page)
    page.get_by_text("Override set").wait_for(timeout=30_000)
    card = page.locator('[data-testid="stMetric"]').first.inner_text()
    assert "Score → override" in card and "→ 80" in card, card
    assert page.locator('img[src="x"]').count() == 0 and page.dialogs == []
    assert exception_count(page) == 0
    screenshot(page, "account-override")
    page.get_by_role("button", name="Remove override").click()  # leave the shared workspace as it was
    wait_for_app(page)
    page.get_by_text("Override removed").wait_for(timeout=30_000)


def test_overview_views_switch_to_the_chart_picked(page):
    """The chart views are lazy tabs: picking one runs and draws that chart in place of the previous one."""
    open_page(page, "/")
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6", timeout=60_000)
    titles = "[...document.querySelectorAll('.js-plotly-plot .gtitle')].map(t => t.textContent).join('|')"
    assert "Accounts per band over time" in page.evaluate(f"() => {titles}")
    page.get_by_role("tab", name="Movers").click()
    # The previous view's chart is removed once the rerun finishes: wait for that, under any load.
    switched = (f"({titles}).includes('Biggest falls and rises') && ({titles}).includes('ARR by band') "
                f"&& !({titles}).includes('Accounts per band over time')")
    page.wait_for_function(f"() => {switched}", timeout=60_000)
    wait_for_app(page)
    shown = page.evaluate(f"() => {titles}")
    assert "Accounts per band over time" not in shown and "ARR by band" in shown
    assert exception_count(page) == 0 and page.dialogs == []
