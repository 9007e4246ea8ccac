"""Overview page (AppTest on the sample): KPIs and tables agree with lib.views.portfolio, widgets change what is shown,
CSM overrides show as marked."""

import json

import pytest

from lib import ui
from lib.views import portfolio as pf
from tests.app.helpers import errors, open_app


@pytest.fixture(scope="module")
def at():
    return open_app("overview")


def figure(at, key_title: str) -> dict:
    """The Plotly spec of the chart whose title starts with `key_title`."""
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    return next(s for s in specs if s["layout"]["title"]["text"].startswith(key_title))


def chart_titles(at) -> list[str]:
    return [json.loads(el.proto.spec)["layout"]["title"]["text"] for el in at.get("plotly_chart")]


def open_view(at, label: str) -> None:
    """Pick one of the page's chart views (lazy tabs: only the open one runs)."""
    at.session_state["overview.view"] = label
    at.run()
    assert not errors(at), errors(at)


def test_overview_opens_on_the_band_trend_and_no_exception(at):
    assert not errors(at), errors(at)
    assert chart_titles(at) == ["ARR by band", "Accounts per band over time"]
    subtitle = figure(at, "ARR by band")["layout"]["title"]["subtitle"]["text"]
    ctx = at.session_state["_ctx"]
    assert subtitle == ctx.caption == f"{ctx.dataset.name} · {ctx.model_name} v{ctx.model_version} · 2026-10-01"


def test_kpis_show_headline_numbers_with_change_vs_previous_snapshot(at, sample):
    scored, as_of = sample
    head = pf.headline(scored, as_of)
    shown = {m.label: (m.value, m.delta) for m in at.metric}
    assert shown["Accounts"][0] == f"{len(pf.at_date(scored, as_of)):,}"
    assert shown["Average score"] == (f"{head['avg_score']:.1f}", f"{head['avg_score_change']:+.1f}")
    assert shown["Accounts red"][0] == f"{(pf.at_date(scored, as_of)['band'] == 'red').mean():.1%}"
    assert shown["ARR"] == (pf.money(head["arr"]), pf.money(head["arr_change"], signed=True))


def test_band_table_matches_band_summary(at, sample):
    scored, as_of = sample
    table = next(d.value for d in at.dataframe if "Δ accounts" in d.value.columns).set_index("Band")
    summary = pf.band_summary(scored, as_of).set_index("band")
    assert table.loc["Red", "Accounts"] == summary.loc["red", "accounts"]
    assert table.loc["Green", "Δ accounts"] == summary.loc["green", "accounts_change"]
    assert table.loc["Yellow", "ARR"] == summary.loc["yellow", "arr"]


def test_at_risk_table_ranks_red_accounts_by_arr_at_risk(at, sample):
    scored, as_of = sample
    table = at.dataframe(key="overview.at_risk").value
    expected = pf.arr_at_risk(scored, as_of, per_band=25)
    assert len(table) == len(expected) == 50
    assert table["ID"].tolist() == expected["account_id"].tolist()
    assert table["Band"].iloc[0] == "Red" and table["Rank"].iloc[0] == 1


def test_accounts_per_band_control_changes_the_table_length(at):
    at.segmented_control(key="overview.per_band").set_value(10).run()
    assert len(at.dataframe(key="overview.at_risk").value) == 20
    at.segmented_control(key="overview.per_band").set_value(25).run()


@pytest.mark.parametrize(("view", "title"), [("Score distribution", "Score distribution"),
                                             ("Segments × bands", "Bands by size"),
                                             ("Movers", "Biggest falls and rises"),
                                             ("Bands over time", "Accounts per band over time")])
def test_each_view_draws_only_its_own_chart(at, view, title):
    open_view(at, view)
    assert chart_titles(at) == ["ARR by band", title]


def test_heat_map_follows_the_chosen_segment(at, sample):
    scored, as_of = sample
    open_view(at, "Segments × bands")
    at.selectbox(key="overview.segment").set_value("region").run()
    assert not errors(at), errors(at)
    heat = figure(at, "Bands by region")["data"][0]
    assert sorted(heat["y"]) == sorted(pf.segment_band_matrix(scored, as_of, "region").index)
    at.selectbox(key="overview.segment").set_value("size").run()
    assert sorted(figure(at, "Bands by size")["data"][0]["y"]) == ["Enterprise", "Mid-Market", "SMB"]


def test_movers_slider_sets_how_many_falls_and_rises(at, sample):
    scored, as_of = sample
    open_view(at, "Movers")
    at.slider(key="overview.movers_n").set_value(3).run()
    assert len(at.dataframe(key="overview.movers_table").value) == len(pf.movers(scored, as_of, n=3)) == 6


def test_override_shows_marked_in_the_at_risk_table(at, sample):
    scored, as_of = sample
    ws = ui.workspace()
    top = pf.arr_at_risk(scored, as_of).iloc[0]
    override_id = ws.set_override(top["account_id"], 80, "renewal signed yesterday", "Test")
    try:
        at.run()
        table = at.dataframe(key="overview.at_risk").value.set_index("ID")
        assert table.loc[top["account_id"], "Override"] == f"{top['score']:.0f} → 80 (override)"
        assert table.loc[top["account_id"], "Score"] == pytest.approx(top["score"]), "the model score stays"
    finally:
        ws.remove_override(override_id)
    at.run()
    assert at.dataframe(key="overview.at_risk").value.set_index("ID").loc[top["account_id"], "Override"] == ""
