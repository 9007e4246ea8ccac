"""Plays: an intervention run on chosen accounts from a start date, measured against a control group.

The accounts a play targets were chosen *because* they were at risk, so comparing them with the rest of the
book says nothing. A share of the targets is held back at random (the control group) and the play's effect
is the treated − control difference since the start: churn, score change, ARR retained, each with a 95%
interval and the counts it rests on.

The groups are drawn and kept by :mod:`lib.data.play_groups` (stratified, seeded, never reshuffled). The
statistics are pure numpy over arrays, so a test can run thousands of simulated plays in one call:

* a difference in rates (churn): Newcombe's hybrid score interval (Wilson intervals per group), which keeps
  its 95% coverage with few outcomes and rates near 0, where the textbook Wald interval does not;
* a difference in means (score change): Welch's t interval;
* ARR retained (Σ latest ARR / Σ ARR at the start): a ratio estimate with its delta-method variance;
* how many more outcomes are needed to detect a given churn difference: the two-proportion sample size at
  α = 0.05 (two-sided) and 80% power, with the play's treated:control ratio.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from lib.data.play_groups import GROUPS, PlayError, examples
from lib.engine.plan import BANDS

Z95 = float(special.ndtri(0.975))
Z_POWER = float(special.ndtri(0.8))
DEFAULT_EFFECT = 0.05  # the churn difference (5 points) a play should be able to show, unless told otherwise
KEY = ("account_id", "snapshot_date")


# -- intervals (vectorised: every argument may be an array, e.g. one entry per simulated play) ------------
def _wilson(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * np.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def rate_difference(k_t: Any, n_t: Any, k_c: Any, n_c: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Treated − control difference in rates (k events out of n) with Newcombe's 95% hybrid score interval.

    Returns ``(estimate, low, high)``; NaN where a group has no outcomes.
    """
    k_t, n_t, k_c, n_c = (np.asarray(x, dtype=float) for x in (k_t, n_t, k_c, n_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_t, p_c = k_t / n_t, k_c / n_c
        lo_t, hi_t = _wilson(k_t, n_t)
        lo_c, hi_c = _wilson(k_c, n_c)
    estimate = p_t - p_c
    low = estimate - np.sqrt((p_t - lo_t) ** 2 + (hi_c - p_c) ** 2)
    high = estimate + np.sqrt((hi_t - p_t) ** 2 + (p_c - lo_c) ** 2)
    return estimate, low, high


def mean_difference(mean_t: Any, var_t: Any, n_t: Any, mean_c: Any, var_c: Any, n_c: Any
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Treated − control difference in means with Welch's 95% t interval (sample variances, ddof=1).

    Returns ``(estimate, low, high)``; NaN where a group has fewer than 2 values.
    """
    mean_t, var_t, n_t, mean_c, var_c, n_c = (np.asarray(x, dtype=float)
                                              for x in (mean_t, var_t, n_t, mean_c, var_c, n_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = var_t / n_t, var_c / n_c
        se = np.sqrt(a + b)
        dof = (a + b) ** 2 / (a**2 / (n_t - 1) + b**2 / (n_c - 1))
        t = special.stdtrit(np.where(dof > 0, dof, np.nan), 0.975)
    t = np.where(se == 0, 0.0, t)  # no spread at all: the difference is exact
    estimate = mean_t - mean_c
    bad = (n_t < 2) | (n_c < 2)
    estimate = np.where(bad, np.nan, estimate)
    return estimate, np.where(bad, np.nan, estimate - t * se), np.where(bad, np.nan, estimate + t * se)


def _ratio(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Σy/Σx and its delta-method variance."""
    n = len(x)
    if n < 2 or x.sum() <= 0:
        return float("nan"), float("nan")
    r = y.sum() / x.sum()
    resid = y - r * x
    return float(r), float(resid.var(ddof=1) / (n * x.mean() ** 2))


def outcomes_needed(p_control: Any, effect: Any = DEFAULT_EFFECT, treated_per_control: Any = 4.0) -> np.ndarray:
    """Known outcomes (both groups together) needed to detect a churn difference of ``effect`` with 80% power
    at the 5% level, when the control group churns at ``p_control`` and there are ``treated_per_control``
    treated accounts per control account."""
    p_c = np.clip(np.asarray(p_control, dtype=float), 0.01, 0.99)
    k = np.asarray(treated_per_control, dtype=float)
    p_t = np.clip(p_c - np.asarray(effect, dtype=float), 0.005, 0.995)
    n_c = (Z95 + Z_POWER) ** 2 * (p_t * (1 - p_t) / k + p_c * (1 - p_c)) / np.asarray(effect, dtype=float) ** 2
    return np.ceil(n_c * (1 + k))


# -- the report ------------------------------------------------------------------------------------------------
def account_table(rows: pd.DataFrame, assignments: pd.DataFrame, start: object, *, outcome: str | None = None,
                  arr: str | None = None, where: str = "data") -> pd.DataFrame:
    """One row per assigned account: its group, its row at the start and its latest row.

    Args:
        rows: one row per account and snapshot (``account_id, snapshot_date`` and, when present, ``score``,
            ``band``, the ``arr`` and ``outcome`` columns).
        assignments: ``account_id, group`` (checked with :func:`check_assignments`).
        start: the play's start date; the start row is each account's last snapshot on or before it.
        outcome: the outcome column (churned True / renewed False), read from each account's latest row.
        arr: the ARR column.

    Returns:
        ``account_id, group, start_date, latest_date`` and for each of ``score, band, arr``: ``<col>_start``,
        ``<col>_latest``; ``churned`` (nullable boolean) when ``outcome`` is given.

    Raises:
        PlayError: the start is after the data, or the assignments name accounts the data lacks.
    """
    from lib.analysis import AnalysisError, outcome_flags  # the product's one reading of an outcome column

    day = _start(start)
    last = rows["snapshot_date"].max()
    if pd.isna(last) or day > last:
        raise PlayError(f"start date {day:%Y-%m-%d} is after the last snapshot in {where} "
                        f"({'none' if pd.isna(last) else f'{last:%Y-%m-%d}'}) — pick a date on or before it")
    ids = rows["account_id"].astype(str)
    unknown = ~assignments["account_id"].isin(ids)
    if unknown.any():
        raise PlayError(f"assignments: {int(unknown.sum())} account(s) are not in {where}: "
                        f"{examples(assignments.loc[unknown, 'account_id'].tolist())} — remove them, or check that "
                        "the assignments belong to this data")
    keep = [c for c in ("score", "band", arr, outcome) if c is not None and c in rows.columns]
    data = rows[[*KEY, *keep]].assign(account_id=ids).rename(columns={arr: "arr"} if arr else {})
    data = data[data["account_id"].isin(assignments["account_id"])]
    latest = snapshot_at(data).set_index("account_id")
    before = snapshot_at(data, day).set_index("account_id")
    values = [c for c in ("score", "band", "arr") if c in data.columns]
    table = assignments.set_index("account_id")[["group"]].join(
        before[["snapshot_date", *values]].rename(columns=lambda c: "start_date" if c == "snapshot_date"
                                                 else f"{c}_start"))
    table = table.join(latest[["snapshot_date", *values]].rename(
        columns=lambda c: "latest_date" if c == "snapshot_date" else f"{c}_latest"))
    if outcome is not None:
        if outcome not in rows.columns:
            raise PlayError(f"{where}: no outcome column '{outcome}' — name the column that says churned / renewed")
        try:
            table["churned"] = outcome_flags(latest[outcome], outcome).reindex(table.index)
        except AnalysisError as exc:
            raise PlayError(f"{where}: {exc}") from None
    return table.reset_index()


def snapshot_at(rows: pd.DataFrame, day: object = None) -> pd.DataFrame:
    """Each account's last row on or before ``day`` (its latest row when None), one per account."""
    data = rows if day is None else rows[rows["snapshot_date"] <= pd.Timestamp(day)]
    return data.sort_values(list(KEY), kind="stable").groupby("account_id", sort=False).tail(1)


def rule_targets(scored: pd.DataFrame, day: object, *, bands: Sequence[str] = (),
                 score_range: tuple[float, float] = (0.0, 100.0), arr_range: tuple[float | None, float | None] = (
                     None, None), alert: str | None = None) -> pd.DataFrame:
    """The accounts a rule picks at a date: their row on that snapshot date (accounts present on it) whose band
    is one of ``bands`` (all when empty), score within ``score_range`` (inclusive), ARR within ``arr_range``
    (None: open) and, with ``alert``, whose ``alerts`` text names that rule."""
    rows = scored[scored["snapshot_date"] == pd.Timestamp(day)]
    keep = rows["score"].between(*score_range)
    if bands:
        keep &= rows["band"].isin(list(bands))
    low, high = arr_range
    if "arr" in rows.columns and (low is not None or high is not None):
        keep &= rows["arr"].between(-np.inf if low is None else low, np.inf if high is None else high)
    if alert:
        keep &= rows["alerts"].fillna("").astype(str).str.contains(f"(?:^|; ){re.escape(alert)}(?:;|$)")
    return rows[keep]


def rule_caption(day: object, *, bands: Sequence[str] = (), score_range: tuple[float, float] = (0.0, 100.0),
                 arr_range: tuple[float | None, float | None] = (None, None), alert: str | None = None,
                 filters: dict[str, Sequence[str]] | None = None) -> str:
    """The rule in words, stored with the play: 'Rule on 2026-04-01: band red, score 0–40, alert Turned red'."""
    parts = [f"band {', '.join(bands)}" if bands else "any band"]
    if tuple(score_range) != (0.0, 100.0):
        parts.append(f"score {score_range[0]:g}–{score_range[1]:g}")
    low, high = arr_range
    if low is not None or high is not None:
        parts.append(f"ARR {'' if low is None else f'{low:,.0f}'}–{'' if high is None else f'{high:,.0f}'}")
    if alert:
        parts.append(f"alert {alert}")
    parts += [f"{k} {', '.join(v)}" for k, v in (filters or {}).items() if v]
    return f"Rule on {pd.Timestamp(day):%Y-%m-%d}: " + "; ".join(parts)


def _start(start: object) -> pd.Timestamp:
    try:
        day = pd.Timestamp(start)
    except (TypeError, ValueError):
        raise PlayError(f"start date '{start}' is not a date — write it as YYYY-MM-DD") from None
    if pd.isna(day):
        raise PlayError("a play needs a start date — write it as YYYY-MM-DD")
    return day.normalize()


@dataclass(frozen=True)
class Difference:
    """Treated − control for one measure, with its 95% interval and the counts it rests on."""

    measure: str
    treated: float
    control: float
    estimate: float
    ci_low: float
    ci_high: float
    n_treated: int
    n_control: int

    @property
    def clear(self) -> bool:
        """True when the interval excludes 0 (a difference the data can tell from chance)."""
        return bool(np.isfinite(self.ci_low) and (self.ci_low > 0 or self.ci_high < 0))


@dataclass(frozen=True)
class PlayReport:
    """Treated vs control since the start; see :func:`report`."""

    accounts: dict[str, int]
    churn: Difference | None
    score_change: Difference | None
    arr_retained: Difference | None
    outcomes: dict[str, int]  # known outcomes per group
    outcomes_needed: int | None  # for DEFAULT_EFFECT (or the effect asked for), both groups together
    effect: float = DEFAULT_EFFECT
    notes: list[str] = field(default_factory=list)

    @property
    def too_early(self) -> bool:
        """Too early to tell: fewer known outcomes than needed to detect the effect, or none in a group."""
        return self.churn is None or self.outcomes_needed is None or sum(self.outcomes.values()) < \
            self.outcomes_needed

    @property
    def more_needed(self) -> int:
        """How many more known outcomes are needed (0 when there are enough)."""
        if self.outcomes_needed is None:
            return 0
        return max(0, int(self.outcomes_needed) - sum(self.outcomes.values()))

    def to_dict(self) -> dict[str, Any]:
        """The JSON the CLI prints: per group ``accounts, churn_rate, score_change`` and each difference's
        ``estimate, ci_low, ci_high`` (null when it cannot be computed), plus counts and the verdict."""

        def number(x: float | None) -> float | None:
            return None if x is None or not np.isfinite(x) else round(float(x), 6)

        def diff(d: Difference | None) -> dict[str, Any]:
            keys = ("estimate", "ci_low", "ci_high")
            return {k: (number(getattr(d, k)) if d else None) for k in keys} | {
                "n_treated": d.n_treated if d else 0, "n_control": d.n_control if d else 0}

        out: dict[str, Any] = {}
        for group in GROUPS:
            out[group] = {"accounts": int(self.accounts[group]),
                          "churn_rate": number(getattr(self.churn, group)) if self.churn else None,
                          "score_change": number(getattr(self.score_change, group)) if self.score_change else None,
                          "outcomes": int(self.outcomes.get(group, 0))}
        out["churn_rate_difference"] = diff(self.churn)
        out["score_change_difference"] = diff(self.score_change)
        out["arr_retained_difference"] = diff(self.arr_retained)
        out["too_early_to_tell"] = self.too_early
        out["outcomes_needed"] = self.outcomes_needed
        out["effect"] = self.effect
        out["notes"] = list(self.notes)
        return out


def report(table: pd.DataFrame, effect: float = DEFAULT_EFFECT) -> PlayReport:
    """Treated vs control from :func:`account_table`: churn rate (accounts whose outcome, on their latest row,
    can have arrived since the start: they reported after it, or churned), mean score
    change from the start row to the latest (accounts with a score at both), ARR retained (Σ latest ARR, 0 for
    a churned account, / Σ ARR at the start), each treated − control with a 95% interval."""
    treated = (table["group"] == "treated").to_numpy()
    accounts = {"treated": int(treated.sum()), "control": int((~treated).sum())}
    notes: list[str] = []
    churn, outcomes, needed = None, {"treated": 0, "control": 0}, None
    after = (table["latest_date"] > table["start_date"]).to_numpy()
    if not after.any():
        notes.append("no snapshot after the start yet: the groups can be compared once newer snapshots arrive")
    if "churned" in table.columns:
        # An outcome counts once it can have arrived since the start: the account reported after the start, or
        # churned (it was a customer at the start, so the churn came after it).
        flags = table["churned"].fillna(False).to_numpy(dtype=bool)
        known = table["churned"].notna().to_numpy() & (after | flags)
        n_t, n_c = int((known & treated).sum()), int((known & ~treated).sum())
        k_t, k_c = int((flags & treated).sum()), int((flags & ~treated).sum())
        outcomes = {"treated": n_t, "control": n_c}
        if n_t and n_c:
            est, lo, hi = rate_difference(k_t, n_t, k_c, n_c)
            churn = Difference("churn rate", k_t / n_t, k_c / n_c, float(est), float(lo), float(hi), n_t, n_c)
        p_c = k_c / n_c if n_c else 0.15
        ratio = accounts["treated"] / max(accounts["control"], 1)
        needed = int(outcomes_needed(p_c, effect, ratio))
    else:
        notes.append("no outcome column: churn and renewal rates need one")
    score_change = None
    if {"score_start", "score_latest"} <= set(table.columns):
        change = (table["score_latest"] - table["score_start"]).to_numpy(dtype=float)
        ok = np.isfinite(change)
        t, c = change[ok & treated], change[ok & ~treated]
        if len(t) >= 2 and len(c) >= 2:
            est, lo, hi = mean_difference(t.mean(), t.var(ddof=1), len(t), c.mean(), c.var(ddof=1), len(c))
            score_change = Difference("score change", float(t.mean()), float(c.mean()), float(est), float(lo),
                                      float(hi), len(t), len(c))
        if (~ok).any():
            notes.append(f"{int((~ok).sum())} account(s) have no score on or before the start, or none since: "
                         "left out of the score change")
    arr_retained = None
    if {"arr_start", "arr_latest"} <= set(table.columns):
        latest = table["arr_latest"].to_numpy(dtype=float)
        if "churned" in table.columns:
            latest = np.where(table["churned"].fillna(False).to_numpy(dtype=bool), 0.0, latest)
        start = table["arr_start"].to_numpy(dtype=float)
        ok = np.isfinite(start) & np.isfinite(latest)
        r_t, v_t = _ratio(latest[ok & treated], start[ok & treated])
        r_c, v_c = _ratio(latest[ok & ~treated], start[ok & ~treated])
        if np.isfinite(r_t) and np.isfinite(r_c):
            se = np.sqrt(v_t + v_c)
            arr_retained = Difference("ARR retained", r_t, r_c, r_t - r_c, r_t - r_c - Z95 * se,
                                      r_t - r_c + Z95 * se, int((ok & treated).sum()), int((ok & ~treated).sum()))
    return PlayReport(accounts, churn, score_change, arr_retained, outcomes, needed, effect, notes)


def differences_table(result: PlayReport) -> pd.DataFrame:
    """The report's differences as rows for a table: measure, treated, control, difference, 95% interval,
    accounts counted in each group, and whether the interval excludes 0."""
    rows = [asdict(d) | {"clear": d.clear} for d in (result.churn, result.score_change, result.arr_retained)
            if d is not None]
    columns = ["measure", "treated", "control", "estimate", "ci_low", "ci_high", "n_treated", "n_control", "clear"]
    return pd.DataFrame(rows, columns=columns)


# -- what the page draws ------------------------------------------------------------------------------------
def balance(table: pd.DataFrame) -> pd.DataFrame:
    """The two groups side by side at the start, so a leader sees they are comparable: accounts, average
    score, total and average ARR, and the share of each band. Columns ``treated, control``."""
    by = table.groupby("group")
    rows: dict[str, pd.Series] = {"Accounts": by.size()}
    if "score_start" in table.columns:
        rows["Average score"] = by["score_start"].mean()
    if "arr_start" in table.columns:
        rows["Total ARR"] = by["arr_start"].sum()
        rows["Average ARR"] = by["arr_start"].mean()
    if "band_start" in table.columns:
        share = pd.crosstab(table["band_start"].fillna("no data"), table["group"], normalize="columns")
        for band in [b for b in BANDS if b in share.index]:
            rows[f"Share {band}"] = share.loc[band]
    return pd.DataFrame(rows).T.reindex(columns=list(GROUPS))


def score_over_time(rows: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """Mean score per group and snapshot date: ``snapshot_date, group, score, accounts``."""
    data = rows[["account_id", "snapshot_date", "score"]].assign(account_id=rows["account_id"].astype(str))
    data = data.merge(assignments[["account_id", "group"]], on="account_id")
    return (data.groupby(["snapshot_date", "group"], as_index=False)
            .agg(score=("score", "mean"), accounts=("account_id", "nunique")))


def band_migrations(table: pd.DataFrame) -> pd.DataFrame:
    """Per group, the share of accounts moving from each band at the start to each band at the latest
    snapshot: ``group, band_start, band_latest, accounts, share`` (share within the group)."""
    data = table.assign(band_start=table["band_start"].fillna("no data"),
                        band_latest=table["band_latest"].fillna("no data"))
    counts = data.groupby(["group", "band_start", "band_latest"], as_index=False).size().rename(
        columns={"size": "accounts"})
    counts["share"] = counts["accounts"] / counts.groupby("group")["accounts"].transform("sum")
    return counts


def group_list(table: pd.DataFrame, group: str = "treated", names: pd.Series | None = None) -> pd.DataFrame:
    """One group's accounts (the treated list is what the team runs the play on, and exports): account_id,
    account_name, band and score at the start, ARR at the start."""
    out = table[table["group"] == group]
    cols = [c for c in ("account_id", "band_start", "score_start", "arr_start") if c in out.columns]
    out = out[cols].rename(columns={"band_start": "band", "score_start": "score", "arr_start": "arr"})
    if names is not None:
        out.insert(1, "account_name", out["account_id"].map(names).fillna(out["account_id"]))
    return out.reset_index(drop=True)


def _as_percent(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.1%}"


def _as_points(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:+.1f}"


# Rates and ARR retained read as percentages (their differences as percentage points); score changes as points.
_FORMATS = {"churn rate": (_as_percent, lambda x: _as_points(100 * x) + " pts"),
            "ARR retained": (_as_percent, lambda x: _as_points(100 * x) + " pts"),
            "score change": (_as_points, _as_points)}


def differences_display(result: PlayReport) -> pd.DataFrame:
    """The differences as text for a table: Measure, Treated, Control, Difference, 95% interval, Accounts,
    Verdict ('clear' when the interval excludes 0, else 'could be chance')."""
    rows = []
    for d in (result.churn, result.score_change, result.arr_retained):
        if d is None:
            continue
        level, diff = _FORMATS[d.measure]
        rows.append({"Measure": d.measure[:1].upper() + d.measure[1:], "Treated": level(d.treated),
                     "Control": level(d.control),
                     "Difference": diff(d.estimate), "95% interval": f"{diff(d.ci_low)} to {diff(d.ci_high)}",
                     "Accounts (treated / control)": f"{d.n_treated:,} / {d.n_control:,}",
                     "Verdict": "clear" if d.clear else "could be chance"})
    return pd.DataFrame(rows, columns=["Measure", "Treated", "Control", "Difference", "95% interval",
                                       "Accounts (treated / control)", "Verdict"])


def balance_display(side: pd.DataFrame) -> pd.DataFrame:
    """:func:`balance` as text: counts with separators, money as $, band shares as percentages."""
    def fmt(row: str, x: float) -> str:
        if not np.isfinite(x):
            return "–"
        if row.startswith("Share"):
            return f"{x:.0%}"
        if "ARR" in row:
            return f"${x:,.0f}"
        return f"{x:,.0f}" if row == "Accounts" else f"{x:.1f}"

    shown = pd.DataFrame({g: [fmt(r, float(v)) for r, v in side[g].fillna(np.nan).items()] for g in side.columns},
                         index=side.index)
    return shown.rename(columns={"treated": "Treated", "control": "Control"})
