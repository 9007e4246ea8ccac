"""Data page (AppTest): dataset list, upload → mapping → save, readable problems, delete with confirmation.

AppTest in Streamlit 1.67 drives st.file_uploader (`set_value((name, bytes, mime))`) and seeds a keyed
st.data_editor's edits through session state, so the whole upload flow is tested through the page itself.
"""

from __future__ import annotations

import html
import uuid
from pathlib import Path

import pandas as pd
import pytest

from lib.data.ingest import load_portfolio
from lib.data.workspace import Workspace
from tests.app.helpers import errors, open_app

UPLOAD = Path(__file__).resolve().parents[1] / "fixtures" / "upload"


def table(at, column: str) -> pd.DataFrame:
    """The st.dataframe / st.data_editor on the page that has ``column``."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def upload(at, name: str, content: bytes | None = None):
    at.file_uploader[0].set_value((name, (UPLOAD / name).read_bytes() if content is None else content, "text/csv"))
    return at.run()


def messages(elements) -> str:
    """The texts of message elements as a person reads them (ui.md escapes markdown characters and HTML)."""
    return html.unescape("\n".join(e.value for e in elements).replace("\\", ""))


def test_page_lists_the_sample_dataset_and_its_data_quality():
    at = open_app("data")
    assert not errors(at), errors(at)
    listing = table(at, "Dataset").set_index("Dataset")
    assert listing.loc["Sample portfolio", "Accounts"] == 2000
    assert listing.loc["Sample portfolio", "Snapshots"] == 24
    quality = table(at, "Usable").set_index("Column")
    assert "nps" in quality.index and 0 < quality.loc["nps", "Usable"] < 100  # NPS is a sparse survey
    assert at.metric[0].label.startswith("Accounts with no data on 2026-10-01")


@pytest.mark.parametrize("filename", ["crm_export.xlsx", "crm_export.parquet"])
def test_excel_and_parquet_uploads_get_the_same_mapping(filename):
    at = open_app("data")
    at.file_uploader[0].set_value((filename, (UPLOAD / filename).read_bytes(), "application/octet-stream")).run()
    assert not errors(at), errors(at)
    roles = table(at, "role").set_index("column")["role"]
    assert roles["Customer ID"] == "account id" and roles["Month"] == "snapshot date" and roles["Logins"] == "metric"
    assert not at.button(key="data.save").disabled


def test_header_only_file_shows_a_message_not_an_exception():
    at = upload(open_app("data"), "header_only.csv")
    assert not errors(at), errors(at)
    assert "header_only.csv: the file has a header row but no data rows" in messages(at.error)
    assert not at.data_editor  # nothing to map, nothing to save
    assert table(at, "Dataset").shape[0] >= 1  # the saved datasets are still listed


def test_uploaded_csv_becomes_a_dataset_selected_in_the_sidebar_and_reupload_adds_nothing():
    at = upload(open_app("data"), "crm_export.csv")
    assert not errors(at), errors(at)
    roles = table(at, "role").set_index("column")["role"]
    assert roles["Customer ID"] == "account id" and roles["Month"] == "snapshot date"
    name = f"CRM {uuid.uuid4().hex[:6]}"
    at.text_input(key="data.name").input(name).run()
    at.button(key="data.save").click().run()
    assert not errors(at), errors(at)
    assert f"Saved: 8 new rows, 0 replaced (same account and date); 8 rows in '{name}'." in messages(at.success)
    assert at.sidebar.selectbox(key="ctx.dataset").value == name  # the sidebar selects the new dataset
    assert name in set(table(at, "Dataset")["Dataset"])
    assert not at.file_uploader[0].value  # a fresh uploader after a save

    at = upload(at, "crm_export.csv")
    at.segmented_control(key="data.target").set_value("append").run()
    at.selectbox(key="data.append_to").set_value(name).run()
    at.button(key="data.save").click().run()
    assert f"0 new rows, 8 replaced (same account and date); 8 rows in '{name}'" in messages(at.success)


def test_hostile_column_and_dataset_names_are_stored_as_given_and_shown_as_text():
    content = (UPLOAD.parent / "ingest" / "unsafe_names.csv").read_bytes()
    at = upload(open_app("data"), "unsafe_names.csv", content)
    name = f'<b>Q3</b> "export"; DROP TABLE datasets; -- {uuid.uuid4().hex[:4]}'
    at.text_input(key="data.name").input(name).run()
    at.button(key="data.save").click().run()
    assert not errors(at), errors(at)
    assert f"4 rows in '{name}'" in messages(at.success)
    assert "&lt;b&gt;Q3&lt;/b&gt;" in at.success[0].value  # escaped for st.markdown, never rendered as HTML
    stored = Workspace().load_dataset(name).df
    assert {'logins "per" user', 'x"; DROP TABLE datasets; --'} <= set(stored.columns)
    assert "<img src=x onerror=alert(1)>" in set(stored["account_name"])
    assert "Sample portfolio" in set(table(at, "Dataset")["Dataset"])  # the catalogue is intact


def test_mapping_without_account_id_is_explained_beside_the_table_and_blocks_saving():
    at = upload(open_app("data"), "crm_export.csv")
    at.session_state["data.roles"] = {"edited_rows": {0: {"role": "ignore"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not errors(at), errors(at)
    assert "no column is mapped as account id — set the Role of the column" in messages(at.error)
    assert at.button(key="data.save").disabled


def test_file_without_dates_asks_for_its_date_and_ambiguous_dates_ask_for_the_order():
    at = upload(open_app("data"), "one_snapshot.csv")
    assert at.date_input(key="data.snapshot_date").label == "The date this file describes"
    assert not at.button(key="data.save").disabled

    at = upload(at, "day_or_month.csv")
    order = at.radio(key="data.date_order")
    assert order.value is None and at.button(key="data.save").disabled
    assert "Choose how the file writes its dates" in messages(at.info)
    order.set_value("DMY").run()
    assert not errors(at), errors(at)
    assert not at.button(key="data.save").disabled


def test_taken_name_is_refused_beside_the_name_field():
    at = upload(open_app("data"), "crm_export.csv")
    at.text_input(key="data.name").input("Sample portfolio").run()
    assert "A dataset named 'Sample portfolio' already exists" in messages(at.error)
    assert at.button(key="data.save").disabled


def test_delete_asks_for_the_name_before_deleting():
    name = f"Delete me {uuid.uuid4().hex[:6]}"
    raw = pd.read_csv(UPLOAD / "xss_accounts.csv")
    Workspace().save_dataset(name, load_portfolio(raw, "xss_accounts.csv"))
    at = open_app("data")
    at.selectbox(key="data.delete.name").set_value(name).run()
    at.button(key="data.delete.open").click().run()
    assert at.text_input(key="data.delete.typed").label == "Type the dataset's name to confirm"
    assert at.button(key="data.delete.confirm").disabled
    assert name in set(table(at, "Dataset")["Dataset"])  # nothing deleted yet

    at.text_input(key="data.delete.typed").input("not the name").run()
    assert at.button(key="data.delete.confirm").disabled
    at.text_input(key="data.delete.typed").input(name).run()
    at.button(key="data.delete.confirm").click().run()
    assert not errors(at), errors(at)
    assert f"Deleted dataset '{name}'." in messages(at.success)
    assert name not in set(table(at, "Dataset")["Dataset"])
    assert "Sample portfolio" in set(table(at, "Dataset")["Dataset"])
