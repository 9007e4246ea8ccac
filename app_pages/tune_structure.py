"""Tune page, Structure tab: what the model is made of — metrics, groups, profiles, alerts, grades and the
expansion score — added, renamed and removed.

Not a page (app.py registers pages explicitly): app_pages/tune.py draws it through
:func:`app_pages.tune_controls.draft_controls`. Every change is a :mod:`lib.views.tuning` edit of the draft, applied
by the callbacks in :mod:`app_pages.tune_controls`, so a refusal is the model's "key: problem — fix" line shown
beside the control that made it. Names come from data: labels (markdown) escape them with :func:`lib.ui.md`, options
(plain text) show them as written, keys carry them as parts.
"""

from typing import Any

import pandas as pd
import streamlit as st

from app_pages.tune_controls import RAW, edit, edit_value, metric_panel, pick_metric, show_problems, weight_sliders
from app_pages.tune_state import Draft, Parts, key
from lib import ui
from lib.data.ingest import NOT_METRICS
from lib.engine import methods
from lib.engine.model import BAND_NAMES, DEFAULT_PROFILE, MAX_WINDOW, WINDOW_STATS, Alert, Model
from lib.views import tuning

SECTIONS = {"metrics": "Metrics", "groups": "Groups", "profiles": "Profiles", "alerts": "Alerts",
            "grades": "Grades", "expansion": "Expansion"}
ALERT_KINDS = {"drop": "Score drops", "to_band": "Enters a band"}
NEW_ALERT = Alert("", drop=15, within=2)  # what the add-an-alert form starts from


def structure(ctx: ui.Context, td: tuning.TuneData, draft: Model) -> None:
    """A section picker, then the chosen section's controls (only one is drawn: each rerun stays light)."""
    section = st.segmented_control("Part of the model", list(SECTIONS), format_func=SECTIONS.get, default="metrics",
                                   required=True, key=key("section"), label_visibility="collapsed")
    {"metrics": _metrics, "groups": _groups, "profiles": _profiles, "alerts": _alerts, "grades": _grades,
     "expansion": _expansion}[section](ctx, td, draft)


# -- metrics -----------------------------------------------------------------------------------------------


def _clear(empty: dict[Parts, object]) -> None:
    """Empty an add-something form once its item is in the draft (a refused one keeps what was typed). Each
    field (its key's parts) gets its empty value through session state, so the browser's widget shows it too;
    only fields whose widget starts empty, so no widget has a value both from its code and from here."""
    for parts, value in empty.items():
        st.session_state[key(*parts)] = value


def _add_metric(ctx: ui.Context, td: tuning.TuneData, expansion: bool) -> None:
    """Add the column picked in the add-a-metric form, and show it under Thresholds."""
    form = "new_expansion_metric" if expansion else "new_metric"
    column = st.session_state.get(key(form, "column"))
    if column is None:
        return
    kw: dict[str, Any] = {} if expansion else {"weight": st.session_state.get(key(form, "weight")),
                                               "group": st.session_state.get(key(form, "group"))}
    stat = st.session_state.get(key(form, "stat"), RAW)
    window = None if stat == RAW else {"snapshots": int(st.session_state.get(key(form, "snapshots"), 3)),
                                       "stat": stat}
    if edit((form,), tuning.add_metric, column, ctx.data().df[column], expansion=expansion, window=window,
            values_of=lambda model, name: td.values(name, model), **kw):
        _clear({(form, "column"): None})
        name = column if window is None else tuning.window_metric_name(column, window)
        st.session_state[key("pick_expansion_metric" if expansion else "pick_metric")] = name


def _add_metric_form(ctx: ui.Context, td: tuning.TuneData, model: Model, expansion: bool = False) -> None:
    """Pick a column the model does not score yet; it starts with thresholds from its values."""
    form = "new_expansion_metric" if expansion else "new_metric"
    df = ctx.data().df
    stat = st.session_state.get(key(form, "stat"), RAW)
    # A statistic of a column the model already scores is a new metric (a level and a trend of one column).
    candidates = (tuning.metric_candidates(model, df.columns) if stat == RAW else
                  [c for c in map(str, df.columns) if c not in NOT_METRICS and pd.api.types.is_numeric_dtype(df[c])])
    with st.container(border=True):
        st.markdown("**Add a metric**")
        what, length = st.columns([2.2, 1], vertical_alignment="bottom")
        what.selectbox("Score", [RAW, *WINDOW_STATS], key=key(form, "stat"),
                       format_func=lambda o: methods.scored_choice(o, raw="The column's value at the date"))
        length.number_input("Snapshots", 2, MAX_WINDOW, value=3, step=1, key=key(form, "snapshots"),
                            disabled=stat == RAW)
        column, weight, group = st.columns([2.2, 1, 1.6], vertical_alignment="bottom")
        column.selectbox("Column", candidates, index=None, key=key(form, "column"), placeholder="Pick a column")
        if not expansion:
            weight.number_input("Weight", 0.0, 1000.0, value=tuning.suggested_weight(model), step=5.0,
                                key=key(form, "weight"))
            if model.groups:
                current = model.metrics.get(st.session_state.get(key("pick_metric")))
                groups = list(model.groups)
                group.selectbox("Group", groups, key=key(form, "group"),
                                index=groups.index(current.group) if current and current.group in groups else 0)
        st.button("Add metric", key=key(form, "add"), icon=":material/add:", type="primary",
                  disabled=st.session_state.get(key(form, "column")) is None, on_click=_add_metric,
                  args=(ctx, td, expansion))
        st.caption("A column of numbers starts as a straight line from its 10th to its 90th percentile; a column "
                   "of text starts with its values as categories. Fine-tune it under Thresholds.")
        show_problems(form)


def _metrics(ctx: ui.Context, td: tuning.TuneData, draft: Model) -> None:
    st.caption("Each metric reads one column of the data (named above its label); the label is what every page "
               "shows.")
    d = Draft()
    for name, metric in draft.metrics.items():
        with st.container(border=True):
            label, group, remove = st.columns([2.2, 1.6, 0.5], vertical_alignment="bottom")
            label.text_input(ui.md(name), value=metric.label, key=d.key("label", name),
                             on_change=edit_value, args=(("label", name), tuning.relabel_metric, name))
            if draft.groups:
                groups = list(draft.groups)
                group.selectbox("Group", groups, index=groups.index(metric.group), key=d.key("group_of", name),
                                on_change=edit_value,
                                args=(("group_of", name), tuning.edit_draft, ("metrics", name, "group")))
            remove.button("Remove", key=key("remove_metric", name), icon=":material/delete:", on_click=edit,
                          args=(("remove_metric", name), tuning.remove_metric, name), disabled=len(draft.metrics) == 1,
                          help="A model needs at least one metric" if len(draft.metrics) == 1
                          else "Remove it, with its weights and thresholds in every profile")
            for control in (("label", name), ("group_of", name), ("remove_metric", name)):
                show_problems(*control)
    _add_metric_form(ctx, td, draft)


# -- groups ------------------------------------------------------------------------------------------------


def _add_group(control: str) -> None:
    if edit((control,), tuning.add_group, st.session_state.get(key("new_group", "name")) or ""):
        _clear({("new_group", "name"): ""})


def _remove_group(group: str) -> None:
    edit(("remove_group", group), tuning.remove_group, group, st.session_state.get(key("move_to", group)))


def _groups(ctx: ui.Context, td: tuning.TuneData, draft: Model) -> None:
    if not draft.groups:
        st.caption("Every metric is weighted directly. With groups, metrics are weighed within their group and the "
                   "groups against each other (e.g. Engagement 50 %, Support 25 %, Sentiment 25 %).")
        name, on = st.columns([2, 1], vertical_alignment="bottom")
        name.text_input("First group", key=key("new_group", "name"), placeholder="Engagement")
        on.button("Turn groups on", key=key("groups_on"), icon=":material/workspaces:", type="primary",
                  on_click=_add_group, args=("groups_on",),
                  help="Every metric joins this group; add more groups and move metrics into them")
        show_problems("groups_on")
        return
    st.caption("Set each group's weight under Weights, and each metric's group under Metrics.")
    d = Draft()
    for group in draft.groups:
        members = tuning.group_members(draft, group)
        with st.container(border=True):
            name, who, remove = st.columns([1.6, 2.1, 0.6], vertical_alignment="bottom")
            name.text_input("Group", value=group, key=d.key("group_name", group), on_change=edit_value,
                            args=(("group_name", group), tuning.rename_group, group))
            who.caption(", ".join(ui.md(draft.metrics[m].label) for m in members) or "No metrics yet")
            with remove.popover("Remove", icon=":material/delete:", disabled=len(draft.groups) == 1,
                                help="The only group: turn groups off instead" if len(draft.groups) == 1 else None):
                others = [g for g in draft.groups if g != group]
                if members:
                    st.selectbox(f"Move its {len(members)} metric{'s' * (len(members) != 1)} to", others,
                                 key=key("move_to", group))
                st.button(f"Remove {ui.md(group)}", key=key("remove_group", group), type="primary",
                          on_click=_remove_group, args=(group,))
            show_problems("group_name", group)
            show_problems("remove_group", group)
    name, add, off = st.columns([2, 1, 1], vertical_alignment="bottom")
    name.text_input("New group", key=key("new_group", "name"), placeholder="Billing")
    add.button("Add group", key=key("add_group"), icon=":material/add:", on_click=_add_group, args=("add_group",))
    off.button("Turn groups off", key=key("groups_off"), icon=":material/layers_clear:", on_click=edit,
               args=(("add_group",), tuning.groups_off), help="Weigh every metric directly; the groups go")
    show_problems("add_group")


# -- profiles ----------------------------------------------------------------------------------------------


def _segment_options(ctx: ui.Context, when: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Segment columns and their values to select on; a profile's own columns and values stay selectable."""
    options = {c: list(v) for c, v in ctx.segment_values().items()}
    for column, values in when.items():
        options[column] = list(dict.fromkeys([*options.get(column, []), *values]))
    return options


def _add_profile(columns: list[str]) -> None:
    when = {c: st.session_state.get(key("new_profile", "when", c), []) for c in columns}
    if edit(("new_profile",), tuning.add_profile, st.session_state.get(key("new_profile", "name")) or "", when):
        _clear({("new_profile", "name"): "", **{("new_profile", "when", c): [] for c in columns}})


def _profiles(ctx: ui.Context, td: tuning.TuneData, draft: Model) -> None:
    st.caption("A profile scores the accounts its conditions select with its own weights and thresholds (pick it "
               f"in **Profile** above). The first profile that matches wins; the rest use {DEFAULT_PROFILE}.")
    d = Draft()
    for i, p in enumerate(draft.profiles):
        with st.expander(f"{i + 1}. **{ui.md(p.name)}** · {ui.md(tuning.profile_caption(draft, p.name))}"):
            st.text_input("Name", value=p.name, key=d.key("profile_name", p.name), on_change=edit_value,
                          args=(("profile_name", p.name), tuning.rename_profile, p.name))
            for column, values in _segment_options(ctx, p.when).items():
                st.multiselect(ui.md(column), values, default=list(p.when.get(column, ())), placeholder="Any",
                               key=d.key("when", p.name, column), on_change=edit_value,
                               args=(("when", p.name, column), tuning.set_condition, p.name, column))
                show_problems("when", p.name, column)
            up, down, remove = st.columns(3)
            up.button("Earlier", key=key("profile_up", p.name), icon=":material/arrow_upward:", disabled=i == 0,
                      on_click=edit, args=(("profile", p.name), tuning.move_profile, p.name, -1), width="stretch")
            down.button("Later", key=key("profile_down", p.name), icon=":material/arrow_downward:",
                        disabled=i == len(draft.profiles) - 1, width="stretch",
                        on_click=edit, args=(("profile", p.name), tuning.move_profile, p.name, 1))
            remove.button("Remove", key=key("remove_profile", p.name), icon=":material/delete:", width="stretch",
                          on_click=edit, args=(("profile", p.name), tuning.remove_profile, p.name))
            show_problems("profile_name", p.name)
            show_problems("profile", p.name)
    with st.container(border=True):
        st.markdown("**Add a profile**")
        st.text_input("Name", key=key("new_profile", "name"), placeholder="Enterprise accounts")
        options = _segment_options(ctx, {})
        for column, values in options.items():
            st.multiselect(ui.md(column), values, key=key("new_profile", "when", column), placeholder="Any")
        if not options:
            st.caption("The dataset has no segment columns to select accounts by (map some on the Data page).")
        st.button("Add profile", key=key("new_profile", "add"), icon=":material/add:", type="primary",
                  on_click=_add_profile, args=(list(options),), disabled=not options)
        show_problems("new_profile")


# -- alerts ------------------------------------------------------------------------------------------------


def _rule(read: dict[str, Any], alert: Alert) -> dict[str, Any]:
    """The alert rule the controls in ``read`` (field → value) say, ``alert``'s own values where unset."""
    kind = read.get("kind") or ("to_band" if alert.to_band else "drop")
    if kind == "to_band":
        return tuning.alert_rule(read.get("name", alert.name), to_band=read.get("band") or alert.to_band or "red")
    return tuning.alert_rule(read.get("name", alert.name), drop=read.get("drop") or alert.drop or NEW_ALERT.drop,
                             within=int(read.get("within") or alert.within or NEW_ALERT.within))


def _alert_changed(alert: Alert) -> None:
    d = Draft()
    read = {f: d.value("alert", alert.name, f) for f in ("name", "kind", "drop", "within", "band")
            if d.key("alert", alert.name, f) in st.session_state}
    edit(("alert", alert.name), tuning.set_alert, alert.name, _rule(read, alert))


def _add_alert() -> None:
    read = {f: st.session_state.get(key("new_alert", f)) for f in ("name", "kind", "drop", "within", "band")}
    if edit(("new_alert",), tuning.set_alert, None, _rule({**read, "name": read["name"] or ""}, NEW_ALERT)):
        _clear({("new_alert", "name"): ""})


def _alert_fields(alert: Alert, make_key: Any, on_change: Any = None, args: tuple = ()) -> None:
    """Name, kind and the kind's settings of an alert in one row (keys from ``make_key(field)``)."""
    kind = "to_band" if alert.to_band else "drop"
    name, what, first, second = st.columns([1.6, 1.4, 1, 1], vertical_alignment="bottom")
    name.text_input("Alert", value=alert.name, key=make_key("name"), on_change=on_change, args=args,
                    placeholder="Steep drop")
    what.selectbox("Fires when", list(ALERT_KINDS), index=list(ALERT_KINDS).index(kind), format_func=ALERT_KINDS.get,
                   key=make_key("kind"), on_change=on_change, args=args)
    if (st.session_state.get(make_key("kind")) or kind) == "to_band":
        first.selectbox("Band", BAND_NAMES, index=BAND_NAMES.index(alert.to_band or "red"), key=make_key("band"),
                        on_change=on_change, args=args)
    else:
        first.number_input("Points lost", 1.0, 100.0, value=float(alert.drop or NEW_ALERT.drop), step=1.0,
                           key=make_key("drop"), on_change=on_change, args=args)
        second.number_input("Within snapshots", 1, 52, value=int(alert.within or NEW_ALERT.within),
                            key=make_key("within"), on_change=on_change, args=args)


def _alerts(ctx: ui.Context, td: tuning.TuneData, draft: Model) -> None:
    st.caption("An alert fires when an account's score drops by at least so many points within a few snapshots, "
               "or when it enters a band. Trends lists the alerts that fired.")
    d = Draft()
    for alert in draft.alerts:
        with st.container(border=True):
            _alert_fields(alert, lambda f, a=alert: d.key("alert", a.name, f), _alert_changed, (alert,))
            st.button("Remove", key=key("remove_alert", alert.name), icon=":material/delete:", on_click=edit,
                      args=(("alert", alert.name), tuning.remove_alert, alert.name))
            show_problems("alert", alert.name)
    with st.container(border=True):
        st.markdown("**Add an alert**")
        _alert_fields(NEW_ALERT, lambda f: key("new_alert", f))
        st.button("Add alert", key=key("new_alert", "add"), icon=":material/add_alert:", type="primary",
                  on_click=_add_alert)
        show_problems("new_alert")


# -- grades ------------------------------------------------------------------------------------------------


def _grades(ctx: ui.Context, td: tuning.TuneData, draft: Model) -> None:
    d = Draft()
    st.toggle("Letter grades", value=draft.grades is not None, key=d.key("grades_on"), on_change=edit_value,
              args=(("grades_on",), tuning.set_grades),
              help=f"Turned on: {', '.join(f'{g} from {v}' for g, v in tuning.DEFAULT_GRADES.items())}; below is F")
    show_problems("grades_on")
    if draft.grades is None:
        st.caption("Without grades, accounts have a score and a band only.")
        return
    st.caption(f"A score at or above a letter's minimum earns it (highest first); below "
               f"{ui.md(list(draft.grades)[-1])} is F.")
    for col, (grade, cutoff) in zip(st.columns(len(draft.grades)), draft.grades.items(), strict=True):
        col.number_input(f"{ui.md(grade)} from", 0.0, 100.0, value=float(cutoff), step=1.0,
                         key=d.key("grades", grade), on_change=edit_value,
                         args=(("grades", grade), tuning.edit_draft, ("grades", grade)))
    show_problems("grades")
    for grade in draft.grades:
        show_problems("grades", grade)


# -- expansion ---------------------------------------------------------------------------------------------


def _expansion_on(ctx: ui.Context) -> None:
    columns = st.session_state.get(key("expansion", "columns"), [])
    if edit(("expansion_on",), tuning.expansion_on, {c: ctx.data().df[c] for c in columns}):
        _clear({("expansion", "columns"): []})


def _expansion(ctx: ui.Context, td: tuning.TuneData, draft: Model) -> None:
    st.caption("An optional second score for advocacy and upsell, next to health: scored by the same engine "
               "and used by the expansion worklist.")
    exp = draft.expansion
    if exp is None:
        pick, on = st.columns([2.4, 1], vertical_alignment="bottom")
        pick.multiselect("Its metrics", tuning.metric_candidates(draft, ctx.data().df.columns, expansion=True),
                         key=key("expansion", "columns"), placeholder="Pick columns")
        on.button("Turn on", key=key("expansion_on"), icon=":material/trending_up:", type="primary",
                  on_click=_expansion_on, args=(ctx,), disabled=not st.session_state.get(key("expansion", "columns")))
        show_problems("expansion_on")
        return
    st.button("Turn the expansion score off", key=key("expansion_off"), icon=":material/block:", on_click=edit,
              args=(("expansion_off",), tuning.expansion_off))
    st.markdown("**Weights**")
    weight_sliders(exp, DEFAULT_PROFILE, root=("expansion",))
    st.markdown("**Thresholds**")
    metric = pick_metric(exp, "pick_expansion_metric")
    st.button(f"Remove {ui.md(exp.metrics[metric].label)} from the expansion score",
              key=key("remove_expansion_metric", metric), icon=":material/delete:", disabled=len(exp.metrics) == 1,
              on_click=edit, args=(("remove_expansion_metric",), tuning.remove_metric, metric), kwargs={
                  "expansion": True})
    show_problems("remove_expansion_metric")
    metric_panel(ctx, td, exp, metric, DEFAULT_PROFILE, root=("expansion",))
    _add_metric_form(ctx, td, exp, expansion=True)
