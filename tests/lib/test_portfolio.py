"""Portfolio summaries: small hand-made score tables with known answers."""

import numpy as np
import pandas as pd
import pytest

from lib.engine.model import Categories, Linear, Percentile, Steps, VsAverage
from lib.engine.scored_portfolio import attach_attributes
from lib.views import portfolio as pf

D1, D2 = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01")


@pytest.fixture
def scored() -> pd.DataFrame:
    """Four accounts over two snapshots; C moves green → red, D is new on D2."""
    rows = [
        # account, date, score, band, change, arr, size, alerts
        ("A", D1, 20.0, "red", np.nan, 100.0, "SMB", ""),
        ("A", D2, 25.0, "red", 5.0, 100.0, "SMB", ""),
        ("B", D1, 50.0, "yellow", np.nan, 300.0, "Enterprise", ""),
        ("B", D2, 60.0, "yellow", 10.0, 300.0, "Enterprise", ""),
        ("C", D1, 90.0, "green", np.nan, 1000.0, "Enterprise", ""),
        ("C", D2, 10.0, "red", -80.0, 1000.0, "Enterprise", "Steep drop; Turned red"),
        ("D", D2, np.nan, "no data", np.nan, 50.0, "SMB", ""),
    ]
    frame = pd.DataFrame(rows, columns=["account_id", "snapshot_date", "score", "band", "change", "arr", "size",
                                        "alerts"])
    frame["account_name"] = frame["account_id"].map({"A": "Acme", "B": "Beta", "C": "Cobalt", "D": "Delta"})
    frame["usage_score"] = frame["score"]
    frame["usage_weight"] = 1.0
    frame["usage_contribution"] = frame["score"]
    frame["usage_value"] = frame["score"] / 10
    return frame


def test_attach_attributes_joins_segments_and_suffixes_raw_metric_values():
    scores = pd.DataFrame({"account_id": ["A"], "snapshot_date": [D1], "score": [50.0], "logins_score": [50.0]})
    portfolio = pd.DataFrame({"account_id": ["A"], "snapshot_date": [D1], "account_name": [None],
                              "size": ["SMB"], "logins": [7.0]})
    out = attach_attributes(scores, portfolio, segments=["size"], metrics=["logins"])
    assert out.loc[0, "size"] == "SMB"
    assert out.loc[0, "logins_value"] == 7.0
    assert out.loc[0, "account_name"] == "A", "a missing name falls back to the id"


def test_apply_filters_keeps_only_chosen_segment_values(scored):
    assert set(pf.apply_filters(scored, {"size": ["SMB"]})["account_id"]) == {"A", "D"}
    assert len(pf.apply_filters(scored, {"size": []})) == len(scored), "an empty choice keeps everything"


def test_band_summary_counts_accounts_and_changes_vs_previous_snapshot(scored):
    out = pf.band_summary(scored, D2).set_index("band")
    assert out.loc["red", "accounts"] == 2 and out.loc["red", "accounts_change"] == 1
    assert out.loc["green", "accounts"] == 0 and out.loc["green", "accounts_change"] == -1
    assert out.loc["red", "arr"] == 1100.0
    assert out["share"].sum() == pytest.approx(1.0)


def test_headline_reports_average_and_red_share_with_changes(scored):
    h = pf.headline(scored, D2)
    assert h["accounts"] == 4 and h["accounts_change"] == 1
    assert h["avg_score"] == pytest.approx((25 + 60 + 10) / 3)
    assert h["red_share"] == pytest.approx(2 / 3)
    assert pf.headline(scored, D1)["avg_score_change"] is None


def test_band_counts_over_time_has_every_band_column(scored):
    counts = pf.band_counts_over_time(scored)
    assert list(counts.columns) == list(pf.BAND_ORDER)
    assert counts.loc[D2].to_dict() == {"red": 2, "yellow": 1, "green": 0, "no data": 1}
    assert pf.band_counts_over_time(scored, share=True).loc[D1].sum() == pytest.approx(1.0)


def test_movers_lists_falls_first_then_rises(scored):
    out = pf.movers(scored, D2, n=5)
    assert list(out["account_id"]) == ["C", "B", "A"]


def test_arr_at_risk_ranks_red_first_then_by_weighted_arr(scored):
    out = pf.arr_at_risk(scored, D2)
    assert list(out["account_id"]) == ["C", "A", "B"]
    assert out.loc[0, "arr_at_risk"] == pytest.approx(900.0)
    assert list(out["rank"]) == [1, 2, 1]


def test_migrations_counts_accounts_present_on_both_dates(scored):
    m = pf.migrations(scored, D1, D2)
    assert m.loc["green", "red"] == 1 and m.loc["red", "red"] == 1 and m.loc["yellow", "yellow"] == 1
    assert m.to_numpy().sum() == 3, "D is new on D2 and is not a migration"


def test_alerts_table_explodes_rules_per_account(scored):
    out = pf.alerts_table(scored)
    assert sorted(out["rule"]) == ["Steep drop", "Turned red"]
    assert set(out["account_id"]) == {"C"}


def test_segment_band_matrix_counts_by_segment(scored):
    m = pf.segment_band_matrix(scored, D2, "size")
    assert m.loc["Enterprise", "red"] == 1 and m.loc["SMB", "no data"] == 1


def test_account_breakdown_and_explanation_name_the_metric_that_moved(scored):
    breakdown = pf.account_breakdown(scored, "C", D2, ["usage"])
    assert breakdown.loc[0, "contribution_change"] == pytest.approx(-80.0)
    assert breakdown.loc[0, "previous_value"] == pytest.approx(9.0)
    text = pf.explain_change(breakdown, {"usage": "Usage"})
    assert "Usage took 80.0 points" in text


def test_explain_change_says_nothing_moved_at_first_snapshot(scored):
    breakdown = pf.account_breakdown(scored, "C", D1, ["usage"])
    assert pf.explain_change(breakdown) == "No metric moved the score since the previous snapshot."


def test_segment_position_flags_the_account_among_its_peers(scored):
    peers = pf.segment_position(scored, "B", D2, "size")
    assert set(peers["account_id"]) == {"B", "C"}
    assert peers.loc[peers["is_account"], "percentile"].iloc[0] == 100.0
    assert pf.segment_position(scored, "Z", D2, "size").empty


# -- overrides ------------------------------------------------------------------------------------------
def _overrides(*rows) -> pd.DataFrame:
    """Rows of (override_id, account_id, score, reason, expires_on, created_at) as the workspace returns them."""
    frame = pd.DataFrame(rows, columns=["override_id", "account_id", "score", "reason", "expires_on", "created_at"])
    frame["expires_on"] = pd.to_datetime(frame["expires_on"])
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    return frame


def test_apply_overrides_starts_at_the_snapshot_in_force_when_set_and_leaves_the_model_score(scored):
    """An override set after the last snapshot covers that snapshot (snapshots lag the calendar)."""
    out = pf.apply_overrides(scored, _overrides((1, "C", 80.0, "renewal signed", None, "2026-02-20 10:00")))
    c = out.loc[out["account_id"] == "C"].set_index("snapshot_date")
    assert c.loc[D2, "override_score"] == 80.0 and c.loc[D2, "override_reason"] == "renewal signed"
    assert np.isnan(c.loc[D1, "override_score"]), "snapshots before the one in force are not covered"
    assert c.loc[D2, "score"] == 10.0, "the model's score stays as is"
    assert out.loc[out["account_id"] != "C", "override_score"].isna().all()


def test_apply_overrides_stops_after_expiry_and_newest_override_wins(scored):
    out = pf.apply_overrides(scored, _overrides(
        (1, "A", 90.0, "old", None, "2025-12-01"),
        (2, "A", 70.0, "new", "2026-01-15", "2025-12-02"),
    ))
    a = out.loc[out["account_id"] == "A"].set_index("snapshot_date")
    assert a.loc[D1, "override_score"] == 70.0 and a.loc[D1, "override_reason"] == "new"
    assert np.isnan(a.loc[D2, "override_score"]), "expired on 2026-01-15, before the D2 snapshot"


def test_apply_overrides_adds_empty_columns_without_touching_the_shared_frame(scored):
    out = pf.apply_overrides(scored, _overrides())
    assert out["override_score"].isna().all() and "override_score" not in scored.columns
    assert pf.apply_overrides(scored, None)["override_reason"].isna().all()


def test_override_marks_show_model_score_arrow_override(scored):
    out = pf.apply_overrides(scored, _overrides((1, "C", 80.0, "renewal signed", None, "2026-02-01")))
    marks = pf.override_marks(pf.at_date(out, D2)).tolist()
    assert marks == ["", "", "10 → 80 (override)", ""]
    assert pf.score_label(62.4, 80) == "62 → 80 (override)" and pf.score_label(62.4, np.nan) == "62"
    assert pf.score_label(62.4, 80, suffix=False) == "62 → 80"


def test_live_overrides_lists_unexpired_ones_newest_first():
    table = _overrides((1, "A", 90.0, "old", None, "2026-01-01"), (2, "A", 70.0, "new", "2026-12-31", "2026-02-01"),
                       (3, "A", 10.0, "gone", "2026-01-31", "2026-01-10"), (4, "B", 50.0, "other", None, "2026-01-01"))
    out = pf.live_overrides(table, "A", pd.Timestamp("2026-03-01"))
    assert out["override_id"].tolist() == [2, 1]


def test_arr_at_risk_and_movers_carry_override_columns(scored):
    out = pf.apply_overrides(scored, _overrides((1, "C", 80.0, "renewal signed", None, "2026-02-01")))
    risk = pf.arr_at_risk(out, D2)
    assert risk.loc[risk["account_id"] == "C", "override_score"].iloc[0] == 80.0
    assert "override_reason" in pf.movers(out, D2).columns
    assert pf.arr_at_risk(out, D2, per_band=1)["account_id"].tolist() == ["C", "B"]


def test_apply_filters_returns_the_frame_itself_without_an_active_filter(scored):
    assert pf.apply_filters(scored, {"size": ()}) is scored


# -- display ----------------------------------------------------------------------------------------------
def test_kpis_format_values_and_changes_with_red_share_inverse(scored):
    cards = {k.label: k for k in pf.kpis(pf.headline(scored, D2))}
    assert cards["Accounts"].value == "4" and cards["Accounts"].delta == "+1"
    assert cards["ARR"].value == "$1.4K" and cards["ARR"].delta == "+$50"
    assert cards["Average score"].value == "31.7"
    assert cards["Accounts red"].value == "66.7%" and cards["Accounts red"].delta_color == "inverse"
    assert all(k.delta is None for k in pf.kpis(pf.headline(scored, D1)))


def test_money_shortens_and_signs():
    assert pf.money(48_213_000) == "$48.2M" and pf.money(-1500, signed=True) == "-$1.5K"
    assert pf.money(float("nan")) == "–" and pf.money(250, signed=True) == "+$250"


def test_display_table_names_columns_capitalises_bands_and_adds_override_text(scored):
    out = pf.apply_overrides(scored, _overrides((1, "C", 80.0, "renewal signed", None, "2026-02-01")))
    table = pf.display_table(pf.arr_at_risk(out, D2))
    assert list(table.columns[:6]) == ["Rank", "Account", "ID", "Band", "Score", "Override"]
    assert table["Band"].tolist() == ["Red", "Red", "Yellow"]
    assert table.loc[table["ID"] == "C", "Override"].iloc[0] == "10 → 80 (override)"


def test_style_bands_colours_band_cells_with_the_band_colour(scored):
    table = pf.display_table(pf.at_date(scored, D2))
    html = pf.style_bands(table, {"red": "#D55E00", "no data": "#9AA0A6"}).to_html()
    assert "background-color: #D55E00" in html and "background-color: #9AA0A6" in html


# -- trends ---------------------------------------------------------------------------------------------
MONTHS = list(pd.date_range("2025-01-01", "2026-10-01", freq="MS"))


def test_default_migration_dates_are_a_year_apart_or_first_to_as_of():
    assert pf.default_migration_dates(MONTHS, pd.Timestamp("2026-10-01")) == (pd.Timestamp("2025-10-01"),
                                                                              pd.Timestamp("2026-10-01"))
    assert pf.default_migration_dates(MONTHS, pd.Timestamp("2025-06-01"))[0] == pd.Timestamp("2025-01-01")


def test_window_start_counts_snapshots_back_from_as_of():
    assert pf.window_start(MONTHS, pd.Timestamp("2026-10-01"), 3) == pd.Timestamp("2026-08-01")
    assert pf.window_start(MONTHS, pd.Timestamp("2025-02-01"), 12) == pd.Timestamp("2025-01-01")


def test_alerts_table_until_drops_later_flags_and_counts_cover_every_rule(scored):
    assert pf.alerts_table(scored, until=D1).empty
    counts = pf.alert_counts(pf.alerts_table(scored), ["Steep drop", "Turned red", "Slow decline"])
    assert counts.to_dict() == {"Steep drop": 1, "Turned red": 1, "Slow decline": 0}


def test_segment_score_over_time_averages_per_date_and_value(scored):
    out = pf.segment_score_over_time(scored, "size")
    assert out.loc[D1, "Enterprise"] == pytest.approx(70.0) and out.loc[D2, "SMB"] == pytest.approx(25.0)
    assert list(pf.segment_score_over_time(scored, "size", max_values=1).columns) == ["Enterprise"]


# -- one account ----------------------------------------------------------------------------------------
def test_account_choices_label_name_and_id_sorted_by_name(scored):
    choices = pf.account_choices(scored)
    assert choices.to_dict() == {"A": "Acme · A", "B": "Beta · B", "C": "Cobalt · C", "D": "Delta · D"}
    assert list(choices.index) == ["A", "B", "C", "D"]


def test_default_account_is_the_red_account_with_most_arr_at_risk(scored):
    assert pf.default_account(scored, D2) == "C"
    assert pf.default_account(scored.iloc[0:0], D2) is None


def test_account_snapshot_is_the_latest_row_on_or_before_as_of(scored):
    assert pf.account_snapshot(scored, "C", D2)["score"] == 10.0
    assert pf.account_snapshot(scored, "D", D1) is None


@pytest.mark.parametrize("spec,text", [
    pytest.param(Linear(red=2, green=8), "≤ 2 → 0 · ≥ 8 → 100 (straight line between)", id="linear"),
    pytest.param(Linear(red=45, green=0), "≤ 0 → 100 · ≥ 45 → 0 (straight line between)", id="linear_lower_better"),
    pytest.param(Steps(cuts=(3, 6), points=(100, 50, 0)), "< 3 → 100 · < 6 → 50 · else 0", id="steps"),
    pytest.param(Categories(map={"green": 100, "red": 0}), "green → 100 · red → 0", id="categories"),
    pytest.param(Percentile(within=("size",)), "percentile rank within size (higher is better)", id="percentile"),
    pytest.param(VsAverage(within=("stage",), cuts=(0.8, 1.2), points=(0, 50, 100)),
                 "ratio to the average within stage: < 0.8 → 0 · < 1.2 → 50 · else 100", id="vs_average"),
])
def test_describe_spec_says_how_values_become_points(spec, text):
    assert pf.describe_spec(spec) == text


def test_metric_table_lists_metrics_in_model_order_with_rule_and_weight_percent(scored):
    breakdown = pf.account_breakdown(scored, "C", D2, ["usage"])
    table = pf.metric_table(breakdown, {"usage": Linear(red=2, green=8)}, {"usage": "Usage"})
    row = table.iloc[0]
    assert row["Metric"] == "Usage" and row["Value"] == "1" and row["Weight (%)"] == 100.0
    assert row["Change"] == pytest.approx(-80.0) and row["Scoring rule"].startswith("≤ 2 → 0")


def test_migration_summary_counts_worse_better_and_same(scored):
    summary = pf.migration_summary(pf.migrations(scored, D1, D2))
    assert summary == {"accounts": 3, "worse": 1, "better": 0, "same": 2}


def test_alerts_table_keeps_only_chosen_rules(scored):
    assert pf.alerts_table(scored, rules=["Turned red"])["rule"].tolist() == ["Turned red"]


def test_band_summary_can_hide_an_empty_no_data_row(scored):
    assert "no data" in pf.band_summary(scored, D2, hide_empty_no_data=True)["band"].tolist(), "D has no data"
    without_d = scored.loc[scored["account_id"] != "D"]
    assert pf.band_summary(without_d, D2, hide_empty_no_data=True)["band"].tolist() == ["red", "yellow", "green"]


def test_a_window_metric_shows_its_statistic_its_raw_value_and_what_is_scored():
    from lib.engine.model import model_from_dict
    from lib.engine.sql import score

    model = model_from_dict({"name": "W", "bands": {"red": 30, "yellow": 70}, "metrics": {
        "logins": {"weight": 1, "score": {"method": "linear", "red": 0, "green": 10}},
        "logins mean": {"column": "logins", "window": {"snapshots": 2, "stat": "mean"}, "weight": 1,
                        "score": {"method": "linear", "red": 0, "green": 10}}}})
    portfolio = pd.DataFrame({"account_id": ["A", "A"], "snapshot_date": [D1, D2], "logins": [2.0, 6.0]})
    scored = attach_attributes(score(model, portfolio), portfolio, metrics=model)
    assert list(scored["logins mean_value"]) == [2.0, 4.0] and list(scored["logins mean_raw"]) == [2.0, 6.0]
    assert "logins_raw" not in scored.columns
    breakdown = pf.account_breakdown(scored, "A", D2, list(model.metrics))
    table = pf.metric_table(breakdown, pf.metric_specs(model, None), None, pf.metric_windows(model)).set_index("Metric")
    assert table.loc["logins mean", "Value"] == "4" and table.loc["logins mean", "Raw value"] == "6"
    assert table.loc["logins mean", "Scores"] == "mean over the last 2 snapshots of logins"
    assert table.loc["logins", "Scores"] == "its value at the date" and table.loc["logins", "Raw value"] == ""
