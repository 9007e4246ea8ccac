"""ui.Context: the caches of what a selection determines are keyed by `Context.key`, so another dataset, a new
revision or an edited draft gets its own result, and the same selection (any filters, any date) gets the same."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from lib import ui
from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio, sample_roles
from lib.data.workspace import Workspace
from lib.engine.model import parse_model
from lib.views import tuning

MODEL_YAML = DEFAULT_MODEL_PATH.read_text(encoding="utf-8")


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """A workspace of its own with two small datasets of the same shape, behind ui.workspace()."""
    workspace = Workspace(tmp_path / "workspace.duckdb")
    for name, seed in (("Context A", 1), ("Context B", 2)):
        workspace.save_dataset(name, generate_portfolio(n_accounts=30, n_snapshots=3, seed=seed), sample_roles())
    workspace.save_model("Default", MODEL_YAML)
    monkeypatch.setattr(ui, "workspace", lambda: workspace)
    yield workspace
    workspace.close()


def selection(ws: Workspace, dataset: str, **changes) -> ui.Context:
    """The sidebar's selection of model Default v1 on ``dataset`` at its last snapshot."""
    info = ws.dataset_info(dataset)
    ctx = ui.Context(dataset=info, model_name="Default", model_version=1, model_yaml=MODEL_YAML,
                     model=parse_model(MODEL_YAML), as_of=pd.Timestamp(info.last_date))
    return ctx.with_model(changes.pop("model_yaml")) if "model_yaml" in changes else ctx


def edited(yaml_text: str) -> str:
    """The model with its yellow cut-off raised, as Tune's slider edits a draft."""
    return tuning.edit_draft(yaml_text, ("bands", "yellow"), 90).yaml


def test_the_same_model_on_another_dataset_misses_the_cache(ws):
    a, b = selection(ws, "Context A"), selection(ws, "Context B")
    assert (a.model_name, a.model_version, a.model_yaml) == (b.model_name, b.model_version, b.model_yaml)
    assert a.key != b.key
    tune_a, tune_b = a.tune_data(a.model_yaml), b.tune_data(b.model_yaml)
    assert tune_a is not tune_b
    assert tune_a.df is a.data().df and tune_b.df is b.data().df


def test_an_edited_draft_misses_the_cache_and_the_same_selection_hits_it(ws):
    saved = selection(ws, "Context A")
    draft = selection(ws, "Context A", model_yaml=edited(MODEL_YAML))
    assert draft.key != saved.key and draft.key[:2] == saved.key[:2]  # same dataset and revision, other model
    assert draft.tune_data(draft.model_yaml) is not saved.tune_data(saved.model_yaml)
    assert (draft.tune_data(draft.model_yaml).saved_bands != saved.tune_data(saved.model_yaml).saved_bands).any()
    # Filters, the date and the scorer's warm-up model are not part of what Tune's data depends on: a hit.
    other_view = dataclasses.replace(saved, filters={"size": ("SMB",)}, as_of=saved.as_of - pd.DateOffset(months=1))
    assert other_view.key == saved.key
    assert other_view.tune_data(draft.model_yaml) is saved.tune_data(saved.model_yaml)


def test_a_new_revision_of_the_dataset_misses_the_cache(ws):
    before = selection(ws, "Context A")
    ws.save_dataset("Context A", generate_portfolio(n_accounts=30, n_snapshots=3, seed=9), sample_roles(),
                    replace=True)
    after = selection(ws, "Context A")
    assert after.key != before.key
    assert after.tune_data(after.model_yaml) is not before.tune_data(before.model_yaml)
