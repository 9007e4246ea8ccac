"""Start a model from a dataset's own columns (lib.analysis.starter), on CRM exports whose names match nothing in
the sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.analysis import AnalysisError, starter
from lib.data.ingest import Roles, load_portfolio
from lib.engine.model import Categories, Linear, Percentile, check_columns, dump_model, parse_model
from lib.engine.sql import score
from tests import foreign


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[pd.DataFrame, Roles, Roles]:
    """A foreign-named export loaded as the app loads it: (canonical table, its roles, the file's roles)."""
    path = foreign.write_foreign_csv(tmp_path_factory.mktemp("own") / "crm.csv", accounts=600, snapshots=12)
    p = load_portfolio(path)
    return p.df, p.roles.canonical(), p.roles


@pytest.fixture(scope="module")
def cands(export) -> dict[str, starter.Candidate]:
    df, roles, source = export
    return {c.column: c for c in starter.survey(df, roles, source).candidates}


def test_candidates_list_the_files_metrics_and_segments_but_never_keys_dates_outcome_or_labels(cands):
    assert {foreign.LOGINS, foreign.TICKETS, foreign.PULSE, foreign.TIER, foreign.SPONSOR} <= set(cands)
    assert not set(cands) & {"account_id", "account_name", "snapshot_date", "churned", "health_label",
                             foreign.CHURNED, foreign.STATUS, foreign.DATE, foreign.ID}
    assert cands[foreign.TIER].source == "segment" and cands[foreign.LOGINS].source == "metric"


def test_candidates_report_coverage_distribution_and_a_summary(export, cands):
    df = export[0]
    logins = cands[foreign.LOGINS]
    assert logins.kind == "numeric"
    assert logins.coverage == pytest.approx(df[foreign.LOGINS].notna().mean())
    assert 0.9 < logins.coverage < 1.0  # the generator leaves 4 % blank
    assert sum(logins.histogram) == df[foreign.LOGINS].notna().sum()
    assert logins.summary.startswith("median ")
    pulse = cands[foreign.PULSE]
    assert pulse.kind == "categorical" and set(pulse.summary.split(" · ")[0].split()[:1]) <= {"Green", "Amber", "Red"}
    assert sum(pulse.histogram) == df[foreign.PULSE].notna().sum()


def test_directions_come_from_the_outcome_where_there_is_one(cands):
    logins = cands[foreign.LOGINS]
    assert logins.higher_is_better and "renewed accounts had higher" in logins.direction_reason
    assert not cands[foreign.TICKETS].higher_is_better
    assert not cands[foreign.RESPONSE].higher_is_better
    assert cands[foreign.LOGINS].auc > 0.7 and cands[foreign.TICKETS].auc > 0.65
    good, bad = cands[foreign.LOGINS].counts
    assert good > 50 and bad > 50


def test_without_outcomes_or_labels_directions_come_from_the_name(export):
    df, roles, source = export
    found = starter.survey(df.drop(columns=["churned", "health_label"]), roles, source)
    cands = {c.column: c for c in found.candidates}
    assert all(c.auc is None for c in cands.values())
    assert not cands[foreign.TICKETS].higher_is_better and "ticket" in cands[foreign.TICKETS].direction_reason
    assert not cands[foreign.QBR].higher_is_better  # "Days Since QBR": longer since is worse
    assert cands[foreign.LOGINS].higher_is_better


@pytest.mark.parametrize(("name", "higher"), [("Open Cases", False), ("Invoice Days Late", False),
                                              ("Churn Risk Score", False), ("Escalations", False),
                                              ("Weekly Active Users", True), ("NPS", True)])
def test_name_direction_reads_the_words_people_use(name, higher):
    assert starter.name_direction(name)[0] is higher


def test_known_health_labels_stand_in_for_missing_outcomes(export):
    df, roles, source = export
    no_outcome = df.drop(columns=["churned"])
    labels = foreign_labels(df)
    cands = {c.column: c for c in starter.survey(no_outcome, roles, source, labels).candidates}
    ev = starter.evidence(no_outcome, labels)
    assert ev is not None and ev.kind == "labels" and "healthy vs" in ev.caption
    assert cands[foreign.LOGINS].auc is not None and cands[foreign.LOGINS].higher_is_better


def foreign_labels(df: pd.DataFrame) -> pd.Series:
    rows = df.dropna(subset=["health_label"]).drop_duplicates("account_id", keep="last")
    return pd.Series(rows["health_label"].str.lower().str.replace("at risk", "struggling").to_numpy(),
                     index=rows["account_id"].to_numpy())


def bad_columns_table() -> tuple[pd.DataFrame, Roles]:
    n = 40
    df = pd.DataFrame({
        "account_id": [f"{i:05d}" for i in range(n)],
        "snapshot_date": pd.Timestamp("2026-01-01"),
        "Region Code": ["EU"] * n,  # one value
        "Empty Col": [np.nan] * n,  # all blank
        "Free Notes": [f"called on day {i}" for i in range(n)],  # free text
        "Customer Number": np.arange(1000, 1000 + n, dtype=float),  # an id mapped as a metric
        "Usage Hours": np.linspace(1, 40, n),
    })
    roles = Roles(account_id="account_id", snapshot_date="snapshot_date",
                  metrics=("Region Code", "Empty Col", "Free Notes", "Customer Number", "Usage Hours"))
    return df, roles


def test_columns_that_cannot_be_metrics_say_why_and_are_listed_last():
    df, roles = bad_columns_table()
    cands = list(starter.survey(df, roles).candidates)
    by = {c.column: c for c in cands}
    assert "same value" in by["Region Code"].problem
    assert "blank" in by["Empty Col"].problem
    assert "free text" in by["Free Notes"].problem
    assert "identifier" in by["Customer Number"].problem
    assert by["Usage Hours"].usable
    assert cands[0].column == "Usage Hours"  # usable first
    assert starter.preselect(cands) == ["Usage Hours"]


def test_building_a_model_from_an_unusable_column_is_refused_with_its_problem():
    df, roles = bad_columns_table()
    cands = list(starter.survey(df, roles).candidates)
    with pytest.raises(AnalysisError, match="Customer Number.*identifier"):
        starter.build_model(df, cands, ["Usage Hours", "Customer Number"], "Mine")
    with pytest.raises(AnalysisError, match="pick at least one"):
        starter.build_model(df, cands, [], "Mine")
    with pytest.raises(AnalysisError, match="cannot be a metric here"):
        starter.build_model(df, cands, ["account_id"], "Mine")
    with pytest.raises(AnalysisError, match="name the model"):
        starter.build_model(df, cands, ["Usage Hours"], "  ")


def test_preselect_picks_three_to_five_of_the_best_separating_columns(cands):
    picks = starter.preselect(list(cands.values()))
    assert 3 <= len(picks) <= 5
    ranked = sorted((c for c in cands.values() if c.usable and c.auc is not None), key=lambda c: -c.auc)
    assert picks[0] == ranked[0].column
    assert all(cands[p].usable for p in picks)


def test_the_built_model_scores_the_export_by_its_own_column_names(export, cands):
    df = export[0]
    picks = [foreign.LOGINS, foreign.TICKETS, foreign.PULSE, foreign.SPONSOR]
    model = starter.build_model(df, list(cands.values()), picks, "Renewal health")
    assert list(model.metrics) == picks and model.name == "Renewal health"
    assert not check_columns(model, df.columns)
    assert (model.bands.red, model.bands.yellow) == (40, 70)
    assert len({m.weight for m in model.metrics.values()}) == 1  # equal weights
    logins, tickets = model.metrics[foreign.LOGINS].score, model.metrics[foreign.TICKETS].score
    assert isinstance(logins, Linear) and logins.red < logins.green  # higher is better: 10th → 90th percentile
    assert logins.red == pytest.approx(df[foreign.LOGINS].quantile(0.1), rel=0.06)
    assert isinstance(tickets, Linear) and tickets.red > tickets.green  # lower is better
    pulse = model.metrics[foreign.PULSE].score
    assert isinstance(pulse, Categories) and pulse.lookup() == {"green": 100, "amber": 50, "red": 0}
    assert model.metrics[foreign.SPONSOR].score.lookup() == {"yes": 100, "no": 0}
    assert parse_model(dump_model(model)) == model
    scores = score(model, df)
    assert scores["score"].notna().mean() > 0.99
    assert set(scores["band"]) <= {"red", "yellow", "green", "no data"}


def test_the_users_direction_and_peer_groups_shape_the_rules(export, cands):
    df = export[0]
    flipped = starter.build_model(df, list(cands.values()), [foreign.LOGINS], "Flipped", {foreign.LOGINS: False})
    assert flipped.metrics[foreign.LOGINS].score.red > flipped.metrics[foreign.LOGINS].score.green
    peers = starter.build_model(df, list(cands.values()), [foreign.LOGINS, foreign.TICKETS], "Peers",
                                peers=[foreign.TIER])
    spec = peers.metrics[foreign.TICKETS].score
    assert isinstance(spec, Percentile) and spec.within == (foreign.TIER,) and spec.lower_is_better


def test_categories_no_word_fits_start_at_fifty_and_are_listed_as_unmapped(export, cands):
    tier = cands[foreign.TIER]
    assert set(tier.unmapped) == {"Gold", "Silver", "Bronze"}
    model = starter.build_model(export[0], list(cands.values()), [foreign.TIER], "Tiers")
    assert model.metrics[foreign.TIER].score.lookup() == {"gold": 50, "silver": 50, "bronze": 50}
    mapped, unmapped = starter.word_points(["High", "medium", "LOW", "Platinum"])
    assert mapped == {"High": 100, "medium": 50, "LOW": 0} and unmapped == ("Platinum",)


def test_category_counts_match_values_as_the_engine_does():
    values = pd.Series(["Green", " green", "GREEN ", "Red", None, "", "red"])
    assert starter.category_counts(values) == {"Green": 3, "Red": 2}


def test_filling_from_outcomes_keeps_the_name_and_reports_held_back_auc(export, cands):
    df = export[0]
    base = starter.build_model(df, list(cands.values()), starter.preselect(list(cands.values())), "Evidence")
    fitted = starter.fill_from_outcomes(df, base)
    assert fitted.model.name == "Evidence"
    assert 0.5 < fitted.suggested_auc <= 1 and "held-back" in fitted.caption
    assert not check_columns(fitted.model, df.columns)
    with pytest.raises(AnalysisError, match="no outcome column"):
        starter.fill_from_outcomes(df.drop(columns=["churned"]), base)


def test_arr_is_offered_by_the_files_own_name_when_the_table_keeps_it(export):
    df, roles, source = export
    assert foreign.ARR in df.columns  # ingest keeps the ARR role's amounts under the file's own name too
    names = starter.metric_columns(df, roles, source)
    assert names[foreign.ARR] == "ARR" and "arr" not in names
    assert starter.metric_columns(df.drop(columns=[foreign.ARR]), roles, source)["arr"] == "ARR"
