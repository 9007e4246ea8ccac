"""The scored portfolio: the engine's score table joined with the accounts' attributes and metric values.

Every analysis and page summary reads this one table (``scores`` from :func:`lib.engine.sql.score`, one row per
account and snapshot): ARR, renewal date, outcome and known health travel with the scores, segments and metric
values are added by name.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from lib.engine.model import Model
from lib.engine.numpy_eval import metric_values

KEY = ["account_id", "snapshot_date"]
# Columns of the canonical portfolio that travel with the scores; segments and metrics are added by name.
ATTRIBUTES = ("account_name", "arr", "renewal_date", "churned", "health_label")


def attach_attributes(
    scores: pd.DataFrame, portfolio: pd.DataFrame, segments: Sequence[str] = (), metrics: Sequence[str] | Model = ()
) -> pd.DataFrame:
    """Join the score table with the account attributes, segment columns and metric values.

    Values are suffixed `_value` so they never collide with the engine's `{metric}_score`. Given the model,
    `{metric}_value` is the value each metric scores: the raw value of the column it reads, or its window
    statistic. Given column names, it is those columns' raw values (a name that is not a column is skipped).
    """
    keep = [c for c in (*ATTRIBUTES, *segments) if c in portfolio.columns and c not in scores.columns]
    right = portfolio[[*KEY, *keep]].copy()
    if isinstance(metrics, Model):
        values = metric_values(metrics, portfolio)
    else:
        values = {m: portfolio[m].to_numpy() for m in metrics if m in portfolio.columns}
    for metric, column in values.items():
        right[f"{metric}_value"] = column
    if isinstance(metrics, Model):  # a window metric's raw value too, beside the statistic it scores
        for metric, found in metrics.metrics.items():
            if found.window is not None:
                right[f"{metric}_raw"] = portfolio[found.column].to_numpy()
    scored = scores.merge(right, on=KEY, how="left", validate="one_to_one")
    if "account_name" not in scored.columns:
        scored["account_name"] = scored["account_id"]
    else:
        scored["account_name"] = scored["account_name"].fillna(scored["account_id"]).astype(str)
    return scored
