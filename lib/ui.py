"""Streamlit glue — the one lib module that imports Streamlit.

It owns the cached loaders (workspace, datasets, scored portfolios, the live scorer), the shared sidebar
(dataset, model version, segment filters, snapshot date) and a few widgets every page uses. Pages call
`context()` to get the current selection and read what it determines through it (`Context.scored()`,
`Context.backtest()` …, cached under `Context.key`); they never reach the engine's caches directly. What people
write — notes, overrides, labels, datasets, model versions — pages read and save through `workspace()`.
Sign-in (st.login / st.user) lives here too: `signed_in()` resolves the user, `Context.scope` limits every
read to their accounts, and `allowed()` checks a write's permission (lib.data.access holds the rules).

Caching: DataFrames come from `st.cache_resource` (one shared, read-only copy per key, bounded by
`max_entries`) rather than `st.cache_data`, because pickling a million-row frame on every rerun would cost
more than the work it saves. Callers must treat them as read-only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lib import analysis, charts
from lib.analysis import Suggestion, starter
from lib.data import access
from lib.data.ingest import Roles
from lib.data.workspace import Dataset, DatasetInfo, Workspace, WorkspaceError
from lib.engine.model import Model, ModelError, check_columns, column_label, metric_labels, parse_model
from lib.engine.numpy_eval import LiveScorer
from lib.engine.scored_portfolio import attach_attributes
from lib.engine.sql import score
from lib.views import portfolio as pf
from lib.views import tuning
from lib.views import validation as vv

# Session-state keys shared by the sidebar and the pages (page-local keys are prefixed with the page name).
DATASET, MODEL, VERSION, AS_OF = "ctx.dataset", "ctx.model", "ctx.version", "ctx.as_of"
FILTER_PREFIX = "ctx.filter."
# Non-widget keys a page sets to select something in the sidebar on the next run ("ctx.pending_version" …).
PENDING = {key: key.replace("ctx.", "ctx.pending_") for key in (DATASET, MODEL, VERSION)}
SHOWN_DATASET, PICKED = "ctx.shown_dataset", "ctx.picked"  # the dataset last drawn; a model picked by hand
USER = "ctx.user"  # the access.User signed in for this session (set by signed_in on every run)
START_PAGE = "app_pages/start.py"
ACCOUNT_PAGE, ACCOUNT = "app_pages/account.py", "account.selected"  # the Account page and the account it opens on
# The Plays page, and the accounts another page hands it for a new play: {"accounts", "source", "page"}.
PLAYS_PAGE, PLAY_TARGETS = "app_pages/plays.py", "plays.pending"
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
    # The numpy evaluation of the one scoring definition (held equal to the SQL row for row by the property
    # tests) on the dataset's prepared scorer, shared with Tune: after it is prepared, a model costs one rescore.
    scores = _live_scorer(name, revision, model_yaml).rescore(model)
    return attach_attributes(scores, data.df, data.roles.segments, model)


@st.cache_resource(max_entries=2, show_spinner="Preparing the live preview…")
def _live_scorer(name: str, revision: pd.Timestamp, _warm_with: str) -> LiveScorer:
    # Keyed by the dataset alone: the scorer takes any model that fits it (its per-spec caches are bounded),
    # so saving a new model version does not rebuild it. `_warm_with` (not hashed) only warms its caches.
    return LiveScorer(_dataset(name, revision).df, parse_model(_warm_with))


@st.cache_resource(max_entries=4, show_spinner="Reading the dataset's columns…")
def _survey(name: str, revision: pd.Timestamp, labels_key: int, _labels: pd.Series) -> starter.Survey:
    data = _dataset(name, revision)
    return starter.survey(data.df, data.roles, data.info.source_roles, _labels)


@st.cache_resource(max_entries=4, show_spinner="Fitting thresholds and weights on the outcomes…")
def _fitted_start(name: str, revision: pd.Timestamp, model_yaml: str) -> Suggestion:
    return starter.fill_from_outcomes(_dataset(name, revision).df, parse_model(model_yaml))


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


@st.cache_resource(max_entries=32)
def _book(name: str, revision: pd.Timestamp, owners: tuple[str, ...]) -> access.Scope:
    """A CSM's scope in a dataset revision (the accounts whose latest owner is theirs), computed once."""
    data = _dataset(name, revision)
    return access.scope_for(access.User("", "csm", owners), data.df, data.roles)


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
    scope: access.Scope = field(default_factory=access.Scope)  # the accounts the user may read

    @property
    def key(self) -> tuple[str, str, str, tuple[str, ...]]:
        """What this selection determines, as one cache key: the dataset, its revision, the model's text (a
        saved version or a draft, by digest) and the reader's book (a CSM's owners; the caches are shared between
        sessions). Every cache below is keyed by it, so whatever it reads from the context — the table, the
        scored portfolio, the model — belongs to this key; segment filters, the date and page settings (a
        horizon) are passed next to it where a cache depends on them."""
        digest = hashlib.sha256(self.model_yaml.encode("utf-8")).hexdigest()[:16]
        return self.dataset.name, str(self.dataset.updated_at), digest, self.scope.owners

    @property
    def filter_key(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The active segment filters, order-free and hashable (for caches of filtered results)."""
        return vv.filters_key(self.filters)

    def with_model(self, model_yaml: str) -> Context:
        """The same selection with another model text (a draft, or model B): its own `key`.

        Raises:
            lib.engine.model.ModelError: the text is not a valid model.
        """
        return dataclasses.replace(self, model_yaml=model_yaml, model=parse_model(model_yaml))

    @property
    def roles(self) -> Roles:
        """Roles of the stored (canonical) table."""
        return self.dataset.roles

    @property
    def segments(self) -> tuple[str, ...]:
        return self.dataset.roles.segments

    def data(self, scoped: bool = True) -> Dataset:
        """The canonical portfolio table in the user's scope (shared; read-only). Never score the scoped table
        (peer ranks need the whole portfolio): what scores reads it with ``scoped=False``, then scopes."""
        data = _dataset(self.dataset.name, self.dataset.updated_at)
        return Dataset(self.scope.apply(data.df), data.roles, data.info) if scoped and self.scope.restricted else data

    def scored(self, filtered: bool = True) -> pd.DataFrame:
        """The scored portfolio under the selected model; segment filters applied after scoring, so percentile
        peers are always the whole portfolio; then the user's scope (a CSM's book, even when not ``filtered``).
        CSM overrides in force are marked on each call (`override_score`, `override_reason`; not cached, so a new
        override shows at once)."""
        scored = self.scope.apply(_scored(self.dataset.name, self.dataset.updated_at, self.model_yaml))
        scored = pf.apply_filters(scored, self.filters) if filtered else scored
        return pf.apply_overrides(scored, workspace().active_overrides())

    def labels(self) -> pd.Series:
        """Known health per account (account_id → 'healthy' / 'struggling'): the file's labels with the ones
        set by hand on the Compare page on top, read fresh so a change shows at once (in the user's scope)."""
        return self.scope.apply(known_labels(self.dataset))

    def segment_values(self) -> dict[str, list[str]]:
        """Each segment column's distinct values as text, sorted (what filters and profiles select on)."""
        return _facets(self.dataset.name, self.dataset.updated_at).options

    # -- results cached per selection (see `key`); each raises what its lib function raises
    def tune_data(self, warm_with: str) -> tuning.TuneData:
        """Tune's rows and the selected model's scores to compare drafts with — nothing to compare with when the
        model does not fit the data; ``warm_with`` (a draft that fits) then prepares the scorer instead."""
        return _tune_data(self.key, _ctx=self, _warm_with=warm_with)

    def backtest(self, horizon: int) -> analysis.Backtest:
        """The filtered portfolio's backtest ``horizon`` days before each outcome."""
        return _backtest(self.key, self.filter_key, horizon, _ctx=self)

    def churn_model(self, horizon: int) -> analysis.ChurnModel:
        """The logistic churn model fitted on :meth:`backtest`."""
        return _churn_model(self.key, self.filter_key, horizon, _ctx=self)

    def suggestion(self, horizon: int) -> Suggestion:
        """Thresholds and weights suggested from the outcomes of every account (filters do not apply)."""
        return _suggestion(self.key, horizon, _ctx=self)

    def comparison(self, model_a: str, model_b: str, horizon: int) -> analysis.ModelComparison:
        """Two model texts compared on this selection's dataset, filters and date (each with its own key)."""
        a, b = self.with_model(model_a), self.with_model(model_b)
        return _comparison(a.key, b.key, self.filter_key, self.as_of, horizon, _a=a, _b=b)

    def expansion_scores(self) -> pd.DataFrame:
        """The model's expansion score for the whole dataset (the model must have one)."""
        return _expansion_scores(self.key, _ctx=self)

    def label(self, metric: str) -> str:
        """A metric's display label."""
        return metric_labels(self.model).get(metric) or column_label(metric)

    @property
    def caption(self) -> str:
        """'Sample portfolio · Default v1 · 2026-10-01 · size: SMB' — for chart subtitles."""
        parts = [self.dataset.name, f"{self.model_name} v{self.model_version}", f"{self.as_of:%Y-%m-%d}"]
        parts += [f"{k}: {', '.join(v)}" for k, v in self.filters.items() if v]
        return " · ".join(parts)


# Caches of what a selection determines: keyed by `Context.key` (plus the settings named beside it), the context
# itself passed unhashed (``_ctx``) — it is the same selection whenever the key is.
@st.cache_resource(max_entries=2, show_spinner="Preparing the live preview…")
def _tune_data(key: tuple, _ctx: Context, _warm_with: str) -> tuning.TuneData:
    df = _ctx.data(scoped=False).df
    saved = None if check_columns(_ctx.model, df.columns) else _ctx.model
    scorer = _live_scorer(_ctx.dataset.name, _ctx.dataset.updated_at, _ctx.model_yaml if saved else _warm_with)
    return tuning.TuneData(scorer, df, saved)


@st.cache_resource(max_entries=8, show_spinner="Backtesting…")
def _backtest(key: tuple, filters: tuple, horizon: int, _ctx: Context) -> analysis.Backtest:
    return analysis.backtest(_ctx.scored(), horizon_days=horizon, model_name=_ctx.model.name)


@st.cache_resource(max_entries=4, show_spinner="Fitting the churn model…")
def _churn_model(key: tuple, filters: tuple, horizon: int, _ctx: Context) -> analysis.ChurnModel:
    return analysis.fit_churn_model(_ctx.backtest(horizon), _ctx.model)


@st.cache_resource(max_entries=4, show_spinner="Suggesting thresholds and weights from the outcomes…")
def _suggestion(key: tuple, horizon: int, _ctx: Context) -> Suggestion:
    return analysis.suggest_model(_ctx.data(scoped=False).df, _ctx.model, horizon_days=horizon)


@st.cache_resource(max_entries=2, show_spinner="Scoring the model's expansion score…")
def _expansion_scores(key: tuple, _ctx: Context) -> pd.DataFrame:
    return score(_ctx.model.expansion, _ctx.data(scoped=False).df)


@st.cache_resource(max_entries=4, show_spinner="Comparing the two models…")
def _comparison(key_a: tuple, key_b: tuple, filters: tuple, as_of: pd.Timestamp, horizon: int, _a: Context,
                _b: Context) -> analysis.ModelComparison:
    return analysis.compare_models(_a.scored(), _b.scored(), _a.model, _b.model, as_of=as_of, horizon_days=horizon)


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


def _fitting_model(ws: Workspace, info: DatasetInfo) -> tuple[str, int] | None:
    """The model version to select with a dataset: the one last saved or used with it, else the newest saved
    model whose latest version reads only columns the dataset has; None when no saved model fits."""
    linked = ws.linked_model(info.name)
    if linked is not None:
        return linked
    latest = ws.list_models().sort_values("created_at", ascending=False).drop_duplicates("name")
    for name, version in zip(latest["name"], latest["version"], strict=True):
        if not check_columns(parse_model(ws.load_model_text(name, int(version))), info.columns):
            return str(name), int(version)
    return None


def _follow_dataset(ws: Workspace, info: DatasetInfo) -> None:
    """When the dataset changes, ask the model widgets for the model that goes with it (unless a page has
    already asked for one, e.g. Start a model just created it)."""
    previous = st.session_state.get(SHOWN_DATASET)
    st.session_state[SHOWN_DATASET] = info.name
    if previous == info.name or (previous is None and MODEL in st.session_state):
        return  # the same dataset, or a session that starts with a model already chosen
    choice = _fitting_model(ws, info)
    if choice is not None and PENDING[MODEL] not in st.session_state:
        st.session_state[PENDING[MODEL]], st.session_state[PENDING[VERSION]] = choice


def _picked() -> None:
    st.session_state[PICKED] = True


def save_model(name: str, yaml_text: str, note: str = "", dataset: str | None = None) -> int | None:
    """Save a model version from a page and select it on the next run; it becomes the model of ``dataset``
    (default: the sidebar's) when it fits that dataset. Shows the problem and returns None when not saved
    (also when the user's role may not save models)."""
    if not allowed("save_model"):
        return None
    ws = workspace()
    version = handled(ws.save_model, name, yaml_text, note, author(), what="Not saved")
    if version is None:
        return None
    info = handled(ws.dataset_info, dataset or st.session_state.get(DATASET, ""), what="Not linked to the dataset")
    if info is not None and not check_columns(parse_model(yaml_text), info.columns):
        ws.link_model(info.name, name, version)
    st.session_state[PENDING[MODEL]], st.session_state[PENDING[VERSION]] = name, version
    return version


def sidebar() -> Context | None:
    """Draw the shared sidebar and return the selection, or None when there is no dataset or no model yet."""
    ws = workspace()
    with st.sidebar:
        datasets = ws.dataset_names()
        models = ws.model_names()
        if not datasets:
            st.info("No dataset yet — add one on the **Data** page.")
            return None
        _pick(DATASET, datasets, datasets[0])
        name = st.selectbox("Dataset", datasets, key=DATASET)
        info = ws.dataset_info(name)
        if not models:
            st.info("No model yet — **Start a model** from this dataset's columns.")
            return None
        _follow_dataset(ws, info)
        _pick(MODEL, models, "Default" if "Default" in models else models[0])
        model_name = st.selectbox("Model", models, key=MODEL, on_change=_picked)
        versions = ws.list_models().query("name == @model_name")
        numbers = [int(v) for v in versions["version"]]
        # who saved it (not on a laptop without sign-in, where everyone is 'local') and their note
        who = versions["author"].fillna("").replace(access.LOCAL_USER.email, "")
        about = {int(v): "".join(f" · {text[:40]}" for text in (w, note) if text) for v, w, note in
                 zip(versions["version"], who, versions["note"].fillna(""), strict=True)}
        _pick(VERSION, numbers, numbers[0])
        version = st.selectbox("Version", numbers, key=VERSION, on_change=_picked,
                               format_func=lambda v: f"v{v}{about.get(v, '')}", help="Who saved it, and their note")
        facets, scope = _facets(name, info.updated_at), _scope(name, info.updated_at)
        if scope.restricted:  # a CSM's filters offer only their book's values
            facets = _Facets(facets.dates, {s: sorted(scope.apply(dataset(info).df)[s].dropna().astype(str).unique())
                                            for s in facets.options})
        _pick(AS_OF, facets.dates, facets.dates[-1])
        as_of = pd.Timestamp(st.select_slider("Snapshot date", facets.dates, key=AS_OF))
        filters = _filter_widgets(facets.options)
    yaml_text = ws.load_model_text(model_name, version)
    model = parse_model(yaml_text, source=f"model '{model_name}' v{version}")
    if st.session_state.pop(PICKED, False) and not check_columns(model, info.columns):
        ws.link_model(info.name, model_name, version)  # a model picked for a dataset becomes its model
    return Context(dataset=info, model_name=model_name, model_version=version, model_yaml=yaml_text, model=model,
                   as_of=as_of, filters=filters, scope=scope)


def current_dataset() -> DatasetInfo | None:
    """The dataset chosen in the sidebar, even when no model goes with it yet (for Start a model)."""
    name = st.session_state.get(DATASET)
    if name is None:
        return None
    try:
        return workspace().dataset_info(name)
    except WorkspaceError:  # deleted in another session since
        return None


def dataset(info: DatasetInfo) -> Dataset:
    """A dataset's canonical table (shared; read-only)."""
    return _dataset(info.name, info.updated_at)


def known_labels(info: DatasetInfo) -> pd.Series:
    """A dataset's known health per account: the file's labels with the ones set by hand on top (read fresh)."""
    return vv.known_labels(_file_labels(info.name, info.updated_at), workspace().labels(info.name))


def start_survey(info: DatasetInfo) -> starter.Survey:
    """The columns of a dataset a model could score and the evidence for them (lib.analysis.starter.survey), computed
    once per revision and set of known-health labels."""
    labels = known_labels(info)
    key = int(pd.util.hash_pandas_object(labels).sum()) if len(labels) else 0
    return _survey(info.name, info.updated_at, key, labels)


def fitted_start(info: DatasetInfo, model_yaml: str) -> Suggestion:
    """A starting model with thresholds and weights fitted on the dataset's outcomes (cached per model).

    Raises:
        lib.analysis.AnalysisError: too few outcomes to fit on.
    """
    return _fitted_start(info.name, info.updated_at, model_yaml)


def start_model_button(key: str) -> None:
    """The way out when no model fits the data: a primary button to the Start a model page."""
    if st.button("Start a model", key=key, type="primary", icon=":material/add_chart:"):
        switch_page(START_PAGE)


def switch_page(page: str) -> None:
    """Open another page with the sidebar's dataset, model and version carried over: ``st.switch_page`` from
    a button does not keep the values of sidebar widgets that were set through session state."""
    for key in (DATASET, MODEL, VERSION):
        if key in st.session_state:
            st.session_state.setdefault(PENDING[key], st.session_state[key])
    st.switch_page(page)


def _filter_widgets(options: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    chosen: dict[str, tuple[str, ...]] = {}
    active = sum(bool(st.session_state.get(FILTER_PREFIX + s)) for s in options)
    with st.expander(f"Segment filters ({active} active)" if active else "Segment filters", expanded=bool(active)):
        for segment, values in options.items():
            key = FILTER_PREFIX + segment
            st.session_state[key] = [v for v in st.session_state.get(key, []) if v in values]
            chosen[segment] = tuple(st.multiselect(column_label(segment), values, key=key,
                                                   placeholder="All"))
    return chosen


def context(check_fit: bool = True) -> Context:
    """The current selection for a page; stops the page with a helpful message when it cannot be made.

    Args:
        check_fit: stop when the model reads a column the dataset lacks — one sentence, the **Start a model**
            button and a link to Tune, never a list of key errors. The Tune page passes False: it shows the
            problems itself and offers to fix the model.
    """
    ctx = st.session_state.get("_ctx")
    if ctx is None:
        info = current_dataset()
        if info is None:
            empty_state("There is no dataset to show yet.", "Add one on the Data page.", page="app_pages/data.py")
        else:
            st.info(f"Dataset **{md(info.name)}** has no model yet: start one from its own columns.",
                    icon=":material/info:")
            start_model_button("ctx.start_model")
        st.stop()
    problems = check_columns(ctx.model, ctx.data().df.columns) if check_fit else []
    if problems:
        misfit_notice(ctx)
        st.stop()
    return ctx


def misfit_notice(ctx: Context) -> None:
    """One sentence for a model that does not fit the dataset, and the ways on: Start a model, or Tune."""
    present = set(ctx.dataset.columns)
    models = [ctx.model] + ([ctx.model.expansion] if ctx.model.expansion is not None else [])
    lacking = [c for c in dict.fromkeys(c for m in models for c in (*m.metrics, *m.segment_columns()))
               if c not in present]
    shown = ", ".join(f"‘{md(c)}’" for c in lacking[:3]) + (f" and {len(lacking) - 3} more" if len(lacking) > 3
                                                              else "")
    st.warning(f"Model **{md(ctx.model_name)}** v{ctx.model_version} does not fit dataset "
               f"**{md(ctx.dataset.name)}**: it reads {shown}, which the data does not have. Start a model from "
               "this dataset's own columns, or fix this one on the Tune page.", icon=":material/warning:")
    left, right = st.columns([1, 3], vertical_alignment="center")
    with left:
        start_model_button("ctx.start_model")
    with right:
        st.page_link("app_pages/tune.py", label="Fix the model on the Tune page", icon=":material/tune:")


def remember(ctx: Context | None) -> None:
    """Keep this run's selection for the page (session-scoped; a small frozen object, never a frame)."""
    st.session_state["_ctx"] = ctx


# -- who is signed in -------------------------------------------------------------------------------------
def sign_in_configured() -> bool:
    """Whether `[auth]` is set in .streamlit/secrets.toml; without it the app runs for one person, no sign-in."""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def user() -> access.User:
    """The user of this session (set by `signed_in` on every run of app.py)."""
    fallback = access.User("", None) if sign_in_configured() else access.LOCAL_USER
    return st.session_state.get(USER) or fallback


def author() -> str:
    """What notes, overrides, labels, model versions and uploads record as their author: the signed-in email."""
    return user().email


def can(action: str) -> bool:
    """Whether the user may do ``action`` (lib.data.access.ACTIONS, e.g. "create_play") — to show or hide a control."""
    return access.can(user(), action)


def allowed(action: str, account_id: object = None) -> bool:
    """The check inside an action (saving, deleting …): whether the user may do ``action`` — on ``account_id``
    when given, which must be in their book. When not, say why and return False."""
    try:
        access.require(user(), action)
        scope = st.session_state.get("_ctx").scope if st.session_state.get("_ctx") else access.Scope()
        if account_id is not None and not scope.allows(account_id):
            raise access.AccessDenied(f"account {account_id} is not in your book — you can change only your own "
                                      "accounts")
    except access.AccessDenied as err:
        show_error(err, "Not allowed")
        return False
    return True


def _scope(name: str, revision: pd.Timestamp) -> access.Scope:
    who = user()
    return _book(name, revision, who.owners) if who.role == "csm" else access.Scope()


def signed_in() -> access.User:
    """Who uses the app; app.py calls it before anything else. Without sign-in configured: the local user. With
    it: until sign-in only a **Sign in** button shows; a user the access file gives no role sees "ask an admin";
    an access file with problems shows them. Each of those stops the run."""
    if not sign_in_configured():
        who = access.LOCAL_USER
    elif not st.user.is_logged_in:
        st.title("Health Score Studio")
        st.write("Sign in with your organisation's account to see your team's customer health.")
        if st.button("Sign in", type="primary", icon=":material/login:", key="auth.sign_in"):
            st.login()
        st.stop()
    else:
        try:
            rules = access.load_access()
        except access.AccessError as err:
            st.title("Health Score Studio")
            show_error(err, "The access file has problems — an admin fixes them (README: Sign-in and roles)")
            _sign_out_button("auth.sign_out_broken")
            st.stop()
        who = access.resolve(rules, str(st.user.get("email") or ""))
        if who.role is None:
            admins = sorted(e for e, u in rules.users.items() if u.role == "admin")
            st.title("Ask an admin for access")
            st.info(f"You are signed in as **{md(who.email or 'an account without an email')}**, but Health Score "
                    "Studio has no role for you yet. Ask an admin to add your email to the access file"
                    + (f": {', '.join(md(a) for a in admins)}." if admins else "."), icon=":material/lock:")
            _sign_out_button("auth.sign_out_no_role")
            st.stop()
    st.session_state[USER] = who
    return who


def _sign_out_button(key: str) -> None:
    if st.button("Sign out", icon=":material/logout:", key=key):
        st.logout()


def account_menu(who: access.User) -> None:
    """The sidebar's foot: who is signed in, their role (and book), and Sign out (only with sign-in)."""
    if not sign_in_configured():
        return
    with st.sidebar:
        st.divider()
        ctx = st.session_state.get("_ctx")
        book = ctx.scope.caption() if ctx is not None else ""
        st.caption(f"Signed in as **{md(who.email)}** · {who.role}" + (f"  \n{md(book)}" if book else ""))
        _sign_out_button("auth.sign_out")


# -- shared widgets ----------------------------------------------------------------------------------------
_MD_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: object) -> str:
    """Escape text from data for st.markdown: no HTML, links or formatting can come from a cell."""
    return _MD_SPECIALS.sub(r"\\\1", html.escape(str(text), quote=False))


def plot(fig: go.Figure, key: str) -> None:
    """Draw a Plotly figure full width with the product's toolbar settings."""
    st.plotly_chart(fig, width="stretch", key=key, config=PLOTLY_CONFIG, theme=None)


def account_table(table: pd.DataFrame, key: str, **column_config: Any) -> None:
    """A band-coloured account table (a `lib.views.portfolio.display_table`-style frame with an 'ID' column);
    selecting a row opens that account on the Account page. ``column_config`` adds to the ID column's."""
    event = st.dataframe(pf.style_bands(table, charts.BAND_COLORS), hide_index=True, key=key, on_select="rerun",
                         selection_mode="single-row",
                         column_config={"ID": st.column_config.TextColumn(width="small"), **column_config})
    if event.selection.rows:
        st.session_state[ACCOUNT] = str(table["ID"].iloc[event.selection.rows[0]])
        switch_page(ACCOUNT_PAGE)


def start_play_button(ids: pd.Series, source: str, key: str, label: str | None = None) -> None:
    """'Start a play with these N accounts' under a list of accounts (for those who may create plays): opens the
    Plays page with them as a new play's targets; ``source`` says where they came from ('Overview: …')."""
    accounts = pd.unique(ids.dropna().astype(str))
    if not len(accounts) or not can("create_play"):
        return
    if st.button(label or f"Start a play with these {len(accounts):,} accounts", icon=":material/science:", key=key,
                 help="Opens Plays with these accounts as a new play's targets; a control group is held back"):
        st.session_state[PLAY_TARGETS] = {"accounts": list(accounts), "source": source,
                                          "page": source.split(":")[0]}
        switch_page(PLAYS_PAGE)


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
