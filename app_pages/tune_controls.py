"""Tune page controls bound to the draft: the session keys, the callbacks that edit the draft, and the panels
(toolbar, misfit fix, band / missing / profile controls, a metric's thresholds, weights) that draw them.

Not a page (app.py registers pages explicitly): app_pages/tune.py imports it. Every edit goes through
:func:`lib.tuning.edit_draft` or another :mod:`lib.tuning` edit, so a bad value comes back as the model's own
message, shown beside the control that made it.
"""

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from lib import charts, tuning, ui
from lib.model import (
    DEFAULT_PROFILE,
    METHODS,
    Categories,
    Linear,
    Model,
    ModelError,
    Percentile,
    Steps,
    VsAverage,
    effective_weights,
)

DRAFT, BASE, ERRORS, FLASH = "tune.draft", "tune.base", "tune.errors", "tune.flash"
DEFAULT_NEW_POINTS = 50.0  # points for a data value added to a categories map
# Widget keys that mirror the draft: dropped whenever the draft is replaced, so they re-read it.
CONTROLS = ("tune.metric.", "tune.profile.", "tune.group.", "tune.bands", "tune.missing", "tune.save.")
METHOD_NAMES = {"linear": "Linear (red → green)", "steps": "Steps", "categories": "Categories",
                "percentile": "Percentile among peers", "vs_average": "Versus peer average"}
POINTS_RANGE = tuning.SliderRange(0.0, 100.0, 5.0)  # a step's or a category's points

Convert = Callable[[Any], Any]  # a control's value → what the model key holds
Key = str | tuple[str, ...]  # a model key for tuning.edit_draft: dotted, or parts when names may hold dots


# -- callbacks: edit the draft in session state -------------------------------------------------------------


def reset(draft: str) -> None:
    """Replace the draft (and drop the controls that mirrored the old one, so they re-read it)."""
    st.session_state[DRAFT] = draft
    st.session_state[ERRORS] = {}
    for key in [k for k in st.session_state if str(k).startswith(CONTROLS)]:
        del st.session_state[key]


def _apply(control: str, key: Key, value: object, restore: object = None, clear: str | None = None) -> None:
    """Apply a value to the draft; on a problem put the control back (``restore``) and keep the model's
    message beside it. ``clear`` drops the controls under a prefix that the edit changed too."""
    _take(control, tuning.edit_draft(st.session_state[DRAFT], key, value), restore, clear)


def _take(control: str, result: tuning.EditResult, restore: object = None, clear: str | None = None) -> None:
    """Keep an edit's result as the draft, or its problems beside ``control`` (see :func:`_apply`)."""
    st.session_state[ERRORS] = {} if result.ok else {control: result.problems}
    if not result.ok:
        if restore is not None:
            st.session_state[control] = restore
        return
    st.session_state[DRAFT] = result.yaml
    for k in [k for k in st.session_state if clear and str(k).startswith(clear + ".")]:
        del st.session_state[k]


def _changed(control: str, key: Key, convert: Convert | None, current: object, clear: str | None = None) -> None:
    """A control moved: convert its value to what the model key holds, then apply it."""
    try:
        value = convert(st.session_state[control]) if convert else st.session_state[control]
    except ValueError as err:
        st.session_state[ERRORS] = {control: (str(err),)}
        st.session_state[control] = current
        return
    _apply(control, key, value, current, clear)


def _scoped(control: str, edit: Callable[[str, str, str], tuning.EditResult], metric: str, profile: str) -> None:
    """Give a profile its own thresholds for a metric, or drop them (``edit``); both sets of controls re-read."""
    _take(control, edit(st.session_state[DRAFT], metric, profile), clear=tuning.control_prefix(metric, profile))
    for k in [k for k in st.session_state if str(k).startswith(tuning.control_prefix(metric) + ".")]:
        del st.session_state[k]


def _add_categories(control: str, metric: str, profile: str, values: list[str] | None, prefix: str) -> None:
    """Add data values (the chosen ones when ``values`` is None) to the metric's categories map."""
    chosen = st.session_state.get(f"{prefix}.new", []) if values is None else values
    result = tuning.add_categories(st.session_state[DRAFT], metric, profile, chosen,
                                   st.session_state.get("tune.new_points", DEFAULT_NEW_POINTS))
    _take(control, result, clear=prefix)


def _fit(columns: list[str]) -> None:
    result = tuning.drop_missing_columns(st.session_state[DRAFT], columns)
    if result.ok:
        reset(result.yaml)
    else:
        st.session_state[ERRORS] = {"tune.fit": result.problems}


def _uploaded(columns: list[str]) -> None:
    file = st.session_state.get("tune.upload")
    if file is None:
        return
    try:
        reset(tuning.read_model_upload(file.getvalue(), file.name, columns))
    except ModelError as err:
        st.session_state[ERRORS] = {"tune.upload": [f"{err.source}: {p}" for p in err.problems]}


def _save(name: str, yaml_text: str, note: str) -> None:
    version = ui.handled(ui.workspace().save_model, name, yaml_text, note, what="Not saved")
    if version is not None:
        st.session_state[ui.PENDING[ui.MODEL]], st.session_state[ui.PENDING[ui.VERSION]] = name, version
        st.session_state[FLASH] = f"Saved {name} v{version}."
        st.rerun(scope="app")


# -- controls ----------------------------------------------------------------------------------------------


def _problems(control: str) -> None:
    for line in st.session_state.get(ERRORS, {}).get(control, ()):
        st.error(ui.md(line), icon=":material/error:")


def _slider(label: str, control: str, key: Key, current: Any, rng: tuning.SliderRange,
            convert: Convert | None = None, **kw: Any) -> None:
    st.session_state.setdefault(control, current)
    st.slider(label, rng.lo, rng.hi, step=rng.step, format=rng.format, key=control, on_change=_changed,
              args=(control, key, convert, current), **kw)
    _problems(control)


def toolbar(ctx: ui.Context, columns: list[str], draft_yaml: str, n_changes: int) -> None:
    """Save as a new version or model, download or upload the YAML, revert to the saved model."""
    save, new, down, up, revert = st.columns([1.2, 1.2, 1.1, 1.1, 0.9])
    with save.popover("Save as new version", icon=":material/save:", disabled=not n_changes, width="stretch"):
        note = st.text_input("Note", key="tune.save.note", placeholder="What changed and why")
        if st.button(f"Save {ctx.model_name} as a new version", key="tune.save.version", type="primary"):
            _save(ctx.model_name, draft_yaml, note)
    with new.popover("Save as new model", icon=":material/library_add:", width="stretch"):
        name = st.text_input("Name of the new model", key="tune.save.name", placeholder="Q3 draft")
        note = st.text_input("Note", key="tune.save.new_note")
        if st.button("Create model", key="tune.save.model", type="primary"):
            problem = tuning.new_model_name_problem(name, ui.workspace().model_names())
            if problem:
                st.error(ui.md(problem))
            else:
                _save(name.strip(), tuning.edit_draft(draft_yaml, "name", name.strip()).yaml, note)
    down.download_button("Download YAML", draft_yaml, file_name=f"{ctx.model_name}-draft.yaml",
                         mime="application/x-yaml", key="tune.download", on_click="ignore",
                         icon=":material/download:", width="stretch")
    with up.popover("Upload YAML", icon=":material/upload:", width="stretch"):
        st.file_uploader("A model file (.yaml) replaces the draft", type=["yaml", "yml"], key="tune.upload",
                         on_change=_uploaded, args=(columns,))
        _problems("tune.upload")
    revert.button("Revert", key="tune.revert", icon=":material/undo:", on_click=reset, args=(ctx.model_yaml,),
                  disabled=not n_changes, width="stretch", help="Drop the draft and start again from the saved model")


def draft_controls(ctx: ui.Context, td: tuning.TuneData, draft: Model) -> None:
    """Band cut-offs, missing values, the profile, then a metric's thresholds and the weights in tabs."""
    _slider("Band cut-offs (red ≤ · yellow ≤)", "tune.bands", "bands", (draft.bands.red, draft.bands.yellow),
            tuning.SliderRange(0.0, 100.0, 1.0), convert=lambda v: {"red": v[0], "yellow": v[1]},
            help="A score at or below the first handle is red, at or below the second yellow, above it green.")
    left, right = st.columns(2)
    st.session_state.setdefault("tune.missing", draft.missing)
    left.segmented_control("Missing values", ["renormalize", "zero"], key="tune.missing", required=True,
                           format_func={"renormalize": "Share weight", "zero": "Score 0"}.get,
                           on_change=_changed, args=("tune.missing", "missing", None, draft.missing))
    profiles = tuning.profile_choices(draft)
    if st.session_state.get("tune.pick_profile") not in profiles:
        st.session_state["tune.pick_profile"] = DEFAULT_PROFILE
    profile = right.selectbox("Profile", profiles, key="tune.pick_profile")
    right.caption(ui.md(tuning.profile_caption(draft, profile)))
    metrics_tab, weights_tab = st.tabs(["Thresholds", "Weights"])
    with metrics_tab:
        if st.session_state.get("tune.pick_metric") not in draft.metrics:
            st.session_state["tune.pick_metric"] = next(iter(draft.metrics))
        metric = st.selectbox("Metric", list(draft.metrics), key="tune.pick_metric", format_func=ctx.label)
        _metric_panel(ctx, td, draft, metric, profile)
    with weights_tab:
        _weights(ctx, draft, profile)


def _metric_panel(ctx: ui.Context, td: tuning.TuneData, draft: Model, metric: str, profile: str) -> None:
    key, prefix = tuning.spec_scope(draft, metric, profile)
    spec = draft.spec_for(profile, metric)
    _scope(ctx, draft, metric, profile)
    st.session_state.setdefault(f"{prefix}.method", spec.method)
    st.selectbox("Method", METHODS, format_func=METHOD_NAMES.get, key=f"{prefix}.method", on_change=_changed,
                 args=(f"{prefix}.method", key,
                       lambda m: tuning.default_spec(m, td.values_at(metric, ctx.as_of, {}), previous=spec),
                       spec.method, prefix))
    _problems(f"{prefix}.method")
    marks = tuning.threshold_marks(ctx.model, draft, metric, profile)
    if isinstance(spec, Percentile | VsAverage):
        st.session_state.setdefault(f"{prefix}.within", list(spec.within))
        st.multiselect("Peers: compare within", list(ctx.segments), key=f"{prefix}.within", on_change=_changed,
                       args=(f"{prefix}.within", (*key, "within"), None, list(spec.within)),
                       placeholder="The whole portfolio")
        _problems(f"{prefix}.within")
    if not isinstance(spec, Categories):
        st.session_state.setdefault(f"{prefix}.lower", tuning.lower_is_better(spec))
        st.toggle("Lower is better", key=f"{prefix}.lower", on_change=_changed,
                  args=(f"{prefix}.lower", tuning.direction_key(spec, key), lambda _: tuning.reverse_direction(spec),
                        tuning.lower_is_better(spec), prefix))
    if isinstance(spec, Linear):
        rng = td.range_for(metric, marks)
        _slider("Red: scores 0 at", f"{prefix}.red", (*key, "red"), spec.red, rng)
        _slider("Green: scores 100 at", f"{prefix}.green", (*key, "green"), spec.green, rng)
    elif isinstance(spec, Steps | VsAverage):
        rng = td.range_for(metric, marks) if isinstance(spec, Steps) else tuning.ratio_range(spec.cuts)
        unit = "" if isinstance(spec, Steps) else " × peer average"
        for i, cut in enumerate(spec.cuts):
            _slider(f"Cut {i + 1}{unit}", f"{prefix}.cut.{i}", (*key, "cuts"), cut, rng,
                    convert=lambda v, i=i: tuning.replaced(spec.cuts, i, v))
        points = st.columns(len(spec.points))
        for i, (col, pts) in enumerate(zip(points, spec.points, strict=True)):
            with col:
                _slider(f"Points {i + 1}", f"{prefix}.points.{i}", (*key, "points"), pts, POINTS_RANGE,
                        convert=lambda v, i=i: tuning.replaced(spec.points, i, v))
        more, fewer = st.columns(2)
        more.button("Add a step", key=f"{prefix}.add", icon=":material/add:", on_click=_apply,
                    args=(f"{prefix}.add", key, tuning.with_step(spec, rng.step * 10), None, prefix))
        if len(spec.cuts) > 1:
            fewer.button("Remove the last step", key=f"{prefix}.remove", icon=":material/remove:", on_click=_apply,
                         args=(f"{prefix}.remove", key, tuning.without_step(spec), None, prefix))
        _problems(f"{prefix}.add")
    elif isinstance(spec, Categories):
        for cat, pts in spec.map.items():
            _slider(f"Points for “{ui.md(cat)}”", f"{prefix}.map.{cat}", (*key, "map"), pts, POINTS_RANGE,
                    convert=lambda v, c=cat: {**spec.map, c: v})
        _unmapped(ctx, td, spec, metric, profile, prefix)
    values = (td.ratios_at(metric, spec.within, ctx.as_of, ctx.filters) if isinstance(spec, VsAverage)
              else td.values_at(metric, ctx.as_of, ctx.filters))
    ui.plot(charts.metric_histogram(values, spec, label=ctx.label(metric), subtitle=f"{ctx.as_of:%Y-%m-%d}"),
            key="tune.chart.metric")


def _scope(ctx: ui.Context, draft: Model, metric: str, profile: str) -> None:
    """Whose thresholds the panel edits; under a profile, the button that gives it its own or drops them."""
    own = tuning.has_own_thresholds(draft, metric, profile)
    whose = (f"the **{ui.md(profile)}** profile's own thresholds" if own else "the base thresholds"
             + (", shared by every profile without its own" if draft.profiles else ""))
    st.caption(f"Reads column {ui.md(metric)} · {whose}")
    if draft.profile(profile) is not None and own:
        st.button("Use the base thresholds", key="tune.scope.base", icon=":material/undo:", on_click=_scoped,
                  args=("tune.scope.base", tuning.base_thresholds, metric, profile),
                  help=f"Drop {ui.md(profile)}'s own thresholds for this metric: it scores with the base ones again")
    elif draft.profile(profile) is not None:
        st.button(f"Give {ui.md(profile)} its own thresholds for {ui.md(ctx.label(metric))}", key="tune.scope.own",
                  icon=":material/call_split:", on_click=_scoped,
                  args=("tune.scope.own", tuning.own_thresholds, metric, profile),
                  help="Start from a copy of the base thresholds; changing them then changes only this profile")
    _problems("tune.scope.base" if own else "tune.scope.own")


def _unmapped(ctx: ui.Context, td: tuning.TuneData, spec: Categories, metric: str, profile: str,
              prefix: str) -> None:
    """Values in the data that the map does not list (they score as missing), and a way to add them."""
    unmapped = tuning.unmapped_categories(td.values_at(metric, ctx.as_of, {}), spec)
    if unmapped.empty:
        return
    shown = unmapped.head(tuning.MAX_CATEGORIES)
    more = f" (the {len(shown)} most frequent shown)" if len(unmapped) > len(shown) else ""
    st.markdown(f"**{len(unmapped):,} value{'s' * (len(unmapped) != 1)} in the data not in the map**{more}: "
                f"{unmapped['accounts'].sum():,} accounts at {ctx.as_of:%Y-%m-%d} score this metric as missing.")
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "value": "Value in the data", "accounts": st.column_config.NumberColumn("Accounts", format="%d")})
    pick, points = st.columns([2, 1])
    pick.multiselect("Values to add", list(shown["value"]), key=f"{prefix}.new", placeholder="Pick from the list")
    st.session_state.setdefault("tune.new_points", DEFAULT_NEW_POINTS)
    points.number_input("Points each", 0.0, 100.0, step=5.0, key="tune.new_points")
    add, add_all = st.columns(2)
    add.button("Add to the map", key=f"{prefix}.add_chosen", icon=":material/add:", on_click=_add_categories,
               args=(f"{prefix}.add_chosen", metric, profile, None, prefix),
               disabled=not st.session_state.get(f"{prefix}.new"))
    add_all.button(f"Add all {len(shown)} listed", key=f"{prefix}.add_all", icon=":material/playlist_add:",
                   on_click=_add_categories, args=(f"{prefix}.add_all", metric, profile, list(shown["value"]), prefix))
    _problems(f"{prefix}.add_chosen")
    _problems(f"{prefix}.add_all")


def _weights(ctx: ui.Context, draft: Model, profile: str) -> None:
    """A slider per group and per metric, each labelled with its share of the profile's score."""
    shares = effective_weights(draft)[profile]
    raw = draft.weights_for(profile)
    for group, members in tuning.grouped_metrics(draft):
        if group is not None:
            pct = tuning.group_shares(draft, profile, shares)[group]
            _slider(f"**{ui.md(group)}** group · {pct:.0%} of the score", f"tune.group.{group}",
                    ("groups", group), draft.groups[group],
                    tuning.SliderRange(0.0, max(100.0, *draft.groups.values()), 1.0))
        for metric_name in members:
            key, control = tuning.weight_scope(draft, metric_name, profile)
            _slider(f"{'↳ ' if group else ''}{ui.md(ctx.label(metric_name))} · {shares[metric_name]:.1%} "
                    "of the score", control, key, raw[metric_name],
                    tuning.SliderRange(0.0, max(100.0, *raw.values()), 1.0))


def misfit(ctx: ui.Context, draft_yaml: str, draft: Model, problems: Sequence[object], columns: list[str]) -> None:
    """The draft reads columns the dataset lacks: say what and where (``problems``, the model's
    :class:`~lib.model.Problem` lines), and offer the fix that removes them."""
    st.error(f"The draft reads columns that dataset **{ui.md(ctx.dataset.name)}** does not have, so it cannot "
             "score it:\n\n" + "\n".join(f"- {ui.md(str(p))}" for p in problems), icon=":material/error:")
    fixed = tuning.drop_missing_columns(draft_yaml, columns)
    if fixed.ok:
        lost = [m for m in draft.metrics if m not in columns]
        st.markdown("The quick fix removes from the draft:\n\n"
                    + "\n".join(f"- {ui.md(line)}" for line in tuning.misfit_removals(draft, columns)))
        st.button("Remove the missing metrics from the draft" if lost else "Remove what the data lacks from the draft",
                  key="tune.fit", type="primary", icon=":material/healing:", on_click=_fit, args=(columns,))
    else:
        st.warning("The draft cannot simply drop what is missing:\n\n"
                   + "\n".join(f"- {ui.md(line)}" for line in fixed.problems), icon=":material/warning:")
    _problems("tune.fit")
    st.caption("Or replace the draft with a model made for this dataset (**Upload YAML** above). The live preview "
               "appears once the draft fits; save it as a new version and every page uses it.")
