"""Audit log (admins): who changed what and when — uploads, deletions, model versions (with the YAML before and
after), labels, notes and overrides — exportable as CSV; each model's versions; and the access file."""

import streamlit as st

from lib import ui
from lib.data import access
from lib.views import audit

ws = ui.workspace()
st.title("Audit log")
if not ui.allowed("view_audit"):  # the page is only in an admin's navigation; checked again here
    st.stop()

log = ws.audit_log()
left, right = st.columns(2)
who = left.multiselect("Who", sorted(log["who"].fillna("").unique()), key="audit.who", placeholder="Everyone")
actions = right.multiselect("What", sorted(log["action"].unique()), key="audit.actions", placeholder="Everything")
table = audit.audit_table(log, who, actions)
st.caption(f"{len(table):,} of {len(log):,} changes, newest first. The CSV holds every change with the model "
           "YAML before and after each saved version.")
st.dataframe(table, hide_index=True, key="audit.table", column_config={
    "When (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "Detail": st.column_config.TextColumn(width="large")})
st.download_button("Audit log (CSV)", lambda: audit.audit_csv(log), "audit-log.csv", mime="text/csv",
                   key="audit.csv", on_click="ignore", icon=":material/download:")

st.subheader("Model versions")
models = ws.list_models()
name = st.selectbox("Model", sorted(models["name"].unique()), key="audit.model")
versions = audit.version_table(models, name)
st.dataframe(versions, hide_index=True, key="audit.versions",
             column_config={"Saved (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
numbers = sorted(models.loc[models["name"] == name, "version"].astype(int), reverse=True)
version = st.selectbox("What changed in version", numbers, format_func=lambda v: f"v{v}", key="audit.version")
before = ws.load_model_text(name, version - 1) if version > 1 else None
with st.expander(f"v{version - 1} → v{version}" if before else f"v{version}: the first version, in full",
                 expanded=before is not None):
    st.code(audit.yaml_diff(before, ws.load_model_text(name, version)) or "No change in the YAML.", language="diff")

st.subheader("Access")
path = access.access_path()
st.caption(f"Who may sign in and with which role: `{path}` (users by email, defaults by email domain; "
           "roles viewer, csm, analyst, admin). Saved only when valid.")
current = path.read_text(encoding="utf-8") if path.exists() else ""
with st.form("audit.access_form"):
    text = st.text_area("Access file", current, height=220, key="audit.access_text")
    if st.form_submit_button("Save access", icon=":material/save:") and ui.allowed("edit_access"):
        try:
            access.parse_access(text, str(path))
        except access.AccessError as err:
            ui.show_error(err, "Not saved")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            ws.record(ui.author(), "edit access", str(path), "", current, text)
            st.toast("Access saved: it applies from each user's next click.")
