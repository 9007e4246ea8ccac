"""Property tests: random models and portfolios against a plain per-row reference and the engine's invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lib.engine.model import DEFAULT_PROFILE, Categories, Linear, Model, ModelError, Percentile, Steps, model_from_dict
from lib.engine.numpy_eval import LiveScorer
from lib.engine.sql import score
from tests.lib.helpers import assert_same_scores

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NUMBERS = [0.0, 1.0, 2.5, 4.0, 5.0, 7.0, 10.0, 12.0, 20.0]
CATEGORIES = ["green", " Yellow", "RED ", "purple"]
SEGMENTS = ["a", "b", "c"]
NUMERIC_METHODS = ["linear", "steps", "percentile", "vs_average"]
STATS = ["mean", "min", "max", "change", "pct_change", "slope"]

# ---------------------------------------------------------------------------------------------- strategies


def points(n: int) -> st.SearchStrategy:
    return st.lists(st.sampled_from([0, 10, 25, 50, 75, 100]), min_size=n, max_size=n)


@st.composite
def specs(draw, method: str) -> dict:
    if method == "linear":
        red, green = draw(st.lists(st.sampled_from([-2, 0, 1, 3, 5, 8, 12, 15]), min_size=2, max_size=2,
                                   unique=True))
        return {"method": "linear", "red": red, "green": green}
    if method == "categories":
        keys = draw(st.lists(st.sampled_from(["green", "yellow", "red"]), min_size=1, max_size=3, unique=True))
        return {"method": "categories", "map": {k: draw(st.sampled_from([0, 30, 50, 100])) for k in keys}}
    within = draw(st.sampled_from([[], ["seg"], ["seg", "tier"]]))
    if method == "percentile":
        return {"method": "percentile", "within": within, "lower_is_better": draw(st.booleans())}
    pool = [0.5, 0.8, 1.0, 1.2, 2.0] if method == "vs_average" else NUMBERS
    cuts = sorted(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)))
    spec = {"method": method, "cuts": cuts, "points": draw(points(len(cuts) + 1))}
    if method == "vs_average":
        spec.update(within=within, lower_is_better=draw(st.booleans()))
    return spec


@st.composite
def model_dicts(draw, min_metrics: int = 1, m0_rising: bool = False) -> dict:
    """A random model; ``m0_rising`` makes m0 a higher-is-better linear metric that no profile overrides."""
    k = draw(st.integers(min_metrics, 4))
    use_groups = draw(st.booleans())
    metrics = {}
    for i in range(k):
        method = draw(st.sampled_from([*NUMERIC_METHODS, "categories"]))
        metrics[f"m{i}"] = {"weight": draw(st.integers(0, 4)), "score": draw(specs(method))}
        if use_groups:
            metrics[f"m{i}"]["group"] = draw(st.sampled_from(["G1", "G2"]))
        if method != "categories":
            if draw(st.integers(0, 2)) == 0:
                window = {"snapshots": draw(st.integers(2, 4)), "stat": draw(st.sampled_from(STATS))}
                metrics[f"m{i}"]["window"] = window
            # the same column again, under another name (never m0's, which a property raises on its own)
            numeric = [n for n, m in metrics.items() if n not in ("m0", f"m{i}") and "column" not in m
                       and m["score"]["method"] != "categories"]
            if numeric and draw(st.integers(0, 2)) == 0:
                metrics[f"m{i}"]["column"] = draw(st.sampled_from(numeric))
    metrics["m0"]["weight"] = draw(st.integers(1, 4))
    if m0_rising:
        low, high = sorted(draw(st.lists(st.sampled_from([-2, 0, 1, 3, 5, 8, 12]), min_size=2, max_size=2,
                                         unique=True)))
        metrics["m0"]["score"] = {"method": "linear", "red": low, "green": high}
    red = draw(st.integers(0, 60))
    d: dict = {"name": "Random", "bands": {"red": red, "yellow": draw(st.integers(red + 1, 100))},
               "missing": draw(st.sampled_from(["renormalize", "zero"])), "metrics": metrics}
    if use_groups:
        metrics["m0"]["group"] = "G1"
        d["groups"] = {"G1": draw(st.integers(1, 4)), "G2": draw(st.integers(0, 4))}
    if draw(st.booleans()):
        d["grades"] = {"A": 80, "B": 60, "C": 40}
    profiles = []
    for j in range(draw(st.integers(0, 2))):
        when = {"seg": draw(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=2, unique=True))}
        if draw(st.booleans()):
            when["tier"] = ["x"]
        weights = {m: draw(st.integers(0, 4)) for m in metrics if draw(st.booleans())}
        overrides = {}
        for m, spec in metrics.items():
            if draw(st.integers(0, 3)) == 0 and not (m0_rising and m == "m0"):
                # an override reads the column the same way (numbers or categories) as the base spec
                categorical = spec["score"]["method"] == "categories"
                kind = "categories" if categorical else draw(st.sampled_from(NUMERIC_METHODS))
                overrides[m] = {"score": draw(specs(kind))}
        profiles.append({"name": f"P{j}", "when": when, "weights": weights, "metrics": overrides})
    if profiles:
        d["profiles"] = profiles
    alerts = []
    if draw(st.booleans()):
        alerts.append({"name": "Drop", "drop": draw(st.sampled_from([5, 10, 15, 25])),
                       "within": draw(st.integers(1, 3))})
    if draw(st.booleans()):
        alerts.append({"name": "Into", "to_band": draw(st.sampled_from(["red", "yellow", "green"]))})
    if alerts:
        d["alerts"] = alerts
    return d


def build(d: dict) -> Model:
    try:
        return model_from_dict(d)
    except ModelError:  # e.g. a profile whose weights are all 0: a valid refusal, not a case to score
        assume(False)
        raise


@st.composite
def portfolios(draw, model: dict) -> pd.DataFrame:
    n_accounts, n_dates = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    rows = []
    for a in range(n_accounts):
        for t in range(n_dates):
            if n_dates > 1 and draw(st.integers(0, 5)) == 0:
                continue  # accounts need not appear at every date
            row = {"account_id": f"acc{a}", "snapshot_date": pd.Timestamp("2025-01-06") + pd.Timedelta(weeks=t),
                   "seg": draw(st.sampled_from([*SEGMENTS, None])), "tier": draw(st.sampled_from(["x", "y"]))}
            for name, metric in model["metrics"].items():
                if "column" in metric:
                    continue  # reads another metric's column
                if metric["score"]["method"] == "categories":
                    row[name] = draw(st.sampled_from([*CATEGORIES, None]))
                else:
                    row[name] = draw(st.sampled_from([*NUMBERS, np.nan, np.nan, "n/a"] if name == "m1"
                                                     else [*NUMBERS, np.nan]))
            rows.append(row)
    assume(rows)
    return pd.DataFrame(rows)


@st.composite
def cases(draw, min_metrics: int = 1, m0_rising: bool = False, missing: str | None = None
          ) -> tuple[Model, pd.DataFrame]:
    d = draw(model_dicts(min_metrics, m0_rising))
    if missing is not None:
        d["missing"] = missing
    return build(d), draw(portfolios(d))


# ---------------------------------------------------------------------------------------------- reference


def rounded(x: float, decimals: int) -> float:
    """Half away from zero, as documented for scores (and as DuckDB's ROUND does)."""
    y = x * 10.0**decimals
    t = math.trunc(y)
    return (t + (math.copysign(1, y) if abs(y - t) >= 0.5 else 0)) / 10.0**decimals


def reference(model: Model, df: pd.DataFrame) -> pd.DataFrame:
    """A deliberately plain per-row implementation of the documented rules (quadratic; tiny data only)."""
    rows = df.to_dict("records")

    def missing(x) -> bool:
        return x is None or (isinstance(x, float) and math.isnan(x))

    def num(x) -> float | None:
        if missing(x):
            return None
        try:
            v = float(x)
        except ValueError:
            return None
        return v if math.isfinite(v) else None

    def text(x) -> str | None:
        return None if missing(x) else str(x)

    def step(v, cuts, pts):
        for c, p in zip(cuts, pts, strict=False):
            if v < c:
                return p
        return pts[-1]

    def value(name, r) -> float | None:
        """The metric's raw number, or its window statistic over the account's rows up to this one."""
        metric = model.metrics[name]
        if metric.window is None:
            return num(r[metric.column])
        mine = sorted((q for q in rows if q["account_id"] == r["account_id"]
                       and q["snapshot_date"] <= r["snapshot_date"]), key=lambda q: q["snapshot_date"])
        size, stat = metric.window.snapshots, metric.window.stat
        window = [num(q[metric.column]) for q in mine[-size:]]
        present = [(x, y) for x, y in enumerate(window) if y is not None]
        full = len(window) == size
        if stat in ("mean", "min", "max"):
            ys = [y for _, y in present]
            return None if not ys else {"mean": sum(ys) / len(ys), "min": min(ys), "max": max(ys)}[stat]
        if stat in ("change", "pct_change"):
            first, last = window[0], window[-1]
            if not full or first is None or last is None or (stat == "pct_change" and first == 0):
                return None
            return last - first if stat == "change" else 100 * (last - first) / abs(first)
        if not full or len(present) < 2:
            return None
        n, sx = len(present), sum(x for x, _ in present)
        sy, sxy, sxx = sum(y for _, y in present), sum(x * y for x, y in present), sum(x * x for x, _ in present)
        return (n * sxy - sx * sy) / (n * sxx - sx * sx)

    def metric_score(spec, name, r):
        if isinstance(spec, Categories):
            raw = r[model.metrics[name].column]
            return None if missing(raw) else spec.lookup().get(str(raw).strip(" ").lower())
        v = value(name, r)
        if v is None:
            return None
        if isinstance(spec, Linear):
            t = (v - spec.red) / (spec.green - spec.red)
            return 0.0 if t <= 0 else 100.0 if t >= 1 else t * 100
        if isinstance(spec, Steps):
            return step(v, spec.cuts, spec.points)
        peers = [value(name, q) for q in rows if q["snapshot_date"] == r["snapshot_date"]
                 and all(text(q[c]) == text(r[c]) for c in spec.within)]
        peers = [p for p in peers if p is not None]
        if isinstance(spec, Percentile):
            if len(peers) == 1:
                return 50.0
            ahead = sum(p > v for p in peers) if spec.lower_is_better else sum(p < v for p in peers)
            return 100 * ahead / (len(peers) - 1)
        mean = sum(peers) / len(peers)
        if mean == 0:
            return None
        return step(rounded(v / mean, 9), spec.cuts, spec.points[::-1] if spec.lower_is_better else spec.points)

    def band(s):
        if s is None:
            return "no data"
        return "red" if s <= model.bands.red else "yellow" if s <= model.bands.yellow else "green"

    out = []
    for r in rows:
        profile = next((p.name for p in model.profiles
                        if all(text(r[c]) in vals for c, vals in p.when.items())), DEFAULT_PROFILE)
        raw = model.weights_for(profile)
        s = {m: metric_score(model.spec_for(profile, m), m, r) for m in model.metrics}
        present = {m: raw[m] > 0 and (s[m] is not None or model.missing == "zero") for m in model.metrics}
        groups = model.groups or {None: 1.0}
        group = {m: (model.metrics[m].group if model.groups else None) for m in model.metrics}
        gsum = {g: sum(raw[m] for m in model.metrics if group[m] == g and present[m]) for g in groups}
        total = sum(gw for g, gw in groups.items() if gsum[g] > 0)
        eff = {m: groups[group[m]] / total * (raw[m] / gsum[group[m]]) if present[m] and total > 0 else 0.0
               for m in model.metrics}
        usable = any(s[m] is not None and eff[m] > 0 for m in model.metrics)
        total_score = sum(eff[m] * (s[m] if s[m] is not None else 0.0) for m in model.metrics)
        sc = rounded(total_score, 6) if usable else None
        grade = None
        if model.grades and sc is not None:
            grade = next((g for g, v in model.grades.items() if sc >= v), "F")
        row = {"account_id": r["account_id"], "snapshot_date": r["snapshot_date"], "profile": profile,
               "score": sc, "band": band(sc), "grade": grade}
        for m in model.metrics:
            row[f"{m}_score"], row[f"{m}_weight"] = s[m], eff[m]
            row[f"{m}_contribution"] = eff[m] * (s[m] if s[m] is not None else 0.0)
        out.append(row)

    out.sort(key=lambda x: (x["account_id"], x["snapshot_date"]))
    for i, row in enumerate(out):
        history = [p for p in out[:i] if p["account_id"] == row["account_id"]]
        prev = history[-1]["score"] if history else None
        row["change"] = rounded(row["score"] - prev, 6) if row["score"] is not None and prev is not None else None
        fired = []
        for a in model.alerts:
            if a.to_band is not None:
                hit = row["band"] == a.to_band and prev is not None and band(prev) != a.to_band
            else:
                window = [p["score"] for p in history[-a.within:] if p["score"] is not None]
                hit = bool(window) and row["score"] is not None and rounded(max(window) - row["score"], 6) >= a.drop
            if hit:
                fired.append(a.name)
        row["alerts"] = "; ".join(fired)
    for row in out:
        same = [p for p in out if p["snapshot_date"] == row["snapshot_date"] and p["band"] == row["band"]]
        key = (lambda p: (p["account_id"],)) if row["score"] is None else (lambda p: (p["score"], p["account_id"]))
        row["rank_in_band"] = sorted(same, key=key).index(row) + 1
    return pd.DataFrame(out)


def compare_with_reference(result: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert len(result) == len(ref)
    for col in ["account_id", "profile", "band", "grade", "alerts", "rank_in_band"]:
        assert result[col].tolist() == ref[col].tolist(), col
    assert (result["snapshot_date"].to_numpy() == ref["snapshot_date"].to_numpy()).all()
    for col in [c for c in ref.columns if c in ("score", "change") or c.endswith(("_score", "_weight",
                                                                                   "_contribution"))]:
        np.testing.assert_allclose(result[col].to_numpy(dtype=float), ref[col].to_numpy(dtype=float),
                                   rtol=1e-9, atol=1e-9, err_msg=col)


# ---------------------------------------------------------------------------------------------- properties


@SETTINGS
@given(cases())
def test_sql_score_equals_plain_reference_implementation(case):
    model, df = case
    compare_with_reference(score(model, df), reference(model, df))


@SETTINGS
@given(cases())
def test_live_scorer_equals_sql_row_for_row(case):
    model, df = case
    assert_same_scores(score(model, df), LiveScorer(df, model).rescore(model))


@SETTINGS
@given(cases())
def test_the_cluster_layout_scores_every_row_as_the_single_machine_layout_does(case):
    # Peer groups aggregated and joined back, rank in band by score slices: NULL segments, ties and empty
    # groups included, the numbers must not move.
    model, df = case
    pd.testing.assert_frame_equal(score(model, df, layout="cluster"), score(model, df), check_exact=True)


@SETTINGS
@given(cases())
def test_scores_stay_between_0_and_100(case):
    model, df = case
    result = LiveScorer(df, model).rescore(model)
    scored = result["score"].dropna()
    assert ((scored >= 0) & (scored <= 100)).all()
    for m in model.metrics:
        s = result[f"{m}_score"].dropna()
        assert ((s >= 0) & (s <= 100)).all()


@SETTINGS
@given(cases(m0_rising=True), st.sampled_from([2.5, 9.0, 10.0]), st.data())
def test_raising_a_higher_is_better_metric_never_lowers_the_score(case, delta, data):
    model, df = case
    values = pd.to_numeric(df["m0"], errors="coerce")
    candidates = np.flatnonzero(values.notna().to_numpy())
    assume(len(candidates) > 0)
    row = data.draw(st.sampled_from(candidates.tolist()))
    raised = df.copy()
    raised.loc[raised.index[row], "m0"] = float(values.iloc[row]) + delta
    before = LiveScorer(df, model).rescore(model).set_index(["account_id", "snapshot_date"])
    after = LiveScorer(raised, model).rescore(model).set_index(["account_id", "snapshot_date"])
    key = (df["account_id"].iloc[row], df["snapshot_date"].iloc[row])
    old, new = before.loc[key, "score"], after.loc[key, "score"]
    assert (np.isnan(old) and np.isnan(new)) or new >= old - 1e-9  # no usable metric stays no usable metric


@SETTINGS
@given(cases(), st.sampled_from([2, 3, 0.5, 7]))
def test_multiplying_all_weights_by_a_constant_changes_nothing(case, factor):
    model, df = case
    d = model_from_dict_copy(model)
    for metric in d["metrics"].values():
        metric["weight"] *= factor
    for g in d.get("groups") or {}:
        d["groups"][g] *= factor
    for p in d.get("profiles", []):
        p["weights"] = {m: w * factor for m, w in p.get("weights", {}).items()}
    scaled = model_from_dict(d)
    live = LiveScorer(df, model)  # equal to the SQL path (property above), and much faster per example
    a, b = live.rescore(model), live.rescore(scaled)
    np.testing.assert_allclose(a["score"], b["score"], atol=2e-6)
    away = ~a["score"].sub(model.bands.red).abs().lt(1e-5) & ~a["score"].sub(model.bands.yellow).abs().lt(1e-5)
    assert a.loc[away, "band"].tolist() == b.loc[away, "band"].tolist()


@SETTINGS
@given(cases(min_metrics=2, missing="renormalize"), st.data())
def test_renormalize_with_a_missing_metric_equals_the_model_without_it(case, data):
    model, df = case
    gone = data.draw(st.sampled_from([m for m in model.metrics if m != "m0"]))
    column = model.metrics[gone].column
    assume(sum(m.column == column for m in model.metrics.values()) == 1)  # blanking it blanks this metric only
    d = model_from_dict_copy(model)
    del d["metrics"][gone]
    groups_left = {m["group"] for m in d["metrics"].values() if "group" in m}
    if "groups" in d:
        d["groups"] = {g: w for g, w in d["groups"].items() if g in groups_left}
    for p in d.get("profiles", []):
        p.get("weights", {}).pop(gone, None)
        p.get("metrics", {}).pop(gone, None)
    try:
        without = model_from_dict(d)
    except ModelError:
        assume(False)
    blanked = df.assign(**{column: np.nan})
    a, b = LiveScorer(blanked, model).rescore(model), LiveScorer(df, without).rescore(without)
    np.testing.assert_allclose(a["score"], b["score"], atol=1e-9)
    assert a["band"].tolist() == b["band"].tolist()
    for m in without.metrics:
        np.testing.assert_allclose(a[f"{m}_weight"], b[f"{m}_weight"], atol=1e-12)


def model_from_dict_copy(model: Model) -> dict:
    from lib.engine.model import model_to_dict

    return model_to_dict(model)


def test_reference_agrees_with_a_hand_computed_case():
    """The reference itself is checked once by hand, so agreement with it means something."""
    model = model_from_dict({"bands": {"red": 30, "yellow": 70}, "metrics": {
        "m0": {"weight": 3, "score": {"method": "linear", "red": 0, "green": 10}},
        "m1": {"weight": 1, "score": {"method": "percentile"}}}})
    df = pd.DataFrame({"account_id": ["a", "b"], "snapshot_date": [pd.Timestamp("2025-01-06")] * 2,
                       "m0": [5.0, 10.0], "m1": [1.0, 2.0]})
    ref = reference(model, df)
    assert ref["score"].tolist() == [37.5, 100.0]  # 0.75·50 + 0.25·0 and 0.75·100 + 0.25·100
    assert ref["band"].tolist() == ["yellow", "green"]
    assert ref["rank_in_band"].tolist() == [1, 1]


@pytest.mark.parametrize("x, expected", [(0.1953125, 0.195313), (-2.5e-6, -3e-6), (1.0000004999, 1.0)])
def test_reference_rounds_half_away_from_zero(x, expected):
    assert rounded(x, 6) == pytest.approx(expected, abs=1e-12)
