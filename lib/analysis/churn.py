"""Churn probability: an explained logistic regression beside the rule score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lib.analysis.backtest import Backtest, split_accounts
from lib.analysis.stats import AnalysisError, format_number, roc_auc
from lib.analysis.suggest import fit_logistic, score_features
from lib.engine.model import (
    Model,
    metric_labels,
)

if TYPE_CHECKING:
    pass


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
        x, _ = score_features(scored, list(self.metrics), self.fill)
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
    x, fill = score_features(train, columns)
    fit = fit_logistic(x, y, c)
    coef = fit.coef_[0]
    odds = np.exp(coef)
    meaning = [
        f"each +10 points of {names[m]} {'multiplies' if r >= 1 else 'cuts'} the odds of churn "
        f"{'by' if r >= 1 else 'to'} {r:.2f}×" for m, r in zip(columns, odds, strict=True)
    ]
    table = pd.DataFrame({"metric": columns, "metric_label": [names[m] for m in columns], "coefficient": coef,
                          "odds_ratio": odds, "fill": [10 * fill[m] for m in columns], "meaning": meaning})
    table = table.iloc[np.argsort(-np.abs(coef), kind="stable")].reset_index(drop=True)
    test_auc = roc_auc(fit.decision_function(score_features(test, columns, fill)[0]), test["churned"])
    score_auc = roc_auc(test["score"], ~test["churned"])
    caption = (f"On {len(test):,} held-back accounts the churn probability reaches AUC {format_number(test_auc)}, "
               "the rule "
               f"score {format_number(score_auc)}. Strongest: {table.loc[0, 'meaning']}.")
    return ChurnModel(tuple(columns), float(fit.intercept_[0]), table, fill, test_auc, score_auc, len(train),
                      len(test), caption)
