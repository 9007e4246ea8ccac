"""A generator of portfolios whose column names match nothing in the sample: a CRM export as a leader has it.

Every "own data" test starts from one of these, never from the sample: other names (`Acct #`, `As-Of Date`,
`Logins/User`, `ARR ($)`, `CSM Pulse`, `Churned?` …), other scales ("$11,500", "45%", Yes/No, Red/Amber/Green),
ids with leading zeros, and gaps. Churn depends on the metrics (lower logins, more tickets, a red pulse, no
executive sponsor, a falling adoption), so outcome-based suggestions and backtests have a real signal to find.

    python -m tests.foreign OUT.csv [--accounts N] [--snapshots N] [--freq MS|W-MON] [--seed N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ID = "Acct #"
NAME = "Company"
DATE = "As-Of Date"
TIER = "Tier"
TERRITORY = "Territory"
OWNER = "CS Rep"
LIFECYCLE = "Lifecycle"
ARR = "ARR ($)"
SEATS = "Seats Purchased"
ACTIVE = "Active Seats"
LOGINS = "Logins/User"
TICKETS = "Tickets (30d)"
RESPONSE = "Avg Response Hrs"
PULSE = "CSM Pulse"
SPONSOR = "Exec Sponsor?"
QBR = "Days Since QBR"
ADOPTION = "Adoption %"
RENEWAL = "Renewal On"
CHURNED = "Churned?"
STATUS = "Status"
COLUMNS = (ID, NAME, DATE, TIER, TERRITORY, OWNER, LIFECYCLE, ARR, SEATS, ACTIVE, LOGINS, TICKETS, RESPONSE,
           PULSE, SPONSOR, QBR, ADOPTION, RENEWAL, CHURNED, STATUS)
# The numeric and categorical columns a health model could score (by the file's own names).
METRIC_COLUMNS = (LOGINS, TICKETS, RESPONSE, PULSE, SPONSOR, QBR, ADOPTION, ACTIVE)

TIERS = np.array(["Gold", "Silver", "Bronze"], dtype=object)
TERRITORIES = np.array(["North", "South", "East", "West"], dtype=object)
REPS = np.array(["Priya Raman", "Tomás Ortega", "Mei Chen", "Kwame Mensah", "Ines Duarte"], dtype=object)
STAGES = np.array(["Ramp", "Steady", "Renewal Due"], dtype=object)
WORDS = np.array(["Blue", "Iron", "North", "Quartz", "Amber", "Cedar", "Delta", "Nimbus", "Pioneer", "Vertex"],
                 dtype=object)
KINDS = np.array(["Labs", "Freight", "Health", "Foods", "Systems", "Partners", "Studio", "Energy"], dtype=object)


def foreign_portfolio(accounts: int = 3000, snapshots: int = 24, freq: str = "MS", seed: int = 0,
                      end: str = "2026-06-01") -> pd.DataFrame:
    """One row per account per snapshot, every value as text the way a CRM exports it (blanks as '')."""
    rng = np.random.default_rng(seed)
    n, t = accounts, snapshots
    dates = pd.date_range(end=end, periods=t, freq=freq)
    risk = rng.normal(0, 1, n)  # the latent health each account drifts with (higher = worse)
    decline = rng.random(n) < 0.25  # a quarter of the accounts slowly decline
    drift = np.where(decline, rng.uniform(0.03, 0.12, n), rng.normal(0, 0.01, n))
    step = np.arange(t)[None, :]
    latent = risk[:, None] + drift[:, None] * step + rng.normal(0, 0.35, (n, t))

    seats = rng.choice([10, 25, 50, 100, 250, 500], n).astype(float)
    logins = np.clip(9 - 2.2 * latent + rng.normal(0, 1.2, (n, t)), 0, None).round(1)
    tickets = rng.poisson(np.clip(2 + 1.6 * latent, 0.2, None))
    response = np.clip(10 + 4 * latent + rng.normal(0, 3, (n, t)), 0.5, None).round(1)
    pulse = np.where(latent > 1.0, "Red", np.where(latent > -0.2, "Amber", "Green")).astype(object)
    sponsor = np.where(rng.random(n) < 1 / (1 + np.exp(1.2 * risk)), "Yes", "No")
    qbr = np.clip(60 + 45 * latent + rng.normal(0, 30, (n, t)), 0, 400).round()
    adoption = np.clip(55 - 15 * latent + rng.normal(0, 8, (n, t)), 0, 100).round()
    active = np.clip(seats[:, None] * (0.75 - 0.12 * latent + rng.normal(0, 0.08, (n, t))), 0, seats[:, None])

    final = latent[:, -1] + 0.8 * (sponsor == "No")
    churned = rng.random(n) < 1 / (1 + np.exp(-(1.6 * final - 1.6)))
    has_outcome = rng.random(n) < 0.7  # the rest are mid-contract: no outcome yet
    status = np.where(risk > 1.0, "At Risk", np.where(risk < -1.0, "Healthy", ""))

    rows = np.repeat(np.arange(n), t)
    cols = np.tile(np.arange(t), n)
    ids = np.array([f"{37000 + 13 * i:06d}" for i in range(n)], dtype=object)  # leading zeros: '037000'
    names = (WORDS[rng.integers(0, len(WORDS), n)] + " " + KINDS[rng.integers(0, len(KINDS), n)] + " "
             + pd.Series(np.arange(n)).astype(str).to_numpy(object))
    renewal = (dates[-1] + pd.to_timedelta(rng.integers(-300, 400, n), unit="D")).strftime("%Y-%m-%d")
    arr = seats * rng.choice([460.0, 920.0, 1150.0], n)

    def blanks(values: np.ndarray, share: float) -> np.ndarray:
        out = values.astype(object)
        out[rng.random(out.shape) < share] = ""
        return out

    table = pd.DataFrame({
        ID: ids[rows],
        NAME: names[rows],
        DATE: np.asarray(dates.strftime("%Y-%m-%d"), dtype=object)[cols],
        TIER: TIERS[rng.integers(0, 3, n)][rows],
        TERRITORY: TERRITORIES[rng.integers(0, 4, n)][rows],
        OWNER: REPS[rng.integers(0, len(REPS), n)][rows],
        LIFECYCLE: STAGES[np.minimum(cols * len(STAGES) // t, len(STAGES) - 1)],
        ARR: np.array([f"${v:,.0f}" for v in arr], dtype=object)[rows],
        SEATS: seats[rows].astype(int),
        ACTIVE: blanks(active.round().astype(int), 0.02)[rows, cols],
        LOGINS: blanks(logins, 0.04)[rows, cols],
        TICKETS: tickets[rows, cols],
        RESPONSE: blanks(response, 0.10)[rows, cols],
        PULSE: blanks(pulse, 0.05)[rows, cols],
        SPONSOR: sponsor[rows],
        QBR: blanks(qbr.astype(int), 0.03)[rows, cols],
        ADOPTION: np.array([f"{v:.0f}%" for v in adoption.ravel()], dtype=object).reshape(n, t)[rows, cols],
        RENEWAL: np.asarray(renewal, dtype=object)[rows],
        CHURNED: np.where(has_outcome, np.where(churned, "Yes", "No"), "")[rows],
        STATUS: status[rows],
    }, columns=list(COLUMNS))
    return table


def write_foreign_csv(path: str | Path, **kwargs: object) -> Path:
    """Write :func:`foreign_portfolio` as a CSV a CRM would export; returns the path."""
    path = Path(path)
    foreign_portfolio(**kwargs).to_csv(path, index=False)  # type: ignore[arg-type]
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--snapshots", type=int, default=24)
    parser.add_argument("--freq", default="MS")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = write_foreign_csv(args.out, accounts=args.accounts, snapshots=args.snapshots, freq=args.freq,
                             seed=args.seed)
    print(path)


if __name__ == "__main__":
    main()
