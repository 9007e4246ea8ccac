"""Sign-in, roles and a CSM's book in a real browser, against a local OpenID Connect provider (oidc-provider-mock):
nothing before sign-in, a CSM sees exactly their book and not another owner's account, a viewer cannot save a
model, an analyst can, an admin's audit log lists what each did. One app server for the module."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pandas as pd
import pytest
from oidc_provider_mock import run_server_in_thread

from lib.data.access import User, scope_for
from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio, sample_roles
from lib.data.workspace import SAMPLE_DATASET, SAMPLE_MODEL, Workspace
from lib.engine.model import parse_model
from lib.engine.scored_portfolio import attach_attributes
from lib.engine.sql import score
from lib.views import portfolio as pf
from lib.views import worklists as wl
from tests.browser.conftest import free_port, open_page, serve, wait_for_app
from tests.browser.helpers import metric_value, whole_page_screenshot

CSM, VIEWER, ANALYST, ADMIN, STRANGER = ("lee@acme.test", "kim@acme.test", "ana@acme.test", "root@acme.test",
                                         "eve@elsewhere.test")


@pytest.fixture(scope="module")
def portfolio() -> pd.DataFrame:
    """A small sample portfolio (the pages open quickly even on a busy machine)."""
    return generate_portfolio(n_accounts=300, n_snapshots=8)


@pytest.fixture(scope="module")
def book(portfolio) -> dict[str, object]:
    """The CSM's owner value in the portfolio, their accounts, and what Overview and Worklists should count."""
    df, roles = portfolio, sample_roles().canonical()
    latest = df["snapshot_date"].max()
    owner = str(df.loc[df["snapshot_date"] == latest, "csm_owner"].value_counts().index[-1])  # the smallest book
    scope = scope_for(User(CSM, "csm", (owner,)), df, roles)
    model = parse_model(DEFAULT_MODEL_PATH.read_text())
    scored = scope.apply(attach_attributes(score(model, df), df, roles.segments, model))
    attention = wl.attention_list(scored, scope.apply(df), as_of=latest)
    others = df.loc[~df["account_id"].isin(scope.accounts), "account_id"]
    return {"owner": owner, "accounts": scope.accounts, "other": str(others.iloc[0]),
            "on_overview": pf.at_date(scored, latest)["account_id"].nunique(), "attention": len(attention)}


@pytest.fixture(scope="module")
def auth_url(tmp_path_factory, portfolio, book) -> Iterator[str]:
    """The app with `[auth]` pointing at a local OIDC provider, and an access file giving each test user a role."""
    tmp = tmp_path_factory.mktemp("auth")
    with Workspace(tmp / "workspace.duckdb") as ws:  # closed before the app opens it (one process per file)
        ws.save_dataset(SAMPLE_DATASET, portfolio, sample_roles(), "sample.csv")
        ws.link_model(SAMPLE_DATASET, SAMPLE_MODEL, ws.save_model(SAMPLE_MODEL, DEFAULT_MODEL_PATH.read_text()))
    port = free_port()
    (tmp / "access.yaml").write_text(
        f"users:\n  - {{email: {CSM}, role: csm, owners: [\"{book['owner']}\"]}}\n"
        f"  - {{email: {ANALYST}, role: analyst}}\n  - {{email: {ADMIN}, role: admin}}\n"
        "domains:\n  acme.test: viewer\n")
    # The provider on 127.0.0.1 as the app is: the same site, so coming back from its sign-in form keeps the tab's
    # renderer (on another site, Chromium starts a new one and compiles the app's scripts again, seconds).
    with run_server_in_thread() as provider:
        (tmp / "secrets.toml").write_text(
            f'[auth]\nredirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            'cookie_secret = "a-cookie-secret-for-the-tests-only"\nclient_id = "hss"\nclient_secret = "hss-secret"\n'
            f'server_metadata_url = "http://127.0.0.1:{provider.server_port}/.well-known/openid-configuration"\n')
        with serve(tmp / "workspace.duckdb", tmp / "streamlit.log", port=port,
                   env={"HSS_ACCESS": str(tmp / "access.yaml"), "HSS_SAMPLE": "0"},
                   args=("--secrets.files", str(tmp / "secrets.toml"))) as url:
            yield url


@pytest.fixture(scope="module")
def auth_tab(browser, auth_url):
    """One browser tab for the module's visitors (a tab's first load compiles the app's scripts, seconds on a busy
    machine; later loads in it reuse them)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=auth_url, accept_downloads=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def visitor(auth_tab, auth_url):
    """Opens the app as a person (``None``: not signed in), signing them in when given: each person starts as a new
    browser would, with the tab's cookies cleared (no one's sign-in, at the app or the provider). A test uses one
    person at a time: the next person takes the tab over."""

    def open_as(email: str | None):
        tab = auth_tab
        tab.context.clear_cookies()
        open_page(tab, "/")
        sign_in = tab.get_by_role("button", name="Sign in")
        sign_in.wait_for(timeout=60_000)
        if email is not None:
            sign_in.click()
            tab.locator("input[name=sub]").fill(email)  # the provider's form: the subject is the email
            tab.get_by_role("button", name="Authorize").click()
            tab.wait_for_url(re.compile(re.escape(auth_url)), timeout=30_000)
            settled(tab)
        return tab

    auth_tab.set_viewport_size({"width": 1440, "height": 900})
    return open_as


def settled(tab) -> None:
    """Wait for the page's title: the first run of a session draws nothing for a moment after it starts."""
    wait_for_app(tab)
    tab.locator("h1").first.wait_for(timeout=60_000)


def nav(tab) -> list[str]:
    """The page titles in the sidebar's navigation (each link's last line: its icon comes first)."""
    return [text.split("\n")[-1] for text in tab.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]


def test_before_sign_in_only_a_sign_in_button_shows_and_a_stranger_is_asked_to_see_an_admin(visitor, book):
    tab = visitor(None)
    whole_page_screenshot(tab, "access-sign-in")
    open_page(tab, f"/account?account={sorted(book['accounts'])[0]}")
    tab.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    text = tab.locator('[data-testid="stApp"]').inner_text()
    assert "Sign in" in text and sorted(book["accounts"])[0] not in text and "Overview" not in text
    assert tab.locator('[data-testid="stSidebarNav"]').count() == 0 and tab.locator(".js-plotly-plot").count() == 0

    stranger = visitor(STRANGER)
    stranger.get_by_text(f"You are signed in as {STRANGER}").wait_for(timeout=30_000)
    assert "Ask an admin for access" in stranger.locator('[data-testid="stApp"]').inner_text()
    assert stranger.locator('[data-testid="stSidebarNav"]').count() == 0
    whole_page_screenshot(stranger, "access-ask-an-admin")


def test_each_role_sees_and_does_only_what_it_may_and_the_audit_log_lists_what_each_did(visitor, book):
    # A CSM: exactly their book on Overview and Worklists, "not in your book" for another owner's account URL,
    # and a note on one of their own.
    tab = visitor(CSM)
    assert metric_value(tab, "Accounts") == f"{book['on_overview']:,}"
    assert "Tune" not in nav(tab) and "Data" not in nav(tab) and "Audit log" not in nav(tab)
    assert f"Your book: {book['owner']}" in tab.locator('[data-testid="stSidebar"]').inner_text()
    whole_page_screenshot(tab, "access-csm-overview")
    open_page(tab, "/worklists")
    settled(tab)
    assert metric_value(tab, "Need attention") == f"{book['attention']:,}"

    open_page(tab, f"/account?account={book['other']}")
    tab.get_by_text("is not in your book").wait_for(timeout=30_000)
    assert tab.locator(".js-plotly-plot").count() == 0
    open_page(tab, f"/account?account={sorted(book['accounts'])[0]}")
    tab.get_by_role("textbox", name="Note").fill("Called the sponsor")
    tab.get_by_role("button", name="Add note").click()
    tab.get_by_text("Note added.").wait_for(timeout=30_000)

    # A viewer cannot save a model version (no Tune, even by URL); an analyst can; the admin's log has both.
    viewer = visitor(VIEWER)
    assert "Overview" in nav(viewer) and "Tune" not in nav(viewer) and "Start a model" not in nav(viewer)
    open_page(viewer, "/tune")  # a typed URL to a page not in the viewer's navigation: the default page opens
    viewer.get_by_role("heading", name="Portfolio overview").wait_for(timeout=60_000)
    assert viewer.get_by_role("button", name=re.compile("Save as new model")).count() == 0

    analyst = visitor(ANALYST)
    open_page(analyst, "/tune")
    analyst.get_by_role("button", name=re.compile("Save as new model")).click()
    analyst.get_by_label("Name of the new model").fill("Analyst draft")
    analyst.get_by_label("Name of the new model").press("Enter")
    analyst.get_by_role("button", name="Create model").click()
    analyst.get_by_text("Saved Analyst draft v1.").wait_for(timeout=30_000)

    admin = visitor(ADMIN)
    open_page(admin, "/audit")
    with admin.expect_download() as download:
        admin.get_by_role("button", name="Audit log (CSV)").click()
    log = pd.read_csv(download.value.path(), encoding="utf-8-sig")
    did = set(zip(log["who"], log["action"], strict=True))
    assert (ANALYST, "save model version") in did and (CSM, "add note") in did
    assert not any(who == VIEWER for who, _ in did)
    whole_page_screenshot(admin, "access-audit-log")
