"""Portfolio summaries: small hand-made score tables with known answers."""

import numpy as np
import pandas as pd
import pytest

from lib import portfolio as pf

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
    out = pf.attach_attributes(scores, portfolio, segments=["size"], metrics=["logins"])
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
