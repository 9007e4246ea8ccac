"""Compare: accounts with known health (healthy / struggling) — which metrics separate them, misfits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lib.analysis.stats import separation
from lib.engine.model import (
    Model,
    metric_labels,
)

if TYPE_CHECKING:
    pass


# --- Compare: accounts with known health ------------------------------------------------------------------

LABELS = ("healthy", "struggling")


def account_order(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
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
    order, codes = account_order(rows)
    return rows.iloc[order[np.r_[codes[1:] != codes[:-1], True]]]


def snapshot_rows(scored: pd.DataFrame, as_of: object = None) -> pd.DataFrame:
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


def metric_matrix(rows: pd.DataFrame, columns: list[str], suffix: str) -> np.ndarray:
    """rows × metrics array of ``{metric}_{suffix}`` (NaN where a column is absent)."""
    out = np.full((len(rows), len(columns)), np.nan)
    for j, column in enumerate(columns):  # per metric column, not per row
        if f"{column}_{suffix}" in rows.columns:
            out[:, j] = pd.to_numeric(rows[f"{column}_{suffix}"], errors="coerce").to_numpy(float)
    return out


def format_values(values: np.ndarray, spec: str) -> np.ndarray:
    return pd.Series(values.ravel()).map(spec.format).to_numpy(object).reshape(values.shape)


def explain_top(rank_by: np.ndarray, texts: np.ndarray, top: int, *, at_least: float = 0.05) -> np.ndarray:
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
    weight, score = metric_matrix(rows, columns, "weight"), metric_matrix(rows, columns, "score")
    red = (rows["kind"] == "healthy but red").to_numpy()[:, None]
    points = np.where(red, weight * (100 - score), weight * score)
    texts = (names + " " + format_values(score, "{:.0f}") + "/100 (" + np.where(red, "−", "+")
             + format_values(points, "{:.1f}") + " pts)")
    out = rows.assign(reasons=explain_top(points, texts, top),
                      _order=np.where(red[:, 0], rows["score"], -rows["score"]))
    out = out.sort_values(["kind", "_order"], kind="stable")
    return out[["account_id", "account_name", "label", "band", "score", "kind", "reasons"]].reset_index(drop=True)


