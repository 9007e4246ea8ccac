"""The scoring engine: model + portfolio table → per account and snapshot scores.

One definition, two executions. :class:`Plan` turns a :class:`~lib.engine.model.Model` into the pieces both
paths need (metric score variants per profile, the weight table, groups, alert rules); :func:`compile_sql`
emits them as ONE DuckDB query (what the CLI prints and the warehouse runs, transpiled with sqlglot), and
:mod:`lib.engine.numpy_eval` evaluates the same plan with numpy (the Tune page's slider loop, big files).
Tests hold the two equal row for row. The scoring rules themselves are documented in :mod:`lib.engine.model`;
in addition:

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
  agree to the bit;
- a window metric's statistic (:class:`lib.engine.model.Window`) replaces its value before any score step, so every
  method (peer groups included) scores it as it would a raw value; sums run in one fixed order in both paths,
  and a statistic that is not finite counts as missing.

The SQL is written to run in bounded memory on big inputs (12 M rows in ~1.3 GB): window partitions use the
source's own columns, and an account's previous snapshots come from an ordered pass with an account check
rather than ``PARTITION BY account_id`` (see bench/README.md). Only standard SQL is used, so sqlglot can
transpile it; the transpiled text is tested to parse and to score the same when read back into DuckDB.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Collection
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import sqlglot

from lib.engine.model import (
    LOWEST_GRADE,
    TRIM_CHARACTERS,
    Categories,
    Linear,
    Model,
    ModelError,
    Percentile,
    Steps,
    VsAverage,
    Window,
)
from lib.engine.parquet_files import score_parquet
from lib.engine.plan import (
    FINITE_LIMIT,
    ID_COLUMNS,
    NUMBER_PATTERN,
    RATIO_DECIMALS,
    SCORE_DECIMALS,
    Plan,
    category_key,
    needs_numeric,
    required_problems,
    to_number,
    to_text,
)
from lib.engine.sqlutil import MEMORY_LIMIT_ENV, connect, number_literal, quote_ident, quote_literal

DIALECTS = ("duckdb", "spark", "snowflake", "bigquery")
#: How the query lays out its windows; both give the same rows. ``single`` (one machine, DuckDB): an account's
#: earlier snapshots from ordered passes per 64-value bucket, and peer groups and bands as window partitions,
#: which keep memory bounded. ``cluster`` (Spark, a warehouse): no step partitioned by a key with a handful of
#: values — history per account, peer groups aggregated before they are joined back, rank in band split by
#: tenths of a point (see :func:`compile_sql` and bench/README.md).
LAYOUTS = ("single", "cluster")
#: Rank in band on a cluster: rows are partitioned by (date, band, FLOOR(score × this)), so one date's ranks
#: spread over up to 1,001 tasks.
RANK_SLICES_PER_POINT = 10


def _dbl(x: float) -> str:
    """A DOUBLE literal in every dialect (``50.0e0``), so arithmetic on constants stays floating point."""
    text = number_literal(float(x))
    return text if ("e" in text or "E" in text) else f"{float(x)!r}e0"


# ---------------------------------------------------------------------------------------------- SQL


def _history_bucket(account: str) -> str:
    """A bucket 0–63 that depends on the account id alone, from the codes of its last two characters (about
    40 distinct buckets for ids ending in digits). Portable SQL (RIGHT, ASCII, %). Not text, and with a
    known range: partitioned by a computed text key, or by an integer of unknown range, DuckDB ran out of
    memory on 12 M rows."""
    text = f"CAST({account} AS VARCHAR)"
    return f"(ASCII(RIGHT({text}, 1)) + 16 * ASCII(RIGHT({text}, 2))) % 64"


def _finite(x: str) -> str:
    """``x`` where it is a finite number, else NULL (as values are read).

    ``x - x = 0`` is false for NaN and ±inf in every engine. The range check alone is not enough: DuckDB
    decides it from a Parquet file's min/max statistics, which leave NaN out, and so let NaN through
    (duckdb/duckdb#25521); a difference of a value with itself cannot be decided from statistics.
    """
    limit = number_literal(FINITE_LIMIT)
    return f"CASE WHEN ({x}) - ({x}) = 0 AND ({x}) BETWEEN -{limit} AND {limit} THEN {x} END"


def _trimmed(x: str) -> str:
    """``x`` as text with :data:`~lib.engine.model.TRIM_CHARACTERS` removed at both ends (every dialect's TRIM
    takes a character list; their default sets differ)."""
    return f"TRIM(CAST({x} AS VARCHAR), {quote_literal(TRIM_CHARACTERS)})"


def _number(x: str, numeric: bool) -> str:
    """A column's values as numbers: a numeric column cast; text only where it matches
    :data:`~lib.engine.plan.NUMBER_PATTERN` after trimming (engines' own casts accept different spellings)."""
    if numeric:
        return _finite(f"CAST({x} AS DOUBLE)")
    text = _trimmed(x)
    return _finite(f"CASE WHEN REGEXP_MATCHES({text}, {quote_literal('^' + NUMBER_PATTERN + '$')}) "
                   f"THEN TRY_CAST({text} AS DOUBLE) END")


def _window_stat_sql(window: Window, lags: list[str], agg: str) -> str:
    """A window statistic over ``lags`` (the column's value at this snapshot, 1 before, …; NULL where there is
    no such row or no value), with the counts ``{agg}_n`` etc. from the previous step. Sums run from the
    current row back, in the order :func:`lib.engine.numpy_eval.window_statistic` adds them, so both agree to the bit.
    """
    first, last = lags[-1], lags[0]  # no row N − 1 back (not a full window): first is NULL
    if window.stat == "mean":
        total = " + ".join(f"COALESCE({x}, {_dbl(0)})" for x in lags)
        return f"({total}) / NULLIF({agg}_n, 0)"
    if window.stat in ("min", "max"):
        # Portable: LEAST/GREATEST return NULL on any NULL in some dialects, so a missing value is replaced
        # by one that is present (all missing stays NULL).
        fn = "LEAST" if window.stat == "min" else "GREATEST"
        return f"{fn}({', '.join(f'COALESCE({x}, {agg}_any)' for x in lags)})"
    if window.stat == "change":
        return f"{last} - {first}"
    if window.stat == "pct_change":
        return f"{_dbl(100)} * ({last} - {first}) / NULLIF(ABS({first}), 0)"
    # slope: Σ (n·x − Σx)·y / (n·Σx² − (Σx)²) over the present values, positions x = N−1 … 0 from the current
    # row back; every coefficient is an exact integer.
    n = len(lags)
    terms = " + ".join(f"COALESCE(({agg}_n * {n - 1 - k} - {agg}_sx) * {x}, {_dbl(0)})" for k, x in enumerate(lags))
    return (f"CASE WHEN {agg}_full = 1 AND {agg}_n >= 2 THEN ({terms}) / "
            f"NULLIF(CAST({agg}_n * {agg}_sxx - {agg}_sx * {agg}_sx AS DOUBLE), 0) END")


def _window_steps(plan: Plan, columns: dict[str, int], history: str, carried: list[str]
                  ) -> list[tuple[str, str, list[str]]]:
    """The steps that turn window metrics' columns into their statistics ``hs_v{i}``, as (from, name, columns).

    1. ``hs_lag``: each column's values up to N − 1 snapshots back (an ordered pass per history bucket with
       an account check, as for the score history), and whether the account has N rows up to the date;
    2. ``hs_agg``: per metric, the counts the statistic needs; 3. ``hs_stat``: the statistic, kept where finite,
    and only the columns later steps read (windows materialise every column they carry).
    """
    windowed = [(i, m) for i, m in enumerate(plan.metrics) if m.window is not None]
    if not windowed:
        return []
    depth = {c: max(m.window.snapshots for _, m in windowed if m.column == c) for c in columns}
    same = "LAG(hs_account_id, {k}) OVER ({h}) = hs_account_id"
    lag = [f"CASE WHEN {same.format(k=k, h=history)} THEN LAG(hs_w{j}, {k}) OVER ({history}) END AS hs_w{j}_{k}"
           for c, j in columns.items() for k in range(1, depth[c])]
    lag += [f"CASE WHEN {same.format(k=k - 1, h=history)} THEN 1 ELSE 0 END AS hs_full{k}"
            for k in sorted({m.window.snapshots for _, m in windowed if m.window.stat == "slope"})]
    agg, stat = [], []
    for i, m in windowed:
        j, size = columns[m.column], m.window.snapshots
        lags = [f"hs_w{j}", *(f"hs_w{j}_{k}" for k in range(1, size))]
        present = [f"CASE WHEN {x} IS NULL THEN 0 ELSE {{}} END" for x in lags]
        if m.window.stat in ("mean", "slope"):
            agg.append(f"{' + '.join(p.format(1) for p in present)} AS hs_a{i}_n")
        if m.window.stat == "slope":
            agg.append(f"{' + '.join(p.format(size - 1 - k) for k, p in enumerate(present))} AS hs_a{i}_sx")
            agg.append(f"{' + '.join(p.format((size - 1 - k) ** 2) for k, p in enumerate(present))} AS hs_a{i}_sxx")
            agg.append(f"hs_full{size} AS hs_a{i}_full")
        if m.window.stat in ("min", "max"):
            agg.append(f"COALESCE({', '.join(lags)}) AS hs_a{i}_any")
        stat.append(f"{_finite(_window_stat_sql(m.window, lags, f'hs_a{i}'))} AS hs_v{i}")
    return [("hs_src", "hs_lag", ["*", *lag]), ("hs_lag", "hs_agg", ["*", *agg]),
            ("hs_agg", "hs_stat", [*carried, *stat])]


def _steps_sql(value: str, cuts: tuple[float, ...], points: tuple[float, ...]) -> str:
    whens = " ".join(f"WHEN {value} < {_dbl(c)} THEN {_dbl(p)}" for c, p in zip(cuts, points, strict=False))
    return f"CASE WHEN {value} IS NULL THEN NULL {whens} ELSE {_dbl(points[-1])} END"


def _peer_partition(within: tuple[str, ...], seg_alias: dict[str, str]) -> str:
    return ", ".join(["hs_snapshot_date", *(seg_alias[c] for c in within)])


def _null_safe_join(table: str, on: list[tuple[str, str]]) -> str:
    """``LEFT JOIN table`` onto ``hs_b`` where each (ours, theirs) pair is equal or both NULL (a window's
    partition keeps NULL as a group of its own, so the join must too)."""
    cond = " AND ".join(f"{table}.{theirs} IS NOT DISTINCT FROM hs_b.{ours}" for ours, theirs in on)
    return f"LEFT JOIN {table} ON {cond}"


def _peer_windows(plan: Plan, seg_alias: dict[str, str]) -> list[str]:
    """Percent ranks and ratios to the peer mean as windows over (date, peer segments): ``single`` layout."""
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
                win.append(_percent_rank(v, f"RANK() OVER ({over}) - 1", n, f"hs_s{i}_{k}"))
            elif isinstance(spec, VsAverage):
                mean = f"AVG({v}) OVER (PARTITION BY {_peer_partition(spec.within, seg_alias)})"
                win.append(_ratio(v, mean, f"hs_r{i}_{k}"))
    return win


def _peer_aggregates(plan: Plan, seg_alias: dict[str, str], before: str) -> tuple[list[str], list[str], list[str]]:
    """Percent ranks and ratios to the peer mean without a window over whole peer groups: ``cluster`` layout.

    A peer mean is ``AVG`` per (date, segments) with ``GROUP BY`` — partial sums on every input task, then a
    small table joined back. A percent rank counts rows per (date, segments, value) the same way; a running
    sum over those distinct values (one row each) gives the number of values ranked below — ``RANK() − 1``,
    ties sharing it — and the group's count. So no task ever holds a whole peer group's rows.

    Returns:
        (named steps ``name AS (…)``, ``LEFT JOIN`` clauses onto ``hs_b``, the columns they yield).
    """
    steps: list[str] = []
    joins: list[str] = []
    cols: list[str] = []
    for i, m in enumerate(plan.metrics):
        v = f"hs_v{i}"
        for k, spec in enumerate(m.variants):
            if not isinstance(spec, Percentile | VsAverage):
                continue
            name = f"hs_pg{i}_{k}"
            keys = ["hs_snapshot_date", *(seg_alias[c] for c in spec.within)]
            groups = ", ".join(keys)
            on = [(key, key) for key in keys]
            if isinstance(spec, VsAverage):
                steps.append(f"{name} AS (\n  SELECT {groups}, AVG({v}) AS hs_mean\n  FROM {before}\n"
                             f"  GROUP BY {groups}\n)")
                joins.append(_null_safe_join(name, on))
                cols.append(_ratio(f"hs_b.{v}", f"{name}.hs_mean", f"hs_r{i}_{k}"))
                continue
            # NULLS FIRST (BigQuery's default) as in the single layout: no value here is NULL, but a default
            # sqlglot must spell out is refused in BigQuery's window SUM.
            order = f"{v} DESC" if spec.lower_is_better else f"{v} NULLS FIRST"
            counted = (f"SELECT {groups}, {v}, COUNT(*) AS hs_c FROM {before} WHERE {v} IS NOT NULL "
                       f"GROUP BY {groups}, {v}")
            steps.append(
                f"{name} AS (\n  SELECT {groups}, {v},\n"
                f"    SUM(hs_c) OVER (PARTITION BY {groups} ORDER BY {order} "
                "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - hs_c AS hs_below,\n"
                f"    SUM(hs_c) OVER (PARTITION BY {groups}) AS hs_n\n  FROM ({counted}) AS hs_t\n)")
            joins.append(_null_safe_join(name, [*on, (v, v)]))
            cols.append(_percent_rank(f"hs_b.{v}", f"{name}.hs_below", f"{name}.hs_n", f"hs_s{i}_{k}"))
    return steps, joins, cols


def _percent_rank(v: str, below: str, n: str, name: str) -> str:
    """100 × (values ranked below) / (values − 1); 50 for a group of one; NULL without a value."""
    return (f"CASE WHEN {v} IS NULL THEN NULL WHEN {n} = 1 THEN {_dbl(50)} ELSE 100 * "
            f"CAST({below} AS DOUBLE) / NULLIF(CAST({n} - 1 AS DOUBLE), 0) END AS {name}")


def _ratio(v: str, mean: str, name: str) -> str:
    """The value over its peer mean, rounded (see the module docstring); NULL without a value or a mean."""
    return (f"CASE WHEN {v} IS NULL OR {mean} = 0 THEN NULL "
            f"ELSE ROUND({v} / NULLIF({mean}, 0), {RATIO_DECIMALS}) END AS {name}")


def compile_sql(model: Model, source: str = '"portfolio"', ordered: bool = True,
                numeric: Collection[str] = (), layout: str = "single") -> str:
    """Compile a model to ONE DuckDB SQL query over ``source``.

    Args:
        model: a validated model.
        source: FROM-able SQL text: a quoted table name, ``read_parquet('…')`` or a registered view.
            It must have ``account_id``, ``snapshot_date`` and the model's metric and segment columns.
        ordered: end with ``ORDER BY account_id, snapshot_date``. Leave it on except when writing the
            result somewhere order does not matter (``COPY … TO`` a Parquet file, a warehouse table): the
            final sort of every output column is the single most expensive step on big inputs.
        numeric: columns the source is known to hold as numbers (or booleans): cast directly. Any other
            column is read by the text rule (:func:`_number`), which gives the same values for numbers, only
            slower — so a query printed for an unknown table is right whatever its types.
        layout: ``single`` (one machine) or ``cluster`` (Spark, a warehouse), see :data:`LAYOUTS`; the
            results are the same.

    Returns:
        The query; its result has the columns described in :func:`score`, ordered by account_id and date.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r} — use one of: {', '.join(LAYOUTS)}")
    cluster = layout == "cluster"
    plan = Plan(model)
    # Only peer-group segments travel through the query; profile conditions are decided up front.
    peer_segments = dict.fromkeys(c for m in plan.metrics for v in m.variants
                                  if isinstance(v, Percentile | VsAverage) for c in v.within)
    seg_alias = {c: f"hs_g{j}" for j, c in enumerate(peer_segments)}

    # 1. Project the source onto internal names: user column names appear only here, quoted.
    # Keys stay as the source typed them: windows partitioned by a computed expression (even a cast) lose
    # the column statistics DuckDB uses to size its partitions, and then run out of memory on big inputs —
    # the one exception is the history bucket, an integer of known range. Text conversion happens where
    # values are compared or output.
    src = [f"{quote_ident('account_id')} AS hs_account_id", f"{quote_ident('snapshot_date')} AS hs_snapshot_date"]
    if not cluster:  # a function of the account alone: the history windows' partition (see step 5)
        src.append(f"{_history_bucket(quote_ident('account_id'))} AS hs_bucket")
    src += [f"{quote_ident(c)} AS {a}" for c, a in seg_alias.items()]
    prof_cases = []
    for k, when in enumerate(plan.whens):
        conds = " AND ".join(f"CAST({quote_ident(c)} AS VARCHAR) IN ({', '.join(quote_literal(v) for v in vals)})"
                             for c, vals in when.items())
        prof_cases.append(f"WHEN {conds} THEN {k}")
    src.append(f"CASE {' '.join(prof_cases)} ELSE {len(plan.whens)} END AS hs_p" if prof_cases else "0 AS hs_p")
    for i, m in enumerate(plan.metrics):
        col = quote_ident(m.column)
        if m.window is None and any(needs_numeric(v) for v in m.variants):
            src.append(f"{_number(col, m.column in numeric)} AS hs_v{i}")
        if any(isinstance(v, Categories) for v in m.variants):
            src.append(f"LOWER({_trimmed(col)}) AS hs_c{i}")
    # Window statistics are computed in steps of their own (see _window_steps); their columns are read once.
    window_columns = {c: j for j, c in enumerate(dict.fromkeys(m.column for m in plan.metrics if m.window))}
    src += [f"{_number(quote_ident(c), c in numeric)} AS hs_w{j}" for c, j in window_columns.items()]
    # Previous snapshots of the same account come from ordered passes with an account check, not from
    # PARTITION BY account: DuckDB buffers ~0.5 GB per thread for a window over a million partitions, while
    # an ordered pass spills to disk. The passes run per bucket (:func:`_history_bucket`; any function of
    # the account would do), so the sort is split and runs on every thread: one pass over all rows was a
    # single-threaded sort and half the run time on 12 M rows.
    # NULLS FIRST (BigQuery's default) keeps the transpiled SQL plain. On a cluster the partition is the
    # account itself: as many tasks as accounts, where 64 buckets would cap the stage at 64 tasks; the
    # account check is then always true, and the rows read are the same.
    key = "hs_account_id" if cluster else "hs_bucket"
    history = f"PARTITION BY {key} ORDER BY hs_account_id NULLS FIRST, hs_snapshot_date NULLS FIRST"
    carried = [part.rsplit(" AS ", 1)[1] for part in src if not part.endswith(tuple(
        f" AS hs_w{j}" for j in window_columns.values()))]
    steps = _window_steps(plan, window_columns, history, carried)

    # 2. Peer groups (percent ranks, ratios to the peer mean): windows, or on a cluster aggregates joined back.
    before = steps[-1][1] if steps else "hs_src"
    if cluster:
        peer_steps, peer_joins, win = _peer_aggregates(plan, seg_alias, before)
    else:
        peer_steps, peer_joins, win = [], [], _peer_windows(plan, seg_alias)

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
                expr = _steps_sql(f"hs_r{i}_{k}", spec.cuts, spec.scored_points)
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
        # Every division by a column is NULLIF-guarded, even where a CASE already rules zero out: engines
        # under ANSI rules (Spark, BigQuery) may raise on x / 0 however the branch reads.
        weights.append(f"CASE WHEN {present(i)} AND hs_gt > 0 THEN ({gw} / NULLIF(hs_gt, 0)) * "
                       f"(hs_w{i} / NULLIF(hs_gs{m.group}, 0)) "
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
            if len(lags) == 1:  # GREATEST of one argument is refused by Spark (and pointless)
                peak = lags[0]
            else:
                peaks.append(f"COALESCE({', '.join(lags)}) AS hs_any{k}")
                peak = f"GREATEST({', '.join(f'COALESCE({lag}, hs_any{k})' for lag in lags)})"
            cond = f"ROUND({peak} - hs_score, {SCORE_DECIMALS}) >= {_dbl(a.drop)}"
        alert_parts.append(f"COALESCE(CASE WHEN {cond} THEN {quote_literal('; ' + a.name)} END, '')")
    alerts = f"SUBSTR({' || '.join(alert_parts)}, 3)" if alert_parts else "''"
    profile_name = _case_by_profile([quote_literal(n) for n in plan.profile_names])
    slice_cols, rank_steps, rank_joins, rank_in_band = _rank_in_band(cluster)
    peaks += slice_cols

    out = [
        f"CAST(hs_account_id AS VARCHAR) AS {quote_ident('account_id')}",
        f"CAST(hs_snapshot_date AS TIMESTAMP) AS {quote_ident('snapshot_date')}",
        f"{profile_name} AS {quote_ident('profile')}",
        f"hs_score AS {quote_ident('score')}",
        f"hs_band AS {quote_ident('band')}",
        f"hs_grade AS {quote_ident('grade')}",
        f"ROUND(hs_score - hs_l1, {SCORE_DECIMALS}) AS {quote_ident('change')}",
        f"{rank_in_band} AS {quote_ident('rank_in_band')}",
        f"{alerts} AS {quote_ident('alerts')}",
    ]
    for i, m in enumerate(plan.metrics):
        out += [f"hs_s{i} AS {quote_ident(m.name + '_score')}",
                f"hs_e{i} AS {quote_ident(m.name + '_weight')}",
                f"hs_e{i} * COALESCE(hs_s{i}, 0) AS {quote_ident(m.name + '_contribution')}"]

    kept = ["hs_account_id", *([] if cluster else ["hs_bucket"]), "hs_snapshot_date", "hs_p",
            *(f"hs_{x}{i}" for i in range(len(plan.metrics)) for x in ("s", "e"))]

    def step(name: str, cols: list[str], source: str) -> str:
        return f"{name} AS (\n  SELECT\n    " + ",\n    ".join(cols) + f"\n  FROM {source}\n)"

    ctes = [
        step("hs_src", src, source),
        *(step(name, cols, before) for before, name, cols in steps),
        *peer_steps,
        step("hs_win", ["hs_b.*", *win], f"{before} AS hs_b" + "".join(f"\n  {join}" for join in peer_joins)),
        step("hs_row", ["*", *row], "hs_win"),
        step("hs_pick", ["*", *pick], "hs_row"),
        step("hs_grp", ["*", *eff], "hs_pick"),
        step("hs_tot", ["*", f"({total}) AS hs_gt"], "hs_grp"),
        step("hs_eff", ["*", *weights], "hs_tot"),
        # Only what the history windows and the output need: windows materialise every column they carry.
        step("hs_scored", [*kept, f"{score_expr} AS hs_score"], "hs_eff"),
        step("hs_hist", ["*", *hist], "hs_scored"),
        step("hs_peaks", ["*", *peaks], "hs_hist"),
        *rank_steps,
    ]
    return ("WITH " + ",\n".join(ctes) + "\nSELECT\n  " + ",\n  ".join(out) + "\nFROM hs_peaks AS hs_b"
            + "".join(f"\n{join}" for join in rank_joins)
            + ("\nORDER BY CAST(hs_account_id AS VARCHAR), hs_snapshot_date" if ordered else ""))


def _rank_in_band(cluster: bool) -> tuple[list[str], list[str], list[str], str]:
    """Rank in band (1 = lowest score in its date and band, ties broken by account id) over ``hs_peaks``.

    On one machine a ``ROW_NUMBER`` window over (date, band). On a cluster that window would run as at most
    dates × 4 tasks, so rows are partitioned by a slice of the score as well, (date, band, FLOOR(score × 10)):
    the rank is the number of rows in the band's lower slices (counted per slice with ``GROUP BY``, a running
    sum over at most 1,001 slices a date) plus the row's number inside its slice. A slice holds scores in
    one tenth of a point, so every row of a lower slice has a lower score: the same numbers as the window.

    Returns:
        (columns for ``hs_peaks``, named steps, ``LEFT JOIN`` clauses onto ``hs_b``, the rank expression).
    """
    order = "ORDER BY hs_score NULLS FIRST, CAST(hs_account_id AS VARCHAR) NULLS FIRST"
    if not cluster:
        return [], [], [], f"ROW_NUMBER() OVER (PARTITION BY hs_snapshot_date, hs_band {order})"
    keys = {"hs_snapshot_date": "hs_rd", "hs_band": "hs_rb", "hs_slice": "hs_rs"}
    groups = ", ".join(keys)
    counted = f"SELECT {groups}, COUNT(*) AS hs_c FROM hs_peaks GROUP BY {groups}"
    below = (f"hs_slices AS (\n  SELECT {', '.join(f'{k} AS {a}' for k, a in keys.items())},\n"
             "    SUM(hs_c) OVER (PARTITION BY hs_snapshot_date, hs_band ORDER BY hs_slice NULLS FIRST "
             f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - hs_c AS hs_below\n  FROM ({counted}) AS hs_t\n)")
    within = f"ROW_NUMBER() OVER (PARTITION BY hs_b.hs_snapshot_date, hs_b.hs_band, hs_b.hs_slice {order})"
    return ([f"FLOOR(hs_score * {_dbl(RANK_SLICES_PER_POINT)}) AS hs_slice"], [below],
            [_null_safe_join("hs_slices", list(keys.items()))], f"CAST(hs_slices.hs_below + {within} AS BIGINT)")


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


def prepare_frame(model: Model, df: pd.DataFrame) -> pd.DataFrame:
    """Only the columns the model reads, with numeric metrics already numbers (same rules as LiveScorer)."""
    problems = required_problems(model, [str(c) for c in df.columns])
    if problems:
        raise ModelError(problems, source="data")
    plan = Plan(model)
    out = {c: df[c] for c in ID_COLUMNS}
    for c in plan.segments:
        out[c] = pd.Series(to_text(df[c]), index=df.index, dtype=object)
    for column in dict.fromkeys(m.column for m in plan.metrics):
        if all(needs_numeric(v) for m in plan.metrics if m.column == column for v in m.variants):
            out[column] = pd.Series(to_number(df[column]), index=df.index)
        else:  # categories (or read both ways, then TRY_CAST parses the text)
            out[column] = pd.Series(to_text(df[column]), index=df.index, dtype=object)
    return pd.DataFrame(out, index=df.index)


_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN")


def numeric_columns(described: list[tuple]) -> list[str]:
    """The columns DuckDB's ``DESCRIBE`` rows (name, type, …) show as numbers or booleans."""
    return [str(r[0]) for r in described if str(r[1]).split("(")[0] in _NUMERIC_TYPES]


def _reader(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return f"read_parquet({quote_literal(path)})"
    if suffix in (".csv", ".tsv", ".txt"):
        return f"read_csv_auto({quote_literal(path)})"
    raise ValueError(f"{path}: cannot score a '{suffix}' file directly — use .parquet or .csv, "
                     "or load it with lib.data.ingest.load_portfolio first")


def tidy(result: pd.DataFrame) -> pd.DataFrame:
    """A result table with the dtypes :func:`score` promises (whichever engine computed it)."""
    result["snapshot_date"] = result["snapshot_date"].astype("datetime64[ns]")
    result["rank_in_band"] = result["rank_in_band"].astype("int64")
    result["grade"] = result["grade"].astype(object).where(result["grade"].notna(), None)
    for c in ("account_id", "profile", "band", "alerts"):
        result[c] = result[c].astype(object)
    return result


def score(model: Model, data: pd.DataFrame | str | Path | duckdb.DuckDBPyRelation,
          con: duckdb.DuckDBPyConnection | None = None, layout: str = "single") -> pd.DataFrame:
    """Score a portfolio with DuckDB.

    Args:
        model: a validated model.
        data: the canonical portfolio DataFrame, a .parquet/.csv path, or a DuckDB relation.
        con: connection to use (a cursor of it is taken); default a fresh in-memory connection.
        layout: the query's layout (:data:`LAYOUTS`): ``cluster`` runs here what Spark and warehouses run.

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
            frame = prepare_frame(model, data)
            view = f"hs_input_{uuid.uuid4().hex}"
            # Arrow, not the DataFrame: DuckDB's pandas scan converts object (text) columns row by row.
            cur.register(view, pa.Table.from_pandas(frame, preserve_index=False))
            numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c].dtype)]
            try:
                query = compile_sql(model, quote_ident(view), numeric=numeric, layout=layout)
                result = cur.execute(query).fetch_arrow_table().to_pandas()
            finally:
                cur.unregister(view)
        elif isinstance(data, duckdb.DuckDBPyRelation):
            problems = required_problems(model, list(data.columns))
            if problems:
                raise ModelError(problems, source="data")
            view = f"hs_input_{uuid.uuid4().hex}"
            numeric = numeric_columns(list(zip(data.columns, map(str, data.types), strict=True)))
            query = compile_sql(model, view, numeric=numeric, layout=layout)
            result = data.query(view, query).fetch_arrow_table().to_pandas()
        else:
            path = Path(data)
            source = _reader(path)
            described = cur.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
            problems = required_problems(model, [r[0] for r in described])
            if problems:
                raise ModelError(problems, source=str(path))
            query = compile_sql(model, source, numeric=numeric_columns(described), layout=layout)
            result = cur.execute(query).fetch_arrow_table().to_pandas()
    finally:
        if not own:
            cur.close()
        else:
            base.close()
    return tidy(result)


STREAM_MEMORY_LIMIT = "1GB"  # DuckDB's own limit for file-to-file scoring; peak RSS stays near 1.3 GB


def score_file(model: Model, source: str | Path, out: str | Path, columns: list[str] | None = None,
               ordered: bool = False, memory_limit: str | None = None, engine: str = "auto") -> int:
    """Score a Parquet or CSV file straight into a Parquet or CSV file, in bounded memory.

    A Parquet source is scored by :func:`lib.engine.parquet_files.score_parquet` (numpy, date by date: 12 M
    rows in ~11 s). Otherwise DuckDB reads the source, runs the compiled query and writes the result
    without the table ever being in Python, spilling to a temporary folder beyond ``memory_limit`` (12 M
    rows in ~45 s). Either way 12 M rows take well under 2 GB of memory, where :func:`score` would need
    several GB for the DataFrame alone.

    Args:
        model: a validated model.
        source: .parquet or .csv file with ``account_id``, ``snapshot_date`` and the model's columns.
        out: the .parquet or .csv file to write (replaced if it exists).
        columns: output columns to keep, in order (default: every column :func:`score` returns).
        ordered: sort rows by account_id, snapshot_date (slower on big inputs). Otherwise a Parquet source's
            rows come by snapshot date, and a CSV source's in no particular order.
        memory_limit: DuckDB memory limit (default ``$HSS_DUCKDB_MEMORY_LIMIT``, else 1GB).
        engine: ``auto`` (numpy for a Parquet source, else SQL), ``numpy`` or ``sql`` (the compiled query).

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
    if engine not in ("auto", "numpy", "sql"):
        raise ValueError(f"unknown engine {engine!r} — use auto, numpy or sql")
    if engine == "numpy" or (engine == "auto" and source.suffix.lower() in (".parquet", ".pq")):
        return score_parquet(model, source, out, columns=columns, ordered=ordered)
    reader = _reader(source)
    with tempfile.TemporaryDirectory(prefix="hss-spill-") as spill:
        con = connect(memory_limit=memory_limit or os.environ.get(MEMORY_LIMIT_ENV) or STREAM_MEMORY_LIMIT)
        try:
            con.execute(f"SET temp_directory = {quote_literal(spill)}")
            described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
            problems = required_problems(model, [r[0] for r in described])
            if problems:
                raise ModelError(problems, source=str(source))
            query = compile_sql(model, reader, ordered=ordered, numeric=numeric_columns(described))
            if columns is not None:
                query = f"SELECT {', '.join(quote_ident(c) for c in columns)} FROM ({query})"
            options = "FORMAT parquet" if kind == "parquet" else "FORMAT csv, HEADER true, TIMESTAMPFORMAT '%Y-%m-%d'"
            con.execute(f"COPY ({query}) TO {quote_literal(out)} ({options})")
            return int(con.execute(f"SELECT count(*) FROM {_reader(out)}").fetchone()[0])
        finally:
            con.close()


# ---------------------------------------------------------------------------------------------- quality


def metric_quality(model: Model, df: pd.DataFrame) -> pd.DataFrame:
    """How usable the column each metric reads is: counts of missing, non-numeric and unknown-category values.

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
        if metric.column not in df.columns:
            missing = n
        else:
            raw = df[metric.column]
            blank = raw.isna().to_numpy()
            if raw.dtype == object:
                blank |= raw.astype(str).str.strip(TRIM_CHARACTERS).to_numpy() == ""
            missing = int(blank.sum())
            if isinstance(metric.score, Categories):
                known = pd.Series(category_key(raw)).isin(list(metric.score.lookup())).to_numpy()
                bad = ~blank & ~known
                unknown = int(bad.sum())
            else:
                bad = ~blank & np.isnan(to_number(raw))
                non_numeric = int(bad.sum())
            examples = [str(v) for v in pd.unique(raw[bad])[:3]]
        rows.append({"metric": name, "label": metric.label, "rows": n, "missing": missing,
                     "non_numeric": non_numeric, "unknown_categories": unknown,
                     "usable": n - missing - non_numeric - unknown, "examples": examples})
    return pd.DataFrame(rows, columns=["metric", "label", "rows", "missing", "non_numeric", "unknown_categories",
                                       "usable", "examples"])


__all__ = ["DIALECTS", "LAYOUTS", "compile_sql", "metric_quality", "numeric_columns", "prepare_frame",
           "score", "score_file", "tidy", "to_dialect"]
