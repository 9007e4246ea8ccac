"""Health Score Studio — the entry point: page config, sign-in, the shared sidebar and the page list."""

import streamlit as st

from lib import ui

st.set_page_config(page_title="Health Score Studio", page_icon=":material/monitor_heart:", layout="wide")
user = ui.signed_in()  # with sign-in configured, nothing below runs before it (only a Sign in button shows)

# Each page with the action it needs: a page the user's role cannot use is not in their navigation (the
# actions inside check again, and every read is limited to the user's scope).
PAGES = {
    "Portfolio": [
        (st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True), "read"),
        (st.Page("app_pages/trends.py", title="Trends", icon=":material/trending_up:"), "read"),
        (st.Page("app_pages/account.py", title="Account", icon=":material/person_search:"), "read"),
    ],
    "Model": [
        (st.Page("app_pages/tune.py", title="Tune", icon=":material/tune:"), "tune"),
        (st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"), "read"),
        (st.Page("app_pages/validate.py", title="Validate", icon=":material/fact_check:"), "read"),
        (st.Page(ui.START_PAGE, title="Start a model", icon=":material/add_chart:"), "save_model"),
    ],
    "Share": [
        (st.Page("app_pages/present.py", title="Present", icon=":material/co_present:"), "read"),
        (st.Page("app_pages/worklists.py", title="Worklists", icon=":material/checklist:"), "read"),
        (st.Page("app_pages/plays.py", title="Plays", icon=":material/science:"), "read"),
        (st.Page("app_pages/data.py", title="Data", icon=":material/database:"), "upload"),
    ],
    "Admin": [
        (st.Page("app_pages/audit.py", title="Audit log", icon=":material/history:"), "view_audit"),
    ],
}
visible = {section: [page for page, action in pages if ui.can(action)] for section, pages in PAGES.items()}

fullscreen = bool(st.session_state.get(ui.PRESENT_FULLSCREEN))
page = st.navigation({s: p for s, p in visible.items() if p}, position="hidden" if fullscreen else "sidebar")
ui.remember(ui.sidebar())
ui.account_menu(user)
if fullscreen:
    ui.hide_chrome()
page.run()
