"""Parity: the same models scored by Spark, DuckDB and numpy agree row for row (issue #14).

One local SparkSession serves the whole run (its start costs seconds): a session-scoped fixture, and the tests
share one xdist group so one worker owns it. Random models come from the property tests' strategy (one fixed,
derandomized draw, scored in batches). Skipped, with the reason shown, where pyspark or Java is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from test_scoring_properties import cases
from test_windows import window_model

from lib.engine.model import dump_model, load_model
from lib.engine.numpy_eval import LiveScorer
from lib.engine.parquet_files import score_parquet
from lib.engine.spark import score_spark, spark_problem, spark_session, to_pandas, write_spark
from lib.engine.sql import score, score_file, tidy
from tests.lib.helpers import MODELS, ROOT, assert_same_scores, make_model

PROBLEM = spark_problem()
pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.skipif(PROBLEM is not None, reason=PROBLEM or "")]
# A few dozen random models, in batches so that no one test runs long.
BATCHES, MODELS_PER_BATCH = 3, 8


@pytest.fixture(scope="session")
def spark():
    # Tiny tables: one shuffle partition, and expressions interpreted rather than compiled (compiling each
    # model's code costs more than running it on a few rows).
    session = spark_session("local[2]", conf={
        "spark.sql.shuffle.partitions": "1", "spark.default.parallelism": "1", "spark.sql.adaptive.enabled": "false",
        "spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"})
    yield session
    session.stop()


def numpy_scores(model, df: pd.DataFrame, tmp_path) -> pd.DataFrame:
    """The numpy engine's file path (lib.engine.parquet_files), sorted as score() sorts."""
    src, out = tmp_path / "in.parquet", tmp_path / "numpy.parquet"
    df.to_parquet(src)
    score_parquet(model, src, out, ordered=True)
    return tidy(pd.read_parquet(out))


@pytest.fixture(scope="module")
def random_cases() -> list[tuple]:
    """A fixed draw of the property tests' random (model, portfolio) cases: derandomized, the same every run."""
    drawn: list[tuple] = []

    @settings(max_examples=BATCHES * MODELS_PER_BATCH, derandomize=True, database=None, deadline=None,
              phases=(Phase.generate,), suppress_health_check=list(HealthCheck))
    @given(cases())
    def draw(case):
        drawn.append(case)

    draw()
    return drawn


@pytest.mark.parametrize("batch", range(BATCHES))
def test_random_models_score_the_same_on_spark_duckdb_and_numpy(spark, random_cases, batch):
    for model, df in random_cases[batch * MODELS_PER_BATCH:(batch + 1) * MODELS_PER_BATCH]:
        expected = score(model, df)
        try:
            assert_same_scores(expected, to_pandas(score_spark(model, df, spark)))
            assert_same_scores(expected, LiveScorer(df, model).rescore(model))
        except AssertionError as exc:
            raise AssertionError(f"model:\n{dump_model(model)}\nportfolio:\n{df.to_string()}") from exc


@pytest.fixture(scope="module")
def portfolio():
    from lib.data.sample import generate_portfolio

    df = generate_portfolio(n_accounts=60, n_snapshots=5, seed=11)
    # design.yaml's names for two of the sample's columns
    return df.assign(feature_adoption=df["feature_adoption_pct"], seats_used=df["logins_per_user"] * 3)


@pytest.mark.parametrize("model_path", [ROOT / "data" / "models" / "default.yaml", MODELS / "design.yaml"],
                         ids=["sample_default", "design_fixture"])
def test_sample_and_design_models_score_the_same_with_the_same_types_on_spark(spark, portfolio, model_path,
                                                                               tmp_path):
    model = load_model(model_path)
    expected = score(model, portfolio)
    on_spark = to_pandas(score_spark(model, portfolio, spark))
    assert_same_scores(expected, on_spark)  # dtypes too: rank_in_band int64, snapshot_date datetime64
    assert_same_scores(expected, numpy_scores(model, portfolio, tmp_path))


def test_window_statistics_score_the_same_on_spark(spark):
    model, df = window_model()
    assert_same_scores(score(model, df), to_pandas(score_spark(model, df, spark)))


# NaN (not null) in a numeric column, ±inf, numbers held as text with every engine's own cast extensions, and
# categories padded with a tab or NBSP: the same on every path.
HOSTILE = pd.DataFrame({
    "account_id": ["a", "b", "c", "d", "e", "f", "g", "h"],
    "x": [1.0, np.nan, 3.0, np.inf, -np.inf, 8.0, np.nan, 10.0],
    "t": [" 7 ", "1_000", "1.5d", "7\t", "2\u00a0", "", "n/a", "+.5e1"],
    "mood": ["GREEN\u00a0", "red\t", " Yellow", "green", "\u3000red", "", None, "blue"],
})
HOSTILE_MODEL = make_model({
    "x": {"weight": 2, "score": {"method": "linear", "red": 0, "green": 10}},
    "t": {"weight": 1, "score": {"method": "linear", "red": 0, "green": 10}},
    "mood": {"weight": 1, "score": {"method": "categories", "map": {"green": 100, "yellow": 50, "red": 0}}},
})


def hostile_parquet(path) -> None:
    """HOSTILE as a Parquet file holding real NaN (pyarrow keeps it; pandas would write null), dates in ns."""
    table = pa.Table.from_pandas(HOSTILE.assign(snapshot_date=pd.Timestamp("2025-01-06")), preserve_index=False)
    x = pa.array(HOSTILE["x"].to_numpy(), from_pandas=False)
    pq.write_table(table.set_column(table.schema.get_field_index("x"), "x", x), path, coerce_timestamps=None)


def test_nan_blank_and_text_numbers_score_the_same_on_every_path(spark, tmp_path):
    path = tmp_path / "hostile.parquet"
    hostile_parquet(path)
    assert pq.read_table(path).column("x").null_count == 0  # the NaN are NaN, not nulls
    expected = score(HOSTILE_MODEL, pd.read_parquet(path))
    assert expected["x_score"].isna().tolist() == [False, True, False, True, True, False, True, False]
    assert expected["t_score"].tolist()[:1] == [70.0] and expected["t_score"].isna().tolist()[1:3] == [True, True]
    assert expected["mood_score"].tolist()[:3] == [100.0, 0.0, 50.0]
    paths = {"duckdb file": score(HOSTILE_MODEL, path)}
    for engine in ("sql", "numpy"):
        out = tmp_path / f"{engine}.parquet"
        score_file(HOSTILE_MODEL, path, out, ordered=True, engine=engine)
        paths[engine] = tidy(pd.read_parquet(out))
    paths["spark file"] = to_pandas(score_spark(HOSTILE_MODEL, path, spark))
    paths["spark frame"] = to_pandas(score_spark(HOSTILE_MODEL, pd.read_parquet(path), spark))
    for name, got in paths.items():
        try:
            assert_same_scores(expected, got)
        except AssertionError as exc:
            raise AssertionError(f"{name} differs from score(DataFrame)") from exc


def test_spark_writes_parquet_partitioned_by_snapshot_date_with_dates_as_dates(spark, portfolio, tmp_path):
    model = load_model(ROOT / "data" / "models" / "default.yaml")
    out = tmp_path / "scores.parquet"
    rows = write_spark(score_spark(model, portfolio, spark), out)
    assert rows == len(portfolio)
    assert sorted(p.name for p in out.glob("snapshot_date=*")) == [
        f"snapshot_date={d:%Y-%m-%d}" for d in sorted(portfolio["snapshot_date"].unique())]
    back = spark.read.parquet(str(out))
    types = dict(back.dtypes)
    assert (types["snapshot_date"], types["rank_in_band"], types["score"]) == ("date", "bigint", "double")


def test_cli_scores_a_csv_on_spark_into_a_partitioned_parquet_folder(spark, tmp_path):
    """``score FILE --engine spark --out OUT``: a CSV goes through ingest first; the folder holds the same
    scores as the default engine's CSV."""
    from lib.cli import main
    from lib.data.sample import generate_portfolio

    generate_portfolio(n_accounts=20, n_snapshots=3, seed=3).to_csv(tmp_path / "p.csv", index=False)
    model_file = ROOT / "data" / "models" / "default.yaml"
    args = ["score", str(tmp_path / "p.csv"), "--model", str(model_file)]
    assert main([*args, "--out", str(tmp_path / "default.csv")]) == 0
    assert main([*args, "--engine", "spark", "--master", "local[2]", "--out", str(tmp_path / "spark.parquet")]) == 0
    expected = pd.read_csv(tmp_path / "default.csv", parse_dates=["snapshot_date"])
    got = spark.read.parquet(str(tmp_path / "spark.parquet")).toPandas()
    got = got.assign(snapshot_date=pd.to_datetime(got["snapshot_date"]))[list(expected.columns)]
    pd.testing.assert_frame_equal(expected, got.sort_values(["account_id", "snapshot_date"], ignore_index=True),
                                  check_exact=False, rtol=1e-9, check_dtype=False)
    assert len(load_model(model_file).metrics) + 6 == len(expected.columns)


def test_cli_on_spark_reports_an_unreadable_source_without_a_traceback(spark, tmp_path, capsys):
    from lib.cli import main

    model_file = str(ROOT / "data" / "models" / "default.yaml")
    assert main(["score", "no_such_db.no_such_table", "--model", model_file, "--engine", "spark"]) == 2
    assert "no_such_db.no_such_table: Spark cannot read it" in capsys.readouterr().err
