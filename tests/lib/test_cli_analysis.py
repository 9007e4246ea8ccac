"""`python -m lib.cli backtest` and `suggest`: output, files written, and clean exits on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lib.cli import main
from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio
from lib.engine.model import load_model
from tests.lib.helpers import ROOT


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A 400-account sample portfolio as CSV, the same with the outcome under an undetectable name, a model."""
    folder = tmp_path_factory.mktemp("cli_analysis")
    df = generate_portfolio(n_accounts=400)
    df.to_csv(folder / "book.csv", index=False, date_format="%Y-%m-%d")
    lost = df.drop(columns="churned").assign(lost_customer=df["churned"].map({True: "yes", False: "no"}))
    lost.to_csv(folder / "lost.csv", index=False, date_format="%Y-%m-%d")
    df.drop(columns="churned").to_csv(folder / "no_outcome.csv", index=False, date_format="%Y-%m-%d")
    (folder / "default.yaml").write_text(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def cli(capsys, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_backtest_prints_auc_churn_per_band_and_lift(files, capsys):
    code, out, _ = cli(capsys, "backtest", files / "book.csv", "--model", files / "default.yaml")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("Default: AUC 0.") and "95% interval" in first and "scored 90 days before" in first
    assert "Churn by band" in out and "Lift by score decile" in out
    band_rows = [line.split()[0] for line in out.split("Churn by band")[1].split("Lift")[0].strip().splitlines()[1:]]
    assert band_rows == ["red", "yellow", "green"]


def test_backtest_json_is_machine_readable_from_a_real_process(files):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "lib.cli", "backtest", str(files / "book.csv"), "--model", str(files / "default.yaml"),
         "--json", "--horizon", "60"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=env,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["horizon_days"] == 60 and data["model"] == "Default"
    assert data["auc_interval"][0] <= data["auc"] <= data["auc_interval"][1]
    assert sum(b["accounts"] for b in data["bands"]) == data["accounts"] + data["unscored"]
    assert [d["decile"] for d in data["lift"]] == list(range(1, 11))


def test_backtest_reads_the_outcome_column_named_with_outcome(files, capsys):
    code, _, err = cli(capsys, "backtest", files / "lost.csv", "--model", files / "default.yaml")
    assert code == 2 and "no outcome column 'churned'" in err and "--outcome COLUMN" in err
    code, out, _ = cli(capsys, "backtest", files / "lost.csv", "--model", files / "default.yaml",
                       "--outcome", "lost_customer")
    assert code == 0 and out.startswith("Default: AUC")


def test_backtest_without_any_outcome_exits_2_naming_the_fix(files, capsys):
    code, out, err = cli(capsys, "backtest", files / "no_outcome.csv", "--model", files / "default.yaml")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0  # one clear line
    assert "no_outcome.csv" in err and "churned" in err


def test_backtest_with_an_unknown_outcome_column_names_the_columns(files, capsys):
    code, _, err = cli(capsys, "backtest", files / "book.csv", "--model", files / "default.yaml",
                       "--outcome", "renewed")
    assert code == 2 and "--outcome 'renewed' is not a column" in err and "account_id" in err


def test_backtest_with_a_horizon_longer_than_the_history_exits_2(files, capsys):
    code, _, err = cli(capsys, "backtest", files / "book.csv", "--model", files / "default.yaml",
                       "--horizon", "2000")
    assert code == 2 and "shorter horizon" in err


def test_suggest_writes_a_model_that_loads_and_prints_the_diff(files, capsys):
    out_path = files / "suggested.yaml"
    code, out, _ = cli(capsys, "suggest", files / "book.csv", "--model", files / "default.yaml", "--out", out_path)
    assert code == 0
    suggested = load_model(out_path)
    assert suggested.name == "Default (suggested)"
    base = load_model(files / "default.yaml")
    assert set(base.metrics) <= set(suggested.metrics)
    for name in set(suggested.metrics) - set(base.metrics):  # window metrics of the base's columns, kept on merit
        added = suggested.metrics[name]
        assert added.window is not None and added.column in base.metric_columns()
        assert f"  metrics.{name}.window.stat: None → {added.window.stat}" in out
    assert "held-back accounts" in out and f"wrote {out_path}" in out


def test_suggest_with_windows_none_keeps_the_base_metrics(files, capsys):
    out_path = files / "suggested.yaml"
    code, _, _ = cli(capsys, "suggest", files / "book.csv", "--model", files / "default.yaml", "--windows", "none",
                     "--out", out_path)
    assert code == 0
    assert set(load_model(out_path).metrics) == set(load_model(files / "default.yaml").metrics)


@pytest.mark.parametrize("windows", ["1", "3,x", "60"])
def test_suggest_refuses_bad_window_lengths_with_the_fix(files, capsys, windows):
    code, _, err = cli(capsys, "suggest", files / "book.csv", "--windows", windows, "--out", files / "s.yaml")
    assert code == 2 and f"--windows {windows}: window lengths are whole numbers of snapshots from 2 to 52" in err
    assert "e.g. --windows 3,6,12" in err


def test_suggest_without_a_base_model_starts_from_the_file_metrics(files, capsys):
    out_path = files / "from_scratch.yaml"
    code, out, _ = cli(capsys, "suggest", files / "lost.csv", "--outcome", "lost_customer", "--out", out_path)
    assert code == 0, out
    suggested = load_model(out_path)
    assert suggested.name == "lost (suggested)"
    assert {"logins_per_user", "csm_sentiment"} <= set(suggested.metrics)
    assert "lost_customer" not in suggested.metrics


@pytest.mark.parametrize(("out_name", "message"), [
    ("model.txt", "end the name with .yaml"),
    ("missing/model.yaml", "does not exist"),
])
def test_suggest_refuses_an_unusable_out_path_before_any_work(files, capsys, out_name, message):
    code, _, err = cli(capsys, "suggest", files / "book.csv", "--out", files / out_name)
    assert code == 2 and message in err


def test_backtest_with_a_model_column_missing_from_the_data_names_it(files, capsys):
    broken = files / "typo.yaml"
    broken.write_text((files / "default.yaml").read_text().replace("open_tickets:", "open_tikets:", 1))
    code, _, err = cli(capsys, "backtest", files / "book.csv", "--model", broken)
    assert code == 2 and "open_tikets" in err and "open_tickets" in err
