"""The scoring engine: model + portfolio table → per account and snapshot scores.

One definition, two executions. :class:`_Plan` turns a :class:`~lib.model.Model` into the pieces both
paths need (metric score variants per profile, the weight table, groups, alert rules); :func:`compile_sql`
emits them as ONE DuckDB query (what the CLI prints and the warehouse runs, transpiled with sqlglot), and
:class:`LiveScorer` evaluates the same plan with numpy for the Tune page's slider loop. Tests hold the two
equal row for row. The scoring rules themselves are documented in :mod:`lib.model`; in addition:

- numeric metrics read ``TRY_CAST(value AS DOUBLE)``; text that is not a number, and non-finite numbers,
  count as missing (see :func:`metric_quality` for the counts);
- ``score`` is the sum of contributions (weight × metric score) rounded to 6 decimals, so that an account
  exactly on a band cut-off (30 = 0.4·30 + 0.3·30 + 0.3·30) is not pushed over it by float noise; NaN with
  band ``'no data'`` and grade None when no metric with a positive weight has a value — never 0;
- ``{m}_weight`` is the weight after profile selection and missing-data renormalisation (0 for a missing
  metric under ``renormalize``); ``{m}_contribution`` is ``weight × score`` with a missing score counting 0,
  so contributions sum to the score;
- ``change`` is the score minus the account's previous snapshot's score (NaN if either is missing);
- alerts: ``drop`` fires when ``max(score over the previous N snapshots) − score >= drop``; ``to_band``
  fires when the band is B and the previous snapshot had a score in another band;
- ``rank_in_band``: 1 = lowest score within (snapshot date, band), ties broken by account_id;
- ``vs_average`` ratios are rounded to 9 decimals before the cuts are applied, so a value equal to its
  peer mean is exactly 1 whatever order the mean was summed in;
- under ``missing: zero`` a row where nothing is usable still shows the weights it would have had, with
  contributions 0 and score NaN;
- rounding is half away from zero (DuckDB's ``ROUND``; :func:`round_half_away` for numpy), so both paths
  agree to the bit.

The SQL is written to run in bounded memory on big inputs (12 M rows in ~1.3 GB): window partitions use the
source's own columns, and an account's previous snapshots come from an ordered pass with an account check
rather than ``PARTITION BY account_id`` (see bench/README.md). Only standard SQL is used, so sqlglot can
transpile it; the transpiled text is tested to parse and to score the same when read back into DuckDB.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import sqlglot

from lib.model import (
    LOWEST_GRADE,
    Categories,
    Linear,
    Model,
    ModelError,
    Percentile,
    Problem,
    ScoreSpec,
    Steps,
    VsAverage,
    check_columns,
)
from lib.sqlutil import MEMORY_LIMIT_ENV, connect, number_literal, quote_ident, quote_literal

BANDS = ("red", "yellow", "green", "no data")
DIALECTS = ("duckdb", "spark", "snowflake", "bigquery")
ID_COLUMNS = ("account_id", "snapshot_date")
SCORE_DECIMALS = 6
RATIO_DECIMALS = 9
# Non-finite and absurd values count as missing; NaN compares greater than any number in SQL, so BETWEEN
# rejects it as well as ±inf, portably.
_FINITE_LIMIT = "1e308"


def _dbl(x: float) -> str:
    """A DOUBLE literal in every dialect (``50.0e0``), so arithmetic on constants stays floating point."""
    text = number_literal(float(x))
    return text if ("e" in text or "E" in text) else f"{float(x)!r}e0"


def round_half_away(x: np.ndarray, decimals: int) -> np.ndarray:
    """Round like DuckDB's ``ROUND(double, d)``: ``std::round(x * 10^d) / 10^d`` (half away from zero)."""
    modifier = 10.0**decimals
    y = x * modifier
    t = np.trunc(y)
    r = t + np.sign(y) * (np.abs(y - t) >= 0.5)
    return r / modifier


# ---------------------------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class _MetricPlan:
    name: str
    variants: tuple[ScoreSpec, ...]  # distinct specs; index 0 is the base spec
    variant_of_profile: tuple[int, ...]  # per profile in match order (Default last) → variant index
    group: int  # index into _Plan.group_weights


class _Plan:
    """Everything both execution paths need, derived once from a model."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.profile_names = model.profile_names
        self.whens = tuple(p.when for p in model.profiles)
        self.metrics: list[_MetricPlan] = []
        group_names = list(model.groups) if model.groups else [None]
        self.group_weights = tuple(float(model.groups[g]) for g in group_names) if model.groups else (1.0,)
        for name, metric in model.metrics.items():
            variants: list[ScoreSpec] = [metric.score]
            of_profile = []
            for pname in self.profile_names:
                spec = model.spec_for(pname, name)
                if spec not in variants:
                    variants.append(spec)
                of_profile.append(variants.index(spec))
            group = group_names.index(metric.group) if model.groups else 0
            self.metrics.append(_MetricPlan(name, tuple(variants), tuple(of_profile), group))
        # Raw relative weights: profiles (match order) × metrics.
        self.weights = np.array([[model.weights_for(p)[m.name] for m in self.metrics] for p in self.profile_names],
                                dtype=float)
        self.segments = model.segment_columns()

    def group_members(self) -> list[list[int]]:
        return [[i for i, m in enumerate(self.metrics) if m.group == g] for g in range(len(self.group_weights))]


def _needs_numeric(spec: ScoreSpec) -> bool:
    return not isinstance(spec, Categories)


# ---------------------------------------------------------------------------------------------- SQL


def _history_bucket(account: str) -> str:
    """A bucket 0–63 that depends on the account id alone, from the codes of its last two characters (about
    40 distinct buckets for ids ending in digits). Portable SQL (RIGHT, ASCII, %). Not text, and with a
    known range: partitioned by a computed text key, or by an integer of unknown range, DuckDB ran out of
    memory on 12 M rows."""
    text = f"CAST({account} AS VARCHAR)"
    return f"(ASCII(RIGHT({text}, 1)) + 16 * ASCII(RIGHT({text}, 2))) % 64"


def _steps_sql(value: str, cuts: tuple[float, ...], points: tuple[float, ...]) -> str:
    whens = " ".join(f"WHEN {value} < {_dbl(c)} THEN {_dbl(p)}" for c, p in zip(cuts, points, strict=False))
    return f"CASE WHEN {value} IS NULL THEN NULL {whens} ELSE {_dbl(points[-1])} END"


def _peer_partition(within: tuple[str, ...], seg_alias: dict[str, str]) -> str:
    return ", ".join(["hs_snapshot_date", *(seg_alias[c] for c in within)])


def compile_sql(model: Model, source: str = '"portfolio"', ordered: bool = True) -> str:
    """Compile a model to ONE DuckDB SQL query over ``source``.

    Args:
        model: a validated model.
        source: FROM-able SQL text: a quoted table name, ``read_parquet('…')`` or a registered view.
            It must have ``account_id``, ``snapshot_date`` and the model's metric and segment columns.
        ordered: end with ``ORDER BY account_id, snapshot_date``. Leave it on except when writing the
            result somewhere order does not matter (``COPY … TO`` a Parquet file, a warehouse table): the
            final sort of every output column is the single most expensive step on big inputs.

    Returns:
        The query; its result has the columns described in :func:`score`, ordered by account_id and date.
    """
    plan = _Plan(model)
    # Only peer-group segments travel through the query; profile conditions are decided up front.
    peer_segments = dict.fromkeys(c for m in plan.metrics for v in m.variants
                                  if isinstance(v, Percentile | VsAverage) for c in v.within)
    seg_alias = {c: f"hs_g{j}" for j, c in enumerate(peer_segments)}

    # 1. Project the source onto internal names: user column names appear only here, quoted.
    # Keys stay as the source typed them: windows partitioned by a computed expression (even a cast) lose
    # the column statistics DuckDB uses to size its partitions, and then run out of memory on big inputs —
    # the one exception is the history bucket, an integer of known range. Text conversion happens where
    # values are compared or output.
    src = [f"{quote_ident('account_id')} AS hs_account_id", f"{quote_ident('snapshot_date')} AS hs_snapshot_date",
           # A function of the account alone: the history windows' partition (see step 5).
           f"{_history_bucket(quote_ident('account_id'))} AS hs_bucket"]
    src += [f"{quote_ident(c)} AS {a}" for c, a in seg_alias.items()]
    prof_cases = []
    for k, when in enumerate(plan.whens):
        conds = " AND ".join(f"CAST({quote_ident(c)} AS VARCHAR) IN ({', '.join(quote_literal(v) for v in vals)})"
                             for c, vals in when.items())
        prof_cases.append(f"WHEN {conds} THEN {k}")
    src.append(f"CASE {' '.join(prof_cases)} ELSE {len(plan.whens)} END AS hs_p" if prof_cases else "0 AS hs_p")
    for i, m in enumerate(plan.metrics):
        col = quote_ident(m.name)
        if any(_needs_numeric(v) for v in m.variants):
            cast = f"TRY_CAST({col} AS DOUBLE)"
            src.append(f"CASE WHEN {cast} BETWEEN -{_FINITE_LIMIT} AND {_FINITE_LIMIT} THEN {cast} END AS hs_v{i}")
        if any(isinstance(v, Categories) for v in m.variants):
            src.append(f"LOWER(TRIM(CAST({col} AS VARCHAR))) AS hs_c{i}")

    # 2. Peer-group windows (percent ranks, ratios to the peer mean).
    win: list[str] = []
    for i, m in enumerate(plan.metrics):
        v = f"hs_v{i}"
        for k, spec in enumerate(m.variants):
            if isinstance(spec, Percentile):
                # One partitioning and order for both windows, so the engine sorts the rows once. Rows
                # without a value sort after all values in every dialect (the IS NULL key), so they do not
                # shift anyone's rank; COUNT skips them. (Partitioning by IS NULL would cost memory.)
                order = f"{v} DESC" if spec.lower_is_better else f"{v} NULLS FIRST"
                peers = _peer_partition(spec.within, seg_alias)
                over = f"PARTITION BY {peers} ORDER BY {v} IS NULL NULLS FIRST, {order}"
                n = f"COUNT({v}) OVER ({over} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
                rank = f"RANK() OVER ({over})"
                win.append(f"CASE WHEN {v} IS NULL THEN NULL WHEN {n} = 1 THEN {_dbl(50)} "
                           f"ELSE 100 * CAST({rank} - 1 AS DOUBLE) / CAST({n} - 1 AS DOUBLE) END AS hs_s{i}_{k}")
            elif isinstance(spec, VsAverage):
                mean = f"AVG({v}) OVER (PARTITION BY {_peer_partition(spec.within, seg_alias)})"
                win.append(f"CASE WHEN {v} IS NULL OR {mean} = 0 THEN NULL "
                           f"ELSE ROUND({v} / {mean}, {RATIO_DECIMALS}) END AS hs_r{i}_{k}")

    # 3. Row-wise variant scores, then each metric's score and raw weight for the row's profile.
    row = []
    for i, m in enumerate(plan.metrics):
        v = f"hs_v{i}"
        for k, spec in enumerate(m.variants):
            if isinstance(spec, Linear):
                t = f"({v} - {_dbl(spec.red)}) / {_dbl(spec.green - spec.red)}"
                expr = f"CASE WHEN {v} IS NULL THEN NULL WHEN {t} <= 0 THEN 0 WHEN {t} >= 1 THEN 100 ELSE {t} * 100 END"
            elif isinstance(spec, Steps):
                expr = _steps_sql(v, spec.cuts, spec.points)
            elif isinstance(spec, Categories):
                whens = " ".join(f"WHEN {quote_literal(key)} THEN {_dbl(p)}" for key, p in spec.lookup().items())
                expr = f"CASE hs_c{i} {whens} END"
            elif isinstance(spec, VsAverage):
                points = spec.points[::-1] if spec.lower_is_better else spec.points
                expr = _steps_sql(f"hs_r{i}_{k}", spec.cuts, points)
            else:
                continue  # percentile: computed in the window step
            row.append(f"CAST({expr} AS DOUBLE) AS hs_s{i}_{k}")
    pick = []
    for i, m in enumerate(plan.metrics):
        by_variant = _case_by_profile([f"hs_s{i}_{k}" for k in m.variant_of_profile])
        pick.append(f"{by_variant} AS hs_s{i}")
        pick.append(f"{_case_by_profile([_dbl(w) for w in plan.weights[:, i]])} AS hs_w{i}")

    # 4. Effective weights: hierarchical renormalisation over present metrics and groups.
    renorm = model.missing == "renormalize"

    def present(i: int) -> str:
        return f"(hs_s{i} IS NOT NULL AND hs_w{i} > 0)" if renorm else f"(hs_w{i} > 0)"

    members = plan.group_members()
    gsum = [" + ".join(f"CASE WHEN {present(i)} THEN hs_w{i} ELSE 0 END" for i in ms) or "0" for ms in members]
    eff = [f"({g}) AS hs_gs{j}" for j, g in enumerate(gsum)]
    total = " + ".join(f"CASE WHEN hs_gs{j} > 0 THEN {_dbl(gw)} ELSE 0 END" for j, gw in enumerate(plan.group_weights))
    weights = []
    for i, m in enumerate(plan.metrics):
        gw = _dbl(plan.group_weights[m.group])
        weights.append(f"CASE WHEN {present(i)} AND hs_gt > 0 THEN ({gw} / hs_gt) * (hs_w{i} / hs_gs{m.group}) "
                       f"ELSE 0 END AS hs_e{i}")
    contribs = [f"hs_e{i} * COALESCE(hs_s{i}, 0)" for i in range(len(plan.metrics))]
    usable = " OR ".join(f"(hs_s{i} IS NOT NULL AND hs_e{i} > 0)" for i in range(len(plan.metrics)))
    score_expr = f"CASE WHEN {usable} THEN ROUND({' + '.join(contribs)}, {SCORE_DECIMALS}) END"

    # 5. Band, grade, history (change, alerts), rank in band.
    b = model.bands

    def band_of(s: str) -> str:
        return (f"CASE WHEN {s} IS NULL THEN 'no data' WHEN {s} <= {_dbl(b.red)} THEN 'red' "
                f"WHEN {s} <= {_dbl(b.yellow)} THEN 'yellow' ELSE 'green' END")

    if model.grades:
        gw = " ".join(f"WHEN hs_score >= {_dbl(v)} THEN {quote_literal(g)}" for g, v in model.grades.items())
        grade = f"CASE WHEN hs_score IS NULL THEN NULL {gw} ELSE {quote_literal(LOWEST_GRADE)} END"
    else:
        grade = "CAST(NULL AS VARCHAR)"
    # Previous snapshots of the same account come from ordered passes with an account check, not from
    # PARTITION BY account: DuckDB buffers ~0.5 GB per thread for a window over a million partitions, while
    # an ordered pass spills to disk. The passes run per bucket (:func:`_history_bucket`; any function of
    # the account would do), so the sort is split and runs on every thread: one pass over all rows was a
    # single-threaded sort and half the run time on 12 M rows.
    # NULLS FIRST (BigQuery's default) keeps the transpiled SQL plain.
    history = "PARTITION BY hs_bucket ORDER BY hs_account_id NULLS FIRST, hs_snapshot_date NULLS FIRST"
    depth = max([1, *(a.within for a in model.alerts if a.drop is not None)])
    hist = [f"{band_of('hs_score')} AS hs_band", f"{grade} AS hs_grade"]
    hist += [f"CASE WHEN LAG(hs_account_id, {k}) OVER ({history}) = hs_account_id "
             f"THEN LAG(hs_score, {k}) OVER ({history}) END AS hs_l{k}" for k in range(1, depth + 1)]
    peaks, alert_parts = [], []
    for k, a in enumerate(model.alerts):
        if a.to_band is not None:
            cond = (f"hs_band = {quote_literal(a.to_band)} AND hs_l1 IS NOT NULL "
                    f"AND {band_of('hs_l1')} <> {quote_literal(a.to_band)}")
        else:
            # Highest earlier score ignoring missing ones, portably: GREATEST returns NULL on any NULL in
            # some dialects, so each missing value is replaced by one that is present.
            lags = [f"hs_l{j}" for j in range(1, a.within + 1)]
            peaks.append(f"COALESCE({', '.join(lags)}) AS hs_any{k}")
            peak = f"GREATEST({', '.join(f'COALESCE({lag}, hs_any{k})' for lag in lags)})"
            cond = f"ROUND({peak} - hs_score, {SCORE_DECIMALS}) >= {_dbl(a.drop)}"
        alert_parts.append(f"COALESCE(CASE WHEN {cond} THEN {quote_literal('; ' + a.name)} END, '')")
    alerts = f"SUBSTR({' || '.join(alert_parts)}, 3)" if alert_parts else "''"
    profile_name = _case_by_profile([quote_literal(n) for n in plan.profile_names])

    out = [
        f"CAST(hs_account_id AS VARCHAR) AS {quote_ident('account_id')}",
        f"CAST(hs_snapshot_date AS TIMESTAMP) AS {quote_ident('snapshot_date')}",
        f"{profile_name} AS {quote_ident('profile')}",
        f"hs_score AS {quote_ident('score')}",
        f"hs_band AS {quote_ident('band')}",
        f"hs_grade AS {quote_ident('grade')}",
        f"ROUND(hs_score - hs_l1, {SCORE_DECIMALS}) AS {quote_ident('change')}",
        "ROW_NUMBER() OVER (PARTITION BY hs_snapshot_date, hs_band ORDER BY hs_score NULLS FIRST, "
        f"CAST(hs_account_id AS VARCHAR) NULLS FIRST) AS {quote_ident('rank_in_band')}",
        f"{alerts} AS {quote_ident('alerts')}",
    ]
    for i, m in enumerate(plan.metrics):
        out += [f"hs_s{i} AS {quote_ident(m.name + '_score')}",
                f"hs_e{i} AS {quote_ident(m.name + '_weight')}",
                f"hs_e{i} * COALESCE(hs_s{i}, 0) AS {quote_ident(m.name + '_contribution')}"]

    kept = ["hs_account_id", "hs_bucket", "hs_snapshot_date", "hs_p",
            *(f"hs_{x}{i}" for i in range(len(plan.metrics)) for x in ("s", "e"))]

    def sel(cols: list[str]) -> str:
        return ",\n    ".join(["*", *cols])

    return (
        "WITH hs_src AS (\n  SELECT\n    " + ",\n    ".join(src) + f"\n  FROM {source}\n),\n"
        "hs_win AS (\n  SELECT\n    " + sel(win) + "\n  FROM hs_src\n),\n"
        "hs_row AS (\n  SELECT\n    " + sel(row) + "\n  FROM hs_win\n),\n"
        "hs_pick AS (\n  SELECT\n    " + sel(pick) + "\n  FROM hs_row\n),\n"
        "hs_grp AS (\n  SELECT\n    " + sel(eff) + "\n  FROM hs_pick\n),\n"
        "hs_tot AS (\n  SELECT\n    " + sel([f"({total}) AS hs_gt"]) + "\n  FROM hs_grp\n),\n"
        "hs_eff AS (\n  SELECT\n    " + sel(weights) + "\n  FROM hs_tot\n),\n"
        # Only what the history windows and the output need: windows materialise every column they carry.
        "hs_scored AS (\n  SELECT\n    " + ",\n    ".join([*kept, f"{score_expr} AS hs_score"])
        + "\n  FROM hs_eff\n),\n"
        "hs_hist AS (\n  SELECT\n    " + sel(hist) + "\n  FROM hs_scored\n),\n"
        "hs_peaks AS (\n  SELECT\n    " + sel(peaks) + "\n  FROM hs_hist\n)\n"
        "SELECT\n  " + ",\n  ".join(out) + "\nFROM hs_peaks"
        + ("\nORDER BY CAST(hs_account_id AS VARCHAR), hs_snapshot_date" if ordered else "")
    )


def _case_by_profile(values: list[str]) -> str:
    """``CASE hs_p WHEN k THEN values[k] … END``, collapsed when every profile gets the same value."""
    if len(set(values)) == 1:
        return values[0]
    default = values[-1]
    whens = " ".join(f"WHEN {k} THEN {v}" for k, v in enumerate(values[:-1]) if v != default)
    return f"CASE hs_p {whens} ELSE {default} END"


def to_dialect(sql: str, dialect: str) -> str:
    """Transpile a compiled DuckDB query to another engine's SQL with sqlglot.

    Args:
        sql: output of :func:`compile_sql`.
        dialect: one of ``duckdb``, ``spark``, ``snowflake``, ``bigquery``.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r} — use one of: {', '.join(DIALECTS)}")
    if dialect == "duckdb":
        return sql
    return sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=True)[0]


# ---------------------------------------------------------------------------------------------- inputs


def _to_number(raw: pd.Series) -> np.ndarray:
    """Numeric values as scored: text that is not a number, and non-finite or absurd values → NaN."""
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
        x = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        text = raw.where(raw.isna(), raw.astype(str).str.strip())
        x = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(x) <= 1e308, x, np.nan)


def _to_text(raw: pd.Series) -> np.ndarray:
    """Values as SQL ``CAST(x AS VARCHAR)`` sees them (None for missing)."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        text = raw.map({True: "true", False: "false"}).to_numpy(dtype=object)
    else:
        text = raw.astype(str).to_numpy(dtype=object)
    text[raw.isna().to_numpy()] = None
    return text


def _category_key(raw: pd.Series) -> np.ndarray:
    """Category text as matched: ``LOWER(TRIM(CAST(x AS VARCHAR)))`` (None for missing)."""
    s = pd.Series(_to_text(raw), dtype=object)
    return s.str.strip(" ").str.lower().to_numpy(dtype=object)


def _required_problems(model: Model, columns: list[str]) -> list[Problem]:
    problems = [Problem(c, f"the data has no '{c}' column", f"map one of the data's columns to the {c} role")
                for c in ID_COLUMNS if c not in columns]
    return problems + check_columns(model, columns)


def _prepare_frame(model: Model, df: pd.DataFrame) -> pd.DataFrame:
    """Only the columns the model reads, with numeric metrics already numbers (same rules as LiveScorer)."""
    problems = _required_problems(model, [str(c) for c in df.columns])
    if problems:
        raise ModelError(problems, source="data")
    plan = _Plan(model)
    out = {c: df[c] for c in ID_COLUMNS}
    for c in plan.segments:
        out[c] = pd.Series(_to_text(df[c]), index=df.index, dtype=object)
    for m in plan.metrics:
        if all(_needs_numeric(v) for v in m.variants):
            out[m.name] = pd.Series(_to_number(df[m.name]), index=df.index)
        else:  # categories (or read both ways, then TRY_CAST parses the text)
            out[m.name] = pd.Series(_to_text(df[m.name]), index=df.index, dtype=object)
    return pd.DataFrame(out, index=df.index)


def _reader(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return f"read_parquet({quote_literal(path)})"
    if suffix in (".csv", ".tsv", ".txt"):
        return f"read_csv_auto({quote_literal(path)})"
    raise ValueError(f"{path}: cannot score a '{suffix}' file directly — use .parquet or .csv, "
                     "or load it with lib.ingest.load_portfolio first")


def _tidy(result: pd.DataFrame) -> pd.DataFrame:
    result["snapshot_date"] = result["snapshot_date"].astype("datetime64[ns]")
    result["rank_in_band"] = result["rank_in_band"].astype("int64")
    result["grade"] = result["grade"].astype(object).where(result["grade"].notna(), None)
    for c in ("account_id", "profile", "band", "alerts"):
        result[c] = result[c].astype(object)
    return result


def score(model: Model, data: pd.DataFrame | str | Path | duckdb.DuckDBPyRelation,
          con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """Score a portfolio with DuckDB.

    Args:
        model: a validated model.
        data: the canonical portfolio DataFrame, a .parquet/.csv path, or a DuckDB relation.
        con: connection to use (a cursor of it is taken); default a fresh in-memory connection.

    Returns:
        One row per account and snapshot, sorted by account_id, snapshot_date: ``account_id,
        snapshot_date, profile, score, band, grade, change, rank_in_band, alerts`` then ``{m}_score,
        {m}_weight, {m}_contribution`` per metric. Other input columns are not carried.

    Raises:
        ModelError: when the data lacks account_id, snapshot_date, or a column the model reads.
    """
    own = con is None
    base = connect() if own else con
    cur = base if own else base.cursor()
    try:
        if isinstance(data, pd.DataFrame):
            frame = _prepare_frame(model, data)
            view = f"hs_input_{uuid.uuid4().hex}"
            # Arrow, not the DataFrame: DuckDB's pandas scan converts object (text) columns row by row.
            cur.register(view, pa.Table.from_pandas(frame, preserve_index=False))
            try:
                result = cur.execute(compile_sql(model, quote_ident(view))).fetch_arrow_table().to_pandas()
            finally:
                cur.unregister(view)
        elif isinstance(data, duckdb.DuckDBPyRelation):
            problems = _required_problems(model, list(data.columns))
            if problems:
                raise ModelError(problems, source="data")
            view = f"hs_input_{uuid.uuid4().hex}"
            result = data.query(view, compile_sql(model, view)).fetch_arrow_table().to_pandas()
        else:
            path = Path(data)
            source = _reader(path)
            columns = [r[0] for r in cur.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
            problems = _required_problems(model, columns)
            if problems:
                raise ModelError(problems, source=str(path))
            result = cur.execute(compile_sql(model, source)).fetch_arrow_table().to_pandas()
    finally:
        if not own:
            cur.close()
        else:
            base.close()
    return _tidy(result)


STREAM_MEMORY_LIMIT = "1GB"  # DuckDB's own limit for file-to-file scoring; peak RSS stays near 1.3 GB


def score_file(model: Model, source: str | Path, out: str | Path, columns: list[str] | None = None,
               ordered: bool = False, memory_limit: str | None = None) -> int:
    """Score a Parquet or CSV file straight into a Parquet or CSV file, in bounded memory.

    DuckDB reads the source, runs the compiled query and writes the result without the table ever being
    in Python, spilling to a temporary folder beyond ``memory_limit``: 12 M rows score this way in well
    under 2 GB of memory, where :func:`score` would need several GB for the DataFrame alone.

    Args:
        model: a validated model.
        source: .parquet or .csv file with ``account_id``, ``snapshot_date`` and the model's columns.
        out: the .parquet or .csv file to write (replaced if it exists).
        columns: output columns to keep, in order (default: every column :func:`score` returns).
        ordered: sort rows by account_id, snapshot_date (a sort of the whole output: slower on big inputs).
        memory_limit: DuckDB memory limit (default ``$HSS_DUCKDB_MEMORY_LIMIT``, else 1GB).

    Returns:
        The number of rows written.

    Raises:
        ModelError: when the source lacks account_id, snapshot_date, or a column the model reads.
        ValueError: for a file type other than .parquet/.csv.
    """
    source, out = Path(source), Path(out)
    kind = {".parquet": "parquet", ".csv": "csv"}.get(out.suffix.lower())
    if kind is None:
        raise ValueError(f"{out}: can write .parquet or .csv files only")
    reader = _reader(source)
    with tempfile.TemporaryDirectory(prefix="hss-spill-") as spill:
        con = connect(memory_limit=memory_limit or os.environ.get(MEMORY_LIMIT_ENV) or STREAM_MEMORY_LIMIT)
        try:
            con.execute(f"SET temp_directory = {quote_literal(spill)}")
            names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
            problems = _required_problems(model, names)
            if problems:
                raise ModelError(problems, source=str(source))
            query = compile_sql(model, reader, ordered=ordered)
            if columns is not None:
                query = f"SELECT {', '.join(quote_ident(c) for c in columns)} FROM ({query})"
            options = "FORMAT parquet" if kind == "parquet" else "FORMAT csv, HEADER true, TIMESTAMPFORMAT '%Y-%m-%d'"
            con.execute(f"COPY ({query}) TO {quote_literal(out)} ({options})")
            return int(con.execute(f"SELECT count(*) FROM {_reader(out)}").fetchone()[0])
        finally:
            con.close()


# ---------------------------------------------------------------------------------------------- numpy


def _steps_np(v: np.ndarray, cuts: tuple[float, ...], points: tuple[float, ...]) -> np.ndarray:
    out = np.asarray(points, dtype=float)[np.searchsorted(np.asarray(cuts, dtype=float), v, side="right")]
    return np.where(np.isnan(v), np.nan, out)


def _missing_key(metric: str, spec: ScoreSpec) -> tuple:
    """What decides whether a spec's score is missing: the column, plus the known categories or peer groups."""
    if isinstance(spec, Categories):
        return ("cat", metric, tuple(sorted(spec.lookup())))
    if isinstance(spec, VsAverage):
        return ("ratio", metric, spec.within)  # a peer mean of 0 makes the ratio missing
    return ("num", metric)


def _effective_weights(plan: _Plan, missing: str, pidx: np.ndarray, has: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Weights after profile selection and missing-data handling, the same arithmetic as the SQL.

    Args:
        plan: the model's plan.
        missing: ``renormalize`` or ``zero``.
        pidx: profile index per row (len u).
        has: u × k, whether each metric has a score.

    Returns:
        (u × k effective weights, u usable flags: some metric with a positive weight has a score).
    """
    u, k = has.shape
    w = plan.weights[pidx]
    present = (has & (w > 0)) if missing == "renormalize" else (w > 0)
    terms = np.where(present, w, 0.0)
    gs = []
    for ms in plan.group_members():
        acc = terms[:, ms[0]].copy() if ms else np.zeros(u)
        for i in ms[1:]:
            acc = acc + terms[:, i]
        gs.append(acc)
    gt = np.zeros(u)
    for j, gw in enumerate(plan.group_weights):
        part = np.where(gs[j] > 0, gw, 0.0)
        gt = part if j == 0 else gt + part
    eff = np.zeros((u, k))
    with np.errstate(invalid="ignore", divide="ignore"):
        for i, m in enumerate(plan.metrics):
            val = (plan.group_weights[m.group] / gt) * (w[:, i] / gs[m.group])
            eff[:, i] = np.where(present[:, i] & (gt > 0), val, 0.0)
    return eff, (has & (eff > 0)).any(axis=1)


# Cache entries that depend on the model (as opposed to the data): evicted when no longer in use.
_MODEL_CACHE_KINDS = frozenset({"score", "pick", "profiles", "patterns"})


class LiveScorer:
    """The numpy evaluation of the same plan, for the Tune page's slider loop.

    Data is prepared once (sorted by account and date; numeric, category and segment columns converted;
    peer groups keyed) and the caches are warmed with ``model``. Metric scores are cached per (metric,
    spec), so a slider move recomputes only the touched metric, the weighted sum and the counts. Model-level
    cache entries not used by the last two evaluations are dropped, so memory stays bounded however many
    moves are made (and flipping between two models stays fast). Calls are serialised with a lock, so one
    instance can be shared between sessions. Results equal :func:`score` row for row.
    """

    def __init__(self, df: pd.DataFrame, model: Model) -> None:
        problems = _required_problems(model, [str(c) for c in df.columns])
        if problems:
            raise ModelError(problems, source="data")
        acc = df["account_id"].astype(str).to_numpy(dtype=object)
        dates = pd.to_datetime(df["snapshot_date"]).to_numpy(dtype="datetime64[ns]")
        acc_code, acc_values = pd.factorize(acc, sort=True)
        order = np.lexsort((dates, acc_code))
        self._df = df
        self._order = order
        self._acc_code = acc_code[order]
        self._acc = np.asarray(acc_values, dtype=object)[self._acc_code]
        self._dates = dates[order]
        date_code, date_values = pd.factorize(self._dates, sort=True)
        self._date_code = date_code
        self._date_values = pd.DatetimeIndex(date_values, name="snapshot_date")
        n = len(order)
        starts = np.r_[True, self._acc_code[1:] != self._acc_code[:-1]] if n else np.zeros(0, bool)
        first = np.maximum.accumulate(np.where(starts, np.arange(n), 0)) if n else np.zeros(0, int)
        self._pos_in_account = np.arange(n) - first
        self._cache: dict[tuple, Any] = {}
        self._used: set[tuple] = set()
        self._used_before: set[tuple] = set()
        self._lock = threading.RLock()
        self._scores(model)

    # -- cached inputs

    def _column(self, name: str) -> pd.Series:
        return self._df[name].iloc[self._order].reset_index(drop=True)

    def _cached(self, key: tuple, build) -> Any:  # noqa: ANN001 - a zero-argument callable
        if key[0] in _MODEL_CACHE_KINDS:
            self._used.add(key)
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _numbers(self, col: str) -> np.ndarray:
        return self._cached(("num", col), lambda: _to_number(self._column(col)))

    def _categories(self, col: str) -> np.ndarray:
        return self._cached(("cat", col), lambda: _category_key(self._column(col)))

    def _segment(self, col: str) -> np.ndarray:
        return self._cached(("seg", col), lambda: _to_text(self._column(col)))

    def _peers(self, within: tuple[str, ...]) -> np.ndarray:
        def build() -> np.ndarray:
            key = self._date_code.astype(np.int64)
            for col in within:
                codes, uniques = pd.factorize(self._segment(col))  # None → -1: its own peer group
                key = pd.factorize(key * (len(uniques) + 1) + (codes + 1))[0]
            return key
        return self._cached(("peers", within), build)

    def _spec_score(self, metric: str, spec: ScoreSpec) -> np.ndarray:
        return self._cached(("score", metric, repr(spec)), lambda: self._compute_spec(metric, spec))

    def _compute_spec(self, metric: str, spec: ScoreSpec) -> np.ndarray:
        if isinstance(spec, Categories):
            lookup = spec.lookup()
            return pd.Series(self._categories(metric)).map(lookup).to_numpy(dtype=float, na_value=np.nan)
        v = self._numbers(metric)
        with np.errstate(invalid="ignore", divide="ignore"):
            if isinstance(spec, Linear):
                t = (v - spec.red) / (spec.green - spec.red)
                return np.where(t <= 0, 0.0, np.where(t >= 1, 100.0, t * 100))
            if isinstance(spec, Steps):
                return _steps_np(v, spec.cuts, spec.points)
            groups = pd.Series(v).groupby(self._peers(spec.within))
            if isinstance(spec, Percentile):
                rank = groups.rank(method="min", ascending=not spec.lower_is_better).to_numpy()
                n = groups.transform("count").to_numpy(dtype=float)
                out = np.where(n == 1, 50.0, 100 * (rank - 1) / (n - 1))
                return np.where(np.isnan(v), np.nan, out)
            mean = groups.transform("mean").to_numpy(dtype=float)
            ratio = np.where(np.isnan(v) | (mean == 0), np.nan, round_half_away(v / mean, RATIO_DECIMALS))
            points = spec.points[::-1] if spec.lower_is_better else spec.points
            return _steps_np(ratio, spec.cuts, points)

    def _profile_index(self, plan: _Plan) -> np.ndarray:
        def build() -> np.ndarray:
            idx = np.full(len(self._order), len(plan.whens), dtype=np.int64)
            for k in reversed(range(len(plan.whens))):  # reversed: the first matching profile wins
                mask = np.ones(len(idx), dtype=bool)
                for col, values in plan.whens[k].items():
                    mask &= pd.Series(self._segment(col)).isin(values).to_numpy()
                idx[mask] = k
            return idx
        return self._cached(("profiles", repr(plan.whens)), build)

    # -- evaluation

    def _metric_scores(self, plan: _Plan, i: int, pidx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Metric i's score per row under each row's profile, and the same with missing as 0."""
        m = plan.metrics[i]
        key = ("pick", m.name, tuple(repr(v) for v in m.variants), m.variant_of_profile, repr(plan.whens))

        def build() -> tuple[np.ndarray, np.ndarray]:
            variants = [self._spec_score(m.name, spec) for spec in m.variants]
            s = variants[0] if len(variants) == 1 else np.choose(np.asarray(m.variant_of_profile)[pidx], variants)
            return s, np.where(np.isnan(s), 0.0, s)

        return self._cached(key, build)

    def _patterns(self, plan: _Plan, pidx: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Rows grouped by (profile, which metrics have a value): (pattern per row, one row per pattern).

        Effective weights depend on nothing else, so they are computed once per pattern. The cache key
        names what decides missingness (not thresholds or weights), so slider moves reuse it.
        """
        has_keys = tuple((tuple(_missing_key(m.name, v) for v in m.variants), m.variant_of_profile)
                         for m in plan.metrics)

        def build() -> tuple[np.ndarray, np.ndarray]:
            code = pidx.astype(np.int64)
            for j, s in enumerate(scores):
                code = code * 2 + ~np.isnan(s)
                if j % 40 == 39:  # keep the code inside int64
                    code = pd.factorize(code)[0].astype(np.int64)
            inverse, uniques = pd.factorize(code)
            first = np.empty(len(uniques), dtype=np.int64)
            first[inverse[::-1]] = np.arange(len(code))[::-1]
            return inverse, first

        return self._cached(("patterns", repr(plan.whens), has_keys), build)

    def _scores(self, model: Model) -> tuple[_Plan, np.ndarray, list[np.ndarray], list[np.ndarray], np.ndarray]:
        """Return (plan, profile index, metric scores, effective weights, overall score)."""
        with self._lock:
            self._used = set()
            result = self._evaluate(model)
            keep = self._used | self._used_before
            for key in [k for k in self._cache if k[0] in _MODEL_CACHE_KINDS and k not in keep]:
                del self._cache[key]
            self._used_before = self._used
            return result

    def _evaluate(self, model: Model) -> tuple[_Plan, np.ndarray, list[np.ndarray], list[np.ndarray], np.ndarray]:
        plan = _Plan(model)
        pidx = self._profile_index(plan)
        picked = [self._metric_scores(plan, i, pidx) for i in range(len(plan.metrics))]
        scores = [s for s, _ in picked]
        inverse, first = self._patterns(plan, pidx, scores)
        has = np.column_stack([~np.isnan(s[first]) for s in scores])
        eff_table, usable_table = _effective_weights(plan, model.missing, pidx[first], has)
        eff = [eff_table[:, i][inverse] for i in range(len(scores))]
        total = eff[0] * picked[0][1]
        for i in range(1, len(scores)):
            total = total + eff[i] * picked[i][1]
        overall = np.where(usable_table[inverse], round_half_away(total, SCORE_DECIMALS), np.nan)
        return plan, pidx, scores, eff, overall

    @staticmethod
    def _band_codes(model: Model, overall: np.ndarray) -> np.ndarray:
        return np.select([np.isnan(overall), overall <= model.bands.red, overall <= model.bands.yellow],
                         [3, 0, 1], 2)

    @property
    def row_order(self) -> np.ndarray:
        """Positions in the input DataFrame of the scorer's rows (sorted by account_id, snapshot_date)."""
        return self._order

    @property
    def account_codes(self) -> np.ndarray:
        """Per row (in :attr:`row_order`), the account's position among the sorted distinct account ids."""
        return self._acc_code

    @property
    def account_ids(self) -> np.ndarray:
        """Per row (in :attr:`row_order`), the account id as text."""
        return self._acc

    @property
    def date_codes(self) -> np.ndarray:
        """Per row (in :attr:`row_order`), the snapshot date's position in :attr:`dates`."""
        return self._date_code

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The distinct snapshot dates, oldest first."""
        return self._date_values

    def overall(self, model: Model) -> np.ndarray:
        """Just the overall score per row, in :attr:`row_order` (NaN = no data): the cheapest preview."""
        return self._scores(model)[-1]

    def band_counts(self, model: Model) -> pd.DataFrame:
        """Accounts per band per snapshot date: index snapshot_date, columns :data:`BANDS` (counts)."""
        *_, overall = self._scores(model)
        codes = self._date_code * 4 + self._band_codes(model, overall)
        counts = np.bincount(codes, minlength=len(self._date_values) * 4).reshape(-1, 4)
        return pd.DataFrame(counts, index=self._date_values, columns=pd.Index(BANDS, name="band"))

    def rescore(self, model: Model) -> pd.DataFrame:
        """Score ``model`` on the prepared data; same columns, order and values as :func:`score`."""
        plan, pidx, s, eff, overall = self._scores(model)
        n = len(overall)
        band_code = self._band_codes(model, overall)
        band = np.asarray(BANDS, dtype=object)[band_code]
        if model.grades:
            grade = np.select([np.isnan(overall), *(overall >= v for v in model.grades.values())],
                              [None, *model.grades], LOWEST_GRADE).astype(object)
        else:
            grade = np.full(n, None, dtype=object)
        with np.errstate(invalid="ignore"):
            prev = self._shifted(overall, 1)
            change = round_half_away(overall - prev, SCORE_DECIMALS)
            alert_code = np.zeros(n, dtype=np.int64)
            for k, a in enumerate(model.alerts):
                if a.to_band is not None:
                    target = BANDS.index(a.to_band)
                    fired = (band_code == target) & ~np.isnan(prev) & (self._band_codes(model, prev) != target)
                else:
                    peak = np.full(n, np.nan)
                    for lag in range(1, a.within + 1):
                        peak = np.fmax(peak, self._shifted(overall, lag))
                    fired = round_half_away(peak - overall, SCORE_DECIMALS) >= a.drop
                alert_code |= fired.astype(np.int64) << k
        names = [a.name for a in model.alerts]
        combos = np.array(["; ".join(nm for b, nm in enumerate(names) if code >> b & 1)
                           for code in range(2 ** len(names))], dtype=object)
        out: dict[str, Any] = {
            "account_id": self._acc,
            "snapshot_date": self._dates,
            "profile": np.asarray(plan.profile_names, dtype=object)[pidx],
            "score": overall,
            "band": band,
            "grade": grade,
            "change": change,
            "rank_in_band": self._rank_in_band(overall, band_code),
            "alerts": combos[alert_code],
        }
        for i, m in enumerate(plan.metrics):
            out[f"{m.name}_score"] = s[i]
            out[f"{m.name}_weight"] = eff[i]
            out[f"{m.name}_contribution"] = eff[i] * np.where(np.isnan(s[i]), 0.0, s[i])
        return pd.DataFrame(out)

    def _shifted(self, x: np.ndarray, lag: int) -> np.ndarray:
        """``x`` from ``lag`` snapshots earlier in the same account (NaN where there is none)."""
        out = np.full(len(x), np.nan)
        if lag < len(x):
            out[lag:] = x[:-lag]
        return np.where(self._pos_in_account >= lag, out, np.nan)

    def _rank_in_band(self, overall: np.ndarray, band_code: np.ndarray) -> np.ndarray:
        # Sort by (date and band, score); lexsort is stable and rows are in account order, so ties keep
        # account order as in SQL. NaN scores (the 'no data' band) are all ties.
        group = self._date_code * 4 + band_code
        order = np.lexsort((overall, group))
        key = group[order]
        starts = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
        pos = np.arange(len(key))
        first = np.maximum.accumulate(np.where(starts, pos, 0)) if len(key) else pos
        rank = np.empty(len(key), dtype=np.int64)
        rank[order] = pos - first + 1
        return rank


# ---------------------------------------------------------------------------------------------- quality


def metric_quality(model: Model, df: pd.DataFrame) -> pd.DataFrame:
    """How usable each metric's column is: counts of missing, non-numeric and unknown-category values.

    Returns:
        One row per metric: ``metric, label, rows, missing, non_numeric, unknown_categories, usable,
        examples`` (up to three distinct offending values, as text). A column absent from the data counts
        every row as missing.
    """
    rows = []
    n = len(df)
    for name, metric in model.metrics.items():
        missing = non_numeric = unknown = 0
        examples: list[str] = []
        if name not in df.columns:
            missing = n
        else:
            raw = df[name]
            blank = raw.isna().to_numpy() | (raw.astype(str).str.strip().to_numpy() == "") if raw.dtype == object \
                else raw.isna().to_numpy()
            missing = int(blank.sum())
            if isinstance(metric.score, Categories):
                known = pd.Series(_category_key(raw)).isin(list(metric.score.lookup())).to_numpy()
                bad = ~blank & ~known
                unknown = int(bad.sum())
            else:
                bad = ~blank & np.isnan(_to_number(raw))
                non_numeric = int(bad.sum())
            examples = [str(v) for v in pd.unique(raw[bad])[:3]]
        rows.append({"metric": name, "label": metric.label, "rows": n, "missing": missing,
                     "non_numeric": non_numeric, "unknown_categories": unknown,
                     "usable": n - missing - non_numeric - unknown, "examples": examples})
    return pd.DataFrame(rows, columns=["metric", "label", "rows", "missing", "non_numeric", "unknown_categories",
                                       "usable", "examples"])


__all__ = ["BANDS", "DIALECTS", "LiveScorer", "compile_sql", "metric_quality", "round_half_away", "score",
           "to_dialect"]
