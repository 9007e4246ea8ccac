"""Compare: calibrate the model on accounts whose health you already know — how well the score separates
known-healthy from known-struggling accounts, which metrics do the separating, and the misfits."""

import pandas as pd
import streamlit as st

from lib import charts, ui
from lib.engine.model import metric_labels
from lib.views import portfolio as pf
from lib.views import validation as vv


def label_editor(choices: pd.Series, labels: pd.Series) -> bool:
    """A small form to label accounts by hand; True when labels were saved in this run."""
    texts = vv.label_choices(choices, labels)
    with st.form("compare.label_form", clear_on_submit=True, border=False):
        picked = st.multiselect("Accounts", list(choices.index), format_func=texts.get, key="compare.label_accounts",
                                placeholder="Type part of a name or an id")
        action = st.radio("Known as", vv.LABEL_ACTIONS, horizontal=True, key="compare.label_action",
                          format_func=str.capitalize, help="Clear removes the label set here; a label from the "
                          "file then applies again.")
        submitted = st.form_submit_button("Save labels", icon=":material/label:", key="compare.label_save")
    if not submitted or not picked or not ui.allowed("set_label"):
        return False
    done = ui.handled(vv.set_labels, ws, ctx.dataset.name, picked, action, ui.author(), what="Labels not saved")
    if done:
        st.toast(done)
    return bool(done)


def misfit_table(misfits: pd.DataFrame, kind: str) -> None:
    """One kind of misfit with the metrics that put them there; selecting a row opens the account."""
    table = vv.misfit_table(misfits, kind)
    st.markdown(f"**{kind.capitalize()}** ({len(table)})")
    if table.empty:
        st.caption("None.")
        return
    ui.account_table(table, f"compare.misfits.{kind.split()[0]}", Account=st.column_config.TextColumn(width="medium"),
                     Band=st.column_config.TextColumn(width="small"),
                     Score=st.column_config.NumberColumn(format="%.0f", width="small"),
                     **{"What put it there": st.column_config.TextColumn(width=560)})


ctx = ui.context()
ws = ui.workspace()
scored = ctx.scored()
st.title("Compare with accounts you know")
st.caption(ui.md(ctx.caption))
choices = pf.account_choices(scored)
labels = ctx.labels()
with st.expander("Label accounts by hand", icon=":material/label:", expanded=labels.empty):
    if ui.can("set_label") and label_editor(choices, labels):
        labels = ctx.labels()
    hand = ctx.scope.apply(ws.labels(ctx.dataset.name))
    if not hand.empty:
        st.dataframe(vv.hand_label_table(hand, choices), hide_index=True, key="compare.hand_labels")

view = vv.compare_view(scored, ctx.model, labels, ctx.as_of)
if view.empty:
    ui.empty_state("No account with a known health label is in view.",
                   "Label accounts you know as healthy or struggling under **Label accounts by hand** above, or "
                   "map a health-label column (healthy / struggling) when you upload a file on the Data page. "
                   "Segment filters in the sidebar may also hide the labelled accounts.", page="app_pages/data.py")
    st.stop()

for column, stat in zip(st.columns([1.45, 1, 1.15, 1, 1.1]), vv.compare_stats(view), strict=True):
    column.metric(stat.label, stat.value, stat.delta, help=stat.help, border=True)
st.caption(ui.md(view.separation.caption))

cutoffs = (ctx.model.bands.red, ctx.model.bands.yellow)
left, right = st.columns(2)
with left:
    ui.plot(charts.roc_curve(view.table["score"], view.table["label"] == "healthy", auc=view.separation.auc,
                             positive_name="healthy", negative_name="struggling",
                             title="How well the score separates them"), key="compare.roc")
with right:
    ui.plot(charts.distribution_by_label(view.table, cutoffs=cutoffs, subtitle=ctx.caption),
            key="compare.score_distribution")

st.subheader("Which metrics separate best")
labels_by_metric = metric_labels(ctx.model)
left, right = st.columns(2)
with left:
    ui.plot(charts.metric_separation(view.metrics, labels=labels_by_metric, title="Each metric on its own"),
            key="compare.metric_separation")
with right:
    metric = st.selectbox("Metric", list(view.metrics["metric"]), format_func=labels_by_metric.get,
                          key="compare.metric", help="Listed best-separating first")
    ui.plot(charts.distribution_by_label(vv.metric_scores_by_label(view, metric), x_title="Metric score (0–100)",
                                         title=labels_by_metric[metric], subtitle="Metric score by known health"),
            key="compare.metric_distribution")
st.dataframe(vv.metric_table(view.metrics), hide_index=True, key="compare.metric_table",
             column_config={"AUC": st.column_config.NumberColumn(format="%.2f", help="0.5 = chance, 1 = perfect"),
                            "Verdict": st.column_config.TextColumn(width="large")})

st.subheader("Misfits")
if view.misfits.empty:
    st.success("No healthy account is red and no struggling account is green.", icon=":material/check_circle:")
else:
    st.caption("Healthy accounts the model puts in red and struggling ones it puts in green, with the metrics that "
               "cost (or gave) them most points. Select a row to open the account.")
    for kind in vv.MISFIT_KINDS:
        misfit_table(view.misfits, kind)
