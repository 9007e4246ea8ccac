"""Page actions shared by the browser tests: read an st.metric, take a whole-page screenshot, open an account
from a table row, follow the sidebar's navigation, move a slider. (Fixtures and server set-up stay in
conftest.py.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, wait_for_app

WIDTH, HEIGHT = 1440, 900  # the page fixture's window
MAX_HEIGHT = 8000  # px: the tallest window a whole-page screenshot grows to
GRID_HEADER = GRID_ROW = 35  # px: st.dataframe's header and row heights


def metric_value(tab, label: str, timeout: float = 30_000) -> str:
    """The text of the st.metric value labelled ``label`` (waits up to ``timeout`` ms for the metric)."""
    box = tab.locator('[data-testid="stMetric"]').filter(has=tab.get_by_text(label, exact=True)).first
    box.wait_for(timeout=timeout)
    return box.locator('[data-testid="stMetricValue"]').inner_text()


_CONTENT_HEIGHT = ("Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], "
                   "[data-testid=\"stMainBlockContainer\"]')].map(e => e.scrollHeight), 0)")
# What moves while the page still lays out: its height, and each chart's and table's drawn size.
_LAYOUT = (f"[{_CONTENT_HEIGHT}, ...[...document.querySelectorAll('.js-plotly-plot .main-svg, "
           "[data-testid=\"stDataFrame\"] canvas')].map(e => `${e.getAttribute('width')}x${e.getAttribute('height')}`)"
           "].join('|')")


def _settled(tab, read: Callable[[], object], interval_ms: int = 250, timeout_ms: int = 5_000):
    """What ``read()`` returns once it is the same on two reads ``interval_ms`` apart (at most ``timeout_ms``):
    waits as long as the page is still drawing rather than a fixed time."""
    value = read()
    for _ in range(timeout_ms // interval_ms):
        tab.wait_for_timeout(interval_ms)
        again = read()
        if again == value:
            return value
        value = again
    return value


def whole_page_screenshot(tab, name: str) -> Path:
    """Screenshot the whole page under test-artifacts/: the app scrolls inside its own container, so the window
    first grows to the content's height (at most `MAX_HEIGHT`), then goes back to 1440×900."""
    height = _settled(tab, lambda: tab.evaluate(_CONTENT_HEIGHT))  # the last tables and charts have drawn
    tab.set_viewport_size({"width": WIDTH, "height": max(HEIGHT, min(int(height) + 40, MAX_HEIGHT))})
    _settled(tab, lambda: tab.evaluate(_LAYOUT))  # charts and tables re-lay out to the new size
    tab.mouse.move(0, 0)  # no hover label in the picture
    path = screenshot(tab, name)
    tab.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    return path


def _settled_box(tab, locator) -> dict:
    """The locator's bounding box once it stops moving: charts above a table finish drawing late under load
    and push it down, and a click computed from an earlier box lands on the wrong row."""
    return _settled(tab, locator.bounding_box, timeout_ms=10_000)


def open_row_on_account_page(tab, grid, row: int, tries: int = 4) -> None:
    """Select data row ``row`` (1 = the first) of the st.dataframe ``grid`` (a locator) and wait for the Account
    page that the selection opens.

    The grid draws on a canvas that may still be laying out under load, so a click that selected nothing (the
    page did not change) is repeated, up to ``tries`` times.
    """
    box = _settled_box(tab, grid)
    y = box["y"] + GRID_HEADER + (row - 1) * GRID_ROW + GRID_ROW // 2  # the row's selection box, left edge
    for _ in range(tries):
        tab.mouse.click(box["x"] + 18, y)
        try:
            tab.wait_for_url(re.compile(r".*/account$"), timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    assert tab.url.endswith("/account"), f"selecting row {row} of the table opens the Account page"
    wait_for_app(tab)


def sidebar_model(tab):
    """The sidebar's Model combobox."""
    return tab.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Model").locator(
        "input")


def pick_model(tab, name: str) -> None:
    """Pick a model in the sidebar, as a person does: it becomes the model of the selected dataset. Tests that
    save a model with the sample put Default back this way, so the next session opens on it again."""
    sidebar_model(tab).click()
    tab.get_by_role("option", name=name, exact=True).click()
    wait_for_app(tab)


def go_to(page, title: str, timeout: float = 60_000) -> None:
    """Follow the sidebar's navigation link (same session, so the sidebar's selection is kept)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click(timeout=timeout)
    expect(page.get_by_role("heading", level=1).first).to_be_visible(timeout=timeout)
    wait_for_app(page)


def thumbs(tab, label: str):
    """The thumbs (``input type=range``, one per handle) of the st.slider labelled ``label``."""
    return tab.locator('[data-testid="stSlider"]').filter(has_text=label).first.locator('input[type="range"]')


def wait_for_change(tab, label: str, before: str, timeout: float = 30_000) -> str:
    """Wait until the st.metric labelled ``label`` no longer shows ``before``; its new value."""
    tab.wait_for_function(
        """([label, before]) => {
             const box = [...document.querySelectorAll('[data-testid="stMetric"]')]
               .find(b => b.innerText.includes(label));
             const v = box && box.querySelector('[data-testid="stMetricValue"]');
             return v && v.innerText !== before;
           }""",
        arg=[label, before], timeout=timeout,
    )
    wait_for_app(tab)
    return metric_value(tab, label)
