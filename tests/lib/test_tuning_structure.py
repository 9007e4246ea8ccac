"""lib.views.tuning structural edits: metrics, groups, profiles, alerts, grades and the expansion score added, renamed
and removed on the draft YAML, each refusal a "key: problem — fix" line; whatever they build round-trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.engine.model import Categories, Linear, dump_model, parse_model
from lib.views import tuning

# Foreign names, as a CRM export writes them (tests/foreign.py): slashes, spaces, $, %, ?, dots.
MODEL_YAML = """
name: CRM
bands: {red: 30, yellow: 70}
metrics:
  Logins/User: {label: Logins per user, group: Engagement, weight: 40, score: {method: linear, red: 2, green: 12}}
  Tickets (30d): {group: Support, weight: 30, score: {method: steps, cuts: [2, 5], points: [100, 50, 0]}}
  CSM Pulse: {group: Support, weight: 30, score: {method: categories, map: {Green: 100, Amber: 50, Red: 0}}}
groups: {Engagement: 60, Support: 40}
profiles:
  - name: Ramp v1.0
    when: {Lifecycle: [Ramp]}
    weights: {Tickets (30d): 10}
    metrics: {Tickets (30d): {score: {method: steps, cuts: [4], points: [100, 0]}}}
alerts:
  - {name: Steep drop, drop: 15, within: 2}
"""
NUMBERS = pd.Series(np.linspace(1000, 100_000, 200))
WORDS = pd.Series(["Yes", "No", "Yes", None, "yes "] * 20, dtype=object)


@pytest.fixture
def draft() -> str:
    return dump_model(parse_model(MODEL_YAML))


def edited(result: tuning.EditResult):
    assert result.ok, result.problems
    return parse_model(result.yaml)


def refused(result: tuning.EditResult, draft: str) -> str:
    assert not result.ok and result.yaml == draft
    assert len(result.problems) == 1
    return result.problems[0]


# ------------------------------------------------------------------------------ metrics


def test_metric_candidates_are_data_columns_but_ids_dates_outcomes_and_metrics_already_scored(draft):
    columns = ["account_id", "snapshot_date", "account_name", "ARR ($)", "Logins/User", "Tier", "churned",
               "health_label", "renewal_date", "CSM Pulse", "Adoption %"]
    assert tuning.metric_candidates(parse_model(draft), columns) == ["ARR ($)", "Tier", "Adoption %"]
    assert tuning.metric_candidates(parse_model(draft), columns, expansion=True) == [
        "ARR ($)", "Logins/User", "Tier", "CSM Pulse", "Adoption %"]


def test_a_numeric_column_is_added_as_linear_between_its_quantiles_in_the_chosen_group(draft):
    model = edited(tuning.add_metric(draft, "ARR ($)", NUMBERS, group="Support"))
    metric = model.metrics["ARR ($)"]
    assert metric.score == Linear(11_000, 90_000)  # 10th and 90th percentile, two significant digits
    assert metric.group == "Support" and metric.label == "ARR ($)"
    assert metric.weight == 30  # the median of the other weights
    assert list(model.metrics)[-1] == "ARR ($)"


def test_a_text_column_is_added_as_categories_with_its_values_and_the_first_group_by_default(draft):
    model = edited(tuning.add_metric(draft, "Exec Sponsor?", WORDS, weight=15))
    assert model.metrics["Exec Sponsor?"].score == Categories({"Yes": 100, "No": 0})
    assert model.metrics["Exec Sponsor?"].weight == 15 and model.metrics["Exec Sponsor?"].group == "Engagement"


def test_adding_a_metric_to_a_model_without_groups_gives_it_no_group(draft):
    model = edited(tuning.add_metric(tuning.groups_off(draft).yaml, "ARR ($)", NUMBERS))
    assert model.groups is None and model.metrics["ARR ($)"].group is None


@pytest.mark.parametrize(("column", "values", "message"), [
    ("Logins/User", NUMBERS, "metrics.Logins/User: the model scores 'Logins/User' already — edit it under "
                             "Thresholds, or pick another column"),
    ("account_id", NUMBERS, "metrics.account_id: 'account_id' names the account, date or outcome, not something "
                            "to score — pick a column that measures the account"),
    ("Empty", pd.Series([None, None], dtype=object), "metrics.Empty.score: the column has no numbers, so linear "
                                                     "has nothing to set thresholds from — use categories for a "
                                                     "text column"),
])
def test_adding_a_metric_is_refused_with_the_reason(draft, column, values, message):
    assert refused(tuning.add_metric(draft, column, values), draft) == message


def test_adding_a_metric_to_an_unknown_group_gets_the_models_message(draft):
    problem = refused(tuning.add_metric(draft, "ARR ($)", NUMBERS, group="Billing"), draft)
    assert problem.startswith("metrics.ARR ($).group: unknown group 'Billing'")


def test_removing_a_metric_drops_its_profile_weights_and_thresholds(draft):
    model = edited(tuning.remove_metric(draft, "Tickets (30d)"))
    assert list(model.metrics) == ["Logins/User", "CSM Pulse"]
    assert model.profile("Ramp v1.0").weights == {} and model.profile("Ramp v1.0").metrics == {}
    assert model.groups == {"Engagement": 60, "Support": 40}


def test_the_last_metric_cannot_be_removed(draft):
    one = tuning.remove_metric(tuning.remove_metric(draft, "Tickets (30d)").yaml, "CSM Pulse").yaml
    assert refused(tuning.remove_metric(one, "Logins/User"), one) == (
        "metrics.Logins/User: it is the only metric, and a score needs one — add another metric first")
    assert refused(tuning.remove_metric(draft, "Gone"), draft).startswith("metrics.Gone: the model has no metric")


def test_relabelling_sets_the_label_and_a_blank_one_shows_the_column_name(draft):
    model = edited(tuning.relabel_metric(draft, "CSM Pulse", "  CSM <b>pulse</b> 😀 "))
    assert model.metrics["CSM Pulse"].label == "CSM <b>pulse</b> 😀"
    blank = tuning.relabel_metric(draft, "Logins/User", "  ")
    assert edited(blank).metrics["Logins/User"].label == "Logins/User"
    assert "label:" not in blank.yaml.split("Logins/User:")[1].split("Tickets")[0]


def test_a_metric_changes_group_through_edit_draft_and_an_unknown_group_is_refused(draft):
    model = edited(tuning.edit_draft(draft, ("metrics", "Logins/User", "group"), "Support"))
    assert tuning.group_members(model, "Support") == ["Logins/User", "Tickets (30d)", "CSM Pulse"]
    problem = refused(tuning.edit_draft(draft, ("metrics", "Logins/User", "group"), "Suport"), draft)
    assert problem == "metrics.Logins/User.group: unknown group 'Suport' — did you mean 'Support'?"


# ------------------------------------------------------------------------------ groups


def test_a_new_group_gets_a_typical_weight_and_no_metrics(draft):
    model = edited(tuning.add_group(draft, " Value.v2 "))
    assert model.groups == {"Engagement": 60, "Support": 40, "Value.v2": 50}
    assert tuning.group_members(model, "Value.v2") == []


def test_the_first_group_takes_every_metric_so_the_score_keeps_its_weights(draft):
    flat = tuning.groups_off(draft).yaml
    model = edited(tuning.add_group(flat, "All"))
    assert model.groups == {"All": 100}
    assert {m.group for m in model.metrics.values()} == {"All"}


@pytest.mark.parametrize(("name", "message"), [
    ("  ", "groups: a group needs a name — type a name such as Engagement"),
    ("Support", "groups.Support: there is a group 'Support' already — pick another name"),
])
def test_a_group_needs_a_new_name(draft, name, message):
    assert refused(tuning.add_group(draft, name), draft) == message
    assert refused(tuning.rename_group(draft, "Engagement", name), draft) == message


def test_renaming_a_group_keeps_its_place_and_weight_and_moves_its_metrics(draft):
    model = edited(tuning.rename_group(draft, "Engagement", "Usage 'n' adoption"))
    assert model.groups == {"Usage 'n' adoption": 60, "Support": 40}
    assert model.metrics["Logins/User"].group == "Usage 'n' adoption"
    assert tuning.rename_group(draft, "Support", "Support").yaml == draft
    assert refused(tuning.rename_group(draft, "Gone", "X"), draft).startswith("groups.Gone: there is no group")


def test_a_group_with_metrics_is_removed_only_with_somewhere_for_them_to_go(draft):
    assert refused(tuning.remove_group(draft, "Support"), draft) == (
        "groups.Support: the group still has 2 metrics (Tickets (30d), CSM Pulse) — pick another group to move "
        "them to, or remove them first")
    assert refused(tuning.remove_group(draft, "Support", "Billing"), draft) == (
        "groups.Support: there is no group 'Billing' to move its metrics to — pick one of the model's groups")
    model = edited(tuning.remove_group(draft, "Support", "Engagement"))
    assert model.groups == {"Engagement": 60}
    assert {m.group for m in model.metrics.values()} == {"Engagement"}


def test_an_empty_group_is_removed_and_the_only_group_is_refused(draft):
    with_empty = tuning.add_group(draft, "Spare").yaml
    assert edited(tuning.remove_group(with_empty, "Spare")).groups == {"Engagement": 60, "Support": 40}
    one = tuning.remove_group(draft, "Support", "Engagement").yaml
    assert refused(tuning.remove_group(one, "Engagement"), one) == (
        "groups.Engagement: it is the only group — turn groups off instead: every metric is then weighted directly")


def test_groups_off_drops_the_groups_and_every_metrics_group(draft):
    model = edited(tuning.groups_off(draft))
    assert model.groups is None and all(m.group is None for m in model.metrics.values())
    assert "group" not in tuning.groups_off(draft).yaml


# ------------------------------------------------------------------------------ profiles


def test_a_profile_is_added_last_with_the_chosen_values_only(draft):
    model = edited(tuning.add_profile(draft, " Gold.1 ", {"Tier": ["Gold", "Silver"], "Territory": []}))
    assert model.profile_names == ("Ramp v1.0", "Gold.1", "Default")
    assert model.profile("Gold.1").when == {"Tier": ("Gold", "Silver")}
    assert model.weights_for("Gold.1") == model.weights_for("Default")


@pytest.mark.parametrize(("name", "when", "message"), [
    ("Ramp v1.0", {"Tier": ["Gold"]}, "profiles: two profiles are called 'Ramp v1.0' — give each profile its own name"),
    ("Default", {"Tier": ["Gold"]}, "profiles[1].name: 'Default' is the profile of accounts no other profile matches"),
    ("Any", {"Tier": []}, "profiles[1].when: an empty 'when' matches every account, so later profiles never apply"),
    (" ", {"Tier": ["Gold"]}, "profiles[1].name: must not be empty — write a name"),
])
def test_a_new_profile_gets_the_models_message_when_it_cannot_be_told_apart(draft, name, when, message):
    assert refused(tuning.add_profile(draft, name, when), draft).startswith(message)


def test_renaming_and_reconditioning_a_profile_keep_its_weights_and_thresholds(draft):
    renamed = edited(tuning.rename_profile(draft, "Ramp v1.0", "Ramp 🚀"))
    assert renamed.profile("Ramp 🚀").weights == {"Tickets (30d)": 10}
    assert renamed.profile("Ramp 🚀").metrics == parse_model(draft).profile("Ramp v1.0").metrics
    two = tuning.set_condition(draft, "Ramp v1.0", "Tier", ["Gold"]).yaml
    assert edited(tuning.EditResult(two)).profile("Ramp v1.0").when == {"Lifecycle": ("Ramp",), "Tier": ("Gold",)}
    changed = edited(tuning.set_condition(two, "Ramp v1.0", "Lifecycle", ["Ramp", "Steady"]))
    assert list(changed.profile("Ramp v1.0").when.items()) == [("Lifecycle", ("Ramp", "Steady")), ("Tier", ("Gold",))]
    assert edited(tuning.set_condition(two, "Ramp v1.0", "Lifecycle", [])).profile("Ramp v1.0").when == {
        "Tier": ("Gold",)}
    assert refused(tuning.set_condition(draft, "Ramp v1.0", "Lifecycle", []), draft).startswith(
        "profiles[0].when: an empty 'when' matches every account")
    assert refused(tuning.rename_profile(draft, "Gone", "X"), draft) == (
        "profiles.Gone: there is no profile 'Gone' — pick one of the model's profiles")


def test_profiles_move_in_the_match_order_and_stop_at_the_ends(draft):
    three = tuning.add_profile(tuning.add_profile(draft, "B", {"Tier": ["Gold"]}).yaml, "C", {"Tier": ["Silver"]}).yaml
    assert edited(tuning.move_profile(three, "C", -1)).profile_names == ("Ramp v1.0", "C", "B", "Default")
    assert edited(tuning.move_profile(three, "Ramp v1.0", 1)).profile_names == ("B", "Ramp v1.0", "C", "Default")
    assert tuning.move_profile(three, "Ramp v1.0", -1).yaml == three
    assert tuning.move_profile(three, "C", 5).yaml == three


def test_removing_a_profile_and_the_last_one_leaves_no_profiles_key(draft):
    model = edited(tuning.remove_profile(draft, "Ramp v1.0"))
    assert model.profiles == () and "profiles" not in tuning.remove_profile(draft, "Ramp v1.0").yaml
    assert refused(tuning.remove_profile(draft, "Default"), draft) == (
        "profiles.Default: there is no profile 'Default' — pick one of the model's profiles")


# ------------------------------------------------------------------------------ alerts


def test_alerts_are_added_replaced_in_place_and_removed(draft):
    model = edited(tuning.set_alert(draft, None, tuning.alert_rule(" Turned red ", to_band="red")))
    assert [(a.name, a.to_band) for a in model.alerts] == [("Steep drop", None), ("Turned red", "red")]
    both = dump_model(model)
    model = edited(tuning.set_alert(both, "Steep drop", tuning.alert_rule("Cliff", drop=25, within=3)))
    assert [(a.name, a.drop, a.within) for a in model.alerts][0] == ("Cliff", 25, 3)
    model = edited(tuning.set_alert(both, "Steep drop", tuning.alert_rule("Steep drop", to_band="yellow")))
    assert model.alerts[0].to_band == "yellow" and model.alerts[0].drop is None
    assert [a.name for a in edited(tuning.remove_alert(both, "Steep drop")).alerts] == ["Turned red"]
    assert "alerts" not in tuning.remove_alert(draft, "Steep drop").yaml


@pytest.mark.parametrize(("name", "rule", "message"), [
    (None, tuning.alert_rule("Steep drop", to_band="red"), "alerts: two alerts are called 'Steep drop'"),
    (None, tuning.alert_rule("Flat", drop=0), "alerts[1].drop: a drop of 0 points fires on every snapshot"),
    (None, tuning.alert_rule("Slow", drop=5, within=0), "alerts[1].within: must be a whole number of snapshots"),
    (None, tuning.alert_rule("Purple", to_band="purple"), "alerts[1].to_band: unknown band 'purple'"),
    (None, tuning.alert_rule(" ", drop=5), "alerts[1].name: must not be empty"),
    ("Gone", tuning.alert_rule("X", drop=5), "alerts.Gone: there is no alert 'Gone'"),
])
def test_bad_alerts_are_refused_with_the_models_message(draft, name, rule, message):
    assert refused(tuning.set_alert(draft, name, rule), draft).startswith(message)


def test_removing_an_unknown_alert_is_refused(draft):
    assert refused(tuning.remove_alert(draft, "Gone"), draft) == (
        "alerts.Gone: there is no alert 'Gone' — pick one of the model's alerts")


# ------------------------------------------------------------------------------ grades


def test_grades_turn_on_with_the_defaults_keep_their_cut_offs_and_turn_off(draft):
    on = tuning.set_grades(draft, True).yaml
    assert parse_model(on).grades == {"A": 85, "B": 70, "C": 55, "D": 40}
    tuned = tuning.edit_draft(on, ("grades", "B"), 75).yaml
    assert tuning.set_grades(tuned, True).yaml == tuned
    assert edited(tuning.set_grades(tuned, False)).grades is None
    problem = refused(tuning.edit_draft(on, ("grades", "C"), 90), on)
    assert problem.startswith("grades: grades must be listed from the highest minimum score down")


# ------------------------------------------------------------------------------ expansion


def test_the_expansion_score_turns_on_with_a_spec_per_column_and_turns_off(draft):
    model = edited(tuning.expansion_on(draft, {"ARR ($)": NUMBERS, "Exec Sponsor?": WORDS}))
    exp = model.expansion
    assert list(exp.metrics) == ["ARR ($)", "Exec Sponsor?"]
    assert exp.metrics["ARR ($)"].score == Linear(11_000, 90_000)
    assert exp.metrics["Exec Sponsor?"].score == Categories({"Yes": 100, "No": 0})
    assert {m.weight for m in exp.metrics.values()} == {tuning.EXPANSION_WEIGHT}
    assert model.metrics == parse_model(draft).metrics
    assert edited(tuning.expansion_off(dump_model(model))).expansion is None


def test_expansion_metrics_are_added_weighted_edited_and_removed_but_not_the_last(draft):
    on = tuning.expansion_on(draft, {"ARR ($)": NUMBERS}).yaml
    two = tuning.add_metric(on, "Logins/User", NUMBERS / 1000, expansion=True).yaml
    assert list(parse_model(two).expansion.metrics) == ["ARR ($)", "Logins/User"]
    weighted = edited(tuning.edit_draft(two, ("expansion", "metrics", "Logins/User", "weight"), 25))
    assert weighted.expansion.metrics["Logins/User"].weight == 25
    assert weighted.metrics["Logins/User"].weight == 40  # the health score's own metric is untouched
    one = tuning.remove_metric(two, "ARR ($)", expansion=True).yaml
    assert refused(tuning.remove_metric(one, "Logins/User", expansion=True), one) == (
        "expansion.metrics.Logins/User: it is the only metric, and a score needs one — turn the expansion score "
        "off instead")


def test_expansion_edits_are_refused_without_one_or_without_columns(draft):
    assert refused(tuning.add_metric(draft, "ARR ($)", NUMBERS, expansion=True), draft) == (
        "expansion: the model has no expansion score — turn the expansion score on first")
    assert refused(tuning.expansion_on(draft, {}), draft) == (
        "expansion.metrics: an expansion score needs at least one metric — pick its columns")
    on = tuning.expansion_on(draft, {"ARR ($)": NUMBERS}).yaml
    assert refused(tuning.expansion_on(on, {"Tier": WORDS}), on).startswith(
        "expansion: the model has an expansion score already")


# ------------------------------------------------------------------------------ anything they build round-trips

NAMES = st.sampled_from(["Logins/User", "Tickets (30d)", "CSM Pulse", "ARR ($)", "Adoption %", "Exec Sponsor?",
                         "a.b", "yes", "null", "1.5", "2024-01-01", "ünï 😀", "<b>x</b>", 'say "hi"', "Default",
                         "Engagement", "Support", "Ramp v1.0", "Steep drop", " ", "#x: [y]"])
# What the edits refer to: names MODEL_YAML has (first: hypothesis favours early items), ones the edits above
# tend to create, and ones that do not exist.
METRIC_REFS = st.sampled_from(["Tickets (30d)", "Logins/User", "CSM Pulse", "ARR ($)", "a.b", "Gone"])
GROUP_REFS = st.sampled_from(["Support", "Engagement", "a.b", "ünï 😀", "Gone"])
PROFILE_REFS = st.sampled_from(["Ramp v1.0", "a.b", "ünï 😀", "Default"])
ALERT_REFS = st.sampled_from(["Steep drop", "a.b", "Gone"])
VALUES = {"Exec Sponsor?": WORDS, "yes": WORDS, "<b>x</b>": pd.Series(["a", "b", "c"] * 5, dtype=object)}
EDITS = st.one_of(
    st.tuples(st.just("add_metric"), NAMES, st.one_of(st.none(), GROUP_REFS), st.one_of(st.none(), st.integers(0, 80))),
    st.tuples(st.just("remove_metric"), METRIC_REFS),
    st.tuples(st.just("relabel_metric"), METRIC_REFS, NAMES),
    st.tuples(st.just("metric_group"), METRIC_REFS, GROUP_REFS),
    st.tuples(st.just("add_group"), NAMES, st.one_of(st.none(), st.integers(0, 100))),
    st.tuples(st.just("rename_group"), GROUP_REFS, NAMES),
    st.tuples(st.just("remove_group"), GROUP_REFS, st.one_of(st.none(), GROUP_REFS)),
    st.tuples(st.just("groups_off")),
    st.tuples(st.just("add_profile"), NAMES, st.sampled_from(["Tier", "Lifecycle", "a.b"]),
              st.lists(NAMES, max_size=3)),
    st.tuples(st.just("rename_profile"), PROFILE_REFS, NAMES),
    st.tuples(st.just("set_condition"), PROFILE_REFS, st.sampled_from(["Tier", "Lifecycle"]),
              st.lists(NAMES, max_size=2)),
    st.tuples(st.just("move_profile"), PROFILE_REFS, st.integers(-2, 2)),
    st.tuples(st.just("remove_profile"), PROFILE_REFS),
    st.tuples(st.just("set_alert"), st.one_of(st.none(), ALERT_REFS), NAMES, st.one_of(st.none(), st.integers(0, 40)),
              st.sampled_from([None, "red", "yellow", "green"])),
    st.tuples(st.just("remove_alert"), ALERT_REFS),
    st.tuples(st.just("set_grades"), st.booleans()),
    st.tuples(st.just("expansion_on"), st.lists(NAMES, max_size=2)),
    st.tuples(st.just("expansion_off")),
    st.tuples(st.just("expansion_add"), NAMES),
)


def apply(draft: str, edit: tuple) -> tuning.EditResult:
    """One edit of :data:`EDITS` on the draft through the lib.views.tuning function it names."""
    kind, *args = edit
    values = lambda name: VALUES.get(name, NUMBERS)  # noqa: E731 - a one-line lookup
    match kind:
        case "add_metric":
            return tuning.add_metric(draft, args[0], values(args[0]), group=args[1], weight=args[2])
        case "metric_group":
            return tuning.edit_draft(draft, ("metrics", args[0], "group"), args[1])
        case "add_profile":
            return tuning.add_profile(draft, args[0], {args[1]: args[2]})
        case "set_alert":
            rule = tuning.alert_rule(args[1], drop=args[2], within=2, to_band=args[3])
            return tuning.set_alert(draft, args[0], rule)
        case "expansion_on":
            return tuning.expansion_on(draft, {c: values(c) for c in args[0]})
        case "expansion_add":
            return tuning.add_metric(draft, args[0], values(args[0]), expansion=True)
    return getattr(tuning, kind)(draft, *args)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(EDITS, min_size=1, max_size=12))
def test_any_model_the_edits_build_round_trips_through_yaml(edits):
    draft = dump_model(parse_model(MODEL_YAML))
    for edit in edits:
        result = apply(draft, edit)
        assert result.ok or result.yaml == draft  # a refused edit leaves the draft as it was
        draft = result.yaml
        model = parse_model(draft)
        assert parse_model(dump_model(model)) == model
        assert dump_model(parse_model(dump_model(model))) == dump_model(model)


# ------------------------------------------------------------------------------ window statistics


def stat_values(model, name):
    """What a metric scores, as TuneData.values gives it: here a made-up statistic in % (another scale)."""
    return pd.Series(np.linspace(-40, 20, 200)) if model.metrics[name].window else NUMBERS


def test_scoring_a_window_statistic_proposes_thresholds_on_its_scale_and_keeps_the_direction(draft):
    model = edited(tuning.set_window(draft, "Logins/User", {"snapshots": 3, "stat": "pct_change"}, stat_values))
    metric = model.metrics["Logins/User"]
    assert (metric.window.snapshots, metric.window.stat) == (3, "pct_change")
    assert isinstance(metric.score, Linear) and -40 < metric.score.red < metric.score.green < 20
    flipped = edited(tuning.set_window(dump_model(model), "Tickets (30d)", {"snapshots": 4, "stat": "mean"},
                                       stat_values))
    tickets = flipped.metrics["Tickets (30d)"].score
    assert tickets.points == (100, 50, 0) and max(tickets.cuts) <= 20  # lower still better, cuts re-proposed
    own = flipped.profile("Ramp v1.0").metrics["Tickets (30d)"]
    assert own.points[0] == 100 and own.points[-1] == 0 and max(own.cuts) <= 20  # the profile's own follow too


def test_scoring_the_raw_value_again_drops_the_window(draft):
    windowed = tuning.set_window(draft, "Logins/User", {"snapshots": 3, "stat": "mean"}, stat_values).yaml
    back = edited(tuning.set_window(windowed, "Logins/User", None, stat_values))
    assert back.metrics["Logins/User"].window is None


@pytest.mark.parametrize(("metric", "window", "message"), [
    ("CSM Pulse", {"snapshots": 3, "stat": "mean"}, "categor"),
    ("Logins/User", {"snapshots": 1, "stat": "mean"}, "snapshots"),
    ("Logins/User", {"snapshots": 3, "stat": "median"}, "stat"),
    ("Nope", {"snapshots": 3, "stat": "mean"}, "no metric"),
])
def test_a_window_the_model_cannot_score_is_refused_with_the_reason(draft, metric, window, message):
    assert message in refused(tuning.set_window(draft, metric, window, stat_values), draft)


def test_a_column_already_scored_can_be_added_again_as_its_trend(draft):
    model = edited(tuning.add_metric(draft, "Logins/User", NUMBERS, window={"snapshots": 6, "stat": "slope"},
                                     values_of=stat_values, group="Engagement"))
    name = tuning.window_metric_name("Logins/User", {"snapshots": 6, "stat": "slope"})
    assert name == "Logins/User · trend per snapshot 6"
    trend = model.metrics[name]
    assert trend.column == "Logins/User" and trend.window.stat == "slope" and trend.group == "Engagement"
    assert model.metrics["Logins/User"].window is None  # the level stays
    assert parse_model(dump_model(model)) == model
    assert "already" in refused(tuning.add_metric(dump_model(model), "Logins/User", NUMBERS,
                                                  window={"snapshots": 6, "stat": "slope"}, values_of=stat_values),
                                dump_model(model))
