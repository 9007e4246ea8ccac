"""Score with Apache Spark: the model's one compiled query, transpiled to Spark SQL, run on a SparkSession.

For portfolios that outgrow one machine (``python -m lib.cli score … --engine spark [--master URL]``). The
query is :func:`lib.engine.sql.compile_sql` with ``layout="cluster"`` (no step partitioned by a key with few
values, so every stage spreads over as many tasks as the cluster has — see bench/README.md), transpiled by
:func:`lib.engine.sql.to_dialect`; nothing about scoring is written here. pyspark is optional
(requirements-spark.txt) and needs Java; without either, :class:`SparkUnavailable` names the fix.

Parquet timestamps written in nanoseconds (pandas' default) are refused by Spark, so they are read as
integers and turned into microseconds here (:func:`read_source`).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import sqlglot

from lib.engine.model import Model, ModelError
from lib.engine.plan import required_problems
from lib.engine.sql import compile_sql, prepare_frame, tidy, to_dialect
from lib.engine.sqlutil import quote_ident

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

PYSPARK_FIX = "pip install -r requirements-spark.txt (pyspark 4.0.1)"
JAVA_FIX = "install Java 17 (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME to a Java 17 home"
# A table name as a catalog knows it (db.table); anything else is a path.
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".orc": "orc", ".json": "json", ".avro": "avro"}


class SparkUnavailable(Exception):
    """pyspark or Java is missing; the message names the fix."""


def spark_problem() -> str | None:
    """Why Spark cannot run here (with the fix), or None when pyspark and Java are both present."""
    try:
        import pyspark  # noqa: F401 - only whether it imports
    except ImportError:
        return f"--engine spark needs pyspark, which is not installed — {PYSPARK_FIX}"
    home = os.environ.get("JAVA_HOME")
    if not (home and Path(home, "bin", "java").exists()) and shutil.which("java") is None:
        return f"--engine spark needs Java, which was not found — {JAVA_FIX}"
    return None


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """A SparkSession set up for scoring: UTC session time zone (dates stay the dates written), Arrow for
    pandas hand-overs, nanosecond Parquet timestamps readable.

    Args:
        master: a master URL (``local[2]``, ``spark://host:7077``, ``yarn``, ``k8s://…``). Default: the one
            ``spark-submit`` was given, else ``local[*]``.
        conf: further Spark settings (e.g. for tests on tiny tables: few shuffle partitions, no code
            generation).

    Raises:
        SparkUnavailable: pyspark or Java is missing.
    """
    problem = spark_problem()
    if problem:
        raise SparkUnavailable(problem)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("Health Score Studio")
    if master is not None:
        builder = builder.master(master)
    elif "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit, which sets its own --master
        builder = builder.master("local[*]")
    settings = {"spark.sql.session.timeZone": "UTC", "spark.sql.execution.arrow.pyspark.enabled": "true",
                "spark.sql.legacy.parquet.nanosAsLong": "true", "spark.ui.showConsoleProgress": "false",
                "spark.ui.enabled": "false"}
    for key, value in {**settings, **(conf or {})}.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM did not start: say what to check, not a Java trace
        raise SparkUnavailable(f"Spark did not start ({type(exc).__name__}: {str(exc).splitlines()[0]}) — "
                               f"check the master URL and {JAVA_FIX}") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def read_source(spark: SparkSession, source: str | Path | pd.DataFrame) -> DataFrame:
    """The portfolio as a Spark DataFrame: a pandas DataFrame (e.g. from :mod:`lib.data.ingest`), a path Spark can
    read (local, ``s3a://``, ``hdfs://``; Parquet unless the suffix says ORC, JSON or Avro), or a table name.

    A ``snapshot_date`` stored as nanoseconds (read as an integer, see :func:`spark_session`) becomes a
    timestamp in microseconds.
    """
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention
    from pyspark.sql import types as T  # noqa: N812

    if isinstance(source, pd.DataFrame):
        table = pa.Table.from_pandas(source, preserve_index=False)
        # Spark takes timestamps in microseconds only.
        table = table.cast(pa.schema([pa.field(f.name, pa.timestamp("us")) if pa.types.is_timestamp(f.type)
                                      else f for f in table.schema]))
        df = spark.createDataFrame(table.to_pandas())
    else:
        from pyspark.errors import AnalysisException

        text = str(source)
        local = Path(text)
        try:
            if "://" not in text and not local.exists() and _TABLE_NAME.fullmatch(text):
                df = spark.table(text)
            else:
                df = spark.read.format(_FORMATS.get(local.suffix.lower(), "parquet")).load(text)
        except AnalysisException as exc:  # no such path or table, or not in that format
            raise ValueError(f"{text}: Spark cannot read it ({str(exc).splitlines()[0]})") from None
    if "snapshot_date" in df.columns and isinstance(df.schema["snapshot_date"].dataType, T.LongType):
        df = df.withColumn("snapshot_date", F.timestamp_micros(F.floor(F.col("snapshot_date") / 1000)))
    return df


def spark_query(model: Model, df: DataFrame, view: str) -> str:
    """The model's query in Spark SQL over the temporary view ``view`` of ``df`` (numeric columns known
    from ``df``'s schema; everything else read by the text rules)."""
    from pyspark.sql import types as T  # noqa: N812

    numeric = [f.name for f in df.schema.fields if isinstance(f.dataType, T.NumericType | T.BooleanType)]
    query = compile_sql(model, quote_ident(view), ordered=False, numeric=numeric, layout="cluster")
    return _shared(to_dialect(query, "spark"))


def _shared(query: str) -> str:
    """``query`` with each CTE that is read more than once kept as one shared relation.

    Spark inlines a deterministic CTE at every place it is read (its ``InlineCTE`` rule has no switch), so
    the cluster layout's self-joins — peer aggregates joined back to the rows they came from, rank in band's
    slice counts joined back to the scored rows — would have Catalyst optimise the plan below them once per
    read: on the 14-metric window-statistics test model it ran out of a 2 GB heap. A column Spark cannot
    call deterministic (``RAND()``, never read) keeps such a CTE one relation, computed once; no score moves.
    """
    tree = sqlglot.parse_one(query, read="spark")
    reads = Counter(table.name for table in tree.find_all(sqlglot.exp.Table))
    for cte in tree.find_all(sqlglot.exp.CTE):
        if reads[cte.alias] > 1:
            cte.this.select(f"RAND() AS hs_shared_{cte.alias}", dialect="spark", copy=False)
    return tree.sql(dialect="spark", pretty=True)


def score_spark(model: Model, source: str | Path | pd.DataFrame, spark: SparkSession) -> DataFrame:
    """Score a portfolio on Spark (lazily: nothing runs until the result is written or collected).

    Args:
        model: a validated model.
        source: see :func:`read_source`. A pandas DataFrame is first read as :func:`lib.engine.sql.score` reads
            it (only the model's columns; numbers as numbers).
        spark: from :func:`spark_session`.

    Returns:
        The columns :func:`lib.engine.sql.score` returns, with its types (``rank_in_band`` BIGINT,
        ``snapshot_date`` a timestamp), in no particular order.

    Raises:
        ModelError: when the source lacks account_id, snapshot_date, or a column the model reads.
    """
    if isinstance(source, pd.DataFrame):
        source = prepare_frame(model, source)
    df = read_source(spark, source)
    problems = required_problems(model, df.columns)
    if problems:
        raise ModelError(problems, source="data" if isinstance(source, pd.DataFrame) else str(source))
    view = f"hs_input_{uuid.uuid4().hex}"
    df.createOrReplaceTempView(view)
    result = spark.sql(spark_query(model, df, view))
    return result.withColumn("rank_in_band", result["rank_in_band"].cast("bigint"))


def to_pandas(result: DataFrame) -> pd.DataFrame:
    """A Spark result as :func:`lib.engine.sql.score` returns it: sorted by account_id and date, same dtypes."""
    frame = result.toPandas().sort_values(["account_id", "snapshot_date"], ignore_index=True)
    return tidy(frame)


def write_spark(result: DataFrame, out: str | Path, columns: list[str] | None = None) -> int:
    """Write a Spark result as Parquet partitioned by snapshot date (``OUT/snapshot_date=YYYY-MM-DD/``; read
    back, the date is a DATE), replacing ``out``. Returns the number of rows written."""
    from pyspark.sql import functions as F  # noqa: N812

    if columns is not None:
        result = result.select(*columns)
    result = result.withColumn("snapshot_date", F.to_date("snapshot_date"))
    result.write.mode("overwrite").partitionBy("snapshot_date").parquet(str(out))
    return result.sparkSession.read.parquet(str(out)).count()


__all__ = ["JAVA_FIX", "PYSPARK_FIX", "SparkUnavailable", "read_source", "score_spark", "spark_problem",
           "spark_query", "spark_session", "to_pandas", "write_spark"]
