"""The health model: parse, validate, YAML round trip, diff and edit.

A model file (see DESIGN.md "The model file") says which metrics count, how each raw value becomes a
0–100 metric score, how metrics are weighted (optionally in groups), where the band cut-offs lie, optional
grades, per-segment profiles, the missing-data policy and alert rules. Every mistake a user can make comes
back as a :class:`Problem` naming the key, what is wrong and how to fix it; all problems are collected
before :class:`ModelError` is raised, so a user fixes a file in one pass.

A metric is named by its key and reads the column of that name, or the one its ``column`` names (so one column
can feed several metrics); with ``window`` (:class:`Window`) a statistic of the column over the account's
recent snapshots is scored instead of the raw value.

Score methods (``metrics.<name>.score``):

- ``linear {red, green}``: ``clip((v - red) / (green - red), 0, 1) * 100``; ``red > green`` means lower is
  better.
- ``steps {cuts, points}``: cuts ``c0 < c1 < …``; ``v < c0`` → ``points[0]``, ``v < c1`` → ``points[1]``,
  …, else ``points[-1]``.
- ``categories {map}``: matched on ``lower(trim(value))`` (trim removes spaces) against the lower-cased
  keys; an unknown category counts as missing.
- ``percentile {within, lower_is_better}``: percent rank ``100 * (rank - 1) / (n - 1)`` among the rows
  with the same snapshot date and the same ``within`` segment values that have a value; a peer group of
  one scores 50. ``lower_is_better`` ranks on descending values.
- ``vs_average {within, cuts, points, lower_is_better}``: ``ratio = v / mean(v)`` over the same peer group
  (mean 0 → missing), then steps on the ratio. ``lower_is_better`` keeps the cuts on the ratio and reverses
  the points, so ``cuts: [0.8, 1.2], points: [0, 50, 100]`` gives 100 to accounts 20 % *below* average.

Weights are relative. With ``groups`` a metric's weight is (group's share) × (metric's share in its group).
``missing: renormalize`` is hierarchical: a missing metric's weight goes to the other metrics of its group,
and a group with no metric left gives its weight to the other groups — so scoring with a metric missing
equals scoring with the model without that metric. ``missing: zero`` scores a missing metric 0 and keeps
its weight. A profile's ``weights`` override base weights (0 drops the metric), its ``metrics`` override a
metric's score spec; the first profile whose ``when`` matches (every key; value in the list; exact,
case-sensitive text) wins, else the account gets the profile ``"Default"``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

METHODS = ("linear", "steps", "categories", "percentile", "vs_average")
MISSING_POLICIES = ("renormalize", "zero")
DEFAULT_PROFILE = "Default"
BAND_NAMES = ("red", "yellow", "green")
LOWEST_GRADE = "F"
MAX_MODEL_BYTES = 1_000_000
TOP_LEVEL_KEYS = ("name", "bands", "grades", "missing", "metrics", "groups", "profiles", "alerts", "expansion")
METRIC_KEYS = ("label", "column", "window", "group", "weight", "score")
WINDOW_KEYS = ("snapshots", "stat")
WINDOW_STATS = ("mean", "min", "max", "change", "pct_change", "slope")
MAX_WINDOW = 52  # a year of weekly snapshots
WINDOW_WORDS = {"mean": "mean", "min": "lowest", "max": "highest", "change": "change", "pct_change": "% change",
                "slope": "trend per snapshot"}  # each statistic in words, for the pages
WINDOW_EXAMPLE = "{snapshots: 3, stat: mean}"
PROFILE_KEYS = ("name", "when", "weights", "metrics")
ALERT_KEYS = ("name", "drop", "within", "to_band")
SPEC_KEYS = {
    "linear": ("method", "red", "green"),
    "steps": ("method", "cuts", "points"),
    "categories": ("method", "map"),
    "percentile": ("method", "within", "lower_is_better"),
    "vs_average": ("method", "within", "cuts", "points", "lower_is_better"),
}
SPEC_EXAMPLES = {
    "linear": "{method: linear, red: 2, green: 12}",
    "steps": "{method: steps, cuts: [2, 5], points: [100, 50, 0]}",
    "categories": "{method: categories, map: {green: 100, yellow: 50, red: 0}}",
    "percentile": "{method: percentile, within: [size]}",
    "vs_average": "{method: vs_average, within: [stage], cuts: [0.8, 1.2], points: [0, 50, 100]}",
}


# ---------------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a model: the dotted key, what is wrong, and how to fix it."""

    key: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message} — {self.fix}"


class ModelError(ValueError):
    """A model file (or edit) has problems; ``.problems`` lists them all, one line each in ``str()``."""

    def __init__(self, problems: Iterable[Problem], source: str = "model") -> None:
        self.problems: list[Problem] = list(problems)
        self.source = source
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))


@dataclass(frozen=True)
class Bands:
    """Band cut-offs: ``score <= red`` is red, ``<= yellow`` yellow, else green."""

    red: float
    yellow: float


@dataclass(frozen=True)
class Linear:
    """Straight line from ``red`` (score 0) to ``green`` (score 100), clipped; red > green = lower is better."""

    red: float
    green: float
    method: ClassVar[str] = "linear"


@dataclass(frozen=True)
class Steps:
    """Fixed points per interval: ``v < cuts[i]`` → ``points[i]`` for the first such i, else ``points[-1]``."""

    cuts: tuple[float, ...]
    points: tuple[float, ...]
    method: ClassVar[str] = "steps"

    @property
    def scored_points(self) -> tuple[float, ...]:
        """The points of the intervals below, between and above the cuts, in that order."""
        return self.points


@dataclass(frozen=True)
class Categories:
    """Points per category; keys matched case-insensitively after trimming spaces; unknown → missing."""

    map: dict[str, float]
    method: ClassVar[str] = "categories"

    def lookup(self) -> dict[str, float]:
        """The map keyed by normalised category text (what data values are matched against)."""
        return {normalise_category(k): v for k, v in self.map.items()}


@dataclass(frozen=True)
class Percentile:
    """Percent rank among peers at the same snapshot date (and the same ``within`` segment values)."""

    within: tuple[str, ...] = ()
    lower_is_better: bool = False
    method: ClassVar[str] = "percentile"


@dataclass(frozen=True)
class VsAverage:
    """Steps on the ratio of the value to its peer-group mean; ``lower_is_better`` reverses the points."""

    within: tuple[str, ...]
    cuts: tuple[float, ...]
    points: tuple[float, ...]
    lower_is_better: bool = False
    method: ClassVar[str] = "vs_average"

    @property
    def scored_points(self) -> tuple[float, ...]:
        """The points of the ratio intervals below, between and above the cuts, in that order: the points as
        written, reversed when lower is better."""
        return self.points[::-1] if self.lower_is_better else self.points


ScoreSpec = Linear | Steps | Categories | Percentile | VsAverage


@dataclass(frozen=True)
class Window:
    """A statistic over the account's row at a date and its ``snapshots - 1`` rows before it (by date).

    ``mean``, ``min``, ``max``: over the window's present values (missing when there are none). ``change``
    (last − first), ``pct_change`` (100 × (last − first) / |first|, missing when first is 0) and ``slope``
    (least-squares slope per snapshot of the present values against their position 0, 1, … in the window;
    at least two values) need a full window: ``snapshots`` rows of the account up to the date; ``change`` and
    ``pct_change`` also a value in its first and last row. A statistic that is not finite counts as missing.
    """

    snapshots: int
    stat: str

    @property
    def text(self) -> str:
        """The statistic in words: 'mean over the last 3 snapshots'."""
        return f"{WINDOW_WORDS.get(self.stat, self.stat)} over the last {self.snapshots} snapshots"


@dataclass(frozen=True)
class Metric:
    """One metric: the column it reads, a display label, optional group, relative weight, score spec, and
    optionally a window statistic of the column that is scored instead of its raw value."""

    column: str
    label: str
    group: str | None
    weight: float
    score: ScoreSpec
    window: Window | None = None


@dataclass(frozen=True)
class Profile:
    """A segment-specific variant: accounts matching ``when`` use these weights and score specs."""

    name: str
    when: dict[str, tuple[str, ...]]
    weights: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, ScoreSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """An alert rule: a drop of ``drop`` points within ``within`` snapshots, or entering band ``to_band``."""

    name: str
    drop: float | None = None
    within: int | None = None
    to_band: str | None = None


@dataclass(frozen=True)
class Model:
    """A validated health model. Treat as immutable: edit with :func:`set_value` or ``dataclasses.replace``."""

    name: str
    bands: Bands
    grades: dict[str, float] | None
    missing: str
    metrics: dict[str, Metric]
    groups: dict[str, float] | None = None
    profiles: tuple[Profile, ...] = ()
    alerts: tuple[Alert, ...] = ()
    expansion: Model | None = None

    @property
    def profile_names(self) -> tuple[str, ...]:
        """Profile names in match order, then ``"Default"``."""
        return (*(p.name for p in self.profiles), DEFAULT_PROFILE)

    def profile(self, name: str) -> Profile | None:
        """The profile called ``name``, or None for ``"Default"`` / unknown names."""
        return next((p for p in self.profiles if p.name == name), None)

    def spec_for(self, profile: str, metric: str) -> ScoreSpec:
        """The score spec a metric uses under a profile (the profile's override, else the base spec)."""
        p = self.profile(profile)
        if p is not None and metric in p.metrics:
            return p.metrics[metric]
        return self.metrics[metric].score

    def weights_for(self, profile: str) -> dict[str, float]:
        """Raw relative weights per metric under a profile (profile overrides applied, not normalised)."""
        p = self.profile(profile)
        overrides = p.weights if p is not None else {}
        return {m: float(overrides.get(m, metric.weight)) for m, metric in self.metrics.items()}

    def metric_columns(self) -> tuple[str, ...]:
        """The data columns the metrics read (each once, in metric order)."""
        return tuple(dict.fromkeys(m.column for m in self.metrics.values()))

    def segment_columns(self) -> tuple[str, ...]:
        """Segment columns the model reads (percentile/vs_average ``within`` and profile ``when`` keys)."""
        cols: dict[str, None] = {}
        for spec in self._all_specs():
            if isinstance(spec, Percentile | VsAverage):
                cols.update(dict.fromkeys(spec.within))
        for p in self.profiles:
            cols.update(dict.fromkeys(p.when))
        return tuple(cols)

    def _all_specs(self) -> list[ScoreSpec]:
        specs = [m.score for m in self.metrics.values()]
        for p in self.profiles:
            specs.extend(p.metrics.values())
        return specs


@dataclass(frozen=True)
class ModelChange:
    """One difference between two models: dotted key, old value (None if absent), new value."""

    key: str
    old: Any
    new: Any


#: What "surrounding spaces" means wherever text is read — category matching and numbers held as text — on
#: every engine: Unicode's White_Space characters (tab, line breaks, NBSP, the typographic spaces, …), listed
#: explicitly so Python, numpy, DuckDB, Spark and the warehouses strip exactly the same set (their own
#: TRIMs differ: DuckDB strips NBSP but not tab, Spark only the ASCII space).
TRIM_CHARACTERS = ("\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                   "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def category_text(value: object) -> str:
    """Category text as written, without what matching ignores around it (:data:`TRIM_CHARACTERS`: the SQL's
    ``TRIM(x, chars)``)."""
    return str(value).strip(TRIM_CHARACTERS)


def normalise_category(value: object) -> str:
    """Category text as matched: lower-cased, :data:`TRIM_CHARACTERS` removed at both ends (the SQL's
    ``LOWER(TRIM(x, chars))``, :func:`lib.engine.plan.category_key` for numpy)."""
    return category_text(value).lower()


# ---------------------------------------------------------------------------------------------- YAML


class _SafeLoader(yaml.SafeLoader):
    """Safe loader that refuses aliases (alias bombs) and duplicate keys (silent overwrites)."""

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _LoadProblem(
                Problem(
                    "(yaml)",
                    f"line {event.start_mark.line + 1}: aliases (*{event.anchor}) are not allowed",
                    "write the values out in full instead of using &anchors and *aliases",
                )
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):  # noqa: ANN001 - PyYAML signature
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable keys are reported by PyYAML itself
            if key in seen:
                raise _LoadProblem(
                    Problem(
                        "(yaml)",
                        f"line {key_node.start_mark.line + 1}: key {key!r} appears twice in the same mapping",
                        "remove or rename one of them (YAML would silently keep only the last)",
                    )
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _LoadProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _load_yaml(text: str, source: str) -> Any:
    if len(text.encode("utf-8", errors="replace")) > MAX_MODEL_BYTES:
        raise ModelError(
            [Problem("(file)", f"the model is larger than {MAX_MODEL_BYTES // 1_000_000} MB",
                     "a model file is a few KB; check that you picked the model YAML, not a data file")],
            source,
        )
    try:
        return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - _SafeLoader subclasses SafeLoader
    except _LoadProblem as exc:
        raise ModelError([exc.problem], source) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ModelError(
            [Problem("(yaml)", f"{where}{exc.problem or exc.context or 'not valid YAML'}",
                     "check the indentation (spaces, not tabs) and quoting near that line")],
            source,
        ) from None
    except yaml.YAMLError as exc:
        raise ModelError([Problem("(yaml)", f"not valid YAML: {exc}", "check the file is a YAML model")],
                         source) from None


# ---------------------------------------------------------------------------------------------- parse


def _closest(word: object, choices: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _fmt_num(x: float) -> int | float:
    return int(x) if float(x).is_integer() and abs(x) < 1e15 else float(x)


class _Checker:
    """Collects problems while converting a plain dict into model objects."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, key: str, message: str, fix: str) -> None:
        self.problems.append(Problem(key, message, fix))

    def unknown_keys(self, d: Mapping, valid: Iterable[str], prefix: str, what: str) -> None:
        valid = tuple(valid)
        for k in d:
            if k in valid:
                continue
            near = _closest(k, valid)
            fix = (f"did you mean '{near}'? rename it" if near
                   else f"remove it; valid keys for {what} are: {', '.join(valid)}")
            self.add(f"{prefix}{k}", f"unknown key '{k}' in {what}", fix)

    def mapping(self, value: Any, key: str, example: str) -> dict | None:
        if isinstance(value, Mapping):
            return dict(value)
        self.add(key, f"expected a mapping, got {_describe(value)}", f"write it as {example}")
        return None

    def number(self, value: Any, key: str, lo: float | None = None, hi: float | None = None) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            hint = " (quoted numbers are text)" if isinstance(value, str) else ""
            self.add(key, f"expected a number, got {_describe(value)}{hint}",
                     "write a plain number such as 10 or 2.5")
            return None
        x = float(value)
        if not math.isfinite(x):
            self.add(key, f"expected a finite number, got {value}", "write a finite number such as 10")
            return None
        if lo is not None and x < lo or hi is not None and x > hi:
            rng = f"between {_fmt_num(lo)} and {_fmt_num(hi)}" if lo is not None and hi is not None else (
                f"at least {_fmt_num(lo)}" if lo is not None else f"at most {_fmt_num(hi)}")
            self.add(key, f"must be {rng}, got {_fmt_num(x)}", f"use a value {rng}")
            return None
        return x

    def numbers(self, value: Any, key: str, lo: float | None = None, hi: float | None = None
                ) -> tuple[float, ...] | None:
        if not isinstance(value, list | tuple) or not value:
            self.add(key, f"expected a non-empty list of numbers, got {_describe(value)}",
                     "write a list such as [2, 5]")
            return None
        before = len(self.problems)
        out = [self.number(v, f"{key}[{i}]", lo, hi) for i, v in enumerate(value)]
        return None if len(self.problems) > before else tuple(x for x in out if x is not None)

    def text(self, value: Any, key: str) -> str | None:
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            self.add(key, f"expected text, got {_describe(value)}", "write it as text, in quotes if needed")
            return None
        if isinstance(value, dt.date):
            return value.isoformat()
        text = str(value)
        if not text.strip():
            self.add(key, "must not be empty", "write a name")
            return None
        return text

    def texts(self, value: Any, key: str) -> tuple[str, ...] | None:
        items = value if isinstance(value, list | tuple) else [value]
        before = len(self.problems)
        out = [self.text(v, f"{key}[{i}]" if isinstance(value, list | tuple) else key)
               for i, v in enumerate(items)]
        return None if len(self.problems) > before else tuple(x for x in out if x is not None)

    def choice(self, value: Any, choices: Sequence[str], key: str, what: str, shown: str, example: str) -> bool:
        """Whether ``value`` is one of ``choices``; if not, a problem naming the valid ones and the closest."""
        if value in choices:
            return True
        near = _closest(value, choices) if isinstance(value, str) else None
        got = f"no {what}" if value is None else f"unknown {what} {shown}"
        self.add(key, f"{got}; valid {what}s: {', '.join(choices)}",
                 f"did you mean '{near}'?" if near else example)
        return False

    def flag(self, value: Any, key: str) -> bool | None:
        if isinstance(value, bool):
            return value
        self.add(key, f"expected true or false, got {_describe(value)}", "write true or false")
        return None


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (empty value)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return f"a list {list(value)!r}"[:80]
    if isinstance(value, str):
        return f"text {value!r}"[:80]
    return repr(value)[:80]


def _parse_steps(c: _Checker, d: dict, key: str) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    cuts = c.numbers(d.get("cuts"), f"{key}.cuts")
    points = c.numbers(d.get("points"), f"{key}.points", 0, 100)
    ok = cuts is not None and points is not None
    if cuts is not None and any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
        ordered = sorted(set(cuts))
        c.add(f"{key}.cuts", f"cuts must be in increasing order, got {[_fmt_num(x) for x in cuts]}",
              f"sort them: {[_fmt_num(x) for x in ordered]}" + (" (and remove duplicates)"
                                                                if len(ordered) < len(cuts) else ""))
        ok = False
    if cuts is not None and points is not None and len(points) != len(cuts) + 1:
        c.add(f"{key}.points",
              f"{len(cuts)} cuts need {len(cuts) + 1} points (one per interval), got {len(points)}",
              f"give {len(cuts) + 1} points, e.g. cuts [2, 5] → points [100, 50, 0]")
        ok = False
    return (cuts, points) if ok else None


def _parse_within(c: _Checker, value: Any, key: str) -> tuple[str, ...] | None:
    if value is None:
        return ()
    return c.texts(value, key)


def _parse_spec(c: _Checker, raw: Any, key: str) -> ScoreSpec | None:
    d = c.mapping(raw, key, SPEC_EXAMPLES["linear"])
    if d is None:
        return None
    method = d.get("method")
    if not c.choice(method, METHODS, f"{key}.method", "method", repr(method),
                    f"add method, e.g. {SPEC_EXAMPLES['linear']}"):
        return None
    c.unknown_keys(d, SPEC_KEYS[method], f"{key}.", f"method {method}")
    before = len(c.problems)
    for required in SPEC_KEYS[method][1:]:
        if required not in d and required not in ("within", "lower_is_better"):
            c.add(f"{key}.{required}", f"method {method} needs '{required}'",
                  f"add it, e.g. score: {SPEC_EXAMPLES[method]}")
    if len(c.problems) > before:
        return None
    if method == "linear":
        red, green = c.number(d["red"], f"{key}.red"), c.number(d["green"], f"{key}.green")
        if red is None or green is None:
            return None
        if red == green:
            c.add(key, f"red and green are both {_fmt_num(red)}, so the line has no slope",
                  "make them differ: red is the value scoring 0, green the value scoring 100")
            return None
        return Linear(red, green)
    if method == "steps":
        parsed = _parse_steps(c, d, key)
        return Steps(*parsed) if parsed else None
    if method == "categories":
        m = c.mapping(d["map"], f"{key}.map", "{green: 100, yellow: 50, red: 0}")
        if m is None:
            return None
        if not m:
            c.add(f"{key}.map", "the map is empty", "list each category with its points: {green: 100, red: 0}")
            return None
        out: dict[str, float] = {}
        seen: dict[str, str] = {}
        for k, v in m.items():
            if isinstance(k, bool) or k is None:
                c.add(f"{key}.map.{k}", f"category {k} is read by YAML as a yes/no/empty value",
                      "put the category in quotes, e.g. 'yes': 100")
                continue
            name = k.isoformat() if isinstance(k, dt.date) else str(k)
            norm = normalise_category(name)
            if norm in seen:
                c.add(f"{key}.map.{name}", f"categories '{seen[norm]}' and '{name}' are the same "
                      "ignoring case and spaces", "keep only one of them")
                continue
            seen[norm] = name
            x = c.number(v, f"{key}.map.{name}", 0, 100)
            if x is not None:
                out[name] = x
        return Categories(out) if len(out) == len(m) else None
    within = _parse_within(c, d.get("within"), f"{key}.within")
    lower = c.flag(d.get("lower_is_better", False), f"{key}.lower_is_better")
    if within is None or lower is None:
        return None
    if method == "percentile":
        return Percentile(within, lower)
    parsed = _parse_steps(c, d, key)
    return VsAverage(within, parsed[0], parsed[1], lower) if parsed else None


def _parse_metric(c: _Checker, name: str, raw: Any, prefix: str) -> Metric | None:
    key = f"{prefix}metrics.{name}"
    if raw is None:
        c.add(key, "metric has no settings", f"add at least a score, e.g. score: {SPEC_EXAMPLES['linear']}")
        return None
    d = c.mapping(raw, key, f"{{weight: 10, score: {SPEC_EXAMPLES['linear']}}}")
    if d is None:
        return None
    c.unknown_keys(d, METRIC_KEYS, f"{key}.", "a metric")
    label = c.text(d["label"], f"{key}.label") if "label" in d else name
    column = c.text(d["column"], f"{key}.column") if "column" in d else name
    group = c.text(d["group"], f"{key}.group") if d.get("group") is not None else None
    weight = c.number(d.get("weight", 1), f"{key}.weight", lo=0)
    windowed = d.get("window") is not None
    window = _parse_window(c, d["window"], f"{key}.window") if windowed else None
    if "score" not in d:
        c.add(f"{key}.score", "metric has no score", f"add one, e.g. score: {SPEC_EXAMPLES['linear']}")
        return None
    spec = _parse_spec(c, d["score"], f"{key}.score")
    if window is not None and isinstance(spec, Categories):
        c.add(f"{key}.window", "a window statistic needs numbers, but this metric scores categories",
              "remove the window, or score the statistic with a numeric method, e.g. "
              f"score: {SPEC_EXAMPLES['linear']}")
        return None
    if None in (label, column, weight, spec) or (windowed and window is None):
        return None
    return Metric(column, label, group, weight, spec, window)


def _parse_window(c: _Checker, raw: Any, key: str) -> Window | None:
    d = c.mapping(raw, key, WINDOW_EXAMPLE)
    if d is None:
        return None
    before = len(c.problems)
    c.unknown_keys(d, WINDOW_KEYS, f"{key}.", "a window")
    snapshots = d.get("snapshots")
    if "snapshots" not in d:
        c.add(f"{key}.snapshots", "a window needs 'snapshots'", f"add it, e.g. window: {WINDOW_EXAMPLE}")
    elif isinstance(snapshots, bool) or not isinstance(snapshots, int) or not 2 <= snapshots <= MAX_WINDOW:
        c.add(f"{key}.snapshots", f"must be a whole number of snapshots from 2 to {MAX_WINDOW}, got "
              f"{_describe(snapshots)}", "write e.g. snapshots: 3 (this snapshot and the 2 before it)")
    stat = d.get("stat")
    c.choice(stat, WINDOW_STATS, f"{key}.stat", "stat", _describe(stat), f"add one, e.g. window: {WINDOW_EXAMPLE}")
    return None if len(c.problems) > before else Window(snapshots, stat)


def _metric_name(c: _Checker, k: Any, key: str) -> str | None:
    if isinstance(k, bool) or k is None:
        c.add(f"{key}.{k}", f"metric name {k} is read by YAML as a yes/no/empty value",
              "put the column name in quotes")
        return None
    return k.isoformat() if isinstance(k, dt.date) else str(k)


def _parse_profile(c: _Checker, i: int, raw: Any, metrics: Mapping[str, Any], prefix: str) -> Profile | None:
    key = f"{prefix}profiles[{i}]"
    d = c.mapping(raw, key, "{name: Onboarding, when: {stage: [Trial]}, weights: {logins: 60}}")
    if d is None:
        return None
    c.unknown_keys(d, PROFILE_KEYS, f"{key}.", "a profile")
    name = c.text(d.get("name"), f"{key}.name")
    if name == DEFAULT_PROFILE:
        c.add(f"{key}.name", f"'{DEFAULT_PROFILE}' is the profile of accounts no other profile matches",
              "give this profile another name (base weights and specs already define Default)")
        name = None
    when_raw = c.mapping(d.get("when"), f"{key}.when", "{stage: [Trial, Deployment]}")
    when: dict[str, tuple[str, ...]] = {}
    if when_raw is not None and not when_raw:
        c.add(f"{key}.when", "an empty 'when' matches every account, so later profiles never apply",
              "add a condition such as {stage: [Trial]}, or change the base weights instead")
    for col, values in (when_raw or {}).items():
        vals = c.texts(values, f"{key}.when.{col}")
        if vals is not None and not vals:
            c.add(f"{key}.when.{col}", "the list of values is empty", "list the values that select this profile")
        elif vals is not None:
            when[str(col)] = vals
    weights: dict[str, float] = {}
    wraw = c.mapping(d.get("weights") or {}, f"{key}.weights", "{logins_per_user: 60}") or {}
    for m, w in wraw.items():
        if str(m) not in metrics:
            near = _closest(m, metrics)
            c.add(f"{key}.weights.{m}", f"'{m}' is not one of the model's metrics",
                  f"did you mean '{near}'?" if near else f"use one of: {', '.join(metrics)}")
            continue
        x = c.number(w, f"{key}.weights.{m}", lo=0)
        if x is not None:
            weights[str(m)] = x
    specs: dict[str, ScoreSpec] = {}
    mraw = c.mapping(d.get("metrics") or {}, f"{key}.metrics", "{logins_per_user: {score: {...}}}") or {}
    for m, override in mraw.items():
        mkey = f"{key}.metrics.{m}"
        if str(m) not in metrics:
            near = _closest(m, metrics)
            c.add(mkey, f"'{m}' is not one of the model's metrics",
                  f"did you mean '{near}'?" if near else f"use one of: {', '.join(metrics)}")
            continue
        od = c.mapping(override, mkey, f"{{score: {SPEC_EXAMPLES['linear']}}}")
        if od is None:
            continue
        c.unknown_keys(od, ("score",), f"{mkey}.", "a profile metric override")
        if "score" not in od:
            c.add(f"{mkey}.score", "override has no score", f"add one, e.g. score: {SPEC_EXAMPLES['linear']}")
            continue
        spec = _parse_spec(c, od["score"], f"{mkey}.score")
        if spec is not None:
            specs[str(m)] = spec
    if name is None:
        return None
    return Profile(name, when, weights, specs)


def _parse_alert(c: _Checker, i: int, raw: Any, prefix: str) -> Alert | None:
    key = f"{prefix}alerts[{i}]"
    d = c.mapping(raw, key, "{name: Steep drop, drop: 15, within: 2}")
    if d is None:
        return None
    c.unknown_keys(d, ALERT_KEYS, f"{key}.", "an alert")
    name = c.text(d.get("name"), f"{key}.name")
    has_drop, has_band = d.get("drop") is not None, d.get("to_band") is not None
    if has_drop == has_band:
        c.add(key, "an alert needs exactly one of 'drop' or 'to_band'" + (", not both" if has_drop else ""),
              "write {name: Steep drop, drop: 15, within: 2} or {name: Turned red, to_band: red}")
        return None
    if has_band:
        band = d["to_band"]
        if band not in BAND_NAMES:
            c.add(f"{key}.to_band", f"unknown band {band!r}", f"use one of: {', '.join(BAND_NAMES)}")
            return None
        if "within" in d:
            c.add(f"{key}.within", "'within' applies to drop alerts only", "remove it")
            return None
        return Alert(name, to_band=band) if name else None
    drop = c.number(d["drop"], f"{key}.drop", lo=0)
    within_raw = d.get("within", 1)
    within = None
    if isinstance(within_raw, bool) or not isinstance(within_raw, int) or within_raw < 1:
        c.add(f"{key}.within", f"must be a whole number of snapshots, at least 1, got {_describe(within_raw)}",
              "write e.g. within: 2 (the drop is measured against the previous 2 snapshots)")
    else:
        within = within_raw
    if drop is not None and drop <= 0:
        c.add(f"{key}.drop", "a drop of 0 points fires on every snapshot", "use a positive number such as 15")
        drop = None
    return Alert(name, drop=drop, within=within) if name and drop is not None and within else None


def _structural_weights(model: Model, profile: str) -> dict[str, float]:
    """Normalised weights for a profile with every metric present (group rollup applied)."""
    raw = model.weights_for(profile)
    groups = model.groups or {None: 1.0}
    member = {m: (model.metrics[m].group if model.groups else None) for m in raw}
    group_sum = {g: sum(w for m, w in raw.items() if member[m] == g and w > 0) for g in groups}
    total = sum(gw for g, gw in groups.items() if group_sum[g] > 0)
    out = {}
    for m, w in raw.items():
        g = member[m]
        out[m] = (groups[g] / total) * (w / group_sum[g]) if total > 0 and w > 0 and group_sum[g] > 0 else 0.0
    return out


def _parse_model(c: _Checker, d: dict, prefix: str, nested: bool) -> Model | None:
    valid = tuple(k for k in TOP_LEVEL_KEYS if not (nested and k == "expansion"))
    c.unknown_keys(d, valid, prefix, "a model")
    name = c.text(d.get("name", "Untitled"), f"{prefix}name")

    bands = None
    braw = c.mapping(d.get("bands", {"red": 30, "yellow": 70}), f"{prefix}bands", "{red: 30, yellow: 70}")
    if braw is not None:
        c.unknown_keys(braw, ("red", "yellow"), f"{prefix}bands.", "bands")
        missing_keys = [k for k in ("red", "yellow") if k not in braw]
        for k in missing_keys:
            c.add(f"{prefix}bands.{k}", f"bands need '{k}'", "write bands: {red: 30, yellow: 70}")
        if not missing_keys:
            red = c.number(braw["red"], f"{prefix}bands.red", 0, 100)
            yellow = c.number(braw["yellow"], f"{prefix}bands.yellow", 0, 100)
            if red is not None and yellow is not None:
                if red >= yellow:
                    c.add(f"{prefix}bands", f"red ({_fmt_num(red)}) must be below yellow ({_fmt_num(yellow)})",
                          "need 0 <= red < yellow <= 100, e.g. {red: 30, yellow: 70}")
                else:
                    bands = Bands(red, yellow)

    grades = None
    if d.get("grades") is not None:
        graw = c.mapping(d["grades"], f"{prefix}grades", "{A: 85, B: 70, C: 55, D: 40}")
        if graw is not None:
            grades = {}
            for g, v in graw.items():
                x = c.number(v, f"{prefix}grades.{g}", 0, 100)
                if x is not None:
                    grades[str(g)] = x
            values = list(grades.values())
            if any(b >= a for a, b in zip(values, values[1:], strict=False)):
                ordered = dict(sorted(grades.items(), key=lambda kv: -kv[1]))
                c.add(f"{prefix}grades", "grades must be listed from the highest minimum score down, got "
                      f"{ {k: _fmt_num(v) for k, v in grades.items()} }",
                      f"order them descending with distinct scores: { {k: _fmt_num(v) for k, v in ordered.items()} }")

    missing = d.get("missing", "renormalize")
    if missing not in MISSING_POLICIES:
        c.add(f"{prefix}missing", f"unknown missing-data policy {missing!r}",
              f"use one of: {', '.join(MISSING_POLICIES)}")

    metrics: dict[str, Metric] = {}
    if "metrics" not in d or d["metrics"] is None:
        c.add(f"{prefix}metrics", "the model has no metrics",
              f"add a metrics mapping, e.g. metrics: {{logins_per_user: {{weight: 1, score: "
              f"{SPEC_EXAMPLES['linear']}}}}}")
        mraw = {}
    else:
        mraw = c.mapping(d["metrics"], f"{prefix}metrics", "{column_name: {weight: 1, score: {...}}}") or {}
        if isinstance(d["metrics"], Mapping) and not mraw:
            c.add(f"{prefix}metrics", "the model has no metrics", "add at least one metric")
    metric_ok = True
    # Names and groups as written, so profile and group checks run even when a metric has other problems.
    metric_groups: dict[str, Any] = {}
    for k, v in mraw.items():
        name_k = _metric_name(c, k, f"{prefix}metrics")
        if name_k is not None:
            metric_groups[name_k] = v.get("group") if isinstance(v, Mapping) else None
        metric = _parse_metric(c, name_k, v, prefix) if name_k is not None else None
        if metric is None:
            metric_ok = False
        else:
            metrics[name_k] = metric
    if metrics and metric_ok and all(m.weight == 0 for m in metrics.values()):
        c.add(f"{prefix}metrics", "every metric has weight 0, so no score can be computed",
              "give at least one metric a positive weight")

    groups = None
    if d.get("groups") is not None:
        graw = c.mapping(d["groups"], f"{prefix}groups", "{Engagement: 50, Support: 25}")
        if graw is not None:
            groups = {}
            for g, v in graw.items():
                x = c.number(v, f"{prefix}groups.{g}", lo=0)
                if x is not None:
                    groups[str(g)] = x
            if groups and all(v == 0 for v in groups.values()):
                c.add(f"{prefix}groups", "every group has weight 0", "give at least one group a positive weight")
            for mname, group in metric_groups.items():
                if group is None:
                    c.add(f"{prefix}metrics.{mname}.group", "the model has groups but this metric has none",
                          f"add group: one of {', '.join(groups)}")
                elif str(group) not in groups:
                    near = _closest(group, groups)
                    c.add(f"{prefix}metrics.{mname}.group", f"unknown group '{group}'",
                          f"did you mean '{near}'?" if near else
                          f"use one of {', '.join(groups)}, or add it under groups")

    profiles: list[Profile] = []
    praw = d.get("profiles") or []
    if not isinstance(praw, list):
        c.add(f"{prefix}profiles", f"expected a list of profiles, got {_describe(praw)}",
              "write each profile as a list item starting with '- name: ...'")
        praw = []
    for i, p in enumerate(praw):
        prof = _parse_profile(c, i, p, metric_groups, prefix)
        if prof is not None:
            profiles.append(prof)
    names = [p.name for p in profiles]
    for n in {n for n in names if names.count(n) > 1}:
        c.add(f"{prefix}profiles", f"two profiles are called '{n}'", "give each profile its own name")

    alerts: list[Alert] = []
    araw = d.get("alerts") or []
    if not isinstance(araw, list):
        c.add(f"{prefix}alerts", f"expected a list of alerts, got {_describe(araw)}",
              "write each alert as a list item: - {name: Steep drop, drop: 15, within: 2}")
        araw = []
    for i, a in enumerate(araw):
        alert = _parse_alert(c, i, a, prefix)
        if alert is not None:
            alerts.append(alert)
    anames = [a.name for a in alerts]
    for n in {n for n in anames if anames.count(n) > 1}:
        c.add(f"{prefix}alerts", f"two alerts are called '{n}'", "give each alert its own name")

    expansion = None
    if not nested and d.get("expansion") is not None:
        eraw = c.mapping(d["expansion"], f"{prefix}expansion", "a nested model: {metrics: {...}, bands: {...}}")
        if eraw is not None:
            expansion = _parse_model(c, eraw, f"{prefix}expansion.", nested=True)

    for i, p in enumerate(profiles):
        for mname, spec in p.metrics.items():
            if isinstance(spec, Categories) and mname in metrics and metrics[mname].window is not None:
                c.add(f"{prefix}profiles[{i}].metrics.{mname}.score",
                      "the metric is a window statistic (numbers), but this override scores categories",
                      f"score it with a numeric method, e.g. {SPEC_EXAMPLES['linear']}")

    if c.problems or bands is None or name is None:
        return None
    model = Model(name, bands, grades, missing, metrics, groups, tuple(profiles), tuple(alerts), expansion)
    for pname in model.profile_names:
        if sum(_structural_weights(model, pname).values()) <= 0:
            where = (f"{prefix}profiles[{names.index(pname)}].weights" if pname != DEFAULT_PROFILE
                     else f"{prefix}metrics")
            c.add(where, f"profile '{pname}' gives no metric a positive weight (after group weights)",
                  "give at least one metric in a positively weighted group a positive weight")
    return None if c.problems else model


def spec_from_dict(d: Any, key: str = "score") -> ScoreSpec:
    """Validate one score spec in its YAML form (``{method: linear, red: 2, green: 12}``).

    Raises:
        ModelError: with every problem found, each naming its key (below ``key``) and the fix.
    """
    c = _Checker()
    spec = _parse_spec(c, d, key)
    if c.problems or spec is None:
        raise ModelError(c.problems, key)
    return spec


def model_from_dict(d: Any, source: str = "model") -> Model:
    """Validate a plain dict (as loaded from YAML) and build a :class:`Model`.

    Raises:
        ModelError: with every problem found, each naming its key and the fix.
    """
    if not isinstance(d, Mapping):
        raise ModelError([Problem("(document)", f"the model must be a mapping of keys, got {_describe(d)}",
                                  "start the file with keys such as 'name:', 'bands:' and 'metrics:'")], source)
    c = _Checker()
    model = _parse_model(c, dict(d), "", nested=False)
    if c.problems or model is None:
        raise ModelError(c.problems, source)
    return model


@functools.lru_cache(maxsize=64)
def parse_model(text: str, source: str = "model") -> Model:
    """Parse and validate model YAML text (safe loader; no aliases; at most 1 MB).

    Results are memoised by (text, source): every app rerun parses the selected model and the Tune draft
    again (~25 ms each with the alias-checking loader), and a Model is immutable, so sharing it is safe.
    Errors are not memoised.

    Raises:
        ModelError: naming each problem's key and fix (YAML syntax errors name the line).
    """
    return model_from_dict(_load_yaml(text, source), source)


def load_model(path: str | Path) -> Model:
    """Read and validate a model YAML file; problems are reported with the file name as source."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError([Problem("(file)", f"the file is {size:,} bytes, over the 1 MB limit for models",
                                      "check that you picked the model YAML, not a data file")], str(p))
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError([Problem("(file)", "file not found", "check the path")], str(p)) from None
    except IsADirectoryError:
        raise ModelError([Problem("(file)", "this is a folder", "give the path of a .yaml file")], str(p)) from None
    except UnicodeDecodeError:
        raise ModelError([Problem("(file)", "the file is not UTF-8 text", "save the model as UTF-8 YAML")],
                         str(p)) from None
    return parse_model(text, str(p))


# ---------------------------------------------------------------------------------------------- dump


def spec_to_dict(spec: ScoreSpec) -> dict[str, Any]:
    """A score spec as a plain dict (the YAML form)."""
    out: dict[str, Any] = {"method": spec.method}
    if isinstance(spec, Linear):
        out.update(red=_fmt_num(spec.red), green=_fmt_num(spec.green))
    elif isinstance(spec, Categories):
        out["map"] = {k: _fmt_num(v) for k, v in spec.map.items()}
    else:
        if isinstance(spec, Percentile | VsAverage) and spec.within:
            out["within"] = list(spec.within)
        if isinstance(spec, Steps | VsAverage):
            out["cuts"] = [_fmt_num(x) for x in spec.cuts]
            out["points"] = [_fmt_num(x) for x in spec.points]
        if isinstance(spec, Percentile | VsAverage) and spec.lower_is_better:
            out["lower_is_better"] = True
    return out


def model_to_dict(m: Model) -> dict[str, Any]:
    """The model as a plain dict in canonical key order (defaults left out where they are implied)."""
    out: dict[str, Any] = {"name": m.name, "bands": {"red": _fmt_num(m.bands.red),
                                                     "yellow": _fmt_num(m.bands.yellow)}}
    if m.grades is not None:
        out["grades"] = {k: _fmt_num(v) for k, v in m.grades.items()}
    out["missing"] = m.missing
    metrics: dict[str, Any] = {}
    for name, metric in m.metrics.items():
        md: dict[str, Any] = {}
        if metric.label != name:
            md["label"] = metric.label
        if metric.column != name:
            md["column"] = metric.column
        if metric.window is not None:
            md["window"] = {"snapshots": metric.window.snapshots, "stat": metric.window.stat}
        if metric.group is not None:
            md["group"] = metric.group
        md["weight"] = _fmt_num(metric.weight)
        md["score"] = spec_to_dict(metric.score)
        metrics[name] = md
    out["metrics"] = metrics
    if m.groups is not None:
        out["groups"] = {k: _fmt_num(v) for k, v in m.groups.items()}
    if m.profiles:
        out["profiles"] = []
        for p in m.profiles:
            pd_: dict[str, Any] = {"name": p.name, "when": {k: list(v) for k, v in p.when.items()}}
            if p.weights:
                pd_["weights"] = {k: _fmt_num(v) for k, v in p.weights.items()}
            if p.metrics:
                pd_["metrics"] = {k: {"score": spec_to_dict(s)} for k, s in p.metrics.items()}
            out["profiles"].append(pd_)
    if m.alerts:
        out["alerts"] = [
            {"name": a.name, "to_band": a.to_band} if a.to_band is not None
            else {"name": a.name, "drop": _fmt_num(a.drop), "within": a.within}
            for a in m.alerts
        ]
    if m.expansion is not None:
        out["expansion"] = model_to_dict(m.expansion)
    return out


def dump_model(m: Model) -> str:
    """The model as YAML text; ``parse_model(dump_model(m)) == m``."""
    return yaml.safe_dump(model_to_dict(m), sort_keys=False, allow_unicode=True, default_flow_style=None,
                          width=100_000)


# ---------------------------------------------------------------------------------------------- edit


def _flatten(d: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(d, dict) and d:
        for k, v in d.items():
            _flatten(v, f"{prefix}{k}.", out)
    elif isinstance(d, list) and d and all(isinstance(x, dict) and "name" in x for x in d):
        for x in d:
            _flatten({k: v for k, v in x.items() if k != "name"}, f"{prefix}{x['name']}.", out)
    else:
        out[prefix[:-1]] = d


def diff_models(a: Model, b: Model) -> list[ModelChange]:
    """Key-by-key differences from ``a`` to ``b`` (profiles and alerts keyed by name, lists as values)."""
    fa: dict[str, Any] = {}
    fb: dict[str, Any] = {}
    _flatten(model_to_dict(a), "", fa)
    _flatten(model_to_dict(b), "", fb)
    changes = [ModelChange(k, v, fb.get(k)) for k, v in fa.items() if fb.get(k, _ABSENT) != v]
    changes += [ModelChange(k, None, v) for k, v in fb.items() if k not in fa]
    return changes


_ABSENT = object()


def _child(node: Any, part: str) -> Any:
    """The item named ``part`` in a model dict's ``node`` (a mapping key, or a list item by name, else by index);
    None when there is none."""
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list):
        try:
            return node[_position(node, part, (part,))]
        except ModelError:
            return None
    return None


def key_parts(d: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """Split a dotted key (``"metrics.logins.per.user.weight"``) into parts against a model dict: a name with
    dots in it is one part where it exists (the longest existing name wins); the rest splits at dots."""
    parts: list[str] = []
    node: Any = d
    rest = key
    while True:
        names = ([str(i.get("name")) for i in node if isinstance(i, dict)] if isinstance(node, list)
                 else [str(k) for k in node] if isinstance(node, dict) else [])
        fits = [n for n in names if rest == n or rest.startswith(f"{n}.")]
        head = max(fits, key=len) if fits else rest.partition(".")[0]
        parts.append(head)
        if len(rest) <= len(head):
            return tuple(parts)
        rest, node = rest[len(head) + 1:], _child(node, head)


def _position(node: list, part: str, parts: Sequence[str]) -> int:
    """Where ``part`` is in a list of named items: the item of that name, else the index it spells."""
    for i, item in enumerate(node):
        if isinstance(item, dict) and str(item.get("name")) == part:
            return i
    if part.isdigit() and int(part) < len(node):
        return int(part)
    raise ModelError([Problem(".".join(parts), f"no list item '{part}'", "use an existing name or an index")])


def set_path(d: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    """Set the key at ``parts`` of a model dict (as :func:`model_to_dict` makes it) to ``value``, in place.

    Parts reach any name as written (dots, quotes, emoji); list items (profiles, alerts) are found by name,
    else by index. Missing mappings on the way are created.

    Raises:
        ModelError: the key is empty, names a list item that does not exist, or goes inside a plain value.
    """
    parts = tuple(str(p) for p in parts)
    if not parts:
        raise ModelError([Problem("(key)", "the key is empty", "name the setting to change")])
    node: Any = d
    for depth, part in enumerate(parts):
        if isinstance(node, list):
            at: Any = _position(node, part, parts)
        elif isinstance(node, dict):
            at = part
        else:
            raise ModelError([Problem(".".join(parts), "this key is inside a plain value", "check the key path")])
        if depth == len(parts) - 1:
            node[at] = value
        else:
            if isinstance(node, dict) and at not in node:
                node[at] = {}
            node = node[at]


def set_value(model: Model, key: str | Sequence[str], value: Any) -> Model:
    """A copy of ``model`` with one key set, re-validated.

    ``key`` is dotted (``"metrics.open_tickets.weight"``; a name with dots is found where it exists, see
    :func:`key_parts`) or its parts (``("metrics", "ARR ($)", "weight")``), which reach any name as written.
    Profiles and alerts are addressed by name (or index); missing intermediate mappings are created.

    Raises:
        ModelError: if the key cannot be reached or the edited model is invalid.
    """
    d = model_to_dict(model)
    set_path(d, key_parts(d, key) if isinstance(key, str) else tuple(key), value)
    return model_from_dict(d, source="model")


def effective_weights(model: Model) -> dict[str, dict[str, float]]:
    """Normalised weights per profile (``"Default"`` first) with every metric present; each sums to 1."""
    names = (DEFAULT_PROFILE, *(p.name for p in model.profiles))
    return {name: _structural_weights(model, name) for name in names}


def _close_columns(name: str, columns: list[str]) -> list[str]:
    same_case = [c for c in columns if c.lower() == name.lower()]
    return same_case or difflib.get_close_matches(name, columns, n=3, cutoff=0.6)


def check_columns(model: Model, columns: Iterable[str], not_metrics: Mapping[str, str] | None = None
                  ) -> list[Problem]:
    """Problems with the model against a table's columns: metric columns and segment columns not present.

    Args:
        model: the model to check (its expansion model is checked too).
        columns: the data's column names.
        not_metrics: columns no metric may read, each with what it is — the outcome and the known-health
            label, which a model is checked against (``lib.data.ingest.Roles.checked_against()``).

    Returns:
        One :class:`Problem` per missing column (naming close matches in the data where there are any) and
        per metric that reads a column of ``not_metrics``.
    """
    cols = [str(c) for c in columns]
    present = set(cols)
    not_metrics = not_metrics or {}
    problems: list[Problem] = []

    def hint(name: str, what: str) -> str:
        usable = [c for c in cols if what != "metric" or c not in not_metrics]
        near = _close_columns(name, usable)
        if near:
            return f"the data has {', '.join(repr(n) for n in near)} — rename the {what} to match"
        shown = ", ".join(repr(c) for c in usable[:12]) + (" …" if len(usable) > 12 else "")
        return f"use one of the data's columns: {shown}"

    def check(m: Model, prefix: str) -> None:
        for name, metric in m.metrics.items():
            aliased = metric.column != name  # then the fix is in the metric's `column`, not its name
            key = f"{prefix}metrics.{name}" + (".column" if aliased else "")
            if metric.column in not_metrics:
                what = not_metrics[metric.column]
                problems.append(Problem(
                    key, f"column '{metric.column}' cannot be a metric: scores are checked against it as {what}",
                    f"remove metrics.{name}; if the column is not {what}, map it as a metric"))
            elif metric.column not in present:
                problems.append(Problem(key, f"column '{metric.column}' is not in the data",
                                        hint(metric.column, "column" if aliased else "metric")))
        specs = [(f"{prefix}metrics.{n}.score.within", mt.score) for n, mt in m.metrics.items()]
        for i, p in enumerate(m.profiles):
            specs += [(f"{prefix}profiles[{i}].metrics.{n}.score.within", s) for n, s in p.metrics.items()]
            for col in p.when:
                if col not in present:
                    problems.append(Problem(f"{prefix}profiles[{i}].when.{col}",
                                            f"segment column '{col}' is not in the data", hint(col, "key")))
        for key, spec in specs:
            for col in getattr(spec, "within", ()):
                if col not in present:
                    problems.append(Problem(key, f"segment column '{col}' is not in the data",
                                            hint(col, "entry")))

    check(model, "")
    if model.expansion is not None:
        check(model.expansion, "expansion.")
    return problems


def column_label(column: str) -> str:
    """A column name made readable for a picker or a heading: 'days_since_contact' → 'Days since contact'."""
    return column.replace("_", " ").capitalize()


def metric_labels(model: Model) -> dict[str, str]:
    """Metric name → display label (the model's label, else the name made readable)."""
    return {m: metric.label or column_label(m) for m, metric in model.metrics.items()}


__all__ = [
    "Alert", "Bands", "Categories", "DEFAULT_PROFILE", "Linear", "MAX_WINDOW", "METHODS", "Metric", "Model",
    "ModelChange", "ModelError", "Percentile", "Problem", "Profile", "ScoreSpec", "Steps", "TRIM_CHARACTERS",
    "VsAverage", "WINDOW_STATS", "WINDOW_WORDS", "Window", "category_text", "check_columns", "diff_models",
    "column_label", "dump_model", "effective_weights", "key_parts", "load_model", "metric_labels", "model_from_dict",
    "model_to_dict", "normalise_category", "parse_model", "set_path", "set_value", "spec_from_dict", "spec_to_dict",
]
