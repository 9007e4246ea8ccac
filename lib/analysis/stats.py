"""Plain statistics on arrays: AUC and its interval, lift by decile, churn by bins and bands, band flips,
separation — and the error every analysis raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lib.engine.plan import BANDS

if TYPE_CHECKING:
    pass


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


def format_percent(x: float) -> str:
    return "n/a" if x is None or np.isnan(x) else f"{x:.0%}"


def format_number(x: float) -> str:
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
    caption = f"{moved:,} of {n:,} accounts ({format_percent(moved / n if n else np.nan)}) change band"
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


