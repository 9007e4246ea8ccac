"""Compare and Validate in a real browser: both open without an exception block, every Validate section
renders, and adopting a suggestion selects the new version in the sidebar. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

from tests.browser.conftest import exception_count, open_page, wait_for_app
from tests.browser.helpers import metric_value, open_row_on_account_page, pick_model, whole_page_screenshot

COPY = "Validate browser copy"  # adopt into a copy so other browser tests keep finding Default v1 as newest
WAIT = 180_000  # ms: the first visit scores, backtests and draws on a machine other test runs may be loading


def no_exception(tab) -> None:
    assert exception_count(tab) == 0, tab.locator('[data-testid="stException"]').first.inner_text()
    assert tab.dialogs == []


def section(tab, name: str, shows: str) -> None:
    """Switch the Validate page's section and wait until it shows the text ``shows``."""
    tab.locator('[data-testid="stButtonGroup"]').get_by_role("radio", name=name, exact=True).click()
    tab.get_by_text(shows).first.wait_for(timeout=WAIT)
    wait_for_app(tab)


def test_compare_opens_with_its_separation_figures(page):
    open_page(page, "/compare")
    assert re.fullmatch(r"0\.\d\d|1\.00", metric_value(page, "Healthy vs struggling (AUC)", WAIT))
    page.locator(".js-plotly-plot").nth(3).wait_for(timeout=WAIT)
    assert page.locator(".js-plotly-plot").count() == 4
    no_exception(page)
    whole_page_screenshot(page, "compare")


def test_validate_opens_and_every_section_renders(page):
    open_page(page, "/validate")
    assert re.fullmatch(r"0\.\d\d|1\.00", metric_value(page, "Backtest AUC", WAIT))
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=WAIT)
    no_exception(page)
    whole_page_screenshot(page, "validate")
    for name, shows, shot in (("Metric cohorts", "Bins of", "validate-cohorts"),
                              ("Churn probability", "Odds ratio per metric", "validate-churn"),
                              ("Model A vs B", "Accounts that change band", "validate-a-vs-b")):
        section(page, name, shows)
        no_exception(page)
        whole_page_screenshot(page, shot)
    assert re.fullmatch(r"[\d,]+", metric_value(page, "Accounts that change band", WAIT))


def test_adopting_a_suggestion_selects_the_new_version_in_the_sidebar(page):
    open_page(page, "/tune")  # save a copy of Default through the app, then stay in this session
    page.get_by_role("button", name=re.compile("Save as new model")).click()
    page.get_by_label("Name of the new model").fill(COPY)
    page.get_by_label("Name of the new model").press("Enter")
    page.get_by_role("button", name="Create model").click()
    page.get_by_text(f"Saved {COPY} v1.").wait_for(timeout=30_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Validate").click()
    wait_for_app(page)
    section(page, "Suggest", "Proposes thresholds")
    page.get_by_role("button", name="Suggest thresholds and weights").click()
    page.get_by_role("button", name=f"Adopt as a new version of {COPY}").wait_for(timeout=WAIT)
    wait_for_app(page)
    no_exception(page)
    whole_page_screenshot(page, "validate-suggest")
    page.get_by_role("button", name=f"Adopt as a new version of {COPY}").click()
    page.get_by_text(f"Adopted as {COPY} v2").wait_for(timeout=30_000)
    wait_for_app(page)
    version = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Version")
    assert version.locator("input").input_value().startswith("v2 · Suggested from outcomes")
    no_exception(page)
    pick_model(page, "Default")  # adopting made the copy the sample's model; the other tests expect Default


def test_selecting_a_misfit_opens_that_account(page):
    page.set_viewport_size({"width": 1440, "height": 3000})  # the whole page in view: no scrolling needed
    open_page(page, "/compare")
    page.get_by_text("Struggling but green (").wait_for(timeout=WAIT)
    grid = page.locator('[data-testid="stDataFrame"]').last  # the struggling-but-green table
    grid.wait_for(timeout=WAIT)
    # The page's four charts drawn, so nothing above the table moves it any more.
    page.wait_for_function("(p => p.length >= 4 && p.every(c => c.querySelector('.main-svg')))"
                           "([...document.querySelectorAll('.js-plotly-plot')])", timeout=WAIT)
    open_row_on_account_page(page, grid, 1)
    picker = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first.locator("input")
    assert picker.input_value().endswith("· ACC-01123")  # the sample's most surprising struggling-but-green
    no_exception(page)
