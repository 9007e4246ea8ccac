"""Validate: prove a model against history before adopting it — a backtest at a horizon before each outcome,
churn by metric cohort, a model suggested from the outcomes, a churn probability for reference, model A vs B."""

import streamlit as st

from lib import analysis, charts, ui
from lib.engine.model import metric_labels
from lib.views import validation as vv

SUGGESTED, FLASH = "validate.suggested", "validate.flash"
PERCENT = st.column_config.NumberColumn(format="percent")


def stats(items: list[vv.Stat]) -> None:
    for column, stat in zip(st.columns(len(items)), items, strict=True):
        column.metric(stat.label, stat.value, stat.delta, help=stat.help, border=True)


def backtest_section() -> None:
    left, right = st.columns(2)
    with left:
        ui.plot(charts.roc_curve(bt.accounts["score"], ~bt.accounts["churned"], auc=bt.auc, title="Score vs outcome",
                                 interval=(bt.auc_low, bt.auc_high), subtitle=subtitle), key="validate.roc")
    with right:
        ui.plot(charts.churn_by_band(bt.bands, subtitle=subtitle), key="validate.churn_by_band")
    left, right = st.columns(2)
    with left:
        ui.plot(charts.lift_by_decile(bt.lift, subtitle=subtitle), key="validate.lift")
    with right:
        st.markdown("**Churn and ARR by band** at the scored snapshot")
        st.dataframe(vv.style_band_table(vv.band_table(bt.bands), charts.BAND_COLORS), hide_index=True,
                     key="validate.bands", column_config={"Churn rate": PERCENT})


def cohorts_section() -> None:
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    metric = left.selectbox("Metric", list(ctx.model.metrics), format_func=ctx.label, key="validate.cohort_metric")
    basis = right.segmented_control("Bins of", ["value", "score"], default="value", required=True,
                                    format_func={"value": "Raw value", "score": "Metric score"}.get,
                                    key="validate.cohort_basis")
    st.caption("Churn rate in each tenth of the accounts by this metric, at the scored snapshots. Bars above the "
               "dashed base-rate line churn more than average: a threshold belongs where they cross it.")
    ui.plot(charts.churn_by_bins(vv.cohort(bt, metric, basis), metric_label=ctx.label(metric), subtitle=subtitle),
            key="validate.cohorts")


def suggest_section() -> None:
    st.caption("Proposes thresholds (where each metric's churn rate crosses the average) and weights (a regularised "
               "logistic regression) from 70% of the accounts with outcomes, then measures the AUC on the other "
               "30%, which the fit never saw. It uses every account: segment filters do not apply.")
    key = (*ctx.key, horizon)  # the button's answer belongs to this selection and horizon
    if st.button("Suggest thresholds and weights", key="validate.suggest", icon=":material/auto_fix_high:"):
        st.session_state[SUGGESTED] = key
    if st.session_state.get(SUGGESTED) != key:
        return
    s = ui.handled(ctx.suggestion, horizon, what="No suggestion")
    if s is None:
        return
    stats(vv.suggestion_stats(s))
    st.info(ui.md(s.caption), icon=":material/lightbulb:")
    for warning in s.warnings:
        st.warning(ui.md(warning), icon=":material/warning:")
    left, right = st.columns([3, 2])
    with left:
        ui.plot(charts.weights_bar(vv.suggestion_weights(s), labels=metric_labels(ctx.model),
                                   title="Weights now and suggested"), key="validate.suggested_weights")
    with right:
        st.markdown("**Every candidate tried** — the one best on the training accounts is suggested")
        st.dataframe(vv.candidates_table(s), hide_index=True, key="validate.candidates",
                     column_config={c: st.column_config.NumberColumn(format="%.3f")
                                    for c in ("Training AUC", "Held-back AUC")})
        settings = vv.setting_changes(s)
        if not settings.empty:
            st.markdown("**Model settings it changes** — band cut-offs move so each band keeps its share of accounts")
            st.dataframe(settings, hide_index=True, key="validate.settings")
        note = st.text_input("Version note", value=vv.adopt_note(s, horizon), key="validate.adopt_note")
        if st.button(f"Adopt as a new version of {ctx.model_name}", key="validate.adopt", type="primary",
                     icon=":material/done_all:", disabled=s.chosen == "unchanged",
                     help="Saves the suggested model as a new version and selects it"):
            adopt(s, note)
    weight = st.column_config.NumberColumn(format="%.0f%%", width="small")
    st.dataframe(vv.suggestion_table(s), hide_index=True, key="validate.suggestion",
                 column_config={"Metric": st.column_config.TextColumn(width="medium"),
                                "Changed": st.column_config.CheckboxColumn(width="small"),
                                "Weight now": weight, "Weight suggested": weight,
                                "What the outcomes say": st.column_config.TextColumn(width="large")})


def adopt(s: analysis.Suggestion, note: str) -> None:
    """Save the suggestion as a new version of the selected model and have the sidebar select it."""
    version = ui.save_model(ctx.model_name, vv.adopted_yaml(s, ctx.model_name), note)
    if version is not None:
        st.session_state[FLASH] = (f"Adopted as {ctx.model_name} v{version}, now selected. Compare it with "
                                   f"v{ctx.model_version} under Model A vs B.")
        st.rerun()


def churn_section() -> None:
    churn = ui.handled(ctx.churn_model, horizon, what="No churn model")
    if churn is None:
        return
    st.info(ui.md(churn.caption) + " A reference beside the rule score, not a replacement.", icon=":material/info:")
    st.markdown("**Odds ratio per metric** — a logistic regression of churn on the metric scores; below 1, more "
                "points mean less churn")
    st.dataframe(vv.odds_table(churn), hide_index=True, key="validate.odds",
                 column_config={"Odds ratio per +10 points": st.column_config.NumberColumn(format="%.2f"),
                                "What it means": st.column_config.TextColumn(width="large")})
    table = vv.churn_table(scored, ctx.as_of, churn)
    st.markdown(f"**The {len(table):,} accounts most likely to churn** at {ctx.as_of:%Y-%m-%d}, by the logistic "
                "regression. Select one to open it.")
    ui.account_table(table, "validate.churn_accounts", Score=st.column_config.NumberColumn(format="%.0f"),
                     **{"Churn probability": st.column_config.ProgressColumn(format="percent", min_value=0,
                                                                             max_value=1)})


def a_vs_b_section() -> None:
    models = ui.workspace().list_models()
    options, notes = vv.version_options(models), vv.version_notes(models)
    a0, b0 = vv.default_pair(options, (ctx.model_name, ctx.model_version))
    left, right = st.columns(2)
    a = left.selectbox("Model A", options, index=options.index(a0), key="validate.model_a",
                       format_func=lambda o: vv.version_label(o, notes))
    b = right.selectbox("Model B", options, index=options.index(b0), key="validate.model_b",
                        format_func=lambda o: vv.version_label(o, notes))
    yaml_a, yaml_b = (ui.workspace().load_model_text(*o) for o in (a, b))
    problems = vv.fit_problems({"A": yaml_a, "B": yaml_b}, ctx.data().df.columns)
    if problems:
        st.error("\n".join(f"- {ui.md(p)}" for p in problems))
        return
    cmp = ui.handled(ctx.comparison, yaml_a, yaml_b, horizon, what="Cannot compare these models on this dataset")
    if cmp is None:
        return
    stats(vv.comparison_stats(cmp))
    st.caption(ui.md(cmp.caption))
    ui.plot(charts.band_flip_matrix(cmp.flips.counts, cmp.flips.arr, from_label=f"A: {vv.version_label(a)}",
                                    to_label=f"B: {vv.version_label(b)}", title="Band under A × band under B"),
            key="validate.flips")
    if cmp.moved.empty:
        st.success("No account changes band between A and B.", icon=":material/check_circle:")
        return
    st.markdown(f"**Accounts that change band** (the {min(len(cmp.moved), vv.TOP_ROWS):,} biggest moves) and the "
                "contributions that moved most. Select one to open it.")
    ui.account_table(vv.moved_table(cmp.moved), "validate.moved",
                     **{c: st.column_config.NumberColumn(format="%.0f") for c in ("Score A", "Score B")},
                     Change=st.column_config.NumberColumn(format="%+.1f"),
                     Why=st.column_config.TextColumn(width="large"))


ctx = ui.context()
scored = ctx.scored()
st.title("Validate against outcomes")
st.caption(ui.md(ctx.caption))
if flash := st.session_state.pop(FLASH, None):
    st.success(ui.md(flash), icon=":material/check_circle:")
horizon = st.select_slider("Score each account this many days before its outcome (renewal or churn)", vv.HORIZONS,
                           value=90, key="validate.horizon", format_func=lambda d: f"{d} days")
bt = ui.handled(ctx.backtest, horizon, what="No backtest")
if bt is None:
    ui.empty_state("A backtest needs accounts with a known outcome (churned or renewed) and snapshots before it.",
                   "Map an outcome column when you upload the file on the Data page, or pick a shorter horizon.",
                   page="app_pages/data.py")
    st.stop()
subtitle = f"Scored {horizon} days before the outcome"
stats(vv.backtest_stats(bt))
st.caption(ui.md(bt.caption))
for warning in bt.warnings:
    st.warning(ui.md(warning), icon=":material/warning:")

sections = {"Backtest": backtest_section, "Metric cohorts": cohorts_section, "Suggest": suggest_section,
            "Churn probability": churn_section, "Model A vs B": a_vs_b_section}
if ctx.scope.restricted:  # a suggestion is fitted on every account, beyond a CSM's book (and a CSM saves no model)
    del sections["Suggest"]
sections[st.segmented_control("Show", list(sections), default="Backtest", required=True, key="validate.section")]()
