"""Account: one customer's health for their CSM — score history, what makes it up, what changed, where it sits
among its peers, notes and score overrides."""

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from lib import charts, ui
from lib.engine.model import column_label, metric_labels
from lib.views import audit
from lib.views import portfolio as pf

KEY = ui.ACCOUNT  # set by the account tables of other pages (ui.account_table) to open an account here
URL_KEY = "account"  # ?account=<id> opens an account by URL (a link from another tool, a bookmark)


@st.fragment  # adding a note reruns this panel only, not the charts
def notes_panel(account_id: str) -> None:
    st.subheader("CSM notes")
    if ui.can("add_note"):
        with st.form("account.note_form", clear_on_submit=True):
            text = st.text_area("Note", key="account.note_text", placeholder="What happened, what is next…")
            if (st.form_submit_button("Add note", icon=":material/note_add:") and ui.allowed("add_note", account_id)
                    and ui.handled(ws.add_note, account_id, text, ui.author(), what="The note was not added")
                    is not None):
                st.toast("Note added.")
    notes = ws.notes(account_id)
    if notes.empty:
        st.caption("No notes yet.")
    else:
        st.dataframe(pf.notes_table(notes), hide_index=True, key="account.notes",
                     column_config={"Note": st.column_config.TextColumn(width="large")})


@st.fragment  # a rejected override reruns this panel only; a saved one reruns the page to show it everywhere
def override_panel(account_id: str, today: date) -> None:
    st.subheader("Score override")
    st.caption("When the score misses something you know (a signed renewal, a known outage), set the score "
               "people should see until a date. The model's score is kept and shown beside it.")
    with st.form("account.override_form"):
        score = st.number_input("Score (0–100)", value=None, step=1.0, format="%.0f", placeholder="e.g. 80",
                                key="account.override_score")
        reason = st.text_input("Reason (required)", key="account.override_reason")
        expires = st.date_input("Expires on", value=today + timedelta(days=90), min_value=today,
                                format="YYYY-MM-DD", key="account.override_expires")
        if (st.form_submit_button("Set override", icon=":material/edit:", disabled=not ui.can("set_override"))
                and ui.allowed("set_override", account_id)
                and ui.handled(ws.set_override, account_id, score, reason, ui.author(), expires,
                               what="The override was not set")):
            st.session_state["account.flash"] = "Override set: it shows wherever this account's score shows."
            for key in ("account.override_score", "account.override_reason"):  # an empty form for the next one
                del st.session_state[key]
            st.rerun(scope="app")
    live = pf.live_overrides(ws.overrides(), account_id, today)
    if live.empty:
        st.caption("No override in force.")
        return
    st.dataframe(pf.overrides_table(live), hide_index=True, key="account.overrides")
    choices = pf.override_choice(live)
    pick = st.selectbox("Override to remove", list(choices), format_func=choices.get, key="account.remove_pick")
    if st.button("Remove override", icon=":material/delete:", key="account.remove",
                 disabled=not ui.can("set_override")) and ui.allowed("set_override", account_id):
        ws.remove_override(pick, ui.author())
        st.session_state["account.flash"] = "Override removed."
        st.rerun(scope="app")


@st.fragment  # picking another peer segment redraws this panel only
def peers_panel(account_id: str, row: pd.Series) -> None:
    st.subheader("Among its peers")
    left, right = st.columns([1, 3], vertical_alignment="center")
    segment = left.selectbox("Compare within", ctx.segments, key="account.segment",
                             format_func=column_label)
    peers = pf.segment_position(ctx.scored(filtered=False), account_id, row["snapshot_date"], segment)
    percentile = pf.account_percentile(peers)
    left.metric(f"Percentile within {segment}", "–" if percentile is None else f"{percentile:.0f}",
                help="Share of peers at or below this account's score", border=True)
    with right:
        ui.plot(charts.peer_position(peers, cutoffs=(ctx.model.bands.red, ctx.model.bands.yellow),
                                     segment_label=f"{segment} = {row[segment]}", subtitle=ctx.caption),
                key="account.peers")


ctx = ui.context()
ws = ui.workspace()
scored = ctx.scored()
st.title("Account")
choices = pf.account_choices(scored)
if choices.empty:
    ui.empty_state("No account matches the segment filters.", "Clear the filters in the sidebar.")
    st.stop()
wanted = st.query_params.get(URL_KEY)
if wanted is not None and not ctx.scope.allows(wanted):  # a link or a typed URL to someone else's account
    st.error(f"Account {ui.md(wanted)} is not in your book — you can open only the accounts you own.",
             icon=":material/lock:")
    st.stop()
if wanted is not None:  # taken once: the picker below is then the account's only source
    del st.query_params[URL_KEY]
if wanted in choices.index:
    st.session_state[KEY] = wanted
elif st.session_state.get(KEY) not in choices.index:
    st.session_state[KEY] = pf.default_account(scored, ctx.as_of) or choices.index[0]
account_id = st.selectbox("Account", list(choices.index), format_func=choices.get, key=KEY,
                          persist_state="session", help="Type part of a name or an id to search. Opens on the "
                          "red account with the most ARR at risk.")
if flash := st.session_state.pop("account.flash", None):
    st.success(flash)
row = pf.account_snapshot(scored, account_id, ctx.as_of)
if row is None:
    ui.empty_state(f"This account has no snapshot on or before {ctx.as_of:%Y-%m-%d}.",
                   "Pick a later snapshot date in the sidebar.")
    st.stop()

st.subheader(ui.md(row["account_name"]))
st.caption(f"{ui.md(account_id)} · profile {ui.md(row['profile'])} (its weights and rules apply) · snapshot "
           f"{row['snapshot_date']:%Y-%m-%d} · {ui.md(ctx.caption)}")
overridden = pd.notna(row["override_score"])
cards = st.columns(4)
cards[0].metric("Score → override" if overridden else "Score",
                pf.score_label(row["score"], row["override_score"], suffix=False),
                None if pd.isna(row["change"]) else f"{row['change']:+.1f}", border=True,
                help="Model score (→ the CSM override in force); change vs the previous snapshot")
cards[1].metric("Band · grade", f"{str(row['band']).capitalize()} · {'–' if pd.isna(row['grade']) else row['grade']}",
                border=True)
cards[2].metric("ARR", pf.money(row.get("arr")), border=True)
cards[3].metric("Renewal", "–" if pd.isna(row.get("renewal_date")) else f"{row['renewal_date']:%Y-%m-%d}",
                border=True)
if overridden:
    st.info(f"Score overridden to **{row['override_score']:.0f}** (model: {row['score']:.0f}) — "
            f"{ui.md(row['override_reason'])}", icon=":material/edit:")
if held_out := ws.held_out(ctx.dataset.name).get(str(account_id)):
    st.error(f"This account is {ui.md(held_out)}.", icon=":material/block:")
if row["alerts"]:
    st.warning(f"Alerts at this snapshot: {ui.md(row['alerts'])}", icon=":material/notifications:")

labels, specs = metric_labels(ctx.model), pf.metric_specs(ctx.model, row["profile"])
breakdown = pf.account_breakdown(scored, account_id, ctx.as_of, list(ctx.model.metrics))
st.markdown(ui.md(pf.explain_change(breakdown, labels)))
cutoffs = (ctx.model.bands.red, ctx.model.bands.yellow)
subtitle = f"{row['account_name']} · {ctx.caption}"
history = pf.account_history(scored, account_id)
ui.plot(charts.score_history(history, cutoffs=cutoffs, subtitle=subtitle, marks=audit.version_marks(
    ws.list_models(), ctx.model_name, history["snapshot_date"])), key="account.history")
# Full width: metric labels are long, and side by side they leave the plots no room.
ui.plot(charts.contribution_chart(breakdown, labels=labels, band=row["band"], subtitle=subtitle),
        key="account.contributions")
ui.plot(charts.metric_bullets(breakdown, specs, labels=labels, subtitle=subtitle), key="account.bullets")
st.dataframe(pf.metric_table(breakdown, specs, labels, pf.metric_windows(ctx.model)), hide_index=True,
             key="account.metrics",
             column_config={"Metric score": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f",
                                                                            width="small"),
                            "Weight (%)": st.column_config.NumberColumn(format="%.1f%%", width="small"),
                            "Contribution": st.column_config.NumberColumn(format="%.1f", width="small"),
                            "Change": st.column_config.NumberColumn("Change", format="%+.1f", width="small",
                                                                    help="Contribution change since the previous "
                                                                         "snapshot")})

if ctx.segments:
    peers_panel(account_id, row)
else:
    ui.empty_state("This dataset has no segment columns to compare within.", "Mark segments on the Data page.",
                   page="app_pages/data.py")

left, right = st.columns(2)
with left:
    notes_panel(account_id)
with right:
    override_panel(account_id, pd.Timestamp.today().date())
