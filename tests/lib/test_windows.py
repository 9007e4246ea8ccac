"""Window statistics (``metrics.<name>.window``) and column aliases (``column``): the model file, and the same
hand-checked values through the SQL, the numpy evaluation, the date-by-date Parquet path and the CLI."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from lib.data.ingest import load_portfolio
from lib.engine.model import ModelError, Window, check_columns, dump_model, model_from_dict, parse_model, set_value
from lib.engine.numpy_eval import LiveScorer
from lib.engine.parquet_files import score_parquet
from lib.engine.sql import score, to_dialect
from tests.foreign import write_foreign_csv
from tests.lib.helpers import assert_same_scores, bad, frame, make_model, run

NAN = np.nan
# A linear score from -1000 (0 points) to 1000 (100 points) shows a statistic: value = 20 · score − 1000.
SHOW = {"method": "linear", "red": -1000, "green": 1000}

# a: a missing value in its second row; b: starts late, first value 0; c: rows at t0 and t3 only (a window
# counts the account's own rows, not calendar dates).
ROWS = [
    {"account_id": "a", "t": 0, "x": 10}, {"account_id": "a", "t": 1, "x": NAN},
    {"account_id": "a", "t": 2, "x": 20}, {"account_id": "a", "t": 3, "x": 0}, {"account_id": "a", "t": 4, "x": 30},
    {"account_id": "b", "t": 2, "x": 0}, {"account_id": "b", "t": 3, "x": 5}, {"account_id": "b", "t": 4, "x": 10},
    {"account_id": "c", "t": 0, "x": 4}, {"account_id": "c", "t": 3, "x": 8},
]
# Per stat and window length, the statistic per row in (account, date) order: a0…a4, b2…b4, c0, c3.
EXPECTED = {
    ("mean", 3): [10, 10, 15, 10, 50 / 3, 0, 2.5, 5, 4, 6],
    ("min", 3): [10, 10, 10, 0, 0, 0, 0, 0, 4, 4],
    ("max", 3): [10, 10, 20, 20, 30, 0, 5, 10, 4, 8],
    ("change", 3): [NAN, NAN, 10, NAN, 10, NAN, NAN, 10, NAN, NAN],  # a3: no value 2 rows back
    ("pct_change", 3): [NAN, NAN, 100, NAN, 50, NAN, NAN, NAN, NAN, NAN],  # b4: first value 0
    ("slope", 3): [NAN, NAN, 5, -20, 5, NAN, NAN, 5, NAN, NAN],  # a3: 20 at position 1, 0 at 2
    ("change", 2): [NAN, NAN, NAN, -20, 30, NAN, 5, 5, NAN, 4],
    ("pct_change", 2): [NAN, NAN, NAN, -100, NAN, NAN, NAN, 100, NAN, 100],
    ("slope", 2): [NAN, NAN, NAN, -20, 30, NAN, 5, 5, NAN, 4],
    ("mean", 6): [10, 10, 15, 10, 15, 0, 2.5, 5, 4, 6],  # longer than any history: what there is
    ("max", 6): [10, 10, 20, 20, 30, 0, 5, 10, 4, 8],
    ("change", 6): [NAN] * 10,
    ("slope", 6): [NAN] * 10,
}


def window_model() -> tuple:
    metrics = {f"{stat}_{n}": {"column": "x", "window": {"snapshots": n, "stat": stat}, "score": SHOW}
               for stat, n in EXPECTED}
    metrics["x"] = {"weight": 1, "score": SHOW}  # the raw value beside its statistics: the same column again
    return make_model(metrics), frame(ROWS)


def statistics(scores: pd.DataFrame) -> dict:
    ordered = scores.sort_values(["account_id", "snapshot_date"], ignore_index=True)
    return {(stat, n): 20 * ordered[f"{stat}_{n}_score"].to_numpy(float) - 1000 for stat, n in EXPECTED}


def assert_statistics(scores: pd.DataFrame) -> None:
    for key, got in statistics(scores).items():
        np.testing.assert_allclose(got, EXPECTED[key], atol=1e-9, err_msg=str(key))


# ---------------------------------------------------------------------------------------------- model file


def test_window_and_column_round_trip_through_yaml():
    text = textwrap.dedent("""
        metrics:
          logins_level:
            column: Logins/User
            window: {snapshots: 3, stat: mean}
            weight: 30
            score: {method: linear, red: 2, green: 10}
          logins_trend:
            column: Logins/User
            window: {snapshots: 3, stat: pct_change}
            weight: 20
            score: {method: linear, red: -40, green: 0}
    """)
    model = parse_model(text)
    assert model.metrics["logins_trend"].column == "Logins/User"
    assert model.metrics["logins_trend"].window == Window(3, "pct_change")
    assert parse_model(dump_model(model)) == model
    assert "column: Logins/User" in dump_model(model) and "window: {snapshots: 3, stat: mean}" in dump_model(model)
    edited = set_value(model, "metrics.logins_trend.window.snapshots", 6)
    assert edited.metrics["logins_trend"].window == Window(6, "pct_change")


def test_a_metric_without_column_or_window_reads_its_own_column_raw():
    model = make_model({"logins": {"score": SHOW}})
    assert model.metrics["logins"].column == "logins" and model.metrics["logins"].window is None
    assert "column" not in dump_model(model) and "window" not in dump_model(model)


@pytest.mark.parametrize("window, key, message, fix", [
    ({"snapshots": 1, "stat": "mean"}, "window.snapshots", "from 2 to 52, got 1", "snapshots: 3"),
    ({"snapshots": 53, "stat": "mean"}, "window.snapshots", "from 2 to 52, got 53", "snapshots: 3"),
    ({"snapshots": 2.5, "stat": "mean"}, "window.snapshots", "whole number", "snapshots: 3"),
    ({"stat": "mean"}, "window.snapshots", "needs 'snapshots'", "add it"),
    ({"snapshots": 3, "stat": "median"}, "window.stat", "unknown stat text 'median'; valid stats: mean, min, max",
     "did you mean 'mean'?"),
    ({"snapshots": 3}, "window.stat", "no stat", "add one"),
    ({"snapshots": 3, "stat": "mean", "lag": 1}, "window.lag", "unknown key 'lag'", "remove it"),
    (3, "window", "expected a mapping", "{snapshots: 3, stat: mean}"),
])
def test_invalid_window_is_refused_with_key_and_fix(window, key, message, fix):
    with pytest.raises(ModelError) as err:
        make_model({"logins_trend": {"column": "logins", "window": window, "score": SHOW}})
    [problem] = err.value.problems
    assert problem.key == f"metrics.logins_trend.{key}"
    assert message in problem.message and fix in problem.fix


def test_window_on_a_categorical_metric_is_refused_with_key_and_fix():
    with pytest.raises(ModelError) as err:
        make_model({"mood": {"window": {"snapshots": 3, "stat": "mean"},
                             "score": {"method": "categories", "map": {"green": 100}}}})
    assert str(err.value.problems[0]).startswith("metrics.mood.window: a window statistic needs numbers")
    assert "remove the window" in err.value.problems[0].fix


def test_profile_scoring_a_windowed_metric_as_categories_is_refused():
    with pytest.raises(ModelError) as err:
        make_model({"trend": {"column": "x", "window": {"snapshots": 3, "stat": "change"}, "score": SHOW}},
                   profiles=[{"name": "P", "when": {"seg": ["a"]},
                              "metrics": {"trend": {"score": {"method": "categories", "map": {"a": 1}}}}}])
    assert err.value.problems[0].key == "profiles[0].metrics.trend.score"


def test_empty_column_is_refused():
    with pytest.raises(ModelError, match=r"metrics.trend.column: must not be empty"):
        make_model({"trend": {"column": " ", "score": SHOW}})


def test_check_columns_checks_the_column_read_not_the_key():
    model = make_model({"logins_trend": {"column": "Logins/User", "window": {"snapshots": 3, "stat": "mean"},
                                         "score": SHOW}})
    assert check_columns(model, ["account_id", "snapshot_date", "Logins/User"]) == []
    [problem] = check_columns(model, ["account_id", "snapshot_date", "logins/user", "logins_trend"])
    assert problem.key == "metrics.logins_trend.column"
    assert problem.message == "column 'Logins/User' is not in the data"
    assert "'logins/user'" in problem.fix and "rename the column" in problem.fix


# ---------------------------------------------------------------------------------------------- engines


def test_window_statistics_by_hand_in_sql():
    model, df = window_model()
    assert_statistics(score(model, df))


def test_window_statistics_by_hand_in_numpy():
    model, df = window_model()
    assert_statistics(LiveScorer(df, model).rescore(model))


def test_window_statistics_by_hand_in_the_date_by_date_parquet_path(tmp_path, monkeypatch):
    from lib.engine import parquet_files as parquet_scoring

    monkeypatch.setattr(parquet_scoring, "CHUNK_ROWS", 3)  # one date at a time: history from earlier dates
    model, df = window_model()
    df.to_parquet(tmp_path / "in.parquet")
    for ordered in (False, True):
        score_parquet(model, tmp_path / "in.parquet", tmp_path / "out.parquet", ordered=ordered)
        assert_statistics(pd.read_parquet(tmp_path / "out.parquet"))


def test_window_statistics_by_hand_through_the_cli(tmp_path):
    model, df = window_model()
    (tmp_path / "model.yaml").write_text(dump_model(model))
    df.assign(snapshot_date=df["snapshot_date"].dt.strftime("%Y-%m-%d")).to_csv(tmp_path / "data.csv", index=False)
    for out in ("out.csv", "out.parquet"):
        result = run("score", tmp_path / "data.csv", "--model", tmp_path / "model.yaml", "--out", tmp_path / out)
        assert result.returncode == 0, result.stderr
        got = pd.read_csv(tmp_path / out) if out.endswith(".csv") else pd.read_parquet(tmp_path / out)
        assert_statistics(got)


def test_cli_validate_names_the_window_key_and_fix(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("metrics:\n  trend: {column: x, window: {snapshots: 60, stat: mean}, score: "
                    "{method: linear, red: 0, green: 1}}\n")
    err = bad(run("validate", path))
    assert "metrics.trend.window.snapshots: must be a whole number of snapshots from 2 to 52, got 60 — " in err


def test_windowed_metric_is_named_by_its_key_and_has_a_value_where_this_snapshot_has_none():
    model = make_model({"level": {"column": "x", "window": {"snapshots": 2, "stat": "mean"}, "score": SHOW},
                        "x": {"score": SHOW}})
    out = score(model, frame(ROWS))
    assert [c for c in out.columns if c.endswith("_score")] == ["level_score", "x_score"]
    # a at t1 has no value: the raw metric is missing, its 2-snapshot mean is 10, so it takes all the weight
    assert out["level_weight"].tolist() == [0.5, 1.0, *[0.5] * 8]
    assert out["score"].tolist()[1] == 50.5  # (10 + 1000) / 20


def test_a_window_edit_recomputes_that_metric_only():
    model, df = window_model()
    live = LiveScorer(df, model)
    before = {k: v for k, v in live._cache.items() if k[0] == "stat"}
    edited = set_value(model, "metrics.mean_3.window.snapshots", 4)
    live.rescore(edited)
    after = {k: v for k, v in live._cache.items() if k[0] == "stat"}
    new = [k for k in after if k not in before]
    assert new == [("stat", "x", Window(4, "mean"))]
    assert all(after[k] is before[k] for k in after if k in before)  # the other statistics were reused


def test_window_statistic_is_missing_where_it_is_not_finite():
    model = make_model({"m": {"column": "x", "window": {"snapshots": 2, "stat": "mean"}, "score": SHOW}})
    df = frame([{"account_id": "a", "t": 0, "x": 1e308}, {"account_id": "a", "t": 1, "x": 1e308}])
    sql, live = score(model, df), LiveScorer(df, model).rescore(model)
    assert_same_scores(sql, live)
    assert sql["m_score"].tolist()[0] == 100 and np.isnan(sql["m_score"].tolist()[1])  # the sum overflows


@pytest.mark.parametrize("dialect", ["spark", "snowflake", "bigquery"])
def test_windowed_sql_transpiles_and_scores_the_same_read_back(dialect):
    import duckdb
    import sqlglot

    from lib.engine.sql import compile_sql

    model, df = window_model()
    con = duckdb.connect()
    con.register("portfolio", df)
    expected = con.execute(compile_sql(model)).df()
    text = to_dialect(compile_sql(model), dialect)
    again = con.execute(sqlglot.transpile(text, read=dialect, write="duckdb")[0]).df()
    pd.testing.assert_frame_equal(expected, again, check_dtype=False)


def test_model_from_dict_accepts_a_window_on_a_vs_average_metric():
    model = model_from_dict({"metrics": {"m": {"column": "x", "window": {"snapshots": 2, "stat": "max"},
                                               "score": {"method": "vs_average", "cuts": [1], "points": [0, 100]}}}})
    assert model.metrics["m"].window == Window(2, "max")


# ---------------------------------------------------------------------------------------------- readers by key


def test_attached_value_is_what_each_metric_scores_and_a_column_alias_reads_its_column():
    from lib.engine.scored_portfolio import attach_attributes

    model, _ = window_model()
    scored = attach_attributes(score(model, frame(ROWS)), frame(ROWS), metrics=model)
    stats = {key: 20 * scored[f"{key[0]}_{key[1]}_score"] - 1000 for key in EXPECTED}
    for key, expected in EXPECTED.items():
        np.testing.assert_allclose(scored[f"{key[0]}_{key[1]}_value"], expected, atol=1e-9, err_msg=str(key))
        np.testing.assert_allclose(stats[key], expected, atol=1e-9)
    np.testing.assert_array_equal(scored["x_value"], frame(ROWS)["x"])  # unwindowed: the raw value
    by_name = attach_attributes(score(model, frame(ROWS)), frame(ROWS), metrics=list(model.metrics))
    assert "x_value" in by_name and "mean_3_value" not in by_name  # names only: columns, raw


def test_tune_data_reads_a_metric_by_its_column_and_window():
    from lib.views.tuning import TuneData

    model, df = window_model()
    data = TuneData(LiveScorer(df, model), df, model)
    last = df["snapshot_date"].max()  # a4, b4: c has no row at t4
    assert data.values_at("mean_3", last, {}, model).tolist() == pytest.approx([50 / 3, 5])
    assert data.values_at("x", last, {}, model).tolist() == [30, 10]
    np.testing.assert_allclose(data.values("slope_3", model).to_numpy(),
                               frame(ROWS).assign(v=EXPECTED[("slope", 3)])["v"].to_numpy())  # data row order
    assert data.range_for("change_2", model=model).lo <= -20  # from the statistic, not the raw values (>= 0)
    aliased = make_model({"logins": {"column": "x", "score": SHOW}})
    assert data.values_at("logins", last, {}, aliased).tolist() == [30, 10]


def test_metric_quality_counts_the_column_a_metric_reads():
    from lib.engine.sql import metric_quality

    model = make_model({"trend": {"column": "x", "window": {"snapshots": 2, "stat": "change"}, "score": SHOW}})
    quality = metric_quality(model, frame(ROWS)).set_index("metric")
    assert quality.loc["trend", "missing"] == 1 and quality.loc["trend", "usable"] == 9


# ---------------------------------------------------------------------------------------------- suggest


@pytest.fixture(scope="module")
def declining(tmp_path_factory):
    """A foreign-named portfolio where a quarter of the accounts slowly decline before they churn."""
    path = write_foreign_csv(tmp_path_factory.mktemp("trend") / "book.csv", accounts=1500, snapshots=18)
    return load_portfolio(path)


def test_suggest_keeps_a_window_metric_where_it_helps_the_training_accounts(declining):
    from lib.analysis import MIN_WINDOW_GAIN, starter_model, suggest_model

    base = starter_model(declining.df, declining.roles.metrics)
    plain = suggest_model(declining.df, base, windows=())
    windowed = suggest_model(declining.df, base)
    added = [m for m in windowed.model.metrics.values() if m.window is not None]
    assert added and all(m.column in base.metric_columns() for m in added)
    assert windowed.suggested_auc_train >= plain.suggested_auc_train + MIN_WINDOW_GAIN
    assert set(windowed.windows.loc[windowed.windows["kept"], "metric"]) == {
        k for k, m in windowed.model.metrics.items() if m.window is not None}
    assert not any(m.window for m in plain.model.metrics.values()) and plain.windows.empty
    table = windowed.thresholds.set_index("metric")  # every metric of the suggestion, the added ones as new
    assert list(table.index) == list(windowed.model.metrics)
    assert (table.loc[[m for m in windowed.model.metrics if m not in base.metrics], "old"] == "").all()
    assert windowed.weights["new_weight"].sum() == pytest.approx(100)


def test_suggest_fits_window_metrics_without_the_held_back_accounts(declining):
    """Changing every held-back account's values changes nothing in what is fitted (bands aside: they keep the
    latest snapshot's band shares over every account)."""
    from lib.analysis import starter_model, suggest_model
    from lib.engine.model import model_to_dict

    df = declining.df
    base = starter_model(df, declining.roles.metrics)
    first = suggest_model(df, base)
    held = df["account_id"].isin(first.test_accounts)
    noisy = df.copy()
    for column in base.metric_columns():
        values = pd.to_numeric(noisy[column], errors="coerce")
        if values.notna().any():
            noisy[column] = values.where(~held, values[::-1].to_numpy())
    again = suggest_model(noisy, base)
    assert again.test_accounts == first.test_accounts
    strip = lambda m: {k: v for k, v in model_to_dict(m).items() if k != "bands"}  # noqa: E731
    assert strip(again.model) == strip(first.model)
    assert again.suggested_auc_train == first.suggested_auc_train
