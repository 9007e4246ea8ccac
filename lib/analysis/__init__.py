"""Analysis: what the outcomes and known-health labels say about a model.

Everything here is a pure function over the score table (``lib.engine.sql.score``) joined with the canonical
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

The package's modules: ``stats`` (plain statistics), ``labels`` (Compare), ``backtest`` (Validate's backtests,
model A vs B), ``suggest`` (suggested models), ``churn`` (churn probability); ``starter`` starts a model
from a dataset's columns, ``plays`` measures plays against their control groups.
The names below are the pages' and the CLI's entry points.
"""

from lib.analysis.backtest import (
    Backtest,
    ModelComparison,
    backtest,
    compare_models,
    metric_cohorts,
    outcome_flags,
    outcome_snapshots,
    row_positions,
    rows_at,
    score_portfolio,
    split_accounts,
)
from lib.analysis.churn import (
    ChurnModel,
    fit_churn_model,
)
from lib.analysis.labels import (
    LABELS,
    MIN_LABELS,
    account_order,
    explain_top,
    format_values,
    label_distributions,
    labelled_accounts,
    metric_matrix,
    metric_separation,
    misfits,
    snapshot_rows,
)
from lib.analysis.stats import (
    MIN_OUTCOMES,
    AnalysisError,
    FlipMatrix,
    Separation,
    auc_interval,
    churn_by_band,
    churn_by_bins,
    flip_matrix,
    format_number,
    format_percent,
    lift_by_decile,
    roc_auc,
    separation,
)
from lib.analysis.suggest import (
    CANDIDATES,
    GREEN_LIFT,
    MAX_WINDOW_METRICS,
    MIN_CATEGORY,
    MIN_WINDOW_GAIN,
    RED_LIFT,
    WINDOW_LENGTHS,
    WINDOW_STATS_TRIED,
    Suggestion,
    fit_logistic,
    score_features,
    starter_model,
    suggest_model,
)

__all__ = [
    "AnalysisError",
    "Backtest",
    "CANDIDATES",
    "ChurnModel",
    "FlipMatrix",
    "GREEN_LIFT",
    "LABELS",
    "MAX_WINDOW_METRICS",
    "MIN_CATEGORY",
    "MIN_LABELS",
    "MIN_OUTCOMES",
    "MIN_WINDOW_GAIN",
    "ModelComparison",
    "RED_LIFT",
    "Separation",
    "Suggestion",
    "WINDOW_LENGTHS",
    "WINDOW_STATS_TRIED",
    "account_order",
    "auc_interval",
    "backtest",
    "churn_by_band",
    "churn_by_bins",
    "compare_models",
    "explain_top",
    "fit_churn_model",
    "fit_logistic",
    "flip_matrix",
    "format_number",
    "format_percent",
    "format_values",
    "label_distributions",
    "labelled_accounts",
    "lift_by_decile",
    "metric_cohorts",
    "metric_matrix",
    "metric_separation",
    "misfits",
    "outcome_flags",
    "outcome_snapshots",
    "roc_auc",
    "row_positions",
    "rows_at",
    "score_features",
    "score_portfolio",
    "separation",
    "snapshot_rows",
    "split_accounts",
    "starter_model",
    "suggest_model",
]
