"""Present, Worklists and Plays in a real browser: the QBR view renders (normal and full screen), PNG pictures,
the PowerPoint deck and the score CSV download through the page, the worklists render, and a play started from a
Worklists selection is created with its control group and opens on its report. Screenshots "present",
"present-fullscreen", "worklists" and "plays" land in test-artifacts/ for people to look at."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from playwright.sync_api import expect
from pptx import Presentation

from lib.export import png_size
from tests.browser.conftest import exception_count, open_page, screenshot, wait_for_app
from tests.browser.helpers import metric_value, whole_page_screenshot

SLOW = 90_000  # ms: a page that scores and draws on a machine other test runs may be loading
RENDER = 120_000  # ms: the first PNG starts a headless browser inside the server


def open_present(page) -> None:
    open_page(page, "/present")
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(6, timeout=SLOW)
    wait_for_app(page)


def test_present_renders_dated_charts_and_the_account_story_without_exception(page):
    open_present(page)
    assert exception_count(page) == 0, page.locator('[data-testid="stException"]').first.inner_text()
    expect(page.locator("h1").first).to_have_text("Customer health review")
    titles = page.locator('[data-testid="stPlotlyChart"] .gtitle').all_text_contents()  # SVG: no innerText
    assert len(titles) == 6 and all("2026" in t for t in titles), titles
    expect(page.get_by_text("What changed", exact=True)).to_be_visible()
    assert page.dialogs == []
    whole_page_screenshot(page, "present")


def test_full_screen_hides_the_sidebar_and_the_toggle_brings_it_back(page):
    open_present(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar).to_be_visible()
    page.get_by_text("Full screen", exact=True).click()
    wait_for_app(page)
    expect(sidebar).to_be_hidden(timeout=SLOW)
    expect(page.locator('header[data-testid="stHeader"]')).to_be_hidden()
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(6, timeout=SLOW)
    assert exception_count(page) == 0
    screenshot(page, "present-fullscreen")
    page.get_by_text("Full screen", exact=True).click()  # still on the page: the presenter can leave
    wait_for_app(page)
    expect(sidebar).to_be_visible(timeout=SLOW)


def test_png_pictures_deck_and_scores_download_from_the_page(page):
    open_present(page)
    page.get_by_role("button", name="Render PNG pictures").click()
    png_button = page.get_by_role("button", name="PNG", exact=True).first
    png_button.wait_for(timeout=RENDER)
    with page.expect_download() as png:
        png_button.click()
    assert png.value.suggested_filename == "band-mix_default_v1_2026-10-01.png"
    assert png_size(Path(png.value.path()).read_bytes()) == (2400, 1350)

    page.get_by_role("button", name="Build the PowerPoint deck").click()
    deck_button = page.get_by_role("button", name="Download the deck (.pptx)")
    deck_button.wait_for(timeout=RENDER)
    with page.expect_download() as deck:
        deck_button.click()
    assert deck.value.suggested_filename == "qbr-deck_default_v1_2026-10-01.pptx"
    slides = list(Presentation(deck.value.path()).slides)
    assert len(slides) == 8 and slides[-1].shapes.title.text == "Takeaways"
    assert any(shape.shape_type == 13 for shape in slides[1].shapes)  # 13 = picture: the chart, not a table

    with page.expect_download() as scores:
        page.get_by_role("button", name="Scores (CSV)").click()
    assert scores.value.suggested_filename == "health-scores_default_v1_2026-10-01.csv"
    table = pd.read_csv(scores.value.path())
    assert len(table) == 1775 and set(table["model"]) == {"Default"} and set(table["model_version"]) == {"v1"}
    assert exception_count(page) == 0


def test_worklists_render_attention_and_expansion_lists(page):
    open_page(page, "/worklists")
    expect(page.locator("h1").first).to_have_text("Worklists", timeout=SLOW)
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(3, timeout=SLOW)
    assert exception_count(page) == 0, page.locator('[data-testid="stException"]').first.inner_text()
    assert page.dialogs == []
    whole_page_screenshot(page, "worklists")


# Last in the module: the play it creates holds accounts out, so the tests above see the sample as it ships.
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
    # The message comes first in the rerun: under load the report below it can still be the play shown before (the
    # sample's) for a moment. Read the counts once the report is the new play's and nothing on the page is stale.
    expect(page.get_by_role("combobox", name="Play", exact=True)).to_have_value(
        "Sponsor calls for the attention list", timeout=SLOW)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=SLOW)
    wait_for_app(page)
    treated, control = (int(metric_value(page, f"{g} accounts").replace(",", "")) for g in ("Treated", "Control"))
    assert treated + control == listed and abs(control - 0.2 * listed) <= 4  # ± 1 per band stratum
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(3, timeout=SLOW)
    assert exception_count(page) == 0, page.locator('[data-testid="stException"]').first.inner_text()
    whole_page_screenshot(page, "plays")
