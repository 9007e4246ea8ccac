"""Each scoring method has one home (lib/engine/methods.py): nothing outside the engine branches on a method, and what
the charts draw for a method is what the engine scores.

A branch on a scoring method is an ``isinstance`` test against a spec class of :mod:`lib.engine.model`, a comparison of
something named ``method`` with a method's name, or a dict literal keyed by two or more method names (a branch
written as a lookup). Outside the engine modules, at most :data:`ALLOWED` remain.
"""

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib import charts
from lib.engine.methods import BY_NAME, RATIO, as_spec, method_of
from lib.engine.model import METHODS, normalise_category
from lib.engine.numpy_eval import LiveScorer
from tests.lib.helpers import make_model

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "lib" / "engine"  # the engine's package: the model file, the methods, the plan and every execution
SPEC_CLASSES = {"Linear", "Steps", "Categories", "Percentile", "VsAverage"}
ALLOWED = 5


def _names(node: ast.AST) -> set[str]:
    """Class names in an isinstance's second argument (a name, a tuple, or an ``A | B`` union)."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.Tuple):
        return set().union(*map(_names, node.elts))
    if isinstance(node, ast.BinOp):
        return _names(node.left) | _names(node.right)
    return set()


def _method_literal(node: ast.AST) -> bool:
    """A method's name, or a tuple / list / set holding one."""
    if isinstance(node, ast.Constant):
        return node.value in METHODS
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_method_literal(e) for e in node.elts)
    return False


def method_branches(source: str) -> list[int]:
    """Line numbers of the branches on a scoring method in a module's source."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
                and len(node.args) == 2 and _names(node.args[1]) & SPEC_CLASSES):
            lines.append(node.lineno)
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(map(_method_literal, sides)) and any("method" in ast.unparse(s) for s in sides):
                lines.append(node.lineno)
        elif isinstance(node, ast.Dict) and sum(_method_literal(k) for k in node.keys if k is not None) >= 2:
            lines.append(node.lineno)
    return sorted(lines)


def branches_outside_the_engine() -> dict[str, list[int]]:
    """Module (relative path) → lines that branch on a scoring method, over lib/ and app_pages/."""
    out = {}
    for path in sorted([*(ROOT / "lib").rglob("*.py"), *(ROOT / "app_pages").rglob("*.py")]):
        if ENGINE in path.parents:
            continue
        found = method_branches(path.read_text(encoding="utf-8"))
        if found:
            out[str(path.relative_to(ROOT))] = found
    return out


def test_the_counter_finds_each_kind_of_branch():
    source = ("isinstance(s, Linear | Steps)\nisinstance(s, (m.Percentile, VsAverage))\nsp['method'] == 'linear'\n"
              "method in ('steps', 'vs_average')\nNAMES = {'linear': 1, 'steps': 2}\n"
              "'percentile' in row\nisinstance(x, int)\nm.numeric\n")
    assert method_branches(source) == [1, 2, 3, 4, 5]


def test_at_most_five_places_outside_the_engine_branch_on_a_scoring_method():
    found = branches_outside_the_engine()
    total = sum(map(len, found.values()))
    assert total <= ALLOWED, (f"{total} branches on a scoring method outside the engine (ask lib.engine.methods): "
                              f"{found}")


# ------------------------------------------------------- drawn zones carry the engine's scores

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
D = pd.Timestamp("2026-01-01")
PTS = re.compile(r"(-?\d+(?:\.\d+)?) pts$")
BOTH_WAYS = pytest.mark.parametrize("lower", [False, True], ids=["higher_is_better", "lower_is_better"])
NUMERIC = pytest.mark.parametrize("method", [m for m in METHODS if BY_NAME[m].numeric])  # categories: below


def engine_scores(spec: dict, values: list, *, ratio: bool = False) -> np.ndarray:
    """The real engine's (lib.engine.numpy_eval) metric score of each value; ``ratio``: of each value as a ratio to its
    peer average (the value sits in a peer group of two whose average is 1)."""
    n = len(values)
    if ratio:
        x, seg = [v for r in values for v in (float(r), 2.0 - float(r))], [f"s{i // 2}" for i in range(2 * n)]
    else:
        x, seg = list(values), ["s"] * n
    ids = [f"a{i:05d}" for i in range(len(x))]
    df = pd.DataFrame({"account_id": ids, "snapshot_date": D, "x": pd.Series(x, dtype=object if not ratio and
                       any(isinstance(v, str) for v in values) else float), "seg": seg})
    model = make_model({"x": {"weight": 1, "score": spec}})
    out = LiveScorer(df, model).rescore(model).set_index("account_id")["x_score"]
    return out.reindex(ids).to_numpy(float)[::2 if ratio else 1][:n]


def drawn_labels(fig) -> list[tuple[float, float]]:
    """Each '… N pts' label over a histogram as (x, N)."""
    found = [(a.x, PTS.search(a.text)) for a in fig.layout.annotations if a.text]
    return [(float(x), float(m.group(1))) for x, m in found if m]


def spaced(lo: float, hi: float, n_max: int, gap: float) -> st.SearchStrategy:
    """1 to ``n_max`` increasing thresholds in [lo, hi], at least ``gap`` apart."""
    return st.lists(st.integers(0, round((hi - lo) / gap)), min_size=1, max_size=n_max, unique=True).map(
        lambda ks: [round(lo + k * gap, 6) for k in sorted(ks)])


@st.composite
def numeric_specs(draw, method: str, lower: bool) -> dict:
    """A random spec of ``method`` read in the direction ``lower`` (lower is better)."""
    if method == "linear":
        a, b = draw(spaced(-50, 50, 2, 0.5).filter(lambda c: len(c) == 2))
        return {"method": "linear", "red": b if lower else a, "green": a if lower else b}
    if method == "percentile":
        return {"method": "percentile", "within": ["seg"], "lower_is_better": lower}
    cuts = draw(spaced(0.2, 2.6, 3, 0.1) if method == "vs_average" else spaced(-40, 40, 4, 0.5))
    points = sorted(draw(st.lists(st.integers(0, 100), min_size=len(cuts) + 1, max_size=len(cuts) + 1)))
    if method == "steps":
        return {"method": "steps", "cuts": cuts, "points": points[::-1] if lower else points}
    return {"method": "vs_average", "within": ["seg"], "cuts": cuts, "points": points, "lower_is_better": lower}


@BOTH_WAYS
@NUMERIC
@SETTINGS
@given(data=st.data())
def test_each_zone_label_drawn_for_a_method_is_the_engines_score_at_its_midpoint(method, lower, data):
    spec = data.draw(numeric_specs(method, lower))
    found, ratio = BY_NAME[method], BY_NAME[method].scale is RATIO
    values = pd.Series(np.linspace(0.05, 3.0, 60) if ratio else np.linspace(-60, 60, 121) + 0.013)
    labels = drawn_labels(charts.metric_histogram(values, spec))  # each zone's (and linear line's) label
    if found.stepped:
        assert len(labels) == len(spec["cuts"]) + 1  # one label per interval
    assert labels or found.note(as_spec(spec))  # no labels (percentile): the chart says why
    marks = found.marks(as_spec(spec))  # the zones the Account page's bullets draw
    zones = found.zones(as_spec(spec), min(marks, default=0) - 1, max(marks, default=0) + 1)
    at = [x for x, _ in labels] + [(z.lo + z.hi) / 2 for z in zones]
    drawn = [p for _, p in labels] + [z.points for z in zones]
    assert drawn == pytest.approx(list(engine_scores(spec, at, ratio=ratio)))


@SETTINGS
@given(keys=st.lists(st.sampled_from(["green", "Yellow", "red", "at risk"]), min_size=1, max_size=4, unique=True),
       points=st.lists(st.integers(0, 100), min_size=4, max_size=4),
       seen=st.lists(st.sampled_from(["green", " GREEN ", "green\t", "yellow ", "Red", "\tred", "at risk",
                                      "purple"]), min_size=1, max_size=12))
def test_each_category_bar_is_labelled_with_the_engines_score_of_its_values(keys, points, seen):
    spec = {"method": "categories", "map": dict(zip(keys, points, strict=False))}
    bars = charts.metric_histogram(pd.Series(seen, dtype=object), spec).data[0]
    scores = engine_scores(spec, list(seen))
    by_key = {normalise_category(shown): label for shown, label, n in zip(bars.x, bars.text, bars.y, strict=True) if n}
    for value, score in zip(seen, scores, strict=True):  # each value counts in the bar of its engine key
        assert by_key[normalise_category(value)] == ("not in map" if np.isnan(score) else f"{score:g} pts"), value


def test_a_lower_is_better_vs_average_histogram_labels_the_region_scoring_100_with_100():
    spec = {"method": "vs_average", "within": [], "cuts": [0.8, 1.2], "points": [0, 50, 100]}
    ratios = pd.Series(np.linspace(0.3, 2.0, 50))
    higher = [p for _, p in drawn_labels(charts.metric_histogram(ratios, spec))]
    lower = drawn_labels(charts.metric_histogram(ratios, {**spec, "lower_is_better": True}))
    assert higher == [0, 50, 100]
    assert [p for _, p in lower] == [100, 50, 0]  # the toggle changes the labels, as it changes the scores
    assert lower[0][0] < 0.8 and list(engine_scores({**spec, "lower_is_better": True}, [0.5], ratio=True)) == [100]


def test_a_category_ending_in_a_tab_or_nbsp_is_drawn_as_the_engine_scores_it():
    """One trim rule on every engine (issue #14, lib.engine.model.TRIM_CHARACTERS): a tab or NBSP around a category is
    ignored like a space, in the chart as in the score."""
    spec = {"method": "categories", "map": {"green": 100}}
    values = pd.Series(["green", " green ", "green\t", "green\u00a0"], dtype=object)
    bars = charts.metric_histogram(values, spec).data[0]
    assert list(zip(bars.x, bars.y, bars.text, strict=True)) == [("green", 4, "100 pts")]
    assert list(engine_scores(spec, ["green\t", " green ", "green\u00a0", "greenish"])[:3]) == [100, 100, 100]


def test_every_method_of_the_model_file_has_one_home_that_describes_its_specs():
    assert tuple(BY_NAME) == METHODS
    for name, method in BY_NAME.items():
        spec = as_spec(method.default(pd.Series(["green", "red"] if not method.numeric else [1.0, 5.0, 9.0]),
                                      False, []))
        assert method_of(spec) is method and spec.method == name and method.describe(spec)
