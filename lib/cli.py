"""Headless Health Score Studio: ``python -m lib.cli validate | inspect | score | sql | sample | play``.

A thin layer over the library, for scripts and schedulers (see DESIGN.md "The command line"). Files only,
never stdin. Bad input exits with status 2 and one message per problem on stderr naming the file, row,
column or key and the fix — never a traceback; an unexpected internal error exits 1, also without one.

Each subcommand is a function registered with :func:`command` in :data:`COMMANDS`; adding a subcommand
means adding one decorated function, nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from lib.engine.model import Model, ModelError, check_columns, load_model
from lib.engine.sqlutil import quote_ident

if TYPE_CHECKING:
    from lib.data.ingest import Portfolio

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2
OUTPUT_TYPES = (".csv", ".parquet", ".xlsx")
MAX_ROLES_BYTES = 100_000


class CliError(Exception):
    """Bad input found by the CLI itself; the message already names where and how to fix it."""


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, argument specs and the function that runs it."""

    name: str
    help: str
    arguments: tuple[tuple[tuple[str, ...], dict[str, Any]], ...]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def arg(*flags: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """An argument spec, as for ``ArgumentParser.add_argument``."""
    return flags, kwargs


def command(name: str, help: str, *arguments: tuple[tuple[str, ...], dict[str, Any]]
            ) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register a subcommand: ``@command("score", "score a portfolio", arg("file"), ...)``.

    The decorated function takes the parsed arguments and returns the exit status.
    """

    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = Command(name, help, tuple(arguments), fn)
        return fn

    return register


# ---------------------------------------------------------------------------------------------- helpers


def input_path(text: str, what: str = "file") -> Path:
    """A path the user gave, checked to be an existing file (stdin is not supported)."""
    if text == "-":
        raise CliError(f"-: reading the {what} from stdin is not supported — give the path of a file")
    path = Path(text)
    if not path.exists():
        raise CliError(f"{text}: {what} not found — check the path")
    if not path.is_file():
        raise CliError(f"{text}: is a folder, not a {what} — give the path of a file")
    return path


def read_model(text: str) -> Model:
    """Load and validate a model file (ModelError lists every problem)."""
    return load_model(input_path(text, "model file"))


def read_roles(text: str | None) -> Any:
    """Parse a ROLES.yaml mapping (e.g. ``{account_id: Customer ID, metrics: [Logins]}``) into Roles."""
    if text is None:
        return None
    from lib.data.ingest import Roles

    path = input_path(text, "roles file")
    if path.stat().st_size > MAX_ROLES_BYTES:
        raise CliError(f"{text}: the roles file is over 100 KB — it should be a short YAML mapping")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise CliError(f"{text}: not a valid YAML file{where} — write lines such as "
                       "'account_id: Customer ID' and 'metrics: [Logins, NPS]'") from None
    return Roles.from_dict(data, source=str(text))


def load_data(file: str, roles_file: str | None = None) -> Portfolio:
    """Read a portfolio file through ingest (roles detected, or as given); warnings go to stderr."""
    from lib.data.ingest import load_portfolio

    path = input_path(file, "data file")
    portfolio = load_portfolio(path, path.name, roles=read_roles(roles_file))
    for warning in portfolio.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return portfolio


def column_problems(model: Model, portfolio: Portfolio, model_file: str, data_file: str) -> list[str]:
    """Model-vs-data problems as printable lines (the model key, the data file, the fix)."""
    problems = check_columns(model, portfolio.df.columns, portfolio.roles.checked_against())
    return [f"{model_file}: {p.key}: {p.message} in {data_file} — {p.fix}" for p in problems]


def write_table(table: pd.DataFrame, out: str | None) -> None:
    """Write to ``out`` (.csv, .parquet or .xlsx), or CSV on stdout without ``out``."""
    if out is None:
        table.to_csv(sys.stdout, index=False, date_format="%Y-%m-%d", lineterminator="\n")
        return
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_TYPES:
        raise CliError(f"{out}: cannot write '{suffix or 'no extension'}' files — end the name with "
                       f"{', '.join(OUTPUT_TYPES)}")
    if not path.parent.exists():
        raise CliError(f"{out}: the folder {path.parent} does not exist — create it first")
    if suffix == ".csv":
        table.to_csv(path, index=False, date_format="%Y-%m-%d", lineterminator="\n")
    elif suffix == ".parquet":
        table.to_parquet(path, index=False, coerce_timestamps="us")  # Spark refuses nanoseconds
    else:
        from lib.export import EXCEL_MAX_ROWS, neutralise_formulas

        if len(table) + 1 > EXCEL_MAX_ROWS:
            raise CliError(f"{out}: {len(table):,} rows do not fit in an Excel sheet — write .parquet or .csv")
        # Account names are user data: a cell starting with '=' must not become a formula in Excel.
        neutralise_formulas(table).to_excel(path, index=False, sheet_name="Scores")


def table_name(text: str) -> str:
    """Quote a possibly qualified table name (``db.schema.table``) part by part."""
    parts = text.split(".")
    if any(not p for p in parts):
        raise CliError(f"--table {text!r}: empty name part — write NAME or schema.NAME")
    return ".".join(quote_ident(p) for p in parts)


# ---------------------------------------------------------------------------------------------- commands


@command("validate", "check a model file (and, with --data, that the data has its columns)",
         arg("model", help="the model YAML file"),
         arg("--data", metavar="FILE", help="a portfolio file (CSV, TSV, Excel or Parquet) to check against"),
         arg("--roles", metavar="ROLES.yaml", help="column roles for --data when detection needs help"))
def validate_command(args: argparse.Namespace) -> int:
    model = read_model(args.model)
    if args.data is not None:
        from lib.engine.sql import metric_quality

        portfolio = load_data(args.data, args.roles)
        problems = column_problems(model, portfolio, args.model, args.data)
        if problems:
            raise CliError("\n".join(problems))
        quality = metric_quality(model, portfolio.df)
        for row in quality.itertuples():  # one line per metric, not per data row
            bad = row.non_numeric + row.unknown_categories
            if bad:
                kind = "non-numeric" if row.non_numeric else "unknown-category"
                print(f"warning: {args.data}: column '{row.metric}': {bad:,} {kind} values count as missing "
                      f"(e.g. {', '.join(repr(x) for x in row.examples)})", file=sys.stderr)
    print(f"{args.model}: valid — {len(model.metrics)} metrics, {len(model.profiles)} profiles, "
          f"{len(model.alerts)} alerts" + (f"; columns found in {args.data}" if args.data else ""))
    return EXIT_OK


@command("inspect", "show the detected column roles, types and problems of a data file",
         arg("file", help="a portfolio file (CSV, TSV, Excel or Parquet)"))
def inspect_command(args: argparse.Namespace) -> int:
    from lib.data.ingest import inspect_file

    print(inspect_file(input_path(args.file, "data file")))
    return EXIT_OK


@command("score", "score a portfolio: one row per account and snapshot",
         arg("file", help="a portfolio file (CSV, TSV, Excel or Parquet)"),
         arg("--model", required=True, metavar="MODEL.yaml", help="the model YAML file"),
         arg("--roles", metavar="ROLES.yaml", help="column roles, e.g. {account_id: Customer ID, metrics: [...]}"),
         arg("--out", metavar="OUT", help="write .csv, .parquet or .xlsx instead of CSV on stdout (rows sorted by "
             "account and date, except a .parquet scored straight from a .parquet input: by snapshot date)"),
         arg("--full", action="store_true",
             help="add profile, rank_in_band, alerts and each metric's weight and contribution"),
         arg("--engine", choices=("auto", "spark"), default="auto",
             help="auto (DuckDB or numpy, on this machine; default) or spark: the same query on Apache Spark, "
             "FILE then being any path Spark reads (s3a://, hdfs://) or a table name, and OUT a Parquet folder "
             "partitioned by snapshot date"),
         arg("--master", metavar="URL", help="with --engine spark: the Spark master (default local[*], or the "
             "one spark-submit was given)"))
def score_command(args: argparse.Namespace) -> int:
    from lib.engine.sql import score

    model = read_model(args.model)
    if args.master is not None and args.engine != "spark":
        raise CliError(f"--master {args.master}: a master URL is for --engine spark — add --engine spark")
    spark_folder = args.engine == "spark" and args.out is not None and Path(args.out).suffix.lower() in ("", ".parquet")
    if args.out is not None and Path(args.out).suffix.lower() not in OUTPUT_TYPES and not spark_folder:
        write_table(pd.DataFrame(), args.out)  # raises the clear message before any work is done
    cols = None if args.full else ["account_id", "snapshot_date", "score", "band", "grade", "change",
                                   *(f"{m}_score" for m in model.metrics)]
    if args.engine == "spark":
        return _score_spark(model, args, cols, spark_folder)
    if _streams(model, args):
        return _score_file(model, args, cols)
    portfolio = load_data(args.file, args.roles)
    problems = column_problems(model, portfolio, args.model, args.file)
    if problems:
        raise CliError("\n".join(problems))
    df = portfolio.df
    result = score(model, df)
    if cols is not None:
        result = result[cols]
    if model.expansion is not None:
        expansion = score(model.expansion, df)
        result = result.assign(expansion_score=expansion["score"].to_numpy(),
                               expansion_band=expansion["band"].to_numpy())
    write_table(result, args.out)
    return EXIT_OK


def _streams(model: Model, args: argparse.Namespace) -> bool:
    """Parquet in, Parquet or CSV out, columns already named as the model reads them: scored file to file
    (:func:`lib.engine.sql.score_file`), column by column and date by date, in bounded memory."""
    if args.roles is not None or model.expansion is not None or args.out is None:
        return False
    if Path(args.file).suffix.lower() != ".parquet" or Path(args.out).suffix.lower() not in (".parquet", ".csv"):
        return False
    import pyarrow.parquet as pq

    from lib.data.ingest import Roles

    try:
        names = pq.read_schema(input_path(args.file, "data file")).names
    except (OSError, ValueError):
        return False  # not readable as Parquet: the regular path reports it properly
    # A metric named `churned` or `health_label` reads the outcome or label: the regular path says so.
    fits = not check_columns(model, names, Roles().checked_against())
    return fits and {"account_id", "snapshot_date"} <= set(names)


def _score_file(model: Model, args: argparse.Namespace, columns: list[str] | None) -> int:
    from lib.engine.sql import score_file

    out = Path(args.out)
    if not out.parent.exists():
        raise CliError(f"{args.out}: the folder {out.parent} does not exist — create it first")
    # CSV is read by people: rows sorted as on the DataFrame path. Parquet is read by tools: rows by snapshot
    # date, each date written while the next one is scored (12 M rows: ~11 s here, see bench/README.md).
    rows = score_file(model, args.file, out, columns=columns, ordered=out.suffix.lower() == ".csv")
    print(f"{args.out}: {rows:,} rows scored", file=sys.stderr)
    return EXIT_OK


_SPARK_INGESTED = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".xlsm")
_SPARK_FILES = (".parquet", ".pq", ".orc", ".json", ".avro")


def _score_spark(model: Model, args: argparse.Namespace, columns: list[str] | None, folder: bool) -> int:
    """``score --engine spark``: CSV/Excel (or any file with --roles) through ingest first, anything else
    read by Spark itself; a Parquet folder partitioned by date, or a table as on the other paths."""
    from lib.engine.spark import SparkUnavailable, score_spark, spark_session, to_pandas, write_spark

    if model.expansion is not None:
        raise CliError(f"{args.model}: --engine spark does not score the expansion model yet — score it without "
                       "--engine spark, or print its query with `sql --expansion --dialect spark`")
    source: str | pd.DataFrame = args.file
    remote = "://" in args.file
    if not remote and (args.roles is not None or Path(args.file).suffix.lower() in _SPARK_INGESTED):
        portfolio = load_data(args.file, args.roles)
        problems = column_problems(model, portfolio, args.model, args.file)
        if problems:
            raise CliError("\n".join(problems))
        source = portfolio.df
    elif not remote and Path(args.file).suffix.lower() in _SPARK_FILES and not Path(args.file).exists():
        raise CliError(f"{args.file}: data file not found — check the path")  # (db.table is a table name)
    if folder and "://" not in args.out and not Path(args.out).resolve().parent.exists():
        raise CliError(f"{args.out}: the folder {Path(args.out).parent} does not exist — create it first")
    try:
        spark = spark_session(args.master)
    except SparkUnavailable as exc:
        raise CliError(str(exc)) from None
    result = score_spark(model, source, spark)
    if folder:
        rows = write_spark(result, args.out, columns)
        print(f"{args.out}: {rows:,} rows scored on Spark, partitioned by snapshot_date", file=sys.stderr)
    else:
        table = to_pandas(result)
        write_table(table if columns is None else table[columns], args.out)
    return EXIT_OK


@command("sql", "print the model as one SQL query (DuckDB, or transpiled for Spark, Snowflake, BigQuery)",
         arg("--model", required=True, metavar="MODEL.yaml", help="the model YAML file"),
         arg("--table", default="portfolio", metavar="NAME",
             help="the portfolio table to read (default portfolio; schema.table allowed)"),
         arg("--dialect", default="duckdb", choices=("duckdb", "spark", "snowflake", "bigquery"),
             help="SQL dialect (default duckdb)"),
         arg("--layout", choices=("single", "cluster"),
             help="single: windows sized for one machine; cluster: no step bound to a handful of tasks "
                  "(default: single for duckdb, cluster for the others; the scores are the same)"),
         arg("--expansion", action="store_true", help="compile the model's expansion score instead"))
def sql_command(args: argparse.Namespace) -> int:
    from lib.engine.sql import compile_sql, to_dialect

    model = read_model(args.model)
    if args.expansion:
        if model.expansion is None:
            raise CliError(f"{args.model}: --expansion given but the model has no 'expansion' key — "
                           "add one or drop the flag")
        model = model.expansion
    layout = args.layout or ("single" if args.dialect == "duckdb" else "cluster")
    query = to_dialect(compile_sql(model, table_name(args.table), layout=layout), args.dialect)
    header = (f"-- Health Score Studio model {model.name!r}: {len(model.metrics)} metrics, dialect {args.dialect}, "
              f"{layout} layout")
    print(header.replace("\n", " ") + "\n" + query + ";")
    return EXIT_OK


@command("sample", "write the sample portfolio and the default model to a folder",
         arg("--out", required=True, metavar="DIR", help="folder to write into (created if missing)"))
def sample_command(args: argparse.Namespace) -> int:
    from lib.data.sample import write_sample

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"{args.out}: exists and is not a folder — choose a folder path")
    for kind, path in write_sample(out).items():
        print(f"{kind}: {path}")
    return EXIT_OK


def _outcome_portfolio(args: argparse.Namespace) -> Portfolio:
    """Load FILE through ingest (--roles or detected), with --outcome COLUMN as the outcome role."""
    from lib.data.ingest import detect_roles, load_portfolio, read_table

    path = input_path(args.file, "data file")
    raw = read_table(path, path.name)
    roles = read_roles(args.roles) or detect_roles(raw).roles
    if args.outcome is not None:
        if args.outcome not in raw.columns:
            raise CliError(f"{args.file}: --outcome {args.outcome!r} is not a column — use one of: "
                           f"{', '.join(map(str, raw.columns[:20]))}")
        roles = dataclasses.replace(roles, outcome=args.outcome,
                                    segments=tuple(c for c in roles.segments if c != args.outcome),
                                    metrics=tuple(c for c in roles.metrics if c != args.outcome))
    portfolio = load_portfolio(raw, path.name, roles=roles)
    for warning in portfolio.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return portfolio


_OUTCOME_ARGS = (
    arg("--outcome", metavar="COLUMN", help="the outcome column: churned/renewed, yes/no or 1/0 (default: detected)"),
    arg("--horizon", type=int, default=90, metavar="DAYS",
        help="read each account's score this many days before its outcome (default 90)"),
    arg("--roles", metavar="ROLES.yaml", help="column roles when detection needs help"),
)


@command("backtest", "check a model against outcomes: AUC with a 95% interval, churn per band, lift by decile",
         arg("file", help="a portfolio file (CSV, TSV, Excel or Parquet) with snapshot history and outcomes"),
         arg("--model", required=True, metavar="MODEL.yaml", help="the model YAML file"),
         *_OUTCOME_ARGS,
         arg("--json", action="store_true", help="print the result as JSON"))
def backtest_command(args: argparse.Namespace) -> int:
    from lib.analysis import AnalysisError, backtest, score_portfolio

    model = read_model(args.model)
    portfolio = _outcome_portfolio(args)
    problems = column_problems(model, portfolio, args.model, args.file)
    if problems:
        raise CliError("\n".join(problems))
    try:
        result = backtest(score_portfolio(model, portfolio.df), horizon_days=args.horizon, model_name=model.name)
    except AnalysisError as exc:
        raise CliError(f"{args.file}: {exc}") from None
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False))
        return EXIT_OK
    pct, money = "{:.1%}".format, "{:,.0f}".format
    bands = result.bands.dropna(axis=1, how="all")
    bands = bands.assign(churn_rate=bands["churn_rate"].map(pct, "ignore"),
                         **{c: bands[c].map(money, "ignore") for c in ("arr", "churned_arr") if c in bands})
    lift = result.lift.assign(churn_rate=result.lift["churn_rate"].map(pct), captured=result.lift["captured"].map(pct),
                              lift=result.lift["lift"].round(2), score_min=result.lift["score_min"].round(1),
                              score_max=result.lift["score_max"].round(1))
    print(f"{result.caption}\n\nChurn by band\n{bands.to_string(index=False)}\n\n"
          f"Lift by score decile (1 = lowest scores)\n{lift.to_string(index=False)}")
    return EXIT_OK


@command("suggest", "propose thresholds and weights from outcomes and write them as a model YAML",
         arg("file", help="a portfolio file (CSV, TSV, Excel or Parquet) with snapshot history and outcomes"),
         arg("--model", metavar="BASE.yaml", help="the model to start from (default: a neutral model over the "
             "file's metric columns)"),
         *_OUTCOME_ARGS,
         arg("--windows", default="3,6,12", metavar="N,N", help="window lengths (snapshots) over which each numeric "
             "metric's mean and pct_change are tried as extra metrics, kept only where they help on the training "
             "accounts (default 3,6,12; 'none' tries none)"),
         arg("--out", required=True, metavar="MODEL.yaml", help="where to write the suggested model"))
def suggest_command(args: argparse.Namespace) -> int:
    from lib.analysis import AnalysisError, starter_model, suggest_model
    from lib.engine.model import MAX_WINDOW, dump_model

    out = Path(args.out)
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise CliError(f"{args.out}: the suggested model is YAML — end the name with .yaml")
    if not out.parent.exists():
        raise CliError(f"{args.out}: the folder {out.parent} does not exist — create it first")
    text = args.windows.strip().lower()
    lengths = [] if text == "none" else [int(x) for x in text.split(",") if x.strip().isdigit()]
    if text != "none" and (len(lengths) != len(text.split(",")) or not all(2 <= n <= MAX_WINDOW for n in lengths)):
        raise CliError(f"--windows {args.windows}: window lengths are whole numbers of snapshots from 2 to "
                       f"{MAX_WINDOW}, comma-separated — e.g. --windows 3,6,12, or --windows none")
    base = read_model(args.model) if args.model is not None else None
    portfolio = _outcome_portfolio(args)
    if base is not None:
        problems = column_problems(base, portfolio, args.model, args.file)
        if problems:
            raise CliError("\n".join(problems))
    try:
        base = base or starter_model(portfolio.df, portfolio.roles.metrics, name=Path(args.file).stem)
        suggestion = suggest_model(portfolio.df, base, horizon_days=args.horizon, windows=lengths)
    except AnalysisError as exc:
        raise CliError(f"{args.file}: {exc}") from None
    out.write_text(dump_model(suggestion.model), encoding="utf-8")
    for warning in suggestion.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    changes = [f"  {c.key}: {c.old} → {c.new}" for c in suggestion.changes if c.key != "name"]
    print("\n".join([suggestion.caption, *changes, f"wrote {args.out}"]))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- plays


def _read_csv(text: str, what: str) -> pd.DataFrame:
    """A small CSV of ids and labels, every cell as text (ids such as 007 keep their zeros)."""
    path = input_path(text, what)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CliError(f"{text}: cannot read it as CSV ({str(exc).splitlines()[0]}) — save it as CSV with a "
                       "header row") from None


@command("play assign", "hold back a random, stratified control group: account_id,group (treated or control)",
         arg("accounts", metavar="ACCOUNTS.csv", help="account_id and the strata columns, one row per account"),
         arg("--control", default="0.2", metavar="SHARE", help="share held back as control, 0.05–0.5 (default 0.2)"),
         arg("--strata", default="", metavar="COL,COL", help="columns of ACCOUNTS.csv to stratify by"),
         arg("--seed", type=int, default=0, metavar="N", help="the same accounts and seed give the same groups"),
         arg("--out", required=True, metavar="ASSIGN.csv", help="where to write account_id,group"))
def play_assign_command(args: argparse.Namespace) -> int:
    from lib.data.play_groups import PlayError, assign, check_share

    out = Path(args.out)
    if not out.parent.exists():
        raise CliError(f"{args.out}: the folder {out.parent} does not exist — create it first")
    try:
        share = check_share(args.control, "--control")
        accounts = _read_csv(args.accounts, "accounts file")
        strata = [c.strip() for c in args.strata.split(",") if c.strip()]
        groups = assign(accounts, share, strata, args.seed, where=args.accounts)
    except PlayError as exc:
        raise CliError(str(exc)) from None
    groups[["account_id", "group"]].to_csv(out, index=False, lineterminator="\n")
    counts = groups["group"].value_counts()
    print(f"{args.out}: {counts.get('treated', 0):,} treated, {counts.get('control', 0):,} control "
          f"(seed {args.seed}{', strata ' + ', '.join(strata) if strata else ''})", file=sys.stderr)
    return EXIT_OK


@command("play report", "treated vs control since the start: churn rate and score change, each with a 95% interval",
         arg("file", help="a portfolio file (CSV, TSV, Excel or Parquet) with snapshot history"),
         arg("--assignments", required=True, metavar="ASSIGN.csv", help="account_id,group as `play assign` writes"),
         arg("--start", required=True, metavar="DATE", help="the play's start date (YYYY-MM-DD)"),
         arg("--outcome", metavar="COLUMN", help="the outcome column: churned/renewed, yes/no or 1/0 (default: "
             "detected)"),
         arg("--model", metavar="MODEL.yaml", help="score the file with this model for the score change"),
         arg("--roles", metavar="ROLES.yaml", help="column roles when detection needs help"),
         arg("--json", action="store_true", help="print the result as JSON"))
def play_report_command(args: argparse.Namespace) -> int:
    from lib.analysis.plays import account_table, differences_table, report
    from lib.data.play_groups import PlayError, check_assignments
    from lib.engine.sql import score

    model = read_model(args.model) if args.model is not None else None
    try:
        groups = check_assignments(_read_csv(args.assignments, "assignments file"), where=args.assignments)
    except PlayError as exc:
        raise CliError(str(exc)) from None
    portfolio = _outcome_portfolio(args)
    roles = portfolio.roles.canonical()
    rows = portfolio.df
    if model is not None:
        problems = column_problems(model, portfolio, args.model, args.file)
        if problems:
            raise CliError("\n".join(problems))
        rows = rows.merge(score(model, rows)[["account_id", "snapshot_date", "score", "band"]],
                          on=["account_id", "snapshot_date"], how="left")
    try:
        table = account_table(rows, groups, args.start, outcome=roles.outcome, arr=roles.arr, where=args.file)
    except PlayError as exc:
        raise CliError(str(exc).replace("assignments:", f"{args.assignments}:")) from None
    result = report(table)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False))
        return EXIT_OK
    print(f"Play from {args.start}: {result.accounts['treated']:,} treated, {result.accounts['control']:,} control")
    diffs = differences_table(result)
    print(diffs.drop(columns="clear").round(4).to_string(index=False) if len(diffs) else "no measure to compare yet")
    if result.too_early:
        print(f"Too early to tell: about {result.more_needed:,} more known outcomes are needed to detect a "
              f"{result.effect:.0%} churn difference.")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="python -m lib.cli", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}  # "play assign": subcommand `assign` of `play`
    for cmd in COMMANDS.values():
        group, _, action = cmd.name.rpartition(" ")
        if group and group not in groups:
            groups[group] = sub.add_parser(group, help=f"{group} commands").add_subparsers(
                dest="action", required=True, metavar="ACTION")
        p = (groups[group] if group else sub).add_parser(action, help=cmd.help.replace("%", "%%"), description=cmd.help)
        p.set_defaults(command=cmd.name)
        for flags, kwargs in cmd.arguments:
            p.add_argument(*flags, **kwargs)
    return parser


def _report(lines: Sequence[str] | str) -> int:
    text = lines if isinstance(lines, str) else "\n".join(lines)
    print(text, file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 1 internal error)."""
    from lib.data.ingest import IngestError

    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except ModelError as exc:
        return _report(str(exc))
    except (IngestError, CliError) as exc:
        return _report(str(exc))
    except BrokenPipeError:  # e.g. `... | head`: the reader left; not an error worth a message
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush is quiet
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError) as exc:  # unreadable files, full disks, values the library refused
        return _report(f"error: {exc} — check the files and arguments")
    except Exception as exc:  # noqa: BLE001 - the user must never see a traceback
        print(f"internal error: {type(exc).__name__}: {exc} — please report this with the command you ran",
              file=sys.stderr)
        return EXIT_INTERNAL


__all__ = ["COMMANDS", "CliError", "Command", "arg", "build_parser", "command", "main"]

if __name__ == "__main__":
    sys.exit(main())
