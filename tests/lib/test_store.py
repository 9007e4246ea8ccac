"""The DuckDB workspace: persistence, transactional saves, appends without duplicates, concurrency (issue 4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd
import pytest

from lib.data.ingest import Roles, load_portfolio
from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio, sample_roles
from lib.data.workspace import SAMPLE_DATASET, SAMPLE_MODEL, Workspace, WorkspaceError
from lib.engine.model import ModelError
from tests.foreign import ARR, foreign_portfolio
from tests.lib.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "ingest"
MODEL_YAML = DEFAULT_MODEL_PATH.read_text(encoding="utf-8")


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    return tmp_path / "workspace.duckdb"


@pytest.fixture
def ws(ws_path: Path):
    workspace = Workspace(ws_path)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return generate_portfolio(n_accounts=40, n_snapshots=4, seed=3)


def test_dataset_round_trip_keeps_rows_and_canonical_dtypes(ws: Workspace, small: pd.DataFrame):
    result = ws.save_dataset("Q3", small, sample_roles(), "q3.csv")
    assert result.added == len(small) and result.replaced == 0
    loaded = ws.load_dataset("Q3")
    pd.testing.assert_frame_equal(loaded.df, small)
    info = loaded.info
    assert (info.n_rows, info.n_accounts, info.n_snapshots) == (len(small), small["account_id"].nunique(), 4)
    assert info.source_filename == "q3.csv" and info.last_date == small["snapshot_date"].max()
    assert loaded.roles == sample_roles()


def test_data_survives_closing_and_reopening(ws_path: Path, small: pd.DataFrame):
    first = Workspace(ws_path)
    first.save_dataset("Q3", small, sample_roles())
    version = first.save_model("Default", MODEL_YAML, "first")
    first.add_note("ACC-00001", "Champion moved teams", "maya")
    first.close()

    reopened = Workspace(ws_path)
    try:
        pd.testing.assert_frame_equal(reopened.load_dataset("Q3").df, small)
        assert reopened.load_model_text("Default", version) == MODEL_YAML
        assert reopened.notes("ACC-00001")["text"].tolist() == ["Champion moved teams"]
    finally:
        reopened.close()


def test_workspace_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, ws_path: Path):
    monkeypatch.setenv("HSS_WORKSPACE", str(ws_path))
    workspace = Workspace()
    try:
        assert workspace.path == ws_path and ws_path.exists()
    finally:
        workspace.close()


def test_saving_under_an_existing_name_is_refused_unless_replacing(ws: Workspace, small: pd.DataFrame):
    ws.save_dataset("Q3", small, sample_roles())
    with pytest.raises(WorkspaceError, match="a dataset named 'Q3' already exists"):
        ws.save_dataset("Q3", small.head(5), sample_roles())
    ws.save_dataset("Q3", small.head(5), sample_roles(), replace=True)
    assert len(ws.load_dataset("Q3").df) == 5
    assert ws.dataset_names() == ["Q3"]


def test_appending_a_new_snapshot_adds_rows(ws: Workspace, small: pd.DataFrame):
    last = small["snapshot_date"].max()
    ws.save_dataset("Book", small[small["snapshot_date"] < last], sample_roles())
    result = ws.append_dataset("Book", small[small["snapshot_date"] == last], sample_roles())
    assert result.replaced == 0 and result.added == int((small["snapshot_date"] == last).sum())
    pd.testing.assert_frame_equal(ws.load_dataset("Book").df, small)


def test_reuploading_the_same_file_does_not_duplicate(ws: Workspace, small: pd.DataFrame):
    ws.save_dataset("Book", small, sample_roles())
    result = ws.append_dataset("Book", small, sample_roles())
    assert (result.added, result.replaced) == (0, len(small))
    assert ws.dataset_info("Book").n_rows == len(small)
    assert "0 new rows" in result.summary()


def test_append_replaces_a_stored_row_with_the_newer_one(ws: Workspace, small: pd.DataFrame):
    ws.save_dataset("Book", small, sample_roles())
    fix = small.head(1).copy()
    fix["logins_per_user"] = 99.0
    ws.append_dataset("Book", fix, sample_roles())
    stored = ws.load_dataset("Book").df
    row = stored[(stored["account_id"] == fix["account_id"].iloc[0])
                 & (stored["snapshot_date"] == fix["snapshot_date"].iloc[0])]
    assert row["logins_per_user"].tolist() == [99.0]
    assert len(stored) == len(small)


def test_append_adds_new_columns_and_refuses_a_type_change(ws: Workspace, small: pd.DataFrame):
    ws.save_dataset("Book", small, sample_roles())
    extra = small.tail(3).copy()
    extra["seats_used"] = [1.0, 2.0, 3.0]
    roles = Roles(account_id="account_id", snapshot_date="snapshot_date", metrics=("seats_used",))
    ws.append_dataset("Book", extra, roles)
    dataset = ws.load_dataset("Book")
    assert dataset.df["seats_used"].notna().sum() == 3
    assert "seats_used" in dataset.roles.metrics and "nps" in dataset.roles.metrics

    clash = small.tail(1).copy()
    clash["nps"] = "high"
    with pytest.raises(WorkspaceError, match="column 'nps' holds float values in 'Book' but str values"):
        ws.append_dataset("Book", clash, sample_roles())
    assert ws.dataset_info("Book").n_rows == len(small)  # the failed append changed nothing


def test_unsafe_names_are_stored_and_shown_verbatim(ws: Workspace):
    portfolio = load_portfolio(FIXTURES / "unsafe_names.csv")
    name = 'x"; DROP TABLE datasets; --'
    ws.save_dataset(name, portfolio)
    loaded = ws.load_dataset(name)
    pd.testing.assert_frame_equal(loaded.df, portfolio.df)
    assert loaded.df["account_name"].iloc[0] == "<img src=x onerror=alert(1)>"
    assert ws.list_datasets()["name"].tolist() == [name]
    assert loaded.info.source_filename == "unsafe_names.csv"


def test_source_roles_keep_the_uploaded_column_names(ws: Workspace):
    portfolio = load_portfolio(FIXTURES / "us_bom.tsv")
    ws.save_dataset("US", portfolio)
    info = ws.dataset_info("US")
    assert info.source_roles.account_id == "Customer ID"
    assert info.roles.account_id == "account_id" and info.roles.outcome == "churned"


def test_arr_under_the_files_own_name_survives_save_append_and_load(ws: Workspace, tmp_path: Path):
    export = foreign_portfolio(accounts=12, snapshots=3)
    dates = sorted(export["As-Of Date"].unique())
    paths = [tmp_path / "first.csv", tmp_path / "latest.csv"]
    export[export["As-Of Date"] < dates[-1]].to_csv(paths[0], index=False)
    export[export["As-Of Date"] == dates[-1]].to_csv(paths[1], index=False)
    first, latest = (load_portfolio(p) for p in paths)
    ws.save_dataset("CRM", first)
    result = ws.append_dataset("CRM", latest)
    assert result.added == len(latest.df) and result.replaced == 0
    df = ws.load_dataset("CRM").df
    assert df[ARR].dtype == "float64" and df[ARR].notna().all()
    assert df[ARR].tolist() == df["arr"].tolist()
    pd.testing.assert_frame_equal(df, pd.concat([first.df, latest.df]).sort_values(["account_id", "snapshot_date"],
                                                                                  ignore_index=True))


def test_delete_dataset_removes_rows_and_labels(ws: Workspace, small: pd.DataFrame):
    ws.save_dataset("Book", small, sample_roles())
    ws.set_label("Book", "ACC-00001", "healthy")
    ws.delete_dataset("Book")
    assert ws.dataset_names() == []
    assert ws.labels("Book").empty
    assert ws.cursor().execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'ds_%'").fetchone()[0] == 0


def test_unknown_dataset_lists_the_known_ones(ws: Workspace, small: pd.DataFrame):
    ws.save_dataset("Book", small, sample_roles())
    with pytest.raises(WorkspaceError, match="no dataset named 'Bok' — pick one of: 'Book'"):
        ws.load_dataset("Bok")


def test_model_versions_count_up_per_name(ws: Workspace):
    assert ws.save_model("Default", MODEL_YAML, "initial") == 1
    tuned = MODEL_YAML.replace("bands: {red: 40", "bands: {red: 35")
    assert ws.save_model("Default", tuned, "lower red cut") == 2
    assert ws.save_model("Draft", MODEL_YAML) == 1
    assert ws.load_model_text("Default") == tuned
    assert ws.load_model_text("Default", 1) == MODEL_YAML
    listing = ws.list_models()
    assert listing[["name", "version"]].values.tolist() == [["Default", 2], ["Default", 1], ["Draft", 1]]
    assert ws.model_names() == ["Default", "Draft"]


def test_invalid_model_yaml_is_not_saved(ws: Workspace):
    with pytest.raises(ModelError):
        ws.save_model("Broken", "name: Broken\nbands: {red: 80, yellow: 20}\nmetrics: {}\n")
    assert ws.model_names() == []


def test_unknown_model_version_lists_the_versions(ws: Workspace):
    ws.save_model("Default", MODEL_YAML)
    with pytest.raises(WorkspaceError, match="model 'Default' has no version 7 — versions: 1"):
        ws.load_model_text("Default", 7)
    with pytest.raises(WorkspaceError, match="no model named 'Nope'"):
        ws.load_model_text("Nope")


def test_hand_set_labels_override_file_labels_on_every_row(ws: Workspace, small: pd.DataFrame):
    ws.save_dataset("Book", small, sample_roles())
    account = small["account_id"].iloc[0]
    ws.set_label("Book", account, "struggling", set_by="maya")
    df = ws.load_dataset("Book").df
    assert df.loc[df["account_id"] == account, "health_label"].unique().tolist() == ["struggling"]
    assert ws.labels("Book")[["account_id", "label", "set_by"]].values.tolist() == [[account, "struggling", "maya"]]
    raw = ws.load_dataset("Book", apply_labels=False).df
    pd.testing.assert_series_equal(raw["health_label"], small["health_label"])

    ws.set_label("Book", account, None)
    assert ws.labels("Book").empty


def test_label_values_are_checked(ws: Workspace, small: pd.DataFrame):
    ws.save_dataset("Book", small, sample_roles())
    with pytest.raises(WorkspaceError, match="label must be 'healthy' or 'struggling'"):
        ws.set_label("Book", "ACC-00001", "meh")


def test_notes_are_plain_text_newest_first(ws: Workspace):
    ws.add_note("A-1", "<script>alert(1)</script>", "sam")
    ws.add_note("A-1", "QBR went well", "sam")
    ws.add_note("A-2", "Other account")
    notes = ws.notes("A-1")
    assert notes["text"].tolist() == ["QBR went well", "<script>alert(1)</script>"]
    assert len(ws.notes()) == 3
    with pytest.raises(WorkspaceError, match="a note needs some text"):
        ws.add_note("A-1", "   ")


def test_active_overrides_respect_expiry_and_newest_wins(ws: Workspace):
    ws.set_override("A-1", 40, "exec sponsor left", "maya", expires_on="2099-01-31")
    ws.set_override("A-1", 55, "new sponsor found", "maya")
    ws.set_override("A-2", 80, "usage data broken this month", "sam", expires_on="2000-01-01")
    active = ws.active_overrides()
    assert active[["account_id", "score", "reason"]].values.tolist() == [["A-1", 55.0, "new sponsor found"]]
    assert len(ws.overrides()) == 3
    ws.remove_override(int(active["override_id"].iloc[0]))
    assert ws.active_overrides()["score"].tolist() == [40.0]


@pytest.mark.parametrize(
    ("score", "reason", "message"),
    [
        pytest.param(120, "why", "from 0 to 100, got 120", id="score_above_100"),
        pytest.param("high", "why", "must be a number from 0 to 100, got 'high'", id="score_not_a_number"),
        pytest.param(50, " ", "needs a reason", id="no_reason"),
    ],
)
def test_override_values_are_checked(ws: Workspace, score, reason: str, message: str):
    with pytest.raises(WorkspaceError, match=message):
        ws.set_override("A-1", score, reason)


def test_ensure_sample_loads_sample_and_default_model_once(ws_path: Path):
    workspace = Workspace(ws_path)
    try:
        assert workspace.ensure_sample() is True
        assert workspace.dataset_names() == [SAMPLE_DATASET]
        assert workspace.load_model_text(SAMPLE_MODEL, 1) == MODEL_YAML
        assert workspace.dataset_info(SAMPLE_DATASET).n_accounts == 2000
        workspace.delete_dataset(SAMPLE_DATASET)
        assert workspace.ensure_sample() is False  # a deleted sample stays deleted
    finally:
        workspace.close()
    reopened = Workspace(ws_path)
    try:
        assert reopened.ensure_sample() is False
        assert reopened.model_names() == [SAMPLE_MODEL]
    finally:
        reopened.close()


def test_concurrent_writes_from_threads_all_land(ws: Workspace, small: pd.DataFrame):
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(5):
                ws.add_note(f"A-{i}", f"note {j}", f"thread {i}")
                ws.save_model("Shared", MODEL_YAML, f"thread {i} #{j}")
            ws.save_dataset(f"set {i}", small, sample_roles())
            ws.append_dataset("common", small, sample_roles())
            ws.load_dataset(f"set {i}")
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ws.notes()) == 30
    assert sorted(ws.list_models()["version"]) == list(range(1, 31))
    assert len(ws.dataset_names()) == 7
    assert ws.dataset_info("common").n_rows == len(small)


def test_two_workspace_objects_on_one_file_share_the_write_lock(ws_path: Path):
    a, b = Workspace(ws_path), Workspace(ws_path)
    try:
        assert a._lock is b._lock
        a.add_note("A-1", "from a")
        assert b.notes("A-1")["text"].tolist() == ["from a"]
    finally:
        a.close()
        b.close()


def run_python(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


KILL_MID_SAVE = """
    import sys, time
    from lib.data.sample import generate_portfolio, sample_roles
    from lib.data.workspace import Workspace

    original = Workspace._insert_rows

    def insert_then_hang(self, cur, table, df, kinds):
        original(self, cur, table, df, kinds)  # rows written inside the open transaction...
        print("mid-save", flush=True)
        time.sleep(120)  # ...and the process is killed before COMMIT

    Workspace._insert_rows = insert_then_hang
    ws = Workspace(sys.argv[1])
    new = generate_portfolio(n_accounts=30, n_snapshots=2, seed=99)
    if sys.argv[2] == "replace":
        ws.save_dataset("Book", new, sample_roles(), replace=True)
    else:
        ws.append_dataset("Book", new, sample_roles())
"""


@pytest.mark.parametrize("operation", ["replace", "append"])
def test_process_killed_mid_save_leaves_previous_state_intact(ws_path: Path, small: pd.DataFrame, operation: str):
    with Workspace(ws_path) as workspace:
        workspace.save_dataset("Book", small, sample_roles())
        workspace.save_model("Default", MODEL_YAML)

    proc = run_python(KILL_MID_SAVE, str(ws_path), operation)
    try:
        assert proc.stdout.readline().strip() == "mid-save", proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    with Workspace(ws_path) as reopened:
        pd.testing.assert_frame_equal(reopened.load_dataset("Book").df, small)
        assert reopened.dataset_info("Book").n_rows == len(small)
        assert reopened.load_model_text("Default") == MODEL_YAML
        tables = reopened.cursor().execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'ds_%'").fetchall()
        assert len(tables) == 1  # no half-made table left behind


def test_second_process_gets_a_clear_message_while_the_file_is_open(ws: Workspace):
    proc = run_python(
        """
        import sys
        from lib.data.workspace import Workspace, WorkspaceError
        try:
            Workspace(sys.argv[1])
        except WorkspaceError as exc:
            print(exc)
        """,
        str(ws.path),
    )
    out, err = proc.communicate(timeout=60)
    assert "cannot open the workspace" in out and "HSS_WORKSPACE" in out, err


def test_a_dataset_remembers_the_model_version_last_linked_to_it(ws: Workspace, small: pd.DataFrame):
    ws.save_dataset("Ours", small, sample_roles())
    assert ws.linked_model("Ours") is None
    ws.save_model("Renewal", MODEL_YAML)
    ws.save_model("Renewal", MODEL_YAML)
    ws.link_model("Ours", "Renewal", 1)
    ws.link_model("Ours", "Renewal", 2)
    assert ws.linked_model("Ours") == ("Renewal", 2)
    ws.link_model("Ours", "Ghost", 7)  # a version that was never saved is not offered
    assert ws.linked_model("Ours") is None


def test_deleting_a_dataset_forgets_its_model_but_keeps_the_model(ws: Workspace, small: pd.DataFrame):
    ws.save_dataset("Ours", small, sample_roles())
    ws.save_model("Renewal", MODEL_YAML)
    ws.link_model("Ours", "Renewal", 1)
    ws.delete_dataset("Ours")
    ws.save_dataset("Ours", small, sample_roles())
    assert ws.linked_model("Ours") is None and ws.model_names() == ["Renewal"]


def test_the_sample_comes_linked_to_the_default_model_and_can_be_left_out(ws_path: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    with Workspace(ws_path) as ws:
        ws.ensure_sample()
        assert ws.linked_model(SAMPLE_DATASET) == (SAMPLE_MODEL, 1)
    monkeypatch.setenv("HSS_SAMPLE", "0")
    with Workspace(tmp_path / "team.duckdb") as team:
        assert team.ensure_sample() is False
        assert team.dataset_names() == [] and team.model_names() == []


def test_dataset_info_lists_the_stored_columns_in_order(ws: Workspace, small: pd.DataFrame):
    info = ws.save_dataset("Ours", small, sample_roles()).dataset
    assert info.columns == tuple(ws.load_dataset("Ours").df.columns)
