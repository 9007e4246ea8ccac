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
from lib.data.ingest import NOT_METRICS, Roles
from lib.engine.methods import BAD_WORDS, GOOD_WORDS, MAX_CATEGORIES, MIDDLE_WORDS, named
from lib.engine.model import Model, category_text, model_from_dict, model_to_dict, normalise_category

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


class _Latest:
    """Each account's latest row with a value, for any column: the table is ordered by account and date once,
    then each column costs one mask and one comparison of neighbours (no groupby, no sort per column)."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.codes, self.accounts = pd.factorize(df["account_id"], sort=False)
        self.order = np.lexsort((df["snapshot_date"].to_numpy(), self.codes))

    def rows(self, present: np.ndarray) -> np.ndarray:
        """Positions of each account's latest row where ``present`` (one per account that has any)."""
        idx = self.order[present[self.order]]
        acc = self.codes[idx]
        return idx[np.r_[acc[1:] != acc[:-1], True]] if len(idx) else idx


def evidence(df: pd.DataFrame, labels: pd.Series | None = None, latest: _Latest | None = None) -> Evidence | None:
    """The outcome (renewed = good) where at least MIN_EVIDENCE accounts sit on each side, else the known-health
    labels (healthy = good; ``labels``: account_id → 'healthy' / 'struggling'), else None."""
    if "churned" in df.columns:
        latest = latest or _Latest(df)
        churned = df["churned"]
        rows = latest.rows(churned.notna().to_numpy())
        good = pd.Series(~churned.to_numpy()[rows].astype(bool), index=latest.accounts[latest.codes[rows]])
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


@dataclass(frozen=True)
class _Categories:
    """A text column as codes into its categories as the engine matches them (case and surrounding spaces
    ignored): ``codes`` per row (-1 missing or blank), ``names`` (most frequent spelling), ``counts``."""

    codes: np.ndarray
    names: list[str]
    counts: np.ndarray

    @classmethod
    def of(cls, values: pd.Series) -> _Categories:
        raw_codes, uniques = pd.factorize(values, sort=False)  # text work happens per distinct value only
        text = pd.Series(uniques, dtype=object).map(category_text)  # the engine's one trim rule
        keys = text.str.lower()
        key_codes, key_uniques = pd.factorize(keys.where(text != ""), sort=False)
        raw_counts = np.bincount(raw_codes[raw_codes >= 0], minlength=len(uniques))
        counts = np.bincount(key_codes[key_codes >= 0], weights=raw_counts[key_codes >= 0],
                             minlength=len(key_uniques)).astype(int)
        # Per category, its most frequent spelling.
        spell = pd.DataFrame({"key": key_codes, "text": text, "n": raw_counts})[key_codes >= 0]
        names = spell.sort_values("n", ascending=False, kind="stable").drop_duplicates("key").set_index("key")["text"]
        by_count = np.argsort(-counts, kind="stable")
        rank = np.empty_like(by_count)
        rank[by_count] = np.arange(len(by_count))
        lookup = np.append(np.where(key_codes >= 0, rank[np.maximum(key_codes, 0)], -1), -1)
        return cls(lookup[raw_codes], [str(names[k]) for k in by_count], counts[by_count])

    def top(self, limit: int = MAX_CATEGORIES) -> dict[str, int]:
        return {n: int(c) for n, c in zip(self.names[:limit], self.counts[:limit], strict=True)}


def category_counts(values: pd.Series, limit: int = MAX_CATEGORIES) -> dict[str, int]:
    """Category → rows, most frequent first (at most ``limit``), matched as the engine matches categories
    (case and surrounding spaces ignored; the most frequent spelling shown)."""
    return _Categories.of(values).top(limit)


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


def _problem(column: str, present: np.ndarray, distinct: int, first: object, numeric: bool,
             at_last_date: np.ndarray) -> str | None:
    if not present.any():
        return "every value is blank — fill the column in your export, or leave it out"
    if distinct == 1:
        return f"every row has the same value ({str(first)[:30]!r}), so it cannot tell accounts apart"
    if not numeric and distinct > MAX_CATEGORIES:
        return (f"{distinct:,} different texts: free text or an identifier, not a category list — map a numeric "
                "column, or group the values in your export")
    if numeric:
        latest = at_last_date[~np.isnan(at_last_date)]
        unique_per_account = len(latest) > 20 and len(np.unique(latest)) >= 0.98 * len(latest)
        if unique_per_account and np.all(latest == np.round(latest)) and ID_NAME.search(column):
            return "looks like an identifier (a different whole number for every account) — map it as ignore"
    return None


@dataclass(frozen=True)
class Survey:
    """What Start a model shows: the candidate columns and the evidence their AUCs rest on."""

    candidates: tuple[Candidate, ...]
    evidence: Evidence | None


def survey(df: pd.DataFrame, roles: Roles, source_roles: Roles | None = None,
           labels: pd.Series | None = None) -> Survey:
    """Every column a model could score, with coverage, distribution, problems and separation.

    Args:
        df: the canonical portfolio table (``account_id``, ``snapshot_date``, the file's own columns).
        roles: the table's roles (segments are offered as categorical metrics).
        source_roles: the file's mapping, to offer ARR under the file's own name.
        labels: known health per account ('healthy' / 'struggling'), used when there is no outcome.

    Returns:
        The candidates — usable columns first, best separating first (by coverage without evidence), then the
        unusable ones — and the evidence.
    """
    latest = _Latest(df)
    ev = evidence(df, labels, latest)
    # Per account code, the good side (1), the bad side (0) or no evidence (NaN).
    good_by_code = (ev.good.astype(float).reindex(latest.accounts).to_numpy() if ev is not None else None)
    last_date = (df["snapshot_date"] == df["snapshot_date"].max()).to_numpy()
    out: list[Candidate] = []
    for column, source in metric_columns(df, roles, source_roles).items():
        s = df[column]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        unmapped: tuple[str, ...] = ()
        if numeric:
            values = s.to_numpy(float)
            present = ~np.isnan(values)
            distinct = len(np.unique(values[present]))
            first = values[present][0] if present.any() else None
            hist, summary = _numeric_summary(values[present]) if present.any() else ((), "no values")
            scores_of = values
        else:
            cats = _Categories.of(s)
            present = cats.codes >= 0
            distinct, first = len(cats.names), (cats.names[0] if cats.names else None)
            shares = cats.top()
            hist = tuple(shares.values())
            total = max(sum(hist), 1)
            summary = " · ".join(f"{c} {n / total:.0%}" for c, n in list(shares.items())[:4])
            points, unmapped = word_points(cats.names)
            scores_of = np.append(np.array([points.get(n, np.nan) for n in cats.names], float), np.nan)[cats.codes]
        problem = _problem(column, present, distinct, first, numeric, values[last_date] if numeric else present)
        higher, reason = name_direction(column) if numeric else (True, "categories: each value gets its own points")
        auc, counts = None, (0, 0)
        if problem is None and good_by_code is not None:
            rows = latest.rows(present)
            good = good_by_code[latest.codes[rows]]
            scores = scores_of[rows]
            keep = ~np.isnan(good) & ~np.isnan(scores)
            raw = roc_auc(scores[keep], good[keep].astype(bool))
            counts = (int(good[keep].sum()), int(keep.sum() - good[keep].sum()))
            if not np.isnan(raw):
                auc = max(raw, 1 - raw)
                if numeric and abs(raw - 0.5) >= MIN_SEPARATION:
                    higher = raw > 0.5
                    side = "renewed" if ev.kind == "outcome" else "healthy"
                    reason = (f"{'higher' if higher else 'lower'} is better: {side} accounts had "
                              f"{'higher' if higher else 'lower'} values (AUC {auc:.2f})")
        out.append(Candidate(column, "numeric" if numeric else "categorical", source, float(present.mean()),
                             distinct, hist, summary, problem, auc, counts, higher, reason, unmapped))
    out.sort(key=lambda c: (not c.usable, -(c.auc or 0), -c.coverage))
    return Survey(tuple(out), ev)


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
        cands: :func:`survey`'s candidates of the table.
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
        if cand.kind == "numeric":  # ranked among peers when there are any, else a line over the data's spread
            spec: dict[str, object] = named("percentile" if peers else "linear").default(df[column], not higher,
                                                                                          list(peers))
        else:
            names = list(category_counts(df[column]))  # a usable pick has at most MAX_CATEGORIES
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
