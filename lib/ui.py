"""Streamlit glue — the one lib module that imports Streamlit.

It owns the cached loaders (workspace, datasets, scored portfolios, the live scorer), the shared sidebar
(dataset, model version, segment filters, snapshot date) and a few widgets every page uses. Pages call
`context()` to get the current selection and never touch the workspace or the engine's caches directly.

Caching: DataFrames come from `st.cache_resource` (one shared, read-only copy per key, bounded by
`max_entries`) rather than `st.cache_data`, because pickling a million-row frame on every rerun would cost
more than the work it saves. Callers must treat them as read-only.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lib import portfolio as pf
from lib import validation_views as vv
from lib.ingest import Roles
from lib.model import Model, ModelError, check_columns, parse_model
from lib.scoring import score
from lib.store import Dataset, DatasetInfo, Workspace, WorkspaceError
from lib.vectorised import LiveScorer

# Session-state keys shared by the sidebar and the pages (page-local keys are prefixed with the page name).
DATASET, MODEL, VERSION, AS_OF = "ctx.dataset", "ctx.model", "ctx.version", "ctx.as_of"
FILTER_PREFIX = "ctx.filter."
# Non-widget keys a page sets to select something in the sidebar on the next run ("ctx.pending_version" …).
PENDING = {key: key.replace("ctx.", "ctx.pending_") for key in (DATASET, MODEL, VERSION)}
PRESENT_FULLSCREEN = "present.fullscreen"
PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


# -- cached loaders ----------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Opening the workspace…")
def workspace() -> Workspace:
    """The workspace named by HSS_WORKSPACE (default data/workspace.duckdb), with the sample on first run."""
    ws = Workspace()
    ws.ensure_sample()
    return ws


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def _dataset(name: str, revision: pd.Timestamp) -> Dataset:
    # The file's own health labels: labels set by hand change without a new revision, so they are merged
    # in fresh by Context.labels() rather than baked into this shared copy.
    return workspace().load_dataset(name, apply_labels=False)


@st.cache_resource(max_entries=4)
def _file_labels(name: str, revision: pd.Timestamp) -> pd.Series:
    return vv.file_labels(_dataset(name, revision).df)


@st.cache_resource(max_entries=8, show_spinner="Scoring the portfolio…")
def _scored(name: str, revision: pd.Timestamp, model_yaml: str) -> pd.DataFrame:
    data = _dataset(name, revision)
    model = parse_model(model_yaml)
    scores = score(model, data.df)
    return pf.attach_attributes(scores, data.df, data.roles.segments, list(model.metrics))


@st.cache_resource(max_entries=2, show_spinner="Preparing the live preview…")
def _live_scorer(name: str, revision: pd.Timestamp, _warm_with: str) -> LiveScorer:
    # Keyed by the dataset alone: the scorer takes any model that fits it (its per-spec caches are bounded),
    # so saving a new model version does not rebuild it. `_warm_with` (not hashed) only warms its caches.
    return LiveScorer(_dataset(name, revision).df, parse_model(_warm_with))


@dataclass(frozen=True)
class _Facets:
    dates: list[str]  # ISO snapshot dates, oldest first
    options: dict[str, list[str]]  # segment column → its distinct values, sorted


@st.cache_resource(max_entries=8)
def _facets(name: str, revision: pd.Timestamp) -> _Facets:
    """What the sidebar offers for a dataset revision, computed once rather than on every rerun."""
    data = _dataset(name, revision)
    frame = data.df
    # ISO strings, not Timestamps, as options: they compare and serialise the same everywhere.
    dates = [f"{d:%Y-%m-%d}" for d in pf.snapshot_dates(frame)]
    options = {s: sorted(frame[s].dropna().astype(str).unique()) for s in data.roles.segments}
    return _Facets(dates, options)


# -- the current selection ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    """What the sidebar selected: dataset, model version, segment filters and snapshot date."""

    dataset: DatasetInfo
    model_name: str
    model_version: int
    model_yaml: str
    model: Model
    as_of: pd.Timestamp
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def roles(self) -> Roles:
        """Roles of the stored (canonical) table."""
        return self.dataset.roles

    @property
    def segments(self) -> tuple[str, ...]:
        return self.dataset.roles.segments

    def data(self) -> Dataset:
        """The canonical portfolio table (shared; read-only)."""
        return _dataset(self.dataset.name, self.dataset.updated_at)

    def scored(self, model_yaml: str | None = None, filtered: bool = True) -> pd.DataFrame:
        """The scored portfolio under the selected (or given) model; segment filters applied after scoring,
        so percentile peers are always the whole portfolio. CSM overrides in force are marked on each call
        (`override_score`, `override_reason`; not cached, so a new override shows at once)."""
        scored = _scored(self.dataset.name, self.dataset.updated_at, model_yaml or self.model_yaml)
        scored = pf.apply_filters(scored, self.filters) if filtered else scored
        return pf.apply_overrides(scored, workspace().active_overrides())

    def labels(self) -> pd.Series:
        """Known health per account (account_id → 'healthy' / 'struggling'): the file's labels with the ones
        set by hand on the Compare page on top, read fresh so a change shows at once."""
        return vv.known_labels(_file_labels(self.dataset.name, self.dataset.updated_at),
                               workspace().labels(self.dataset.name))

    def segment_values(self) -> dict[str, list[str]]:
        """Each segment column's distinct values as text, sorted (what filters and profiles select on)."""
        return _facets(self.dataset.name, self.dataset.updated_at).options

    def live_scorer(self) -> LiveScorer:
        """The numpy scorer for slider loops (shared; its per-spec cache is bounded inside the engine)."""
        return _live_scorer(self.dataset.name, self.dataset.updated_at, self.model_yaml)

    def label(self, metric: str) -> str:
        """A metric's display label."""
        m = self.model.metrics.get(metric)
        return (m.label if m is not None and m.label else metric.replace("_", " ").capitalize())

    @property
    def caption(self) -> str:
        """'Sample portfolio · Default v1 · 2026-10-01 · size: SMB' — for chart subtitles."""
        parts = [self.dataset.name, f"{self.model_name} v{self.model_version}", f"{self.as_of:%Y-%m-%d}"]
        parts += [f"{k}: {', '.join(v)}" for k, v in self.filters.items() if v]
        return " · ".join(parts)


def _pick(key: str, options: list[Any], default: Any) -> None:
    """Settle a sidebar widget's value before it renders.

    A page that just saved something (a new model version, an uploaded dataset) asks for it to be selected
    by setting `PENDING[key]`; a widget's own key cannot be written once it has rendered in this run. A
    stored value that is no longer an option (e.g. after a dataset switch) falls back to the default.
    """
    pending = st.session_state.pop(PENDING[key], None) if key in PENDING else None
    if pending in options:
        st.session_state[key] = pending
    elif st.session_state.get(key) not in options:
        st.session_state[key] = default


def sidebar() -> Context | None:
    """Draw the shared sidebar and return the selection, or None when there is nothing to select yet."""
    ws = workspace()
    with st.sidebar:
        datasets = ws.dataset_names()
        models = ws.model_names()
        if not datasets or not models:
            st.info("No dataset or model yet — add one on the **Data** page.")
            return None
        _pick(DATASET, datasets, datasets[0])
        name = st.selectbox("Dataset", datasets, key=DATASET)
        _pick(MODEL, models, "Default" if "Default" in models else models[0])
        model_name = st.selectbox("Model", models, key=MODEL)
        versions = ws.list_models().query("name == @model_name")
        numbers = [int(v) for v in versions["version"]]
        notes = dict(zip(numbers, versions["note"].fillna(""), strict=True))
        _pick(VERSION, numbers, numbers[0])
        version = st.selectbox("Version", numbers, key=VERSION,
                               format_func=lambda v: f"v{v}" + (f" · {notes[v][:40]}" if notes.get(v) else ""))
        info = ws.dataset_info(name)
        facets = _facets(name, info.updated_at)
        _pick(AS_OF, facets.dates, facets.dates[-1])
        as_of = pd.Timestamp(st.select_slider("Snapshot date", facets.dates, key=AS_OF))
        filters = _filter_widgets(facets.options)
    yaml_text = ws.load_model_text(model_name, version)
    return Context(dataset=info, model_name=model_name, model_version=version, model_yaml=yaml_text,
                   model=parse_model(yaml_text, source=f"model '{model_name}' v{version}"), as_of=as_of,
                   filters=filters)


def _filter_widgets(options: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    chosen: dict[str, tuple[str, ...]] = {}
    active = sum(bool(st.session_state.get(FILTER_PREFIX + s)) for s in options)
    with st.expander(f"Segment filters ({active} active)" if active else "Segment filters", expanded=bool(active)):
        for segment, values in options.items():
            key = FILTER_PREFIX + segment
            st.session_state[key] = [v for v in st.session_state.get(key, []) if v in values]
            chosen[segment] = tuple(st.multiselect(segment.replace("_", " ").capitalize(), values, key=key,
                                                   placeholder="All"))
    return chosen


def context(check_fit: bool = True) -> Context:
    """The current selection for a page; stops the page with a helpful message when it cannot be made.

    Args:
        check_fit: stop when the model reads a column the dataset lacks (with a link to Tune). The Tune
            page passes False: it shows the problems itself and offers to fix the model.
    """
    ctx = st.session_state.get("_ctx")
    if ctx is None:
        empty_state("There is no dataset or model to show yet.", "Add a dataset on the Data page.",
                    page="app_pages/data.py")
        st.stop()
    problems = check_columns(ctx.model, ctx.data().df.columns) if check_fit else []
    if problems:
        st.error(f"Model **{md(ctx.model_name)}** v{ctx.model_version} does not fit dataset "
                 f"**{md(ctx.dataset.name)}**:\n\n" + "\n".join(f"- {md(str(p))}" for p in problems))
        st.page_link("app_pages/tune.py", label="Fix the model on the Tune page", icon=":material/tune:")
        st.stop()
    return ctx


def remember(ctx: Context | None) -> None:
    """Keep this run's selection for the page (session-scoped; a small frozen object, never a frame)."""
    st.session_state["_ctx"] = ctx


# -- shared widgets ----------------------------------------------------------------------------------------
_MD_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: object) -> str:
    """Escape text from data for st.markdown: no HTML, links or formatting can come from a cell."""
    return _MD_SPECIALS.sub(r"\\\1", html.escape(str(text), quote=False))


def plot(fig: go.Figure, key: str) -> None:
    """Draw a Plotly figure full width with the product's toolbar settings."""
    st.plotly_chart(fig, width="stretch", key=key, config=PLOTLY_CONFIG, theme=None)


def empty_state(message: str, action: str, page: str | None = None) -> None:
    """Say why there is nothing to show and what to do next."""
    st.info(f"{message} {action}", icon=":material/info:")
    if page:
        st.page_link(page, label="Go there", icon=":material/arrow_forward:")


def show_error(err: Exception, what: str = "") -> None:
    """Show a lib error as a readable message (one line per problem), never a traceback."""
    if isinstance(err, ModelError):
        lines = [str(p) for p in err.problems]
    else:
        lines = [line for line in str(err).splitlines() if line.strip()]
    head = f"{what}: " if what else ""
    st.error(head + ("\n".join(f"- {md(line)}" for line in lines) if len(lines) > 1 else md(lines[0] if lines
                                                                                          else repr(err))))


def handled(func, *args: Any, what: str = "", **kwargs: Any) -> Any:  # noqa: ANN001 - any callable
    """Run a lib call; on a user-facing error show it and return None instead of raising."""
    try:
        return func(*args, **kwargs)
    except (ModelError, WorkspaceError, ValueError) as err:
        show_error(err, what)
        return None


def hide_chrome() -> None:
    """Hide the sidebar, header and toolbar for a clean screen share (Present page's full-screen mode)."""
    st.html("<style>[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl'],"
            "header[data-testid='stHeader'],[data-testid='stToolbar']{display:none !important}"
            ".block-container{padding-top:1.5rem !important}</style>")
