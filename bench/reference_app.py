"""The simplest Streamlit page with what a dashboard needs: a title, four KPI cards and one Plotly chart.

``bench_tune`` loads it in the same browser, the same way, next to the app: the ratio says how much of the
app's load time is its own and how much any Streamlit + Plotly page pays on this machine.
"""

import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="Reference", layout="wide")
st.title("Reference page")
for column, (label, value) in zip(st.columns(4), [("Accounts", "1,767"), ("ARR", "$52.1M"), ("Average", "61.3"),
                                                  ("Red", "272")], strict=True):
    column.metric(label, value, border=True)
st.plotly_chart(go.Figure(go.Bar(x=["red", "yellow", "green"], y=[272, 839, 656])), key="reference.chart")
