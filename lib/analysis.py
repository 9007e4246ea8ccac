"""Calibration, backtests, cohorts, suggested models and model comparison.

Everything here is a pure function over the score table (``lib.scoring.score``) joined with the canonical
portfolio table. Results are DataFrames or small frozen dataclasses with a one-line human ``caption`` so a
page can show them as they are. Nothing loops over rows in Python: statistics are computed with numpy /
pandas on whole columns (the bootstrap, for instance, draws all resamples as one multinomial matrix).

Orientation: a health score is *higher = healthier*, so every AUC here reads "the probability that a random
good account (healthy / renewed) scores higher than a random bad one (struggling / churned)"; 0.5 is chance.

Entry points for the pages (``scored`` = :func:`score_portfolio`, i.e. scores joined with the portfolio):

- Compare: :func:`labelled_accounts` → :func:`separation`, :func:`metric_separation`,
  :func:`label_distributions`, :func:`misfits`.
- Validate: :func:`backtest` (→ :class:`Backtest`), :func:`metric_cohorts`, :func:`suggest_model`
  (→ :class:`Suggestion`; :func:`starter_model` when there is no base model), :func:`fit_churn_model`
  (→ :class:`ChurnModel`), :func:`compare_models` (→ :class:`ModelComparison` with a :class:`FlipMatrix`).
- Plain statistics on arrays: :func:`roc_auc`, :func:`auc_interval`, :func:`lift_by_decile`,
  :func:`churn_by_bins`, :func:`churn_by_band`, :func:`flip_matrix`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lib.methods import category_keys, method_of
from lib.model import (
    DEFAULT_PROFILE,
    Categories,
    Linear,
    Metric,
    Model,
    ModelChange,
    ScoreSpec,
    Steps,
    Window,
    diff_models,
    effective_weights,
    metric_labels,
    model_from_dict,
    model_to_dict,
    normalise_category,
    spec_to_dict,
)
from lib.plan import BANDS
from lib.scored_portfolio import ATTRIBUTES, attach_attributes
from lib.scoring import score
from lib.vectorised import LiveScorer

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

MIN_OUTCOMES = 30  # fewer churned (or renewed) accounts than this and a backtest cannot be judged
_BOOT_CELLS = 1_000_000  # resamples × distinct scores per bootstrap chunk: a few 8 MB arrays at a time


class AnalysisError(ValueError):
    """Input that an analysis cannot use; the message says what, where and how to fix it."""


def _as_float(values: object) -> np.ndarray:
    return pd.to_numeric(pd.Series(values).reset_index(drop=True), errors="coerce").to_numpy(float)


def _as_bool(values: object) -> tuple[np.ndarray, np.ndarray]:
    """Return (value, known) arrays for a boolean-like column that may hold NA."""
    s = pd.Series(values).reset_index(drop=True).astype("boolean")
    known = s.notna().to_numpy()
    return s.fillna(False).to_numpy(bool), known


def _scored_outcomes(scores: object, flags: object) -> tuple[np.ndarray, np.ndarray]:
    """Scores (float) and a boolean outcome as arrays, rows with a missing score or flag left out."""
    s = _as_float(scores)
    y, known = _as_bool(flags)
    keep = known & ~np.isnan(s)
    return s[keep], y[keep]


def roc_auc(scores: object, positive: object) -> float:
    """ROC AUC of ``scores`` for telling ``positive`` rows from the others.

    The Mann–Whitney form: the probability that a random positive row scores higher than a random negative
    one, ties counting half (equal to ``sklearn.metrics.roc_auc_score``). Rows with a missing score or label
    are left out.

    Returns:
        The AUC, or NaN when either class is empty.
    """
    s, y = _scored_outcomes(scores, positive)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auc_interval(
    scores: object, positive: object, *, n_boot: int = 500, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval for :func:`roc_auc`.

    Stratified: each resample keeps the number of positives and negatives, so every resample has an AUC.
    Resampling n rows with replacement is a multinomial draw over the distinct score values, so all
    ``n_boot`` resamples are drawn as one matrix (in chunks that bound memory) instead of looping.

    Returns:
        ``(low, high)``; ``(nan, nan)`` when either class is empty or ``n_boot`` is 0.
    """
    s, y = _scored_outcomes(scores, positive)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0 or n_boot <= 0:
        return float("nan"), float("nan")
    values, idx = np.unique(s, return_inverse=True)
    k = len(values)
    p_pos = np.bincount(idx[y], minlength=k) / n1
    p_neg = np.bincount(idx[~y], minlength=k) / n0
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOT_CELLS // k)
    aucs = []
    for start in range(0, n_boot, chunk):  # loops over chunks of resamples, not rows
        size = min(chunk, n_boot - start)
        pos = rng.multinomial(n1, p_pos, size=size)
        neg = rng.multinomial(n0, p_neg, size=size)
        below = np.cumsum(neg, axis=1) - neg  # negatives strictly below each distinct value
        aucs.append((pos * (below + 0.5 * neg)).sum(axis=1) / (n1 * n0))
    tail = (1 - level) / 2
    low, high = np.quantile(np.concatenate(aucs), [tail, 1 - tail])
    return float(low), float(high)


def lift_by_decile(scores: object, churned: object, *, bins: int = 10) -> pd.DataFrame:
    """Churn rate and lift per score decile, lowest scores (decile 1, the most at risk) first.

    Deciles hold equal numbers of accounts (ties at a boundary are split in input order), so the first
    decile is "the 10% of accounts the model likes least". Rows with a missing score or outcome are left out.

    Returns:
        DataFrame ``decile, accounts, score_min, score_max, churned, churn_rate, lift, captured`` where
        ``lift`` is the decile's churn rate over the overall rate and ``captured`` the cumulative share of all
        churned accounts found in this and the lower deciles.
    """
    s, y = _scored_outcomes(scores, churned)
    n = len(s)
    columns = ["decile", "accounts", "score_min", "score_max", "churned", "churn_rate", "lift", "captured"]
    if n == 0:
        return pd.DataFrame(columns=columns)
    decile = np.empty(n, dtype=int)
    decile[np.argsort(s, kind="stable")] = np.arange(n) * min(bins, n) // n + 1
    frame = pd.DataFrame({"decile": decile, "score": s, "churned": y})
    out = frame.groupby("decile").agg(
        accounts=("score", "size"), score_min=("score", "min"), score_max=("score", "max"), churned=("churned", "sum")
    )
    base = y.mean()
    out["churn_rate"] = out["churned"] / out["accounts"]
    out["lift"] = out["churn_rate"] / base if base > 0 else np.nan
    out["captured"] = out["churned"].cumsum() / y.sum() if y.any() else np.nan
    return out.reset_index()[columns]


def _quantile_keys(v: pd.Series, bins: int) -> pd.Series:
    """Ordered bin keys: heavy values (share >= 1/bins) alone, quantile intervals of the other values between."""
    share = v.value_counts(normalize=True)
    heavy = share.index[share >= 1 / bins].to_numpy(float)
    rest = v[v.notna() & ~v.isin(heavy)]
    inner = np.linspace(0, 1, max(bins - len(heavy), 1) + 1)[1:-1]
    edges = np.unique(np.concatenate([rest.quantile(inner).to_numpy(float) if len(rest) else [], heavy]))
    x = v.to_numpy(float)
    i = np.searchsorted(edges, x, side="left")
    on_heavy = np.isin(x, heavy)
    # key 2i: the interval just below edges[i] (right-inclusive); key 2i+1: the heavy value edges[i] itself
    return pd.Series(np.where(np.isnan(x), np.nan, 2 * i + on_heavy), index=v.index, dtype=float)


def churn_by_bins(values: object, churned: object, *, bins: int = 10) -> pd.DataFrame:
    """Churn rate per bin of one column: quantile bins for numbers, one bin per category otherwise.

    A numeric column with at most ``bins`` distinct values gets one bin per value (so a count such as open
    tickets reads 0, 1, 2, ...); otherwise bins are quantiles, except that a value held by at least 1/``bins``
    of the rows (0 days late, say) gets a bin of its own and the quantile bins share out the rest, so one
    value never straddles two bins. Missing values get their own last bin. Rows with an unknown outcome are
    left out.

    Returns:
        DataFrame ``bin, label, lo, hi, accounts, churned, churn_rate, lift`` (``lo``/``hi`` are the
        smallest and largest value in a numeric bin, NaN for categories and the missing bin).
    """
    raw = pd.Series(values).reset_index(drop=True)
    y, known = _as_bool(churned)
    raw, y = raw[known].reset_index(drop=True), y[known]
    numeric = pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)
    if numeric:
        v = pd.to_numeric(raw, errors="coerce").astype(float)
        keys = v if v.nunique() <= bins else _quantile_keys(v, bins)
        frame = pd.DataFrame({"key": keys, "value": v, "churned": y})
        out = frame.groupby("key", dropna=False).agg(
            accounts=("churned", "size"), churned=("churned", "sum"), lo=("value", "min"), hi=("value", "max")
        )
        out = out.reset_index(drop=True)
        # .astype(str): mapping an empty float column gives floats, which cannot be joined with " – "
        lo, hi = (out[c].map("{:.4g}".format).astype(str) for c in ("lo", "hi"))
        out["label"] = np.where(out["lo"].isna(), "missing", np.where(out["lo"] == out["hi"], lo, lo + " – " + hi))
    else:
        keys = raw.astype("string").str.strip()
        frame = pd.DataFrame({"key": keys, "churned": y})
        out = frame.groupby("key", dropna=False).agg(accounts=("churned", "size"), churned=("churned", "sum"))
        out = out.reset_index()
        missing = out["key"].isna()
        out = pd.concat([out[~missing], out[missing]], ignore_index=True)
        out["label"] = out["key"].fillna("missing").astype(str)
        out["lo"] = np.nan
        out["hi"] = np.nan
    out["bin"] = np.arange(1, len(out) + 1)
    base = y.mean() if len(y) else np.nan
    out["churn_rate"] = out["churned"] / out["accounts"]
    out["lift"] = out["churn_rate"] / base if base > 0 else np.nan
    return out[["bin", "label", "lo", "hi", "accounts", "churned", "churn_rate", "lift"]]


def _pct(x: float) -> str:
    return "n/a" if x is None or np.isnan(x) else f"{x:.0%}"


def _num(x: float) -> str:
    return "n/a" if x is None or np.isnan(x) else f"{x:.2f}"


def churn_by_band(bands: object, churned: object, arr: object = None) -> pd.DataFrame:
    """Accounts, churn and ARR per band, in band order (red, yellow, green, then 'no data' if any).

    Returns:
        DataFrame ``band, accounts, churned, renewed, churn_rate, arr, churned_arr`` (ARR columns are NaN
        when ``arr`` is not given). Rows with an unknown outcome are left out.
    """
    y, known = _as_bool(churned)
    b = pd.Series(bands).reset_index(drop=True).astype("string").fillna("no data")[known]
    a = _as_float(arr)[known] if arr is not None else np.full(int(known.sum()), np.nan)
    y = y[known]
    frame = pd.DataFrame({"band": b.to_numpy(), "churned": y, "arr": a, "churned_arr": np.where(y, a, 0.0)})
    grouped = frame.groupby("band")
    out = grouped.agg(accounts=("churned", "size"), churned=("churned", "sum")).join(
        grouped[["arr", "churned_arr"]].sum(min_count=1)
    )
    order = [band for band in BANDS if band != "no data" or band in out.index]
    out = out.reindex(order).fillna({"accounts": 0, "churned": 0}).astype({"accounts": int, "churned": int})
    out["renewed"] = out["accounts"] - out["churned"]
    out["churn_rate"] = out["churned"] / out["accounts"].replace(0, np.nan)
    if arr is None:
        out[["arr", "churned_arr"]] = np.nan
    return out.rename_axis("band").reset_index()[
        ["band", "accounts", "churned", "renewed", "churn_rate", "arr", "churned_arr"]
    ]


@dataclass(frozen=True, eq=False)
class FlipMatrix:
    """Band under model A (rows) × band under model B (columns) for the same accounts.

    Attributes:
        counts: accounts per (A band, B band), every band in both axes, so all cells sum to ``n_accounts``.
        arr: ARR per cell (zeros when no ARR was given).
        n_accounts: accounts compared.
        n_moved: accounts whose band differs between A and B.
        caption: one line for the page.
    """

    counts: pd.DataFrame
    arr: pd.DataFrame
    n_accounts: int
    n_moved: int
    caption: str


def flip_matrix(bands_a: object, bands_b: object, arr: object = None) -> FlipMatrix:
    """Cross-tabulate two band assignments of the same accounts (same order), with counts and ARR."""
    a = pd.Series(bands_a).reset_index(drop=True).astype("string").fillna("no data")
    b = pd.Series(bands_b).reset_index(drop=True).astype("string").fillna("no data")
    if len(a) != len(b):
        raise AnalysisError(f"flip matrix: {len(a)} bands for model A but {len(b)} for model B — pass one band per "
                            "account from each model, in the same account order")
    money = np.nan_to_num(_as_float(arr)) if arr is not None else np.zeros(len(a))
    order = list(BANDS)
    counts = pd.crosstab(a, b).reindex(index=order, columns=order, fill_value=0)
    arr_cells = pd.crosstab(a, b, values=money, aggfunc="sum").reindex(index=order, columns=order).fillna(0.0)
    for frame in (counts, arr_cells):
        frame.index.name, frame.columns.name = "model A", "model B"
    n = len(a)
    moved = int((a != b).sum())
    moved_arr = float(money[(a != b).to_numpy()].sum())
    caption = f"{moved:,} of {n:,} accounts ({_pct(moved / n if n else np.nan)}) change band"
    if arr is not None:
        caption += f", carrying {moved_arr:,.0f} ARR"
    return FlipMatrix(counts=counts, arr=arr_cells, n_accounts=n, n_moved=moved, caption=caption + ".")


@dataclass(frozen=True)
class Separation:
    """How well a score tells known-healthy from known-struggling accounts.

    Attributes:
        auc: probability that a random healthy account outscores a random struggling one (0.5 = chance;
            NaN when either group is empty).
        n_healthy: healthy accounts with a score.
        n_struggling: struggling accounts with a score.
        caption: one line for the page.
    """

    auc: float
    n_healthy: int
    n_struggling: int
    caption: str


def separation(scores: object, labels: object) -> Separation:
    """ROC AUC of the score for healthy vs struggling labels; other labels and missing scores are ignored.

    Args:
        scores: health scores (higher = healthier), one per account.
        labels: 'healthy' / 'struggling' (any case) per account, aligned with ``scores``; anything else is
            treated as unlabelled.
    """
    s = _as_float(scores)
    lab = pd.Series(labels).reset_index(drop=True).astype("string").str.strip().str.lower()
    healthy = (lab == "healthy").fillna(False).to_numpy(bool) & ~np.isnan(s)
    struggling = (lab == "struggling").fillna(False).to_numpy(bool) & ~np.isnan(s)
    n_h, n_s = int(healthy.sum()), int(struggling.sum())
    keep = healthy | struggling
    auc = roc_auc(s[keep], healthy[keep])
    if np.isnan(auc):
        caption = (f"Needs at least one healthy and one struggling account with a score "
                   f"(have {n_h} healthy, {n_s} struggling).")
    else:
        caption = (f"AUC {auc:.2f} on {n_h} healthy and {n_s} struggling accounts: a healthy account outscores "
                   f"a struggling one {auc:.0%} of the time (50% is chance).")
        if min(n_h, n_s) < 10:
            caption += " Few labels — treat it as a rough guide."
    return Separation(auc=auc, n_healthy=n_h, n_struggling=n_s, caption=caption)


# --- Compare: accounts with known health ------------------------------------------------------------------

LABELS = ("healthy", "struggling")


def _account_order(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``rows`` sorted by (account_id, snapshot_date), and the account codes in that order.

    Sorting two key arrays is far cheaper than sorting a wide scored frame; callers copy only rows they keep.
    """
    codes, _ = pd.factorize(rows["account_id"], sort=True)
    order = np.lexsort((rows["snapshot_date"].to_numpy("datetime64[ns]"), codes))
    return order, codes[order]


def _latest_rows(scored: pd.DataFrame, as_of: object = None) -> pd.DataFrame:
    """Each account's last row on or before ``as_of`` (default: its last row), sorted by account_id."""
    rows = scored if as_of is None else scored.loc[scored["snapshot_date"] <= pd.Timestamp(as_of)]
    if rows.empty:
        return rows
    order, codes = _account_order(rows)
    return rows.iloc[order[np.r_[codes[1:] != codes[:-1], True]]]


def _snapshot_rows(scored: pd.DataFrame, as_of: object = None) -> pd.DataFrame:
    """The rows of the last snapshot date on or before ``as_of`` (default: the last date), sorted by account_id.

    Unlike :func:`_latest_rows`, accounts without a row at that date (they had left) are not carried forward.
    """
    dates = scored["snapshot_date"]
    if as_of is not None:
        dates = dates.loc[dates <= pd.Timestamp(as_of)]
    if dates.empty:
        return scored.iloc[:0]
    rows = scored.loc[scored["snapshot_date"] == dates.max()]
    return rows.iloc[np.argsort(rows["account_id"].to_numpy(str), kind="stable")]


def _clean_labels(labels: pd.Series) -> pd.Series:
    cleaned = labels.astype("string").str.strip().str.lower()
    return cleaned.where(cleaned.isin(LABELS))


def labelled_accounts(
    scored: pd.DataFrame, labels: pd.Series | dict[str, str] | None = None, *, as_of: object = None
) -> pd.DataFrame:
    """Each labelled account's latest scored row (on or before ``as_of``) with its ``label``.

    File labels come from the scored portfolio's ``health_label`` column (an account's last non-blank one);
    labels set by hand (``labels``: account_id → 'healthy' / 'struggling') win over the file's. Accounts
    with neither are left out.

    Args:
        scored: score table joined with the portfolio attributes (``lib.attach_attributes``).
        labels: hand-set labels, e.g. from the workspace.
        as_of: snapshot date to compare at; default each account's latest snapshot.

    Returns:
        The scored rows plus a ``label`` column ('healthy' / 'struggling'), sorted by account_id.
    """
    from_file = pd.Series(dtype="string")
    if "health_label" in scored.columns:
        rows = scored.loc[scored["health_label"].notna(), ["account_id", "snapshot_date", "health_label"]]
        rows = rows.assign(health_label=_clean_labels(rows["health_label"])).dropna(subset=["health_label"])
        from_file = _latest_rows(rows).set_index("account_id")["health_label"]
    by_hand = _clean_labels(pd.Series(labels if labels is not None else {}, dtype=object))
    merged = by_hand.dropna().combine_first(from_file)
    latest = _latest_rows(scored, as_of)
    out = latest.assign(label=latest["account_id"].map(merged))
    return out.loc[out["label"].notna()].reset_index(drop=True)


MIN_LABELS = 5  # fewer healthy (or struggling) accounts with a value than this and a metric's AUC is not judged


def _verdict(auc: float, n_healthy: int, n_struggling: int) -> str:
    if np.isnan(auc) or min(n_healthy, n_struggling) < MIN_LABELS:
        return f"too few labelled accounts with a value to judge (need {MIN_LABELS} of each)"
    if auc >= 0.7:
        return "separates well"
    if auc >= 0.6:
        return "separates somewhat"
    if auc > 0.45:
        return "barely separates"
    return "points the wrong way: struggling accounts score higher — check its direction"


def metric_separation(table: pd.DataFrame, model: Model) -> pd.DataFrame:
    """How well each metric's score alone separates healthy from struggling accounts, best first.

    Metric scores are already oriented (higher = healthier), so an AUC above 0.5 means the metric points the
    right way and below 0.5 that its thresholds run the wrong way round. Metrics with fewer than
    ``MIN_LABELS`` healthy or struggling accounts with a value come last, unjudged.

    Args:
        table: output of :func:`labelled_accounts`.
        model: the model whose ``{metric}_score`` columns the table holds.

    Returns:
        DataFrame ``metric, metric_label, auc, n_healthy, n_struggling, verdict``.
    """
    names = metric_labels(model)
    rows = []
    for column in model.metrics:  # one pass per metric column, each vectorised
        sep = separation(table.get(f"{column}_score", pd.Series(np.nan, index=table.index)), table["label"])
        rows.append((column, names[column], sep.auc, sep.n_healthy, sep.n_struggling,
                     _verdict(sep.auc, sep.n_healthy, sep.n_struggling)))
    out = pd.DataFrame(rows, columns=["metric", "metric_label", "auc", "n_healthy", "n_struggling", "verdict"])
    judged = np.minimum(out["n_healthy"], out["n_struggling"]) >= MIN_LABELS
    order = np.lexsort((-out["auc"].fillna(-1).to_numpy(), ~judged.to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def label_distributions(table: pd.DataFrame, model: Model) -> pd.DataFrame:
    """Long table of the score and every metric per labelled account, for box / strip plots by label.

    Returns:
        DataFrame ``account_id, account_name, label, measure, measure_label, score, value``: one row per
        account for ``measure == "score"`` (the health score; ``value`` is NaN) and one per account and metric
        (``score`` = the metric's 0–100 score, ``value`` = its raw value, numeric where the metric is
        numeric, else the category text).
    """
    names = metric_labels(model)
    base = table[["account_id", "account_name", "label"]] if "account_name" in table.columns else (
        table[["account_id", "label"]].assign(account_name=table["account_id"])
    )
    parts = [base.assign(measure="score", measure_label="Health score", score=table["score"], value=np.nan)]
    for column in model.metrics:
        value = table[f"{column}_value"] if f"{column}_value" in table.columns else np.nan
        score = table[f"{column}_score"] if f"{column}_score" in table.columns else np.nan
        parts.append(base.assign(measure=column, measure_label=names[column], score=score, value=value))
    out = pd.concat([p.astype({"value": object}) for p in parts], ignore_index=True)
    return out[["account_id", "account_name", "label", "measure", "measure_label", "score", "value"]]


def _matrix(rows: pd.DataFrame, columns: list[str], suffix: str) -> np.ndarray:
    """rows × metrics array of ``{metric}_{suffix}`` (NaN where a column is absent)."""
    out = np.full((len(rows), len(columns)), np.nan)
    for j, column in enumerate(columns):  # per metric column, not per row
        if f"{column}_{suffix}" in rows.columns:
            out[:, j] = pd.to_numeric(rows[f"{column}_{suffix}"], errors="coerce").to_numpy(float)
    return out


def _fmt(values: np.ndarray, spec: str) -> np.ndarray:
    return pd.Series(values.ravel()).map(spec.format).to_numpy(object).reshape(values.shape)


def _explain(rank_by: np.ndarray, texts: np.ndarray, top: int, *, at_least: float = 0.05) -> np.ndarray:
    """Per row, the ``texts`` of the ``top`` columns with the largest ``rank_by`` (above ``at_least``), '; '-joined."""
    n = rank_by.shape[0]
    if n == 0 or rank_by.shape[1] == 0:
        return np.full(n, "", dtype=object)
    order = np.argsort(-np.nan_to_num(rank_by, nan=-np.inf), axis=1, kind="stable")[:, :top]
    rows = np.arange(n)[:, None]
    chosen, picked = rank_by[rows, order], texts[rows, order]
    out = np.full(n, "", dtype=object)
    for j in range(order.shape[1]):  # loops over the few top slots, never over accounts
        valid = np.nan_to_num(chosen[:, j], nan=-np.inf) > at_least
        out = np.where(valid, out + np.where(out == "", "", "; ") + picked[:, j], out)
    return out


def misfits(table: pd.DataFrame, model: Model, *, top: int = 2) -> pd.DataFrame:
    """Healthy-but-red and struggling-but-green accounts, with the metrics that put them there.

    For a healthy account in red the reasons are the metrics that cost it most points (weight × (100 −
    metric score)); for a struggling account in green, the metrics that gave it most (its contributions).

    Args:
        table: output of :func:`labelled_accounts`.
        model: the model that scored the table.
        top: how many metrics to name per account.

    Returns:
        DataFrame ``account_id, account_name, label, band, score, kind, reasons`` (kind is 'healthy but red'
        or 'struggling but green'; reasons such as "Logins per user 10/100 (−24.3 pts)"); the most surprising
        first: lowest scores among healthy-but-red, highest among struggling-but-green.
    """
    columns = list(model.metrics)
    names = np.array([metric_labels(model)[c] for c in columns], dtype=object)
    kind = np.select(
        [(table["label"] == "healthy") & (table["band"] == "red"),
         (table["label"] == "struggling") & (table["band"] == "green")],
        ["healthy but red", "struggling but green"],
        default="",
    )
    rows = table.loc[kind != ""].assign(kind=kind[kind != ""])
    if "account_name" not in rows.columns:
        rows = rows.assign(account_name=rows["account_id"])
    weight, score = _matrix(rows, columns, "weight"), _matrix(rows, columns, "score")
    red = (rows["kind"] == "healthy but red").to_numpy()[:, None]
    points = np.where(red, weight * (100 - score), weight * score)
    texts = names + " " + _fmt(score, "{:.0f}") + "/100 (" + np.where(red, "−", "+") + _fmt(points, "{:.1f}") + " pts)"
    out = rows.assign(reasons=_explain(points, texts, top), _order=np.where(red[:, 0], rows["score"], -rows["score"]))
    out = out.sort_values(["kind", "_order"], kind="stable")
    return out[["account_id", "account_name", "label", "band", "score", "kind", "reasons"]].reset_index(drop=True)


# --- Backtest: scores some days before each known outcome ----------------------------------------------------

def outcome_flags(values: pd.Series, column: str = "churned") -> pd.Series:
    """Read an outcome column as a nullable boolean (True = churned, False = renewed, NA = unknown).

    The canonical table's ``churned`` is already boolean (``lib.ingest`` reads words such as churned/renewed);
    booleans, 0/1 and blanks are accepted here.

    Raises:
        AnalysisError: naming the column and the values it cannot read.
    """
    try:
        return values.astype("boolean")
    except (TypeError, ValueError):
        bad = values.dropna()
        examples = ", ".join(repr(v) for v in pd.unique(bad)[:3])
        raise AnalysisError(f"outcome column '{column}': cannot read {examples} as churned / renewed — map the column"
                            " as the outcome when loading the file (churned/renewed, yes/no, 1/0), or use True/False"
                            ) from None


def outcome_snapshots(scored: pd.DataFrame, *, horizon_days: int = 90, outcome: str = "churned") -> pd.DataFrame:
    """For each account with a known outcome, its last scored row at least ``horizon_days`` before the outcome.

    The outcome date is the renewal the outcome refers to: for a churned account the renewal date on its
    last row (the renewal it did not make); for a renewed account the latest renewal date that had passed by
    its last snapshot (else its last renewal date). Without a ``renewal_date`` the account's last snapshot
    date stands in.

    Returns:
        The picked scored rows plus ``outcome_date`` and ``churned`` (bool), one per account, sorted by
        account_id. Accounts without a row early enough are left out (see :func:`backtest` for the count).

    Raises:
        AnalysisError: when the outcome column is missing or unreadable.
    """
    return _pick_outcome_rows(scored, horizon_days, outcome)[0]


def _pick_outcome_rows(scored: pd.DataFrame, horizon_days: int, outcome: str) -> tuple[pd.DataFrame, int]:
    """:func:`outcome_snapshots` and the number of accounts with a known outcome (picked or not)."""
    if outcome not in scored.columns:
        raise AnalysisError(f"no outcome column '{outcome}' in the data — add a churned column (True = churned, "
                            "False = renewed, blank = unknown) or name yours with --outcome COLUMN")
    if scored.empty:
        raise AnalysisError("the scored portfolio has no rows — load a portfolio with at least one snapshot")
    if horizon_days < 0:
        raise AnalysisError(f"horizon of {horizon_days} days: the score must be read before the outcome — use 0 "
                            "or more days, e.g. 90")
    # Work on the key columns in (account, date) order and pick positions; only the picked rows are copied.
    order, codes = _account_order(scored)
    ends = np.r_[codes[1:] != codes[:-1], True]  # each account's last row
    snap = scored["snapshot_date"].to_numpy("datetime64[ns]")[order]
    flags = pd.Series(outcome_flags(scored[outcome], outcome).to_numpy()[order], dtype="boolean")
    known = flags.groupby(codes).last()  # last() skips NA: the account's last known outcome
    has_outcome = known.notna().to_numpy()
    churned = known.fillna(False).to_numpy(bool)
    last_snapshot = snap[ends]
    outcome_date = last_snapshot
    if "renewal_date" in scored.columns:
        renewal = pd.Series(pd.to_datetime(scored["renewal_date"], errors="coerce").to_numpy("datetime64[ns]")[order])
        last_renewal = renewal.groupby(codes).last().to_numpy("datetime64[ns]")  # skips NaT
        passed = renewal.where(renewal.to_numpy() <= last_snapshot[codes]).groupby(codes).max()
        passed = passed.to_numpy("datetime64[ns]")
        by_renewal = np.where(churned | np.isnat(passed), last_renewal, passed)
        outcome_date = np.where(np.isnat(by_renewal), last_snapshot, by_renewal)
    cutoff = outcome_date - np.timedelta64(horizon_days, "D")
    eligible = np.flatnonzero(has_outcome[codes] & (snap <= cutoff[codes]))
    pick = eligible[np.r_[codes[eligible][1:] != codes[eligible][:-1], True]] if eligible.size else eligible
    picked = scored.iloc[order[pick]].copy()
    picked["outcome_date"] = outcome_date[codes[pick]]
    picked["churned"] = churned[codes[pick]]
    return picked.reset_index(drop=True), int(has_outcome.sum())


@dataclass(frozen=True, eq=False)
class Backtest:
    """How a model's score, taken ``horizon_days`` before each known outcome, lined up with the outcomes.

    Attributes:
        model_name: the model backtested.
        outcome: the outcome column used.
        horizon_days: days between the scored snapshot and the outcome date (at least).
        auc: probability that a renewed account scored higher than a churned one (0.5 = chance).
        auc_low, auc_high: 95% bootstrap interval of ``auc``.
        n_accounts: accounts the AUC rests on (known outcome, a snapshot early enough, a score).
        n_churned, n_renewed: of those, how many churned / renewed.
        n_skipped: accounts with an outcome but no snapshot ``horizon_days`` before it.
        n_unscored: accounts picked but with no score ('no data'): in ``bands``, not in the AUC.
        churn_rate: overall churn rate of the ``n_accounts``.
        bands: :func:`churn_by_band` at the scored snapshots.
        lift: :func:`lift_by_decile` of the score.
        accounts: the picked scored rows (``outcome_date``, ``churned`` and every scored column).
        warnings: sentences the page should show (too few outcomes, accounts left out).
        caption: one line summing it up.
    """

    model_name: str
    outcome: str
    horizon_days: int
    auc: float
    auc_low: float
    auc_high: float
    n_accounts: int
    n_churned: int
    n_renewed: int
    n_skipped: int
    n_unscored: int
    churn_rate: float
    bands: pd.DataFrame
    lift: pd.DataFrame
    accounts: pd.DataFrame
    warnings: tuple[str, ...]
    caption: str

    def to_dict(self) -> dict[str, object]:
        """Everything but the account rows, as JSON-ready values (NaN → None)."""
        return {
            "model": self.model_name,
            "outcome": self.outcome,
            "horizon_days": self.horizon_days,
            "auc": _json_number(self.auc),
            "auc_interval": [_json_number(self.auc_low), _json_number(self.auc_high)],
            "accounts": self.n_accounts,
            "churned": self.n_churned,
            "renewed": self.n_renewed,
            "skipped": self.n_skipped,
            "unscored": self.n_unscored,
            "churn_rate": _json_number(self.churn_rate),
            "bands": _json_records(self.bands),
            "lift": _json_records(self.lift),
            "warnings": list(self.warnings),
            "caption": self.caption,
        }


def _json_number(x: object) -> object:
    if isinstance(x, np.integer | int) and not isinstance(x, bool):
        return int(x)
    if isinstance(x, np.floating | float):
        return None if np.isnan(x) else float(x)
    return x


def _json_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [{k: _json_number(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def backtest(
    scored: pd.DataFrame,
    *,
    horizon_days: int = 90,
    outcome: str = "churned",
    n_boot: int = 500,
    seed: int = 0,
    model_name: str = "",
) -> Backtest:
    """Backtest a scored portfolio against its outcomes.

    Each account with a known outcome is judged by its score on its last snapshot at least ``horizon_days``
    before the outcome (:func:`outcome_snapshots`), as a CSM would have seen it then.

    Args:
        scored: score table joined with the portfolio attributes (:func:`score_portfolio`), every snapshot.
        horizon_days: how long before the outcome the score is read.
        outcome: the outcome column (True = churned, False = renewed, blank = unknown).
        n_boot: bootstrap resamples for the AUC interval.
        seed: bootstrap seed (fixed, so the same data gives the same interval).
        model_name: shown in the caption and ``--json``.

    Raises:
        AnalysisError: no outcome column, no known outcome, or no snapshot early enough for any account.
    """
    picked, with_outcome = _pick_outcome_rows(scored, horizon_days, outcome)
    if with_outcome == 0:
        raise AnalysisError(f"outcome column '{outcome}' has no known outcome — mark accounts True (churned) or "
                            "False (renewed) to backtest")
    if picked.empty:
        raise AnalysisError(f"none of the {with_outcome:,} accounts with an outcome has a snapshot {horizon_days} "
                            "days before its outcome date — use a shorter horizon or load older snapshots")
    churned = picked["churned"].to_numpy(bool)
    score = picked["score"].to_numpy(float)
    has_score = ~np.isnan(score)
    y = churned[has_score]
    n_churned, n_renewed = int(y.sum()), int((~y).sum())
    auc = roc_auc(score[has_score], ~y)
    low, high = auc_interval(score[has_score], ~y, n_boot=n_boot, seed=seed)
    n_skipped = with_outcome - len(picked)
    n_unscored = int((~has_score).sum())

    warnings = []
    few = [f"{n:,} {what}" for n, what in ((n_churned, "churned"), (n_renewed, "renewed")) if n < MIN_OUTCOMES]
    if few:
        warnings.append(f"Too few outcomes to judge: only {' and '.join(few)} account(s); at least {MIN_OUTCOMES} "
                        "of each are needed before the AUC and churn rates mean much.")
    if n_skipped:
        warnings.append(f"{n_skipped:,} account(s) with an outcome had no snapshot {horizon_days} days before it "
                        "and are left out.")
    if n_unscored:
        warnings.append(f"{n_unscored:,} account(s) had no score at that snapshot (no usable metric) and are left "
                        "out of the AUC.")

    bands = churn_by_band(picked["band"], churned, picked["arr"] if "arr" in picked.columns else None)
    n = n_churned + n_renewed
    rate = n_churned / n if n else float("nan")
    by_band = bands.set_index("band")["churn_rate"]
    name = f"{model_name}: " if model_name else ""
    interval = f" (95% interval {low:.2f}–{high:.2f})" if not np.isnan(low) else ""
    caption = (
        f"{name}AUC {_num(auc)}{interval} on {n:,} accounts ({n_churned:,} churned, "
        f"{n_renewed:,} renewed) scored {horizon_days} days before their outcome; red churned "
        f"{_pct(by_band.get('red', np.nan))}, green {_pct(by_band.get('green', np.nan))} (overall {_pct(rate)})."
    )
    return Backtest(
        model_name=model_name, outcome=outcome, horizon_days=horizon_days, auc=auc, auc_low=low, auc_high=high,
        n_accounts=n, n_churned=n_churned, n_renewed=n_renewed, n_skipped=n_skipped, n_unscored=n_unscored,
        churn_rate=rate, bands=bands, lift=lift_by_decile(score, churned), accounts=picked,
        warnings=tuple(warnings), caption=caption,
    )


def metric_cohorts(bt: Backtest, model: Model, *, bins: int = 10) -> pd.DataFrame:
    """Churn rate by decile of each metric's raw value and of its metric score, at the backtest snapshots.

    Shows where a threshold belongs: the value at which churn climbs above the average.

    Returns:
        DataFrame ``metric, metric_label, basis ('value' | 'score'), bin, label, lo, hi, accounts, churned,
        churn_rate, lift`` (see :func:`churn_by_bins`).
    """
    names = metric_labels(model)
    churned = bt.accounts["churned"]
    parts = []
    for column in model.metrics:  # per metric and basis; each table is vectorised
        for basis, source in (("value", f"{column}_value"), ("score", f"{column}_score")):
            if source in bt.accounts.columns:
                table = churn_by_bins(bt.accounts[source], churned, bins=bins)
                parts.append(table.assign(metric=column, metric_label=names[column], basis=basis))
    columns = ["metric", "metric_label", "basis", "bin", "label", "lo", "hi", "accounts", "churned", "churn_rate",
               "lift"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


# --- Model A vs B ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ModelComparison:
    """Two models on the same accounts: band flips, who moved and why, and each model's backtest.

    Attributes:
        name_a, name_b: the models' names.
        flips: band under A × band under B (counts and ARR) at the compared snapshot date, over the accounts
            with a row there (see :func:`compare_models`).
        moved: accounts whose band changed, biggest score change first: ``account_id, account_name, arr,
            score_a, score_b, band_a, band_b, change, why`` (``why`` names the contributions that changed most,
            e.g. "Logins per user +12.0 pts; Open support tickets −5.0 pts").
        backtest_a, backtest_b: each model's :class:`Backtest`, or None when the data has no usable outcomes.
        caption: one line for the page.
    """

    name_a: str
    name_b: str
    flips: FlipMatrix
    moved: pd.DataFrame
    backtest_a: Backtest | None
    backtest_b: Backtest | None
    caption: str


def compare_models(
    scored_a: pd.DataFrame,
    scored_b: pd.DataFrame,
    model_a: Model,
    model_b: Model,
    *,
    as_of: object = None,
    outcome: str = "churned",
    horizon_days: int = 90,
    top: int = 2,
    n_boot: int = 500,
    seed: int = 0,
) -> ModelComparison:
    """Compare two models scored on the same portfolio at one snapshot date.

    The flips and the moved accounts are those of the accounts with a row at the compared snapshot: the last
    snapshot date on or before ``as_of``. An account whose last row is older (it churned or left before that
    date) is not in the portfolio there, so it is neither counted nor listed as a band change.

    Args:
        scored_a, scored_b: :func:`score_portfolio` of each model on the same portfolio.
        model_a, model_b: the models (their metric labels explain the moves).
        as_of: the date to compare at (its snapshot is the last one on or before it); default the last snapshot.
        outcome, horizon_days, n_boot, seed: passed to :func:`backtest` for the side-by-side AUC, which uses
            every account with an outcome, whenever it had it.
        top: how many changed contributions to name per moved account.
    """
    a, b = _snapshot_rows(scored_a, as_of), _snapshot_rows(scored_b, as_of)
    both = a.merge(b, on=["account_id", "snapshot_date"], suffixes=("_a", "_b"), validate="one_to_one")
    arr = both["arr_a"] if "arr_a" in both.columns else None
    flips = flip_matrix(both["band_a"], both["band_b"], arr)

    columns = list(dict.fromkeys([*model_a.metrics, *model_b.metrics]))
    labels = {**metric_labels(model_a), **metric_labels(model_b)}
    contrib_a = np.nan_to_num(_matrix(a.set_index("account_id").loc[both["account_id"]], columns, "contribution"))
    contrib_b = np.nan_to_num(_matrix(b.set_index("account_id").loc[both["account_id"]], columns, "contribution"))
    delta = contrib_b - contrib_a
    names = np.array([labels[c] for c in columns], dtype=object)
    texts = names + " " + np.where(delta >= 0, "+", "−") + _fmt(np.abs(delta), "{:.1f}") + " pts"
    why = _explain(np.abs(delta), texts, top)
    moved = pd.DataFrame({
        "account_id": both["account_id"],
        "account_name": both["account_name_a"] if "account_name_a" in both.columns else both["account_id"],
        "arr": arr if arr is not None else np.nan,
        "score_a": both["score_a"], "score_b": both["score_b"],
        "band_a": both["band_a"], "band_b": both["band_b"],
        "change": both["score_b"] - both["score_a"],
        "why": why,
    })
    moved = moved.loc[moved["band_a"] != moved["band_b"]]
    moved = moved.iloc[np.argsort(-moved["change"].abs().to_numpy(), kind="stable")].reset_index(drop=True)

    def maybe_backtest(scored: pd.DataFrame, model: Model) -> Backtest | None:
        try:
            return backtest(scored, horizon_days=horizon_days, outcome=outcome, n_boot=n_boot, seed=seed,
                            model_name=model.name)
        except AnalysisError:
            return None  # no outcomes to judge by: the page shows the flips alone

    bt_a, bt_b = maybe_backtest(scored_a, model_a), maybe_backtest(scored_b, model_b)
    caption = f"{model_a.name} → {model_b.name}: {flips.caption}"
    if bt_a is not None and bt_b is not None:
        caption += (f" Backtest AUC {bt_a.auc:.2f} (A) vs {bt_b.auc:.2f} (B) on {bt_a.n_accounts:,} accounts with "
                    "outcomes.")
    return ModelComparison(model_a.name, model_b.name, flips, moved, bt_a, bt_b, caption)


# --- Scoring for analyses, train/test split -------------------------------------------------------------------


def score_portfolio(model: Model, portfolio: pd.DataFrame, *, outcome: str = "churned", con: object = None
                    ) -> pd.DataFrame:
    """Score a canonical portfolio and join back its attributes and raw metric values (``{metric}_value``).

    This is the "scored portfolio" every analysis here takes; a custom ``outcome`` column travels with it.
    """
    scores = score(model, portfolio, con=con)
    extra = [outcome] if outcome in portfolio.columns and outcome not in ATTRIBUTES else []
    return attach_attributes(scores, portfolio, segments=extra, metrics=model)


def split_accounts(picked: pd.DataFrame, *, test_share: float = 0.3, seed: int = 0) -> np.ndarray:
    """Hold back a share of accounts for testing, stratified by outcome (one row per account in ``picked``).

    The split is by account: an account is wholly in training or wholly held back, so nothing learnt from an
    account can flatter the test. A fixed ``seed`` gives the same split for the same accounts.

    Returns:
        Boolean array, True = held back.
    """
    if picked["account_id"].duplicated().any():
        raise AnalysisError("split_accounts needs one row per account — pass the rows of outcome_snapshots()")
    key = pd.Series(np.random.default_rng(seed).random(len(picked)))
    group = picked["churned"].to_numpy(bool)
    rank = key.groupby(group).rank(method="first").to_numpy()
    size = key.groupby(group).transform("size").to_numpy()
    return rank <= np.round(test_share * size)


def _positions(scored: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """Row positions in ``scored`` of ``keys``' (account_id, snapshot_date), in ``keys``' order."""
    index = pd.MultiIndex.from_arrays([scored["account_id"], scored["snapshot_date"]])
    found = index.get_indexer(pd.MultiIndex.from_arrays([keys["account_id"], keys["snapshot_date"]]))
    if (found < 0).any():  # -1 would silently pick the last row
        raise RuntimeError("suggest: a compared (account, snapshot) is missing from a candidate's scores")
    return found


def _rows_at(scores: pd.DataFrame, positions: np.ndarray, keys: pd.DataFrame) -> pd.DataFrame:
    """The score rows at ``positions`` (see :func:`_positions`) with ``keys``' ``churned``."""
    return scores.iloc[positions].reset_index(drop=True).assign(churned=keys["churned"].to_numpy(bool))


# --- Suggest: thresholds and weights from the outcomes ----------------------------------------------------------

# A suggested metric score p stands for a churn rate of average × 2^(1 − p/50): score 0 = twice the average,
# 50 = the average, 100 = half of it. Linear red / green sit where churn crosses these two rates.
RED_LIFT = 2.0
GREEN_LIFT = 0.5
MIN_CATEGORY = 20  # training accounts a category needs before its points are re-derived


def _nice(x: float) -> float:
    return float(f"{x:.3g}")


def _isotonic_churn(values: np.ndarray, churned: np.ndarray, higher_is_better: bool, bins: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bins of a metric's values (ascending) with a churn rate forced monotone in the metric's direction.

    The isotonic fit pools neighbouring bins whose raw rates zig-zag, so a threshold is read off a curve
    that only ever improves in the good direction.

    Returns:
        (lo, hi, fitted churn rate) per bin.
    """
    from sklearn.isotonic import IsotonicRegression  # sklearn takes seconds to import: only suggesting needs it

    table = churn_by_bins(values, churned, bins=bins)
    table = table.loc[table["lo"].notna()]
    fit = IsotonicRegression(increasing=not higher_is_better)
    x = np.arange(len(table), dtype=float)
    fitted = fit.fit(x, table["churn_rate"].to_numpy(float), sample_weight=table["accounts"].to_numpy(float))
    return table["lo"].to_numpy(float), table["hi"].to_numpy(float), fitted.predict(x)


def _crossing(fitted: np.ndarray, level: float) -> int | None:
    """Index i such that bins ≤ i and > i lie on opposite sides of ``level`` (fitted is monotone)."""
    above = fitted > level
    change = np.flatnonzero(above[1:] != above[:-1])
    return int(change[0]) if change.size else None


def _suggest_categories(spec: Categories, values: pd.Series, churned: np.ndarray
                        ) -> tuple[dict[str, object] | None, str]:
    """Category points from churn: the worst-churning category 0, the best 100, the others in proportion."""
    keys = category_keys(values.astype("string"))
    known = values.notna().to_numpy()
    frame = pd.DataFrame({"key": keys[known].to_numpy(), "churned": churned[known]})
    rates = frame.groupby("key")["churned"].agg(["size", "mean"])
    by_key = {normalise_category(k): k for k in spec.map}
    usable = rates.loc[(rates["size"] >= MIN_CATEGORY) & rates.index.isin(list(by_key))]
    if len(usable) < 2:
        return None, f"fewer than two categories with {MIN_CATEGORY}+ training accounts; kept"
    worst, best = usable["mean"].max(), usable["mean"].min()
    if worst - best < 0.01:
        return None, "its categories churn alike; kept"
    points = (100 * (worst - usable["mean"]) / (worst - best)).round()
    new_map = {**spec.map, **{by_key[k]: float(v) for k, v in points.items()}}
    return ({"method": "categories", "map": new_map},
            f"points from each category's churn: {best:.0%} scores 100, {worst:.0%} scores 0; categories with "
            f"fewer than {MIN_CATEGORY} training accounts keep theirs")


@dataclass(frozen=True)
class _ChurnCurve:
    """A numeric metric's churn rate by value bin (monotone fit on the training accounts), for placing thresholds."""

    values: np.ndarray
    strength: float  # the AUC with the metric read in its better direction
    higher: bool  # higher values renew more often
    lo: np.ndarray
    hi: np.ndarray
    fitted: np.ndarray
    base: float  # the average churn rate

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher else "lower is better"

    def edge(self, level: float, side: str) -> float | None:
        """Where the churn curve crosses ``level``: the edge of the bin on the ``side`` 'worse' or 'better'."""
        i = _crossing(self.fitted, level)
        if i is None:
            return None
        if self.higher:  # churn falls as the value rises: bins ≤ i are above the level
            return self.hi[i] if side == "worse" else self.lo[i + 1]
        return self.lo[i + 1] if side == "worse" else self.hi[i]


def _churn_curve(values: pd.Series, churned: np.ndarray, bins: int) -> _ChurnCurve | str:
    """The metric's churn curve, or why its thresholds are kept."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    has = ~np.isnan(v)
    v, y = v[has], churned[has]
    if len(v) < 50 or y.sum() < 10 or (~y).sum() < 10:
        return f"too few training accounts with a value ({len(v)}, {int(y.sum())} churned); kept"
    auc = roc_auc(v, ~y)  # > 0.5: higher values renew more often
    strength = max(auc, 1 - auc)
    if strength < 0.53:
        return f"its raw value barely relates to churn (AUC {strength:.2f}); kept"
    higher = auc > 0.5
    lo, hi, fitted = _isotonic_churn(v, y, higher, bins)
    if len(lo) < 3:
        return "fewer than three distinct value bins; kept"
    return _ChurnCurve(v, strength, higher, lo, hi, fitted, y.mean())


def _suggest_linear(spec: Linear, c: _ChurnCurve) -> tuple[dict[str, object] | None, str]:
    """Red and green where the churn curve crosses 2× and 0.5× the average (else the worst / best bin)."""
    green, red, notes = c.edge(GREEN_LIFT * c.base, "better"), c.edge(RED_LIFT * c.base, "worse"), ""
    if red is None:  # churn never reaches twice the average: the worst bin marks red
        red, notes = (c.hi[0] if c.higher else c.lo[-1]), "; churn never doubles, so red is the worst bin"
    if green is None:  # ... never falls to half of it: the best bin marks green
        green, notes = (c.lo[-1] if c.higher else c.hi[0]), notes + "; churn never halves, so green is the best bin"
    red, green = _nice(red), _nice(green)
    if red == green or (red < green) != c.higher:
        return None, "red and green would coincide; kept"
    return ({"method": "linear", "red": red, "green": green},
            f"{c.direction} (AUC {c.strength:.2f}); red where churn reaches {RED_LIFT:g}× the average "
            f"({c.base:.0%}), green where it falls to {GREEN_LIFT:g}×{notes}")


def _suggest_steps(spec: Steps, c: _ChurnCurve) -> tuple[dict[str, object] | None, str]:
    """Each cut where the churn curve crosses the rate of the score midway between its two steps' points."""
    base, higher = c.base, c.higher
    points = np.asarray(spec.points, dtype=float)
    steps_higher = points[-1] > points[0]
    if not (np.all(np.diff(points) >= 0) or np.all(np.diff(points) <= 0)):
        return None, "its points go up and down; kept"
    levels = base * 2.0 ** (1 - (points[:-1] + points[1:]) / 100)
    crossings = [_crossing(c.fitted, level) for level in levels]  # one per cut (a handful)
    cuts_arr = np.array([np.nan if i is None else _nice(c.lo[i + 1]) for i in crossings])
    why = f"cuts where churn crosses {', '.join(f'{x / base:.2g}×' for x in levels)} the average ({base:.0%})"
    if steps_higher != higher or np.isnan(cuts_arr).any() or np.any(np.diff(cuts_arr) <= 0):
        quantiles = np.arange(1, len(spec.cuts) + 1) / (len(spec.cuts) + 1)
        cuts_arr = np.array([_nice(x) for x in np.quantile(c.values, quantiles)])
        why = "evenly spaced quantile cuts (churn does not cross each step's level)"
        if steps_higher != higher:
            why = f"quantile cuts; note the data says {c.direction} but the points run the other way"
        if np.any(np.diff(cuts_arr) <= 0):
            return None, "its values are too lumped to place distinct cuts; kept"
    return ({"method": "steps", "cuts": [float(x) for x in cuts_arr], "points": [float(p) for p in points]},
            f"{c.direction} (AUC {c.strength:.2f}); {why}")


_FROM_CHURN = {"linear": _suggest_linear, "steps": _suggest_steps}  # what a churn curve can place


def _suggest_spec(spec: ScoreSpec, values: pd.Series, churned: np.ndarray, bins: int
                  ) -> tuple[dict[str, object] | None, str]:
    """A data-driven replacement for a linear, steps or categories spec (YAML form), or None and why it is kept.

    Rule for numbers (one for both methods): a metric score of 0 should mean "churns at least twice as often
    as average", 50 "churns at the average rate" and 100 "at most half as often" (score p ↔ average ×
    2^(1 − p/50)). Linear red and green are where the metric's monotone churn curve crosses 2× and 0.5× the
    average (the worst / best decile when it never gets there); each step cut is where it crosses the rate
    of the score midway between its two steps' points. Steps whose cuts cannot be placed that way fall back
    to quantile cuts. Categories: see ``_suggest_categories``.
    """
    if not method_of(spec).numeric:
        return _suggest_categories(spec, values, churned)
    place = _FROM_CHURN.get(spec.method)
    if place is None:
        return None, f"{spec.method} scoring has no thresholds to suggest; kept"
    curve = _churn_curve(values, churned, bins)
    return (None, curve) if isinstance(curve, str) else place(spec, curve)


def _score_features(rows: pd.DataFrame, columns: list[str], fill: dict[str, float] | None = None
                    ) -> tuple[np.ndarray, dict[str, float]]:
    """Metric scores in tens of points (a coefficient reads "per +10 points"); missing → the training mean."""
    x = _matrix(rows, columns, "score") / 10
    if fill is None:
        present = (~np.isnan(x)).sum(axis=0)
        means = np.where(present > 0, np.nansum(x, axis=0) / np.maximum(present, 1), 0.0)
        fill = {c: float(m) for c, m in zip(columns, means, strict=True)}
    filler = np.array([fill[c] for c in columns])
    return np.where(np.isnan(x), filler, x), fill


def _fit_logistic(x: np.ndarray, y: np.ndarray, c: float) -> LogisticRegression:
    from sklearn.linear_model import LogisticRegression  # imported late: see _isotonic_churn

    return LogisticRegression(C=c, max_iter=1000).fit(x, y)


@dataclass(frozen=True, eq=False)
class Suggestion:
    """A model proposed from the outcomes, with its held-back evidence.

    Attributes:
        model: the suggested model, named "<base> (suggested)"; adopt it as a new version.
        base: the model it started from.
        changes: ``lib.model.diff_models(base, model)`` (empty but for the name when nothing helped).
        chosen: which candidate was suggested: 'unchanged', 'thresholds only', 'weights only' or
            'thresholds and weights', then ' + <name>' for each window metric added (step 5 of
            :func:`suggest_model`).
        candidates: ``candidate, train_auc, test_auc, chosen`` for every candidate tried.
        thresholds: per metric ``metric, metric_label, method, old, new, changed, proposed, reason`` (specs as
            text; ``proposed`` is what the outcomes suggest even when the chosen candidate keeps ``old``).
        weights: per metric ``metric, metric_label, old_weight, new_weight`` (effective % of the Default
            profile's score) and ``coefficient`` (logistic coefficient per +10 points, or AUC − 0.5).
        base_auc, suggested_auc: backtest AUC of the base and suggested model on the held-back accounts.
        base_auc_train, suggested_auc_train: the same on the training accounts.
        train_accounts, test_accounts: the account split (disjoint).
        n_test_churned: churned accounts among the held back.
        warnings: sentences the page should show.
        caption: one line for the page.
        windows: the window statistics tried: ``metric, column, stat, snapshots, reason, kept`` (``reason``
            as for thresholds: direction and strength on the training accounts, or why it was not offered).
    """

    model: Model
    base: Model
    changes: tuple[ModelChange, ...]
    chosen: str
    candidates: pd.DataFrame
    thresholds: pd.DataFrame
    weights: pd.DataFrame
    base_auc: float
    suggested_auc: float
    base_auc_train: float
    suggested_auc_train: float
    train_accounts: frozenset[str]
    test_accounts: frozenset[str]
    n_test_churned: int
    warnings: tuple[str, ...]
    caption: str
    windows: pd.DataFrame = field(default_factory=pd.DataFrame)


def _describe_spec(spec: ScoreSpec) -> str:
    d = spec_to_dict(spec)
    return ", ".join(f"{k}: {v}" for k, v in d.items() if k != "method") or str(d["method"])


def starter_model(portfolio: pd.DataFrame, metrics: Sequence[str], *, name: str = "Starter") -> Model:
    """A neutral model over a portfolio's metric columns, for :func:`suggest_model` to start from.

    Numeric metrics score linearly from their 10th percentile (0) to their 90th (100), text metrics give each
    of their (at most 50 most common) categories 50 points, weights are equal and bands 40 / 70. Suggesting
    from it then sets each metric's direction, thresholds, category points and weight from the outcomes.

    Raises:
        AnalysisError: when no metric column has two distinct values.
    """
    specs: dict[str, dict[str, object]] = {}
    for column in metrics:  # one spec per metric column
        values = portfolio[column] if column in portfolio.columns else pd.Series(dtype=float)
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            low, high = values.quantile([0.1, 0.9]).to_numpy(float)
            if not low < high:
                low, high = float(values.min()), float(values.max())
            if low < high:
                specs[column] = {"method": "linear", "red": _nice(low), "green": _nice(high)}
        else:
            keys = category_keys(values.dropna().astype(str)).value_counts().index[:50]
            if len(keys) >= 2:
                specs[column] = {"method": "categories", "map": dict.fromkeys(keys, 50)}
    if not specs:
        raise AnalysisError(f"none of the metric columns ({', '.join(metrics) or 'none found'}) has two distinct "
                            "values to score — map the metric columns or pass a base model")
    return model_from_dict({"name": name, "bands": {"red": 40, "yellow": 70},
                            "metrics": {c: {"weight": 1, "score": s} for c, s in specs.items()}}, source=name)


def _fit_weights(rows: pd.DataFrame, columns: list[str], renewed: np.ndarray, method: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(strength per metric, weights summing to 100) from training rows' metric scores; weights clipped >= 0."""
    x, _ = _score_features(rows, columns)
    if method == "logistic":
        strength = _fit_logistic(x, renewed, 1.0).coef_[0]
    else:
        strength = np.array([roc_auc(x[:, j], renewed) - 0.5 for j in range(len(columns))])
    positive = np.clip(np.nan_to_num(strength), 0, None)
    if positive.sum() <= 0:
        return np.nan_to_num(strength), np.zeros(len(columns))
    weights = np.round(100 * positive / positive.sum())
    return np.nan_to_num(strength), weights if weights.sum() > 0 else 100 * positive / positive.sum()


def _same_band_shares(model: Model, base: Model, base_scores: pd.DataFrame, scores: pd.DataFrame) -> Model:
    """``model`` with band cut-offs at the score quantiles that match the base model's band shares."""
    latest = base_scores["snapshot_date"].max()
    old = base_scores.loc[base_scores["snapshot_date"] == latest, "score"].dropna().to_numpy(float)
    new = scores.loc[scores["snapshot_date"] == latest, "score"].dropna().to_numpy(float)
    if not len(old) or not len(new):
        return model
    shares = [(old <= base.bands.red).mean(), (old <= base.bands.yellow).mean()]
    red, yellow = (round(float(x), 1) for x in np.quantile(new, shares))
    if not 0 <= red < yellow <= 100:
        return model
    return model_from_dict({**model_to_dict(model), "bands": {"red": red, "yellow": yellow}}, source="suggested model")


def _with_weights(d: dict, columns: list[str], weights: np.ndarray) -> dict:
    """A model dict with new metric weights; group weights become their metrics' sums (so effective = fitted)."""
    out = {**d, "metrics": {c: {**d["metrics"][c]} for c in d["metrics"]}}
    for column, w in zip(columns, weights, strict=True):
        out["metrics"][column]["weight"] = float(w)
    if out.get("groups"):
        out["groups"] = {g: float(sum(w for c, w in zip(columns, weights, strict=True)
                                      if out["metrics"][c].get("group") == g)) for g in out["groups"]}
    return out


CANDIDATES = ("unchanged", "thresholds only", "weights only", "thresholds and weights")
# Window metrics suggest tries: per numeric metric, these statistics over the best of these lengths.
WINDOW_LENGTHS = (3, 6, 12)
WINDOW_STATS_TRIED = ("mean", "pct_change")
MIN_WINDOW_GAIN = 0.005  # training AUC a window metric must add to be kept (less is noise, not signal)
MAX_WINDOW_METRICS = 3
_STAT_WORDS = {"mean": "{n}-snapshot mean", "pct_change": "% change over {n} snapshots"}


def _scores_at(scorer: LiveScorer, model: Model, at: np.ndarray, keys: pd.DataFrame) -> pd.DataFrame:
    """The overall and metric scores of some rows (positions in the scorer's order), with ``keys``' ``churned``:
    what a fit needs, without building the whole score table."""
    _, _, scores, _, _, overall = scorer.overall_scores(model)
    return pd.DataFrame({"score": overall[at], **{f"{m}_score": s[at] for m, s in zip(model.metrics, scores,
                                                                                     strict=True)},
                         "churned": keys["churned"].to_numpy(bool)})


def _window_candidates(scorer: LiveScorer, base: Model, at_train: np.ndarray, y_train: np.ndarray, bins: int,
                       lengths: Sequence[int]) -> tuple[list[tuple[str, dict]], list[tuple]]:
    """Window metrics worth trying, fitted on the training accounts only: per numeric metric and statistic,
    the length whose statistic separates them best, its thresholds from ``_suggest_spec``.

    Returns:
        (``(name, YAML dict)`` per candidate; ``(metric, column, stat, snapshots, reason)`` per statistic tried).
    """
    def values(column: str, window: Window) -> np.ndarray:
        return scorer.values(Metric(column, column, None, 1.0, Linear(0, 1), window))[at_train]

    tried, out = [], []
    lengths = [n for n in lengths if n <= len(scorer.dates)]
    for name, metric in base.metrics.items() if lengths else ():
        if metric.window is not None or not method_of(metric.score).numeric:
            continue
        for stat in WINDOW_STATS_TRIED:
            strength = [abs(roc_auc(values(metric.column, Window(n, stat)), ~y_train) - 0.5) for n in lengths]
            n = lengths[int(np.argmax(np.nan_to_num(strength, nan=-1.0)))]
            spec, reason = _suggest_spec(Linear(0, 1), pd.Series(values(metric.column, Window(n, stat))), y_train,
                                         bins)
            key = f"{name}_{stat}_{n}"
            tried.append((key, metric.column, stat, n, reason))
            if spec is None or key in base.metrics:
                continue
            md: dict = {"label": f"{metric.label}, {_STAT_WORDS[stat].format(n=n)}", "column": metric.column,
                        "window": {"snapshots": n, "stat": stat}, "weight": 1, "score": spec}
            if metric.group is not None:
                md["group"] = metric.group
            out.append((key, md))
    return out, tried


def _add_windows(scorer: LiveScorer, d: dict, auc: float, candidates: list[tuple[str, dict]],
                 at_train: np.ndarray, train: pd.DataFrame, weights: str) -> tuple[dict, list[tuple[str, float, dict]]]:
    """Forward selection on the training accounts: add the window metric (weights refitted) that raises the
    training AUC most, while it raises it by ``MIN_WINDOW_GAIN`` or more (at most ``MAX_WINDOW_METRICS``).

    Returns:
        (the model dict, with any window metrics kept; ``(name, training AUC, model dict)`` per step kept).
    """
    renewed = ~train["churned"].to_numpy(bool)
    steps: list[tuple[str, float, dict]] = []
    remaining = dict(candidates)
    while remaining and len(steps) < MAX_WINDOW_METRICS:
        best = None
        for key, md in remaining.items():
            trial = {**d, "metrics": {**d["metrics"], key: md}}
            model = model_from_dict(trial, source="suggested model")
            columns = list(model.metrics)
            _, w = _fit_weights(_scores_at(scorer, model, at_train, train), columns, renewed, weights)
            if w[-1] <= 0:  # the fit gives it no weight: it adds nothing
                continue
            fitted = _with_weights(trial, columns, w)
            rows = _scores_at(scorer, model_from_dict(fitted, source="suggested model"), at_train, train)
            trial_auc = roc_auc(rows["score"], ~rows["churned"])
            if best is None or trial_auc > best[1]:
                best = (key, trial_auc, fitted)
        if best is None or not best[1] >= auc + MIN_WINDOW_GAIN:
            break
        d, auc = best[2], best[1]
        steps.append(best)
        del remaining[best[0]]
    return d, steps


def suggest_model(
    portfolio: pd.DataFrame,
    base: Model,
    *,
    outcome: str = "churned",
    horizon_days: int = 90,
    test_share: float = 0.3,
    seed: int = 0,
    weights: str = "logistic",
    bins: int = 10,
    keep_band_shares: bool = True,
    windows: Sequence[int] = WINDOW_LENGTHS,
) -> Suggestion:
    """Propose thresholds and weights from the outcomes, and test them on held-back accounts.

    1. Each account with an outcome is read at its snapshot ``horizon_days`` before it (as in
       :func:`backtest`), then accounts are split into training and held-back sets (:func:`split_accounts`).
    2. Thresholds, from the training accounts only: linear and steps metrics get red/green or cuts where
       their churn rate crosses the average, categories get points from their churn rates (see
       ``_suggest_spec``); percentile and vs_average metrics keep their settings.
    3. Weights, from the training accounts' metric scores: an L2-regularised logistic regression of renewal
       (``weights="logistic"``) or each metric's AUC − 0.5 (``"auc"``); negative effects are clipped to 0,
       the rest normalised to 100. Group weights become the sums of their metrics' weights, so each metric's
       effective weight is what the fit says. Profile weights and score overrides are kept.
    4. Four candidates — unchanged, thresholds only, weights only, both — are scored; the one with the best
       AUC on the *training* accounts is suggested (the simpler one on a tie), so a change is proposed only
       where it helps on data the held-back accounts never touched. Every candidate's held-back AUC is
       reported in ``candidates``.
    5. Window metrics: for each numeric metric (not already a window), its mean and its pct_change over the
       best of the ``windows`` lengths (the one whose statistic best separates the training accounts) get
       thresholds from the training accounts as in step 2; then, one at a time, the one that raises the training
       AUC most (weights refitted as in step 3) is added while it raises it by ``MIN_WINDOW_GAIN`` or more.
       ``windows=()`` tries none. Each kept step is a candidate row (``"<chosen> + <metric>"``).
    6. With ``keep_band_shares``, the suggested model's band cut-offs are moved so that, at the latest
       snapshot, the same shares of accounts are red / yellow / green as under the base model: new weights
       shift every score, and a suggestion should not silently double the red list. (Bands do not change
       the AUC, which ranks scores.)

    Raises:
        AnalysisError: no outcomes, or too few to train on (fewer than 10 churned or renewed).
    """
    if weights not in ("logistic", "auc"):
        raise AnalysisError(f"weights={weights!r}: use 'logistic' or 'auc'")
    # The numpy scorer prepares the data once and recomputes only what a candidate changes (a weights-only
    # candidate costs a weighted sum); it equals lib.scoring.score row for row.
    scorer = LiveScorer(portfolio, base)
    extra = [outcome] if outcome in portfolio.columns and outcome not in ATTRIBUTES else []
    base_scores = scorer.rescore(base)
    scored_base = attach_attributes(base_scores, portfolio, segments=extra, metrics=base)
    picked = backtest(scored_base, horizon_days=horizon_days, outcome=outcome, n_boot=0).accounts
    held = split_accounts(picked, test_share=test_share, seed=seed)
    train, test = picked.loc[~held], picked.loc[held]
    y_train = train["churned"].to_numpy(bool)
    if y_train.sum() < 10 or (~y_train).sum() < 10:
        raise AnalysisError(f"too few outcomes to suggest a model: {int(y_train.sum())} churned and "
                            f"{int((~y_train).sum())} renewed training accounts (need at least 10 of each) — "
                            "load more history or a longer outcome column")
    columns = list(base.metrics)
    names = metric_labels(base)
    d = {**model_to_dict(base), "name": f"{base.name} (suggested)"}

    specs, reasons = {}, {}
    for column, metric in base.metrics.items():  # one fit per metric
        values = train[f"{column}_value"] if f"{column}_value" in train.columns else pd.Series(np.nan, train.index)
        new, reasons[column] = _suggest_spec(metric.score, values, y_train, bins)
        if new is not None:
            specs[column] = new
    d_thresholds = {**d, "metrics": {c: {**m, "score": specs.get(c, m["score"])} for c, m in d["metrics"].items()}}
    with_thresholds = model_from_dict(d_thresholds, source="suggested model")
    scored_t = scorer.rescore(with_thresholds)
    # Every rescore has the same row order (by account and date), so the rows to compare are found once.
    at_train, at_test = _positions(scored_t, train), _positions(scored_t, test)

    renewed = ~y_train
    strength_t, weights_t = _fit_weights(_rows_at(scored_t, at_train, train), columns, renewed, weights)
    strength_b, weights_b = _fit_weights(train, columns, renewed, weights)
    models = {"unchanged": model_from_dict(d, source="suggested model"), "thresholds only": with_thresholds}
    if weights_b.sum() > 0:
        models["weights only"] = model_from_dict(_with_weights(d, columns, weights_b), source="suggested model")
    if weights_t.sum() > 0:
        models["thresholds and weights"] = model_from_dict(_with_weights(d_thresholds, columns, weights_t),
                                                           source="suggested model")
    scored_by = {"unchanged": base_scores, "thresholds only": scored_t}
    rows = []
    for kind, candidate in models.items():  # at most four candidate models, each scored once
        scored = scored_by[kind] = scored_by[kind] if kind in scored_by else scorer.rescore(candidate)
        tr, te = _rows_at(scored, at_train, train), _rows_at(scored, at_test, test)
        rows.append((kind, roc_auc(tr["score"], ~tr["churned"]), roc_auc(te["score"], ~te["churned"])))
    candidates = pd.DataFrame(rows, columns=["candidate", "train_auc", "test_auc"])
    # Best training AUC wins; candidates are listed simplest first, so idxmax keeps the simpler one on a tie.
    chosen = str(candidates.loc[candidates["train_auc"].round(6).idxmax(), "candidate"])
    strength = strength_t if chosen in ("thresholds only", "thresholds and weights") else strength_b
    window_tried: list[tuple] = []
    if windows:
        offered, window_tried = _window_candidates(scorer, base, at_train, y_train, bins, windows)
        train_auc = float(candidates.set_index("candidate").loc[chosen, "train_auc"])
        _, steps = _add_windows(scorer, model_to_dict(models[chosen]), train_auc, offered, at_train, train, weights)
        for key, step_auc, step in steps:
            chosen = f"{chosen} + {key}"
            models[chosen] = model_from_dict(step, source="suggested model")
            te = _scores_at(scorer, models[chosen], at_test, test)
            candidates.loc[len(candidates)] = (chosen, step_auc, roc_auc(te["score"], ~te["churned"]))
        if steps:
            final = models[chosen]
            strength = _fit_weights(_scores_at(scorer, final, at_train, train), list(final.metrics), renewed,
                                    weights)[0]
            scored_by[chosen] = scorer.rescore(final)
    candidates["chosen"] = candidates["candidate"] == chosen
    suggested = models[chosen]
    if keep_band_shares and chosen != "unchanged":
        suggested = _same_band_shares(suggested, base, base_scores, scored_by[chosen])
    added = [c for c in suggested.metrics if c not in base.metrics]
    names.update({c: suggested.metrics[c].label for c in added})

    window_table = pd.DataFrame(window_tried, columns=["metric", "column", "stat", "snapshots", "reason"])
    window_table["kept"] = window_table["metric"].isin(added)
    listed = [*columns, *added]  # window metrics added are new rows: no old scoring, the training accounts' reason
    reasons.update(window_table.set_index("metric")["reason"].to_dict())
    thresholds = pd.DataFrame({
        "metric": listed,
        "metric_label": [names[c] for c in listed],
        "method": [(base if c in base.metrics else suggested).metrics[c].score.method for c in listed],
        "old": [_describe_spec(base.metrics[c].score) if c in base.metrics else "" for c in listed],
        "new": [_describe_spec(suggested.metrics[c].score) for c in listed],
        "proposed": [_describe_spec((with_thresholds if c in base.metrics else suggested).metrics[c].score)
                     for c in listed],
        "reason": [reasons[c] for c in listed],
    })
    thresholds.insert(5, "changed", thresholds["old"] != thresholds["new"])
    old_eff, new_eff = effective_weights(base)[DEFAULT_PROFILE], effective_weights(suggested)[DEFAULT_PROFILE]
    weight_table = pd.DataFrame({
        "metric": listed,
        "metric_label": [names[c] for c in listed],
        "old_weight": [100 * old_eff.get(c, 0.0) for c in listed],
        "new_weight": [100 * new_eff[c] for c in listed],
        "coefficient": strength,
    })

    warnings = []
    if chosen == "unchanged":
        warnings.append(f"No suggested change beats {base.name} on the training accounts, so none is proposed; "
                        "see the proposals and candidates for what was tried.")
    dropped = [names[c] for c, s in zip(listed, strength, strict=True) if s <= 0]
    if dropped and (chosen in ("weights only", "thresholds and weights") or " + " in chosen):  # weights fitted
        warnings.append(f"Weight 0 for {', '.join(dropped)}: in the training accounts a higher score went with more "
                        "churn (given the other metrics), not less — check the metric's direction or data.")
    if base.profiles and chosen != "unchanged":
        shift = " (their effective weights still shift with the new group weights)" if d.get("groups") else ""
        warnings.append(f"Profile(s) {', '.join(p.name for p in base.profiles)} keep their own weights and score "
                        f"overrides{shift}; the suggestions apply to the Default profile — review them.")
    n_test_churned = int(test["churned"].sum())
    if n_test_churned < MIN_OUTCOMES or len(test) - n_test_churned < MIN_OUTCOMES:
        warnings.append(f"Only {n_test_churned} churned and {len(test) - n_test_churned} renewed held-back accounts: "
                        "the held-back AUCs are a rough guide.")
    best = candidates.set_index("candidate")
    base_auc, new_auc = float(best.loc["unchanged", "test_auc"]), float(best.loc[chosen, "test_auc"])
    caption = (f"Suggested: {chosen} (best on {len(train):,} training accounts). On {len(test):,} held-back accounts "
               f"({n_test_churned:,} churned) it reaches AUC {_num(new_auc)} against {_num(base_auc)} for "
               f"{base.name}.")
    return Suggestion(
        model=suggested, base=base, changes=tuple(diff_models(base, suggested)), chosen=chosen,
        candidates=candidates, thresholds=thresholds, weights=weight_table, base_auc=base_auc,
        suggested_auc=new_auc, base_auc_train=float(best.loc["unchanged", "train_auc"]),
        suggested_auc_train=float(best.loc[chosen, "train_auc"]),
        train_accounts=frozenset(train["account_id"]), test_accounts=frozenset(test["account_id"]),
        n_test_churned=n_test_churned, warnings=tuple(warnings), caption=caption, windows=window_table,
    )


# --- Churn probability: an explained logistic regression beside the rule score ------------------------------------


@dataclass(frozen=True, eq=False)
class ChurnModel:
    """A logistic regression of churn on the model's metric scores — a reference, not a replacement.

    Attributes:
        metrics: the metric columns it reads (``{metric}_score``).
        intercept: log-odds of churn with every metric score at 0.
        coefficients: per metric ``metric, metric_label, coefficient`` (log-odds per +10 points of the metric
            score), ``odds_ratio`` (what +10 points multiplies the odds of churn by), ``fill`` (score used when
            the metric is missing, in points) and ``meaning`` (a sentence); strongest effect first.
        fill: the missing-value fill per metric, in tens of points.
        test_auc: on held-back accounts, probability a churned account gets a higher churn probability than a
            renewed one (same orientation as the rule score's AUC).
        score_auc: the rule score's AUC on the same held-back accounts.
        n_train, n_test: accounts fitted / held back.
        caption: one line for the page.
    """

    metrics: tuple[str, ...]
    intercept: float
    coefficients: pd.DataFrame
    fill: dict[str, float]
    test_auc: float
    score_auc: float
    n_train: int
    n_test: int
    caption: str

    def predict(self, scored: pd.DataFrame) -> pd.Series:
        """Churn probability (0–1) for each row of a scored table, indexed like it."""
        x, _ = _score_features(scored, list(self.metrics), self.fill)
        coef = self.coefficients.set_index("metric").loc[list(self.metrics), "coefficient"].to_numpy(float)
        return pd.Series(1 / (1 + np.exp(-(self.intercept + x @ coef))), index=scored.index, name="churn_probability")


def fit_churn_model(bt: Backtest, model: Model, *, test_share: float = 0.3, seed: int = 0, c: float = 1.0
                    ) -> ChurnModel:
    """Fit churn on the metric scores at the backtest snapshots (split by account; L2 strength ``c``).

    Raises:
        AnalysisError: fewer than 10 churned or renewed training accounts.
    """
    picked = bt.accounts
    held = split_accounts(picked, test_share=test_share, seed=seed)
    train, test = picked.loc[~held], picked.loc[held]
    y = train["churned"].to_numpy(bool)
    if y.sum() < 10 or (~y).sum() < 10:
        raise AnalysisError(f"too few outcomes for a churn model: {int(y.sum())} churned and {int((~y).sum())} "
                            "renewed training accounts (need at least 10 of each)")
    columns = list(model.metrics)
    names = metric_labels(model)
    x, fill = _score_features(train, columns)
    fit = _fit_logistic(x, y, c)
    coef = fit.coef_[0]
    odds = np.exp(coef)
    meaning = [
        f"each +10 points of {names[m]} {'multiplies' if r >= 1 else 'cuts'} the odds of churn "
        f"{'by' if r >= 1 else 'to'} {r:.2f}×" for m, r in zip(columns, odds, strict=True)
    ]
    table = pd.DataFrame({"metric": columns, "metric_label": [names[m] for m in columns], "coefficient": coef,
                          "odds_ratio": odds, "fill": [10 * fill[m] for m in columns], "meaning": meaning})
    table = table.iloc[np.argsort(-np.abs(coef), kind="stable")].reset_index(drop=True)
    test_auc = roc_auc(fit.decision_function(_score_features(test, columns, fill)[0]), test["churned"])
    score_auc = roc_auc(test["score"], ~test["churned"])
    caption = (f"On {len(test):,} held-back accounts the churn probability reaches AUC {_num(test_auc)}, the rule "
               f"score {_num(score_auc)}. Strongest: {table.loc[0, 'meaning']}.")
    return ChurnModel(tuple(columns), float(fit.intercept_[0]), table, fill, test_auc, score_auc, len(train),
                      len(test), caption)
