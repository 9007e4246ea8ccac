"""The QBR view assembled: segment choices, portfolio charts with dated titles and takeaways, one account's
story, and the download tables behind the Present and Worklists pages."""

import io

import numpy as np
import openpyxl
import pandas as pd
import pytest

from lib import export
from lib.engine.model import parse_model
from lib.engine.scored_portfolio import attach_attributes
from lib.engine.sql import score
from lib.views import portfolio as pf
from lib.views import present as presentation
from lib.views import worklists

D1, D2, D3 = pd.Timestamp("2026-08-01"), pd.Timestamp("2026-09-01"), pd.Timestamp("2026-10-01")
HOSTILE = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://evil.example","Click")'

MODEL = parse_model("""
name: QBR test
bands: {red: 40, yellow: 70}
metrics:
  logins: {label: Logins per user, weight: 60, score: {method: linear, red: 0, green: 10}}
  tickets: {label: Open tickets, weight: 40, score: {method: steps, cuts: [2, 5], points: [100, 50, 0]}}
alerts:
  - {name: Turned red, to_band: red}
""")


@pytest.fixture(scope="module")
def book() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four accounts scored by the engine; the numbers are known by construction.

    score = 0.6 × logins × 10 + 0.4 × tickets points (tickets < 2 → 100, < 5 → 50, else 0).
      A  88, 88, 12   red at D3 (−76)        ARR 100k  SMB         Maya
      B  50, 50, 56   yellow (+6)            ARR 400k  SMB         Maya
      C  100 ×3       green                  ARR  50k  Enterprise  (no owner)   named like a formula
      D  —, 64, 82    new at D2, green (+18) ARR 200k  Enterprise  Jordan       named like HTML
    """
    rows = [
        ("A", "Acme", D1, 8, 0), ("A", "Acme", D2, 8, 0), ("A", "Acme", D3, 2, 6),
        ("B", "Bolt", D1, 5, 3), ("B", "Bolt", D2, 5, 3), ("B", "Bolt", D3, 6, 3),
        ("C", FORMULA, D1, 10, 0), ("C", FORMULA, D2, 10, 0), ("C", FORMULA, D3, 10, 0),
        ("D", HOSTILE, D2, 4, 1), ("D", HOSTILE, D3, 7, 1),
    ]
    portfolio = pd.DataFrame(rows, columns=["account_id", "account_name", "snapshot_date", "logins", "tickets"])
    portfolio[["logins", "tickets"]] = portfolio[["logins", "tickets"]].astype(float)
    info = {"A": ("SMB", "Maya", 100_000.0), "B": ("SMB", "Maya", 400_000.0),
            "C": ("Enterprise", None, 50_000.0), "D": ("Enterprise", "Jordan", 200_000.0)}
    portfolio["size"] = portfolio["account_id"].map(lambda a: info[a][0])
    portfolio["csm_owner"] = portfolio["account_id"].map(lambda a: info[a][1])
    portfolio["arr"] = portfolio["account_id"].map(lambda a: info[a][2])
    portfolio["renewal_date"] = D3 + pd.Timedelta(days=30)
    portfolio["days_since_last_contact"] = 5.0
    scored = attach_attributes(score(MODEL, portfolio), portfolio, ["size", "csm_owner"], list(MODEL.metrics))
    return scored, portfolio


# -- choices ---------------------------------------------------------------------------------------------------


def test_segment_choices_open_on_the_sidebar_filters_then_all_accounts_then_each_segment_value(book):
    scored, _ = book
    choices = presentation.segment_choices(scored, ["size"], {"size": ["SMB"], "csm_owner": []})
    assert list(choices) == ["Size: SMB", "All accounts", "Size: Enterprise"]
    assert choices["Size: SMB"] == {"size": ("SMB",)} and choices["All accounts"] == {}
    assert list(presentation.segment_choices(scored, ["size"]))[:2] == ["All accounts", "Size: Enterprise"]


def test_segment_choices_leave_out_id_like_columns_with_too_many_values():
    frame = pd.DataFrame({"region": ["EU", "US"] * 30, "email": [f"csm{i}@x.io" for i in range(60)]})
    labels = list(presentation.segment_choices(frame, ["region", "email", "not_a_column"]))
    assert labels == ["All accounts", "Region: EU", "Region: US"]


def test_filters_label_names_each_chosen_segment():
    assert presentation.filters_label({"size": ("SMB", "Mid"), "region": (), "csm_owner": ("Maya",)}) == \
        "Size: SMB, Mid · Csm owner: Maya"
    assert presentation.filters_label({}) == "All accounts"


def test_account_choices_are_the_accounts_at_the_date_by_name_with_their_id(book):
    scored, _ = book
    assert pf.account_choices(scored, D1).to_dict() == {"C": f"{FORMULA} · C", "A": "Acme · A", "B": "Bolt · B"}
    assert list(pf.account_choices(scored, D3).index) == ["D", "C", "A", "B"]


def test_the_story_opens_on_the_red_account_with_most_arr_at_risk_as_the_account_page_does(book):
    scored, _ = book
    # A (red, 100k × (1 − 0.12) = 88k at risk) comes before B (yellow, 176k): red first, as the Overview ranks.
    assert pf.default_account(scored, D3) == "A"
    assert pf.default_account(scored.loc[scored["account_id"] == "C"], D3) == "C"  # nobody at risk


# -- headline numbers and portfolio charts -------------------------------------------------------------------


def test_kpis_give_each_number_with_its_change_since_the_previous_snapshot(book):
    scored, _ = book
    kpis = {k.label: k for k in pf.kpis(pf.headline(scored, D3), slide=True)}
    assert (kpis["Accounts"].value, kpis["Accounts"].delta) == ("4", "+0")
    assert (kpis["ARR"].value, kpis["ARR"].delta) == ("$750.0K", "+$0")
    assert (kpis["Average score"].value, kpis["Average score"].delta) == ("62.5", "-13.0")
    assert (kpis["Share red"].value, kpis["Share red"].delta, kpis["Share red"].delta_color) == \
        ("25%", "+25.0 pts", "inverse")
    assert all(k.delta is None for k in pf.kpis(pf.headline(scored, D1), slide=True))


def test_portfolio_charts_are_dated_and_carry_the_numbers_in_their_takeaways(book):
    scored, _ = book
    charts = presentation.portfolio_charts(scored, D3, segment="All accounts", model_label="QBR test v3")
    assert [c.key for c in charts] == ["band-mix", "band-trend", "arr-by-band", "top-movers"]
    assert all("1 Oct 2026" in c.title for c in charts)
    assert all(c.figure.layout.title.subtitle.text == "All accounts · 4 accounts · model QBR test v3" for c in charts)
    mix, trend, arr, movers = (c.takeaway for c in charts)
    assert mix == ("4 accounts: Red 1 (25%), 1 more than on 1 Sep 2026; Yellow 1 (25%), 1 fewer than on "
                   "1 Sep 2026; Green 2 (50%).")
    assert trend == "Red share 0% on 1 Aug 2026 → 25% on 1 Oct 2026; green 67% → 50%."
    assert arr == "$100.0K of $750.0K ARR (13%) sits in red accounts, $400.0K (53%) in yellow."
    assert movers == ("Since 1 Sep 2026: biggest drop Acme (-76.0 points, now 12); biggest rise "
                      f"{HOSTILE} (+18.0, now 82).")


def test_portfolio_charts_at_an_earlier_date_leave_later_snapshots_out(book):
    scored, _ = book
    trend = presentation.portfolio_charts(scored, D2)[1].figure
    assert max(pd.to_datetime(trace.x).max() for trace in trend.data) == D2
    assert presentation.portfolio_charts(scored, D1)[3].takeaway.startswith("This is the first snapshot")


def test_movers_chart_leaves_room_for_the_labels_beside_its_bars(book):
    scored, _ = book
    movers = presentation.portfolio_charts(scored, D3)[3].figure
    low, high = movers.layout.xaxis.range
    assert low < -76 and high > 18


def test_chart_titles_start_at_the_pictures_left_edge_so_long_names_cannot_push_them_out(book):
    scored, _ = book
    story = presentation.account_story(scored, "A", D3, MODEL)
    for chart in [*presentation.portfolio_charts(scored, D3), *story.charts]:
        assert (chart.figure.layout.title.xref, chart.figure.layout.title.x) == ("container", 0), chart.key


def test_an_empty_segment_gives_charts_that_say_so_instead_of_failing(book):
    scored, _ = book
    charts = presentation.portfolio_charts(scored.iloc[0:0], D3, segment="Size: None")
    assert len(charts) == 4
    assert charts[0].takeaway == "No accounts in this selection."
    assert all(not c.figure.data for c in (charts[0], charts[2]))


def test_chart_titles_escape_names_from_data_and_chart_title_reads_them_back(book):
    scored, _ = book
    story = presentation.account_story(scored, "D", D3, MODEL)
    history = story.charts[0]
    assert HOSTILE not in history.figure.layout.title.text and "&lt;img" in history.figure.layout.title.text
    assert history.title == f"{HOSTILE}: score history to 1 Oct 2026"


# -- one account's story -------------------------------------------------------------------------------------


def test_account_story_says_where_the_account_stands_and_which_metrics_moved_it(book):
    scored, _ = book
    story = presentation.account_story(scored, "A", D3, MODEL, model_label="QBR test v3")
    assert story.headline == "Acme scores 12 on 1 Oct 2026 (Red), down 76.0 points since 1 Sep 2026."
    assert story.what_changed == ("Since the previous snapshot: Open tickets took 40.0 points; "
                                  "Logins per user took 36.0 points.")
    assert [c.key for c in story.charts] == ["account-history", "account-drivers"]
    assert story.charts[1].takeaway == "Largest contributions (points of 12): Logins per user 12, Open tickets 0."
    assert (story.band, story.arr, story.renewal_date) == ("red", 100_000.0, D3 + pd.Timedelta(days=30))
    kpis = {k.label: (k.value, k.delta) for k in presentation.story_kpis(story)}
    assert kpis == {"Score": ("12", "-76.0"), "Band": ("Red", None), "ARR": ("$100.0K", None),
                    "Renews": ("31 Oct 2026", None)}


def test_account_story_at_an_earlier_date_stops_there(book):
    scored, _ = book
    story = presentation.account_story(scored, "A", D2, MODEL)
    assert story.score == 88 and story.headline.endswith("(Green), unchanged since 1 Aug 2026.")
    assert list(story.charts[0].figure.data[0].x) == [D1, D2]
    assert presentation.account_story(scored, "D", D1, MODEL) is None  # no snapshot yet


def test_account_story_lists_the_newest_notes_and_a_csm_override(book):
    scored, _ = book
    notes = pd.DataFrame({
        "note_id": [4, 3, 2, 1], "account_id": "A", "author": ["Maya", "", "Maya", "Maya"],
        "text": ["Exec sponsor left", "Ticket backlog", "QBR booked", "Kick-off"],
        "created_at": pd.to_datetime(["2026-10-02", "2026-09-20", "2026-09-01", "2026-08-01"]),
    })
    marked = scored.assign(override_score=np.where(scored["account_id"] == "A", 45.0, np.nan),
                           override_reason=np.where(scored["account_id"] == "A", "Renewal signed", None))
    story = presentation.account_story(marked, "A", D3, MODEL, notes=notes)
    assert story.notes == ("2026-10-02 · Maya: Exec sponsor left", "2026-09-20: Ticket backlog",
                           "2026-09-01 · Maya: QBR booked")
    assert story.override == "A CSM overrides this score to 45: Renewal signed"
    assert any(trace.name == "Overridden" for trace in story.charts[0].figure.data)
    assert presentation.account_story(scored, "A", D3, MODEL).override == ""


def test_takeaways_list_the_charts_then_the_account(book):
    scored, _ = book
    charts = presentation.portfolio_charts(scored, D3)
    story = presentation.account_story(scored, "A", D3, MODEL)
    lines = presentation.takeaways(charts, story)
    assert lines == [*(c.takeaway for c in charts), story.headline, story.what_changed]
    assert presentation.takeaways(charts) == [c.takeaway for c in charts]


# -- download tables -----------------------------------------------------------------------------------------


def test_scores_table_has_one_row_per_account_at_the_date_lowest_score_first(book):
    scored, _ = book
    table = presentation.scores_table(scored, D3, MODEL, ["size"])
    assert table["account_id"].tolist() == ["A", "B", "D", "C"]
    assert list(table.columns[:5]) == ["account_id", "account_name", "snapshot_date", "size", "arr"]
    assert list(table.columns[-4:]) == ["tickets_value", "tickets_score", "tickets_weight", "tickets_contribution"]
    assert table["score"].round(6).tolist() == [12.0, 56.0, 82.0, 100.0]


def test_score_downloads_name_the_model_and_version_and_neutralise_formulas(book):
    scored, _ = book
    table = presentation.scores_table(scored, D3, MODEL, ["size"])
    about = presentation.export_about("Sample", "All accounts", D3, owner="Maya")
    csv = pd.read_csv(io.BytesIO(export.scores_csv(table, model_name="QBR test", model_version=3)))
    assert set(csv["model"]) == {"QBR test"} and set(csv["model_version"]) == {"v3"}
    assert csv.loc[csv["account_id"] == "C", "account_name"].item() == "'" + FORMULA
    np.testing.assert_allclose(csv["score"], table["score"])
    book_ = openpyxl.load_workbook(io.BytesIO(export.scores_excel(table, model_name="QBR test", model_version=3,
                                                                  bands=MODEL.bands, about=about)))
    fields = {row[0]: row[1] for row in book_["About"].iter_rows(min_row=2, values_only=True)}
    assert (fields["Model"], fields["Model version"]) == ("QBR test", "v3")
    assert (fields["Segment"], fields["Snapshot date"], fields["Owner"]) == ("All accounts", "2026-10-01", "Maya")
    assert export.export_filename("health-scores", "QBR test", 3, "xlsx", on=D3.date()) == \
        "health-scores_qbr-test_v3_2026-10-01.xlsx"


# -- worklists -----------------------------------------------------------------------------------------------


def test_owner_choices_start_with_all_and_end_with_unassigned_when_an_account_has_no_owner(book):
    scored, _ = book
    assert presentation.owner_choices(scored, "csm_owner", D3) == ["All", "Jordan", "Maya", "Unassigned"]
    assert presentation.owner_choices(scored, "csm_owner", D1) == ["All", "Maya", "Unassigned"]
    assert presentation.owner_choices(scored, None, D3) == ["All"]


def test_worklists_run_on_the_scored_portfolio_as_the_page_holds_it(book):
    scores, portfolio = book
    assert "logins_value" in scores.columns and "logins_score" in scores.columns
    attention = worklists.attention_list(scores, portfolio, as_of=D3)
    kpis = {k.label: k.value for k in presentation.attention_kpis(attention)}
    # A turned red (88k at risk), B is yellow (176k); both renew in 30 days.
    assert kpis == {"Need attention": "2", "ARR at risk": "$264.0K", "Alert rule hits": "1",
                    "Contact overdue": "0", "Renewals in red / yellow": "2"}
    assert presentation.for_owner(attention, "Maya")["account_id"].tolist() == ["B", "A"]
    assert presentation.for_owner(attention, "Jordan").empty
    assert presentation.for_owner(attention, "All") is attention
    growing = worklists.expansion_list(scores, portfolio, usage_column="logins", as_of=D3, trend_snapshots=2)
    assert growing["account_id"].tolist() == ["D"]


def test_usage_metrics_are_the_numeric_metric_columns(book):
    _, portfolio = book
    assert presentation.usage_metrics(portfolio, ["logins", "size", "tickets", "missing"]) == ["logins", "tickets"]


def test_band_tint_colours_the_band_cells_only(book):
    scored, _ = book
    html = presentation.band_tint(pf.at_date(scored, D3)[["account_id", "band", "score"]]).to_html()
    styles = html.split("</style>")[0]
    assert "background-color: #D55E0040" in styles and "background-color: #009E7340" in styles
    assert "_col1" in styles and "_col0" not in styles and "_col2" not in styles
