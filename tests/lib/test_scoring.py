"""The scoring engine: the domain articles' worked examples, each score rule, and SQL = numpy."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from lib.engine.model import ModelError, load_model, parse_model, set_value
from lib.engine.numpy_eval import LiveScorer
from lib.engine.plan import BANDS
from lib.engine.sql import compile_sql, metric_quality, score
from tests.lib.helpers import ROOT, assert_same_scores, frame, make_model


def scored(model, df) -> pd.DataFrame:
    """Score with DuckDB and check the numpy path gives the same table."""
    sql = score(model, df)
    assert_same_scores(sql, LiveScorer(df, model).rescore(model))
    return sql


def by_account(result: pd.DataFrame, column: str) -> dict:
    return dict(zip(result["account_id"], result[column], strict=True))


# ---------------------------------------------------------------------------------------------- worked examples


def test_four_metrics_at_health_points_10_5_5_10_score_75_green():
    """Staircase AI: (10 + 5 + 5 + 10) / 4 = 7.5 of 10, i.e. 75 of 100 — green with bands 30/70."""
    points = {f"m{i}": {"weight": 1, "score": {"method": "linear", "red": 0, "green": 10}} for i in range(4)}
    model = make_model(points)
    result = scored(model, frame([{"account_id": "A", "m0": 10, "m1": 5, "m2": 5, "m3": 10}]))
    assert result.loc[0, "score"] == 75
    assert result.loc[0, "band"] == "green"
    assert [result.loc[0, f"m{i}_contribution"] for i in range(4)] == [25, 12.5, 12.5, 25]


def test_40_30_30_model_puts_accounts_at_30_31_70_71_in_the_right_bands():
    """Freshsuccess: usage 40 %, tickets 30 %, CSM assessment 30 %; red 0–30, yellow 31–70, green 71–100."""
    model = make_model({
        "usage": {"weight": 40, "score": {"method": "linear", "red": 0, "green": 100}},
        "open_tickets": {"weight": 30, "score": {"method": "steps", "cuts": [3, 6], "points": [100, 50, 0]}},
        "csm_assessment": {"weight": 30, "score": {"method": "categories",
                                                   "map": {"green": 100, "yellow": 50, "red": 0}}},
    }, bands={"red": 30, "yellow": 70})
    df = frame([
        {"account_id": "at30", "usage": 75, "open_tickets": 9, "csm_assessment": "red"},      # 30
        {"account_id": "at31", "usage": 77.5, "open_tickets": 9, "csm_assessment": "red"},    # 31
        {"account_id": "at70", "usage": 62.5, "open_tickets": 4, "csm_assessment": "green"},  # 25 + 15 + 30
        {"account_id": "at71", "usage": 65, "open_tickets": 4, "csm_assessment": "Green "},   # 26 + 15 + 30
    ])
    result = scored(model, df)
    assert by_account(result, "score") == {"at30": 30, "at31": 31, "at70": 70, "at71": 71}
    assert by_account(result, "band") == {"at30": "red", "at31": "yellow", "at70": "yellow", "at71": "green"}


def test_feature_ratings_0_1_2_against_the_segment_average():
    """Gainsight-style: each feature rated 0 / 1 / 2 against its stage's average, overall = mean rating."""
    rating = {"method": "vs_average", "within": ["stage"], "cuts": [0.8, 1.2], "points": [0, 50, 100]}
    model = make_model({"reports": {"score": rating}, "exports": {"score": rating}})
    df = frame([
        # Deployment: reports mean 20 → ratios 0.5, 1, 1.5; exports mean 10 → 0.7, 1.0, 1.3
        {"account_id": "d1", "stage": "Deployment", "reports": 10, "exports": 7},
        {"account_id": "d2", "stage": "Deployment", "reports": 20, "exports": 10},
        {"account_id": "d3", "stage": "Deployment", "reports": 30, "exports": 13},
        # Implemented peers are compared only with each other: mean 100.
        {"account_id": "i1", "stage": "Implemented", "reports": 100, "exports": 50},
        {"account_id": "i2", "stage": "Implemented", "reports": 100, "exports": 150},
    ])
    result = scored(model, df)
    assert by_account(result, "reports_score") == {"d1": 0, "d2": 50, "d3": 100, "i1": 50, "i2": 50}
    assert by_account(result, "exports_score") == {"d1": 0, "d2": 50, "d3": 100, "i1": 0, "i2": 100}
    assert by_account(result, "score") == {"d1": 0, "d2": 50, "d3": 100, "i1": 25, "i2": 75}


def test_scores_95_85_75_are_flagged_by_a_steep_drop_rule():
    """Freshsuccess: 75 is green, but 95 → 85 → 75 is a steady decline worth addressing."""
    model = make_model({"health": {"score": {"method": "linear", "red": 0, "green": 100}}},
                       alerts=[{"name": "Steep drop", "drop": 15, "within": 2},
                               {"name": "One-step drop", "drop": 15, "within": 1}])
    df = frame([{"account_id": "A", "t": t, "health": v} for t, v in enumerate([95, 85, 75])])
    result = scored(model, df)
    assert result["score"].tolist() == [95, 85, 75]
    assert result["band"].tolist() == ["green"] * 3
    assert result["change"].tolist()[1:] == [-10, -10] and math.isnan(result["change"].iloc[0])
    assert result["alerts"].tolist() == ["", "", "Steep drop"]


# ---------------------------------------------------------------------------------------------- score rules


def test_linear_clips_and_supports_lower_is_better():
    model = make_model({"up": {"score": {"method": "linear", "red": 2, "green": 12}},
                        "down": {"score": {"method": "linear", "red": 10, "green": 0}}})
    df = frame([{"account_id": str(i), "up": u, "down": d}
                for i, (u, d) in enumerate([(0, 20), (2, 10), (7, 5), (12, 0), (30, -4)])])
    result = scored(model, df)
    assert result["up_score"].tolist() == [0, 0, 50, 100, 100]
    assert result["down_score"].tolist() == [0, 0, 50, 100, 100]


def test_steps_score_uses_first_cut_above_value():
    model = make_model({"tickets": {"score": {"method": "steps", "cuts": [2, 5], "points": [100, 50, 0]}}})
    df = frame([{"account_id": str(i), "tickets": v} for i, v in enumerate([0, 1.99, 2, 4.99, 5, 99])])
    assert scored(model, df)["tickets_score"].tolist() == [100, 100, 50, 50, 0, 0]


def test_categories_match_trimmed_lowercase_and_unknown_counts_as_missing():
    model = make_model({"mood": {"weight": 1, "score": {"method": "categories", "map": {"Green": 100, "red": 0}}},
                        "usage": {"weight": 1, "score": {"method": "linear", "red": 0, "green": 10}}})
    df = frame([{"account_id": "a", "mood": "  GREEN ", "usage": 5}, {"account_id": "b", "mood": "purple", "usage": 5},
                {"account_id": "c", "mood": None, "usage": 5}, {"account_id": "d", "mood": "red", "usage": 5}])
    result = scored(model, df)
    assert by_account(result, "mood_score") == pytest.approx({"a": 100, "b": np.nan, "c": np.nan, "d": 0},
                                                             nan_ok=True)
    assert by_account(result, "score") == {"a": 75, "b": 50, "c": 50, "d": 25}  # missing mood: usage alone
    quality = metric_quality(model, df).set_index("metric")
    assert quality.loc["mood", ["missing", "unknown_categories", "usable"]].tolist() == [1, 1, 2]
    assert quality.loc["mood", "examples"] == ["purple"]


def test_percentile_ranks_within_date_and_segment_with_ties_and_lone_peers():
    model = make_model({"adoption": {"score": {"method": "percentile", "within": ["size"]}},
                        "adoption_low": {"score": {"method": "percentile", "within": ["size"],
                                                   "lower_is_better": True}}})
    rows = [("s1", "S", 10), ("s2", "S", 20), ("s3", "S", 20), ("s4", "S", 40), ("s5", "S", None),
            ("e1", "E", 5)]
    df = frame([{"account_id": a, "size": s, "adoption": v, "adoption_low": v} for a, s, v in rows])
    result = scored(model, df)
    got = by_account(result, "adoption_score")
    assert [got[a] for a in ("s1", "s2", "s3", "s4", "e1")] == [0, 100 / 3, 100 / 3, 100, 50]
    assert math.isnan(got["s5"])  # missing values get no rank and do not count among the peers
    low = by_account(result, "adoption_low_score")
    assert [low[a] for a in ("s1", "s2", "s3", "s4", "e1")] == [100, 100 / 3, 100 / 3, 0, 50]


def test_percentile_compares_only_accounts_at_the_same_snapshot_date():
    model = make_model({"x": {"score": {"method": "percentile"}}})
    df = frame([{"account_id": "a", "t": 0, "x": 1}, {"account_id": "b", "t": 0, "x": 2},
                {"account_id": "a", "t": 1, "x": 9}, {"account_id": "b", "t": 1, "x": 3}])
    result = scored(model, df)
    assert result["x_score"].tolist() == [0, 100, 100, 0]


def test_vs_average_lower_is_better_reverses_points_and_zero_mean_is_missing():
    spec = {"method": "vs_average", "within": ["seg"], "cuts": [0.8, 1.2], "points": [0, 50, 100],
            "lower_is_better": True}
    model = make_model({"tickets": {"score": spec}})
    df = frame([{"account_id": "a", "seg": "x", "tickets": 1}, {"account_id": "b", "seg": "x", "tickets": 2},
                {"account_id": "c", "seg": "x", "tickets": 3}, {"account_id": "z", "seg": "zero", "tickets": 0}])
    result = scored(model, df)
    scores = by_account(result, "tickets_score")
    assert [scores["a"], scores["b"], scores["c"]] == [100, 50, 0]
    assert math.isnan(scores["z"]) and by_account(result, "band")["z"] == "no data"


def test_non_numeric_values_count_as_missing_and_are_counted():
    model = make_model({"nps": {"score": {"method": "linear", "red": 0, "green": 10}}})
    df = frame([{"account_id": "a", "nps": "7"}, {"account_id": "b", "nps": "n/a"}, {"account_id": "c", "nps": None},
                {"account_id": "d", "nps": "inf"}])
    result = scored(model, df)
    assert by_account(result, "nps_score") == pytest.approx({"a": 70, "b": np.nan, "c": np.nan, "d": np.nan},
                                                            nan_ok=True)
    quality = metric_quality(model, df).iloc[0]
    assert (quality["missing"], quality["non_numeric"], quality["usable"]) == (1, 2, 1)
    assert quality["examples"] == ["n/a", "inf"]


def test_account_with_no_usable_metric_gets_no_data_not_zero():
    model = make_model({"a": {"score": {"method": "linear", "red": 0, "green": 1}}},
                       grades={"A": 85, "B": 50}, missing="zero")
    result = scored(model, frame([{"account_id": "x", "a": None}, {"account_id": "y", "a": 0.2}]))
    assert math.isnan(result.loc[0, "score"]) and result.loc[0, "band"] == "no data" and result.loc[0, "grade"] is None
    assert result.loc[1, "score"] == 20 and result.loc[1, "grade"] == "F"


def test_missing_zero_keeps_the_weight_and_renormalize_redistributes_it():
    metrics = {"a": {"weight": 3, "score": {"method": "linear", "red": 0, "green": 100}},
               "b": {"weight": 1, "score": {"method": "linear", "red": 0, "green": 100}}}
    df = frame([{"account_id": "x", "a": None, "b": 80}])
    zero = scored(make_model(metrics, missing="zero"), df)
    renorm = scored(make_model(metrics, missing="renormalize"), df)
    assert zero.loc[0, "score"] == 20 and zero.loc[0, "a_weight"] == 0.75 and zero.loc[0, "a_contribution"] == 0
    assert renorm.loc[0, "score"] == 80 and renorm.loc[0, "a_weight"] == 0 and renorm.loc[0, "b_weight"] == 1


def test_groups_renormalise_within_the_group_then_across_groups():
    metrics = {"logins": {"group": "Use", "weight": 1, "score": {"method": "linear", "red": 0, "green": 100}},
               "seats": {"group": "Use", "weight": 3, "score": {"method": "linear", "red": 0, "green": 100}},
               "nps": {"group": "Voice", "weight": 1, "score": {"method": "linear", "red": 0, "green": 100}}}
    model = make_model(metrics, groups={"Use": 60, "Voice": 40})
    df = frame([{"account_id": "full", "logins": 100, "seats": 0, "nps": 50},
                {"account_id": "no_seats", "logins": 100, "seats": None, "nps": 50},
                {"account_id": "no_voice", "logins": 100, "seats": 0, "nps": None}])
    result = scored(model, df).set_index("account_id")
    weights = result.loc["full", ["logins_weight", "seats_weight", "nps_weight"]].tolist()
    assert weights == pytest.approx([0.15, 0.45, 0.4])
    assert result.loc["full", "score"] == pytest.approx(15 + 20)
    # seats missing: logins gets the whole Use group (60 %).
    assert result.loc["no_seats", "score"] == pytest.approx(60 + 20)
    # the Voice group is empty: Use gets 100 %, split 1:3.
    assert result.loc["no_voice", "score"] == pytest.approx(25)
    contributions = result[[c for c in result.columns if c.endswith("_contribution")]].sum(axis=1)
    assert contributions.tolist() == pytest.approx(result["score"].tolist())


def test_first_matching_profile_wins_and_others_get_default():
    model = make_model(
        {"logins": {"weight": 1, "score": {"method": "linear", "red": 2, "green": 12}},
         "tickets": {"weight": 1, "score": {"method": "steps", "cuts": [2], "points": [100, 0]}}},
        profiles=[{"name": "Onboarding", "when": {"stage": ["Trial", "Deployment"]},
                   "weights": {"tickets": 0},
                   "metrics": {"logins": {"score": {"method": "linear", "red": 1, "green": 5}}}},
                  {"name": "Enterprise trial", "when": {"stage": ["Trial"], "size": ["Enterprise"]}}])
    df = frame([{"account_id": "t", "stage": "Trial", "size": "Enterprise", "logins": 3, "tickets": 9},
                {"account_id": "d", "stage": "Adopted", "size": "SMB", "logins": 7, "tickets": 0},
                {"account_id": "c", "stage": "trial", "size": "SMB", "logins": 7, "tickets": 0}])
    result = scored(model, df).set_index("account_id")
    assert result["profile"].to_dict() == {"c": "Default", "d": "Default", "t": "Onboarding"}  # case-sensitive
    assert result.loc["t", "score"] == 50 and result.loc["t", "tickets_weight"] == 0
    assert result.loc["d", "score"] == 75


def test_bands_grades_and_rank_in_band_per_date():
    model = make_model({"h": {"score": {"method": "linear", "red": 0, "green": 100}}},
                       bands={"red": 30, "yellow": 70}, grades={"A": 85, "B": 70, "C": 55})
    values = {"a": 20, "b": 10, "c": 10, "d": 50, "e": 85, "f": 70, "g": None}
    result = scored(model, frame([{"account_id": k, "h": v} for k, v in values.items()]))
    assert by_account(result, "band") == {"a": "red", "b": "red", "c": "red", "d": "yellow", "e": "green",
                                          "f": "yellow", "g": "no data"}
    assert by_account(result, "grade") == {"a": "F", "b": "F", "c": "F", "d": "F", "e": "A", "f": "B", "g": None}
    assert by_account(result, "rank_in_band") == {"a": 3, "b": 1, "c": 2, "d": 1, "e": 1, "f": 2, "g": 1}


def test_turned_red_fires_only_on_entering_red_from_another_scored_band():
    model = make_model({"h": {"score": {"method": "linear", "red": 0, "green": 100}}},
                       alerts=[{"name": "Turned red", "to_band": "red"}, {"name": "Drop", "drop": 30}])
    df = frame([{"account_id": "A", "t": t, "h": v} for t, v in enumerate([50, 20, 10, None, 5, 80, 20])])
    result = scored(model, df)
    assert result["alerts"].tolist() == ["", "Turned red; Drop", "", "", "", "", "Turned red; Drop"]


def test_metric_named_like_sql_injection_scores_and_leaves_the_table_alone():
    evil = 'x"; DROP TABLE t; --'
    seg = "seg'); DROP TABLE t; --"
    model = make_model({evil: {"score": {"method": "percentile", "within": [seg]}},
                        "mood": {"score": {"method": "categories", "map": {"it's fine": 100, "no": 0}}}},
                       profiles=[{"name": "O'Brien", "when": {seg: ["a'b"]}, "weights": {"mood": 0}}],
                       alerts=[{"name": "it's red'; --", "to_band": "red"}])
    df = frame([{"account_id": "o'neil", evil: 1, seg: "a'b", "mood": "It's fine"},
                {"account_id": "b", evil: 2, seg: "a'b", "mood": "no"},
                {"account_id": "c", evil: 3, seg: "c", "mood": "no"}])
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    result = score(model, df, con=con)
    assert con.execute("SELECT count(*) FROM t").fetchone() == (1,)
    assert by_account(result, f"{evil}_score") == {"o'neil": 0, "b": 100, "c": 50}
    assert by_account(result, "profile") == {"o'neil": "O'Brien", "b": "O'Brien", "c": "Default"}
    assert by_account(result, "mood_score") == {"o'neil": 100, "b": 0, "c": 0}
    assert_same_scores(result, LiveScorer(df, model).rescore(model))


def test_score_reads_parquet_and_csv_paths_and_duckdb_relations(tmp_path):
    model = load_model(ROOT / "data" / "models" / "default.yaml")
    from lib.data.sample import generate_portfolio

    df = generate_portfolio(n_accounts=40, n_snapshots=4, seed=3)
    expected = score(model, df)
    df.to_parquet(tmp_path / "p.parquet")
    df.to_csv(tmp_path / "p.csv", index=False)
    assert_same_scores(expected, score(model, tmp_path / "p.parquet"))
    assert_same_scores(expected, score(model, str(tmp_path / "p.csv")))
    con = duckdb.connect()
    assert_same_scores(expected, score(model, con.from_df(df)))


def test_output_columns_types_and_order():
    model = load_model(ROOT / "tests" / "fixtures" / "models" / "design.yaml")
    df = frame([{"account_id": "b", "t": 1, "logins_per_user": 5, "open_tickets": 1, "csm_sentiment": "green",
                 "feature_adoption": 0.5, "seats_used": 10, "size": "S", "stage": "Trial"},
                {"account_id": "a", "t": 0, "logins_per_user": 5, "open_tickets": 1, "csm_sentiment": "green",
                 "feature_adoption": 0.5, "seats_used": 10, "size": "S", "stage": "Live"},
                {"account_id": "b", "t": 0, "logins_per_user": 5, "open_tickets": 1, "csm_sentiment": "green",
                 "feature_adoption": 0.5, "seats_used": 10, "size": "S", "stage": "Live"}])
    result = scored(model, df)
    base = ["account_id", "snapshot_date", "profile", "score", "band", "grade", "change", "rank_in_band", "alerts"]
    per_metric = [f"{m}_{k}" for m in model.metrics for k in ("score", "weight", "contribution")]
    assert list(result.columns) == base + per_metric
    assert list(zip(result["account_id"], result["snapshot_date"].dt.month, strict=True)) == [("a", 1), ("b", 1),
                                                                                              ("b", 2)]
    assert result["snapshot_date"].dtype == "datetime64[ns]" and result["rank_in_band"].dtype == "int64"
    assert set(result["band"]) <= set(BANDS)


def test_missing_columns_raise_a_model_error_naming_them():
    model = make_model({"nps": {"score": {"method": "linear", "red": 0, "green": 10}}})
    with pytest.raises(ModelError) as info:
        score(model, pd.DataFrame({"account_id": ["a"], "snapshot_date": [pd.Timestamp("2025-01-01")], "NPS": [1]}))
    assert info.value.problems[0].key == "metrics.nps" and "'NPS'" in info.value.problems[0].fix
    with pytest.raises(ModelError, match="snapshot_date"):
        LiveScorer(pd.DataFrame({"account_id": ["a"], "nps": [1]}), model)


def test_expansion_model_scores_with_the_same_engine():
    model = parse_model(
        "metrics:\n  usage: {score: {method: linear, red: 0, green: 10}}\n"
        "expansion:\n  bands: {red: 40, yellow: 60}\n  metrics:\n"
        "    seats_used_pct: {score: {method: steps, cuts: [0.9], points: [0, 100]}}\n")
    df = frame([{"account_id": "a", "usage": 5, "seats_used_pct": 0.95}, {"account_id": "b", "usage": 9,
                                                                          "seats_used_pct": 0.5}])
    assert by_account(scored(model.expansion, df), "score") == {"a": 100, "b": 0}


def test_live_scorer_matches_sql_after_slider_moves_and_counts_bands():
    from lib.data.sample import generate_portfolio

    model = load_model(ROOT / "data" / "models" / "default.yaml")
    df = generate_portfolio(n_accounts=120, n_snapshots=6, seed=11)
    live = LiveScorer(df, model)
    for key, value in [("metrics.logins_per_user.score.red", 4), ("metrics.open_tickets.weight", 5),
                       ("bands.red", 55), ("profiles.Onboarding.weights.nps", 30), ("missing", "zero")]:
        model = set_value(model, key, value)
        expected = score(model, df)
        assert_same_scores(expected, live.rescore(model))
        counts = live.band_counts(model)
        want = expected.groupby(["snapshot_date", "band"]).size().unstack(fill_value=0)
        for band in BANDS:
            got = counts[band].to_numpy()
            assert got.tolist() == (want[band].tolist() if band in want else [0] * len(got)), (key, band)


def test_compiled_sql_runs_on_a_named_table():
    model = make_model({"a b": {"score": {"method": "linear", "red": 0, "green": 10}}})
    con = duckdb.connect()
    con.execute('CREATE TABLE "my table" AS SELECT \'x\' AS account_id, DATE \'2025-01-01\' AS snapshot_date, '
                '5 AS "a b"')
    sql = compile_sql(model, '"my table"')
    assert con.execute(sql).fetchall()[0][3] == 50


def test_live_scorer_memory_stays_bounded_over_many_slider_moves():
    from lib.data.sample import generate_portfolio

    model = load_model(ROOT / "data" / "models" / "default.yaml")
    live = LiveScorer(generate_portfolio(n_accounts=30, n_snapshots=3, seed=1), model)
    sizes = []
    for red in np.linspace(1, 4, 12):
        live.band_counts(set_value(model, "metrics.logins_per_user.score.red", float(red)))
        sizes.append(len(live._cache))
    assert max(sizes[2:]) == min(sizes[2:])  # old thresholds' arrays are dropped, not accumulated


def test_empty_portfolio_scores_to_an_empty_table_on_both_paths():
    model = load_model(ROOT / "data" / "models" / "default.yaml")
    from lib.data.sample import generate_portfolio

    empty = generate_portfolio(n_accounts=5, n_snapshots=2).iloc[:0]
    result = scored(model, empty)
    assert result.empty and len(result.columns) == 9 + 3 * len(model.metrics)
    assert LiveScorer(empty, model).band_counts(model).empty


def test_live_scorer_overall_is_the_score_column_in_row_order():
    from lib.data.sample import generate_portfolio

    model = load_model(ROOT / "data" / "models" / "default.yaml")
    df = generate_portfolio(n_accounts=20, n_snapshots=3, seed=4).sample(frac=1, random_state=0)
    live = LiveScorer(df, model)
    full = live.rescore(model)
    np.testing.assert_array_equal(live.overall(model), full["score"].to_numpy())
    assert df["account_id"].to_numpy()[live.row_order].tolist() == full["account_id"].tolist()


def test_history_never_crosses_accounts_that_share_a_history_bucket():
    """The history windows run per bucket of account ids (their last two characters); accounts that land in
    the same bucket, ids of one character, numbers as ids and a missing id still each get their own history."""
    model = make_model({"health": {"score": {"method": "linear", "red": 0, "green": 100}}})
    ids = ["XA-11", "YB-11", "ZC-11", "1", "11", "7", None]
    rows = [{"account_id": a, "t": t, "health": 10 * k + t} for k, a in enumerate(ids) for t in range(3)]
    result = scored(model, frame(rows))
    for account, history in result.groupby("account_id", dropna=False, sort=False):
        assert math.isnan(history["change"].iloc[0]), account
        assert history["change"].iloc[1:].tolist() == [1, 1], account


# ---------------------------------------------------------------------------------------------- one reading rule


@pytest.mark.parametrize("raw", ["GREEN\u00a0", "green\t", "\u3000Green\n", " green ", "green\u2009"])
def test_one_trim_rule_for_categories_in_python_numpy_and_sql(raw):
    """Issue #14: a category padded with a tab, NBSP or another Unicode space matches the same everywhere."""
    from lib.engine.model import normalise_category
    from lib.engine.plan import category_key

    model = make_model({"m": {"score": {"method": "categories", "map": {"green": 100}}}})
    df = frame([{"account_id": "a", "m": raw}])
    assert normalise_category(raw) == category_key(pd.Series([raw]))[0] == "green"
    assert score(model, df)["m_score"].tolist() == [100.0]
    assert LiveScorer(df, model).rescore(model)["m_score"].tolist() == [100.0]


@pytest.mark.parametrize("text, value", [(" 7 ", 7.0), ("7\t", 7.0), ("2\u00a0", 2.0), ("+.5e1", 5.0), ("-0.5", -0.5),
                                         ("1.", 1.0), ("1_000", None), ("1.5d", None), ("0x10", None),
                                         ("inf", None), ("nan", None), ("1,5", None), ("", None), ("1e400", None)])
def test_numbers_held_as_text_read_alike_in_numpy_and_in_sql(text, value, tmp_path):
    """Issue #14: one rule for text → number on every engine (each engine's own cast accepts other spellings)."""
    from lib.engine.plan import to_number
    from lib.engine.sql import score_file

    model = make_model({"x": {"score": {"method": "linear", "red": -10, "green": 10}}})
    df = frame([{"account_id": "a", "x": text}, {"account_id": "b", "x": "3"}])
    got = to_number(df["x"])[0]
    assert (np.isnan(got) if value is None else got == value)
    expected = None if value is None else 50 + 5 * value
    sql = score(model, df)["x_score"].tolist()[0]
    assert (math.isnan(sql) if expected is None else sql == pytest.approx(expected))
    df.to_parquet(tmp_path / "p.parquet")  # a text column: the compiled query reads it itself
    score_file(model, tmp_path / "p.parquet", tmp_path / "out.parquet", ordered=True, engine="sql")
    from_file = pd.read_parquet(tmp_path / "out.parquet")["x_score"].tolist()[0]
    assert (math.isnan(from_file) if expected is None else from_file == pytest.approx(expected))


def test_nan_in_a_parquet_file_is_missing_on_every_path_whatever_its_statistics_say(tmp_path):
    """Issue #14 / duckdb/duckdb#25521: DuckDB decided the finite check from the file's min/max, which leave NaN
    out, and scored NaN 100."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lib.engine.sql import score_file

    model = make_model({"x": {"score": {"method": "linear", "red": 0, "green": 10}}})
    x = pa.array([1.0, np.nan, 30.0, np.nan], from_pandas=False)
    dates = pa.array(np.full(4, np.datetime64("2025-01-06", "us")))
    pq.write_table(pa.table({"account_id": ["a", "b", "c", "d"], "snapshot_date": dates, "x": x}),
                   tmp_path / "nan.parquet")
    expected = [10.0, None, 100.0, None]
    results = {"score(file)": score(model, tmp_path / "nan.parquet")}
    for engine in ("sql", "numpy"):
        score_file(model, tmp_path / "nan.parquet", tmp_path / f"{engine}.parquet", ordered=True, engine=engine)
        results[engine] = pd.read_parquet(tmp_path / f"{engine}.parquet")
    for name, result in results.items():
        assert [None if math.isnan(v) else v for v in result["score"]] == expected, name
