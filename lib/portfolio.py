"""Portfolio summaries for the pages: filters, band KPIs, movers, migrations, one account's story.

Every function takes the *scored portfolio* — the score table from `lib.scoring.score` joined with the
portfolio's attributes by `attach_attributes` — and returns a small DataFrame that a chart builder or a
table draws directly. All of it is vectorised pandas; nothing here loops over accounts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

BAND_ORDER = ("red", "yellow", "green", "no data")
KEY = ["account_id", "snapshot_date"]
# Columns of the canonical portfolio that travel with the scores; segments and metrics are added by name.
ATTRIBUTES = ("account_name", "arr", "renewal_date", "churned", "health_label")


def attach_attributes(
    scores: pd.DataFrame, portfolio: pd.DataFrame, segments: Sequence[str] = (), metrics: Sequence[str] = ()
) -> pd.DataFrame:
    """Join the score table with the account attributes, segment columns and raw metric values.

    Raw metric values are suffixed `_value` so they never collide with the engine's `{metric}_score`.
    """
    keep = [c for c in (*ATTRIBUTES, *segments) if c in portfolio.columns and c not in scores.columns]
    right = portfolio[[*KEY, *keep]].copy()
    for metric in metrics:
        if metric in portfolio.columns:
            right[f"{metric}_value"] = portfolio[metric].to_numpy()
    scored = scores.merge(right, on=KEY, how="left", validate="one_to_one")
    if "account_name" not in scored.columns:
        scored["account_name"] = scored["account_id"]
    else:
        scored["account_name"] = scored["account_name"].fillna(scored["account_id"]).astype(str)
    return scored


def apply_filters(scored: pd.DataFrame, filters: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Keep rows whose segment columns take one of the chosen values; an empty choice keeps everything."""
    mask = np.ones(len(scored), dtype=bool)
    for column, values in filters.items():
        if values and column in scored.columns:
            mask &= scored[column].astype(str).isin([str(v) for v in values]).to_numpy()
    return scored.loc[mask]


def snapshot_dates(scored: pd.DataFrame) -> list[pd.Timestamp]:
    """Distinct snapshot dates, oldest first."""
    return sorted(pd.to_datetime(scored["snapshot_date"].dropna().unique()))


def previous_date(scored: pd.DataFrame, as_of: pd.Timestamp) -> pd.Timestamp | None:
    """The snapshot date before `as_of`, or None when `as_of` is the first."""
    earlier = [d for d in snapshot_dates(scored) if d < pd.Timestamp(as_of)]
    return earlier[-1] if earlier else None


def at_date(scored: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows of one snapshot date."""
    return scored.loc[scored["snapshot_date"] == pd.Timestamp(as_of)]


def _band_totals(rows: pd.DataFrame) -> pd.DataFrame:
    arr = rows["arr"] if "arr" in rows.columns else pd.Series(np.nan, index=rows.index)
    grouped = rows.assign(_arr=arr).groupby("band", observed=False)
    totals = pd.DataFrame(
        {
            "accounts": grouped.size(),
            "arr": grouped["_arr"].sum(min_count=1),
            "avg_score": grouped["score"].mean(),
        }
    )
    return totals.reindex(list(BAND_ORDER))


def band_summary(scored: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Accounts, share, ARR and average score per band at `as_of`, with changes vs the previous snapshot.

    Returns one row per band in `BAND_ORDER` with columns `band, accounts, share, arr, avg_score,
    accounts_change, arr_change, avg_score_change` (changes are NaN at the first snapshot).
    """
    now = _band_totals(at_date(scored, as_of))
    before_date = previous_date(scored, as_of)
    before = _band_totals(at_date(scored, before_date)) if before_date is not None else now * np.nan
    now["accounts"] = now["accounts"].fillna(0).astype(int)
    total = now["accounts"].sum()
    out = now.assign(
        share=now["accounts"] / total if total else 0.0,
        accounts_change=now["accounts"] - before["accounts"].fillna(0) if before_date is not None else np.nan,
        arr_change=now["arr"].fillna(0) - before["arr"].fillna(0) if before_date is not None else np.nan,
        avg_score_change=now["avg_score"] - before["avg_score"],
    )
    return out.rename_axis("band").reset_index()[
        ["band", "accounts", "share", "arr", "avg_score", "accounts_change", "arr_change", "avg_score_change"]
    ]


def headline(scored: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, float | int | None]:
    """Portfolio KPIs at `as_of`: accounts, ARR, average score, share red — each with its change."""
    now, before_date = at_date(scored, as_of), previous_date(scored, as_of)
    before = at_date(scored, before_date) if before_date is not None else now.iloc[0:0]

    def figures(rows: pd.DataFrame) -> dict[str, float]:
        scored_rows = rows["score"].notna().sum()
        return {
            "accounts": float(len(rows)),
            "arr": float(rows["arr"].sum()) if "arr" in rows.columns else float("nan"),
            "avg_score": float(rows["score"].mean()) if scored_rows else float("nan"),
            "red_share": float((rows["band"] == "red").sum() / scored_rows) if scored_rows else float("nan"),
        }

    a, b = figures(now), figures(before)
    out: dict[str, float | int | None] = {}
    for name, value in a.items():
        out[name] = value
        out[f"{name}_change"] = None if before_date is None else value - b[name]
    return out


def band_counts_over_time(scored: pd.DataFrame, share: bool = False) -> pd.DataFrame:
    """Accounts per band per snapshot date (wide: one column per band in `BAND_ORDER`)."""
    counts = pd.crosstab(scored["snapshot_date"], scored["band"]).reindex(columns=list(BAND_ORDER), fill_value=0)
    if share:
        counts = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    return counts.rename_axis(columns=None)


def movers(scored: pd.DataFrame, as_of: pd.Timestamp, n: int = 10) -> pd.DataFrame:
    """The `n` biggest score falls and `n` biggest rises at `as_of` (by `change`), falls first."""
    rows = at_date(scored, as_of).dropna(subset=["change"])
    cols = [c for c in ("account_id", "account_name", "score", "band", "change", "arr") if c in rows.columns]
    falls = rows.nsmallest(n, "change")
    rises = rows.nlargest(n, "change")
    return pd.concat([falls[falls["change"] < 0], rises[rises["change"] > 0]])[cols].reset_index(drop=True)


def segment_band_matrix(scored: pd.DataFrame, as_of: pd.Timestamp, segment: str) -> pd.DataFrame:
    """Share of each segment value's accounts in each band at `as_of` (rows: segment values)."""
    rows = at_date(scored, as_of)
    counts = pd.crosstab(rows[segment].astype(str), rows["band"]).reindex(columns=list(BAND_ORDER), fill_value=0)
    return counts.rename_axis(index=segment, columns=None)


def arr_at_risk(scored: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Accounts ranked within band by ARR at risk, red first.

    ARR at risk is the account's ARR weighted by how far its score sits below 100 (`arr × (1 − score/100)`):
    two red accounts with equal ARR rank by how red they are, and a large yellow account can outrank a
    small red one in the combined list, while the per-band rank keeps the bands apart.
    """
    rows = at_date(scored, as_of).loc[lambda d: d["band"].isin(["red", "yellow"])].copy()
    arr = rows["arr"].fillna(0) if "arr" in rows.columns else 0.0
    rows["arr_at_risk"] = arr * (1 - rows["score"] / 100)
    rows["band_order"] = rows["band"].map({b: i for i, b in enumerate(BAND_ORDER)})
    rows = rows.sort_values(["band_order", "arr_at_risk"], ascending=[True, False])
    rows["rank"] = rows.groupby("band").cumcount() + 1
    cols = [c for c in ("rank", "account_id", "account_name", "band", "score", "change", "arr", "arr_at_risk",
                        "renewal_date", "alerts") if c in rows.columns]
    return rows[cols].reset_index(drop=True)


def migrations(scored: pd.DataFrame, date_from: pd.Timestamp, date_to: pd.Timestamp) -> pd.DataFrame:
    """Band of each account on `date_from` × band on `date_to`, for accounts present on both dates.

    Returns a square count matrix indexed by the from-band with the to-bands as columns, both in `BAND_ORDER`.
    """
    a = at_date(scored, date_from)[["account_id", "band"]]
    b = at_date(scored, date_to)[["account_id", "band"]]
    both = a.merge(b, on="account_id", suffixes=("_from", "_to"))
    bands = list(BAND_ORDER)
    return (
        pd.crosstab(both["band_from"], both["band_to"])
        .reindex(index=bands, columns=bands, fill_value=0)
        .rename_axis(index="from", columns="to")
    )


def alerts_table(scored: pd.DataFrame, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """Accounts flagged by the model's alert rules (latest flag per account and rule), newest first."""
    rows = scored.loc[scored["alerts"].fillna("") != ""]
    if since is not None:
        rows = rows.loc[rows["snapshot_date"] >= pd.Timestamp(since)]
    exploded = rows.assign(rule=rows["alerts"].str.split("; ")).explode("rule")
    latest = exploded.sort_values("snapshot_date").drop_duplicates(["account_id", "rule"], keep="last")
    cols = [c for c in ("snapshot_date", "rule", "account_id", "account_name", "score", "change", "band", "arr")
            if c in latest.columns]
    return latest.sort_values(["snapshot_date", "score"], ascending=[False, True])[cols].reset_index(drop=True)


def score_distribution_over_time(scored: pd.DataFrame) -> pd.DataFrame:
    """p10 / p25 / median / p75 / p90 of the score per snapshot date."""
    q = scored.groupby("snapshot_date")["score"].quantile([0.1, 0.25, 0.5, 0.75, 0.9]).unstack()
    q.columns = ["p10", "p25", "median", "p75", "p90"]
    return q


def account_history(scored: pd.DataFrame, account_id: str) -> pd.DataFrame:
    """One account's rows, oldest first."""
    return scored.loc[scored["account_id"] == account_id].sort_values("snapshot_date").reset_index(drop=True)


def account_breakdown(
    scored: pd.DataFrame, account_id: str, as_of: pd.Timestamp, metrics: Sequence[str]
) -> pd.DataFrame:
    """Why an account scores what it does at `as_of`, and what changed since its previous snapshot.

    One row per metric: `metric, value, score, weight, contribution, previous_value, contribution_change`,
    ordered by contribution change (largest loss first) so the top rows explain the movement.
    """
    history = account_history(scored, account_id)
    history = history.loc[history["snapshot_date"] <= pd.Timestamp(as_of)]
    if history.empty:
        return pd.DataFrame(columns=["metric", "value", "score", "weight", "contribution", "previous_value",
                                     "contribution_change"])
    now = history.iloc[-1]
    before = history.iloc[-2] if len(history) > 1 else None

    def field(row: pd.Series | None, column: str) -> float | str | None:
        return None if row is None or column not in row.index else row[column]

    frame = pd.DataFrame(
        {
            "metric": list(metrics),
            "value": [field(now, f"{m}_value") for m in metrics],
            "score": [field(now, f"{m}_score") for m in metrics],
            "weight": [field(now, f"{m}_weight") for m in metrics],
            "contribution": [field(now, f"{m}_contribution") for m in metrics],
            "previous_value": [field(before, f"{m}_value") for m in metrics],
            "previous_contribution": [field(before, f"{m}_contribution") for m in metrics],
        }
    )
    for column in ("score", "weight", "contribution", "previous_contribution"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["contribution_change"] = frame["contribution"] - frame["previous_contribution"]
    return frame.drop(columns="previous_contribution").sort_values(
        "contribution_change", key=lambda s: s.fillna(0)
    ).reset_index(drop=True)


def explain_change(breakdown: pd.DataFrame, labels: Mapping[str, str] | None = None, top: int = 2) -> str:
    """One sentence naming the metrics that moved the score most since the previous snapshot."""
    moved = breakdown.dropna(subset=["contribution_change"])
    moved = moved.loc[moved["contribution_change"].abs() >= 0.05]
    if moved.empty:
        return "No metric moved the score since the previous snapshot."
    biggest = moved.reindex(moved["contribution_change"].abs().sort_values(ascending=False).index).head(top)
    parts = [
        f"{(labels or {}).get(r.metric, r.metric)} {'added' if r.contribution_change > 0 else 'took'} "
        f"{abs(r.contribution_change):.1f} point{'s' if abs(r.contribution_change) >= 1.05 else ''}"
        for r in biggest.itertuples()
    ]
    return "Since the previous snapshot: " + "; ".join(parts) + "."


def segment_position(scored: pd.DataFrame, account_id: str, as_of: pd.Timestamp, segment: str) -> pd.DataFrame:
    """The scores of an account's segment peers at `as_of`, with the account flagged and its percentile.

    Returns columns `account_id, account_name, score, band, is_account, percentile`; empty when the account
    has no row at `as_of`.
    """
    rows = at_date(scored, as_of)
    mine = rows.loc[rows["account_id"] == account_id]
    if mine.empty or segment not in rows.columns:
        return rows.iloc[0:0].assign(is_account=pd.Series(dtype=bool), percentile=pd.Series(dtype=float))
    peers = rows.loc[rows[segment] == mine[segment].iloc[0]].copy()
    peers["is_account"] = peers["account_id"] == account_id
    peers["percentile"] = peers["score"].rank(pct=True) * 100
    cols = ["account_id", "account_name", "score", "band", "is_account", "percentile"]
    return peers[cols].reset_index(drop=True)
