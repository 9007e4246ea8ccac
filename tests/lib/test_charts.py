"""Chart builders: figures inspected as data (traces, values, colours, titles, shapes) — no browser."""

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from lib import charts
from lib.charts import BAND_COLORS, BAND_ORDER, NO_DATA_MESSAGE

XSS = "<img src=x onerror=alert(1)>"
D1, D2, D3 = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"), pd.Timestamp("2026-03-01")


def figure_text(fig) -> str:
    """Every string in the figure as the browser receives it (JSON decoded, so no \\u003c escapes)."""
    return json.dumps(json.loads(fig.to_json()), ensure_ascii=False)


def is_no_data(fig, message: str = NO_DATA_MESSAGE) -> bool:
    return len(fig.data) == 0 and any(a.text == message for a in fig.layout.annotations)


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def summary() -> pd.DataFrame:
    """lib.views.portfolio.band_summary shape."""
    return pd.DataFrame({"band": list(BAND_ORDER), "accounts": [10, 30, 60, 0], "share": [0.1, 0.3, 0.6, 0.0],
                         "arr": [1.5e6, 2e6, 9e6, np.nan]})


@pytest.fixture
def scores_now() -> pd.DataFrame:
    """Score-table rows at one date with known bands (cut-offs 30 / 70) and two no-data accounts."""
    rng = np.random.default_rng(3)
    score = np.concatenate([rng.uniform(0, 100, 500), [np.nan, np.nan]])
    band = np.select([np.isnan(score), score <= 30, score <= 70], ["no data", "red", "yellow"], "green")
    return pd.DataFrame({"account_id": [f"A{i}" for i in range(len(score))], "score": score, "band": band})


@pytest.fixture
def counts_by_date() -> pd.DataFrame:
    """LiveScorer.band_counts / portfolio.band_counts_over_time shape."""
    return pd.DataFrame({"red": [5, 8, 0], "yellow": [10, 9, 12], "green": [20, 18, 30], "no data": [0, 0, 0]},
                        index=pd.Index([D3, D1, D2], name="snapshot_date"))


@pytest.fixture
def history() -> pd.DataFrame:
    return pd.DataFrame({"snapshot_date": [D1, D2, D3], "score": [80.0, 50.0, 20.0],
                         "band": ["green", "yellow", "red"], "alerts": ["", "", "Steep drop; Turned red"],
                         "override_reason": [pd.NA, "CSM call went well", pd.NA]})


@pytest.fixture
def breakdown() -> pd.DataFrame:
    """lib.views.portfolio.account_breakdown shape: contributions sum to the score 47.5."""
    return pd.DataFrame({"metric": ["logins", "tickets", "sentiment", "nps"], "value": [7.0, 3.0, "yellow", np.nan],
                         "score": [50.0, 50.0, 50.0, np.nan], "weight": [0.5, 0.25, 0.25, 0.0],
                         "contribution": [25.0, 12.5, 10.0, np.nan]})


SPECS = {
    "logins": {"method": "linear", "red": 2, "green": 12},
    "tickets": {"method": "steps", "cuts": [2, 5], "points": [100, 50, 0]},
    "sentiment": {"method": "categories", "map": {"green": 100, "yellow": 50, "red": 0}},
    "nps": {"method": "percentile", "within": ["size"]},
}


def migration_matrix(before: pd.Series, after: pd.Series) -> pd.DataFrame:
    """lib.views.portfolio.migrations shape from two band Series indexed by account."""
    both = pd.concat([before.rename("a"), after.rename("b")], axis=1, join="inner")
    return pd.crosstab(both["a"], both["b"]).reindex(index=list(BAND_ORDER), columns=list(BAND_ORDER), fill_value=0)


# --- shared look and safety -----------------------------------------------------------------------------


def test_plain_text_turns_markup_into_entities_that_plotly_shows_as_characters():
    assert charts.plain_text(XSS) == "&lt;img src=x onerror=alert(1)&gt;"
    assert charts.plain_text("AT&T <b>") == "AT&amp;T &lt;b&gt;"
    assert charts.plain_text(None) == "" and charts.plain_text(np.nan) == "" and charts.plain_text(pd.NA) == ""


def test_template_placeholders_in_names_are_shown_not_substituted_in_hover():
    assert charts.plain_text("%{x}") == "%&#123;x}"  # plotly shows &#123; as "{" after templating
    peers = pd.DataFrame({"account_name": ["%{y}", "b"], "score": [40.0, 60.0], "is_account": [True, False]})
    marker = charts.peer_position(peers).data[1]
    assert "%{y}" not in marker.hovertemplate and "%&#123;y}" in marker.hovertemplate


def test_band_colours_are_the_okabe_ito_colour_blind_safe_set_in_band_order():
    assert BAND_ORDER == ("red", "yellow", "green", "no data")
    assert BAND_COLORS == {"red": "#D55E00", "yellow": "#E69F00", "green": "#009E73", "no data": "#9AA0A6"}


def test_account_name_with_html_is_shown_as_text_in_movers_labels_and_hover():
    movers = pd.DataFrame({"account_id": ["a1", "a2"], "account_name": [XSS, "Beta & Co"], "change": [-12.0, 8.0],
                           "score": [20.0, 80.0], "band": ["red", "green"]})
    fig = charts.top_movers(movers)
    text = figure_text(fig)
    assert "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in list(fig.data[0].y)
    assert "Beta &amp; Co" in list(fig.data[1].y)


def test_names_from_data_are_escaped_in_titles_heatmap_rows_categories_and_peers():
    matrix = pd.DataFrame({"red": [3, 1], "yellow": [1, 1], "green": [0, 2]},
                          index=pd.Index([XSS, "SMB"], name="<b>segment</b>"))
    peers = pd.DataFrame({"account_name": [XSS, "b"], "score": [40.0, 60.0], "is_account": [True, False]})
    figs = [
        charts.segment_band_heatmap(matrix),
        charts.score_history(pd.DataFrame({"snapshot_date": [D1], "score": [50.0], "alerts": [XSS]}),
                             title=f"Score history — {XSS}", subtitle=XSS),
        charts.metric_histogram(pd.Series([XSS, "green"]), SPECS["sentiment"], label=XSS),
        charts.peer_position(peers, segment_label=XSS),
        charts.churn_by_bins(pd.DataFrame({"bin": [1], "label": [XSS], "accounts": [4], "churned": [1]})),
    ]
    for fig in figs:
        text = figure_text(fig)
        assert "<img" not in text and "<b>segment" not in text
        assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_presentation_mode_enlarges_title_ticks_and_thickens_lines(history):
    normal = charts.score_history(history, cutoffs=(30, 70))
    big = charts.score_history(history, cutoffs=(30, 70), presentation=True, subtitle="Enterprise · 2026-10-01")
    assert big.layout.title.font.size >= 28 and normal.layout.title.font.size < 28
    assert big.layout.xaxis.tickfont.size >= 18 and big.layout.yaxis.tickfont.size >= 18
    assert big.data[0].line.width > normal.data[0].line.width
    assert big.layout.title.subtitle.text == "Enterprise · 2026-10-01"
    assert big.layout.xaxis.showgrid is False  # clutter dropped


def test_style_helper_gives_presentation_sizes_to_pages_that_build_their_own_figures():
    assert charts.style(True).title >= 28 and charts.style(True).tick >= 18
    assert charts.style(True).line > charts.style(False).line


def _cases(summary, scores_now, counts_by_date, history, breakdown):
    """(name, builder call, expects axis titles) for every builder, on small valid data."""
    labelled = pd.DataFrame({"label": ["healthy"] * 5 + ["struggling"] * 5, "score": np.linspace(10, 90, 10)})
    before = pd.Series(["red", "green", "yellow"], index=["a", "b", "c"])
    after = pd.Series(["yellow", "green", "red"], index=["a", "b", "c"])
    rates = pd.DataFrame({"decile": [1, 2], "bin": [1, 2], "label": ["0–5", "5–9"], "accounts": [10, 10],
                          "churned": [4, 1]})
    return [
        ("band_mix", lambda p: charts.band_mix(summary, presentation=p), True),
        ("band_trend", lambda p: charts.band_trend(counts_by_date, presentation=p), True),
        ("band_change", lambda p: charts.band_change(summary, summary, presentation=p), True),
        ("arr_by_band", lambda p: charts.arr_by_band(summary, presentation=p), True),
        ("score_histogram", lambda p: charts.score_histogram(scores_now, presentation=p), True),
        ("segment_band_heatmap", lambda p: charts.segment_band_heatmap(
            pd.DataFrame({"red": [1], "green": [2]}, index=pd.Index(["SMB"], name="size")), presentation=p), True),
        ("top_movers", lambda p: charts.top_movers(
            pd.DataFrame({"account_id": ["a"], "change": [-3.0]}), presentation=p), True),
        ("score_percentiles", lambda p: charts.score_percentiles(pd.DataFrame(
            {"p10": [10.0], "p25": [20.0], "median": [50.0], "p75": [70.0], "p90": [90.0]},
            index=pd.Index([D1], name="snapshot_date")), presentation=p), True),
        ("metric_histogram", lambda p: charts.metric_histogram(pd.Series([1.0, 5.0]), SPECS["logins"],
                                                               presentation=p), True),
        ("weights_bar", lambda p: charts.weights_bar({"a": 1, "b": 3}, presentation=p), True),
        ("score_history", lambda p: charts.score_history(history, presentation=p), True),
        ("contribution_chart", lambda p: charts.contribution_chart(breakdown, presentation=p), True),
        ("metric_bullets", lambda p: charts.metric_bullets(breakdown, SPECS, presentation=p), False),
        ("peer_position", lambda p: charts.peer_position(pd.DataFrame(
            {"score": [10.0, 50.0], "is_account": [True, False]}), presentation=p), True),
        ("band_sankey", lambda p: charts.band_sankey(migration_matrix(before, after), presentation=p), False),
        ("band_flip_matrix", lambda p: charts.band_flip_matrix(migration_matrix(before, after), presentation=p), True),
        ("distribution_by_label", lambda p: charts.distribution_by_label(labelled, presentation=p), True),
        ("roc_curve", lambda p: charts.roc_curve(labelled["score"], labelled["label"] == "healthy",
                                                 presentation=p), True),
        ("churn_by_band", lambda p: charts.churn_by_band(summary.assign(churned=[5, 3, 1, 0]), presentation=p),
         True),
        ("lift_by_decile", lambda p: charts.lift_by_decile(rates, presentation=p), True),
        ("churn_by_bins", lambda p: charts.churn_by_bins(rates, presentation=p), True),
        ("metric_separation", lambda p: charts.metric_separation({"a": 0.7}, presentation=p), True),
    ]


def test_every_builder_titles_its_chart_labels_its_axes_and_obeys_presentation_mode(
        summary, scores_now, counts_by_date, history, breakdown):
    for name, build, has_axes in _cases(summary, scores_now, counts_by_date, history, breakdown):
        fig = build(False)
        assert fig.layout.title.text, name
        assert len(fig.data) >= 1, name
        if has_axes:
            assert fig.layout.xaxis.title.text or fig.layout.yaxis.title.text, name
        big = build(True)
        assert big.layout.title.font.size >= 28, name
        assert big.layout.xaxis.tickfont.size >= 18, name
        assert figure_text(fig) == figure_text(build(False)), f"{name} is not deterministic"


def test_every_builder_returns_a_no_data_figure_for_empty_input():
    empty_scores = pd.DataFrame(columns=["account_id", "snapshot_date", "score", "band", "change"])
    figs = {
        "band_mix": charts.band_mix({}),
        "band_mix_zero": charts.band_mix({"red": 0}),
        "band_trend": charts.band_trend(pd.DataFrame()),
        "band_change": charts.band_change({}, {}),
        "arr_by_band": charts.arr_by_band(pd.DataFrame(columns=["band", "arr"])),
        "score_histogram": charts.score_histogram(empty_scores),
        "score_histogram_all_missing": charts.score_histogram(pd.DataFrame({"score": [np.nan], "band": ["no data"]})),
        "segment_band_heatmap": charts.segment_band_heatmap(pd.DataFrame()),
        "top_movers": charts.top_movers(empty_scores),
        "score_percentiles": charts.score_percentiles(pd.DataFrame()),
        "metric_histogram": charts.metric_histogram(pd.Series([], dtype=float), SPECS["logins"]),
        "metric_histogram_categories": charts.metric_histogram(pd.Series([], dtype=object), {"method": "categories",
                                                                                              "map": {}}),
        "weights_bar": charts.weights_bar({}),
        "score_history": charts.score_history(empty_scores),
        "contribution_chart": charts.contribution_chart(pd.DataFrame()),
        "metric_bullets": charts.metric_bullets(pd.DataFrame(), SPECS),
        "peer_position": charts.peer_position(pd.DataFrame()),
        "band_sankey": charts.band_sankey(pd.DataFrame()),
        "band_flip_matrix": charts.band_flip_matrix(pd.DataFrame()),
        "distribution_by_label": charts.distribution_by_label(pd.DataFrame()),
        "churn_by_band": charts.churn_by_band(pd.DataFrame()),
        "lift_by_decile": charts.lift_by_decile(pd.DataFrame()),
        "churn_by_bins": charts.churn_by_bins(pd.DataFrame()),
        "metric_separation": charts.metric_separation({}),
    }
    for name, fig in figs.items():
        assert is_no_data(fig), name
        assert fig.layout.title.text, name


def test_wrong_table_shape_raises_chart_input_error_naming_the_missing_column():
    with pytest.raises(charts.ChartInputError, match=r"score_histogram.*'band'"):
        charts.score_histogram(pd.DataFrame({"score": [1.0]}))
    with pytest.raises(charts.ChartInputError, match=r"unknown band 'purple'"):
        charts.band_mix({"purple": 3})


# --- Overview --------------------------------------------------------------------------------------------


def test_band_mix_bar_has_one_trace_per_band_present_with_share_and_count_text(summary):
    fig = charts.band_mix(summary)
    assert [t.name for t in fig.data] == ["Red", "Yellow", "Green"]  # no-data band has no accounts
    assert [t.x[0] for t in fig.data] == pytest.approx([10.0, 30.0, 60.0])
    assert [t.marker.color for t in fig.data] == [BAND_COLORS[b] for b in ("red", "yellow", "green")]
    assert fig.data[2].text[0] == "60 (60%)"
    assert fig.layout.barmode == "stack"


def test_band_mix_reads_a_summary_table_a_series_and_a_dict_alike(summary):
    from_table = charts.band_mix(summary)
    from_series = charts.band_mix(pd.Series({"green": 60, "red": 10, "yellow": 30}))
    from_dict = charts.band_mix({"red": 10, "yellow": 30, "green": 60})
    assert figure_text(from_table) == figure_text(from_series) == figure_text(from_dict)


def test_band_mix_donut_holds_counts_in_band_order(summary):
    pie = charts.band_mix(summary, kind="donut").data[0]
    assert list(pie.labels) == ["Red", "Yellow", "Green"] and list(pie.values) == [10, 30, 60]
    assert list(pie.marker.colors) == [BAND_COLORS["red"], BAND_COLORS["yellow"], BAND_COLORS["green"]]


def test_band_trend_stacks_counts_per_date_sorted_by_date(counts_by_date):
    fig = charts.band_trend(counts_by_date)
    assert [t.name for t in fig.data] == ["Red", "Yellow", "Green"]
    assert all(t.stackgroup == "bands" for t in fig.data)
    assert list(pd.to_datetime(fig.data[0].x)) == [D1, D2, D3]
    assert list(fig.data[0].y) == [8, 0, 5] and list(fig.data[2].y) == [18, 30, 20]
    assert fig.data[1].line.color == BAND_COLORS["yellow"]


def test_band_trend_share_makes_each_date_sum_to_100_and_accepts_a_date_column(counts_by_date):
    fig = charts.band_trend(counts_by_date.reset_index(), share=True)
    totals = np.sum([t.y for t in fig.data], axis=0)
    assert totals == pytest.approx([100, 100, 100])
    assert list(fig.data[0].customdata) == [8, 0, 5]  # counts stay in the hover
    assert fig.layout.yaxis.title.text == "Share of accounts (%)"


def test_score_histogram_counts_per_band_equal_numpy_histogram(scores_now):
    fig = charts.score_histogram(scores_now, cutoffs=(30, 70), bin_width=10)
    edges = np.linspace(0, 100, 11)
    assert [t.name for t in fig.data] == ["Red", "Yellow", "Green"]
    for trace, band in zip(fig.data, ("red", "yellow", "green"), strict=True):
        expected, _ = np.histogram(scores_now.loc[scores_now["band"] == band, "score"], bins=edges)
        assert list(trace.y) == list(expected)
        assert trace.marker.color == BAND_COLORS[band]
    assert sum(sum(t.y) for t in fig.data) == 500
    assert list(fig.data[0].x) == pytest.approx(edges[:-1] + 5)


def test_score_histogram_draws_cutoff_lines_at_red_and_yellow_and_notes_no_data(scores_now):
    fig = charts.score_histogram(scores_now, cutoffs=(30, 70))
    lines = [(s.x0, s.line.color) for s in fig.layout.shapes]
    assert lines == [(30, BAND_COLORS["red"]), (70, BAND_COLORS["yellow"])]
    texts = [a.text for a in fig.layout.annotations]
    assert "Red ≤ 30" in texts and "Yellow ≤ 70" in texts
    assert "2 accounts with no data not shown" in texts
    assert fig.layout.xaxis.title.text == "Score (0–100)" and fig.layout.yaxis.title.text == "Accounts"


def test_segment_heatmap_shows_row_shares_with_counts_in_hover_worst_segment_first():
    matrix = pd.DataFrame({"red": [1, 6], "yellow": [1, 2], "green": [8, 2], "no data": [0, 0]},
                          index=pd.Index(["SMB", "Enterprise"], name="size"))
    heat = charts.segment_band_heatmap(matrix)
    h = heat.data[0]
    assert list(h.y) == ["Enterprise", "SMB"]  # 60 % red before 10 % red
    assert list(h.x) == ["Red", "Yellow", "Green"]
    assert np.asarray(h.z).tolist() == [[60.0, 20.0, 20.0], [10.0, 10.0, 80.0]]
    assert np.asarray(h.customdata).tolist() == [[6, 2, 2], [1, 1, 8]]
    assert heat.layout.title.text == "Bands by size"


def test_segment_heatmap_puts_the_band_axis_below_the_cells_clear_of_the_subtitle():
    """On top, the "Band" axis title landed on the chart's subtitle (Overview page screenshot)."""
    matrix = pd.DataFrame({"red": [1, 6], "green": [8, 2]}, index=pd.Index(["SMB", "Enterprise"], name="size"))
    heat = charts.segment_band_heatmap(matrix, subtitle="Sample portfolio · 2026-10-01")
    assert heat.layout.xaxis.side == "bottom"
    assert heat.layout.xaxis.title.text == "Band" and heat.layout.xaxis.automargin is True


def test_segment_heatmap_folds_segments_beyond_max_rows_into_other():
    matrix = pd.DataFrame({"red": [5, 4, 1, 1], "green": [5, 4, 1, 2]}, index=["a", "b", "c", "d"])
    h = charts.segment_band_heatmap(matrix, segment="owner", max_rows=2).data[0]
    assert "Other (2 values)" in list(h.y)
    assert np.asarray(h.customdata).sum() == matrix.to_numpy().sum()


def test_top_movers_puts_biggest_drop_on_top_and_skips_unchanged_accounts():
    movers = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "account_name": ["A", "B", "C", "D"],
                           "change": [-5.0, -20.0, 12.0, 0.0]})
    fig = charts.top_movers(movers)
    dropped, rose = fig.data
    assert dropped.name == "Dropped" and list(dropped.y) == ["B", "A"] and list(dropped.x) == [-20.0, -5.0]
    assert rose.name == "Rose" and list(rose.y) == ["C"] and list(rose.x) == [12.0]
    assert dropped.marker.color == BAND_COLORS["red"] and rose.marker.color == BAND_COLORS["green"]
    assert fig.layout.yaxis.autorange == "reversed"


def test_top_movers_leaves_room_beside_the_longest_bars_for_their_outside_labels():
    """Plotly's autorange ignores outside text: without room, "-45.4" beside the biggest drop ran into the account
    names on the y axis (Overview page screenshot)."""
    movers = pd.DataFrame({"account_id": ["a", "b", "c"], "account_name": ["A", "B", "C"],
                           "change": [-45.4, -10.0, 32.0]})
    fig = charts.top_movers(movers)
    assert [t.textposition for t in fig.data] == ["outside", "outside"]
    low, high = fig.layout.xaxis.range
    span = 32.0 + 45.4
    assert low <= -45.4 - 0.15 * span and high >= 32.0 + 0.15 * span
    assert fig.layout.yaxis.automargin is True


def test_top_movers_range_stops_at_zero_on_the_side_without_bars():
    movers = pd.DataFrame({"account_id": ["a", "b"], "change": [-8.0, -2.0]})
    low, high = charts.top_movers(movers).layout.xaxis.range
    assert low < -8.0 and high == 0.0


def test_top_movers_tells_apart_accounts_sharing_a_name_by_their_id():
    movers = pd.DataFrame({"account_id": ["a1", "a2"], "account_name": ["Acme", "Acme"], "change": [-3.0, -4.0]})
    assert list(charts.top_movers(movers).data[0].y) == ["Acme (a2)", "Acme (a1)"]


@pytest.mark.parametrize(("value", "text"), [
    (48_213_000, "$48.2M"), (85_000, "$85.0K"), (250, "$250"), (2.5e9, "$2.5B"), (-1500, "-$1.5K"),
    (None, "–"), (float("nan"), "–"),
])
def test_money_is_short_with_the_sign_before_the_dollar(value, text):
    assert charts.money(value) == text


def test_arr_by_band_sums_arr_per_band_with_money_and_account_labels(summary):
    bar = charts.arr_by_band(summary).data[0]
    assert list(bar.x) == ["Red", "Yellow", "Green"] and list(bar.y) == [1.5e6, 2e6, 9e6]
    assert list(bar.text) == ["$1.5M · 10 accounts", "$2.0M · 30 accounts", "$9.0M · 60 accounts"]
    assert list(bar.marker.color) == [BAND_COLORS["red"], BAND_COLORS["yellow"], BAND_COLORS["green"]]


# --- Tune ------------------------------------------------------------------------------------------------


def test_metric_histogram_linear_draws_red_and_green_lines_at_the_thresholds():
    values = pd.Series(np.linspace(0, 20, 201))
    fig = charts.metric_histogram(values, SPECS["logins"], label="Logins per user")
    assert [(s.x0, s.line.color) for s in fig.layout.shapes] == [(2.0, BAND_COLORS["red"]),
                                                                (12.0, BAND_COLORS["green"])]
    assert sum(fig.data[0].y) == 201
    assert fig.layout.xaxis.title.text == "Logins per user" and fig.layout.yaxis.title.text == "Accounts"


def test_metric_histogram_keeps_outliers_in_the_edge_bins_and_counts_missing():
    values = pd.Series([*np.linspace(0, 10, 998), 1e9, np.nan, np.nan])
    fig = charts.metric_histogram(values, SPECS["logins"], bins=20)
    assert sum(fig.data[0].y) == 999
    assert len(fig.data[0].x) == 20  # the outlier did not stretch the bins
    assert "2 missing" in [a.text for a in fig.layout.annotations]


def test_metric_histogram_steps_writes_the_points_of_each_interval_between_cut_lines():
    fig = charts.metric_histogram(pd.Series(np.linspace(0, 8, 100)), SPECS["tickets"])
    assert [s.x0 for s in fig.layout.shapes] == [2.0, 5.0]
    points = [a for a in fig.layout.annotations if a.text.endswith("pts")]
    assert [a.text for a in points] == ["100 pts", "50 pts", "0 pts"]
    assert points[0].x < 2 < points[1].x < 5 < points[2].x


def test_metric_histogram_on_whole_numbers_draws_one_bar_per_value_and_cuts_on_bar_boundaries():
    values = pd.Series([0, 1, 1, 2, 3, 3, 3, 7], dtype=float)
    fig = charts.metric_histogram(values, SPECS["tickets"])
    bars = fig.data[0]
    assert list(bars.x) == [0, 1, 2, 3, 4, 5, 6, 7] and list(bars.y) == [1, 2, 1, 3, 0, 0, 0, 1]
    assert [s.x0 for s in fig.layout.shapes] == [1.5, 4.5]  # 1 scores 100, 2 scores 50: line between them


def test_metric_histogram_categories_colours_bars_by_points_and_flags_unmapped_ones():
    values = pd.Series(["green", "Green ", "yellow", "red", "red", "purple", None])
    fig = charts.metric_histogram(values, SPECS["sentiment"], label="CSM sentiment")
    bar = fig.data[0]
    assert list(bar.x) == ["green", "yellow", "red", "purple"]
    assert list(bar.y) == [2, 1, 2, 1]
    assert list(bar.marker.color) == ["#009E73", "#E69F00", "#D55E00", "#9AA0A6"]
    assert list(bar.text) == ["100 pts", "50 pts", "0 pts", "not in map"]


@dataclass(frozen=True)
class _Linear:
    """Stands in for lib.engine.model.Linear: a frozen dataclass with a class-level ``method``."""

    red: float
    green: float
    method: ClassVar[str] = "linear"


def test_metric_histogram_reads_model_spec_objects_like_their_yaml_dicts():
    values = pd.Series(np.linspace(0, 20, 50))
    from_object = charts.metric_histogram(values, _Linear(red=2, green=12))
    from_dict = charts.metric_histogram(values, SPECS["logins"])
    assert figure_text(from_object) == figure_text(from_dict)


def test_weights_bar_normalises_to_percent_and_orders_by_group():
    fig = charts.weights_bar({"logins": 40, "tickets": 30, "nps": 10, "seats": 20},
                             groups={"logins": "Engagement", "seats": "Engagement", "tickets": "Support"},
                             labels={"logins": "Logins per user"})
    assert [t.name for t in fig.data] == ["Engagement (60%)", "Support (30%)", "Ungrouped"]
    assert list(fig.data[0].y) == ["Logins per user", "seats"] and list(fig.data[0].x) == [40.0, 20.0]
    assert sum(sum(t.x) for t in fig.data) == pytest.approx(100)
    assert fig.data[0].marker.color != fig.data[1].marker.color


def test_weights_bar_draws_one_trace_per_profile_from_effective_weights():
    fig = charts.weights_bar({"Default": {"a": 0.5, "b": 0.5}, "Onboarding": {"a": 0.25, "b": 0.75}})
    assert [t.name for t in fig.data] == ["Default", "Onboarding"]
    assert list(fig.data[1].x) == [25.0, 75.0]
    assert fig.layout.barmode == "group"


def test_band_change_shows_saved_and_new_counts_with_the_difference(summary):
    new = {"red": 14, "yellow": 30, "green": 56}
    saved_bars, new_bars = charts.band_change(summary, new).data
    assert list(saved_bars.y) == [10, 30, 60] and list(new_bars.y) == [14, 30, 56]
    assert list(new_bars.text) == ["+4", "±0", "-4"]
    assert list(new_bars.marker.color) == [BAND_COLORS["red"], BAND_COLORS["yellow"], BAND_COLORS["green"]]


# --- Account ---------------------------------------------------------------------------------------------


def test_score_history_draws_a_band_coloured_background_at_the_cutoffs(history):
    fig = charts.score_history(history, cutoffs=(30, 70))
    rects = [(s.y0, s.y1, s.fillcolor) for s in fig.layout.shapes]
    assert rects == [(0, 30, BAND_COLORS["red"]), (30, 70, BAND_COLORS["yellow"]), (70, 100, BAND_COLORS["green"])]
    assert list(fig.data[0].y) == [80.0, 50.0, 20.0]
    assert list(fig.data[0].marker.color) == [BAND_COLORS["green"], BAND_COLORS["yellow"], BAND_COLORS["red"]]
    assert tuple(fig.layout.yaxis.range) == (0, 100)


def test_score_history_marks_alerts_and_overrides_on_their_snapshots(history):
    fig = charts.score_history(history)
    score, alert, override = fig.data
    assert alert.name == "Alert" and list(pd.to_datetime(alert.x)) == [D3] and list(alert.y) == [20.0]
    assert list(alert.customdata) == ["Steep drop; Turned red"]
    assert override.name == "Overridden" and list(pd.to_datetime(override.x)) == [D2]


def test_score_history_colours_points_from_cutoffs_when_there_is_no_band_column(history):
    fig = charts.score_history(history[["snapshot_date", "score"]], cutoffs=(30, 70))
    assert list(fig.data[0].marker.color) == [BAND_COLORS["green"], BAND_COLORS["yellow"], BAND_COLORS["red"]]


def test_contribution_waterfall_ends_in_a_total_equal_to_the_sum_of_contributions(breakdown):
    w = charts.contribution_chart(breakdown, labels={"logins": "Logins per user"}, band="yellow").data[0]
    assert list(w.y) == ["Logins per user", "tickets", "sentiment", "nps", "Score"]
    assert list(w.x) == [25.0, 12.5, 10.0, 0.0, 47.5]
    assert list(w.measure) == ["relative"] * 4 + ["total"]
    assert w.totals.marker.color == BAND_COLORS["yellow"]
    assert w.text[3] == "missing"


def test_contribution_bars_draw_one_bar_per_metric_and_note_the_score(breakdown):
    fig = charts.contribution_chart(breakdown, kind="bars")
    assert list(fig.data[0].x) == [25.0, 12.5, 10.0, 0.0]
    assert "Score 47.5" in [a.text for a in fig.layout.annotations]


def test_metric_bullets_put_linear_values_on_the_raw_axis_and_categories_on_the_points_axis(breakdown):
    fig = charts.metric_bullets(breakdown, SPECS, labels={"logins": "Logins"})
    rows = {t.y[0]: t for t in fig.data}
    assert set(rows) == {"Logins", "tickets", "sentiment (score)", "nps (score)"}
    assert rows["Logins"].x == (7.0,) and rows["sentiment (score)"].x == (50.0,)
    assert rows["nps (score)"].x == (None,)  # missing value: no marker, a "missing" note
    assert "missing" in [a.text for a in fig.layout.annotations]
    assert list(fig.layout.xaxis3.ticktext) == ["red", "yellow", "green"]
    logins_zones = [(s.x0, s.x1) for s in fig.layout.shapes if s.xref == "x"]
    assert [z[1] for z in logins_zones[:2]] == [2.0, 12.0]  # red zone ends at red, yellow zone at green


def test_peer_position_box_uses_peer_percentiles_and_marks_the_account():
    scores = np.arange(0, 101, dtype=float)
    peers = pd.DataFrame({"account_name": ["Acme"] + ["peer"] * 100, "score": scores,
                          "is_account": [True] + [False] * 100, "percentile": [1.0] + [50.0] * 100})
    fig = charts.peer_position(peers, cutoffs=(30, 70), segment_label="size = SMB")
    box, account = fig.data
    assert (box.q1[0], box.median[0], box.q3[0]) == (25.0, 50.0, 75.0)
    assert (box.lowerfence[0], box.upperfence[0]) == (5.0, 95.0)
    assert account.x == (0.0,) and account.marker.color == BAND_COLORS["red"]
    assert fig.layout.title.text == "Acme among 101 peers"


# --- Trends ----------------------------------------------------------------------------------------------


def test_sankey_link_values_sum_to_the_accounts_present_on_both_dates():
    before = pd.Series(["red", "red", "yellow", "green", "green"], index=list("abcde"))
    after = pd.Series(["yellow", "red", "yellow", "red", "no data", "green"], index=list("abcdef"))
    sankey = charts.band_sankey(migration_matrix(before, after), from_label="2026-01-01", to_label="2026-04-01")
    s = sankey.data[0]
    assert sum(s.link.value) == 5  # f only exists on the second date
    labels = list(s.node.label)
    flows = {(labels[a], labels[b]): v for a, b, v in zip(s.link.source, s.link.target, s.link.value, strict=True)}
    assert flows == {("Red", "Red"): 1, ("Red", "Yellow"): 1, ("Yellow", "Yellow"): 1, ("Green", "Red"): 1,
                     ("Green", "No data"): 1}
    assert list(s.node.color[:3]) == [BAND_COLORS["red"], BAND_COLORS["yellow"], BAND_COLORS["green"]]
    assert {a.text for a in sankey.layout.annotations} == {"2026-01-01", "2026-04-01"}


def test_flip_matrix_shows_counts_per_cell_with_arr_in_hover_and_outlines_the_diagonal():
    counts = pd.DataFrame([[2, 1, 0], [0, 3, 1], [0, 0, 5]], index=["red", "yellow", "green"],
                          columns=["red", "yellow", "green"])
    arr = counts * 1000.0
    fig = charts.band_flip_matrix(counts, arr, from_label="Model A", to_label="Model B")
    h = fig.data[0]
    assert np.asarray(h.z).tolist() == counts.to_numpy().tolist()
    assert np.asarray(h.customdata).tolist() == arr.to_numpy().tolist()
    assert "ARR" in h.hovertemplate
    assert len(fig.layout.shapes) == 3
    assert fig.layout.xaxis.title.text == "Band — Model B" and fig.layout.yaxis.title.text == "Band — Model A"
    note = next(a for a in fig.layout.annotations if a.text == "2 of 12 accounts changed band")
    # Below the plot (under the axis title), never in the top corner where a long subtitle runs.
    assert (note.y, note.yanchor, note.yref) == (0.0, "top", "paper") and note.yshift < 0
    assert fig.layout.margin.b > 56


def test_segment_score_trend_draws_one_line_per_value_in_series_colours_with_names_as_text():
    dates = pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"])
    trend = pd.DataFrame({"SMB": [60.0, 62.0, 61.0], "<b>Ent</b>": [70.0, np.nan, 72.0]},
                         index=pd.Index(dates, name="snapshot_date"))
    fig = charts.segment_score_trend(trend, segment="size", cutoffs=(40, 70), subtitle="Sample")
    assert [t.name for t in fig.data] == ["SMB", "&lt;b&gt;Ent&lt;/b&gt;"]
    assert [t.line.color for t in fig.data] == list(charts.SERIES_COLORS[:2])
    assert not set(charts.SERIES_COLORS[:2]) & set(BAND_COLORS.values())
    assert list(fig.data[1].y[[0, 2]]) == [70.0, 72.0] and np.isnan(fig.data[1].y[1])
    assert fig.layout.title.text == "Average score by size"
    assert list(fig.layout.yaxis.range) == [0, 100]
    assert fig.layout.xaxis.title.text == charts.DATE_AXIS and fig.layout.yaxis.title.text == charts.SCORE_AXIS
    empty = charts.segment_score_trend(trend.iloc[:, :0], segment="size")
    assert not empty.data and empty.layout.title.text == "Average score by size"


def test_score_percentiles_draw_ribbons_around_the_median_line():
    q = pd.DataFrame({"snapshot_date": [D2, D1], "p10": [12.0, 10.0], "p25": [30.0, 25.0], "median": [55.0, 50.0],
                      "p75": [75.0, 70.0], "p90": [92.0, 90.0]})
    fig = charts.score_percentiles(q, cutoffs=(30, 70))
    assert [t.name for t in fig.data] == ["p90", "10th–90th percentile", "p75", "25th–75th percentile", "Median"]
    assert list(fig.data[4].y) == [50.0, 55.0] and list(fig.data[1].y) == [10.0, 12.0]
    assert fig.data[1].fill == "tonexty" and fig.data[3].fill == "tonexty"
    assert [s.y0 for s in fig.layout.shapes] == [30, 70]


# --- Compare / Validate ------------------------------------------------------------------------------------


def test_distribution_by_label_gives_each_group_shares_summing_to_100():
    data = pd.DataFrame({"label": ["Healthy"] * 3 + ["struggling"] * 2 + [None],
                         "score": [80.0, 90.0, 85.0, 20.0, np.nan, 50.0]})
    fig = charts.distribution_by_label(data, cutoffs=(30, 70))
    healthy, struggling = fig.data
    assert healthy.name == "Healthy (n=3)" and struggling.name == "Struggling (n=1)"
    assert sum(healthy.y) == pytest.approx(100) and sum(struggling.customdata) == 1
    assert healthy.marker.color != struggling.marker.color


def test_roc_curve_prints_the_sklearn_auc_in_its_title_beside_the_chance_diagonal():
    rng = np.random.default_rng(1)
    good = rng.integers(0, 2, 300).astype(bool)
    scores = rng.normal(50, 15, 300) + good * 10
    fig = charts.roc_curve(scores, good, interval=(0.6, 0.8))
    auc = roc_auc_score(good, scores)
    assert f"AUC {auc:.2f} (0.60–0.80)" in fig.layout.title.text
    diagonal, curve = fig.data
    assert list(diagonal.x) == [0, 1] and list(diagonal.y) == [0, 1]
    assert np.trapezoid(curve.y, curve.x) == pytest.approx(auc)
    assert f"{good.sum()} renewed · {(~good).sum()} churned" in fig.layout.title.subtitle.text


def test_roc_curve_with_one_class_only_says_what_it_needs():
    fig = charts.roc_curve([10.0, 20.0], [True, True])
    assert is_no_data(fig, "Needs both renewed and churned accounts with a score (have 2 renewed, 0 churned)")


def test_churn_by_band_shows_rates_with_counts_and_the_overall_rate_line(summary):
    table = summary.assign(accounts=[10, 30, 60, 0], churned=[5, 6, 3, 0])
    fig = charts.churn_by_band(table)
    bar = fig.data[0]
    assert list(bar.x) == ["Red", "Yellow", "Green"] and list(bar.y) == pytest.approx([50.0, 20.0, 5.0])
    assert bar.text[0] == "50.0%<br>5 of 10"
    assert list(bar.marker.color) == [BAND_COLORS["red"], BAND_COLORS["yellow"], BAND_COLORS["green"]]
    assert fig.layout.shapes[0].y0 == pytest.approx(14.0)


def test_lift_by_decile_recomputes_lift_from_counts_with_a_line_at_one():
    table = pd.DataFrame({"decile": [2, 1], "accounts": [10, 10], "churned": [1, 3], "score_min": [40.0, 5.0],
                          "score_max": [90.0, 39.0]})
    fig = charts.lift_by_decile(table)
    bar = fig.data[0]
    assert list(bar.x) == [1, 2] and list(bar.y) == pytest.approx([1.5, 0.5])
    assert list(fig.layout.xaxis.ticktext) == ["1<br>5–39", "2<br>40–90"]
    assert fig.layout.shapes[0].y0 == 1.0
    assert is_no_data(charts.lift_by_decile(table.assign(churned=0)), "No churned accounts: lift is undefined")


def test_churn_by_bins_marks_bins_above_the_base_rate_and_draws_it():
    table = pd.DataFrame({"bin": [1, 2, 3], "label": ["0 – 2", "2 – 5", "missing"], "accounts": [10, 10, 20],
                          "churned": [5, 1, 2]})
    fig = charts.churn_by_bins(table, metric_label="Logins per user")
    bar = fig.data[0]
    assert list(bar.y) == pytest.approx([50.0, 10.0, 10.0])
    assert list(fig.layout.xaxis.ticktext) == ["0 – 2", "2 – 5", "missing"]
    assert fig.layout.shapes[0].y0 == pytest.approx(20.0)
    assert list(bar.marker.color) == [BAND_COLORS["red"], "#0072B2", "#0072B2"]
    assert fig.layout.title.text == "Churn rate by Logins per user"
    assert charts.churn_by_bins(table, base_rate=0.05).layout.shapes[0].y0 == pytest.approx(5.0)


def test_metric_separation_lists_metrics_best_first_with_a_chance_line():
    table = pd.DataFrame({"metric": ["a", "b", "c", "d"], "label": ["Alpha", None, "Gamma", "Delta"],
                          "auc": [0.6, 0.9, 0.4, np.nan]})
    fig = charts.metric_separation(table)
    bar = fig.data[0]
    assert list(bar.y) == ["b", "Alpha", "Gamma"] and list(bar.x) == [0.9, 0.6, 0.4]
    assert bar.marker.color[2] != bar.marker.color[0]  # pointing the wrong way stands out
    assert fig.layout.shapes[0].x0 == 0.5
