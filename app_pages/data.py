"""Data: bring a file in (upload → confirm what each column means → save), manage datasets, check data quality."""

import datetime as dt

import pandas as pd
import streamlit as st

from lib import ui
from lib.data import ingest
from lib.data import role_mapping as mapping
from lib.data.workspace import WorkspaceError
from lib.engine.sql import metric_quality
from lib.views import portfolio as pf

ROLE_COLUMNS = {
    "column": st.column_config.TextColumn("Column", pinned=True),
    "role": st.column_config.SelectboxColumn("Role", options=mapping.ROLE_OPTIONS, required=True),
    "confidence": st.column_config.ProgressColumn("Confidence", format="percent", min_value=0.0, max_value=1.0,
                                                  width="small"),
    "type": st.column_config.TextColumn("Type", width="small"),
    "reason": st.column_config.TextColumn("Why", width="large"),
    "sample": st.column_config.TextColumn("Sample values", width="medium"),
}
DATE_ORDERS = {"DMY": "Day first (03/04/2025 is 3 April)", "MDY": "Month first (03/04/2025 is March 4)"}
TARGETS = {"new": "A new dataset", "append": "New snapshots of a dataset"}

ws = ui.workspace()
st.title("Data")
st.caption("Upload an export from your CRM or BI tool, confirm what each column means, and save it as a dataset "
           "— or as new snapshots of one you already have.")
if done := st.session_state.pop("data.done", None):
    st.success(ui.md(done), icon=":material/check_circle:")


@st.cache_resource(max_entries=2, show_spinner="Reading the file…")
def read_upload(file_id: str, filename: str, _data: bytes) -> tuple[pd.DataFrame, ingest.RoleReport]:
    """The raw table and detected roles of an upload (shared, read-only; errors are not cached)."""
    raw = ingest.read_table(_data, filename)
    return raw, ingest.detect_roles(raw)


@st.cache_resource(max_entries=2, show_spinner="Checking the file with this mapping…")
def check_upload(file_id: str, roles: ingest.Roles, day: dt.date | None, order: str | None, _raw: pd.DataFrame,
                 _report: ingest.RoleReport) -> mapping.UploadCheck:
    """The upload loaded with the confirmed mapping, or the problem that stops it (shared, read-only)."""
    return mapping.check_upload(_raw, _report, roles, day, order)


def upload_section() -> None:
    """Upload → preview → where to save → column roles → dates → problems and warnings → Save."""
    round_ = st.session_state.setdefault("data.round", 0)  # a fresh, empty uploader after each save
    file = st.file_uploader("Portfolio file", type=["csv", "tsv", "txt", "xlsx", "parquet"],
                            key=f"data.upload.{round_}", max_upload_size=ingest.DEFAULT_MAX_BYTES // 1_000_000,
                            help="One row per account per snapshot date (or per account, for one snapshot): an "
                                 "account id and metric columns; optionally a date, name, segments, ARR, renewal "
                                 "date, churn outcome and health label.")
    if file is None:
        return
    if st.session_state.get("data.file_id") != file.file_id:  # a new file: forget the last file's choices
        for key in ("data.roles", "data.date_order", "data.snapshot_date"):
            st.session_state.pop(key, None)
        st.session_state.update({"data.file_id": file.file_id,
                                 "data.name": mapping.default_name(file.name, ws.dataset_names())})
    try:
        raw, report = read_upload(file.file_id, file.name, file.getvalue())
    except ValueError as err:
        ui.show_error(err, "This file cannot be read")
        return
    st.caption(f"**{ui.md(file.name)}** · {ui.md(mapping.file_summary(raw, report))} — the first rows, as text:")
    st.dataframe(mapping.preview(raw), hide_index=True)

    names = ws.dataset_names()
    target = st.segmented_control("Save as", list(TARGETS), format_func=TARGETS.get, key="data.target",
                                  default="new", required=True, disabled=not names)
    if target == "append":
        into = st.selectbox("Dataset to add snapshots to", names, key="data.append_to",
                            help="Rows for an account and date already in the dataset are replaced, so uploading "
                                 "the same file twice adds nothing.")
        info = ui.handled(ws.dataset_info, into)  # None (with a message) if another session just deleted it
        name_problem, prefer = None, info.source_roles if info else None
    else:
        into = st.text_input("Dataset name", key="data.name", max_chars=120)
        name_problem, prefer = mapping.name_problem(into, names), None
        if name_problem:
            st.error(ui.md(name_problem), icon=":material/edit:")

    st.markdown("**What each column means** — change a *Role* where the guess is wrong; *ignore* leaves a column "
                "out.")
    edited = st.data_editor(mapping.role_table(report, raw, prefer, f"as in '{into}' last time"), key="data.roles",
                            hide_index=True, column_config=ROLE_COLUMNS, height=35 * min(raw.shape[1], 15) + 38,
                            disabled=["column", "confidence", "type", "reason", "sample"])
    problems = mapping.mapping_problems(edited)
    for p in problems:
        st.error(ui.md(str(p)), icon=":material/table_rows:")
    check = None if problems else dates_and_check(file.file_id, raw, report, mapping.roles_from_table(edited))
    ready = check is not None and check.portfolio is not None and name_problem is None
    if st.button("Add snapshots" if target == "append" else "Save dataset", type="primary", disabled=not ready,
                 key="data.save", icon=":material/save:"):
        save = ws.append_dataset if target == "append" else ws.save_dataset
        result = ui.handled(save, into.strip(), check.portfolio, author=ui.author(),
                            what="Nothing was saved") if ui.allowed("upload") else None
        if result is not None:
            st.session_state.update({"data.done": f"Saved: {result.summary()}.", "data.round": round_ + 1,
                                     ui.PENDING[ui.DATASET]: result.dataset.name})
            st.rerun()


def dates_and_check(file_id: str, raw: pd.DataFrame, report: ingest.RoleReport,
                    roles: ingest.Roles) -> mapping.UploadCheck:
    """Ask for what the dates need, load the file with the mapping, and list what stops or worries the save."""
    day = None
    if roles.snapshot_date is None:
        day = st.date_input("The date this file describes", key="data.snapshot_date", max_value=dt.date.today(),
                            help="The file has no snapshot-date column, so all of it is one snapshot.")
    check = check_upload(file_id, roles, day, st.session_state.get("data.date_order"), raw, report)
    if check.ask_date_order:
        st.radio("How does this file write dates like 03/04/2025?", list(DATE_ORDERS), format_func=DATE_ORDERS.get,
                 key="data.date_order", index=None, horizontal=True)
    if isinstance(check.error, ingest.AmbiguousDateOrder):
        st.info("Choose how the file writes its dates (above) to continue.", icon=":material/event:")
    elif check.error is not None:
        ui.show_error(check.error, "The file cannot be saved with this mapping")
    elif check.warnings:
        st.warning("The file can be saved, but check these first:\n" +
                   "\n".join(f"- {ui.md(w)}" for w in check.warnings), icon=":material/warning:")
    return check


@st.dialog("Delete dataset", on_dismiss=lambda: st.session_state.pop("data.deleting", None))
def confirm_delete(name: str) -> None:
    """Ask for the dataset's name before deleting it."""
    info = ui.handled(ws.dataset_info, name)
    if info is None:
        return
    st.markdown(f"This deletes **{ui.md(name)}** ({info.n_rows:,} rows, {info.n_accounts:,} accounts) and the "
                "health labels set by hand for it. Model versions, notes and overrides stay. This cannot be undone.")
    typed = st.text_input("Type the dataset's name to confirm", key="data.delete.typed", live=True)
    left, right = st.columns(2)
    if left.button("Delete", type="primary", key="data.delete.confirm", disabled=typed != name, width="stretch"):
        if not ui.allowed("delete_dataset"):
            return
        try:
            ws.delete_dataset(name, ui.author())
        except WorkspaceError as err:
            ui.show_error(err, "Not deleted")
            return
        st.session_state["data.done"] = f"Deleted dataset '{name}'."
        st.session_state.pop("data.deleting", None)
        st.rerun()
    if right.button("Cancel", key="data.delete.cancel", width="stretch"):
        st.session_state.pop("data.deleting", None)
        st.rerun()


def datasets_section() -> bool:
    """The dataset list with delete; False when there is none."""
    listing = ws.list_datasets()
    if listing.empty:
        ui.empty_state("No datasets yet.", "Upload a file above to create one.")
        return False
    st.dataframe(mapping.dataset_table(listing), hide_index=True, column_config={
        "Rows": st.column_config.NumberColumn(format="localized"),
        "Accounts": st.column_config.NumberColumn(format="localized")})
    if not ui.can("delete_dataset"):
        st.caption("Only an admin can delete datasets.")
        return True
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox("Dataset to delete", list(listing["name"]), key="data.delete.name")
    right.button("Delete…", key="data.delete.open", icon=":material/delete:", width="stretch",
                 on_click=lambda: st.session_state.update({"data.deleting": chosen, "data.delete.typed": ""}))
    if st.session_state.get("data.deleting") in set(listing["name"]):
        confirm_delete(st.session_state["data.deleting"])
    return True


def quality_section() -> None:
    """How usable each metric of the selected model is in the selected dataset: why accounts show 'no data'."""
    st.subheader("Data quality")
    ctx = ui.context()  # stops here with a message when the selected model does not fit the dataset
    whole = st.toggle("All snapshots", key="data.quality.all",
                      help="Off: only the rows of the snapshot date chosen in the sidebar.")
    rows = ctx.data().df if whole else pf.at_date(ctx.data().df, ctx.as_of)
    st.caption(f"How usable each metric of model **{ui.md(ctx.model_name)}** v{ctx.model_version} is in "
               f"**{ui.md(ctx.dataset.name)}** " + ("(all snapshots)" if whole else f"on {ctx.as_of:%Y-%m-%d}") +
               ". A metric without a usable value does not count for that account; an account with none is "
               "scored *no data*.")
    quality = metric_quality(ctx.model, rows)
    st.metric(f"Accounts with no data on {ctx.as_of:%Y-%m-%d}",
              f"{mapping.no_data_accounts(ctx.scored(filtered=False), ctx.as_of):,}")
    for finding in mapping.quality_findings(quality):
        st.warning(ui.md(finding), icon=":material/report:")
    st.dataframe(mapping.quality_table(quality), hide_index=True, column_config={
        "Usable": st.column_config.ProgressColumn("Usable", format="%.0f%%", min_value=0, max_value=100)})


with st.container(border=True):
    st.subheader("Add a file")
    upload_section()
st.subheader("Datasets")
if datasets_section():
    quality_section()
