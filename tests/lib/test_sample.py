"""The sample portfolio: canonical, deterministic, and driven by a hidden health process (issue 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.data.ingest import load_portfolio
from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio, sample_roles, write_sample
from lib.engine.model import check_columns, load_model


@pytest.fixture(scope="module")
def book() -> pd.DataFrame:
    return generate_portfolio()


@pytest.fixture(scope="module")
def accounts(book: pd.DataFrame) -> pd.DataFrame:
    """One row per account: outcome, label, its last snapshot and recent usage."""
    recent = book.groupby("account_id").tail(3)
    return book.groupby("account_id").agg(
        churned=("churned", "first"),
        label=("health_label", "first"),
        last=("snapshot_date", "max"),
        n=("snapshot_date", "size"),
    ).join(recent.groupby("account_id")[["logins_per_user", "feature_adoption_pct", "invoice_days_late"]].mean())


def test_same_seed_gives_the_same_table_and_another_seed_does_not():
    a = generate_portfolio(n_accounts=50, n_snapshots=6, seed=11)
    pd.testing.assert_frame_equal(a, generate_portfolio(n_accounts=50, n_snapshots=6, seed=11))
    b = generate_portfolio(n_accounts=50, n_snapshots=6, seed=12)
    assert not a["logins_per_user"].equals(b["logins_per_user"])


def test_sample_is_a_canonical_table(book: pd.DataFrame):
    roles = sample_roles()
    assert list(book.columns[:3]) == ["account_id", "account_name", "snapshot_date"]
    assert set(roles.canonical().columns()) == set(book.columns)
    assert book["snapshot_date"].dtype == "datetime64[ns]" and book["renewal_date"].dtype == "datetime64[ns]"
    assert book["churned"].dtype == "boolean"
    numeric = [m for m in roles.metrics if m != "csm_sentiment"] + ["arr"]
    assert all(book[c].dtype == np.float64 for c in numeric)
    assert not book.duplicated(["account_id", "snapshot_date"]).any()
    assert book.equals(book.sort_values(["account_id", "snapshot_date"]).reset_index(drop=True))


def test_sample_has_two_thousand_accounts_over_24_month_starts(book: pd.DataFrame):
    assert book["account_id"].nunique() == 2000
    assert book["account_id"].str.fullmatch(r"ACC-\d{5}").all()
    dates = pd.DatetimeIndex(sorted(book["snapshot_date"].unique()))
    assert len(dates) == 24 and (dates.day == 1).all()
    assert dates.max() <= pd.Timestamp.today()


def test_segments_and_categories_take_the_documented_values(book: pd.DataFrame):
    assert set(book["size"]) == {"SMB", "Mid-Market", "Enterprise"}
    assert set(book["stage"]) == {"Onboarding", "Adoption", "Mature", "Renewal"}
    assert set(book["region"]) == {"AMER", "EMEA", "APAC"}
    assert book["csm_owner"].nunique() == 12
    assert set(book["csm_sentiment"].dropna()) == {"red", "yellow", "green"}
    assert set(book["health_label"].dropna()) == {"healthy", "struggling"}


def test_account_names_are_plain_company_names(book: pd.DataFrame):
    names = book.drop_duplicates("account_id")["account_name"]
    assert names.str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+").all()
    assert names.nunique() > 1900


def test_arr_grows_with_company_size(book: pd.DataFrame):
    median = book.drop_duplicates("account_id").groupby("size")["arr"].median()
    assert median["SMB"] < median["Mid-Market"] < median["Enterprise"]


def test_nps_is_mostly_blank_and_on_a_0_to_10_scale(book: pd.DataFrame):
    assert 0.5 < book["nps"].isna().mean() < 0.8
    assert book["nps"].dropna().between(0, 10).all()


def test_churn_rate_is_ten_to_fifteen_percent_of_known_outcomes(accounts: pd.DataFrame):
    known = accounts["churned"].dropna()
    assert 0.10 <= known.mean() <= 0.15
    assert accounts["churned"].isna().sum() > 0  # accounts that have not reached a renewal yet


def test_churned_accounts_stop_reporting_at_their_renewal(book: pd.DataFrame, accounts: pd.DataFrame):
    churned = accounts[accounts["churned"].fillna(False).astype(bool)]
    assert (churned["last"] < book["snapshot_date"].max()).all()
    last_rows = book[book["account_id"].isin(churned.index)].groupby("account_id").tail(1)
    next_snapshot = last_rows["snapshot_date"] + pd.DateOffset(months=1)
    assert (last_rows["renewal_date"] <= next_snapshot).all()  # the contract ended before the next snapshot


def test_hidden_health_drives_churn(accounts: pd.DataFrame):
    known = accounts.dropna(subset=["churned"])
    by_outcome = known.groupby(known["churned"].astype(bool))
    assert by_outcome["logins_per_user"].mean()[True] < by_outcome["logins_per_user"].mean()[False]
    assert by_outcome["invoice_days_late"].mean()[True] > by_outcome["invoice_days_late"].mean()[False]


def test_known_labels_cover_a_few_dozen_current_accounts_consistently(book: pd.DataFrame, accounts: pd.DataFrame):
    labelled = accounts.dropna(subset=["label"])
    assert 24 <= len(labelled) <= 60
    assert (labelled["last"] == book["snapshot_date"].max()).all()
    means = labelled.groupby("label")["feature_adoption_pct"].mean()
    assert means["healthy"] > means["struggling"]


def test_onboarding_accounts_ramp_up_usage(book: pd.DataFrame):
    logins = book.groupby("stage")["logins_per_user"].median()
    assert logins["Onboarding"] < logins["Adoption"] < logins["Mature"]


def test_december_usage_dips(book: pd.DataFrame):
    month = book.groupby(book["snapshot_date"].dt.month)["logins_per_user"].mean()
    assert month[12] < month[11] and month[12] < month[1]


def test_weekly_snapshots_are_seven_days_apart():
    weekly = generate_portfolio(n_accounts=30, n_snapshots=10, freq="W-MON", seed=1)
    gaps = pd.Series(sorted(weekly["snapshot_date"].unique())).diff().dropna()
    assert (gaps == pd.Timedelta(days=7)).all()


def test_invalid_sizes_are_refused():
    with pytest.raises(ValueError, match="must be >= 1"):
        generate_portfolio(n_accounts=0)


def test_default_model_fits_the_sample_and_uses_every_feature(book: pd.DataFrame):
    model = load_model(DEFAULT_MODEL_PATH)
    assert check_columns(model, book.columns) == []
    methods = {type(m.score).__name__ for m in model.metrics.values()}
    assert {"Linear", "Steps", "Categories", "Percentile"} <= methods
    assert model.metrics["feature_adoption_pct"].score.within == ("size",)
    assert model.groups and [p.name for p in model.profiles] == ["Onboarding"]
    assert dict(model.profiles[0].when) == {"stage": ("Onboarding",)}
    alerts = {a.name: a for a in model.alerts}
    assert (alerts["Steep drop"].drop, alerts["Steep drop"].within) == (15, 2)
    assert alerts["Turned red"].to_band == "red"


def test_write_sample_writes_a_portfolio_that_ingest_reads_back_unchanged(tmp_path: Path, book: pd.DataFrame):
    paths = write_sample(tmp_path / "out")
    assert paths["model"].read_text(encoding="utf-8") == DEFAULT_MODEL_PATH.read_text(encoding="utf-8")
    portfolio = load_portfolio(paths["portfolio"])
    assert portfolio.warnings == []
    assert portfolio.roles == sample_roles()
    pd.testing.assert_frame_equal(portfolio.df[book.columns], book)
