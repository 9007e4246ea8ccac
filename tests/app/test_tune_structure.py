"""Tune page, Structure tab (AppTest): metrics, groups, profiles, alerts, grades and the expansion score are
added, changed and removed through the page's widgets; the draft and the preview follow, refusals show the
model's message beside the control, never an exception. A CRM export with names like `Logins/User` is as
editable as the sample."""

from __future__ import annotations

import pytest

from app_pages.tune_state import key
from lib import ui
from lib.data.ingest import load_portfolio
from lib.data.workspace import Workspace
from lib.engine.model import dump_model, model_from_dict, parse_model
from tests.app.helpers import control, draft, errors, number, open_app
from tests.foreign import foreign_portfolio


@pytest.fixture
def at():
    app = open_app("tune")
    assert not errors(app), errors(app)
    return app


def section(at, name: str):
    at.segmented_control(key=key("section")).set_value(name).run()
    assert not errors(at), errors(at)
    return at


def changes(at) -> int:
    return int(at.expander[0].label.rsplit(": ", 1)[1])


def shown_errors(at) -> list[str]:
    """The error messages on the page as the user reads them (they are markdown-escaped for display)."""
    return [e.value for e in at.error]


def shown(text: str) -> str:
    """``text`` as an error message on the page has it (escaped: no markdown comes from names)."""
    return ui.md(text)


# ------------------------------------------------------------------------------ metrics


def test_a_metric_added_from_the_columns_is_scored_and_removing_it_gives_the_saved_model_back(at):
    saved = draft(at)
    average = number(at, "Average score")
    column = at.selectbox(key=key("new_metric", "column"))
    assert "days_since_last_contact" in column.options and "arr" in column.options
    assert not {"account_id", "snapshot_date", "churned", "logins_per_user"} & set(column.options)
    column.set_value("days_since_last_contact").run()
    at.number_input(key=key("new_metric", "weight")).set_value(80.0).run()
    at.selectbox(key=key("new_metric", "group")).set_value("Support").run()
    at.button(key=key("new_metric", "add")).click().run()
    assert not errors(at), errors(at)
    added = draft(at).metrics["days_since_last_contact"]
    assert (added.weight, added.group, added.score.method) == (80, "Support", "linear")
    assert number(at, "Average score") != average
    assert at.selectbox(key=key("pick_metric")).value == "days_since_last_contact"  # Thresholds shows it
    assert changes(at) > 0

    at.button(key=key("remove_metric", "days_since_last_contact")).click().run()
    assert not errors(at), errors(at)
    assert draft(at) == saved
    assert number(at, "Average score") == average
    assert changes(at) == 0


def test_relabelling_a_metric_and_moving_it_to_another_group(at):
    at.text_input(key=control(at, "label", "nps")).input("NPS <b>score</b>").run()
    assert draft(at).metrics["nps"].label == "NPS <b>score</b>"
    assert any(s.label.startswith(f"↳ {ui.md('NPS <b>score</b>')} · ") for s in at.slider)  # Weights tab, escaped
    average = number(at, "Average score")
    at.selectbox(key=control(at, "group_of", "nps")).set_value("Engagement").run()
    assert not errors(at), errors(at)
    assert draft(at).metrics["nps"].group == "Engagement"
    assert number(at, "Average score") != average


def test_the_last_metric_cannot_be_removed(own_workspace):
    one = model_from_dict({"name": "Default", "metrics": {"nps": {"score": {"method": "linear", "red": 0,
                                                                           "green": 10}}}})
    own_workspace(small_portfolio(), dump_model(one))
    at = open_app("tune")
    assert at.button(key=key("remove_metric", "nps")).disabled


# ------------------------------------------------------------------------------ groups


def test_groups_are_renamed_removed_with_their_metrics_moved_and_turned_off(at):
    section(at, "groups")
    at.text_input(key=control(at, "group_name", "Engagement")).input("Usage.v2 😀").run()
    assert not errors(at), errors(at)
    model = draft(at)
    assert list(model.groups) == ["Usage.v2 😀", "Support", "Sentiment", "Billing"]
    assert model.metrics["logins_per_user"].group == "Usage.v2 😀"

    at.text_input(key=control(at, "group_name", "Support")).input("Billing").run()
    assert any(shown("there is a group 'Billing' already") in e for e in shown_errors(at))
    assert list(draft(at).groups) == list(model.groups)  # refused: the draft is as it was

    average = number(at, "Average score")
    at.selectbox(key=key("move_to", "Support")).set_value("Billing").run()
    at.button(key=key("remove_group", "Support")).click().run()
    assert not errors(at), errors(at)
    model = draft(at)
    assert "Support" not in model.groups and model.metrics["open_tickets"].group == "Billing"
    assert number(at, "Average score") != average

    at.button(key=key("groups_off")).click().run()
    assert draft(at).groups is None and all(m.group is None for m in draft(at).metrics.values())
    at.text_input(key=key("new_group", "name")).input("All").run()
    at.button(key=key("groups_on")).click().run()
    assert draft(at).groups == {"All": 100}


def test_adding_a_group_with_a_blank_name_says_what_to_do(at):
    section(at, "groups")
    at.button(key=key("add_group")).click().run()
    assert not errors(at), errors(at)
    assert shown_errors(at) == [shown("groups: a group needs a name — type a name such as Engagement")]
    at.text_input(key=key("new_group", "name")).input("Value").run()
    at.button(key=key("add_group")).click().run()
    assert draft(at).groups["Value"] == 22  # the median group weight, to two digits
    assert not shown_errors(at)


# ------------------------------------------------------------------------------ profiles


def test_a_profile_is_added_from_segment_values_reordered_edited_and_removed(at):
    section(at, "profiles")
    average = number(at, "Average score")
    at.text_input(key=key("new_profile", "name")).input("Enterprise").run()
    at.multiselect(key=key("new_profile", "when", "size")).set_value(["Enterprise"]).run()
    at.button(key=key("new_profile", "add")).click().run()
    assert not errors(at), errors(at)
    model = draft(at)
    assert model.profile_names == ("Onboarding", "Enterprise", "Default")
    assert model.profile("Enterprise").when == {"size": ("Enterprise",)}
    assert "Enterprise" in at.selectbox(key=key("pick_profile")).options
    assert number(at, "Average score") == average  # it starts with the base weights and thresholds

    at.button(key=key("profile_up", "Enterprise")).click().run()
    assert draft(at).profile_names == ("Enterprise", "Onboarding", "Default")
    at.multiselect(key=control(at, "when", "Enterprise", "region")).set_value(["EMEA"]).run()
    assert draft(at).profile("Enterprise").when == {"size": ("Enterprise",), "region": ("EMEA",)}
    at.text_input(key=control(at, "profile_name", "Enterprise")).input("Default").run()
    assert any(shown("'Default' is the profile of accounts no other profile matches") in e for e in shown_errors(at))

    at.button(key=key("remove_profile", "Onboarding")).click().run()
    assert not errors(at), errors(at)
    assert draft(at).profile_names == ("Enterprise", "Default")
    assert number(at, "Average score") != average  # onboarding accounts now score with the base model


def test_a_profile_without_conditions_is_refused_beside_the_form(at):
    section(at, "profiles")
    at.text_input(key=key("new_profile", "name")).input("Everyone").run()
    at.button(key=key("new_profile", "add")).click().run()
    assert not errors(at), errors(at)
    assert shown_errors(at)[0].startswith(shown("profiles[1].when: an empty 'when' matches every account"))
    assert draft(at).profile_names == ("Onboarding", "Default")


# ------------------------------------------------------------------------------ alerts, grades, expansion


def test_alerts_are_added_switched_to_a_band_and_removed(at):
    section(at, "alerts")
    at.text_input(key=key("new_alert", "name")).input("Cliff <b>").run()
    at.number_input(key=key("new_alert", "drop")).set_value(25.0).run()
    at.number_input(key=key("new_alert", "within")).set_value(3).run()
    at.button(key=key("new_alert", "add")).click().run()
    assert not errors(at), errors(at)
    cliff = draft(at).alerts[-1]
    assert (cliff.name, cliff.drop, cliff.within) == ("Cliff <b>", 25, 3)
    assert changes(at) == 2  # alerts.Cliff <b>.drop and .within

    at.selectbox(key=control(at, "alert", "Cliff <b>", "kind")).set_value("to_band").run()
    assert draft(at).alerts[-1].to_band == "red"
    at.selectbox(key=control(at, "alert", "Cliff <b>", "band")).set_value("yellow").run()
    assert draft(at).alerts[-1].to_band == "yellow"
    assert at.text_input(key=key("new_alert", "name")).value == ""  # the form is empty again
    at.button(key=key("new_alert", "add")).click().run()  # a blank name
    assert any(shown("alerts[3].name: must not be empty") in e for e in shown_errors(at))
    at.button(key=key("remove_alert", "Cliff <b>")).click().run()
    assert [a.name for a in draft(at).alerts] == ["Steep drop", "Turned red"]
    assert changes(at) == 0


def test_grades_turn_off_and_on_with_the_defaults_and_their_cut_offs_are_checked(at):
    section(at, "grades")
    at.toggle(key=control(at, "grades_on")).set_value(False).run()
    assert draft(at).grades is None
    at.toggle(key=control(at, "grades_on")).set_value(True).run()
    assert draft(at).grades == {"A": 85, "B": 70, "C": 55, "D": 40}
    at.number_input(key=control(at, "grades", "C")).set_value(75.0).run()
    assert not errors(at), errors(at)
    assert any(shown("grades must be listed from the highest minimum score down") in e for e in shown_errors(at))
    assert at.number_input(key=control(at, "grades", "C")).value == 55  # put back


def test_the_expansion_score_is_turned_on_weighted_and_turned_off(at):
    section(at, "expansion")
    at.multiselect(key=key("expansion", "columns")).set_value(["arr", "ticket_sentiment"]).run()
    at.button(key=key("expansion_on")).click().run()
    assert not errors(at), errors(at)
    exp = draft(at).expansion
    assert list(exp.metrics) == ["arr", "ticket_sentiment"]
    assert exp.metrics["arr"].score.method == "linear"
    at.slider(key=control(at, "expansion", "metrics", "arr", "weight")).set_value(30.0).run()
    assert draft(at).expansion.metrics["arr"].weight == 30
    at.button(key=key("expansion_off")).click().run()
    assert draft(at).expansion is None


# ------------------------------------------------------------------------------ own data


@pytest.fixture
def own_workspace(tmp_path, monkeypatch):
    """A workspace of its own with a dataset (a DataFrame, or a Portfolio with its roles) and a model."""
    from lib.data.sample import sample_roles
    from lib.data.workspace import SAMPLE_DATASET

    monkeypatch.setenv("HSS_WORKSPACE", str(tmp_path / "workspace.duckdb"))

    def make(data, model_yaml: str) -> None:
        with Workspace() as ws:
            if hasattr(data, "roles"):
                ws.save_dataset(SAMPLE_DATASET, data, source_filename="crm.csv")
            else:
                ws.save_dataset(SAMPLE_DATASET, data, sample_roles(), "small.csv")
            ws.save_model("Default", model_yaml)
            ws.ensure_sample()
        ui.workspace.clear()

    yield make
    ui.workspace.clear()


def small_portfolio():
    from lib.data.sample import generate_portfolio

    return generate_portfolio(n_accounts=80, n_snapshots=4)


CRM_MODEL = """
name: Default
bands: {red: 35, yellow: 65}
metrics:
  Logins/User: {weight: 50, score: {method: linear, red: 2, green: 10}}
  Tickets (30d): {weight: 25, score: {method: steps, cuts: [2, 5], points: [100, 50, 0]}}
  CSM Pulse: {weight: 25, score: {method: categories, map: {Green: 100, Amber: 50, Red: 0}}}
"""


def test_a_crm_export_with_foreign_names_is_fully_editable(own_workspace):
    own_workspace(load_portfolio(foreign_portfolio(accounts=300, snapshots=12), "crm.csv"), CRM_MODEL)
    at = open_app("tune")
    assert not errors(at), errors(at)
    average = number(at, "Average score")
    at.slider(key=control(at, "metrics", "Logins/User", "score", "green")).set_value(6.0).run()
    assert draft(at).metrics["Logins/User"].score.green == 6
    assert number(at, "Average score") > average

    at.selectbox(key=key("new_metric", "column")).set_value("Adoption %").run()
    at.button(key=key("new_metric", "add")).click().run()
    at.text_input(key=control(at, "label", "Adoption %")).input("Adoption (%)").run()
    section(at, "groups")
    at.text_input(key=key("new_group", "name")).input("Usage & $").run()
    at.button(key=key("groups_on")).click().run()
    section(at, "profiles")
    at.text_input(key=key("new_profile", "name")).input("Gold tier").run()
    at.multiselect(key=key("new_profile", "when", "Tier")).set_value(["Gold"]).run()
    at.button(key=key("new_profile", "add")).click().run()
    at.selectbox(key=key("pick_profile")).set_value("Gold tier").run()
    at.slider(key=control(at, "profiles", "Gold tier", "weights", "CSM Pulse")).set_value(60.0).run()
    section(at, "alerts")
    at.text_input(key=key("new_alert", "name")).input("Pulse drop?").run()
    at.button(key=key("new_alert", "add")).click().run()
    assert not errors(at), errors(at)
    assert not shown_errors(at), shown_errors(at)
    section(at, "metrics")  # the same column again, as its 3-snapshot % change
    at.selectbox(key=key("new_metric", "stat")).set_value("pct_change").run()
    at.selectbox(key=key("new_metric", "column")).set_value("Logins/User").run()
    at.button(key=key("new_metric", "add")).click().run()
    assert not errors(at), errors(at)
    assert not shown_errors(at), shown_errors(at)
    trend = draft(at).metrics["Logins/User · % change 3"]
    assert trend.column == "Logins/User" and trend.window.stat == "pct_change"

    model = draft(at)
    assert model.metrics["Adoption %"].label == "Adoption (%)" and model.metrics["Adoption %"].group == "Usage & $"
    assert model.profile("Gold tier").when == {"Tier": ("Gold",)}
    assert model.weights_for("Gold tier")["CSM Pulse"] == 60
    assert [a.name for a in model.alerts] == ["Pulse drop?"]
    assert parse_model(dump_model(model)) == model
    at.button(key=key("save", "version")).click().run()
    assert not errors(at), errors(at)
    assert parse_model(ui.workspace().load_model_text("Default", 2)) == model


# ------------------------------------------------------------------------------ window statistics


def test_scoring_a_metrics_mean_over_recent_snapshots_rescores_the_preview_and_draws_the_statistic(at):
    metric = at.session_state[key("pick_metric")]
    assert draft(at).metrics[metric].window is None
    average = number(at, "Average score")
    at.selectbox(key=control(at, "window", metric, "stat")).set_value("pct_change").run()
    assert not errors(at), errors(at)
    window = draft(at).metrics[metric].window
    assert (window.stat, window.snapshots) == ("pct_change", 3)
    assert number(at, "Average score") != average
    assert any("over the last 3 snapshots" in c.value for c in at.caption)
    at.number_input(key=control(at, "window", metric, "snapshots")).set_value(6).run()
    assert not errors(at), errors(at)
    assert draft(at).metrics[metric].window.snapshots == 6
    at.selectbox(key=control(at, "window", metric, "stat")).set_value("value").run()
    assert draft(at).metrics[metric].window is None


def test_a_trend_of_a_column_already_scored_is_added_as_a_second_metric(at):
    section(at, "metrics")
    at.selectbox(key=key("new_metric", "stat")).set_value("slope").run()
    column = at.selectbox(key=key("new_metric", "column"))
    assert "logins_per_user" in column.options  # scored already as a level: offered for its trend
    column.set_value("logins_per_user").run()
    at.button(key=key("new_metric", "add")).click().run()
    assert not errors(at), errors(at)
    trend = draft(at).metrics["logins_per_user · trend per snapshot 3"]
    assert trend.column == "logins_per_user" and trend.window.stat == "slope"
    assert draft(at).metrics["logins_per_user"].window is None
