"""Start a model: pick 3–5 KPIs from the dataset's own columns, see how each separates the outcomes, and
create version 1 — from the data's spread, or with thresholds and weights fitted on the outcomes."""

import pandas as pd
import streamlit as st

from app_pages.tune_controls import FLASH
from lib import ui
from lib.analysis import AnalysisError, starter
from lib.engine.model import dump_model
from lib.views import tuning

HIGHER, LOWER, PER_CATEGORY = "Higher is better", "Lower is better", "Points per category"
SPREAD, OUTCOMES = "spread", "outcomes"
START_FROM = {SPREAD: "The data's spread", OUTCOMES: "The outcomes (fitted, held-back AUC)"}


def table_config(evidence: starter.Evidence | None) -> dict[str, object]:
    """The candidate table's columns, most telling first: what to pick, its direction and evidence, then the
    data's shape and where the column came from."""
    sides = "Renewed / churned" if evidence is None or evidence.kind == "outcome" else "Healthy / struggling"
    return {
        "use": st.column_config.CheckboxColumn("Use", width="small", help="Score this column"),
        "column": st.column_config.TextColumn("Column", width="medium"),
        "direction": st.column_config.SelectboxColumn(
            "Direction", options=[HIGHER, LOWER, PER_CATEGORY], width="medium", required=True,
            help="Numbers: which way is healthy. Categories get points per value (set them on Tune)."),
        "auc": st.column_config.NumberColumn("AUC", format="%.2f", width="small",
                                             help="How well the column separates the accounts: 0.5 is chance, "
                                                  "1.0 separates perfectly"),
        "counts": st.column_config.TextColumn(sides, width="small", help="Accounts the AUC rests on"),
        "coverage": st.column_config.ProgressColumn("Filled", format="percent", min_value=0.0, max_value=1.0,
                                                    width="small"),
        "histogram": st.column_config.BarChartColumn("Distribution", width="small"),
        "summary": st.column_config.TextColumn("Values", width="medium"),
        "why": st.column_config.TextColumn("Why this direction", width="large"),
        "kind": st.column_config.TextColumn("Kind", width="small"),
        "source": st.column_config.TextColumn("In the file as", width="small"),
        "problem": st.column_config.TextColumn("Cannot be used because", width="large"),
    }


def candidate_table(cands: list[starter.Candidate], picks: list[str]) -> pd.DataFrame:
    """The candidates as the editable table's rows (numbers and text only; values are shown as text)."""
    return pd.DataFrame({
        "use": [c.column in picks for c in cands],
        "column": [c.column for c in cands],
        "direction": [(HIGHER if c.higher_is_better else LOWER) if c.kind == "numeric" else PER_CATEGORY
                      for c in cands],
        "auc": [c.auc if c.auc is not None else float("nan") for c in cands],
        "counts": [f"{c.counts[0]:,} / {c.counts[1]:,}" if c.auc is not None else "" for c in cands],
        "coverage": [c.coverage for c in cands],
        "histogram": [list(c.histogram) for c in cands],
        "summary": [c.summary for c in cands],
        "why": [c.direction_reason for c in cands],
        "kind": [c.kind for c in cands],
        "source": [c.source for c in cands],
        "problem": [c.problem or "" for c in cands],
    })


def default_name(dataset: str, existing: list[str]) -> str:
    """'<dataset> health', numbered when taken."""
    base = f"{dataset} health"[:80]
    taken = set(existing)
    return next(n for n in [base, *(f"{base} {i}" for i in range(2, 1000))] if n not in taken)


ws = ui.workspace()
st.title("Start a model")
info = ui.current_dataset()
if info is None:
    ui.empty_state("There is no dataset to start from yet.", "Upload your export on the Data page.",
                   page="app_pages/data.py")
    st.stop()
data = ui.dataset(info)
found = ui.start_survey(info)
cands, evidence = list(found.candidates), found.evidence
st.caption(f"From the columns of **{ui.md(info.name)}** ({info.n_accounts:,} accounts × {info.n_snapshots:,} "
           "snapshots). Pick 3–5 KPIs, check each one's direction, and create the model: you then tune it with "
           "sliders on the Tune page.")
if evidence is not None:
    st.info(f"**AUC** is how well each column tells them apart (0.5 is chance): {ui.md(evidence.caption)}.",
            icon=":material/insights:")
else:
    st.info("This dataset has no outcomes or known-health labels yet, so directions come from the column names — "
            "check them. Map a churned/renewed column on the Data page, or label accounts you know on Compare, to "
            "see which columns separate.", icon=":material/info:")

if not cands:
    st.warning("This dataset has no column a model could score: every column is a key, a date, the outcome or a "
               "label. Map the metric columns (numbers or categories such as red/amber/green) on the Data page and "
               "save the file again.", icon=":material/table_rows:")
    st.stop()
table_key = f"start.table.{info.dataset_id}.{info.updated_at:%Y%m%d%H%M%S%f}"
config = table_config(evidence)
edited = st.data_editor(candidate_table(cands, starter.preselect(cands)), key=table_key, hide_index=True,
                        column_config=config, width="stretch", height=min(36 * len(cands) + 40, 560),
                        disabled=[c for c in config if c not in ("use", "direction")])
picks = [str(c) for c in edited.loc[edited["use"].fillna(False).astype(bool), "column"]]
by_column = {c.column: c for c in cands}
blocked = [by_column[c] for c in picks if not by_column[c].usable]
for cand in blocked:
    st.error(f"**{ui.md(cand.column)}** cannot be a metric: {ui.md(cand.problem)}. Untick it.",
             icon=":material/block:")
if not picks:
    st.warning("Tick at least one column to score — 3 to 5 KPIs make a score people can explain.",
               icon=":material/checklist:")
elif len(picks) > 5:
    st.caption(f"{len(picks)} KPIs: a score with more than five is harder to explain in a QBR.")
unmapped = [c for c in picks if by_column[c].unmapped]
for column in unmapped:
    values = by_column[column].unmapped
    st.caption(f"**{ui.md(column)}**: {', '.join(f'‘{ui.md(v)}’' for v in values[:8])}"
               f"{' …' if len(values) > 8 else ''} say nothing about health by their words, so they start at 50 "
               "points (or stay out of the map next to words that do) — set their points on the Tune page.")

left, right = st.columns(2)
peers = left.multiselect("Compare numbers within peers (optional)", list(info.roles.segments), key="start.peers",
                         placeholder="No: fixed thresholds from the data's spread",
                         help="Score each numeric KPI as a percentile rank among accounts with the same values of "
                              "these segments on the same date, instead of fixed thresholds.")
can_fit = evidence is not None and evidence.kind == "outcome"
start_from = right.segmented_control("Start thresholds and weights from", list(START_FROM),
                                     format_func=START_FROM.get, default=SPREAD, required=True,
                                     key="start.from", disabled=not can_fit,
                                     help="The outcomes: thresholds and weights fitted on churned vs renewed "
                                          "accounts, checked on accounts held back from the fit."
                                          if can_fit else "Needs an outcome column (churned / renewed).")
name = st.text_input("Model name", value=default_name(info.name, ws.model_names()), key=f"start.name.{info.name}",
                     max_chars=120)
name_problem = tuning.new_model_name_problem(name, ws.model_names())
if name_problem:
    st.error(ui.md(name_problem), icon=":material/edit:")

model = None
if picks and not blocked and not name_problem:
    directions = {str(c): d == HIGHER for c, d in zip(edited["column"], edited["direction"], strict=True)
                  if d in (HIGHER, LOWER)}
    model = ui.handled(starter.build_model, data.df, cands, picks, name, directions, peers,
                       what="This model cannot be built")
if model is not None and start_from == OUTCOMES and can_fit:
    try:
        fitted = ui.fitted_start(info, dump_model(model))
    except AnalysisError as err:
        ui.show_error(err, "Cannot fit on the outcomes; starting from the data's spread")
    else:
        st.success(ui.md(starter.fitted_caption(fitted)), icon=":material/model_training:")
        model = fitted.model
if model is not None:
    with st.expander("The model file this creates"):
        st.code(dump_model(model), language="yaml")
if st.button("Create model", key="start.create", type="primary", icon=":material/add_chart:",
             disabled=model is None):
    version = ui.save_model(name.strip(), dump_model(model), f"Started from {info.name}: {', '.join(picks)}",
                            dataset=info.name)
    if version is not None:
        st.session_state.update({ui.PENDING[ui.DATASET]: info.name,
                                 FLASH: f"Created {name.strip()} v{version} from {info.name}'s columns. "
                                               "Tune it here; every page uses it now."})
        ui.switch_page("app_pages/tune.py")
