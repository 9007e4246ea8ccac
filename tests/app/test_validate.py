"""Validate page (AppTest): the backtest it shows is lib.analysis's and follows the horizon, red churns more
than green on the sample, a suggestion is adopted as a new version, and A vs B of one version moves nobody."""

from __future__ import annotations

import dataclasses

import pytest
from streamlit.testing.v1 import AppTest

from lib import analysis, ui
from lib.data.sample import generate_portfolio, sample_roles
from lib.data.workspace import SAMPLE_DATASET, SAMPLE_MODEL
from lib.engine.model import parse_model
from tests.app.helpers import APP, errors, open_app

SECTION = "validate.section"


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric labelled {label!r}: {[m.label for m in at.metric]}"
    return values[0]


def table(at: AppTest, column: str):
    """The shown table holding ``column`` (plain tables carry no key in AppTest)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[0]


def show(at: AppTest, section: str) -> AppTest:
    at.segmented_control(key=SECTION).set_value(section).run()
    assert not errors(at), errors(at)
    return at


def open_on(dataset: str | None = None, model: str | None = None) -> AppTest:
    """The Validate page with another dataset or model selected in the sidebar."""
    at = AppTest.from_file(APP, default_timeout=120)
    if dataset:
        at.session_state[ui.DATASET] = dataset
    if model:
        at.session_state[ui.MODEL] = model
    at.run().switch_page("app_pages/validate.py").run()
    assert not errors(at), errors(at)
    return at


@pytest.fixture
def at() -> AppTest:
    app = open_app("validate")
    assert not errors(app), errors(app)
    return app


def test_validate_shows_the_backtest_lib_analysis_computes(at):
    ctx = at.session_state["_ctx"]
    scored = analysis.score_portfolio(parse_model(ctx.model_yaml), ui.workspace().load_dataset(SAMPLE_DATASET).df)
    bt = analysis.backtest(scored, horizon_days=90)
    assert metric(at, "Backtest AUC") == f"{bt.auc:.2f}"
    assert metric(at, "95% interval") == f"{bt.auc_low:.2f}–{bt.auc_high:.2f}"
    assert metric(at, "Outcomes") == f"{bt.n_accounts:,}"
    assert len(at.get("plotly_chart")) == 3  # ROC, churn by band, lift by decile


def test_red_accounts_churned_more_than_green_ones_on_the_sample(at):
    bands = table(at, "Churn rate").set_index("Band")
    assert bands.loc["Red", "Churn rate"] > bands.loc["Yellow", "Churn rate"] > bands.loc["Green", "Churn rate"]
    assert bands["Accounts"].sum() == int(metric(at, "Outcomes").replace(",", ""))
    assert {"ARR", "Churned ARR"} <= set(bands.columns)


def test_a_longer_horizon_changes_the_outcomes_the_backtest_rests_on(at):
    before = (metric(at, "Outcomes"), metric(at, "Backtest AUC"))
    at.select_slider(key="validate.horizon").set_value(365).run()
    assert not errors(at)
    after = (metric(at, "Outcomes"), metric(at, "Backtest AUC"))
    assert after != before
    assert int(after[0].replace(",", "")) < int(before[0].replace(",", ""))  # fewer accounts have a year of history


def test_metric_cohorts_draw_churn_by_bin_of_the_picked_metric(at):
    show(at, "Metric cohorts")
    at.selectbox(key="validate.cohort_metric").select("open_tickets").run()
    at.segmented_control(key="validate.cohort_basis").set_value("score").run()
    assert not errors(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "Open support tickets" in charts[0].proto.spec


def test_churn_probability_is_listed_beside_score_and_band(at):
    show(at, "Churn probability")
    odds = table(at, "Odds ratio per +10 points")
    assert len(odds) == len(at.session_state["_ctx"].model.metrics)
    accounts = table(at, "Churn probability")
    assert {"Score", "Band"} <= set(accounts.columns)
    assert accounts["Churn probability"].between(0, 1).all() and accounts["Churn probability"].is_monotonic_decreasing


def test_model_a_vs_the_same_version_shows_zero_flips(at):
    show(at, "Model A vs B")
    at.selectbox(key="validate.model_a").select((SAMPLE_MODEL, 1))
    at.selectbox(key="validate.model_b").select((SAMPLE_MODEL, 1)).run()
    assert not errors(at)
    assert metric(at, "Accounts that change band") == "0"
    assert metric(at, "Backtest AUC — A") == metric(at, "Backtest AUC — B")
    assert any("No account changes band" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) == 1


def test_suggest_then_adopt_saves_a_new_version_that_a_vs_b_compares():
    ws = ui.workspace()
    name = "Validate test · copy"  # a copy, so other tests keep finding Default v1 as the newest version
    if name not in ws.model_names():
        ws.save_model(name, ws.load_model_text(SAMPLE_MODEL, 1).replace(f"name: {SAMPLE_MODEL}", f"name: {name}"))
    versions = set(ws.list_models().query("name == @name")["version"])
    at = show(open_on(model=name), "Suggest")
    at.button(key="validate.suggest").click().run()
    assert not errors(at), errors(at)
    assert float(metric(at, "Held-back AUC — suggested")) >= float(metric(at, "Held-back AUC — current"))
    assert table(at, "Scoring suggested")["Changed"].any()
    at.button(key="validate.adopt").click().run()
    assert not errors(at), errors(at)
    new = set(ws.list_models().query("name == @name")["version"]) - versions
    assert len(new) == 1
    version = new.pop()
    assert at.session_state["_ctx"].model_version == version  # the sidebar selected it on the rerun
    assert any(f"v{version}" in s.value for s in at.success)
    assert metric(at, "Backtest AUC")  # the page now backtests the adopted version
    adopted = parse_model(ws.load_model_text(name, version))
    assert adopted.name == name and adopted != parse_model(ws.load_model_text(name, 1))

    show(at, "Model A vs B")
    at.selectbox(key="validate.model_a").select((name, 1))
    at.selectbox(key="validate.model_b").select((name, version)).run()
    assert not errors(at)
    moved = int(metric(at, "Accounts that change band").replace(",", ""))
    assert moved > 0 and len(table(at, "Why")) == min(moved, 200)  # the biggest moves, at most 200 rows


def test_a_book_with_few_outcomes_warns_and_one_without_outcomes_says_what_to_do():
    ws = ui.workspace()
    small, none = "Validate test · small book", "Validate test · no outcomes"
    if small not in ws.dataset_names():
        ws.save_dataset(small, generate_portfolio(n_accounts=60, seed=3), sample_roles(), "small.csv")
    if none not in ws.dataset_names():
        df = generate_portfolio(n_accounts=30, n_snapshots=3, seed=4).drop(columns="churned")
        ws.save_dataset(none, df, dataclasses.replace(sample_roles(), outcome=None), "none.csv")
    at = open_on(dataset=small)
    assert any(w.value.startswith("Too few outcomes to judge") for w in at.warning)
    at = open_on(dataset=none)
    assert any("no outcome column" in e.value for e in at.error)
    assert any("Map an outcome column" in i.value for i in at.info)
    assert not at.metric
