"""Trends: how the portfolio moved — band migrations, alerts raised by the model's rules, scores over time."""

import pandas as pd
import streamlit as st

from lib import charts, ui
from lib.engine.model import column_label
from lib.views import portfolio as pf


def day(d: pd.Timestamp) -> str:
    return f"{d:%Y-%m-%d}"


ctx = ui.context()
scored = ctx.scored()
st.title("Trends")
st.caption(ctx.caption)
dates = pf.snapshot_dates(scored)
if len(dates) < 2:
    ui.empty_state("Trends need at least two snapshot dates.", "Append a newer snapshot on the Data page.",
                   page="app_pages/data.py")
    st.stop()
cutoffs = (ctx.model.bands.red, ctx.model.bands.yellow)

st.subheader("Band migrations")
start, end = pf.default_migration_dates(dates, ctx.as_of)
left, right = st.columns(2)
date_from = left.selectbox("From", dates, index=dates.index(start), format_func=day, key="trends.from")
date_to = right.selectbox("To", dates, index=dates.index(end), format_func=day, key="trends.to")
if date_from >= date_to:
    st.warning("Pick a **From** date before the **To** date to see how accounts moved between bands.")
else:
    matrix = pf.migrations(scored, date_from, date_to)
    moved = pf.migration_summary(matrix)
    for column, (label, value) in zip(st.columns(4), [("Accounts on both dates", moved["accounts"]),
                                                      ("Moved to a worse band", moved["worse"]),
                                                      ("Moved to a better band", moved["better"]),
                                                      ("Stayed in their band", moved["same"])], strict=True):
        column.metric(label, f"{value:,}", border=True)
    left, right = st.columns(2)
    with left:
        ui.plot(charts.band_sankey(matrix, from_label=day(date_from), to_label=day(date_to),
                                   title=f"Band migration {day(date_from)} → {day(date_to)}", subtitle=ctx.caption),
                key="trends.sankey")
    with right:
        ui.plot(charts.band_flip_matrix(matrix, from_label=day(date_from), to_label=day(date_to),
                                        title="Accounts by band on both dates", subtitle=ctx.caption),
                key="trends.matrix")

st.subheader("Alerts")
rules = [alert.name for alert in ctx.model.alerts]
if not rules:
    ui.empty_state(f"Model {ctx.model_name} has no alert rules.",
                   "Add rules such as a steep drop or turning red on the Tune page.", page="app_pages/tune.py")
else:
    window = st.segmented_control("Raised in the last", [1, 3, 6, 12], default=3, required=True,
                                  format_func=lambda n: f"{n} snapshot{'s' if n > 1 else ''}", key="trends.window")
    since = pf.window_start(dates, ctx.as_of, window)
    alerts = pf.alerts_table(scored, since=since, until=ctx.as_of)
    for column, (rule, count) in zip(st.columns(len(rules)), pf.alert_counts(alerts, rules).items(), strict=True):
        column.metric(rule, f"{count:,}", help=f"Accounts flagged {day(since)} – {day(ctx.as_of)}", border=True)
    chosen = st.pills("Show rules", rules, selection_mode="multi", default=rules, key="trends.rules")
    shown = pf.alerts_table(scored, since=since, until=ctx.as_of, rules=chosen)
    if shown.empty:
        st.info("No account was flagged by these rules in this period. Widen the period or pick more rules.")
    else:
        st.caption("Latest flag per account and rule, newest first. Select a row to open the account.")
        flagged = pf.display_table(shown)
        ui.account_table(flagged, key="trends.alerts")
        ui.start_play_button(flagged["ID"], key="trends.start_play",
                             source=f"Trends: accounts flagged by {', '.join(chosen)} "
                                    f"{day(since)} – {day(ctx.as_of)} · {ctx.caption}")

st.subheader("Scores over time")
left, right = st.columns(2)
with left:
    ui.plot(charts.score_percentiles(pf.score_distribution_over_time(scored), cutoffs=cutoffs,
                                     subtitle=ctx.caption), key="trends.percentiles")
with right:
    if ctx.segments:
        segment = st.selectbox("Average score by", ctx.segments, key="trends.segment",
                               format_func=column_label)
        trend = pf.segment_score_over_time(scored, segment, max_values=len(charts.SERIES_COLORS))
        ui.plot(charts.segment_score_trend(trend, segment=segment, cutoffs=cutoffs, subtitle=ctx.caption),
                key="trends.segment_trend")
        st.caption(f"Average score per {ui.md(segment)} value (the {len(charts.SERIES_COLORS)} largest).")
    else:
        ui.empty_state("This dataset has no segment columns.", "Mark segment columns on the Data page.",
                       page="app_pages/data.py")
