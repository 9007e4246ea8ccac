"""Compare and Validate in a real browser: both open without an exception block, every Validate section
renders, and adopting a suggestion selects the new version in the sidebar. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import exception_count, open_page, screenshot, wait_for_app

COPY = "Validate browser copy"  # adopt into a copy so other browser tests keep finding Default v1 as newest
WAIT = 180_000  # ms: the first visit scores, backtests and draws on a machine other test runs may be loading


def metric_value(tab, label: str) -> str:
    """The text of the st.metric value labelled ``label``."""
    box = tab.locator('[data-testid="stMetric"]').filter(has_text=label).first
    box.wait_for(timeout=WAIT)
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def no_exception(tab) -> None:
    assert exception_count(tab) == 0, tab.locator('[data-testid="stException"]').first.inner_text()
    assert tab.dialogs == []


def whole_page_screenshot(tab, name: str) -> None:
    """Screenshot the whole page: the app scrolls inside its own container, so grow the viewport to fit it."""
    tab.wait_for_timeout(1000)  # the last tables settle before the page is measured
    height = tab.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    tab.set_viewport_size({"width": 1440, "height": max(900, min(int(height) + 40, 8000))})
    tab.wait_for_timeout(800)  # charts re-lay out to the new size
    tab.mouse.move(0, 0)
    screenshot(tab, name)
    tab.set_viewport_size({"width": 1440, "height": 900})


def section(tab, name: str, shows: str) -> None:
    """Switch the Validate page's section and wait until it shows the text ``shows``."""
    tab.locator('[data-testid="stButtonGroup"]').get_by_role("radio", name=name, exact=True).click()
    tab.get_by_text(shows).first.wait_for(timeout=WAIT)
    wait_for_app(tab)


def test_compare_opens_with_its_separation_figures(page):
    open_page(page, "/compare")
    assert re.fullmatch(r"0\.\d\d|1\.00", metric_value(page, "Healthy vs struggling (AUC)"))
    page.locator(".js-plotly-plot").nth(3).wait_for(timeout=WAIT)
    assert page.locator(".js-plotly-plot").count() == 4
    no_exception(page)
    whole_page_screenshot(page, "compare")


def test_validate_opens_and_every_section_renders(page):
    open_page(page, "/validate")
    assert re.fullmatch(r"0\.\d\d|1\.00", metric_value(page, "Backtest AUC"))
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=WAIT)
    no_exception(page)
    whole_page_screenshot(page, "validate")
    for name, shows, shot in (("Metric cohorts", "Bins of", "validate-cohorts"),
                              ("Churn probability", "Odds ratio per metric", "validate-churn"),
                              ("Model A vs B", "Accounts that change band", "validate-a-vs-b")):
        section(page, name, shows)
        no_exception(page)
        whole_page_screenshot(page, shot)
    assert re.fullmatch(r"[\d,]+", metric_value(page, "Accounts that change band"))


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


def test_selecting_a_misfit_opens_that_account(page):
    page.set_viewport_size({"width": 1440, "height": 3000})  # the whole page in view: no scrolling needed
    open_page(page, "/compare")
    page.get_by_text("Struggling but green (").wait_for(timeout=WAIT)
    grid = page.locator('[data-testid="stDataFrame"]').last
    grid.wait_for(timeout=WAIT)
    page.wait_for_timeout(1000)
    box = grid.bounding_box()  # the struggling-but-green table
    for _ in range(4):  # the grid draws on a canvas that may still be laying out: repeat a click that missed
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # first row's selection box, below the header
        try:
            page.wait_for_url(re.compile(r".*/account$"), timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    assert page.url.endswith("/account"), "selecting a misfit opens the Account page"
    wait_for_app(page)
    picker = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first.locator("input")
    assert picker.input_value().endswith("· ACC-00103")  # the sample's most surprising struggling-but-green
    no_exception(page)
