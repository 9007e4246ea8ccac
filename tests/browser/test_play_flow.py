"""Plays in a real browser: a play started from a Worklists selection is created with its control group and
opens on its report. Screenshot "plays" lands in test-artifacts/ for people to look at."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import exception_count, open_page, wait_for_app
from tests.browser.helpers import metric_value, whole_page_screenshot

SLOW = 90_000  # ms: a page that scores and draws on a machine other test runs may be loading


def test_a_play_created_from_a_worklist_opens_on_its_report(page):
    open_page(page, "/worklists")
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(3, timeout=SLOW)
    start = page.get_by_role("button", name="Start a play with the")
    listed = int(start.inner_text().split("the ")[1].split(" ")[0].replace(",", ""))
    start.click()
    wait_for_app(page)
    expect(page.locator("h1").first).to_have_text("Plays", timeout=SLOW)
    expect(page.get_by_text(f"The Worklists selection ({listed} accounts)")).to_be_visible(timeout=SLOW)
    name = page.get_by_label("Name", exact=True)
    name.fill("Sponsor calls for the attention list")
    name.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Create play").click()
    wait_for_app(page)
    expect(page.get_by_text("Play “Sponsor calls for the attention list” created")).to_be_visible(timeout=SLOW)
    treated, control = (int(metric_value(page, f"{g} accounts").replace(",", "")) for g in ("Treated", "Control"))
    assert treated + control == listed and abs(control - 0.2 * listed) <= 4  # ± 1 per band stratum
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(3, timeout=SLOW)
    assert exception_count(page) == 0, page.locator('[data-testid="stException"]').first.inner_text()
    whole_page_screenshot(page, "plays")
