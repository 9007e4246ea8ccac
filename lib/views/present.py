"""The QBR view, assembled: segment choices, the portfolio charts with their takeaways, one account's story,
and the tables behind the Present and Worklists pages' downloads.

Everything here is pure (data in, figures / text / tables out) and draws with the `lib.charts` builders in
presentation mode (large type, thick lines). Every chart carries its date in the title, so a picture pasted
into a deck without its subtitle still says when it was true; the subtitle names the segment and the model.
Each chart comes with a one-sentence takeaway: shown under the chart on the page and listed on the deck's
"Takeaways" slide, so the spoken summary and the numbers cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lib import charts
from lib.engine.model import BAND_NAMES, Model, column_label, metric_labels
from lib.views import portfolio as pf

ALL_ACCOUNTS = "All accounts"
MAX_SEGMENT_VALUES = 50  # a segment column with more values (e.g. an id-like column) is not offered as a choice
MOVERS_PER_SIDE = 5
NOTES_SHOWN = 3


@dataclass(frozen=True)
class Chart:
    """One chart of the QBR view: a stable ``key`` (widget keys, file names), the figure and its takeaway."""

    key: str
    figure: go.Figure
    takeaway: str

    @property
    def title(self) -> str:
        """The chart's title as plain text (the figure holds it escaped)."""
        return _unescape(self.figure.layout.title.text or self.key)


def _chart(key: str, fig: go.Figure, takeaway: str) -> Chart:
    """A QBR chart whose title starts at the picture's left edge, not the plot's: long category names
    (accounts, metrics) on a horizontal bar chart would otherwise push a long title out of the picture, and
    the titles of charts shown one above the other line up."""
    fig.update_layout(title_xref="container", title_x=0.0, title_xanchor="left", title_pad_l=24)
    return Chart(key, fig, takeaway)


@dataclass(frozen=True)
class Story:
    """One account's story at a snapshot: who, where it stands, what changed, what the CSMs noted."""

    account_id: str
    name: str
    score: float
    band: str
    grade: str | None
    change: float
    arr: float
    renewal_date: pd.Timestamp | None
    headline: str
    what_changed: str
    override: str
    notes: tuple[str, ...]
    charts: tuple[Chart, ...]


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def day(value: object) -> str:
    """A date as people say it on a slide: ``1 Oct 2026``."""
    ts = pd.Timestamp(value)
    return f"{ts.day} {ts:%b %Y}"


# -- segment choices ---------------------------------------------------------------------------------------


def filters_label(filters: Mapping[str, Sequence[str]]) -> str:
    """``"Size: SMB · Region: AMER, EMEA"`` for segment filters; ``"All accounts"`` when none is set."""
    parts = [f"{column_label(c)}: {', '.join(map(str, v))}" for c, v in filters.items() if v]
    return " · ".join(parts) or ALL_ACCOUNTS


def segment_choices(
    scored: pd.DataFrame, segments: Sequence[str], current: Mapping[str, Sequence[str]] | None = None
) -> dict[str, dict[str, tuple[str, ...]]]:
    """The segments a presenter can pick: label → segment filters.

    The first choice is ``current`` (the sidebar's filters, so the Present page opens on what the user was
    looking at), then "All accounts", then one choice per value of each segment column (``"Size: SMB"``).
    Columns with more than `MAX_SEGMENT_VALUES` values are left out (they are ids, not segments).
    """
    chosen = {c: tuple(map(str, v)) for c, v in (current or {}).items() if v}
    choices: dict[str, dict[str, tuple[str, ...]]] = {filters_label(chosen): chosen, ALL_ACCOUNTS: {}}
    for column in segments:
        if column not in scored.columns:
            continue
        values = sorted(scored[column].dropna().astype(str).unique())
        if len(values) > MAX_SEGMENT_VALUES:
            continue
        for value in values:
            choices.setdefault(f"{column_label(column)}: {value}", {column: (value,)})
    return choices


# -- the portfolio charts ------------------------------------------------------------------------------------


def _band_mix_takeaway(summary: pd.DataFrame, previous: pd.Timestamp | None) -> str:
    total = int(summary["accounts"].sum())
    if total == 0:
        return "No accounts in this selection."
    rows = summary.set_index("band")
    parts = []
    for band in BAND_NAMES:
        n = int(rows.loc[band, "accounts"])
        text = f"{charts.BAND_LABELS[band]} {n:,} ({n / total:.0%})"
        change = rows.loc[band, "accounts_change"]
        if previous is not None and pd.notna(change) and change != 0:
            text += f", {abs(int(change)):,} {'more' if change > 0 else 'fewer'} than on {day(previous)}"
        parts.append(text)
    return f"{total:,} accounts: " + "; ".join(parts) + "."


def _trend_takeaway(counts: pd.DataFrame) -> str:
    if len(counts) < 2:
        return "One snapshot so far: the trend starts with the next one."
    totals = counts.sum(axis=1).replace(0, np.nan)
    red, green = counts["red"] / totals, counts["green"] / totals
    first, last = counts.index[0], counts.index[-1]
    return (f"Red share {red.iloc[0]:.0%} on {day(first)} → {red.iloc[-1]:.0%} on {day(last)}; "
            f"green {green.iloc[0]:.0%} → {green.iloc[-1]:.0%}.")


def _arr_takeaway(summary: pd.DataFrame) -> str:
    rows = summary.set_index("band")
    total = rows["arr"].sum(min_count=1)
    if pd.isna(total) or total <= 0:
        return "No ARR recorded for these accounts."
    red, yellow = (float(rows.loc[b, "arr"]) if pd.notna(rows.loc[b, "arr"]) else 0.0 for b in ("red", "yellow"))
    return (f"{charts.money(red)} of {charts.money(total)} ARR ({red / total:.0%}) sits in red accounts, "
            f"{charts.money(yellow)} ({yellow / total:.0%}) in yellow.")


def _movers_takeaway(movers: pd.DataFrame, previous: pd.Timestamp | None) -> str:
    if previous is None:
        return "This is the first snapshot: no earlier score to compare with."
    if movers.empty:
        return f"No account's score changed since {day(previous)}."
    parts = []
    falls, rises = movers.loc[movers["change"] < 0], movers.loc[movers["change"] > 0]
    if not falls.empty:
        r = falls.loc[falls["change"].idxmin()]
        parts.append(f"biggest drop {r['account_name']} ({r['change']:+.1f} points, now {r['score']:.0f})")
    if not rises.empty:
        r = rises.loc[rises["change"].idxmax()]
        parts.append(f"biggest rise {r['account_name']} ({r['change']:+.1f}, now {r['score']:.0f})")
    text = "; ".join(parts)
    return f"Since {day(previous)}: {text}."


def portfolio_charts(
    scored: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    segment: str = ALL_ACCOUNTS,
    model_label: str = "",
    movers: int = MOVERS_PER_SIDE,
) -> list[Chart]:
    """The QBR's portfolio charts for one segment at ``as_of``: band mix, its trend, ARR by band, top movers.

    Args:
        scored: the scored portfolio already filtered to the segment (all snapshot dates).
        as_of: the snapshot date presented; the trend runs from the first snapshot up to it.
        segment: the segment's label, for the subtitles (e.g. ``"Size: SMB"``).
        model_label: e.g. ``"Default v3"``, for the subtitles.
        movers: how many falls and how many rises the movers chart shows.

    Returns:
        Four `Chart`s, keys ``band-mix, band-trend, arr-by-band, top-movers``, each titled with its date(s).
    """
    as_of = pd.Timestamp(as_of)
    history = scored.loc[scored["snapshot_date"] <= as_of]
    now = pf.at_date(history, as_of)
    previous = pf.previous_date(history, as_of)
    subtitle = " · ".join(p for p in (segment, f"{len(now):,} accounts", model_label and f"model {model_label}") if p)
    summary = pf.band_summary(history, as_of)
    counts = pf.band_counts_over_time(history) if len(history) else pd.DataFrame(columns=list(pf.BAND_ORDER))
    moved = pf.movers(history, as_of, n=movers)
    since = f"{day(previous)} → {day(as_of)}" if previous is not None else day(as_of)
    trend_span = f"{day(counts.index[0])} – {day(as_of)}" if len(counts) else day(as_of)
    kw = {"subtitle": subtitle, "presentation": True}
    return [
        _chart("band-mix", charts.band_mix(summary, kind="donut", title=f"Health bands on {day(as_of)}", **kw),
               _band_mix_takeaway(summary, previous)),
        _chart("band-trend", charts.band_trend(counts, share=True, title=f"Health bands over time, {trend_span}", **kw),
               _trend_takeaway(counts)),
        _chart("arr-by-band", charts.arr_by_band(summary, title=f"ARR by health band on {day(as_of)}", **kw),
               _arr_takeaway(summary)),
        _chart("top-movers", charts.top_movers(moved, title=f"Biggest score changes, {since}", **kw),
               _movers_takeaway(moved, previous)),
    ]


# -- one account's story -------------------------------------------------------------------------------------


def _override_text(row: pd.Series) -> str:
    """A sentence for a CSM override marked on the row (`lib.views.portfolio.apply_overrides`), '' when none."""
    value, reason = row.get("override_score"), row.get("override_reason")
    if value is None or pd.isna(value):
        return ""
    because = f": {reason}" if reason is not None and pd.notna(reason) and str(reason).strip() else ""
    return f"A CSM overrides this score to {float(value):.0f}{because}"


def _note_lines(notes: pd.DataFrame | None, limit: int) -> tuple[str, ...]:
    if notes is None or notes.empty:
        return ()
    rows = notes.head(limit)
    when = pd.to_datetime(rows["created_at"]).dt.strftime("%Y-%m-%d")
    author = rows["author"].fillna("").astype(str).str.strip()
    prefix = when.where(author == "", when + " · " + author)
    return tuple(prefix + ": " + rows["text"].astype(str))


def account_story(
    scored: pd.DataFrame,
    account_id: str,
    as_of: pd.Timestamp,
    model: Model,
    *,
    notes: pd.DataFrame | None = None,
    model_label: str = "",
) -> Story | None:
    """One account's story at ``as_of``: score history, what drives the score, what changed, CSM notes.

    CSM overrides marked on ``scored`` (``override_score`` / ``override_reason`` columns, see
    `lib.views.portfolio.apply_overrides`) show on the history chart and in `Story.override`.

    Args:
        scored: the scored portfolio (unfiltered, so an account's whole history shows even when a segment
            such as its stage changed over time).
        account_id: the account.
        as_of: the snapshot presented; later snapshots are left out.
        model: the health model (metric labels, band cut-offs).
        notes: the account's notes, newest first (`lib.data.workspace.Workspace.notes`); the latest `NOTES_SHOWN`.
        model_label: e.g. ``"Default v3"``, for the subtitles.

    Returns:
        A `Story` with two charts (keys ``account-history``, ``account-drivers``), or None when the account
        has no snapshot on or before ``as_of``.
    """
    as_of = pd.Timestamp(as_of)
    history = pf.account_history(scored, account_id)
    history = history.loc[history["snapshot_date"] <= as_of]
    if history.empty:
        return None
    now = history.iloc[-1]
    when = pd.Timestamp(now["snapshot_date"])
    labels = metric_labels(model)
    breakdown = pf.account_breakdown(scored, account_id, when, list(model.metrics))
    name = str(now["account_name"])
    score, band = float(now["score"]), str(now["band"])
    change = float(now["change"]) if pd.notna(now["change"]) else float("nan")
    grade = now.get("grade")
    grade = str(grade) if grade is not None and pd.notna(grade) else None
    arr = float(now["arr"]) if "arr" in now.index and pd.notna(now["arr"]) else float("nan")
    renewal = now.get("renewal_date")
    renewal = pd.Timestamp(renewal) if renewal is not None and pd.notna(renewal) else None

    if np.isnan(score):
        headline = f"{name} has no score on {day(when)}: none of the model's metrics has a value."
    else:
        headline = f"{name} scores {score:.0f} on {day(when)} ({charts.BAND_LABELS.get(band, band)}"
        headline += f", grade {grade})" if grade else ")"
        if not np.isnan(change):
            previous = pf.previous_date(history, when)
            direction = "up" if change > 0 else "down" if change < 0 else "unchanged"
            headline += f", {direction} {abs(change):.1f} points since {day(previous)}" if change else \
                f", {direction} since {day(previous)}"
        headline += "."
    subtitle = " · ".join(p for p in (str(now.get("profile") or "") and f"{now['profile']} profile",
                                      model_label and f"model {model_label}") if p)
    kw = {"subtitle": subtitle or None, "presentation": True}
    cutoffs = (model.bands.red, model.bands.yellow)
    drivers = breakdown.dropna(subset=["contribution"]).sort_values("contribution", ascending=False)
    top = ", ".join(f"{labels.get(r.metric, r.metric)} {r.contribution:.0f}" for r in drivers.head(3).itertuples())
    figures = (
        _chart("account-history",
               charts.score_history(history, cutoffs=cutoffs, title=f"{name}: score history to {day(when)}", **kw),
               headline),
        _chart("account-drivers",
               charts.contribution_chart(breakdown, labels=labels, band=band, kind="bars",
                                         title=f"{name}: what makes up the score on {day(when)}", **kw),
               f"Largest contributions (points of {score:.0f}): {top}." if top else
               "No metric has a value at this snapshot."),
    )
    return Story(
        account_id=str(account_id), name=name, score=score, band=band, grade=grade, change=change, arr=arr,
        renewal_date=renewal, headline=headline, what_changed=pf.explain_change(breakdown, labels),
        override=_override_text(now), notes=_note_lines(notes, NOTES_SHOWN), charts=figures,
    )


def story_kpis(story: Story) -> list[pf.Kpi]:
    """The account's headline numbers: score (with its change), band and grade, ARR, renewal date."""
    scored = np.isfinite(story.score)
    band = charts.BAND_LABELS.get(story.band, story.band) + (f" · grade {story.grade}" if story.grade else "")
    return [
        pf.Kpi("Score", f"{story.score:.0f}" if scored else "–",
            f"{story.change:+.1f}" if np.isfinite(story.change) else None, "normal"),
        pf.Kpi("Band", band, None, "off"),
        pf.Kpi("ARR", charts.money(story.arr), None, "off"),
        pf.Kpi("Renews", day(story.renewal_date) if story.renewal_date is not None else "–", None, "off"),
    ]


def takeaways(portfolio: Sequence[Chart], story: Story | None = None) -> list[str]:
    """The deck's "Takeaways" lines: each portfolio chart's takeaway, then the account's headline and change."""
    lines = [c.takeaway for c in portfolio]
    if story is not None:
        lines += [story.headline, story.what_changed]
        if story.override:
            lines.append(story.override)
    return lines


# -- download tables -----------------------------------------------------------------------------------------


def scores_table(scored: pd.DataFrame, as_of: pd.Timestamp, model: Model, segments: Sequence[str] = ()) -> pd.DataFrame:
    """The score table at ``as_of`` for a download: who, segments, the score, then per metric value → score →
    weight → contribution; one row per account, lowest score first (the ones to talk about)."""
    rows = pf.at_date(scored, as_of)
    head = ["account_id", "account_name", "snapshot_date", *segments, "arr", "renewal_date", "score", "band",
            "grade", "change", "alerts", "profile"]
    per_metric = [f"{m}_{part}" for m in model.metrics for part in ("value", "score", "weight", "contribution")]
    columns = [c for c in dict.fromkeys([*head, *per_metric]) if c in rows.columns]
    return rows[columns].sort_values(["score", "account_id"], na_position="last").reset_index(drop=True)


def export_about(dataset: str, segment: str, as_of: pd.Timestamp, **extra: object) -> dict[str, object]:
    """Lines for an Excel "About" sheet saying what the file holds (dataset, segment, snapshot, extras)."""
    about: dict[str, object] = {"Dataset": dataset, "Segment": segment,
                                "Snapshot date": f"{pd.Timestamp(as_of):%Y-%m-%d}"}
    about.update({column_label(k): v for k, v in extra.items()})
    return about


def usage_metrics(portfolio: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    """Numeric metric columns a usage trend can be measured on (the Worklists page's expansion list)."""
    return [m for m in metrics if m in portfolio.columns and pd.api.types.is_numeric_dtype(portfolio[m].dtype)]


# -- worklists -----------------------------------------------------------------------------------------------

ALL_OWNERS = "All"


def owner_choices(scored: pd.DataFrame, owner_column: str | None, as_of: pd.Timestamp) -> list[str]:
    """``["All", owners at as_of (sorted)…]``, with "Unassigned" last when some accounts have no owner."""
    if owner_column is None or owner_column not in scored.columns:
        return [ALL_OWNERS]
    owners = pf.at_date(scored, as_of)[owner_column].astype(object)
    named = owners.where(owners.notna(), "").astype(str).str.strip()
    choices = [ALL_OWNERS, *sorted(set(named) - {""})]
    return [*choices, "Unassigned"] if (named == "").any() and "Unassigned" not in choices else choices


def for_owner(table: pd.DataFrame, owner: str) -> pd.DataFrame:
    """A worklist's rows for one owner (all rows for "All")."""
    return table if owner == ALL_OWNERS else table.loc[table["owner"] == owner]


def attention_kpis(attention: pd.DataFrame) -> list[pf.Kpi]:
    """Headline numbers of an attention list: accounts, ARR at risk and how many carry each reason."""
    at_risk = attention["arr_at_risk"].sum(min_count=1)
    return [
        pf.Kpi("Need attention", f"{len(attention):,}", None, "off"),
        pf.Kpi("ARR at risk", charts.money(at_risk) if pd.notna(at_risk) else "–", None, "off"),
        pf.Kpi("Alert rule hits", f"{int(attention['alert_hit'].sum()):,}", None, "off"),
        pf.Kpi("Contact overdue", f"{int(attention['contact_overdue'].sum()):,}", None, "off"),
        pf.Kpi("Renewals in red / yellow", f"{int(attention['renewal_soon'].sum()):,}", None, "off"),
    ]


def band_tint(frame: pd.DataFrame, column: str = "band"):  # noqa: ANN201 - a pandas Styler
    """A Styler that tints the band column in the band's colour (light fill, dark text: readable, and the
    band name stays as text for colour-blind readers)."""
    tints = {b: f"background-color: {c}40" for b, c in charts.BAND_COLORS.items()}
    return frame.style.map(lambda b: tints.get(str(b), ""), subset=[column])
