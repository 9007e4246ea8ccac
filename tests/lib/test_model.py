"""The model file: validation messages, YAML round trip, diff, set_value, weights, column checks."""

from __future__ import annotations

import textwrap

import pytest

from lib.engine.model import (
    Categories,
    Linear,
    ModelError,
    Percentile,
    Steps,
    VsAverage,
    check_columns,
    diff_models,
    dump_model,
    effective_weights,
    key_parts,
    load_model,
    model_to_dict,
    parse_model,
    set_path,
    set_value,
)
from tests.lib.helpers import MODELS, ROOT, make_model

GOOD = """
name: Good
metrics:
  open_tickets:
    weight: 30
    score: {method: steps, cuts: [2, 5], points: [100, 50, 0]}
  usage:
    weight: 40
    score: {method: linear, red: 2, green: 12}
"""


def problems_of(text: str) -> list:
    with pytest.raises(ModelError) as info:
        parse_model(textwrap.dedent(text), "m.yaml")
    return info.value.problems


def base_with(metric_yaml: str = "", top: str = "") -> str:
    return "metrics:\n  usage:\n    weight: 1\n    score: {method: linear, red: 2, green: 12}\n" + metric_yaml + top


BAD = [
    ("negative_weight", "metrics:\n  a: {weight: -1, score: {method: linear, red: 0, green: 1}}\n",
     "metrics.a.weight", "at least 0"),
    ("all_weights_zero", "metrics:\n  a: {weight: 0, score: {method: linear, red: 0, green: 1}}\n",
     "metrics", "positive weight"),
    ("bands_out_of_order", base_with(top="bands: {red: 70, yellow: 30}\n"), "bands", "0 <= red < yellow <= 100"),
    ("band_above_100", base_with(top="bands: {red: 30, yellow: 120}\n"), "bands.yellow", "between 0 and 100"),
    ("grades_not_descending", base_with(top="grades: {A: 50, B: 70}\n"), "grades", "descending"),
    ("linear_red_equals_green", "metrics:\n  a: {score: {method: linear, red: 5, green: 5}}\n",
     "metrics.a.score", "make them differ"),
    ("unsorted_cuts", "metrics:\n  t: {score: {method: steps, cuts: [5, 2], points: [100, 50, 0]}}\n",
     "metrics.t.score.cuts", "sort them: [2, 5]"),
    ("points_count", "metrics:\n  t: {score: {method: steps, cuts: [2, 5], points: [100, 0]}}\n",
     "metrics.t.score.points", "give 3 points"),
    ("points_outside_range", "metrics:\n  t: {score: {method: steps, cuts: [2], points: [150, 0]}}\n",
     "metrics.t.score.points[0]", "between 0 and 100"),
    ("unknown_method", "metrics:\n  a: {score: {method: lineer, red: 0, green: 1}}\n",
     "metrics.a.score.method", "did you mean 'linear'"),
    ("unknown_top_level_key", base_with(top="bandz: {red: 30, yellow: 70}\n"), "bandz", "did you mean 'bands'"),
    ("missing_metrics", "name: Empty\n", "metrics", "add a metrics mapping"),
    ("metric_without_group", base_with(top="groups: {Engagement: 1}\n"), "metrics.usage.group",
     "add group: one of Engagement"),
    ("metric_unknown_group", "metrics:\n  a: {group: Engagment, score: {method: linear, red: 0, green: 1}}\n"
     "groups: {Engagement: 1}\n", "metrics.a.group", "did you mean 'Engagement'"),
    ("profile_unknown_metric", base_with(top="profiles: [{name: P, when: {stage: [Trial]}, weights: {usag: 1}}]\n"),
     "profiles[0].weights.usag", "did you mean 'usage'"),
    ("missing_policy", base_with(top="missing: drop\n"), "missing", "renormalize, zero"),
    ("alert_without_rule", base_with(top="alerts: [{name: Oops}]\n"), "alerts[0]", "drop: 15, within: 2"),
    ("alert_within_below_one", base_with(top="alerts: [{name: D, drop: 10, within: 0}]\n"), "alerts[0].within",
     "within: 2"),
    ("alert_unknown_band", base_with(top="alerts: [{name: R, to_band: orange}]\n"), "alerts[0].to_band",
     "red, yellow, green"),
    ("quoted_number", "metrics:\n  a: {weight: '10', score: {method: linear, red: 0, green: 1}}\n",
     "metrics.a.weight", "plain number"),
    ("category_read_as_boolean", "metrics:\n  a: {score: {method: categories, map: {yes: 100, no: 0}}}\n",
     "metrics.a.score.map.True", "quotes"),
    ("profile_named_default", base_with(top="profiles: [{name: Default, when: {stage: [x]}}]\n"),
     "profiles[0].name", "another name"),
    ("empty_when", base_with(top="profiles: [{name: P, when: {}}]\n"), "profiles[0].when", "stage: [Trial]"),
    ("missing_score", "metrics:\n  a: {weight: 1}\n", "metrics.a.score", "method: linear"),
    ("unknown_spec_key", "metrics:\n  a: {score: {method: linear, red: 0, gren: 1}}\n", "metrics.a.score.gren",
     "did you mean 'green'"),
    ("bad_yaml", "metrics: [1, 2\n", "(yaml)", "indentation"),
    ("alias_used", "x: &a {method: linear, red: 0, green: 1}\nmetrics:\n  a: {score: *a}\n", "(yaml)",
     "write the values out in full"),
    ("not_a_mapping", "- just\n- a list\n", "(document)", "start the file with keys"),
    ("duplicate_key", "metrics:\n  a: {score: {method: linear, red: 0, green: 1}}\n  a: {weight: 2}\n", "(yaml)",
     "appears twice"),
]


@pytest.mark.parametrize(("text", "key", "fix"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_invalid_model_names_key_and_fix(text: str, key: str, fix: str):
    problems = problems_of(text)
    matching = [p for p in problems if p.key == key]
    assert matching, f"no problem for {key}: {problems}"
    assert any(fix in p.fix or fix in p.message for p in matching), matching


def test_model_error_collects_every_problem_one_line_each():
    text = """
    bands: {red: 80, yellow: 20}
    missing: sometimes
    metrics:
      a: {weight: -2, score: {method: steps, cuts: [5, 2], points: [1, 2, 3]}}
      b: {score: {method: linear, red: 1, green: 1}}
    """
    with pytest.raises(ModelError) as info:
        parse_model(textwrap.dedent(text), "mine.yaml")
    keys = {p.key for p in info.value.problems}
    assert {"bands", "missing", "metrics.a.weight", "metrics.a.score.cuts", "metrics.b.score"} <= keys
    lines = str(info.value).splitlines()
    assert len(lines) == len(info.value.problems)
    assert all(line.startswith("mine.yaml: ") and " — " in line for line in lines)


def test_unsorted_cuts_message_matches_the_documented_wording():
    (problem,) = problems_of(
        "metrics:\n  open_tickets:\n    score: {method: steps, cuts: [5, 2], points: [0, 50, 100]}\n")
    assert str(problem) == ("metrics.open_tickets.score.cuts: cuts must be in increasing order, got [5, 2] "
                            "— sort them: [2, 5]")


def test_alias_bomb_is_refused_before_expansion():
    levels = zip("abcdefgh", "bcdefghi", strict=True)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [" + ", ".join([f"*{p}"] * 9) + "]\n" for p, c in levels)
    with pytest.raises(ModelError, match="aliases"):
        parse_model(bomb)


def test_model_text_over_one_megabyte_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(GOOD + "#" + "x" * 1_100_000 + "\n")
    with pytest.raises(ModelError, match="1 MB"):
        load_model(path)


def test_missing_model_file_names_the_path(tmp_path):
    with pytest.raises(ModelError) as info:
        load_model(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value) and "not found" in str(info.value)


def test_parse_builds_typed_specs_with_defaults():
    m = parse_model(textwrap.dedent("""
    metrics:
      logins: {score: {method: linear, red: 12, green: 2}}
      tickets: {score: {method: steps, cuts: [2, 5], points: [100, 50, 0]}}
      mood: {score: {method: categories, map: {Green: 100, red: 0}}}
      adoption: {score: {method: percentile, within: size}}
      seats: {score: {method: vs_average, within: [stage], cuts: [0.8], points: [0, 100], lower_is_better: true}}
    """))
    assert m.name == "Untitled" and m.missing == "renormalize" and (m.bands.red, m.bands.yellow) == (30, 70)
    assert m.metrics["logins"].score == Linear(12, 2) and m.metrics["logins"].weight == 1
    assert m.metrics["tickets"].score == Steps((2.0, 5.0), (100.0, 50.0, 0.0))
    assert m.metrics["mood"].score.lookup() == {"green": 100, "red": 0}
    assert isinstance(m.metrics["mood"].score, Categories)
    assert m.metrics["adoption"].score == Percentile(("size",), False)
    assert m.metrics["seats"].score == VsAverage(("stage",), (0.8,), (0.0, 100.0), True)
    assert m.segment_columns() == ("size", "stage")


@pytest.mark.parametrize("path", [MODELS / "design.yaml", ROOT / "data" / "models" / "default.yaml"],
                         ids=["design", "default"])
def test_yaml_round_trip_is_unchanged(path):
    model = load_model(path)
    text = dump_model(model)
    assert parse_model(text) == model
    assert dump_model(parse_model(text)) == text


def test_round_trip_keeps_awkward_names_and_categories():
    model = make_model({
        'x"; DROP TABLE t; --': {"score": {"method": "categories", "map": {"yes": 100, "1.0": 50, "O'Brien": 0}}},
        "a.b": {"label": "Dotted: name", "score": {"method": "linear", "red": 0.1, "green": 0.30000000000000004}},
    }, profiles=[{"name": "P", "when": {"tier": ["true", "2024-01-01"]}, "weights": {"a.b": 0}}],
       alerts=[{"name": "Drop; big", "drop": 12.5, "within": 3}])
    assert parse_model(dump_model(model)) == model


def test_expansion_model_is_parsed_as_a_nested_model():
    m = parse_model(GOOD + "expansion:\n  bands: {red: 20, yellow: 60}\n  metrics:\n"
                    "    seats: {score: {method: linear, red: 0.5, green: 1}}\n")
    assert m.expansion is not None and list(m.expansion.metrics) == ["seats"]
    assert m.expansion.bands.red == 20 and m.expansion.expansion is None
    assert parse_model(dump_model(m)) == m


def test_nested_expansion_key_is_refused_inside_expansion():
    problems = problems_of(GOOD + "expansion:\n  metrics: {s: {score: {method: linear, red: 0, green: 1}}}\n"
                           "  expansion: {}\n")
    assert any(p.key == "expansion.expansion" for p in problems)


def test_diff_models_lists_changed_added_and_removed_keys():
    a = parse_model(GOOD)
    b = set_value(set_value(a, "metrics.usage.score.red", 3), "grades", {"A": 80})
    b = set_value(b, "metrics.open_tickets.weight", 30)  # unchanged value: no change reported
    changes = {c.key: (c.old, c.new) for c in diff_models(a, b)}
    assert changes == {"metrics.usage.score.red": (2, 3), "grades.A": (None, 80)}
    assert {c.key: (c.old, c.new) for c in diff_models(b, a)}["grades.A"] == (80, None)


def test_set_value_edits_dotted_keys_including_names_with_dots():
    model = make_model({"logins.per.user": {"weight": 2, "score": {"method": "linear", "red": 1, "green": 5}}},
                       profiles=[{"name": "Onboarding", "when": {"stage": ["Trial"]},
                                  "weights": {"logins.per.user": 1}}])
    edited = set_value(model, "metrics.logins.per.user.score.green", 9)
    assert edited.metrics["logins.per.user"].score == Linear(1, 9)
    assert model.metrics["logins.per.user"].score == Linear(1, 5)  # the original is untouched
    by_name = set_value(model, "profiles.Onboarding.weights.logins.per.user", 4)
    assert by_name.profiles[0].weights == {"logins.per.user": 4}
    assert set_value(model, "bands.red", 10).bands.red == 10


def test_set_value_by_key_parts_reaches_names_a_dotted_key_would_split():
    model = make_model({"logins": {"weight": 2, "score": {"method": "linear", "red": 1, "green": 5}}},
                       profiles=[{"name": "Tier 1.0", "when": {"tier": ["1.0"]}}])
    edited = set_value(model, ("profiles", "Tier 1.0", "weights", "logins"), 3)
    assert edited.profiles[0].weights == {"logins": 3}
    assert key_parts(model_to_dict(edited), "profiles.Tier 1.0.weights.logins") == (
        "profiles", "Tier 1.0", "weights", "logins")
    assert key_parts(model_to_dict(edited), "metrics.new.weight") == ("metrics", "new", "weight")


def test_set_path_refuses_a_missing_list_item_and_a_key_inside_a_value():
    d = model_to_dict(make_model({"logins": {"weight": 2, "score": {"method": "linear", "red": 1, "green": 5}}}))
    d["alerts"] = []
    with pytest.raises(ModelError, match="alerts.Gone.drop: no list item 'Gone' — use an existing name or an index"):
        set_path(d, ("alerts", "Gone", "drop"), 5)
    with pytest.raises(ModelError, match="bands.red.x: this key is inside a plain value"):
        set_path(d, ("bands", "red", "x"), 5)
    with pytest.raises(ModelError, match="the key is empty"):
        set_path(d, (), 5)


def test_set_value_revalidates_and_names_the_key():
    model = parse_model(GOOD)
    with pytest.raises(ModelError) as info:
        set_value(model, "metrics.open_tickets.score.cuts", [5, 2])
    assert info.value.problems[0].key == "metrics.open_tickets.score.cuts"
    with pytest.raises(ModelError, match="bands"):
        set_value(model, "bands.red", 90)


def test_effective_weights_roll_up_groups_and_sum_to_one():
    model = load_model(MODELS / "design.yaml")
    weights = effective_weights(model)
    assert list(weights) == ["Default", "Onboarding"]
    for per_metric in weights.values():
        assert sum(per_metric.values()) == pytest.approx(1)
    d = weights["Default"]
    # Engagement 50 % split 40:20:10; Support and Sentiment 25 % each.
    assert d["logins_per_user"] == pytest.approx(0.5 * 40 / 70)
    assert d["open_tickets"] == pytest.approx(0.25) and d["csm_sentiment"] == pytest.approx(0.25)
    # Onboarding drops csm_sentiment (weight 0): its group's 25 % is shared by the other groups.
    o = weights["Onboarding"]
    assert o["csm_sentiment"] == 0
    assert o["open_tickets"] == pytest.approx(25 / 75)
    assert o["logins_per_user"] == pytest.approx(50 / 75 * 60 / 90)


def test_check_columns_names_close_matches_and_unknown_segments():
    model = load_model(MODELS / "design.yaml")
    problems = {p.key: p for p in check_columns(model, ["Logins_Per_User", "open_tickets", "csm_sentiment",
                                                        "feature_adoption", "seats_used", "Size", "stage"])}
    assert set(problems) == {"metrics.logins_per_user", "metrics.feature_adoption.score.within"}
    assert "'Logins_Per_User'" in problems["metrics.logins_per_user"].fix
    assert "'Size'" in problems["metrics.feature_adoption.score.within"].fix
    profile = check_columns(model, ["logins_per_user", "open_tickets", "csm_sentiment", "feature_adoption",
                                    "seats_used", "size", "phase"])
    assert {p.key for p in profile} == {"profiles[0].when.stage", "metrics.seats_used.score.within"}


def test_check_columns_refuses_the_outcome_and_label_as_metrics_and_never_suggests_them():
    model = make_model({
        "Churned?": {"score": {"method": "categories", "map": {"no": 100, "yes": 0}}},
        "health_labl": {"score": {"method": "categories", "map": {"healthy": 100}}},
        "ARR ($)": {"score": {"method": "linear", "red": 1000, "green": 50000}},
    })
    outcome = "the outcome (churned / renewed)"
    not_metrics = {"Churned?": outcome, "churned": outcome, "health_label": "the known-health label"}
    columns = ["account_id", "snapshot_date", "arr", "ARR ($)", "churned", "health_label"]
    problems = {p.key: p for p in check_columns(model, columns, not_metrics)}
    assert set(problems) == {"metrics.Churned?", "metrics.health_labl"}
    assert problems["metrics.Churned?"].message == (
        "column 'Churned?' cannot be a metric: scores are checked against it as the outcome (churned / renewed)")
    assert problems["metrics.Churned?"].fix.startswith("remove metrics.Churned?")
    assert "health_label" not in problems["metrics.health_labl"].fix  # not offered as a close match
    plain = {p.key: p for p in check_columns(model, columns)}
    assert "'health_label'" in plain["metrics.health_labl"].fix
    assert "not in the data" in plain["metrics.Churned?"].message


def test_model_to_dict_leaves_out_implied_defaults():
    d = model_to_dict(parse_model(GOOD))
    assert list(d) == ["name", "bands", "missing", "metrics"]
    assert d["metrics"]["usage"] == {"weight": 40, "score": {"method": "linear", "red": 2, "green": 12}}
