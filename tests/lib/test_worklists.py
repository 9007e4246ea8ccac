"""Worklists: who needs attention (ranked by ARR at risk, with reasons) and who is ready to expand."""

import numpy as np
import pandas as pd
import pytest

from lib.engine.scored_portfolio import attach_attributes
from lib.views import worklists
from lib.views.worklists import WorklistError

D1, D2, D3 = pd.Timestamp("2026-08-01"), pd.Timestamp("2026-09-01"), pd.Timestamp("2026-10-01")


def _band(score: pd.Series) -> np.ndarray:
    return np.select([score.isna(), score <= 40, score <= 70], ["no data", "red", "yellow"], "green")


@pytest.fixture
def book() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Six accounts, two owners (and one without), three monthly snapshots; reasons known by construction.

    At D3:
      A  red 20, ARR 100k, alert "Steep drop; Turned red"       → at risk 80k   (Maya)
      B  yellow 50, ARR 400k, renews in 30 days                 → at risk 200k  (Maya)
      C  green 90, ARR 50k, no contact for 45 days              → at risk 5k    (Maya)
      D  green 85, ARR 900k, renews in 10 days (green: no flag) → not listed    (Jordan)
      E  red 35, no ARR                                         → at risk NaN   (Jordan)
      F  yellow 60, ARR 10k, renews in 200 days, contact 5 days → not listed    (no owner)
    """
    accounts = list("ABCDEF")
    dates = [D1, D2, D3]
    portfolio = pd.DataFrame(
        {
            "account_id": np.repeat(accounts, 3),
            "snapshot_date": dates * 6,
        }
    )
    portfolio["account_name"] = portfolio["account_id"].map(lambda a: f"Account {a}")
    portfolio["csm_owner"] = portfolio["account_id"].map(
        {"A": "Maya", "B": "Maya", "C": "Maya", "D": "Jordan", "E": "Jordan", "F": None}
    )
    portfolio["arr"] = portfolio["account_id"].map(
        {"A": 100_000.0, "B": 400_000.0, "C": 50_000.0, "D": 900_000.0, "E": np.nan, "F": 10_000.0}
    )
    renew_days = {"A": 300, "B": 30, "C": 120, "D": 10, "E": 250, "F": 200}
    portfolio["renewal_date"] = D3 + pd.to_timedelta(portfolio["account_id"].map(renew_days), unit="D")
    contact = {"A": 3.0, "B": 12.0, "C": 45.0, "D": 1.0, "E": np.nan, "F": 5.0}
    portfolio["days_since_last_contact"] = portfolio["account_id"].map(contact)
    # Usage: C and D grow, A falls, F flat.
    logins = {"A": [9, 6, 3], "B": [4, 4, 5], "C": [10, 12, 14], "D": [5, 6, 9], "E": [1, 1, 1], "F": [7, 7, 7]}
    portfolio["logins_per_user"] = [float(v) for a in accounts for v in logins[a]]

    score_now = {"A": 20.0, "B": 50.0, "C": 90.0, "D": 85.0, "E": 35.0, "F": 60.0}
    scores = portfolio[["account_id", "snapshot_date"]].copy()
    scores["profile"] = "Default"
    scores["score"] = scores["account_id"].map(score_now) + np.tile([4.0, 2.0, 0.0], 6)
    scores.loc[(scores["account_id"] == "A") & (scores["snapshot_date"] < D3), "score"] = [60.0, 45.0]
    scores["band"] = _band(scores["score"])
    scores["grade"] = None
    scores["change"] = scores.groupby("account_id")["score"].diff()
    scores["rank_in_band"] = 1
    scores["alerts"] = ""
    scores.loc[(scores["account_id"] == "A") & (scores["snapshot_date"] == D3), "alerts"] = "Steep drop; Turned red"
    return scores, portfolio


def test_attention_list_ranks_each_owners_accounts_by_arr_at_risk(book):
    scores, portfolio = book
    out = worklists.attention_list(scores, portfolio)
    assert out[["owner", "rank", "account_id"]].values.tolist() == [
        ["Jordan", 1, "E"],
        ["Maya", 1, "B"],
        ["Maya", 2, "A"],
        ["Maya", 3, "C"],
    ]
    risk = out.set_index("account_id")["arr_at_risk"]
    assert risk[["B", "A", "C"]].tolist() == pytest.approx([200_000.0, 80_000.0, 5_000.0])
    assert np.isnan(risk["E"])  # no ARR: nothing to weigh, listed for being red


def test_attention_list_gives_each_account_a_human_reason(book):
    scores, portfolio = book
    reasons = worklists.attention_list(scores, portfolio).set_index("account_id")["reason"]
    assert reasons["A"] == "Alert: Steep drop, Turned red; Red band (score 20)"
    assert reasons["B"] == "Renews in 30 days (2026-10-31) while yellow"
    assert reasons["C"] == "No contact for 45 days (limit 30)"
    assert reasons["E"] == "Red band (score 35)"


def test_attention_list_leaves_out_accounts_with_no_reason_and_green_renewals(book):
    scores, portfolio = book
    listed = set(worklists.attention_list(scores, portfolio)["account_id"])
    assert "D" not in listed  # green and renewing soon: fine
    assert "F" not in listed  # yellow, renewal far, recent contact, no alert


def test_attention_list_thresholds_are_configurable(book):
    scores, portfolio = book
    out = worklists.attention_list(
        scores, portfolio, overdue_contact_days=50, renewal_window_days=220, include_red=False
    ).set_index("account_id")
    assert "C" not in out.index  # 45 days is no longer overdue
    assert "E" not in out.index  # red alone no longer lists it (renews in 250 days)
    assert out.loc["F", "reason"] == "Renews in 200 days (2027-04-19) while yellow"
    assert out.loc["A", "reason"] == "Alert: Steep drop, Turned red"


def test_attention_list_filters_by_owner_and_calls_missing_owners_unassigned(book):
    scores, portfolio = book
    assert set(worklists.attention_list(scores, portfolio, owner="Maya")["account_id"]) == {"A", "B", "C"}
    out = worklists.attention_list(scores, portfolio, owner=["Unassigned"], renewal_window_days=365)
    assert out[["owner", "rank", "account_id"]].values.tolist() == [["Unassigned", 1, "F"]]


def test_attention_list_at_an_earlier_snapshot_uses_that_snapshots_scores(book):
    scores, portfolio = book
    out = worklists.attention_list(scores, portfolio, as_of="2026-09-01").set_index("account_id")
    assert out.index.tolist() == ["E", "B", "C"]  # A was yellow with no alert a month earlier
    assert out.loc["E", "score"] == 37.0
    assert out.loc["B", "reason"] == "Renews in 60 days (2026-10-31) while yellow"
    assert (out["snapshot_date"] == D2).all()


def test_attention_list_counts_contact_days_from_a_last_contact_date_column(book):
    scores, portfolio = book
    dated = portfolio.drop(columns="days_since_last_contact").assign(
        last_contact_date=lambda d: d["snapshot_date"] - pd.Timedelta(days=31)
    )
    out = worklists.attention_list(scores, dated).set_index("account_id")
    assert out["days_since_contact"].eq(31).all()
    assert out.loc["F", "reason"] == "No contact for 31 days (limit 30)"


def test_attention_list_without_an_owner_column_puts_everyone_in_one_list(book):
    scores, portfolio = book
    out = worklists.attention_list(scores, portfolio.drop(columns="csm_owner"))
    assert set(out["owner"]) == {"Unassigned"}
    assert out["account_id"].tolist() == ["B", "A", "C", "E"]
    assert out["rank"].tolist() == [1, 2, 3, 4]


def test_attention_list_explains_bad_input(book):
    scores, portfolio = book
    with pytest.raises(WorklistError, match="no snapshot on 2026-09-15 — pick a snapshot date between 2026-08-01"):
        worklists.attention_list(scores, portfolio, as_of="2026-09-15")
    with pytest.raises(WorklistError, match="'band'"):
        worklists.attention_list(scores.drop(columns="band"), portfolio)
    with pytest.raises(WorklistError, match="owner column 'owner_email' not found"):
        worklists.attention_list(scores, portfolio, owner_column="owner_email")
    with pytest.raises(WorklistError, match="more than one row per account"):
        worklists.attention_list(scores, pd.concat([portfolio, portfolio.tail(1)]))


def test_owner_summary_totals_each_owners_list(book):
    scores, portfolio = book
    summary = worklists.owner_summary(worklists.attention_list(scores, portfolio))
    assert summary["owner"].tolist() == ["Maya", "Jordan"]
    maya = summary.iloc[0]
    assert (maya["accounts"], maya["arr_at_risk"], maya["alerts"], maya["red"]) == (3, 285_000.0, 1, 1)
    assert (maya["contact_overdue"], maya["renewals"]) == (1, 1)


def test_usage_trend_is_the_least_squares_slope_and_relative_growth():
    portfolio = pd.DataFrame(
        {
            "account_id": ["X"] * 4 + ["Y"] * 4 + ["Z"],
            "snapshot_date": [D1, D2, D3, pd.Timestamp("2026-11-01")] * 2 + [D3],
            "usage": [10.0, 12.0, 14.0, 16.0, 5.0, np.nan, 4.0, 3.0, 9.0],
        }
    )
    trend = worklists.usage_trend(portfolio, "usage", [D2, D3, pd.Timestamp("2026-11-01")]).set_index(
        "account_id"
    )
    assert trend.loc["X", "usage_slope"] == pytest.approx(2.0)
    assert trend.loc["X", "usage_growth"] == pytest.approx(2.0 * 2 / 14.0)
    assert trend.loc["Y", "usage_points"] == 2 and trend.loc["Y", "usage_slope"] == pytest.approx(-1.0)
    assert "Z" not in trend.index  # one point is no trend


def test_expansion_list_keeps_green_accounts_with_growing_usage(book):
    scores, portfolio = book
    out = worklists.expansion_list(scores, portfolio, usage_column="logins_per_user", usage_label="Logins")
    assert out[["owner", "rank", "account_id"]].values.tolist() == [["Jordan", 1, "D"], ["Maya", 1, "C"]]
    row = out.set_index("account_id").loc["D"]
    assert row["usage_slope"] == pytest.approx(2.0) and row["usage"] == 9.0
    assert row["usage_growth"] == pytest.approx(2.0 * 2 / (20 / 3))
    assert row["reason"] == "Score 85 (green); Logins up 60% over the last 3 snapshots"
    assert out["expansion_score"].isna().all()


def test_expansion_list_score_threshold_and_growth_floor(book):
    scores, portfolio = book
    by_score = worklists.expansion_list(scores, portfolio, usage_column="logins_per_user", min_score=50)
    assert set(by_score["account_id"]) == {"B", "C", "D"}  # B (yellow 50) grows 4 → 5
    strong = worklists.expansion_list(scores, portfolio, usage_column="logins_per_user", min_growth=0.5)
    assert strong["account_id"].tolist() == ["D"]  # C grows 33 %, D 60 %
    two = worklists.expansion_list(scores, portfolio, usage_column="logins_per_user", trend_snapshots=2)
    assert "over the last 2 snapshots" in two["reason"].iloc[0]


def test_expansion_list_takes_a_scored_portfolio_that_already_holds_raw_values(book):
    """The pages hold the scored portfolio (``lib.attach_attributes``), whose ``{metric}_value``
    columns clashed with the usage values joined from the portfolio (KeyError on the usage column)."""
    scores, portfolio = book
    scored = attach_attributes(scores, portfolio, ["csm_owner"], ["logins_per_user"])
    out = worklists.expansion_list(scored, portfolio, usage_column="logins_per_user", usage_label="Logins")
    plain = worklists.expansion_list(scores, portfolio, usage_column="logins_per_user", usage_label="Logins")
    pd.testing.assert_frame_equal(out, plain)


def test_expansion_list_ranks_by_the_expansion_score_when_the_model_has_one(book):
    scores, portfolio = book
    expansion = scores[["account_id", "snapshot_date"]].assign(
        score=scores["account_id"].map({"C": 95.0, "D": 40.0}).fillna(10.0)
    )
    expansion["band"] = _band(expansion["score"])
    out = worklists.expansion_list(
        scores, portfolio, usage_column="logins_per_user", min_score=50, owner="Maya",
        expansion_scores=expansion,
    )
    assert out["account_id"].tolist() == ["C", "B"]
    assert out["expansion_score"].tolist() == [95.0, 10.0]
    assert out["expansion_band"].tolist() == ["green", "red"]
    assert out["reason"].iloc[0].endswith("; expansion score 95")


def test_expansion_list_needs_a_numeric_usage_column(book):
    scores, portfolio = book
    with pytest.raises(WorklistError, match="'csm_owner' is not numeric"):
        worklists.expansion_list(scores, portfolio, usage_column="csm_owner")
    with pytest.raises(WorklistError, match="missing column"):
        worklists.expansion_list(scores, portfolio, usage_column="seats")
    with pytest.raises(WorklistError, match="at least 2 snapshots"):
        worklists.expansion_list(scores, portfolio, usage_column="logins_per_user", trend_snapshots=1)


# --- on the sample portfolio scored by the engine ---------------------------------------------------


@pytest.fixture(scope="module")
def sample_scored():
    import yaml

    from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio
    from lib.engine.model import model_from_dict
    from lib.engine.sql import score

    raw = yaml.safe_load(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))
    raw["expansion"] = {
        "bands": {"red": 30, "yellow": 60},
        "metrics": {
            "feature_adoption_pct": {"weight": 1, "score": {"method": "linear", "red": 20, "green": 80}},
            "logins_per_user": {"weight": 1, "score": {"method": "linear", "red": 2, "green": 10}},
        },
    }
    model = model_from_dict(raw, "sample model")
    portfolio = generate_portfolio(n_accounts=300, n_snapshots=6)
    return portfolio, score(model, portfolio), score(model.expansion, portfolio)


def test_attention_list_on_the_scored_sample_lists_every_red_account_ranked_by_arr_at_risk(sample_scored):
    portfolio, scores, _ = sample_scored
    latest = scores["snapshot_date"].max()
    out = worklists.attention_list(scores, portfolio)
    red_now = set(scores.loc[(scores["snapshot_date"] == latest) & (scores["band"] == "red"), "account_id"])
    assert red_now and red_now <= set(out["account_id"])
    assert set(out["owner"]) <= set(portfolio["csm_owner"])
    arr = portfolio.loc[portfolio["snapshot_date"] == latest].set_index("account_id")["arr"]
    expected = arr.reindex(out["account_id"]).to_numpy() * (1 - out["score"].to_numpy() / 100)
    np.testing.assert_allclose(out["arr_at_risk"].to_numpy(), expected)
    for _, rows in out.groupby("owner"):
        assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
        assert rows["arr_at_risk"].dropna().is_monotonic_decreasing
    assert (out["reason"].str.len() > 0).all()
    assert out[["alert_hit", "is_red", "contact_overdue", "renewal_soon"]].any(axis=1).all()


def test_expansion_list_on_the_sample_ranks_by_the_models_expansion_score(sample_scored):
    portfolio, scores, expansion_scores = sample_scored
    out = worklists.expansion_list(
        scores, portfolio, usage_column="logins_per_user", expansion_scores=expansion_scores
    )
    assert len(out) > 0 and (out["band"] == "green").all() and (out["usage_slope"] > 0).all()
    latest = expansion_scores.loc[expansion_scores["snapshot_date"] == scores["snapshot_date"].max()]
    expected = latest.set_index("account_id")["score"].reindex(out["account_id"]).to_numpy()
    np.testing.assert_allclose(out["expansion_score"].to_numpy(), expected)
    for _, rows in out.groupby("owner"):
        assert rows["expansion_score"].is_monotonic_decreasing


@pytest.mark.parametrize(("columns", "owner"), [
    (["Tier", "CS Rep", "Territory"], "CS Rep"),
    (["Account Manager", "Region"], "Account Manager"),
    (["Region", "csm_owner", "CSM"], "csm_owner"),  # the exact names first
    (["Region", "Stage", "Sample Ramp"], None),
])
def test_the_owner_column_is_found_by_the_names_crm_exports_give_it(columns, owner):
    assert worklists.find_owner_column(columns) == owner


def test_the_contact_recency_column_is_found_by_crm_names():
    assert worklists.find_contact_column(["Days Since Last Touch", "Days Since QBR"]) == "Days Since Last Touch"
    assert worklists.find_contact_column(["Days Since QBR"]) is None
