"""Present: a clean, large QBR view for a screen share — portfolio health, one account's story, and exports."""

from datetime import date
from functools import partial

import streamlit as st

from lib import export, ui
from lib.views import portfolio as pf
from lib.views import present as pr


@st.cache_resource(show_spinner="Starting the chart renderer (a few seconds, once)…",
                   on_release=export.PngRenderer.close)
def png_renderer() -> export.PngRenderer:
    """One headless browser per server for PNG pictures (it has its own lock; sessions take turns); a
    cleared entry closes its browser."""
    return export.PngRenderer()


def progress_bar(text: str):  # noqa: ANN201 - the callback type lives in lib.export
    bar = st.progress(0.0, text=text)
    return lambda fraction, message: bar.progress(fraction, text=message)


def show(chart: pr.Chart) -> None:
    """One chart across the page (large enough to read on a shared screen) with its takeaway under it."""
    ui.plot(chart.figure, key=f"present.chart.{chart.key}")
    st.markdown(f"##### {ui.md(chart.takeaway)}")


@st.fragment
def chart_downloads(charts: list[pr.Chart], on: date) -> None:
    """HTML for each chart at once (built on click); PNG pictures rendered on demand, with progress."""
    reason = export.png_unavailable_reason()
    if reason:
        st.info(f"PNG pictures are not available here: {reason}", icon=":material/image_not_supported:")
    pictures: list[bytes] = []
    if not reason and st.button("Render PNG pictures", key="present.png.render", icon=":material/image:"):
        try:
            pictures = export.figures_png([c.figure for c in charts], renderer=png_renderer(),
                                          progress=progress_bar("Rendering the charts…"))
        except export.ExportError as err:
            png_renderer.clear()  # a broken browser is not kept: the next click starts a fresh one
            ui.show_error(err, "PNG export")
    for i, chart in enumerate(charts):
        name, html_col, png_col = st.columns([4, 1, 1], vertical_alignment="center")
        name.text(chart.title)
        file_name = partial(export.export_filename, chart.key, ctx.model_name, ctx.model_version, on=on)
        html_col.download_button("HTML", partial(export.figure_html, chart.figure), file_name("html"),
                                 mime="text/html", key=f"present.html.{chart.key}", on_click="ignore",
                                 icon=":material/code:", width="stretch")
        if pictures:
            png_col.download_button("PNG", pictures[i], file_name("png"), mime="image/png",
                                    key=f"present.png.{chart.key}", on_click="ignore", icon=":material/download:",
                                    width="stretch")


@st.fragment
def deck_download(charts: list[pr.Chart], notes: list[str], title: str, subtitle: str, file_name: str) -> None:
    """The PowerPoint deck of the QBR view, built on click with a progress bar (text tables without PNG)."""
    if not st.button("Build the PowerPoint deck", key="present.deck.build", icon=":material/slideshow:"):
        return
    images = export.png_unavailable_reason() is None
    try:
        renderer = png_renderer() if images else None
    except export.ExportError as err:
        st.warning(f"The deck shows each chart's numbers instead of pictures: {err}")
        images, renderer = False, None
    deck = export.qbr_deck([c.figure for c in charts], title=title, subtitle=subtitle, notes=notes,
                           model_name=ctx.model_name, model_version=ctx.model_version, images=images,
                           renderer=renderer, progress=progress_bar("Building the deck…"))
    st.success(f"Deck ready: {len(charts) + 2} slides.", icon=":material/check_circle:")
    st.download_button("Download the deck (.pptx)", deck, file_name, key="present.deck.download", type="primary",
                       mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
                       on_click="ignore", icon=":material/download:")


ctx = ui.context()
everyone = ctx.scored(filtered=False)
dates = pf.snapshot_dates(everyone)
choices = pr.segment_choices(everyone, ctx.segments, ctx.filters)
model_label = f"{ctx.model_name} v{ctx.model_version}"

head, switch = st.columns([5, 1], vertical_alignment="center")
head.title("Customer health review")
fullscreen = switch.toggle("Full screen", key=ui.PRESENT_FULLSCREEN,
                           help="Hide the sidebar and menus for a screen share; switch off to leave full screen.")
pick = st.columns([2, 1, 2], vertical_alignment="bottom")
segment = pick[0].selectbox("Segment", list(choices), key="present.segment")
as_of = pick[1].selectbox("Snapshot date", dates, index=dates.index(ctx.as_of), key="present.as_of",
                          format_func=pr.day)
scored = pf.apply_filters(everyone, choices[segment])

st.markdown(f"### {ui.md(segment)} · {pr.day(as_of)}")
st.caption(f"{ui.md(ctx.dataset.name)} · health model {ui.md(model_label)}")
for col, kpi in zip(st.columns(4), pf.kpis(pf.headline(scored, as_of), slide=True), strict=True):
    col.metric(kpi.label, kpi.value, kpi.delta, delta_color=kpi.delta_color, border=True)

st.header("Portfolio health", divider="gray")
portfolio = pr.portfolio_charts(scored, as_of, segment=segment, model_label=model_label)
for chart in portfolio:
    show(chart)

st.header("Account story", divider="gray")
accounts = pf.account_choices(scored, as_of)
story = None
if accounts.empty:
    ui.empty_state(f"No account in {segment} has a snapshot on {pr.day(as_of)}.",
                   "Pick another segment or snapshot date above.")
else:
    first = pf.default_account(scored, as_of)
    account = st.selectbox("Account", list(accounts.index), index=list(accounts.index).index(first),
                           format_func=accounts.get,
                           key="present.account")
    story = pr.account_story(everyone, account, as_of, ctx.model, notes=ui.workspace().notes(account),
                             model_label=model_label)
if story is not None:
    for col, kpi in zip(st.columns(4), pr.story_kpis(story), strict=True):
        col.metric(kpi.label, kpi.value, kpi.delta, delta_color=kpi.delta_color, border=True)
    for chart in story.charts:
        show(chart)
    changed, noted = st.columns(2, gap="large")
    changed.subheader("What changed")
    changed.markdown(ui.md(story.what_changed))
    if story.override:
        changed.warning(ui.md(story.override), icon=":material/edit_note:")
    noted.subheader("Notes from the team")
    if story.notes:
        for line in story.notes:
            noted.markdown(f"- {ui.md(line)}")
    else:
        noted.caption("No notes for this account yet — add them on the Account page.")

with st.expander("Export: PowerPoint, PNG, HTML, CSV, Excel", expanded=not fullscreen, icon=":material/ios_share:"):
    every_chart = [*portfolio, *(story.charts if story else ())]
    deck_col, scores_col = st.columns(2, gap="large")
    with deck_col:
        st.subheader("PowerPoint deck")
        st.caption(f"{len(every_chart) + 2} slides: a title slide, one slide per chart above, and the takeaways.")
        deck_download(every_chart, pr.takeaways(portfolio, story), f"Customer health review — {segment}",
                      f"{segment} · {pr.day(as_of)} · {ctx.dataset.name}",
                      export.export_filename("qbr-deck", ctx.model_name, ctx.model_version, "pptx", on=as_of.date()))
    with scores_col:
        st.subheader(f"Scores on {pr.day(as_of)}")
        table = pr.scores_table(scored, as_of, ctx.model, ctx.segments)
        about = pr.export_about(ctx.dataset.name, segment, as_of)
        st.caption(f"{len(table):,} accounts · {ui.md(segment)} · the files name model {ui.md(model_label)}")
        csv_col, xlsx_col = st.columns(2)
        csv_col.download_button(
            "Scores (CSV)", partial(export.scores_csv, table, model_name=ctx.model_name,
                                    model_version=ctx.model_version),
            export.export_filename("health-scores", ctx.model_name, ctx.model_version, "csv", on=as_of.date()),
            mime="text/csv", key="present.scores.csv", on_click="ignore", icon=":material/table:", width="stretch")
        xlsx_col.download_button(
            "Scores (Excel)", partial(export.scores_excel, table, model_name=ctx.model_name,
                                      model_version=ctx.model_version, bands=ctx.model.bands, about=about),
            export.export_filename("health-scores", ctx.model_name, ctx.model_version, "xlsx", on=as_of.date()),
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="present.scores.xlsx",
            on_click="ignore", icon=":material/grid_on:", width="stretch")
    st.subheader("Each chart")
    st.caption("HTML opens anywhere, offline, and stays interactive. PNG pictures are drawn by a headless browser "
               "on the server: a few seconds the first time.")
    chart_downloads(every_chart, as_of.date())
