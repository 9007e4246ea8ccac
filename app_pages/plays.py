"""Plays: run a play on chosen accounts with a control group held back at random, then see treated vs control
since the start — score, band migrations, churn and ARR retained, each difference with a 95% interval."""

from functools import partial
from random import SystemRandom

import pandas as pd
import streamlit as st

from lib import charts, export, ui
from lib.analysis import plays as pl
from lib.data import play_groups as pg

LIST_COLUMNS = {"account_id": "ID", "account_name": "Account", "band": "Band at start",
                "score": st.column_config.NumberColumn("Score at start", format="%.0f"),
                "arr": st.column_config.NumberColumn("ARR at start", format="dollar")}
PENDING = ui.PLAY_TARGETS  # set by ui.start_play_button on Worklists, Overview and Trends
SELECTED = "plays.selected"
FLASH = "plays.flash"
ALL_ALERTS = "(any or none)"


def targets_from_rule() -> tuple[pd.DataFrame, str]:
    """Accounts matching a rule at the sidebar's date, within the sidebar's segment filters."""
    st.caption(f"At the sidebar's snapshot date ({ctx.as_of:%Y-%m-%d}) and within its segment filters.")
    left, middle, right = st.columns(3)
    bands = left.multiselect("Band", ["red", "yellow", "green"], default=["red"], key="plays.rule_bands")
    score_range = middle.slider("Score", 0.0, 100.0, (0.0, 100.0), step=1.0, key="plays.rule_score")
    alert = right.selectbox("Alert rule fired", [ALL_ALERTS, *(a.name for a in ctx.model.alerts)],
                            key="plays.rule_alert")
    low, high = st.columns(2)
    arr_low = low.number_input("ARR from", min_value=0.0, value=None, step=1000.0, key="plays.rule_arr_low",
                               disabled=ctx.roles.arr is None)
    arr_high = high.number_input("ARR up to", min_value=0.0, value=None, step=1000.0, key="plays.rule_arr_high",
                                 disabled=ctx.roles.arr is None)
    rule = {"bands": bands, "score_range": score_range, "arr_range": (arr_low, arr_high),
            "alert": None if alert == ALL_ALERTS else alert}
    return pl.rule_targets(ctx.scored(), ctx.as_of, **rule), pl.rule_caption(ctx.as_of, filters=ctx.filters, **rule)


def new_play() -> None:
    """Pick the accounts, name the play, hold back a control group (previewed side by side), save it."""
    pending = st.session_state.get(PENDING)
    sources = (["worklist"] if pending else []) + ["rule"]
    source = st.radio("Accounts", sources, horizontal=True, key="plays.source", format_func=lambda s: (
        f"The {pending.get('page', 'Worklists')} selection ({len(pending['accounts'])} accounts)" if s == "worklist"
        else "A rule at a date"))
    if source == "worklist":
        ids, caption = pd.Series(pending["accounts"], dtype=object).astype(str), str(pending["source"])
        st.caption(ui.md(caption))
    else:
        picked, caption = targets_from_rule()
        ids = picked["account_id"].astype(str)
    st.markdown(f"**{len(ids):,} accounts** targeted.")
    left, right = st.columns(2)
    name = left.text_input("Name", key="plays.name", placeholder="e.g. Executive sponsor calls, Q3")
    owner = right.text_input("Owner", key="plays.owner", placeholder="Who runs it")
    description = st.text_area("Description", key="plays.description", height=68,
                               placeholder="What the team does for each treated account")
    cols = st.columns(4)
    start = cols[0].selectbox("Start date", dates, index=dates.index(ctx.as_of), key="plays.start",
                              format_func=lambda d: f"{d:%Y-%m-%d}")
    share = cols[1].slider("Held back as control (%)", 5, 50, 20, key="plays.share")
    segment = cols[2].selectbox("Stratify by band and", ["(band only)", *ctx.segments], key="plays.segment")
    seed = cols[3].number_input("Seed", 0, 2**31 - 1, st.session_state.setdefault(
        "plays.seed_default", SystemRandom().randrange(2**31)), key="plays.seed",
        help="The same accounts and seed always draw the same control group; it is stored with the play.")
    strata = ["band"] + ([] if segment == "(band only)" else [segment])
    at_start = pl.snapshot_at(scored[scored["account_id"].astype(str).isin(ids)], start)
    groups = ui.handled(pg.assign, at_start.assign(band=at_start["band"].fillna("no data")), share / 100, strata,
                        int(seed), where="the selected accounts", what="No control group")
    if groups is None:
        return
    missing = len(ids) - len(groups)
    if missing:
        st.caption(f"{missing:,} of the accounts have no snapshot on or before the start and are left out.")
    table = pl.account_table(scored, groups, start, arr=ctx.roles.arr)
    st.markdown("**The two groups at the start** — comparable, so a later difference is the play's doing:")
    st.dataframe(pl.balance_display(pl.balance(table)), key="plays.preview")
    if st.button("Create play", type="primary", icon=":material/science:", key="plays.create"):
        play = pg.Play(name=name.strip(), dataset=ctx.dataset.name, start_date=pd.Timestamp(start),
                       control_share=share / 100, strata=tuple(strata), seed=int(seed), description=description,
                       owner=owner, source=caption)
        play_id = ui.handled(ws.save_play, play, groups, ui.author(),
                             what="The play was not saved") if ui.allowed("create_play") else None
        if play_id is not None:
            st.session_state.pop(PENDING, None)
            st.session_state[SELECTED] = play_id
            st.session_state[FLASH] = f"Play “{play.name}” created: {len(groups):,} accounts, its control group " \
                                      "is marked on the Worklists and Account pages."
            st.rerun()


def downloads(play: pg.Play, treated: pd.DataFrame) -> None:
    about = {"Play": play.name, "Start": f"{play.start_date:%Y-%m-%d}", "Dataset": ctx.dataset.name}
    name = partial(export.export_filename, f"play-treated {play.name}", ctx.model_name, ctx.model_version)
    csv_col, xlsx_col, _ = st.columns([1, 1, 4])
    csv_col.download_button("CSV", partial(export.scores_csv, treated, model_name=ctx.model_name,
                                           model_version=ctx.model_version), name("csv"), mime="text/csv",
                            key="plays.csv", on_click="ignore", icon=":material/download:", width="stretch")
    xlsx_col.download_button("Excel", partial(export.scores_excel, treated, model_name=ctx.model_name,
                                              model_version=ctx.model_version, about=about), name("xlsx"),
                             mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                             key="plays.xlsx", on_click="ignore", icon=":material/download:", width="stretch")


ctx = ui.context()
ws = ui.workspace()
scored = ctx.scored(filtered=False)  # a play's groups are compared whole, whatever the sidebar filters
dates = sorted(scored["snapshot_date"].unique())
dates = [pd.Timestamp(d) for d in dates]
st.title("Plays")
st.caption("Run a play on chosen accounts, hold a random control group back, and see whether it works: "
           "treated vs control since the start.")
if flash := st.session_state.pop(FLASH, None):
    st.success(ui.md(flash), icon=":material/check_circle:")
plays = ws.plays(ctx.dataset.name)
if ui.can("create_play"):
    with st.expander("New play", expanded=bool(st.session_state.get(PENDING)) or not plays, icon=":material/add:"):
        new_play()
if not plays:
    ui.empty_state("No play on this dataset yet.", "Create one above, or from a selection on the Worklists page.",
                   page="app_pages/worklists.py")
    st.stop()

by_id = {p.play_id: p for p in plays}
if st.session_state.get(SELECTED) not in by_id:
    st.session_state[SELECTED] = plays[0].play_id
play = by_id[st.selectbox("Play", list(by_id), format_func=lambda i: by_id[i].name, key=SELECTED)]
about = [play.description, f"owner {play.owner}" if play.owner else "", f"started {play.start_date:%Y-%m-%d}",
         f"{play.control_share:.0%} held back, stratified by {', '.join(play.strata) or 'nothing'}, seed {play.seed}",
         f"accounts: {play.source}"]
st.caption(ui.md(" · ".join(part for part in about if part)))
groups = ctx.scope.apply(ws.play_assignments(play_id=play.play_id))  # a CSM reads their book's accounts
table = ui.handled(pl.account_table, scored, groups, play.start_date, outcome=ctx.roles.outcome, arr=ctx.roles.arr,
                   where=f"dataset '{ctx.dataset.name}'", what="No report")
if table is None:
    st.stop()
effect = st.number_input("Churn difference the play should be able to show (points)", 1, 30, 5, key="plays.effect")
result = pl.report(table, effect=effect / 100)
cards = st.columns(4)
cards[0].metric("Treated accounts", f"{result.accounts['treated']:,}", border=True)
cards[1].metric("Control accounts", f"{result.accounts['control']:,}", border=True)
cards[2].metric("Known outcomes", f"{sum(result.outcomes.values()):,}", border=True,
                help=f"Treated {result.outcomes['treated']:,} · control {result.outcomes['control']:,}")
cards[3].metric("Score change, treated − control",
                "–" if result.score_change is None else f"{result.score_change.estimate:+.1f}", border=True)
if result.too_early:
    st.info(f"**Too early to tell** whether the play changes churn: {sum(result.outcomes.values()):,} known "
            f"outcomes so far; about **{result.more_needed:,} more** are needed to detect a {effect}-point churn "
            "difference (80% power, 5% level).", icon=":material/hourglass_top:")
for note in result.notes:
    st.caption(ui.md(note))
diffs = pl.differences_table(result)
st.dataframe(pl.differences_display(result), hide_index=True, key="plays.differences")
ui.plot(charts.play_differences(diffs, subtitle=play.name), key="plays.differences_chart")
left, right = st.columns(2)
with left:
    ui.plot(charts.play_score_over_time(pl.score_over_time(scored, groups), start=play.start_date,
                                        cutoffs=(ctx.model.bands.red, ctx.model.bands.yellow), subtitle=play.name),
            key="plays.score_trend")
with right:
    ui.plot(charts.play_band_migrations(pl.band_migrations(table), subtitle=play.name), key="plays.migrations")
st.subheader("The groups at the start")
st.dataframe(pl.balance_display(pl.balance(table)), key="plays.balance")

st.subheader("Run the play on these accounts")
names = scored.drop_duplicates("account_id").set_index("account_id")["account_name"]
treated = pl.group_list(table, "treated", names)
st.dataframe(treated, hide_index=True, key="plays.treated", column_config=LIST_COLUMNS)
downloads(play, treated)
held = pl.group_list(table, "control", names)
st.warning(f"{len(held):,} accounts are held out of this play: do not run it on them (they are marked on the "
           "Worklists and Account pages).", icon=":material/block:")
with st.expander("Held-out accounts"):
    st.dataframe(held, hide_index=True, key="plays.control", column_config=LIST_COLUMNS)
with st.popover("Delete this play", icon=":material/delete:", disabled=not ui.can("create_play")):
    st.caption("Its groups are deleted with it; a new play draws new ones.")
    if st.button(f"Delete “{play.name}”", key="plays.delete", type="primary"):
        if not ui.allowed("create_play"):
            st.stop()
        ws.delete_play(play.play_id, ui.author())
        st.session_state[FLASH] = f"Play “{play.name}” deleted."
        st.rerun()
