"""Scoring benchmarks — figures, not assertions. Run: ``.venv/bin/python -m bench.bench_scoring``.

Two cases, each measured in its own subprocess so peak RSS belongs to that case alone:

(a) ``live``: the Tune page's slider loop. 10,000 accounts × 104 weekly snapshots from
    ``lib.data.sample.generate_portfolio`` scored with the bundled default model (6 metrics incl. a percentile, a
    categorical metric and an Onboarding profile). Times :meth:`LiveScorer.band_counts` after one slider
    move (a threshold, then a weight) against a hand-written numpy reference doing the same work in the same
    run, plus the full numpy rescore, the full DuckDB score and a per-row pandas ``apply`` on a subsample
    (extrapolated).
(b) ``parquet``: 1,000,000 accounts × 12 monthly snapshots scored from Parquet to Parquet as the CLI does
    (``lib.engine.sql.score_file``: numpy, :mod:`lib.engine.parquet_files`), with the CLI's default columns and with
    ``--full`` (every column), each against pyarrow copying as many columns with no scoring in the same run;
    ``--with-sql`` adds the compiled SQL run by DuckDB under a memory limit. The input file is generated
    once, vectorised and in chunks, into ``bench/out/`` (git-ignored).

    ``--windows`` scores the CLI's default columns with the default model and with the same model plus two
    window metrics (``logins_per_user`` mean and pct_change over 3 snapshots), runs alternating.

Options: ``--case live|parquet|all`` (default all), ``--runs N``, ``--memory-limit 1GB``, ``--with-sql``,
``--sorted``, ``--windows``, ``--quick`` (small sizes, to check the script itself).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
DEFAULT_MODEL = ROOT / "data" / "models" / "default.yaml"


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process, all threads (less sensitive than wall time to a busy shared machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn, runs: int) -> tuple[float, list[float]]:  # noqa: ANN001 - any zero-argument callable
    """Median and all wall times of ``runs`` calls of ``fn``."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


# ---------------------------------------------------------------------------------------------- (a) live


class HandWrittenNumpy:
    """What a careful person writes by hand for the default model, caching what a threshold cannot change.

    Every metric is scored once and the profile-chosen scores and raw weights are kept as n × metrics
    arrays; a move of one metric's threshold rescores that metric (one column), then redoes the
    hierarchical renormalisation with 2-D array arithmetic, the rounded sum, bands and counts per date.
    """

    def __init__(self, df: pd.DataFrame, model) -> None:  # noqa: ANN001 - a lib.engine.model.Model
        from lib.engine.model import Categories, Linear, Percentile, Steps

        self.names = list(model.metrics)
        self.date_code, self.dates = pd.factorize(df["snapshot_date"], sort=True)
        profiles = model.profile_names
        self.pidx = np.full(len(df), len(profiles) - 1)
        for k in reversed(range(len(model.profiles))):
            mask = np.ones(len(df), bool)
            for col, vals in model.profiles[k].when.items():
                mask &= df[col].isin(vals).to_numpy()
            self.pidx[mask] = k
        values = {m: df[m].to_numpy() for m in self.names}

        def one(spec, m):  # noqa: ANN001, ANN202
            v = values[m]
            if isinstance(spec, Linear):
                return np.clip((v - spec.red) / (spec.green - spec.red), 0, 1) * 100
            if isinstance(spec, Steps):
                out = np.asarray(spec.points)[np.searchsorted(spec.cuts, v, side="right")]
                return np.where(np.isnan(v), np.nan, out)
            if isinstance(spec, Categories):
                return pd.Series(v).str.strip().str.lower().map(spec.lookup()).to_numpy(dtype=float)
            assert isinstance(spec, Percentile)
            g = pd.Series(v).groupby([df["snapshot_date"].to_numpy(), *(df[c].to_numpy() for c in spec.within)])
            rank, n = g.rank(method="min").to_numpy(), g.transform("count").to_numpy()
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(np.isnan(v), np.nan, np.where(n == 1, 50.0, 100 * (rank - 1) / (n - 1)))

        self.one = one
        self.variants = {m: [one(model.spec_for(p, m), m) for p in profiles] for m in self.names}
        self.s = np.column_stack([np.choose(self.pidx, self.variants[m]) for m in self.names])
        self.w = np.array([[model.weights_for(p)[m] for m in self.names] for p in profiles])[self.pidx]
        groups = list(model.groups)
        self.member = np.array([[model.metrics[m].group == g for g in groups] for m in self.names], float)
        self.group_w = np.array([model.groups[g] for g in groups])

    def band_counts_after_move(self, moved: str, model) -> np.ndarray:  # noqa: ANN001
        i = self.names.index(moved)
        variants = self.variants[moved]
        variants[-1] = self.one(model.metrics[moved].score, moved)  # the Default profile's spec moved
        self.s[:, i] = np.choose(self.pidx, variants)
        present = ~np.isnan(self.s) & (self.w > 0)
        wp = np.where(present, self.w, 0.0)
        gs = wp @ self.member
        gt = (gs > 0) @ self.group_w
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(gs > 0, self.group_w / gt[:, None] / gs, 0.0)  # per group: weight per unit
        eff = share @ self.member.T * wp
        total = np.nansum(eff * self.s, axis=1)
        score = np.where(present.any(axis=1), np.round(total, 6), np.nan)
        band = np.select([np.isnan(score), score <= model.bands.red, score <= model.bands.yellow], [3, 0, 1], 2)
        return np.bincount(self.date_code * 4 + band, minlength=len(self.dates) * 4).reshape(-1, 4)


def pandas_apply_seconds(df: pd.DataFrame, model, sample_rows: int) -> float:  # noqa: ANN001
    """Per-row ``DataFrame.apply`` on a subsample (percentiles precomputed), extrapolated to all rows."""
    from lib.engine.model import Categories, Linear, Steps

    sub = df.sample(n=min(sample_rows, len(df)), random_state=1)
    pct = {m: sub.groupby("snapshot_date")[m].rank(pct=True) * 100 for m, x in model.metrics.items()
           if not isinstance(x.score, Linear | Steps | Categories)}
    sub = sub.assign(**{f"__pct_{m}": v for m, v in pct.items()})

    def row_score(r: pd.Series) -> float:
        total = weight = 0.0
        for m, metric in model.metrics.items():
            v, spec = r[m], metric.score
            if isinstance(spec, Linear):
                s = None if pd.isna(v) else min(max((v - spec.red) / (spec.green - spec.red), 0), 1) * 100
            elif isinstance(spec, Steps):
                s = None if pd.isna(v) else next((p for c, p in zip(spec.cuts, spec.points, strict=False) if v < c),
                                                 spec.points[-1])
            elif isinstance(spec, Categories):
                s = None if pd.isna(v) else spec.lookup().get(str(v).strip().lower())
            else:
                s = r[f"__pct_{m}"]
                s = None if pd.isna(s) else s
            if s is not None:
                total += metric.weight * s
                weight += metric.weight
        return total / weight if weight else float("nan")

    t0 = time.perf_counter()
    sub.apply(row_score, axis=1)
    return (time.perf_counter() - t0) * len(df) / len(sub)


def live_worker(args: argparse.Namespace) -> dict:
    from lib.data.sample import generate_portfolio
    from lib.engine.model import load_model, set_value
    from lib.engine.numpy_eval import LiveScorer
    from lib.engine.sql import score

    n_accounts, n_snapshots = (1000, 20) if args.quick else (10_000, 104)
    df = generate_portfolio(n_accounts=n_accounts, n_snapshots=n_snapshots, freq="W-MON")
    model = load_model(DEFAULT_MODEL)
    rows = len(df)

    t0 = time.perf_counter()
    live = LiveScorer(df, model)
    live.band_counts(model)
    first = time.perf_counter() - t0
    reds = iter(np.linspace(1.0, 4.0, 4 * args.runs + 8))  # a new value every move: nothing cached for it
    weights = iter(range(11, 11 + 4 * args.runs + 8))

    def threshold_move() -> None:
        live.band_counts(set_value(model, "metrics.logins_per_user.score.red", float(next(reds))))

    def weight_move() -> None:
        live.band_counts(set_value(model, "metrics.open_tickets.weight", int(next(weights))))

    threshold_move()  # warm-up (first call of the moved metric's code path)
    move_median, move_all = timed(threshold_move, args.runs)
    weight_median, _ = timed(weight_move, args.runs)

    ref = HandWrittenNumpy(df, model)
    ref_reds = iter(np.linspace(1.0, 4.0, 4 * args.runs + 8))

    def ref_move() -> None:
        ref.band_counts_after_move("logins_per_user",
                                   set_value(model, "metrics.logins_per_user.score.red", float(next(ref_reds))))

    ref_move()
    ref_median, _ = timed(ref_move, args.runs)
    check = set_value(model, "metrics.logins_per_user.score.red", 2.75)
    agree = bool((live.band_counts(check).to_numpy() == ref.band_counts_after_move("logins_per_user", check)).all())

    rescore_median, _ = timed(lambda: live.rescore(model), max(3, args.runs // 2))
    duckdb_median, _ = timed(lambda: score(model, df), 3)
    apply_seconds = pandas_apply_seconds(df, model, 2_000 if args.quick else 20_000)
    return {
        "case": "live", "rows": rows, "accounts": n_accounts, "snapshots": n_snapshots,
        "first_score_s": first, "move_median_s": move_median, "move_all_s": move_all,
        "weight_move_median_s": weight_median, "reference_median_s": ref_median,
        "ratio_vs_reference": move_median / ref_median, "counts_agree_with_reference": agree,
        "rescore_full_median_s": rescore_median, "duckdb_score_median_s": duckdb_median,
        "pandas_apply_extrapolated_s": apply_seconds, "move_rows_per_s": rows / move_median,
        "duckdb_rows_per_s": rows / duckdb_median, "peak_rss_mb": peak_rss_mb(), "load": os.getloadavg()[0],
    }


# ---------------------------------------------------------------------------------------------- (b) parquet


def write_big_parquet(path: Path, n_accounts: int, n_snapshots: int, chunk_accounts: int = 100_000) -> None:
    """A synthetic portfolio with the default model's columns, written chunk by chunk (vectorised)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    dates = pd.date_range("2025-01-01", periods=n_snapshots, freq="MS").to_numpy()
    sizes, stages = np.array(["SMB", "Mid-market", "Enterprise"]), np.array(["Onboarding", "Adoption", "Mature",
                                                                              "Renewal"])
    moods = np.array(["green", "yellow", "red"], dtype=object)
    tmp = path.with_suffix(".partial")
    writer = None
    for start in range(0, n_accounts, chunk_accounts):
        n = min(chunk_accounts, n_accounts - start)
        ids = np.char.add("ACC-", np.char.zfill(np.arange(start, start + n).astype(str), 7))
        health = rng.normal(0, 1, n)[:, None] + rng.normal(0, 0.4, (n, n_snapshots))
        rows = n * n_snapshots
        nps = np.clip(np.round(7 + 1.5 * health + rng.normal(0, 1.2, health.shape)), 0, 10)
        table = pa.table({
            "account_id": np.repeat(ids, n_snapshots),
            "snapshot_date": np.tile(dates, n),
            "size": np.repeat(sizes[rng.integers(0, 3, n)], n_snapshots),
            "stage": stages[np.minimum(np.arange(n_snapshots)[None, :] // 3 + rng.integers(0, 2, (n, 1)), 3)].ravel(),
            "logins_per_user": np.clip(5 + 2.5 * health + rng.normal(0, 1, health.shape), 0, None).ravel(),
            "feature_adoption_pct": np.clip(40 + 15 * health + rng.normal(0, 8, health.shape), 0, 100).ravel(),
            "open_tickets": rng.poisson(np.exp(1 - 0.6 * health)).astype(float).ravel(),
            "nps": np.where(rng.random(health.shape) < 0.35, nps, np.nan).ravel(),
            "csm_sentiment": moods[np.digitize(-health + rng.normal(0, 0.5, health.shape), [-0.5, 0.8])].ravel(),
            "invoice_days_late": np.where(rng.random(rows) < 0.8, 0.0, rng.exponential(20, rows)),
        })
        writer = writer or pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table)
    writer.close()
    tmp.rename(path)


CLI_COLUMNS = ["account_id", "snapshot_date", "score", "band", "grade", "change"]  # + each metric's score
# Two window metrics on one column, as in the trends issue: its 3-snapshot level and its change over them.
WINDOW_METRICS = {
    "logins_level": {"column": "logins_per_user", "window": {"snapshots": 3, "stat": "mean"}, "weight": 15,
                     "group": "Engagement", "score": {"method": "linear", "red": 2, "green": 10}},
    "logins_trend": {"column": "logins_per_user", "window": {"snapshots": 3, "stat": "pct_change"}, "weight": 10,
                     "group": "Engagement", "score": {"method": "linear", "red": -40, "green": 0}},
}


def bench_model(windows: bool):  # noqa: ANN201 - a lib.engine.model.Model
    """The default model, with :data:`WINDOW_METRICS` added when ``windows``."""
    from lib.engine.model import load_model, model_from_dict, model_to_dict

    model = load_model(DEFAULT_MODEL)
    if not windows:
        return model
    d = model_to_dict(model)
    return model_from_dict({**d, "metrics": {**d["metrics"], **WINDOW_METRICS}})


def pyarrow_copy(source: Path, target: Path, width: int) -> None:
    """The reference for the numpy engine: pyarrow reading the same rows and writing a file of ``width``
    columns (ids, then a metric column repeated) in the same row groups, with no scoring at all."""
    import pyarrow.parquet as pq

    from lib.engine.parquet_files import CHUNK_ROWS

    table = pq.read_table(source, columns=["account_id", "snapshot_date", "logins_per_user"])
    wide = table.select(["account_id", "snapshot_date"])
    for i in range(width - 2):
        wide = wide.append_column(f"c{i}", table.column("logins_per_user"))
    with pq.ParquetWriter(target, wide.schema, use_dictionary=["account_id"], store_schema=False) as writer:
        writer.write_table(wide, row_group_size=CHUNK_ROWS)


def parquet_worker(args: argparse.Namespace) -> dict:
    """Score the big file as ``lib.cli score big.parquet --out x.parquet [--full]`` does (file to file, rows in
    the file's order), then, in the same process, a reference that reads and writes as much with no scoring:
    pyarrow for the numpy engine, DuckDB for the SQL one."""
    import pyarrow.parquet as pq

    from lib.engine.sql import score_file
    from lib.engine.sqlutil import connect, quote_literal

    source, target = Path(args.input), OUT / f"scored_{args.engine}.parquet"
    model = bench_model(args.windows)
    columns = None if args.full else [*CLI_COLUMNS, *(f"{m}_score" for m in model.metrics)]
    t0, c0 = time.perf_counter(), cpu_seconds()
    rows = score_file(model, source, target, columns=columns, ordered=args.sorted, memory_limit=args.memory_limit,
                      engine=args.engine)
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    peak = peak_rss_mb()
    width = len(pq.read_schema(target).names)
    copied = OUT / "copied.parquet"
    t1 = time.perf_counter()
    if args.engine == "numpy":
        pyarrow_copy(source, copied, width)
    else:
        copies = ", ".join(f"logins_per_user * {i} AS c{i}" for i in range(width - 2))
        connect(memory_limit=args.memory_limit).execute(
            f"COPY (SELECT account_id, snapshot_date, {copies} FROM read_parquet({quote_literal(source)})) "
            f"TO {quote_literal(copied)} (FORMAT parquet)")
    reference = time.perf_counter() - t1
    return {"case": "parquet", "engine": args.engine, "rows": rows, "seconds": seconds, "cpu_seconds": cpu,
            "rows_per_s": rows / seconds, "peak_rss_mb": peak, "load": os.getloadavg()[0], "ordered": args.sorted,
            "columns": width, "reference_seconds": reference, "windows": args.windows}


def report_parquet(runs: list[dict], n_accounts: int, memory_limit: str) -> None:
    """Print one parquet configuration's medians over its runs."""
    secs = [r["seconds"] for r in runs]
    rss = [r["peak_rss_mb"] for r in runs]
    engine = runs[0]["engine"]
    how = "numpy, lib.engine.parquet_files" if engine == "numpy" else f"SQL in DuckDB, memory_limit {memory_limit}"
    order = "by snapshot date" if engine == "numpy" else "in no particular order"
    what = " + two window metrics" if runs[0]["windows"] else ""
    print(f"(b) Parquet → Parquet ({how}{what}): {runs[0]['rows']:,} rows ({n_accounts:,} accounts × 12 monthly), "
          f"{runs[0]['columns']} columns out, rows {'by account and date' if runs[0]['ordered'] else order}")
    print(f"    median {statistics.median(secs):.1f} s (runs: {', '.join(f'{s:.1f}' for s in secs)} s) — "
          f"{runs[0]['rows'] / statistics.median(secs) / 1e6:.2f} M rows/s; peak RSS max {max(rss):.0f} MB "
          f"(runs: {', '.join(f'{m:.0f}' for m in rss)} MB)")
    loads = ", ".join(f"{r['load']:.1f}" for r in runs)
    print(f"    CPU time median {statistics.median(r['cpu_seconds'] for r in runs):.1f} s; "
          f"machine load average per run: {loads}")
    refs = [r["reference_seconds"] for r in runs]
    print(f"    reference, same process: {'pyarrow' if engine == 'numpy' else 'DuckDB'} copying the rows to "
          f"{runs[0]['columns']} columns with no scoring, median {statistics.median(refs):.1f} s — "
          f"ratio score / copy = {statistics.median(secs) / statistics.median(refs):.2f}")


# ---------------------------------------------------------------------------------------------- driver


def run_worker(*extra: str) -> dict:
    """Run one case in a fresh interpreter; its last stdout line is the JSON result."""
    cmd = [sys.executable, "-m", "bench.bench_scoring", *extra]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench worker failed ({' '.join(extra)}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("all", "live", "parquet"), default="all")
    parser.add_argument("--runs", type=int, default=7, help="timed repetitions (the parquet case uses 3+)")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit for the parquet case")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the script")
    parser.add_argument("--worker", choices=("live", "parquet"), help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--sorted", action="store_true",
                        help="parquet case: sort the output by account and date (the CLI does for CSV, not Parquet)")
    parser.add_argument("--with-sql", action="store_true",
                        help="parquet case: also time the compiled SQL in DuckDB (about 45 s a run)")
    parser.add_argument("--engine", choices=("numpy", "sql"), default="numpy", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--windows", action="store_true",
                        help="parquet case: the default model without and with two window metrics, runs alternating")
    args = parser.parse_args(argv)

    if args.worker == "live":
        print(json.dumps(live_worker(args)))
        return
    if args.worker == "parquet":
        print(json.dumps(parquet_worker(args)))
        return

    OUT.mkdir(parents=True, exist_ok=True)
    common = ["--runs", str(args.runs)] + (["--quick"] if args.quick else [])
    if args.case in ("all", "live"):
        r = run_worker("--worker", "live", *common)
        print(f"(a) slider loop on {r['rows']:,} rows ({r['accounts']:,} accounts × {r['snapshots']} weekly "
              f"snapshots, default model)")
        print(f"    first score (prepare + cache): {r['first_score_s']:.2f} s")
        print(f"    one threshold move + band counts: median {r['move_median_s'] * 1000:.0f} ms "
              f"(runs: {', '.join(f'{t * 1000:.0f}' for t in r['move_all_s'])} ms) — "
              f"{r['move_rows_per_s'] / 1e6:.1f} M rows/s")
        print(f"    one weight move + band counts:    median {r['weight_move_median_s'] * 1000:.0f} ms")
        print(f"    hand-written numpy reference:     median {r['reference_median_s'] * 1000:.0f} ms — "
              f"ratio LiveScorer / reference = {r['ratio_vs_reference']:.2f} "
              f"(counts agree: {r['counts_agree_with_reference']})")
        print(f"    full numpy rescore (all columns): median {r['rescore_full_median_s']:.2f} s")
        print(f"    full DuckDB score():              median {r['duckdb_score_median_s']:.2f} s — "
              f"{r['duckdb_rows_per_s'] / 1e6:.2f} M rows/s")
        print(f"    per-row pandas apply (extrapolated): {r['pandas_apply_extrapolated_s']:.1f} s")
        print(f"    peak RSS: {r['peak_rss_mb']:.0f} MB; machine load average at the end: {r['load']:.1f}")
    if args.case in ("all", "parquet"):
        n_accounts = 20_000 if args.quick else 1_000_000
        source = OUT / f"portfolio_{n_accounts}x12.parquet"
        if not source.exists():
            t0 = time.perf_counter()
            write_big_parquet(source, n_accounts, 12)
            print(f"(b) wrote {source.relative_to(ROOT)} in {time.perf_counter() - t0:.1f} s")
        def worker(engine: str, full: bool, windows: bool = False) -> dict:
            return run_worker("--worker", "parquet", "--input", str(source), "--memory-limit", args.memory_limit,
                              "--engine", engine, *(["--full"] if full else []), *(["--sorted"] if args.sorted else []),
                              *(["--windows"] if windows else []))

        n_runs = max(3, args.runs if args.windows else min(args.runs, 3))
        if args.windows:  # alternating, so both see the same machine load
            pairs = [(worker("numpy", False), worker("numpy", False, windows=True)) for _ in range(n_runs)]
            for k in (0, 1):
                report_parquet([p[k] for p in pairs], n_accounts, args.memory_limit)
            ratios = [w["seconds"] / b["seconds"] for b, w in pairs]
            print(f"    with / without windows, per pair: median {statistics.median(ratios):.2f} "
                  f"(pairs: {', '.join(f'{r:.2f}' for r in ratios)})")
            return
        configs = [("numpy", False), ("numpy", True)] + ([("sql", True)] if args.with_sql else [])
        for engine, full in configs:
            report_parquet([worker(engine, full) for _ in range(n_runs)], n_accounts, args.memory_limit)


if __name__ == "__main__":
    main()
