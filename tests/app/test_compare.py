"""Compare page (AppTest): the separation it shows is lib.analysis's, hand labels change it at once, and a
dataset without labels says how to add them."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib import analysis, ui
from lib.data.sample import generate_portfolio, sample_roles
from lib.data.workspace import SAMPLE_DATASET
from lib.engine.model import parse_model
from tests.app.helpers import APP, errors, open_app

AUC = "Healthy vs struggling (AUC)"


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric labelled {label!r}: {[m.label for m in at.metric]}"
    return values[0]


def count(at: AppTest, label: str) -> int:
    return int(metric(at, label).replace(",", ""))


def table(at: AppTest, column: str):
    """The shown table holding ``column`` (plain tables carry no key in AppTest)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[0]


def label(at: AppTest, accounts: list[str], action: str) -> None:
    """Use the page's label form: pick accounts, choose healthy / struggling / clear, save."""
    at.multiselect(key="compare.label_accounts").set_value(accounts)
    at.radio(key="compare.label_action").set_value(action)
    at.button(key="compare.label_save").click().run()
    assert not errors(at), errors(at)


@pytest.fixture
def at() -> AppTest:
    app = open_app("compare")
    assert not errors(app), errors(app)
    return app


def test_compare_shows_the_auc_lib_analysis_computes_on_the_same_data(at):
    ctx = at.session_state["_ctx"]
    data = ui.workspace().load_dataset(SAMPLE_DATASET)  # file labels with the workspace's hand labels applied
    scored = analysis.score_portfolio(parse_model(ctx.model_yaml), data.df)
    labelled = analysis.labelled_accounts(scored, as_of=ctx.as_of)
    expected = analysis.separation(labelled["score"], labelled["label"])
    assert metric(at, AUC) == f"{expected.auc:.2f}"
    assert count(at, "Healthy accounts") == expected.n_healthy
    assert count(at, "Struggling accounts") == expected.n_struggling
    assert len(at.get("plotly_chart")) == 4  # ROC, score by label, per-metric AUC, one metric by label
    misfits = pd.concat([d.value for d in at.dataframe if "What put it there" in d.value.columns])
    by_band = misfits["Band"].value_counts()  # healthy-but-red first, then struggling-but-green
    assert by_band.get("Red", 0) == count(at, "Healthy but red")
    assert by_band.get("Green", 0) == count(at, "Struggling but green") > 0
    assert len(misfits) == by_band.sum()


def test_labelling_accounts_by_hand_changes_the_counts_and_clearing_restores_them(at):
    ws = ui.workspace()
    healthy, struggling = count(at, "Healthy accounts"), count(at, "Struggling accounts")
    data = ws.load_dataset(SAMPLE_DATASET, apply_labels=False).df
    unlabelled = data.loc[data.groupby("account_id")["health_label"].transform("count") == 0, "account_id"].iloc[0]
    was_healthy = data.loc[data["health_label"] == "healthy", "account_id"].iloc[0]
    try:
        label(at, [unlabelled, was_healthy], "struggling")
        assert count(at, "Healthy accounts") == healthy - 1
        assert count(at, "Struggling accounts") == struggling + 2
        stored = ws.labels(SAMPLE_DATASET).set_index("account_id")["label"]
        assert stored[unlabelled] == stored[was_healthy] == "struggling"
        assert len(table(at, "Set by")) >= 2
        label(at, [unlabelled, was_healthy], "clear")
        assert (count(at, "Healthy accounts"), count(at, "Struggling accounts")) == (healthy, struggling)
    finally:
        for account in (unlabelled, was_healthy):
            ws.set_label(SAMPLE_DATASET, account, None)


def test_picking_a_metric_draws_its_scores_by_label(at):
    metrics = list(at.session_state["_ctx"].model.metrics)
    assert len(at.selectbox(key="compare.metric").options) == len(metrics)
    at.selectbox(key="compare.metric").select(metrics[-1]).run()
    assert not errors(at)
    title = at.get("plotly_chart")[-1].proto.spec
    assert at.session_state["_ctx"].label(metrics[-1]) in title
    assert len(table(at, "Verdict")) == len(metrics)


def test_without_labels_the_page_says_how_to_add_them_and_a_first_pair_of_labels_gives_an_auc():
    ws = ui.workspace()
    name = "Compare test · no labels"
    if name not in ws.dataset_names():
        df = generate_portfolio(n_accounts=40, n_snapshots=3, seed=11).drop(columns="health_label")
        ws.save_dataset(name, df, dataclasses.replace(sample_roles(), health_label=None), "no_labels.csv")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[ui.DATASET] = name
    at.run().switch_page("app_pages/compare.py").run()
    assert not errors(at), errors(at)
    assert any("Label accounts you know" in i.value for i in at.info)
    assert not at.metric and not at.get("plotly_chart")
    label(at, ["ACC-00001"], "healthy")
    label(at, ["ACC-00002"], "struggling")
    assert (count(at, "Healthy accounts"), count(at, "Struggling accounts")) == (1, 1)
    assert metric(at, AUC) in ("0.00", "0.50", "1.00")  # one pair: the healthy one scores higher, equal or lower


def test_a_hand_label_shows_at_once_in_the_tune_preview_separation(at):
    """Hand labels are not baked into the cached dataset: Tune's separation counts them on the next run."""
    ws = ui.workspace()
    at.switch_page("app_pages/tune.py").run()
    assert not errors(at), errors(at)

    def caption() -> str:
        return next(c.value for c in at.caption if "healthy and" in c.value)

    before = caption()
    data = ws.load_dataset(SAMPLE_DATASET, apply_labels=False).df
    unlabelled = data.loc[data.groupby("account_id")["health_label"].transform("count") == 0, "account_id"].iloc[0]
    try:
        ws.set_label(SAMPLE_DATASET, unlabelled, "struggling", "test")
        at.run()
        assert not errors(at), errors(at)
        after = caption()
        assert after != before
        n_struggling = int(before.split(" struggling")[0].rsplit(" ", 1)[-1])
        assert f"{n_struggling + 1} struggling" in after, (before, after)
    finally:
        ws.set_label(SAMPLE_DATASET, unlabelled, None)
