"""The compiled SQL: one query, quoted identifiers and literals, transpiled to warehouse dialects intact."""

from __future__ import annotations

import logging

import duckdb
import pandas as pd
import pytest
import sqlglot

from lib.engine.model import load_model
from lib.engine.sql import DIALECTS, LAYOUTS, compile_sql, score, to_dialect
from tests.lib.helpers import ROOT, assert_same_scores, frame, make_model

EVIL = 'x"; DROP TABLE portfolio; --'


@pytest.fixture(scope="module")
def default_model():
    return load_model(ROOT / "data" / "models" / "default.yaml")


@pytest.fixture(scope="module")
def portfolio():
    from lib.data.sample import generate_portfolio

    return generate_portfolio(n_accounts=50, n_snapshots=4, seed=5)


def test_compiled_sql_is_one_statement(default_model):
    statements = sqlglot.parse(compile_sql(default_model), read="duckdb")
    assert len(statements) == 1 and statements[0].key == "select"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dialect", ["spark", "snowflake", "bigquery"])
def test_transpiled_sql_parses_back_and_scores_the_same_in_duckdb(dialect, layout, default_model, portfolio):
    """Transpile, parse with the target dialect, come back to DuckDB: the results must not change."""
    con = duckdb.connect()
    con.register("portfolio", portfolio)
    expected = con.execute(compile_sql(default_model)).df()
    text = to_dialect(compile_sql(default_model, layout=layout), dialect)
    parsed = sqlglot.parse_one(text, read=dialect)
    assert parsed.key == "select"
    again = con.execute(sqlglot.transpile(text, read=dialect, write="duckdb")[0]).df()
    pd.testing.assert_frame_equal(expected, again, check_dtype=False)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_injection_names_stay_quoted_identifiers_in_every_dialect(dialect):
    model = make_model({EVIL: {"score": {"method": "categories", "map": {"it's'; DROP TABLE x; --": 100}}}},
                       profiles=[{"name": "O'Brien", "when": {"seg": ["a'; --"]}, "weights": {EVIL: 2}}])
    text = to_dialect(compile_sql(model), dialect)
    parsed = sqlglot.parse_one(text, read=dialect)
    assert len(sqlglot.parse(text, read=dialect)) == 1
    assert EVIL in {c.name for c in parsed.find_all(sqlglot.exp.Column)}
    literals = {s.this for s in parsed.find_all(sqlglot.exp.Literal) if s.is_string}
    assert {"it's'; drop table x; --", "a'; --", "O'Brien"} <= literals
    assert not any(isinstance(node, sqlglot.exp.Drop) for node in parsed.walk())


def test_injection_names_score_correctly_through_the_sql(tmp_path):
    model = make_model({EVIL: {"score": {"method": "linear", "red": 0, "green": 10}}})
    df = frame([{"account_id": "a", EVIL: 4}, {"account_id": "b", EVIL: 9}])
    path = tmp_path / "p.parquet"
    df.to_parquet(path)
    con = duckdb.connect()
    con.execute("CREATE TABLE portfolio AS SELECT * FROM read_parquet(?)", [str(path)])
    result = con.execute(compile_sql(model)).df()
    assert result[f"{EVIL}_score"].tolist() == [40, 90]
    assert con.execute("SELECT count(*) FROM portfolio").fetchone() == (2,)


def test_source_can_be_read_parquet(tmp_path, default_model, portfolio):
    path = tmp_path / "it's here.parquet"
    portfolio.to_parquet(path)
    con = duckdb.connect()
    literal = "'" + str(path).replace("'", "''") + "'"
    direct = con.execute(compile_sql(default_model, f"read_parquet({literal})")).df()
    assert_same_scores(score(default_model, portfolio),
                       direct.assign(snapshot_date=direct["snapshot_date"].astype("datetime64[ns]")))


def test_unknown_dialect_lists_the_supported_ones(default_model):
    with pytest.raises(ValueError, match="duckdb, spark, snowflake, bigquery"):
        to_dialect(compile_sql(default_model), "oracle")


def test_compiled_sql_is_deterministic(default_model):
    assert compile_sql(default_model) == compile_sql(load_model(ROOT / "data" / "models" / "default.yaml"))


# ---------------------------------------------------------------------------------------------- warehouse traps

SNAPSHOTS = ROOT / "tests" / "fixtures" / "sql"


@pytest.fixture(scope="module")
def trap_model():
    """design.yaml plus what each dialect gets wrong most easily: window min/max (LEAST/GREATEST over values
    that may be missing), drop alerts over 1 and 3 snapshots (GREATEST of one argument), categories (TRIM)."""
    from lib.engine.model import model_from_dict, model_to_dict

    d = model_to_dict(load_model(ROOT / "tests" / "fixtures" / "models" / "design.yaml"))
    d["metrics"].update({
        "logins_low": {"column": "logins_per_user", "window": {"snapshots": 3, "stat": "min"}, "weight": 5,
                       "group": "Engagement", "score": {"method": "linear", "red": 1, "green": 8}},
        "logins_high": {"column": "logins_per_user", "window": {"snapshots": 3, "stat": "max"}, "weight": 5,
                        "group": "Engagement", "score": {"method": "linear", "red": 1, "green": 8}}})
    d["alerts"] = [*d["alerts"], {"name": "Any drop", "drop": 1, "within": 1},
                   {"name": "Slide", "drop": 20, "within": 3}]
    return model_from_dict(d)


def _unwrapped(node):
    while isinstance(node, sqlglot.exp.Paren | sqlglot.exp.Cast):
        node = node.this
    return node


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dialect", ["spark", "snowflake", "bigquery"])
def test_warehouse_sql_skips_nulls_in_greatest_least_guards_divisions_and_ranks_portably(dialect, layout,
                                                                                         trap_model, caplog):
    """Issue #14: parsed back with sqlglot, GREATEST/LEAST never see a NULL and never one argument, every
    division by a column goes through NULLIF, and ranks use only RANK/COUNT windows or running sums; sqlglot
    had nothing it could not translate."""
    with caplog.at_level(logging.WARNING, logger="sqlglot"):
        text = to_dialect(compile_sql(trap_model, layout=layout), dialect)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    parsed = sqlglot.parse_one(text, read=dialect)
    extremes = list(parsed.find_all(sqlglot.exp.Greatest, sqlglot.exp.Least))
    # the window min and max, the 2- and 3-snapshot drops (the 1-snapshot one needs none), each maybe repeated
    assert len({node.sql(dialect) for node in extremes}) == 4
    for node in extremes:
        args = [node.this, *node.expressions]
        assert len(args) >= 2 and all(isinstance(a, sqlglot.exp.Coalesce) for a in args), node.sql(dialect)
    for div in parsed.find_all(sqlglot.exp.Div):
        right = _unwrapped(div.expression)
        literal = isinstance(right, sqlglot.exp.Literal) and float(right.name) != 0
        assert literal or isinstance(right, sqlglot.exp.Nullif), div.sql(dialect)
    windows = {type(w.this).__name__ for w in parsed.find_all(sqlglot.exp.Window)}
    assert windows <= {"Rank", "Count", "Avg", "RowNumber", "Lag", "Sum"}, windows


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery"])
def test_warehouse_sql_matches_its_reviewed_snapshot(dialect, trap_model):
    """The exact text a warehouse gets (no engine to run it here; the cluster layout, as `sql --dialect`
    prints it): a change shows up in review. To accept one, run with HSS_UPDATE_SQL_SNAPSHOTS=1 and read the
    diff."""
    import os

    text = to_dialect(compile_sql(trap_model, layout="cluster"), dialect) + "\n"
    path = SNAPSHOTS / f"trap_model.{dialect}.sql"
    if os.environ.get("HSS_UPDATE_SQL_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_cluster_rank_in_band_counts_across_score_slices_ties_and_missing_scores():
    """Rank in band on a cluster is (rows in the band's lower tenth-of-a-point slices) + the row's number in its
    slice: scores on either side of a slice edge, ties broken by account id, and 'no data' rows keep the
    window's numbers, on two dates."""
    model = make_model({"usage": {"score": {"method": "linear", "red": 0, "green": 100}}})
    values = {"k": 29.9, "b": 29.95, "j": 29.99, "a": 30.0, "e": 30.04, "c": 30.05, "h": 30.1, "d": 100.0,
              "f": 100.0, "g": None, "i": None, "l": 0.0}
    rows = [{"account_id": acc, "t": t, "usage": v if t == 0 or v is None else 100.0 - v}
            for t in (0, 1) for acc, v in values.items()]
    df = frame(rows)
    cluster, single = score(model, df, layout="cluster"), score(model, df)
    pd.testing.assert_frame_equal(cluster, single, check_exact=True)
    first = cluster[cluster["snapshot_date"] == cluster["snapshot_date"].min()].set_index("account_id")
    # red is score <= 30: 0, 29.9, 29.95, 29.99, 30 (slices 0, 299, 299, 299, 300)
    assert first.loc[["l", "k", "b", "j", "a"], "rank_in_band"].tolist() == [1, 2, 3, 4, 5]
    # yellow: 30.04, 30.05, 30.1 (slices 300 and 301); green: a tie at 100 broken by account id
    assert first.loc[["e", "c", "h"], "rank_in_band"].tolist() == [1, 2, 3]
    assert first.loc[["d", "f"], "rank_in_band"].tolist() == [1, 2]
    assert first.loc[["g", "i"], "band"].tolist() == ["no data"] * 2
    assert first.loc[["g", "i"], "rank_in_band"].tolist() == [1, 2]


def test_spark_query_keeps_every_cte_read_twice_as_one_shared_relation(default_model):
    """Spark inlines deterministic CTEs wherever they are read; the cluster layout's self-joins would make it
    plan the scoring twice over. Each CTE read more than once gets a RAND() column (never read); no other."""
    from lib.engine.spark import _shared

    text = _shared(to_dialect(compile_sql(default_model, "v", ordered=False, layout="cluster"), "spark"))
    tree = sqlglot.parse_one(text, read="spark")
    reads = {}
    for table in tree.find_all(sqlglot.exp.Table):
        reads[table.name] = reads.get(table.name, 0) + 1
    marked = {cte.alias for cte in tree.find_all(sqlglot.exp.CTE) if any(
        isinstance(e, sqlglot.exp.Alias) and e.alias == f"hs_shared_{cte.alias}" for e in cte.this.expressions)}
    assert marked == {name for name, n in reads.items() if n > 1} == {"hs_src", "hs_peaks"}
    assert not [c for c in tree.named_selects if "hs_shared" in c]  # never an output column
    assert "rank_in_band" in tree.named_selects
