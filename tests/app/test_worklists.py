"""Worklists page: per CSM owner, who needs attention (ranked by ARR at risk) and who is ready to expand."""

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from lib import ui
from lib.data.sample import DEFAULT_MODEL_PATH
from tests.app.helpers import APP, errors, open_app

EXPANSION = {
    "bands": {"red": 30, "yellow": 60},
    "metrics": {
        "feature_adoption_pct": {"weight": 1, "score": {"method": "linear", "red": 20, "green": 80}},
        "logins_per_user": {"weight": 1, "score": {"method": "linear", "red": 2, "green": 10}},
    },
}


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table(at, key_column: str):
    """The first dataframe on the page holding ``key_column``."""
    return next(d.value for d in at.dataframe if key_column in d.value.columns)


@pytest.fixture(scope="module")
def worklists():
    return open_app("worklists")


def test_worklists_show_attention_owner_summary_and_expansion_lists(worklists):
    at = worklists
    assert not errors(at), errors(at)
    assert at.selectbox(key="worklists.owner").options[0] == "All"
    attention = table(at, "arr_at_risk")
    assert len(attention) > 0 and attention["reason"].str.len().gt(0).all()
    assert int(metrics(at)["Need attention"].replace(",", "")) == len(attention)
    summary = next(d.value for d in at.dataframe if "renewals" in d.value.columns)
    assert summary["accounts"].sum() == len(attention) and len(summary) == 12  # the sample's twelve CSMs
    expansion = table(at, "usage_growth")
    assert (expansion["band"] == "green").all() and (expansion["usage_growth"] >= 0.05).all()
    assert {"worklists.attention.csv", "worklists.attention.xlsx", "worklists.expansion.csv",
            "worklists.expansion.xlsx"} <= {b.key for b in at.download_button}


def test_choosing_an_owner_keeps_only_their_accounts_ranked_by_arr_at_risk():
    at = open_app("worklists")
    everyone = table(at, "arr_at_risk")
    owner = at.selectbox(key="worklists.owner").options[1]
    at.selectbox(key="worklists.owner").set_value(owner).run()
    assert not errors(at), errors(at)
    mine = table(at, "arr_at_risk")
    assert 0 < len(mine) < len(everyone) and set(mine["owner"]) == {owner}
    assert mine["rank"].tolist() == list(range(1, len(mine) + 1))
    assert mine["arr_at_risk"].dropna().is_monotonic_decreasing
    assert int(metrics(at)["Need attention"].replace(",", "")) == len(mine)
    assert not any("renewals" in d.value.columns for d in at.dataframe)  # the per-owner summary is for "All"
    assert set(table(at, "usage_growth")["owner"]) <= {owner}


def test_a_longer_contact_limit_drops_the_overdue_contact_reason():
    at = open_app("worklists")
    assert int(metrics(at)["Contact overdue"]) > 0
    at.number_input(key="worklists.overdue_days").set_value(365).run()
    assert metrics(at)["Contact overdue"] == "0"
    assert not table(at, "arr_at_risk")["reason"].str.contains("No contact for").any()


def test_expansion_list_follows_the_chosen_usage_metric_and_growth_floor():
    at = open_app("worklists")
    before = table(at, "usage_growth")
    at.number_input(key="worklists.growth").set_value(30).run()
    strict = table(at, "usage_growth")
    assert len(strict) < len(before) and (strict["usage_growth"] >= 0.30).all()
    at.selectbox(key="worklists.usage").set_value("feature_adoption_pct").run()
    assert not errors(at), errors(at)
    assert table(at, "usage_growth")["reason"].str.contains("Feature adoption").all()


def test_a_model_with_an_expansion_score_ranks_the_expansion_list_by_it():
    raw = yaml.safe_load(DEFAULT_MODEL_PATH.read_text(encoding="utf-8")) | {"name": "With expansion",
                                                                           "expansion": EXPANSION}
    ui.workspace().save_model("With expansion", yaml.safe_dump(raw, sort_keys=False), "expansion score test")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["ctx.model"] = "With expansion"  # as if picked in the sidebar
    at.run()
    at.switch_page("app_pages/worklists.py").run()
    assert not errors(at), errors(at)
    assert at.session_state["_ctx"].model_name == "With expansion"
    expansion = table(at, "expansion_score")
    assert expansion["expansion_score"].notna().all()
    for _, rows in expansion.groupby("owner"):
        assert rows["expansion_score"].is_monotonic_decreasing
    assert any("ranked by the model's expansion score" in c.value for c in at.caption)
