"""The Data page's logic: role table ↔ Roles, mapping problems, upload helpers and the list views."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lib.data import role_mapping as mapping
from lib.data.ingest import AmbiguousDateOrder, Roles, detect_roles, load_portfolio, read_table
from lib.data.role_mapping import MappingError, mapping_problems, role_table, roles_from_table

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UPLOAD = FIXTURES / "upload"


def table_for(path: Path, prefer: Roles | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = read_table(path)
    return raw, role_table(detect_roles(raw), raw, prefer)


def with_roles(table: pd.DataFrame, **roles: str) -> pd.DataFrame:
    """The table after the user picked ``roles`` (column → role label) in the editor."""
    return table.assign(role=[roles.get(c, r) for c, r in zip(table["column"], table["role"], strict=True)])


# -- role table ↔ Roles --------------------------------------------------------------------------------------
def test_role_table_has_one_row_per_column_with_label_confidence_reason_and_samples():
    raw, table = table_for(UPLOAD / "crm_export.csv")
    assert list(table.columns) == mapping.TABLE_COLUMNS
    assert list(table["column"]) == list(raw.columns)
    assert set(table["role"]) <= set(mapping.ROLE_OPTIONS)
    row = table.set_index("column").loc["Customer ID"]
    assert row["role"] == "account id"
    assert 0 < row["confidence"] <= 1 and "account id" in row["reason"]
    assert row["sample"] == "C-100 · C-101 · C-102"


def test_detected_mapping_round_trips_through_the_table():
    raw, table = table_for(UPLOAD / "crm_export.csv")
    assert roles_from_table(table) == detect_roles(raw).roles


def test_edited_roles_come_back_as_roles_in_table_order():
    _, table = table_for(UPLOAD / "crm_export.csv")
    edited = with_roles(table, Plan="metric", Region="ignore", **{"Renewal": "ignore"})
    roles = roles_from_table(edited)
    assert roles.account_id == "Customer ID"
    assert "Plan" in roles.metrics and roles.metrics[-1] == "Plan"  # table order: Plan is the last column
    assert "Region" not in roles.columns() and roles.renewal_date is None


def test_ignored_columns_are_dropped_from_roles_and_from_the_loaded_table():
    raw, table = table_for(UPLOAD / "crm_export.csv")
    roles = roles_from_table(with_roles(table, Logins="ignore", Region="ignore"))
    assert "Logins" not in roles.columns() and "Region" not in roles.columns()
    loaded = load_portfolio(raw, "crm_export.csv", roles)
    assert "Logins" not in loaded.df.columns and "Region" not in loaded.df.columns
    assert "NPS" in loaded.df.columns


def test_roles_from_another_upload_are_preferred_and_free_their_single_roles():
    prefer = Roles(account_id="Account", metrics=("Logins",))
    _, table = table_for(UPLOAD / "crm_export.csv", prefer)
    rows = table.set_index("column")
    assert rows.loc["Account", "role"] == "account id" and rows.loc["Account", "reason"] == "as mapped last time"
    # The guessed id column now clashes with the preferred one, so it steps aside rather than block the mapping.
    assert rows.loc["Customer ID", "role"] == "ignore"
    assert "account id is 'Account'" in rows.loc["Customer ID", "reason"]
    assert roles_from_table(table).account_id == "Account"


# -- problems with a clear message -----------------------------------------------------------------------
def test_mapping_without_account_id_says_which_role_to_set():
    _, table = table_for(UPLOAD / "crm_export.csv")
    problems = mapping_problems(with_roles(table, **{"Customer ID": "segment"}))
    assert [p.message for p in problems] == ["no column is mapped as account id"]
    assert "to account id" in problems[0].fix
    with pytest.raises(MappingError, match="no column is mapped as account id"):
        roles_from_table(with_roles(table, **{"Customer ID": "ignore"}))


def test_two_account_ids_name_both_columns_and_the_fix():
    _, table = table_for(UPLOAD / "crm_export.csv")
    with pytest.raises(MappingError) as info:
        roles_from_table(with_roles(table, Account="account id"))
    (problem,) = info.value.problems
    assert problem.column == "Account"
    assert str(problem) == ("'Customer ID' and 'Account' are both mapped as account id — keep one as account id; "
                            "set the other to ignore (or segment / metric)")


def test_three_columns_on_one_single_role_are_listed_together():
    _, table = table_for(UPLOAD / "crm_export.csv")
    problems = mapping_problems(with_roles(table, Account="ARR", Logins="ARR"))
    assert [p.message for p in problems] == ["'Account', 'ARR' and 'Logins' are all mapped as ARR"]
    assert "set the others to ignore" in problems[0].fix


def test_a_row_without_role_and_a_mapping_without_metrics_are_reported():
    _, table = table_for(UPLOAD / "crm_export.csv")
    metrics = table.loc[table["role"] == "metric", "column"]
    edited = with_roles(table, **dict.fromkeys(metrics, "ignore"))
    edited.loc[edited["column"] == "Region", "role"] = None
    messages = [p.message for p in mapping_problems(edited)]
    assert messages == ["column 'Region' has no role", "no column is mapped as metric, so there is nothing to score"]


def test_hostile_column_names_stay_plain_text_in_table_roles_and_messages():
    raw = read_table(FIXTURES / "ingest" / "unsafe_names.csv")
    table = role_table(detect_roles(raw), raw)
    hostile = 'x"; DROP TABLE datasets; --'
    assert hostile in list(table["column"])
    assert "<img src=x onerror=alert(1)>" in table.set_index("column").loc["account_name", "sample"]
    roles = roles_from_table(table)
    assert hostile in roles.metrics
    (problem,) = mapping_problems(with_roles(table, **{hostile: "account id"}))
    assert f"'account_id' and '{hostile}' are both mapped as account id" == problem.message


# -- upload helpers ------------------------------------------------------------------------------------------
def test_preview_shows_first_rows_as_text_with_blanks_empty():
    raw = read_table(UPLOAD / "crm_export.csv")
    shown = mapping.preview(raw, n=3)
    assert shown.shape == (3, raw.shape[1])
    assert shown.map(type).eq(str).all().all()
    assert shown.loc[1, "NPS"] == "" and shown.loc[0, "ARR"] == "$12,400"


def test_check_upload_returns_the_portfolio_with_its_warnings():
    raw = read_table(FIXTURES / "ingest" / "unsafe_names.csv")
    report = detect_roles(raw)
    check = mapping.check_upload(raw, report, report.roles)
    assert check.error is None and not check.ask_date_order
    assert check.portfolio.df["account_id"].tolist() == ["A-001", "A-002", "A-003", "A-004"]
    assert any("HTML-like text" in w for w in check.warnings)


def test_check_upload_keeps_the_ingest_error_for_the_page_to_show():
    raw = read_table(UPLOAD / "crm_export.csv")
    report = detect_roles(raw)
    check = mapping.check_upload(raw, report, Roles(account_id="Region", snapshot_date="Month", metrics=("Logins",)))
    assert check.portfolio is None and check.warnings == []
    assert "account/date pair(s) appear more than once" in str(check.error)
    assert check.error.column == "Region"


def test_check_upload_asks_for_the_date_order_until_the_user_chose_one():
    raw = read_table(UPLOAD / "day_or_month.csv")
    report = detect_roles(raw)
    asked = mapping.check_upload(raw, report, report.roles)
    assert asked.ask_date_order and isinstance(asked.error, AmbiguousDateOrder)
    chosen = mapping.check_upload(raw, report, report.roles, date_order="DMY")
    assert chosen.ask_date_order and chosen.error is None  # still offered, so the user can change their mind
    assert chosen.portfolio.df["snapshot_date"].min() == pd.Timestamp("2025-02-01")


def test_check_upload_dates_a_file_without_snapshot_column_with_the_chosen_day():
    raw = read_table(UPLOAD / "one_snapshot.csv")
    report = detect_roles(raw)
    check = mapping.check_upload(raw, report, report.roles, snapshot_date="2025-03-31")
    assert set(check.portfolio.df["snapshot_date"]) == {pd.Timestamp("2025-03-31")}
    assert check.warnings == []


def test_file_summary_says_how_the_file_was_read():
    raw = read_table(UPLOAD / "crm_export.csv")
    assert mapping.file_summary(raw, detect_roles(raw)) == "8 rows × 10 columns · utf-8, comma"
    book = read_table(UPLOAD / "crm_export.xlsx")
    assert mapping.file_summary(book, detect_roles(book)) == "8 rows × 10 columns · sheet Accounts"


@pytest.mark.parametrize(
    "filename,existing,expected",
    [
        pytest.param("q3_export.csv", [], "q3 export", id="underscores_become_spaces"),
        pytest.param("q3_export.csv", ["q3 export"], "q3 export (2)", id="taken_name_gets_a_number"),
        pytest.param("q3_export.csv", ["q3 export", "q3 export (2)"], "q3 export (3)", id="next_free_number"),
        pytest.param(".csv", [], "Uploaded data", id="no_stem"),
    ],
)
def test_default_name_comes_from_the_file_and_is_unique(filename, existing, expected):
    assert mapping.default_name(filename, existing) == expected


def test_name_problem_refuses_blank_and_taken_names():
    assert mapping.name_problem("  ", []) == "Give the dataset a name (e.g. 'Q3 export')."
    assert "already exists" in mapping.name_problem("Sample portfolio", ["Sample portfolio"])
    assert mapping.name_problem("<b>new</b>", ["Sample portfolio"]) is None


# -- list views ----------------------------------------------------------------------------------------------
def test_dataset_table_shows_counts_and_dates_for_people():
    listing = pd.DataFrame({
        "dataset_id": [1], "name": ["Q3 <export>"], "source_filename": [None], "n_rows": [41844],
        "n_accounts": [2000], "n_snapshots": [24], "first_date": [pd.Timestamp("2024-11-01")],
        "last_date": [pd.Timestamp("2026-10-01")], "created_at": [pd.Timestamp("2026-11-01 09:00")],
        "updated_at": [pd.Timestamp("2026-11-02 10:30:12")],
    })
    shown = mapping.dataset_table(listing)
    assert shown.iloc[0].to_dict() == {
        "Dataset": "Q3 <export>", "Source file": "", "Rows": 41844, "Accounts": 2000, "Snapshots": 24,
        "First date": "2024-11-01", "Last date": "2026-10-01", "Updated (UTC)": "2026-11-02 10:30",
    }


QUALITY = pd.DataFrame({
    "metric": ["logins", "nps", "sentiment", "seats"],
    "label": ["Logins per user", "", "CSM sentiment", "Seats used"],
    "rows": [100, 100, 100, 100],
    "missing": [0, 60, 2, 100],
    "non_numeric": [3, 0, 0, 0],
    "unknown_categories": [0, 0, 10, 0],
    "usable": [97, 40, 88, 0],
    "examples": [["n/a?"], [], ["amber", "<b>"], []],
})


def test_quality_table_gives_usable_share_counts_and_examples():
    shown = mapping.quality_table(QUALITY).set_index("Column")
    assert shown.loc["nps", "Metric"] == "nps"  # no label: the column name
    assert shown.loc["nps", "Usable"] == pytest.approx(40.0)
    assert shown.loc["sentiment", "Examples"] == "'amber', '<b>'"
    assert shown.loc["logins", "Not a number"] == 3 and shown.loc["sentiment", "Unknown category"] == 10


def test_quality_findings_explain_the_worst_metrics_first_with_a_fix():
    findings = mapping.quality_findings(QUALITY)
    assert findings == [
        "Seats used: no usable value in any row — check that column 'seats' is in the dataset and mapped as a metric.",
        "nps: 60% of rows are blank.",
        "CSM sentiment: 2% of rows are blank; 10 values are categories the model does not score (e.g. 'amber', "
        "'<b>') — add them to the metric's categories on the Tune page.",
    ]  # logins: 3% bad, under the 5% threshold


def test_no_data_accounts_counts_the_no_data_band_at_the_date_only():
    scored = pd.DataFrame({
        "account_id": ["a", "b", "c", "a"],
        "snapshot_date": pd.to_datetime(["2025-02-01", "2025-02-01", "2025-02-01", "2025-01-01"]),
        "band": ["no data", "red", "no data", "no data"],
    })
    assert mapping.no_data_accounts(scored, pd.Timestamp("2025-02-01")) == 2
    assert mapping.no_data_accounts(scored, pd.Timestamp("2025-03-01")) == 0


def test_quality_findings_are_empty_for_clean_data():
    clean = QUALITY.assign(missing=0, non_numeric=0, unknown_categories=0, usable=100)
    assert mapping.quality_findings(clean) == []
