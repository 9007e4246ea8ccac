"""lib.analysis: statistics checked against scikit-learn, then backtests and suggestions on the sample."""

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_score, roc_auc_score

from lib import analysis
from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio
from lib.engine.model import dump_model, load_model, parse_model
from tests.lib.helpers import make_model


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


@pytest.mark.parametrize(("values", "churned"), [
    pytest.param(pd.Series([], dtype=float), pd.Series([], dtype=bool), id="no_rows"),
    pytest.param([1.0, 2.0], pd.array([pd.NA, pd.NA], dtype="boolean"), id="no_known_outcome"),
    pytest.param(pd.Series([], dtype=object), pd.Series([], dtype=bool), id="no_categories"),
])
def test_churn_by_bins_of_nothing_is_an_empty_table_with_its_columns(values, churned):
    out = analysis.churn_by_bins(values, churned)
    assert out.empty
    assert list(out.columns) == ["bin", "label", "lo", "hi", "accounts", "churned", "churn_rate", "lift"]


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


# --- picking the snapshot before each outcome; backtest on a tiny table ----------------------------------------


def _rows(account: str, dates: list[str], renewal: list[str | None], churned: object, score: float = 50.0):
    return pd.DataFrame({
        "account_id": account,
        "snapshot_date": pd.to_datetime(dates),
        "renewal_date": pd.to_datetime(renewal),
        "churned": pd.array([churned] * len(dates), dtype="boolean"),
        "score": score,
        "band": "yellow",
    })


@pytest.fixture
def history() -> pd.DataFrame:
    months = ["2024-10-01", "2024-11-01", "2024-12-01", "2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"]
    return pd.concat([
        # churned at the 2025-06-01 renewal it did not make: read 90 days before, i.e. on or before 2025-03-03
        _rows("A", months, ["2025-06-01"] * 7, True),
        # renewed on 2025-02-15 (the renewal that passed), then rolled on to 2026: read on or before 2024-11-17
        _rows("B", months, ["2025-02-15"] * 5 + ["2026-02-15"] * 2, False),
        _rows("C", months, ["2025-06-01"] * 7, pd.NA),  # no outcome yet
        _rows("D", months, [None] * 7, False),  # no renewal date: its last snapshot stands in
        _rows("E", months[-2:], ["2025-05-01"] * 2, True),  # no snapshot 90 days before: skipped
    ], ignore_index=True)


def test_outcome_snapshots_reads_each_account_horizon_days_before_its_renewal(history):
    picked = analysis.outcome_snapshots(history, horizon_days=90).set_index("account_id")
    assert sorted(picked.index) == ["A", "B", "D"]
    assert picked.loc["A", "snapshot_date"] == pd.Timestamp("2025-03-01")
    assert picked.loc["A", "outcome_date"] == pd.Timestamp("2025-06-01")
    assert picked.loc["B", "outcome_date"] == pd.Timestamp("2025-02-15")
    assert picked.loc["B", "snapshot_date"] == pd.Timestamp("2024-11-01")
    assert picked.loc["D", "snapshot_date"] == pd.Timestamp("2025-01-01")
    assert picked["churned"].tolist() == [True, False, False]


def test_backtest_warns_when_outcomes_are_too_few_and_counts_the_skipped(history):
    bt = analysis.backtest(history, horizon_days=90)
    assert (bt.n_churned, bt.n_renewed, bt.n_skipped) == (1, 2, 1)
    assert any("Too few outcomes" in w for w in bt.warnings)
    assert any("1 account(s) with an outcome had no snapshot 90 days" in w for w in bt.warnings)
    assert bt.to_dict()["auc"] == 0.5  # equal scores: chance


def test_backtest_without_outcome_column_names_it_and_the_fix(history):
    with pytest.raises(analysis.AnalysisError, match="no outcome column 'renewed'.*--outcome"):
        analysis.backtest(history, outcome="renewed")


def test_backtest_with_a_horizon_longer_than_the_history_says_so(history):
    with pytest.raises(analysis.AnalysisError, match="shorter horizon"):
        analysis.backtest(history, horizon_days=3650)


def test_outcome_flags_reject_words_the_loader_should_have_read():
    with pytest.raises(analysis.AnalysisError, match="'status'.*'maybe'"):
        analysis.outcome_flags(pd.Series(["maybe", None]), "status")


# --- on the sample portfolio with the default model ---------------------------------------------------------


@pytest.fixture(scope="module")
def portfolio() -> pd.DataFrame:
    return generate_portfolio()


@pytest.fixture(scope="module")
def model():
    return load_model(DEFAULT_MODEL_PATH)


@pytest.fixture(scope="module")
def scored(portfolio, model) -> pd.DataFrame:
    return analysis.score_portfolio(model, portfolio)


@pytest.fixture(scope="module")
def bt(scored, model) -> analysis.Backtest:
    return analysis.backtest(scored, model_name=model.name)


@pytest.fixture(scope="module")
def suggestion(portfolio, model) -> analysis.Suggestion:
    return analysis.suggest_model(portfolio, model)


@pytest.fixture(scope="module")
def scored_suggested(portfolio, suggestion) -> pd.DataFrame:
    return analysis.score_portfolio(suggestion.model, portfolio)


def test_default_model_backtests_above_chance_on_the_sample(bt):
    assert bt.auc > 0.5 and bt.auc_low > 0.5
    assert bt.auc_low < bt.auc < bt.auc_high
    assert bt.n_churned >= analysis.MIN_OUTCOMES and not any("Too few" in w for w in bt.warnings)


def test_red_churns_more_than_green_on_the_sample(bt):
    rate = bt.bands.set_index("band")["churn_rate"]
    assert rate["red"] > rate["yellow"] > rate["green"]


def test_backtest_bands_and_deciles_account_for_every_outcome(bt):
    assert bt.bands["accounts"].sum() == bt.n_accounts + bt.n_unscored == len(bt.accounts)
    assert bt.bands["churned"].sum() == bt.accounts["churned"].sum()
    assert bt.lift["accounts"].sum() == bt.n_accounts
    assert (bt.accounts["outcome_date"] - bt.accounts["snapshot_date"] >= pd.Timedelta(days=90)).all()


def test_backtest_to_dict_is_strict_json(bt):
    data = json.loads(json.dumps(bt.to_dict(), allow_nan=False))
    assert data["accounts"] == bt.n_accounts and len(data["bands"]) == len(bt.bands)
    assert data["auc_interval"][0] <= data["auc"] <= data["auc_interval"][1]


def test_backtest_on_a_small_book_warns_too_few_outcomes(model):
    small = analysis.score_portfolio(model, generate_portfolio(n_accounts=60, seed=3))
    bt = analysis.backtest(small)
    assert bt.n_churned < analysis.MIN_OUTCOMES
    assert any(w.startswith("Too few outcomes to judge") for w in bt.warnings)


def test_metric_cohorts_cover_every_backtest_account_per_metric(bt, model):
    cohorts = analysis.metric_cohorts(bt, model)
    totals = cohorts.groupby(["metric", "basis"])["accounts"].sum()
    assert set(totals.index.get_level_values("metric")) == set(model.metrics)
    assert (totals == len(bt.accounts)).all()
    logins = cohorts.query("metric == 'logins_per_user' and basis == 'value'")
    assert logins["churn_rate"].iloc[0] > logins["churn_rate"].iloc[-1]  # fewer logins, more churn


def test_suggested_model_is_not_worse_on_held_back_accounts(suggestion):
    assert suggestion.suggested_auc >= suggestion.base_auc
    assert "held-back" in suggestion.caption


def test_suggest_fits_and_evaluates_on_disjoint_accounts(suggestion, bt):
    assert suggestion.train_accounts.isdisjoint(suggestion.test_accounts)
    assert suggestion.train_accounts | suggestion.test_accounts == set(bt.accounts["account_id"])
    assert len(suggestion.test_accounts) == pytest.approx(0.3 * len(bt.accounts), abs=2)


def test_suggest_ignores_held_back_accounts_when_fitting(portfolio, model, suggestion):
    """Change every held-back account's logins: the suggested thresholds and weights must not move.

    Only the band cut-offs may: they keep band shares over today's whole book (no outcomes involved).
    """
    changed = portfolio.copy()
    held = changed["account_id"].isin(suggestion.test_accounts)
    changed.loc[held, "logins_per_user"] = 0.0
    again = analysis.suggest_model(changed, model)
    assert again.test_accounts == suggestion.test_accounts
    assert dataclasses.replace(again.model, bands=suggestion.model.bands) == suggestion.model
    assert again.candidates["train_auc"].tolist() == suggestion.candidates["train_auc"].tolist()
    assert again.suggested_auc != suggestion.suggested_auc  # the evaluation did see the change


def test_suggested_model_is_valid_yaml_with_a_diff(suggestion, model):
    assert parse_model(dump_model(suggestion.model)) == suggestion.model
    assert suggestion.model.name == f"{model.name} (suggested)"
    assert all(c.key == "name" or c.key.startswith(("metrics.", "groups.", "bands.")) for c in suggestion.changes)
    assert suggestion.weights["new_weight"].sum() == pytest.approx(100)
    assert suggestion.weights["old_weight"].sum() == pytest.approx(100)
    proposed = suggestion.thresholds.set_index("metric")
    assert proposed.loc["logins_per_user", "proposed"] != proposed.loc["logins_per_user", "old"]
    assert proposed.loc["feature_adoption_pct", "reason"].startswith("percentile scoring has no thresholds")


def test_suggested_bands_keep_the_base_models_band_shares(scored, scored_suggested, suggestion):
    assert suggestion.chosen != "unchanged"
    assert suggestion.model.bands != suggestion.base.bands  # moved, because the weights moved every score
    latest = scored["snapshot_date"].max()
    old = scored.loc[scored["snapshot_date"] == latest, "band"].value_counts(normalize=True)
    new = scored_suggested.loc[scored_suggested["snapshot_date"] == latest, "band"].value_counts(normalize=True)
    for band in ("red", "yellow", "green"):
        assert new[band] == pytest.approx(old[band], abs=0.01)


def test_suggestion_is_the_candidate_best_on_training_accounts(suggestion):
    candidates = suggestion.candidates.set_index("candidate")
    assert list(candidates.index[:4]) == list(analysis.CANDIDATES)
    # then one row per window metric kept, each "<the one before> + <metric>", each better on training accounts
    steps = [candidates.iloc[:4]["train_auc"].round(6).idxmax(), *candidates.index[4:]]
    for before, step in zip(steps, steps[1:], strict=False):
        assert step.startswith(f"{before} + ")
        assert candidates.loc[step, "train_auc"] >= candidates.loc[before, "train_auc"] + analysis.MIN_WINDOW_GAIN
    assert candidates["chosen"].sum() == 1 and candidates.loc[suggestion.chosen, "chosen"]
    assert candidates.loc[suggestion.chosen, "train_auc"] == candidates["train_auc"].max()
    assert suggestion.suggested_auc == candidates.loc[suggestion.chosen, "test_auc"]


def test_suggesting_from_a_neutral_start_learns_directions_and_category_points(portfolio):
    metrics = ["logins_per_user", "open_tickets", "days_since_last_contact", "csm_sentiment"]
    start = analysis.starter_model(portfolio, metrics, name="Start")
    suggestion = analysis.suggest_model(portfolio, start)
    assert suggestion.suggested_auc > suggestion.base_auc + 0.03
    specs = suggestion.model.metrics
    assert specs["open_tickets"].score.red > specs["open_tickets"].score.green  # fewer tickets is better
    points = specs["csm_sentiment"].score.map
    assert points["green"] == 100 > points["yellow"] > points["red"] == 0


def test_starter_model_needs_a_metric_with_two_values():
    flat = pd.DataFrame({"a": [1.0, 1.0], "b": ["x", None]})
    with pytest.raises(analysis.AnalysisError, match="two distinct values"):
        analysis.starter_model(flat, ["a", "b"])


def test_churn_model_explains_odds_and_predicts_probabilities(bt, model, scored):
    churn = analysis.fit_churn_model(bt, model)
    table = churn.coefficients.set_index("metric")
    assert set(table.index) == set(model.metrics)
    assert np.allclose(table["odds_ratio"], np.exp(table["coefficient"]))
    assert table.loc["feature_adoption_pct", "odds_ratio"] < 1  # more adoption, lower odds of churn
    p = churn.predict(scored)
    assert p.index.equals(scored.index) and p.between(0, 1).all()
    assert churn.test_auc > 0.5 and churn.n_train + churn.n_test == len(bt.accounts)


# --- Compare on the sample's labelled accounts ----------------------------------------------------------------


def test_labelled_accounts_take_hand_labels_over_file_labels(scored):
    table = analysis.labelled_accounts(scored)
    some = table["account_id"].iloc[0]
    flipped = "struggling" if table["label"].iloc[0] == "healthy" else "healthy"
    unlabelled = scored.loc[scored["health_label"].isna(), "account_id"].iloc[0]
    relabelled = analysis.labelled_accounts(scored, {some: flipped.upper(), unlabelled: "healthy", "X": "meh"})
    assert relabelled.set_index("account_id").loc[some, "label"] == flipped
    assert len(relabelled) == len(table) + 1
    assert not relabelled["account_id"].duplicated().any()


def test_default_model_separates_the_sample_labels(scored, model):
    table = analysis.labelled_accounts(scored)
    sep = analysis.separation(table["score"], table["label"])
    assert sep.auc > 0.8 and sep.n_healthy > 10 and sep.n_struggling > 10
    per_metric = analysis.metric_separation(table, model)
    judged = per_metric.loc[~per_metric["verdict"].str.startswith("too few")]
    assert judged["auc"].is_monotonic_decreasing
    assert per_metric["verdict"].str.startswith("too few").sum() == len(per_metric) - len(judged)


def test_misfits_name_the_metrics_that_put_them_there(scored, model):
    table = analysis.labelled_accounts(scored)
    found = analysis.misfits(table, model)
    assert not found.empty
    red = found.query("kind == 'healthy but red'")
    green = found.query("kind == 'struggling but green'")
    assert (red["band"] == "red").all() and (red["label"] == "healthy").all()
    assert (green["band"] == "green").all() and (green["label"] == "struggling").all()
    assert found["reasons"].str.contains(r"/100 \([−+]\d", regex=True).all()


def test_misfit_reasons_rank_metrics_by_points_lost():
    class _M:  # the two attributes misfits reads from a model
        metrics = {"a": SimpleNamespace(label="Alpha"), "b": SimpleNamespace(label="Beta")}

    table = pd.DataFrame({"account_id": ["x"], "label": ["healthy"], "band": ["red"], "score": [20.0],
                          "a_score": [0.0], "a_weight": [0.2], "b_score": [25.0], "b_weight": [0.8]})
    assert analysis.misfits(table, _M()).loc[0, "reasons"] == "Beta 25/100 (−60.0 pts); Alpha 0/100 (−20.0 pts)"


def test_label_distributions_hold_score_and_each_metric_per_account(scored, model):
    table = analysis.labelled_accounts(scored)
    long = analysis.label_distributions(table, model)
    assert len(long) == len(table) * (1 + len(model.metrics))
    assert set(long["measure"]) == {"score", *model.metrics}


# --- Model A vs B ---------------------------------------------------------------------------------------------


def test_model_comparison_flip_totals_equal_account_counts(scored, scored_suggested, model, suggestion):
    cmp = analysis.compare_models(scored, scored_suggested, model, suggestion.model, n_boot=50)
    accounts = scored.loc[scored["snapshot_date"] == scored["snapshot_date"].max(), "account_id"].nunique()
    assert cmp.flips.counts.to_numpy().sum() == cmp.flips.n_accounts == accounts
    off_diagonal = cmp.flips.counts.to_numpy().sum() - np.trace(cmp.flips.counts.to_numpy())
    assert len(cmp.moved) == cmp.flips.n_moved == off_diagonal
    assert (cmp.moved["band_a"] != cmp.moved["band_b"]).all()
    assert cmp.moved["why"].str.contains("pts").all()
    assert cmp.backtest_a.auc == pytest.approx(analysis.backtest(scored, n_boot=0).auc)
    assert cmp.backtest_b is not None


def test_model_comparison_counts_only_accounts_present_at_the_compared_snapshot():
    """An account whose last snapshot is long before the compared date has left: it is neither a band change
    nor a mover there, whatever the two models made of its old rows."""
    model_a = make_model({"logins": {"score": {"method": "linear", "red": 0, "green": 10}}}, name="A")
    model_b = make_model({"logins": {"score": {"method": "linear", "red": 0, "green": 4}}}, name="B")
    dates = pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"])
    portfolio = pd.DataFrame({
        "account_id": ["stays"] * 3 + ["left"] * 1,
        "snapshot_date": [*dates, dates[0]],
        "logins": [8.0, 8.0, 8.0, 2.0],  # "stays" green under both; "left" red under A (20), yellow under B (50)
        "churned": pd.array([False, False, False, True], dtype="boolean"),
    })
    scored_a = analysis.score_portfolio(model_a, portfolio)
    scored_b = analysis.score_portfolio(model_b, portfolio)
    for as_of in (None, dates[-1], dates[-1] + pd.Timedelta(days=10)):
        cmp = analysis.compare_models(scored_a, scored_b, model_a, model_b, as_of=as_of, n_boot=0)
        assert cmp.flips.n_accounts == 1 and cmp.flips.n_moved == 0 and cmp.moved.empty, as_of
    at_start = analysis.compare_models(scored_a, scored_b, model_a, model_b, as_of=dates[0], n_boot=0)
    assert at_start.flips.n_accounts == 2 and at_start.moved["account_id"].tolist() == ["left"]


def test_comparing_a_model_with_itself_moves_nobody(scored, model):
    cmp = analysis.compare_models(scored, scored, model, model, n_boot=10)
    assert cmp.flips.n_moved == 0 and cmp.moved.empty


def test_backtest_rejects_a_negative_horizon(history):
    with pytest.raises(analysis.AnalysisError, match="before the outcome"):
        analysis.backtest(history, horizon_days=-5)
