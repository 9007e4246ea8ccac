"""Plays: stratified control groups, the treated − control report and its intervals, storage, the sample's play."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.analysis import plays
from lib.data import play_groups
from lib.data.ingest import load_portfolio
from lib.data.play_groups import Play, PlayError
from lib.data.sample import generate_portfolio, sample_play
from lib.data.workspace import Workspace, WorkspaceError
from tests.foreign import TIER, foreign_portfolio


def rows_for(groups: pd.DataFrame, churned: dict[str, bool | None], start_scores: dict[str, float],
             latest_scores: dict[str, float]) -> pd.DataFrame:
    """Two snapshots per account: the start (2025-01-01) and the latest (2025-06-01)."""
    ids = groups["account_id"].tolist()
    outcome = pd.array([churned.get(a) for a in ids], dtype="boolean")
    start = pd.DataFrame({"account_id": ids, "snapshot_date": pd.Timestamp("2025-01-01"),
                          "score": [start_scores[a] for a in ids], "arr": 1000.0,
                          "churned": outcome})
    latest = start.assign(snapshot_date=pd.Timestamp("2025-06-01"), score=[latest_scores[a] for a in ids])
    return pd.concat([start, latest], ignore_index=True)


# -- the report on data with a known effect -----------------------------------------------------------------
def test_report_estimates_equal_the_differences_in_the_data_and_their_intervals_hold_them():
    rng = np.random.default_rng(3)
    ids = [f"A{i:03d}" for i in range(300)]
    groups = pd.DataFrame({"account_id": ids, "group": np.where(np.arange(300) < 240, "treated", "control")})
    pairs = list(zip(ids, groups["group"], strict=True))
    churned = {a: bool(rng.random() < (0.05 if g == "treated" else 0.25)) for a, g in pairs}
    start = {a: float(rng.uniform(10, 40)) for a in ids}
    latest = {a: start[a] + (8.0 if g == "treated" else 0.0) + float(rng.normal(0, 3))
              for a, g in pairs}
    table = plays.account_table(rows_for(groups, churned, start, latest), groups, "2025-01-01", outcome="churned",
                                arr="arr")
    result = plays.report(table)

    is_t = groups["group"].eq("treated").to_numpy()
    flags = np.array([churned[a] for a in ids])
    change = np.array([latest[a] - start[a] for a in ids])
    assert result.churn.estimate == pytest.approx(flags[is_t].mean() - flags[~is_t].mean())
    assert result.score_change.estimate == pytest.approx(change[is_t].mean() - change[~is_t].mean())
    assert result.churn.ci_low < -0.2 + 0.05 < result.churn.ci_high  # the true −20 points inside, and 0 outside
    assert result.churn.ci_high < 0 and result.churn.clear
    assert result.score_change.ci_low < 8 < result.score_change.ci_high
    assert (result.churn.n_treated, result.churn.n_control) == (240, 60)
    out = result.to_dict()
    assert set(out["treated"]) >= {"accounts", "churn_rate", "score_change"}
    assert set(out["churn_rate_difference"]) >= {"estimate", "ci_low", "ci_high"}
    assert out["control"]["accounts"] == 60


def test_churn_is_read_from_each_accounts_latest_row():
    groups = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "group": ["treated", "treated", "control", "control"]})
    rows = rows_for(groups, {}, dict.fromkeys("abcd", 50.0), dict.fromkeys("abcd", 50.0))
    # 'a' was marked churned on an early row but renewed on its latest; 'c' churned on its latest row
    rows["churned"] = pd.array([True, False, False, False, False, False, True, None], dtype="boolean")
    table = plays.account_table(rows, groups, "2025-01-01", outcome="churned")
    assert table.set_index("account_id")["churned"].tolist() == [False, False, True, pd.NA]
    result = plays.report(table)
    assert (result.churn.treated, result.churn.control) == (0.0, 1.0)
    assert result.outcomes == {"treated": 2, "control": 1}


# -- the intervals over many simulated plays with no effect (vectorised over seeds) -------------------------
def test_rate_interval_covers_zero_about_95_percent_of_the_time_when_there_is_no_effect():
    rng = np.random.default_rng(11)
    sims, n_t, n_c, p = 4000, 200, 50, 0.12
    _, low, high = plays.rate_difference(rng.binomial(n_t, p, sims), n_t, rng.binomial(n_c, p, sims), n_c)
    assert 0.93 <= np.mean((low <= 0) & (high >= 0)) <= 0.97


def test_mean_interval_covers_zero_about_95_percent_of_the_time_when_there_is_no_effect():
    rng = np.random.default_rng(12)
    sims, n_t, n_c = 4000, 40, 10
    t, c = rng.normal(2.0, 10.0, (sims, n_t)), rng.normal(2.0, 4.0, (sims, n_c))  # unequal spreads: Welch
    _, low, high = plays.mean_difference(t.mean(1), t.var(1, ddof=1), n_t, c.mean(1), c.var(1, ddof=1), n_c)
    assert 0.93 <= np.mean((low <= 0) & (high >= 0)) <= 0.97


def test_more_outcomes_are_needed_for_a_smaller_effect():
    small, large = plays.outcomes_needed(0.15, [0.03, 0.10], 4.0)
    assert small > large > 50


# -- assignment --------------------------------------------------------------------------------------------
accounts_strategy = st.lists(st.tuples(st.sampled_from(["red", "yellow", "green"]), st.sampled_from(["SMB", "Ent"])),
                             min_size=12, max_size=200)


def _accounts(cells: list[tuple[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(cells, columns=["band", "size"])
    frame.insert(0, "account_id", [f"{i:04d}" for i in range(len(frame))])
    counts = frame.groupby(["band", "size"])["account_id"].transform("size")
    return frame[counts >= 2]  # strata of one are refused (tested below)


@settings(max_examples=40, deadline=None)
@given(cells=accounts_strategy, share=st.floats(0.05, 0.5), seed=st.integers(0, 2**31))
def test_assignment_is_reproducible_disjoint_and_stratified(cells, share, seed):
    accounts = _accounts(cells)
    if len(accounts) * share < 1:
        return
    groups = play_groups.assign(accounts, share, ["band", "size"], seed)
    again = play_groups.assign(accounts.sample(frac=1.0, random_state=seed % 1000), share, ["band", "size"], seed)
    pd.testing.assert_frame_equal(groups, again)  # the same whatever the input's row order
    assert sorted(groups["account_id"]) == sorted(accounts["account_id"]) and groups["account_id"].is_unique
    per = groups.groupby("stratum")["group"].agg(size="size", control=lambda g: (g == "control").sum())
    assert (abs(per["control"] - share * per["size"]) < 1 + 1e-9).all()
    assert abs((groups["group"] == "control").sum() - share * len(groups)) < 1 + 1e-9


def test_another_seed_draws_another_control_group():
    accounts = pd.DataFrame({"account_id": [f"a{i}" for i in range(100)]})
    first, second = (play_groups.assign(accounts, 0.2, seed=s) for s in (1, 2))
    assert (first["group"] == "control").sum() == 20
    assert not first["group"].equals(second["group"])


@pytest.mark.parametrize(("accounts", "share", "strata", "message"), [
    pytest.param(pd.DataFrame({"account_id": ["a", "b", "a"]}), 0.2, [],
                 "account 'a' appears more than once (rows 2, 4)", id="duplicate_account"),
    pytest.param(pd.DataFrame({"account_id": list("abcdefghij")}), 0.6, [], "0.6 is outside 5%–50%",
                 id="share_above_half"),
    pytest.param(pd.DataFrame({"account_id": list("abcdefghij")}), 0.01, [], "0.01 is outside 5%–50%",
                 id="share_below_five_percent"),
    pytest.param(pd.DataFrame({"account_id": list("abcde"), "band": ["red"] * 4 + ["green"]}), 0.2, ["band"],
                 "stratum 'band=green' has a single account", id="stratum_with_one_account"),
    pytest.param(pd.DataFrame({"account_id": list("abcde")}), 0.2, ["size"], "no column 'size' to stratify by",
                 id="missing_strata_column"),
])
def test_bad_assignment_requests_say_what_and_where(accounts, share, strata, message):
    with pytest.raises(PlayError, match=message.replace("(", r"\(").replace(")", r"\)")):
        play_groups.assign(accounts, share, strata, where="targets.csv")


def test_report_refuses_unknown_accounts_and_a_start_after_the_data():
    groups = pd.DataFrame({"account_id": ["a", "b"], "group": ["treated", "control"]})
    rows = rows_for(groups, {}, {"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0})
    with pytest.raises(PlayError, match=r"start date 2025-07-01 is after the last snapshot in book.csv \(2025-06-01\)"):
        plays.account_table(rows, groups, "2025-07-01", where="book.csv")
    stranger = pd.concat([groups, pd.DataFrame({"account_id": ["zz"], "group": ["control"]})])
    with pytest.raises(PlayError, match="1 account\\(s\\) are not in book.csv: 'zz'"):
        plays.account_table(rows, stranger, "2025-01-01", where="book.csv")
    with pytest.raises(PlayError, match="row 3, column group: 'maybe' is not treated or control"):
        play_groups.check_assignments(pd.DataFrame({"account_id": ["a", "b"], "group": ["treated", "maybe"]}))


# -- own data: a CRM export with foreign names ----------------------------------------------------------------
def test_a_play_on_a_foreign_export_reads_arr_and_outcome_through_the_roles():
    book = load_portfolio(foreign_portfolio(accounts=300, snapshots=8, seed=4), "crm.csv")
    roles = book.roles.canonical()
    start = sorted(book.df["snapshot_date"].unique())[3]
    targets = book.df[book.df["snapshot_date"] == start][["account_id", TIER]]
    groups = play_groups.assign(targets, 0.25, [TIER], seed=9)
    table = plays.account_table(book.df, groups, start, outcome=roles.outcome, arr=roles.arr)
    result = plays.report(table)
    latest = book.df.sort_values("snapshot_date").groupby("account_id").tail(1).set_index("account_id")
    flags = latest.loc[groups["account_id"], roles.outcome].astype("boolean")
    control = groups["group"].eq("control").to_numpy()
    assert result.churn.control == pytest.approx(flags[control].mean())
    assert result.arr_retained is not None and 0 < result.arr_retained.control <= 2


# -- storage --------------------------------------------------------------------------------------------------
def test_a_play_and_its_groups_survive_a_restart_and_a_second_play_with_its_name_is_refused(tmp_path):
    path = tmp_path / "ws.duckdb"
    groups = play_groups.assign(pd.DataFrame({"account_id": [f"a{i}" for i in range(20)]}), 0.2, seed=4)
    play = Play(name="Sponsor calls", dataset="Book", start_date=pd.Timestamp("2025-03-01"), seed=4,
                owner="Maya", description="<b>calls</b>", source="Worklists: Maya, 20 accounts")
    with Workspace(path) as ws:
        play_id = ws.save_play(play, groups)
        with pytest.raises(WorkspaceError, match="already has a play named 'Sponsor calls'"):
            ws.save_play(play, groups)
    with Workspace(path) as ws:
        (stored,) = ws.plays("Book")
        assert stored == Play(**{**play.__dict__, "play_id": play_id})
        kept = ws.play_assignments(play_id=play_id)
        pd.testing.assert_frame_equal(kept[["account_id", "group", "stratum"]], groups)
        held = play_groups.held_out(pd.DataFrame({"play_id": [play_id], "name": [stored.name]}), kept)
        assert len(held) == 4 and held.iloc[0] == "held out of play Sponsor calls: do not run it"


# -- the sample's play ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_book() -> pd.DataFrame:
    return generate_portfolio()


def test_the_sample_play_lifts_the_treated_scores_and_leaves_the_book_before_its_start_alone(sample_book):
    from lib.data.sample import DEFAULT_MODEL_PATH
    from lib.engine.model import load_model
    from lib.engine.sql import score

    play, groups = sample_play(sample_book)
    assert play.start_date == pd.Timestamp("2026-04-01") and (groups["group"] == "control").sum() == 51
    plain = generate_portfolio(play=False)
    before = sample_book["snapshot_date"] <= play.start_date
    pd.testing.assert_frame_equal(sample_book.loc[before, :"csm_sentiment"].reset_index(drop=True),
                                  plain.loc[plain["snapshot_date"] <= play.start_date, :"csm_sentiment"]
                                  .reset_index(drop=True))
    scores = score(load_model(DEFAULT_MODEL_PATH), sample_book)[["account_id", "snapshot_date", "score"]]
    table = plays.account_table(sample_book.merge(scores), groups, play.start_date, outcome="churned", arr="arr")
    result = plays.report(table)
    assert result.score_change.estimate > 2 and result.score_change.clear
    assert result.too_early and result.more_needed > 0  # churn: a small effect needs more outcomes than six months


# -- what the page draws --------------------------------------------------------------------------------------
def test_balance_and_migrations_show_both_groups_side_by_side():
    table = pd.DataFrame({"account_id": list("abcd"), "group": ["treated", "treated", "control", "control"],
                          "score_start": [10.0, 30.0, 20.0, 20.0], "arr_start": [1.0, 3.0, 2.0, 2.0],
                          "band_start": ["red", "yellow", "red", "red"], "band_latest": ["yellow", "yellow", "red",
                                                                                          "green"]})
    side = plays.balance(table)
    assert list(side.columns) == ["treated", "control"]
    assert side.loc["Average score"].tolist() == [20.0, 20.0] and side.loc["Share red"].tolist() == [0.5, 1.0]
    moves = plays.band_migrations(table).set_index(["group", "band_start", "band_latest"])["share"]
    assert moves[("control", "red", "green")] == 0.5 and moves[("treated", "red", "yellow")] == 0.5


def test_play_charts_draw_both_groups_the_start_and_each_difference_with_its_interval():
    from lib import charts

    trend = pd.DataFrame({"snapshot_date": pd.to_datetime(["2025-01-01", "2025-02-01"] * 2),
                          "group": ["treated", "treated", "control", "control"], "score": [30.0, 40.0, 30.0, 32.0],
                          "accounts": [8, 8, 2, 2]})
    fig = charts.play_score_over_time(trend, start=pd.Timestamp("2025-01-01"), subtitle="<img src=x>")
    assert [t.name for t in fig.data] == ["Treated (got the play)", "Control (held back)"]
    assert "<img" not in fig.layout.title.subtitle.text
    moves = plays.band_migrations(pd.DataFrame({"group": ["treated", "control"], "band_start": ["red", "red"],
                                                "band_latest": ["yellow", "red"]}))
    bars = charts.play_band_migrations(moves)
    assert {t.name for t in bars.data} == {"Now red", "Now yellow"}
    diffs = pd.DataFrame({"measure": ["churn rate", "score change"], "estimate": [-0.05, 4.0],
                          "ci_low": [-0.1, 1.0], "ci_high": [0.0, 7.0], "n_treated": [80, 80], "n_control": [20, 20]})
    dots = charts.play_differences(diffs).data[0]
    assert list(dots.x) == [-5.0, 4.0] and list(dots.error_x.array) == [5.0, 3.0]


def test_a_play_starting_on_the_latest_snapshot_counts_no_outcome_yet():
    groups = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "group": ["treated", "treated", "control", "control"]})
    rows = rows_for(groups, {"a": False, "b": False, "c": False, "d": False}, dict.fromkeys("abcd", 50.0),
                    dict.fromkeys("abcd", 50.0))
    result = plays.report(plays.account_table(rows, groups, "2025-06-01", outcome="churned"))
    assert result.outcomes == {"treated": 0, "control": 0} and result.churn is None and result.too_early
    assert any("no snapshot after the start yet" in n for n in result.notes)
