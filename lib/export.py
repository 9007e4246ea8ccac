"""Exports for sharing health scores: CSV / Excel score tables, chart HTML / PNG, and a QBR PowerPoint deck.

Everything a spreadsheet might open is first cleaned by `neutralise_formulas` (OWASP CSV-injection guidance):
a text cell or header that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading
single quote, so Excel, LibreOffice or Google Sheets show it as text instead of running it. Numbers stay
numbers. Account names, column names and model names are user data and go through the same cleaning.

PNG export renders charts in a headless Chrome/Chromium through kaleido 1.x (via choreographer). The browser
is found the way choreographer finds it: the ``BROWSER_PATH`` environment variable first, then ``chromium`` /
``google-chrome`` / … on ``PATH``, then the usual install paths (Debian: ``/usr/bin/chromium``). Nothing is
downloaded: plotly.js is loaded from the installed plotly package and MathJax is switched off. Starting the
browser takes a second or two, so render several figures in one `PngRenderer` session (`figures_png`).

Long exports take an optional ``progress(fraction, message)`` callback; a page maps it to ``st.progress``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import html
import io
import re
import struct
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

ProgressFn = Callable[[float, str], None]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXCEL_MAX_ROWS = 1_048_576  # Excel's hard sheet limit, header row included

# Number formats for the score table's columns (by name and type).
_ONE_DECIMAL = "0.0"
_PERCENT = "0.0%"
_MONEY = "#,##0"
_INTEGER = "0"
_DATE = "YYYY-MM-DD"

# The deck is 16:9 (13.333 × 7.5 in); charts are rendered at the aspect ratio of the picture area.
_SLIDE_W_IN, _SLIDE_H_IN = 13.333, 7.5
_DECK_IMAGE = {"width": 1200, "height": 545, "scale": 2.0}
_DECK_FONT_SIZE = 16  # chart text readable from the back of a meeting room
_SUMMARY_ROWS = 12

_BROWSER_FIX = (
    "install Chromium (`sudo apt-get install chromium`, or `make browser`) or Google Chrome, or set the "
    "BROWSER_PATH environment variable to the browser's executable; HTML and PowerPoint exports work without it"
)


class ExportError(Exception):
    """An export that cannot be produced; the message says what is wrong and how to fix it."""


def _report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), message)


# --- cleaning -----------------------------------------------------------------------------------


def _is_text_column(s: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)


def _prefix_formulas(s: pd.Series) -> pd.Series:
    """Prefix `'` to the text cells of one column that start a formula; other cells are untouched."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if not _is_text_column(s):
        return s
    try:
        starts = s.str.startswith(FORMULA_PREFIXES, na=False)
    except AttributeError:  # an object column that holds no strings at all (numbers, None)
        return s
    mask = starts.fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        return s
    values = s.to_numpy(dtype=object, copy=True)
    values[mask] = "'" + values[mask]
    return pd.Series(values, index=s.index, name=s.name, dtype=s.dtype)


def _strip_control_characters(s: pd.Series) -> pd.Series:
    """Drop the control characters that XML (hence xlsx) cannot hold; non-text cells are kept as they are."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if not _is_text_column(s):
        return s
    try:
        dirty = s.str.contains(ILLEGAL_CHARACTERS_RE, na=False).fillna(False).to_numpy(dtype=bool)
    except AttributeError:
        return s
    if not dirty.any():
        return s
    values = s.to_numpy(dtype=object, copy=True)
    values[dirty] = pd.Series(values[dirty], dtype=object).str.replace(ILLEGAL_CHARACTERS_RE, "", regex=True)
    return pd.Series(values, index=s.index, name=s.name, dtype=s.dtype)


def _map_columns(df: pd.DataFrame, fn: Callable[[pd.Series], pd.Series]) -> pd.DataFrame:
    out = df.copy()
    # By position, so duplicate column names are handled too.
    for i in range(out.shape[1]):
        out.isetitem(i, fn(out.iloc[:, i]))
    out.columns = pd.Index(fn(pd.Series([str(c) for c in out.columns], dtype=object)).to_numpy(), dtype=object)
    return out


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy in which no text cell or column header can run as a spreadsheet formula.

    Every text cell (object / string / category columns) and header that starts with ``=``, ``+``, ``-``,
    ``@``, tab or carriage return gets a leading single quote ``'``, as OWASP's CSV-injection guidance
    advises. Numeric, boolean and date columns are untouched, so a negative number stays a number; so are
    the non-text values of mixed object columns. Headers become strings.
    """
    return _map_columns(df, _prefix_formulas)


def _spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Control characters removed first (so "\\x00=cmd" cannot turn into "=cmd" later), then neutralised."""
    out = _map_columns(df, _strip_control_characters)
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if isinstance(col.dtype, pd.DatetimeTZDtype):  # Excel has no time zones
            out.isetitem(i, col.dt.tz_localize(None))
    return neutralise_formulas(out)


# --- names --------------------------------------------------------------------------------------


def _version_label(model_version: int | str | None) -> str:
    """``3`` → ``"v3"``; ``None`` (a model not saved yet) → ``"unsaved"``; other text as given."""
    if model_version is None or (isinstance(model_version, str) and not model_version.strip()):
        return "unsaved"
    if isinstance(model_version, (int, np.integer)) and not isinstance(model_version, bool):
        return f"v{int(model_version)}"
    text = str(model_version).strip()
    return f"v{text}" if text.isdigit() else text


def _slug(text: object, fallback: str, max_len: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:max_len].strip("-")
    return slug or fallback


def export_filename(
    kind: str,
    model_name: str,
    model_version: int | str | None,
    ext: str,
    *,
    on: dt.date | None = None,
) -> str:
    """A safe download name carrying the model's name and version, e.g. ``health-scores_default_v3_2026-11-23.xlsx``.

    Args:
        kind: what the file holds ("health-scores", "qbr-deck", "band-mix" …).
        model_name: the model's name; any text (slugged to lowercase ASCII letters, digits and dashes).
        model_version: the saved version number, a label, or None for an unsaved model ("unsaved").
        ext: file extension without or with the dot ("xlsx", ".csv").
        on: the date in the name (default today).

    Returns:
        A name with no path separators, spaces, dots or shell metacharacters outside the extension.

    Raises:
        ExportError: the extension is not 1–8 letters or digits.
    """
    extension = str(ext).strip().lstrip(".").lower()
    if not re.fullmatch(r"[a-z0-9]{1,8}", extension):
        raise ExportError(f"export_filename: extension {ext!r} is not a file extension — use e.g. 'csv' or 'xlsx'")
    day = (on or dt.date.today()).isoformat()
    parts = (_slug(kind, "export"), _slug(model_name, "model"), _slug(_version_label(model_version), "unsaved"))
    return "_".join((*parts, day)) + "." + extension


# --- score tables -------------------------------------------------------------------------------


def scores_csv(
    scores: pd.DataFrame,
    *,
    model_name: str,
    model_version: int | str | None,
    progress: ProgressFn | None = None,
) -> bytes:
    """The score table as CSV bytes (UTF-8 with BOM so Excel shows accented names), safe to open anywhere.

    Two columns are appended on every row, ``model`` and ``model_version``, so the file says which model
    produced it even after it is renamed. Dates are written as YYYY-MM-DD, text fields are quoted and
    neutralised (see `neutralise_formulas`).
    """
    _report(progress, 0.0, "Preparing the CSV…")
    data = table_csv(scores.assign(model=str(model_name), model_version=_version_label(model_version)))
    _report(progress, 1.0, "CSV ready")
    return data


def table_csv(table: pd.DataFrame, date_format: str = "%Y-%m-%d") -> bytes:
    """Any table as CSV bytes (UTF-8 with BOM), text quoted and formula cells neutralised (see
    `neutralise_formulas`); e.g. the audit log, with ``date_format="%Y-%m-%d %H:%M:%S"``."""
    text = _spreadsheet_safe(table).to_csv(index=False, date_format=date_format, quoting=csv.QUOTE_NONNUMERIC,
                                           lineterminator="\n")
    return text.encode("utf-8-sig")


def _number_format(column: str, dtype: Any) -> str | None:
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _DATE  # snapshots are days; pandas' openpyxl writer ignores its own date_format argument
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return None
    if column in ("score", "change", "expansion_score") or column.endswith(("_score", "_contribution")):
        return _ONE_DECIMAL
    if column.endswith("_weight"):
        return _PERCENT  # weights are fractions summing to 1
    if column in ("arr", "arr_at_risk"):
        return _MONEY
    if column == "rank_in_band" or pd.api.types.is_integer_dtype(dtype):
        return _INTEGER
    return None


def _column_widths(table: pd.DataFrame, sample_rows: int = 2000) -> list[int]:
    """Characters per column: the longest header or value in the first rows, clamped to 8–50."""
    sample = table.head(sample_rows)
    widths = []
    for i in range(table.shape[1]):
        values = sample.iloc[:, i]
        longest = values.astype(str).str.len().max() if len(values) else 0
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            longest = 10
        widths.append(int(min(max(len(str(table.columns[i])), longest if pd.notna(longest) else 0, 6) + 2, 50)))
    return widths


def _band_rows(bands: Any) -> list[tuple[str, str]]:
    """Band cut-off lines for the About sheet from a `Bands` (``.red``, ``.yellow``), a mapping or a pair."""
    if bands is None:
        return []
    if isinstance(bands, Mapping):
        red, yellow = bands["red"], bands["yellow"]
    elif hasattr(bands, "red"):
        red, yellow = bands.red, bands.yellow
    else:
        red, yellow = bands
    return [
        ("Red band", f"score ≤ {red:g}"),
        ("Yellow band", f"{red:g} < score ≤ {yellow:g}"),
        ("Green band", f"score > {yellow:g}"),
    ]


def _about_table(
    scores: pd.DataFrame,
    model_name: str,
    model_version: int | str | None,
    bands: Any,
    about: Mapping[str, object] | None,
) -> pd.DataFrame:
    rows: list[tuple[str, object]] = [
        ("Model", str(model_name)),
        ("Model version", _version_label(model_version)),
        ("Exported", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("Rows", len(scores)),
    ]
    if "account_id" in scores.columns:
        rows.append(("Accounts", int(scores["account_id"].nunique())))
    if "snapshot_date" in scores.columns and scores["snapshot_date"].notna().any():
        dates = pd.to_datetime(scores["snapshot_date"])
        n = dates.nunique()
        span = f"{dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d} ({n} date{'s' if n != 1 else ''})"
        rows.append(("Snapshots", span))
    rows += _band_rows(bands)
    rows += [(str(k), v) for k, v in (about or {}).items()]
    return pd.DataFrame(rows, columns=["Field", "Value"])


def scores_excel(
    scores: pd.DataFrame,
    *,
    model_name: str,
    model_version: int | str | None,
    bands: Any = None,
    about: Mapping[str, object] | None = None,
    progress: ProgressFn | None = None,
) -> bytes:
    """The score table as an .xlsx workbook: a "Scores" sheet and an "About" sheet.

    "Scores" holds the table as given (neutralised text, real numbers and dates) with a frozen, filterable
    header, column widths that fit the content and number formats (scores one decimal, weights as percent,
    ARR with thousands separators, dates YYYY-MM-DD). "About" names the model and its version, the export
    time (UTC), row / account / snapshot counts, the band cut-offs and any extra ``about`` lines (e.g. the
    segment filter shown when exporting).

    Args:
        scores: the score table (optionally joined with account attributes).
        model_name: the model's name.
        model_version: saved version number or label; None for an unsaved model.
        bands: the model's band cut-offs: a `Bands` (``.red`` / ``.yellow``), ``{"red":…, "yellow":…}`` or
            ``(red, yellow)``; None leaves them out.
        about: extra "field → value" lines for the About sheet.
        progress: optional ``(fraction, message)`` callback.

    Raises:
        ExportError: more rows than an Excel sheet holds.
    """
    if len(scores) + 1 > EXCEL_MAX_ROWS:
        raise ExportError(
            f"Excel export: {len(scores):,} rows do not fit in one sheet (Excel holds {EXCEL_MAX_ROWS - 1:,} rows "
            "under the header) — filter to fewer snapshot dates or segments, or export CSV instead"
        )
    _report(progress, 0.0, "Preparing the Excel workbook…")
    table = _spreadsheet_safe(scores)
    about_sheet = _spreadsheet_safe(_about_table(scores, model_name, model_version, bands, about))
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as xw:
        table.to_excel(xw, sheet_name="Scores", index=False)
        _report(progress, 0.5, "Formatting the Scores sheet…")
        ws = xw.sheets["Scores"]
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
        for j, width in enumerate(_column_widths(table), start=1):
            ws.column_dimensions[get_column_letter(j)].width = width
        formats = [_number_format(str(c), scores.iloc[:, i].dtype) for i, c in enumerate(scores.columns)]
        for j, fmt in enumerate(formats, start=1):
            if fmt is None:
                continue
            # openpyxl styles cells one by one; a column style alone is ignored by Excel for written cells.
            for (cell,) in ws.iter_rows(min_row=2, max_row=ws.max_row, min_col=j, max_col=j):
                cell.number_format = fmt
        _report(progress, 0.9, "Writing the About sheet…")
        about_sheet.to_excel(xw, sheet_name="About", index=False)
        about_ws = xw.sheets["About"]
        about_ws.column_dimensions["A"].width = 18
        about_ws.column_dimensions["B"].width = 60
    _report(progress, 1.0, "Excel workbook ready")
    return buffer.getvalue()


# --- charts: HTML -------------------------------------------------------------------------------


def _figure_title(fig: go.Figure) -> str:
    """The figure's title as plain text (HTML tags such as <b> or <br> removed)."""
    text = fig.layout.title.text or ""
    text = re.sub(r"<br\s*/?>", " — ", text, flags=re.IGNORECASE)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def figure_html(fig: go.Figure) -> bytes:
    """A self-contained HTML page for one chart: plotly.js inlined, no network needed to open it.

    The page's ``<title>`` is the chart's title (escaped). Works offline, in an e-mail attachment or a wiki.
    """
    page = fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False, "responsive": True})
    title = html.escape(_figure_title(fig) or "Chart")
    page = page.replace("<head>", f"<head><title>{title}</title>", 1)
    return page.encode("utf-8")


# --- charts: PNG --------------------------------------------------------------------------------


def _find_browser() -> str:
    """Path of the Chrome/Chromium kaleido will drive; ExportError with the fix when there is none."""
    from choreographer.browsers import Chromium  # heavy import, only for PNG export

    path = Chromium.find_browser(skip_local=False)
    if not path or not Path(path).is_file():
        where = f" (BROWSER_PATH points to {path!r}, which is not a file)" if path else ""
        raise ExportError(f"PNG export needs Chrome or Chromium and none was found{where} — {_BROWSER_FIX}")
    return str(path)


def png_unavailable_reason() -> str | None:
    """None when PNG export can run here; otherwise why not and how to fix it (no browser is started)."""
    try:
        _find_browser()
    except ExportError as err:
        return str(err)
    return None


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels read from a PNG's IHDR chunk; ExportError when `data` is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ExportError("png_size: the data is not a PNG image — expected the PNG signature and an IHDR chunk")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


class PngRenderer:
    """One headless browser session that renders many figures to PNG (start-up cost paid once).

    Use as a context manager (``with PngRenderer() as r: r.render(fig)``) or call `close` when done. The
    kaleido session runs on its own event loop in a background thread, so it works from any thread
    (Streamlit runs each session's script in its own thread) and never touches the caller's event loop.

    Raises:
        ExportError: no browser found, or the browser failed to start (the message says how to fix it).
    """

    def __init__(self, *, timeout: float = 60.0) -> None:
        self._timeout = timeout
        self._kaleido: Any = None
        self._lock = threading.Lock()
        browser = _find_browser()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hss-png-renderer", daemon=True)
        self._thread.start()
        try:
            self._kaleido = self._run(self._open(browser), "starting the browser")
        except BaseException:
            self.close()
            raise

    async def _open(self, browser: str) -> Any:
        import kaleido

        # mathjax=False: kaleido would otherwise load MathJax from a CDN (no network here, and none needed).
        k = kaleido.Kaleido(browser, n=1, timeout=int(self._timeout), mathjax=False)
        try:
            await k.open()
        except Exception as err:
            with contextlib.suppress(Exception):  # do not leave a half-started browser behind
                await k.close()
            raise ExportError(
                f"PNG export could not start the browser at {browser}: {err} — check that it runs "
                f"(`{browser} --headless --version`), or {_BROWSER_FIX}"
            ) from err
        return k

    def _run(self, coroutine: Any, what: str) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout=self._timeout)
        except FutureTimeout as err:
            future.cancel()
            raise ExportError(
                f"PNG export timed out after {self._timeout:g} s while {what} — try again; if it keeps "
                "happening, restart the app (a stuck browser process may be left over)"
            ) from err

    def render(self, fig: go.Figure, *, width: int = 1200, height: int = 675, scale: float = 2.0) -> bytes:
        """The figure as PNG bytes of ``width × scale`` by ``height × scale`` pixels."""
        if self._kaleido is None:
            raise ExportError("PngRenderer.render: the renderer is closed — create a new PngRenderer")
        opts = {"format": "png", "width": int(width), "height": int(height), "scale": float(scale)}
        with self._lock:
            try:
                return self._run(self._kaleido.calc_fig(fig, opts=opts), "rendering a chart")
            except ExportError:
                raise
            except Exception as err:
                name = _figure_title(fig) or "untitled chart"
                raise ExportError(f"PNG export failed for chart {name!r}: {err} — export it as HTML instead") from err

    def close(self) -> None:
        """Stop the browser and the background thread; safe to call twice."""
        if self._kaleido is not None:
            kaleido_session, self._kaleido = self._kaleido, None
            # A browser that will not close politely is being torn down anyway; nothing for the user to do.
            with contextlib.suppress(ExportError):
                self._run(kaleido_session.close(), "closing the browser")
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> PngRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def figures_png(
    figs: Iterable[go.Figure],
    *,
    width: int = 1200,
    height: int = 675,
    scale: float = 2.0,
    progress: ProgressFn | None = None,
    renderer: PngRenderer | None = None,
) -> list[bytes]:
    """Render several figures to PNG in one browser session (a few seconds to start, then fast per chart).

    Args:
        figs: the figures, rendered in order.
        width, height: size in CSS pixels; the PNG is ``width × scale`` by ``height × scale``.
        scale: pixel density (2 = sharp on projectors and high-DPI screens).
        progress: optional ``(fraction, message)`` callback.
        renderer: an open `PngRenderer` to reuse (it stays open); by default one is started and closed here.

    Raises:
        ExportError: no usable browser, or a chart failed to render (see `PngRenderer`).
    """
    figures = list(figs)
    _report(progress, 0.0, "Starting the chart renderer…")
    with contextlib.ExitStack() as stack:
        if renderer is None:
            renderer = stack.enter_context(PngRenderer())
        images: list[bytes] = []
        for i, fig in enumerate(figures, start=1):
            images.append(renderer.render(fig, width=width, height=height, scale=scale))
            _report(progress, i / len(figures), f"Rendered chart {i} of {len(figures)}")
    _report(progress, 1.0, "Charts rendered")
    return images


# --- QBR deck -----------------------------------------------------------------------------------


def _format_value(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if np.isnan(v):
            return "–"
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.1f}"
    if isinstance(value, (pd.Timestamp, dt.date, np.datetime64)):
        return f"{pd.Timestamp(value):%Y-%m-%d}"
    return str(value)


def _trace_summary(trace: Any) -> str:
    """A short text version of one trace: its points when few, else count, first, last and range."""
    labels = getattr(trace, "labels", None)
    if labels is not None and getattr(trace, "values", None) is not None:
        cats, vals = labels, trace.values
    elif getattr(trace, "orientation", None) == "h":
        cats, vals = getattr(trace, "y", None), getattr(trace, "x", None)
    else:
        cats, vals = getattr(trace, "x", None), getattr(trace, "y", None)
    if vals is None:
        vals, cats = cats, None
    if vals is None:
        return "no data"
    vals = list(vals)
    cats = list(cats) if cats is not None else list(range(1, len(vals) + 1))
    pairs = [f"{_format_value(c)}: {_format_value(v)}" for c, v in zip(cats[:8], vals[:8], strict=False)]
    if len(vals) <= 8:
        return "; ".join(pairs)
    numeric = pd.to_numeric(pd.Series(vals), errors="coerce")
    text = f"{len(vals)} points; first {pairs[0]}; last {_format_value(cats[-1])}: {_format_value(vals[-1])}"
    if numeric.notna().any():
        text += f"; range {_format_value(numeric.min())} to {_format_value(numeric.max())}"
    return text


def figure_summary(fig: go.Figure, max_rows: int = _SUMMARY_ROWS) -> pd.DataFrame:
    """A text stand-in for a chart: one row per trace (``series``, ``values``), for decks without pictures."""
    rows = [
        (str(trace.name) if trace.name else f"Series {i}", _trace_summary(trace))
        for i, trace in enumerate(fig.data[:max_rows], start=1)
    ]
    return pd.DataFrame(rows, columns=["series", "values"])


def _deck_figure(fig: go.Figure) -> go.Figure:
    """A copy for the slide picture: the title moves to the slide, text grows to be read from a distance."""
    copy = go.Figure(fig)
    # Without its title the chart needs little top margin (legends above the plot push it out themselves).
    copy.update_layout(title_text=None, margin_t=40)
    if copy.layout.title.subtitle.text:
        copy.update_layout(title_subtitle_text=None)
    if copy.layout.font.size is None:
        copy.update_layout(font_size=_DECK_FONT_SIZE)
    return copy


def _style_text(frame: Any, size: int, *, bold: bool = False, color: tuple[int, int, int] | None = None) -> None:
    from pptx.dml.color import RGBColor
    from pptx.util import Pt

    for paragraph in frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = Pt(size)
            run.font.bold = bold
            if color is not None:
                run.font.color.rgb = RGBColor(*color)


def _place(shape: Any, left: float, top: float, width: float, height: float) -> None:
    from pptx.util import Inches

    shape.left, shape.top, shape.width, shape.height = Inches(left), Inches(top), Inches(width), Inches(height)


def _add_lines(frame: Any, lines: Sequence[str], size: int, color: tuple[int, int, int] | None = None) -> None:
    frame.word_wrap = True
    frame.text = lines[0] if lines else ""
    for line in lines[1:]:
        frame.add_paragraph().text = line
    _style_text(frame, size, color=color)


def _chart_slide(
    prs: Any, fig: go.Figure, index: int, image: bytes | None, missing_reason: str, footer: str
) -> None:
    from pptx.util import Inches, Pt

    slide = prs.slides.add_slide(prs.slide_layouts[5])  # "Title Only": a real title placeholder
    title = _figure_title(fig) or f"Chart {index}"
    slide.shapes.title.text = title
    _place(slide.shapes.title, 0.6, 0.3, 12.1, 1.0)
    _style_text(slide.shapes.title.text_frame, 32, bold=True)
    box_left, box_top, box_w, box_h = 0.6, 1.45, 12.1, 5.45
    if image is not None:
        px_w, px_h = png_size(image)
        fit = min(box_w / px_w, box_h / px_h)
        w, h = px_w * fit, px_h * fit
        picture = slide.shapes.add_picture(
            io.BytesIO(image), Inches(box_left + (box_w - w) / 2), Inches(box_top + (box_h - h) / 2),
            Inches(w), Inches(h),
        )
        picture._element.nvPicPr.cNvPr.set("descr", title)  # alt text for screen readers
    else:
        note = slide.shapes.add_textbox(Inches(box_left), Inches(box_top), Inches(box_w), Inches(0.8))
        _add_lines(note.text_frame, [f"Chart picture not available: {missing_reason}", "The chart's data:"], 14,
                   color=(90, 90, 90))
        summary = figure_summary(fig)
        table = slide.shapes.add_table(
            len(summary) + 1, 2, Inches(box_left), Inches(box_top + 0.9), Inches(box_w), Inches(0.4)
        ).table
        table.columns[0].width, table.columns[1].width = Inches(3.0), Inches(box_w - 3.0)
        for j, header in enumerate(("Series", "Values")):
            table.cell(0, j).text = header
        for i, (series, values) in enumerate(summary.itertuples(index=False), start=1):
            table.cell(i, 0).text, table.cell(i, 1).text = series, values
        for row in table.rows:
            for cell in row.cells:
                for paragraph in cell.text_frame.paragraphs:
                    for run in paragraph.runs:
                        run.font.size = Pt(16)
    foot = slide.shapes.add_textbox(Inches(0.6), Inches(7.0), Inches(12.1), Inches(0.35))
    _add_lines(foot.text_frame, [footer], 12, color=(110, 110, 110))


def qbr_deck(
    portfolio_figs: Sequence[go.Figure],
    account_figs: Sequence[go.Figure] = (),
    *,
    title: str,
    subtitle: str = "",
    notes: str | Sequence[str] = (),
    model_name: str,
    model_version: int | str | None,
    images: bool = True,
    progress: ProgressFn | None = None,
    renderer: PngRenderer | None = None,
) -> bytes:
    """A 16:9 PowerPoint deck of the QBR view, as .pptx bytes.

    Slides: a title slide (``title``, ``subtitle`` such as the segment and date, the model's name and
    version, the preparation date); one slide per chart (portfolio charts first, then the account's),
    each with the chart's title as a large slide title and the chart as a picture; a "Takeaways" slide
    with ``notes`` (one bullet per line or item; left empty to fill in PowerPoint when there are none).
    So the deck has ``2 + len(portfolio_figs) + len(account_figs)`` slides.

    When pictures cannot be rendered (no browser, see `png_unavailable_reason`) or ``images`` is False, the
    deck still builds: each chart slide says so and shows a table summarising the chart's data instead.
    An open ``renderer`` is reused (and left open), as in `figures_png`.
    """
    from pptx import Presentation
    from pptx.util import Inches

    figs = [*portfolio_figs, *account_figs]
    version = _version_label(model_version)
    today = dt.date.today().isoformat()
    footer = f"{title} · Health model: {model_name} ({version}) · {today}"
    pictures: list[bytes | None] = [None] * len(figs)
    missing_reason = "picture export was switched off for this deck"
    if images and figs:
        try:
            pictures = list(
                figures_png(
                    [_deck_figure(f) for f in figs],
                    **_DECK_IMAGE,
                    progress=(lambda f, m: _report(progress, 0.8 * f, m)) if progress else None,
                    renderer=renderer,
                )
            )
        except ExportError as err:
            missing_reason = str(err)
    _report(progress, 0.8, "Building the slides…")

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(_SLIDE_W_IN), Inches(_SLIDE_H_IN)

    cover = prs.slides.add_slide(prs.slide_layouts[0])
    cover.shapes.title.text = title
    _place(cover.shapes.title, 0.8, 2.0, 11.7, 1.6)
    _style_text(cover.shapes.title.text_frame, 44, bold=True)
    sub = cover.placeholders[1]
    _place(sub, 0.8, 3.8, 11.7, 2.2)
    _add_lines(sub.text_frame, [s for s in (subtitle, f"Health model: {model_name} ({version})",
                                            f"Prepared {today}") if s], 24)

    for i, (fig, picture) in enumerate(zip(figs, pictures, strict=True), start=1):
        _chart_slide(prs, fig, i, picture, missing_reason, footer)
        _report(progress, 0.8 + 0.2 * i / (len(figs) + 1), f"Added slide {i + 1}")

    closing = prs.slides.add_slide(prs.slide_layouts[1])  # "Title and Content"
    closing.shapes.title.text = "Takeaways"
    _place(closing.shapes.title, 0.6, 0.3, 12.1, 1.0)
    _style_text(closing.shapes.title.text_frame, 32, bold=True)
    body = closing.placeholders[1]
    _place(body, 0.6, 1.5, 12.1, 5.4)
    lines = notes.splitlines() if isinstance(notes, str) else [str(n) for n in notes]
    lines = [line.strip() for line in lines if line.strip()]
    if lines:
        _add_lines(body.text_frame, lines, 24)

    buffer = io.BytesIO()
    prs.save(buffer)
    _report(progress, 1.0, "Deck ready")
    return buffer.getvalue()
