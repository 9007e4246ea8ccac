"""Present page: the QBR view on the sample — segment and date choice, full screen, account story, exports."""

import pytest
from streamlit.testing.v1 import AppTest

from lib import export, ui
from tests.app.helpers import APP, errors, open_app


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.fixture(scope="module")
def present():
    """One Present page on the sample (tests that interact open their own)."""
    return open_app("present")


def test_present_shows_headline_numbers_six_dated_charts_and_an_account_story(present):
    at = present
    assert not errors(at), errors(at)
    assert at.title[0].value == "Customer health review"
    shown = metrics(at)
    assert shown["Accounts"] == "1,775" and shown["Share red"].endswith("%")
    assert {"Score", "Band", "ARR", "Renews"} <= set(shown)
    assert len(at.get("plotly_chart")) == 6
    assert "### All accounts · 1 Oct 2026" in markdown(at)
    assert at.selectbox(key="present.account").value  # the story opens on an account
    assert [s.value for s in at.subheader][:2] == ["What changed", "Notes from the team"]


def test_present_offers_every_export_and_names_the_model_in_the_files(present):
    at = present
    keys = {b.key for b in at.download_button}
    assert {"present.scores.csv", "present.scores.xlsx"} <= keys
    assert {f"present.html.{k}" for k in ("band-mix", "band-trend", "arr-by-band", "top-movers",
                                          "account-history", "account-drivers")} <= keys
    assert at.button(key="present.deck.build") and at.button(key="present.png.render")
    assert any("the files name model Default v1" in c.value for c in at.caption)


def test_choosing_a_segment_narrows_the_numbers_and_retitles_the_view():
    at = open_app("present")
    everyone = int(metrics(at)["Accounts"].replace(",", ""))
    at.selectbox(key="present.segment").set_value("Size: Enterprise").run()
    assert not errors(at), errors(at)
    enterprise = int(metrics(at)["Accounts"].replace(",", ""))
    assert 0 < enterprise < everyone
    assert "### Size\\: Enterprise · 1 Oct 2026" in markdown(at)  # segment names are markdown-escaped


def test_present_opens_on_the_sidebar_segment_filter():
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["ctx.filter.size"] = ["SMB"]  # as if chosen in the sidebar on another page
    at.run()
    at.switch_page("app_pages/present.py").run()
    assert not errors(at), errors(at)
    assert at.selectbox(key="present.segment").value == "Size: SMB"


def test_choosing_an_earlier_date_shows_that_snapshot():
    at = open_app("present")
    latest = metrics(at)
    at.selectbox(key="present.as_of").select_index(0).run()
    assert not errors(at), errors(at)
    assert "· 1 Nov 2024" in markdown(at)
    assert metrics(at)["Accounts"] != latest["Accounts"]
    assert not any(m.delta for m in at.metric[:4])  # the first snapshot has nothing to compare with


def test_full_screen_toggle_sets_the_state_collapses_exports_and_stays_reachable():
    at = open_app("present")
    assert at.expander[0].proto.expanded
    at.toggle(key="present.fullscreen").set_value(True).run()
    assert not errors(at), errors(at)
    assert at.session_state["present.fullscreen"] is True
    assert at.toggle(key="present.fullscreen").value is True  # still on the page, so the presenter can leave
    assert not at.expander[0].proto.expanded
    at.toggle(key="present.fullscreen").set_value(False).run()
    assert at.session_state["present.fullscreen"] is False


def test_picking_another_account_tells_its_story():
    at = open_app("present")
    picker = at.selectbox(key="present.account")
    first = picker.value
    label = next(o for o in picker.options if not o.endswith(f" · {first}"))
    name, account = label.rsplit(" · ", 1)  # options read "Name · id", as on the Account page
    picker.set_value(account).run()
    assert not errors(at), errors(at)
    assert at.selectbox(key="present.account").value == account != first
    history = at.get("plotly_chart")[4].proto.spec
    assert f"{name}: score history to 1 Oct 2026" in history


def test_notes_from_the_workspace_show_newest_first_as_plain_text():
    at = open_app("present")
    # Not the account the story opens on: it is the Account page's first account too, where other tests add notes.
    picker = at.selectbox(key="present.account")
    account = picker.options[1].rsplit(" · ", 1)[1]
    picker.set_value(account).run()
    ui.workspace().add_note(account, "Renewal call went well", "Maya")
    ui.workspace().add_note(account, "<b>Escalation</b> =cmd|' /C calc'!A0", "Jordan")
    at.run()
    notes = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert len(notes) == 2 and "Jordan" in notes[0] and "Maya" in notes[1]
    assert "&lt;b&gt;Escalation&lt;/b&gt;" in notes[0]  # markup from a note is shown, never rendered


def test_without_png_the_page_says_why_and_the_deck_still_builds(monkeypatch):
    monkeypatch.setattr(export, "png_unavailable_reason", lambda: "no browser on this test machine")
    at = open_app("present")
    assert any("no browser on this test machine" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "present.png.render"]
    at.button(key="present.deck.build").click().run()
    assert not errors(at), errors(at)
    assert any(s.value == "Deck ready: 8 slides." for s in at.success)
    assert at.download_button(key="present.deck.download")
