"""Plays page: the sample's play reported treated vs control; a new play from a rule; held-out accounts marked."""

import pytest

from lib import ui
from lib.data.sample import PLAY_NAME
from tests import foreign
from tests.app.helpers import errors, open_app
from tests.app.test_start import OWN, export, open_on, workspace_with  # noqa: F401 - fixtures, shared


def frame(at, column: str, last: bool = False):
    """The first (or last) table on the page with this column (AppTest does not keep a plain dataframe's key)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    return found[-1 if last else 0]


@pytest.fixture(scope="module")
def plays():
    return open_app("plays")


def test_the_sample_play_shows_treated_vs_control_with_intervals_and_too_early_for_churn(plays):
    at = plays
    assert not errors(at), errors(at)
    assert at.selectbox(key="plays.selected").format_func(at.selectbox(key="plays.selected").value) == PLAY_NAME
    cards = {m.label: m.value for m in at.metric}
    assert cards["Treated accounts"] == "206" and cards["Control accounts"] == "51"
    assert float(cards["Score change, treated − control"]) > 2  # the sample play's real effect
    assert any("Too early to tell" in i.value and "more" in i.value for i in at.info)
    diffs = frame(at, "Verdict").set_index("Measure")
    assert diffs.loc["Score change", "Verdict"] == "clear"
    assert diffs.loc["Churn rate", "Accounts (treated / control)"].count("/") == 1
    balance = frame(at, "Treated", last=True)  # the first is the New play form's preview
    assert list(balance.columns) == ["Treated", "Control"] and balance.loc["Accounts"].tolist() == ["206", "51"]
    assert len(at.get("plotly_chart")) == 3
    assert {"plays.csv", "plays.xlsx"} <= {b.key for b in at.download_button}


def test_a_play_from_a_rule_is_created_with_its_control_group_and_refuses_a_second_one_of_that_name():
    at = open_app("plays")
    at.multiselect(key="plays.rule_bands").set_value(["red", "yellow"]).run()
    at.text_input(key="plays.name").set_value("Training series").run()
    at.slider(key="plays.share").set_value(30).run()
    at.selectbox(key="plays.segment").set_value("size").run()
    preview = frame(at, "Treated")
    treated, control = (int(preview.loc["Accounts", g].replace(",", "")) for g in ("Treated", "Control"))
    assert abs(control - 0.3 * (treated + control)) <= 1 + 6  # ± 1 per stratum (band × size)
    at.button(key="plays.create").click().run()
    assert not errors(at), errors(at)
    assert any("Training series" in s.value for s in at.success)
    stored = {p.name: p for p in ui.workspace().plays("Sample portfolio")}
    assert stored["Training series"].strata == ("band", "size") and stored["Training series"].control_share == 0.3
    # the form is still there for the next play: a second one with the same name is refused
    at.text_input(key="plays.name").set_value("Training series").run()
    at.button(key="plays.create").click().run()
    assert any("already has a play named 'Training series'" in e.value for e in at.error)
    assert len([p for p in ui.workspace().plays("Sample portfolio") if p.name == "Training series"]) == 1


def test_a_control_share_on_too_few_accounts_says_why_and_saves_nothing():
    at = open_app("plays")
    before = len(ui.workspace().plays())
    at.slider(key="plays.rule_score").set_value((0.0, 1.0)).run()  # almost nobody scores 0–1
    at.text_input(key="plays.name").set_value("Nobody").run()
    assert not errors(at), errors(at)
    assert any("No control group" in e.value for e in at.error)
    assert "plays.create" not in {b.key for b in at.button}
    assert len(ui.workspace().plays()) == before


def test_held_out_accounts_are_marked_on_the_account_page():
    play = next(p for p in ui.workspace().plays("Sample portfolio") if p.name == PLAY_NAME)
    groups = ui.workspace().play_assignments(play_id=play.play_id)
    held = groups.loc[groups["group"] == "control", "account_id"].iloc[0]
    at = open_app()
    at.session_state["account.selected"] = held
    at.switch_page("app_pages/account.py").run()
    assert not errors(at), errors(at)
    assert any(f"held out of play {PLAY_NAME}: do not run it" in e.value.replace("\\", "") for e in at.error)


def test_worklists_mark_held_out_accounts_and_start_a_play_from_their_list():
    at = open_app("worklists")
    assert not errors(at), errors(at)
    attention = frame(at, "arr_at_risk")
    marked = attention["held_out"].dropna()
    assert marked.str.contains("held out of play .+: do not run it").all()
    assert marked.str.contains(f"held out of play {PLAY_NAME}: do not run it").any()
    assert any("held out of a play" in w.value for w in at.warning)
    at.button(key="worklists.start_play").click().run()
    assert not errors(at), errors(at)
    assert at.radio(key="plays.source").value == "worklist"
    assert sorted(at.session_state["plays.pending"]["accounts"]) == sorted(attention["account_id"])
    preview = frame(at, "Treated")
    assert sum(int(preview.loc["Accounts", g].replace(",", "")) for g in ("Treated", "Control")) == len(attention)


def test_a_play_on_a_foreign_named_export_reads_its_roles(workspace_with, export):  # noqa: F811 - the fixtures
    """Own data first: the owner, ARR and outcome come from the dataset's roles (`CS Rep`, `ARR ($)`, `Churned?`)."""
    workspace_with((OWN, export), sample=False)
    at = open_on(OWN)
    at.button(key="ctx.start_model").click().run()
    at.button(key="start.create").click().run()
    at.switch_page("app_pages/plays.py").run()
    assert not errors(at), errors(at)
    assert any("No play on this dataset yet" in i.value for i in at.info)
    at.multiselect(key="plays.rule_bands").set_value(["red", "yellow", "green"]).run()
    at.selectbox(key="plays.segment").set_value(foreign.TIER).run()
    at.text_input(key="plays.name").set_value("<b>Own</b> play").run()
    at.button(key="plays.create").click().run()
    assert not errors(at), errors(at)
    cards = {m.label: m.value for m in at.metric}
    present = export.df.loc[export.df["snapshot_date"] == export.df["snapshot_date"].max(), "account_id"].nunique()
    assert int(cards["Treated accounts"]) + int(cards["Control accounts"]) == present
    assert int(cards["Known outcomes"].replace(",", "")) > 0  # `Churned?` read as the outcome
    assert "ARR retained" in frame(at, "Verdict")["Measure"].tolist()  # `ARR ($)` read as ARR


@pytest.mark.parametrize(("page", "table_key", "button"), [("overview", "overview.at_risk", "overview.start_play"),
                                                           ("trends", "trends.alerts", "trends.start_play")])
def test_a_play_starts_from_the_accounts_an_overview_or_trends_table_lists(page, table_key, button):
    at = open_app(page)
    listed = next(d.value for d in at.dataframe if "ID" in d.value.columns and d.key == table_key)
    at.button(key=button).click().run()
    assert not errors(at), errors(at)
    assert at.radio(key="plays.source").value == "worklist"
    pending = at.session_state["plays.pending"]
    assert sorted(pending["accounts"]) == sorted(listed["ID"].astype(str).unique())
    assert pending["source"].startswith(f"{page.capitalize()}: ")
    assert f"The {page.capitalize()} selection ({len(pending['accounts'])} accounts)" in at.radio(
        key="plays.source").options[0]
    preview = frame(at, "Treated")
    assert sum(int(preview.loc["Accounts", g].replace(",", "")) for g in ("Treated", "Control")) == len(
        pending["accounts"])
