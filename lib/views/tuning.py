"""The Tune page's core: slider ranges, default specs, draft edits and the live preview.

The page keeps the draft model as YAML text and edits it one dotted key at a time through
:func:`edit_draft` (which sets it with :func:`lib.engine.model.set_path` and re-validates, so a bad combination comes
back as the model's own "key: problem — fix" lines, never an exception). Edits that touch several keys at once —
a profile's own thresholds (:func:`own_thresholds`, :func:`base_thresholds`), data values added to a
categories map (:func:`add_categories`), a model fitted to a dataset's columns
(:func:`drop_missing_columns`), and the structural edits (metrics, groups, profiles and alerts added, renamed
or removed; grades and the expansion score on or off: :func:`add_metric` … :func:`expansion_off`) — work on
the draft as a dict and are validated the same way.

:class:`TuneData` holds what the preview needs from one dataset and the saved model, prepared once, so a
slider move costs one numpy rescore of the touched metric (the engine's :class:`~lib.engine.numpy_eval.LiveScorer`)
plus a few ``bincount`` calls — no per-row DataFrame is built.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from lib.analysis import Separation, separation
from lib.data.ingest import NOT_METRICS
from lib.engine.methods import (
    MAX_CATEGORIES,
    VALUE,
    category_keys,
    category_texts,
    data_categories,
    finite,
    method_of,
    named,
    nice_step,
    replaced,
    round2,
)
from lib.engine.model import (
    DEFAULT_PROFILE,
    WINDOW_WORDS,
    Categories,
    Model,
    ModelError,
    Problem,
    ScoreSpec,
    Steps,
    VsAverage,
    check_columns,
    diff_models,
    dump_model,
    key_parts,
    model_from_dict,
    model_to_dict,
    normalise_category,
    parse_model,
    set_path,
    spec_to_dict,
)
from lib.engine.numpy_eval import LiveScorer, band_codes
from lib.engine.plan import BANDS

RATIO_RANGE = (0.0, 3.0)  # vs_average cuts apply to value ÷ peer mean; 3× the average is already extreme
_BAND_CODE_NO_DATA = BANDS.index("no data")


# ---------------------------------------------------------------------------------------------- ranges


@dataclass(frozen=True)
class SliderRange:
    """A slider's bounds and step (floats; ``lo < hi``; step a 1-2-5 × 10^k number)."""

    lo: float
    hi: float
    step: float

    @property
    def decimals(self) -> int:
        """Decimals worth showing for values on this step (0 for whole steps)."""
        return max(0, -math.floor(math.log10(self.step) + 1e-9))

    @property
    def format(self) -> str:
        """A printf format for the slider's label (``%.0f``, ``%.2f`` …)."""
        return f"%.{self.decimals}f"


def _on_grid(x: float, step: float) -> bool:
    q = x / step
    return abs(q - round(q)) < 1e-6


def _finer(step: float) -> float:
    """The next smaller 1-2-5 × 10^k step (1 → 0.5 → 0.2 → 0.1 …)."""
    exp = math.floor(math.log10(step) + 1e-9)
    mantissa = round(step / 10**exp)
    return float(f"{(5 if mantissa == 1 else 2 if mantissa == 5 else 1) * 10.0 ** (exp - (mantissa == 1)):.12g}")


@dataclass(frozen=True)
class Spread:
    """Where the bulk of a metric's values lie: 1st and 99th percentile, any negative, all whole numbers."""

    p1: float
    p99: float
    negative: bool
    integer: bool = False

    @classmethod
    def of(cls, values: object) -> Spread | None:
        """The spread of the finite values, or None when there are none."""
        v = finite(values)
        if not len(v):
            return None
        p1, p99 = (float(x) for x in np.quantile(v, [0.01, 0.99]))
        return cls(p1, p99, bool(v.min() < 0), bool(np.all(v == np.floor(v))))


def slider_range(values: object, include: Iterable[float] = (), target_steps: int = 100) -> SliderRange:
    """Bounds for a threshold slider from a metric's raw values.

    Robust to outliers: the 1st–99th percentile widened by 10 % of that span on each side (not below 0
    when no value is negative; whole-number data gets whole steps), then widened to include ``include``
    (the thresholds the saved and draft models use, so a slider can always show them), with a step fine
    enough to land on each of them, and rounded outward to the step.

    Args:
        values: raw metric values (text and non-finite values are ignored), or their :class:`Spread`.
        include: values the range must contain.
        target_steps: about how many steps the slider has.
    """
    spread = values if isinstance(values, Spread) or values is None else Spread.of(values)
    marks = [float(x) for x in include if x is not None and math.isfinite(float(x))]
    if spread is not None:
        span = spread.p99 - spread.p1 if spread.p99 > spread.p1 else max(abs(spread.p1), 1.0)
        lo, hi = spread.p1 - 0.1 * span, spread.p99 + 0.1 * span
        if not spread.negative:
            lo = max(lo, 0.0)
    elif marks:
        lo, hi = min(marks), max(marks)
    else:
        lo, hi = 0.0, 1.0
    if marks:
        lo, hi = min(lo, *marks), max(hi, *marks)
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    step = nice_step(hi - lo, target_steps)
    if spread is not None and spread.integer and all(float(m).is_integer() for m in marks):
        step = max(step, 1.0)  # counts (open tickets): a cut at 2.5 means the same as one at 3
    # A threshold off the step grid would be shown snapped to it (1.5 on a 0.2 grid reads 1.4): refine.
    while not all(_on_grid(m, step) for m in marks) and step / 2 >= (hi - lo) / (20 * target_steps):
        step = _finer(step)
    lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    return SliderRange(float(f"{lo:.12g}"), float(f"{hi:.12g}"), step)


def ratio_range(include: Iterable[float] = ()) -> SliderRange:
    """Bounds for vs_average cuts (value ÷ peer average): 0–3 in steps of 0.05, widened to ``include``."""
    marks = [float(x) for x in include]
    lo, hi = min([RATIO_RANGE[0], *marks]), max([RATIO_RANGE[1], *marks])
    return SliderRange(math.floor(lo * 20) / 20, math.ceil(hi * 20) / 20, 0.05)


# ---------------------------------------------------------------------------------------------- specs


def lower_is_better(spec: ScoreSpec) -> bool:
    """Whether a spec scores low raw values high (linear red > green, steps with falling points, the flag)."""
    return method_of(spec).lower_is_better(spec)


def spec_marks(spec: ScoreSpec) -> tuple[float, ...]:
    """The raw-value thresholds a spec draws on its metric's histogram (linear red/green, steps cuts)."""
    found = method_of(spec)
    return found.marks(spec) if found.scale is VALUE else ()


def threshold_marks(saved: Model, draft: Model, metric: str, profile: str) -> tuple[float, ...]:
    """The thresholds a metric's sliders must reach under a profile: the draft's, then the saved model's (the
    draft's again when the saved model has no such metric), so the range covers where each one started."""
    spec = draft.spec_for(profile, metric)
    before = saved.spec_for(profile, metric) if metric in saved.metrics else spec
    return (*spec_marks(spec), *spec_marks(before))


def _category_text(values: object) -> pd.Series:
    """Values as category matching sees them (``lower(trim(cast(x as text)))`` keeps their spelling here):
    text without what matching trims, true/false for yes/no values; missing and blank values dropped."""
    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.map({True: "true", False: "false"})
    s = s[s.notna()]
    text = category_texts(s.astype(str))
    return text[text != ""].reset_index(drop=True)


def unmapped_categories(values: object, spec: Categories) -> pd.DataFrame:
    """Values in the data that a categories map does not list (they score as missing).

    Args:
        values: a metric's raw values, e.g. one per account at a date.
        spec: the categories spec they are matched against (case and surrounding spaces ignored).

    Returns:
        ``value, accounts``: each unmapped value as first written, with how many of ``values`` it is, most
        frequent first (ties by value). Values are data: show them as text only.
    """
    text = _category_text(values)
    keys = category_keys(text)
    unknown = ~keys.isin(list(spec.lookup()))
    text, keys = text[unknown], keys[unknown]
    if text.empty:
        return pd.DataFrame({"value": pd.Series(dtype=object), "accounts": pd.Series(dtype="int64")})
    first = pd.Series(text.to_numpy(), index=keys.to_numpy()).groupby(level=0, sort=False).first()
    counts = keys.value_counts(sort=False)
    out = pd.DataFrame({"value": first.reindex(counts.index).to_numpy(), "accounts": counts.to_numpy()})
    return out.sort_values(["accounts", "value"], ascending=[False, True], kind="stable").reset_index(drop=True)


def default_spec(method: str, values: object, previous: ScoreSpec | None = None) -> dict[str, Any]:
    """A sensible score spec (YAML dict) for ``method`` from a metric's raw values.

    Thresholds come from the data's quantiles, rounded to two significant digits: linear runs from the
    10th (0 points) to the 90th percentile (100 points); steps cut at the terciles with points 0 / 50 /
    100; vs_average uses 80 % / 120 % of the peer average; categories list the categories found (up to
    20) with points from their words (green/good → 100, red/bad → 0, else 50) or, for numbers, spread by
    value. The direction (lower is better) and peer groups (``within``) of ``previous`` are kept.

    Raises:
        ValueError: unknown method, or a numeric method on a column with no numbers / categories on a
            column with no values; the message says what to do.
    """
    lower = lower_is_better(previous) if previous is not None else False
    within = list(previous.within) if previous is not None and method_of(previous).peers else []
    return named(method).default(values, lower, within)


def reverse_direction(spec: ScoreSpec) -> dict[str, Any] | bool:
    """The edit that flips "lower is better": a swapped linear spec / reversed step points as a spec
    dict, or the new flag value for percentile and vs_average."""
    return method_of(spec).reversed(spec)


def direction_key(spec: ScoreSpec, key: tuple[str, ...]) -> tuple[str, ...]:
    """The model key (parts) that :func:`reverse_direction`'s value goes to, for a spec edited at ``key``: the
    ``lower_is_better`` flag for percentile and vs_average, else the whole spec."""
    return method_of(spec).direction_key(spec, key)


def with_step(spec: Steps | VsAverage, step: float) -> dict[str, Any]:
    """The spec (YAML dict) with one more interval: a cut ``step`` above the last, repeating its points."""
    out = spec_to_dict(spec)
    out["cuts"] = [*spec.cuts, float(f"{spec.cuts[-1] + step:.12g}")]
    out["points"] = [*spec.points, spec.points[-1]]
    return out


def without_step(spec: Steps | VsAverage) -> dict[str, Any]:
    """The spec (YAML dict) without its last cut and the points above it (at least one cut stays)."""
    if len(spec.cuts) < 2:
        raise ValueError("a step score needs at least one cut — switch the method to drop the steps")
    out = spec_to_dict(spec)
    out["cuts"], out["points"] = list(spec.cuts[:-1]), list(spec.points[:-1])
    return out


# ---------------------------------------------------------------------------------------------- edits


@dataclass(frozen=True)
class EditResult:
    """The draft after an edit: ``yaml`` is the new draft, or the unchanged one when ``problems`` say why."""

    yaml: str
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def edit_draft(draft_yaml: str, key: str | Sequence[str], value: Any) -> EditResult:
    """Set one key of the draft, re-validated by the model.

    Args:
        draft_yaml: the draft model's YAML text.
        key: a dotted key (``"metrics.nps.score.red"``; a name with dots is found only when it exists
            already), or the key's parts (``("metrics", "csm_sentiment", "score", "map", "n/a. <b>")``),
            which reach any name as written — use parts for names that come from data. Profiles and
            alerts are addressed by name (or index); missing mappings on the way are created.
        value: the new value (plain YAML data).

    Returns:
        The edited YAML, or the draft unchanged with one "key: problem — fix" line per problem.
    """
    return _edit(draft_yaml, lambda d: set_path(d, key_parts(d, key) if isinstance(key, str) else key, value))


def _edit(draft_yaml: str, change: Callable[[dict[str, Any]], None]) -> EditResult:
    """Apply ``change`` to the draft as a plain dict, then re-validate; a ModelError (from the change or the
    model) leaves the draft as it was and comes back as problem lines."""
    try:
        d = model_to_dict(parse_model(draft_yaml, source="draft"))
        change(d)
        return EditResult(dump_model(model_from_dict(d, source="draft")))
    except ModelError as err:
        return EditResult(draft_yaml, tuple(str(p) for p in err.problems))


def read_model_upload(data: bytes, filename: str, columns: Iterable[str]) -> str:
    """Validate an uploaded model file against the dataset's columns; return its YAML text.

    Raises:
        ModelError: not UTF-8, not a valid model, or a metric/segment column missing from the data —
            each problem names the key and the fix.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ModelError([Problem("(file)", "the file is not UTF-8 text",
                                  "save the model as UTF-8 YAML (a .yaml file from Download YAML)")],
                         filename) from None
    model = parse_model(text, source=filename)
    problems = check_columns(model, columns)
    if problems:
        raise ModelError(problems, filename)
    return text


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def diff_table(saved: Model, draft: Model) -> pd.DataFrame:
    """The draft's changes against the saved model, one row per setting: ``setting, saved, draft`` (text)."""
    changes = diff_models(saved, draft)
    return pd.DataFrame({"setting": [c.key for c in changes], "saved": [_show(c.old) for c in changes],
                         "draft": [_show(c.new) for c in changes]}, columns=["setting", "saved", "draft"])


def grouped_metrics(model: Model) -> list[tuple[str | None, list[str]]]:
    """Metrics under their group, in the model's group order; one ``(None, all metrics)`` without groups."""
    if not model.groups:
        return [(None, list(model.metrics))]
    return [(g, [m for m, metric in model.metrics.items() if metric.group == g]) for g in model.groups]


def group_shares(model: Model, profile: str, weights: Mapping[str, float]) -> dict[str, float]:
    """Each group's share of the score under a profile (sum of its metrics' effective weights)."""
    out: dict[str, float] = dict.fromkeys(model.groups or {}, 0.0)
    for metric, w in weights.items():
        group = model.metrics[metric].group
        if group in out:
            out[group] += w
    return out


def new_model_name_problem(name: str, existing: Iterable[str]) -> str | None:
    """Why ``name`` cannot name a new model (empty, or taken), or None when it can."""
    name = name.strip()
    if not name:
        return "name the new model, e.g. 'Q3 draft'"
    if name in set(existing):
        return f"a model called '{name}' exists — pick another name, or save as a new version of it"
    return None


def profile_choices(model: Model) -> list[str]:
    """The profiles to pick from on the Tune page: ``Default`` first, then the model's in match order."""
    return list(dict.fromkeys([DEFAULT_PROFILE, *model.profile_names]))


def profile_caption(model: Model, profile: str) -> str:
    """Which accounts a profile scores, in words ("stage is Onboarding or Trial"; Default: the rest)."""
    p = model.profile(profile)
    if p is None:
        return "Accounts no other profile matches" if model.profiles else "Every account"
    return "Accounts where " + " and ".join(f"{col} is {' or '.join(vals)}" for col, vals in p.when.items())


def spec_path(model: Model, metric: str, profile: str) -> tuple[str, ...]:
    """Where a metric's score spec under a profile is edited, as key parts for :func:`edit_draft` (names as
    written, dots and all): the profile's own spec where it has one (``("profiles", "Onboarding", "metrics",
    "nps", "score")``), else the base spec (``("metrics", "nps", "score")``)."""
    p = model.profile(profile)
    if p is not None and metric in p.metrics:
        return ("profiles", profile, "metrics", metric, "score")
    return ("metrics", metric, "score")


def has_own_thresholds(model: Model, metric: str, profile: str) -> bool:
    """Whether a profile overrides a metric's score spec (never for ``Default``)."""
    p = model.profile(profile)
    return p is not None and metric in p.metrics


def _profile_dict(d: dict[str, Any], profile: str) -> dict[str, Any]:
    for p in d.get("profiles") or []:
        if p.get("name") == profile:
            return p
    message = (f"'{profile}' scores with the base thresholds" if profile == DEFAULT_PROFILE
               else f"there is no profile '{profile}'")
    raise ModelError([Problem("profiles", message, "pick one of the model's profiles first")])


def own_thresholds(draft_yaml: str, metric: str, profile: str) -> EditResult:
    """Give a profile its own score spec for a metric: a copy of the base spec, under the profile's
    ``metrics`` (unchanged when it has one already). Edits to it then change only that profile."""
    def change(d: dict[str, Any]) -> None:
        p = _profile_dict(d, profile)
        if metric not in d["metrics"]:
            raise ModelError([Problem(f"metrics.{metric}", f"the model has no metric '{metric}'",
                                      "pick one of its metrics")])
        p.setdefault("metrics", {}).setdefault(metric, {"score": copy.deepcopy(d["metrics"][metric]["score"])})
    return _edit(draft_yaml, change)


def base_thresholds(draft_yaml: str, metric: str, profile: str) -> EditResult:
    """Drop a profile's own score spec for a metric, so the profile falls back to the base spec."""
    def change(d: dict[str, Any]) -> None:
        p = _profile_dict(d, profile)
        (p.get("metrics") or {}).pop(metric, None)
        if not p.get("metrics"):
            p.pop("metrics", None)
    return _edit(draft_yaml, change)


def add_categories(draft_yaml: str, metric: str, profile: str, values: Iterable[object],
                   points: float) -> EditResult:
    """Add values to the categories map a metric uses under a profile (its own map if it has one, else the
    base map), each with ``points``. Values are kept as written (surrounding spaces trimmed); ones the map
    already matches, and blanks, are skipped. Any text is safe: the map key is reached by parts, not dots.
    """
    try:
        model = parse_model(draft_yaml, source="draft")
    except ModelError as err:
        return EditResult(draft_yaml, tuple(str(p) for p in err.problems))
    path = spec_path(model, metric, profile) if metric in model.metrics else ("metrics", metric, "score")
    spec = model.spec_for(profile, metric) if metric in model.metrics else None
    if spec is None or method_of(spec).numeric:
        return EditResult(draft_yaml, (str(Problem(".".join(path), "this metric is not scored by categories",
                                                   "switch its method to categories first")),))
    new_map = dict(spec.map)
    known = set(spec.lookup())
    for text in _category_text(pd.Series(list(values), dtype=object)):
        if normalise_category(text) not in known:
            new_map[text] = points
            known.add(normalise_category(text))
    return edit_draft(draft_yaml, (*path, "map"), new_map)


def weight_path(model: Model, metric: str, profile: str) -> tuple[str, ...]:
    """Where a metric's weight under a profile is edited, as key parts for :func:`edit_draft`: the base weight
    for ``Default`` (``("metrics", "nps", "weight")``), else the profile's own (``("profiles", "Onboarding",
    "weights", "nps")``)."""
    if model.profile(profile) is None:
        return ("metrics", metric, "weight")
    return ("profiles", profile, "weights", metric)


# ---------------------------------------------------------------------------------------------- structure

DEFAULT_GRADES = {"A": 85, "B": 70, "C": 55, "D": 40}
EXPANSION_WEIGHT = 10  # each metric of a new expansion score weighs the same


def _refuse(key: str, message: str, fix: str) -> NoReturn:
    """Stop an edit with one "key: problem — fix" line (:func:`_edit` turns it into the result's problems)."""
    raise ModelError([Problem(key, message, fix)])


def _scope(d: dict[str, Any], expansion: bool) -> tuple[dict[str, Any], str]:
    """The model dict an edit works on (the draft, or its expansion score) and its key prefix."""
    if not expansion:
        return d, ""
    if d.get("expansion") is None:
        _refuse("expansion", "the model has no expansion score", "turn the expansion score on first")
    return d["expansion"], "expansion."


def _typical_weight(weights: Iterable[float]) -> float:
    """A new metric's or group's starting weight: the median of its siblings' (a typical one), at least 1."""
    w = [float(x) for x in weights]
    return max(1.0, round2(float(np.median(w)))) if w else 1.0


def metric_candidates(model: Model, columns: Iterable[object], expansion: bool = False) -> list[str]:
    """The data's columns a new metric can read, in the data's order: all but :data:`NOT_METRICS` and the
    columns the model (or its expansion score) already scores. Role columns such as ``ARR ($)`` are offered
    by the name the data gives them."""
    target = model.expansion if expansion else model
    used = {m.column for m in target.metrics.values() if m.window is None} if target is not None else set()
    return [c for c in map(str, columns) if c not in NOT_METRICS and c not in used]


def proposed_method(values: object) -> str:
    """How a new metric on these values scores: ``linear`` when (nearly) every present value is a number,
    else ``categories`` (text, yes/no values)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    present = s.dropna()
    if pd.api.types.is_bool_dtype(s.dtype) or present.empty:
        return "categories" if len(present) else "linear"
    return "linear" if len(finite(present)) >= 0.9 * len(present) else "categories"


def suggested_weight(model: Model) -> float:
    """The weight :func:`add_metric` gives a new metric unless told: the median of the base weights."""
    return _typical_weight(m.weight for m in model.metrics.values())


def _new_metric(column: str, values: object, key: str) -> dict[str, Any]:
    """A metric entry's score for ``column``: :func:`default_spec` of :func:`proposed_method`."""
    try:
        return default_spec(proposed_method(values), values)
    except ValueError as err:
        message, _, fix = str(err).partition(" — ")
        _refuse(key, message, fix or "pick another column")


def add_metric(draft_yaml: str, column: str, values: object, *, weight: float | None = None,
               group: str | None = None, expansion: bool = False, window: Mapping[str, Any] | None = None,
               values_of: Callable[[Model, str], object] | None = None) -> EditResult:
    """Add a metric reading ``column`` (named as the data names it), scored from its values.

    The score spec is :func:`default_spec` for :func:`proposed_method` (numbers: linear between the 10th and
    90th percentile; text: categories with the values found). Without ``weight`` the metric weighs like a
    typical one (:func:`suggested_weight`); when the model has groups it joins ``group`` (default the first).
    ``expansion`` adds it to the expansion score instead. With ``window`` (and ``values_of``, see
    :func:`set_window`) the metric scores that statistic of the column, named :func:`window_metric_name`, so
    a column can feed a level and a trend.
    """
    name = column if window is None else window_metric_name(column, window)

    def change(d: dict[str, Any]) -> None:
        model, prefix = _scope(d, expansion)
        key = f"{prefix}metrics.{name}"
        if column in NOT_METRICS:
            _refuse(key, f"'{column}' names the account, date or outcome, not something to score",
                    "pick a column that measures the account")
        if name in model["metrics"]:
            _refuse(key, f"the model scores '{name}' already", "edit it under Thresholds, or pick another column")
        entry: dict[str, Any] = {
            "weight": _typical_weight(m["weight"] for m in model["metrics"].values()) if weight is None else weight,
            "score": _new_metric(column, values, f"{key}.score")}
        if name != column:
            entry = {"column": column, **entry}
        if model.get("groups"):
            entry = {"group": next(iter(model["groups"])) if group is None else group, **entry}
        model["metrics"][name] = entry
    added = _edit(draft_yaml, change)
    if window is None or not added.ok or values_of is None:
        return added
    return set_window(added.yaml, name, window, values_of, expansion=expansion)


def window_metric_name(column: str, window: Mapping[str, Any]) -> str:
    """The name a new window metric gets: 'Logins/User · mean 3'."""
    return f"{column} · {WINDOW_WORDS.get(window['stat'], window['stat'])} {window['snapshots']}"


def set_window(draft_yaml: str, metric: str, window: Mapping[str, Any] | None,
               values_of: Callable[[Model, str], object], *, expansion: bool = False) -> EditResult:
    """Score a metric's window statistic (``{snapshots, stat}``) or, with None, its raw value again.

    The statistic has another scale than the raw value (a % change against a level), so fixed thresholds
    (linear, steps) are proposed again from what the metric now scores — ``values_of(model, metric)`` on the
    edited model — keeping their direction; the base spec and every profile's own spec alike. Percentile and
    vs_average rank or compare among peers and keep their settings.
    """
    def change(d: dict[str, Any]) -> None:
        model, prefix = _scope(d, expansion)
        entry = model["metrics"].get(metric)
        if entry is None:
            _refuse(f"{prefix}metrics.{metric}", f"the model has no metric '{metric}'", "pick one of its metrics")
        if window is None:
            entry.pop("window", None)
        else:
            entry["window"] = dict(window)
        edited = model_from_dict(d, source="draft")
        target = edited.expansion if expansion else edited
        values = values_of(target, metric)
        holders = [(entry, target.metrics[metric].score)] + [
            (p["metrics"][metric], target.profile(p["name"]).metrics[metric])
            for p in model.get("profiles") or [] if metric in (p.get("metrics") or {})]
        for holder, old in holders:
            if method_of(old).scale is VALUE:  # thresholds on the raw value's scale
                holder["score"] = _proposed(old.method, values, old, f"{prefix}metrics.{metric}.window")
    return _edit(draft_yaml, change)


def _proposed(method: str, values: object, previous: ScoreSpec, key: str) -> dict[str, Any]:
    try:
        return default_spec(method, values, previous=previous)
    except ValueError as err:
        message, _, fix = str(err).partition(" — ")
        _refuse(key, message.replace("the column has", "the statistic has"), fix or "pick another window")


def remove_metric(draft_yaml: str, metric: str, *, expansion: bool = False) -> EditResult:
    """Remove a metric with its profile weights and thresholds (not the last one: a model scores something)."""
    def change(d: dict[str, Any]) -> None:
        model, prefix = _scope(d, expansion)
        key = f"{prefix}metrics.{metric}"
        if metric not in model["metrics"]:
            _refuse(key, f"the model has no metric '{metric}'", "pick one of its metrics")
        if len(model["metrics"]) == 1:
            _refuse(key, "it is the only metric, and a score needs one",
                    "turn the expansion score off instead" if expansion else "add another metric first")
        del model["metrics"][metric]
        for profile in model.get("profiles") or []:
            for part in ("weights", "metrics"):
                (profile.get(part) or {}).pop(metric, None)
                if part in profile and not profile[part]:
                    del profile[part]
    return _edit(draft_yaml, change)


def relabel_metric(draft_yaml: str, metric: str, label: str, *, expansion: bool = False) -> EditResult:
    """Give a metric a display label; a blank label (or the column's own name) shows the column name."""
    def change(d: dict[str, Any]) -> None:
        model, prefix = _scope(d, expansion)
        if metric not in model["metrics"]:
            _refuse(f"{prefix}metrics.{metric}", f"the model has no metric '{metric}'", "pick one of its metrics")
        text = label.strip()
        if text and text != metric:
            model["metrics"][metric]["label"] = text
        else:
            model["metrics"][metric].pop("label", None)
    return _edit(draft_yaml, change)


def _group_name(d: dict[str, Any], name: str) -> str:
    """``name`` trimmed, refused when blank or taken."""
    text = name.strip()
    if not text:
        _refuse("groups", "a group needs a name", "type a name such as Engagement")
    if text in (d.get("groups") or {}):
        _refuse(f"groups.{text}", f"there is a group '{text}' already", "pick another name")
    return text


def add_group(draft_yaml: str, name: str, weight: float | None = None) -> EditResult:
    """Add a group (weight default: the median group weight). A model without groups gets its first group,
    and every metric joins it, so its score does not change."""
    def change(d: dict[str, Any]) -> None:
        text = _group_name(d, name)
        groups = d.get("groups")
        if not groups:
            d["groups"] = {text: 100 if weight is None else weight}
            for metric in d["metrics"].values():
                metric["group"] = text
            return
        groups[text] = _typical_weight(groups.values()) if weight is None else weight
    return _edit(draft_yaml, change)


def rename_group(draft_yaml: str, old: str, new: str) -> EditResult:
    """Rename a group in place (same position and weight); every metric in it follows."""
    if new.strip() == old:
        return EditResult(draft_yaml)

    def change(d: dict[str, Any]) -> None:
        if old not in (d.get("groups") or {}):
            _refuse(f"groups.{old}", f"there is no group '{old}'", "pick one of the model's groups")
        text = _group_name(d, new)
        d["groups"] = {text if g == old else g: w for g, w in d["groups"].items()}
        for metric in d["metrics"].values():
            if metric.get("group") == old:
                metric["group"] = text
    return _edit(draft_yaml, change)


def group_members(model: Model, group: str) -> list[str]:
    """The metrics in a group, in the model's order."""
    return [m for m, metric in model.metrics.items() if metric.group == group]


def remove_group(draft_yaml: str, group: str, move_to: str | None = None) -> EditResult:
    """Remove a group; its metrics move to ``move_to``. A group that still has metrics is refused without
    one, and so is the only group (turn groups off instead: :func:`groups_off`)."""
    def change(d: dict[str, Any]) -> None:
        groups = d.get("groups") or {}
        key = f"groups.{group}"
        if group not in groups:
            _refuse(key, f"there is no group '{group}'", "pick one of the model's groups")
        if len(groups) == 1:
            _refuse(key, "it is the only group", "turn groups off instead: every metric is then weighted directly")
        members = [m for m, metric in d["metrics"].items() if metric.get("group") == group]
        if members and (move_to is None or move_to == group):
            _refuse(key, f"the group still has {len(members)} metric{'s' * (len(members) != 1)} ("
                    + ", ".join(members) + ")", "pick another group to move them to, or remove them first")
        if members and move_to not in groups:
            _refuse(key, f"there is no group '{move_to}' to move its metrics to", "pick one of the model's groups")
        for m in members:
            d["metrics"][m]["group"] = move_to
        del groups[group]
    return _edit(draft_yaml, change)


def groups_off(draft_yaml: str) -> EditResult:
    """Drop the groups: every metric is weighted directly by its own weight again."""
    def change(d: dict[str, Any]) -> None:
        d.pop("groups", None)
        for metric in d["metrics"].values():
            metric.pop("group", None)
    return _edit(draft_yaml, change)


def _profile_at(d: dict[str, Any], profile: str) -> int:
    """The position of a (real) profile in the draft's list, refused with the model's wording when absent."""
    for i, p in enumerate(d.get("profiles") or []):
        if p.get("name") == profile:
            return i
    _refuse(f"profiles.{profile}", f"there is no profile '{profile}'", "pick one of the model's profiles")


def _conditions(when: Mapping[str, Iterable[object]]) -> dict[str, list[str]]:
    """A profile's ``when`` from chosen values per segment column; a column with none chosen is no condition."""
    return {str(c): [str(v) for v in values] for c, values in when.items() if list(values)}


def add_profile(draft_yaml: str, name: str, when: Mapping[str, Iterable[object]]) -> EditResult:
    """Add a profile last in the match order (before Default) for the accounts ``when`` selects (segment column
    → values; columns with no values are left out). Its weights and thresholds start as the base ones."""
    def change(d: dict[str, Any]) -> None:
        d.setdefault("profiles", []).append({"name": name.strip(), "when": _conditions(when)})
    return _edit(draft_yaml, change)


def rename_profile(draft_yaml: str, old: str, new: str) -> EditResult:
    """Rename a profile (its place in the order, weights and thresholds stay)."""
    def change(d: dict[str, Any]) -> None:
        at = _profile_at(d, old)
        d["profiles"][at]["name"] = new.strip()
    return _edit(draft_yaml, change)


def set_condition(draft_yaml: str, profile: str, column: str, values: Iterable[object]) -> EditResult:
    """Set which values of a segment column a profile selects (none: the column is no longer a condition)."""
    def change(d: dict[str, Any]) -> None:
        at = _profile_at(d, profile)
        when = d["profiles"][at]["when"]
        chosen = _conditions({column: values})
        if chosen:
            when[column] = chosen[column]  # in its place, when the column was a condition already
        else:
            when.pop(column, None)
    return _edit(draft_yaml, change)


def move_profile(draft_yaml: str, profile: str, offset: int) -> EditResult:
    """Move a profile ``offset`` places in the match order (negative: earlier, so it wins more ties)."""
    def change(d: dict[str, Any]) -> None:
        i = _profile_at(d, profile)
        profiles = d["profiles"]
        j = min(max(i + offset, 0), len(profiles) - 1)
        profiles.insert(j, profiles.pop(i))
    return _edit(draft_yaml, change)


def remove_profile(draft_yaml: str, profile: str) -> EditResult:
    """Remove a profile: the accounts it matched fall to the next matching profile, or Default."""
    def change(d: dict[str, Any]) -> None:
        at = _profile_at(d, profile)  # first: it refuses a model without profiles
        del d["profiles"][at]
        if not d["profiles"]:
            del d["profiles"]
    return _edit(draft_yaml, change)


def alert_rule(name: str, drop: float | None = None, within: int = 1, to_band: str | None = None) -> dict[str, Any]:
    """An alert as the model file writes it: ``{name, drop, within}`` or ``{name, to_band}``."""
    if to_band is not None:
        return {"name": name.strip(), "to_band": to_band}
    return {"name": name.strip(), "drop": drop, "within": within}


def set_alert(draft_yaml: str, name: str | None, rule: Mapping[str, Any]) -> EditResult:
    """Add an alert (``name`` None) or replace the one called ``name`` with ``rule`` (see :func:`alert_rule`)."""
    def change(d: dict[str, Any]) -> None:
        alerts = d.setdefault("alerts", [])
        if name is None:
            alerts.append(dict(rule))
            return
        at = next((i for i, a in enumerate(alerts) if a.get("name") == name), None)
        if at is None:
            _refuse(f"alerts.{name}", f"there is no alert '{name}'", "pick one of the model's alerts")
        alerts[at] = dict(rule)
    return _edit(draft_yaml, change)


def remove_alert(draft_yaml: str, name: str) -> EditResult:
    """Remove the alert called ``name``."""
    def change(d: dict[str, Any]) -> None:
        alerts = d.get("alerts") or []
        if not any(a.get("name") == name for a in alerts):
            _refuse(f"alerts.{name}", f"there is no alert '{name}'", "pick one of the model's alerts")
        d["alerts"] = [a for a in alerts if a.get("name") != name]
        if not d["alerts"]:
            del d["alerts"]
    return _edit(draft_yaml, change)


def set_grades(draft_yaml: str, on: bool) -> EditResult:
    """Turn letter grades on (A/B/C/D at 85/70/55/40, unless the draft has its own already) or off."""
    def change(d: dict[str, Any]) -> None:
        if not on:
            d.pop("grades", None)
        elif not d.get("grades"):
            d["grades"] = dict(DEFAULT_GRADES)
    return _edit(draft_yaml, change)


def expansion_on(draft_yaml: str, columns: Mapping[str, object]) -> EditResult:
    """Give the model an expansion score on ``columns`` (column → its values): each metric scored from its
    values like :func:`add_metric`, weighted equally, with the default bands."""
    def change(d: dict[str, Any]) -> None:
        if d.get("expansion") is not None:
            _refuse("expansion", "the model has an expansion score already", "add metrics to it, or turn it off first")
        if not columns:
            _refuse("expansion.metrics", "an expansion score needs at least one metric", "pick its columns")
        for column in columns:
            if column in NOT_METRICS:
                _refuse(f"expansion.metrics.{column}", f"'{column}' names the account, date or outcome, not "
                        "something to score", "pick a column that measures the account")
        d["expansion"] = {"name": "Expansion", "metrics": {  # bands: the model's defaults
            c: {"weight": EXPANSION_WEIGHT, "score": _new_metric(c, v, f"expansion.metrics.{c}.score")}
            for c, v in columns.items()}}
    return _edit(draft_yaml, change)


def expansion_off(draft_yaml: str) -> EditResult:
    """Drop the expansion score."""
    def change(d: dict[str, Any]) -> None:
        d.pop("expansion", None)
    return _edit(draft_yaml, change)



# ---------------------------------------------------------------------------------------------- fit


def _fit_dict(d: dict[str, Any], present: set[str], prefix: str, removed: list[str]) -> None:
    """Remove from a model dict (in place) what reads columns not in ``present``; say what in ``removed``.

    Profiles selecting on a missing column go (no account could be matched to them); metrics on a missing
    column go with their profile weights and thresholds; a missing peer segment leaves ``within`` (peers
    are then the rest of the segments, or the whole portfolio); groups left without metrics go.

    Raises:
        ModelError: every metric reads a missing column (nothing would be left to score).
    """
    metrics = d["metrics"]
    gone = [m for m in metrics if m not in present]
    if len(gone) == len(metrics):
        raise ModelError([Problem(f"{prefix}metrics", "every metric reads a column the data lacks ("
                                  + ", ".join(repr(m) for m in gone) + "), so nothing would be left to score",
                                  "upload a model made for this dataset (Upload YAML), or load data that has "
                                  "these columns on the Data page")])
    kept_profiles = []
    for prof in d.get("profiles") or []:
        lacking = [c for c in prof["when"] if c not in present]
        if lacking:
            removed.append(f"{prefix}profile '{prof['name']}': it picks accounts by '{lacking[0]}', which is "
                           "not in the data")
        else:
            kept_profiles.append(prof)
    for m in gone:
        uses = [p["name"] for p in kept_profiles if m in (p.get("weights") or {}) or m in (p.get("metrics") or {})]
        removed.append(f"{prefix}metric '{m}': its column is not in the data"
                       + (f" (with its settings in profile {', '.join(repr(u) for u in uses)})" if uses else ""))
        del metrics[m]
    specs = [(f"metric '{m}'", metric["score"]) for m, metric in metrics.items()]
    for prof in kept_profiles:
        for key in ("weights", "metrics"):
            for m in gone:
                (prof.get(key) or {}).pop(m, None)
            if key in prof and not prof[key]:
                del prof[key]
        specs += [(f"profile '{prof['name']}' metric '{m}'", override["score"])
                  for m, override in (prof.get("metrics") or {}).items()]
    for where, spec in specs:
        lacking = [c for c in spec.get("within", ()) if c not in present]
        if lacking:
            removed.append(f"{prefix}peer segment {', '.join(repr(c) for c in lacking)} of {where}: not in the data")
            spec["within"] = [c for c in spec["within"] if c in present]
    if kept_profiles:
        d["profiles"] = kept_profiles
    else:
        d.pop("profiles", None)
    if d.get("groups"):
        used = {metric.get("group") for metric in metrics.values()}
        for g in [g for g in d["groups"] if g not in used]:
            removed.append(f"{prefix}group '{g}': none of its metrics is left")
            del d["groups"][g]


def _fitted(d: dict[str, Any], columns: Iterable[str]) -> list[str]:
    present = {str(c) for c in columns}
    removed: list[str] = []
    _fit_dict(d, present, "", removed)
    if d.get("expansion") is not None:
        try:
            _fit_dict(d["expansion"], present, "expansion ", removed)
        except ModelError:
            removed.append("the expansion model: none of its metrics' columns is in the data")
            del d["expansion"]
    return removed


def misfit_removals(model: Model, columns: Iterable[str]) -> list[str]:
    """What :func:`drop_missing_columns` would remove from ``model``, one line each (empty when it fits or
    when nothing could be kept)."""
    try:
        return _fitted(model_to_dict(model), columns)
    except ModelError:
        return []


def drop_missing_columns(draft_yaml: str, columns: Iterable[str]) -> EditResult:
    """The draft without what reads columns the data lacks, so it can score the data.

    Metrics whose column is missing go, with their profile weights and thresholds (and groups left
    empty); a missing peer segment leaves the specs' ``within``; a profile selecting on a missing column
    goes. The result is validated like any edit.

    Returns:
        The fitted draft; or the draft unchanged with the reason — every metric's column is missing, or
        what is left is not a valid model (e.g. a profile would give no metric a weight).
    """
    cols = list(columns)

    def change(d: dict[str, Any]) -> None:
        _fitted(d, cols)
    return _edit(draft_yaml, change)


# ---------------------------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class Preview:
    """What the preview panel shows for a draft at one snapshot date (segment filters applied).

    Attributes:
        counts: index :data:`BANDS`; columns ``draft, saved, change`` (accounts at the date).
        over_time: the draft's accounts per band per snapshot date (index snapshot_date, columns BANDS).
        now: the draft's ``score, band`` per account at the date (for the score histogram).
        avg_score, avg_score_saved: mean score at the date (NaN when no account has one).
        n_accounts: accounts at the date; n_changed: of those, how many change band vs the saved model.
        movers: accounts that change band, biggest score change first: ``account_id, account_name,
            saved_score, saved_band, draft_score, draft_band, change``.
        separation, separation_saved: healthy-vs-struggling AUC of the draft's / saved model's score.
        compared: False when there is no saved model to compare with (it does not fit the data): the
            saved side is then all "no data" and nothing counts as a band change.
    """

    counts: pd.DataFrame
    over_time: pd.DataFrame
    now: pd.DataFrame
    avg_score: float
    avg_score_saved: float
    n_accounts: int
    n_changed: int
    movers: pd.DataFrame
    separation: Separation
    separation_saved: Separation
    compared: bool = True

    def band_change(self, band: str) -> int | None:
        """How many more accounts the draft puts in ``band`` than the saved model (None: nothing compared)."""
        return int(self.counts.at[band, "change"]) if self.compared else None

    @property
    def avg_score_change(self) -> float | None:
        """The draft's average score minus the saved model's, to 0.1 (None: nothing compared)."""
        return round(self.avg_score - self.avg_score_saved, 1) if self.compared else None

    @property
    def separation_change(self) -> float | None:
        """The draft's separation AUC minus the saved model's, to 0.001 (None: nothing compared, or the draft
        has no AUC)."""
        if math.isnan(self.separation.auc) or not self.compared:
            return None
        return round(self.separation.auc - self.separation_saved.auc, 3)


def _labels_key(labels: pd.Series) -> int:
    """A memo key for a set of account labels (a few thousand at most: hashing them is cheap)."""
    return hash(tuple(zip(labels.index.astype(str), labels.astype(str), strict=True)))


class TuneData:
    """The rows of one dataset aligned with a :class:`LiveScorer`, plus the saved model's scores (none when
    ``saved`` is None: a saved model that does not fit the data has nothing to compare with).

    Built once per (dataset revision, saved model); then :meth:`preview` summarises any draft in a few
    vectorised passes. Per-filter and per-date indexes and the last few drafts' scores are memoised on the
    instance (bounded per kind).
    """

    _MEMO_LIMIT = 16  # per kind of entry (masks, date rows, spreads …): small arrays or numbers
    _SCORES_LIMIT = 3  # score arrays are one float per row (7 MB per million rows)

    def __init__(self, scorer: LiveScorer, df: pd.DataFrame, saved: Model | None) -> None:
        # Rows in the scorer's order (by account, then date): its keys are reused, not recomputed.
        self.df = df
        self.saved = saved
        self.scorer = scorer
        self.order = scorer.row_order
        self.account_id = scorer.account_ids
        self.account_code = scorer.account_codes
        self.date_code = scorer.date_codes
        self.dates = scorer.dates
        order = self.order
        names = df["account_name"] if "account_name" in df.columns else df["account_id"]
        self.account_name = names.astype(object).where(names.notna(), df["account_id"]).astype(str) \
            .to_numpy(dtype=object)[order]
        if saved is None:  # nothing to compare with (the saved model cannot score this data): all "no data"
            self.saved_scores = np.full(len(self.order), np.nan)
            self.saved_bands = np.full(len(self.order), _BAND_CODE_NO_DATA, dtype=np.int8)
        else:
            self.saved_scores = scorer.overall(saved)
            self.saved_bands = band_codes(self.saved_scores, saved.bands.red, saved.bands.yellow)
        self._memo: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def _memoised(self, key: tuple, build, limit: int | None = None) -> Any:  # noqa: ANN001 - a callable
        """``build()`` once per key; each kind of entry (``key[0]``) keeps at most ``limit`` of its newest.

        Sessions share this object (it is cached per dataset), so the dict is only touched under a lock;
        building runs outside it.
        """
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = build()
        with self._lock:
            same_kind = [k for k in self._memo if k[0] == key[0]]
            for old in same_kind[: max(0, len(same_kind) - (limit or self._MEMO_LIMIT) + 1)]:
                del self._memo[old]
            self._memo[key] = value
        return value

    # -- indexes (model-independent)

    def _filter_key(self, filters: Mapping[str, Sequence[str]]) -> tuple:
        return tuple(sorted((c, tuple(sorted(map(str, v)))) for c, v in filters.items()
                            if v and c in self.df.columns))

    def mask(self, filters: Mapping[str, Sequence[str]]) -> np.ndarray | None:
        """Rows kept by segment filters (None when nothing is filtered), as ``lib.views.portfolio.apply_filters``."""
        active = self._filter_key(filters)
        if not active:
            return None

        def build() -> np.ndarray:
            keep = np.ones(len(self.order), dtype=bool)
            for column, values in active:
                keep &= self.df[column].astype(str).isin(values).to_numpy()[self.order]
            return keep
        return self._memoised(("mask", active), build)

    def date_index(self, as_of: pd.Timestamp) -> int:
        """Position of ``as_of`` among the snapshot dates.

        Raises:
            ValueError: the date is not a snapshot date of the dataset.
        """
        pos = self.dates.get_indexer([pd.Timestamp(as_of)])[0]
        if pos < 0:
            raise ValueError(f"{pd.Timestamp(as_of):%Y-%m-%d} is not a snapshot date of this dataset — "
                             "pick one of its dates in the sidebar")
        return int(pos)

    def rows_at(self, as_of: pd.Timestamp, filters: Mapping[str, Sequence[str]]) -> np.ndarray:
        """Positions (scorer order) of the rows at ``as_of`` kept by the filters."""
        d = self.date_index(as_of)

        def build() -> np.ndarray:
            at = self.date_code == d
            mask = self.mask(filters)
            return np.flatnonzero(at if mask is None else at & mask)
        return self._memoised(("at", d, self._filter_key(filters)), build)

    def row_labels(self, labels: pd.Series) -> np.ndarray:
        """Each row's account label from ``labels`` (account_id → 'healthy' / 'struggling': the file's labels
        with hand-set ones on top, ``lib.views.validation.known_labels``)."""

        def build() -> np.ndarray:
            pos = pd.Index(labels.index.astype(str)).get_indexer(self.account_id)
            values = np.append(labels.to_numpy(dtype=object), None)  # position -1 (unlabelled) → None
            return values[pos]
        return self._memoised(("labels", _labels_key(labels)), build, limit=2)

    def labelled_rows(self, as_of: pd.Timestamp, filters: Mapping[str, Sequence[str]],
                      labels: pd.Series) -> np.ndarray:
        """Each labelled account's latest row on or before ``as_of`` (as ``lib.analysis.labelled_accounts``)."""
        d = self.date_index(as_of)
        row_labels = self.row_labels(labels)

        def build() -> np.ndarray:
            ok = (self.date_code <= d) & (row_labels != None)  # noqa: E711 - element-wise on an object array
            nxt_same = np.r_[self.account_code[1:] == self.account_code[:-1], False]
            nxt_ok = np.r_[ok[1:], False]
            last = ok & ~(nxt_same & nxt_ok)  # rows are by account then date, so the next row is later
            mask = self.mask(filters)
            return np.flatnonzero(last if mask is None else last & mask)
        key = ("labelled", d, self._filter_key(filters), _labels_key(labels))
        return self._memoised(key, build)

    def _windowed(self, metric: str, model: Model | None) -> bool:
        return model is not None and metric in model.metrics and model.metrics[metric].window is not None

    def _column(self, metric: str, model: Model | None) -> str:
        """The column a metric reads (without ``model``, or for a name it lacks, ``metric`` is the column)."""
        return model.metrics[metric].column if model is not None and metric in model.metrics else metric

    def values(self, metric: str, model: Model | None = None) -> pd.Series:
        """What a metric scores over every row, in the data's row order (shared; read-only): the raw values of
        the column it reads, or its window statistic. Pass the (draft) model whenever a metric's name may not be
        its column."""
        if not self._windowed(metric, model):
            return self.df[self._column(metric, model)]
        values = np.empty(len(self.order))
        values[self.order] = self.scorer.values(model.metrics[metric])
        return pd.Series(values, index=self.df.index)

    def values_at(self, metric: str, as_of: pd.Timestamp, filters: Mapping[str, Sequence[str]],
                  model: Model | None = None) -> pd.Series:
        """What a metric scores at ``as_of`` (one per account, filters applied): see :meth:`values`."""
        rows = self.rows_at(as_of, filters)
        if self._windowed(metric, model):
            return pd.Series(self.scorer.values(model.metrics[metric])[rows])
        return self.df[self._column(metric, model)].iloc[self.order[rows]].reset_index(drop=True)

    def ratios_at(self, metric: str, within: Sequence[str], as_of: pd.Timestamp,
                  filters: Mapping[str, Sequence[str]], model: Model | None = None) -> pd.Series:
        """Value ÷ peer-group mean at ``as_of`` (what vs_average cuts apply to); peers are the whole
        portfolio at that date, as in scoring, and the filters are applied afterwards."""
        rows = self.order[self.rows_at(as_of, {})]
        frame = self.df.iloc[rows]
        v = pd.to_numeric(self.values_at(metric, as_of, {}, model), errors="coerce").astype(float)
        v.index = frame.index
        v = v.where(np.isfinite(v))
        if within:
            mean = v.groupby([frame[c].astype(str) for c in within], dropna=False).transform("mean")
        else:
            mean = pd.Series(v.mean(), index=v.index)
        ratio = (v / mean.where(mean != 0)).to_numpy()
        keep = self.mask(filters)
        if keep is not None:
            ratio = ratio[keep[self.rows_at(as_of, {})]]
        return pd.Series(ratio)

    def range_for(self, metric: str, include: Iterable[float] = (), model: Model | None = None) -> SliderRange:
        """Slider bounds for a metric's thresholds from all its values (see :meth:`values`; the spread memoised
        per column and window)."""
        found = model.metrics.get(metric) if model is not None else None
        key = ("spread", self._column(metric, model), found.window if found is not None else None)
        spread = self._memoised(key, lambda: Spread.of(self.values(metric, model)))
        return slider_range(spread, include)

    # -- the preview

    def scores(self, draft: Model) -> np.ndarray:
        """The draft's overall score per row (``LiveScorer.overall``), memoised on what decides it.

        Band cut-offs, grades, alerts and the name do not change a score, so moving the band slider, picking
        another metric or date, or a rerun with the same draft reuses the last scores.
        """
        key = ("scores", repr((draft.missing, draft.metrics, draft.groups, draft.profiles)))
        return self._memoised(key, lambda: self.scorer.overall(draft), limit=self._SCORES_LIMIT)

    def preview(self, draft: Model, as_of: pd.Timestamp, filters: Mapping[str, Sequence[str]], *,
                labels: pd.Series, top: int = 15) -> Preview:
        """Summarise a draft against the saved model at ``as_of`` (segment filters applied); separation is
        measured on ``labels`` (account_id → 'healthy' / 'struggling', as `lib.views.validation.known_labels`)."""
        draft_scores = self.scores(draft)
        mask = self.mask(filters)
        codes = band_codes(draft_scores, draft.bands.red, draft.bands.yellow)
        keep = slice(None) if mask is None else mask
        cell = self.date_code[keep] * len(BANDS) + codes[keep]
        over = np.bincount(cell, minlength=len(self.dates) * len(BANDS)).reshape(-1, len(BANDS))
        over_time = pd.DataFrame(over, index=self.dates, columns=pd.Index(BANDS, name="band"))
        at = self.rows_at(as_of, filters)
        now_draft = np.bincount(codes[at], minlength=len(BANDS))
        now_saved = np.bincount(self.saved_bands[at], minlength=len(BANDS))
        counts = pd.DataFrame({"draft": now_draft, "saved": now_saved, "change": now_draft - now_saved},
                              index=pd.Index(BANDS, name="band"))
        s_draft, s_saved = draft_scores[at], self.saved_scores[at]
        b_draft, b_saved = codes[at], self.saved_bands[at]
        changed = b_draft != b_saved if self.saved is not None else np.zeros(len(at), dtype=bool)
        delta = np.where(np.isnan(s_draft) | np.isnan(s_saved), 0.0, s_draft - s_saved)
        pick = np.flatnonzero(changed)
        pick = pick[np.lexsort((self.account_id[at][pick], -np.abs(delta[pick])))][:top]
        band_names = np.asarray(BANDS, dtype=object)
        movers = pd.DataFrame({
            "account_id": self.account_id[at][pick],
            "account_name": self.account_name[at][pick],
            "saved_score": s_saved[pick], "saved_band": band_names[b_saved[pick]],
            "draft_score": s_draft[pick], "draft_band": band_names[b_draft[pick]],
            "change": s_draft[pick] - s_saved[pick],
        })
        lab = self.labelled_rows(as_of, filters, labels)
        row_labels = self.row_labels(labels)
        return Preview(
            counts=counts,
            over_time=over_time,
            now=pd.DataFrame({"score": s_draft, "band": band_names[b_draft]}),
            avg_score=float(np.nanmean(s_draft)) if np.isfinite(s_draft).any() else float("nan"),
            avg_score_saved=float(np.nanmean(s_saved)) if np.isfinite(s_saved).any() else float("nan"),
            n_accounts=len(at),
            n_changed=int(changed.sum()),
            movers=movers,
            separation=separation(draft_scores[lab], row_labels[lab]),
            separation_saved=separation(self.saved_scores[lab], row_labels[lab]),
            compared=self.saved is not None,
        )


__all__ = [
    "DEFAULT_GRADES", "EXPANSION_WEIGHT", "MAX_CATEGORIES", "add_categories", "add_group", "add_metric", "add_profile",
    "alert_rule", "band_codes", "base_thresholds", "data_categories", "default_spec", "diff_table", "direction_key",
    "drop_missing_columns", "edit_draft", "EditResult", "expansion_off", "expansion_on", "group_members",
    "group_shares", "grouped_metrics", "groups_off", "has_own_thresholds", "lower_is_better", "metric_candidates",
    "misfit_removals", "move_profile", "new_model_name_problem", "nice_step", "own_thresholds", "Preview",
    "profile_caption", "profile_choices", "proposed_method", "ratio_range", "read_model_upload", "relabel_metric",
    "remove_alert", "remove_group", "remove_metric", "remove_profile", "rename_group", "rename_profile", "replaced",
    "reverse_direction", "set_alert", "set_condition", "set_grades", "slider_range", "SliderRange", "spec_marks",
    "spec_path", "Spread", "suggested_weight", "threshold_marks", "TuneData", "unmapped_categories", "weight_path",
    "with_step", "without_step",
]
