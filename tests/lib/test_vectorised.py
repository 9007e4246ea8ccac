"""The numpy evaluation's building blocks (lib.engine.numpy_eval): ranks, previous snapshots, rank in band."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.data.sample import generate_portfolio
from lib.engine import numpy_eval as vectorised
from lib.engine.model import load_model
from lib.engine.numpy_eval import LiveScorer, band_codes, previous_rows, ranks
from lib.engine.sql import score
from tests.lib.helpers import ROOT, assert_same_scores

KEYS = st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0.0, 1.5, 2.0, 2.0, -3.0, np.nan, 7.25])),
                max_size=60)


@pytest.fixture(params=["few groups", "many groups"])
def rank_path(request, monkeypatch):
    """Both ways :func:`ranks` works: a sort per group, or one sort of all rows (many small groups)."""
    if request.param == "many groups":
        monkeypatch.setattr(vectorised, "_LOOP_GROUPS", 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(KEYS)
def test_min_ranks_equal_pandas_rank_within_each_group(rank_path, rows):
    group = np.array([g for g, _ in rows], dtype=np.int64)
    key = np.array([k for _, k in rows], dtype=float)
    got = ranks(group, 6, key, ties="min")
    want = pd.Series(key).groupby(group).rank(method="min").to_numpy()
    valid = ~np.isnan(key)
    assert np.array_equal(got[valid], want[valid])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(KEYS)
def test_first_ranks_number_each_group_by_key_then_row_order(rank_path, rows):
    group = np.array([g for g, _ in rows], dtype=np.int64)
    key = np.nan_to_num(np.array([k for _, k in rows], dtype=float), nan=99.0)
    got = ranks(group, 6, key, ties="first")
    frame = pd.DataFrame({"g": group, "k": key, "row": np.arange(len(key))}).sort_values(["g", "k", "row"])
    want = frame.groupby("g").cumcount().add(1).sort_index().to_numpy()
    assert np.array_equal(got, want)


def test_previous_rows_link_each_snapshot_to_the_accounts_one_before_in_any_row_order():
    account = np.array([1, 0, 1, 0, 1, 2])
    date = np.array([2, 0, 0, 1, 1, 0])
    prev, repeated = previous_rows(account, date, 3)
    assert prev.tolist() == [4, -1, -1, 1, 2, -1] and not repeated
    _, repeated = previous_rows(np.array([0, 0]), np.array([1, 1]), 2)
    assert repeated  # one account twice at one date


def test_rank_in_band_packed_sort_equals_the_general_ranking(monkeypatch):
    df = generate_portfolio(n_accounts=80, n_snapshots=5, seed=9)
    model = load_model(ROOT / "data" / "models" / "default.yaml")
    live = LiveScorer(df.sample(frac=0.9, random_state=1), model)  # some accounts miss some dates
    overall = live.overall(model)
    band = band_codes(overall, model.bands.red, model.bands.yellow)
    packed = live._rank_in_band(overall, band)
    monkeypatch.setattr(live.rows, "repeated", True)  # as if an account had two rows at a date
    assert np.array_equal(packed, live._rank_in_band(overall, band))


def test_an_account_with_two_rows_at_one_date_still_scores_as_in_sql():
    df = generate_portfolio(n_accounts=20, n_snapshots=3, seed=2)
    twice = pd.concat([df, df.iloc[[4]].assign(nps=0.0)], ignore_index=True)
    model = load_model(ROOT / "data" / "models" / "default.yaml")
    live, sql = LiveScorer(twice, model).rescore(model), score(model, twice)
    assert live["rank_in_band"].tolist() != list(range(len(live)))  # ranks are per date and band
    same = ["account_id", "snapshot_date", "score", "band", "rank_in_band"]
    key = ["account_id", "snapshot_date", "score"]
    assert_same_scores(sql[same].sort_values(key, ignore_index=True), live[same].sort_values(key, ignore_index=True))
