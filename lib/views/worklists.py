"""Worklists for CSMs: which accounts need attention now, and which are ready for expansion.

Both lists are built from one snapshot (the latest by default) of the score table (`lib.engine.sql.score`)
joined with the canonical portfolio (ARR, renewal date, owner, contact recency, usage metrics), and are
ranked within each owner (the CSM owner column), so each CSM gets their own ordered list.

**Attention list** — an account is on it when at least one reason applies:

* an alert rule fired at the snapshot (the score table's ``alerts`` column: steep drop, turned red, …);
* it is in the red band (switch off with ``include_red=False``);
* contact is overdue: days since the last contact above ``overdue_contact_days`` (from a days column such
  as ``days_since_last_contact``, or a last-contact date column, counted to the snapshot date);
* it renews within ``renewal_window_days`` of the snapshot date while red or yellow.

Ranked by **ARR at risk = ARR × (1 − score / 100)** — the same definition as `lib.views.portfolio.arr_at_risk`,
so the Overview and the worklists agree: a red account with a score of 20 puts 80 % of its ARR at risk, a
green one at 90 puts 10 %. Accounts without ARR or without a score ("no data") have no ARR at risk and
rank after the others (by score, lowest first). Each row carries a human ``reason``.

**Expansion list** — advocacy and upsell candidates: a high score (green band, or ``score >= min_score``)
and growing usage: the least-squares slope of a usage metric over the last ``trend_snapshots`` snapshots is
positive and its relative growth over that window (slope × (snapshots − 1) / mean usage) reaches
``min_growth``. When the model defines an expansion score (scored by the same engine), pass that score table
as ``expansion_scores`` and the list is ranked by it; otherwise by usage growth, then score.

Everything is vectorised (merge / groupby / column arithmetic); nothing loops over accounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from lib.data.ingest import find_contact_column, find_owner_column
from lib.engine.scored_portfolio import attach_attributes

UNASSIGNED = "Unassigned"
KEY = ["account_id", "snapshot_date"]
_SCORE_COLUMNS = ("account_id", "snapshot_date", "score", "band")


class WorklistError(ValueError):
    """Input a worklist cannot use; the message says which column or value and how to fix it."""


def _check_columns(df: pd.DataFrame, needed: Iterable[str], table: str, fix: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise WorklistError(f"{table}: missing column(s) {', '.join(map(repr, missing))} — {fix}")


def _resolve_column(portfolio: pd.DataFrame, given: str | None, detected: str | None, what: str) -> str | None:
    if given is None:
        return detected
    if given not in portfolio.columns:
        raise WorklistError(
            f"portfolio: {what} column {given!r} not found — pick one of: {', '.join(map(str, portfolio.columns))}"
        )
    return given


def _as_of(scores: pd.DataFrame, as_of: object) -> pd.Timestamp:
    dates = pd.to_datetime(scores["snapshot_date"]).dropna()
    if dates.empty:
        raise WorklistError("scores: no snapshot dates — score a portfolio with at least one snapshot first")
    if as_of is None:
        return pd.Timestamp(dates.max())
    when = pd.Timestamp(as_of)
    if not (dates == when).any():
        raise WorklistError(
            f"scores: no snapshot on {when:%Y-%m-%d} — pick a snapshot date between {dates.min():%Y-%m-%d} "
            f"and {dates.max():%Y-%m-%d}"
        )
    return when


def _snapshot(
    scores: pd.DataFrame, portfolio: pd.DataFrame, as_of: pd.Timestamp, extra: Sequence[str], metrics: Sequence[str]
) -> pd.DataFrame:
    """The score rows at ``as_of`` with ARR, renewal date, name, the ``extra`` portfolio columns and the raw
    ``{metric}_value`` of ``metrics``, taken from ``portfolio`` (a scored portfolio's own copies are dropped)."""
    now_scores = scores.loc[scores["snapshot_date"] == as_of].drop(columns=[f"{m}_value" for m in metrics],
                                                                    errors="ignore")
    now_portfolio = portfolio.loc[portfolio["snapshot_date"] == as_of]
    try:
        return attach_attributes(now_scores, now_portfolio, segments=extra, metrics=metrics)
    except pd.errors.MergeError as err:
        raise WorklistError(
            f"portfolio: more than one row per account on {as_of:%Y-%m-%d} — keep one row per account_id and "
            "snapshot_date (remove duplicate rows) and score again"
        ) from err


def _owners(rows: pd.DataFrame, owner_column: str | None) -> pd.Series:
    if owner_column is None:
        return pd.Series(UNASSIGNED, index=rows.index, dtype=object)
    owner = rows[owner_column].astype(object)
    owner = owner.where(owner.notna() & (owner.astype(str).str.strip() != ""), UNASSIGNED)
    return owner.astype(str)


def _filter_owner(rows: pd.DataFrame, owner: str | Sequence[str] | None) -> pd.DataFrame:
    if owner is None:
        return rows
    wanted = [owner] if isinstance(owner, str) else list(owner)
    return rows.loc[rows["owner"].isin([str(o) for o in wanted])]


def _rank_within_owner(rows: pd.DataFrame, by: list[str], ascending: list[bool]) -> pd.DataFrame:
    ordered = rows.sort_values(["owner", *by, "account_id"], ascending=[True, *ascending, True], na_position="last")
    ordered.insert(1, "rank", ordered.groupby("owner").cumcount() + 1)
    return ordered.reset_index(drop=True)


def _text(values: pd.Series) -> pd.Series:
    """Numbers rounded to whole units as text, vectorised (scores, days, percents in reasons)."""
    return values.astype(float).round().astype("Int64").astype(str)


def _piece(flag: pd.Series, text: pd.Series | str) -> pd.Series:
    """``text + "; "`` where ``flag`` holds, "" elsewhere: pieces are summed into one reason string."""
    return (pd.Series(text, index=flag.index, dtype=object) + "; ").where(flag, "")


def _days_since_contact(rows: pd.DataFrame, contact_column: str | None, as_of: pd.Timestamp) -> pd.Series:
    if contact_column is None:
        return pd.Series(np.nan, index=rows.index)
    values = rows[contact_column]
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return (as_of - values).dt.days.astype(float)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().all() and values.notna().any():
        raise WorklistError(
            f"portfolio: contact column {contact_column!r} holds neither numbers of days nor dates — point "
            "contact_column at a days-since-last-contact or a last-contact-date column"
        )
    return numeric.astype(float)


def attention_list(
    scores: pd.DataFrame,
    portfolio: pd.DataFrame,
    *,
    as_of: object = None,
    owner: str | Sequence[str] | None = None,
    owner_column: str | None = None,
    contact_column: str | None = None,
    overdue_contact_days: float = 30,
    renewal_window_days: float = 90,
    include_red: bool = True,
) -> pd.DataFrame:
    """Accounts needing attention at one snapshot, per owner, ranked by ARR at risk (see the module doc).

    Args:
        scores: the score table (``account_id, snapshot_date, score, band, change, alerts`` are used).
        portfolio: the canonical portfolio (``arr``, ``renewal_date``, ``account_name``, the owner and
            contact columns are used when present).
        as_of: snapshot date (default: the latest in ``scores``).
        owner: keep only this owner (or these owners); accounts without an owner are "Unassigned".
        owner_column: the owner column (default: first of ``OWNER_CANDIDATES`` present; without one every
            account is "Unassigned").
        contact_column: days since last contact, or the date of the last contact (default: first of
            ``CONTACT_CANDIDATES`` present; without one the overdue-contact reason never applies).
        overdue_contact_days: contact is overdue when the days since the last contact exceed this.
        renewal_window_days: a red or yellow account renewing within this many days is flagged.
        include_red: list every red account even when no other reason applies, with "Red band" in its
            reason (False: red only shows through the other reasons).

    Returns:
        One row per flagged account: ``owner, rank`` (1 = most ARR at risk for that owner), ``account_id,
        account_name, band, score, change, arr, arr_at_risk, renewal_date, days_to_renewal,
        days_since_contact, alerts``, the flags ``alert_hit, is_red, contact_overdue, renewal_soon``, the
        ``reason`` text and ``snapshot_date``; sorted by owner, then rank.

    Raises:
        WorklistError: a required column is missing, ``as_of`` is not a snapshot date, or a named column
            does not exist.
    """
    _check_columns(scores, _SCORE_COLUMNS, "scores", "pass the table returned by lib.engine.sql.score")
    _check_columns(portfolio, KEY, "portfolio", "pass the canonical portfolio table (lib.data.ingest.load_portfolio)")
    when = _as_of(scores, as_of)
    owner_col = _resolve_column(portfolio, owner_column, find_owner_column(portfolio.columns), "owner")
    contact_col = _resolve_column(
        portfolio, contact_column, find_contact_column(portfolio.columns), "contact"
    )
    rows = _snapshot(scores, portfolio, when, [c for c in (owner_col, contact_col) if c], [])

    rows["owner"] = _owners(rows, owner_col)
    score = rows["score"].astype(float)
    arr = rows["arr"].astype(float) if "arr" in rows.columns else pd.Series(np.nan, index=rows.index)
    rows["arr"] = arr
    rows["arr_at_risk"] = arr * (1 - score / 100)
    alerts = rows["alerts"].fillna("").astype(str) if "alerts" in rows.columns else pd.Series("", index=rows.index)
    rows["alerts"] = alerts
    if "change" not in rows.columns:
        rows["change"] = np.nan
    renewal = (
        pd.to_datetime(rows["renewal_date"]) if "renewal_date" in rows.columns
        else pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]")
    )
    rows["renewal_date"] = renewal
    rows["days_to_renewal"] = (renewal - when).dt.days.astype(float)
    rows["days_since_contact"] = _days_since_contact(rows, contact_col, when)

    rows["alert_hit"] = alerts.str.strip() != ""
    rows["is_red"] = rows["band"] == "red"
    rows["contact_overdue"] = rows["days_since_contact"] > overdue_contact_days
    rows["renewal_soon"] = rows["days_to_renewal"].between(0, renewal_window_days) & rows["band"].isin(
        ["red", "yellow"]
    )
    flagged = rows["alert_hit"] | rows["contact_overdue"] | rows["renewal_soon"]
    if include_red:
        flagged |= rows["is_red"]
    rows = _filter_owner(rows.loc[flagged].copy(), owner)

    reason = (
        _piece(rows["alert_hit"], "Alert: " + rows["alerts"].str.replace("; ", ", ", regex=False))
        + _piece(rows["is_red"] & include_red, "Red band (score " + _text(rows["score"]) + ")")
        + _piece(
            rows["contact_overdue"],
            "No contact for " + _text(rows["days_since_contact"]) + f" days (limit {overdue_contact_days:g})",
        )
        + _piece(
            rows["renewal_soon"],
            "Renews in " + _text(rows["days_to_renewal"]) + " days ("
            + rows["renewal_date"].dt.strftime("%Y-%m-%d") + ") while " + rows["band"].astype(str),
        )
    )
    rows["reason"] = reason.str.removesuffix("; ")
    ranked = _rank_within_owner(rows, ["arr_at_risk", "score"], [False, True])
    columns = [
        "owner", "rank", "account_id", "account_name", "band", "score", "change", "arr", "arr_at_risk",
        "renewal_date", "days_to_renewal", "days_since_contact", "alerts", "alert_hit", "is_red",
        "contact_overdue", "renewal_soon", "reason", "snapshot_date",
    ]
    return ranked[columns]


def owner_summary(attention: pd.DataFrame) -> pd.DataFrame:
    """Per owner: accounts on the attention list, their ARR at risk and how many carry each reason.

    Returns columns ``owner, accounts, arr_at_risk, alerts, red, contact_overdue, renewals`` sorted by ARR
    at risk, largest first (where a team lead starts).
    """
    grouped = attention.groupby("owner", sort=False)
    out = pd.DataFrame(
        {
            "accounts": grouped.size(),
            "arr_at_risk": grouped["arr_at_risk"].sum(min_count=1),
            "alerts": grouped["alert_hit"].sum(),
            "red": grouped["is_red"].sum(),
            "contact_overdue": grouped["contact_overdue"].sum(),
            "renewals": grouped["renewal_soon"].sum(),
        }
    )
    out = out.rename_axis("owner").reset_index()
    return out.sort_values(["arr_at_risk", "owner"], ascending=[False, True], na_position="last").reset_index(
        drop=True
    )


def usage_trend(
    portfolio: pd.DataFrame, usage_column: str, dates: Sequence[pd.Timestamp]
) -> pd.DataFrame:
    """Least-squares trend of a usage metric per account over the given snapshot dates (oldest first).

    Returns one row per account with at least two values: ``account_id, usage_points, usage_slope`` (change
    per snapshot), ``usage_mean``, ``usage_growth`` (slope × (len(dates) − 1) / |mean|: the fitted relative
    change across the window; NaN when the mean is 0).
    """
    position = pd.Series(np.arange(len(dates), dtype=float), index=pd.DatetimeIndex(dates))
    window = portfolio.loc[portfolio["snapshot_date"].isin(position.index), ["account_id", "snapshot_date",
                                                                              usage_column]]
    y = pd.to_numeric(window[usage_column], errors="coerce")
    t = window["snapshot_date"].map(position)
    parts = pd.DataFrame({"account_id": window["account_id"], "t": t, "y": y}).dropna()
    parts = parts.assign(tt=parts["t"] ** 2, ty=parts["t"] * parts["y"])
    sums = parts.groupby("account_id").agg(n=("t", "size"), st=("t", "sum"), sy=("y", "sum"),
                                           stt=("tt", "sum"), sty=("ty", "sum"))
    sums = sums.loc[sums["n"] >= 2]
    denominator = sums["n"] * sums["stt"] - sums["st"] ** 2
    slope = (sums["n"] * sums["sty"] - sums["st"] * sums["sy"]) / denominator.replace(0, np.nan)
    mean = sums["sy"] / sums["n"]
    growth = slope * (len(dates) - 1) / mean.abs().replace(0, np.nan)
    return pd.DataFrame(
        {"usage_points": sums["n"].astype(int), "usage_slope": slope, "usage_mean": mean, "usage_growth": growth}
    ).rename_axis("account_id").reset_index()


def expansion_list(
    scores: pd.DataFrame,
    portfolio: pd.DataFrame,
    *,
    usage_column: str,
    as_of: object = None,
    owner: str | Sequence[str] | None = None,
    owner_column: str | None = None,
    min_score: float | None = None,
    trend_snapshots: int = 3,
    min_growth: float = 0.0,
    expansion_scores: pd.DataFrame | None = None,
    usage_label: str | None = None,
) -> pd.DataFrame:
    """Advocacy and upsell candidates at one snapshot: high score and growing usage, per owner.

    Args:
        scores: the health score table, or the scored portfolio (its ``{metric}_value`` columns may stay:
            the usage values are always read from ``portfolio``).
        portfolio: the canonical portfolio (must hold ``usage_column``).
        usage_column: numeric usage metric whose trend is measured (e.g. ``logins_per_user``).
        as_of: snapshot date (default: the latest in ``scores``).
        owner: keep only this owner (or these owners).
        owner_column: as in `attention_list`.
        min_score: qualify by ``score >= min_score`` instead of the green band.
        trend_snapshots: how many snapshots up to ``as_of`` the usage trend spans (at least 2).
        min_growth: minimum relative usage growth over the window (0.1 = +10 %); the slope must be > 0.
        expansion_scores: the score table of the model's expansion sub-model (same engine); when given the
            list is ranked by it (``expansion_score`` / ``expansion_band`` columns are added).
        usage_label: the usage metric's name in the reason text (default: the column name).

    Returns:
        ``owner, rank, account_id, account_name, score, band, arr, usage, usage_slope, usage_growth``,
        ``expansion_score, expansion_band`` (NaN without ``expansion_scores``), ``reason, snapshot_date``;
        sorted by owner, then rank.

    Raises:
        WorklistError: missing columns, a non-numeric usage column, a bad window or snapshot date.
    """
    _check_columns(scores, _SCORE_COLUMNS, "scores", "pass the table returned by lib.engine.sql.score")
    _check_columns(portfolio, [*KEY, usage_column], "portfolio",
                   "choose a usage metric column that exists in the portfolio")
    if not pd.api.types.is_numeric_dtype(portfolio[usage_column].dtype):
        raise WorklistError(
            f"portfolio: usage column {usage_column!r} is not numeric — choose a numeric usage metric "
            "(logins, active users, feature adoption)"
        )
    if trend_snapshots < 2:
        raise WorklistError(f"trend_snapshots: {trend_snapshots} — a trend needs at least 2 snapshots")
    when = _as_of(scores, as_of)
    owner_col = _resolve_column(portfolio, owner_column, find_owner_column(portfolio.columns), "owner")
    rows = _snapshot(scores, portfolio, when, [owner_col] if owner_col else [], [usage_column])
    rows["owner"] = _owners(rows, owner_col)

    high = rows["score"] >= min_score if min_score is not None else rows["band"] == "green"
    all_dates = pd.DatetimeIndex(sorted(pd.to_datetime(scores["snapshot_date"].dropna().unique())))
    window = all_dates[all_dates <= when][-trend_snapshots:]
    trend = usage_trend(portfolio, usage_column, list(window))
    rows = rows.loc[high].merge(trend, on="account_id", how="inner")
    rows = rows.loc[(rows["usage_slope"] > 0) & (rows["usage_growth"] >= min_growth)]
    rows = _filter_owner(rows, owner).copy()

    rows["usage"] = rows.pop(f"{usage_column}_value").astype(float)
    if "arr" not in rows.columns:
        rows["arr"] = np.nan
    if expansion_scores is not None:
        _check_columns(expansion_scores, ["account_id", "snapshot_date", "score"], "expansion_scores",
                       "pass the table lib.engine.sql.score returns for the model's expansion sub-model")
        now = expansion_scores.loc[expansion_scores["snapshot_date"] == when]
        expansion = pd.DataFrame({
            "account_id": now["account_id"],
            "expansion_score": now["score"].astype(float),
            "expansion_band": now["band"] if "band" in now.columns else np.nan,
        })
        rows = rows.merge(expansion, on="account_id", how="left", validate="one_to_one")
        ranked_by = ["expansion_score", "usage_growth"]
    else:
        rows["expansion_score"], rows["expansion_band"] = np.nan, np.nan
        ranked_by = ["usage_growth", "score"]
    label = usage_label or usage_column
    rows["reason"] = (
        "Score " + _text(rows["score"]) + " (" + rows["band"].astype(str) + "); " + label + " up "
        + _text(rows["usage_growth"] * 100) + f"% over the last {len(window)} snapshots"
        + ("; expansion score " + _text(rows["expansion_score"])).where(rows["expansion_score"].notna(), "")
    )
    ranked = _rank_within_owner(rows, ranked_by, [False, False])
    columns = [
        "owner", "rank", "account_id", "account_name", "score", "band", "arr", "usage", "usage_slope",
        "usage_growth", "expansion_score", "expansion_band", "reason", "snapshot_date",
    ]
    return ranked[columns]
