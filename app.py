"""Health Score Studio — the entry point: page config, the shared sidebar and the page list."""

import streamlit as st

from lib import ui

st.set_page_config(page_title="Health Score Studio", page_icon=":material/monitor_heart:", layout="wide")

PAGES = {
    "Portfolio": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("app_pages/trends.py", title="Trends", icon=":material/trending_up:"),
        st.Page("app_pages/account.py", title="Account", icon=":material/person_search:"),
    ],
    "Model": [
        st.Page("app_pages/tune.py", title="Tune", icon=":material/tune:"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page("app_pages/validate.py", title="Validate", icon=":material/fact_check:"),
        st.Page(ui.START_PAGE, title="Start a model", icon=":material/add_chart:"),
    ],
    "Share": [
        st.Page("app_pages/present.py", title="Present", icon=":material/co_present:"),
        st.Page("app_pages/worklists.py", title="Worklists", icon=":material/checklist:"),
        st.Page("app_pages/plays.py", title="Plays", icon=":material/science:"),
        st.Page("app_pages/data.py", title="Data", icon=":material/database:"),
    ],
}

fullscreen = bool(st.session_state.get(ui.PRESENT_FULLSCREEN))
page = st.navigation(PAGES, position="hidden" if fullscreen else "sidebar")
ui.remember(ui.sidebar())
if fullscreen:
    ui.hide_chrome()
page.run()
