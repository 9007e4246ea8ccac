"""What the pages read: pure summaries (portfolio, Tune's draft and preview, Compare/Validate tables,
worklists, the QBR view) built from the engine's scores. No Streamlit; the pages draw these.
"""
