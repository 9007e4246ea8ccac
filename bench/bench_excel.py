"""Excel reading benchmark — figures, not assertions. Run: ``.venv/bin/python -m bench.bench_excel``.

A CRM export from ``tests.foreign`` — 2,500 accounts × 24 monthly snapshots = 60,000 rows × 20 columns — saved
once as .xlsx (ids as text cells, amounts such as "$11,500" and percentages as text, counts as numbers, dates
as dates, blanks as empty cells) and as CSV, into ``bench/out/`` (git-ignored). Each case runs in its own
subprocess, so its peak RSS is its own:

- ``xlsx``: ``lib.data.ingest.read_table`` on the workbook (what an upload or the CLI runs), then ``load_portfolio``
  (read, detect roles, build the canonical table).
- ``csv``: the same two on the same table as CSV — the reference: a format pandas reads in C.
- ``openpyxl``: ``pandas.read_excel(engine="openpyxl")`` on the workbook — the engine ingest used before.

Options: ``--runs N`` (default 5), ``--quick`` (6,000 rows, to check the script).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from bench.bench_scoring import OUT, ROOT, peak_rss_mb, timed

CASES = ("xlsx", "csv", "openpyxl")


def excel_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The export as Excel holds it: a column whose every value is a plain number becomes numbers, the date
    columns become dates, ids and formatted values ("$11,500", "45%", "Yes") stay text, '' becomes empty."""
    from tests.foreign import DATE, ID, RENEWAL

    cells = table.replace("", None)
    for column in cells.columns:
        if column in (DATE, RENEWAL):
            cells[column] = pd.to_datetime(cells[column])
        elif column != ID:
            numbers = pd.to_numeric(cells[column], errors="coerce")
            if numbers.notna().sum() == cells[column].notna().sum():
                cells[column] = numbers
    return cells


def write_inputs(rows: int) -> tuple[Path, Path]:
    """Write (once) the export as .xlsx and .csv; returns their paths."""
    from openpyxl import Workbook

    from tests.foreign import foreign_portfolio

    xlsx, csv = OUT / f"export_{rows}.xlsx", OUT / f"export_{rows}.csv"
    if xlsx.exists() and csv.exists():
        return xlsx, csv
    table = foreign_portfolio(accounts=rows // 24, snapshots=24)
    table.to_csv(csv, index=False)
    book = Workbook(write_only=True)  # streams rows to disk: the only way openpyxl writes 60,000 rows quickly
    sheet = book.create_sheet("Accounts")
    sheet.append(list(table.columns))
    for row in excel_cells(table).astype(object).itertuples(index=False):
        sheet.append([None if pd.isna(v) else v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in row])
    book.save(xlsx)
    return xlsx, csv


def worker(case: str, path: Path, runs: int) -> dict:
    """Time one case ``runs`` times in this process; the result as a dict (printed as JSON)."""
    from lib.data.ingest import load_portfolio, read_table

    result: dict = {"case": case, "file_mb": path.stat().st_size / 1e6}
    if case == "openpyxl":
        data = path.read_bytes()

        def read() -> pd.DataFrame:
            return pd.read_excel(io.BytesIO(data), engine="openpyxl", dtype=object)

        result["read_s"], result["read_all_s"] = timed(read, runs)
        result["rows"], result["columns"] = read().shape
    else:
        result["read_s"], result["read_all_s"] = timed(lambda: read_table(path), runs)
        result["load_s"], result["load_all_s"] = timed(lambda: load_portfolio(path), runs)
        df = load_portfolio(path).df
        result["rows"], result["columns"] = len(df), read_table(path).shape[1]
        result["first_ids"] = df["account_id"].head(2).tolist()
    result["peak_rss_mb"], result["load"] = peak_rss_mb(), os.getloadavg()[0]
    return result


def run_worker(case: str, path: Path, runs: int) -> dict:
    """One case in a fresh interpreter; its last stdout line is the JSON result."""
    cmd = [sys.executable, "-m", "bench.bench_excel", "--worker", case, "--input", str(path), "--runs", str(runs)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench worker failed ({case}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed repetitions per case")
    parser.add_argument("--quick", action="store_true", help="6,000 rows, to check the script")
    parser.add_argument("--worker", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.input), args.runs)))
        return

    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    xlsx, csv = write_inputs(6_000 if args.quick else 60_000)
    print(f"inputs: {xlsx.relative_to(ROOT)}, {csv.relative_to(ROOT)} ({time.perf_counter() - t0:.1f} s)")
    results = {case: run_worker(case, csv if case == "csv" else xlsx, args.runs) for case in CASES}
    for case, r in results.items():
        runs = ", ".join(f"{t:.2f}" for t in r["read_all_s"])
        line = (f"{case:>8}: {r['rows']:,} rows × {r['columns']} columns ({r['file_mb']:.1f} MB); read median "
                f"{r['read_s']:.2f} s (runs: {runs}) — {r['rows'] / r['read_s']:,.0f} rows/s")
        if "load_s" in r:
            line += f"; load_portfolio median {r['load_s']:.2f} s — ids {r['first_ids']}"
        print(line + f"; peak RSS {r['peak_rss_mb']:.0f} MB; load average {r['load']:.1f}")
    xl, text, old = (results[c]["read_s"] for c in CASES)
    print(f"ratios (medians, same run): xlsx / csv read = {xl / text:.2f}; openpyxl / xlsx read = {old / xl:.1f}; "
          f"xlsx / csv load_portfolio = {results['xlsx']['load_s'] / results['csv']['load_s']:.2f}")


if __name__ == "__main__":
    main()
