"""Worklists: per CSM owner, the accounts needing attention (ranked by ARR at risk) and the expansion candidates."""

from functools import partial

import pandas as pd
import streamlit as st

from lib import export, ui
from lib.views import present as pr
from lib.views import worklists as wl

MONEY = st.column_config.NumberColumn(format="dollar", step=1)  # step 1: whole dollars
COLUMNS = {
    "rank": st.column_config.NumberColumn("Rank", width="small"),
    "owner": st.column_config.TextColumn("Owner"),
    "account_name": st.column_config.TextColumn("Account"),
    "band": st.column_config.TextColumn("Band", width="small"),
    "score": st.column_config.NumberColumn("Score", format="%.0f", width="small"),
    "change": st.column_config.NumberColumn("Change", format="%+.1f", width="small"),
    "arr": MONEY | {"label": "ARR"},
    "arr_at_risk": MONEY | {"label": "ARR at risk"},
    "renewal_date": st.column_config.DateColumn("Renews", format="YYYY-MM-DD"),
    "usage_growth": st.column_config.NumberColumn("Usage growth", format="percent"),
    "expansion_score": st.column_config.NumberColumn("Expansion score", format="%.0f"),
    "reason": st.column_config.TextColumn("Why", width="large"),
    "held_out": st.column_config.TextColumn("Play hold-out", width="medium"),
}


def downloads(table: pd.DataFrame, kind: str, key: str, about: dict[str, object]) -> None:
    """CSV and Excel of a worklist, formula-neutralised, naming the model and version (built on click)."""
    csv_col, xlsx_col, _ = st.columns([1, 1, 4])
    name = partial(export.export_filename, kind, ctx.model_name, ctx.model_version, on=ctx.as_of.date())
    csv_col.download_button("CSV", partial(export.scores_csv, table, model_name=ctx.model_name,
                                           model_version=ctx.model_version), name("csv"), mime="text/csv",
                            key=f"worklists.{key}.csv", on_click="ignore", icon=":material/download:",
                            width="stretch")
    xlsx_col.download_button("Excel", partial(export.scores_excel, table, model_name=ctx.model_name,
                                              model_version=ctx.model_version, about=about), name("xlsx"),
                             mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                             key=f"worklists.{key}.xlsx", on_click="ignore", icon=":material/download:",
                             width="stretch")


def show(table: pd.DataFrame, columns: list[str], select_key: str | None = None) -> list[int]:
    """Draw a worklist; with ``select_key`` rows can be ticked, and the ticked row positions are returned."""
    if select_key is None:
        st.dataframe(pr.band_tint(table), hide_index=True, column_order=columns, column_config=COLUMNS)
        return []
    return st.dataframe(pr.band_tint(table), hide_index=True, column_order=columns, column_config=COLUMNS,
                        key=select_key, on_select="rerun", selection_mode="multi-row").selection.rows


ctx = ui.context()
scored, data = ctx.scored(), ctx.data().df
owner_column = wl.find_owner_column(data.columns)

st.title("Worklists")
st.caption(ui.md(ctx.caption))
bar = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
owner = bar[0].selectbox("CSM owner", pr.owner_choices(scored, owner_column, ctx.as_of), key="worklists.owner",
                         disabled=owner_column is None)
overdue = bar[1].number_input("Contact overdue after (days)", 1, 365, 30, key="worklists.overdue_days")
window = bar[2].number_input("Renewal window (days)", 1, 730, 90, key="worklists.renewal_days")
if owner_column is None:
    st.info("No owner column in this dataset (a segment named like owner, CSM, CS rep or account manager), so "
            "every account is listed as Unassigned. Map your owner column as a segment on the Data page.",
            icon=":material/info:")
per_owner = owner == pr.ALL_OWNERS
about = pr.export_about(ctx.dataset.name, pr.filters_label(ctx.filters), ctx.as_of, owner=owner)

st.header("Needs attention", divider="gray")
everyone = ui.handled(wl.attention_list, scored, data, as_of=ctx.as_of, overdue_contact_days=overdue,
                      renewal_window_days=window, what="Attention list")
if everyone is not None:
    attention = pr.for_owner(everyone, owner)
    held = ui.workspace().held_out(ctx.dataset.name)  # control accounts of a play: nobody should run it on them
    attention = attention.assign(held_out=attention["account_id"].astype(str).map(held))
    for col, kpi in zip(st.columns(5), pr.attention_kpis(attention), strict=True):
        col.metric(kpi.label, kpi.value, border=True)
    st.caption(f"Ranked by ARR at risk (ARR × (1 − score/100)) within each owner: alert rule hits, red band, no "
               f"contact for over {overdue} days, or renewing within {window} days while red or yellow.")
    if attention.empty:
        st.success("Nothing needs attention for this owner at this snapshot.", icon=":material/check_circle:")
    else:
        if attention["held_out"].notna().any():
            st.warning(f"{int(attention['held_out'].notna().sum()):,} of these accounts are held out of a play: "
                       "do not run that play on them (see the Play hold-out column).", icon=":material/block:")
        picked = show(attention, [*(["owner"] if per_owner else []), "rank", "account_name", "band", "score",
                                  "change", "arr", "arr_at_risk", "renewal_date", "reason", "held_out"],
                      select_key="worklists.attention")
        chosen = attention.iloc[picked] if picked else attention
        ui.start_play_button(chosen["account_id"], key="worklists.start_play",
                             source=f"Worklists: {owner}, {len(chosen):,} accounts needing attention on "
                                    f"{ctx.as_of:%Y-%m-%d}",
                             label=f"Start a play with the {len(chosen):,} {'ticked' if picked else 'listed'} accounts")
        downloads(attention, f"attention-list {owner}", "attention", about)
    if per_owner:
        st.subheader("By owner")
        st.dataframe(wl.owner_summary(everyone), hide_index=True, column_config={
            "owner": "Owner", "accounts": "Accounts", "arr_at_risk": MONEY | {"label": "ARR at risk"},
            "alerts": "Alert hits", "red": "Red", "contact_overdue": "Contact overdue", "renewals": "Renewals"})

st.header("Expansion candidates", divider="gray")
usage_options = pr.usage_metrics(data, list(ctx.model.metrics) + list(ctx.roles.metrics))
if not usage_options:
    ui.empty_state("The expansion list needs a numeric usage metric.", "Add one on the Data page.",
                   page="app_pages/data.py")
    st.stop()
bar = st.columns([2, 1, 1], vertical_alignment="bottom")
usage = bar[0].selectbox("Usage metric", usage_options, format_func=ctx.label, key="worklists.usage")
span = bar[1].number_input("Trend over (snapshots)", 2, 24, 3, key="worklists.trend")
growth = bar[2].number_input("Minimum growth (%)", 0, 500, 5, key="worklists.growth")
ranked_by_model = ctx.model.expansion is not None
extra = ctx.expansion_scores() if ranked_by_model else None
expansion = ui.handled(wl.expansion_list, scored, data, usage_column=usage, as_of=ctx.as_of,
                       owner=None if per_owner else owner, trend_snapshots=span, min_growth=growth / 100,
                       expansion_scores=extra, usage_label=ctx.label(usage), what="Expansion list")
if expansion is not None:
    st.caption(f"Green accounts whose {ui.md(ctx.label(usage))} grew at least {growth}% over the last {span} "
               "snapshots, ranked by " + ("the model's expansion score." if ranked_by_model else "usage growth."))
    if expansion.empty:
        st.info("No account qualifies yet: lower the minimum growth or lengthen the trend.", icon=":material/info:")
    else:
        show(expansion, [*(["owner"] if per_owner else []), "rank", "account_name", "band", "score", "arr",
                         "usage_growth", *(["expansion_score"] if ranked_by_model else []), "reason"])
        downloads(expansion, f"expansion-list {owner}", "expansion", about | {"Usage metric": ctx.label(usage)})
