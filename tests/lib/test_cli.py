"""The command line, run as scripts run it: a subprocess, exit codes, stdout and stderr."""

from __future__ import annotations

import io
import textwrap

import pandas as pd
import pytest
import sqlglot

from tests.foreign import ARR, CHURNED, DATE, ID, LOGINS, STATUS, foreign_portfolio
from tests.lib.helpers import bad, run

MODEL = """
name: CLI test
bands: {red: 30, yellow: 70}
grades: {A: 85, B: 70}
metrics:
  logins:
    weight: 60
    score: {method: linear, red: 0, green: 10}
  mood:
    weight: 40
    score: {method: categories, map: {green: 100, yellow: 50, red: 0}}
alerts:
  - {name: Steep drop, drop: 15, within: 2}
"""

DATA = """account_id,snapshot_date,tier,logins,mood
acc-1,2025-01-01,SMB,10,green
acc-1,2025-02-01,SMB,5,yellow
acc-2,2025-01-01,Enterprise,0,red
acc-2,2025-02-01,Enterprise,n/a,green
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "model.yaml").write_text(MODEL)
    (tmp_path / "data.csv").write_text(DATA)
    return tmp_path


def test_validate_accepts_a_good_model_with_data_and_warns_about_unusable_values(files):
    (files / "data.csv").write_text(DATA.replace("n/a", "lots") + "acc-3,2025-01-01,SMB,1,purple\n")
    result = run("validate", files / "model.yaml", "--data", files / "data.csv")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert "'lots'" in result.stderr and "'purple'" in result.stderr  # warnings, not errors


def test_validate_reports_every_problem_with_key_and_fix(files):
    path = files / "broken.yaml"
    path.write_text(textwrap.dedent("""
        bands: {red: 80, yellow: 20}
        metrics:
          open_tickets: {score: {method: steps, cuts: [5, 2], points: [100, 50, 0]}}
    """))
    err = bad(run("validate", path))
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert f"{path}: bands: red (80) must be below yellow (20)" in err
    assert "metrics.open_tickets.score.cuts: cuts must be in increasing order, got [5, 2] — sort them: [2, 5]" in err


def test_validate_with_data_names_the_missing_column_and_close_match(files):
    (files / "model.yaml").write_text(MODEL.replace("logins:", "Logins_count:"))
    (files / "data.csv").write_text(DATA.replace("logins", "logins_count"))
    err = bad(run("validate", files / "model.yaml", "--data", files / "data.csv"))
    assert "metrics.Logins_count" in err and "data.csv" in err and "'logins_count'" in err


def test_score_prints_csv_with_the_documented_columns(files):
    result = run("score", files / "data.csv", "--model", files / "model.yaml")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns) == ["account_id", "snapshot_date", "score", "band", "grade", "change",
                                   "logins_score", "mood_score"]
    assert table["score"].tolist()[:3] == [100, 50, 0]
    assert table["snapshot_date"].tolist()[:2] == ["2025-01-01", "2025-02-01"]
    assert table["change"].tolist()[1] == -50


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_score_writes_the_output_file_type_asked_for(files, suffix):
    out = files / f"scores{suffix}"
    result = run("score", files / "data.csv", "--model", files / "model.yaml", "--out", out, "--full")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    read = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".xlsx": pd.read_excel}[suffix]
    table = read(out)
    assert len(table) == 4 and {"profile", "alerts", "logins_weight", "mood_contribution"} <= set(table.columns)
    assert table["band"].tolist() == ["green", "yellow", "red", "green"]


def test_score_refuses_an_unknown_output_type_before_working(files):
    err = bad(run("score", files / "data.csv", "--model", files / "model.yaml", "--out", files / "x.json"))
    assert "x.json" in err and ".csv, .parquet, .xlsx" in err


def test_score_maps_columns_with_a_roles_file(files):
    (files / "model.yaml").write_text(MODEL.replace("logins:", "Logins per user:"))
    (files / "data.csv").write_text(DATA.replace("account_id,snapshot_date,tier,logins,mood",
                                                 "Customer ID,Week,Tier,Logins per user,Mood"))
    (files / "roles.yaml").write_text("account_id: Customer ID\nsnapshot_date: Week\nsegments: [Tier]\n"
                                      "metrics: [Logins per user, Mood]\n")
    (files / "model.yaml").write_text((files / "model.yaml").read_text().replace("  mood:", "  Mood:"))
    result = run("score", files / "data.csv", "--model", files / "model.yaml", "--roles", files / "roles.yaml")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout))
    assert table["account_id"].tolist() == ["acc-1", "acc-1", "acc-2", "acc-2"]
    assert "Logins per user_score" in table.columns


OWN_NAMES_MODEL = f"""
name: Own names
bands: {{red: 30, yellow: 70}}
metrics:
  {ARR}:
    weight: 50
    score: {{method: linear, red: 10000, green: 210000}}
  {LOGINS}:
    weight: 50
    score: {{method: linear, red: 2, green: 12}}
"""


@pytest.fixture
def export(tmp_path):
    """A CRM export named nothing like the sample (`Acct #`, `ARR ($)` as "$11,500", `Churned?`, `Status`)."""
    foreign_portfolio(accounts=12, snapshots=2).to_csv(tmp_path / "export.csv", index=False)
    (tmp_path / "model.yaml").write_text(OWN_NAMES_MODEL)
    return tmp_path


def test_score_reads_the_arr_column_by_the_files_own_name(export):
    result = run("score", export / "export.csv", "--model", export / "model.yaml")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout), dtype={"account_id": str})
    assert f"{ARR}_score" in table.columns
    written = pd.read_csv(export / "export.csv", dtype=str)
    amounts = written[ARR].str.replace(r"[$,]", "", regex=True).astype(float)
    expected = written.assign(expected=((amounts - 10000) / 2000).clip(0, 100))
    both = table.merge(expected, left_on=["account_id", "snapshot_date"], right_on=[ID, DATE], validate="1:1")
    assert len(both) == len(written)
    assert both[f"{ARR}_score"].tolist() == pytest.approx(both["expected"].tolist())


def test_validate_with_data_accepts_the_files_arr_name(export):
    result = run("validate", export / "model.yaml", "--data", export / "export.csv")
    assert result.returncode == 0, result.stderr
    assert "valid — 2 metrics" in result.stdout and "columns found in" in result.stdout


def test_validate_with_data_says_the_outcome_and_label_cannot_be_metrics(export):
    (export / "model.yaml").write_text(OWN_NAMES_MODEL.replace(f"  {LOGINS}:", f"  {CHURNED}:")
                                       .replace(f"  {ARR}:", f"  {STATUS}:"))
    err = bad(run("validate", export / "model.yaml", "--data", export / "export.csv"))
    assert (f"metrics.{CHURNED}: column '{CHURNED}' cannot be a metric: scores are checked against it as the "
            "outcome (churned / renewed) in") in err
    assert f"— remove metrics.{CHURNED}; if the column is not the outcome" in err
    assert f"metrics.{STATUS}: column '{STATUS}' cannot be a metric" in err and "the known-health label" in err


def test_score_streaming_does_not_score_the_outcome_as_a_metric(files):
    (files / "model.yaml").write_text(MODEL.replace("  mood:", "  churned:"))
    pd.read_csv(io.StringIO(DATA)).rename(columns={"mood": "churned"}).assign(churned=["no", "no", "yes", "yes"]
                                                                              ).to_parquet(files / "d.parquet")
    err = bad(run("score", files / "d.parquet", "--model", files / "model.yaml", "--out", files / "o.parquet"))
    assert "metrics.churned: column 'churned' cannot be a metric" in err
    assert not (files / "o.parquet").exists()


def test_bad_roles_file_names_the_role(files):
    (files / "roles.yaml").write_text("acount_id: account_id\n")
    err = bad(run("score", files / "data.csv", "--model", files / "model.yaml", "--roles", files / "roles.yaml"))
    assert "roles.yaml" in err and "acount_id" in err


@pytest.mark.parametrize("dialect", ["duckdb", "spark", "snowflake", "bigquery"])
def test_sql_prints_one_query_that_parses_in_its_dialect(files, dialect):
    result = run("sql", "--model", files / "model.yaml", "--dialect", dialect, "--table", "analytics.portfolio")
    assert result.returncode == 0, result.stderr
    statements = [s for s in sqlglot.parse(result.stdout, read=dialect) if s is not None]
    assert len(statements) == 1
    tables = {t.name for t in statements[0].find_all(sqlglot.exp.Table)}
    assert "portfolio" in tables
    # warehouses get the cluster layout: peer groups and bands aggregated, no 64-value history bucket
    assert ("hs_bucket" in result.stdout) == (dialect == "duckdb")
    assert ("cluster layout" in result.stdout) == (dialect != "duckdb")


@pytest.mark.parametrize(("args", "expected"), [
    (("score", "missing.csv", "--model", "model.yaml"), "missing.csv: data file not found"),
    (("score", "data.csv", "--model", "nope.yaml"), "nope.yaml: model file not found"),
    (("validate", "-"), "stdin is not supported"),
    (("score", "data.csv", "--model", "data.csv"), "data.csv: "),
    (("sql", "--model", "model.yaml", "--dialect", "oracle"), "invalid choice: 'oracle'"),
    ((), "required: COMMAND"),
], ids=["missing-data", "missing-model", "stdin", "data-as-model", "bad-dialect", "no-command"])
def test_bad_input_exits_2_with_a_message_and_no_traceback(files, args, expected):
    assert expected in bad(run(*args, cwd=files))


def test_injection_column_name_scores_through_the_cli(files):
    evil = 'x""; DROP TABLE portfolio; --'  # CSV-escaped: the column is  x"; DROP TABLE portfolio; --
    (files / "data.csv").write_text(f'account_id,snapshot_date,"{evil}"\na,2025-01-01,4\nb,2025-01-01,9\n')
    (files / "model.yaml").write_text(
        "metrics:\n  'x\"; DROP TABLE portfolio; --': {score: {method: linear, red: 0, green: 10}}\n")
    result = run("score", files / "data.csv", "--model", files / "model.yaml")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout))
    assert table['x"; DROP TABLE portfolio; --_score'].tolist() == [40, 90]


def test_excel_output_neutralises_formula_account_ids(files):
    (files / "data.csv").write_text(DATA.replace("acc-2", '"=HYPERLINK(""http://x"")"'))
    out = files / "scores.xlsx"
    result = run("score", files / "data.csv", "--model", files / "model.yaml", "--out", out)
    assert result.returncode == 0, result.stderr
    ids = pd.read_excel(out)["account_id"].tolist()
    assert "'=HYPERLINK(\"http://x\")" in ids


def test_sample_writes_files_that_score(tmp_path):
    result = run("sample", "--out", tmp_path / "sample")
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "sample").iterdir())
    model = next(p for p in (tmp_path / "sample").iterdir() if p.suffix == ".yaml")
    assert len(written) == 2
    assert run("validate", model).returncode == 0


@pytest.mark.parametrize("out_suffix", [".parquet", ".csv"])
@pytest.mark.parametrize("full", [False, True])
def test_score_streams_parquet_to_file_with_the_same_rows_as_the_dataframe_path(files, out_suffix, full):
    """A Parquet file whose columns the model already reads is scored by DuckDB file to file (bounded memory
    for any size); the result equals scoring the same data through the DataFrame path (CSV in)."""
    data = pd.read_csv(io.StringIO(DATA))
    rows = pd.concat([data.assign(account_id=data["account_id"] + f"-{k}") for k in range(40)], ignore_index=True)
    rows.sample(frac=1, random_state=1).to_parquet(files / "big.parquet", index=False)  # shuffled rows
    rows.to_csv(files / "big.csv", index=False)
    flag = ("--full",) if full else ()
    streamed = run("score", files / "big.parquet", "--model", files / "model.yaml", "--out",
                   files / f"streamed{out_suffix}", *flag)
    assert streamed.returncode == 0, streamed.stderr
    assert f"{len(rows):,} rows scored" in streamed.stderr
    framed = run("score", files / "big.csv", "--model", files / "model.yaml", "--out", files / "framed.parquet", *flag)
    assert framed.returncode == 0, framed.stderr
    read = pd.read_parquet if out_suffix == ".parquet" else pd.read_csv
    got, want = read(files / f"streamed{out_suffix}"), pd.read_parquet(files / "framed.parquet")
    assert list(got.columns) == list(want.columns)
    if out_suffix == ".parquet":  # any row order (sorting would double the time on big files)
        got = got.sort_values(["account_id", "snapshot_date"], ignore_index=True)
    assert got["account_id"].tolist() == want["account_id"].tolist()  # CSV: sorted by account, then date
    if out_suffix == ".csv":
        want["snapshot_date"] = want["snapshot_date"].dt.strftime("%Y-%m-%d")
        if full:  # CSV cannot tell an empty text from a missing one
            got["alerts"] = got["alerts"].fillna("")
    else:
        got["snapshot_date"] = got["snapshot_date"].astype(want["snapshot_date"].dtype)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_score_streaming_reports_a_missing_column_cleanly(files):
    pd.read_csv(io.StringIO(DATA)).drop(columns="mood").to_parquet(files / "data.parquet", index=False)
    err = bad(run("score", files / "data.parquet", "--model", files / "model.yaml", "--out", files / "o.parquet"))
    assert "mood" in err and "data.parquet" in err


@pytest.mark.parametrize("column, value, expected", [
    ("account_id", None, "1 row has no account_id (the first is row 2) — fill in account_id on every row"),
    ("snapshot_date", "soon", "'soon' is not a date — write dates as YYYY-MM-DD"),
])
def test_score_streaming_names_a_blank_id_or_a_bad_date_and_keeps_the_old_output(files, column, value, expected):
    data = pd.read_csv(io.StringIO(DATA)).astype({column: object})
    data.loc[1, column] = value
    data.to_parquet(files / "data.parquet", index=False)
    (files / "o.parquet").write_text("previous result")
    err = bad(run("score", files / "data.parquet", "--model", files / "model.yaml", "--out", files / "o.parquet"))
    assert expected in err and "data.parquet" in err
    assert (files / "o.parquet").read_text() == "previous result"


def test_score_on_spark_without_java_names_the_fix(files, tmp_path):
    """Issue #14: no traceback from a JVM that cannot start — the message says what to install."""
    result = run("score", files / "data.csv", "--model", files / "model.yaml", "--engine", "spark",
                 env={"PATH": str(tmp_path), "JAVA_HOME": str(tmp_path / "no-java")})
    message = bad(result)
    assert "--engine spark needs" in message and ("Java" in message or "pyspark" in message)
    assert "requirements-spark.txt" in message or "Java 17" in message


def test_master_without_spark_engine_says_to_add_it(files):
    message = bad(run("score", files / "data.csv", "--model", files / "model.yaml", "--master", "local[2]"))
    assert "--master local[2]" in message and "--engine spark" in message
