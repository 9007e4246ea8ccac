"""The scoring engine: the model file, the plan both paths share, and its executions (DuckDB SQL, numpy,
Parquet files, Apache Spark). Everything a health score *is* lives here; nothing above re-implements it.
"""
