"""Backtests: scores some days before each known outcome, metric cohorts, model A vs B, and scoring a
portfolio for analyses with a reproducible train/test split of accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lib.analysis.labels import account_order, explain_top, format_values, metric_matrix, snapshot_rows
from lib.analysis.stats import (
    MIN_OUTCOMES,
    AnalysisError,
    FlipMatrix,
    auc_interval,
    churn_by_band,
    churn_by_bins,
    flip_matrix,
    format_number,
    format_percent,
    lift_by_decile,
    roc_auc,
)
from lib.engine.model import (
    Model,
    metric_labels,
)
from lib.engine.scored_portfolio import ATTRIBUTES, attach_attributes
from lib.engine.sql import score

if TYPE_CHECKING:
    pass


# --- Backtest: scores some days before each known outcome ----------------------------------------------------

def outcome_flags(values: pd.Series, column: str = "churned") -> pd.Series:
    """Read an outcome column as a nullable boolean (True = churned, False = renewed, NA = unknown).

    The canonical table's ``churned`` is already boolean (``lib.data.ingest`` reads words such as churned/renewed);
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
    order, codes = account_order(scored)
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
        f"{name}AUC {format_number(auc)}{interval} on {n:,} accounts ({n_churned:,} churned, "
        f"{n_renewed:,} renewed) scored {horizon_days} days before their outcome; red churned "
        f"{format_percent(by_band.get('red', np.nan))}, green {format_percent(by_band.get('green', np.nan))} "
        f"(overall {format_percent(rate)})."
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
    a, b = snapshot_rows(scored_a, as_of), snapshot_rows(scored_b, as_of)
    both = a.merge(b, on=["account_id", "snapshot_date"], suffixes=("_a", "_b"), validate="one_to_one")
    arr = both["arr_a"] if "arr_a" in both.columns else None
    flips = flip_matrix(both["band_a"], both["band_b"], arr)

    columns = list(dict.fromkeys([*model_a.metrics, *model_b.metrics]))
    labels = {**metric_labels(model_a), **metric_labels(model_b)}
    contrib_a = np.nan_to_num(metric_matrix(a.set_index("account_id").loc[both["account_id"]], columns, "contribution"))
    contrib_b = np.nan_to_num(metric_matrix(b.set_index("account_id").loc[both["account_id"]], columns, "contribution"))
    delta = contrib_b - contrib_a
    names = np.array([labels[c] for c in columns], dtype=object)
    texts = names + " " + np.where(delta >= 0, "+", "−") + format_values(np.abs(delta), "{:.1f}") + " pts"
    why = explain_top(np.abs(delta), texts, top)
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


def row_positions(scored: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """Row positions in ``scored`` of ``keys``' (account_id, snapshot_date), in ``keys``' order."""
    index = pd.MultiIndex.from_arrays([scored["account_id"], scored["snapshot_date"]])
    found = index.get_indexer(pd.MultiIndex.from_arrays([keys["account_id"], keys["snapshot_date"]]))
    if (found < 0).any():  # -1 would silently pick the last row
        raise RuntimeError("suggest: a compared (account, snapshot) is missing from a candidate's scores")
    return found


def rows_at(scores: pd.DataFrame, positions: np.ndarray, keys: pd.DataFrame) -> pd.DataFrame:
    """The score rows at ``positions`` (see :func:`row_positions`) with ``keys``' ``churned``."""
    return scores.iloc[positions].reset_index(drop=True).assign(churned=keys["churned"].to_numpy(bool))


