"""Each scoring method in one place: what the pages, charts and suggestions need to know about it.

The engine (``lib.engine.sql`` SQL, ``lib.engine.numpy_eval`` numpy) evaluates a spec; everything else asks the spec's
:class:`Method` — :func:`method_of` a spec, or :data:`BY_NAME` a method's name — instead of testing which
method it is: its name on screen and one-line rule (:meth:`Method.describe`), whether it reads numbers
(so it can score a window statistic), ranks within peers, has a direction and how to flip it, the thresholds
and zones a chart draws with the score the engine gives in each zone, the sliders that edit it and the scale
each slider moves on, and the spec a metric gets when switched to it. A new method is one more subclass here
(and its evaluation in the engine); ``tests/lib/test_method_homes.py`` counts what branches on methods
elsewhere.

The statistics a metric can score instead of its raw value (``lib.engine.model.Window``) are worded here too
(:func:`scored_choice`), for the pages that offer them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lib.engine.model import (
    METHODS,
    WINDOW_WORDS,
    Categories,
    Linear,
    Percentile,
    ScoreSpec,
    Steps,
    VsAverage,
    category_text,
    normalise_category,
    spec_from_dict,
)

MAX_CATEGORIES = 20  # a categorical metric with more distinct values than this is not a category list
VS_AVERAGE_CUTS = (0.8, 1.2)  # a new vs_average spec: 80 % and 120 % of the peer average
STEP_POINTS = (0, 50, 100)  # a new steps / vs_average spec's points, low to high values
RAW = "value"  # what a metric scores without a window: its value at the date
# Category words that say which way is good, for the points a new categories map proposes.
GOOD_WORDS = {"green", "good", "high", "positive", "healthy", "yes", "true", "happy", "great", "strong"}
MIDDLE_WORDS = {"yellow", "amber", "medium", "neutral", "ok", "okay", "average", "fair", "moderate"}
BAD_WORDS = {"red", "bad", "low", "negative", "struggling", "no", "false", "unhappy", "poor", "weak", "at risk"}


# ---------------------------------------------------------------------------------------------- pieces


@dataclass(frozen=True)
class Scale:
    """What a method's thresholds apply to: the metric's own values, or their ratio to the peer average."""

    name: str
    unit: str = ""  # after a threshold slider's label
    axis: str = ""  # after the histogram's axis title


VALUE = Scale("value")
RATIO = Scale("ratio", " × peer average", " (value ÷ peer average)")
POINTS = Scale("points")  # a step's or a category's points, 0–100


@dataclass(frozen=True)
class Zone:
    """An interval of a method's scale and the score the engine gives a value in it (linear's middle zone:
    at its midpoint, where the line gives 50)."""

    lo: float
    hi: float
    points: float


@dataclass(frozen=True)
class Line:
    """A threshold drawn over a metric's histogram: at ``x``; ``band`` and ``points`` for a line that marks
    where the score reaches a band's end (linear red → 0, green → 100); ``boundary`` for a cut between
    intervals (a value scores the upper interval from the cut on)."""

    x: float
    band: str | None = None
    points: float | None = None
    boundary: bool = False


@dataclass(frozen=True)
class Knob:
    """One slider that edits a spec: the key below the spec it sets (with ``item``, one entry of that list or
    map), its value, the scale it moves on, how its value becomes the key's, and ``subject``, data text the
    label names (escape it). ``inline`` knobs sit side by side."""

    label: str
    key: str
    value: float
    scale: Scale
    item: int | str | None = None
    convert: Callable[[float], Any] | None = None
    subject: str | None = None
    inline: bool = False

    @property
    def parts(self) -> tuple[str | int, ...]:
        """The knob's own key parts below the spec (``("cuts", 0)``), naming its control."""
        return (self.key,) if self.item is None else (self.key, self.item)


def replaced(values: Sequence[float], i: int, value: float) -> list[float]:
    """``values`` as a list with item ``i`` set to ``value`` (a list edit for one cut or point slider)."""
    out = list(values)
    out[i] = value
    return out


def nice_step(span: float, target_steps: int = 100) -> float:
    """The 1-2-5 × 10^k step closest above ``span / target_steps`` (1 for an empty span)."""
    if not (span > 0 and math.isfinite(span)):
        return 1.0
    raw = span / target_steps
    base = 10.0 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw * (1 - 1e-9))
    return float(f"{step:.12g}")


def finite(values: object) -> np.ndarray:
    """The finite numbers among ``values`` (text that is not a number, NaN and ±inf dropped)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return v[np.isfinite(v)]


def round2(x: float) -> float:
    """Two significant digits: thresholds a person would write (4.7, 120, 0.35)."""
    return float(f"{x:.2g}") if x != 0 else 0.0


def _n(x: float) -> str:
    return f"{x:g}"


def _each_distinct(values: pd.Series, func: Callable[[str], str]) -> pd.Series:
    """``func`` of each text value, called once per distinct value (a column holds few); missing stays None."""
    codes, uniques = pd.factorize(values)
    mapped = np.array([*(func(u) for u in uniques), None], dtype=object)  # code -1 (missing) takes the None
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def category_texts(values: pd.Series) -> pd.Series:
    """Text values as category matching reads them, spelling kept (:func:`lib.engine.model.category_text`)."""
    return _each_distinct(values, category_text)


def category_keys(values: pd.Series) -> pd.Series:
    """Text values as category matching compares them (:func:`lib.engine.model.normalise_category`)."""
    return _each_distinct(values, normalise_category)


def data_categories(values: object, limit: int = MAX_CATEGORIES) -> list[str]:
    """Distinct category texts in a column as written (first spelling of each, case/space-insensitive),
    most frequent first, at most ``limit``."""
    text = category_texts(pd.Series(values, dtype=object).dropna().astype(str))
    text = text[text != ""]
    if text.empty:
        return []
    keys = category_keys(text)
    counts = keys.value_counts(sort=True)
    first = pd.Series(text.to_numpy(), index=keys.to_numpy()).groupby(level=0).first()
    return [str(first[k]) for k in counts.index[:limit]]


def category_points(names: Sequence[str], numeric_order: bool, lower: bool) -> list[float]:
    """Points for proposed categories: known good/middle/bad words, else evenly spread over sorted numbers."""
    if numeric_order and len(names) > 1:
        pts = np.linspace(0, 100, len(names))
        return [float(round(p)) for p in (pts[::-1] if lower else pts)]
    out = []
    for name in names:
        key = normalise_category(name)
        out.append(100.0 if key in GOOD_WORDS else 0.0 if key in BAD_WORDS else 50.0)
    return out


def scored_choice(stat: str, raw: str = "Its value at the date") -> str:
    """What a metric scores, for a picker: ``raw`` for :data:`RAW`, else the window statistic ('Its % change over
    recent snapshots')."""
    return raw if stat == RAW else f"Its {WINDOW_WORDS[stat]} over recent snapshots"


# ---------------------------------------------------------------------------------------------- methods


class Method:
    """Everything about one scoring method but its evaluation (the engine's). Subclasses set the class
    attributes and override what differs."""

    name: ClassVar[str]
    title: ClassVar[str]  # the method on screen
    spec_class: ClassVar[type]
    numeric: ClassVar[bool] = True  # reads numbers, so it can score a window statistic; categories read text
    peers: ClassVar[bool] = False  # ranks or compares within peer groups (``within``)
    directed: ClassVar[bool] = True  # has a "lower is better" direction
    stepped: ClassVar[bool] = False  # cuts and points: it can gain or lose a step
    scale: ClassVar[Scale | None] = None  # what its thresholds apply to (None: it has none)

    def lower_is_better(self, spec: Any) -> bool:
        """Whether the spec scores low values high."""
        return bool(spec.lower_is_better)

    def reversed(self, spec: Any) -> dict[str, Any] | bool:
        """The edit that flips "lower is better": a spec dict, or the flag's new value (see :meth:`direction_key`)."""
        return not spec.lower_is_better

    def direction_key(self, spec: Any, key: tuple[str, ...]) -> tuple[str, ...]:
        """The model key (parts) :meth:`reversed`'s value goes to, for a spec at ``key``."""
        return (*key, "lower_is_better")

    def marks(self, spec: Any) -> tuple[float, ...]:
        """The spec's thresholds on its :attr:`scale`."""
        return ()

    def lines(self, spec: Any) -> list[Line]:
        """The thresholds a histogram of the spec's scale draws."""
        return []

    def zones(self, spec: Any, lo: float, hi: float) -> list[Zone]:
        """The spec's intervals over ``lo``–``hi`` (which hold every mark) with the engine's score in each."""
        return []

    def note(self, spec: Any) -> str | None:
        """What a histogram says when the method draws no thresholds."""
        return None

    def describe(self, spec: Any) -> str:
        """How the spec turns a raw value into points, in one line."""
        raise NotImplementedError

    def knobs(self, spec: Any) -> list[Knob]:
        """The sliders that edit the spec's thresholds and points, in page order."""
        return []

    def default(self, values: object, lower: bool, within: list[str]) -> dict[str, Any]:
        """A sensible spec (YAML dict) of this method for a metric's raw ``values``, with the direction and peer
        groups given (see :func:`lib.views.tuning.default_spec`). Raises ValueError saying what to do instead."""
        raise NotImplementedError


class _Stepped(Method):
    """Cuts and points: ``v < cuts[i]`` scores ``scored_points[i]`` for the first such i, else the last."""

    stepped = True

    def marks(self, spec: Any) -> tuple[float, ...]:
        return tuple(spec.cuts)

    def lines(self, spec: Any) -> list[Line]:
        return [Line(float(c), boundary=True) for c in spec.cuts]

    def zones(self, spec: Any, lo: float, hi: float) -> list[Zone]:
        bounds = [lo, *(float(c) for c in spec.cuts), hi]
        return [Zone(a, b, float(p)) for a, b, p in zip(bounds[:-1], bounds[1:], spec.scored_points, strict=True)]

    def knobs(self, spec: Any) -> list[Knob]:
        cuts = [Knob(f"Cut {i + 1}{self.scale.unit}", "cuts", c, self.scale, i,
                     lambda v, i=i: replaced(spec.cuts, i, v)) for i, c in enumerate(spec.cuts)]
        points = [Knob(f"Points {i + 1}", "points", p, POINTS, i, lambda v, i=i: replaced(spec.points, i, v),
                       inline=True) for i, p in enumerate(spec.points)]
        return cuts + points

    @staticmethod
    def steps_text(cuts: Sequence[float], points: Sequence[float], prefix: str = "") -> str:
        parts = [f"{prefix}< {_n(c)} → {_n(p)}" for c, p in zip(cuts, points, strict=False)]
        return " · ".join([*parts, f"else {_n(points[-1])}"])


class LinearMethod(Method):
    name, title, spec_class, scale = "linear", "Linear (red → green)", Linear, VALUE

    def lower_is_better(self, spec: Linear) -> bool:
        return spec.red > spec.green

    def reversed(self, spec: Linear) -> dict[str, Any]:
        return {"method": "linear", "red": spec.green, "green": spec.red}

    def direction_key(self, spec: Linear, key: tuple[str, ...]) -> tuple[str, ...]:
        return key

    def marks(self, spec: Linear) -> tuple[float, ...]:
        return (spec.red, spec.green)

    def lines(self, spec: Linear) -> list[Line]:
        return [Line(float(spec.red), "red", 0.0), Line(float(spec.green), "green", 100.0)]

    def zones(self, spec: Linear, lo: float, hi: float) -> list[Zone]:
        low = 100.0 if self.lower_is_better(spec) else 0.0
        a, b = sorted((float(spec.red), float(spec.green)))
        return [Zone(lo, a, low), Zone(a, b, 50.0), Zone(b, hi, 100.0 - low)]

    def describe(self, spec: Linear) -> str:
        lo, hi = sorted((spec.red, spec.green))
        low_points, high_points = (100, 0) if self.lower_is_better(spec) else (0, 100)
        return f"≤ {_n(lo)} → {low_points} · ≥ {_n(hi)} → {high_points} (straight line between)"

    def knobs(self, spec: Linear) -> list[Knob]:
        return [Knob("Red: scores 0 at", "red", spec.red, VALUE),
                Knob("Green: scores 100 at", "green", spec.green, VALUE)]

    def default(self, values: object, lower: bool, within: list[str]) -> dict[str, Any]:
        v = _numbers(values, self.name)
        red, green = round2(float(np.quantile(v, 0.1))), round2(float(np.quantile(v, 0.9)))
        if red == green:
            green = red + nice_step(max(abs(red), 1.0), 10)
        if lower:
            red, green = green, red
        return {"method": "linear", "red": red, "green": green}


class StepsMethod(_Stepped):
    name, title, spec_class, scale = "steps", "Steps", Steps, VALUE

    def lower_is_better(self, spec: Steps) -> bool:
        return spec.points[0] > spec.points[-1]

    def reversed(self, spec: Steps) -> dict[str, Any]:
        return {"method": "steps", "cuts": list(spec.cuts), "points": list(spec.points[::-1])}

    def direction_key(self, spec: Steps, key: tuple[str, ...]) -> tuple[str, ...]:
        return key

    def describe(self, spec: Steps) -> str:
        return self.steps_text(spec.cuts, spec.scored_points)

    def default(self, values: object, lower: bool, within: list[str]) -> dict[str, Any]:
        v = _numbers(values, self.name)
        cuts = sorted({round2(float(q)) for q in np.quantile(v, [1 / 3, 2 / 3])})
        points = list(STEP_POINTS) if len(cuts) == 2 else [0, 100]
        return {"method": "steps", "cuts": cuts, "points": points[::-1] if lower else points}


class CategoriesMethod(Method):
    name, title, spec_class = "categories", "Categories", Categories
    numeric = directed = False

    def lower_is_better(self, spec: Categories) -> bool:
        return False

    def reversed(self, spec: Categories) -> dict[str, Any]:
        raise ValueError("categories have no direction — set each category's points instead")

    def describe(self, spec: Categories) -> str:
        return " · ".join(f"{k} → {_n(v)}" for k, v in spec.map.items())

    def knobs(self, spec: Categories) -> list[Knob]:
        return [Knob("Points for", "map", pts, POINTS, cat, lambda v, c=cat: {**spec.map, c: v}, subject=cat)
                for cat, pts in spec.map.items()]

    def default(self, values: object, lower: bool, within: list[str]) -> dict[str, Any]:
        names = data_categories(values)
        if not names:
            raise ValueError("the column has no values to list as categories — pick a numeric method, "
                             "or load data with values for this metric")
        numbers = pd.to_numeric(pd.Series(names), errors="coerce")
        if numbers.notna().all():
            names = [names[i] for i in np.argsort(numbers.to_numpy(), kind="stable")]
        points = category_points(names, bool(numbers.notna().all()), lower)
        return {"method": "categories", "map": dict(zip(names, points, strict=True))}


class PercentileMethod(Method):
    name, title, spec_class = "percentile", "Percentile among peers", Percentile
    peers = True

    def note(self, spec: Percentile) -> str:
        return f"Scored by rank{_within(spec)}: no thresholds"

    def describe(self, spec: Percentile) -> str:
        return f"percentile rank{_within(spec)} ({_direction(spec)})"

    def default(self, values: object, lower: bool, within: list[str]) -> dict[str, Any]:
        return {"method": "percentile", "within": within, "lower_is_better": lower}


class VsAverageMethod(_Stepped):
    name, title, spec_class, scale = "vs_average", "Versus peer average", VsAverage, RATIO
    peers = True

    def describe(self, spec: VsAverage) -> str:
        return f"ratio to the average{_within(spec)}: " + self.steps_text(spec.cuts, spec.scored_points)

    def default(self, values: object, lower: bool, within: list[str]) -> dict[str, Any]:
        return {"method": "vs_average", "within": within, "cuts": list(VS_AVERAGE_CUTS), "points": list(STEP_POINTS),
                "lower_is_better": lower}


def _within(spec: Percentile | VsAverage) -> str:
    return f" within {', '.join(spec.within)}" if spec.within else ""


def _direction(spec: Percentile | VsAverage) -> str:
    return "lower is better" if spec.lower_is_better else "higher is better"


def _numbers(values: object, method: str) -> np.ndarray:
    v = finite(values)
    if not len(v):
        raise ValueError(f"the column has no numbers, so {method} has nothing to set thresholds from — "
                         "use categories for a text column")
    return v


BY_NAME: dict[str, Method] = {m.name: m for m in (LinearMethod(), StepsMethod(), CategoriesMethod(),
                                                   PercentileMethod(), VsAverageMethod())}
_BY_CLASS = {m.spec_class: m for m in BY_NAME.values()}


def named(method: str) -> Method:
    """The method called ``method``. Raises ValueError naming the valid ones."""
    found = BY_NAME.get(method)
    if found is None:
        raise ValueError(f"unknown method {method!r} — use {', '.join(METHODS[:-1])} or {METHODS[-1]}")
    return found


def method_of(spec: ScoreSpec) -> Method:
    """The :class:`Method` of a validated score spec."""
    return _BY_CLASS[type(spec)]


def as_spec(spec: object) -> ScoreSpec:
    """A score spec from a :mod:`lib.engine.model` spec, its YAML dict, or an object with the same attributes.

    Raises:
        ModelError: the dict (or object) is not a valid spec; each problem names its key.
    """
    if type(spec) in _BY_CLASS:
        return spec  # type: ignore[return-value]
    if isinstance(spec, dict):
        return spec_from_dict(spec)
    fields = ("method", "red", "green", "cuts", "points", "map", "within", "lower_is_better")
    d = {k: getattr(spec, k) for k in fields if hasattr(spec, k)}
    return spec_from_dict({k: list(v) if isinstance(v, tuple) else v for k, v in d.items()})


__all__ = [
    "BY_NAME", "Knob", "Line", "Method", "POINTS", "RATIO", "RAW", "Scale", "VALUE", "Zone", "as_spec",
    "category_keys", "category_points", "category_texts", "data_categories", "finite", "method_of", "named",
    "nice_step", "replaced", "round2", "scored_choice",
]
