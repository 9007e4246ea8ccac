"""Overview: the portfolio's health at the selected snapshot — KPIs, bands, trends, movers, ARR at risk."""

import streamlit as st

from lib import charts, ui
from lib.engine.model import column_label
from lib.views import portfolio as pf

ctx = ui.context()
scored = ctx.scored()
st.title("Portfolio overview")
st.caption(ctx.caption)
if pf.at_date(scored, ctx.as_of).empty:
    ui.empty_state("No account has a snapshot on this date with these filters.",
                   "Pick another snapshot date or clear the segment filters in the sidebar.")
    st.stop()
cutoffs = (ctx.model.bands.red, ctx.model.bands.yellow)

for column, kpi in zip(st.columns(4), pf.kpis(pf.headline(scored, ctx.as_of)), strict=True):
    column.metric(kpi.label, kpi.value, kpi.delta, delta_color=kpi.delta_color, border=True,
                  help="Change vs the previous snapshot")

summary = pf.band_summary(scored, ctx.as_of, hide_empty_no_data=True)
left, right = st.columns([3, 2], vertical_alignment="center")
with left:
    st.subheader("By band")
    st.dataframe(pf.style_bands(pf.display_table(summary), charts.BAND_COLORS), hide_index=True,
                 key="overview.bands")
    st.caption("Δ = change vs the previous snapshot.")
with right:
    ui.plot(charts.arr_by_band(summary, subtitle=ctx.caption), key="overview.arr_by_band")

# One chart at a time: only the open view runs and draws, which keeps the page quick to open (each Plotly
# chart costs the browser a few hundred ms here) and gives every chart the full width.
trend_tab, histogram_tab, segment_tab, movers_tab = st.tabs(
    ["Bands over time", "Score distribution", "Segments × bands", "Movers"], key="overview.view", on_change="rerun")
if trend_tab.open:
    with trend_tab:
        ui.plot(charts.band_trend(pf.band_counts_over_time(scored), title="Accounts per band over time",
                                  subtitle=ctx.caption), key="overview.band_trend")
if histogram_tab.open:
    with histogram_tab:
        ui.plot(charts.score_histogram(pf.at_date(scored, ctx.as_of), cutoffs=cutoffs, subtitle=ctx.caption),
                key="overview.histogram")
if segment_tab.open:
    with segment_tab:
        if ctx.segments:
            segment = st.selectbox("Segment", ctx.segments, key="overview.segment",
                                   format_func=column_label)
            ui.plot(charts.segment_band_heatmap(pf.segment_band_matrix(scored, ctx.as_of, segment),
                                                segment=segment, subtitle=ctx.caption), key="overview.heatmap")
        else:
            ui.empty_state("This dataset has no segment columns.", "Mark size, region or owner columns as "
                           "segments on the Data page to compare them.", page="app_pages/data.py")
if movers_tab.open:
    with movers_tab:
        movers = pf.movers(scored, ctx.as_of, n=st.slider("Movers each way", 3, 15, 5, key="overview.movers_n"))
        chart, table = st.columns([3, 2])
        with chart:
            ui.plot(charts.top_movers(movers, title="Biggest falls and rises", subtitle=ctx.caption),
                    key="overview.movers")
        with table:
            st.caption("Select a row to open the account.")
            ui.account_table(pf.display_table(movers), key="overview.movers_table")

st.subheader("Accounts at risk")
st.caption("Red, then yellow accounts, each ranked by ARR at risk = ARR × (1 − score / 100). "
           "Select a row to open the account.")
per_band = st.segmented_control("Accounts per band", [10, 25, 100], default=25, required=True,
                                key="overview.per_band")
at_risk = pf.display_table(pf.arr_at_risk(scored, ctx.as_of, per_band=per_band))
ui.account_table(at_risk, key="overview.at_risk")
ui.start_play_button(at_risk["ID"], key="overview.start_play",
                     source=f"Overview: {len(at_risk):,} accounts at risk · {ctx.caption}")
