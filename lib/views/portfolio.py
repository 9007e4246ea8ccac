"""Portfolio summaries for the pages: filters, band KPIs, movers, migrations, one account's story.

Every function takes the *scored portfolio* — the score table from `lib.engine.sql.score` joined with the
portfolio's attributes by `lib.engine.scored_portfolio.attach_attributes` — and returns a small DataFrame that a chart
builder or a table draws directly. All of it is vectorised pandas; nothing here loops over accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lib.charts import money
from lib.engine.methods import method_of
from lib.engine.model import Model, ScoreSpec
from lib.engine.plan import BANDS as BAND_ORDER

if TYPE_CHECKING:  # pandas imports its Styler (and jinja2) lazily; only the annotation needs it here
    from pandas.io.formats.style import Styler

KEY = ["account_id", "snapshot_date"]
# Added by `apply_overrides`: a CSM's score override in force on that row (NaN / None where there is none).
OVERRIDE_COLUMNS = ("override_score", "override_reason")
def apply_filters(scored: pd.DataFrame, filters: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Keep rows whose segment columns take one of the chosen values; an empty choice keeps everything.

    With no active filter the input itself is returned (callers treat scored frames as read-only).
    """
    active = {c: v for c, v in filters.items() if v and c in scored.columns}
    if not active:
        return scored  # no copy: a boolean .loc over a million rows costs ~0.3 s on every rerun
    mask = np.ones(len(scored), dtype=bool)
    for column, values in active.items():
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


def band_summary(scored: pd.DataFrame, as_of: pd.Timestamp, hide_empty_no_data: bool = False) -> pd.DataFrame:
    """Accounts, share, ARR and average score per band at `as_of`, with changes vs the previous snapshot.

    Returns one row per band in `BAND_ORDER` with columns `band, accounts, share, arr, avg_score,
    accounts_change, arr_change, avg_score_change` (changes are NaN at the first snapshot);
    `hide_empty_no_data` drops the 'no data' row when no account is in it now or before.
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
    out = out.rename_axis("band").reset_index()[
        ["band", "accounts", "share", "arr", "avg_score", "accounts_change", "arr_change", "avg_score_change"]
    ]
    if hide_empty_no_data:
        empty = (out["band"] == "no data") & (out["accounts"] == 0) & (out["accounts_change"].fillna(0) == 0)
        out = out.loc[~empty].reset_index(drop=True)
    return out


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
    cols = [c for c in ("account_id", "account_name", "score", "band", "change", "arr", *OVERRIDE_COLUMNS)
            if c in rows.columns]
    falls = rows.nsmallest(n, "change")
    rises = rows.nlargest(n, "change")
    return pd.concat([falls[falls["change"] < 0], rises[rises["change"] > 0]])[cols].reset_index(drop=True)


def segment_band_matrix(scored: pd.DataFrame, as_of: pd.Timestamp, segment: str) -> pd.DataFrame:
    """Share of each segment value's accounts in each band at `as_of` (rows: segment values)."""
    rows = at_date(scored, as_of)
    counts = pd.crosstab(rows[segment].astype(str), rows["band"]).reindex(columns=list(BAND_ORDER), fill_value=0)
    return counts.rename_axis(index=segment, columns=None)


def arr_at_risk(scored: pd.DataFrame, as_of: pd.Timestamp, per_band: int | None = None) -> pd.DataFrame:
    """Accounts ranked within band by ARR at risk, red first.

    ARR at risk is the account's ARR weighted by how far its score sits below 100 (`arr × (1 − score/100)`):
    two red accounts with equal ARR rank by how red they are, and a large yellow account can outrank a
    small red one in the combined list, while the per-band rank keeps the bands apart. It uses the model's
    score; a CSM override (`override_score`, carried when present) is shown beside it, not mixed in.

    Args:
        per_band: keep only the top `per_band` accounts of each band (None keeps all).
    """
    rows = at_date(scored, as_of).loc[lambda d: d["band"].isin(["red", "yellow"])].copy()
    arr = rows["arr"].fillna(0) if "arr" in rows.columns else 0.0
    rows["arr_at_risk"] = arr * (1 - rows["score"] / 100)
    rows["band_order"] = rows["band"].map({b: i for i, b in enumerate(BAND_ORDER)})
    rows = rows.sort_values(["band_order", "arr_at_risk"], ascending=[True, False])
    rows["rank"] = rows.groupby("band").cumcount() + 1
    if per_band is not None:
        rows = rows.loc[rows["rank"] <= per_band]
    cols = [c for c in ("rank", "account_id", "account_name", "band", "score", "change", "arr", "arr_at_risk",
                        "renewal_date", "alerts", *OVERRIDE_COLUMNS) if c in rows.columns]
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


def alerts_table(
    scored: pd.DataFrame,
    since: pd.Timestamp | None = None,
    until: pd.Timestamp | None = None,
    rules: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Accounts flagged by the model's alert rules (latest flag per account and rule), newest first.

    Args:
        since, until: keep flags raised on snapshot dates in this closed range (None = unbounded).
        rules: keep only these rule names (None = every rule).
    """
    rows = scored.loc[scored["alerts"].fillna("") != ""]
    if since is not None:
        rows = rows.loc[rows["snapshot_date"] >= pd.Timestamp(since)]
    if until is not None:
        rows = rows.loc[rows["snapshot_date"] <= pd.Timestamp(until)]
    exploded = rows.assign(rule=rows["alerts"].str.split("; ")).explode("rule")
    if rules is not None:
        exploded = exploded.loc[exploded["rule"].isin(list(rules))]
    latest = exploded.sort_values("snapshot_date").drop_duplicates(["account_id", "rule"], keep="last")
    cols = [c for c in ("snapshot_date", "rule", "account_id", "account_name", "band", "score", "change", "arr",
                        *OVERRIDE_COLUMNS) if c in latest.columns]
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

    One row per metric: `metric, value, raw_value, score, weight, contribution, previous_value,
    contribution_change` (``raw_value``: a window metric's column value at the date, else None), ordered by
    contribution change (largest loss first) so the top rows explain the movement.
    """
    history = account_history(scored, account_id)
    history = history.loc[history["snapshot_date"] <= pd.Timestamp(as_of)]
    if history.empty:
        return pd.DataFrame(columns=["metric", "value", "raw_value", "score", "weight", "contribution",
                                     "previous_value", "contribution_change"])
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
            "raw_value": [field(now, f"{m}_raw") for m in metrics],
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


# -- CSM score overrides --------------------------------------------------------------------------------
def apply_overrides(scored: pd.DataFrame, overrides: pd.DataFrame | None) -> pd.DataFrame:
    """Mark the rows a CSM score override covers: adds `override_score` and `override_reason`.

    An override covers its account's snapshots from the one in force when it was set — the latest snapshot
    date on or before its `created_at` day — up to and including `expires_on` (open-ended when empty).
    Starting at the snapshot in force rather than at the creation day itself matters: snapshots lag the
    calendar (a CSM overriding today looks at last month's snapshot), so an override would otherwise cover no
    row at all until the next load. When an account has several overrides the newest wins. The model's
    `score` is left as is; other rows get NaN / None.

    Args:
        scored: the scored portfolio (read-only; shared columns are not copied).
        overrides: `Workspace.active_overrides()` — `override_id, account_id, score, reason, expires_on,
            created_at` (None or empty: no overrides).

    Returns:
        A shallow copy of `scored` with the two columns added (the shared frame is not modified).
    """
    values = np.full(len(scored), np.nan)
    reasons = np.full(len(scored), None, dtype=object)
    if overrides is not None and len(overrides) and len(scored):
        newest = overrides.sort_values(["created_at", "override_id"]).drop_duplicates("account_id", keep="last")
        dates = np.asarray(snapshot_dates(scored), dtype="datetime64[ns]")
        created = pd.to_datetime(newest["created_at"]).dt.normalize().to_numpy("datetime64[ns]")
        pos = np.searchsorted(dates, created, side="right") - 1
        spans = pd.DataFrame({
            "account_id": newest["account_id"].astype(str).to_numpy(),
            "_start": np.where(pos >= 0, dates[np.maximum(pos, 0)], created),
            "_end": pd.to_datetime(newest["expires_on"]).fillna(pd.Timestamp.max).to_numpy("datetime64[ns]"),
            "_score": newest["score"].astype(float).to_numpy(),
            "_reason": newest["reason"].astype(str).to_numpy(),
        })
        # Only the overridden accounts' rows go through the merge (a handful of a million).
        idx = np.flatnonzero(scored["account_id"].astype(str).isin(spans["account_id"]).to_numpy())
        rows = scored.iloc[idx][KEY].astype({"account_id": str}).merge(spans, on="account_id", how="left")
        covered = ((rows["snapshot_date"] >= rows["_start"]) & (rows["snapshot_date"] <= rows["_end"])).to_numpy()
        values[idx[covered]] = rows["_score"].to_numpy()[covered]
        reasons[idx[covered]] = rows["_reason"].to_numpy()[covered]
    # A shallow copy shares the cached columns (~30 ms at 1 M rows, where .assign copies everything: ~0.5 s).
    out = scored.copy(deep=False)
    out["override_score"] = values
    out["override_reason"] = reasons
    return out


def score_label(score: float, override: float | None = None, suffix: bool = True) -> str:
    """A score as shown to people: '62', or '62 → 80 (override)' when a CSM override applies ('62 → 80' without
    the suffix, for a card whose label already says so)."""
    shown = "–" if score is None or pd.isna(score) else f"{score:.0f}"
    if override is None or pd.isna(override):
        return shown
    return f"{shown} → {override:.0f}" + (" (override)" if suffix else "")


def override_marks(rows: pd.DataFrame) -> pd.Series:
    """Per row, '62 → 80 (override)' where an override applies, else '' (vectorised `score_label`)."""
    if "override_score" not in rows.columns:
        return pd.Series("", index=rows.index, dtype=object)
    over = pd.to_numeric(rows["override_score"], errors="coerce")
    score = pd.to_numeric(rows["score"], errors="coerce")
    text = score.round().astype("Int64").astype(str).replace("<NA>", "–") + " → " + \
        over.round().astype("Int64").astype(str) + " (override)"
    return text.where(over.notna(), "").astype(object)


def live_overrides(overrides: pd.DataFrame, account_id: str, today: pd.Timestamp) -> pd.DataFrame:
    """One account's overrides that have not expired by `today` (from `Workspace.overrides()`), newest first.

    The first row is the one in force; older unexpired rows come back into force when it is removed.
    """
    rows = overrides.loc[overrides["account_id"].astype(str) == str(account_id)]
    expires = pd.to_datetime(rows["expires_on"])
    rows = rows.loc[expires.isna() | (expires >= pd.Timestamp(today).normalize())]
    return rows.sort_values(["created_at", "override_id"], ascending=False).reset_index(drop=True)


# -- display tables ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kpi:
    """One headline figure as text for `st.metric`: label, value, change text (None at the first snapshot) and
    whether a rise is good ("normal"), bad ("inverse") or neither ("off")."""

    label: str
    value: str
    delta: str | None
    delta_color: str = "normal"


def kpis(head: Mapping[str, float | int | None], slide: bool = False) -> list[Kpi]:
    """The four headline KPIs of `headline(...)` for `st.metric`, each with its change since the previous snapshot
    (None at the first): accounts, ARR, average score and the share of accounts red — "Accounts red" to a tenth
    of a percent in the app, "Share red" in whole percent on a slide (``slide``, the Present page)."""

    def shown(key: str, fmt: Callable[[float], str]) -> str:
        value = head.get(key)
        return "–" if value is None or not np.isfinite(value) else fmt(value)

    def change(key: str, fmt: Callable[[float], str]) -> str | None:
        value = head.get(f"{key}_change")
        return None if value is None or not np.isfinite(value) else fmt(value)

    red_label, red_format = ("Share red", "{:.0%}") if slide else ("Accounts red", "{:.1%}")
    return [
        Kpi("Accounts", shown("accounts", "{:,.0f}".format), change("accounts", "{:+,.0f}".format), "off"),
        Kpi("ARR", shown("arr", money), change("arr", lambda v: money(v, signed=True))),
        Kpi("Average score", shown("avg_score", "{:.1f}".format), change("avg_score", "{:+.1f}".format)),
        Kpi(red_label, shown("red_share", red_format.format), change("red_share", lambda v: f"{v * 100:+.1f} pts"),
            "inverse"),
    ]


# Column names people read, for every account table the pages show.
DISPLAY_NAMES = {
    "rank": "Rank", "snapshot_date": "Date", "rule": "Rule", "account_name": "Account", "account_id": "ID",
    "band": "Band", "score": "Score", "override": "Override", "change": "Change", "arr": "ARR",
    "arr_at_risk": "ARR at risk", "renewal_date": "Renewal", "alerts": "Alerts", "accounts": "Accounts",
    "accounts_change": "Δ accounts", "share": "Share", "arr_change": "Δ ARR", "avg_score": "Avg score",
    "avg_score_change": "Δ avg score",
}
_FORMATS = {
    "Rank": "{:.0f}", "Score": "{:.0f}", "Change": "{:+.1f}", "ARR": money, "ARR at risk": money,
    "Renewal": "{:%Y-%m-%d}", "Date": "{:%Y-%m-%d}", "Accounts": "{:,.0f}", "Δ accounts": "{:+,.0f}",
    "Share": "{:.1%}", "Δ ARR": lambda v: money(v, signed=True), "Avg score": "{:.1f}", "Δ avg score": "{:+.1f}",
}


def display_table(rows: pd.DataFrame) -> pd.DataFrame:
    """An account or band table with readable column names, band names capitalised ('No data') and an
    'Override' column ('62 → 80 (override)') when the rows carry CSM overrides; ids kept for row actions."""
    out = rows.copy()
    if "override_score" in out.columns:
        out["override"] = override_marks(out)
    if "band" in out.columns:
        out["band"] = out["band"].astype(str).str.capitalize()
    keep = [c for c in out.columns if c in DISPLAY_NAMES and c != "override"]
    if "account_name" in keep and "account_id" in keep:  # the name people read first, then the id
        keep.remove("account_name")
        keep.insert(keep.index("account_id"), "account_name")
    if "override" in out.columns:  # beside the score it replaces
        keep.insert(keep.index("score") + 1 if "score" in keep else len(keep), "override")
    return out[keep].rename(columns=DISPLAY_NAMES).reset_index(drop=True)


def style_bands(table: pd.DataFrame, colors: Mapping[str, str], column: str = "Band") -> Styler:
    """Colour a display table's band cells with the band colours and format its numbers.

    Args:
        table: a `display_table(...)` frame.
        colors: band → hex colour (`lib.charts.BAND_COLORS`); dark text keeps every band cell readable.
    """
    by_label = {band.capitalize(): color for band, color in colors.items()}
    styler = table.style.format({c: f for c, f in _FORMATS.items() if c in table.columns}, na_rep="–")
    if column in table.columns:
        styler = styler.map(lambda v: f"background-color: {by_label[v]}; color: #111111" if v in by_label else "",
                            subset=[column])
    return styler


# -- Trends ---------------------------------------------------------------------------------------------
def default_migration_dates(dates: Sequence[pd.Timestamp], as_of: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Default dates for a band migration: a year before `as_of` (or the first snapshot) → `as_of`."""
    ordered = sorted(pd.Timestamp(d) for d in dates)
    end = max([d for d in ordered if d <= pd.Timestamp(as_of)], default=ordered[-1])
    year_before = [d for d in ordered if d <= end - pd.DateOffset(years=1)]
    return (year_before[-1] if year_before else ordered[0]), end


def window_start(dates: Sequence[pd.Timestamp], as_of: pd.Timestamp, snapshots: int) -> pd.Timestamp:
    """The first date of the last `snapshots` snapshots up to `as_of` (e.g. 3 → the last three)."""
    upto = sorted(d for d in (pd.Timestamp(x) for x in dates) if d <= pd.Timestamp(as_of))
    return upto[-min(max(snapshots, 1), len(upto))] if upto else pd.Timestamp(as_of)


def migration_summary(matrix: pd.DataFrame) -> dict[str, int]:
    """Accounts in a `migrations(...)` matrix that moved to a worse band, a better one, or stayed.

    Red < yellow < green; moves into or out of 'no data' count as neither worse nor better.
    """
    rank = {"red": 0, "yellow": 1, "green": 2}
    cells = matrix.stack()
    frm = cells.index.get_level_values(0).map(rank)
    to = cells.index.get_level_values(1).map(rank)
    known = ~(pd.isna(frm) | pd.isna(to))
    n = cells.to_numpy()
    return {
        "accounts": int(n.sum()),
        "worse": int(n[known & (to < frm)].sum()),
        "better": int(n[known & (to > frm)].sum()),
        "same": int(n[cells.index.get_level_values(0) == cells.index.get_level_values(1)].sum()),
    }


def alert_counts(alerts: pd.DataFrame, rules: Sequence[str]) -> pd.Series:
    """Accounts flagged per rule in an `alerts_table(...)`, every model rule listed (0 when none fired)."""
    return alerts["rule"].value_counts().reindex(list(rules), fill_value=0).astype(int)


def segment_score_over_time(scored: pd.DataFrame, segment: str, max_values: int = 8) -> pd.DataFrame:
    """Average score per snapshot date (rows) and segment value (columns), the `max_values` largest values.

    Values are ranked by accounts at the latest date (ties by name); smaller ones are left out so the chart
    stays legible.
    """
    values = scored[segment].astype(str).where(scored[segment].notna(), "(missing)")
    latest = values[scored["snapshot_date"] == scored["snapshot_date"].max()]
    counts = latest.value_counts().sort_index()  # ties in size go by name, so the pick is stable
    top = counts.sort_values(ascending=False, kind="stable").head(max_values).index
    keep = values.isin(top).to_numpy()
    means = scored.loc[keep].groupby([scored.loc[keep, "snapshot_date"], values[keep]])["score"].mean()
    return means.unstack().reindex(columns=list(top)).rename_axis(index="snapshot_date", columns=None)


# -- one account ----------------------------------------------------------------------------------------
def account_choices(scored: pd.DataFrame, as_of: pd.Timestamp | None = None) -> pd.Series:
    """Accounts as 'Name · ACC-00017' (the id alone when it is the name), indexed by account id, sorted by name
    (any case), then id — every account, or those with a row at ``as_of`` (for a searchable picker)."""
    rows = scored if as_of is None else at_date(scored, as_of)
    last = rows.drop_duplicates("account_id", keep="last")
    ids = last["account_id"].astype(str)
    names = last["account_name"].astype(str) if "account_name" in last.columns else ids
    labels = pd.Series(names.where(names == ids, names + " · " + ids).to_numpy(), index=ids.to_numpy())
    return labels.iloc[np.lexsort((ids.to_numpy(), names.str.lower().to_numpy()))]


def default_account(scored: pd.DataFrame, as_of: pd.Timestamp) -> str | None:
    """The account to open first (the Account page, Present's account story): the red account with the most ARR
    at risk at `as_of` — the top of the Overview's at-risk table — else the yellow one, else the lowest score;
    None when there is no account."""
    risky = arr_at_risk(scored, as_of, per_band=1)
    if len(risky):
        return str(risky["account_id"].iloc[0])
    rows = at_date(scored, as_of)
    if rows.empty:
        rows = scored
    return None if rows.empty else str(rows.sort_values("score", na_position="last")["account_id"].iloc[0])


def account_snapshot(scored: pd.DataFrame, account_id: str, as_of: pd.Timestamp) -> pd.Series | None:
    """The account's latest row on or before `as_of` (None when it has none)."""
    rows = scored.loc[(scored["account_id"] == account_id) & (scored["snapshot_date"] <= pd.Timestamp(as_of))]
    return None if rows.empty else rows.loc[rows["snapshot_date"].idxmax()]


def describe_spec(spec: ScoreSpec) -> str:
    """How a score spec turns a raw value into points, in one line ('≤ 2 → 0 · ≥ 8 → 100')."""
    return method_of(spec).describe(spec)


def _shown(v: object) -> str:
    return ("missing" if v is None or (np.isscalar(v) and pd.isna(v))
            else f"{v:,.4g}" if isinstance(v, int | float | np.number) else str(v))


def metric_table(
    breakdown: pd.DataFrame, specs: Mapping[str, ScoreSpec], labels: Mapping[str, str] | None = None,
    windows: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """An `account_breakdown(...)` as a table people read: metric label, the value scored, the rule that scores
    it, metric score, weight (%), contribution and its change since the previous snapshot, in model order.
    With ``windows`` (metric → 'mean over the last 3 snapshots', see :func:`metric_windows`), the raw value and
    what is scored come beside the value: the statistic and the number it was computed from."""
    order = {m: i for i, m in enumerate(specs)}
    rows = breakdown.assign(_order=breakdown["metric"].map(order)).sort_values("_order")
    table = pd.DataFrame({
        "Metric": rows["metric"].map(lambda m: (labels or {}).get(m, m)).to_numpy(),
        "Value": rows["value"].map(_shown).to_numpy(),
        "Scoring rule": rows["metric"].map(lambda m: describe_spec(specs[m]) if m in specs else "").to_numpy(),
        "Metric score": rows["score"].to_numpy(float),
        "Weight (%)": (rows["weight"] * 100).to_numpy(float),
        "Contribution": rows["contribution"].to_numpy(float),
        "Change": rows["contribution_change"].to_numpy(float),
    })
    if windows:
        table.insert(1, "Scores", rows["metric"].map(lambda m: windows.get(m, "its value at the date")).to_numpy())
        table.insert(3, "Raw value", [_shown(v) if m in windows else "" for m, v in
                                      zip(rows["metric"], rows["raw_value"], strict=True)])
    return table


def metric_windows(model: Model) -> dict[str, str]:
    """Metric → what it scores in words, for the model's window metrics only ('mean over the last 3
    snapshots of Logins/User')."""
    return {m: f"{found.window.text} of {found.column}" for m, found in model.metrics.items()
            if found.window is not None}


def metric_specs(model: Model, profile: str | None) -> dict[str, ScoreSpec]:
    """Metric column → the score spec it uses under `profile` (the account's profile; None = Default)."""
    return {m: model.spec_for(str(profile or "Default"), m) for m in model.metrics}


def notes_table(notes: pd.DataFrame) -> pd.DataFrame:
    """`Workspace.notes(...)` as a table people read, newest first: When, Author, Note."""
    rows = notes.sort_values(["created_at", "note_id"], ascending=False)
    return pd.DataFrame({"When": pd.to_datetime(rows["created_at"]).dt.strftime("%Y-%m-%d %H:%M").to_numpy(),
                         "Author": rows["author"].fillna("").astype(str).to_numpy(),
                         "Note": rows["text"].astype(str).to_numpy()})


def overrides_table(overrides: pd.DataFrame) -> pd.DataFrame:
    """`live_overrides(...)` as a table: Score, Reason, Author, Expires, Set on, In force (the newest)."""
    expires = pd.to_datetime(overrides["expires_on"])
    return pd.DataFrame({
        "Score": overrides["score"].astype(float).to_numpy(),
        "Reason": overrides["reason"].astype(str).to_numpy(),
        "Author": overrides["author"].fillna("").astype(str).to_numpy(),
        "Expires": expires.dt.strftime("%Y-%m-%d").fillna("never").to_numpy(),
        "Set on": pd.to_datetime(overrides["created_at"]).dt.strftime("%Y-%m-%d").to_numpy(),
        "In force": np.arange(len(overrides)) == 0,
    }, index=overrides["override_id"].to_numpy())


def override_choice(overrides: pd.DataFrame) -> dict[int, str]:
    """Override id → '80 · renewal signed · until 2027-01-31' for a picker."""
    table = overrides_table(overrides)
    text = table["Score"].map("{:.0f}".format) + " · " + table["Reason"] + " · until " + table["Expires"]
    return dict(zip(table.index.astype(int), text, strict=True))


def account_percentile(peers: pd.DataFrame) -> float | None:
    """The account's percentile among its peers in a `segment_position(...)` table (None when absent)."""
    mine = peers.loc[peers["is_account"].astype(bool), "percentile"]
    return None if mine.empty or pd.isna(mine.iloc[0]) else float(mine.iloc[0])
