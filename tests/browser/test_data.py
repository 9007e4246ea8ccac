"""Data page in a real browser: a CSV chosen in the file chooser becomes a dataset; hostile account names stay
text on the Data, Overview and Account pages; a bad file gets a readable message."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import exception_count, open_page, screenshot, wait_for_app
from tests.browser.helpers import go_to

UPLOAD = Path(__file__).resolve().parents[1] / "fixtures" / "upload"
XSS_NAME = "<img src=x onerror=alert(1)>"
SLOW = 60_000  # ms: a page that scores and draws on a machine other test runs may be loading


def open_data_page(page) -> None:
    open_page(page, "/data")
    expect(sidebar_dataset(page)).to_be_visible(timeout=SLOW)  # through app.py's navigation: the shared sidebar
    page.get_by_text("Portfolio file").wait_for(timeout=SLOW)


def choose_file(page, name: str) -> None:
    """Pick a file in the uploader's file chooser, as a person does."""
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(UPLOAD / name))
    page.get_by_text("the first rows, as text").wait_for()
    wait_for_app(page)


def save_as(page, name: str) -> None:
    field = page.get_by_label("Dataset name")
    field.fill(name)
    field.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Save dataset").click()
    page.get_by_text("Saved:").wait_for()
    wait_for_app(page)


def sidebar_dataset(page):
    return page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Dataset")


def shown_as_text(page, text: str):
    """Elements whose text is exactly ``text`` (the tables' accessible cells, headings, chart labels)."""
    return page.get_by_text(text, exact=True)


def test_csv_chosen_in_the_file_chooser_becomes_the_selected_dataset(page):
    open_data_page(page)
    choose_file(page, "crm_export.csv")
    expect(shown_as_text(page, "Customer ID").first).to_be_attached()  # the role table lists the file's columns
    page.set_viewport_size({"width": 1440, "height": 2400})  # the app scrolls inside its own container
    expect(page.get_by_text("Accounts with no data on")).to_be_visible(timeout=SLOW)
    wait_for_app(page)
    screenshot(page, "data")
    page.set_viewport_size({"width": 1440, "height": 900})

    name = f"CRM export {uuid.uuid4().hex[:6]}"
    save_as(page, name)
    assert page.get_by_text(f"Saved: 8 new rows, 0 replaced (same account and date); 8 rows in '{name}'.").count()
    expect(sidebar_dataset(page)).to_have_value(name)
    expect(shown_as_text(page, name).first).to_be_attached()  # in the dataset list
    assert exception_count(page) == 0


def test_hostile_account_name_is_text_on_data_overview_and_account_pages(page):
    open_data_page(page)
    choose_file(page, "xss_accounts.csv")
    expect(shown_as_text(page, XSS_NAME).first).to_be_attached()  # the preview shows the name as written
    name = f"Hostile names {uuid.uuid4().hex[:6]}"
    save_as(page, name)
    expect(sidebar_dataset(page)).to_have_value(name)

    for title in ("Overview", "Account"):
        go_to(page, title)
        expect(sidebar_dataset(page)).to_have_value(name)
        expect(shown_as_text(page, XSS_NAME).first, f"{title} shows the name as text").to_be_attached(timeout=SLOW)
        assert exception_count(page) == 0, title
    assert page.locator('img[src="x"]').count() == 0  # never rendered as an element
    assert page.dialogs == []  # no script ran


def test_deleting_the_selected_dataset_asks_for_its_name_and_the_sidebar_falls_back(page):
    open_data_page(page)
    choose_file(page, "crm_export.csv")
    name = f"Short-lived {uuid.uuid4().hex[:6]}"
    save_as(page, name)
    expect(sidebar_dataset(page)).to_have_value(name)

    main = page.locator('[data-testid="stMain"]')
    main.get_by_role("combobox", name="Dataset to delete").click()
    page.get_by_role("option", name=name, exact=True).click()
    wait_for_app(page)
    main.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(f"This deletes {name}")).to_be_visible()
    confirm = dialog.get_by_role("button", name="Delete", exact=True)
    expect(confirm).to_be_disabled()
    dialog.get_by_label("Type the dataset's name to confirm").fill(name)
    expect(confirm).to_be_enabled(timeout=SLOW)
    confirm.click()
    expect(page.get_by_text(f"Deleted dataset '{name}'.")).to_be_visible(timeout=SLOW)
    expect(sidebar_dataset(page)).to_have_value("Sample portfolio")
    assert exception_count(page) == 0


def test_bad_file_gets_a_readable_message_and_no_exception(page):
    open_data_page(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(UPLOAD / "header_only.csv"))
    message = page.get_by_text("the file has a header row but no data rows")
    message.wait_for()
    assert "header_only.csv" in message.inner_text()
    assert exception_count(page) == 0
    assert page.get_by_text("Sample portfolio").count() >= 1  # what was saved is still there
