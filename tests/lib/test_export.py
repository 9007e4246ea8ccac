"""Exports: spreadsheets hold the right numbers and never run formulas; charts and decks open and show them."""

import csv
import datetime as dt
import io
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from openpyxl import load_workbook
from pptx import Presentation
from pptx.util import Inches

from lib import export
from lib.export import ExportError

HOSTILE = ['=HYPERLINK("http://evil.example","click")', "+1", "-cmd", "@SUM(A1:A9)", "\t=1", "\r=1"]
NO_BROWSER = "/nonexistent/chromium"  # BROWSER_PATH that cannot be run: the "no browser installed" case


@pytest.fixture
def scores() -> pd.DataFrame:
    """A small score table in the engine's shape, with hostile account ids and a hostile metric header."""
    ids = [*HOSTILE, "ACC-7"]
    n = len(ids)
    return pd.DataFrame(
        {
            "account_id": ids,
            "snapshot_date": pd.to_datetime(["2026-09-01"] * (n - 1) + ["2026-10-01"]),
            "profile": ["Default"] * n,
            "score": [12.5, 35.0, 55.25, 71.0, 90.0, np.nan, 64.4],
            "band": ["red", "yellow", "yellow", "green", "green", "no data", "yellow"],
            "grade": ["F", "F", "C", "B", "A", None, "C"],
            "change": [-20.5, np.nan, 3.0, -1.0, 0.0, np.nan, -7.25],
            "rank_in_band": [1, 1, 2, 1, 2, 1, 3],
            "alerts": ["Steep drop; Turned red", "", "", "", "", "", "Steep drop"],
            "=cmd|' /C calc'!A0_score": [10.0, 20.0, 30.0, 40.0, 50.0, np.nan, -5.0],
            "logins_weight": [0.6, 0.6, 0.6, 0.6, 0.6, np.nan, 0.6],
        }
    )


def _figure(title: str, x: list, y: list, name: str = "Accounts") -> go.Figure:
    return go.Figure(go.Bar(x=x, y=y, name=name), layout={"title": {"text": title}})


# --- neutralise_formulas ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_neutralise_formulas_prefixes_a_quote_to_cells_and_headers_that_start_a_formula(text):
    df = pd.DataFrame({text: [text, "plain"]})
    out = export.neutralise_formulas(df)
    assert list(out.columns) == ["'" + text]
    assert out.iloc[:, 0].tolist() == ["'" + text, "plain"]


def test_neutralise_formulas_leaves_numbers_missing_values_and_safe_text_alone():
    df = pd.DataFrame(
        {
            "delta": [-5.0, 3.0, np.nan],
            "mixed": pd.Series([-7, "-x", None], dtype=object),
            "name": ["Acme", "a=b", np.nan],
            "when": pd.to_datetime(["2026-01-01", None, "2026-03-01"]),
        }
    )
    out = export.neutralise_formulas(df)
    assert out["delta"].dtype == float and out["delta"].iloc[0] == -5.0
    assert out["mixed"].tolist()[:2] == [-7, "'-x"] and out["mixed"].iloc[2] is None
    assert out["name"].iloc[:2].tolist() == ["Acme", "a=b"] and pd.isna(out["name"].iloc[2])
    assert out["when"].equals(df["when"])


def test_neutralise_formulas_handles_string_and_category_columns_without_touching_the_input():
    df = pd.DataFrame(
        {"s": pd.array(["=1", "ok", None], dtype="string"), "c": pd.Categorical(["@x", "ok", "@x"])}
    )
    out = export.neutralise_formulas(df)
    assert out["s"].tolist()[:2] == ["'=1", "ok"] and pd.isna(out["s"].iloc[2])
    assert out["c"].tolist() == ["'@x", "ok", "'@x"]
    assert df["s"].iloc[0] == "=1" and df["c"].iloc[0] == "@x"


# --- Excel ------------------------------------------------------------------------------------------


def test_scores_excel_cells_hold_the_score_table_values(scores):
    data = export.scores_excel(scores, model_name="Default", model_version=3, bands=(40, 70))
    ws = load_workbook(io.BytesIO(data))["Scores"]
    rows = list(ws.iter_rows(values_only=True))
    assert len(rows) == len(scores) + 1
    body = pd.DataFrame(rows[1:], columns=range(len(rows[0])))
    for j, column in enumerate(scores.columns):
        expected, got = scores[column], body[j]
        if pd.api.types.is_numeric_dtype(expected):
            np.testing.assert_array_equal(got.astype(float).to_numpy(), expected.astype(float).to_numpy())
    assert body[1].tolist() == [d.to_pydatetime() for d in scores["snapshot_date"]]
    assert body[4].tolist() == scores["band"].tolist()
    assert body[8].fillna("").tolist() == scores["alerts"].tolist()


def test_scores_excel_stores_hostile_names_and_headers_as_quoted_text_never_formulas(scores):
    ws = load_workbook(io.BytesIO(export.scores_excel(scores, model_name="=Evil()", model_version=1)))["Scores"]
    assert [c.value for c in ws["A"][1:7]] == ["'" + h for h in HOSTILE]
    assert ws.cell(1, 10).value == "'=cmd|' /C calc'!A0_score"
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert ws.cell(8, 10).value == -5 and ws.cell(8, 10).data_type == "n"


def test_scores_excel_formats_the_scores_sheet_for_reading(scores):
    ws = load_workbook(io.BytesIO(export.scores_excel(scores, model_name="Default", model_version=3)))["Scores"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:K{len(scores) + 1}"
    assert ws["B2"].number_format == "YYYY-MM-DD"
    assert ws["D2"].number_format == "0.0"
    assert ws["K2"].number_format == "0.0%"
    assert 8 <= ws.column_dimensions["A"].width <= 50


def test_scores_excel_about_sheet_names_model_version_rows_and_band_cutoffs(scores):
    data = export.scores_excel(
        scores, model_name="@Default", model_version=4, bands={"red": 40, "yellow": 70}, about={"Segment": "EMEA"}
    )
    about = dict(list(load_workbook(io.BytesIO(data))["About"].iter_rows(values_only=True))[1:])
    assert about["Model"] == "'@Default"
    assert about["Model version"] == "v4"
    assert about["Rows"] == len(scores) and about["Accounts"] == len(scores)
    assert about["Snapshots"] == "2026-09-01 to 2026-10-01 (2 dates)"
    assert about["Red band"] == "score ≤ 40" and about["Green band"] == "score > 70"
    assert about["Segment"] == "EMEA"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", about["Exported"])


def test_scores_excel_drops_control_characters_before_neutralising():
    df = pd.DataFrame({"account_name": ["\x00=cmd", "ok\x07"]})
    ws = load_workbook(io.BytesIO(export.scores_excel(df, model_name="m", model_version=1)))["Scores"]
    assert [ws["A2"].value, ws["A3"].value] == ["'=cmd", "ok"]


def test_scores_excel_refuses_more_rows_than_a_sheet_holds():
    too_many = pd.DataFrame({"score": np.zeros(export.EXCEL_MAX_ROWS, dtype=np.float32)})
    with pytest.raises(ExportError, match="export CSV instead"):
        export.scores_excel(too_many, model_name="m", model_version=1)


def test_scores_excel_reports_progress_up_to_done(scores):
    seen: list[tuple[float, str]] = []
    export.scores_excel(scores, model_name="m", model_version=1, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(message for _, message in seen)


# --- CSV --------------------------------------------------------------------------------------------


def test_scores_csv_round_trips_numbers_and_names_the_model_on_every_row(scores):
    data = export.scores_csv(scores, model_name="Default", model_version=3)
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the file as UTF-8
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    np.testing.assert_array_equal(back["score"].to_numpy(), scores["score"].to_numpy())
    np.testing.assert_array_equal(back["'=cmd|' /C calc'!A0_score"].to_numpy(), scores.iloc[:, 9].to_numpy())
    assert back["snapshot_date"].tolist()[-2:] == ["2026-09-01", "2026-10-01"]
    assert set(back["model"]) == {"Default"} and set(back["model_version"]) == {"v3"}
    assert back["account_id"].tolist() == ["'" + h for h in HOSTILE] + ["ACC-7"]


def test_scores_csv_quotes_every_text_field_and_none_starts_a_formula(scores):
    text = export.scores_csv(scores, model_name="-Bad", model_version=None).decode("utf-8-sig")
    # QUOTE_NONNUMERIC reading turns unquoted fields into floats: every text field must have been quoted.
    rows = list(csv.reader(io.StringIO(text, newline=""), quoting=csv.QUOTE_NONNUMERIC))
    text_fields = [f for row in rows for f in row if isinstance(f, str)]
    assert not [f for f in text_fields if f.startswith(export.FORMULA_PREFIXES)]
    assert [row[-2:] for row in rows[1:]] == [["'-Bad", "unsaved"]] * len(scores)
    assert rows[1][6] == -20.5  # a negative number is still a number


# --- file names -------------------------------------------------------------------------------------


def test_export_filename_carries_kind_model_version_and_date():
    name = export.export_filename("health-scores", "Default", 3, "xlsx", on=dt.date(2026, 11, 23))
    assert name == "health-scores_default_v3_2026-11-23.xlsx"


@pytest.mark.parametrize(
    ("model_name", "slug"),
    [
        ("../../etc/passwd", "etc-passwd"),
        ("=cmd|' /C calc'!A0", "cmd-c-calc-a0"),
        ("Tomás Q4 \"Renewals\"; rm -rf /", "tomas-q4-renewals-rm-rf"),
        ("", "model"),
        ("∑∑∑", "model"),
    ],
)
def test_export_filename_slugs_hostile_model_names_to_safe_text(model_name, slug):
    name = export.export_filename("qbr-deck", model_name, "v2", ".PPTX", on=dt.date(2026, 1, 2))
    assert name == f"qbr-deck_{slug}_v2_2026-01-02.pptx"
    assert re.fullmatch(r"[a-z0-9_-]+\.[a-z0-9]+", name)


def test_export_filename_marks_unsaved_models_and_rejects_odd_extensions():
    name = export.export_filename("scores", "M", None, "csv", on=dt.date(2026, 1, 2))
    assert name == "scores_m_unsaved_2026-01-02.csv"
    with pytest.raises(ExportError, match="extension"):
        export.export_filename("scores", "M", 1, "csv/../../x")


# --- HTML -------------------------------------------------------------------------------------------


def test_figure_html_inlines_plotly_js_and_loads_nothing_from_the_network():
    fig = _figure("R&amp;D <b>renewals</b> </script><script>alert(1)</script>", ["red", "green"], [3, 9])
    page = export.figure_html(fig).decode("utf-8")
    assert re.search(r"plotly\.js v\d+\.\d+", page)  # the library's own banner: it is inlined
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert "<title>R&amp;D renewals alert(1)</title>" in page  # plain text title, tags dropped, escaped
    assert "<script>alert(1)" not in page


# --- PNG --------------------------------------------------------------------------------------------

needs_browser = pytest.mark.skipif(
    export.png_unavailable_reason() is not None,
    reason=f"PNG export needs Chrome/Chromium: {export.png_unavailable_reason()}",
)


@needs_browser
def test_figures_png_returns_a_png_of_the_requested_pixel_size():  # in a browser session of its own
    data = export.figures_png([_figure("Band mix", ["red", "green"], [3, 9])], width=400, height=300, scale=2)[0]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert export.png_size(data) == (800, 600)


@pytest.fixture(scope="module")
def renderer():
    """One browser session shared by the PNG tests that accept a renderer (start-up is the slow part)."""
    with export.PngRenderer() as session:
        yield session


@needs_browser
def test_figures_png_renders_several_figures_in_a_reused_session_with_progress(renderer):
    seen: list[float] = []
    figures = [_figure("A", ["x"], [1]), _figure("B", ["y"], [2])]
    images = export.figures_png(
        figures, width=320, height=200, scale=1, progress=lambda f, m: seen.append(f), renderer=renderer
    )
    assert [export.png_size(i) for i in images] == [(320, 200), (320, 200)]
    assert images[0] != images[1]
    assert seen[0] == 0.0 and seen[-1] == 1.0 and 0.5 in seen
    again = export.figures_png(figures[:1], width=100, height=80, scale=3, renderer=renderer)  # still open
    assert export.png_size(again[0]) == (300, 240)


def test_png_export_without_a_browser_raises_an_error_that_says_how_to_fix_it(monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", NO_BROWSER)
    reason = export.png_unavailable_reason()
    assert reason is not None and NO_BROWSER in reason and "apt-get install chromium" in reason
    with pytest.raises(ExportError, match="BROWSER_PATH"):
        export.figures_png([_figure("A", ["x"], [1])])


def test_png_size_rejects_data_that_is_not_a_png():
    with pytest.raises(ExportError, match="not a PNG"):
        export.png_size(b"GIF89a" + bytes(30))


# --- QBR deck ---------------------------------------------------------------------------------------


def _deck_figures() -> tuple[list[go.Figure], list[go.Figure]]:
    portfolio = [
        _figure("<b>Band mix</b><br>EMEA, Oct 2026", ["red", "yellow", "green"], [12, 30, 58], name="Accounts"),
        _figure("ARR by band", ["red", "yellow", "green"], [1.5e6, 4e6, 9.25e6], name="ARR"),
    ]
    history = go.Figure(
        go.Scatter(x=pd.date_range("2026-01-01", periods=10, freq="MS"), y=np.linspace(80, 35, 10), name="Acme"),
        layout={"title": {"text": "Acme: score history"}},
    )
    return portfolio, [history]


def _titles(prs: Presentation) -> list[str]:
    return [slide.shapes.title.text for slide in prs.slides]


def test_qbr_deck_has_title_chart_and_takeaway_slides_in_16_9():
    portfolio, account = _deck_figures()
    data = export.qbr_deck(
        portfolio, account, title="EMEA QBR", subtitle="EMEA · October 2026", notes="Red share down\n\nRenew Acme",
        model_name="Default", model_version=5, images=False,
    )
    prs = Presentation(io.BytesIO(data))
    assert (prs.slide_width, prs.slide_height) == (Inches(13.333), Inches(7.5))
    assert _titles(prs) == ["EMEA QBR", "Band mix — EMEA, Oct 2026", "ARR by band", "Acme: score history", "Takeaways"]
    cover = prs.slides[0].placeholders[1].text_frame.text
    assert "EMEA · October 2026" in cover and "Health model: Default (v5)" in cover
    assert [p.text for p in prs.slides[-1].placeholders[1].text_frame.paragraphs] == ["Red share down", "Renew Acme"]


def test_qbr_deck_without_pictures_shows_each_charts_data_as_a_table(monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", NO_BROWSER)
    portfolio, account = _deck_figures()
    prs = Presentation(io.BytesIO(export.qbr_deck(
        portfolio, account, title="QBR", model_name="Default", model_version=5,
    )))
    assert len(prs.slides) == 5
    band_slide = prs.slides[1]
    texts = [s.text_frame.text for s in band_slide.shapes if s.has_text_frame]
    assert any("Chart picture not available" in t and "Chromium" in t for t in texts)
    table = next(s for s in band_slide.shapes if s.has_table).table
    assert (table.cell(1, 0).text, table.cell(1, 1).text) == ("Accounts", "red: 12; yellow: 30; green: 58")
    history = next(s for s in prs.slides[3].shapes if s.has_table).table
    assert history.cell(1, 1).text.startswith("10 points; first 2026-01-01: 80; last 2026-10-01: 35")
    assert not [s for slide in prs.slides for s in slide.shapes if s.shape_type == 13]  # no pictures


@needs_browser
def test_qbr_deck_embeds_each_chart_as_a_picture_with_alt_text(renderer):
    portfolio, account = _deck_figures()
    seen: list[float] = []
    data = export.qbr_deck(
        portfolio, account, title="QBR", notes=["One"], model_name="Default", model_version=2,
        progress=lambda f, m: seen.append(f), renderer=renderer,
    )
    prs = Presentation(io.BytesIO(data))
    pictures = [s for slide in list(prs.slides)[1:-1] for s in slide.shapes if s.shape_type == 13]
    assert len(pictures) == 3
    assert all(export.png_size(p.image.blob) == (2400, 1090) for p in pictures)
    assert pictures[2]._element.nvPicPr.cNvPr.get("descr") == "Acme: score history"
    assert seen == sorted(seen) and seen[-1] == 1.0


# --- on the sample portfolio scored by the engine ---------------------------------------------------


def test_scores_excel_and_csv_of_the_scored_sample_hold_the_engines_numbers():
    from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio
    from lib.engine.model import load_model
    from lib.engine.sql import score

    model = load_model(DEFAULT_MODEL_PATH)
    scores = score(model, generate_portfolio(n_accounts=150, n_snapshots=3))
    data = export.scores_excel(scores, model_name=model.name, model_version=1, bands=model.bands)
    book = load_workbook(io.BytesIO(data))
    rows = list(book["Scores"].iter_rows(values_only=True))
    back = pd.DataFrame(rows[1:], columns=rows[0])
    assert list(back.columns) == list(scores.columns)
    numeric = scores.select_dtypes("number").columns
    np.testing.assert_allclose(back[numeric].astype(float).to_numpy(), scores[numeric].to_numpy(), equal_nan=True)
    assert back["band"].tolist() == scores["band"].tolist()
    about = dict(list(book["About"].iter_rows(values_only=True))[1:])
    assert (about["Model"], about["Red band"]) == ("Default", f"score ≤ {model.bands.red:g}")
    csv_back = pd.read_csv(io.BytesIO(export.scores_csv(scores, model_name=model.name, model_version=1)))
    np.testing.assert_allclose(csv_back[numeric].to_numpy(), scores[numeric].to_numpy(), equal_nan=True)
