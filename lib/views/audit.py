"""The audit log and model-version history as the pages show them: who changed what and when, each model
version's author and note, and the snapshot dates at which a model's version changed."""

from __future__ import annotations

import difflib

import pandas as pd

from lib import export

AUDIT_HEADERS = {"changed_at": "When (UTC)", "who": "Who", "action": "What", "target": "On", "detail": "Detail"}


def audit_table(log: pd.DataFrame, who: list[str] | None = None, actions: list[str] | None = None) -> pd.DataFrame:
    """``Workspace.audit_log()`` for display, newest first, optionally only some people or actions."""
    keep = pd.Series(True, index=log.index)
    if who:
        keep &= log["who"].isin(who)
    if actions:
        keep &= log["action"].isin(actions)
    return log.loc[keep, list(AUDIT_HEADERS)].rename(columns=AUDIT_HEADERS).reset_index(drop=True)


def audit_csv(log: pd.DataFrame) -> bytes:
    """The audit log as CSV for download (every column, model YAML before/after included), formulas neutralised."""
    return export.table_csv(log, date_format="%Y-%m-%d %H:%M:%S")


def version_table(models: pd.DataFrame, name: str) -> pd.DataFrame:
    """One model's versions from ``Workspace.list_models()``, newest first: Version, Saved, By, Note."""
    rows = models.loc[models["name"] == name].sort_values("version", ascending=False)
    return pd.DataFrame({"Version": "v" + rows["version"].astype(str), "Saved (UTC)": rows["created_at"],
                         "By": rows["author"].fillna(""), "Note": rows["note"].fillna("")}).reset_index(drop=True)


def version_marks(models: pd.DataFrame, name: str, dates: pd.Series) -> list[tuple[pd.Timestamp, str]]:
    """Where a score history should mark a change of model version: for each version of model ``name`` saved
    within the history's dates (after the first), the first snapshot date on or after it was saved, labelled
    "v3 by ana@acme.test". Versions saved after the last snapshot are not on the history yet."""
    days = pd.DatetimeIndex(sorted(pd.to_datetime(dates.dropna().unique())))
    if len(days) < 2:
        return []
    rows = models.loc[models["name"] == name].sort_values("version")
    saved = pd.to_datetime(rows["created_at"])
    inside = (saved > days[0]) & (saved <= days[-1])
    at = days[days.searchsorted(saved[inside].to_numpy())]
    labels = ("v" + rows.loc[inside, "version"].astype(str) + (" by " + rows.loc[inside, "author"].fillna(""))
              .where(rows.loc[inside, "author"].fillna("") != "", ""))
    return list(zip(at, labels, strict=True))


def yaml_diff(before: str | None, after: str) -> str:
    """A unified diff of two model versions' YAML (the whole file when there was no version before)."""
    return "".join(difflib.unified_diff((before or "").splitlines(keepends=True), after.splitlines(keepends=True),
                                        "before", "after"))
