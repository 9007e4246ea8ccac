"""`play assign` and `play report` on the command line, on a CRM export whose names match nothing in the sample."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_cli import bad, run

from lib.cli import main
from tests.foreign import CHURNED, DATE, ID, LOGINS, TIER, foreign_portfolio

MODEL = f"""
name: Logins only
bands: {{red: 30, yellow: 70}}
metrics:
  "{LOGINS}":
    weight: 1
    score: {{method: linear, red: 0, green: 10}}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plays")
    book = foreign_portfolio(accounts=240, snapshots=6, seed=5)
    book.to_csv(folder / "book.csv", index=False)
    start = sorted(book[DATE].unique())[2]
    accounts = book[book[DATE] == start][[ID, TIER]].rename(columns={ID: "account_id"})
    accounts.to_csv(folder / "accounts.csv", index=False)
    (folder / "model.yaml").write_text(MODEL)
    return folder, start


def cli(capsys, *args: object) -> tuple[int, str, str]:
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_assign_then_report_as_a_scheduler_runs_them(files, capsys):
    folder, start = files
    status, _, err = cli(capsys, "play", "assign", folder / "accounts.csv", "--control", "0.2", "--strata", TIER,
                         "--seed", "7", "--out", folder / "assign.csv")
    assert status == 0 and "treated" in err
    groups = pd.read_csv(folder / "assign.csv", dtype=str)
    assert list(groups.columns) == ["account_id", "group"] and set(groups["group"]) == {"treated", "control"}
    tiers = pd.read_csv(folder / "accounts.csv", dtype=str).merge(groups, on="account_id")
    per = tiers.groupby(TIER)["group"].agg(size="size", control=lambda g: (g == "control").sum())
    assert (abs(per["control"] - 0.2 * per["size"]) <= 1).all()

    # a subprocess, as a scheduler runs it
    result = run("play", "report", folder / "book.csv", "--assignments", folder / "assign.csv", "--start", start,
                 "--outcome", CHURNED, "--model", folder / "model.yaml", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["treated"]["accounts"] + out["control"]["accounts"] == len(groups)
    for group in ("treated", "control"):
        assert {"accounts", "churn_rate", "score_change"} <= set(out[group])
    for key in ("churn_rate_difference", "score_change_difference"):
        d = out[key]
        assert d["ci_low"] <= d["estimate"] <= d["ci_high"]
    assert out["churn_rate_difference"]["estimate"] == pytest.approx(
        out["treated"]["churn_rate"] - out["control"]["churn_rate"], abs=1e-5)


def test_the_same_seed_writes_the_same_groups(files, capsys, tmp_path):
    folder, _ = files
    for name in ("a.csv", "b.csv"):
        assert cli(capsys, "play", "assign", folder / "accounts.csv", "--seed", "3", "--out", tmp_path / name)[0] == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_report_in_words_says_too_early_to_tell(files, capsys, tmp_path):
    folder, start = files
    cli(capsys, "play", "assign", folder / "accounts.csv", "--out", tmp_path / "g.csv")
    status, out, _ = cli(capsys, "play", "report", folder / "book.csv", "--assignments", tmp_path / "g.csv",
                         "--start", start)
    assert status == 0 and "churn rate" in out and "Too early to tell: about" in out


@pytest.mark.parametrize(("edit", "args", "message"), [
    pytest.param(lambda g: pd.concat([g, g.head(1)]), (), "appears more than once (rows 2, ", id="duplicate_account"),
    pytest.param(lambda g: pd.concat([g, pd.DataFrame({"account_id": ["NOPE-1"], "group": ["control"]})]), (),
                 "assign.csv: 1 account(s) are not in", id="unknown_account"),
    pytest.param(None, ("--start", "2031-01-01"), "start date 2031-01-01 is after the last snapshot in",
                 id="late_start"),
])
def test_report_refuses_bad_assignments_and_dates_with_the_place(files, capsys, tmp_path, edit, args, message):
    folder, start = files
    cli(capsys, "play", "assign", folder / "accounts.csv", "--out", tmp_path / "assign.csv")
    if edit is not None:
        edit(pd.read_csv(tmp_path / "assign.csv", dtype=str)).to_csv(tmp_path / "assign.csv", index=False)
    status, _, err = cli(capsys, "play", "report", folder / "book.csv", "--assignments", tmp_path / "assign.csv",
                         "--start", start, *args)
    assert status == 2 and message in err and "Traceback" not in err


def test_assign_refuses_a_share_outside_five_to_fifty_percent_and_a_stratum_of_one(files, capsys, tmp_path):
    folder, _ = files
    status, _, err = cli(capsys, "play", "assign", folder / "accounts.csv", "--control", "0.6", "--out",
                         tmp_path / "x.csv")
    assert status == 2 and "--control: 0.6 is outside 5%–50%" in err
    (tmp_path / "few.csv").write_text("account_id,tier\na,Gold\nb,Gold\nc,Silver\n")
    err = bad(run("play", "assign", tmp_path / "few.csv", "--strata", "tier", "--out", tmp_path / "x.csv"))
    assert "few.csv: stratum 'tier=Silver' has a single account" in err
    assert not (tmp_path / "x.csv").exists()
