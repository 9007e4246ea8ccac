"""Suggested models: thresholds and weights fitted to the outcomes on training accounts, window metrics
where they help, judged on held-back accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lib.analysis.backtest import backtest, row_positions, rows_at, split_accounts
from lib.analysis.labels import metric_matrix
from lib.analysis.stats import MIN_OUTCOMES, AnalysisError, churn_by_bins, format_number, roc_auc
from lib.engine.methods import category_keys, method_of
from lib.engine.model import (
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
from lib.engine.numpy_eval import LiveScorer
from lib.engine.scored_portfolio import ATTRIBUTES, attach_attributes

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression


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


def score_features(rows: pd.DataFrame, columns: list[str], fill: dict[str, float] | None = None
                    ) -> tuple[np.ndarray, dict[str, float]]:
    """Metric scores in tens of points (a coefficient reads "per +10 points"); missing → the training mean."""
    x = metric_matrix(rows, columns, "score") / 10
    if fill is None:
        present = (~np.isnan(x)).sum(axis=0)
        means = np.where(present > 0, np.nansum(x, axis=0) / np.maximum(present, 1), 0.0)
        fill = {c: float(m) for c, m in zip(columns, means, strict=True)}
    filler = np.array([fill[c] for c in columns])
    return np.where(np.isnan(x), filler, x), fill


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float) -> LogisticRegression:
    from sklearn.linear_model import LogisticRegression  # imported late: see _isotonic_churn

    return LogisticRegression(C=c, max_iter=1000).fit(x, y)


@dataclass(frozen=True, eq=False)
class Suggestion:
    """A model proposed from the outcomes, with its held-back evidence.

    Attributes:
        model: the suggested model, named "<base> (suggested)"; adopt it as a new version.
        base: the model it started from.
        changes: ``lib.engine.model.diff_models(base, model)`` (empty but for the name when nothing helped).
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
    x, _ = score_features(rows, columns)
    if method == "logistic":
        strength = fit_logistic(x, renewed, 1.0).coef_[0]
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
    # candidate costs a weighted sum); it equals lib.engine.sql.score row for row.
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
    at_train, at_test = row_positions(scored_t, train), row_positions(scored_t, test)

    renewed = ~y_train
    strength_t, weights_t = _fit_weights(rows_at(scored_t, at_train, train), columns, renewed, weights)
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
        tr, te = rows_at(scored, at_train, train), rows_at(scored, at_test, test)
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
               f"({n_test_churned:,} churned) it reaches AUC {format_number(new_auc)} against "
               f"{format_number(base_auc)} for "
               f"{base.name}.")
    return Suggestion(
        model=suggested, base=base, changes=tuple(diff_models(base, suggested)), chosen=chosen,
        candidates=candidates, thresholds=thresholds, weights=weight_table, base_auc=base_auc,
        suggested_auc=new_auc, base_auc_train=float(best.loc["unchanged", "train_auc"]),
        suggested_auc_train=float(best.loc[chosen, "train_auc"]),
        train_accounts=frozenset(train["account_id"]), test_accounts=frozenset(test["account_id"]),
        n_test_churned=n_test_churned, warnings=tuple(warnings), caption=caption, windows=window_table,
    )


