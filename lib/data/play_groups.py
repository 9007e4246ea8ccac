"""A play and its groups: the record kept in the workspace and the control group held back at random.

The accounts a play targets were chosen *because* they were at risk, so its effect can only be read against
a control group drawn from the same targets. Assignment is stratified (by band and a segment) with systematic
sampling over a seeded shuffle: in every stratum the control count is its share of the stratum give or take
one account, and the same accounts and seed always give the same groups. Groups are drawn once and stored;
:mod:`lib.analysis.plays` measures treated against control.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

GROUPS = ("treated", "control")
MIN_SHARE, MAX_SHARE, DEFAULT_SHARE = 0.05, 0.5, 0.2


class PlayError(ValueError):
    """A play request that cannot be done as asked; the message names the place and the fix."""


@dataclass(frozen=True)
class Play:
    """A play as stored in the workspace (its accounts and groups are stored beside it)."""

    name: str
    dataset: str
    start_date: pd.Timestamp
    control_share: float = DEFAULT_SHARE
    strata: tuple[str, ...] = ()
    seed: int = 0
    description: str = ""
    owner: str = ""
    source: str = ""  # where the accounts came from: "Worklists: Maya Patel, 14 accounts", a rule's caption …
    play_id: int | None = None


# -- assignment ----------------------------------------------------------------------------------------------
def check_share(share: object, where: str = "control share") -> float:
    """The control share as a fraction from 0.05 to 0.5 (a percentage such as 20 is read as 20%)."""
    try:
        value = float(share)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PlayError(f"{where}: '{share}' is not a number — give a share from 0.05 to 0.5 (5% to 50%)") from None
    if value > 1:
        value /= 100
    if not MIN_SHARE <= value <= MAX_SHARE or not np.isfinite(value):
        raise PlayError(f"{where}: {share} is outside 5%–50% — hold back from 0.05 to 0.5 of the accounts (20% is "
                        "usual: large enough to measure, small enough that most accounts get the play)")
    return value


def examples(values: Sequence[object], n: int = 3, quote: bool = True) -> str:
    """The first ``n`` values for a message ('a', 'b', 'c' and 4 more)."""
    shown = ", ".join(f"'{v}'" if quote else str(v) for v in list(values)[:n])
    return shown + (f" and {len(values) - n} more" if len(values) > n else "")


def check_accounts(accounts: pd.DataFrame, strata: Sequence[str] = (), where: str = "accounts") -> None:
    """Refuse a target list without ``account_id``, with a missing strata column, or with an account twice."""
    if "account_id" not in accounts.columns:
        raise PlayError(f"{where}: no 'account_id' column — the first row must name the columns, one of them "
                        "account_id")
    missing = [s for s in strata if s not in accounts.columns]
    if missing:
        raise PlayError(f"{where}: no column {examples(missing)} to stratify by — columns are "
                        f"{examples(list(accounts.columns), 8)}")
    ids = accounts["account_id"]
    if ids.isna().any():
        rows = (np.flatnonzero(ids.isna().to_numpy()) + 2).tolist()  # +2: the header is row 1
        raise PlayError(f"{where}: row {examples(rows, quote=False)} has no account_id — fill it in or delete the row")
    twice = ids.duplicated(keep=False).to_numpy()
    if twice.any():
        rows = (np.flatnonzero(twice) + 2).tolist()
        raise PlayError(f"{where}: account {examples(pd.unique(ids[twice]).tolist())} appears more than once "
                        f"(rows {examples(rows, 6, quote=False)}) — keep one row per account")
    if len(accounts) < 2:
        raise PlayError(f"{where}: a play needs at least 2 accounts (some get the play, some are held back); "
                        f"got {len(accounts)}")


def stratum_labels(accounts: pd.DataFrame, strata: Sequence[str]) -> pd.Series:
    """Each account's stratum as readable text ('band=red · size=SMB'; 'all accounts' without strata)."""
    if not strata:
        return pd.Series("all accounts", index=accounts.index)
    parts = [s + "=" + accounts[s].astype(object).where(accounts[s].notna(), "(blank)").astype(str) for s in strata]
    label = parts[0]
    for part in parts[1:]:
        label = label + " · " + part
    return label


def assign(accounts: pd.DataFrame, control_share: float = DEFAULT_SHARE, strata: Sequence[str] = (),
           seed: int = 0, where: str = "accounts") -> pd.DataFrame:
    """Hold back a random, stratified control group.

    Accounts are put in id order (so the input's row order does not matter), shuffled with ``seed`` within
    their stratum, and every ``1/share``-th account along that list is control (systematic sampling from a
    random offset): each stratum's control count is its share of the stratum give or take one, and so is
    the total.

    Args:
        accounts: ``account_id`` and the strata columns, one row per account.
        control_share: fraction held back, 0.05–0.5.
        strata: columns to stratify by (band, a segment …).
        seed: the same accounts, strata and seed always give the same groups.
        where: the file or selection, for messages.

    Returns:
        ``account_id, group`` (``treated`` / ``control``) and ``stratum``, sorted by account_id.

    Raises:
        PlayError: a bad share, a missing column, an account twice, or a stratum with a single account.
    """
    share = check_share(control_share)
    check_accounts(accounts, strata, where)
    frame = accounts.assign(account_id=accounts["account_id"].astype(str)).sort_values("account_id",
                                                                                      kind="stable")
    label = stratum_labels(frame, strata)
    sizes = label.map(label.value_counts())
    if strata and (sizes < 2).any():
        lonely = pd.unique(label[sizes < 2]).tolist()
        raise PlayError(f"{where}: stratum {examples(lonely)} has a single account, which cannot be split "
                        f"between the groups — stratify by fewer columns than {', '.join(strata)}, or add accounts")
    if len(frame) * share < 1:
        raise PlayError(f"{where}: {len(frame)} accounts at {share:.0%} hold back less than one account — "
                        "add accounts or raise the control share")
    rng = np.random.default_rng(int(seed))
    order = np.lexsort((rng.random(len(frame)), pd.factorize(label, sort=True)[0]))
    position = np.arange(len(frame)) * share + rng.random()
    control_in_order = np.floor(position + share) > np.floor(position)
    control = np.empty(len(frame), dtype=bool)
    control[order] = control_in_order
    return pd.DataFrame({"account_id": frame["account_id"].to_numpy(),
                         "group": np.where(control, "control", "treated"),
                         "stratum": label.to_numpy()})


def check_assignments(assignments: pd.DataFrame, where: str = "assignments") -> pd.DataFrame:
    """An assignment table (``account_id, group``) checked: one row per account, groups treated/control, both
    groups present. Returns it with text ids and lower-case groups."""
    for column in ("account_id", "group"):
        if column not in assignments.columns:
            raise PlayError(f"{where}: no '{column}' column — an assignment file has the columns account_id,group "
                            "(as `play assign` writes it)")
    check_accounts(assignments[["account_id"]], where=where)
    groups = assignments["group"].astype(str).str.strip().str.lower()
    bad = ~groups.isin(GROUPS)
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 2).tolist()
        raise PlayError(f"{where}: row {examples(rows, quote=False)}, column group: "
                        f"{examples(pd.unique(assignments['group'][bad]).tolist())} is not treated or control")
    absent = [g for g in GROUPS if not (groups == g).any()]
    if absent:
        raise PlayError(f"{where}: no {absent[0]} accounts — a play compares treated with control accounts")
    return pd.DataFrame({"account_id": assignments["account_id"].astype(str).to_numpy(), "group": groups.to_numpy()})


def held_out(plays: pd.DataFrame, assignments: pd.DataFrame) -> pd.Series:
    """account_id → 'held out of play X: do not run it' for accounts in a play's control group (one line per
    play when an account is held out of several)."""
    control = assignments[assignments["group"] == "control"].merge(plays[["play_id", "name"]], on="play_id")
    if control.empty:
        return pd.Series(dtype=object, name="held_out")
    text = "held out of play " + control["name"].astype(str) + ": do not run it"
    return text.groupby(control["account_id"].to_numpy()).agg("; ".join).rename("held_out")
