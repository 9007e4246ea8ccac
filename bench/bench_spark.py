"""Spark benchmark — figures, not assertions. Run: ``.venv/bin/python -m bench.bench_spark`` (needs
requirements-spark.txt and Java 17).

The same model scored from the same Parquet file (1,000,000 accounts × 12 monthly snapshots by default,
``bench.bench_scoring.write_big_parquet``: nanosecond timestamps and real NaN, as pandas/pyarrow write them)
by the default engine (``lib.engine.sql.score_file``, as ``lib.cli score big.parquet --out x.parquet`` runs it) and
by Spark (``lib.engine.spark``, as ``--engine spark --master local[2]`` runs it: a Parquet folder partitioned by
snapshot date). Each run is a subprocess of its own, so its peak memory is its own: for Spark, the driver's
peak RSS plus the JVM's (``VmHWM``). For Spark, the tasks of each stage (``StatusTracker``) show how far each
step of the plan spreads over a cluster.

Options: ``--accounts N`` ``--snapshots N`` ``--runs N`` ``--master URL`` ``--quick`` (small, to check the script).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.bench_scoring import DEFAULT_MODEL, OUT, peak_rss_mb, write_big_parquet


def _vm_hwm_mb(pid: int) -> float:
    """Peak resident memory of a live process, in MB (Linux ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def spark_worker(source: Path, master: str) -> dict:
    """Score ``source`` on Spark into a partitioned Parquet folder; wall time, memory, tasks per stage."""
    from lib.engine.model import load_model
    from lib.engine.spark import score_spark, spark_session, write_spark

    model = load_model(DEFAULT_MODEL)
    t0 = time.perf_counter()
    spark = spark_session(master, conf={"spark.driver.memory": "2g"})
    started = time.perf_counter() - t0
    sc = spark.sparkContext
    sc.setJobGroup("score", "score the portfolio")
    t1 = time.perf_counter()
    columns = ["account_id", "snapshot_date", "score", "band", "grade", "change",
               *(f"{m}_score" for m in model.metrics)]
    result = score_spark(model, source, spark)
    rows = write_spark(result, OUT / "spark_scores.parquet", columns)
    seconds = time.perf_counter() - t1
    # The shuffles' partition keys in the initial plan: what bounds each stage's parallelism on a cluster
    # (bench/README.md); adaptive execution may still turn a join into a broadcast once it sees the sizes.
    plan = result._jdf.queryExecution().executedPlan().toString()  # noqa: SLF001 - no public accessor
    # keys without Spark's expression ids (hs_band#343 → hs_band), so each distinct shuffle is listed once
    exchanges = sorted({re.sub(r"#\d+L?", "", keys) for keys in re.findall(r"hashpartitioning\((.+?), \d+\)", plan)})
    tracker = sc.statusTracker()
    stages = []
    for job in sorted(tracker.getJobIdsForGroup("score")):
        for stage in sorted(tracker.getJobInfo(job).stageIds):
            info = tracker.getStageInfo(stage)
            if info is not None and info.numCompletedTasks:  # skipped stages (reused shuffles) ran no task
                stages.append({"job": job, "stage": stage, "tasks": info.numTasks, "name": info.name})
    jvm = _vm_hwm_mb(sc._gateway.proc.pid)  # noqa: SLF001 - the JVM pyspark launched
    spark.stop()
    return {"engine": "spark", "rows": rows, "seconds": seconds, "session_start_s": started,
            "peak_mb": peak_rss_mb() + jvm, "jvm_peak_mb": jvm, "stages": stages, "exchanges": exchanges}


def default_worker(source: Path) -> dict:
    """Score ``source`` as the CLI does by default (numpy, file to file)."""
    from lib.engine.model import load_model
    from lib.engine.sql import score_file

    model = load_model(DEFAULT_MODEL)
    columns = ["account_id", "snapshot_date", "score", "band", "grade", "change",
               *(f"{m}_score" for m in model.metrics)]
    t0 = time.perf_counter()
    rows = score_file(model, source, OUT / "default_scores.parquet", columns=columns)
    return {"engine": "default", "rows": rows, "seconds": time.perf_counter() - t0, "peak_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--snapshots", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--quick", action="store_true", help="1,000 accounts × 3 snapshots, one run")
    parser.add_argument("--worker", choices=("spark", "default"), help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        source = Path(args.source)
        result = spark_worker(source, args.master) if args.worker == "spark" else default_worker(source)
        print(json.dumps(result))
        return
    if args.quick:
        args.accounts, args.snapshots, args.runs = 1_000, 3, 1
    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / f"spark_bench_{args.accounts}x{args.snapshots}.parquet"
    if not source.exists():
        write_big_parquet(source, args.accounts, args.snapshots)
    results: dict[str, list[dict]] = {"default": [], "spark": []}
    for _ in range(args.runs):  # alternating, so a busy spell on the shared machine hits both
        for engine in results:
            out = subprocess.run([sys.executable, "-m", "bench.bench_spark", "--worker", engine, "--source",
                                  str(source), "--master", args.master], capture_output=True, text=True, check=True)
            results[engine].append(json.loads(out.stdout.strip().splitlines()[-1]))
            run = results[engine][-1]
            print(f"  run {len(results[engine])} {engine:8s} {run['seconds']:7.1f} s  peak {run['peak_mb']:6.0f} MB  "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"{args.accounts:,} accounts × {args.snapshots} snapshots, Spark master {args.master}, {args.runs} runs")
    for engine, runs in results.items():
        print(f"  {engine:8s} median {statistics.median(r['seconds'] for r in runs):7.1f} s   "
              f"peak {statistics.median(r['peak_mb'] for r in runs):7.0f} MB   "
              f"(all: {', '.join(format(r['seconds'], '.1f') for r in runs)} s)")
    last = results["spark"][-1]
    print(f"  Spark session start {last['session_start_s']:.1f} s, JVM peak {last['jvm_peak_mb']:.0f} MB")
    print("  Spark stages (last run): tasks per stage")
    for s in last["stages"]:
        print(f"    job {s['job']:3d} stage {s['stage']:3d}: {s['tasks']:5d} tasks  {s['name'][:70]}")
    print("  Shuffles (hash partitioning keys, partitions):")
    for keys in last["exchanges"]:
        print(f"    {keys}")


if __name__ == "__main__":
    main()
