"""Tune page controls bound to the draft: the callbacks that edit it, and the panels (toolbar, misfit fix,
band / missing / profile controls, a metric's thresholds, weights) that draw them.

Not a page (app.py registers pages explicitly): app_pages/tune.py imports it. The draft is owned by
:class:`app_pages.tune_state.Draft`; every edit goes through :func:`lib.views.tuning.edit_draft` or another
:mod:`lib.views.tuning` edit, so a bad value comes back as the model's own message, shown beside the control that
made it. A control is named by the model key it edits (as parts), which also makes its widget key.
"""

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from app_pages.tune_state import Draft, Parts, key
from lib import charts, ui
from lib.engine import methods
from lib.engine.model import (
    DEFAULT_PROFILE,
    MAX_WINDOW,
    METHODS,
    WINDOW_STATS,
    Categories,
    Model,
    ModelError,
    ScoreSpec,
    effective_weights,
)
from lib.views import tuning

BASE, FLASH = "tune.base", "tune.flash"  # which saved model the draft started from; a message for the next run
DEFAULT_NEW_POINTS = 50.0  # points for a data value added to a categories map
POINTS_RANGE = tuning.SliderRange(0.0, 100.0, 5.0)  # a step's or a category's points
RAW = methods.RAW  # the window picker's "no window" choice

Convert = Callable[[Any], Any]  # a control's value → what the model key holds


# -- callbacks: edit the draft ------------------------------------------------------------------------------


def reset(draft_yaml: str) -> None:
    """Replace the draft (every control then reads the new one)."""
    Draft().replace(draft_yaml)


def changed(control: Parts, path: Sequence[str], convert: Convert | None = None, shown: bool = True) -> None:
    """A bound control moved: its value, converted to what the model key at ``path`` holds, goes to the draft.
    ``shown`` False when the edit changes what other controls show (a method switch, a direction flip)."""
    draft = Draft()
    try:
        value = draft.value(*control)
        value = convert(value) if convert else value
    except ValueError as err:
        draft.take(control, tuning.EditResult(draft.yaml, (str(err),)))
        return
    draft.take(control, tuning.edit_draft(draft.yaml, path, value), shown=shown)


def edit(control: Parts, func: Callable[..., tuning.EditResult], *args: Any, **kwargs: Any) -> bool:
    """Apply a :mod:`lib.views.tuning` edit ``func(draft_yaml, *args, **kwargs)``; its problems go beside ``control``.
    True when it was made."""
    draft = Draft()
    return draft.take(control, func(draft.yaml, *args, **kwargs))


def edit_value(control: Parts, func: Callable[..., tuning.EditResult], *args: Any) -> None:
    """A bound control changed: apply ``func(draft_yaml, *args, its value)``; its problems go beside it."""
    draft = Draft()
    draft.take(control, func(draft.yaml, *args, draft.value(*control)))


def _add_categories(control: Parts, metric: str, profile: str, values: list[str] | None, path: Parts) -> None:
    """Add data values (the chosen ones when ``values`` is None) to the metric's categories map."""
    draft = Draft()
    chosen = draft.value("new", *path) if values is None else values
    edit(control, tuning.add_categories, metric, profile, chosen,
         st.session_state.get(key("new_points"), DEFAULT_NEW_POINTS))


def _fit(columns: list[str]) -> None:
    edit(("fit",), tuning.drop_missing_columns, columns)


def _uploaded(columns: list[str]) -> None:
    file = st.session_state.get(key("upload"))
    if file is None:
        return
    draft = Draft()
    try:
        draft.replace(tuning.read_model_upload(file.getvalue(), file.name, columns))
    except ModelError as err:
        draft.take(("upload",), tuning.EditResult(draft.yaml, tuple(f"{err.source}: {p}" for p in err.problems)))


def _save(name: str, yaml_text: str, note: str) -> None:
    version = ui.save_model(name, yaml_text, note)
    if version is not None:
        st.session_state[FLASH] = f"Saved {name} v{version}."
        st.rerun(scope="app")


# -- controls ----------------------------------------------------------------------------------------------


def show_problems(*control: object) -> None:
    """The problems the last edit left beside ``control``, as errors (text from data escaped)."""
    for line in Draft().problems(*control):
        st.error(ui.md(line), icon=":material/error:")


def slider(label: str, path: Sequence[str], current: Any, rng: tuning.SliderRange, convert: Convert | None = None,
           control: Parts | None = None, **kw: Any) -> None:
    """A slider bound to the model key ``path`` (named by ``control``, default the path), its problems below."""
    control = tuple(path) if control is None else control
    st.slider(label, rng.lo, rng.hi, value=current, step=rng.step, format=rng.format, key=Draft().key(*control),
              on_change=changed, args=(control, path, convert), **kw)
    show_problems(*control)


def toolbar(ctx: ui.Context, columns: list[str], draft_yaml: str, n_changes: int) -> None:
    """Save as a new version or model, download or upload the YAML, revert to the saved model."""
    save, new, down, up, revert = st.columns([1.2, 1.2, 1.1, 1.1, 0.9])
    with save.popover("Save as new version", icon=":material/save:", disabled=not n_changes, width="stretch"):
        note = st.text_input("Note", key=key("save", "note"), placeholder="What changed and why")
        if st.button(f"Save {ctx.model_name} as a new version", key=key("save", "version"), type="primary"):
            _save(ctx.model_name, draft_yaml, note)
    with new.popover("Save as new model", icon=":material/library_add:", width="stretch"):
        name = st.text_input("Name of the new model", key=key("save", "name"), placeholder="Q3 draft")
        note = st.text_input("Note", key=key("save", "new_note"))
        if st.button("Create model", key=key("save", "model"), type="primary"):
            problem = tuning.new_model_name_problem(name, ui.workspace().model_names())
            if problem:
                st.error(ui.md(problem))
            else:
                _save(name.strip(), tuning.edit_draft(draft_yaml, "name", name.strip()).yaml, note)
    down.download_button("Download YAML", draft_yaml, file_name=f"{ctx.model_name}-draft.yaml",
                         mime="application/x-yaml", key=key("download"), on_click="ignore",
                         icon=":material/download:", width="stretch")
    with up.popover("Upload YAML", icon=":material/upload:", width="stretch"):
        st.file_uploader("A model file (.yaml) replaces the draft", type=["yaml", "yml"], key=key("upload"),
                         on_change=_uploaded, args=(columns,))
        show_problems("upload")
    revert.button("Revert", key=key("revert"), icon=":material/undo:", on_click=reset, args=(ctx.model_yaml,),
                  disabled=not n_changes, width="stretch", help="Drop the draft and start again from the saved model")


def draft_controls(ctx: ui.Context, td: tuning.TuneData, draft: Model, structure: Callable[[], None]) -> None:
    """Band cut-offs, missing values, the profile, then a metric's thresholds, the weights and the model's
    structure (drawn by ``structure``) in tabs."""
    slider("Band cut-offs (red ≤ · yellow ≤)", ("bands",), (draft.bands.red, draft.bands.yellow),
           tuning.SliderRange(0.0, 100.0, 1.0), convert=lambda v: {"red": v[0], "yellow": v[1]},
           help="A score at or below the first handle is red, at or below the second yellow, above it green.")
    left, right = st.columns(2)
    left.segmented_control("Missing values", ["renormalize", "zero"], default=draft.missing,
                           key=Draft().key("missing"), required=True,
                           format_func={"renormalize": "Share weight", "zero": "Score 0"}.get,
                           on_change=changed, args=(("missing",), ("missing",)))
    profiles = tuning.profile_choices(draft)
    if st.session_state.get(key("pick_profile")) not in profiles:
        st.session_state[key("pick_profile")] = DEFAULT_PROFILE
    profile = right.selectbox("Profile", profiles, key=key("pick_profile"))
    right.caption(ui.md(tuning.profile_caption(draft, profile)))
    metrics_tab, weights_tab, structure_tab = st.tabs(["Thresholds", "Weights", "Structure"])
    with metrics_tab:
        metric = pick_metric(draft, "pick_metric")
        metric_panel(ctx, td, draft, metric, profile)
    with weights_tab:
        weight_sliders(draft, profile)
    with structure_tab:
        structure()


def pick_metric(model: Model, *control: object) -> str:
    """A selectbox of the model's metrics by label (kept on one when the list changes); the one picked."""
    if st.session_state.get(key(*control)) not in model.metrics:
        st.session_state[key(*control)] = next(iter(model.metrics))
    return st.selectbox("Metric", list(model.metrics), key=key(*control), format_func=lambda m: model.metrics[m].label)


def metric_panel(ctx: ui.Context, td: tuning.TuneData, draft: Model, metric: str, profile: str,
                 root: Parts = ()) -> None:
    """A metric's method, peers, direction and thresholds under a profile, over its histogram. ``root``
    ``("expansion",)`` edits the expansion score's metric (``draft`` is then the expansion model)."""
    path = (*root, *tuning.spec_path(draft, metric, profile))
    spec = draft.spec_for(profile, metric)
    saved = ctx.model.expansion if root else ctx.model
    if not root:
        _scope(draft, metric, profile)
    current = Draft()
    method = methods.method_of(spec)
    st.selectbox("Method", METHODS, index=METHODS.index(spec.method), format_func=lambda m: methods.BY_NAME[m].title,
                 key=current.key(*path, "method"), on_change=changed,
                 args=((*path, "method"), path,
                       lambda m: tuning.default_spec(m, td.values_at(metric, ctx.as_of, {}, draft), previous=spec),
                       False))
    show_problems(*path, "method")
    if method.numeric:
        _window(td, draft, metric, root)
    if method.peers:
        st.multiselect("Peers: compare within", list(dict.fromkeys([*ctx.segments, *spec.within])),
                       default=list(spec.within), key=current.key(*path, "within"), on_change=changed,
                       args=((*path, "within"), (*path, "within")), placeholder="The whole portfolio")
        show_problems(*path, "within")
    if method.directed:
        st.toggle("Lower is better", value=tuning.lower_is_better(spec), key=current.key(*path, "lower_is_better"),
                  on_change=changed, args=((*path, "lower_is_better"), tuning.direction_key(spec, path),
                                           lambda _: tuning.reverse_direction(spec), False))
    marks = tuning.threshold_marks(saved or draft, draft, metric, profile)
    ranges = {methods.VALUE: td.range_for(metric, marks, draft) if method.scale is methods.VALUE else None,
              methods.RATIO: tuning.ratio_range(method.marks(spec)), methods.POINTS: POINTS_RANGE}
    _knobs(spec, path, ranges)
    if method.stepped:
        _step_buttons(spec, path, ranges[method.scale])
    if not method.numeric:
        _unmapped(ctx, td, draft, spec, metric, profile, path)
    values = (td.ratios_at(metric, spec.within, ctx.as_of, ctx.filters, draft) if method.scale is methods.RATIO
              else td.values_at(metric, ctx.as_of, ctx.filters, draft))
    found = draft.metrics[metric]
    ui.plot(charts.metric_histogram(values, spec, label=found.label, subtitle=f"{ctx.as_of:%Y-%m-%d}" + (
        f" · {found.window.text}" if found.window else "")), key=key("chart", *root, "metric"))


def _knobs(spec: ScoreSpec, path: Parts, ranges: dict[methods.Scale, tuning.SliderRange | None]) -> None:
    """The spec's threshold and points sliders (its method's knobs); a step's points side by side."""
    knobs = methods.method_of(spec).knobs(spec)
    inline = [k for k in knobs if k.inline]

    def draw(k: methods.Knob) -> None:
        label = k.label if k.subject is None else f"{k.label} “{ui.md(k.subject)}”"
        slider(label, (*path, k.key), k.value, ranges[k.scale], convert=k.convert, control=(*path, *k.parts))

    for k in knobs:
        if not k.inline:
            draw(k)
    for col, k in zip(st.columns(len(inline)) if inline else (), inline, strict=True):
        with col:
            draw(k)


def _window_changed(td: tuning.TuneData, metric: str, root: Parts) -> None:
    """The statistic or the window length moved: score the new statistic, with thresholds proposed from it."""
    draft = Draft()
    stat, snapshots = draft.value(*root, "window", metric, "stat"), draft.value(*root, "window", metric, "snapshots")
    window = None if stat == RAW else {"snapshots": int(snapshots), "stat": stat}
    edit((*root, "window", metric), tuning.set_window, metric, window,
         lambda model, name: td.values(name, model), expansion=bool(root))


def _window(td: tuning.TuneData, draft: Model, metric: str, root: Parts) -> None:
    """What the metric scores: its value at the date, or a statistic over the account's recent snapshots."""
    window = draft.metrics[metric].window
    current = Draft()
    what, length = st.columns([2, 1], vertical_alignment="bottom")
    what.selectbox("Score", [RAW, *WINDOW_STATS], index=[RAW, *WINDOW_STATS].index(window.stat if window else RAW),
                   format_func=methods.scored_choice,
                   key=current.key(*root, "window", metric, "stat"), on_change=_window_changed,
                   args=(td, metric, root),
                   help="A statistic over the account's row at the date and the rows before it: a level that "
                        "ignores one-off dips (mean), or movement (change, % change, trend).")
    length.number_input("Snapshots", 2, MAX_WINDOW, value=window.snapshots if window else 3, step=1,
                        key=current.key(*root, "window", metric, "snapshots"), disabled=window is None,
                        on_change=_window_changed, args=(td, metric, root))
    show_problems(*root, "window", metric)


def _step_buttons(spec: ScoreSpec, path: Parts, rng: tuning.SliderRange) -> None:
    """A step more (its cut ten slider steps above the last) or less."""
    more, fewer = st.columns(2)
    more.button("Add a step", key=key("add_step", *path), icon=":material/add:", on_click=edit,
                args=(("add_step", *path), tuning.edit_draft, path, tuning.with_step(spec, rng.step * 10)))
    if len(spec.cuts) > 1:
        fewer.button("Remove the last step", key=key("remove_step", *path), icon=":material/remove:", on_click=edit,
                     args=(("add_step", *path), tuning.edit_draft, path, tuning.without_step(spec)))
    show_problems("add_step", *path)


def _scope(draft: Model, metric: str, profile: str) -> None:
    """Whose thresholds the panel edits; under a profile, the button that gives it its own or drops them."""
    own = tuning.has_own_thresholds(draft, metric, profile)
    whose = (f"the **{ui.md(profile)}** profile's own thresholds" if own else "the base thresholds"
             + (", shared by every profile without its own" if draft.profiles else ""))
    found = draft.metrics[metric]
    reads = ui.md(found.column) + (f" · scores its {found.window.text}" if found.window else "")
    st.caption(f"Reads column {reads} · {whose}")
    if draft.profile(profile) is not None and own:
        st.button("Use the base thresholds", key=key("scope", "base"), icon=":material/undo:", on_click=edit,
                  args=(("scope",), tuning.base_thresholds, metric, profile),
                  help=f"Drop {ui.md(profile)}'s own thresholds for this metric: it scores with the base ones again")
    elif draft.profile(profile) is not None:
        st.button(f"Give {ui.md(profile)} its own thresholds for {ui.md(draft.metrics[metric].label)}",
                  key=key("scope", "own"), icon=":material/call_split:", on_click=edit,
                  args=(("scope",), tuning.own_thresholds, metric, profile),
                  help="Start from a copy of the base thresholds; changing them then changes only this profile")
    show_problems("scope")


def _unmapped(ctx: ui.Context, td: tuning.TuneData, draft: Model, spec: Categories, metric: str, profile: str,
              path: Parts) -> None:
    """Values in the data that the map does not list (they score as missing), and a way to add them."""
    unmapped = tuning.unmapped_categories(td.values_at(metric, ctx.as_of, {}, draft), spec)
    if unmapped.empty:
        return
    shown = unmapped.head(tuning.MAX_CATEGORIES)
    more = f" (the {len(shown)} most frequent shown)" if len(unmapped) > len(shown) else ""
    st.markdown(f"**{len(unmapped):,} value{'s' * (len(unmapped) != 1)} in the data not in the map**{more}: "
                f"{unmapped['accounts'].sum():,} accounts at {ctx.as_of:%Y-%m-%d} score this metric as missing.")
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "value": "Value in the data", "accounts": st.column_config.NumberColumn("Accounts", format="%d")})
    pick, points = st.columns([2, 1])
    new = Draft().key("new", *path)
    pick.multiselect("Values to add", list(shown["value"]), key=new, placeholder="Pick from the list")
    st.session_state.setdefault(key("new_points"), DEFAULT_NEW_POINTS)
    points.number_input("Points each", 0.0, 100.0, step=5.0, key=key("new_points"))
    add, add_all = st.columns(2)
    add.button("Add to the map", key=key("add_chosen", *path), icon=":material/add:", on_click=_add_categories,
               args=(("add_chosen", *path), metric, profile, None, path), disabled=not st.session_state.get(new))
    add_all.button(f"Add all {len(shown)} listed", key=key("add_all", *path), icon=":material/playlist_add:",
                   on_click=_add_categories, args=(("add_all", *path), metric, profile, list(shown["value"]), path))
    show_problems("add_chosen", *path)
    show_problems("add_all", *path)


def weight_sliders(model: Model, profile: str, root: Parts = ()) -> None:
    """A slider per group and per metric, each labelled with its share of the profile's score (``root``
    ``("expansion",)``: the expansion score's, with ``model`` its model)."""
    shares = effective_weights(model)[profile]
    raw = model.weights_for(profile)
    for group, members in tuning.grouped_metrics(model):
        if group is not None:
            pct = tuning.group_shares(model, profile, shares)[group]
            slider(f"**{ui.md(group)}** group · {pct:.0%} of the score", (*root, "groups", group),
                   model.groups[group], tuning.SliderRange(0.0, max(100.0, *model.groups.values()), 1.0))
        for metric_name in members:
            slider(f"{'↳ ' if group else ''}{ui.md(model.metrics[metric_name].label)} · "
                   f"{shares[metric_name]:.1%} of the score", (*root, *tuning.weight_path(model, metric_name, profile)),
                   raw[metric_name], tuning.SliderRange(0.0, max(100.0, *raw.values()), 1.0))


def misfit(ctx: ui.Context, draft_yaml: str, draft: Model, problems: Sequence[object], columns: list[str]) -> None:
    """The draft reads columns the dataset lacks: say what and where (``problems``, the model's
    :class:`~lib.engine.model.Problem` lines), and offer the fix that removes them."""
    st.error(f"The draft reads columns that dataset **{ui.md(ctx.dataset.name)}** does not have, so it cannot "
             "score it:\n\n" + "\n".join(f"- {ui.md(str(p))}" for p in problems), icon=":material/error:")
    fixed = tuning.drop_missing_columns(draft_yaml, columns)
    if fixed.ok:
        lost = [m for m in draft.metrics if m not in columns]
        st.markdown("The quick fix removes from the draft:\n\n"
                    + "\n".join(f"- {ui.md(line)}" for line in tuning.misfit_removals(draft, columns)))
        st.button("Remove the missing metrics from the draft" if lost else "Remove what the data lacks from the draft",
                  key=key("fit"), type="primary", icon=":material/healing:", on_click=_fit, args=(columns,))
    else:
        st.warning("The draft cannot simply drop what is missing:\n\n"
                   + "\n".join(f"- {ui.md(line)}" for line in fixed.problems), icon=":material/warning:")
    show_problems("fit")
    st.caption("Or start a model from this dataset's own columns, or replace the draft with a model made for it "
               "(**Upload YAML** above). The live preview appears once the draft fits; save it as a new version and "
               "every page uses it.")
    ui.start_model_button("tune.start_model")
