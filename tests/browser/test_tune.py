"""Tune page in a real browser: keyboard on a slider moves the preview; saving selects the new model."""

from __future__ import annotations

import re

from tests.browser.conftest import exception_count, open_page, wait_for_app
from tests.browser.helpers import (
    metric_value,
    pick_model,
    sidebar_model,
    thumbs,
    wait_for_change,
    whole_page_screenshot,
)


def test_keyboard_on_the_red_cut_off_changes_the_band_counts(page):
    open_page(page, "/tune")
    assert exception_count(page) == 0
    reds = metric_value(page, "Red accounts")
    red_thumb = thumbs(page, "Band cut-offs").first
    start = float(red_thumb.input_value())
    red_thumb.focus()
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    after = wait_for_change(page, "Red accounts", reds)
    assert int(after.replace(",", "")) > int(reds.replace(",", ""))
    assert float(thumbs(page, "Band cut-offs").first.input_value()) == start + 8
    assert int(metric_value(page, "Band changes").replace(",", "")) > 0
    assert exception_count(page) == 0


def test_end_key_on_a_metric_threshold_moves_the_preview_and_screenshot(page):
    open_page(page, "/tune")
    average = metric_value(page, "Average score")
    green = thumbs(page, "Green: scores 100 at").first
    green.focus()
    page.keyboard.press("End")  # green to the top of the range: every account short of it scores less
    after = wait_for_change(page, "Average score", average)
    assert float(after) < float(average)
    assert exception_count(page) == 0
    whole_page_screenshot(page, "tune")


def test_save_as_new_model_selects_it_in_the_sidebar(page):
    open_page(page, "/tune")
    red_thumb = thumbs(page, "Band cut-offs").first
    red_thumb.focus()
    reds = metric_value(page, "Red accounts")
    page.keyboard.press("ArrowLeft")
    wait_for_change(page, "Red accounts", reds)
    page.get_by_role("button", name=re.compile("Save as new model")).click()
    page.get_by_label("Name of the new model").fill("Browser draft")
    page.get_by_label("Name of the new model").press("Enter")
    page.get_by_role("button", name="Create model").click()
    page.get_by_text("Saved Browser draft v1.").wait_for(timeout=30_000)
    wait_for_app(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    model = sidebar.locator('[data-testid="stSelectbox"]').filter(has_text="Model").locator("input")
    assert model.input_value() == "Browser draft"
    assert page.get_by_text("Changes vs saved Browser draft v1: 0").count() == 1
    assert exception_count(page) == 0

    # Saved with the sample, it is now the sample's model: a new session (a new page load) opens on it. Picking
    # Default in the sidebar makes Default the sample's model again (and leaves the server as the other tests
    # expect it).
    for expected in ("Browser draft", "Default"):
        open_page(page, "/tune")
        assert sidebar_model(page).input_value() == expected
        if expected == "Browser draft":
            pick_model(page, "Default")


def test_steps_method_and_weights_tab_render_without_errors(page):
    open_page(page, "/tune")
    page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').filter(has_text="Metric").click()
    page.get_by_role("option", name="Open support tickets").click()
    page.get_by_text("Cut 2").wait_for(timeout=30_000)
    wait_for_app(page)
    assert thumbs(page, "Cut 1").count() == 1 and thumbs(page, "Points 3").count() == 1
    page.get_by_role("tab", name="Weights").click()
    page.get_by_text("Support group").wait_for(timeout=30_000)
    assert thumbs(page, "Support group").first.input_value() == "20"
    assert thumbs(page, "Band cut-offs").first.input_value() == "40"
    assert exception_count(page) == 0
    whole_page_screenshot(page, "tune-weights")


def test_uploaded_yaml_is_checked_and_replaces_the_draft(page, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("bands: {red: 80, yellow: 70}\n"
                   "metrics:\n  logins_per_user: {score: {method: linear, red: 1, green: 5}}\n")
    good = tmp_path / "good.yaml"
    good.write_text("name: Logins only\nbands: {red: 30, yellow: 60}\n"
                    "metrics:\n  logins_per_user: {score: {method: linear, red: 1, green: 5}}\n")
    open_page(page, "/tune")
    page.get_by_role("button", name=re.compile("Upload YAML")).click()
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    chooser.set_input_files(str(bad))
    page.get_by_text("must be below yellow (70)").wait_for(timeout=30_000)
    wait_for_app(page)  # the rerun that showed the problem has finished before the next file goes in
    assert exception_count(page) == 0
    chooser.set_input_files(str(good))
    page.get_by_text(re.compile(r"Changes vs saved Default v1: [1-9]")).wait_for(timeout=90_000)
    wait_for_app(page)
    assert float(thumbs(page, "Band cut-offs").first.input_value()) == 30
    assert exception_count(page) == 0


def test_structure_tab_adds_a_metric_from_the_columns_and_screenshot(page):
    open_page(page, "/tune")
    page.get_by_role("tab", name="Structure").click()
    page.get_by_text("Add a metric").wait_for(timeout=30_000)
    page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').filter(has_text="Column").click()
    page.keyboard.type("days_since")  # the list filters to the one column; Enter picks it
    page.keyboard.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Add metric").click()
    page.get_by_text(re.compile(r"Changes vs saved Default v1: [1-9]")).wait_for(timeout=30_000)
    wait_for_app(page)
    whole_page_screenshot(page, "tune-structure")
    label = page.locator('[data-testid="stTextInput"]').filter(has_text="days_since_last_contact").locator("input")
    assert label.input_value() == "days_since_last_contact"  # a new metric is labelled by its column
    column = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').filter(has_text="Column")
    assert "days_since_last_contact" not in column.inner_text()  # the form is empty again
    assert exception_count(page) == 0
    page.locator('[data-testid="stMain"] [data-testid="stButtonGroup"]').get_by_text("Profiles").click()
    page.get_by_text("Add a profile").wait_for(timeout=30_000)
    wait_for_app(page)
    assert exception_count(page) == 0
    whole_page_screenshot(page, "tune-structure-profiles")
