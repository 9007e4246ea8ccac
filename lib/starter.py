"""Start a model from a dataset's own columns: which columns could be KPIs, and a first model built from them.

A leader's export has its own names and scales, so nothing here knows the sample. For every column a model
could score (the file's metrics, its segments as categories, ARR by the file's own name) :func:`candidates`
reports coverage, a small distribution, why it cannot be used where it cannot (one value, all blank, free
text, an identifier) and — where the data has outcomes or known-health labels — how well it separates them
(AUC with the counts it rests on). From that it proposes a direction (from the evidence, else from the name:
tickets, days late, churn risk → lower is better) and a starting rule; :func:`preselect` picks 3–5 KPIs and
:func:`build_model` turns the user's pick into a model: numeric → linear between the 10th and 90th percentile
(or percentile among peers), categorical → points guessed from the words (red/amber/green, low/medium/high,
yes/no …; the rest left unmapped and listed), equal weights, bands 40/70. :func:`fill_from_outcomes` then
fits thresholds and weights on the outcomes with :func:`lib.analysis.suggest_model` (held-back AUC shown).

Everything is computed per column over whole arrays (no row loops); a million-row dataset takes about a
second, so the app computes it once per dataset revision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from lib.analysis import AnalysisError, Suggestion, roc_auc, suggest_model
from lib.ingest import Roles
from lib.model import Model, model_from_dict, model_to_dict, normalise_category
from lib.tuning import BAD_WORDS, GOOD_WORDS, MAX_CATEGORIES, MIDDLE_WORDS, default_spec

# Columns that are never KPIs: keys, names, dates, and what a model is checked against (outcome, labels).
NOT_METRICS = frozenset({"account_id", "account_name", "snapshot_date", "renewal_date", "churned", "health_label"})
# Words in a column's name that mean a higher value is worse.
LOWER_IS_BETTER = re.compile(
    r"ticket|case|incident|bug|defect|escalat|complain|late|overdue|delinquen|churn|risk|detractor|outage|"
    r"downtime|error|fail|response|resolution|wait|backlog|days? since|since last|unpaid|arrears|debt|"
    r"cancel|downgrade|lapse|idle|inactiv", re.IGNORECASE)
ID_NAME = re.compile(r"(^|[^a-z])(id|ids|no|num|number|code|key|uuid|guid|ref)([^a-z]|$)|#", re.IGNORECASE)
MIN_EVIDENCE = 10  # fewer positives or negatives than this and an AUC says nothing
MIN_SEPARATION = 0.03  # |AUC − 0.5| below this is no evidence of a direction
HIST_BINS = 16
DEFAULT_BANDS = {"red": 40, "yellow": 70}


@dataclass(frozen=True)
class Evidence:
    """What tells good accounts from bad in this dataset, one value per account (True = the good side)."""

    kind: str  # 'outcome' (renewed vs churned) or 'labels' (healthy vs struggling)
    good: pd.Series  # account_id → bool
    caption: str  # "1,204 renewed vs 312 churned accounts (each at its latest snapshot)"

    @property
    def counts(self) -> tuple[int, int]:
        """(good, bad) accounts."""
        return int(self.good.sum()), int((~self.good).sum())


@dataclass(frozen=True)
class Candidate:
    """One column a model could score, as the Start-a-model screen lists it."""

    column: str
    kind: str  # 'numeric' or 'categorical'
    source: str  # how the file's mapping knows it: 'metric', 'segment' or 'ARR'
    coverage: float  # share of rows with a value, 0–1
    distinct: int
    histogram: tuple[int, ...]  # counts per bin (numeric) or per category, most frequent first
    summary: str  # "median 4.2 · 10–90%: 1.1–9.8" or "Green 45% · Amber 35% · Red 20%"
    problem: str | None  # why it cannot be a metric, or None
    auc: float | None  # how well it separates the evidence (≥ 0.5 after the direction is applied)
    counts: tuple[int, int]  # accounts with a value on the good and the bad side the AUC rests on
    higher_is_better: bool
    direction_reason: str
    unmapped: tuple[str, ...] = field(default=())  # categories the starting map leaves out (they score missing)

    @property
    def usable(self) -> bool:
        return self.problem is None


def evidence(df: pd.DataFrame, labels: pd.Series | None = None) -> Evidence | None:
    """The outcome (renewed = good) where at least MIN_EVIDENCE accounts sit on each side, else the known-health
    labels (healthy = good; ``labels``: account_id → 'healthy' / 'struggling'), else None."""
    if "churned" in df.columns:
        last = df.loc[df["churned"].notna(), ["account_id", "snapshot_date", "churned"]]
        last = last.sort_values("snapshot_date", kind="stable").drop_duplicates("account_id", keep="last")
        good = ~last.set_index("account_id")["churned"].astype(bool)
        n_good, n_bad = int(good.sum()), int((~good).sum())
        if min(n_good, n_bad) >= MIN_EVIDENCE:
            return Evidence("outcome", good, f"{n_good:,} renewed vs {n_bad:,} churned accounts, each at its latest "
                                             "snapshot")
    if labels is not None and len(labels):
        known = labels[labels.isin(["healthy", "struggling"])]
        good = (known == "healthy").astype(bool)
        n_good, n_bad = int(good.sum()), int((~good).sum())
        if min(n_good, n_bad) >= MIN_EVIDENCE:
            return Evidence("labels", good, f"{n_good:,} healthy vs {n_bad:,} struggling accounts (known-health "
                                            "labels), each at its latest snapshot")
    return None


def metric_columns(df: pd.DataFrame, roles: Roles, source_roles: Roles | None = None) -> dict[str, str]:
    """Every column a model could score → how the file's mapping knows it ('metric', 'segment' or 'ARR').

    ARR is offered by the file's own name (``ARR ($)``) where the table keeps it under that name too, else as
    ``arr``; keys, dates, the outcome and the labels never are.
    """
    arr_name = source_roles.arr if source_roles is not None and source_roles.arr in df.columns else "arr"
    out: dict[str, str] = {}
    for column in df.columns:
        name = str(column)
        if name in NOT_METRICS or (name == "arr" and arr_name != "arr"):
            continue
        out[name] = ("ARR" if name == arr_name else "segment" if name in roles.segments else "metric")
    return out


def name_direction(column: str) -> tuple[bool, str]:
    """(higher is better, why) from a column's name alone."""
    hit = LOWER_IS_BETTER.search(column)
    if hit:
        return False, f"lower is better: the name says '{hit.group(0).strip().lower()}'"
    return True, "higher is better (the name suggests nothing else; flip it if not)"


def _numeric_summary(v: np.ndarray) -> tuple[tuple[int, ...], str]:
    lo, med, hi = np.quantile(v, [0.1, 0.5, 0.9])
    edges = np.linspace(v.min(), v.max(), HIST_BINS + 1) if v.max() > v.min() else np.array([v.min(), v.min() + 1])
    counts, _ = np.histogram(v, bins=edges)
    return tuple(int(c) for c in counts), f"median {med:.3g} · 10–90%: {lo:.3g} to {hi:.3g}"


def category_counts(values: pd.Series, limit: int = MAX_CATEGORIES) -> dict[str, int]:
    """Category → rows, most frequent first (at most ``limit``), matched as the engine matches categories
    (case and surrounding spaces ignored; the most frequent spelling shown). Counts the distinct values
    first, so a million rows cost one ``value_counts``."""
    counts = values.dropna().value_counts()
    if counts.empty:
        return {}
    text = counts.index.astype(str).str.strip(" ")
    keep = text != ""
    table = pd.DataFrame({"text": text[keep], "key": text[keep].str.lower(), "n": counts.to_numpy()[keep]})
    grouped = table.groupby("key", sort=False).agg(text=("text", "first"), n=("n", "sum"))
    top = grouped.sort_values("n", ascending=False, kind="stable").head(limit)
    return dict(zip(top["text"], top["n"].astype(int), strict=True))


def word_points(names: Sequence[str]) -> tuple[dict[str, float], tuple[str, ...]]:
    """Points for category names from their words (green/good/high/yes → 100, amber/medium → 50,
    red/bad/low/no → 0) and the names no word fits (left out of the map, listed for the user)."""
    mapped: dict[str, float] = {}
    unmapped: list[str] = []
    for name in names:
        key = normalise_category(name)
        if key in GOOD_WORDS:
            mapped[name] = 100.0
        elif key in MIDDLE_WORDS:
            mapped[name] = 50.0
        elif key in BAD_WORDS:
            mapped[name] = 0.0
        else:
            unmapped.append(name)
    return mapped, tuple(unmapped)


def _category_scores(values: pd.Series, points: Mapping[str, float]) -> pd.Series:
    lookup = {normalise_category(k): v for k, v in points.items()}
    return values.astype(str).str.strip(" ").str.lower().map(lookup)


def _problem(column: str, s: pd.Series, at_last_date: pd.Series, numeric: bool, distinct: int) -> str | None:
    if s.notna().sum() == 0:
        return "every value is blank — fill the column in your export, or leave it out"
    if distinct == 1:
        return f"every row has the same value ({str(s.dropna().iloc[0])[:30]!r}), so it cannot tell accounts apart"
    if not numeric and distinct > MAX_CATEGORIES:
        return (f"{distinct:,} different texts: free text or an identifier, not a category list — map a numeric "
                "column, or group the values in your export")
    if numeric:
        latest = at_last_date.dropna()
        whole = latest.to_numpy(float)
        unique_per_account = len(latest) > 20 and latest.nunique() >= 0.98 * len(latest)
        if unique_per_account and np.all(whole == np.round(whole)) and ID_NAME.search(column):
            return "looks like an identifier (a different whole number for every account) — map it as ignore"
    return None


def candidates(df: pd.DataFrame, roles: Roles, source_roles: Roles | None = None,
               labels: pd.Series | None = None) -> list[Candidate]:
    """Every column a model could score, with coverage, distribution, problems and separation.

    Args:
        df: the canonical portfolio table (``account_id``, ``snapshot_date``, the file's own columns).
        roles: the table's roles (segments are offered as categorical metrics).
        source_roles: the file's mapping, to offer ARR under the file's own name.
        labels: known health per account ('healthy' / 'struggling'), used when there is no outcome.

    Returns:
        Usable columns first, best separating first (by coverage without evidence), then the unusable ones.
    """
    ev = evidence(df, labels)
    columns = metric_columns(df, roles, source_roles)
    last_date = df["snapshot_date"] == df["snapshot_date"].max()
    # Each account's latest non-missing value of every column at once (groupby's last skips missing values).
    latest_values = (df.sort_values("snapshot_date", kind="stable").groupby("account_id", sort=False)[list(columns)]
                     .last() if ev is not None else None)
    out: list[Candidate] = []
    for column, source in columns.items():
        s = df[column]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        present = s.dropna()
        distinct = int(present.nunique())
        problem = _problem(column, s, s[last_date], numeric, distinct)
        higher, reason = name_direction(column)
        unmapped: tuple[str, ...] = ()
        auc, counts = None, (0, 0)
        if numeric and len(present):
            hist, summary = _numeric_summary(present.to_numpy(float))
        else:
            shares = category_counts(present)
            cats = list(shares)
            hist = tuple(shares.values())
            total = max(sum(hist), 1)
            summary = " · ".join(f"{c} {n / total:.0%}" for c, n in list(shares.items())[:4])
            _, unmapped = word_points(cats)
        if problem is None and latest_values is not None:
            latest = latest_values[column].reindex(ev.good.index)
            scores = latest if numeric else _category_scores(latest, word_points(cats)[0])
            raw = roc_auc(scores, ev.good.to_numpy())
            scored = scores.notna().to_numpy()
            counts = (int(ev.good.to_numpy()[scored].sum()), int((~ev.good.to_numpy()[scored]).sum()))
            if not np.isnan(raw):
                auc = max(raw, 1 - raw)
                if numeric and abs(raw - 0.5) >= MIN_SEPARATION:
                    higher = raw > 0.5
                    side = "renewed" if ev.kind == "outcome" else "healthy"
                    reason = (f"{'higher' if higher else 'lower'} is better: {side} accounts had "
                              f"{'higher' if higher else 'lower'} values (AUC {auc:.2f})")
        if not numeric:
            reason = "categories: each value gets its own points"
        out.append(Candidate(column, "numeric" if numeric else "categorical", source, float(s.notna().mean()),
                             distinct, hist, summary, problem, auc, counts, higher, reason, unmapped))
    order = sorted(range(len(out)), key=lambda i: (not out[i].usable, -(out[i].auc or 0), -out[i].coverage))
    return [out[i] for i in order]


def preselect(cands: Sequence[Candidate], most: int = 5, least: int = 3) -> list[str]:
    """A sensible first pick of 3–5 KPIs: with evidence the best separating usable metrics (those that
    separate at all, at least ``least``); without, the file's metric columns with the best coverage."""
    usable = [c for c in cands if c.usable and c.coverage >= 0.5]
    if any(c.auc is not None for c in usable):
        strong = [c.column for c in usable if c.auc is not None and c.auc - 0.5 >= MIN_SEPARATION]
        rest = [c.column for c in usable if c.column not in strong]
        return (strong + rest)[:max(least, min(most, len(strong)))]
    metrics = [c.column for c in usable if c.source == "metric"]
    others = [c.column for c in usable if c.source != "metric"]
    return (metrics + others)[:max(least, min(most, len(metrics)))]


def _label(column: str) -> str:
    return column if column != "arr" else "ARR"


def build_model(df: pd.DataFrame, cands: Sequence[Candidate], picks: Sequence[str], name: str,
                higher_is_better: Mapping[str, bool] | None = None, peers: Sequence[str] = ()) -> Model:
    """The starting model for the picked columns.

    Args:
        df: the canonical portfolio table.
        cands: :func:`candidates` of the table.
        picks: the columns to score (in order).
        name: the model's name.
        higher_is_better: per column, the user's direction (default: each candidate's proposal).
        peers: segment columns to compare numeric metrics within (percentile among peers) instead of
            fixed thresholds.

    Raises:
        AnalysisError: nothing picked, a pick that is not a usable candidate (with its problem), or a
            categorical pick no value of which can be scored; the message names the column and the fix.
    """
    by_column = {c.column: c for c in cands}
    if not picks:
        raise AnalysisError("pick at least one column to score — 3 to 5 KPIs make a readable score")
    if not name.strip():
        raise AnalysisError("name the model, e.g. 'Renewal health'")
    directions = dict(higher_is_better or {})
    metrics: dict[str, dict[str, object]] = {}
    weight = round(100 / len(picks), 1)
    for column in picks:
        cand = by_column.get(column)
        if cand is None:
            raise AnalysisError(f"column '{column}' cannot be a metric here — pick one of the listed columns")
        if cand.problem is not None:
            raise AnalysisError(f"column '{column}': {cand.problem}")
        higher = directions.get(column, cand.higher_is_better)
        if cand.kind == "numeric" and peers:
            spec: dict[str, object] = {"method": "percentile", "within": list(peers), "lower_is_better": not higher}
        elif cand.kind == "numeric":
            spec = default_spec("linear", df[column])
            if not higher:
                spec = {"method": "linear", "red": spec["green"], "green": spec["red"]}
        else:
            names = list(category_counts(df[column]))
            mapped, _ = word_points(names)
            if not mapped:  # no value says good or bad by its words: every value starts in the middle
                mapped = dict.fromkeys(names, 50.0)
            spec = {"method": "categories", "map": mapped}
        metrics[column] = {"label": _label(column), "weight": weight, "score": spec}
    return model_from_dict({"name": name.strip(), "bands": dict(DEFAULT_BANDS), "missing": "renormalize",
                            "metrics": metrics}, source=name)


def fitted_caption(fit: Suggestion) -> str:
    """What the outcome fit did, in the Start-a-model screen's words (the held-back AUC against the
    data's-spread start)."""
    held = (f"on {len(fit.test_accounts):,} held-back accounts ({fit.n_test_churned:,} churned) it reaches AUC "
            f"{fit.suggested_auc:.2f}, against {fit.base_auc:.2f} for the start from the data's spread")
    if fit.chosen == "unchanged":
        return (f"Fitting on {len(fit.train_accounts):,} training accounts did not beat the start from the data's "
                f"spread, so it is kept: {held.replace('it reaches', 'the model reaches')}.")
    return f"Fitted {fit.chosen} on {len(fit.train_accounts):,} training accounts; {held}."


def fill_from_outcomes(df: pd.DataFrame, model: Model, seed: int = 0) -> Suggestion:
    """Thresholds and weights fitted on the outcomes (held-back accounts for a fair AUC), keeping the name.

    Raises:
        AnalysisError: no outcome column, or too few outcomes to fit on (the message says how many).
    """
    if "churned" not in df.columns:
        raise AnalysisError("the dataset has no outcome column (churned / renewed) to fit on — map one on the "
                            "Data page, or start from the data's distributions")
    suggestion = suggest_model(df, model, seed=seed)
    named = model_from_dict({**model_to_dict(suggestion.model), "name": model.name}, source=model.name)
    return replace(suggestion, model=named)
