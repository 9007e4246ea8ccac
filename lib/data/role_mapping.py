"""The Data page's logic: the editable column-role table, checking the user's mapping, and the list views.

``lib.data.ingest`` guesses each column's role (:class:`~lib.data.ingest.RoleReport`); the app shows that guess as a
table the user edits (one row per column, a role picked from :data:`ROLE_OPTIONS`), and
:func:`roles_from_table` turns the edited table back into :class:`~lib.data.ingest.Roles` — or, when the mapping
cannot work, :class:`MappingError` with one :class:`MappingProblem` per row that needs fixing.

Everything here is pure (no Streamlit, no workspace access) and works on small frames: one row per column of
the file, per dataset or per metric.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lib.data.ingest import ROLE_NAMES, AmbiguousDateOrder, IngestError, Portfolio, RoleReport, Roles, load_portfolio

# Role key (as in RoleReport / Roles) → what the user sees in the table's Role column, in menu order.
ROLE_LABELS: dict[str, str] = {
    "account_id": "account id",
    "account_name": "account name",
    "snapshot_date": "snapshot date",
    "segment": "segment",
    "metric": "metric",
    "arr": "ARR",
    "renewal_date": "renewal date",
    "outcome": "outcome",
    "health_label": "health label",
    "ignore": "ignore",
}
ROLE_OPTIONS: tuple[str, ...] = tuple(ROLE_LABELS.values())
ROLE_KEYS: dict[str, str] = {label: key for key, label in ROLE_LABELS.items()}
TABLE_COLUMNS = ["column", "role", "confidence", "type", "reason", "sample"]
SAMPLE_VALUES = 3  # distinct example values per column in the role table
SAMPLE_SCAN = 1_000  # rows scanned for those examples (the file may have millions)
SAMPLE_WIDTH = 30  # characters kept of each example value


@dataclass(frozen=True)
class MappingProblem:
    """Why a mapping cannot be used: the file column concerned (None for the whole mapping), what and the fix."""

    column: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.message} — {self.fix}"


class MappingError(ValueError):
    """The user's column mapping cannot be used; ``problems`` lists each row to fix."""

    def __init__(self, problems: list[MappingProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# --------------------------------------------------------------------------------------------------------
# Role table ↔ Roles
# --------------------------------------------------------------------------------------------------------
def _shorten(text: str, limit: int = SAMPLE_WIDTH) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sample_values(raw: pd.DataFrame, k: int = SAMPLE_VALUES) -> list[str]:
    """Up to ``k`` distinct non-blank values of each column (from the first rows), as 'a · b · c'."""
    head = raw.head(SAMPLE_SCAN)
    out = []
    for i in range(head.shape[1]):  # one pass per column, never per row
        values = head.iloc[:, i].dropna().astype(str).str.strip()
        out.append(" · ".join(_shorten(v) for v in pd.unique(values[values != ""])[:k]))
    return out


def _role_of_column(roles: Roles) -> dict[str, str]:
    """Source column → role key for every column a Roles names."""
    out = {getattr(roles, r): r for r in ROLE_NAMES if getattr(roles, r) is not None}
    out.update({c: "segment" for c in roles.segments})
    out.update({c: "metric" for c in roles.metrics})
    return out


def role_table(
    report: RoleReport, raw: pd.DataFrame, prefer: Roles | None = None, prefer_reason: str = "as mapped last time"
) -> pd.DataFrame:
    """The editable mapping: one row per file column with its detected role, confidence, reason and examples.

    Args:
        report: ``lib.data.ingest.detect_roles(raw)``.
        raw: the raw table (for example values).
        prefer: a mapping to start from instead of the guess where it names this file's columns (e.g. the
            dataset's last upload when appending). A column it names gets that role; another column the
            guess gave one of those single roles is set to ignore, so no role is taken twice.
        prefer_reason: the reason shown on rows set from ``prefer``.

    Returns:
        Columns ``column, role`` (a label from :data:`ROLE_OPTIONS`)``, confidence`` (0–1)``, type, reason,
        sample``.
    """
    frame = report.to_frame()
    table = pd.DataFrame({
        "column": frame["column"].astype(str),
        "role": frame["role"].astype(str),
        "confidence": frame["confidence"].astype(float),
        "type": frame["kind"].astype(str),
        "reason": frame["reason"].astype(str),
        "sample": sample_values(raw)[: len(frame)],
    })
    if prefer is not None:
        chosen = _role_of_column(prefer)
        present = table["column"].isin(list(chosen))
        table.loc[present, "role"] = table.loc[present, "column"].map(chosen)
        table.loc[present, ["confidence", "reason"]] = [1.0, prefer_reason]
        in_file = set(table["column"])
        taken = {role: column for column, role in chosen.items() if role in ROLE_NAMES and column in in_file}
        clash = ~present & table["role"].isin(list(taken))
        table.loc[clash, "reason"] = table.loc[clash, "role"].map(
            lambda role: f"{ROLE_LABELS[role]} is '{taken[role]}', {prefer_reason}")
        table.loc[clash, ["role", "confidence"]] = ["ignore", 1.0]
    table["role"] = table["role"].map(ROLE_LABELS)
    return table[TABLE_COLUMNS]


def mapping_problems(table: pd.DataFrame) -> list[MappingProblem]:
    """Everything that stops an edited role table from being a usable mapping (empty when it is fine).

    Checks: exactly one account id; at most one column per single role (account name, snapshot date, ARR,
    renewal date, outcome, health label); every row has a known role; at least one metric.
    """
    roles = table["role"].map(ROLE_KEYS)
    problems = [
        MappingProblem(column, f"column '{column}' has no role",
                       f"pick one of: {', '.join(ROLE_OPTIONS)} (ignore leaves it out)")
        for column in table.loc[roles.isna(), "column"]
    ]
    counts = roles.value_counts()
    if counts.get("account_id", 0) == 0:
        problems.append(MappingProblem(
            None, "no column is mapped as account id",
            "set the Role of the column that identifies each account (e.g. 'Customer ID') to account id"))
    for role in ROLE_NAMES:
        if counts.get(role, 0) > 1:
            columns = list(table.loc[roles == role, "column"])
            named = ", ".join(f"'{c}'" for c in columns[:-1]) + f" and '{columns[-1]}'"
            problems.append(MappingProblem(
                columns[1], f"{named} are all mapped as {ROLE_LABELS[role]}" if len(columns) > 2
                else f"{named} are both mapped as {ROLE_LABELS[role]}",
                f"keep one as {ROLE_LABELS[role]}; set the other{'s' if len(columns) > 2 else ''} to ignore "
                "(or segment / metric)"))
    if counts.get("metric", 0) == 0:
        problems.append(MappingProblem(
            None, "no column is mapped as metric, so there is nothing to score",
            "set the Role of the numeric or rating columns (logins, NPS, sentiment …) to metric"))
    return problems


def roles_from_table(table: pd.DataFrame) -> Roles:
    """The :class:`Roles` an edited role table describes; ignored columns are left out.

    Raises:
        MappingError: the mapping cannot be used (see :func:`mapping_problems`).
    """
    problems = mapping_problems(table)
    if problems:
        raise MappingError(problems)
    roles = table["role"].map(ROLE_KEYS)
    columns = table["column"].astype(str)
    singles = {role: columns[roles == role].iloc[0] for role in ROLE_NAMES if (roles == role).any()}
    return Roles(**singles, segments=tuple(columns[roles == "segment"]), metrics=tuple(columns[roles == "metric"]))


# --------------------------------------------------------------------------------------------------------
# Upload helpers
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UploadCheck:
    """An upload loaded with the user's mapping: the portfolio to save, or the error that stops it.

    ``ask_date_order`` says the page must offer the day-first / month-first choice (the file's dates are
    ambiguous, or the user has already chosen and may change their mind).
    """

    portfolio: Portfolio | None
    error: IngestError | None
    ask_date_order: bool

    @property
    def warnings(self) -> list[str]:
        """Problems that leave the file usable (listed before saving)."""
        return self.portfolio.warnings if self.portfolio is not None else []


def check_upload(
    raw: pd.DataFrame, report: RoleReport, roles: Roles, snapshot_date: object = None, date_order: str | None = None
) -> UploadCheck:
    """Load a raw upload with the confirmed roles, catching the problems the user must fix before saving.

    Args:
        raw: ``lib.data.ingest.read_table`` output (its ``attrs`` name the file).
        report: ``detect_roles(raw)``.
        roles: the confirmed mapping.
        snapshot_date: the date of a file without a snapshot-date column.
        date_order: 'DMY' / 'MDY' when the user chose one.
    """
    filename = str(raw.attrs.get("source", {}).get("filename", "upload"))
    try:
        portfolio, error = load_portfolio(raw, filename, roles, snapshot_date, date_order), None
    except IngestError as err:
        portfolio, error = None, err
    ask = report.needs_date_order or date_order is not None or isinstance(error, AmbiguousDateOrder)
    return UploadCheck(portfolio, error, ask)


def preview(raw: pd.DataFrame, n: int = 8) -> pd.DataFrame:
    """The first ``n`` rows exactly as text (blank cells empty), so nothing in the file is interpreted."""
    head = raw.head(n)
    return head.astype(str).where(head.notna(), "")


def file_summary(raw: pd.DataFrame, report: RoleReport) -> str:
    """How the file was read, e.g. '1,204 rows × 12 columns · utf-8, semicolon' (or '· sheet Accounts')."""
    how = [f"sheet {v}" if k == "sheet" else str(v) for k, v in report.source.items()
           if k in ("encoding", "delimiter", "sheet") and v]
    return " · ".join([f"{len(raw):,} rows × {raw.shape[1]:,} columns", *([", ".join(how)] if how else [])])


def default_name(filename: str, existing: Iterable[str]) -> str:
    """A dataset name from the file name ('q3_export.csv' → 'q3 export'), made unique with ' (2)', ' (3)' …."""
    stem = re.sub(r"\.[^.]*$", "", Path(filename).name)  # '.csv' has no stem (Path.stem would keep it)
    stem = re.sub(r"[_\s]+", " ", stem).strip() or "Uploaded data"
    taken = set(existing)
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem} ({n})"
    return name


def name_problem(name: str, existing: Iterable[str]) -> str | None:
    """Why ``name`` cannot be a new dataset's name (None when it can)."""
    name = (name or "").strip()
    if not name:
        return "Give the dataset a name (e.g. 'Q3 export')."
    if name in set(existing):
        return (f"A dataset named '{name}' already exists — choose another name, or add this file to it as new "
                "snapshots.")
    return None


# --------------------------------------------------------------------------------------------------------
# List views
# --------------------------------------------------------------------------------------------------------
def dataset_table(listing: pd.DataFrame) -> pd.DataFrame:
    """The dataset list for people: name, source file, rows, accounts, snapshots, first/last date, updated.

    Args:
        listing: ``Workspace.list_datasets()``.
    """
    def day(column: str) -> pd.Series:
        return pd.to_datetime(listing[column]).dt.strftime("%Y-%m-%d").fillna("")

    return pd.DataFrame({
        "Dataset": listing["name"].astype(str),
        "Source file": listing["source_filename"].fillna("").astype(str),
        "Rows": listing["n_rows"].astype("int64"),
        "Accounts": listing["n_accounts"].astype("int64"),
        "Snapshots": listing["n_snapshots"].astype("int64"),
        "First date": day("first_date"),
        "Last date": day("last_date"),
        "Updated (UTC)": pd.to_datetime(listing["updated_at"]).dt.strftime("%Y-%m-%d %H:%M").fillna(""),
    })


def quality_table(quality: pd.DataFrame) -> pd.DataFrame:
    """``lib.engine.sql.metric_quality`` for people: usable share and the counts of each kind of bad value.

    Returns:
        Columns ``Metric`` (its label), ``Column``, ``Usable`` (% of rows, 0–100), ``Missing``,
        ``Not a number``, ``Unknown category``, ``Examples`` (offending values, comma-separated).
    """
    rows = quality["rows"].astype(float)
    return pd.DataFrame({
        "Metric": quality["label"].where(quality["label"].fillna("").astype(str) != "", quality["metric"]),
        "Column": quality["metric"].astype(str),
        "Usable": (100 * quality["usable"] / rows.where(rows > 0)).fillna(0.0),
        "Missing": quality["missing"].astype("int64"),
        "Not a number": quality["non_numeric"].astype("int64"),
        "Unknown category": quality["unknown_categories"].astype("int64"),
        "Examples": quality["examples"].map(lambda values: ", ".join(f"'{v}'" for v in values)),
    })


def no_data_accounts(scored: pd.DataFrame, as_of: pd.Timestamp) -> int:
    """Accounts scored 'no data' (no usable metric value) at ``as_of`` in a scored portfolio."""
    rows = scored.loc[scored["snapshot_date"] == pd.Timestamp(as_of)]
    return int((rows["band"] == "no data").sum())


def quality_findings(quality: pd.DataFrame, threshold: float = 0.05) -> list[str]:
    """Sentences for the metrics whose problems reach ``threshold`` of rows (worst first), each with the fix.

    They say why accounts get 'no data' (or a score from fewer metrics): a metric without a usable value
    does not count for that account.
    """
    q = quality.assign(bad=quality["rows"] - quality["usable"]).sort_values("bad", ascending=False)
    out = []
    for r in q.itertuples(index=False):  # one sentence per metric (a handful), not per data row
        if r.rows == 0 or r.bad / r.rows < threshold:
            continue
        name = r.label or r.metric
        if r.missing == r.rows:
            out.append(f"{name}: no usable value in any row — check that column '{r.metric}' is in the dataset "
                       "and mapped as a metric.")
            continue
        parts = [f"{r.missing / r.rows:.0%} of rows are blank"] if r.missing else []
        examples = ", ".join(f"'{v}'" for v in r.examples)
        if r.non_numeric:
            parts.append(f"{r.non_numeric:,} values are not numbers (e.g. {examples}) — fix them in the file")
        if r.unknown_categories:
            parts.append(f"{r.unknown_categories:,} values are categories the model does not score (e.g. "
                         f"{examples}) — add them to the metric's categories on the Tune page")
        out.append(f"{name}: " + "; ".join(parts) + ".")
    return out
