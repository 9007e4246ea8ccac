"""Files in: read CSV/TSV/Excel/Parquet as people really write them, detect column roles, build the canonical table.

The flow is ``read_table`` (bytes → raw DataFrame, nothing interpreted) → ``detect_roles`` (a guess per column
with a confidence and a reason, for the user to confirm or fix) → ``load_portfolio`` (raw + roles → the
canonical portfolio table described in /work/contract.md, plus warnings).

Every problem raises :class:`IngestError` naming the file, the row as a spreadsheet user counts it (the header
is row 1, the first data row is row 2), the column, the offending value and how to fix it. Problems that leave
the file usable (a few non-numeric cells in a metric, an unknown outcome value) become warnings instead.

Parsing is vectorised: pandas string methods over whole columns, and date parsing over the distinct values
only (a snapshot column has a few dozen distinct dates however many rows it has).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_MAX_BYTES = 200_000_000
DEFAULT_MAX_COLUMNS = 500
ABSURD = 1e12  # |value| above this is a unit or export error (an ID pasted in a metric), never a real metric
EXAMPLES = 5  # how many rows/values a message lists

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

# Cell texts that mean "no value" (compared lower-cased, after trimming spaces).
NULL_TOKENS = frozenset(
    {"", "n/a", "na", "n.a.", "nan", "none", "null", "nil", "-", "--", "—", "–", "#n/a", "#na", "missing", "?"}
)
CHURN_TRUE = frozenset({"churned", "churn", "lost", "cancelled", "canceled", "closed lost", "terminated"})
CHURN_FALSE = frozenset({"renewed", "retained", "active", "stayed", "closed won", "renewal"})
YES = frozenset({"yes", "y", "true", "t", "1", "1.0"})
NO = frozenset({"no", "n", "false", "f", "0", "0.0"})
HEALTHY = frozenset({"healthy", "good", "strong", "ok", "fine", "thriving"})
STRUGGLING = frozenset({"struggling", "at risk", "at-risk", "risk", "unhealthy", "poor", "bad", "weak", "critical"})
ORDINAL_VALUES = frozenset(
    {"red", "amber", "yellow", "green", "low", "medium", "high", "good", "bad", "poor", "fair", "neutral",
     "positive", "negative", "excellent", "ok"}
)  # fmt: skip
ROLE_NAMES = ("account_id", "account_name", "snapshot_date", "arr", "renewal_date", "outcome", "health_label")
# Canonical output column of each single-column role (the outcome becomes `churned`).
CANONICAL = {
    "account_id": "account_id",
    "account_name": "account_name",
    "snapshot_date": "snapshot_date",
    "arr": "arr",
    "renewal_date": "renewal_date",
    "outcome": "churned",
    "health_label": "health_label",
}
# The roles a model is checked against and never scores, with what each is (for messages).
CHECKED_AGAINST = {"outcome": "the outcome (churned / renewed)", "health_label": "the known-health label"}

# Canonical columns no metric may read: keys, names, dates, and what a model is checked against (outcome, labels).
# ARR may be scored (by the file's own name, which the table keeps beside `arr`).
NOT_METRICS = frozenset(CANONICAL.values()) - {"arr"}

ISO_DATE = r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$"
SLASHED_DATE = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:[ T].*)?$"


@dataclass(eq=False)
class IngestError(ValueError):
    """A file or mapping problem, with where it is and how to fix it.

    ``str()`` is one line: ``file, row 7, column 'nps': message (value 'abc') — fix``; :func:`_warning` gives
    the same line for problems that only warn.

    Attributes:
        message: what is wrong.
        file, row (1-based, header = row 1), column, value: where the problem is (None when not applicable).
        fix: what the user should do.
    """

    message: str
    _: KW_ONLY
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: object = None
    fix: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [p for p in (self.file, f"row {self.row}" if self.row is not None else None) if p]
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.value is not None:
            text += f" (value '{_shorten(self.value)}')"
        return text + (f" — {self.fix}" if self.fix else "")


class AmbiguousDateOrder(IngestError):
    """Every date could be day-first or month-first; the caller must pass ``date_order='DMY'`` or ``'MDY'``."""


def _warning(message: str, **where: Any) -> str:
    """A problem that does not stop the load, as the same one line as an :class:`IngestError` (``where``: its
    ``file``, ``row``, ``column``, ``value`` and ``fix``)."""
    return str(IngestError(message, **where))


def _shorten(value: object, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rows_text(rows: np.ndarray | list[int], total: int | None = None) -> str:
    """'rows 4, 9, 12 and 3 more' for messages."""
    rows = [int(r) for r in rows]
    total = len(rows) if total is None else total
    head = ", ".join(str(r) for r in rows[:EXAMPLES])
    more = f" and {total - min(len(rows), EXAMPLES):,} more" if total > EXAMPLES else ""
    return ("row " if total == 1 else "rows ") + head + more


# --------------------------------------------------------------------------------------------------------
# Roles
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Roles:
    """Which source column plays which role (source column names; None when the file has no such column)."""

    account_id: str | None = None
    account_name: str | None = None
    snapshot_date: str | None = None
    arr: str | None = None
    renewal_date: str | None = None
    outcome: str | None = None
    health_label: str | None = None
    segments: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()

    def columns(self) -> list[str]:
        """Every source column that has a role, single roles first."""
        single = [getattr(self, r) for r in ROLE_NAMES]
        return [c for c in single if c is not None] + list(self.segments) + list(self.metrics)

    def canonical(self) -> Roles:
        """The same roles naming the canonical table's columns (e.g. the outcome column becomes 'churned')."""
        singles = {r: CANONICAL[r] if getattr(self, r) is not None else None for r in ROLE_NAMES}
        return Roles(**singles, segments=self.segments, metrics=self.metrics)

    def checked_against(self) -> dict[str, str]:
        """The columns a model must not read as metrics — the outcome and the known-health label — by the
        canonical table's names and by the file's own, each with what it is (for
        :func:`lib.engine.model.check_columns`)."""
        found: dict[str, str] = {}
        for role, what in CHECKED_AGAINST.items():
            for column in (CANONICAL[role], getattr(self, role)):
                if column is not None:
                    found[column] = what
        return found

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/YAML friendly); segments and metrics as lists."""
        d: dict[str, Any] = {r: getattr(self, r) for r in ROLE_NAMES}
        d["segments"], d["metrics"] = list(self.segments), list(self.metrics)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "roles") -> Roles:
        """Build Roles from a mapping such as a parsed ROLES.yaml; unknown keys raise IngestError."""
        if not isinstance(d, Mapping):
            raise IngestError(
                f"expected a mapping of role → column, got {type(d).__name__}",
                file=source,
                fix="write lines such as 'account_id: Customer ID' and 'metrics: [logins, nps]'",
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(map(str, d)) - known)
        if unknown:
            raise IngestError(
                f"unknown role {unknown[0]!r}",
                file=source,
                fix=f"use only these keys: {', '.join(sorted(known))}",
            )
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            if key in ("segments", "metrics"):
                items = [value] if isinstance(value, str) else list(value or [])
                kwargs[key] = tuple(str(v) for v in items)
            else:
                kwargs[key] = None if value is None else str(value)
        return cls(**kwargs)


@dataclass(frozen=True)
class ColumnRole:
    """Detection result for one column."""

    column: str
    role: str  # one of ROLE_NAMES, 'segment', 'metric' or 'ignore'
    confidence: float  # 0–1
    reason: str
    kind: str  # 'numeric', 'categorical', 'date', 'text', 'empty'


@dataclass(frozen=True)
class RoleReport:
    """What ``detect_roles`` found: one :class:`ColumnRole` per column plus file-level facts."""

    columns: tuple[ColumnRole, ...]
    n_rows: int
    date_order: str | None = None  # 'ISO', 'DMY', 'MDY' or None (no dates / undecided)
    needs_date_order: bool = False  # True when every date is ambiguous: ask the user DMY or MDY
    warnings: tuple[str, ...] = ()
    source: Mapping[str, Any] = field(default_factory=dict)  # filename, format, encoding, delimiter

    @property
    def roles(self) -> Roles:
        """The detected mapping as :class:`Roles`."""
        single = {c.role: c.column for c in self.columns if c.role in ROLE_NAMES}
        return Roles(
            **single,
            segments=tuple(c.column for c in self.columns if c.role == "segment"),
            metrics=tuple(c.column for c in self.columns if c.role == "metric"),
        )

    def get(self, column: str) -> ColumnRole | None:
        """The detection result for ``column`` (None when the file has no such column)."""
        return next((c for c in self.columns if c.column == column), None)

    def to_frame(self) -> pd.DataFrame:
        """One row per column: column, role, confidence, kind, reason (for the mapping table in the app)."""
        return pd.DataFrame(
            [(c.column, c.role, round(c.confidence, 2), c.kind, c.reason) for c in self.columns],
            columns=["column", "role", "confidence", "kind", "reason"],
        )


@dataclass
class Portfolio:
    """A loaded file: the canonical table, the roles used, and what was fixed or ignored on the way."""

    df: pd.DataFrame
    roles: Roles
    warnings: list[str] = field(default_factory=list)
    filename: str = ""
    report: RoleReport | None = None


# --------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------
def _source_bytes(source: Any, filename: str, max_bytes: int) -> bytes:
    """All bytes of a path, bytes or file-like object, refusing files over ``max_bytes`` before reading them."""
    limit_fix = f"split the file, or raise the limit (max_bytes; currently {max_bytes:,} bytes)"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise IngestError("file not found", file=filename, fix="check the path")
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(f"the file is {size:,} bytes, over the {max_bytes:,}-byte limit", file=filename,
                              fix=limit_fix)
        return path.read_bytes()
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "getvalue"):
        data = source.getvalue()
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
    else:
        raise IngestError(f"cannot read a {type(source).__name__}", file=filename,
                          fix="pass a path, bytes or an open binary file")
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > max_bytes:
        raise IngestError(f"the file is over the {max_bytes:,}-byte limit", file=filename, fix=limit_fix)
    return data


def _decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding that read it: UTF-8 (with or without BOM), else Windows-1252, else Latin-1."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), "utf-8" if encoding == "utf-8-sig" else encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"  # every byte is valid Latin-1


def _sniff(text: str, delimiters: tuple[str, ...] = DELIMITERS) -> tuple[str, int]:
    """The delimiter that splits the first lines into the most, and most consistent, fields, and the line
    (0-based) that holds the column names: the first with that many fields, so title lines are skipped."""
    lines = text.splitlines()[:50]
    best, best_key, header_line = ",", (-1.0, 0), 0
    for delim in delimiters:
        counts = [len(next(csv.reader([line], delimiter=delim))) if line.strip() else 0 for line in lines]
        filled = [c for c in counts if c]
        if not filled or max(filled) < 2:
            continue
        mode = max(set(filled), key=filled.count)
        key = (filled.count(mode) / len(filled), mode)
        if key > best_key:
            best, best_key, header_line = delim, key, counts.index(mode)
    return best, header_line


def _read_text(data: bytes, filename: str, max_columns: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    text, encoding = _decode(data)
    if not text.strip():
        raise IngestError("the file is empty", file=filename,
                          fix="export the data again; the first row should hold the column names")
    tab_only = Path(filename).suffix.lower() in {".tsv", ".tab"}
    delim, skip = _sniff(text, ("\t",) if tab_only else DELIMITERS)
    header = next(csv.reader(io.StringIO(text.splitlines()[skip]), delimiter=delim))
    if len(header) > max_columns:
        raise IngestError(
            f"the file has {len(header):,} columns; at most {max_columns:,} are supported",
            file=filename,
            fix="keep only the id, date, segment and metric columns you need (or raise max_columns)",
        )
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=delim, dtype=str, keep_default_na=False, na_values=[""],
            skip_blank_lines=False, skipinitialspace=False, skiprows=skip,
        )  # fmt: skip
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if not match:
            raise IngestError(f"could not read the file as {DELIMITER_NAMES[delim]}-separated text: {exc}",
                              file=filename, fix="check the quoting of values that contain the delimiter") from exc
        expected, line, saw = match.groups()
        raise IngestError(
            f"expected {expected} values but found {saw}",
            file=filename,
            row=int(line) + skip,
            fix=f"a value probably contains the delimiter ({DELIMITER_NAMES[delim]}); put it in double quotes",
        ) from exc
    df.index = df.index + skip  # keep row numbers as the spreadsheet counts them
    info: dict[str, Any] = {"format": "text", "encoding": encoding, "delimiter": DELIMITER_NAMES[delim]}
    notes = []
    if skip:
        notes.append(f"the column names are on row {skip + 1}; the {skip} line(s) above were skipped")
    repeated = sorted({h.strip() for h in header if header.count(h) > 1})
    if repeated:
        notes.append(f"column '{repeated[0]}' appears more than once; later copies are read as "
                     f"'{repeated[0]}.1', … — rename them in the file")
    if notes:
        info["notes"] = notes
    return df, info


def read_table(
    source: Any,
    filename: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_columns: int = DEFAULT_MAX_COLUMNS,
) -> pd.DataFrame:
    """Read a CSV/TSV/xlsx/Parquet file into a raw DataFrame without interpreting any value.

    Text files are read as strings (blank cells as NaN); Excel and Parquet keep their own types (an Excel text
    cell stays text, so '037822' keeps its zero as in a CSV; a column of numbers is numeric). Row ``i`` of
    the result is row ``i + 2`` of the file as a spreadsheet user counts (header = row 1); fully blank rows
    are kept so that numbering stays right (``load_portfolio`` drops them).

    Args:
        source: a path, bytes, or a binary file-like object (e.g. an uploaded file).
        filename: name used for the format and in messages (default: the path's name).
        max_bytes: refuse larger files (default 200 MB).
        max_columns: refuse files with more columns (default 500).

    Returns:
        The raw table; ``df.attrs["source"]`` holds filename, format, encoding and delimiter.

    Raises:
        IngestError: empty file, header only, too large, too many columns, unreadable or unknown format.
    """
    if filename is None:
        filename = Path(source).name if isinstance(source, (str, os.PathLike)) else "upload"
    data = _source_bytes(source, filename, max_bytes)
    suffix = Path(filename).suffix.lower()
    if not data.strip():
        raise IngestError("the file is empty", file=filename,
                          fix="export the data again; the first row should hold the column names")
    if suffix == ".xls":
        raise IngestError("old Excel .xls files are not supported", file=filename,
                          fix="save it as .xlsx or CSV and upload that")
    is_zip, is_parquet = data[:4] == b"PK\x03\x04", data[:4] == b"PAR1"
    if suffix in EXCEL_SUFFIXES or (is_zip and suffix not in TEXT_SUFFIXES | PARQUET_SUFFIXES):
        df, info = _read_excel(data, filename)
    elif suffix in PARQUET_SUFFIXES or is_parquet:
        df, info = _read_parquet(data, filename)
    elif suffix in TEXT_SUFFIXES or not suffix:
        df, info = _read_text(data, filename, max_columns)
    else:
        raise IngestError(f"unknown file type '{suffix}'", file=filename,
                          fix="upload a .csv, .tsv, .xlsx or .parquet file")
    if df.shape[1] > max_columns:
        raise IngestError(
            f"the file has {df.shape[1]:,} columns; at most {max_columns:,} are supported",
            file=filename,
            fix="keep only the id, date, segment and metric columns you need (or raise max_columns)",
        )
    df.columns = [str(c).strip() for c in df.columns]
    if df.dropna(how="all").empty:
        raise IngestError("the file has a header row but no data rows", file=filename,
                          fix="export the data again including its rows")
    df.attrs["source"] = {"filename": filename, **info}
    return df


def _read_excel(data: bytes, filename: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    try:
        # calamine (Rust) reads a 60,000-row sheet 6–7× faster than openpyxl (bench/README.md, "Excel").
        # dtype=object keeps every cell as Excel typed it: a text id '037822' stays text, as in the CSV, where
        # pandas' own inference would turn it into 37822; only empty cells are missing, as in _read_text.
        book = pd.ExcelFile(io.BytesIO(data), engine="calamine")
        sheets = book.sheet_names
        df = book.parse(sheets[0], dtype=object, keep_default_na=False, na_values=[""])
    except ImportError:
        raise  # python-calamine is missing: an installation problem, not the user's file
    except Exception as exc:  # calamine and zipfile raise many types for a damaged workbook
        raise IngestError(f"could not read the workbook: {exc}", file=filename,
                          fix="open it in Excel and save it again as .xlsx, or export CSV") from exc
    info: dict[str, Any] = {"format": "xlsx", "sheet": sheets[0]}
    notes = []
    if len(sheets) > 1:
        notes.append(f"read the first sheet '{sheets[0]}' of {len(sheets)}")
    unnamed = sum(str(c).startswith("Unnamed:") for c in df.columns)
    if df.shape[1] and unnamed > df.shape[1] / 2:
        # Title rows above the table ("Health export — Q3"): the header is the first well-filled row.
        filled = df.head(20).notna().sum(axis=1)
        candidates = filled.index[filled >= max(2, 0.8 * filled.max())]
        if len(candidates):
            k = candidates[0]
            df.columns = [str(v).strip() if pd.notna(v) else f"Unnamed: {i}" for i, v in enumerate(df.loc[k])]
            df = df.loc[k + 1:]  # the index is kept, so row numbers stay as the sheet counts them
            notes.append(f"the column names are on row {k + 2}; the rows above were skipped")
    if notes:
        info["notes"] = notes
    return df.infer_objects(), info  # columns of only numbers (or only dates) get their dtype; text stays text


def _read_parquet(data: bytes, filename: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    try:
        df = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise IngestError(f"could not read the Parquet file: {exc}", file=filename,
                          fix="write the file again (e.g. df.to_parquet) or export CSV") from exc
    return df.reset_index(drop=True), {"format": "parquet"}


# --------------------------------------------------------------------------------------------------------
# Value parsing (vectorised)
# --------------------------------------------------------------------------------------------------------
def _per_unique(s: pd.Series, fn: Any, dtype: Any) -> pd.Series:
    """Apply ``fn`` (Series of distinct non-null values → same-length Series) once per distinct value.

    Real columns repeat (dates, segments, small integers), so string work on the distinct values and a
    take() back is far cheaper than string work on every row.
    """
    codes, uniques = pd.factorize(s)  # missing cells get code -1, which picks the NaN appended below
    done = fn(pd.Series(uniques, dtype=object)).to_numpy(dtype=dtype)
    filled = np.append(done, np.array([np.nan], dtype=dtype))
    return pd.Series(filled[codes], index=s.index, dtype=dtype)


def _clean_text(u: pd.Series) -> pd.Series:
    u = u.astype(str).str.strip()
    return u.mask(u.str.lower().isin(NULL_TOKENS))


def _text(s: pd.Series) -> pd.Series:
    """Trimmed strings (object dtype); blanks and n/a-style tokens become NaN; whole floats read "17", not "17.0"."""
    if pd.api.types.is_float_dtype(s):
        whole = s.dropna()
        if (whole % 1 == 0).all() and (whole.abs() < 2**53).all():  # exact as integers
            s = s.astype("Int64")  # whole numbers with blanks (Excel, Parquet) are floats; the CSV says "17"
    return _per_unique(s, _clean_text, object)


def _number_texts(t: pd.Series) -> pd.Series:
    """Float per distinct, trimmed, non-blank text; NaN where it is not a number."""
    values = pd.to_numeric(t, errors="coerce").astype("float64")
    formatted = values.isna()
    if not formatted.any():
        return values
    x = t[formatted].str.replace(r"[\s\u00a0\u202f']", "", regex=True)
    # A column is decimal-comma (European) when it has "12,5" / "1.234,56" and no "1,234.5".
    eu = x.str.fullmatch(r"[-+(]?[^\d]*\d{1,3}(?:\.\d{3})+(?:,\d+)?\D*|[-+(]?[^\d]*\d*,(?:\d{1,2}|\d{4,})\D*")
    us = x.str.fullmatch(r"[-+(]?[^\d]*\d{1,3}(?:,\d{3})+\.\d+\D*")
    if eu.sum() > us.sum():
        # "1.234" was read as 1.234 by the fast path; in a decimal-comma column it means 1234.
        formatted = pd.Series(True, index=t.index)
        x = t.str.replace(r"[\s\u00a0\u202f']", "", regex=True)
        x = x.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        x = x.str.replace(",", "", regex=False)
    negative = x.str.fullmatch(r"\(.*\)")
    x = x.str.replace(r"^\((.*)\)$", r"\1", regex=True)
    x = x.str.replace(r"^([-+]?)(?:[$€£¥]|usd|eur|gbp|chf)", r"\1", regex=True, case=False)
    x = x.str.replace(r"(?:[$€£¥]|usd|eur|gbp|chf)$", "", regex=True, case=False)
    x = x.str.replace(r"%$", "", regex=True)
    parts = x.str.extract(r"^(.*?)(k|K|M|MM|mn|B|bn)?$")
    scale = parts[1].map({"k": 1e3, "K": 1e3, "M": 1e6, "MM": 1e6, "mn": 1e6, "B": 1e9, "bn": 1e9})
    parsed = pd.to_numeric(parts[0], errors="coerce") * scale.astype(float).fillna(1.0)
    values.loc[formatted] = parsed.where(~negative, -parsed).astype(float)
    return values


def parse_numbers(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers as people write them: "$12,400", "1,200", "12%" (→ 12), "(300)" (→ -300), "1.234,5", "4k".

    Returns:
        (float64 values with NaN for blanks and non-numbers, boolean mask of non-blank cells that are not
        numbers). Infinite values are returned as they are; the caller decides what to say about them.
    """
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return s.astype("float64"), pd.Series(False, index=s.index)
    t = _text(s)
    typed = None
    if pd.api.types.infer_dtype(s, skipna=True).startswith("mixed"):
        # Excel cells typed as numbers among text cells keep their value; only the text is read as people write
        # numbers (a typed 1.234 must not count as evidence of decimal commas, nor become 1234).
        typed = pd.to_numeric(s.where(s.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool))))
        t = t.where(typed.isna())
    values = _per_unique(t, _number_texts, "float64")
    if typed is not None:
        values = values.fillna(typed)
    return values, t.notna() & values.isna()


def _date_parts(u: pd.Series, order: str | None) -> pd.Series:
    """Parse distinct date strings (day precision); NaT where unparseable. ``order`` is 'DMY' or 'MDY'."""
    out = pd.Series(pd.NaT, index=u.index, dtype="datetime64[ns]")
    if u.empty:
        return out
    iso = u.str.extract(ISO_DATE)
    sl = u.str.extract(SLASHED_DATE)
    is_iso, is_sl = iso[0].notna(), sl[0].notna()
    if is_iso.any():
        out[is_iso] = _from_parts(iso.loc[is_iso, 0], iso.loc[is_iso, 1], iso.loc[is_iso, 2])
    if is_sl.any() and order in ("DMY", "MDY"):
        a, b, y = (pd.to_numeric(sl.loc[is_sl, i]) for i in range(3))
        y = y.where(y >= 100, y + 2000)
        day, month = (a, b) if order == "DMY" else (b, a)
        out[is_sl] = _from_parts(y, month, day)
    # "31 Jan 2025", "January 2025": month names with a year; plain words are never dates.
    rest = ~is_iso & ~is_sl & u.str.contains(r"[A-Za-z]{3}", regex=True) & u.str.contains(r"\d{4}", regex=True)
    if rest.any():
        parsed = pd.to_datetime(u[rest], format="mixed", errors="coerce", dayfirst=order == "DMY")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        out[rest] = parsed.dt.normalize().astype("datetime64[ns]")
    return out


def _from_parts(year: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
    parts = pd.DataFrame({"year": pd.to_numeric(year), "month": pd.to_numeric(month), "day": pd.to_numeric(day)})
    return pd.to_datetime(parts, errors="coerce").astype("datetime64[ns]")


def _slash_evidence(s: pd.Series) -> tuple[bool, bool, bool]:
    """(has day-first evidence, has month-first evidence, has any d/m/y value) over a column's values."""
    u = pd.Series(_text(s).dropna().unique(), dtype=object)
    sl = u.str.extract(SLASHED_DATE).dropna()
    if sl.empty:
        return False, False, False
    a, b = pd.to_numeric(sl[0]), pd.to_numeric(sl[1])
    return bool((a > 12).any()), bool((b > 12).any()), True


def parse_dates(s: pd.Series, date_order: str | None = None) -> tuple[pd.Series, pd.Series]:
    """Dates at day precision from ISO, 31/01/2025 (``date_order='DMY'``), 01/31/2025 (``'MDY'``), "Jan 2025".

    Only distinct values are parsed, so a million-row snapshot column costs as much as its few dozen dates.

    Returns:
        (datetime64[ns] values, mask of non-blank cells that are not dates).
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        values = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        return values.dt.normalize().astype("datetime64[ns]"), pd.Series(False, index=s.index)
    t = _text(s)
    codes, uniques = pd.factorize(t)  # dates repeat: parse each distinct text once
    parsed_u = _date_parts(pd.Series(uniques, dtype=object).astype(str), date_order)
    parsed = np.where(codes >= 0, parsed_u.to_numpy()[np.maximum(codes, 0)], np.datetime64("NaT"))
    values = pd.Series(parsed, index=s.index).astype("datetime64[ns]")
    return values, t.notna() & values.isna()


# --------------------------------------------------------------------------------------------------------
# Role detection
# --------------------------------------------------------------------------------------------------------
def normalise_name(name: str) -> str:
    """'AccountID' / 'account_id' / 'Account ID ' → 'account id'; 'Acct #' → 'acct number'."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name)).replace("#", " number ")  # 'Acct #'
    return re.sub(r"[^a-z0-9%]+", " ", spaced.lower()).strip()


NAME_RULES: dict[str, tuple[tuple[str, float, str], ...]] = {
    # role → (regex on the normalised name, confidence, what the reason says); first match wins
    "account_id": (
        (r"(account|acct|customer|client|company|org|organi[sz]ation|tenant) (id|number|no|key|code)", 0.95,
         "account id"),
        (r"(sfdc|salesforce|crm|hubspot) (account )?id|accountid|customerid|id", 0.85, "id"),
        (r"[a-z ]+ (id|nr|no|number)", 0.75, "… id"),
    ),
    "account_name": (
        (r"(account|customer|client|company|org|organi[sz]ation) name|company|organi[sz]ation", 0.95, "account name"),
        (r"account|customer|client|name", 0.8, "name"),
    ),
    "snapshot_date": (
        (r"snapshot( date| month| week)?|as of( date)?|asof|report(ing)? date|record date|period( end| start)?", 0.95,
         "snapshot date"),
        (r"date|month|week|period", 0.8, "date"),
    ),
    "renewal_date": (
        (r"(next )?renewal( date| on)?|renews( on)?|contract end( date)?|(contract )?(expiry|expiration)( date)?", 0.95,
         "renewal date"),
        (r"end date|term end", 0.75, "end date"),
    ),
    "arr": (
        (r"arr|arr (usd|eur|gbp)|annual recurring revenue|acv|annual contract value", 0.95, "arr"),
        (r"contract value|revenue|arr .*", 0.7, "revenue"),
    ),
    "outcome": (
        (r"churn(ed)?|renewed|retained|outcome|churn (flag|status|outcome)|is churned|did churn|lost", 0.95,
         "churned / renewed"),
        (r".*\b(churn|churned|renewed|retained)\b.*", 0.8, "churn"),
    ),
    "health_label": (
        (r"health label|known health|health status|health( assessment)?|label|csm (health|assessment)", 0.9,
         "health label"),
        (r".*\b(label|assessment)\b.*", 0.7, "label"),
    ),
}
SEGMENT_WORDS = (
    r"size|segment|tier|plan|region|stage|lifecycle( stage)?|industry|owner|csm( owner| name)?|country|vertical|"
    r"geo|market|territory|cohort|package|team|manager|account manager|am|type|sector|edition"
)


def _name_match(role: str, norm: str) -> tuple[float, str] | None:
    for pattern, confidence, label in NAME_RULES[role]:
        if re.fullmatch(pattern, norm):
            return confidence, label
    return None


@dataclass
class _Profile:
    column: str
    norm: str
    n: int
    blanks: int
    distinct: int
    numeric_share: float
    date_share: float
    kind: str
    values: pd.Series  # distinct non-blank values as text (the first 200)


def _profile(name: str, s: pd.Series) -> _Profile:
    """Counts and value checks for one column, computed on its distinct values weighted by their row counts
    (one pass over the rows, so a million-row file costs little more than its distinct values)."""
    n = len(s)
    codes, uniques = pd.factorize(s)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    cleaned = _clean_text(pd.Series(uniques, dtype=object))
    keep = cleaned.notna().to_numpy()
    u, weight = cleaned[keep].astype(str), counts[keep]
    blanks = n - int(weight.sum())
    distinct = int(u.nunique())
    num_share = date_share = 0.0
    if u.empty:
        kind = "empty"
    elif pd.api.types.is_datetime64_any_dtype(s):
        kind, date_share = "date", 1.0
    elif pd.api.types.is_bool_dtype(s):
        kind = "categorical"
    elif pd.api.types.is_numeric_dtype(s):
        kind, num_share = "numeric", 1.0
    else:
        num_share = float(np.average(_number_texts(u).notna(), weights=weight))
        date_like = u.str.match(ISO_DATE) | u.str.match(SLASHED_DATE)
        date_share = float(np.average(date_like, weights=weight))
        if date_share < 0.9 and num_share < 0.5:
            top = np.argsort(-weight)[:500]  # month-name dates ("Jan 2025"): the most frequent values decide
            parsed = _date_parts(u.iloc[top], "DMY").notna()
            date_share = max(date_share, float(np.average(parsed, weights=weight[top])))
        if date_share >= 0.9 and num_share < 0.5:
            kind = "date"
        elif num_share >= 0.5:
            kind = "numeric"
        elif distinct <= max(30, 0.05 * n):
            kind = "categorical"
        else:
            kind = "text"
    values = pd.Series(u.unique()[:200], dtype=object)
    return _Profile(name, normalise_name(name), n, blanks, distinct, num_share, date_share, kind, values)


def _facts(p: _Profile) -> str:
    blanks = "no blanks" if p.blanks == 0 else f"{p.blanks:,} blank"
    return f"{p.distinct:,} distinct values, {blanks}"


def _examples(p: _Profile, k: int = 3) -> str:
    return ", ".join(f"'{_shorten(v, 20)}'" for v in p.values[:k])


def _code_share(p: _Profile) -> float:
    """Share of (distinct) values that look like identifiers: 'acc-00017', 'C100', a UUID, '100234'."""
    if p.values.empty:
        return 0.0
    return float(p.values.str.lower().str.fullmatch(r"[a-z]{0,8}[-_ ]?\d{2,}|[0-9a-f]{8}-[0-9a-f-]{27}|\d{3,}").mean())


def _candidates(p: _Profile) -> dict[str, tuple[float, str]]:
    """Scores for each single-column role this column could play, with a reason."""
    out: dict[str, tuple[float, str]] = {}
    vals = set(p.values.str.lower())
    for role in ROLE_NAMES:
        match = _name_match(role, p.norm)
        if match is None:
            continue
        conf, pattern = match
        reason = f"name matches '{pattern}'"
        # Values must agree with the name, or the guess is weakened (or dropped).
        if role == "account_id":
            if p.kind in ("date", "empty"):
                continue
            if p.blanks:
                conf -= 0.2
            if p.norm in ("account", "customer", "client") and p.values.str.contains(" ").mean() > 0.5:
                continue  # "Customer" holding "Acme Corp" is a name, not an id
        elif role == "account_name":
            if p.kind not in ("text", "categorical") or _code_share(p) >= 0.95:
                continue  # "Account" holding "ACC-017" is an id, not a name
        elif role in ("snapshot_date", "renewal_date"):
            if p.kind != "date" and p.date_share < 0.5:
                continue  # (a named date column with some bad values is still the date; loading says which)
        elif role == "arr":
            if p.kind != "numeric":
                continue
        elif role == "outcome":
            # Mostly outcome words; the odd unknown value is reported when loading.
            if not vals or len(vals & (CHURN_TRUE | CHURN_FALSE | YES | NO)) < max(1, len(vals) / 2):
                continue
        elif role == "health_label":
            if not vals or len(vals & (HEALTHY | STRUGGLING)) < max(1, len(vals) / 2):
                continue
        out[role] = (conf, f"{reason}; {_facts(p)}")
    if p.norm in ("account", "customer", "client", "company") and p.blanks == 0 and _code_share(p) >= 0.95:
        out["account_id"] = (0.85, f"name '{p.column}' with id-like values ({_examples(p, 2)}); {_facts(p)}")
    # Value-only guesses (lower confidence) when the name says nothing.
    if "outcome" not in out and vals and vals <= (CHURN_TRUE | CHURN_FALSE) and len(vals) >= 1:
        out["outcome"] = (0.75, f"values are churn outcomes ({_examples(p)}); {_facts(p)}")
    if "health_label" not in out and vals and vals <= (HEALTHY | STRUGGLING) and vals & STRUGGLING:
        out["health_label"] = (0.7, f"values are health labels ({_examples(p)}); {_facts(p)}")
    ids_by_value = p.kind in ("text", "categorical", "numeric") and p.blanks == 0 and p.distinct >= 10
    if "account_id" not in out and ids_by_value and _code_share(p) >= 0.95:
        out["account_id"] = (0.6, f"values look like identifiers ({_examples(p, 2)}); {_facts(p)}")
    return out


def _assign_singles(profiles: list[_Profile]) -> dict[str, tuple[str, float, str]]:
    """Give each single role to at most one column: highest confidence first; snapshot = fewer distinct dates."""
    scored = []
    for p in profiles:
        for role, (conf, reason) in _candidates(p).items():
            scored.append((conf, role, p.column, reason))
    # Unnamed date columns: the one with fewest distinct values is the snapshot date, the next the renewal.
    named_dates = {c for _, r, c, _ in scored if r in ("snapshot_date", "renewal_date")}
    dates = sorted((p for p in profiles if p.kind == "date" and p.column not in named_dates), key=lambda p: p.distinct)
    for role, p in zip(("snapshot_date", "renewal_date"), dates, strict=False):
        why = "fewest distinct dates" if role == "snapshot_date" else "a second date column"
        scored.append((0.6, role, p.column, f"dates ({_examples(p, 2)}), {why}; {_facts(p)}"))
    assigned: dict[str, tuple[str, float, str]] = {}
    taken: set[str] = set()
    for conf, role, column, reason in sorted(scored, key=lambda x: -x[0]):
        if role in assigned or column in taken:
            continue
        assigned[role] = (column, conf, reason)
        taken.add(column)
    return assigned


def detect_roles(df: pd.DataFrame) -> RoleReport:
    """Guess each column's role from its name and values, with a confidence (0–1) and a reason.

    Args:
        df: a raw table from :func:`read_table` (or any DataFrame).

    Returns:
        A :class:`RoleReport`; ``.roles`` is the mapping to confirm, ``.needs_date_order`` says the user must
        choose between day-first and month-first dates.
    """
    profiles = [_profile(str(c), df[c]) for c in df.columns]
    singles = _assign_singles(profiles)
    by_column = {column: (role, conf, reason) for role, (column, conf, reason) in singles.items()}
    results: list[ColumnRole] = []
    for p in profiles:
        if p.column in by_column:
            role, conf, reason = by_column[p.column]
        elif p.kind == "empty":
            role, conf, reason = "ignore", 0.9, "no values"
        elif p.kind == "date":
            role, conf, reason = "ignore", 0.5, f"dates not used as snapshot or renewal date; {_facts(p)}"
        elif re.fullmatch(SEGMENT_WORDS, p.norm) and p.distinct <= max(50, 0.05 * p.n):
            role, conf, reason = "segment", 0.9, f"name looks like a segment; {p.distinct:,} groups ({_examples(p)})"
        elif p.kind == "numeric":
            share = f"{p.numeric_share:.0%} of values are numbers" if p.numeric_share < 1 else "numbers"
            role, conf, reason = "metric", 0.8 if p.numeric_share >= 0.95 else 0.5, f"{share}; {_facts(p)}"
        elif p.kind == "categorical" and set(p.values.str.lower()) <= ORDINAL_VALUES:
            role, conf, reason = "metric", 0.75, f"rating values ({_examples(p)}): a categorical metric"
        elif p.kind == "categorical":
            role, conf, reason = "segment", 0.6, f"few distinct values ({p.distinct:,}: {_examples(p)})"
        else:
            role, conf, reason = "ignore", 0.6, f"free text; {_facts(p)}"
        results.append(ColumnRole(p.column, role, round(float(min(max(conf, 0.0), 1.0)), 2), reason, p.kind))

    date_cols = [r.column for r in results if r.role in ("snapshot_date", "renewal_date")]
    order, needs, warnings = _detect_date_order(df, date_cols)
    return RoleReport(tuple(results), len(df), order, needs, tuple(warnings), dict(df.attrs.get("source", {})))


def _detect_date_order(df: pd.DataFrame, columns: list[str]) -> tuple[str | None, bool, list[str]]:
    """Day-first or month-first from evidence in any date column (a day > 12 settles it for the file)."""
    evidence = [(c, *_slash_evidence(df[c])) for c in columns if not pd.api.types.is_datetime64_any_dtype(df[c])]
    dmy = [c for c, d, _, _ in evidence if d]
    mdy = [c for c, _, m, _ in evidence if m]
    slashed = [c for c, _, _, s in evidence if s]
    if not slashed:
        return ("ISO" if columns else None), False, []
    if dmy and mdy:
        return None, True, [f"dates in {', '.join(sorted(set(dmy + mdy)))} mix day-first and month-first values"]
    if dmy:
        return "DMY", False, []
    if mdy:
        return "MDY", False, []
    return None, True, []


# --------------------------------------------------------------------------------------------------------
# Building the canonical table
# --------------------------------------------------------------------------------------------------------
def _row_numbers(index: pd.Index) -> np.ndarray:
    return np.asarray(index, dtype=np.int64) + 2  # header is row 1


def _check_roles(roles: Roles, columns: list[str], filename: str) -> None:
    for role in ROLE_NAMES:
        column = getattr(roles, role)
        if column is not None and column not in columns:
            raise IngestError(
                f"the mapping names column '{column}' for {role}, but the file has no such column",
                file=filename,
                fix=f"pick one of: {', '.join(columns[:20])}",
            )
    for kind in ("segments", "metrics"):
        missing = [c for c in getattr(roles, kind) if c not in columns]
        if missing:
            raise IngestError(f"the mapping lists '{missing[0]}' under {kind}, but the file has no such column",
                              file=filename, fix=f"pick from: {', '.join(columns[:20])}")
    used = roles.columns()
    dupes = sorted({c for c in used if used.count(c) > 1})
    if dupes:
        raise IngestError(f"column '{dupes[0]}' is mapped to more than one role", file=filename,
                          fix="give each column one role")
    reserved = {CANONICAL[r] for r in ROLE_NAMES}
    for column in (*roles.segments, *roles.metrics):
        if column in reserved and getattr(roles, next(r for r in ROLE_NAMES if CANONICAL[r] == column)) != column:
            raise IngestError(f"column '{column}' is a segment or metric, but its name is reserved for a role",
                              file=filename, column=column,
                              fix=f"rename the column, or map it as the {column} role")


def _bad_cells_warning(filename: str, column: str, bad: pd.Series, raw: pd.Series, what: str, then: str) -> str:
    rows = _row_numbers(bad.index[bad])
    examples = ", ".join(f"'{_shorten(v, 25)}'" for v in pd.unique(raw[bad].astype(str))[:3])
    return _warning(
        f"{int(bad.sum()):,} value(s) are not {what} ({_rows_text(rows, int(bad.sum()))}; e.g. {examples}); {then}",
        file=filename,
        column=column,
    )


def _load_metric(raw: pd.Series, filename: str, column: str, warnings: list[str]) -> pd.Series:
    """A metric column as float64 (numeric) or str (categorical), warning about cells that were dropped."""
    values, bad = parse_numbers(raw)
    non_blank = int(values.notna().sum() + bad.sum())
    if non_blank and bad.sum() > non_blank / 2:
        text = _text(raw)
        return text.where(text.isna(), text.astype(str))  # categorical metric (e.g. red/yellow/green)
    if bad.any():
        warnings.append(_bad_cells_warning(filename, column, bad, raw, "numbers", "they are treated as missing "
                                           "— fix them in the file, or map the column as a segment"))
    inf = np.isinf(values)
    if inf.any():
        warnings.append(_bad_cells_warning(filename, column, inf, raw, "finite",
                                           "infinite values are treated as missing"))
    absurd = values.abs() > ABSURD
    absurd &= ~inf
    if absurd.any():
        warnings.append(_bad_cells_warning(filename, column, absurd, raw, "plausible (|value| > 1e12)",
                                           "they are treated as missing — check the export's units"))
    return values.where(~(inf | absurd))


def _load_outcome(raw: pd.Series, column: str, filename: str, warnings: list[str]) -> pd.Series:
    """Churned as nullable boolean. A column named like 'renewed' or 'retained' has yes = not churned."""
    t = _text(raw).str.lower()
    inverted = bool(re.search(r"renew|retain|active|stay", normalise_name(column)))
    yes_means = not inverted
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    out[t.isin(CHURN_TRUE)] = True
    out[t.isin(CHURN_FALSE)] = False
    out[t.isin(YES)] = yes_means
    out[t.isin(NO)] = not yes_means
    unknown = t.notna() & out.isna()
    if unknown.any():
        warnings.append(_bad_cells_warning(
            filename, column, unknown, raw, "churn outcomes",
            "they are treated as unknown — use churned/renewed, yes/no or 1/0"))
    return out


def _load_labels(raw: pd.Series, column: str, filename: str, warnings: list[str]) -> pd.Series:
    t = _text(raw).str.lower()
    out = pd.Series(np.nan, index=raw.index, dtype=object)
    out[t.isin(HEALTHY)] = "healthy"
    out[t.isin(STRUGGLING)] = "struggling"
    unknown = t.notna() & out.isna()
    if unknown.any():
        warnings.append(_bad_cells_warning(
            filename, column, unknown, raw, "health labels",
            "they are treated as unlabelled — use healthy or struggling (at risk)"))
    return out


def _load_dates(raw: pd.Series, column: str, filename: str, date_order: str | None) -> tuple[pd.Series, pd.Series]:
    if date_order is None and not pd.api.types.is_datetime64_any_dtype(raw):
        dmy, mdy, slashed = _slash_evidence(raw)
        if dmy and mdy:
            t = _text(raw)
            sl = t.str.extract(SLASHED_DATE)
            first_dmy = t.index[pd.to_numeric(sl[0]) > 12][0]
            first_mdy = t.index[pd.to_numeric(sl[1]) > 12][0]
            raise IngestError(
                f"dates mix day-first (row {first_dmy + 2}: '{t[first_dmy]}') and month-first "
                f"(row {first_mdy + 2}: '{t[first_mdy]}') values",
                file=filename, column=column,
                fix="write all dates one way, ideally as YYYY-MM-DD",
            )
        if slashed:
            example = _text(raw).dropna().iloc[0]
            raise AmbiguousDateOrder(
                "ambiguous date order: every date could be day-first or month-first",
                file=filename, column=column, value=example,
                fix="choose the date order: date_order='DMY' (31/01/2025) or 'MDY' (01/31/2025)",
            )
    return parse_dates(raw, date_order)


def load_portfolio(
    source: Any,
    filename: str | None = None,
    roles: Roles | None = None,
    snapshot_date: Any = None,
    date_order: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Portfolio:
    """Read a file (or take a raw DataFrame) and build the canonical portfolio table.

    Args:
        source: path, bytes, file-like object, or a raw DataFrame (as from :func:`read_table`).
        filename: name for the format and for messages (default: the path's name).
        roles: the confirmed column mapping; None uses :func:`detect_roles`.
        snapshot_date: the date of a file without a snapshot date column (default: today, with a warning).
        date_order: 'DMY' or 'MDY' for d/m/y dates; required when every date in the file is ambiguous.
        max_bytes: size limit passed to :func:`read_table`.

    Returns:
        :class:`Portfolio` with ``.df`` (sorted by account_id, snapshot_date), ``.roles`` and ``.warnings``.
        The ARR role's amounts are in ``arr`` and also under the file's own name (``ARR ($)``), so a model
        can read them as a metric by that name.

    Raises:
        IngestError: the file cannot be used as it is (the message says where and how to fix it).
        AmbiguousDateOrder: ask the user for ``date_order``.
    """
    if date_order is not None and date_order not in ("DMY", "MDY"):
        raise IngestError(f"date_order must be 'DMY' or 'MDY', got {date_order!r}",
                          fix="pass date_order='DMY' for 31/01/2025 or 'MDY' for 01/31/2025")
    if isinstance(source, pd.DataFrame):
        # read_table's index is the row position in the file; any other index is renumbered.
        raw = source.copy() if pd.api.types.is_integer_dtype(source.index) else source.reset_index(drop=True)
        filename = filename or str(source.attrs.get("source", {}).get("filename", "table"))
        raw.columns = [str(c).strip() for c in raw.columns]
    else:
        raw = read_table(source, filename, max_bytes=max_bytes)
        filename = raw.attrs["source"]["filename"]
    warnings: list[str] = []
    warnings += [f"{filename}: {note}" for note in raw.attrs.get("source", {}).get("notes", [])]
    report = detect_roles(raw)
    if roles is None:
        roles = report.roles
    columns = [str(c) for c in raw.columns]
    _check_roles(roles, columns, filename)
    if roles.account_id is None:
        raise IngestError(
            "no account id column found (looked for names such as 'account_id', 'customer id', 'client id')",
            file=filename,
            fix=f"rename the id column to account_id or choose it in the column mapping; columns: "
            f"{', '.join(columns[:20])}",
        )
    if date_order is None and report.date_order in ("DMY", "MDY"):
        # Evidence in any date column (e.g. a renewal on 25/03/2026) settles the order for the whole file.
        date_order = report.date_order

    raw = raw.loc[raw.notna().any(axis=1)]  # fully blank lines (trailing newlines, spacer rows)
    out: dict[str, pd.Series] = {}
    ids = _text(raw[roles.account_id])
    if ids.isna().all():
        raise IngestError("the account id column has no values", file=filename, column=roles.account_id,
                          fix="choose the column that holds the account ids")
    blank_ids = ids.isna()
    if blank_ids.any():
        rows = _row_numbers(raw.index[blank_ids])
        warnings.append(_warning(
            f"{int(blank_ids.sum()):,} row(s) have no account id and were skipped ({_rows_text(rows)})",
            file=filename, column=roles.account_id))
        raw, ids = raw.loc[~blank_ids], ids[~blank_ids]
    out["account_id"] = ids.astype(str)
    if roles.account_name:
        names = _text(raw[roles.account_name])
        out["account_name"] = names.where(names.isna(), names.astype(str))
        markup = _per_unique(names, lambda u: u.str.contains(r"<[a-zA-Z/!][^>]*>", regex=True), "float64") == 1
        if markup.any():
            first = markup.idxmax()
            warnings.append(_warning(
                f"{int(markup.sum()):,} account name(s) contain HTML-like text; they are kept and shown as plain "
                "text", file=filename, row=int(first) + 2, column=roles.account_name, value=names[first]))

    # Snapshot date: a column, or one date for the whole file.
    if roles.snapshot_date:
        dates, bad = _load_dates(raw[roles.snapshot_date], roles.snapshot_date, filename, date_order)
        missing = dates.isna()
        if missing.any():
            rows = _row_numbers(raw.index[missing])
            first = raw.index[missing][0]
            raise IngestError(
                f"{int(missing.sum()):,} snapshot date(s) are blank or not dates "
                f"({_rows_text(rows, int(missing.sum()))})",
                file=filename, row=int(first) + 2, column=roles.snapshot_date,
                value=raw[roles.snapshot_date][first] if bad[first] else "",
                fix="write dates as YYYY-MM-DD (or DD/MM/YYYY, MM/DD/YYYY) and fill in every snapshot date",
            )
    else:
        when = pd.Timestamp.today().normalize() if snapshot_date is None else pd.Timestamp(snapshot_date)
        if snapshot_date is None:
            warnings.append(f"{filename}: no snapshot date column; every row is dated {when.date()} — pass the "
                            "snapshot date the data describes")
        dates = pd.Series(when.normalize(), index=raw.index).astype("datetime64[ns]")
    future = dates > pd.Timestamp.today().normalize() + pd.Timedelta(days=1)
    if future.any():
        rows = _row_numbers(raw.index[future])
        first = raw.index[future][0]
        raise IngestError(
            f"{int(future.sum()):,} snapshot date(s) are in the future ({_rows_text(rows, int(future.sum()))})",
            file=filename, row=int(first) + 2, column=roles.snapshot_date,
            value=raw[roles.snapshot_date][first] if roles.snapshot_date else dates[first].date(),
            fix="correct the date (a snapshot describes the past), or check the date order (DMY vs MDY)",
        )
    out["snapshot_date"] = dates

    for segment in roles.segments:
        text = _text(raw[segment])
        out[segment] = text.where(text.isna(), text.astype(str))
    if roles.arr:
        arr, bad = parse_numbers(raw[roles.arr])
        if bad.any():
            warnings.append(_bad_cells_warning(filename, roles.arr, bad, raw[roles.arr], "amounts",
                                               "they are treated as missing"))
        out["arr"] = arr.where(np.isfinite(arr) & (arr.abs() <= ABSURD))
    if roles.renewal_date:
        renewal, bad = _load_dates(raw[roles.renewal_date], roles.renewal_date, filename, date_order)
        if bad.any():
            warnings.append(_bad_cells_warning(filename, roles.renewal_date, bad, raw[roles.renewal_date],
                                               "dates", "they are treated as missing"))
        out["renewal_date"] = renewal
    for metric in roles.metrics:
        out[metric] = _load_metric(raw[metric], filename, metric, warnings)
    if roles.outcome:
        out["churned"] = _load_outcome(raw[roles.outcome], roles.outcome, filename, warnings)
    if roles.health_label:
        out["health_label"] = _load_labels(raw[roles.health_label], roles.health_label, filename, warnings)
    # A model names a column as the file does (`ARR ($)`), so ARR stays there too; DuckDB ignores case in names.
    if roles.arr and roles.arr.casefold() not in {c.casefold() for c in out}:
        out[roles.arr] = out["arr"]

    df = pd.DataFrame(out)
    dup = df.duplicated(["account_id", "snapshot_date"], keep=False)
    if dup.any():
        first_rows = df.index[dup][: EXAMPLES * 2]
        pairs = df.loc[dup, ["account_id", "snapshot_date"]].drop_duplicates()
        ex = pairs.iloc[0]
        clash = _row_numbers(df.index[dup & (df["account_id"] == ex["account_id"])
                                      & (df["snapshot_date"] == ex["snapshot_date"])])
        raise IngestError(
            f"{len(pairs):,} account/date pair(s) appear more than once (e.g. account '{_shorten(ex['account_id'])}' "
            f"on {ex['snapshot_date'].date()} in rows {', '.join(map(str, clash[:EXAMPLES]))}; duplicate "
            f"{_rows_text(_row_numbers(first_rows), int(dup.sum()))})",
            file=filename, row=int(clash[0]), column=roles.account_id,
            fix="keep one row per account per snapshot date (remove repeated exports or sum them first)",
        )
    df = df.sort_values(["account_id", "snapshot_date"], kind="stable").reset_index(drop=True)
    return Portfolio(df=df, roles=roles, warnings=warnings, filename=filename, report=report)


# --------------------------------------------------------------------------------------------------------
# Report for `python -m lib.cli inspect`
# --------------------------------------------------------------------------------------------------------
def inspect_file(path: str | Path, date_order: str | None = None) -> str:
    """A plain-text report of a file: how it was read, each column's detected role and the problems found.

    Raises:
        IngestError: when the file cannot be read at all (empty, too large, unknown format, ...).
    """
    raw = read_table(path)
    info = raw.attrs["source"]
    report = detect_roles(raw)
    how = ", ".join(f"{k} {v}" for k, v in info.items() if k not in ("filename", "format", "notes") and v)
    lines = [
        f"File: {info['filename']} ({info['format']}{', ' + how if how else ''})",
        f"Rows: {len(raw):,}  Columns: {raw.shape[1]:,}",
        "",
        "Columns:",
    ]
    width = min(max((len(c.column) for c in report.columns), default=6), 40)
    for c in report.columns:
        name = _shorten(c.column, 40)
        lines.append(f"  {name:<{width}}  {c.role:<13} {c.confidence:>4.2f}  {c.kind:<11}  {c.reason}")
    if report.date_order:
        lines += ["", f"Date order: {report.date_order}"]
    elif report.needs_date_order:
        lines += ["", "Date order: ambiguous (every date could be day-first or month-first)"]
    problems = list(report.warnings)
    try:
        loaded = load_portfolio(raw, info["filename"], date_order=date_order)
    except IngestError as exc:
        problems.append(f"ERROR {exc}")
    else:
        problems += loaded.warnings
        df = loaded.df
        lines += [
            "",
            f"Accounts: {df['account_id'].nunique():,}  Snapshots: {df['snapshot_date'].nunique():,} "
            f"({df['snapshot_date'].min().date()} to {df['snapshot_date'].max().date()})",
        ]
    lines += ["", "Problems:" if problems else "Problems: none"]
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)


# -- columns found by how CRM exports name them (worklists, a CSM's book) ----------------------------------

OWNER_CANDIDATES = ("csm_owner", "owner", "csm", "account_owner", "csm_name")
CONTACT_CANDIDATES = ("days_since_last_contact", "days_since_contact", "last_contact_date", "last_contact")
# Names a CRM export gives them (matched on the normalised name: 'CS Rep' → 'cs rep').
OWNER_NAME = re.compile(r"\b(owner|csm|cs rep|cs manager|success manager|account manager|account exec(utive)?|"
                        r"rep|representative|am|tam)\b")
CONTACT_NAME = re.compile(r"(days? since|last) (last )?(contact|touch|touchpoint|call|meeting|conversation)")


def _first_present(columns: Iterable[str], candidates: Sequence[str]) -> str | None:
    present = set(columns)
    return next((c for c in candidates if c in present), None)


def _named_like(columns: Iterable[str], pattern: re.Pattern[str]) -> str | None:
    return next((c for c in columns if pattern.search(normalise_name(c))), None)


def find_owner_column(columns: Iterable[str]) -> str | None:
    """The owner column among ``columns``: ``csm_owner``, ``owner``, ``csm`` … by name, else the first whose
    name reads like one in a CRM export (``CS Rep``, ``Account Manager``, ``CSM Name``); None when none does."""
    columns = list(columns)
    return _first_present(columns, OWNER_CANDIDATES) or _named_like(columns, OWNER_NAME)


def find_contact_column(columns: Iterable[str]) -> str | None:
    """The contact-recency column among ``columns`` (``days_since_last_contact``, ``last_contact_date``, …, or a
    name such as ``Days Since Last Touch``)."""
    columns = list(columns)
    return _first_present(columns, CONTACT_CANDIDATES) or _named_like(columns, CONTACT_NAME)
