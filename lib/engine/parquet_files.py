"""Score a Parquet file into a Parquet or CSV file with numpy, in bounded memory: big portfolios' path.

Only the columns the model reads are read; text columns become codes into their distinct values as they are
read (Arrow's dictionary encoding), so a million account ids cost one int per row. Rows are sorted by
snapshot date, and each date is evaluated on its own (:class:`~lib.engine.numpy_eval.DateSlice`: peer groups and
ranks in band are per date; each account's earlier scores are carried over from the dates before). A
background thread compresses and writes one date's row groups while the next date is scored. 12 M rows
(1 M accounts × 12 dates) score this way in about 11 s and 1.4–1.6 GB (bench/README.md). Sorted by account
(``ordered``), every row is evaluated at once instead, then written in that order. A window metric's statistic
at a date reads the account's earlier rows from the columns already kept (``prev`` leads to them), so it costs
a few gathers per date and no extra copy of any column.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lib.engine.model import Model, ModelError, Problem
from lib.engine.numpy_eval import Coded, DateSlice, Evaluator, Rows, Scored, account_date_order, previous_rows
from lib.engine.plan import required_problems

CHUNK_ROWS = 1 << 19  # rows per output row group at most: ~100 MB of columns per chunk
_WRITES_AHEAD = 2  # chunks waiting for the writer thread while the next is computed
TEXT_COLUMNS = ("account_id", "profile", "band", "grade", "alerts")
# Per-row float columns the evaluation would otherwise keep for the next slider move: not wanted here.
_TRANSIENT = frozenset({"num", "stat", "score", "pick", "zero"})


def _encode(col: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(codes per row, -1 for missing; the distinct values) of a column, by Arrow's dictionary encoding."""
    enc = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
    if enc.num_chunks == 0:
        value_type = enc.type.value_type
        return np.zeros(0, dtype=np.int32), pa.array([], type=value_type)
    first = enc.chunk(0).dictionary
    if not all(c.dictionary.equals(first) for c in enc.chunks[1:]):  # encoding a chunked column shares one
        enc = enc.unify_dictionaries()
        first = enc.chunk(0).dictionary
    indices = pa.chunked_array([c.indices for c in enc.chunks], type=enc.type.index_type)
    codes = pc.fill_null(indices, -1).to_numpy()
    return codes.astype(np.min_scalar_type(-len(first) - 1)), first  # int8 for a few values: memory per row


class ParquetRows(Rows):
    """A Parquet file's rows: in the file's order, or sorted by snapshot date (``by_date``).

    Sorted by date, the columns read are kept (converted, in that order), so that each date's
    :class:`~lib.engine.numpy_eval.DateSlice` reads its part without going back to the file; ``columns`` are read
    in the background while the ids are prepared.
    """

    def __init__(self, path: Path, by_date: bool = False, columns: list[str] | None = None) -> None:
        self.path = path
        self._file = pq.ParquetFile(path)
        # Text columns (but the ids, mostly distinct) are read dictionary-encoded: codes without hashing.
        text = [f.name for f in self._file.schema_arrow
                if f.name != "account_id" and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
        self._coded = pq.ParquetFile(path, read_dictionary=text)
        self.n = self._file.metadata.num_rows
        self._kept: dict[tuple[str, str], Any] = {}
        self._read_dates()
        self._order = None
        if by_date:  # a radix sort of small codes; every per-row array then follows this order
            small = np.int16 if len(self.dates) < 2**15 else np.int32
            self._order = np.argsort(self.date_code.astype(small), kind="stable")
            self.date_code = self.date_code[self._order]
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The model's columns are read and reordered in the background while the ids are prepared.
            wanted = list(dict.fromkeys(columns or [])) if by_date else []
            early = pool.submit(lambda: self._keep_all(self._coded.read(columns=wanted))) if wanted else None
            self._read_accounts()
            if early is not None:
                early.result()

    def _read_dates(self) -> None:
        codes, raw_dates = _encode(self._read("snapshot_date"))
        self._no_blanks("snapshot_date", codes)
        merged, dates = pd.factorize(self._as_dates(raw_dates), sort=True)  # distinct values may be one date
        self.date_code = merged.astype(np.int32)[codes]
        self.dates = pd.DatetimeIndex(dates, name="snapshot_date")

    def _read_accounts(self) -> None:
        codes, ids = _encode(self._read("account_id"))
        self._no_blanks("account_id", codes)
        by_text = pc.sort_indices(ids.cast(pa.string())).to_numpy()
        position = np.empty(len(by_text), dtype=np.int32)
        position[by_text] = np.arange(len(by_text), dtype=np.int32)
        self.account_code = position[codes] if self._order is None else position[codes[self._order]]
        self.account_values = ids.cast(pa.string()).take(pa.array(by_text))
        self.n_accounts = len(ids)
        if self._order is None:
            self.prev, self.repeated = previous_rows(self.account_code, self.date_code, len(self.dates))
        else:
            self.prev, self.repeated = self._previous_by_date()

    def _previous_by_date(self) -> tuple[np.ndarray, bool]:
        """:func:`~lib.engine.numpy_eval.previous_rows` for rows sorted by date, date by date: each account's last
        row so far is its next row's previous one."""
        prev = np.full(self.n, -1, dtype=np.int32 if self.n < 2**31 else np.int64)
        last = np.full(self.n_accounts, -1, dtype=prev.dtype)
        bounds = np.r_[0, np.cumsum(np.bincount(self.date_code, minlength=len(self.dates)))]
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            accounts = self.account_code[a:b]
            if b > a and np.bincount(accounts, minlength=self.n_accounts).max() > 1:
                return previous_rows(self.account_code, self.date_code, len(self.dates))  # an account twice
            prev[a:b] = last[accounts]
            last[accounts] = np.arange(a, b, dtype=prev.dtype)
        return prev, False

    def _keep_all(self, table: pa.Table) -> None:
        """Reorder and keep columns read ahead: numbers as values, text as codes (one column at a time)."""
        for name in table.column_names:
            col = table.column(name)
            table = table.drop_columns([name])
            if pa.types.is_dictionary(col.type) or pa.types.is_string(col.type):
                self._keep("codes", name, lambda col=col: self._codes(col))
            else:
                self._keep("series", name, lambda col=col: self._values(col))

    def _read(self, col: str) -> pa.ChunkedArray:
        return self._file.read(columns=[col]).column(0)

    def _keep(self, kind: str, col: str, build: Callable[[], Any]) -> Any:  # noqa: ANN401 - a column, as built
        """Sorted by date, a column is read and reordered once, then kept for every date's slice."""
        if self._order is None:
            return build()
        if (kind, col) not in self._kept:
            self._kept[kind, col] = build()
        return self._kept[kind, col]

    def _no_blanks(self, col: str, codes: np.ndarray) -> None:
        blank = np.flatnonzero(codes < 0)
        if len(blank):
            rows = "1 row has" if len(blank) == 1 else f"{len(blank):,} rows have"
            raise ModelError([Problem(col, f"{rows} no {col} (the first is row {blank[0] + 1:,})",
                                      f"fill in {col} on every row, or drop those rows")], source=str(self.path))

    def _as_dates(self, raw: pa.Array) -> pd.DatetimeIndex:
        """The distinct snapshot_date values as dates (text is parsed; a time zone is converted to UTC)."""
        values = raw.to_pandas()
        dates = pd.to_datetime(values, errors="coerce", utc=getattr(values.dtype, "tz", None) is not None)
        bad = dates.isna() & values.notna()
        if bad.any():
            raise ModelError([Problem("snapshot_date", f"'{values[bad].iloc[0]}' is not a date",
                                      "write dates as YYYY-MM-DD")], source=str(self.path))
        dates = pd.DatetimeIndex(dates)
        return dates.tz_localize(None) if dates.tz is not None else dates

    def _values(self, values: pa.ChunkedArray) -> pd.Series:
        series = values.to_pandas()
        if self._order is None:
            return series
        if isinstance(series.dtype, np.dtype) and series.dtype != object:  # numbers: a plain numpy gather
            return pd.Series(series.to_numpy()[self._order])
        return series.iloc[self._order].reset_index(drop=True)

    def _codes(self, values: pa.ChunkedArray) -> tuple[np.ndarray, pd.Series]:
        codes, distinct = _encode(values)
        return codes if self._order is None else codes[self._order], distinct.to_pandas()

    def series(self, col: str) -> pd.Series:
        return self._keep("series", col, lambda: self._values(self._read(col)))

    def factorized(self, col: str) -> tuple[np.ndarray, pd.Series]:
        return self._keep("codes", col, lambda: self._codes(self._coded.read(columns=[col]).column(0)))

    def ids(self, rows: slice | np.ndarray) -> dict[str, pa.Array]:
        """``account_id`` (as text) and ``snapshot_date`` (TIMESTAMP, as SQL writes it) of some rows."""
        dates = pa.array(self.dates.to_numpy().astype("datetime64[us]"))
        return {"account_id": self.account_values.take(pa.array(self.account_code[rows])),
                "snapshot_date": dates.take(pa.array(self.date_code[rows]))}


def _arrow(values: np.ndarray | Coded) -> pa.Array:
    if isinstance(values, Coded):  # written as Parquet's own dictionary encoding: no text per row
        codes = pa.array(values.codes.astype(np.int32), mask=values.codes < 0)
        return pa.DictionaryArray.from_arrays(codes, pa.array(values.labels, type=pa.string()))
    return pa.array(values, from_pandas=True)  # NaN → null, as SQL writes a missing score


def score_parquet(model: Model, source: str | Path, out: str | Path, columns: list[str] | None = None,
                  ordered: bool = False) -> int:
    """Score a Parquet file into a Parquet or CSV file; the same values as :func:`lib.engine.sql.score`.

    Args:
        model: a validated model.
        source: .parquet file with ``account_id``, ``snapshot_date`` and the model's columns.
        out: the .parquet or .csv file to write; replaced only once the new one is complete.
        columns: output columns to keep, in order (default: every column :func:`lib.engine.sql.score` returns).
        ordered: rows sorted by account_id, snapshot_date. By default they come by snapshot date (in the
            source's order within a date): each date is then scored on its own and written while the next one
            is scored, in less time and memory.

    Returns:
        The number of rows written.

    Raises:
        ModelError: when the source lacks a column the model reads, or has rows without an id or date.
        ValueError: for an output type other than .parquet/.csv.
    """
    source, out = Path(source), Path(out)
    kind = out.suffix.lower()
    if kind not in (".parquet", ".csv"):
        raise ValueError(f"{out}: can write .parquet or .csv files only")
    problems = required_problems(model, pq.read_schema(source).names)
    if problems:
        raise ModelError(problems, source=str(source))
    rows = ParquetRows(source, by_date=not ordered, columns=[*model.metric_columns(), *model.segment_columns()])
    tables = _sorted_chunks(model, rows, columns) if ordered or rows.n == 0 else _date_chunks(model, rows, columns)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    os.close(fd)
    try:
        _write(tables, tmp, kind)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return rows.n


def _table(rows: ParquetRows, evaluator: Evaluator, scored: Scored, ids: slice | np.ndarray,
           picked: slice | np.ndarray, columns: list[str] | None, history: np.ndarray | None = None) -> pa.Table:
    """One output chunk: the ids of rows ``ids`` and the score columns of the evaluator's rows ``picked``."""
    cols = rows.ids(ids)
    score_names = [c for c in columns if c not in cols] if columns is not None else None
    cols.update((k, _arrow(v)) for k, v in evaluator.columns(scored, picked, score_names, history))
    return pa.table({c: cols[c] for c in (columns or cols)})


def _sorted_chunks(model: Model, rows: ParquetRows, columns: list[str] | None) -> Iterator[pa.Table]:
    """Every row evaluated at once, then cut in account and date order."""
    evaluator = Evaluator(rows, transient=_TRANSIENT)
    scored = evaluator.scored(model)
    order = account_date_order(rows.account_code, rows.date_code, len(rows.dates))
    for start in range(0, max(rows.n, 1), CHUNK_ROWS):
        picked = order[start:start + CHUNK_ROWS]
        yield _table(rows, evaluator, scored, picked, picked, columns)


def _date_chunks(model: Model, rows: ParquetRows, columns: list[str] | None) -> Iterator[pa.Table]:
    """Rows sorted by date, evaluated a date at a time, oldest first, so every account's earlier scores
    (``history``) are known when a date's changes and alerts are worked out. Small dates (daily snapshots
    of a few accounts) are evaluated together, at least a chunk's worth of rows at a time."""
    history = np.full(rows.n, np.nan)
    cuts = [0]
    for end in np.cumsum(np.bincount(rows.date_code, minlength=len(rows.dates))).tolist():
        if end - cuts[-1] >= CHUNK_ROWS or end == rows.n:
            cuts.append(end)
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        part = DateSlice(rows, a, b)
        evaluator = Evaluator(part, transient=_TRANSIENT)
        scored = evaluator.scored(model)
        history[a:b] = scored.overall
        for start in range(a, b, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, b)
            yield _table(rows, evaluator, scored, slice(start, stop), slice(start - a, stop - a), columns, history)


def _write(tables: Iterator[pa.Table], path: str, kind: str) -> None:
    """Write the chunks to one file, compressing and writing in a background thread (Arrow releases the GIL)
    while the next chunks are computed."""
    first = _for_file(next(tables), kind)
    if kind == ".parquet":
        # Without the Arrow schema, readers see text columns as text, not as Arrow dictionaries.
        writer = pq.ParquetWriter(path, first.schema, compression="snappy", store_schema=False,
                                  use_dictionary=[c for c in first.column_names if c in TEXT_COLUMNS])
    else:
        writer = pacsv.CSVWriter(path, first.schema)
    with writer, ThreadPoolExecutor(max_workers=1) as pool:
        pending: deque[Future] = deque([pool.submit(writer.write_table, first)])
        for table in tables:
            pending.append(pool.submit(writer.write_table, _for_file(table, kind)))
            if len(pending) > _WRITES_AHEAD:
                pending.popleft().result()
        for done in pending:
            done.result()


def _for_file(table: pa.Table, kind: str) -> pa.Table:
    """CSV is read by people: text as text, snapshot dates as YYYY-MM-DD, as the other paths write them."""
    if kind != ".csv":
        return table
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
        elif field.name == "snapshot_date":
            table = table.set_column(i, field.name, table.column(i).cast(pa.date32()))
    return table


__all__ = ["ParquetRows", "score_parquet"]
