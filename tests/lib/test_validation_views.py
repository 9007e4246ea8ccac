"""lib.views.validation: live labels for Compare, headline figures and display tables for Validate."""

import numpy as np
import pandas as pd
import pytest

from lib import analysis
from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio, sample_roles
from lib.data.workspace import Workspace, WorkspaceError
from lib.engine.model import dump_model, load_model, model_from_dict, model_to_dict, parse_model
from lib.views import validation as vv


@pytest.fixture(scope="module")
def model():
    return load_model(DEFAULT_MODEL_PATH)


@pytest.fixture(scope="module")
def portfolio() -> pd.DataFrame:
    return generate_portfolio(n_accounts=500, n_snapshots=24, seed=5)


@pytest.fixture(scope="module")
def scored(portfolio, model) -> pd.DataFrame:
    return analysis.score_portfolio(model, portfolio)


@pytest.fixture(scope="module")
def bt(scored) -> analysis.Backtest:
    return analysis.backtest(scored, n_boot=100)


def _labels(**by_account: str) -> pd.Series:
    return pd.Series(by_account, dtype=object)


# --- labels -----------------------------------------------------------------------------------------------


def test_file_labels_take_each_accounts_last_known_label_in_any_case():
    df = pd.DataFrame({
        "account_id": ["a", "a", "a", "b", "b", "c"],
        "snapshot_date": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"] * 2),
        "health_label": [" Healthy", "STRUGGLING", None, "healthy", "meh", None],
    })
    assert vv.file_labels(df).to_dict() == {"a": "struggling", "b": "healthy"}


def test_file_labels_are_empty_without_a_label_column():
    assert vv.file_labels(pd.DataFrame({"account_id": ["a"], "snapshot_date": [pd.Timestamp("2025-01-01")]})).empty


def test_hand_labels_win_over_file_labels_and_clearing_brings_the_file_label_back():
    from_file = _labels(a="healthy", b="struggling")
    hand = pd.DataFrame({"account_id": ["b", "c"], "label": ["healthy", "struggling"]})
    assert vv.known_labels(from_file, hand).to_dict() == {"a": "healthy", "b": "healthy", "c": "struggling"}
    assert vv.known_labels(from_file, hand.iloc[0:0]).to_dict() == {"a": "healthy", "b": "struggling"}


def test_label_choices_show_the_current_label_beside_labelled_accounts():
    choices = pd.Series({"a": "Acme · a", "b": "Beta · b"})
    assert vv.label_choices(choices, _labels(b="struggling")).to_dict() == {
        "a": "Acme · a", "b": "Beta · b — struggling"}


def test_set_labels_labels_and_clears_in_the_workspace(tmp_path):
    ws = Workspace(tmp_path / "ws.duckdb")
    ws.save_dataset("d", generate_portfolio(n_accounts=5, n_snapshots=2), sample_roles(), "d.csv")
    assert vv.set_labels(ws, "d", ["ACC-00001", "ACC-00002"], "struggling", " Ana ") == \
        "2 accounts labelled struggling."
    assert ws.labels("d")[["account_id", "label", "set_by"]].values.tolist() == [
        ["ACC-00001", "struggling", "Ana"], ["ACC-00002", "struggling", "Ana"]]
    assert vv.set_labels(ws, "d", ["ACC-00001"], vv.CLEAR) == "1 account: hand-set label cleared."
    assert ws.labels("d")["account_id"].tolist() == ["ACC-00002"]
    with pytest.raises(WorkspaceError, match="use one of healthy, struggling, clear"):
        vv.set_labels(ws, "d", ["ACC-00001"], "fine")
    ws.close()


# --- Compare --------------------------------------------------------------------------------------------------


def test_compare_view_matches_lib_analysis_on_the_same_labels(scored, model):
    labels = vv.file_labels(scored)
    view = vv.compare_view(scored, model, labels)
    expected = analysis.labelled_accounts(scored)
    sep = analysis.separation(expected["score"], expected["label"])
    assert (view.separation.auc, view.separation.n_healthy, view.separation.n_struggling) == (
        sep.auc, sep.n_healthy, sep.n_struggling)
    stats = {s.label: s.value for s in vv.compare_stats(view)}
    assert stats["Healthy vs struggling (AUC)"] == f"{sep.auc:.2f}"
    assert stats["Healthy accounts"] == str(sep.n_healthy)
    assert list(view.metrics["metric"]) == list(analysis.metric_separation(expected, model)["metric"])


def test_compare_view_ignores_labels_baked_into_the_scored_table(scored, model):
    """A hand label cleared after the dataset was cached must not linger: only ``labels`` count."""
    baked = scored.assign(health_label="healthy")
    labels = vv.file_labels(scored)
    view = vv.compare_view(baked, model, labels)
    assert len(view.table) == len(labels)
    assert view.table["label"].value_counts().to_dict() == labels.value_counts().to_dict()


def test_a_hand_label_changes_the_counts(scored, model):
    labels = vv.file_labels(scored)
    unlabelled = scored.loc[~scored["account_id"].isin(labels.index), "account_id"].iloc[0]
    before = vv.compare_view(scored, model, labels).separation
    after = vv.compare_view(scored, model, vv.known_labels(
        labels, pd.DataFrame({"account_id": [unlabelled], "label": ["struggling"]}))).separation
    assert (after.n_healthy, after.n_struggling) == (before.n_healthy, before.n_struggling + 1)


def test_compare_view_without_labels_is_empty(scored, model):
    view = vv.compare_view(scored, model, pd.Series(dtype=object))
    assert view.empty and np.isnan(view.separation.auc)
    assert {s.label: s.value for s in vv.compare_stats(view)}["Healthy vs struggling (AUC)"] == "–"
    assert vv.misfit_table(view.misfits, "healthy but red").empty and vv.metric_table(view.metrics).empty
    assert vv.metric_scores_by_label(view, "nps").empty


def test_metric_scores_by_label_hold_one_score_per_labelled_account(scored, model):
    view = vv.compare_view(scored, model, vv.file_labels(scored))
    nps = vv.metric_scores_by_label(view, "nps")
    assert len(nps) == len(view.table)
    np.testing.assert_array_equal(nps["score"].to_numpy(float), view.table["nps_score"].to_numpy(float))


def test_misfit_table_shows_one_kind_with_ids_for_click_through():
    misfits = pd.DataFrame({"account_id": ["x", "y"], "account_name": ["<b>X</b>", "Y"],
                            "label": ["healthy", "struggling"], "band": ["red", "green"], "score": [12.0, 90.0],
                            "kind": list(vv.MISFIT_KINDS), "reasons": ["NPS 0/100 (−20.0 pts)", "NPS 100/100"]})
    table = vv.misfit_table(misfits, "healthy but red")
    assert table.columns.tolist() == ["Account", "ID", "Band", "Score", "What put it there"]
    assert table.values.tolist() == [["<b>X</b>", "x", "Red", 12.0, "NPS 0/100 (−20.0 pts)"]]
    assert vv.misfit_table(misfits, "struggling but green")["ID"].tolist() == ["y"]


def test_hand_label_table_is_newest_first_with_names():
    hand = pd.DataFrame({"account_id": ["a", "b"], "label": ["healthy", "struggling"], "set_by": ["Ana", None],
                         "set_at": pd.to_datetime(["2026-01-01", "2026-02-01"])})
    table = vv.hand_label_table(hand, pd.Series({"a": "Acme · a"}))
    assert table[["Account", "Label", "Set by"]].values.tolist() == [["b", "Struggling", ""],
                                                                     ["Acme · a", "Healthy", "Ana"]]


# --- Validate: backtest and cohorts ------------------------------------------------------------------------------


def test_backtest_stats_show_auc_interval_outcomes_and_band_churn(bt):
    stats = {s.label: s for s in vv.backtest_stats(bt)}
    assert stats["Backtest AUC"].value == f"{bt.auc:.2f}"
    assert stats["95% interval"].value == f"{bt.auc_low:.2f}–{bt.auc_high:.2f}"
    assert stats["Outcomes"].value == f"{bt.n_accounts:,}"
    assert f"{bt.n_churned:,} churned" in stats["Outcomes"].help
    rate = bt.bands.set_index("band")["churn_rate"]
    assert stats["Red churned"].value == f"{rate['red']:.1%}"
    assert f"all accounts: {bt.churn_rate:.1%}" in stats["Green churned"].help


def test_band_table_drops_arr_columns_when_there_is_no_arr():
    bands = analysis.churn_by_band(["red", "green"], [True, False])
    assert vv.band_table(bands).columns.tolist() == ["Band", "Accounts", "Churned", "Renewed", "Churn rate"]
    with_arr = analysis.churn_by_band(["red", "green"], [True, False], arr=[10.0, 20.0])
    table = vv.band_table(with_arr)
    assert table.set_index("Band").loc[["Red", "Green"], ["ARR", "Churned ARR"]].values.tolist() == [
        [10.0, 10.0], [20.0, 0.0]]
    html = vv.style_band_table(table.assign(ARR=[24_500_000.0, np.nan, 20.0]), {"red": "#D55E00"}).to_html()
    assert "$24.5M" in html and "$10" in html and "background-color: #D55E00" in html


@pytest.mark.parametrize("basis", ["value", "score"])
def test_cohort_covers_every_backtest_account(bt, basis):
    table = vv.cohort(bt, "logins_per_user", basis)
    assert table["accounts"].sum() == len(bt.accounts)
    assert table["churn_rate"].iloc[0] > table["churn_rate"].iloc[-1]  # fewer logins (or points), more churn


def test_cohort_of_an_unknown_metric_is_empty(bt):
    assert vv.cohort(bt, "not_a_metric").empty


# --- Validate: suggestion, churn probability ------------------------------------------------------------------


@pytest.fixture(scope="module")
def suggestion(portfolio, model) -> analysis.Suggestion:
    return analysis.suggest_model(portfolio, model)


def test_suggestion_table_is_a_per_metric_diff_with_reasons(suggestion, model):
    table = vv.suggestion_table(suggestion)
    assert len(table) == len(suggestion.model.metrics) >= len(model.metrics)  # with any window metric added
    assert table["Weight now"].sum() == pytest.approx(100)
    assert table["Weight suggested"].sum() == pytest.approx(100)
    assert table["Changed"].is_monotonic_decreasing  # changed metrics first
    weights = vv.suggestion_weights(suggestion)
    assert set(weights) == {"Now", "Suggested"} and sum(weights["Suggested"].values()) == pytest.approx(100)
    changed_keys = {c.key.split(".")[1] for c in suggestion.changes if c.key.startswith("metrics.")}
    labels = {c: (m.label or c) for c, m in model.metrics.items()}
    assert set(table.loc[table["Changed"], "Metric"]) >= {labels[c] for c in changed_keys if c in labels}
    assert table["What the outcomes say"].str.len().gt(0).all()


def test_setting_changes_list_band_cut_offs_in_words_and_nothing_per_metric(suggestion):
    expected = {c.key: c for c in suggestion.changes if c.key.startswith("bands.")}
    table = vv.setting_changes(suggestion).set_index("Setting")
    assert not table.index.str.startswith(("metrics.", "groups.", "name")).any()
    assert "bands.red" in expected  # the suggestion moves the red cut-off, so the row below is checked
    assert table.loc["Red band: scores up to", "Suggested"] == str(expected["bands.red"].new)
    assert len(table) == len([c for c in suggestion.changes if not c.key.startswith(("metrics.", "groups.", "name"))])


def test_suggestion_stats_and_candidates_carry_the_held_back_evidence(suggestion):
    stats = {s.label: s for s in vv.suggestion_stats(suggestion)}
    assert stats["Held-back AUC — suggested"].value == f"{suggestion.suggested_auc:.2f}"
    assert stats["Held-back AUC — current"].value == f"{suggestion.base_auc:.2f}"
    assert stats["Held-back accounts"].value == f"{len(suggestion.test_accounts):,}"
    candidates = vv.candidates_table(suggestion)
    assert candidates["Chosen"].sum() == 1 and len(candidates) == len(suggestion.candidates)


def test_adopted_yaml_is_the_suggested_model_under_the_adopting_name(suggestion):
    adopted = parse_model(vv.adopted_yaml(suggestion, "Default"))
    assert adopted.name == "Default"
    assert model_to_dict(adopted) == {**model_to_dict(suggestion.model), "name": "Default"}
    assert suggestion.chosen in vv.adopt_note(suggestion, 90) and "90 days" in vv.adopt_note(suggestion, 90)


def test_churn_table_lists_accounts_at_the_date_most_likely_to_churn_first(bt, model, scored):
    churn = analysis.fit_churn_model(bt, model)
    as_of = scored["snapshot_date"].max()
    table = vv.churn_table(scored, as_of, churn, top=10_000)
    assert len(table) == (scored["snapshot_date"] == as_of).sum()
    p = table["Churn probability"]
    assert p.between(0, 1).all() and p.is_monotonic_decreasing
    assert vv.churn_table(scored, as_of, churn, top=5)["ID"].tolist() == table["ID"].head(5).tolist()
    assert vv.odds_table(churn)["Metric"].tolist() == churn.coefficients["metric_label"].tolist()


# --- Validate: model A vs B ---------------------------------------------------------------------------------


MODELS = pd.DataFrame({"name": ["Default", "Default", "Default", "Other"], "version": [3, 2, 1, 1],
                       "note": ["adopted", None, "bundled", ""]})


@pytest.mark.parametrize(("current", "expected"), [
    (("Default", 3), (("Default", 2), ("Default", 3))),  # the previous version as A, the selected one as B
    (("Default", 2), (("Default", 1), ("Default", 2))),
    (("Default", 1), (("Default", 1), ("Default", 2))),  # no previous version: the next one, older still A
    (("Other", 1), (("Other", 1), ("Default", 3))),  # no other version: the newest of another model
])
def test_default_pair_compares_the_selected_version_with_its_neighbour_older_first(current, expected):
    assert vv.default_pair(vv.version_options(MODELS), current) == expected


def test_default_pair_of_a_lone_version_compares_it_with_itself():
    assert vv.default_pair([("Default", 1)], ("Default", 1)) == (("Default", 1), ("Default", 1))


def test_version_labels_carry_short_notes():
    notes = vv.version_notes(MODELS)
    assert vv.version_label(("Default", 3), notes) == "Default v3 · adopted"
    assert vv.version_label(("Default", 2), notes) == "Default v2"


def test_fit_problems_name_the_side_and_the_missing_column(model):
    broken = model_from_dict({"name": "Broken", "bands": {"red": 30, "yellow": 70}, "metrics": {"no_such_column": {
        "weight": 1, "score": {"method": "linear", "red": 0, "green": 1}}}})
    problems = vv.fit_problems({"A": dump_model(model), "B": dump_model(broken)}, ["account_id", *model.metrics,
                                                                                  "size", "stage"])
    assert len(problems) == 1 and problems[0].startswith("Model B") and "no_such_column" in problems[0]


def test_comparing_a_model_with_itself_shows_zero_moves(scored, model):
    cmp = analysis.compare_models(scored, scored, model, model, n_boot=10)
    stats = {s.label: s for s in vv.comparison_stats(cmp)}
    assert stats["Accounts that change band"].value == "0"
    assert stats["Backtest AUC — A"].value == stats["Backtest AUC — B"].value
    assert stats["Backtest AUC — B"].delta is None  # no "+0.000" arrow when nothing changed
    assert vv.moved_table(cmp.moved).empty


def test_moved_table_keeps_ids_and_explains_each_move():
    moved = pd.DataFrame({"account_id": ["x"], "account_name": ["X"], "arr": [1000.0], "score_a": [25.0],
                          "score_b": [40.0], "band_a": ["red"], "band_b": ["yellow"], "change": [15.0],
                          "why": ["NPS +15.0 pts"]})
    row = vv.moved_table(moved).iloc[0]
    assert (row["ID"], row["Band A"], row["Band B"], row["Why"]) == ("x", "Red", "Yellow", "NPS +15.0 pts")


def test_filters_key_ignores_order_and_empty_choices():
    assert vv.filters_key({"size": ("SMB", "Enterprise"), "region": ()}) == \
        vv.filters_key({"size": ["Enterprise", "SMB"]}) == (("size", ("Enterprise", "SMB")),)
