"""Tune: edit a draft of the selected model with sliders, watch the portfolio move, save it as a version.

The controls bound to the draft live in app_pages/tune_controls.py, the preview in app_pages/tune_preview.py.
"""

import streamlit as st

from app_pages import tune_controls, tune_preview, tune_structure
from app_pages.tune_state import Draft
from lib import ui
from lib.engine.model import check_columns
from lib.views import tuning


@st.fragment  # a slider move reruns only this, not the sidebar and page frame
def tune(ctx: ui.Context) -> None:
    state = Draft()
    draft_yaml, draft = state.yaml, state.model
    columns = [str(c) for c in ctx.data().df.columns]
    changes = tuning.diff_table(ctx.model, draft)
    tune_controls.toolbar(ctx, columns, draft_yaml, len(changes))
    with st.expander(f"Changes vs saved {ctx.model_name} v{ctx.model_version}: {len(changes)}"):
        if len(changes):
            st.dataframe(changes, hide_index=True, width="stretch")
        else:
            st.caption("No changes yet.")
    if problems := check_columns(draft, columns):
        tune_controls.misfit(ctx, draft_yaml, draft, problems, columns)
        return
    td = ctx.tune_data(warm_with=draft_yaml)
    controls, preview = st.columns([1, 1.15], gap="large")
    pv = td.preview(draft, ctx.as_of, ctx.filters, labels=ctx.labels())
    with preview:  # drawn first: the numbers show while the controls' charts are still on their way
        tune_preview.preview(ctx, pv, draft)
    with controls:
        tune_controls.draft_controls(ctx, td, draft, lambda: tune_structure.structure(ctx, td, draft))
    tune_preview.movers(ctx, pv)


ctx = ui.context(check_fit=False)  # a model that does not fit the data is fixed here
st.title("Tune")
if st.session_state.get(tune_controls.BASE) != (ctx.dataset.name, ctx.model_name, ctx.model_version):
    st.session_state[tune_controls.BASE] = (ctx.dataset.name, ctx.model_name, ctx.model_version)
    tune_controls.reset(ctx.model_yaml)
if flash := st.session_state.pop(tune_controls.FLASH, None):
    st.success(flash, icon=":material/check_circle:")
st.caption(f"Editing a draft of **{ui.md(ctx.model_name)}** v{ctx.model_version} on {ui.md(ctx.caption)}. "
           "Nothing changes for anyone else until you save it.")
tune(ctx)
