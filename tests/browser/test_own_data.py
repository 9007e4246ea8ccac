"""Own data, first to last, in a real browser: from an empty workspace, a CRM export whose names match nothing
in the sample is uploaded and saved, Start a model → Create model makes version 1, and Overview shows bands, a
Tune slider moves the preview and Validate shows a backtest AUC — no YAML touched."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests import foreign
from tests.browser.conftest import exception_count, serve, wait_for_app
from tests.browser.helpers import go_to, metric_value, thumbs, wait_for_change, whole_page_screenshot

SLOW = 60_000  # ms


@pytest.fixture(scope="module")
def empty_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a workspace of its own with no sample in it: what a team's first deployment looks like."""
    tmp = tmp_path_factory.mktemp("own-data")
    with serve(tmp / "workspace.duckdb", tmp / "streamlit.log", env={"HSS_SAMPLE": "0"}) as url:
        yield url


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory):
    return foreign.write_foreign_csv(tmp_path_factory.mktemp("export") / "acme_crm_export.csv", accounts=500,
                                     snapshots=12)


@pytest.fixture
def tab(browser, empty_app):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=empty_app)
    page = context.new_page()
    yield page
    context.close()


def test_a_foreign_export_goes_from_upload_to_bands_tune_and_backtest_without_yaml(tab, export):
    tab.goto("/")
    wait_for_app(tab)
    expect(tab.get_by_text("There is no dataset to show yet.")).to_be_visible(timeout=SLOW)
    go_to(tab, "Data")
    tab.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(export))
    tab.get_by_text("the first rows, as text").wait_for(timeout=SLOW)
    wait_for_app(tab)
    expect(tab.get_by_text(foreign.LOGINS, exact=True).first).to_be_attached()  # the file's own names
    field = tab.get_by_label("Dataset name")
    field.fill("Acme export")
    field.press("Enter")
    wait_for_app(tab)
    tab.get_by_role("button", name="Save dataset").click()
    tab.get_by_text("Saved:").wait_for(timeout=SLOW)
    wait_for_app(tab)
    assert exception_count(tab) == 0

    expect(tab.get_by_text("has no model yet")).to_be_visible(timeout=SLOW)
    tab.get_by_role("button", name="Start a model", exact=True).click()
    expect(tab.get_by_role("heading", name="Start a model")).to_be_visible(timeout=SLOW)
    wait_for_app(tab)
    expect(tab.get_by_text("AUC").first).to_be_attached()
    whole_page_screenshot(tab, "start_a_model")
    assert exception_count(tab) == 0
    tab.get_by_role("button", name="Create model", exact=True).click()

    expect(tab.get_by_role("heading", name="Tune", exact=True)).to_be_visible(timeout=SLOW)
    expect(tab.get_by_text("Created Acme export health v1")).to_be_visible(timeout=SLOW)
    wait_for_app(tab)
    reds = metric_value(tab, "Red accounts", SLOW)
    thumb = thumbs(tab, "Band cut-offs").first
    thumb.focus()
    for _ in range(10):
        tab.keyboard.press("ArrowRight")
    after = wait_for_change(tab, "Red accounts", reds)
    assert int(after.replace(",", "")) > int(reds.replace(",", ""))
    whole_page_screenshot(tab, "tune_own_data")
    assert exception_count(tab) == 0

    go_to(tab, "Overview")
    for band in ("Accounts red",):
        assert re.fullmatch(r"\d+(\.\d)?%", metric_value(tab, band, SLOW))
    expect(tab.get_by_text("does not fit")).to_have_count(0)
    whole_page_screenshot(tab, "overview_own_data")
    assert exception_count(tab) == 0

    go_to(tab, "Validate")
    assert re.fullmatch(r"0\.\d\d|1\.00", metric_value(tab, "Backtest AUC", SLOW))
    assert exception_count(tab) == 0
