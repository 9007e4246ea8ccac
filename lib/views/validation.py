"""Page support for Compare and Validate: live known-health labels, headline figures and display tables.

Thin, pure helpers over :mod:`lib.analysis` results, so the two pages only read state, call lib and draw.
Nothing here imports Streamlit; every function is vectorised pandas and returns small frames or texts.

Labels: a dataset's file labels (``health_label``) and the labels set by hand in the workspace are merged
here on every run (hand labels win), so a label set or cleared on the Compare page shows at once even
though the loaded dataset is cached.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lib import analysis
from lib.charts import money
from lib.data.workspace import Workspace, WorkspaceError
from lib.engine.model import Model, check_columns, dump_model, parse_model
from lib.views.portfolio import at_date, style_bands

if TYPE_CHECKING:  # pandas imports its Styler (and jinja2) lazily; only the annotation needs it here
    from pandas.io.formats.style import Styler

LABELS = analysis.LABELS  # ('healthy', 'struggling')
CLEAR = "clear"
LABEL_ACTIONS = (*LABELS, CLEAR)
HORIZONS = (0, 30, 60, 90, 120, 180, 270, 365)  # days before the outcome, offered on the Validate page
TOP_ROWS = 200  # account tables show this many rows at most: band-coloured tables cost ~0.3 s per 1,000 rows
_NA = "–"
Version = tuple[str, int]  # (model name, version number)


@dataclass(frozen=True)
class Stat:
    """One headline figure for ``st.metric``: label, value text, optional delta text and help."""

    label: str
    value: str
    delta: str | None = None
    help: str | None = None


def _auc(x: float) -> str:
    return _NA if x is None or np.isnan(x) else f"{x:.2f}"


def _pct(x: float) -> str:
    return _NA if x is None or np.isnan(x) else f"{x:.1%}"


def filters_key(filters: Mapping[str, Sequence[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Active segment filters as a hashable, order-free cache key."""
    return tuple(sorted((c, tuple(sorted(map(str, v)))) for c, v in filters.items() if v))


# --- Compare: known-health labels ---------------------------------------------------------------------------


def file_labels(portfolio: pd.DataFrame) -> pd.Series:
    """Each account's known health from the file: its last 'healthy' / 'struggling' ``health_label``.

    Labels are read ignoring case and surrounding spaces; other text counts as no label.

    Returns:
        Series account_id → 'healthy' / 'struggling' (empty when the table has no ``health_label``).
    """
    if "health_label" not in portfolio.columns:
        return pd.Series(dtype=object, name="label")
    lab = portfolio["health_label"].astype("string").str.strip().str.lower()
    keep = lab.isin(LABELS).fillna(False).to_numpy(bool)
    rows = portfolio.loc[keep, ["account_id", "snapshot_date"]].assign(label=lab[keep].to_numpy(object))
    last = rows.sort_values(["account_id", "snapshot_date"], kind="stable").drop_duplicates("account_id", keep="last")
    return pd.Series(last["label"].to_numpy(object), index=last["account_id"].astype(str).to_numpy(), name="label")


def known_labels(from_file: pd.Series, by_hand: pd.DataFrame) -> pd.Series:
    """File labels with the hand-set ones on top (``Workspace.labels(dataset)``: account_id, label, …).

    Returns:
        Series account_id → label, sorted by account_id.
    """
    hand = pd.Series(by_hand["label"].to_numpy(object), index=by_hand["account_id"].astype(str).to_numpy())
    if hand.empty:
        return from_file.sort_index().rename("label")
    return hand.combine_first(from_file).sort_index().rename("label")


def label_choices(choices: pd.Series, labels: pd.Series) -> pd.Series:
    """Account picker texts ('Name · ID') with the account's current known health appended."""
    current = pd.Series(choices.index.map(labels), index=choices.index)
    return choices + np.where(current.notna(), " — " + current.fillna(""), "")


@dataclass(frozen=True, eq=False)
class CompareView:
    """Everything the Compare page shows for the labelled accounts at a date.

    Attributes:
        table: :func:`lib.analysis.labelled_accounts` (one row per labelled account with a snapshot).
        separation: the score's AUC for healthy vs struggling and the counts it rests on.
        metrics: :func:`lib.analysis.metric_separation` (per-metric AUC, best first).
        long: :func:`lib.analysis.label_distributions` (score and metric scores per account).
        misfits: :func:`lib.analysis.misfits` (healthy but red, struggling but green).
    """

    table: pd.DataFrame
    separation: analysis.Separation
    metrics: pd.DataFrame
    long: pd.DataFrame
    misfits: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.table.empty


def compare_view(scored: pd.DataFrame, model: Model, labels: pd.Series, as_of: object = None) -> CompareView:
    """Calibrate ``model``'s scores on accounts with known health.

    Args:
        scored: the scored portfolio (read-only; only the labelled accounts' rows are copied).
        model: the model that scored it.
        labels: account_id → 'healthy' / 'struggling' (:func:`known_labels`); the scored table's own
            ``health_label`` is ignored, since it may hold hand labels baked in when the data was loaded.
        as_of: compare each account at its latest snapshot on or before this date.
    """
    rows = scored.loc[scored["account_id"].isin(labels.index)]
    rows = rows.drop(columns=["health_label"], errors="ignore")
    table = analysis.labelled_accounts(rows, labels, as_of=as_of)
    sep = analysis.separation(table["score"], table["label"])
    if table.empty:
        return CompareView(table, sep, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    return CompareView(table, sep, analysis.metric_separation(table, model), analysis.label_distributions(table, model),
                       analysis.misfits(table, model))


def compare_stats(view: CompareView) -> list[Stat]:
    """Headline figures: the score's AUC, the label counts it rests on, and the misfits."""
    sep = view.separation
    kinds = view.misfits["kind"].value_counts() if not view.misfits.empty else pd.Series(dtype=int)
    return [
        Stat("Healthy vs struggling (AUC)", _auc(sep.auc), help=sep.caption),
        Stat("Healthy accounts", f"{sep.n_healthy:,}", help="Labelled healthy, with a score at this date"),
        Stat("Struggling accounts", f"{sep.n_struggling:,}", help="Labelled struggling, with a score at this date"),
        Stat("Healthy but red", f"{kinds.get('healthy but red', 0):,}"),
        Stat("Struggling but green", f"{kinds.get('struggling but green', 0):,}"),
    ]


def set_labels(workspace: Workspace, dataset: str, account_ids: Sequence[str], action: str, set_by: str = "") -> str:
    """Label accounts 'healthy' / 'struggling', or 'clear' their hand-set label (the file's applies again).

    Returns:
        What was done, e.g. "3 accounts labelled struggling." (for a toast).

    Raises:
        WorkspaceError: an action other than :data:`LABEL_ACTIONS` or an unknown dataset.
    """
    if action not in LABEL_ACTIONS:
        raise WorkspaceError(f"label action '{action}': use one of {', '.join(LABEL_ACTIONS)}")
    for account_id in account_ids:  # a handful of accounts picked by hand, one small transaction each
        workspace.set_label(dataset, str(account_id), None if action == CLEAR else action, set_by.strip())
    n = len(account_ids)
    noun = "account" if n == 1 else "accounts"
    return f"{n} {noun}: hand-set label cleared." if action == CLEAR else f"{n} {noun} labelled {action}."


def metric_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """:func:`lib.analysis.metric_separation` for display: metric, AUC, the counts it rests on, verdict."""
    columns = {"metric_label": "Metric", "auc": "AUC", "n_healthy": "Healthy", "n_struggling": "Struggling",
               "verdict": "Verdict"}
    if metrics.empty:
        return pd.DataFrame(columns=list(columns.values()))
    return metrics[list(columns)].rename(columns=columns).reset_index(drop=True)


def metric_scores_by_label(view: CompareView, metric: str) -> pd.DataFrame:
    """One metric's 0–100 scores per labelled account (``label, score``) for a distribution chart."""
    if view.long.empty:
        return pd.DataFrame(columns=["label", "score"])
    return view.long.loc[view.long["measure"] == metric, ["account_id", "label", "score"]].reset_index(drop=True)


MISFIT_KINDS = ("healthy but red", "struggling but green")


def misfit_table(misfits: pd.DataFrame, kind: str) -> pd.DataFrame:
    """One kind of misfit (:data:`MISFIT_KINDS`) for display: band capitalised so ``lib.views.portfolio.style_bands``
    colours it, ids kept for the click-through, the most surprising first."""
    columns = {"account_name": "Account", "account_id": "ID", "band": "Band", "score": "Score",
               "reasons": "What put it there"}
    if misfits.empty:
        return pd.DataFrame(columns=list(columns.values()))
    rows = misfits.loc[misfits["kind"] == kind]
    out = rows.assign(band=rows["band"].astype(str).str.capitalize())
    return out[list(columns)].rename(columns=columns).reset_index(drop=True)


def hand_label_table(by_hand: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """Labels set in the app (``Workspace.labels``) with account names (``names``: account_id → text)."""
    out = pd.DataFrame({
        "Account": by_hand["account_id"].astype(str).map(names).fillna(by_hand["account_id"]).to_numpy(),
        "Label": by_hand["label"].astype(str).str.capitalize().to_numpy(),
        "Set by": by_hand["set_by"].fillna("").to_numpy(),
        "Set at": pd.to_datetime(by_hand["set_at"]).to_numpy(),
    })
    return out.sort_values("Set at", ascending=False, kind="stable").reset_index(drop=True)


# --- Validate: backtest and cohorts ---------------------------------------------------------------------------


def backtest_stats(bt: analysis.Backtest) -> list[Stat]:
    """Headline figures of a backtest: AUC with its interval, the outcomes it rests on, red and green churn."""
    rate = bt.bands.set_index("band")["churn_rate"]
    interval = _NA if np.isnan(bt.auc_low) else f"{bt.auc_low:.2f}–{bt.auc_high:.2f}"
    return [
        Stat("Backtest AUC", _auc(bt.auc), help="Probability that a renewed account scored higher than a churned "
             "one, when scored the horizon before its outcome (0.5 = chance)."),
        Stat("95% interval", interval, help="Bootstrap interval of the AUC: how much it could move with other "
             "accounts like these."),
        Stat("Outcomes", f"{bt.n_accounts:,}", help=f"{bt.n_churned:,} churned · {bt.n_renewed:,} renewed"),
        Stat("Red churned", _pct(rate.get("red", np.nan)),
             help=f"Churn rate of accounts red at the scored snapshot (all accounts: {_pct(bt.churn_rate)})"),
        Stat("Green churned", _pct(rate.get("green", np.nan)),
             help=f"Churn rate of accounts green at the scored snapshot (all accounts: {_pct(bt.churn_rate)})"),
    ]


def band_table(bands: pd.DataFrame) -> pd.DataFrame:
    """``Backtest.bands`` for display (ARR columns dropped when the data has no ARR)."""
    out = bands.assign(band=bands["band"].astype(str).str.capitalize()).rename(columns={
        "band": "Band", "accounts": "Accounts", "churned": "Churned", "renewed": "Renewed",
        "churn_rate": "Churn rate", "arr": "ARR", "churned_arr": "Churned ARR"})
    return out.dropna(axis=1, how="all").reset_index(drop=True)


def style_band_table(table: pd.DataFrame, colors: Mapping[str, str]) -> Styler:
    """:func:`band_table` with band-coloured cells and ARR as short money ('$24.5M')."""
    money_columns = {c: money for c in ("ARR", "Churned ARR") if c in table.columns}
    return style_bands(table, colors).format(money_columns, na_rep="–")


def cohort(bt: analysis.Backtest, metric: str, basis: str = "value", bins: int = 10) -> pd.DataFrame:
    """Churn rate by bin of one metric at the backtest snapshots (``basis`` 'value' = raw, 'score' = 0–100).

    Returns:
        :func:`lib.analysis.churn_by_bins` of the metric (empty when the column is absent).
    """
    column = f"{metric}_{basis}"
    if column not in bt.accounts.columns:
        return pd.DataFrame(columns=["bin", "label", "lo", "hi", "accounts", "churned", "churn_rate", "lift"])
    return analysis.churn_by_bins(bt.accounts[column], bt.accounts["churned"], bins=bins)


# --- Validate: suggestion -------------------------------------------------------------------------------------


def suggestion_stats(s: analysis.Suggestion) -> list[Stat]:
    """Held-back AUC of the current and the suggested model, and what it rests on."""
    delta = s.suggested_auc - s.base_auc
    return [
        Stat("Held-back AUC — current", _auc(s.base_auc), help=f"{s.base.name} on the held-back accounts"),
        Stat("Held-back AUC — suggested", _auc(s.suggested_auc),
             None if np.isnan(delta) or abs(delta) < 5e-4 else f"{delta:+.3f}"),
        Stat("Held-back accounts", f"{len(s.test_accounts):,}",
             help=f"{s.n_test_churned:,} churned; the fit used the other {len(s.train_accounts):,} accounts only"),
        Stat("Suggested change", s.chosen.capitalize()),
    ]


def suggestion_table(s: analysis.Suggestion) -> pd.DataFrame:
    """Per metric, changed ones first: effective weight (%) and scoring now and suggested, and why."""
    t = s.thresholds.set_index("metric")
    w = s.weights.set_index("metric").reindex(t.index)
    changed = t["changed"].to_numpy(bool) | (w["new_weight"].round(1) != w["old_weight"].round(1)).to_numpy()
    out = pd.DataFrame({
        "Metric": t["metric_label"].to_numpy(),
        "Changed": changed,
        "Weight now": w["old_weight"].to_numpy(float),
        "Weight suggested": w["new_weight"].to_numpy(float),
        "Scoring now": t["old"].to_numpy(),
        "Scoring suggested": t["new"].to_numpy(),
        "What the outcomes say": t["reason"].to_numpy(),
    })
    return out.sort_values("Changed", ascending=False, kind="stable").reset_index(drop=True)


def suggestion_weights(s: analysis.Suggestion) -> dict[str, dict[str, float]]:
    """Effective weights (%) now and suggested, metric → weight, for a grouped weights chart."""
    w = s.weights.set_index("metric")
    return {"Now": w["old_weight"].to_dict(), "Suggested": w["new_weight"].to_dict()}


_SETTING_NAMES = {"bands.red": "Red band: scores up to", "bands.yellow": "Yellow band: scores up to",
                  "missing": "Missing values"}


def setting_changes(s: analysis.Suggestion) -> pd.DataFrame:
    """Model-wide settings the suggestion changes (band cut-offs, …) beyond each metric's scoring and weight."""
    rows = [(_SETTING_NAMES.get(c.key, c.key), c.old, c.new) for c in s.changes
            if c.key != "name" and not c.key.startswith(("metrics.", "groups."))]
    return pd.DataFrame(rows, columns=["Setting", "Now", "Suggested"]).astype({"Now": str, "Suggested": str})


def candidates_table(s: analysis.Suggestion) -> pd.DataFrame:
    """Every candidate tried, with its training and held-back AUC."""
    c = s.candidates
    return pd.DataFrame({"Candidate": c["candidate"].str.capitalize(), "Training AUC": c["train_auc"],
                         "Held-back AUC": c["test_auc"], "Chosen": c["chosen"]})


def adopted_yaml(s: analysis.Suggestion, name: str) -> str:
    """The suggested model as YAML, named like the model it becomes a version of."""
    return dump_model(dataclasses.replace(s.model, name=name))


def adopt_note(s: analysis.Suggestion, horizon_days: int) -> str:
    """A default version note: where the suggestion came from and its held-back evidence."""
    return (f"Suggested from outcomes {horizon_days} days ahead ({s.chosen}): held-back AUC {_auc(s.suggested_auc)} "
            f"vs {_auc(s.base_auc)}")


# --- Validate: churn probability ------------------------------------------------------------------------------


def odds_table(churn: analysis.ChurnModel) -> pd.DataFrame:
    """The churn model's odds ratios per metric (strongest first) with a sentence each."""
    c = churn.coefficients
    return pd.DataFrame({"Metric": c["metric_label"], "Odds ratio per +10 points": c["odds_ratio"],
                         "What it means": c["meaning"]})


def churn_table(scored: pd.DataFrame, as_of: object, churn: analysis.ChurnModel, top: int = TOP_ROWS
                ) -> pd.DataFrame:
    """The ``top`` accounts at ``as_of`` most likely to churn, with score, band and churn probability; ids kept."""
    rows = at_date(scored, pd.Timestamp(as_of))
    p = churn.predict(rows) if len(rows) else pd.Series(dtype=float)
    out = pd.DataFrame({
        "Account": rows["account_name"].to_numpy(), "ID": rows["account_id"].to_numpy(),
        "Score": rows["score"].to_numpy(float), "Band": rows["band"].astype(str).str.capitalize().to_numpy(),
        "Churn probability": p.to_numpy(float),
    })
    return out.sort_values("Churn probability", ascending=False, kind="stable").head(top).reset_index(drop=True)


# --- Validate: model A vs B -----------------------------------------------------------------------------------


def fit_problems(models: Mapping[str, str], columns: Iterable[str]) -> list[str]:
    """Why each model YAML (side name → text) cannot score a dataset with ``columns``; empty when all fit."""
    columns = list(columns)
    out = []
    for side, text in models.items():  # two models, A and B
        model = parse_model(text, source=f"model {side}")
        out += [f"Model {side} ({model.name}): {p}" for p in check_columns(model, columns)]
    return out


def version_options(models: pd.DataFrame) -> list[Version]:
    """Every saved (model name, version) from ``Workspace.list_models()``, newest version of each name first."""
    return list(zip(models["name"].astype(str), models["version"].astype(int), strict=True))


def version_label(option: Version, notes: Mapping[Version, str] | None = None) -> str:
    """'Default v2 · note (first 40 characters)'."""
    note = (notes or {}).get(option) or ""
    return f"{option[0]} v{option[1]}" + (f" · {note[:40]}" if note else "")


def version_notes(models: pd.DataFrame) -> dict[Version, str]:
    """(name, version) → note, from ``Workspace.list_models()``."""
    return dict(zip(version_options(models), models["note"].fillna("").astype(str), strict=True))


def default_pair(options: Sequence[Version], current: Version) -> tuple[Version, Version]:
    """What to compare first: the selected version and its nearest other version of the same model (the previous
    one, else the next), older as A and newer as B, so the flips read "what the newer version changes"; with no
    other version of the model, the selected one (A) against the newest version of another model (B), else itself.
    """
    same = sorted(v for n, v in options if n == current[0] and v != current[1])
    if same:
        older = [v for v in same if v < current[1]]
        other = (current[0], older[-1] if older else same[0])
        return (other, current) if other[1] < current[1] else (current, other)
    others = [o for o in options if o[0] != current[0]]
    return current, (others or [current])[0]


def comparison_stats(cmp: analysis.ModelComparison) -> list[Stat]:
    """Accounts that change band (with the share and ARR in the help) and each model's backtest AUC."""
    a = cmp.backtest_a.auc if cmp.backtest_a is not None else np.nan
    b = cmp.backtest_b.auc if cmp.backtest_b is not None else np.nan
    delta = b - a
    outcomes = cmp.backtest_a.n_accounts if cmp.backtest_a is not None else 0
    return [
        Stat("Accounts that change band", f"{cmp.flips.n_moved:,}", help=cmp.flips.caption),
        Stat("Backtest AUC — A", _auc(a), help=f"On {outcomes:,} accounts with outcomes" if outcomes
             else "No outcomes to backtest on"),
        Stat("Backtest AUC — B", _auc(b), None if np.isnan(delta) or abs(delta) < 5e-4 else f"{delta:+.3f}"),
    ]


def moved_table(moved: pd.DataFrame, top: int = TOP_ROWS) -> pd.DataFrame:
    """The ``top`` accounts whose band changed from A to B (biggest score change first, as ``moved`` comes), with
    the contributions that moved."""
    moved = moved.head(top)
    return pd.DataFrame({
        "Account": moved["account_name"].to_numpy(), "ID": moved["account_id"].astype(str).to_numpy(),
        "ARR": pd.to_numeric(moved["arr"], errors="coerce").to_numpy(float),
        "Band A": moved["band_a"].astype(str).str.capitalize().to_numpy(),
        "Band B": moved["band_b"].astype(str).str.capitalize().to_numpy(),
        "Score A": moved["score_a"].to_numpy(float), "Score B": moved["score_b"].to_numpy(float),
        "Change": moved["change"].to_numpy(float), "Why": moved["why"].to_numpy(),
    })
