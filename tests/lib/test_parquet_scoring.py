"""File-to-file scoring with numpy (lib.engine.parquet_files): the same rows as the SQL, bounded memory, safe writes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from test_scoring_properties import SETTINGS, cases

from lib.data.sample import generate_portfolio
from lib.engine import parquet_files as parquet_scoring
from lib.engine.model import ModelError, load_model
from lib.engine.parquet_files import score_parquet
from lib.engine.sql import score, score_file
from tests.lib.helpers import ROOT, assert_same_scores, frame, make_model

DEFAULT_MODEL = ROOT / "data" / "models" / "default.yaml"


def read_scores(path: Path, ordered: bool = False) -> pd.DataFrame:
    """A scored file as :func:`lib.engine.sql.score` returns it (dtypes, and rows by account and date)."""
    got = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, keep_default_na=False,
                                                                             na_values=[""])
    if not ordered:
        got = got.sort_values(["account_id", "snapshot_date"], ignore_index=True)
    got["snapshot_date"] = pd.to_datetime(got["snapshot_date"]).astype("datetime64[ns]")
    for c in ("account_id", "profile", "band", "grade", "alerts"):
        if c in got:
            got[c] = got[c].astype(object).where(got[c].notna(), None)
    if "alerts" in got:
        got["alerts"] = got["alerts"].fillna("")  # CSV cannot tell an empty text from a missing one
    numbers = [c for c in got if c in ("score", "change") or c.endswith(("_score", "_weight", "_contribution"))]
    return got.astype(dict.fromkeys(numbers, float))  # CSV: 100 reads back as an integer


def for_parquet(df: pd.DataFrame) -> pd.DataFrame:
    """Mixed text and numbers in one column (``"n/a"`` among values) are stored as text, as a file holds them."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and out[c].dropna().map(type).nunique() > 1:
            out[c] = out[c].map(lambda x: None if pd.isna(x) else str(x))
    return out


@pytest.fixture
def small_chunks(monkeypatch):
    """Output row groups of 64 rows, so small files go through several chunks and background writes."""
    monkeypatch.setattr(parquet_scoring, "CHUNK_ROWS", 64)


@SETTINGS
@given(cases())
def test_parquet_file_scores_equal_the_sql_row_for_row(case):
    model, df = case
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "in.parquet", Path(tmp) / "out.parquet"
        for_parquet(df).sample(frac=1, random_state=0).to_parquet(source, index=False, row_group_size=3)
        assert score_parquet(model, source, out) == len(df)
        assert_same_scores(score(model, source), read_scores(out))


def test_sample_portfolio_scores_the_same_through_numpy_and_sql_in_any_row_order(tmp_path, small_chunks):
    model = load_model(DEFAULT_MODEL)
    df = generate_portfolio(n_accounts=120, n_snapshots=6, seed=5)
    source = tmp_path / "in.parquet"
    df.sample(frac=1, random_state=3).to_parquet(source, index=False, row_group_size=100)
    assert score_parquet(model, source, tmp_path / "out.parquet") == len(df)
    got = read_scores(tmp_path / "out.parquet")
    assert_same_scores(score(model, df), got)
    assert set(got["band"]) >= {"red", "yellow", "green"} and got["alerts"].str.len().gt(0).any()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_ordered_output_is_sorted_by_account_then_date_and_equals_the_sql(tmp_path, small_chunks, suffix):
    model = load_model(DEFAULT_MODEL)
    df = generate_portfolio(n_accounts=40, n_snapshots=4, seed=2)
    df.sample(frac=1, random_state=1).to_parquet(tmp_path / "in.parquet", index=False)
    score_parquet(model, tmp_path / "in.parquet", tmp_path / f"out{suffix}", ordered=True)
    assert_same_scores(score(model, df), read_scores(tmp_path / f"out{suffix}", ordered=True))


def test_columns_picks_and_orders_the_output(tmp_path):
    model = load_model(DEFAULT_MODEL)
    generate_portfolio(n_accounts=10, n_snapshots=2, seed=1).to_parquet(tmp_path / "in.parquet", index=False)
    cols = ["score", "account_id", "band", "nps_score", "snapshot_date"]
    score_parquet(model, tmp_path / "in.parquet", tmp_path / "out.parquet", columns=cols)
    assert pq.read_schema(tmp_path / "out.parquet").names == cols


def test_text_columns_read_back_as_text_and_missing_scores_as_null(tmp_path):
    model = make_model({"nps": {"score": {"method": "linear", "red": 0, "green": 10}}},
                       grades={"A": 80}, alerts=[{"name": "Turned red", "to_band": "red"}])
    df = frame([{"account_id": "a", "nps": 9}, {"account_id": "b", "nps": None}])
    df.to_parquet(tmp_path / "in.parquet", index=False)
    score_parquet(model, tmp_path / "in.parquet", tmp_path / "out.parquet")
    schema = pq.read_schema(tmp_path / "out.parquet")
    assert all(schema.field(c).type == pa.string() for c in ("account_id", "profile", "band", "grade", "alerts"))
    rows = duckdb.sql(f"SELECT account_id, score IS NULL, band, grade FROM '{tmp_path / 'out.parquet'}' "
                      "ORDER BY account_id").fetchall()
    assert rows == [("a", False, "green", "A"), ("b", True, "no data", None)]


def test_hostile_column_names_and_values_score_as_in_sql(tmp_path):
    metric, segment = 'x"); DROP TABLE t; --', "seg.<script>"
    model = make_model({metric: {"score": {"method": "percentile", "within": [segment]}},
                        "a.b": {"score": {"method": "categories", "map": {"=cmd|' /c calc'!A0": 100, "ok": 50}}}})
    df = frame([{"account_id": "=HYPERLINK(1)", metric: 3, segment: "<b>x</b>", "a.b": "=cmd|' /c calc'!A0"},
                {"account_id": "b", metric: 5, segment: "<b>x</b>", "a.b": "ok"},
                {"account_id": "c", metric: 4, segment: None, "a.b": None}])
    df.to_parquet(tmp_path / "in.parquet", index=False)
    score_parquet(model, tmp_path / "in.parquet", tmp_path / "out.parquet")
    assert_same_scores(score(model, df), read_scores(tmp_path / "out.parquet"))


def test_integer_ids_and_dates_written_as_text_are_read_as_the_sql_reads_them(tmp_path):
    model = load_model(DEFAULT_MODEL)
    df = generate_portfolio(n_accounts=30, n_snapshots=3, seed=4)
    df["account_id"] = df["account_id"].str.replace("ACC-", "").astype(int) * 7  # text order ≠ number order
    df["snapshot_date"] = df["snapshot_date"].dt.strftime("%Y-%m-%d")
    df.to_parquet(tmp_path / "in.parquet", index=False)
    score_file(model, tmp_path / "in.parquet", tmp_path / "numpy.parquet", engine="numpy")
    score_file(model, tmp_path / "in.parquet", tmp_path / "sql.parquet", engine="sql")
    assert_same_scores(read_scores(tmp_path / "sql.parquet"), read_scores(tmp_path / "numpy.parquet"))


@pytest.mark.parametrize("column", ["account_id", "snapshot_date"])
def test_rows_without_an_id_or_date_are_refused_naming_the_column_and_row(tmp_path, column):
    model = load_model(DEFAULT_MODEL)
    df = generate_portfolio(n_accounts=5, n_snapshots=2, seed=1)
    df[column] = df[column].astype(object)
    df.loc[3, column] = None
    df.to_parquet(tmp_path / "in.parquet", index=False)
    with pytest.raises(ModelError) as err:
        score_parquet(model, tmp_path / "in.parquet", tmp_path / "out.parquet")
    assert column in str(err.value) and "row 4" in str(err.value) and "fill in" in str(err.value)


def test_a_snapshot_date_that_is_not_a_date_is_reported_with_the_fix(tmp_path):
    model = load_model(DEFAULT_MODEL)
    df = generate_portfolio(n_accounts=3, n_snapshots=2, seed=1)
    df["snapshot_date"] = df["snapshot_date"].dt.strftime("%Y-%m-%d")
    df.loc[2, "snapshot_date"] = "last tuesday"
    df.to_parquet(tmp_path / "in.parquet", index=False)
    with pytest.raises(ModelError, match="'last tuesday' is not a date.*YYYY-MM-DD"):
        score_parquet(model, tmp_path / "in.parquet", tmp_path / "out.parquet")


def test_a_failed_run_keeps_the_previous_output_and_leaves_no_partial_file(tmp_path):
    model = load_model(DEFAULT_MODEL)
    (tmp_path / "out.parquet").write_bytes(b"previous result")
    generate_portfolio(n_accounts=3, n_snapshots=2, seed=1).drop(columns="nps").to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ModelError, match="nps"):
        score_parquet(model, tmp_path / "bad.parquet", tmp_path / "out.parquet")
    df = generate_portfolio(n_accounts=3, n_snapshots=2, seed=1)
    df["snapshot_date"] = df["snapshot_date"].dt.strftime("%Y-%m-%d").where(df.index != 1, "soon")
    df.to_parquet(tmp_path / "bad_date.parquet")
    with pytest.raises(ModelError):
        score_parquet(model, tmp_path / "bad_date.parquet", tmp_path / "out.parquet")
    assert (tmp_path / "out.parquet").read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet", "bad_date.parquet", "out.parquet"]


def test_an_empty_file_writes_the_columns_and_no_rows(tmp_path):
    model = load_model(DEFAULT_MODEL)
    generate_portfolio(n_accounts=3, n_snapshots=2, seed=1).head(0).to_parquet(tmp_path / "in.parquet", index=False)
    assert score_parquet(model, tmp_path / "in.parquet", tmp_path / "out.parquet") == 0
    got = pd.read_parquet(tmp_path / "out.parquet")
    assert got.empty and list(got.columns) == list(score(model, tmp_path / "in.parquet").columns)


def test_other_output_types_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"\.parquet or \.csv"):
        score_parquet(load_model(DEFAULT_MODEL), tmp_path / "missing.parquet", tmp_path / "out.xlsx")


def test_daily_snapshots_of_a_few_accounts_are_scored_a_few_dates_at_a_time_as_in_sql(tmp_path, small_chunks):
    model = load_model(DEFAULT_MODEL)
    df = generate_portfolio(n_accounts=6, n_snapshots=90, freq="D", seed=8)  # 64-row slices: ~10 dates each
    df.sample(frac=1, random_state=4).to_parquet(tmp_path / "in.parquet", index=False, row_group_size=50)
    score_parquet(model, tmp_path / "in.parquet", tmp_path / "out.parquet")
    got = read_scores(tmp_path / "out.parquet")
    assert_same_scores(score(model, df), got)
    assert got["change"].notna().sum() > len(df) / 2  # each account's earlier day, across slices
