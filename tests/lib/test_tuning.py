"""lib.views.tuning: slider ranges, default specs, draft edits and the live preview against the SQL engine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from lib import analysis
from lib.data.sample import generate_portfolio
from lib.engine.model import (
    METHODS,
    Categories,
    Linear,
    ModelError,
    Percentile,
    Steps,
    VsAverage,
    check_columns,
    dump_model,
    model_from_dict,
    model_to_dict,
    parse_model,
    set_value,
)
from lib.engine.numpy_eval import LiveScorer
from lib.engine.scored_portfolio import attach_attributes
from lib.engine.sql import score
from lib.views import portfolio as pf
from lib.views import tuning
from lib.views import validation as vv

# --------------------------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(("span", "step"), [(37.0, 0.5), (100.0, 1.0), (1.3, 0.02), (0.0, 1.0), (2500.0, 50.0)])
def test_nice_step_is_the_1_2_5_step_above_a_hundredth_of_the_span(span, step):
    assert tuning.nice_step(span) == step


def test_slider_range_ignores_outliers_beyond_the_99th_percentile():
    values = np.r_[np.linspace(0, 10, 1000), 1e6]
    rng = tuning.slider_range(values)
    assert rng.lo == 0.0
    assert 10 <= rng.hi < 12


def test_slider_range_widens_to_show_every_threshold():
    rng = tuning.slider_range(np.linspace(0, 10, 100), include=[-3.0, 25.0])
    assert rng.lo <= -3.0 and rng.hi >= 25.0


def test_slider_range_keeps_room_below_negative_data_and_stops_at_zero_otherwise():
    assert tuning.slider_range(np.linspace(-5, 5, 100)).lo < -5
    assert tuning.slider_range(np.linspace(0.1, 5, 100)).lo == 0.0


def test_slider_range_gives_counts_whole_steps_and_text_is_ignored():
    rng = tuning.slider_range(pd.Series([0, 1, 2, 3, "n/a", None, 4, 5] * 20, dtype=object))
    assert rng.step == 1.0 and rng.format == "%.0f"
    assert (rng.lo, rng.hi) == (0.0, 6.0)


def test_slider_step_is_refined_until_every_threshold_is_on_it():
    rng = tuning.slider_range(np.linspace(0, 12, 500), include=[1.5, 10])
    assert rng.step == 0.1
    assert tuning.slider_range(np.linspace(0, 12, 500), include=[1.6, 10]).step == 0.2
    assert tuning.slider_range(np.linspace(0, 12, 500), include=[1.55]).step == 0.05


def test_slider_range_without_values_spans_the_thresholds():
    rng = tuning.slider_range([], include=[2.0, 8.0])
    assert rng.lo <= 2.0 and rng.hi >= 8.0 and rng.step > 0


def test_ratio_range_is_zero_to_three_unless_a_cut_lies_beyond():
    assert tuning.ratio_range([0.8, 1.2]) == tuning.SliderRange(0.0, 3.0, 0.05)
    assert tuning.ratio_range([4.12]).hi == pytest.approx(4.15)


# --------------------------------------------------------------------------------------------- specs

UNIFORM = pd.Series(np.linspace(0, 100, 1001))


def test_default_linear_runs_from_the_10th_to_the_90th_percentile():
    assert tuning.default_spec("linear", UNIFORM) == {"method": "linear", "red": 10.0, "green": 90.0}


def test_default_spec_keeps_the_previous_direction():
    spec = tuning.default_spec("linear", UNIFORM, previous=Steps((3, 6), (100, 50, 0)))
    assert spec["red"] > spec["green"]
    steps = tuning.default_spec("steps", UNIFORM, previous=Linear(9, 1))
    assert steps["points"] == [100, 50, 0]
    assert tuning.default_spec("percentile", UNIFORM, previous=VsAverage(("size",), (1,), (0, 100), True)) == {
        "method": "percentile", "within": ["size"], "lower_is_better": True}


def test_default_steps_cut_at_the_terciles():
    assert tuning.default_spec("steps", UNIFORM) == {"method": "steps", "cuts": [33.0, 67.0], "points": [0, 50, 100]}


def test_default_steps_on_constant_data_keep_one_cut():
    spec = tuning.default_spec("steps", pd.Series([4.0] * 50))
    assert spec == {"method": "steps", "cuts": [4.0], "points": [0, 100]}


def test_default_categories_read_traffic_light_words_most_frequent_first():
    values = pd.Series(["Green", "green ", "red", "Yellow", None, "green", "meh"])
    assert tuning.default_spec("categories", values) == {
        "method": "categories", "map": {"Green": 100.0, "red": 0.0, "Yellow": 50.0, "meh": 50.0}}


def test_default_categories_of_numbers_spread_points_by_value():
    spec = tuning.default_spec("categories", pd.Series(["3", "1", "2", "1"]))
    assert spec["map"] == {"1": 0.0, "2": 50.0, "3": 100.0}


@pytest.mark.parametrize("method", ["linear", "steps"])
def test_numeric_defaults_on_a_text_column_say_to_use_categories(method):
    with pytest.raises(ValueError, match="use categories"):
        tuning.default_spec(method, pd.Series(["red", "green"]))


def test_unknown_method_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="linear, steps, categories"):
        tuning.default_spec("sigmoid", UNIFORM)


@pytest.mark.parametrize("method", METHODS)
def test_every_default_spec_is_a_valid_model_edit(model, method):
    values = pd.Series(["green", "red"]) if method == "categories" else UNIFORM
    edited = set_value(model, "metrics.open_tickets.score", tuning.default_spec(method, values))
    assert edited.metrics["open_tickets"].score.method == method


@pytest.mark.parametrize(("spec", "lower"), [
    (Linear(2, 8), False), (Linear(8, 2), True), (Steps((1,), (100, 0)), True), (Steps((1,), (0, 100)), False),
    (Percentile((), True), True), (VsAverage((), (1,), (0, 100)), False), (Categories({"a": 1}), False),
])
def test_lower_is_better_reads_each_method(spec, lower):
    assert tuning.lower_is_better(spec) is lower


def test_reverse_direction_swaps_linear_and_flips_steps_and_flags():
    assert tuning.reverse_direction(Linear(2, 8)) == {"method": "linear", "red": 8, "green": 2}
    assert tuning.reverse_direction(Steps((1, 2), (0, 50, 100)))["points"] == [100, 50, 0]
    assert tuning.reverse_direction(Percentile((), False)) is True
    with pytest.raises(ValueError, match="no direction"):
        tuning.reverse_direction(Categories({"a": 1}))


def test_direction_key_is_the_flag_for_peer_methods_and_the_spec_otherwise():
    key = ("metrics", "nps", "score")
    assert tuning.direction_key(Percentile((), False), key) == ("metrics", "nps", "score", "lower_is_better")
    assert tuning.direction_key(VsAverage((), (0.8,), (0, 100), False), key) == (*key, "lower_is_better")
    assert tuning.direction_key(Linear(2, 8), key) == key
    assert tuning.direction_key(Steps((1, 2), (0, 50, 100)), key) == key


def test_steps_gain_and_lose_an_interval():
    spec = Steps((3, 6), (100, 50, 0))
    assert tuning.with_step(spec, 2) == {"method": "steps", "cuts": [3, 6, 8.0], "points": [100, 50, 0, 0]}
    assert tuning.without_step(spec) == {"method": "steps", "cuts": [3], "points": [100, 50]}
    with pytest.raises(ValueError, match="at least one cut"):
        tuning.without_step(Steps((3,), (100, 0)))


def test_replaced_changes_one_item():
    assert tuning.replaced((1.0, 2.0, 3.0), 1, 9.0) == [1.0, 9.0, 3.0]


# --------------------------------------------------------------------------------------------- edits


# The sample's metrics with fixed settings (data/models/default.yaml may be retuned; these tests must not move).
MODEL_YAML = """
name: Default
bands: {red: 40, yellow: 70}
missing: renormalize
metrics:
  logins_per_user: {group: Engagement, weight: 60, score: {method: linear, red: 1.5, green: 10}}
  feature_adoption_pct: {group: Engagement, weight: 40, score: {method: percentile, within: [size]}}
  open_tickets: {group: Support, weight: 100, score: {method: steps, cuts: [3, 6], points: [100, 50, 0]}}
  nps: {group: Sentiment, weight: 40, score: {method: linear, red: 4, green: 9}}
  csm_sentiment: {group: Sentiment, weight: 60, score: {method: categories, map: {green: 100, yellow: 50, red: 0}}}
  invoice_days_late: {group: Billing, weight: 100, score: {method: steps, cuts: [1, 15, 45], points: [100, 70, 30, 0]}}
groups: {Engagement: 45, Support: 20, Sentiment: 25, Billing: 10}
profiles:
  - name: Onboarding
    when: {stage: [Onboarding]}
    weights: {logins_per_user: 40, nps: 0}
    metrics: {logins_per_user: {score: {method: linear, red: 0.5, green: 4}}}
"""


@pytest.fixture(scope="module")
def model():
    return parse_model(MODEL_YAML)


def test_edit_draft_sets_one_key_and_keeps_the_rest(model):
    result = tuning.edit_draft(dump_model(model), "metrics.logins_per_user.score.red", 3)
    assert result.ok
    edited = parse_model(result.yaml)
    assert edited.metrics["logins_per_user"].score == Linear(3, model.metrics["logins_per_user"].score.green)
    assert edited.bands == model.bands


def test_invalid_edit_returns_the_models_message_and_leaves_the_draft(model):
    draft = dump_model(model)
    result = tuning.edit_draft(draft, "metrics.logins_per_user.score.red", model.metrics["logins_per_user"].score.green)
    assert not result.ok and result.yaml == draft
    assert result.problems[0].startswith("metrics.logins_per_user.score: red and green are both")
    assert "make them differ" in result.problems[0]


def test_band_edit_with_red_above_yellow_names_the_key_and_fix(model):
    result = tuning.edit_draft(dump_model(model), "bands", {"red": 80, "yellow": 70})
    assert result.problems == ("bands: red (80) must be below yellow (70) — need 0 <= red < yellow <= 100, "
                               "e.g. {red: 30, yellow: 70}",)


def test_upload_is_validated_against_the_data_columns(model):
    text = dump_model(model)
    assert tuning.read_model_upload(text.encode(), "m.yaml", [*model.metrics, "size", "stage"]) == text
    with pytest.raises(ModelError) as err:
        tuning.read_model_upload(text.encode(), "m.yaml", ["size", "stage"])
    assert err.value.source == "m.yaml"
    assert [p.key for p in err.value.problems][:2] == ["metrics.logins_per_user", "metrics.feature_adoption_pct"]


@pytest.mark.parametrize(("data", "key"), [(b"\xff\xfe\x00bad", "(file)"), (b"bands: [", "(yaml)"),
                                           (b"name: x\nmetrics: {a: {score: {method: linar}}}",
                                            "metrics.a.score.method")])
def test_bad_uploads_name_the_problem(data, key):
    with pytest.raises(ModelError) as err:
        tuning.read_model_upload(data, "m.yaml", ["a"])
    assert err.value.problems[0].key == key


def test_diff_table_lists_changed_settings_as_text(model):
    draft = set_value(set_value(model, "bands.red", 35), "metrics.open_tickets.score.cuts", [2, 6])
    table = tuning.diff_table(model, draft)
    assert table.to_dict("records") == [
        {"setting": "bands.red", "saved": "40", "draft": "35"},
        {"setting": "metrics.open_tickets.score.cuts", "saved": "[3, 6]", "draft": "[2, 6]"},
    ]
    assert tuning.diff_table(model, model).empty


def test_scopes_point_at_profile_overrides_only_where_they_exist(model):
    assert tuning.spec_path(model, "logins_per_user", "Onboarding") == (
        ("profiles", "Onboarding", "metrics", "logins_per_user", "score"))
    assert tuning.spec_path(model, "nps", "Onboarding") == ("metrics", "nps", "score")
    assert tuning.weight_path(model, "nps", "Default") == ("metrics", "nps", "weight")
    assert tuning.weight_path(model, "nps", "Onboarding") == ("profiles", "Onboarding", "weights", "nps")


def test_threshold_marks_hold_the_drafts_thresholds_then_the_saved_ones(model):
    draft = set_value(model, "profiles.Onboarding.metrics.logins_per_user.score.green", 6)
    assert tuning.threshold_marks(model, draft, "logins_per_user", "Onboarding") == (0.5, 6, 0.5, 4)
    assert tuning.threshold_marks(model, draft, "logins_per_user", "Default") == (1.5, 10, 1.5, 10)
    assert tuning.threshold_marks(model, draft, "open_tickets", "Default") == (3, 6, 3, 6)
    assert tuning.threshold_marks(model, draft, "csm_sentiment", "Default") == ()
    other = parse_model("metrics: {a: {score: {method: linear, red: 0, green: 1}}}")
    assert tuning.threshold_marks(other, model, "nps", "Default") == (4, 9, 4, 9)  # not saved: the draft's twice


def test_scopes_edit_names_with_dots_as_written():
    """A metric column, profile or segment value may contain dots: scopes give key parts, never a dotted key."""
    model = parse_model("""
metrics:
  usage.pct: {weight: 2, score: {method: linear, red: 10, green: 60}}
  nps: {weight: 1, score: {method: linear, red: 0, green: 50}}
profiles:
  - {name: Tier 1.0, when: {tier: ["1.0"]}, metrics: {usage.pct: {score: {method: linear, red: 5, green: 50}}}}
""")
    draft = dump_model(model)
    key = tuning.weight_path(model, "usage.pct", "Tier 1.0")
    edited = parse_model(tuning.edit_draft(draft, key, 7).yaml)
    assert edited.weights_for("Tier 1.0")["usage.pct"] == 7 and edited.weights_for("Default")["usage.pct"] == 2
    key = tuning.spec_path(model, "usage.pct", "Tier 1.0")
    edited = parse_model(tuning.edit_draft(draft, (*key, "green"), 40).yaml)
    assert edited.spec_for("Tier 1.0", "usage.pct").green == 40
    assert edited.metrics["usage.pct"].score.green == 60
    key = tuning.weight_path(model, "usage.pct", "Default")
    assert parse_model(tuning.edit_draft(draft, key, 5).yaml).metrics["usage.pct"].weight == 5


def test_profile_weight_edit_through_its_scope_changes_only_that_profile(model):
    key = tuning.weight_path(model, "nps", "Onboarding")
    edited = parse_model(tuning.edit_draft(dump_model(model), key, 30).yaml)
    assert edited.weights_for("Onboarding")["nps"] == 30
    assert edited.weights_for("Default")["nps"] == model.weights_for("Default")["nps"]


def test_group_shares_sum_the_effective_weights(model):
    from lib.engine.model import effective_weights

    shares = tuning.group_shares(model, "Default", effective_weights(model)["Default"])
    assert shares == pytest.approx({"Engagement": 0.45, "Support": 0.20, "Sentiment": 0.25, "Billing": 0.10})


def test_new_model_name_must_be_new_and_not_blank():
    assert tuning.new_model_name_problem("  ", ["Default"]) is not None
    assert "exists" in tuning.new_model_name_problem("Default", ["Default"])
    assert tuning.new_model_name_problem("Q3 draft", ["Default"]) is None


# --------------------------------------------------------------------------------------------- preview


@pytest.fixture(scope="module")
def portfolio():
    return generate_portfolio(n_accounts=150, n_snapshots=8)


@pytest.fixture(scope="module")
def file_labels(portfolio):
    """The portfolio file's own health labels, as the Tune page passes them (with none set by hand)."""
    return vv.file_labels(portfolio)


@pytest.fixture(scope="module")
def data(portfolio, model):
    return tuning.TuneData(LiveScorer(portfolio, model), portfolio, model)


def _scored(model, portfolio):
    return attach_attributes(score(model, portfolio), portfolio, ["size", "stage", "region"], [])


DRAFTS = {
    "bands": lambda m: set_value(m, "bands", {"red": 55, "yellow": 75}),
    "threshold": lambda m: set_value(m, "metrics.logins_per_user.score.green", 4),
    "weights": lambda m: set_value(set_value(m, "groups.Billing", 60), "missing", "zero"),
}


@pytest.mark.parametrize("edit", DRAFTS)
@pytest.mark.parametrize("filters", [{}, {"size": ("SMB", "Enterprise")}])
def test_preview_aggregates_equal_the_sql_engine(data, portfolio, model, edit, filters, file_labels):
    draft = DRAFTS[edit](model)
    as_of = data.dates[-2]
    pv = data.preview(draft, as_of, filters, labels=file_labels)
    new = pf.apply_filters(_scored(draft, portfolio), filters)
    old = pf.apply_filters(_scored(model, portfolio), filters)
    assert pv.counts["draft"].to_dict() == pf.band_summary(new, as_of).set_index("band")["accounts"].to_dict()
    assert pv.counts["saved"].to_dict() == pf.band_summary(old, as_of).set_index("band")["accounts"].to_dict()
    pd.testing.assert_frame_equal(pv.over_time.rename_axis(columns=None), pf.band_counts_over_time(new),
                                  check_names=False, check_freq=False)
    assert pv.avg_score == pytest.approx(pf.headline(new, as_of)["avg_score"])
    assert pv.n_accounts == len(pf.at_date(new, as_of))
    both = pf.at_date(old, as_of).merge(pf.at_date(new, as_of), on="account_id", suffixes=("_saved", "_draft"))
    assert pv.n_changed == int((both["band_saved"] != both["band_draft"]).sum())
    labelled = analysis.labelled_accounts(new, as_of=as_of)
    expected = analysis.separation(labelled["score"], labelled["label"])
    assert (pv.separation.auc, pv.separation.n_healthy, pv.separation.n_struggling) == pytest.approx(
        (expected.auc, expected.n_healthy, expected.n_struggling), nan_ok=True)


def test_raising_the_red_cut_off_never_lowers_the_red_count(data, model, file_labels):
    as_of = data.dates[-1]
    reds = []
    for red in (20, 40, 50, 60):
        draft = set_value(model, "bands.red", red)
        reds.append(data.preview(draft, as_of, {}, labels=file_labels).counts.at["red", "draft"])
    assert reds == sorted(reds) and reds[0] < reds[-1]


def test_movers_are_the_accounts_that_change_band_biggest_change_first(data, portfolio, model, file_labels):
    draft = set_value(model, "metrics.logins_per_user.score", {"method": "linear", "red": 6, "green": 12})
    as_of = data.dates[-1]
    pv = data.preview(draft, as_of, {}, top=5, labels=file_labels)
    both = pf.at_date(_scored(model, portfolio), as_of).merge(
        pf.at_date(_scored(draft, portfolio), as_of), on="account_id", suffixes=("_saved", "_draft"))
    moved = both.loc[both["band_saved"] != both["band_draft"]]
    moved = moved.assign(gap=(moved["score_draft"] - moved["score_saved"]).abs()).sort_values(
        ["gap", "account_id"], ascending=[False, True])
    assert pv.n_changed == len(moved) > 5
    assert list(pv.movers["account_id"]) == list(moved["account_id"][:5])
    first = pv.movers.iloc[0]
    row = moved.iloc[0]
    assert (first["saved_band"], first["draft_band"]) == (row["band_saved"], row["band_draft"])
    assert first["change"] == pytest.approx(row["score_draft"] - row["score_saved"])
    assert first["account_name"] == row["account_name_saved"]


def test_saved_model_as_draft_moves_nothing(data, model, file_labels):
    pv = data.preview(model, data.dates[-1], {}, labels=file_labels)
    assert pv.n_changed == 0 and pv.movers.empty
    assert (pv.counts["change"] == 0).all()
    assert pv.separation == pv.separation_saved


def test_preview_changes_are_the_draft_minus_the_saved_model(data, model, file_labels):
    pv = data.preview(DRAFTS["threshold"](model), data.dates[-1], {}, labels=file_labels)
    bands = ["red", "yellow", "green"]
    assert [pv.band_change(b) for b in bands] == pv.counts.loc[bands, "change"].tolist()
    assert pv.avg_score_change == round(pv.avg_score - pv.avg_score_saved, 1) != 0
    assert pv.separation_change == round(pv.separation.auc - pv.separation_saved.auc, 3)
    no_auc = dataclasses.replace(pv, separation=analysis.Separation(float("nan"), 0, 0, "no labels"))
    assert no_auc.separation_change is None


def test_ratios_at_divide_by_the_peer_mean_of_the_whole_portfolio(data, portfolio):
    as_of = data.dates[-1]
    rows = portfolio.loc[portfolio["snapshot_date"] == as_of]
    expected = rows["logins_per_user"] / rows.groupby("size")["logins_per_user"].transform("mean")
    got = data.ratios_at("logins_per_user", ("size",), as_of, {"region": ("EMEA",)})
    want = expected[rows["region"] == "EMEA"].sort_index()
    order = rows.loc[rows["region"] == "EMEA"].sort_values("account_id").index
    np.testing.assert_allclose(got.to_numpy(), expected.loc[order].to_numpy())
    assert len(got) == len(want)


def test_values_at_are_one_per_account_at_the_date(data, portfolio):
    as_of = data.dates[-1]
    got = data.values_at("csm_sentiment", as_of, {})
    rows = portfolio.loc[portfolio["snapshot_date"] == as_of].sort_values("account_id")
    assert list(got) == list(rows["csm_sentiment"])


def test_unknown_date_is_refused_with_a_hint(data):
    with pytest.raises(ValueError, match="pick one of its dates"):
        data.rows_at(pd.Timestamp("1999-01-01"), {})


def test_range_for_covers_the_saved_thresholds(data, model):
    rng = data.range_for("logins_per_user", tuning.spec_marks(model.metrics["logins_per_user"].score))
    assert rng.lo <= 2 and rng.hi >= 8


def test_band_moves_reuse_the_drafts_scores_and_threshold_moves_recompute(data, model):
    first = data.scores(set_value(model, "bands.red", 35))
    assert data.scores(set_value(model, "bands.red", 45)) is first
    other = data.scores(set_value(model, "metrics.nps.score.green", 7))
    assert other is not first and not np.array_equal(other, first, equal_nan=True)


def test_band_codes_put_scores_on_a_cut_off_in_the_lower_band():
    codes = tuning.band_codes(np.array([0.0, 30.0, 30.5, 70.0, 70.1, np.nan]), 30, 70)
    assert codes.tolist() == [0, 0, 1, 1, 2, 3]


def test_profile_caption_says_which_accounts_it_scores(model):
    assert tuning.profile_caption(model, "Onboarding") == "Accounts where stage is Onboarding"
    assert tuning.profile_caption(model, "Default") == "Accounts no other profile matches"
    assert tuning.profile_caption(set_value(model, "profiles", []), "Default") == "Every account"


def test_profile_choices_start_with_default_then_follow_the_match_order(model):
    assert tuning.profile_choices(model) == ["Default", "Onboarding"]
    assert tuning.profile_choices(set_value(model, "profiles", [])) == ["Default"]


def test_grouped_metrics_follow_the_group_order(model):
    assert tuning.grouped_metrics(model) == [
        ("Engagement", ["logins_per_user", "feature_adoption_pct"]), ("Support", ["open_tickets"]),
        ("Sentiment", ["nps", "csm_sentiment"]), ("Billing", ["invoice_days_late"])]
    flat = parse_model("metrics: {a: {score: {method: linear, red: 0, green: 1}}}")
    assert tuning.grouped_metrics(flat) == [(None, ["a"])]


# ------------------------------------------------------------------------------ a profile's own thresholds


def test_a_profile_gets_a_copy_of_the_base_thresholds_and_edits_change_only_it(model):
    result = tuning.own_thresholds(dump_model(model), "open_tickets", "Onboarding")
    assert result.ok, result.problems
    own = parse_model(result.yaml)
    assert own.spec_for("Onboarding", "open_tickets") == model.metrics["open_tickets"].score
    assert tuning.has_own_thresholds(own, "open_tickets", "Onboarding")
    key = tuning.spec_path(own, "open_tickets", "Onboarding")
    assert key == ("profiles", "Onboarding", "metrics", "open_tickets", "score")
    edited = parse_model(tuning.edit_draft(result.yaml, (*key, "cuts"), [1, 2]).yaml)
    assert edited.spec_for("Onboarding", "open_tickets").cuts == (1, 2)
    assert edited.metrics["open_tickets"].score == model.metrics["open_tickets"].score
    assert edited.profile("Onboarding").metrics["logins_per_user"] == model.profile("Onboarding").metrics[
        "logins_per_user"]


def test_giving_a_profile_thresholds_it_has_already_keeps_them(model):
    draft = dump_model(model)
    assert tuning.own_thresholds(draft, "logins_per_user", "Onboarding").yaml == draft


def test_using_the_base_thresholds_drops_the_profiles_own(model):
    result = tuning.base_thresholds(dump_model(model), "logins_per_user", "Onboarding")
    assert result.ok, result.problems
    edited = parse_model(result.yaml)
    assert not tuning.has_own_thresholds(edited, "logins_per_user", "Onboarding")
    assert edited.spec_for("Onboarding", "logins_per_user") == model.metrics["logins_per_user"].score
    assert edited.profile("Onboarding").weights == model.profile("Onboarding").weights
    assert tuning.spec_path(edited, "logins_per_user", "Onboarding") == ("metrics", "logins_per_user", "score")


@pytest.mark.parametrize("edit", [tuning.own_thresholds, tuning.base_thresholds])
def test_default_and_unknown_profiles_have_no_thresholds_of_their_own(model, edit):
    draft = dump_model(model)
    for profile in ("Default", "Renewal"):
        result = edit(draft, "nps", profile)
        assert not result.ok and result.yaml == draft
        assert result.problems[0].startswith("profiles: ")


# ------------------------------------------------------------------------------ categories from the data

HOSTILE = ["a.b", "x.y.z", 'say "hi"', "it's", "<script>alert(1)</script>", "**bold** [link](http://x)",
           "yes", "null", "1.5", "a: b", "- dash", "#hash", "*alias", "&anchor", "{x: 1}", "[1, 2]", "back\\slash",
           "tab\there", "line\nbreak", "ünï 😀", "x" * 300, "profiles.Onboarding", "map.green"]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_edit_draft_by_key_parts_reaches_any_category_text(model, value):
    path = ("metrics", "csm_sentiment", "score", "map", value)
    result = tuning.edit_draft(dump_model(model), path, 30)
    assert result.ok, result.problems
    edited = parse_model(result.yaml)
    assert edited.metrics["csm_sentiment"].score.map == {"green": 100, "yellow": 50, "red": 0, value: 30}
    again = tuning.edit_draft(result.yaml, path, 45)  # an existing key is found again the same way
    assert parse_model(again.yaml).metrics["csm_sentiment"].score.map[value] == 45


def test_dotted_keys_still_find_names_with_dots_that_exist(model):
    draft = tuning.edit_draft(dump_model(model), ("metrics", "csm_sentiment", "score", "map", "a.b"), 30).yaml
    edited = parse_model(tuning.edit_draft(draft, "metrics.csm_sentiment.score.map.a.b", 60).yaml)
    assert edited.metrics["csm_sentiment"].score.map["a.b"] == 60


def test_edit_draft_by_parts_reports_a_bad_path_instead_of_raising(model):
    draft = dump_model(model)
    result = tuning.edit_draft(draft, ("profiles", "Renewal", "weights", "nps"), 10)
    assert not result.ok and result.yaml == draft
    assert result.problems == ("profiles.Renewal.weights.nps: no list item 'Renewal' — use an existing name or an "
                               "index",)
    assert not tuning.edit_draft(draft, ("bands", "red", "x"), 1).ok


def test_unmapped_categories_count_what_the_map_does_not_match():
    values = pd.Series(["Green", " green ", "Amber", "amber", "AMBER", "<b>x</b>", "", "  ", None, np.nan, "red"],
                       dtype=object)
    table = tuning.unmapped_categories(values, Categories({"green": 100, "red": 0}))
    assert table.to_dict("records") == [{"value": "Amber", "accounts": 3}, {"value": "<b>x</b>", "accounts": 1}]
    assert tuning.unmapped_categories(values, Categories({"green": 100, "red": 0, "AMBER": 50, "<B>X</B>": 0})).empty


def test_unmapped_categories_read_numbers_and_yes_no_as_scoring_does():
    # A number column with a gap is float: scoring matches its values as "1.0", "2.0" (so "1" is not "1.0").
    assert tuning.unmapped_categories(pd.Series([1, 2, 2, np.nan]), Categories({"1": 0})).to_dict("records") == [
        {"value": "2.0", "accounts": 2}, {"value": "1.0", "accounts": 1}]
    assert tuning.unmapped_categories(pd.Series([1, 2, 2]), Categories({"1": 0})).to_dict("records") == [
        {"value": "2", "accounts": 2}]
    assert tuning.unmapped_categories(pd.Series([True, False, True]), Categories({"true": 100})).to_dict(
        "records") == [{"value": "false", "accounts": 1}]


def test_add_categories_puts_data_values_in_the_map_with_their_points(model):
    result = tuning.add_categories(dump_model(model), "csm_sentiment", "Default", ["<script>x</script>", " a.b ",
                                                                                   "GREEN", "", None], 20)
    assert result.ok, result.problems
    assert parse_model(result.yaml).metrics["csm_sentiment"].score.map == {
        "green": 100, "yellow": 50, "red": 0, "<script>x</script>": 20, "a.b": 20}


def test_add_categories_fills_the_map_the_profile_scores_with(model):
    draft = tuning.edit_draft(dump_model(model), ("profiles", "Onboarding", "metrics", "csm_sentiment"),
                              {"score": {"method": "categories", "map": {"green": 80}}}).yaml
    edited = parse_model(tuning.add_categories(draft, "csm_sentiment", "Onboarding", ["teal"], 55).yaml)
    assert edited.profile("Onboarding").metrics["csm_sentiment"].map == {"green": 80, "teal": 55}
    assert "teal" not in edited.metrics["csm_sentiment"].score.map
    base = parse_model(tuning.add_categories(draft, "csm_sentiment", "Default", ["teal"], 55).yaml)
    assert base.metrics["csm_sentiment"].score.map["teal"] == 55
    assert "teal" not in base.profile("Onboarding").metrics["csm_sentiment"].map


def test_add_categories_refuses_a_metric_not_scored_by_categories_and_bad_points(model):
    draft = dump_model(model)
    result = tuning.add_categories(draft, "nps", "Default", ["x"], 50)
    assert result.problems == ("metrics.nps.score: this metric is not scored by categories — switch its method to "
                               "categories first",)
    result = tuning.add_categories(draft, "csm_sentiment", "Default", ["x"], 150)
    assert not result.ok and result.yaml == draft and "between 0 and 100" in result.problems[0]


# ------------------------------------------------------------------------------ fitting a model to the data

def _misfit(model):
    """The model plus a metric on a column the sample lacks, in its own group and in the profile."""
    d = model_to_dict(model)
    d["metrics"]["churn_risk"] = {"group": "Risk", "weight": 100,
                                  "score": {"method": "linear", "red": 9, "green": 1}}
    d["groups"] = {"Risk": 30, **d["groups"]}
    d["profiles"][0]["weights"]["churn_risk"] = 50
    d["profiles"][0]["metrics"] = {"churn_risk": {"score": {"method": "linear", "red": 8, "green": 2}},
                                   **d["profiles"][0]["metrics"]}
    return model_from_dict(d)


def test_dropping_missing_columns_removes_the_metric_and_every_reference(portfolio, model):
    misfit = _misfit(model)
    columns = list(portfolio.columns)
    assert [p.key for p in check_columns(misfit, columns)] == ["metrics.churn_risk"]
    assert tuning.misfit_removals(misfit, columns) == [
        "metric 'churn_risk': its column is not in the data (with its settings in profile 'Onboarding')",
        "group 'Risk': none of its metrics is left"]
    result = tuning.drop_missing_columns(dump_model(misfit), columns)
    assert result.ok, result.problems
    fitted = parse_model(result.yaml)
    assert fitted == model
    assert check_columns(fitted, columns) == []


def test_dropping_missing_columns_also_frees_peer_segments_and_drops_profiles_on_a_missing_segment(model):
    columns = [c for c in model.metrics] + ["region"]  # no size (peers), no stage (the Onboarding profile)
    fitted = parse_model(tuning.drop_missing_columns(dump_model(model), columns).yaml)
    assert fitted.metrics["feature_adoption_pct"].score == Percentile(())
    assert fitted.profiles == ()
    assert check_columns(fitted, columns) == []
    assert tuning.misfit_removals(model, columns) == [
        "profile 'Onboarding': it picks accounts by 'stage', which is not in the data",
        "peer segment 'size' of metric 'feature_adoption_pct': not in the data"]


def test_dropping_missing_columns_refuses_when_nothing_would_be_left(model):
    draft = dump_model(model)
    result = tuning.drop_missing_columns(draft, ["account_id", "size", "stage"])
    assert not result.ok and result.yaml == draft
    assert result.problems[0].startswith("metrics: every metric reads a column the data lacks ('logins_per_user'")
    assert "Upload YAML" in result.problems[0]
    assert tuning.misfit_removals(model, ["size"]) == []


def test_dropping_missing_columns_refuses_a_profile_left_without_weight(model):
    draft = tuning.edit_draft(dump_model(model), "profiles.Onboarding.weights", {
        m: (100 if m == "nps" else 0) for m in model.metrics}).yaml
    result = tuning.drop_missing_columns(draft, [m for m in model.metrics if m != "nps"] + ["size", "stage"])
    assert not result.ok and result.yaml == draft
    assert "profile 'Onboarding' gives no metric a positive weight" in result.problems[0]


def test_preview_without_a_saved_model_counts_the_draft_and_compares_nothing(portfolio, model, file_labels):
    data = tuning.TuneData(LiveScorer(portfolio, model), portfolio, None)
    as_of = data.dates[-1]
    pv = data.preview(model, as_of, {}, labels=file_labels)
    scored = _scored(model, portfolio)
    assert pv.counts["draft"].to_dict() == pf.band_summary(scored, as_of).set_index("band")["accounts"].to_dict()
    assert not pv.compared and pv.n_changed == 0 and pv.movers.empty
    assert pv.counts.loc[["red", "yellow", "green"], "saved"].tolist() == [0, 0, 0]
    assert (pv.band_change("red"), pv.avg_score_change, pv.separation_change) == (None, None, None)


def test_preview_separation_uses_the_labels_given_with_hand_labels_on_top(data, portfolio, model):
    """Labels passed in (the file's with hand-set ones on top) decide the separation, as lib.analysis counts."""
    as_of = data.dates[-1]
    ids = sorted(portfolio["account_id"].astype(str).unique())
    labels = pd.Series(["healthy"] * 20 + ["struggling"] * 15, index=ids[:35], name="label")
    pv = data.preview(model, as_of, {}, labels=labels)
    scored = _scored(model, portfolio).drop(columns="health_label")
    expected = analysis.separation(*analysis.labelled_accounts(scored, labels, as_of=as_of)[["score", "label"]]
                                   .to_numpy().T)
    assert expected.n_healthy > 0 and expected.n_struggling > 0
    assert (pv.separation.n_healthy, pv.separation.n_struggling) == (expected.n_healthy, expected.n_struggling)
    assert pv.separation.auc == pytest.approx(expected.auc)
    assert pv.separation == pv.separation_saved  # same model: same separation
    no_labels = data.preview(model, as_of, {}, labels=labels.iloc[:0])
    assert (no_labels.separation.n_healthy, no_labels.separation.n_struggling) == (0, 0)
