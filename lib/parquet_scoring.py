"""Score a Parquet file into a Parquet or CSV file with numpy, in bounded memory: big portfolios' path.

The file is read one column at a time, and only the columns the model reads; text columns become codes into
their distinct values as they are read (Arrow's dictionary encoding), so a million account ids cost one int
per row. :class:`~lib.vectorised.Evaluator` then keeps one float per row per metric and not the raw
inputs. The output is cut into row groups of about a million rows, which a background thread compresses and
writes while the next one is built. 12 M rows score this way in about 10 s and 1.5 GB (bench/README.md).
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lib.model import Model, ModelError, Problem
from lib.plan import required_problems
from lib.vectorised import Coded, Evaluator, Rows, previous_rows

CHUNK_ROWS = 1 << 19  # rows per output row group: ~100 MB of columns per chunk, two chunks in flight
TEXT_COLUMNS = ("account_id", "profile", "band", "grade", "alerts")
# Per-row float columns the evaluation would otherwise keep for the next slider move: not wanted here.
_TRANSIENT = frozenset({"num", "score", "pick", "zero"})


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
    """A Parquet file's rows, in the file's order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = pq.ParquetFile(path)
        # Text columns (but the ids, mostly distinct) are read dictionary-encoded: codes without hashing.
        text = [f.name for f in self._file.schema_arrow
                if f.name != "account_id" and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
        self._coded = pq.ParquetFile(path, read_dictionary=text)
        self.n = self._file.metadata.num_rows
        codes, ids = _encode(self._read("account_id"))
        self._no_blanks("account_id", codes)
        by_text = pc.sort_indices(ids.cast(pa.string())).to_numpy()
        position = np.empty(len(by_text), dtype=np.int32)
        position[by_text] = np.arange(len(by_text), dtype=np.int32)
        self.account_code = position[codes]
        self.account_values = ids.cast(pa.string()).take(pa.array(by_text))
        self.n_accounts = len(ids)
        codes, raw_dates = _encode(self._read("snapshot_date"))
        self._no_blanks("snapshot_date", codes)
        date_of_code = self._as_dates(raw_dates)
        merged, dates = pd.factorize(date_of_code, sort=True)  # distinct raw values may be the same date
        self.date_code = merged.astype(np.int32)[codes]
        self.dates = pd.DatetimeIndex(dates, name="snapshot_date")
        self.prev, self.repeated = previous_rows(self.account_code, self.date_code, len(self.dates))

    def _read(self, col: str) -> pa.ChunkedArray:
        return self._file.read(columns=[col]).column(0)

    def _no_blanks(self, col: str, codes: np.ndarray) -> None:
        blank = np.flatnonzero(codes < 0)
        if len(blank):
            raise ModelError([Problem(col, f"{len(blank):,} rows have no {col} (the first is row {blank[0] + 1:,})",
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

    def series(self, col: str) -> pd.Series:
        return self._read(col).to_pandas()

    def factorized(self, col: str) -> tuple[np.ndarray, pd.Series]:
        codes, values = _encode(self._coded.read(columns=[col]).column(0))
        return codes, values.to_pandas()

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
    """Score a Parquet file into a Parquet or CSV file; the same values as :func:`lib.scoring.score`.

    Args:
        model: a validated model.
        source: .parquet file with ``account_id``, ``snapshot_date`` and the model's columns.
        out: the .parquet or .csv file to write; replaced only once the new one is complete.
        columns: output columns to keep, in order (default: every column :func:`lib.scoring.score` returns).
        ordered: rows sorted by account_id, snapshot_date (default: in the source's order).

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
    rows = ParquetRows(source)
    evaluator = Evaluator(rows, transient=_TRANSIENT)
    scored = evaluator.scored(model)
    order = (np.argsort(rows.account_code.astype(np.int64) * max(len(rows.dates), 1) + rows.date_code, kind="stable")
             if ordered else None)

    def chunk(start: int) -> pa.Table:
        picked = slice(start, start + CHUNK_ROWS) if order is None else order[start:start + CHUNK_ROWS]
        cols = rows.ids(picked)
        score_names = [c for c in columns if c not in cols] if columns is not None else None
        cols.update((k, _arrow(v)) for k, v in evaluator.columns(scored, picked, score_names))
        return pa.table({c: cols[c] for c in (columns or cols)})

    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    os.close(fd)
    try:
        first = chunk(0)
        if kind == ".parquet":
            # Without the Arrow schema, readers see text columns as text, not as Arrow dictionaries.
            writer = pq.ParquetWriter(tmp, first.schema, compression="snappy", store_schema=False,
                                      use_dictionary=[c for c in first.column_names if c in TEXT_COLUMNS])
        else:
            writer = pacsv.CSVWriter(tmp, first.schema)
        with writer, ThreadPoolExecutor(max_workers=1) as pool:
            # Compress and write one chunk (Arrow releases the GIL) while numpy builds the next.
            pending: Future = pool.submit(writer.write_table, _for_file(first, kind))
            for start in range(CHUNK_ROWS, rows.n, CHUNK_ROWS):
                table = _for_file(chunk(start), kind)
                pending.result()
                pending = pool.submit(writer.write_table, table)
            pending.result()
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return rows.n


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
