"""Ingest: reading messy files, role detection, and a clear message for every problem class (issue 4)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.data.ingest import (
    AmbiguousDateOrder,
    IngestError,
    Roles,
    detect_roles,
    inspect_file,
    load_portfolio,
    parse_dates,
    parse_numbers,
    read_table,
)
from tests.foreign import ARR, CHURNED, STATUS, foreign_portfolio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


def fixture(name: str) -> Path:
    return FIXTURES / name


def load_error(name: str, **kwargs) -> IngestError:
    with pytest.raises(IngestError) as info:
        load_portfolio(fixture(name), **kwargs)
    return info.value


# ---------------------------------------------------------------------------------------------------
# Every problem class: a small file and the message it gets
# ---------------------------------------------------------------------------------------------------
def test_empty_file_is_refused_with_the_file_name():
    err = load_error("empty.csv")
    assert str(err).startswith("empty.csv: the file is empty")
    assert "column names" in err.fix


def test_header_only_file_says_there_are_no_data_rows():
    err = load_error("header_only.csv")
    assert "header row but no data rows" in str(err)
    assert err.file == "header_only.csv"


def test_missing_id_column_lists_the_columns_and_how_to_fix():
    err = load_error("no_id_column.csv")
    assert "no account id column found" in str(err)
    assert "region, logins, nps" in str(err)
    assert "rename the id column to account_id" in err.fix


def test_duplicate_account_date_rows_name_the_rows_as_a_spreadsheet_counts():
    err = load_error("duplicate_rows.csv")
    # header = row 1: A-001 is on rows 2 and 4, A-002 on rows 3 and 6
    assert "2 account/date pair(s) appear more than once" in str(err)
    assert "account 'A-001' on 2025-01-01 in rows 2, 4" in str(err)
    assert "rows 2, 3, 4, 6" in str(err)
    assert err.row == 2 and err.column == "account_id"


def test_unparseable_snapshot_dates_name_first_row_and_value():
    err = load_error("unparseable_dates.csv")
    assert "2 snapshot date(s) are blank or not dates (rows 3, 4)" in str(err)
    assert err.row == 3 and err.column == "snapshot_date" and err.value == "2025-13-45"
    assert "YYYY-MM-DD" in err.fix


def test_future_snapshot_date_is_refused_with_its_row():
    err = load_error("future_dates.csv")
    assert "1 snapshot date(s) are in the future (row 4)" in str(err)
    assert err.value == "2095-03-01"


def test_mixed_types_in_a_metric_warn_with_count_rows_and_examples():
    portfolio = load_portfolio(fixture("mixed_types.csv"))
    [warning] = portfolio.warnings
    assert "column 'logins_per_user': 2 value(s) are not numbers (rows 3, 5; e.g. 'lots', '??')" in warning
    assert "treated as missing" in warning
    assert portfolio.df["logins_per_user"].isna().sum() == 2
    assert portfolio.df["logins_per_user"].sum() == pytest.approx(4.5 + 3 + 7 + 2)


def test_infinite_and_absurd_values_become_missing_with_warnings():
    portfolio = load_portfolio(fixture("inf_and_absurd.csv"))
    text = "\n".join(portfolio.warnings)
    assert "2 value(s) are not finite (rows 3, 6; e.g. 'inf', '-Infinity')" in text
    assert "1 value(s) are not plausible (|value| > 1e12) (row 4" in text
    assert portfolio.df["open_tickets"].tolist()[0] == 3
    assert portfolio.df["open_tickets"].isna().sum() == 4  # inf, absurd, "NaN" text, -inf
    assert np.isfinite(portfolio.df["arr"]).all()


def test_too_many_columns_states_the_limit():
    err = load_error("too_many_columns.csv")
    assert "the file has 602 columns; at most 500 are supported" in str(err)


def test_file_over_the_size_limit_is_refused_before_reading():
    err = load_error("mixed_types.csv", max_bytes=100)
    assert "over the 100-byte limit" in str(err)
    assert "max_bytes" in err.fix


def test_size_limit_applies_to_uploaded_bytes_too():
    data = fixture("mixed_types.csv").read_bytes()
    with pytest.raises(IngestError, match="over the 50-byte limit"):
        read_table(io.BytesIO(data), "upload.csv", max_bytes=50)


def test_ragged_row_names_the_row_and_suggests_quoting():
    err = load_error("ragged_row.csv")
    assert str(err).startswith("ragged_row.csv, row 3: expected 4 values but found 5")
    assert "double quotes" in err.fix


def test_old_xls_files_ask_for_xlsx_or_csv():
    err = load_error("legacy.xls")
    assert "old Excel .xls files are not supported" in str(err)


def test_unknown_extension_lists_supported_formats(tmp_path: Path):
    path = tmp_path / "data.json"
    path.write_text('{"a": 1}')
    with pytest.raises(IngestError, match=r"unknown file type '\.json'.*\.csv, \.tsv, \.xlsx or \.parquet"):
        load_portfolio(path)


def test_html_sql_and_quotes_in_names_are_kept_as_plain_text():
    portfolio = load_portfolio(fixture("unsafe_names.csv"))
    names = portfolio.df.set_index("account_id")["account_name"]
    assert names["A-001"] == "<img src=x onerror=alert(1)>"
    assert names["A-002"] == "Robert'); DROP TABLE datasets;--"
    assert names["A-003"] == "O'Brien \"Quoted\" & Sons"
    assert portfolio.roles.metrics == ('logins "per" user', 'x"; DROP TABLE datasets; --')
    assert portfolio.df['x"; DROP TABLE datasets; --'].tolist() == [1.0, 2.0, 3.0, 4.0]
    [warning] = portfolio.warnings
    assert "row 2, column 'account_name': 1 account name(s) contain HTML-like text" in warning
    assert "plain text" in warning


def test_all_ambiguous_dates_ask_for_the_date_order():
    with pytest.raises(AmbiguousDateOrder) as info:
        load_portfolio(fixture("ambiguous_dates.csv"))
    assert "ambiguous date order" in str(info.value)
    assert "date_order='DMY'" in info.value.fix and "'MDY'" in info.value.fix


@pytest.mark.parametrize(
    ("order", "expected"),
    [pytest.param("DMY", "2025-02-01", id="day_first"), pytest.param("MDY", "2025-01-02", id="month_first")],
)
def test_date_order_from_the_caller_settles_ambiguous_dates(order: str, expected: str):
    df = load_portfolio(fixture("ambiguous_dates.csv"), date_order=order).df
    assert df["snapshot_date"].min() == pd.Timestamp(expected)


def test_report_flags_that_date_order_is_needed():
    report = detect_roles(read_table(fixture("ambiguous_dates.csv")))
    assert report.needs_date_order and report.date_order is None


def test_dates_mixing_day_first_and_month_first_are_refused():
    err = load_error("mixed_date_order.csv")
    assert "dates mix day-first (row 2: '13/01/2025') and month-first (row 3: '01/13/2025')" in str(err)


def test_invalid_date_order_argument_is_refused():
    with pytest.raises(IngestError, match="date_order must be 'DMY' or 'MDY'"):
        load_portfolio(fixture("ambiguous_dates.csv"), date_order="YMD")


def test_rows_without_an_account_id_are_skipped_with_a_warning():
    portfolio = load_portfolio(fixture("blank_ids.csv"))
    assert portfolio.df["account_id"].tolist() == ["A-001", "A-003"]
    assert portfolio.warnings == [
        "blank_ids.csv, column 'account_id': 1 row(s) have no account id and were skipped (row 3)"
    ]


def test_id_column_without_values_is_refused_when_mapped():
    roles = Roles(account_id="account_id", snapshot_date="snapshot_date")
    err = load_error("blank_id_column.csv", roles=roles)
    assert "column 'account_id': the account id column has no values" in str(err)


def test_title_lines_above_the_header_are_skipped_and_rows_still_count_from_the_top():
    portfolio = load_portfolio(fixture("title_rows.csv"))
    assert portfolio.df["account_id"].tolist() == ["A-001", "A-002"]
    assert portfolio.warnings[0] == "title_rows.csv: the column names are on row 4; the 3 line(s) above were skipped"
    assert "(row 6; e.g. 'bad')" in portfolio.warnings[1]


def test_repeated_column_names_are_reported():
    portfolio = load_portfolio(fixture("duplicate_headers.csv"))
    assert portfolio.roles.metrics == ("logins", "logins.1")
    assert "column 'logins' appears more than once" in portfolio.warnings[0]


def test_column_named_account_holding_codes_is_the_id():
    portfolio = load_portfolio(fixture("account_codes.csv"))
    assert portfolio.roles.account_id == "Account" and portfolio.roles.account_name is None
    assert portfolio.report.get("Account").reason.startswith("name 'Account' with id-like values ('ACC-017'")


def test_mapping_that_names_a_missing_column_says_which():
    with pytest.raises(IngestError, match="names column 'Customer' for account_id, but the file has no such column"):
        load_portfolio(fixture("mixed_types.csv"), roles=Roles(account_id="Customer", snapshot_date="snapshot_date"))


def test_mapping_one_column_to_two_roles_is_refused():
    roles = Roles(account_id="account_id", snapshot_date="snapshot_date", metrics=("account_id",))
    with pytest.raises(IngestError, match="column 'account_id' is mapped to more than one role"):
        load_portfolio(fixture("mixed_types.csv"), roles=roles)


# ---------------------------------------------------------------------------------------------------
# Real-world formats
# ---------------------------------------------------------------------------------------------------
def test_semicolon_latin1_file_with_day_first_dates_and_decimal_commas():
    portfolio = load_portfolio(fixture("european_latin1.csv"))
    df = portfolio.df
    assert portfolio.roles.account_id == "Kunden-ID"
    assert portfolio.roles.snapshot_date == "Stichtag"
    assert df["account_name"].tolist() == ["Müller GmbH", "Müller GmbH", "Société Générale Café"]
    assert df["snapshot_date"].tolist() == [pd.Timestamp("2025-01-31"), pd.Timestamp("2025-02-28"),
                                            pd.Timestamp("2025-01-31")]
    assert df["arr"].tolist() == [12400.5, 12400.5, 1200.0]
    assert df["logins_per_user"].tolist() == [4.5, 5.0, 3.25]
    source = read_table(fixture("european_latin1.csv")).attrs["source"]
    assert source["delimiter"] == "semicolon" and source["encoding"] == "cp1252"


def test_tab_separated_utf8_bom_file_with_month_first_dates():
    portfolio = load_portfolio(fixture("us_bom.tsv"))
    roles = portfolio.roles
    assert (roles.account_id, roles.account_name, roles.snapshot_date, roles.renewal_date) == (
        "Customer ID", "Company", "As Of Date", "Renewal Date")
    df = portfolio.df
    assert df["snapshot_date"].tolist()[:2] == [pd.Timestamp("2025-01-31"), pd.Timestamp("2025-02-28")]
    assert df["renewal_date"].iloc[0] == pd.Timestamp("2025-06-30")
    assert df["churned"].tolist() == [True, True, False]
    assert df["health_label"].tolist() == ["struggling", "struggling", "healthy"]
    assert df["NPS"].isna().tolist() == [False, False, True]


def test_numbers_as_people_write_them():
    df = load_portfolio(fixture("messy_numbers.csv")).df
    assert df["arr"].tolist() == [12400.0, 1200.0, 950.0, 4000.0]
    assert df["adoption"].tolist()[:2] == [12.0, 45.5] and np.isnan(df["adoption"].iloc[2])
    assert df["balance"].tolist() == [-300.0, 1200.0, 0.0, -50.0]
    assert df["open_tickets"].isna().tolist() == [True, True, True, False]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$12,400", 12400.0, id="currency_and_thousands"),
        pytest.param("1,200", 1200.0, id="thousands"),
        pytest.param("12%", 12.0, id="percent_keeps_the_number"),
        pytest.param("(300)", -300.0, id="accounting_negative"),
        pytest.param("-$45.50", -45.5, id="negative_currency"),
        pytest.param("€ 1 200", 1200.0, id="spaces_as_thousands"),
        pytest.param("2.5k", 2500.0, id="thousands_suffix"),
        pytest.param("1e3", 1000.0, id="scientific"),
    ],
)
def test_parse_numbers_reads_formatted_values(text: str, expected: float):
    values, bad = parse_numbers(pd.Series([text, "7"], dtype=object))
    assert values.iloc[0] == pytest.approx(expected)
    assert not bad.any()


@given(st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False))
def test_parse_numbers_reads_back_any_amount_written_as_currency(amount):
    x = float(amount)
    text = f"${abs(x):,.2f}" if x >= 0 else f"(${abs(x):,.2f})"
    values, bad = parse_numbers(pd.Series([text], dtype=object))
    assert values.iloc[0] == pytest.approx(x, abs=1e-6) and not bad.any()


@pytest.mark.parametrize("blank", ["", "n/a", "N/A", "-", "—", "null", "NaN", "  "])
def test_parse_numbers_treats_blank_tokens_as_missing_not_bad(blank: str):
    values, bad = parse_numbers(pd.Series([blank, "3"], dtype=object))
    assert np.isnan(values.iloc[0]) and values.iloc[1] == 3.0
    assert not bad.any()


def test_parse_numbers_detects_decimal_comma_columns():
    values, bad = parse_numbers(pd.Series(["1.234,5", "12,25", "1.234", "7"], dtype=object))
    assert values.tolist() == [1234.5, 12.25, 1234.0, 7.0]
    assert not bad.any()


def test_parse_numbers_flags_text_that_is_not_a_number():
    values, bad = parse_numbers(pd.Series(["4", "lots", "#DIV/0!", None], dtype=object))
    assert bad.tolist() == [False, True, True, False]
    assert values.iloc[0] == 4.0


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        pytest.param("2025-01-31", None, "2025-01-31", id="iso"),
        pytest.param("2025-01-31T13:45:00Z", None, "2025-01-31", id="iso_with_time"),
        pytest.param("2025/1/5", None, "2025-01-05", id="iso_slashes"),
        pytest.param("31/01/2025", "DMY", "2025-01-31", id="day_first"),
        pytest.param("01/31/2025", "MDY", "2025-01-31", id="month_first"),
        pytest.param("31.01.25", "DMY", "2025-01-31", id="two_digit_year_dots"),
        pytest.param("31 Jan 2025", None, "2025-01-31", id="month_name"),
    ],
)
def test_parse_dates_reads_common_formats_at_day_precision(text: str, order: str | None, expected: str):
    values, bad = parse_dates(pd.Series([text, None], dtype=object), order)
    assert values.iloc[0] == pd.Timestamp(expected)
    assert pd.isna(values.iloc[1]) and not bad.any()


def test_parse_dates_flags_impossible_dates():
    values, bad = parse_dates(pd.Series(["2025-02-30", "2025-02-28"], dtype=object))
    assert bad.tolist() == [True, False]


def test_file_without_snapshot_date_is_one_snapshot_on_the_callers_date():
    portfolio = load_portfolio(fixture("single_snapshot.csv"), snapshot_date="2025-03-31")
    assert portfolio.df["snapshot_date"].unique().tolist() == [pd.Timestamp("2025-03-31")]
    assert portfolio.warnings == []


def test_file_without_snapshot_date_and_no_date_given_warns_it_used_today():
    portfolio = load_portfolio(fixture("single_snapshot.csv"))
    assert portfolio.df["snapshot_date"].iloc[0] == pd.Timestamp.today().normalize()
    assert "no snapshot date column" in portfolio.warnings[0]


def test_outcome_named_renewed_inverts_yes_and_unknown_values_warn():
    portfolio = load_portfolio(fixture("outcomes_and_labels.csv"))
    assert portfolio.roles.outcome == "renewed" and portfolio.roles.health_label == "known_health"
    assert portfolio.df["churned"].tolist()[:2] == [False, True]
    assert portfolio.df["churned"].isna().tolist() == [False, False, True, True]
    assert portfolio.df["health_label"].tolist()[:2] == ["healthy", "struggling"]
    text = "\n".join(portfolio.warnings)
    assert "column 'renewed': 1 value(s) are not churn outcomes (row 5; e.g. 'maybe')" in text
    assert "column 'known_health': 1 value(s) are not health labels (row 5; e.g. 'great')" in text


def canonical_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Account ID": [17, 18, 17],
            "Snapshot": pd.to_datetime(["2025-01-31", "2025-01-31", "2025-02-28"]),
            "Plan": ["Pro", "Basic", "Pro"],
            "logins": [4.0, 2.5, np.nan],
            "sentiment": ["green", "red", "yellow"],
        }
    )


def test_excel_workbook_keeps_types_and_reads_the_first_sheet(tmp_path: Path):
    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path) as writer:
        canonical_frame().to_excel(writer, sheet_name="Accounts", index=False)
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="Notes", index=False)
    portfolio = load_portfolio(path)
    df = portfolio.df
    assert df["account_id"].tolist() == ["17", "17", "18"]
    assert df["snapshot_date"].tolist()[1] == pd.Timestamp("2025-02-28")
    assert df["sentiment"].tolist() == ["green", "yellow", "red"]
    assert "read the first sheet 'Accounts' of 2" in portfolio.warnings[0]


def test_excel_title_rows_above_the_table_are_skipped(tmp_path: Path):
    path = tmp_path / "report.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["Health export Q1"]]).to_excel(writer, index=False, header=False)
        canonical_frame().to_excel(writer, index=False, startrow=2)
    portfolio = load_portfolio(path)
    assert portfolio.roles.account_id == "Account ID"
    assert len(portfolio.df) == 3
    assert "the column names are on row 3" in portfolio.warnings[0]


def write_same_table_as_csv_and_excel(tmp_path: Path) -> tuple[Path, Path]:
    """One small export written by a CRM as CSV and as .xlsx: ids typed as text (leading zeros), amounts as
    text ("$11,500"), dates, counts and a numeric tier as numbers, blanks as empty cells."""
    from openpyxl import Workbook

    header = ["Acct No", "As-Of Date", "Tier", "ARR ($)", "Logins/User", "CSM Pulse", "Churned?"]
    rows = [
        ["037822", dt.date(2025, 1, 31), 1, "$11,500", 4.5, "Red", "No"],
        ["037822", dt.date(2025, 2, 28), 1, "$11,500", None, "Amber", "No"],
        ["000451", dt.date(2025, 1, 31), None, "$1,200.50", 12, None, "Yes"],
        ["120034", dt.date(2025, 2, 28), 2, None, 0.25, "Green", None],
    ]
    csv = tmp_path / "export.csv"
    text = [[v.isoformat() if isinstance(v, dt.date) else "" if v is None else str(v) for v in r] for r in rows]
    pd.DataFrame(text, columns=header).to_csv(csv, index=False)
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    for (cell,) in sheet.iter_rows(min_row=2, max_col=1):
        cell.number_format = "@"  # Excel's Text format, as a CRM export sets it for ids
    xlsx = tmp_path / "export.xlsx"
    book.save(xlsx)
    return csv, xlsx


def test_same_table_as_csv_and_as_excel_loads_the_same_with_text_ids_kept(tmp_path: Path):
    csv, xlsx = write_same_table_as_csv_and_excel(tmp_path)
    from_csv, from_excel = load_portfolio(csv), load_portfolio(xlsx)
    assert from_excel.df["account_id"].tolist() == ["000451", "037822", "037822", "120034"]
    assert from_excel.roles == from_csv.roles
    pd.testing.assert_frame_equal(from_excel.df, from_csv.df)
    assert from_excel.df["Tier"].tolist()[1:] == ["1", "1", "2"]  # whole numbers with a blank: "1", not "1.0"
    assert from_excel.df["ARR ($)"].tolist()[:2] == [1200.5, 11500.0]


def test_excel_cells_typed_as_numbers_keep_their_type_and_text_cells_stay_text(tmp_path: Path):
    _, xlsx = write_same_table_as_csv_and_excel(tmp_path)
    raw = read_table(xlsx)
    assert raw["Acct No"].tolist() == ["037822", "037822", "000451", "120034"]
    assert raw["Logins/User"].dtype == np.float64 and raw["As-Of Date"].dtype == "datetime64[ns]"
    assert raw["ARR ($)"].tolist()[0] == "$11,500"


def test_ids_typed_as_whole_numbers_read_like_csv_and_huge_ones_do_not_fail():
    raw = pd.DataFrame({"account_id": [17.0, np.nan, 1e20], "logins": [1.0, 2.0, 3.0]})
    df = load_portfolio(raw, "x.xlsx", snapshot_date="2025-01-31").df
    assert df["account_id"].tolist() == ["17.0", "1e+20"]  # not all exact integers: read as written
    raw["account_id"] = [17.0, np.nan, 18.0]
    assert load_portfolio(raw, "x.xlsx", snapshot_date="2025-01-31").df["account_id"].tolist() == ["17", "18"]


def test_parse_numbers_keeps_cells_typed_as_numbers_among_text():
    values, bad = parse_numbers(pd.Series(["12,5", "3,25", 1.234, 7, "lots"], dtype=object))
    assert values.tolist()[:4] == [12.5, 3.25, 1.234, 7.0]  # decimal commas in the text; 1.234 as typed
    assert bad.tolist() == [False, False, False, False, True]


def test_damaged_workbook_names_the_file_and_the_fix(tmp_path: Path):
    _, xlsx = write_same_table_as_csv_and_excel(tmp_path)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(xlsx.read_bytes()[:600])  # a zip cut short, as from an interrupted download
    with pytest.raises(IngestError, match=r"^broken\.xlsx: could not read the workbook: .* — open it in Excel and "
                                          r"save it again as \.xlsx, or export CSV$"):
        load_portfolio(broken)


def test_macro_enabled_workbook_is_read_like_xlsx(tmp_path: Path):
    _, xlsx = write_same_table_as_csv_and_excel(tmp_path)
    xlsm = tmp_path / "export.xlsm"
    xlsm.write_bytes(xlsx.read_bytes())
    assert load_portfolio(xlsm).df["account_id"].tolist()[0] == "000451"


def test_dataframe_source_with_a_non_integer_index_is_renumbered():
    frame = canonical_frame().astype({"logins": object}).set_index(pd.Index(["a", "b", "c"]))
    frame.loc["b", "logins"] = "many"
    portfolio = load_portfolio(frame, "frame.csv")
    assert "(row 3; e.g. 'many')" in portfolio.warnings[0]


def test_parquet_file_loads_with_detected_roles(tmp_path: Path):
    path = tmp_path / "export.parquet"
    canonical_frame().to_parquet(path)
    portfolio = load_portfolio(path)
    assert portfolio.roles.account_id == "Account ID" and portfolio.roles.snapshot_date == "Snapshot"
    assert portfolio.roles.segments == ("Plan",) and portfolio.roles.metrics == ("logins", "sentiment")
    assert portfolio.df["logins"].dtype == np.float64
    assert portfolio.df["sentiment"].dtype == object


def test_uploaded_bytes_load_like_a_path():
    data = fixture("us_bom.tsv").read_bytes()
    from_bytes = load_portfolio(io.BytesIO(data), "us_bom.tsv").df
    pd.testing.assert_frame_equal(from_bytes, load_portfolio(fixture("us_bom.tsv")).df)


def test_canonical_table_types_and_order():
    df = load_portfolio(fixture("us_bom.tsv")).df
    assert list(df.columns[:3]) == ["account_id", "account_name", "snapshot_date"]
    assert df["snapshot_date"].dtype == "datetime64[ns]"
    assert df["churned"].dtype == "boolean"
    assert df["NPS"].dtype == np.float64


def test_arr_is_kept_under_the_files_own_column_name_too(tmp_path: Path):
    path = tmp_path / "export.csv"
    written = foreign_portfolio(accounts=12, snapshots=2)
    written.to_csv(path, index=False)
    portfolio = load_portfolio(path)
    assert portfolio.roles.arr == ARR
    df = portfolio.df
    assert df[ARR].dtype == np.float64
    assert df[ARR].tolist() == df["arr"].tolist()
    amounts = written[ARR].str.replace(r"[$,]", "", regex=True).astype(float)  # "$11,500" as written
    assert sorted(df[ARR]) == sorted(amounts)


@pytest.mark.parametrize(("arr", "metric"), [("ARR", "logins"), ("Revenue", "revenue")],
                         ids=["arr_in_capitals", "same_name_as_a_metric_but_for_case"])
def test_arr_is_not_copied_where_the_name_would_clash(arr: str, metric: str):
    raw = pd.DataFrame({"account_id": ["a", "b"], arr: ["$1,000", "$2,000"], metric: ["1", "2"]})
    df = load_portfolio(raw, "x.csv", roles=Roles(account_id="account_id", arr=arr, metrics=(metric,)),
                        snapshot_date="2025-01-31").df
    assert df.columns.tolist() == ["account_id", "snapshot_date", "arr", metric]
    assert df["arr"].tolist() == [1000.0, 2000.0]


def test_outcome_and_label_are_checked_against_by_both_their_names():
    roles = Roles(account_id="Acct #", arr=ARR, outcome=CHURNED, health_label=STATUS)
    found = roles.checked_against()
    assert set(found) == {CHURNED, "churned", STATUS, "health_label"}
    assert found[CHURNED] == found["churned"] == "the outcome (churned / renewed)"
    assert found[STATUS] == "the known-health label"
    assert set(Roles().checked_against()) == {"churned", "health_label"}


# ---------------------------------------------------------------------------------------------------
# Role detection: a confidence and a reason per column
# ---------------------------------------------------------------------------------------------------
def test_detection_gives_reason_with_distinct_count_and_blanks():
    report = detect_roles(read_table(fixture("us_bom.tsv")))
    account = report.get("Customer ID")
    assert account.role == "account_id" and account.confidence >= 0.9
    assert account.reason == "name matches 'account id'; 2 distinct values, no blanks"
    assert report.get("NPS").role == "metric" and "1 blank" in report.get("NPS").reason
    assert report.date_order == "MDY"


def test_detection_recognises_categorical_metrics_and_segments():
    report = detect_roles(canonical_frame())
    assert report.get("Plan").role == "segment"
    sentiment = report.get("sentiment")
    assert sentiment.role == "metric" and sentiment.kind == "categorical"
    assert report.to_frame().columns.tolist() == ["column", "role", "confidence", "kind", "reason"]


def test_unnamed_id_like_column_is_found_from_its_values_with_lower_confidence():
    df = pd.DataFrame({"ref": [f"CUST-{i:04d}" for i in range(30)], "logins": np.arange(30.0)})
    found = detect_roles(df).get("ref")
    assert found.role == "account_id" and found.confidence == 0.6
    assert "values look like identifiers ('CUST-0000', 'CUST-0001'); 30 distinct values, no blanks" in found.reason


def test_free_text_column_is_ignored():
    df = pd.DataFrame({"account_id": [f"A{i}" for i in range(100)],
                       "comment": [f"called on day {i}, will follow up" for i in range(100)]})
    assert detect_roles(df).get("comment").role == "ignore"


def test_roles_round_trip_through_a_dict_and_reject_unknown_keys():
    roles = Roles(account_id="id", snapshot_date="d", segments=("size",), metrics=("a", "b"))
    assert Roles.from_dict(roles.to_dict()) == roles
    with pytest.raises(IngestError, match="unknown role 'acount_id'"):
        Roles.from_dict({"acount_id": "id"}, source="roles.yaml")


def test_canonical_roles_name_the_loaded_tables_columns():
    portfolio = load_portfolio(fixture("us_bom.tsv"))
    canonical = portfolio.roles.canonical()
    assert canonical.account_id == "account_id" and canonical.outcome == "churned"
    assert set(canonical.columns()) <= set(portfolio.df.columns)


def test_explicit_roles_override_detection():
    roles = Roles(account_id="Customer ID", snapshot_date="As Of Date", metrics=("NPS",), segments=("health",))
    df = load_portfolio(fixture("us_bom.tsv"), roles=roles).df
    assert df.columns.tolist() == ["account_id", "snapshot_date", "health", "NPS"]
    assert df["health"].tolist() == ["at risk", "at risk", "healthy"]


# ---------------------------------------------------------------------------------------------------
# inspect (the CLI report)
# ---------------------------------------------------------------------------------------------------
def test_inspect_report_shows_reading_roles_and_problems():
    text = inspect_file(fixture("european_latin1.csv"))
    assert "File: european_latin1.csv (text, encoding cp1252, delimiter semicolon)" in text
    assert "Kunden-ID" in text and "account_id" in text
    assert "Date order: DMY" in text
    assert "Accounts: 2  Snapshots: 2 (2025-01-31 to 2025-02-28)" in text
    assert "Problems: none" in text


def test_inspect_lists_a_loading_error_as_a_problem():
    text = inspect_file(fixture("duplicate_rows.csv"))
    assert "ERROR duplicate_rows.csv, row 2" in text


def test_inspect_raises_when_the_file_cannot_be_read():
    with pytest.raises(IngestError, match="the file is empty"):
        inspect_file(fixture("empty.csv"))


def test_detection_reads_crm_names_such_as_acct_hash_and_renewal_on():
    from tests.foreign import foreign_portfolio

    roles = detect_roles(foreign_portfolio(accounts=6, snapshots=3)).roles
    assert (roles.account_id, roles.snapshot_date, roles.arr) == ("Acct #", "As-Of Date", "ARR ($)")
    assert (roles.renewal_date, roles.outcome) == ("Renewal On", "Churned?")
