"""The numpy evaluation of the scoring plan: the Tune page's slider loop, and file-to-file scoring.

The SQL (:func:`lib.engine.sql.compile_sql`) is the definition; this evaluates the same :class:`~lib.engine.plan.Plan`
with whole-column numpy passes, and tests hold the two equal row for row. The rows come prepared by a
:class:`Rows`: a DataFrame sorted by account and date (:class:`LiveScorer`), a Parquet file
(:mod:`lib.engine.parquet_files`), or one snapshot date of either (:class:`DateSlice`). Text columns are kept as
codes into their distinct values, so reading rules (``CAST AS VARCHAR``, category keys, profile conditions)
run once per distinct value, not per row. Ranks are per group sorts, and an account's previous snapshot is
a row index (``prev``), so nothing depends on the rows' order; a window statistic follows ``prev`` back
N − 1 times (:func:`window_statistic`). Independent metrics are scored on all cores (numpy releases the GIL on
big arrays).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lib.engine.model import (
    LOWEST_GRADE,
    Categories,
    Linear,
    Metric,
    Model,
    ModelError,
    Percentile,
    ScoreSpec,
    Steps,
    VsAverage,
    Window,
)
from lib.engine.plan import (
    BANDS,
    RATIO_DECIMALS,
    SCORE_DECIMALS,
    Plan,
    category_key,
    required_problems,
    round_half_away,
    to_number,
    to_text,
)

# Above this many groups a rank sorts all rows at once instead of looping over groups in Python.
_LOOP_GROUPS = 1024
_WORKERS = min(4, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------- rows


class Rows:
    """Rows to score, in a fixed order, with the keys every step needs.

    Attributes:
        n: number of rows.
        account_code: per row, the account's position among the distinct ids sorted as text.
        n_accounts: number of distinct accounts.
        date_code: per row, the snapshot date's position in ``dates``.
        dates: the distinct snapshot dates, oldest first.
        prev: per row, the row of the same account's previous snapshot (-1: none), as a position in the
            history (the rows themselves, unless they are a part of a bigger set: see :class:`DateSlice`).
        history_prev: ``prev`` of every row of the history.
        repeated: whether some account has more than one row at a snapshot date.
    """

    n: int
    account_code: np.ndarray
    n_accounts: int
    date_code: np.ndarray
    dates: pd.DatetimeIndex
    prev: np.ndarray
    repeated: bool

    is_part = False  # the history ``prev`` points into is a bigger set of rows (:class:`DateSlice`)

    @property
    def history_prev(self) -> np.ndarray:
        return self.prev

    def series(self, col: str) -> pd.Series:
        """A column's raw values in row order (numeric metrics are read from these)."""
        raise NotImplementedError

    def history_series(self, col: str) -> pd.Series:
        """A column's raw values over the history ``prev`` points into (window statistics read these)."""
        return self.series(col)

    def factorized(self, col: str) -> tuple[np.ndarray, pd.Series]:
        """A column as (codes per row, -1 for missing; its distinct raw values)."""
        raise NotImplementedError


def previous_rows(account_code: np.ndarray, date_code: np.ndarray, n_dates: int) -> tuple[np.ndarray, bool]:
    """Per row, the row holding the same account's previous snapshot (-1: its first); and whether some
    account has two rows at one date.

    Rows are taken in (account, date) order; rows of one account at one date follow each other in row
    order, as a stable sort leaves them.
    """
    n = len(account_code)
    prev = np.full(n, -1, dtype=np.int32 if n < 2**31 else np.int64)
    if n < 2:
        return prev, False
    order = account_date_order(account_code, date_code, n_dates)
    same = account_code[order[1:]] == account_code[order[:-1]]
    prev[order[1:][same]] = order[:-1][same]
    same_date = date_code[order[1:]] == date_code[order[:-1]]
    return prev, bool((same & same_date).any())


def account_date_order(account_code: np.ndarray, date_code: np.ndarray, n_dates: int) -> np.ndarray:
    """Row positions sorted by account, then date (a stable sort: rows of one account at one date keep their
    order)."""
    return np.argsort(account_code.astype(np.int64) * max(n_dates, 1) + date_code, kind="stable")


class FrameRows(Rows):
    """A canonical portfolio DataFrame, its rows sorted by account_id (as text), then snapshot_date."""

    def __init__(self, df: pd.DataFrame) -> None:
        acc = df["account_id"].astype(str).to_numpy(dtype=object)
        dates = pd.to_datetime(df["snapshot_date"]).to_numpy(dtype="datetime64[ns]")
        acc_code, acc_values = pd.factorize(acc, sort=True)
        date_code, date_values = pd.factorize(dates, sort=True)
        order = np.lexsort((dates, acc_code))
        self.df = df
        self.order = order
        self.n = len(order)
        self.account_code = acc_code[order]
        self.account_values = np.asarray(acc_values, dtype=object)
        self.n_accounts = len(acc_values)
        self.date_code = date_code[order]
        self.dates = pd.DatetimeIndex(date_values, name="snapshot_date")
        self.prev, self.repeated = previous_rows(self.account_code, self.date_code, len(self.dates))

    def series(self, col: str) -> pd.Series:
        return self.df[col].iloc[self.order].reset_index(drop=True)

    def factorized(self, col: str) -> tuple[np.ndarray, pd.Series]:
        codes, uniques = pd.factorize(self.series(col))
        return codes, pd.Series(uniques)


class DateSlice(Rows):
    """The rows of one or a few consecutive snapshot dates, a contiguous part of rows sorted by date,
    evaluated on their own.

    Everything but the history is decided within a date (peer groups, ranks in band), so a big file can be
    scored a date at a time in little memory; ``prev`` keeps pointing into the whole, whose earlier dates are
    scored first.
    """

    is_part = True

    def __init__(self, whole: Rows, start: int, stop: int) -> None:
        self.whole, self.span = whole, slice(start, stop)
        self.n = stop - start
        self.account_code = whole.account_code[self.span]
        self.n_accounts = whole.n_accounts
        first, last = int(whole.date_code[start]), int(whole.date_code[stop - 1])
        self.date_code = whole.date_code[self.span] - first
        self.dates = whole.dates[first:last + 1]
        self.prev = whole.prev[self.span]
        self.repeated = whole.repeated

    @property
    def history_prev(self) -> np.ndarray:
        return self.whole.prev

    def series(self, col: str) -> pd.Series:
        return self.whole.series(col).iloc[self.span].reset_index(drop=True)

    def history_series(self, col: str) -> pd.Series:
        return self.whole.series(col)

    def factorized(self, col: str) -> tuple[np.ndarray, pd.Series]:
        codes, uniques = self.whole.factorized(col)
        return codes[self.span], uniques


# ---------------------------------------------------------------------------------------------- helpers


def _steps_np(v: np.ndarray, cuts: tuple[float, ...], points: tuple[float, ...]) -> np.ndarray:
    """``points[number of cuts <= v]`` (NaN stays NaN): the SQL's ``CASE WHEN v < cut …``."""
    if len(cuts) <= 8:  # a few comparisons beat a binary search per row
        step = np.zeros(len(v), dtype=np.int8)
        for c in cuts:
            step += v >= c
    else:
        step = np.searchsorted(np.asarray(cuts, dtype=float), v, side="right")
    out = np.asarray(points, dtype=float)[step]
    out[np.isnan(v)] = np.nan
    return out


def _per_code(values: np.ndarray, codes: np.ndarray, missing: Any) -> np.ndarray:  # noqa: ANN401 - a fill value
    """``values[codes]`` with ``missing`` where the code is -1."""
    return np.append(values, np.asarray([missing], dtype=values.dtype))[codes]


def ranks(group: np.ndarray, n_groups: int, key: np.ndarray, ties: str) -> np.ndarray:
    """1-based rank of each row's key among the keys of its group, ascending (NaN keys last).

    Args:
        group: per row, its group (0 … n_groups - 1).
        n_groups: number of groups.
        key: per row, what to rank by.
        ties: ``min`` — equal keys share the lowest rank (SQL ``RANK``); ``first`` — equal keys are ranked in
            row order (``ROW_NUMBER`` over rows already in tie-break order).
    """
    kind = "stable" if ties == "first" else "quicksort"
    n = len(key)
    out = np.empty(n, dtype=np.int32 if n < 2**31 else np.int64)
    if n_groups > _LOOP_GROUPS:  # many small groups: sort all rows at once (by key, then by group)
        by_key = np.argsort(key, kind=kind)
        order = by_key[np.argsort(group[by_key], kind="stable")]
        g, k = group[order], key[order]
        pos = np.arange(n)
        new_group = np.r_[True, g[1:] != g[:-1]]
        new_run = new_group | np.r_[True, k[1:] != k[:-1]] if ties == "min" else np.ones(n, dtype=bool)
        start_of = np.maximum.accumulate
        out[order] = start_of(np.where(new_run, pos, 0)) - start_of(np.where(new_group, pos, 0)) + 1
        return out
    # Few big groups: group rows together (a radix sort of small codes), then sort each group's keys, which
    # fit in cache, on every core (numpy sorts without the GIL).
    order = np.argsort(group.astype(np.int16), kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(group, minlength=n_groups))]

    def rank_group(a: int, b: int) -> None:
        rows = order[a:b]
        rows = rows[np.argsort(key[rows], kind=kind)]
        rank = np.arange(1, b - a + 1, dtype=out.dtype)
        if ties == "min":
            k = key[rows]
            rank = np.maximum.accumulate(np.where(np.r_[True, k[1:] != k[:-1]], rank, 0))
        out[rows] = rank

    spans = [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        list(pool.map(lambda span: rank_group(*span), spans))
    return out


def window_statistic(window: Window, lagged: Callable[[], Iterator[tuple[np.ndarray, np.ndarray | None]]]
                     ) -> np.ndarray:
    """A window statistic per row (see :class:`lib.engine.model.Window`), the arithmetic of the compiled SQL.

    Args:
        window: the window.
        lagged: yields, from the current row back (``window.snapshots`` times), the column's values at that
            many snapshots before (NaN where there is no such row or no value) and those rows (-1: none; None
            for the current row). One pass at a time, so a long window never holds all its values at once;
            ``slope`` takes two.
    """
    size, stat = window.snapshots, window.stat
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if stat in ("mean", "min", "max"):
            acc = count = None
            for values, _ in lagged():
                present = ~np.isnan(values)
                if stat == "mean":  # the SQL's COALESCE(x, 0) + …, summed in the same order
                    term = np.where(present, values, 0.0)
                    acc, count = (term, present.astype(np.int64)) if acc is None else (acc + term, count + present)
                else:
                    acc = values if acc is None else (np.fmin if stat == "min" else np.fmax)(acc, values)
            out = acc / np.where(count > 0, count, np.nan) if stat == "mean" else acc
        elif stat in ("change", "pct_change"):  # no row N − 1 back (not a full window): first is NaN
            values = [v for k, (v, _) in enumerate(lagged()) if k in (0, size - 1)]
            last, first = values[0], values[-1]
            out = last - first
            if stat == "pct_change":
                out = np.divide(100.0 * out, np.abs(first))
                out[first == 0] = np.nan
        else:  # slope: Σ (n·x − Σx)·y / (n·Σx² − (Σx)²), positions x = N−1 … 0 from the current row back
            n = sx = sxx = 0
            full = None
            for k, (values, rows) in enumerate(lagged()):
                present = ~np.isnan(values)
                n, sx, sxx = n + present, sx + present * (size - 1 - k), sxx + present * (size - 1 - k) ** 2
                full = rows is not None and rows >= 0  # the last: a row N − 1 back
            total = None
            for k, (values, _) in enumerate(lagged()):
                term = (n * (size - 1 - k) - sx).astype(float) * values
                term[np.isnan(values)] = 0.0
                total = term if total is None else total + term
            out = total / (n * sxx - sx * sx).astype(float)
            out[~full | (n < 2)] = np.nan
        return np.where(np.abs(out) <= 1e308, out, np.nan)  # not finite: missing, as values are read


def _missing_key(source: tuple[str, Window | None], spec: ScoreSpec) -> tuple:
    """What decides whether a spec's score is missing: the values (column and window), plus the known
    categories or peer groups."""
    if isinstance(spec, Categories):
        return ("cat", source, tuple(sorted(spec.lookup())))
    if isinstance(spec, VsAverage):
        return ("ratio", source, spec.within)  # a peer mean of 0 makes the ratio missing
    return ("num", source)


def _effective_weights(plan: Plan, missing: str, pidx: np.ndarray, has: np.ndarray
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


def band_codes(scores: np.ndarray, red: float, yellow: float) -> np.ndarray:
    """Index into :data:`BANDS` per score (0 red, 1 yellow, 2 green, 3 no data); a score on a cut-off is in
    the lower band."""
    codes = (scores > red).astype(np.int8)  # NaN compares False: set below
    codes += scores > yellow
    codes[np.isnan(scores)] = BANDS.index("no data")
    return codes


@dataclass(frozen=True)
class Coded:
    """A text column as codes into its labels (-1: missing), turned into objects or Arrow strings at the end."""

    codes: np.ndarray
    labels: tuple[str, ...]

    def objects(self) -> np.ndarray:
        """The column as an object array (None for missing)."""
        return _per_code(np.asarray(self.labels, dtype=object), self.codes, None)


@dataclass(frozen=True)
class Scored:
    """A model evaluated over all rows: what the score columns are cut from (see :meth:`Evaluator.columns`).

    Only what needs other rows is kept for every row; bands, grades, changes and alerts are worked out per
    slice of rows, from the overall score and ``Rows.prev``.
    """

    model: Model
    plan: Plan
    pidx: np.ndarray  # profile index per row
    scores: list[np.ndarray]  # per metric, its score per row (NaN: missing)
    eff_table: np.ndarray  # effective weights per pattern × metric
    pattern: np.ndarray  # per row, its pattern (profile × which metrics have a value)
    overall: np.ndarray
    rank_in_band: np.ndarray


# Cache entries that depend on the model (as opposed to the data): evicted when no longer in use.
# A window statistic is one too: a slider on the window's length must not keep a column per length tried.
_MODEL_CACHE_KINDS = frozenset({"score", "pick", "zero", "profiles", "patterns", "stat"})


class Evaluator:
    """Evaluates models over prepared :class:`Rows`, caching what a slider move cannot change.

    Metric scores are cached per (metric, spec), so re-evaluating after one change recomputes only the
    touched metric, the weighted sum and what follows. Model-level entries not used by the last two
    evaluations are dropped, so memory stays bounded however many moves are made. ``transient`` names cache
    kinds to recompute instead of keep (file scoring keeps no per-row float columns it will not reuse).
    Calls are serialised with a lock, so one instance can be shared between sessions.
    """

    def __init__(self, rows: Rows, transient: frozenset[str] = frozenset()) -> None:
        self.rows = rows
        self._transient = transient
        self._local = threading.local()
        self._cache: dict[tuple, Any] = {}
        self._used: set[tuple] = set()
        self._used_before: set[tuple] = set()
        self._lock = threading.RLock()

    # -- cached inputs

    def _cached(self, key: tuple, build) -> Any:  # noqa: ANN001, ANN401 - a zero-argument callable
        if key[0] in self._transient:  # the last of each kind is kept: a metric's variants read one column
            slots = self._local.__dict__.setdefault("last", {})  # per thread: metrics run in parallel
            last = slots.get(key[0])
            if last is None or last[0] != key:
                slots.pop(key[0], None)  # free the old value before building the new one
                last = slots[key[0]] = (key, build())
            return last[1]
        if key[0] in _MODEL_CACHE_KINDS:
            self._used.add(key)
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _numbers(self, col: str) -> np.ndarray:
        return self._cached(("num", col), lambda: to_number(self.rows.series(col)))

    def _factorized(self, col: str) -> tuple[np.ndarray, pd.Series]:
        return self._cached(("codes", col), lambda: self.rows.factorized(col))

    def _segment(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        """A segment column as (codes per distinct raw value, -1 missing; each value's text)."""
        codes, uniques = self._factorized(col)
        return codes, self._cached(("seg", col), lambda: to_text(uniques))

    def _peers(self, within: tuple[str, ...]) -> tuple[np.ndarray, int]:
        """Peer group per row (snapshot date × the ``within`` columns' values), and the number of groups."""
        def build() -> tuple[np.ndarray, int]:
            key = self.rows.date_code.astype(np.int64)
            n = len(self.rows.dates)
            for col in within:
                codes, uniques = self._factorized(col)  # missing → -1: a peer group of its own
                key = key * (len(uniques) + 1) + (codes + 1)
                n *= len(uniques) + 1
                if n > 4 * len(key) + 1024:  # mostly empty combinations: number only those that occur
                    key, labels = pd.factorize(key)
                    n = len(labels)
            return key.astype(np.int32 if n < 2**31 else np.int64), n
        return self._cached(("peers", within), build)

    def _history_numbers(self, col: str, rows: np.ndarray) -> np.ndarray:
        """A column's numbers at rows of the history (NaN where the row is -1)."""
        if not self.rows.is_part:
            values = self._numbers(col)[rows]
        else:  # read only the rows wanted, not the whole history
            values = to_number(self.rows.history_series(col).iloc[np.maximum(rows, 0)])
        values[rows < 0] = np.nan
        return values

    def _values(self, col: str, window: Window | None) -> np.ndarray:
        """What a numeric metric scores: the column's numbers, or their window statistic."""
        if window is None:
            return self._numbers(col)

        def lagged() -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
            yield self._numbers(col), None
            rows = self.rows.prev
            for k in range(1, window.snapshots):
                if k > 1:
                    rows = np.where(rows >= 0, self.rows.history_prev[rows], -1)
                yield self._history_numbers(col, rows), rows

        return self._cached(("stat", col, window), lambda: window_statistic(window, lagged))

    def _spec_score(self, source: tuple[str, Window | None], spec: ScoreSpec) -> np.ndarray:
        return self._cached(("score", source, repr(spec)), lambda: self._compute_spec(source, spec))

    def _compute_spec(self, source: tuple[str, Window | None], spec: ScoreSpec) -> np.ndarray:
        col, window = source
        if isinstance(spec, Categories):  # never windowed (refused when the model is read)
            codes, uniques = self._factorized(col)
            points = pd.Series(category_key(uniques)).map(spec.lookup()).to_numpy(dtype=float, na_value=np.nan)
            return _per_code(points, codes, np.nan)
        v = self._values(col, window)
        with np.errstate(invalid="ignore", divide="ignore"):
            if isinstance(spec, Linear):
                t = np.subtract(v, spec.red)
                t /= spec.green - spec.red
                t *= 100  # rounding is monotonic: t·100 clips to 0 / 100 exactly where t <= 0 / t >= 1
                return np.clip(t, 0.0, 100.0, out=t)
            if isinstance(spec, Steps):
                return _steps_np(v, spec.cuts, spec.points)
            group, n_groups = self._peers(spec.within)
            if isinstance(spec, Percentile):
                # 100 · (rank − 1) / (peers with a value − 1), in the SQL's order; in place (big inputs).
                out = ranks(group, n_groups, -v if spec.lower_is_better else v, ties="min").astype(float)
                valid = ~np.isnan(v)
                others = (np.bincount(group[valid], minlength=n_groups) - 1.0)[group]
                out -= 1
                out *= 100
                out /= others
                out[others == 0] = 50.0  # the only one with a value among its peers
                out[~valid] = np.nan
                return out
            mean = pd.Series(v).groupby(group).transform("mean").to_numpy(dtype=float)
            ratio = np.where(np.isnan(v) | (mean == 0), np.nan, round_half_away(v / mean, RATIO_DECIMALS))
            return _steps_np(ratio, spec.cuts, spec.scored_points)

    def _profile_index(self, plan: Plan) -> np.ndarray:
        def build() -> np.ndarray:
            idx = np.full(self.rows.n, len(plan.whens), dtype=np.int8 if len(plan.whens) < 127 else np.int64)
            for k in reversed(range(len(plan.whens))):  # reversed: the first matching profile wins
                mask = np.ones(self.rows.n, dtype=bool)
                for col, values in plan.whens[k].items():
                    codes, texts = self._segment(col)
                    mask &= _per_code(pd.Series(texts, dtype=object).isin(values).to_numpy(), codes, False)
                idx[mask] = k
            return idx
        return self._cached(("profiles", repr(plan.whens)), build)

    # -- evaluation

    def _metric_score(self, plan: Plan, i: int, pidx: np.ndarray) -> np.ndarray:
        """Metric i's score per row under each row's profile (NaN: missing)."""
        m = plan.metrics[i]

        def build() -> np.ndarray:
            variants = [self._spec_score(m.source, spec) for spec in m.variants]
            return variants[0] if len(variants) == 1 else np.choose(np.asarray(m.variant_of_profile)[pidx], variants)

        return self._cached(("pick", *self._pick_key(plan, i)), build)

    @staticmethod
    def _pick_key(plan: Plan, i: int) -> tuple:
        m = plan.metrics[i]
        return m.source, tuple(repr(v) for v in m.variants), m.variant_of_profile, repr(plan.whens)

    def _zero_filled(self, plan: Plan, i: int, s: np.ndarray) -> np.ndarray:
        return self._cached(("zero", *self._pick_key(plan, i)), lambda: np.where(np.isnan(s), 0.0, s))

    def _patterns(self, plan: Plan, pidx: np.ndarray, scores: list[np.ndarray]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows grouped by (profile, which metrics have a value): (pattern per row; per pattern, its profile
        and whether each metric has a value).

        Effective weights depend on nothing else, so they are computed once per pattern. The cache key
        names what decides missingness (not thresholds or weights), so slider moves reuse it.
        """
        has_keys = tuple((tuple(_missing_key(m.source, v) for v in m.variants), m.variant_of_profile)
                         for m in plan.metrics)
        k, n_profiles = len(scores), len(plan.profile_names)

        def build() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            if n_profiles << k <= 1 << 16:  # the pattern is the bit code itself: a table of every code
                code = pidx.astype(np.int32)
                for s in scores:
                    code <<= 1
                    code |= ~np.isnan(s)
                table = np.arange(n_profiles << k)
                return code, table >> k, (table[:, None] >> np.arange(k - 1, -1, -1)) & 1 == 1
            code = pidx.astype(np.int64)
            for j, s in enumerate(scores):
                code = code * 2 + ~np.isnan(s)
                if j % 40 == 39:  # keep the code inside int64
                    code = pd.factorize(code)[0].astype(np.int64)
            inverse, uniques = pd.factorize(code)
            first = np.empty(len(uniques), dtype=np.int64)
            first[inverse[::-1]] = np.arange(len(code))[::-1]
            return inverse.astype(np.int32), pidx[first], np.column_stack([~np.isnan(s[first]) for s in scores])

        return self._cached(("patterns", repr(plan.whens), has_keys), build)

    def overall_scores(self, model: Model) -> tuple[Plan, np.ndarray, list[np.ndarray], np.ndarray, np.ndarray,
                                                    np.ndarray]:
        """Evaluate up to the overall score: (plan, profile index, metric scores, effective weights per
        pattern, pattern per row, overall score per row)."""
        with self._lock:
            self._used = set()
            result = self._evaluate(model)
            keep = self._used | self._used_before
            for key in [k for k in self._cache if k[0] in _MODEL_CACHE_KINDS and k not in keep]:
                del self._cache[key]
            self._used_before = self._used
            self._local.__dict__.pop("last", None)
            return result

    def _evaluate(self, model: Model) -> tuple[Plan, np.ndarray, list[np.ndarray], np.ndarray, np.ndarray,
                                               np.ndarray]:
        plan = Plan(model)
        pidx = self._profile_index(plan)
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:  # metrics are independent; numpy frees the GIL
            scores = list(pool.map(lambda i: self._metric_score(plan, i, pidx), range(len(plan.metrics))))
        pattern, profile_of, has = self._patterns(plan, pidx, scores)
        eff_table, usable = _effective_weights(plan, model.missing, profile_of, has)
        total = eff_table[:, 0][pattern] * self._zero_filled(plan, 0, scores[0])  # a model has 1+ metrics
        for i in range(1, len(scores)):
            total += eff_table[:, i][pattern] * self._zero_filled(plan, i, scores[i])
        overall = np.where(usable[pattern], round_half_away(total, SCORE_DECIMALS), np.nan)
        return plan, pidx, scores, eff_table, pattern, overall

    def scored(self, model: Model) -> Scored:
        """Evaluate ``model`` over every row, up to what needs the other rows: overall score and rank in band."""
        plan, pidx, scores, eff_table, pattern, overall = self.overall_scores(model)
        rank = self._rank_in_band(overall, band_codes(overall, model.bands.red, model.bands.yellow))
        return Scored(model, plan, pidx, scores, eff_table, pattern, overall, rank)

    def _earlier(self, history: np.ndarray, rows: slice | np.ndarray, lag: int) -> np.ndarray:
        """The score ``lag`` snapshots earlier in the same account, for some rows (NaN where there is none).

        ``history`` holds the scores ``Rows.prev`` points at (the rows' own, or the whole's).
        """
        idx = self.rows.prev[rows]
        for _ in range(lag - 1):
            idx = np.where(idx >= 0, self.rows.history_prev[idx], -1)
        return np.where(idx >= 0, history[idx], np.nan)

    def _rank_in_band(self, overall: np.ndarray, band: np.ndarray) -> np.ndarray:
        """1 = lowest score within (snapshot date, band), ties by account_id; 'no data' rows by account_id."""
        rows = self.rows
        # One integer key: the score (exact: it is rounded to SCORE_DECIMALS), then the account.
        scaled = np.where(np.isnan(overall), 0.0, np.rint(overall * 10.0**SCORE_DECIMALS)).astype(np.int64)
        if len(scaled):
            scaled -= scaled.min()
        # Bit fields (powers of two), so the packed key below splits with shifts and masks, not divisions.
        account_bits = max(rows.n_accounts - 1, 1).bit_length()
        score_bits = max(int(scaled.max()) if len(scaled) else 1, 1).bit_length()
        if score_bits + account_bits > 62:  # not with scores of 0–100: rank the distinct scores instead
            scaled = np.unique(scaled, return_inverse=True)[1].reshape(-1)
            score_bits = max(int(scaled.max()), 1).bit_length()
        scaled <<= account_bits
        scaled += rows.account_code
        group = rows.date_code.astype(np.int64) * len(BANDS) + band  # one group per (date, band)
        cells = len(rows.dates) << account_bits  # (date, account) pairs
        if (rows.repeated or (len(rows.dates) * len(BANDS)).bit_length() + score_bits + account_bits > 62
                or cells > 4 * rows.n + 1024):
            return ranks(group, len(rows.dates) * len(BANDS), scaled, ties="first")
        # Every (date, account) has one row: sort (group, score, account) as one integer (a fast value sort,
        # no argsort), then find each row again from its date and account.
        shift = score_bits + account_bits
        scaled += group << shift
        scaled.sort()
        row_of = np.empty(cells, dtype=np.int64)
        row_of[(rows.date_code.astype(np.int64) << account_bits) + rows.account_code] = np.arange(rows.n)
        starts = np.r_[0, np.cumsum(np.bincount(group, minlength=len(rows.dates) * len(BANDS)))]
        out = np.empty(rows.n, dtype=np.int32 if rows.n < 2**31 else np.int64)
        mask = (1 << account_bits) - 1
        for a in range(0, rows.n, 1 << 20):  # in blocks: a few small temporaries instead of several big ones
            key = scaled[a:a + (1 << 20)]
            g = key >> shift
            date = g // len(BANDS)
            out[row_of[(date << account_bits) + (key & mask)]] = np.arange(a + 1, a + 1 + len(key)) - starts[g]
        return out

    def columns(self, sc: Scored, rows: slice | np.ndarray | None = None, names: list[str] | None = None,
                history: np.ndarray | None = None) -> Iterator[tuple[str, np.ndarray | Coded]]:
        """The score columns (all of :func:`lib.engine.sql.score`'s but the ids) for some rows, one at a time.

        Args:
            sc: from :meth:`scored`.
            rows: which rows, as a slice or row positions (default all).
            names: which columns, in order (default all).
            history: the overall scores ``Rows.prev`` points at (default: these rows' own).
        """
        rows = slice(None) if rows is None else rows
        history = sc.overall if history is None else history
        model, overall = sc.model, sc.overall[rows]
        band = band_codes(overall, model.bands.red, model.bands.yellow)

        def grade() -> Coded:
            if not model.grades:
                return Coded(np.full(len(overall), -1, dtype=np.int8), ())
            # Minimums are validated highest first: a grade's index is how many minimums the score misses.
            codes = np.zeros(len(overall), dtype=np.int8)
            for minimum in model.grades.values():
                codes += overall < minimum
            codes[np.isnan(overall)] = -1
            return Coded(codes, (*model.grades, LOWEST_GRADE))

        def alerts() -> Coded:
            code = np.zeros(len(overall), dtype=np.int64)
            with np.errstate(invalid="ignore"):
                for k, a in enumerate(model.alerts):
                    if a.to_band is not None:
                        target = BANDS.index(a.to_band)
                        prev = self._earlier(history, rows, 1)
                        was = band_codes(prev, model.bands.red, model.bands.yellow)
                        fired = (band == target) & ~np.isnan(prev) & (was != target)
                    else:
                        peak = np.full(len(overall), np.nan)
                        for lag in range(1, a.within + 1):
                            peak = np.fmax(peak, self._earlier(history, rows, lag))
                        fired = round_half_away(peak - overall, SCORE_DECIMALS) >= a.drop
                    code |= fired.astype(np.int64) << k
            names = [a.name for a in model.alerts]
            return Coded(code, tuple("; ".join(nm for b, nm in enumerate(names) if c >> b & 1)
                                     for c in range(2 ** len(names))))

        def weight(i: int) -> np.ndarray:
            return sc.eff_table[:, i][sc.pattern[rows]]

        def contribution(i: int) -> np.ndarray:
            s = sc.scores[i][rows]
            return weight(i) * np.where(np.isnan(s), 0.0, s)

        builders: dict[str, Any] = {
            "profile": lambda: Coded(sc.pidx[rows], tuple(sc.plan.profile_names)),
            "score": lambda: overall,
            "band": lambda: Coded(band, BANDS),
            "grade": grade,
            "change": lambda: round_half_away(overall - self._earlier(history, rows, 1), SCORE_DECIMALS),
            "rank_in_band": lambda: sc.rank_in_band[rows].astype(np.int64),
            "alerts": alerts,
        }
        for i, m in enumerate(sc.plan.metrics):
            builders[f"{m.name}_score"] = lambda i=i: sc.scores[i][rows]
            builders[f"{m.name}_weight"] = lambda i=i: weight(i)
            builders[f"{m.name}_contribution"] = lambda i=i: contribution(i)
        for name in names if names is not None else list(builders):
            yield name, builders[name]()


class LiveScorer(Evaluator):
    """The numpy evaluation for the Tune page's slider loop, over a portfolio DataFrame.

    Data is prepared once (sorted by account and date; text columns as codes; peer groups keyed) and the
    caches are warmed with ``model``; a slider move then recomputes only the touched metric, the weighted
    sum and the counts. Results equal :func:`lib.engine.sql.score` row for row.
    """

    def __init__(self, df: pd.DataFrame, model: Model) -> None:
        problems = required_problems(model, [str(c) for c in df.columns])
        if problems:
            raise ModelError(problems, source="data")
        super().__init__(FrameRows(df))
        self.overall_scores(model)

    @property
    def row_order(self) -> np.ndarray:
        """Positions in the input DataFrame of the scorer's rows (sorted by account_id, snapshot_date)."""
        return self.rows.order

    @property
    def account_codes(self) -> np.ndarray:
        """Per row (in :attr:`row_order`), the account's position among the sorted distinct account ids."""
        return self.rows.account_code

    @property
    def account_ids(self) -> np.ndarray:
        """Per row (in :attr:`row_order`), the account id as text."""
        return self.rows.account_values[self.rows.account_code]

    @property
    def date_codes(self) -> np.ndarray:
        """Per row (in :attr:`row_order`), the snapshot date's position in :attr:`dates`."""
        return self.rows.date_code

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The distinct snapshot dates, oldest first."""
        return self.rows.dates

    def values(self, metric: Metric) -> np.ndarray:
        """What a numeric metric scores per row, in :attr:`row_order`: its column's numbers, or its window
        statistic (cached like the scores: a window slider's histogram costs what its preview does)."""
        with self._lock:
            return self._values(metric.column, metric.window)

    def overall(self, model: Model) -> np.ndarray:
        """Just the overall score per row, in :attr:`row_order` (NaN = no data): the cheapest preview."""
        return self.overall_scores(model)[-1]

    def band_counts(self, model: Model) -> pd.DataFrame:
        """Accounts per band per snapshot date: index snapshot_date, columns :data:`BANDS` (counts)."""
        codes = self.rows.date_code * len(BANDS) + band_codes(self.overall(model), model.bands.red, model.bands.yellow)
        counts = np.bincount(codes, minlength=len(self.dates) * len(BANDS)).reshape(-1, len(BANDS))
        return pd.DataFrame(counts, index=self.dates, columns=pd.Index(BANDS, name="band"))

    def rescore(self, model: Model) -> pd.DataFrame:
        """Score ``model`` on the prepared data; same columns, order and values as :func:`lib.engine.sql.score`."""
        out: dict[str, Any] = {"account_id": self.account_ids,
                               "snapshot_date": self.dates.to_numpy()[self.rows.date_code]}
        out.update((k, v.objects() if isinstance(v, Coded) else v) for k, v in self.columns(self.scored(model)))
        return pd.DataFrame(out)


def metric_values(model: Model, df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per metric, the value it scores on each row of a portfolio DataFrame (in the frame's row order): the
    column's raw value (text stays text), or for a window metric its statistic (NaN: missing)."""
    out: dict[str, np.ndarray] = {}
    evaluator = None
    for name, metric in model.metrics.items():
        if metric.window is None:
            out[name] = df[metric.column].to_numpy()
            continue
        evaluator = evaluator or Evaluator(FrameRows(df))  # rows by account and date, prepared once
        values = np.empty(len(df))
        values[evaluator.rows.order] = evaluator._values(metric.column, metric.window)
        out[name] = values
    return out


__all__ = ["Coded", "DateSlice", "Evaluator", "FrameRows", "LiveScorer", "Rows", "Scored", "account_date_order",
           "band_codes", "metric_values", "previous_rows", "ranks", "window_statistic"]
