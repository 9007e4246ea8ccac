"""Small SQL helpers shared by every module that talks to DuckDB.

Every user-supplied name (a column called ``Customer "ID"`` or ``x"; DROP TABLE t; --``) is data, never SQL:
identifiers go through :func:`quote_ident`; values are bound parameters, and :func:`quote_literal` is only
for SQL text that must stand alone (DDL, or a compiled query exported to another engine).
"""

from __future__ import annotations

import math
import os

import duckdb

#: Environment variables read by :func:`connect` (so the app, CLI and bench share one place for limits).
MEMORY_LIMIT_ENV = "HSS_DUCKDB_MEMORY_LIMIT"
THREADS_ENV = "HSS_DUCKDB_THREADS"


def _refuse_nul(text: str, what: str) -> None:
    # DuckDB truncates or rejects strings at NUL; refuse early with a clear message instead.
    if "\x00" in text:
        raise ValueError(f"{what} {text!r} contains a NUL character — remove it")


def quote_ident(name: str) -> str:
    """Quote an SQL identifier: ``a"b`` → ``"a""b"``.

    Args:
        name: a column or table name exactly as the user spelled it.

    Returns:
        The identifier wrapped in double quotes with inner quotes doubled, safe to splice into SQL.
    """
    name = str(name)
    _refuse_nul(name, "name")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: object) -> str:
    """Quote a string literal: ``it's`` → ``'it''s'``.

    Only for SQL that must stand alone (DDL, exported queries); everywhere else bind parameters.
    """
    text = str(value)
    _refuse_nul(text, "text")
    return "'" + text.replace("'", "''") + "'"


def number_literal(value: float) -> str:
    """Write a finite number as an SQL DOUBLE literal that parses back to exactly the same float.

    DuckDB reads ``0.1`` as a DECIMAL, whose conversion to DOUBLE is not always correctly rounded; an
    exponent (``0.1e0``) makes it a DOUBLE parsed with correct rounding. Integral values stay plain.
    """
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"number {value!r} is not finite — use a finite number")
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    text = repr(x)
    return text if "e" in text else text + "e0"


def connect(
    path: str | None = None, *, memory_limit: str | None = None, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection with the project's resource settings.

    Args:
        path: database file, or None for an in-memory database.
        memory_limit: e.g. ``"2GB"``; default from ``$HSS_DUCKDB_MEMORY_LIMIT``, else DuckDB's default.
        threads: worker threads; default from ``$HSS_DUCKDB_THREADS``, else all cores.

    Returns:
        The connection. It is not thread-safe: give each thread or query its own ``con.cursor()``.
    """
    con = duckdb.connect(path or ":memory:")
    memory_limit = memory_limit or os.environ.get(MEMORY_LIMIT_ENV)
    if memory_limit:
        con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
    threads = threads or int(os.environ.get(THREADS_ENV) or 0) or None
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con
