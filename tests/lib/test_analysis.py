"""lib.analysis: statistics checked against scikit-learn, then backtests and suggestions on the sample."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_score, roc_auc_score

from lib import analysis


@pytest.fixture(scope="module")
def fixed() -> tuple[np.ndarray, np.ndarray]:
    """Scores with ties and a churn flag that depends on them (churn more likely at low scores)."""
    rng = np.random.default_rng(42)
    scores = np.round(rng.uniform(0, 100, 400) / 5) * 5  # 21 distinct values: plenty of ties
    churned = rng.random(400) < 1 / (1 + np.exp((scores - 40) / 12))
    return scores, churned


def _draw(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    positive = rng.random(n) < 0.4
    return rng.normal(0, 1, n) + positive, positive


# --- AUC and its interval -------------------------------------------------------------------------------


def test_roc_auc_matches_sklearn_with_ties(fixed):
    scores, churned = fixed
    assert analysis.roc_auc(scores, ~churned) == pytest.approx(roc_auc_score(~churned, scores), abs=1e-12)
    assert analysis.roc_auc(scores, churned) == pytest.approx(roc_auc_score(churned, scores), abs=1e-12)


def test_roc_auc_leaves_out_missing_scores_and_unknown_outcomes(fixed):
    scores, churned = fixed
    s = scores.copy()
    s[:10] = np.nan
    outcome = pd.array(churned, dtype="boolean")
    outcome[10:20] = pd.NA
    keep = np.arange(len(s)) >= 20
    assert analysis.roc_auc(s, outcome) == pytest.approx(roc_auc_score(churned[keep], scores[keep]))


def test_roc_auc_is_nan_when_one_class_is_empty():
    assert np.isnan(analysis.roc_auc([1.0, 2.0, 3.0], [True, True, True]))


def test_auc_interval_contains_point_estimate(fixed):
    scores, churned = fixed
    low, high = analysis.auc_interval(scores, ~churned, n_boot=500, seed=1)
    assert low < analysis.roc_auc(scores, ~churned) < high


def test_auc_interval_narrows_with_more_data():
    small = analysis.auc_interval(*_draw(100, 3), seed=0)
    large = analysis.auc_interval(*_draw(4000, 3), seed=0)
    assert (large[1] - large[0]) < (small[1] - small[0]) / 3


def test_auc_interval_is_reproducible_with_a_fixed_seed(fixed):
    scores, churned = fixed
    assert analysis.auc_interval(scores, churned, seed=5) == analysis.auc_interval(scores, churned, seed=5)


def test_auc_interval_matches_a_loop_over_resamples_in_distribution():
    """The multinomial shortcut must behave like resampling rows: compare widths with a plain loop."""
    scores, positive = _draw(300, 11)
    rng = np.random.default_rng(0)
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~positive)
    looped = []
    for _ in range(400):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        looped.append(roc_auc_score(positive[idx], scores[idx]))
    low, high = analysis.auc_interval(scores, positive, n_boot=400, seed=0)
    ref_low, ref_high = np.quantile(looped, [0.025, 0.975])
    assert low == pytest.approx(ref_low, abs=0.02)
    assert high == pytest.approx(ref_high, abs=0.02)


# --- lift, cohorts, bands, flips, separation -----------------------------------------------------------


def test_lift_of_first_decile_matches_sklearn_precision_over_base_rate(fixed):
    scores, churned = fixed
    lift = analysis.lift_by_decile(scores, churned)
    lowest = np.zeros(len(scores), dtype=bool)
    lowest[np.argsort(scores, kind="stable")[:40]] = True
    expected = precision_score(churned, lowest) / churned.mean()
    assert lift.loc[0, "lift"] == pytest.approx(expected)
    assert lift["accounts"].tolist() == [40] * 10
    assert lift["captured"].iloc[-1] == pytest.approx(1.0)


def test_lift_is_highest_where_scores_are_lowest(fixed):
    scores, churned = fixed
    lift = analysis.lift_by_decile(scores, churned)
    assert lift["lift"].iloc[0] > 1 > lift["lift"].iloc[-1]


def test_churn_by_bins_gives_one_bin_per_value_of_a_count():
    values = np.array([0, 0, 1, 1, 1, 2, np.nan, 3])
    churned = np.array([False, False, True, False, True, True, True, False])
    out = analysis.churn_by_bins(values, churned)
    assert out["label"].tolist() == ["0", "1", "2", "3", "missing"]
    assert out["churned"].tolist() == [0, 2, 1, 0, 1]
    assert out["accounts"].sum() == len(values)


def test_churn_by_bins_never_splits_one_value_across_quantile_bins():
    rng = np.random.default_rng(0)
    values = np.concatenate([np.zeros(300), rng.uniform(1, 50, 200)])  # a heavy tie at zero
    out = analysis.churn_by_bins(values, rng.random(500) < 0.2)
    assert (out["lo"].iloc[1:].to_numpy() > out["hi"].iloc[:-1].to_numpy()).all()
    assert out.loc[0, "label"] == "0" and out.loc[0, "accounts"] == 300


def test_churn_by_bins_groups_categories_and_missing():
    out = analysis.churn_by_bins(["red", "green", None, "red"], [True, False, True, pd.NA])
    assert dict(zip(out["label"], out["accounts"], strict=True)) == {"green": 1, "red": 1, "missing": 1}


def test_churn_by_band_counts_add_up():
    bands = np.array(["red", "yellow", "green", "red", "green", "no data", "green"])
    churned = pd.array([True, False, False, False, True, True, pd.NA], dtype="boolean")
    out = analysis.churn_by_band(bands, churned, arr=[10, 20, 30, 40, 50, 60, 70])
    assert out["band"].tolist() == ["red", "yellow", "green", "no data"]
    assert out["accounts"].sum() == 6 and out["churned"].sum() == 3
    assert (out["churned"] + out["renewed"] == out["accounts"]).all()
    assert out.set_index("band").loc["red", "churn_rate"] == 0.5
    assert out["churned_arr"].sum() == 10 + 50 + 60


def test_flip_matrix_totals_equal_account_counts():
    a = ["red", "red", "yellow", "green", "green", "no data"]
    b = ["red", "yellow", "yellow", "yellow", "green", "red"]
    flips = analysis.flip_matrix(a, b, arr=[1, 2, 3, 4, 5, 6])
    assert flips.counts.to_numpy().sum() == flips.n_accounts == 6
    assert flips.n_moved == 3
    assert flips.counts.loc["red", "yellow"] == 1 and flips.arr.loc["green", "yellow"] == 4
    assert flips.counts.sum(axis=1).tolist() == [2, 1, 2, 1]
    assert "3 of 6 accounts" in flips.caption


def test_flip_matrix_rejects_unequal_lengths():
    with pytest.raises(analysis.AnalysisError, match="same account order"):
        analysis.flip_matrix(["red"], ["red", "green"])


def test_separation_counts_labels_and_ignores_unlabelled():
    sep = analysis.separation([10, 20, 80, 90, 50, np.nan], ["struggling", "Struggling", "healthy", "HEALTHY", None,
                                                            "healthy"])
    assert (sep.auc, sep.n_healthy, sep.n_struggling) == (1.0, 2, 2)
    assert "AUC 1.00" in sep.caption


def test_separation_without_both_groups_says_what_is_missing():
    sep = analysis.separation([10, 20], ["healthy", "healthy"])
    assert np.isnan(sep.auc)
    assert "2 healthy, 0 struggling" in sep.caption
