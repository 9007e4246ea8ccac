"""The sample portfolio: a believable B2B SaaS book of business, generated from a seed.

A hidden health process drives everything a newcomer sees, so the product's analyses find real signal:

* each account has a latent health ``h`` (z-scale): a per-account level, segment and CSM effects and an
  AR(1) walk with occasional shocks (the "steep drops" the alerts should catch);
* usage metrics (logins, feature adoption) follow ``h`` but also ramp up during the first months of an
  account's life (why the model has an Onboarding profile) and dip in December and August (seasonality that
  is *not* ill health);
* support, sentiment, NPS (mostly blank: few customers answer surveys), contact recency and late invoices
  follow ``h`` with their own noise and scales;
* at every contract anniversary the account renews or churns with a probability driven by its recent ``h``;
  a churned account has no snapshots after its renewal date, so backtests on ``churned`` mean something;
* a few dozen current accounts carry a known ``health_label`` consistent with ``h`` (with a couple of
  honest mislabels, as in real CSM judgement).

Everything is vectorised over an accounts × snapshots grid: 10,000 × 104 weekly snapshots take seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lib.data.ingest import Roles
from lib.data.play_groups import DEFAULT_SHARE, Play, PlayError, assign

DEFAULT_END = pd.Timestamp("2026-10-01")
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "data" / "models" / "default.yaml"
SAMPLE_FILENAME = "sample_portfolio.csv"

SIZES = np.array(["SMB", "Mid-Market", "Enterprise"], dtype=object)
SIZE_SHARE = [0.55, 0.30, 0.15]
SIZE_ARR_MEDIAN = np.array([14_000.0, 65_000.0, 240_000.0])
SIZE_HEALTH = np.array([-0.15, 0.0, 0.2])
SIZE_TICKET_RATE = np.array([0.8, 1.8, 3.5])  # bigger customers file more tickets at equal health

REGIONS = np.array(["AMER", "EMEA", "APAC"], dtype=object)
REGION_SHARE = [0.5, 0.32, 0.18]
REGION_HEALTH = np.array([0.05, 0.0, -0.1])

# Four CSMs per region; their effect on health is small but real (something for segment analysis to find).
CSM_NAMES = np.array(
    [
        "Maya Patel", "Jordan Reyes", "Chris Okafor", "Sam Whitfield",  # AMER
        "Lena Fischer", "Tomás Ortega", "Aisha Khan", "Pieter de Vries",  # EMEA
        "Hiro Tanaka", "Priya Nair", "Grace Liu", "Ben Carter",  # APAC
    ],
    dtype=object,
)
CSM_HEALTH = np.array([0.15, 0.0, -0.1, 0.05, 0.1, -0.15, 0.0, 0.05, 0.0, 0.1, -0.05, -0.2])

NAME_PREFIXES = [
    "North", "Blue", "Silver", "Bright", "Iron", "Cedar", "Summit", "Harbor", "Pioneer", "Granite",
    "Crystal", "Evergreen", "Red", "Golden", "Swift", "Clear", "Stone", "Maple", "Falcon", "Atlas",
    "Nova", "Vertex", "Lumen", "Orbit", "Prairie", "Coastal", "Metro", "Alpine", "Sterling", "Keystone",
    "Beacon", "Horizon", "Willow", "Copper", "Aurora", "Quarry", "Riverside", "Oak", "Polar", "Zenith",
]
NAME_CORES = [
    "wind", "peak", "field", "bridge", "gate", "stone", "line", "works", "point", "craft",
    "way", "view", "wave", "path", "light", "bay", "ridge", "forge", "spring", "mark",
]
NAME_SUFFIXES = [
    "Analytics", "Logistics", "Health", "Foods", "Systems", "Partners", "Labs", "Financial", "Energy",
    "Media", "Retail", "Software", "Manufacturing", "Insurance", "Education", "Travel", "Robotics",
    "Biotech", "Holdings", "Studios",
]

METRICS = (
    "logins_per_user", "feature_adoption_pct", "open_tickets", "ticket_sentiment", "nps",
    "days_since_last_contact", "invoice_days_late", "csm_sentiment",
)
STAGES = ("Onboarding", "Adoption", "Mature", "Renewal")
DAYS_PER_MONTH = 365.25 / 12
CONTRACT_MONTHS = 12

# The sample play: executive sponsor calls for the accounts whose CSM rated them red six months before the last
# snapshot, a fifth held back (stratified by size). It lifts the treated accounts' hidden health by 0.4 (z-scale),
# most of it within two months: a small real effect, clear in the score, too small yet to show in churn.
PLAY_NAME = "Executive sponsor calls"
PLAY_MONTHS_BEFORE_END = 6
PLAY_LIFT = 0.4
PLAY_RAMP_MONTHS = 1.5
PLAY_SEED = 15
PLAY_STRATA = ("size",)


def _periods_per_month(dates: pd.DatetimeIndex) -> float:
    """Snapshots per month implied by the date grid (1 for monthly, ~4.3 for weekly)."""
    if len(dates) < 2:
        return 1.0
    step_days = float(np.median(np.diff(dates.values).astype("timedelta64[D]").astype(float)))
    return DAYS_PER_MONTH / max(step_days, 1.0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _account_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Plausible, mostly unique company names such as "Northwind Analytics"."""
    n_pre, n_core, n_suf = len(NAME_PREFIXES), len(NAME_CORES), len(NAME_SUFFIXES)
    combos = n_pre * n_core * n_suf
    pick = rng.choice(combos, size=n, replace=n > combos)
    pre = np.array(NAME_PREFIXES, dtype=object)[pick // (n_core * n_suf)]
    core = np.array(NAME_CORES, dtype=object)[(pick // n_suf) % n_core]
    suf = np.array(NAME_SUFFIXES, dtype=object)[pick % n_suf]
    return pre + core + " " + suf


def _ar1(
    rng: np.random.Generator, shape: tuple[int, int], sd: float, phi_month: float, per_month: float,
    shocks: np.ndarray | None = None,
) -> np.ndarray:
    """AR(1) series along the snapshot axis, one per account, with stationary spread ``sd``.

    Persistence is given per month and converted to the snapshot frequency, so weekly and monthly portfolios
    describe the same process. A loop over snapshot *columns* (at most ~100), each step vectorised over
    all accounts.
    """
    n, n_snapshots = shape
    phi = phi_month ** (1.0 / per_month)
    innovations = rng.normal(0.0, sd * np.sqrt(1.0 - phi**2), shape)
    if shocks is not None:
        innovations += shocks
    out = np.empty(shape)
    out[:, 0] = rng.normal(0.0, sd, n)
    for t in range(1, n_snapshots):
        out[:, t] = phi * out[:, t - 1] + innovations[:, t]
    return out


def _quarterly_nps(rng: np.random.Generator, h: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
    """NPS answers (0–10) from a survey each quarter: about a third of accounts answer, and an answer stands
    until the next survey; everyone else is blank (most cells, as in real NPS data)."""
    n = h.shape[0]
    quarter = (dates.year * 4 + (dates.month - 1) // 3).to_numpy()
    quarter = quarter - quarter.min()
    first_in_quarter = np.unique(quarter, return_index=True)[1]  # the survey goes out at the quarter's start
    n_quarters = len(first_in_quarter)
    answered = rng.random((n, n_quarters)) < 0.35
    answer = np.clip(np.round(7.2 + 1.7 * h[:, first_in_quarter] + rng.normal(0.0, 1.3, (n, n_quarters))), 0, 10)
    return np.where(answered, answer, np.nan)[:, quarter]


def _dates(n_snapshots: int, freq: str, end: str | pd.Timestamp | None) -> pd.DatetimeIndex:
    dates = pd.date_range(end=pd.Timestamp(end) if end is not None else DEFAULT_END, periods=n_snapshots, freq=freq)
    return dates.normalize().astype("datetime64[ns]")


def generate_portfolio(
    n_accounts: int = 2000,
    n_snapshots: int = 24,
    freq: str = "MS",
    seed: int = 7,
    end: str | pd.Timestamp | None = None,
    play: bool = True,
) -> pd.DataFrame:
    """Generate the sample portfolio as a canonical table (one row per account per snapshot).

    Args:
        n_accounts: accounts in the book (some join during the window, some churn and stop reporting).
        n_snapshots: snapshot dates in the window.
        freq: pandas frequency of snapshots ("MS" monthly, "W-MON" weekly, ...).
        seed: the same seed always gives the same table.
        end: last snapshot date (default 2026-10-01, fixed so the output does not depend on today).
        play: run the sample play (:func:`sample_play`): its treated accounts' hidden health rises after its
            start, its control accounts' does not. Rows up to the start are the same either way.

    Returns:
        DataFrame with account_id, account_name, snapshot_date, size, stage, region, csm_owner, arr,
        renewal_date, eight metrics, churned (nullable boolean) and health_label, sorted by account and date.
    """
    if n_accounts < 1 or n_snapshots < 1:
        raise ValueError(f"n_accounts and n_snapshots must be >= 1; got {n_accounts} and {n_snapshots}")
    book = _generate(n_accounts, n_snapshots, freq, seed, end)
    planned = sample_play(book) if play else None
    if planned is None:
        return book
    # The play's targets are read off the book at its start (what a team would see), so the book is drawn
    # again with the same random numbers and the play's lift on the treated accounts' health after the start.
    start, groups = planned[0].start_date, planned[1]
    dates = _dates(n_snapshots, freq, end)
    months = np.clip((dates - start).days.to_numpy() / DAYS_PER_MONTH, 0.0, None)
    ids = np.char.add("ACC-", np.char.zfill(np.arange(1, n_accounts + 1).astype(str), 5))
    treated = np.isin(ids, groups.loc[groups["group"] == "treated", "account_id"].to_numpy(dtype=str))
    lift = np.where(treated[:, None], PLAY_LIFT * (1.0 - np.exp(-months / PLAY_RAMP_MONTHS))[None, :], 0.0)
    return _generate(n_accounts, n_snapshots, freq, seed, end, lift)


def _generate(n_accounts: int, n_snapshots: int, freq: str, seed: int, end: str | pd.Timestamp | None,
              lift: np.ndarray | None = None) -> pd.DataFrame:
    """The book from the hidden health process; ``lift`` (accounts × snapshots) is added to the health."""
    rng = np.random.default_rng(seed)
    n, T = n_accounts, n_snapshots
    dates = _dates(T, freq, end)
    per_month = _periods_per_month(dates)
    first = dates[0]

    # --- accounts -------------------------------------------------------------------------------
    size_i = rng.choice(3, size=n, p=SIZE_SHARE)
    region_i = rng.choice(3, size=n, p=REGION_SHARE)
    csm_i = region_i * 4 + rng.integers(0, 4, n)
    arr0 = SIZE_ARR_MEDIAN[size_i] * np.exp(rng.normal(0.0, 0.45, n))
    # 85% of accounts are already customers when the window opens; the rest sign during it.
    joins_later = rng.random(n) < 0.15
    window_days = float((dates[-1] - first).days) if T > 1 else 0.0
    start_offset_days = np.where(
        joins_later,
        rng.uniform(1.0, max(window_days, 1.0), n),  # days after the first snapshot
        -rng.uniform(0.0, 48 * DAYS_PER_MONTH, n),  # tenure of up to four years at the first snapshot
    )
    start = first + pd.to_timedelta(np.round(start_offset_days), unit="D")

    base = (
        rng.normal(0.0, 0.7, n)
        + SIZE_HEALTH[size_i]
        + REGION_HEALTH[region_i]
        + CSM_HEALTH[csm_i]
    )
    # Latent health: the account's level plus a slow walk with rare negative shocks (a champion leaves, an
    # outage, a reorg) that the "Steep drop" alert should catch.
    shocks = (rng.random((n, T)) < 0.012 / per_month) * rng.uniform(-2.2, -1.2, (n, T))
    h = base[:, None] + _ar1(rng, (n, T), 0.45, 0.9, per_month, shocks)  # (n, T)
    if lift is not None:
        h = h + lift

    # --- grid: tenure, contract anniversaries, churn ----------------------------------------------
    day_of = (dates.values[None, :] - start.values[:, None]).astype("timedelta64[D]").astype(float)
    started = day_of >= 0
    tenure_m = np.where(started, day_of / DAYS_PER_MONTH, -1.0)
    renewals_done = np.where(started, np.floor(tenure_m / CONTRACT_MONTHS), -1.0)
    prev_done = np.concatenate([np.full((n, 1), -1.0), renewals_done[:, :-1]], axis=1)
    # An anniversary fell between the previous snapshot and this one (and the account already existed).
    renewal_event = started & (renewals_done >= 1) & (renewals_done > prev_done) & (prev_done >= 0)

    # Churn risk follows health over the quarter before the renewal (what a backtest should detect).
    k = max(1, round(3 * per_month))
    csum = np.cumsum(np.concatenate([np.zeros((n, 1)), h], axis=1), axis=1)
    lo = np.maximum(np.arange(T) - k, 0)
    recent_h = (csum[:, np.arange(T)] - csum[:, lo]) / np.maximum(np.arange(T) - lo, 1)
    recent_h[:, 0] = h[:, 0]
    p_churn = _sigmoid(-3.5 - 1.5 * recent_h)
    churn_event = renewal_event & (rng.random((n, T)) < p_churn)
    churned_any = churn_event.any(axis=1)
    churn_at = np.where(churned_any, churn_event.argmax(axis=1), T)
    active = started & (np.arange(T)[None, :] < churn_at[:, None])

    # ARR moves at each renewal: healthy accounts expand, weak ones contract.
    arr_step = np.where(renewal_event & active, np.exp(0.12 * h + rng.normal(0.0, 0.05, (n, T))), 1.0)
    arr = np.round(arr0[:, None] * np.cumprod(arr_step, axis=1), -2)

    next_renewal_days = (np.maximum(renewals_done, 0) + 1) * CONTRACT_MONTHS * DAYS_PER_MONTH
    days_to_renewal = next_renewal_days - day_of
    stage_i = np.select(
        [tenure_m < 3, (days_to_renewal <= 60) & (tenure_m >= 9), tenure_m < 12],
        [0, 3, 1],
        default=2,
    )

    # --- metrics ----------------------------------------------------------------------------------
    ramp = 1.0 - np.exp(-np.maximum(tenure_m, 0.0) / 1.8)  # usage builds over the first months
    month = dates.month.values[None, :]
    season = np.where(month == 12, -0.35, np.where(month == 8, -0.2, 0.0))  # holidays, not ill health
    usage = h + season

    def noise(scale: float, sticky: float = 0.9) -> np.ndarray:
        # Mostly persistent (an account's logins are high or low for months), a little month-to-month jitter.
        persistent = _ar1(rng, (n, T), scale * 0.95, sticky, per_month)
        return persistent + rng.normal(0.0, scale * 0.15, (n, T))

    logins = np.round(np.exp(1.55 + 0.45 * usage + noise(0.22)) * (0.12 + 0.88 * ramp), 1)
    adoption = np.round(100 * _sigmoid(0.1 + 0.85 * usage + noise(0.3)) * (0.25 + 0.75 * ramp), 1)
    ticket_rate = SIZE_TICKET_RATE[size_i][:, None] * np.exp(-0.55 * h + noise(0.3)) * (1.6 - 0.6 * ramp)
    tickets = np.floor(ticket_rate + rng.random((n, T)))  # an open backlog, not fresh daily arrivals
    sentiment = np.round(np.tanh(0.2 + 0.6 * h + noise(0.35)), 2)
    sentiment = np.where(tickets > 0, sentiment, np.nan)  # nothing to rate without tickets
    nps = _quarterly_nps(rng, h, dates)
    contact = np.clip(
        np.round(np.exp(2.6 - 0.35 * h - 0.45 * (size_i[:, None] == 2) - 0.3 * season + noise(0.45))),
        0,
        180,
    )
    # Paying late is a habit: a persistent propensity, worse when health is low.
    lateness = -2.0 - 1.0 * h + noise(1.0, sticky=0.8)
    invoice_late = np.where(lateness > 0, np.clip(np.round(12 * lateness + rng.gamma(2.0, 3.0, (n, T))), 1, 120), 0.0)
    # CSMs update their pulse now and then (a QBR, an escalation), not every month: carry it forward.
    pulse = h + noise(0.45, sticky=0.9)
    csm_sent = np.select([pulse < -1.1, pulse < 0.2], ["red", "yellow"], default="green").astype(object)
    updated = rng.random((n, T)) < 0.2 / per_month
    updated[:, 0] = True
    csm_sent = pd.DataFrame(np.where(updated, csm_sent, None)).ffill(axis=1).to_numpy(dtype=object)
    csm_sent[rng.random(n) < 0.03] = np.nan  # a few CSMs never fill it in

    # --- labels -----------------------------------------------------------------------------------
    churned = np.full(n, pd.NA, dtype=object)
    renewed_any = (renewal_event & active).any(axis=1)
    churned[renewed_any] = False
    churned[churned_any] = True  # outcome unknown (NA) for accounts that have not reached a renewal yet

    health_label = np.full(n, np.nan, dtype=object)
    current = active[:, -1]
    recent_level = np.where(current, recent_h[:, -1], np.nan)
    n_each = max(3, min(25, n // 80))
    order = np.argsort(recent_level)  # NaN (not current) sorts last
    n_current = int(current.sum())
    if n_current >= 4 * n_each:
        weak_pool = order[: n_current // 5]
        strong_pool = order[n_current - n_current // 5 : n_current]
        weak = rng.choice(weak_pool, n_each, replace=False)
        strong = rng.choice(strong_pool, n_each, replace=False)
        health_label[weak] = "struggling"
        health_label[strong] = "healthy"
        # Honest mislabels: the CSM's gut disagrees with the data on a couple of accounts.
        health_label[weak[:1]] = "healthy"
        health_label[strong[:1]] = "struggling"

    # --- assemble the long table (only cells where the account is a customer) ---------------------
    rows, cols = np.nonzero(active)
    ids = np.char.add("ACC-", np.char.zfill(np.arange(1, n + 1).astype(str), 5)).astype(object)
    renewal_date = start.values[:, None] + (next_renewal_days.round().astype("timedelta64[D]"))
    df = pd.DataFrame(
        {
            "account_id": ids[rows],
            "account_name": _account_names(rng, n)[rows],
            "snapshot_date": dates.values[cols],
            "size": SIZES[size_i][rows],
            "stage": np.array(STAGES, dtype=object)[stage_i[rows, cols]],
            "region": REGIONS[region_i][rows],
            "csm_owner": CSM_NAMES[csm_i][rows],
            "arr": arr[rows, cols],
            "renewal_date": renewal_date[rows, cols].astype("datetime64[ns]"),
            "logins_per_user": logins[rows, cols],
            "feature_adoption_pct": adoption[rows, cols],
            "open_tickets": tickets[rows, cols],
            "ticket_sentiment": sentiment[rows, cols],
            "nps": nps[rows, cols],
            "days_since_last_contact": contact[rows, cols],
            "invoice_days_late": invoice_late[rows, cols],
            "csm_sentiment": csm_sent[rows, cols],
            "churned": pd.array(churned[rows], dtype="boolean"),
            "health_label": health_label[rows],
        }
    )
    return df.reset_index(drop=True)


def sample_play(book: pd.DataFrame, dataset: str = "Sample portfolio") -> tuple[Play, pd.DataFrame] | None:
    """The sample's play and its groups (``account_id, group, stratum``), read off ``book``: the accounts whose
    CSM sentiment was red at the start, 20% held back by size. None when the book is too short or small for it."""
    dates = np.sort(book["snapshot_date"].unique())
    at = len(dates) - 1 - round(PLAY_MONTHS_BEFORE_END * _periods_per_month(pd.DatetimeIndex(dates)))
    if at < 1:
        return None
    start = pd.Timestamp(dates[at])
    rows = book[book["snapshot_date"] == start]
    targets = rows.loc[rows["csm_sentiment"].eq("red"), ["account_id", *PLAY_STRATA]]
    play = Play(name=PLAY_NAME, dataset=dataset, start_date=start, control_share=DEFAULT_SHARE, strata=PLAY_STRATA,
                seed=PLAY_SEED, owner="VP Customer Success",
                description="A call from one of our executives to the customer's sponsor, for accounts their CSM "
                            "rated red.", source=f"Rule: CSM sentiment red on {start:%Y-%m-%d}")
    try:
        return play, assign(targets, play.control_share, play.strata, play.seed, where="the sample's red accounts")
    except PlayError:
        return None  # a tiny book: too few red accounts to split


def sample_roles() -> Roles:
    """The column roles of :func:`generate_portfolio`'s table (so it can be stored without detection)."""
    return Roles(
        account_id="account_id",
        account_name="account_name",
        snapshot_date="snapshot_date",
        arr="arr",
        renewal_date="renewal_date",
        outcome="churned",
        health_label="health_label",
        segments=("size", "stage", "region", "csm_owner"),
        metrics=METRICS,
    )


def write_sample(out_dir: str | Path) -> dict[str, Path]:
    """Write the sample portfolio (CSV) and the default model (YAML) into ``out_dir``.

    Returns:
        ``{"portfolio": <csv path>, "model": <yaml path>}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    portfolio_path = out / SAMPLE_FILENAME
    model_path = out / "default.yaml"
    generate_portfolio().to_csv(portfolio_path, index=False, date_format="%Y-%m-%d")
    model_path.write_text(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    return {"portfolio": portfolio_path, "model": model_path}
