"""Account page (AppTest on the sample): opens on the worst red account, follows the picker, explains the score,
keeps CSM notes and score overrides in the workspace and marks overridden scores."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from lib import ui
from lib.views import portfolio as pf
from tests.app.helpers import APP, errors, open_app

PICKER = "account.selected"


@pytest.fixture(scope="module")
def at():
    return open_app("account")


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def submit(at, label: str) -> None:
    next(b for b in at.button if b.label == label).click().run()


def test_account_opens_on_the_red_account_with_most_arr_at_risk(at, sample):
    scored, as_of = sample
    assert not errors(at), errors(at)
    expected = pf.default_account(scored, as_of)
    assert at.selectbox(key=PICKER).value == expected
    row = pf.account_snapshot(scored, expected, as_of)
    shown = metrics(at)
    assert shown["Score"] == f"{row['score']:.0f}" and shown["Band · grade"] == f"Red · {row['grade']}"
    assert f"profile {row['profile']}" in at.caption[0].value
    assert at.subheader[0].value == ui.md(row["account_name"])
    titles = [json.loads(el.proto.spec)["layout"]["title"]["text"] for el in at.get("plotly_chart")]
    assert titles[:3] == ["Score history", "What makes up the score", "Raw values against thresholds"]


def test_picker_labels_read_name_and_id(at, sample):
    scored, as_of = sample
    picker = at.selectbox(key=PICKER)
    account = pf.default_account(scored, as_of)
    name = pf.account_snapshot(scored, account, as_of)["account_name"]
    assert f"{name} · {account}" in picker.options


def test_picking_another_account_changes_score_breakdown_and_explanation(at, sample):
    scored, as_of = sample
    at.selectbox(key=PICKER).set_value("ACC-00001").run()
    assert not errors(at), errors(at)
    row = pf.account_snapshot(scored, "ACC-00001", as_of)
    assert metrics(at)["Score"] == f"{row['score']:.0f}"
    metrics_used = [c.removesuffix("_contribution") for c in scored.columns if c.endswith("_contribution")]
    breakdown = pf.account_breakdown(scored, "ACC-00001", as_of, metrics_used)
    table = next(d.value for d in at.dataframe if "Scoring rule" in d.value.columns)
    assert table["Contribution"].sum() == pytest.approx(row["score"], abs=1e-6), "contributions sum to the score"
    assert table["Change"].sum() == pytest.approx(breakdown["contribution_change"].sum(), nan_ok=True)


def test_account_chosen_elsewhere_opens_here(sample):
    """The Overview and Trends tables open an account by setting `account.selected` and switching page."""
    at = open_app()
    at.session_state[PICKER] = "ACC-00017"
    at.switch_page("app_pages/account.py").run()
    assert at.selectbox(key=PICKER).value == "ACC-00017"


def test_peer_segment_picker_changes_the_percentile(at, sample):
    scored, as_of = sample
    account = at.selectbox(key=PICKER).value
    for segment in ("size", "region"):
        at.selectbox(key="account.segment").set_value(segment).run()
        expected = pf.account_percentile(pf.segment_position(scored, account, as_of, segment))
        assert metrics(at)[f"Percentile within {segment}"] == f"{expected:.0f}"


def test_note_is_stored_in_the_workspace_and_listed_newest_first(at):
    account = at.selectbox(key=PICKER).value
    ws = ui.workspace()
    for text in ("Kick-off call went well", "<img src=x onerror=alert(1)> asked for a discount"):
        at.text_area(key="account.note_text").set_value(text)
        submit(at, "Add note")
    assert not errors(at), errors(at)
    stored = ws.notes(account)
    assert stored["text"].tolist()[:2] == ["<img src=x onerror=alert(1)> asked for a discount",
                                           "Kick-off call went well"]
    listed = next(d.value for d in at.dataframe if "Note" in d.value.columns)
    assert listed["Note"].tolist()[:2] == stored["text"].tolist()[:2]
    assert listed["Author"].iloc[0] == "local"  # without sign-in, the one local user


def test_empty_note_shows_a_message(at):
    before = len(ui.workspace().notes())
    at.text_area(key="account.note_text").set_value("   ")
    submit(at, "Add note")
    assert not errors(at) and "needs some text" in at.error[0].value
    assert len(ui.workspace().notes()) == before


@pytest.mark.parametrize("score_value,reason,message", [
    pytest.param(150.0, "renewal signed", "must be from 0 to 100", id="score_above_100"),
    pytest.param(80.0, "", "needs a reason", id="no_reason"),
    pytest.param(None, "renewal signed", "must be a number", id="no_score"),
])
def test_bad_override_shows_a_message_and_stores_nothing(at, score_value, reason, message):
    before = len(ui.workspace().overrides())
    at.number_input(key="account.override_score").set_value(score_value)
    at.text_input(key="account.override_reason").set_value(reason)
    submit(at, "Set override")
    assert not errors(at), errors(at)
    assert message in at.error[0].value
    assert len(ui.workspace().overrides()) == before


def test_override_is_stored_marked_on_the_score_and_removable(at, sample):
    scored, as_of = sample
    account = at.selectbox(key=PICKER).value
    model_score = pf.account_snapshot(scored, account, as_of)["score"]
    at.number_input(key="account.override_score").set_value(85.0)
    at.text_input(key="account.override_reason").set_value("Renewal signed for 3 years")
    submit(at, "Set override")
    assert not errors(at), errors(at)
    stored = ui.workspace().active_overrides().query("account_id == @account")
    assert stored[["score", "reason"]].values.tolist() == [[85.0, "Renewal signed for 3 years"]]
    assert metrics(at)["Score → override"] == f"{model_score:.0f} → 85"
    assert at.number_input(key="account.override_score").value is None, "the form is empty for the next one"
    assert "Score overridden to **85**" in at.info[0].value
    history = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "Overridden" in [trace.get("name") for trace in history["data"]]
    listed = next(d.value for d in at.dataframe if "In force" in d.value.columns)
    assert listed["Reason"].tolist() == ["Renewal signed for 3 years"]

    at.button(key="account.remove").click().run()
    assert ui.workspace().overrides().query("account_id == @account").empty
    assert metrics(at)["Score"] == f"{model_score:.0f}"


def test_a_window_metric_shows_its_statistic_and_raw_value_and_every_page_works():
    import yaml

    from lib.data.sample import DEFAULT_MODEL_PATH

    raw = yaml.safe_load(DEFAULT_MODEL_PATH.read_text(encoding="utf-8")) | {"name": "With a trend"}
    raw["metrics"]["logins trend"] = {"column": "logins_per_user", "group": "Engagement", "weight": 30,
                                      "window": {"snapshots": 3, "stat": "pct_change"},
                                      "score": {"method": "linear", "red": -40, "green": 0}}
    ui.workspace().save_model("With a trend", yaml.safe_dump(raw, sort_keys=False), "window test")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["ctx.model"] = "With a trend"  # as if picked in the sidebar
    at.run()
    for page in ("trends", "compare", "validate", "present", "worklists", "tune", "account"):
        at.switch_page(f"app_pages/{page}.py").run()
        assert not errors(at), (page, errors(at))
    table = next(d.value for d in at.dataframe if "Scores" in d.value.columns).set_index("Metric")
    assert table.loc["logins trend", "Scores"] == "% change over the last 3 snapshots of logins_per_user"
    level = table.loc["Logins per user (month)"]
    assert table.loc["logins trend", "Raw value"] == level["Value"]  # the column's value beside its % change
    assert level["Scores"] == "its value at the date" and level["Raw value"] == ""
