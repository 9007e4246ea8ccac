"""Plotly figure builders for every page: data in, figure out.

Every builder is a pure, deterministic function that takes a small table (usually the output of a
`lib.views.portfolio` or `lib.analysis` function, or rows of the score table) and returns a
`plotly.graph_objects.Figure`. Nothing here touches Streamlit, files or the network.

Shared rules, so the charts read as one product:

- one look: every figure goes through :func:`base_layout` (template, fonts, margins, legend, hover);
- one set of band colours, :data:`BAND_COLORS` (Okabe–Ito, colour-blind safe), in :data:`BAND_ORDER`;
- every chart has a title, an optional subtitle (e.g. ``"Enterprise · 2026-10-01"``) and axis titles with
  units;
- text from data (account, segment, metric and category names) is passed through :func:`plain_text`, so
  markup such as ``<img src=x onerror=alert(1)>`` is shown as characters, never interpreted;
- empty input gives a figure saying "No data for this selection" instead of raising;
- ``presentation=True`` enlarges fonts and lines and drops grid clutter for the QBR (Present) mode;
- large inputs are aggregated first (histograms are binned with numpy), so a figure holds a few traces
  of at most a few hundred points whatever the portfolio size.

Builders by page (each docstring names the exact input table):

- Overview: :func:`band_mix`, :func:`band_trend`, :func:`score_histogram`, :func:`segment_band_heatmap`,
  :func:`top_movers`, :func:`arr_by_band`
- Tune: :func:`metric_histogram`, :func:`weights_bar`, :func:`band_trend`, :func:`band_change`,
  :func:`band_flip_matrix`, :func:`score_histogram`, :func:`top_movers`
- Account: :func:`score_history`, :func:`contribution_chart`, :func:`metric_bullets`, :func:`peer_position`
- Trends: :func:`band_sankey`, :func:`band_flip_matrix`, :func:`score_percentiles`
- Compare / Validate: :func:`distribution_by_label`, :func:`roc_curve`, :func:`churn_by_band`,
  :func:`lift_by_decile`, :func:`churn_by_bins`, :func:`band_flip_matrix`, :func:`metric_separation`
- Plays: :func:`play_score_over_time`, :func:`play_band_migrations`, :func:`play_differences`
- Present: any of the above with ``presentation=True``
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as _sk_roc_curve

from lib.engine.methods import VALUE, Method, as_spec, category_keys, category_texts, method_of
from lib.engine.model import BAND_NAMES, Categories, ModelError, ScoreSpec
from lib.engine.plan import BANDS as BAND_ORDER

BAND_COLORS = {"red": "#D55E00", "yellow": "#E69F00", "green": "#009E73", "no data": "#9AA0A6"}
BAND_LABELS = {"red": "Red", "yellow": "Yellow", "green": "Green", "no data": "No data"}
NO_DATA_MESSAGE = "No data for this selection"
SCORE_AXIS = "Score (0–100)"
ACCOUNTS_AXIS = "Accounts"
ARR_AXIS = "ARR ($)"
DATE_AXIS = "Snapshot date"

# Okabe–Ito hues the bands do not use: for groups, labels, profiles and neutral bars.
SERIES_COLORS = ("#0072B2", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
NEUTRAL_COLOR = "#56B4E9"
INK = "#202124"
MUTED = "#5F6368"
LABEL_COLORS = {"healthy": "#0072B2", "struggling": "#CC79A7"}
FONT_FAMILY = "Inter, 'Segoe UI', Helvetica, Arial, sans-serif"
GRID_COLOR = "#EBF0F8"
_LABEL_BG = "rgba(255,255,255,0.85)"  # behind line labels drawn over bars
_MAX_CURVE_POINTS = 2000  # a ROC curve of 1 M accounts keeps this many points: the line looks the same
BAR_LABEL_PAD = 0.18  # share of the data span left beside bars for the value labels drawn outside them


class ChartInputError(ValueError):
    """A builder got a table of the wrong shape; the message names the builder, the column and the fix."""


# --- shared look ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """Sizes used by every builder; :func:`style` gives the normal or the presentation set."""

    font: int
    title: int
    subtitle: int
    tick: int
    axis_title: int
    legend: int
    line: float
    marker: int
    margin_top: int


_NORMAL = Style(font=13, title=18, subtitle=13, tick=12, axis_title=13, legend=12, line=2.0, marker=7, margin_top=64)
_PRESENT = Style(font=18, title=30, subtitle=20, tick=18, axis_title=20, legend=18, line=4.0, marker=12,
                 margin_top=104)


def style(presentation: bool = False) -> Style:
    """The sizes for normal pages or for the QBR presentation mode (title 30 px, ticks 18 px, 4 px lines)."""
    return _PRESENT if presentation else _NORMAL


def plain_text(value: object) -> str:
    """Text that Plotly shows exactly as written: ``&``, ``<``, ``>`` and the ``{`` of ``%{`` become entities.

    Plotly renders a small HTML subset in titles, labels, annotations and hover text, and substitutes
    ``%{...}`` in hover and text templates; the entities are displayed as the characters themselves, so an
    account named ``<img src=x onerror=alert(1)>`` or ``%{x}`` reads as that text and is never interpreted.
    None / NaN become "".
    """
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    return (str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("%{", "%&#123;"))


def _plain_series(values: pd.Series | Sequence[object], fallback: str = "") -> pd.Series:
    """Vectorised :func:`plain_text` for a column of names (missing → ``fallback``)."""
    s = pd.Series(values, dtype=object)
    text = s.where(s.notna(), fallback).astype(str)
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("%{", "%&#123;")):
        text = text.str.replace(raw, entity, regex=False)
    return text


def _shorten(text: pd.Series, limit: int = 40) -> pd.Series:
    """Names longer than ``limit`` characters end in an ellipsis (applied before escaping)."""
    return text.where(text.str.len() <= limit, text.str.slice(0, limit - 1) + "…")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated recursively with ``override`` (override wins; nested dicts are merged)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _figure(data: Any = None) -> go.Figure:
    """A figure with an empty template: plotly would otherwise validate its default template (~25 ms)."""
    return go.Figure(data, layout={"template": {}})


def base_layout(
    fig: go.Figure,
    *,
    title: str,
    subtitle: str | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    presentation: bool = False,
    hovermode: str = "closest",
    showlegend: bool = True,
    height: int | None = None,
) -> go.Figure:
    """Apply the product's look to ``fig`` (in place) and return it.

    Title, subtitle and axis titles are escaped with :func:`plain_text`, so they may carry names from data.
    In presentation mode fonts grow, x grid lines go and y grid lines fade.
    """
    s = style(presentation)
    title_spec: dict[str, Any] = {"text": plain_text(title), "x": 0.0, "xanchor": "left", "xref": "paper",
                                  "font": {"size": s.title, "color": INK}}
    top = s.margin_top
    if subtitle:
        title_spec["subtitle"] = {"text": plain_text(subtitle), "font": {"size": s.subtitle, "color": MUTED}}
        top += s.subtitle + 8
    def axis(title_text: str | None, *, grid: bool) -> dict[str, Any]:
        spec: dict[str, Any] = {"tickfont": {"size": s.tick}, "title": {"font": {"size": s.axis_title}},
                                "automargin": True, "ticks": "", "showgrid": grid, "gridcolor": grid_color,
                                "linecolor": GRID_COLOR, "zerolinecolor": GRID_COLOR, "zerolinewidth": 2}
        if title_text is not None:
            spec["title"]["text"] = plain_text(title_text)
        return spec

    grid_color = "#F1F3F4" if presentation else GRID_COLOR
    # Every axis of the figure (subplots have several) gets the same look; titles go on the first pair.
    names = [k for k in fig.layout if k.startswith(("xaxis", "yaxis"))]
    axes = {name: axis(None, grid=not (presentation and name.startswith("x")))
            for name in {*names, "xaxis", "yaxis"}}
    axes["xaxis"] = axis(x_title, grid=not presentation)
    axes["yaxis"] = axis(y_title, grid=True)
    look: dict[str, Any] = {
        # plotly_white's look set directly with an empty template: validating a template costs ~25 ms per
        # figure, and the figure no longer depends on plotly's global default template.
        "template": {},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": list(SERIES_COLORS),
        "font": {"family": FONT_FAMILY, "size": s.font, "color": INK},
        "title": title_spec,
        "margin": {"l": 64, "r": 24, "t": top + 24, "b": 56},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "right", "x": 1.0,
                   "font": {"size": s.legend}, "title": {"text": ""}, "traceorder": "normal"},
        "showlegend": showlegend,
        "hovermode": hovermode,
        "hoverlabel": {"font": {"size": s.font, "family": FONT_FAMILY}, "align": "left"},
        **axes,
    }
    if height is not None:
        look["height"] = height
    # What the builder already set (ranges, shapes, annotations, bar mode) wins over the shared look. One
    # assignment of a merged dict: update_layout parses every nested key as a path, ~20x slower.
    fig.layout = _merge(look, fig.layout.to_plotly_json())
    return fig


def empty_figure(
    title: str, *, subtitle: str | None = None, message: str = NO_DATA_MESSAGE, presentation: bool = False
) -> go.Figure:
    """A figure with the title and a centred message (default "No data for this selection"), no axes."""
    fig = go.Figure(layout={"template": {}, "xaxis": {"visible": False}, "yaxis": {"visible": False}})
    fig.add_annotation(text=plain_text(message), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font={"size": style(presentation).title, "color": MUTED})
    return base_layout(fig, title=title, subtitle=subtitle, presentation=presentation, showlegend=False)


def _note(fig: go.Figure, text: str, presentation: bool) -> None:
    """A small grey note in the top-right corner of the plot (e.g. how many accounts are not shown)."""
    fig.add_annotation(text=plain_text(text), x=1.0, y=1.0, xref="paper", yref="paper", xanchor="right",
                       yanchor="bottom", showarrow=False, yshift=2 * style(presentation).legend + 8,
                       font={"size": style(presentation).legend, "color": MUTED})


def _require(frame: pd.DataFrame, columns: Sequence[str], builder: str, hint: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ChartInputError(
            f"charts.{builder}: the table has no column {', '.join(repr(c) for c in missing)} "
            f"(it has {', '.join(map(repr, frame.columns[:12]))}) — {hint}")


def _check_bands(bands: Sequence[object], builder: str) -> None:
    unknown = sorted({str(b) for b in bands} - set(BAND_ORDER))
    if unknown:
        raise ChartInputError(f"charts.{builder}: unknown band {', '.join(map(repr, unknown))} — bands are "
                              f"{', '.join(BAND_ORDER)} (lib.engine.plan.BANDS)")


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _points_colors(points: np.ndarray) -> list[str]:
    """Colours for metric points 0–100: red band colour at 0, yellow at 50, green at 100; NaN → no-data grey."""
    p = np.asarray(points, dtype=float)
    stops = np.array([0.0, 50.0, 100.0])
    rgb = np.array([[int(BAND_COLORS[b][i:i + 2], 16) for i in (1, 3, 5)] for b in BAND_NAMES])
    channels = np.stack([np.interp(np.clip(np.nan_to_num(p), 0, 100), stops, rgb[:, c]) for c in range(3)], axis=1)
    hexes = ["#{:02X}{:02X}{:02X}".format(*np.rint(row).astype(int)) for row in channels]
    return [BAND_COLORS["no data"] if np.isnan(v) else h for v, h in zip(p, hexes, strict=True)]


def money(x: float | None, signed: bool = False) -> str:
    """Short money text for labels, tables and slides: ``$1.2M``, ``$85.0K``, ``-$1.5K``; ``–`` when unknown.
    ``signed`` (a change): a ``+`` on gains and on no change, so the sign always shows (ASCII minus: st.metric
    colours a delta by it)."""
    if x is None or not np.isfinite(x):
        return "–"
    sign, v = ("-" if x < 0 else "+" if signed else ""), abs(x)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= div:
            return f"{sign}${v / div:.1f}{suffix}"
    return f"{sign}${v:,.0f}"


def _fmt_value(value: object) -> str:
    """A raw metric value as short text (numbers to 4 significant digits, categories as given)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return "missing"
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return f"{float(value):,.4g}"
    return str(value)


def _band_of(scores: np.ndarray, cutoffs: tuple[float, float]) -> np.ndarray:
    """Band names for scores under cut-offs (red, yellow): ``<= red`` red, ``<= yellow`` yellow, else green."""
    red, yellow = cutoffs
    return np.select([np.isnan(scores), scores <= red, scores <= yellow], ["no data", "red", "yellow"], "green")


# Lines and rectangles are added as plain shapes: fig.add_vline & co. look up subplots and cost ~10 ms each.


def _vline(fig: go.Figure, x: float, *, color: str, width: float, dash: str = "solid", label: str | None = None,
           side: Literal["left", "right"] = "right", font_size: int = 12) -> None:
    """A vertical line over the whole plot height, its label (if any) inside the top, beside the line."""
    fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, xref="x", yref="paper",
                  line={"color": color, "width": width, "dash": dash})
    if label:
        fig.add_annotation(text=label, x=x, y=1, xref="x", yref="paper", xanchor="left" if side == "right" else "right",
                           yanchor="top", showarrow=False, bgcolor=_LABEL_BG, font={"size": font_size, "color": color})


def _hline(fig: go.Figure, y: float, *, color: str, width: float, dash: str = "solid", label: str | None = None,
           side: Literal["left", "right"] = "right", font_size: int = 12) -> None:
    """A horizontal line across the plot, its label (if any) just above it at the left or right end."""
    fig.add_shape(type="line", x0=0, x1=1, y0=y, y1=y, xref="paper", yref="y",
                  line={"color": color, "width": width, "dash": dash})
    if label:
        fig.add_annotation(text=label, x=0 if side == "left" else 1, y=y, xref="paper", yref="y", xanchor=side,
                           yanchor="bottom", showarrow=False, bgcolor=_LABEL_BG,
                           font={"size": font_size, "color": color})


def _band_backgrounds(fig: go.Figure, cutoffs: tuple[float, float], *, axis: Literal["x", "y"],
                      opacity: float = 0.12) -> None:
    """Faint band-coloured rectangles over the 0–100 score range, below the data."""
    red, yellow = cutoffs
    for band, lo, hi in (("red", 0.0, red), ("yellow", red, yellow), ("green", yellow, 100.0)):
        if hi <= lo:
            continue
        span = {"y0": lo, "y1": hi, "yref": "y", "x0": 0, "x1": 1, "xref": "paper"} if axis == "y" else \
            {"x0": lo, "x1": hi, "xref": "x", "y0": 0, "y1": 1, "yref": "paper"}
        fig.add_shape(type="rect", fillcolor=BAND_COLORS[band], opacity=opacity, line={"width": 0}, layer="below",
                      **span)


def _cutoff_lines(fig: go.Figure, cutoffs: tuple[float, float], presentation: bool) -> None:
    """Dashed vertical lines at the band cut-offs, labelled "Red ≤ 30" and "Yellow ≤ 70"."""
    s = style(presentation)
    for band, x in zip(("red", "yellow"), cutoffs, strict=True):
        _vline(fig, float(x), color=BAND_COLORS[band], width=s.line, dash="dash",
               label=f"{BAND_LABELS[band]} ≤ {float(x):g}", font_size=s.legend)


# --- spec reading (model dataclasses or their YAML dicts) -------------------------------------------


def _spec(spec: object) -> tuple[ScoreSpec, Method]:
    """A score spec and its method: accepts `lib.engine.model` spec objects, their YAML dicts, or look-alikes."""
    if not isinstance(spec, Mapping) and not hasattr(spec, "method"):
        raise ChartInputError(f"charts: score spec {spec!r} is neither a lib.engine.model spec nor a dict — pass "
                              "model.metrics[column].score or its YAML form, e.g. "
                              "{method: linear, red: 2, green: 12}")
    try:
        found = as_spec(dict(spec) if isinstance(spec, Mapping) else spec)
    except ModelError as err:
        raise ChartInputError(f"charts: {err}") from None
    return found, method_of(found)


# --- band mix and trends ----------------------------------------------------------------------------


def _band_values(data: object, column: str, builder: str) -> pd.Series:
    """Per-band numbers in BAND_ORDER (missing bands 0) from a band table, a Series or a mapping."""
    if isinstance(data, pd.DataFrame):
        if len(data) == 0:
            return pd.Series(0.0, index=list(BAND_ORDER))
        _require(data, ["band", column], builder,
                 f"pass lib.views.portfolio.band_summary(...) (columns band, {column})")
        series = pd.to_numeric(data[column], errors="coerce").groupby(data["band"].astype(str)).sum()
    elif isinstance(data, pd.Series):
        series = pd.to_numeric(data, errors="coerce")
        series.index = series.index.astype(str)
    elif isinstance(data, Mapping):
        series = pd.Series({str(k): v for k, v in data.items()}, dtype=float)
    else:
        raise ChartInputError(f"charts.{builder}: expected a band table, Series or mapping band → number, got "
                              f"{type(data).__name__}")
    _check_bands(series.index, builder)
    return series.reindex(list(BAND_ORDER)).fillna(0.0).astype(float)


def band_mix(
    counts: pd.DataFrame | pd.Series | Mapping[str, float],
    *,
    kind: Literal["bar", "donut"] = "bar",
    title: str = "Band mix",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Accounts per band now: one horizontal 100 % stacked bar (or a donut) with counts and shares.

    Args:
        counts: accounts per band — ``lib.views.portfolio.band_summary(...)`` (columns ``band, accounts``), a Series
            indexed by band, or a dict ``{"red": 12, ...}``. Bands are BAND_ORDER names; absent bands count 0.
        kind: ``"bar"`` (one trace per band, x = share in %) or ``"donut"`` (one Pie trace).

    Returns:
        Bar: one trace per band with accounts, x = [share %], text "count (share%)". Donut: one Pie with the
        counts as ``values``.
    """
    c = _band_values(counts, "accounts", "band_mix")
    total = c.sum()
    if total <= 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    present = c[c > 0]
    s = style(presentation)
    fig = _figure()
    if kind == "donut":
        fig.add_trace(go.Pie(
            labels=[BAND_LABELS[b] for b in present.index], values=present.to_numpy(), hole=0.55, sort=False,
            direction="clockwise", marker={"colors": [BAND_COLORS[b] for b in present.index]},
            texttemplate="%{label}<br>%{value:,} (%{percent:.0%})", textfont={"size": s.font},
            hovertemplate="%{label}: %{value:,} accounts (%{percent:.1%})<extra></extra>",
        ))
        fig.add_annotation(text=f"{int(total):,}<br>accounts", x=0.5, y=0.5, xref="paper", yref="paper",
                           showarrow=False, font={"size": s.title})
        return base_layout(fig, title=title, subtitle=subtitle, presentation=presentation)
    share = present / total * 100
    for band in present.index:
        n, pct = present[band], share[band]
        fig.add_trace(go.Bar(
            x=[pct], y=[ACCOUNTS_AXIS], orientation="h", name=BAND_LABELS[band],
            marker={"color": BAND_COLORS[band]}, text=[f"{n:,.0f} ({pct:.0f}%)"], textposition="inside",
            insidetextanchor="middle", customdata=[[n]],
            hovertemplate=f"{BAND_LABELS[band]}: %{{customdata[0]:,}} accounts (%{{x:.1f}}%)<extra></extra>",
        ))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(range=[0, 100], ticksuffix="%")
    fig.update_yaxes(showticklabels=False)
    return base_layout(fig, title=title, subtitle=subtitle, x_title="Share of accounts (%)",
                       presentation=presentation, height=220 if not presentation else 300)


def _wide_counts(counts: pd.DataFrame, builder: str) -> pd.DataFrame:
    frame = counts.set_index("snapshot_date") if "snapshot_date" in counts.columns else counts
    bands = [c for c in frame.columns if str(c) in BAND_ORDER]
    if not bands:
        raise ChartInputError(f"charts.{builder}: no band columns among {list(frame.columns)[:12]} — pass counts "
                              "per date with one column per band (lib.views.portfolio.band_counts_over_time or "
                              "LiveScorer.band_counts)")
    wide = frame[bands].copy()
    wide.columns = [str(c) for c in bands]
    wide = wide.reindex(columns=list(BAND_ORDER), fill_value=0).apply(pd.to_numeric, errors="coerce").fillna(0)
    wide.index = pd.to_datetime(wide.index)
    return wide.sort_index()


def band_trend(
    counts: pd.DataFrame,
    *,
    share: bool = False,
    title: str = "Bands over time",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Stacked area of accounts (or % share) per band and snapshot date.

    Args:
        counts: account COUNTS per date and band, wide: index ``snapshot_date`` (or a ``snapshot_date``
            column) and one column per band — ``lib.views.portfolio.band_counts_over_time(scored)`` (without
            ``share=True``) or ``LiveScorer.band_counts(model)``. Other columns are ignored.
        share: plot each band's % of the date's accounts instead of counts.

    Returns:
        One Scatter trace per band with any accounts (stackgroup), x = dates, y = counts or shares;
        the counts are in ``customdata``.
    """
    if len(counts) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    wide = _wide_counts(counts, "band_trend")
    if wide.to_numpy().sum() <= 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    totals = wide.sum(axis=1).replace(0, np.nan)
    values = wide.div(totals, axis=0).fillna(0) * 100 if share else wide
    s = style(presentation)
    mode = "lines+markers" if len(wide) == 1 else "lines"
    fig = _figure()
    for band in BAND_ORDER:
        if wide[band].sum() <= 0:
            continue
        fig.add_trace(go.Scatter(
            x=wide.index, y=values[band].to_numpy(float), name=BAND_LABELS[band], stackgroup="bands", mode=mode,
            line={"color": BAND_COLORS[band], "width": s.line / 2}, fillcolor=_rgba(BAND_COLORS[band], 0.75),
            customdata=wide[band].to_numpy(float),
            hovertemplate=(f"{BAND_LABELS[band]}: %{{customdata:,}} accounts (%{{y:.1f}}%)<extra></extra>" if share
                           else f"{BAND_LABELS[band]}: %{{y:,}} accounts<extra></extra>"),
        ))
    if share:
        fig.update_yaxes(range=[0, 100], ticksuffix="%")
    return base_layout(fig, title=title, subtitle=subtitle, x_title=DATE_AXIS,
                       y_title="Share of accounts (%)" if share else ACCOUNTS_AXIS, presentation=presentation,
                       hovermode="x unified")


def band_change(
    saved: pd.DataFrame | pd.Series | Mapping[str, float],
    new: pd.DataFrame | pd.Series | Mapping[str, float],
    *,
    saved_label: str = "Saved model",
    new_label: str = "New model",
    title: str = "Accounts per band: saved vs new",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Grouped bars of accounts per band under the saved and the edited model, the new bars labelled ±change.

    Args:
        saved, new: accounts per band, each in any form :func:`band_mix` accepts (e.g.
            ``LiveScorer.band_counts(model).iloc[-1]``).

    Returns:
        Two Bar traces (saved, new), x = band labels of bands with accounts in either, y = counts.
    """
    a = _band_values(saved, "accounts", "band_change")
    b = _band_values(new, "accounts", "band_change")
    keep = [band for band in BAND_ORDER if a[band] > 0 or b[band] > 0]
    if not keep:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    x = [BAND_LABELS[band] for band in keep]
    colors = [BAND_COLORS[band] for band in keep]
    delta = b[keep] - a[keep]
    fig = _figure([
        go.Bar(x=x, y=a[keep].to_numpy(), name=plain_text(saved_label),
               marker={"color": colors, "opacity": 0.45, "pattern": {"shape": "/"}},
               hovertemplate=f"{plain_text(saved_label)} · %{{x}}: %{{y:,}} accounts<extra></extra>"),
        go.Bar(x=x, y=b[keep].to_numpy(), name=plain_text(new_label), marker={"color": colors},
               text=[f"{d:+,.0f}" if d else "±0" for d in delta], textposition="outside",
               hovertemplate=f"{plain_text(new_label)} · %{{x}}: %{{y:,}} accounts<extra></extra>"),
    ])
    fig.update_layout(barmode="group")
    return base_layout(fig, title=title, subtitle=subtitle, x_title="Band", y_title=ACCOUNTS_AXIS,
                       presentation=presentation)


def arr_by_band(
    summary: pd.DataFrame | pd.Series | Mapping[str, float],
    *,
    title: str = "ARR by band",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Bars of ARR per band, labelled "$1.2M · 340 accounts".

    Args:
        summary: ``lib.views.portfolio.band_summary(...)`` (columns ``band, arr`` and optionally ``accounts``), or a
            Series / dict band → ARR in dollars.

    Returns:
        One Bar trace, x = band labels of bands with ARR, y = ARR ($), one colour per band.
    """
    arr = _band_values(summary, "arr", "arr_by_band")
    accounts = (_band_values(summary, "accounts", "arr_by_band")
                if isinstance(summary, pd.DataFrame) and "accounts" in summary.columns else None)
    keep = [band for band in BAND_ORDER if arr[band] > 0]
    if not keep:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    text = [money(arr[b]) + (f" · {accounts[b]:,.0f} accounts" if accounts is not None else "") for b in keep]
    fig = _figure(go.Bar(
        x=[BAND_LABELS[b] for b in keep], y=arr[keep].to_numpy(), marker={"color": [BAND_COLORS[b] for b in keep]},
        text=text, textposition="outside", cliponaxis=False, name="ARR",
        hovertemplate="%{x}: %{y:$,.0f}<extra></extra>",
    ))
    fig.update_yaxes(tickprefix="$", tickformat="~s", rangemode="tozero")
    return base_layout(fig, title=title, subtitle=subtitle, x_title="Band", y_title=ARR_AXIS,
                       presentation=presentation, showlegend=False)


# --- score distributions ------------------------------------------------------------------------------


def score_histogram(
    scores: pd.DataFrame,
    *,
    cutoffs: tuple[float, float] | None = None,
    bin_width: float = 5.0,
    title: str = "Score distribution",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Histogram of scores (0–100), each bin stacked by band, with dashed lines at the band cut-offs.

    Args:
        scores: score-table rows, one per account (columns ``score``, ``band``); 'no data' rows are counted
            in a note, not drawn. Any size: binned with numpy.
        cutoffs: ``(red, yellow)`` band cut-offs (``model.bands.red, model.bands.yellow``) to draw.
        bin_width: points per bin (100 / bin_width bins over 0–100).

    Returns:
        One Bar trace per band present, x = bin centres, y = accounts per bin (``np.histogram`` counts).
    """
    if len(scores) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    _require(scores, ["score", "band"], "score_histogram", "pass score-table rows (columns score, band)")
    values = pd.to_numeric(scores["score"], errors="coerce").to_numpy(float)
    # factorize, then map the few distinct labels: faster than a Categorical over 1 M strings
    codes, uniques = pd.factorize(scores["band"])
    lookup = np.array([BAND_NAMES.index(u) if u in BAND_NAMES else -1 for u in uniques] + [-1])
    band_code = lookup[codes]  # -1: 'no data', unknown or missing (code -1 picks the trailing -1)
    scored = ~np.isnan(values) & (band_code >= 0)
    if not scored.any():
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    n_bins = max(1, round(100 / bin_width))
    edges = np.linspace(0.0, 100.0, n_bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    # one pass over the rows: bin index per score (100 falls in the last bin, as in np.histogram), then
    # a bincount keyed by (band, bin)
    idx = np.clip((np.clip(values[scored], 0, 100) / 100 * n_bins).astype(np.int64), 0, n_bins - 1)
    table = np.bincount(band_code[scored] * n_bins + idx, minlength=len(BAND_NAMES) * n_bins).reshape(-1, n_bins)
    fig = _figure()
    for code, band in enumerate(BAND_NAMES):
        counts = table[code]
        if not counts.any():
            continue
        fig.add_trace(go.Bar(
            x=centres, y=counts, width=edges[1] - edges[0], name=BAND_LABELS[band],
            marker={"color": BAND_COLORS[band], "line": {"width": 0}}, customdata=np.stack([edges[:-1], edges[1:]], 1),
            hovertemplate=(f"{BAND_LABELS[band]}: %{{y:,}} accounts scoring %{{customdata[0]:g}}–"
                           "%{customdata[1]:g}<extra></extra>"),
        ))
    fig.update_layout(barmode="stack", bargap=0)
    fig.update_xaxes(range=[0, 100])
    if cutoffs is not None:
        _cutoff_lines(fig, cutoffs, presentation)
    no_data = int(len(values) - scored.sum())
    if no_data:
        _note(fig, f"{no_data:,} accounts with no data not shown", presentation)
    return base_layout(fig, title=title, subtitle=subtitle, x_title=SCORE_AXIS, y_title=ACCOUNTS_AXIS,
                       presentation=presentation)


def segment_band_heatmap(
    matrix: pd.DataFrame,
    *,
    segment: str | None = None,
    max_rows: int = 30,
    title: str | None = None,
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Heat map of each segment value's share of accounts in each band; counts in the hover.

    Args:
        matrix: account COUNTS, index = segment values, one column per band —
            ``lib.views.portfolio.segment_band_matrix(scored, as_of, segment)``.
        segment: the segment column's name for titles (default: ``matrix.index.name``).
        max_rows: the largest segment values kept; the rest are summed into one "Other (n values)" row.

    Returns:
        One Heatmap: x = band labels (bands with any account), y = segment values (escaped), sorted by red
        share, highest first; z = share of the row in % (0–100); customdata = counts.
    """
    name = segment or (str(matrix.index.name) if matrix.index.name is not None else "segment")
    title = title if title is not None else f"Bands by {name}"
    if len(matrix) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    wide = _wide_bands(matrix, "segment_band_heatmap")
    wide = wide.loc[wide.sum(axis=1) > 0]
    if wide.empty:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    labels = _plain_series(pd.Series(wide.index, dtype=object), "(missing)")
    wide.index = labels.to_numpy()
    if len(wide) > max_rows:
        order = wide.sum(axis=1).sort_values(ascending=False, kind="stable").index
        rest = wide.loc[order[max_rows:]]
        wide = pd.concat([wide.loc[order[:max_rows]],
                          rest.sum().to_frame(f"Other ({len(rest):,} values)").T])
    bands = [b for b in BAND_ORDER if wide[b].sum() > 0]
    wide = wide[bands]
    share = wide.div(wide.sum(axis=1), axis=0) * 100
    if "red" in bands:
        share = share.sort_values("red", ascending=False, kind="stable")
        wide = wide.loc[share.index]
    s = style(presentation)
    fig = _figure(go.Heatmap(
        z=share.to_numpy(), x=[BAND_LABELS[b] for b in bands], y=list(share.index), customdata=wide.to_numpy(),
        zmin=0, zmax=100, colorscale="Blues", texttemplate="%{z:.0f}%", textfont={"size": s.tick},
        colorbar={"title": {"text": "Share (%)"}, "ticksuffix": "%"},
        hovertemplate="%{y} · %{x}: %{customdata:,} accounts (%{z:.1f}%)<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", side="bottom")
    return base_layout(fig, title=title, subtitle=subtitle, x_title="Band", y_title=name,
                       presentation=presentation, showlegend=False,
                       height=max(320, 120 + (44 if presentation else 28) * len(share)))


def _wide_bands(matrix: pd.DataFrame, builder: str) -> pd.DataFrame:
    bands = [c for c in matrix.columns if str(c) in BAND_ORDER]
    if not bands:
        raise ChartInputError(f"charts.{builder}: no band columns among {list(matrix.columns)[:12]} — pass a count "
                              "table with one column per band (red, yellow, green, no data)")
    wide = matrix[bands].copy()
    wide.columns = [str(c) for c in bands]
    return wide.reindex(columns=list(BAND_ORDER), fill_value=0).apply(pd.to_numeric, errors="coerce").fillna(0)


def _bar_label_range(values: np.ndarray, pad: float = BAR_LABEL_PAD) -> list[float]:
    """An x range for horizontal bars from zero to ``values`` with room for the labels drawn outside them.

    Plotly's autorange ignores outside text, so a label beside the longest bar would run into the axis's tick
    labels (the account names); each side that has bars gets ``pad`` × the data span of room.
    """
    lo, hi = min(float(np.nanmin(values)), 0.0), max(float(np.nanmax(values)), 0.0)
    room = pad * ((hi - lo) or 1.0)
    return [lo - (room if lo < 0 else 0.0), hi + (room if hi > 0 else 0.0)]


def top_movers(
    movers: pd.DataFrame,
    *,
    title: str = "Top movers",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Diverging horizontal bars of score change, one per account, labelled by account name.

    Args:
        movers: ``lib.views.portfolio.movers(scored, as_of, n)`` — columns ``account_id, change`` and optionally
            ``account_name, score, band, arr``; for the Tune page's "what moved", pass new − saved score as
            ``change``. Rows with a missing or zero change are left out.

    Returns:
        Up to two Bar traces ("Dropped" in the red band colour, "Rose" in the green), x = change in points,
        y = account names (escaped, shortened to 40 characters; a duplicate name gets its id appended);
        biggest drop at the top. The x range leaves room for the change labels outside the bars.
    """
    if len(movers) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    _require(movers, ["account_id", "change"], "top_movers", "pass lib.views.portfolio.movers(...)")
    rows = movers.assign(change=pd.to_numeric(movers["change"], errors="coerce"))
    rows = rows.loc[rows["change"].notna() & (rows["change"] != 0)].sort_values("change", kind="stable")
    if rows.empty:
        return empty_figure(title, subtitle=subtitle, message="No account changed score", presentation=presentation)
    ids = rows["account_id"].astype(str)
    names = rows["account_name"].where(rows["account_name"].notna(), ids).astype(str) if "account_name" in rows \
        else ids
    names = _shorten(names)
    dup = names.duplicated(keep=False)
    labels = _plain_series(names.where(~dup, names + " (" + ids + ")"))
    score = (pd.to_numeric(rows["score"], errors="coerce") if "score" in rows else pd.Series(np.nan, rows.index))
    band = rows["band"].astype(str).map(BAND_LABELS).fillna("") if "band" in rows else pd.Series("", rows.index)
    custom = np.stack([_plain_series(ids).to_numpy(), score.to_numpy(), band.to_numpy()], axis=1)
    fig = _figure()
    for name, mask, color in (("Dropped", rows["change"] < 0, BAND_COLORS["red"]),
                              ("Rose", rows["change"] > 0, BAND_COLORS["green"])):
        if not mask.any():
            continue
        m = mask.to_numpy()
        fig.add_trace(go.Bar(
            x=rows["change"].to_numpy(float)[m], y=labels.to_numpy()[m], orientation="h", name=name,
            marker={"color": color}, text=[f"{c:+.1f}" for c in rows["change"].to_numpy(float)[m]],
            textposition="outside", cliponaxis=False, customdata=custom[m],
            hovertemplate=("%{y} (id %{customdata[0]})<br>Change %{x:+.1f} points<br>"
                           "Now %{customdata[1]:.1f} · %{customdata[2]}<extra></extra>"),
        ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(range=_bar_label_range(rows["change"].to_numpy(float)))
    _vline(fig, 0.0, color=INK, width=1)
    return base_layout(fig, title=title, subtitle=subtitle, x_title="Change in score (points)", y_title=None,
                       presentation=presentation,
                       height=max(320, 120 + (40 if presentation else 26) * len(rows)))


def _scores_over_time_layout(fig: go.Figure, cutoffs: tuple[float, float] | None, *, title: str,
                             subtitle: str | None, presentation: bool) -> go.Figure:
    """Scores (0–100) against snapshot dates: band cut-offs as dashed lines, the product's layout."""
    s = style(presentation)
    if cutoffs is not None:
        for band, y in zip(("red", "yellow"), cutoffs, strict=True):
            _hline(fig, float(y), color=BAND_COLORS[band], width=s.line / 2, dash="dash",
                   label=f"{BAND_LABELS[band]} ≤ {float(y):g}", side="left", font_size=s.legend)
    fig.update_yaxes(range=[0, 100])
    return base_layout(fig, title=title, subtitle=subtitle, x_title=DATE_AXIS, y_title=SCORE_AXIS,
                       presentation=presentation, hovermode="x unified")


def score_percentiles(
    quantiles: pd.DataFrame,
    *,
    cutoffs: tuple[float, float] | None = None,
    title: str = "Score distribution over time",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Percentile ribbon per snapshot date: p10–p90 and p25–p75 bands around the median line.

    Reads well for 24–104 dates (a box per date would crowd). Band cut-offs, if given, are dashed lines.

    Args:
        quantiles: ``lib.views.portfolio.score_distribution_over_time(scored)`` — index ``snapshot_date`` (or a
            ``snapshot_date`` column), columns ``p10, p25, median, p75, p90``.
        cutoffs: ``(red, yellow)`` band cut-offs, drawn as horizontal lines.

    Returns:
        Five Scatter traces in order p90, p10 (filled to p90), p75, p25 (filled to p75), median.
    """
    if len(quantiles) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    q = quantiles.set_index("snapshot_date") if "snapshot_date" in quantiles.columns else quantiles
    cols = ["p10", "p25", "median", "p75", "p90"]
    _require(q, cols, "score_percentiles", "pass lib.views.portfolio.score_distribution_over_time(scored)")
    q = q[cols].apply(pd.to_numeric, errors="coerce").dropna(how="all")
    if q.empty:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    q.index = pd.to_datetime(q.index)
    q = q.sort_index()
    s = style(presentation)
    blue = SERIES_COLORS[0]
    fig = _figure()
    for upper, lower, name, alpha in (("p90", "p10", "10th–90th percentile", 0.15),
                                      ("p75", "p25", "25th–75th percentile", 0.30)):
        fig.add_trace(go.Scatter(x=q.index, y=q[upper].to_numpy(), mode="lines", line={"width": 0},
                                 legendgroup=name, showlegend=False, name=upper,
                                 hovertemplate=f"{upper}: %{{y:.1f}}<extra></extra>"))
        fig.add_trace(go.Scatter(x=q.index, y=q[lower].to_numpy(), mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor=_rgba(blue, alpha), legendgroup=name, name=name,
                                 hovertemplate=f"{lower}: %{{y:.1f}}<extra></extra>"))
    fig.add_trace(go.Scatter(x=q.index, y=q["median"].to_numpy(), mode="lines", name="Median",
                             line={"color": blue, "width": s.line}, hovertemplate="Median: %{y:.1f}<extra></extra>"))
    return _scores_over_time_layout(fig, cutoffs, title=title, subtitle=subtitle, presentation=presentation)


def segment_score_trend(
    trend: pd.DataFrame,
    *,
    segment: str,
    cutoffs: tuple[float, float] | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Average score over time, one line per segment value.

    Args:
        trend: ``lib.views.portfolio.segment_score_over_time(scored, segment)`` — index ``snapshot_date``, one
            column per segment value (names from data: shown as text).
        segment: the segment column's name, for the title.
        cutoffs: ``(red, yellow)`` band cut-offs, drawn as dashed lines.

    Returns:
        One Scatter trace per segment value, in the table's column order, coloured from SERIES_COLORS (never
        the band palette, so no line reads as "red" or "green").
    """
    title = title or f"Average score by {segment.replace('_', ' ')}"
    if trend.empty or trend.shape[1] == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    s = style(presentation)
    fig = _figure()
    for k, column in enumerate(trend.columns):
        name = plain_text(str(column))
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(trend.index), y=pd.to_numeric(trend[column], errors="coerce").to_numpy(float),
            mode="lines" if len(trend) > 1 else "lines+markers", name=name,
            line={"color": SERIES_COLORS[k % len(SERIES_COLORS)], "width": s.line},
            hovertemplate=f"{name}: %{{y:.1f}}<extra></extra>"))
    return _scores_over_time_layout(fig, cutoffs, title=title, subtitle=subtitle, presentation=presentation)


# --- Tune: metrics and weights ----------------------------------------------------------------------


def _value_edges(v: np.ndarray, marks: Sequence[float], bins: int) -> np.ndarray:
    """Bin edges over the bulk of the values (0.5th–99.5th percentile) widened to include every threshold.

    Whole numbers over a short range (counts such as open tickets) get one bin per value, centred on it
    (edges at k ± 0.5).
    """
    lo, hi = (float(x) for x in np.quantile(v, [0.005, 0.995]))
    finite = [float(m) for m in marks if np.isfinite(m)]
    if finite:
        lo, hi = min(lo, *finite), max(hi, *finite)
    if np.all(v == np.floor(v)) and hi - lo <= 60:
        return np.arange(math.floor(lo) - 0.5, math.ceil(hi) + 1.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def metric_histogram(
    values: pd.Series,
    spec: object,
    *,
    label: str = "Value",
    bins: int = 40,
    title: str | None = None,
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """One metric's raw values with the thresholds of its score spec drawn over them (what to draw comes from
    the spec's :class:`lib.engine.methods.Method`, so every label is the score the engine gives there).

    - ``linear``: red line at ``red`` (0 points) and green line at ``green`` (100 points);
    - ``steps`` / ``vs_average``: a dashed line at each cut and the points of each interval written above
      it (as the engine scores it: a lower-is-better vs_average reverses the points); with whole-number
      values (one bar per value) the line sits on the bar boundary between the values below the cut and
      those at or above it (cut 3 → x = 2.5);
    - ``categories``: a bar per category (every category of the map, plus unmapped ones seen in the data)
      coloured by its points, unmapped ones grey;
    - ``percentile``: the histogram alone (the score is a rank, there are no thresholds).

    Args:
        values: the metric column, one value per account at one date (any length: binned with numpy). For
            ``vs_average`` pass the ratio of each value to its peer average (what the cuts apply to).
        spec: the metric's score spec — ``model.metrics[col].score`` or its YAML dict.
        label: the metric's display label (axis title; default title ``"{label}: distribution"``).
        bins: bins for continuous values (values beyond the 0.5th / 99.5th percentile count in the edge bins).

    Returns:
        Numeric: one Bar trace (x = bin centres, y = accounts), the thresholds as ``layout.shapes`` lines
        (linear: red then green).
        Categories: one Bar trace, x = categories (escaped), y = accounts, ``customdata`` = points.
    """
    title = title if title is not None else f"{label}: distribution"
    raw = pd.Series(values)
    if raw.dropna().empty:  # before reading the spec: a categories map being written may still be empty
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    sp, method = _spec(spec)
    s = style(presentation)
    missing = int(raw.isna().sum())
    if not method.numeric:
        return _category_histogram(raw, sp, label=label, title=title, subtitle=subtitle, presentation=presentation,
                                   missing=missing)
    v = pd.to_numeric(raw, errors="coerce").to_numpy(float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    lines = method.lines(sp)
    edges = _value_edges(v, [line.x for line in lines], bins)
    whole = edges[1] - edges[0] == 1.0 and edges[0] % 1 == 0.5
    counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
    centres = (edges[:-1] + edges[1:]) / 2
    ranges = (pd.Series(centres).map("{:g}".format) if whole else
              pd.Series(edges[:-1]).map("{:.4g}".format) + " to " + pd.Series(edges[1:]).map("{:.4g}".format))
    fig = _figure(go.Bar(
        x=centres, y=counts, width=edges[1] - edges[0], name=plain_text(label),
        marker={"color": NEUTRAL_COLOR, "line": {"width": 0}}, customdata=ranges.to_numpy(),
        hovertemplate="%{customdata}: %{y:,} accounts<extra></extra>",
    ))
    fig.update_layout(bargap=0.05)

    def at(x: float) -> float:
        """Where a cut is drawn: on whole-number bars, on the boundary between the last value below the cut and
        the first at or above it (cut 3 → 2.5), never through a bar."""
        return math.ceil(x) - 0.5 if whole else x

    for line in lines:
        if line.band is not None:
            _vline(fig, line.x, color=BAND_COLORS[line.band], width=s.line, side="right" if line.band == "red" else
                   "left", label=f"{BAND_LABELS[line.band]} {line.x:g} → {line.points:g} pts", font_size=s.legend)
        else:
            _vline(fig, at(line.x) if line.boundary else line.x, color=INK, width=s.line / 2, dash="dash",
                   label=f"{line.x:g}", font_size=s.legend)
    if method.stepped:  # a score per interval: written above its middle
        zones = method.zones(sp, float(edges[0]), float(edges[-1]))
        bounds = np.array([zones[0].lo, *(at(z.lo) for z in zones[1:]), zones[-1].hi])
        mids = (bounds[:-1] + bounds[1:]) / 2
        points = np.array([z.points for z in zones])
        for x, p, color in zip(mids, points, _points_colors(points), strict=True):
            fig.add_annotation(x=float(x), y=1.0, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                               text=f"{p:g} pts", font={"size": s.legend, "color": color})
    if method.note(sp):
        _note(fig, method.note(sp), presentation)
    if missing:
        fig.add_annotation(text=f"{missing:,} missing", x=0.0, y=1.0, xref="paper", yref="paper", xanchor="left",
                           yanchor="bottom", yshift=28, showarrow=False, font={"size": s.legend, "color": MUTED})
    x_title = f"{label}{method.scale.axis}" if method.scale else label
    return base_layout(fig, title=title, subtitle=subtitle, x_title=x_title, y_title=ACCOUNTS_AXIS,
                       presentation=presentation, showlegend=False)


def _category_histogram(raw: pd.Series, sp: Categories, *, label: str, title: str, subtitle: str | None,
                        presentation: bool, missing: int, max_bars: int = 30) -> go.Figure:
    """Bars of category counts coloured by points; categories matched to the map as the engine matches them
    (:func:`lib.engine.model.normalise_category`)."""
    mapping = {key: (str(k), float(v)) for (key, v), k in zip(sp.lookup().items(), sp.map, strict=True)}
    counts = raw.value_counts(sort=False, dropna=True)  # count first: a few distinct values to normalise
    seen = pd.DataFrame({"shown": category_texts(pd.Series(counts.index.astype(str))).to_numpy(),
                         "accounts": counts.to_numpy()})
    seen["key"] = category_keys(seen["shown"]).to_numpy()
    seen = seen.groupby("key", sort=False).agg(shown=("shown", "first"), accounts=("accounts", "sum"))
    mapped = pd.DataFrame({"key": list(mapping), "shown": [v[0] for v in mapping.values()],
                           "points": [v[1] for v in mapping.values()]}).set_index("key")
    table = mapped.join(seen[["accounts"]], how="left").fillna({"accounts": 0})
    extra = seen.loc[~seen.index.isin(mapped.index)].assign(points=np.nan)
    extra = extra.sort_values("accounts", ascending=False, kind="stable").head(max_bars)
    table = pd.concat([table.sort_values("points", ascending=False, kind="stable"), extra])
    if table["accounts"].sum() == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    points = table["points"].to_numpy(float)
    fig = _figure(go.Bar(
        x=_plain_series(table["shown"]).to_numpy(), y=table["accounts"].to_numpy(), customdata=points,
        marker={"color": _points_colors(points)}, name=plain_text(label),
        text=[f"{p:g} pts" if np.isfinite(p) else "not in map" for p in points], textposition="outside",
        cliponaxis=False, hovertemplate="%{x}: %{y:,} accounts · %{text}<extra></extra>",
    ))
    fig.update_xaxes(type="category")
    if missing:
        _note(fig, f"{missing:,} missing", presentation)
    return base_layout(fig, title=title, subtitle=subtitle, x_title=label, y_title=ACCOUNTS_AXIS,
                       presentation=presentation, showlegend=False)


def weights_bar(
    weights: Mapping[str, float] | Mapping[str, Mapping[str, float]],
    *,
    groups: Mapping[str, str | None] | None = None,
    labels: Mapping[str, str] | None = None,
    title: str = "Weights",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Horizontal bars of each metric's share of the score in %, normalised to sum to 100 per profile.

    Args:
        weights: metric → weight (any scale; normalised here), or profile → metric → weight as
            ``lib.engine.model.effective_weights(model)`` returns (one bar trace per profile, grouped).
        groups: metric → group name (``model.metrics[m].group``); with one profile, bars are ordered and
            coloured by group.
        labels: metric → display label (default the metric column name).

    Returns:
        One Bar trace per group (single profile) or per profile; x = weight in % (0–100), y = labels.
    """
    if weights and all(isinstance(v, Mapping) for v in weights.values()):
        profiles = {str(p): dict(w) for p, w in weights.items()}
    else:
        profiles = {"": dict(weights)}
    metrics = list(dict.fromkeys(m for w in profiles.values() for m in w))
    table = pd.DataFrame({p: pd.Series(w, dtype=float) for p, w in profiles.items()}).reindex(metrics).fillna(0.0)
    totals = table.sum()
    if not metrics or (totals <= 0).all():
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    pct = table.div(totals.replace(0, np.nan), axis=1).fillna(0.0) * 100
    names = pd.Series([(labels or {}).get(m, m) for m in metrics], index=metrics)
    s = style(presentation)
    fig = _figure()
    if len(profiles) == 1:
        profile = next(iter(profiles))
        group = pd.Series([(groups or {}).get(m) for m in metrics], index=metrics, dtype=object)
        group_names = list(dict.fromkeys(group.dropna().astype(str)))
        order = pct[profile].sort_values(ascending=False, kind="stable").index
        if group_names:
            rank = group.map({g: i for i, g in enumerate(group_names)}).fillna(len(group_names))
            order = rank.loc[order].sort_values(kind="stable").index
        for i, g in enumerate([*group_names, None]):
            members = [m for m in order if (group[m] is None and g is None) or (g is not None and group[m] == g)]
            if not members:
                continue
            fig.add_trace(go.Bar(
                x=pct.loc[members, profile].to_numpy(), y=_plain_series(names[members]).to_numpy(), orientation="h",
                name=(f"{plain_text(g)} ({pct.loc[members, profile].sum():.0f}%)" if g is not None
                      else ("Ungrouped" if group_names else "Weight")),
                marker={"color": SERIES_COLORS[i % len(SERIES_COLORS)] if g is not None else NEUTRAL_COLOR},
                text=[f"{x:.1f}%" for x in pct.loc[members, profile]], textposition="outside", cliponaxis=False,
                textfont={"size": s.font}, hovertemplate="%{y}: %{x:.1f}% of the score<extra></extra>",
            ))
        showlegend = bool(group_names)
    else:
        for i, profile in enumerate(profiles):
            fig.add_trace(go.Bar(
                x=pct[profile].to_numpy(), y=_plain_series(names).to_numpy(), orientation="h",
                name=plain_text(profile), marker={"color": SERIES_COLORS[i % len(SERIES_COLORS)]},
                text=[f"{x:.0f}%" for x in pct[profile]], textposition="outside", cliponaxis=False,
                hovertemplate=f"{plain_text(profile)} · %{{y}}: %{{x:.1f}}%<extra></extra>",
            ))
        fig.update_layout(barmode="group")
        showlegend = True
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(range=[0, float(pct.to_numpy().max()) * 1.2], ticksuffix="%")
    rows = len(metrics) * (len(profiles) if len(profiles) > 1 else 1)
    return base_layout(fig, title=title, subtitle=subtitle, x_title="Weight (% of the score)",
                       presentation=presentation, showlegend=showlegend,
                       height=max(280, 120 + (36 if presentation else 24) * rows))


# --- Account ------------------------------------------------------------------------------------------


def score_history(
    history: pd.DataFrame,
    *,
    cutoffs: tuple[float, float] | None = None,
    title: str = "Score history",
    subtitle: str | None = None,
    presentation: bool = False,
    marks: Sequence[tuple[pd.Timestamp, str]] = (),
) -> go.Figure:
    """One account's score over time on band-coloured background bands, with alert and override markers.

    Args:
        history: ``lib.views.portfolio.account_history(scored, account_id)`` — columns ``snapshot_date, score`` and
            optionally ``band`` (colours the points), ``alerts`` (rule names joined by '; ', '' when none),
            ``override_reason`` (text where a CSM override applies to that snapshot, else empty / NA).
        cutoffs: ``(red, yellow)`` band cut-offs: draws three background rectangles (0–red, red–yellow,
            yellow–100) and colours the points when there is no ``band`` column.
        marks: ``(date, label)`` where the model's version changed (``lib.views.audit.version_marks``): a dotted
            vertical line labelled at the top (``layout.shapes`` / ``layout.annotations``).

    Returns:
        Trace 0: the score line (x = dates, y = scores, marker colours by band); then an "Alert" marker trace
        if any snapshot has alerts and an "Override" marker trace if any has an override reason. The band
        rectangles are ``layout.shapes``.
    """
    if len(history) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    _require(history, ["snapshot_date", "score"], "score_history",
             "pass lib.views.portfolio.account_history(scored, account_id)")
    h = history.sort_values("snapshot_date", kind="stable")
    y = pd.to_numeric(h["score"], errors="coerce").to_numpy(float)
    if np.isnan(y).all():
        return empty_figure(title, subtitle=subtitle, message="No score for this account yet",
                            presentation=presentation)
    x = pd.to_datetime(h["snapshot_date"]).to_numpy()
    if "band" in h.columns:
        bands = h["band"].astype(str).to_numpy()
    elif cutoffs is not None:
        bands = _band_of(y, cutoffs)
    else:
        bands = np.full(len(h), "")
    colors = [BAND_COLORS.get(b, INK) for b in bands]
    band_text = pd.Series(bands).map(BAND_LABELS).fillna("").to_numpy()
    s = style(presentation)
    fig = _figure(go.Scatter(
        x=x, y=y, mode="lines+markers", name="Score", line={"color": INK, "width": s.line},
        marker={"color": colors, "size": s.marker, "line": {"color": "white", "width": 1}}, customdata=band_text,
        hovertemplate="Score %{y:.1f} · %{customdata}<extra></extra>",
    ))
    if "alerts" in h.columns:
        alerts = h["alerts"].astype("string").fillna("").str.strip()
        m = (alerts != "").to_numpy()
        if m.any():
            fig.add_trace(go.Scatter(
                x=x[m], y=y[m], mode="markers", name="Alert", customdata=_plain_series(alerts[m]).to_numpy(),
                marker={"symbol": "triangle-down", "size": s.marker * 2, "color": INK,
                        "line": {"color": "white", "width": 1}},
                hovertemplate="Alert: %{customdata}<extra></extra>",
            ))
    if "override_reason" in h.columns:
        reason = h["override_reason"].astype("string").fillna("").str.strip()
        m = (reason != "").to_numpy()
        if m.any():
            fig.add_trace(go.Scatter(
                x=x[m], y=y[m], mode="markers", name="Overridden", customdata=_plain_series(reason[m]).to_numpy(),
                marker={"symbol": "circle-open", "size": s.marker * 2.4, "color": SERIES_COLORS[0],
                        "line": {"width": max(2.0, s.line / 1.5)}},
                hovertemplate="Score overridden: %{customdata}<extra></extra>",
            ))
    if cutoffs is not None:
        _band_backgrounds(fig, cutoffs, axis="y")
    for day, label in marks:
        fig.add_vline(x=pd.Timestamp(day), line={"color": MUTED, "dash": "dot", "width": 1.5})
        fig.add_annotation(x=pd.Timestamp(day), y=1, yref="paper", text=plain_text(label), showarrow=False,
                           yanchor="bottom", font={"size": s.tick, "color": MUTED})
    fig.update_yaxes(range=[0, 100])
    return base_layout(fig, title=title, subtitle=subtitle, x_title=DATE_AXIS, y_title=SCORE_AXIS,
                       presentation=presentation, hovermode="x unified")


def contribution_chart(
    breakdown: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    kind: Literal["waterfall", "bars"] = "waterfall",
    band: str | None = None,
    title: str = "What makes up the score",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Each metric's contribution (weight × metric score) building up to the account's score.

    Horizontal, so long metric labels stay readable: metrics from the top, largest contribution first.

    Args:
        breakdown: ``lib.views.portfolio.account_breakdown(...)`` — columns ``metric, contribution`` and optionally
            ``score`` (metric score 0–100), ``weight`` (0–1), ``value`` (raw value). One row per metric; a
            missing contribution (metric without a value) is drawn as 0 and labelled "missing".
        labels: metric → display label.
        kind: ``"waterfall"`` (metrics then a "Score" total bar) or ``"bars"`` (one bar per metric).
        band: the account's band, to colour the total bar.

    Returns:
        Waterfall: one Waterfall trace (orientation h), y = labels + ["Score"], x = contributions + [their
        sum], measure ``relative`` … ``total``. Bars: one Bar trace, x = contributions, y = labels.
    """
    if len(breakdown) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    _require(breakdown, ["metric", "contribution"], "contribution_chart",
             "pass lib.views.portfolio.account_breakdown(...)")
    b = breakdown.assign(contribution=pd.to_numeric(breakdown["contribution"], errors="coerce"))
    if b["contribution"].isna().all():
        return empty_figure(title, subtitle=subtitle, message="No metric has a value for this snapshot",
                            presentation=presentation)
    b = b.sort_values("contribution", ascending=False, na_position="last", kind="stable")
    missing = b["contribution"].isna().to_numpy()
    contrib = b["contribution"].fillna(0.0).to_numpy(float)
    names = _plain_series(b["metric"].map(lambda m: (labels or {}).get(m, m)))
    mscore = pd.to_numeric(b["score"], errors="coerce") if "score" in b else pd.Series(np.nan, b.index)
    weight = pd.to_numeric(b["weight"], errors="coerce") * 100 if "weight" in b else pd.Series(np.nan, b.index)
    value = _plain_series(b["value"].map(_fmt_value)) if "value" in b else pd.Series("", index=b.index)
    detail = np.where(missing, "no value: its weight went to the other metrics",
                      "metric score " + mscore.map("{:.0f}".format).to_numpy(object) + " × weight "
                      + weight.map("{:.1f}%".format).to_numpy(object))
    custom = np.stack([value.to_numpy(object), detail], axis=1)
    text = np.where(missing, "missing", pd.Series(contrib).map("+{:.1f}".format).to_numpy(object))
    total = float(contrib.sum())
    hover = "%{y}: %{x:.1f} points<br>%{customdata[1]}<br>value %{customdata[0]}<extra></extra>"
    s = style(presentation)
    height = max(300, 140 + (44 if presentation else 30) * (len(b) + 1))
    if kind == "bars":
        fig = _figure(go.Bar(
            x=contrib, y=names.to_numpy(), orientation="h", name="Contribution", customdata=custom,
            marker={"color": SERIES_COLORS[0]}, text=text, textposition="outside", cliponaxis=False,
            hovertemplate=hover,
        ))
        _note(fig, f"Score {total:.1f}", presentation)
    else:
        fig = _figure(go.Waterfall(
            orientation="h", y=[*names, "Score"], x=[*contrib, total], measure=["relative"] * len(contrib) + ["total"],
            customdata=[*custom.tolist(), ["", "sum of the contributions"]], name="Contribution",
            text=[*text, f"{total:.1f}"], textposition="outside", cliponaxis=False,
            increasing={"marker": {"color": SERIES_COLORS[0]}},
            totals={"marker": {"color": BAND_COLORS.get(band or "", INK)}},
            connector={"line": {"color": MUTED, "width": 1, "dash": "dot"}}, textfont={"size": s.font},
            hovertemplate=hover,
        ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(range=[0, max(100.0, total * 1.1)])
    return base_layout(fig, title=title, subtitle=subtitle, x_title="Points of the score (0–100)",
                       presentation=presentation, showlegend=False, height=height)


def _zones(sp: ScoreSpec, method: Method, value: float) -> tuple[list[tuple[float, float, float]], float, float]:
    """Background zones (x0, x1, points) and the x range for one raw-value bullet row (linear / steps)."""
    marks = [float(m) for m in method.marks(sp)]
    finite = [m for m in (*marks, value) if np.isfinite(m)]
    span = (max(finite) - min(finite)) or abs(finite[0]) or 1.0
    lo, hi = min(finite) - 0.25 * span, max(finite) + 0.25 * span
    return [(z.lo, z.hi, z.points) for z in method.zones(sp, lo, hi)], lo, hi


_SCORE_ZONES = [(-5.0, 100 / 3, 0.0), (100 / 3, 200 / 3, 50.0), (200 / 3, 105.0, 100.0)]


def metric_bullets(
    breakdown: pd.DataFrame,
    specs: Mapping[str, object],
    *,
    labels: Mapping[str, str] | None = None,
    title: str = "Raw values against thresholds",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Bullet chart, one row per metric: the account's value (black diamond) on its scoring zones.

    Zones are tinted by the points they give (red band colour = 0, yellow = 50, green = 100).
    ``linear`` rows show the raw value against the red / green thresholds; ``steps`` rows against the cuts.
    ``categories`` rows are drawn on the points axis with each category name at its points;
    ``percentile`` and ``vs_average`` rows on the metric-score axis (0–100), because their raw value has no
    fixed threshold (a rank; a ratio to a peer average the breakdown does not hold). The raw value is in
    the marker label in every case; those rows' labels end in "(score)".

    Args:
        breakdown: ``lib.views.portfolio.account_breakdown(...)`` — columns ``metric, value, score`` (value = raw
            value, score = metric score 0–100).
        specs: metric → score spec (``{m: model.metrics[m].score}`` or YAML dicts); sets the row order.
        labels: metric → display label.

    Returns:
        A subplot figure: row i has one Scatter marker trace (x = [raw value, or metric score], y = [label])
        and its zones as ``layout.shapes`` on axis ``x{i}`` (``x`` for the first row).
    """
    if len(breakdown) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    _require(breakdown, ["metric", "value", "score"], "metric_bullets",
             "pass lib.views.portfolio.account_breakdown(...)")
    rows = breakdown.drop_duplicates("metric").set_index("metric")
    metrics = [m for m in specs if m in rows.index]
    if not metrics:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    s = style(presentation)
    fig = _figure()
    gap = min(0.12, 0.5 / len(metrics))
    row_height = (1 - gap * (len(metrics) - 1)) / len(metrics)
    # One x/y axis pair per row, laid out by hand (make_subplots costs more than the rest of the figure);
    # axes, zones and notes are collected and set once, as each add_shape re-validates every shape so far.
    axes: dict[str, Any] = {}
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for i, metric in enumerate(metrics, start=1):
        sp, method = _spec(specs[metric])
        raw = rows.at[metric, "value"]
        mscore = float(pd.to_numeric(pd.Series([rows.at[metric, "score"]]), errors="coerce").iloc[0])
        label = (labels or {}).get(metric, metric)
        tickvals = ticktext = None
        if method.scale is VALUE:  # thresholds on the raw value: drawn on it
            x = float(pd.to_numeric(pd.Series([raw]), errors="coerce").iloc[0])
            zones, lo, hi = _zones(sp, method, x)
        else:
            x = mscore
            zones, lo, hi = _SCORE_ZONES, -5.0, 105.0
            label = f"{label} (score)"
            if not method.numeric:  # each category's name at its points
                cats = pd.Series({str(k): float(v) for k, v in sp.map.items()}, dtype=float)
                by_points = _plain_series(pd.Series(cats.index)).groupby(cats.to_numpy()).agg(" / ".join)
                tickvals, ticktext = by_points.index.to_list(), by_points.to_list()
        name = plain_text(label)
        suffix = str(i) if i > 1 else ""
        xref, yref = f"x{suffix}", f"y{suffix} domain"
        for (x0, x1, _points), color in zip(zones, _points_colors(np.array([z[2] for z in zones])), strict=True):
            shapes.append({"type": "rect", "x0": x0, "x1": x1, "y0": 0.2, "y1": 0.8, "xref": xref, "yref": yref,
                           "fillcolor": color, "opacity": 0.35, "line": {"width": 0}, "layer": "below"})
        text = plain_text(_fmt_value(raw) + (f" → {mscore:.0f} pts" if np.isfinite(mscore) else ""))
        fig.add_trace(go.Scatter(
            x=[x if np.isfinite(x) else None], y=[name], mode="markers+text", name=name,
            marker={"symbol": "diamond", "size": s.marker * 1.8, "color": INK},
            text=[text], textposition="middle right", textfont={"size": s.font},
            hovertemplate=f"{name}: {text}<extra></extra>", xaxis=f"x{suffix}", yaxis=f"y{suffix}",
        ))
        if not np.isfinite(x):
            notes.append({"text": "missing", "x": 0.5, "y": 0.5, "xref": f"{xref} domain", "yref": yref,
                          "showarrow": False, "font": {"color": MUTED, "size": s.font}})
        top = 1 - (i - 1) * (row_height + gap)
        axes[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": [0, 1], "range": [lo, hi], "showgrid": False,
                                  "zeroline": False, "tickvals": tickvals, "ticktext": ticktext}
        axes[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": [max(0.0, top - row_height), top],
                                  "type": "category", "showgrid": False}
    fig.layout = {**_merge(fig.layout.to_plotly_json(), axes), "shapes": shapes, "annotations": notes}
    return base_layout(fig, title=title, subtitle=subtitle, presentation=presentation, showlegend=False,
                       height=120 + (130 if presentation else 90) * len(metrics))


def peer_position(
    peers: pd.DataFrame,
    *,
    cutoffs: tuple[float, float] | None = None,
    segment_label: str = "Peers",
    title: str | None = None,
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Where one account sits among its segment peers: a box of peers' scores, the account as a diamond.

    The box is drawn from precomputed quartiles (whiskers at the 5th and 95th percentile), so a segment of
    100,000 peers costs the same as one of 10.

    Args:
        peers: ``lib.views.portfolio.segment_position(...)`` — columns ``score, is_account`` and optionally
            ``account_name``, ``percentile`` (the account's rank among peers, 0–100).
        cutoffs: ``(red, yellow)`` band cut-offs for band-coloured background columns.
        segment_label: the peer group's name, e.g. ``"size = Enterprise"`` (y label).
        title: default ``"{account name} among {n} peers"``.

    Returns:
        Trace 0: a Box (q1, median, q3, lowerfence = p5, upperfence = p95 of all peers' scores); trace 1 (if
        the account is in ``peers``): a Scatter marker at the account's score.
    """
    default = "Position among peers"
    if len(peers) == 0:
        return empty_figure(title or default, subtitle=subtitle, presentation=presentation)
    _require(peers, ["score", "is_account"], "peer_position", "pass lib.views.portfolio.segment_position(...)")
    scores = pd.to_numeric(peers["score"], errors="coerce")
    valid = scores.dropna().to_numpy(float)
    if len(valid) == 0:
        return empty_figure(title or default, subtitle=subtitle, presentation=presentation)
    mine = peers.loc[peers["is_account"].fillna(False).astype(bool)]
    name = str(mine["account_name"].iloc[0]) if len(mine) and "account_name" in mine else "This account"
    title = title if title is not None else f"{name} among {len(valid):,} peers"
    p5, q1, med, q3, p95 = np.percentile(valid, [5, 25, 50, 75, 95])
    y_label = plain_text(segment_label)
    s = style(presentation)
    fig = _figure(go.Box(
        y=[y_label], q1=[q1], median=[med], q3=[q3], lowerfence=[p5], upperfence=[p95], orientation="h",
        name="Peers", marker={"color": MUTED}, fillcolor=_rgba(NEUTRAL_COLOR, 0.35), line={"width": s.line / 1.5},
        hoverinfo="x",
    ))
    if len(mine):
        score = float(pd.to_numeric(mine["score"], errors="coerce").iloc[0])
        if np.isfinite(score):
            pct = (float(mine["percentile"].iloc[0]) if "percentile" in mine else float((valid < score).mean() * 100))
            band = _band_of(np.array([score]), cutoffs)[0] if cutoffs is not None else ""
            fig.add_trace(go.Scatter(
                x=[score], y=[y_label], mode="markers+text", name=plain_text(name),
                marker={"symbol": "diamond", "size": s.marker * 2.2, "color": BAND_COLORS.get(band, INK),
                        "line": {"color": INK, "width": 2}},
                text=[f"{plain_text(name)}: {score:.0f} (percentile {pct:.0f})"], textposition="top center",
                textfont={"size": s.font},
                hovertemplate=f"{plain_text(name)}: %{{x:.1f}} · percentile {pct:.0f}<extra></extra>",
            ))
    if cutoffs is not None:
        _band_backgrounds(fig, cutoffs, axis="x")
    fig.update_xaxes(range=[0, 100])
    return base_layout(fig, title=title, subtitle=subtitle, x_title=SCORE_AXIS, presentation=presentation,
                       showlegend=False, height=260 if not presentation else 360)


# --- Trends: migrations --------------------------------------------------------------------------------


def _square_counts(matrix: pd.DataFrame, builder: str) -> pd.DataFrame:
    """A band × band count table in BAND_ORDER on both axes (absent bands 0)."""
    _check_bands(matrix.index, builder)
    _check_bands(matrix.columns, builder)
    m = matrix.copy()
    m.index, m.columns = m.index.astype(str), m.columns.astype(str)
    bands = list(BAND_ORDER)
    return m.reindex(index=bands, columns=bands, fill_value=0).apply(pd.to_numeric, errors="coerce").fillna(0)


def band_sankey(
    matrix: pd.DataFrame,
    *,
    from_label: str = "Before",
    to_label: str = "After",
    title: str = "Band migration",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Sankey of accounts flowing from their band on one date (left) to their band on another (right).

    Args:
        matrix: COUNTS, index = from-band, columns = to-band, only accounts present on both dates —
            ``lib.views.portfolio.migrations(scored, d1, d2)`` or ``lib.analysis.flip_matrix(...).counts``.
        from_label, to_label: the two sides' names (e.g. the dates "2026-01-01", "2026-04-01"; model names).

    Returns:
        One Sankey trace: nodes = bands present on the left then on the right (band colours), one link per
        non-zero cell with ``value`` = accounts, so the link values sum to the accounts on both dates.
    """
    if matrix.size == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    m = _square_counts(matrix, "band_sankey")
    if m.to_numpy().sum() <= 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    left = [b for b in BAND_ORDER if m.loc[b].sum() > 0]
    right = [b for b in BAND_ORDER if m[b].sum() > 0]
    cells = m.loc[left, right].stack()
    cells = cells[cells > 0]
    src = [left.index(a) for a, _ in cells.index]
    dst = [len(left) + right.index(b) for _, b in cells.index]
    s = style(presentation)
    fig = _figure(go.Sankey(
        arrangement="snap",
        node={"label": [BAND_LABELS[b] for b in (*left, *right)], "color": [BAND_COLORS[b] for b in (*left, *right)],
              "pad": 18, "thickness": 22 if not presentation else 32, "line": {"width": 0},
              "hovertemplate": "%{label}: %{value:,} accounts<extra></extra>"},
        link={"source": src, "target": dst, "value": cells.to_numpy(float),
              "color": [_rgba(BAND_COLORS[a], 0.35) for a, _ in cells.index],
              "customdata": [f"{BAND_LABELS[a]} → {BAND_LABELS[b]}" for a, b in cells.index],
              "hovertemplate": "%{customdata}: %{value:,} accounts<extra></extra>"},
        textfont={"size": s.font},
    ))
    for x, anchor, text in ((0.0, "left", from_label), (1.0, "right", to_label)):
        fig.add_annotation(text=plain_text(text), x=x, y=1.0, xref="paper", yref="paper", xanchor=anchor,
                           yanchor="bottom", showarrow=False, font={"size": s.axis_title, "color": MUTED})
    return base_layout(fig, title=title, subtitle=subtitle, presentation=presentation, showlegend=False)


def band_flip_matrix(
    counts: pd.DataFrame,
    arr: pd.DataFrame | None = None,
    *,
    from_label: str = "Before",
    to_label: str = "After",
    title: str = "Band changes",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Heat map of accounts by band on one side (rows) and the other (columns), diagonal outlined.

    Serves Trends (date A → date B), Tune (saved → new model) and Validate (model A × model B).

    Args:
        counts: COUNTS, index = from-band, columns = to-band — ``lib.views.portfolio.migrations(...)`` or
            ``lib.analysis.flip_matrix(...).counts``.
        arr: the same shape holding ARR per cell (``flip_matrix(...).arr``), shown in the hover.
        from_label, to_label: row and column side names (axis titles read "Band — {label}").

    Returns:
        One Heatmap: y = from-bands, x = to-bands (bands present on either side, in band order), z = counts;
        ``customdata`` = ARR per cell when given. The diagonal cells are outlined with ``layout.shapes``.
    """
    if counts.size == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    m = _square_counts(counts, "band_flip_matrix")
    if m.to_numpy().sum() <= 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    bands = [b for b in BAND_ORDER if m.loc[b].sum() > 0 or m[b].sum() > 0]
    z = m.loc[bands, bands].to_numpy(float)
    labels = [BAND_LABELS[b] for b in bands]
    s = style(presentation)
    hover = "%{y} → %{x}: %{z:,} accounts"
    custom = None
    if arr is not None and arr.size:
        custom = _square_counts(arr, "band_flip_matrix").loc[bands, bands].to_numpy(float)
        hover += "<br>ARR %{customdata:$,.0f}"
    fig = _figure(go.Heatmap(
        z=z, x=labels, y=labels, customdata=custom, colorscale="Blues", texttemplate="%{z:,}",
        textfont={"size": s.font}, colorbar={"title": {"text": ACCOUNTS_AXIS}},
        hovertemplate=hover + "<extra></extra>",
    ))
    for i in range(len(bands)):
        fig.add_shape(type="rect", x0=i - 0.5, x1=i + 0.5, y0=i - 0.5, y1=i + 0.5, xref="x", yref="y",
                      line={"color": INK, "width": 1.5})
    moved = int(z.sum() - np.trace(z))
    fig.update_xaxes(type="category", side="bottom")
    fig.update_yaxes(type="category", autorange="reversed")
    fig = base_layout(fig, title=title, subtitle=subtitle, x_title=f"Band — {to_label}",
                      y_title=f"Band — {from_label}", presentation=presentation, showlegend=False)
    # Under the axis title, not in the top corner: in a half-width column a long subtitle reaches the corner.
    fig.add_annotation(text=plain_text(f"{moved:,} of {int(z.sum()):,} accounts changed band"), x=1.0, y=0.0,
                       xref="paper", yref="paper", xanchor="right", yanchor="top", showarrow=False,
                       yshift=-(3 * s.font + 12), font={"size": s.legend, "color": MUTED})
    fig.update_layout(margin={"b": int(fig.layout.margin.b or 0) + s.legend + 12})
    return fig


# --- Compare / Validate ------------------------------------------------------------------------------


def distribution_by_label(
    data: pd.DataFrame,
    *,
    value: str = "score",
    label: str = "label",
    scale: Literal["score", "auto"] = "score",
    bins: int = 30,
    cutoffs: tuple[float, float] | None = None,
    x_title: str = SCORE_AXIS,
    title: str = "Score: healthy vs struggling",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Overlaid histograms of a numeric column per label group, as % of each group (sizes differ).

    Args:
        data: one row per account — e.g. ``lib.analysis.labelled_accounts(...)`` (columns ``label, score``) or
            ``label_distributions(...)`` filtered to one measure; the portfolio's ``health_label`` works with
            ``label="health_label"``. Labels are matched ignoring case; 'healthy' and 'struggling' come first.
        value: the numeric column to bin (``"score"``, a metric score, or ``"value"`` for raw values).
        scale: ``"score"`` bins 0–100 in 5-point bins; ``"auto"`` spreads ``bins`` bins over the data.
        cutoffs: ``(red, yellow)`` band cut-offs to draw.

    Returns:
        One Bar trace per label (named "Healthy (n=…)"), x = bin centres, y = % of that label's accounts;
        ``customdata`` = counts.
    """
    if len(data) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    _require(data, [value, label], "distribution_by_label", f"pass one row per account with columns {label}, {value}")
    v = pd.to_numeric(data[value], errors="coerce")
    lab = data[label].astype("string").str.strip().str.lower()
    keep = v.notna() & lab.notna() & (lab != "")
    v, lab = v[keep].to_numpy(float), lab[keep].to_numpy(dtype=object)
    if len(v) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    if scale == "score":
        edges = np.linspace(0, 100, 21)
        v = np.clip(v, 0, 100)
    else:
        edges = _value_edges(v, (), bins)
        v = np.clip(v, edges[0], edges[-1])
    centres = (edges[:-1] + edges[1:]) / 2
    groups = sorted(set(lab), key=lambda g: (g not in LABEL_COLORS, list(LABEL_COLORS).index(g)
                                             if g in LABEL_COLORS else 0, g))
    others = iter(SERIES_COLORS[2:])
    fig = _figure()
    for g in groups:
        counts, _ = np.histogram(v[lab == g], bins=edges)
        n = int(counts.sum())
        color = LABEL_COLORS.get(g) or next(others, MUTED)
        fig.add_trace(go.Bar(
            x=centres, y=counts / n * 100, width=edges[1] - edges[0], name=f"{plain_text(g).capitalize()} (n={n:,})",
            marker={"color": color, "line": {"width": 0}}, opacity=0.6, customdata=counts,
            hovertemplate=f"{plain_text(g).capitalize()}: %{{y:.1f}}% (%{{customdata:,}} accounts)<extra></extra>",
        ))
    fig.update_layout(barmode="overlay", bargap=0)
    fig.update_yaxes(ticksuffix="%")
    if cutoffs is not None:
        _cutoff_lines(fig, cutoffs, presentation)
    return base_layout(fig, title=title, subtitle=subtitle, x_title=x_title, y_title="Share of group (%)",
                       presentation=presentation)


def roc_curve(
    scores: pd.Series | Sequence[float],
    positive: pd.Series | Sequence[bool],
    *,
    auc: float | None = None,
    interval: tuple[float, float] | None = None,
    positive_name: str = "renewed",
    negative_name: str = "churned",
    title: str = "How well the score separates outcomes",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """ROC curve of the score with the chance diagonal; the AUC (and its interval) in the title.

    Orientation as in ``lib.analysis``: higher score = healthier, so ``positive`` marks the accounts that
    should score higher (renewed, or healthy on the Compare page).

    Args:
        scores: one score per account (NaN left out).
        positive: aligned booleans (NA left out): True renewed / healthy, False churned / struggling — e.g.
            ``~backtest.accounts["churned"]``.
        auc: the AUC to print (e.g. ``Backtest.auc``); computed with scikit-learn when None.
        interval: ``(low, high)`` bootstrap interval to print (``Backtest.auc_low, auc_high``).
        positive_name, negative_name: what the two classes are called (axis titles and subtitle counts).

    Returns:
        Trace 0: the diagonal (x = y = [0, 1]); trace 1: the curve (x = false positive rate, y = true
        positive rate, at most 2,000 points). Title "… — AUC 0.78 (0.74–0.82)"; subtitle adds the counts.
    """
    s_ = pd.to_numeric(pd.Series(scores).reset_index(drop=True), errors="coerce")
    y_ = pd.Series(positive).reset_index(drop=True).astype("boolean")
    keep = (s_.notna() & y_.notna()).to_numpy()
    sv, yv = s_.to_numpy(float)[keep], y_.to_numpy(dtype=bool, na_value=False)[keep]
    n_pos, n_neg = int(yv.sum()), int((~yv).sum())
    if n_pos == 0 or n_neg == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation,
                            message=f"Needs both {positive_name} and {negative_name} accounts with a score "
                                    f"(have {n_pos:,} {positive_name}, {n_neg:,} {negative_name})")
    fpr, tpr, _ = _sk_roc_curve(yv, sv)
    if len(fpr) > _MAX_CURVE_POINTS:
        idx = np.unique(np.linspace(0, len(fpr) - 1, _MAX_CURVE_POINTS).round().astype(int))
        fpr, tpr = fpr[idx], tpr[idx]
    auc = float(roc_auc_score(yv, sv)) if auc is None else float(auc)
    full_title = f"{title} — AUC {auc:.2f}"
    if interval is not None and all(np.isfinite(interval)):
        full_title += f" ({interval[0]:.2f}–{interval[1]:.2f})"
    counts = f"{n_pos:,} {positive_name} · {n_neg:,} {negative_name}"
    st_ = style(presentation)
    fig = _figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="Chance (AUC 0.5)",
                   line={"color": MUTED, "dash": "dash", "width": st_.line / 2}, hoverinfo="skip"),
        go.Scatter(x=fpr, y=tpr, mode="lines", name="Score", line={"color": SERIES_COLORS[0], "width": st_.line},
                   hovertemplate=(f"{plain_text(negative_name)} above the cut: %{{x:.0%}}<br>"
                                  f"{plain_text(positive_name)} above the cut: %{{y:.0%}}<extra></extra>")),
    ])
    fig.update_xaxes(range=[0, 1], tickformat=".0%", constrain="domain")
    fig.update_yaxes(range=[0, 1], tickformat=".0%", scaleanchor="x", scaleratio=1)
    return base_layout(fig, title=full_title, subtitle=f"{subtitle} · {counts}" if subtitle else counts,
                       x_title=f"False positive rate (% of {negative_name} above the cut-off)",
                       y_title=f"True positive rate (% of {positive_name} above the cut-off)",
                       presentation=presentation)


def _rate_table(table: pd.DataFrame, key: str, builder: str, hint: str) -> pd.DataFrame:
    _require(table, [key, "accounts", "churned"], builder, hint)
    t = table.assign(accounts=pd.to_numeric(table["accounts"], errors="coerce").fillna(0),
                     churned=pd.to_numeric(table["churned"], errors="coerce").fillna(0))
    t = t.loc[t["accounts"] > 0]
    return t.assign(rate=t["churned"] / t["accounts"] * 100)


def _base_rate_line(fig: go.Figure, rate: float, presentation: bool, text: str) -> None:
    s = style(presentation)
    _hline(fig, rate, color=INK, width=s.line / 2, dash="dash", label=text, font_size=s.legend)


def churn_by_band(
    table: pd.DataFrame,
    *,
    title: str = "Churn rate by band",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Bars of churn rate per band with "12.3% · 45 of 366" labels and the overall rate as a dashed line.

    Args:
        table: ``lib.analysis.churn_by_band(...)`` / ``Backtest.bands`` — columns ``band, accounts, churned``
            (one row per band; bands without accounts are left out).

    Returns:
        One Bar trace, x = band labels, y = churn rate in % (churned / accounts × 100), band colours;
        the base rate (all churned / all accounts) as a horizontal line shape.
    """
    if len(table) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    t = _rate_table(table, "band", "churn_by_band", "pass lib.analysis.churn_by_band(...)")
    _check_bands(t["band"], "churn_by_band")
    if t.empty:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    t = t.assign(order=t["band"].map(BAND_ORDER.index)).sort_values("order")
    text = [f"{r:.1f}%<br>{c:,.0f} of {a:,.0f}" for r, c, a in zip(t["rate"], t["churned"], t["accounts"], strict=True)]
    fig = _figure(go.Bar(
        x=t["band"].map(BAND_LABELS).to_numpy(), y=t["rate"].to_numpy(), name="Churn rate",
        marker={"color": t["band"].map(BAND_COLORS).to_list()}, text=text, textposition="outside", cliponaxis=False,
        customdata=np.stack([t["churned"].to_numpy(), t["accounts"].to_numpy()], axis=1),
        hovertemplate="%{x}: %{y:.1f}% churned (%{customdata[0]:,} of %{customdata[1]:,})<extra></extra>",
    ))
    base = t["churned"].sum() / t["accounts"].sum() * 100
    _base_rate_line(fig, base, presentation, f"All accounts {base:.1f}%")
    fig.update_yaxes(rangemode="tozero", ticksuffix="%")
    return base_layout(fig, title=title, subtitle=subtitle, x_title="Band at the scored snapshot",
                       y_title="Churn rate (%)", presentation=presentation, showlegend=False)


def lift_by_decile(
    table: pd.DataFrame,
    *,
    title: str = "Lift by score decile",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Bars of lift (decile churn rate ÷ overall churn rate) per score decile, lowest scores first.

    Args:
        table: ``lib.analysis.lift_by_decile(...)`` / ``Backtest.lift`` — columns ``decile, accounts,
            churned`` and optionally ``score_min, score_max`` (shown under each decile).

    Returns:
        One Bar trace, x = decile numbers, y = lift (recomputed from the counts); a line at lift 1.
        Deciles above 1 are in the red band colour.
    """
    if len(table) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    t = _rate_table(table, "decile", "lift_by_decile", "pass lib.analysis.lift_by_decile(...)").sort_values("decile")
    churned = t["churned"].sum()
    if t.empty or churned == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation,
                            message="No churned accounts: lift is undefined")
    base = churned / t["accounts"].sum() * 100
    lift = (t["rate"] / base).to_numpy(float)
    ticks = t["decile"].astype(int).astype(str)
    if {"score_min", "score_max"} <= set(t.columns):
        ticks = ticks + "<br>" + t["score_min"].map("{:.0f}".format) + "–" + t["score_max"].map("{:.0f}".format)
    fig = _figure(go.Bar(
        x=t["decile"].to_numpy(), y=lift, name="Lift", text=[f"{x:.1f}×" for x in lift], textposition="outside",
        cliponaxis=False, marker={"color": np.where(lift > 1, BAND_COLORS["red"], SERIES_COLORS[0]).tolist()},
        customdata=np.stack([t["rate"].to_numpy(), t["churned"].to_numpy(), t["accounts"].to_numpy()], axis=1),
        hovertemplate=("Decile %{x}: lift %{y:.2f}× · churn %{customdata[0]:.1f}% "
                       "(%{customdata[1]:,} of %{customdata[2]:,})<extra></extra>"),
    ))
    _base_rate_line(fig, 1.0, presentation, f"Base rate {base:.1f}% (lift 1)")
    fig.update_xaxes(tickvals=t["decile"].to_numpy(), ticktext=ticks.to_list())
    fig.update_yaxes(rangemode="tozero")
    return base_layout(fig, title=title, subtitle=subtitle, x_title="Score decile (1 = lowest scores)",
                       y_title="Lift (× overall churn rate)", presentation=presentation, showlegend=False)


def churn_by_bins(
    table: pd.DataFrame,
    *,
    metric_label: str = "Metric",
    base_rate: float | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Churn rate per bin (decile or category) of one metric, with the base-rate line: where a threshold belongs.

    Args:
        table: ``lib.analysis.churn_by_bins(values, churned)`` — columns ``bin, label, accounts, churned``
            (``label`` is the bin's value range or category, shown as the tick text, escaped).
        metric_label: the metric's display label (title and axis title).
        base_rate: overall churn rate as a fraction (0–1); default: all churned / all accounts in the table.

    Returns:
        One Bar trace, x = bin numbers (tick text = labels), y = churn rate in %; bins above the base rate
        in the red band colour, the rest blue; the base rate as a dashed line.
    """
    title = title if title is not None else f"Churn rate by {metric_label}"
    if len(table) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    t = _rate_table(table, "bin", "churn_by_bins", "pass lib.analysis.churn_by_bins(...)").sort_values("bin")
    if t.empty:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    base = float(base_rate) * 100 if base_rate is not None else t["churned"].sum() / t["accounts"].sum() * 100
    ticks = _plain_series(t["label"] if "label" in t.columns else t["bin"]).to_list()
    rate = t["rate"].to_numpy(float)
    fig = _figure(go.Bar(
        x=t["bin"].to_numpy(), y=rate, name="Churn rate", text=[f"{r:.0f}%" for r in rate], textposition="outside",
        cliponaxis=False, marker={"color": np.where(rate > base, BAND_COLORS["red"], SERIES_COLORS[0]).tolist()},
        customdata=np.stack([np.array(ticks, dtype=object), t["churned"].to_numpy(), t["accounts"].to_numpy()], 1),
        hovertemplate="%{customdata[0]}: %{y:.1f}% churned (%{customdata[1]:,} of %{customdata[2]:,})<extra></extra>",
    ))
    _base_rate_line(fig, base, presentation, f"Base rate {base:.1f}%")
    fig.update_xaxes(tickvals=t["bin"].to_numpy(), ticktext=ticks)
    fig.update_yaxes(rangemode="tozero", ticksuffix="%")
    return base_layout(fig, title=title, subtitle=subtitle, x_title=f"{metric_label} (bins, lowest first)",
                       y_title="Churn rate (%)", presentation=presentation, showlegend=False)


def metric_separation(
    table: pd.DataFrame | Mapping[str, float],
    *,
    labels: Mapping[str, str] | None = None,
    title: str = "Which metrics separate the groups",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Horizontal bars of each metric's AUC (best at the top) with the 0.5 "chance" line.

    Args:
        table: ``lib.analysis.metric_separation(...)`` (columns ``metric, auc`` and optionally ``label``,
            ``n_healthy``, ``n_struggling``), or a mapping metric → AUC. NaN AUCs are left out.
        labels: metric → display label (overrides a ``label`` column).

    Returns:
        One Bar trace, x = AUC (0–1), y = labels (escaped), sorted by AUC descending; AUC < 0.5 (metric
        pointing the wrong way) in reddish purple.
    """
    if isinstance(table, Mapping):
        table = pd.DataFrame({"metric": list(table), "auc": list(table.values())})
    if len(table) == 0:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    _require(table, ["metric", "auc"], "metric_separation", "pass lib.analysis.metric_separation(...)")
    t = table.assign(auc=pd.to_numeric(table["auc"], errors="coerce")).dropna(subset=["auc"])
    if t.empty:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    t = t.sort_values("auc", ascending=False, kind="stable")
    shown = t["label"].where(t["label"].notna(), t["metric"]) if "label" in t.columns else t["metric"]
    if labels:
        shown = t["metric"].map(labels).fillna(shown)
    auc = t["auc"].to_numpy(float)
    fig = _figure(go.Bar(
        x=auc, y=_plain_series(shown).to_numpy(), orientation="h", name="AUC", text=[f"{a:.2f}" for a in auc],
        textposition="outside", cliponaxis=False,
        marker={"color": np.where(auc >= 0.5, SERIES_COLORS[0], SERIES_COLORS[1]).tolist()},
        hovertemplate="%{y}: AUC %{x:.2f}<extra></extra>",
    ))
    s = style(presentation)
    _vline(fig, 0.5, color=INK, width=s.line / 2, dash="dash", label="Chance (0.5)", font_size=s.legend)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(range=[0, 1.05])
    return base_layout(fig, title=title, subtitle=subtitle, x_title="AUC (0.5 = chance, 1 = perfect)",
                       presentation=presentation, showlegend=False,
                       height=max(280, 120 + (40 if presentation else 28) * len(t)))


# --- Plays: treated vs control ----------------------------------------------------------------------

GROUP_COLORS = {"treated": SERIES_COLORS[0], "control": SERIES_COLORS[1]}  # never band colours
GROUP_LABELS = {"treated": "Treated (got the play)", "control": "Control (held back)"}


def play_score_over_time(
    trend: pd.DataFrame,
    *,
    start: pd.Timestamp,
    cutoffs: tuple[float, float] | None = None,
    title: str = "Average score: treated vs control",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Average score per snapshot date of a play's two groups, the start marked.

    Args:
        trend: ``lib.analysis.plays.score_over_time(rows, assignments)`` — ``snapshot_date, group, score, accounts``.
        start: the play's start date (a dotted vertical line).
        cutoffs: ``(red, yellow)`` band cut-offs, drawn as dashed lines.

    Returns:
        One Scatter trace per group present, treated first.
    """
    if trend.empty:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    _require(trend, ["snapshot_date", "group", "score", "accounts"], "play_score_over_time",
             "pass lib.analysis.plays.score_over_time(rows, assignments)")
    s = style(presentation)
    fig = _figure()
    for group in ("treated", "control"):
        part = trend[trend["group"] == group].sort_values("snapshot_date")
        if part.empty:
            continue
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(part["snapshot_date"]), y=part["score"].to_numpy(float), name=GROUP_LABELS[group],
            mode="lines+markers", line={"color": GROUP_COLORS[group], "width": s.line},
            customdata=part["accounts"].to_numpy(),
            hovertemplate=f"{GROUP_LABELS[group]}: %{{y:.1f}} (%{{customdata:,}} accounts)<extra></extra>"))
    _vline(fig, pd.Timestamp(start).timestamp() * 1000, color=MUTED, width=s.line / 2, dash="dot",
           label=f"Start {pd.Timestamp(start):%Y-%m-%d}", font_size=s.legend)
    return _scores_over_time_layout(fig, cutoffs, title=title, subtitle=subtitle, presentation=presentation)


def play_band_migrations(
    moves: pd.DataFrame,
    *,
    title: str = "Band at the start → band now",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Where each group's accounts went: for every start band, the share of the group now in each band.

    Args:
        moves: ``lib.analysis.plays.band_migrations(table)`` — ``group, band_start, band_latest, accounts, share``.

    Returns:
        One stacked Bar trace per band now (in BAND_ORDER, band colours), over x = (start band, group) pairs.
    """
    if moves.empty:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    _require(moves, ["group", "band_start", "band_latest", "accounts", "share"], "play_band_migrations",
             "pass lib.analysis.plays.band_migrations(table)")
    _check_bands([*moves["band_start"], *moves["band_latest"]], "play_band_migrations")
    starts = [b for b in BAND_ORDER if b in set(moves["band_start"])]
    x = [[f"From {BAND_LABELS[b].lower()}" for b in starts for _ in GROUP_LABELS],
         [g for _ in starts for g in GROUP_LABELS]]
    # Shares within each (group, start band), so the bars of a start band compare the two groups directly.
    within = moves.assign(share=moves["accounts"] / moves.groupby(["group", "band_start"])["accounts"]
                          .transform("sum"))
    fig = _figure()
    for band in [b for b in BAND_ORDER if b in set(moves["band_latest"])]:
        part = within[within["band_latest"] == band].set_index(["band_start", "group"])
        keys = [(b, g) for b in starts for g in GROUP_LABELS]
        share = part["share"].reindex(keys).fillna(0.0).to_numpy()
        count = part["accounts"].reindex(keys).fillna(0).astype(int).to_numpy()
        fig.add_trace(go.Bar(x=x, y=share, name=f"Now {BAND_LABELS[band].lower()}", customdata=count,
                             marker={"color": BAND_COLORS[band]},
                             hovertemplate="%{y:.0%} (%{customdata:,} accounts)<extra>" + BAND_LABELS[band]
                             + "</extra>"))
    fig.update_layout(barmode="stack", yaxis={"tickformat": ".0%", "range": [0, 1]})
    return base_layout(fig, title=title, subtitle=subtitle, y_title="Share of the group's accounts",
                       presentation=presentation)


def play_differences(
    differences: pd.DataFrame,
    *,
    title: str = "Treated − control, with 95% intervals",
    subtitle: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """One row per measure: the treated − control difference as a dot, its 95% interval as a bar, 0 marked.
    Measures have their own units, so each gets its own small panel row (shared zero line).

    Args:
        differences: ``lib.analysis.plays.differences_table(report)`` — ``measure, estimate, ci_low, ci_high,
            n_treated, n_control``.
    """
    if differences.empty:
        return empty_figure(title, subtitle=subtitle, presentation=presentation)
    _require(differences, ["measure", "estimate", "ci_low", "ci_high", "n_treated", "n_control"],
             "play_differences", "pass lib.analysis.plays.differences_table(report)")
    s = style(presentation)
    d = differences.reset_index(drop=True)
    # Rates and ratios read as points (×100); score changes are already points.
    scale = np.where(d["measure"].isin(["churn rate", "ARR retained"]), 100.0, 1.0)
    est, lo, hi = (d[c].to_numpy(float) * scale for c in ("estimate", "ci_low", "ci_high"))
    names = d["measure"].str[:1].str.upper() + d["measure"].str[1:]
    labels = [f"{plain_text(m)}<br>({t:,} vs {c:,})" for m, t, c in zip(names, d["n_treated"], d["n_control"],
                                                                        strict=True)]
    fig = _figure(go.Scatter(
        x=est, y=labels, mode="markers", marker={"color": INK, "size": 3 * s.line},
        error_x={"type": "data", "symmetric": False, "array": hi - est, "arrayminus": est - lo,
                 "color": SERIES_COLORS[0], "thickness": s.line, "width": 6},
        hovertemplate="%{y}: %{x:+.1f} points<extra></extra>", showlegend=False))
    _vline(fig, 0.0, color=MUTED, width=s.line / 2, dash="dash")
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, title=title, subtitle=subtitle, x_title="Difference (points; churn and ARR in %-points)",
                       presentation=presentation, showlegend=False, height=140 + 70 * len(d))
