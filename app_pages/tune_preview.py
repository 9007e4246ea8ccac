"""Tune page preview: how the draft scores the portfolio at the date, against the saved model.

Not a page (app.py registers pages explicitly): app_pages/tune.py imports it. Everything here reads a
:class:`lib.views.tuning.Preview` and draws it; nothing edits the draft.
"""

import math

import streamlit as st

from lib import charts, ui
from lib.engine.model import BAND_NAMES, Model
from lib.views import tuning

MOVERS_COLUMNS = {
    "account_name": "Account", "saved_score": st.column_config.NumberColumn("Saved score", format="%.1f"),
    "saved_band": "Saved band", "draft_score": st.column_config.NumberColumn("Draft score", format="%.1f"),
    "draft_band": "Draft band", "change": st.column_config.NumberColumn("Change", format="%+.1f")}


def preview(ctx: ui.Context, pv: tuning.Preview, draft: Model) -> None:
    """Accounts per band, average score, band changes and separation (each vs saved), then the charts."""
    st.subheader(f"Preview at {ctx.as_of:%Y-%m-%d}")
    for col, band, colour in zip(st.columns(len(BAND_NAMES)), BAND_NAMES, ("inverse", "off", "normal"), strict=True):
        col.metric(f"{band.capitalize()} accounts", f"{pv.counts.at[band, 'draft']:,}",
                   delta=pv.band_change(band), delta_color=colour, delta_description="vs saved", border=True)
    avg, moved, auc = st.columns(3)
    avg.metric("Average score", f"{pv.avg_score:.1f}", delta=pv.avg_score_change, delta_description="vs saved",
               border=True)
    moved.metric("Band changes", f"{pv.n_changed:,}", delta_description=f"of {pv.n_accounts:,} accounts",
                 border=True)
    sep = pv.separation
    auc.metric("Separation", "n/a" if math.isnan(sep.auc) else f"{sep.auc:.2f}", delta=pv.separation_change,
               delta_description="vs saved", help=sep.caption, border=True)
    st.caption(ui.md(sep.caption))
    ui.plot(charts.score_histogram(pv.now, cutoffs=(draft.bands.red, draft.bands.yellow),
                                   title="Score distribution (draft)", subtitle=ctx.caption), key="tune.chart.hist")
    ui.plot(charts.band_trend(pv.over_time, title="Bands over time (draft)", subtitle=ctx.caption),
            key="tune.chart.trend")


def movers(ctx: ui.Context, pv: tuning.Preview) -> None:
    """The accounts that change band with the draft, biggest score change first."""
    st.markdown(f"**Accounts that change band at {ctx.as_of:%Y-%m-%d}** ({pv.n_changed:,}; biggest score change "
                "first)")
    if not pv.compared:
        st.caption(f"Saved {ui.md(ctx.model_name)} v{ctx.model_version} cannot score this dataset, so there is "
                   "nothing to compare the draft with. Save the draft as a new version to use it on every page.")
    elif pv.movers.empty:
        st.caption("No account changes band with this draft.")
    else:
        st.dataframe(pv.movers.drop(columns="account_id"), hide_index=True, width="stretch",
                     column_config=MOVERS_COLUMNS)
