"""Trends page (AppTest on the sample): migrations, alerts and distributions agree with lib.views.portfolio and follow
the date, period and rule pickers."""

import base64
import json

import numpy as np
import pandas as pd
import pytest

from lib.views import portfolio as pf
from tests.app.helpers import errors, open_app, scored_as_shown


@pytest.fixture(scope="module")
def at():
    return open_app("trends")


@pytest.fixture(scope="module")
def sample(at) -> tuple[pd.DataFrame, list[pd.Timestamp]]:
    """The sample scored the way the page sees it (its dataset and model version, no filter) and its snapshot dates."""
    scored = scored_as_shown(at)
    return scored, pf.snapshot_dates(scored)


def values(array: list | dict) -> np.ndarray:
    """Numbers of a Plotly JSON array (plain list, or Plotly 6's base64 typed array)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array, dtype=float)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def migration_figures(summary: dict[str, int]) -> dict[str, str]:
    return {"Accounts on both dates": f"{summary['accounts']:,}", "Moved to a worse band": f"{summary['worse']:,}",
            "Moved to a better band": f"{summary['better']:,}", "Stayed in their band": f"{summary['same']:,}"}


def test_trends_opens_with_migration_alert_and_distribution_charts(at):
    assert not errors(at), errors(at)
    titles = [json.loads(el.proto.spec)["layout"]["title"]["text"] for el in at.get("plotly_chart")]
    assert titles == ["Band migration 2025-10-01 → 2026-10-01", "Accounts by band on both dates",
                      "Score distribution over time", "Average score by size"]


def test_migration_dates_default_to_a_year_apart_and_counts_match_lib(at, sample):
    scored, _ = sample
    assert at.selectbox(key="trends.from").value == pd.Timestamp("2025-10-01")
    assert at.selectbox(key="trends.to").value == pd.Timestamp("2026-10-01")
    summary = pf.migration_summary(pf.migrations(scored, pd.Timestamp("2025-10-01"), pd.Timestamp("2026-10-01")))
    assert migration_figures(summary).items() <= metrics(at).items()


def test_changing_the_from_date_recounts_the_migrations(at, sample):
    scored, dates = sample
    at.selectbox(key="trends.from").set_value(dates[0]).run()
    summary = pf.migration_summary(pf.migrations(scored, dates[0], pd.Timestamp("2026-10-01")))
    assert migration_figures(summary).items() <= metrics(at).items()
    sankey = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert values(sankey["link"]["value"]).sum() == summary["accounts"]
    at.selectbox(key="trends.from").set_value(pd.Timestamp("2025-10-01")).run()


def test_from_date_after_to_date_asks_for_an_earlier_start(at, sample):
    _, dates = sample
    at.selectbox(key="trends.from").set_value(dates[-1]).run()
    assert not errors(at) and "before the **To** date" in at.warning[0].value
    at.selectbox(key="trends.from").set_value(pd.Timestamp("2025-10-01")).run()
    assert not at.warning


def test_alert_counts_per_model_rule_follow_the_period(at, sample):
    scored, dates = sample
    as_of = dates[-1]
    for window in (3, 12):
        at.segmented_control(key="trends.window").set_value(window).run()
        alerts = pf.alerts_table(scored, since=pf.window_start(dates, as_of, window), until=as_of)
        counts = pf.alert_counts(alerts, ["Steep drop", "Turned red"])
        assert metrics(at)["Steep drop"] == f"{counts['Steep drop']:,}"
        assert metrics(at)["Turned red"] == f"{counts['Turned red']:,}"
    table = next(d.value for d in at.dataframe if "Rule" in d.value.columns)
    assert len(table) == len(alerts)
    assert list(table.columns[:4]) == ["Date", "Rule", "Account", "ID"]
    at.segmented_control(key="trends.window").set_value(3).run()


def test_rule_pills_filter_the_alert_table(at):
    at.pills(key="trends.rules").set_value(["Turned red"]).run()
    table = next(d.value for d in at.dataframe if "Rule" in d.value.columns)
    assert set(table["Rule"]) == {"Turned red"}
    at.pills(key="trends.rules").set_value([]).run()
    assert "No account was flagged" in at.info[0].value
    at.pills(key="trends.rules").set_value(["Steep drop", "Turned red"]).run()


def test_segment_picker_changes_the_average_score_lines(at):
    at.selectbox(key="trends.segment").set_value("region").run()
    assert not errors(at), errors(at)
    assert "Average score per region value" in at.caption[-1].value
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert spec["layout"]["title"]["text"] == "Average score by region"
    expected = pf.segment_score_over_time(scored_as_shown(at), "region", max_values=5)
    assert [trace["name"] for trace in spec["data"]] == [str(c) for c in expected.columns]
