"""The workspace: one DuckDB file that keeps datasets, model versions, labels, CSM notes, score overrides and
the audit log (who changed what, when).

Layout. Each dataset's canonical table lives in its own DuckDB table, ``ds_<dataset_id>``, with the user's own
column names (always quoted). One table per dataset rather than one long table keyed by dataset id because
datasets have different columns (each file brings its own segments and metrics): a shared long table would
need either the union of every file's columns or a key/value layout, and both make the scoring SQL slower
and loading a dataset back costlier. Table names are built from the integer id only, never from user text.

Concurrency. DuckDB allows one read-write process per file, and a connection is not thread-safe. A
:class:`Workspace` holds one connection; every call uses its own ``con.cursor()``, and writes are serialised by
a lock shared by every Workspace on the same file in this process (Streamlit runs each browser session in its
own thread). Every save runs in one transaction (BEGIN … COMMIT, ROLLBACK on error), so a crash or a killed
process mid-save leaves the previous state intact.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from lib.data.ingest import Portfolio, Roles
from lib.data.play_groups import Play
from lib.engine.sqlutil import connect, quote_ident

WORKSPACE_ENV = "HSS_WORKSPACE"
SAMPLE_ENV = "HSS_SAMPLE"  # "0": do not load the sample portfolio into a new workspace
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "workspace.duckdb"
SAMPLE_DATASET = "Sample portfolio"
SAMPLE_MODEL = "Default"
LABELS = ("healthy", "struggling")
KEY = ("account_id", "snapshot_date")
SCHEMA_VERSION = "1"

# One write lock per workspace file for the whole process: two Workspace objects on the same file share the
# underlying DuckDB database, so they must also share the lock that serialises their writes.
_FILE_LOCKS: dict[str, threading.RLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS dataset_ids START 1;
CREATE SEQUENCE IF NOT EXISTS note_ids START 1;
CREATE SEQUENCE IF NOT EXISTS override_ids START 1;
CREATE SEQUENCE IF NOT EXISTS audit_ids START 1;
CREATE SEQUENCE IF NOT EXISTS play_ids START 1;
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS datasets (
    dataset_id INTEGER PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, source_filename VARCHAR,
    roles_json VARCHAR NOT NULL, source_roles_json VARCHAR NOT NULL, columns_json VARCHAR NOT NULL,
    n_rows BIGINT, n_accounts BIGINT, n_snapshots BIGINT, first_date TIMESTAMP, last_date TIMESTAMP,
    created_at TIMESTAMP, updated_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS model_versions (
    name VARCHAR NOT NULL, version INTEGER NOT NULL, yaml VARCHAR NOT NULL, note VARCHAR, created_at TIMESTAMP,
    PRIMARY KEY (name, version));
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS author VARCHAR;
CREATE TABLE IF NOT EXISTS dataset_models (
    dataset VARCHAR PRIMARY KEY, model_name VARCHAR NOT NULL, version INTEGER NOT NULL, used_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS labels (
    dataset VARCHAR NOT NULL, account_id VARCHAR NOT NULL, label VARCHAR NOT NULL, set_by VARCHAR,
    set_at TIMESTAMP, PRIMARY KEY (dataset, account_id));
CREATE TABLE IF NOT EXISTS notes (
    note_id BIGINT PRIMARY KEY, account_id VARCHAR NOT NULL, text VARCHAR NOT NULL, author VARCHAR,
    created_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS overrides (
    override_id BIGINT PRIMARY KEY, account_id VARCHAR NOT NULL, score DOUBLE NOT NULL, reason VARCHAR NOT NULL,
    author VARCHAR, expires_on DATE, created_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS audit (
    audit_id BIGINT PRIMARY KEY, changed_at TIMESTAMP NOT NULL, who VARCHAR, action VARCHAR NOT NULL, target VARCHAR,
    detail VARCHAR, old_value VARCHAR, new_value VARCHAR);
CREATE TABLE IF NOT EXISTS plays (
    play_id BIGINT PRIMARY KEY, name VARCHAR NOT NULL, dataset VARCHAR NOT NULL, description VARCHAR,
    owner VARCHAR, start_date DATE NOT NULL, control_share DOUBLE NOT NULL, strata_json VARCHAR NOT NULL,
    seed BIGINT NOT NULL, source VARCHAR, created_at TIMESTAMP, UNIQUE (dataset, name));
CREATE TABLE IF NOT EXISTS play_accounts (
    play_id BIGINT NOT NULL, account_id VARCHAR NOT NULL, grp VARCHAR NOT NULL, stratum VARCHAR,
    PRIMARY KEY (play_id, account_id));
"""
AUDIT_COLUMNS = ["changed_at", "who", "action", "target", "detail", "old_value", "new_value"]


class WorkspaceError(ValueError):
    """A workspace request that cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class DatasetInfo:
    """One row of the dataset catalogue.

    ``roles`` name the stored (canonical) table's columns; ``source_roles`` is the mapping the user confirmed
    for the uploaded file's own column names (to pre-fill the mapping of the next upload).
    """

    dataset_id: int
    name: str
    source_filename: str
    roles: Roles
    source_roles: Roles
    n_rows: int
    n_accounts: int
    n_snapshots: int
    first_date: pd.Timestamp | None
    last_date: pd.Timestamp | None
    created_at: pd.Timestamp
    updated_at: pd.Timestamp
    columns: tuple[str, ...] = ()  # the canonical table's columns, in order

    @property
    def table(self) -> str:
        """The quoted DuckDB table holding the dataset's canonical rows (for SQL such as scoring)."""
        return quote_ident(f"ds_{self.dataset_id}")


@dataclass(frozen=True)
class Dataset:
    """A dataset loaded back: the canonical table, its roles and its catalogue entry."""

    df: pd.DataFrame
    roles: Roles
    info: DatasetInfo


@dataclass(frozen=True)
class SaveResult:
    """What a save or append did: rows added as new account/date keys, rows that replaced existing keys."""

    dataset: DatasetInfo
    added: int
    replaced: int

    def summary(self) -> str:
        """e.g. "2,000 new rows, 40 replaced (same account and date); 41,880 rows in 'Q3 export'"."""
        return (f"{self.added:,} new rows, {self.replaced:,} replaced (same account and date); "
                f"{self.dataset.n_rows:,} rows in '{self.dataset.name}'")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _kind(s: pd.Series) -> str:
    """Storage kind of a canonical column: float, datetime, boolean or str."""
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if pd.api.types.is_numeric_dtype(s):
        return "float"
    return "str"


SQL_TYPES = {"float": "DOUBLE", "datetime": "TIMESTAMP", "boolean": "BOOLEAN", "str": "VARCHAR"}


def _restore(df: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """DuckDB's pandas output back to canonical dtypes (NaN for missing text, datetime64[ns], nullable bool)."""
    for column, kind in kinds.items():
        if column not in df.columns:
            continue
        if kind == "datetime":
            df[column] = df[column].astype("datetime64[ns]")
        elif kind == "boolean":
            df[column] = df[column].astype("boolean")
        elif kind == "float":
            df[column] = df[column].astype("float64")
        else:
            df[column] = df[column].astype(object).where(df[column].notna(), np.nan)
    return df


def _merge_roles(old: Roles, new: Roles) -> Roles:
    """Roles after an append: single roles keep the stored choice, segments and metrics are unioned."""
    singles = {f: getattr(old, f) or getattr(new, f) for f in
               ("account_id", "account_name", "snapshot_date", "arr", "renewal_date", "outcome", "health_label")}
    segments = tuple(dict.fromkeys((*old.segments, *new.segments)))
    metrics = tuple(dict.fromkeys((*old.metrics, *new.metrics)))
    return Roles(**singles, segments=segments, metrics=metrics)


class Workspace:
    """The DuckDB workspace file. Safe to share between threads (one cursor per call, a lock around writes).

    Args:
        path: the DuckDB file; default ``$HSS_WORKSPACE`` or ``data/workspace.duckdb``.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path or os.environ.get(WORKSPACE_ENV) or DEFAULT_PATH)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = connect(str(self.path))
        except duckdb.IOException as exc:
            raise WorkspaceError(
                f"cannot open the workspace {self.path}: {exc} — another program (e.g. a second app) probably "
                f"has it open; close it, or point {WORKSPACE_ENV} at another file"
            ) from exc
        key = str(self.path.resolve())
        with _FILE_LOCKS_GUARD:
            self._lock = _FILE_LOCKS.setdefault(key, threading.RLock())
        with self._transaction() as cur:
            cur.execute(SCHEMA)
            cur.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])

    # -- plumbing ---------------------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A fresh cursor for read queries (e.g. scoring SQL over ``DatasetInfo.table``)."""
        return self._con.cursor()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction on its own cursor; rolled back on any error, serialised by the file lock."""
        with self._lock:
            cur = self._con.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    @staticmethod
    def _audit(cur: duckdb.DuckDBPyConnection, who: str, action: str, target: str, detail: str = "",
               before: str | None = None, after: str | None = None) -> None:
        """One audit row, in the caller's transaction: the change and its record stand or fall together."""
        cur.execute("INSERT INTO audit VALUES (nextval('audit_ids'), ?, ?, ?, ?, ?, ?, ?)",
                    [_now(), who, action, target, detail, before, after])

    def record(self, who: str, action: str, target: str, detail: str = "", before: str | None = None,
               after: str | None = None) -> None:
        """Add an audit entry for a change kept outside the workspace (e.g. the access file)."""
        with self._transaction() as cur:
            self._audit(cur, who, action, target, detail, before, after)

    def audit_log(self) -> pd.DataFrame:
        """The audit log, newest first: changed_at, who, action, target, detail, old_value, new_value (model YAML)."""
        return self.cursor().execute(
            f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit ORDER BY changed_at DESC, audit_id DESC").df()

    def close(self) -> None:
        """Close the connection (the data is already on disk: every save committed)."""
        self._con.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- datasets ---------------------------------------------------------------------------------------
    def _info_rows(self, where: str = "", params: list[Any] | None = None) -> list[DatasetInfo]:
        rows = self.cursor().execute(
            "SELECT dataset_id, name, source_filename, roles_json, source_roles_json, n_rows, n_accounts, n_snapshots, "
            f"first_date, last_date, created_at, updated_at, columns_json FROM datasets {where} "
            "ORDER BY created_at, dataset_id",
            params or [],
        ).fetchall()
        return [
            DatasetInfo(r[0], r[1], r[2] or "", Roles.from_dict(json.loads(r[3])), Roles.from_dict(json.loads(r[4])),
                        int(r[5]), int(r[6]), int(r[7]), pd.Timestamp(r[8]) if r[8] else None,
                        pd.Timestamp(r[9]) if r[9] else None, pd.Timestamp(r[10]), pd.Timestamp(r[11]),
                        tuple(str(c) for c, _ in json.loads(r[12])))
            for r in rows
        ]

    def dataset_info(self, name: str) -> DatasetInfo:
        """Catalogue entry of one dataset.

        Raises:
            WorkspaceError: no dataset has that name.
        """
        found = self._info_rows("WHERE name = ?", [name])
        if not found:
            known = ", ".join(f"'{d.name}'" for d in self._info_rows()) or "none yet"
            raise WorkspaceError(f"no dataset named '{name}' — pick one of: {known}")
        return found[0]

    def list_datasets(self) -> pd.DataFrame:
        """One row per dataset: name, source_filename, n_rows, n_accounts, n_snapshots, dates, timestamps."""
        columns = ["dataset_id", "name", "source_filename", "n_rows", "n_accounts", "n_snapshots", "first_date",
                   "last_date", "created_at", "updated_at"]
        rows = [[getattr(d, c) for c in columns] for d in self._info_rows()]
        return pd.DataFrame(rows, columns=columns)

    def dataset_names(self) -> list[str]:
        """Dataset names, oldest first."""
        return [d.name for d in self._info_rows()]

    def load_dataset(self, name: str, apply_labels: bool = True) -> Dataset:
        """The canonical table of a dataset, sorted by account and date.

        Args:
            name: dataset name.
            apply_labels: replace the file's ``health_label`` with labels set by hand in the app (hand-set
                labels win; an account with a hand-set label gets it on every row).
        """
        info = self.dataset_info(name)
        cur = self.cursor()
        kinds = dict(json.loads(cur.execute("SELECT columns_json FROM datasets WHERE dataset_id = ?",
                                            [info.dataset_id]).fetchone()[0]))
        # Through Arrow: about twice as fast as .df() for text columns (equal once _restore sets the dtypes).
        rows = cur.execute(f"SELECT * FROM {info.table} ORDER BY account_id, snapshot_date").fetch_arrow_table()
        df = _restore(rows.to_pandas(), kinds)
        if apply_labels:
            hand = self.labels(name)
            if not hand.empty:
                mapped = df["account_id"].map(hand.set_index("account_id")["label"])
                base = df["health_label"] if "health_label" in df.columns else pd.Series(np.nan, index=df.index)
                df["health_label"] = mapped.where(mapped.notna(), base).astype(object)
        return Dataset(df=df, roles=info.roles, info=info)

    @staticmethod
    def _prepare(df: pd.DataFrame | Portfolio, roles: Roles | None) -> tuple[pd.DataFrame, Roles]:
        if isinstance(df, Portfolio):
            df, roles = df.df, roles or df.roles
        if roles is None:
            raise WorkspaceError("roles are required to save a DataFrame — pass the Roles used to load it")
        missing = [c for c in KEY if c not in df.columns]
        if missing:
            raise WorkspaceError(f"the table has no '{missing[0]}' column — load files with lib.data.ingest first")
        if df["account_id"].isna().any() or df["snapshot_date"].isna().any():
            raise WorkspaceError("every row needs an account_id and a snapshot_date — load files with lib.data.ingest")
        # Newest wins within the incoming table too (the last row for a key is the latest in the file).
        return df.drop_duplicates(list(KEY), keep="last"), roles

    def _create_table(self, cur: duckdb.DuckDBPyConnection, table: str, kinds: dict[str, str]) -> None:
        cols = ", ".join(f"{quote_ident(c)} {SQL_TYPES[k]}" for c, k in kinds.items())
        cur.execute(f"CREATE TABLE {table} ({cols})")

    def _insert_rows(self, cur: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame,
                     kinds: dict[str, str]) -> None:
        """Insert ``df`` into ``table`` by column name, casting to the stored types."""
        cur.register("incoming_rows", df)
        try:
            names = ", ".join(quote_ident(c) for c in df.columns)
            casts = ", ".join(f"CAST({quote_ident(c)} AS {SQL_TYPES[kinds[c]]})" for c in df.columns)
            cur.execute(f"INSERT INTO {table} ({names}) SELECT {casts} FROM incoming_rows")
        finally:
            cur.unregister("incoming_rows")

    def _refresh_catalogue(self, cur: duckdb.DuckDBPyConnection, dataset_id: int, table: str) -> None:
        stats = cur.execute(
            f"SELECT count(*), count(DISTINCT account_id), count(DISTINCT snapshot_date), min(snapshot_date), "
            f"max(snapshot_date) FROM {table}"
        ).fetchone()
        cur.execute(
            "UPDATE datasets SET n_rows = ?, n_accounts = ?, n_snapshots = ?, first_date = ?, last_date = ?, "
            "updated_at = ? WHERE dataset_id = ?",
            [*stats, _now(), dataset_id],
        )

    def save_dataset(
        self,
        name: str,
        df: pd.DataFrame | Portfolio,
        roles: Roles | None = None,
        source_filename: str = "",
        *,
        replace: bool = False,
        author: str = "",
    ) -> SaveResult:
        """Save a canonical table as a new dataset (or replace one), in one transaction.

        Args:
            name: the dataset's name (any text; shown as plain text).
            df: the canonical table, or a :class:`lib.data.ingest.Portfolio` (its roles are used).
            roles: the roles the table was loaded with.
            source_filename: the uploaded file's name, for the catalogue.
            replace: replace an existing dataset of that name instead of refusing.
            author: who saved it, for the audit log.

        Raises:
            WorkspaceError: empty name, a dataset of that name exists (and not replace), bad table.
        """
        name = (name or "").strip()
        if not name:
            raise WorkspaceError("a dataset needs a name — type one, e.g. the file name")
        if isinstance(df, Portfolio) and not source_filename:
            source_filename = df.filename
        table_df, roles = self._prepare(df, roles)
        kinds = {str(c): _kind(table_df[c]) for c in table_df.columns}
        with self._transaction() as cur:
            existing = cur.execute("SELECT dataset_id FROM datasets WHERE name = ?", [name]).fetchone()
            if existing and not replace:
                raise WorkspaceError(f"a dataset named '{name}' already exists — choose another name, replace it, "
                                     "or append the new snapshots to it")
            if existing:
                self._drop(cur, existing[0], name, keep_labels=True)
            dataset_id = cur.execute("SELECT nextval('dataset_ids')").fetchone()[0]
            table = quote_ident(f"ds_{dataset_id}")
            now = _now()
            cur.execute(
                "INSERT INTO datasets (dataset_id, name, source_filename, roles_json, source_roles_json, columns_json, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [dataset_id, name, source_filename, json.dumps(roles.canonical().to_dict()),
                 json.dumps(roles.to_dict()), json.dumps(list(kinds.items())), now, now],
            )
            self._create_table(cur, table, kinds)
            self._insert_rows(cur, table, table_df, kinds)
            self._refresh_catalogue(cur, dataset_id, table)
            self._audit(cur, author, "replace dataset" if existing else "upload dataset", name,
                        f"{len(table_df):,} rows from {source_filename or 'a table'}")
        return SaveResult(self.dataset_info(name), added=len(table_df), replaced=0)

    def append_dataset(
        self, name: str, df: pd.DataFrame | Portfolio, roles: Roles | None = None, source_filename: str = "",
        *, author: str = "",
    ) -> SaveResult:
        """Add snapshots to a dataset (creating it if new). Rows for an account and date already stored are
        replaced by the new ones (newest wins), so re-uploading the same file adds nothing.

        New columns are added; columns the new file lacks are left blank for its rows.

        Raises:
            WorkspaceError: a column's type differs from the stored one (e.g. text where numbers were).
        """
        with self._lock:  # the "is it new?" check and the write must not interleave with another session's
            if (name or "").strip() not in self.dataset_names():
                return self.save_dataset(name, df, roles, source_filename, author=author)
            return self._append(name.strip(), df, roles, source_filename, author)

    def _append(
        self, name: str, df: pd.DataFrame | Portfolio, roles: Roles | None, source_filename: str, author: str
    ) -> SaveResult:
        table_df, roles = self._prepare(df, roles)
        info = self.dataset_info(name)
        with self._transaction() as cur:
            stored = dict(json.loads(cur.execute("SELECT columns_json FROM datasets WHERE dataset_id = ?",
                                                 [info.dataset_id]).fetchone()[0]))
            kinds = dict(stored)
            for column in table_df.columns:
                kind = _kind(table_df[column])
                if table_df[column].isna().all():
                    kind = stored.get(column, kind)  # an all-blank column takes the stored type
                if column in stored and stored[column] != kind:
                    raise WorkspaceError(
                        f"column '{column}' holds {stored[column]} values in '{name}' but {kind} values in the new "
                        "file — fix the file, or save it as a separate dataset")
                if column not in stored:
                    cur.execute(f"ALTER TABLE {info.table} ADD COLUMN {quote_ident(column)} {SQL_TYPES[kind]}")
                    kinds[column] = kind
            cur.register("incoming_keys", table_df[list(KEY)])
            replaced = cur.execute(
                f"SELECT count(*) FROM {info.table} t JOIN incoming_keys k "
                "ON t.account_id = k.account_id AND t.snapshot_date = CAST(k.snapshot_date AS TIMESTAMP)"
            ).fetchone()[0]
            cur.execute(
                f"DELETE FROM {info.table} t USING incoming_keys k "
                "WHERE t.account_id = k.account_id AND t.snapshot_date = CAST(k.snapshot_date AS TIMESTAMP)"
            )
            cur.unregister("incoming_keys")
            self._insert_rows(cur, info.table, table_df, kinds)
            merged = _merge_roles(info.roles, roles.canonical())
            cur.execute(
                "UPDATE datasets SET roles_json = ?, source_roles_json = ?, columns_json = ?, source_filename = ? "
                "WHERE dataset_id = ?",
                [json.dumps(merged.to_dict()), json.dumps(roles.to_dict()), json.dumps(list(kinds.items())),
                 source_filename or (df.filename if isinstance(df, Portfolio) else info.source_filename),
                 info.dataset_id],
            )
            self._refresh_catalogue(cur, info.dataset_id, info.table)
            self._audit(cur, author, "append snapshots", name,
                        f"{len(table_df) - int(replaced):,} new rows, {int(replaced):,} replaced")
        return SaveResult(self.dataset_info(name), added=len(table_df) - int(replaced), replaced=int(replaced))

    def _drop(self, cur: duckdb.DuckDBPyConnection, dataset_id: int, name: str, keep_labels: bool) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {quote_ident(f'ds_{dataset_id}')}")
        cur.execute("DELETE FROM datasets WHERE dataset_id = ?", [dataset_id])
        if not keep_labels:
            cur.execute("DELETE FROM labels WHERE dataset = ?", [name])
            cur.execute("DELETE FROM dataset_models WHERE dataset = ?", [name])
            cur.execute("DELETE FROM play_accounts WHERE play_id IN (SELECT play_id FROM plays WHERE dataset = ?)",
                        [name])
            cur.execute("DELETE FROM plays WHERE dataset = ?", [name])

    def delete_dataset(self, name: str, author: str = "") -> None:
        """Delete a dataset, its rows and its hand-set labels (``author``: who, for the audit log)."""
        info = self.dataset_info(name)
        with self._transaction() as cur:
            self._drop(cur, info.dataset_id, name, keep_labels=False)
            self._audit(cur, author, "delete dataset", name, f"{info.n_rows:,} rows, {info.n_accounts:,} accounts")

    # -- model versions ---------------------------------------------------------------------------------
    def save_model(self, name: str, yaml_text: str, note: str = "", author: str = "") -> int:
        """Save a new version of a model; returns its version number (1 for a new name). The audit log keeps the
        previous version's YAML beside the new one.

        Raises:
            WorkspaceError: empty name.
            lib.engine.model.ModelError: the YAML is not a valid model (nothing is saved).
        """
        from lib.engine.model import parse_model  # the engine's validator; imported here to keep store importable alone

        name = (name or "").strip()
        if not name:
            raise WorkspaceError("a model needs a name — e.g. 'Default' or 'Q3 draft'")
        parse_model(yaml_text, source=f"model '{name}'")
        with self._transaction() as cur:
            version = cur.execute("SELECT coalesce(max(version), 0) + 1 FROM model_versions WHERE name = ?",
                                  [name]).fetchone()[0]
            before = cur.execute("SELECT yaml FROM model_versions WHERE name = ? AND version = ?",
                                 [name, version - 1]).fetchone()
            cur.execute("INSERT INTO model_versions (name, version, yaml, note, created_at, author) "
                        "VALUES (?, ?, ?, ?, ?, ?)", [name, version, yaml_text, note, _now(), author])
            self._audit(cur, author, "save model version", f"{name} v{version}", note,
                        before[0] if before else None, yaml_text)
        return int(version)

    def list_models(self) -> pd.DataFrame:
        """Every saved version: name, version, note, created_at, author (newest version of each name first)."""
        return self.cursor().execute(
            "SELECT name, version, note, created_at, author FROM model_versions ORDER BY name, version DESC"
        ).df()

    def model_names(self) -> list[str]:
        """Names of saved models, alphabetically."""
        return [r[0] for r in self.cursor().execute(
            "SELECT DISTINCT name FROM model_versions ORDER BY name").fetchall()]

    def load_model_text(self, name: str, version: int | None = None) -> str:
        """The YAML text of a model version (the latest when ``version`` is None).

        Raises:
            WorkspaceError: unknown name or version.
        """
        row = self.cursor().execute(
            "SELECT yaml FROM model_versions WHERE name = ? AND version = coalesce(?, "
            "(SELECT max(version) FROM model_versions WHERE name = ?))",
            [name, version, name],
        ).fetchone()
        if row is None:
            versions = self.cursor().execute("SELECT version FROM model_versions WHERE name = ? ORDER BY version",
                                             [name]).fetchall()
            if not versions:
                raise WorkspaceError(f"no model named '{name}' — saved models: "
                                     f"{', '.join(self.model_names()) or 'none yet'}")
            raise WorkspaceError(f"model '{name}' has no version {version} — versions: "
                                 f"{', '.join(str(v[0]) for v in versions)}")
        return row[0]

    def link_model(self, dataset: str, name: str, version: int) -> None:
        """Remember that a model version was saved or used with a dataset: choosing the dataset selects it."""
        with self._transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO dataset_models VALUES (?, ?, ?, ?)", [dataset, name, int(version),
                                                                                        _now()])

    def linked_model(self, dataset: str) -> tuple[str, int] | None:
        """The model version last saved or used with a dataset, while that version exists; else None."""
        row = self.cursor().execute(
            "SELECT l.model_name, l.version FROM dataset_models l JOIN model_versions m "
            "ON m.name = l.model_name AND m.version = l.version WHERE l.dataset = ?", [dataset]).fetchone()
        return (str(row[0]), int(row[1])) if row else None

    # -- known-health labels ----------------------------------------------------------------------------
    def set_label(self, dataset: str, account_id: str, label: str | None, set_by: str = "") -> None:
        """Set (or with ``label=None`` clear) an account's known health in a dataset; overrides the file's label.

        Raises:
            WorkspaceError: unknown dataset or a label other than 'healthy' / 'struggling'.
        """
        self.dataset_info(dataset)
        if label is not None and label not in LABELS:
            raise WorkspaceError(f"label must be 'healthy' or 'struggling' (or None to clear), got '{label}'")
        with self._transaction() as cur:
            cur.execute("DELETE FROM labels WHERE dataset = ? AND account_id = ?", [dataset, str(account_id)])
            if label is not None:
                cur.execute("INSERT INTO labels VALUES (?, ?, ?, ?, ?)",
                            [dataset, str(account_id), label, set_by, _now()])
            self._audit(cur, set_by, "set label" if label else "clear label", str(account_id),
                        f"{label or 'cleared'} in {dataset}")

    def labels(self, dataset: str) -> pd.DataFrame:
        """Hand-set labels of a dataset: account_id, label, set_by, set_at."""
        return self.cursor().execute(
            "SELECT account_id, label, set_by, set_at FROM labels WHERE dataset = ? ORDER BY account_id", [dataset]
        ).df()

    # -- CSM notes --------------------------------------------------------------------------------------
    def add_note(self, account_id: str, text: str, author: str = "") -> int:
        """Add a note to an account; returns its id. The text is stored as given (plain text, never markup)."""
        if not (text or "").strip():
            raise WorkspaceError("a note needs some text")
        with self._transaction() as cur:
            note_id = cur.execute("SELECT nextval('note_ids')").fetchone()[0]
            cur.execute("INSERT INTO notes VALUES (?, ?, ?, ?, ?)", [note_id, str(account_id), text, author, _now()])
            self._audit(cur, author, "add note", str(account_id), text)
        return int(note_id)

    def notes(self, account_id: str | None = None) -> pd.DataFrame:
        """Notes (of one account, or all), newest first: note_id, account_id, text, author, created_at."""
        return self.cursor().execute(
            "SELECT note_id, account_id, text, author, created_at FROM notes "
            "WHERE ? IS NULL OR account_id = ? ORDER BY created_at DESC, note_id DESC",
            [account_id, account_id],
        ).df()

    # -- score overrides --------------------------------------------------------------------------------
    def set_override(
        self, account_id: str, score: float, reason: str, author: str = "", expires_on: date | str | None = None
    ) -> int:
        """Override an account's score (0–100) until ``expires_on`` (inclusive; None = until removed).

        Raises:
            WorkspaceError: score outside 0–100, no reason, or an unreadable expiry date.
        """
        try:
            value = float(score)
        except (TypeError, ValueError):
            raise WorkspaceError(f"an override score must be a number from 0 to 100, got '{score}'") from None
        if not 0 <= value <= 100:
            raise WorkspaceError(f"an override score must be from 0 to 100, got {value:g}")
        if not (reason or "").strip():
            raise WorkspaceError("an override needs a reason (what the score misses)")
        expires = None
        if expires_on is not None:
            try:
                expires = pd.Timestamp(expires_on).date()
            except (TypeError, ValueError):
                raise WorkspaceError(f"expiry date '{expires_on}' is not a date — use YYYY-MM-DD") from None
        with self._transaction() as cur:
            override_id = cur.execute("SELECT nextval('override_ids')").fetchone()[0]
            cur.execute("INSERT INTO overrides VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [override_id, str(account_id), value, reason, author, expires, _now()])
            self._audit(cur, author, "set override", str(account_id), f"score {value:g} until {expires or 'removed'}: "
                        f"{reason}")
        return int(override_id)

    def remove_override(self, override_id: int, author: str = "") -> None:
        """Remove an override (``author``: who, for the audit log)."""
        with self._transaction() as cur:
            gone = cur.execute("DELETE FROM overrides WHERE override_id = ? RETURNING account_id, score, reason",
                               [int(override_id)]).fetchone()
            if gone:
                self._audit(cur, author, "remove override", str(gone[0]), f"score {gone[1]:g}: {gone[2]}")

    def overrides(self) -> pd.DataFrame:
        """Every override, newest first."""
        return self.cursor().execute(
            "SELECT override_id, account_id, score, reason, author, expires_on, created_at FROM overrides "
            "ORDER BY created_at DESC, override_id DESC").df()

    def active_overrides(self, as_of: date | str | None = None) -> pd.DataFrame:
        """Overrides in force on ``as_of`` (default today): not expired, one per account (the newest).

        Returns:
            override_id, account_id, score, reason, author, expires_on, created_at.
        """
        day = pd.Timestamp(as_of).date() if as_of is not None else _now().date()
        return self.cursor().execute(
            "SELECT override_id, account_id, score, reason, author, expires_on, created_at FROM overrides "
            "WHERE (expires_on IS NULL OR expires_on >= ?) AND CAST(created_at AS DATE) <= ? "
            "QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY created_at DESC, override_id DESC) = 1 "
            "ORDER BY account_id",
            [day, day],
        ).df()

    # -- plays ------------------------------------------------------------------------------------------
    def save_play(self, play: Play, assignments: pd.DataFrame, author: str = "") -> int:
        """Store a play and its groups (``account_id, group[, stratum]``, from :func:`lib.analysis.plays.assign`);
        returns its id. The groups are stored as drawn and never reshuffled.

        Raises:
            WorkspaceError: no name, a name already used for this dataset, or no start date.
        """
        name = (play.name or "").strip()
        if not name:
            raise WorkspaceError("a play needs a name — e.g. 'Executive sponsor calls, Q3'")
        if self.cursor().execute("SELECT 1 FROM plays WHERE dataset = ? AND name = ?",
                                 [play.dataset, name]).fetchone():
            raise WorkspaceError(f"dataset '{play.dataset}' already has a play named '{name}' — choose another name")
        groups = assignments.reindex(columns=["account_id", "group", "stratum"])
        with self._transaction() as cur:
            play_id = int(cur.execute("SELECT nextval('play_ids')").fetchone()[0])
            cur.execute("INSERT INTO plays VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [play_id, name, play.dataset, play.description, play.owner,
                         pd.Timestamp(play.start_date).date(), float(play.control_share), json.dumps(list(play.strata)),
                         int(play.seed), play.source, _now()])
            cur.register("incoming_groups", groups.assign(play_id=play_id)[
                ["play_id", "account_id", "group", "stratum"]].astype({"account_id": str}))
            cur.execute("INSERT INTO play_accounts SELECT * FROM incoming_groups")
            cur.unregister("incoming_groups")
            self._audit(cur, author, "create play", name, f"{len(groups):,} accounts in {play.dataset}")
        return play_id

    def plays(self, dataset: str | None = None) -> list[Play]:
        """The plays stored (of one dataset, or all), newest first."""
        rows = self.cursor().execute(
            "SELECT play_id, name, dataset, description, owner, start_date, control_share, strata_json, seed, source "
            "FROM plays WHERE ? IS NULL OR dataset = ? ORDER BY created_at DESC, play_id DESC", [dataset, dataset]
        ).fetchall()
        return [Play(name=r[1], dataset=r[2], description=r[3] or "", owner=r[4] or "",
                     start_date=pd.Timestamp(r[5]), control_share=float(r[6]), strata=tuple(json.loads(r[7])),
                     seed=int(r[8]), source=r[9] or "", play_id=int(r[0])) for r in rows]

    def play_assignments(self, dataset: str | None = None, play_id: int | None = None) -> pd.DataFrame:
        """Stored groups: ``play_id, account_id, group, stratum`` (of one play, or every play of a dataset)."""
        return self.cursor().execute(
            'SELECT a.play_id, a.account_id, a.grp AS "group", a.stratum FROM play_accounts a JOIN plays p '
            "USING (play_id) WHERE (? IS NULL OR p.dataset = ?) AND (? IS NULL OR a.play_id = ?) "
            "ORDER BY a.play_id, a.account_id", [dataset, dataset, play_id, play_id]).df()

    def held_out(self, dataset: str) -> pd.Series:
        """account_id → 'held out of play X: do not run it', for the control accounts of a dataset's plays."""
        from lib.data.play_groups import held_out

        names = pd.DataFrame([(p.play_id, p.name) for p in self.plays(dataset)], columns=["play_id", "name"])
        return held_out(names, self.play_assignments(dataset))

    def delete_play(self, play_id: int, author: str = "") -> None:
        """Delete a play and its groups (``author``: who, for the audit log)."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM play_accounts WHERE play_id = ?", [int(play_id)])
            gone = cur.execute("DELETE FROM plays WHERE play_id = ? RETURNING name, dataset", [int(play_id)]).fetchone()
            if gone:
                self._audit(cur, author, "delete play", str(gone[0]), f"in {gone[1]}")

    # -- the sample ---------------------------------------------------------------------------------------
    def ensure_sample(self) -> bool:
        """On the first run, load the sample portfolio as 'Sample portfolio' (with its play) and the default model
        as 'Default' v1.

        Runs once per workspace (a deleted sample stays deleted), and never with ``HSS_SAMPLE=0`` (a team's
        workspace without the demo). Returns True when it loaded them now.
        """
        from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio, sample_play, sample_roles

        done = self.cursor().execute("SELECT value FROM meta WHERE key = 'sample_loaded'").fetchone()
        if done or os.environ.get(SAMPLE_ENV, "1").strip().lower() in ("0", "no", "false", "off"):
            return False
        with self._lock:
            if self.cursor().execute("SELECT value FROM meta WHERE key = 'sample_loaded'").fetchone():
                return False  # another session loaded it while this one waited
            if SAMPLE_DATASET not in self.dataset_names():
                book = generate_portfolio()
                self.save_dataset(SAMPLE_DATASET, book, sample_roles(), "sample_portfolio.csv", author="sample")
                planned = sample_play(book, SAMPLE_DATASET)
                if planned is not None:  # the Plays page working from the first run
                    self.save_play(*planned)
            if SAMPLE_MODEL not in self.model_names():
                version = self.save_model(SAMPLE_MODEL, DEFAULT_MODEL_PATH.read_text(encoding="utf-8"),
                                          "The bundled default model for the sample portfolio", "sample")
                self.link_model(SAMPLE_DATASET, SAMPLE_MODEL, version)
            with self._transaction() as cur:
                cur.execute("INSERT OR REPLACE INTO meta VALUES ('sample_loaded', ?)", [_now().isoformat()])
        return True
