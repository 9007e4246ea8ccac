"""Data in and kept: reading files as people write them, the column-role mapping, the sample portfolio,
and the DuckDB workspace that stores datasets, model versions, labels, notes and plays.
"""
