"""What both scoring paths share: the plan derived from a model, and how input values are read.

:func:`lib.engine.sql.compile_sql` turns a :class:`Plan` into one SQL query; :mod:`lib.engine.numpy_eval` evaluates the
same plan with numpy (the Tune page's slider loop, file-to-file scoring). The reading rules below are what
the SQL's ``TRY_CAST`` / ``CAST(x AS VARCHAR)`` do, so the two paths see the same values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.engine.model import BAND_NAMES, TRIM_CHARACTERS, Categories, Model, Problem, ScoreSpec, Window, check_columns

BANDS = (*BAND_NAMES, "no data")  # a band code is an index into it: 0 red … 3 no data
ID_COLUMNS = ("account_id", "snapshot_date")
SCORE_DECIMALS = 6
RATIO_DECIMALS = 9
#: A number held as text, once :data:`~lib.engine.model.TRIM_CHARACTERS` are stripped: plain decimal notation with an
#: optional exponent. Anything else ('1_000', '1.5d', '0x10', 'inf', 'nan', '1,5') is missing on every engine —
#: each engine's own text-to-number cast accepts a different set. ASCII digits only, so every regex flavour
#: (RE2, Java, POSIX) reads it alike.
NUMBER_PATTERN = "[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?"
#: Larger magnitudes (and ±inf, NaN) count as missing.
FINITE_LIMIT = 1e308


def round_half_away(x: np.ndarray, decimals: int) -> np.ndarray:
    """Round like DuckDB's ``ROUND(double, d)``: ``std::round(x * 10^d) / 10^d`` (half away from zero).

    Exact: ``|y - trunc(y)|`` has no rounding error. In place on two arrays, as it runs on every row.
    """
    modifier = 10.0**decimals
    y = np.multiply(x, modifier)
    t = np.trunc(y)
    frac = np.abs(np.subtract(y, t, out=y), out=y)
    # trunc keeps the sign (-0.0 for -0.5 < y < 0), so copysign(1, t) is the sign of y.
    t += np.copysign(frac >= 0.5, t)
    t /= modifier
    return t


@dataclass(frozen=True)
class MetricPlan:
    """One metric as both paths evaluate it."""

    name: str
    variants: tuple[ScoreSpec, ...]  # distinct specs; index 0 is the base spec
    variant_of_profile: tuple[int, ...]  # per profile in match order (Default last) → variant index
    group: int  # index into Plan.group_weights
    column: str  # the data column it reads
    window: Window | None  # scored: the column's statistic over recent snapshots instead of its value

    @property
    def source(self) -> tuple[str, Window | None]:
        """What the metric's values are: metrics with the same source share them (and their scores)."""
        return self.column, self.window


class Plan:
    """Everything both execution paths need, derived once from a model."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.profile_names = model.profile_names
        self.whens = tuple(p.when for p in model.profiles)
        self.metrics: list[MetricPlan] = []
        group_names = list(model.groups) if model.groups else [None]
        self.group_weights = tuple(float(model.groups[g]) for g in group_names) if model.groups else (1.0,)
        for name, metric in model.metrics.items():
            variants: list[ScoreSpec] = [metric.score]
            of_profile = []
            for pname in self.profile_names:
                spec = model.spec_for(pname, name)
                if spec not in variants:
                    variants.append(spec)
                of_profile.append(variants.index(spec))
            group = group_names.index(metric.group) if model.groups else 0
            self.metrics.append(MetricPlan(name, tuple(variants), tuple(of_profile), group, metric.column,
                                           metric.window))
        # Raw relative weights: profiles (match order) × metrics.
        self.weights = np.array([[model.weights_for(p)[m.name] for m in self.metrics] for p in self.profile_names],
                                dtype=float)
        self.segments = model.segment_columns()

    def group_members(self) -> list[list[int]]:
        """Per group, the indexes of its metrics."""
        return [[i for i, m in enumerate(self.metrics) if m.group == g] for g in range(len(self.group_weights))]


def needs_numeric(spec: ScoreSpec) -> bool:
    """Whether a spec reads its column as a number (every method but categories)."""
    return not isinstance(spec, Categories)


def to_number(raw: pd.Series) -> np.ndarray:
    """Numeric values as scored: text that is not a number (:data:`NUMBER_PATTERN`), and non-finite or absurd
    values → NaN."""
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
        x = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        text = pd.Series(to_text(raw), index=raw.index, dtype=object).str.strip(TRIM_CHARACTERS)
        text = text.where(text.str.fullmatch(NUMBER_PATTERN) == True)  # noqa: E712 - None (missing) is not a match
        x = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(x) <= FINITE_LIMIT, x, np.nan)


def to_text(raw: pd.Series) -> np.ndarray:
    """Values as SQL ``CAST(x AS VARCHAR)`` sees them (None for missing)."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        text = raw.map({True: "true", False: "false"}).to_numpy(dtype=object)
    else:
        text = raw.astype(str).to_numpy(dtype=object)
    text[raw.isna().to_numpy()] = None
    return text


def category_key(raw: pd.Series) -> np.ndarray:
    """Category text as matched: :func:`lib.engine.model.normalise_category` of each value (None for missing)."""
    s = pd.Series(to_text(raw), dtype=object)
    return s.str.strip(TRIM_CHARACTERS).str.lower().to_numpy(dtype=object)


def required_problems(model: Model, columns: list[str]) -> list[Problem]:
    """What the data lacks to be scored with ``model``: the id columns and the model's own columns."""
    problems = [Problem(c, f"the data has no '{c}' column", f"map one of the data's columns to the {c} role")
                for c in ID_COLUMNS if c not in columns]
    return problems + check_columns(model, columns)
