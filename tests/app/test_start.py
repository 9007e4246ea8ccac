"""Own data, first to last, through the pages: a dataset knows its model, a misfit offers Start a model, and
Start a model creates version 1 from the dataset's own columns — on an export whose names match nothing in the
sample (tests/foreign.py)."""

from __future__ import annotations

import pytest

from lib import ui
from lib.data.ingest import load_portfolio
from lib.data.workspace import SAMPLE_DATASET, Workspace
from lib.engine.model import check_columns, parse_model
from tests import foreign
from tests.app.helpers import errors, open_app

OWN = "Acme CRM export"


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A foreign-named export, loaded as the Data page loads it."""
    path = foreign.write_foreign_csv(tmp_path_factory.mktemp("own") / "acme.csv", accounts=400, snapshots=12)
    return load_portfolio(path)


@pytest.fixture
def workspace_with(tmp_path, monkeypatch):
    """A workspace of the test's own (with or without the sample), holding the given datasets."""
    def make(*datasets: tuple[str, object], sample: bool = True) -> None:
        monkeypatch.setenv("HSS_WORKSPACE", str(tmp_path / "workspace.duckdb"))
        monkeypatch.setenv("HSS_SAMPLE", "1" if sample else "0")
        with Workspace() as ws:
            ws.ensure_sample()
            for name, portfolio in datasets:
                ws.save_dataset(name, portfolio)
        ui.workspace.clear()

    yield make
    ui.workspace.clear()


def open_on(dataset: str, page: str | None = None):
    at = open_app()
    at.session_state[ui.PENDING[ui.DATASET]] = dataset
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py").run()
    return at


def test_a_dataset_no_model_fits_says_so_in_one_sentence_and_offers_start_a_model(workspace_with, export):
    workspace_with((OWN, export))
    for page in (None, "trends", "account", "compare", "validate", "present", "worklists"):
        at = open_on(OWN, page)
        assert not errors(at), (page, errors(at))
        assert not at.error, (page, [e.value for e in at.error])  # no wall of key errors
        assert len(at.warning) == 1 and "does not fit" in at.warning[0].value, page
        assert at.button(key="ctx.start_model").label == "Start a model"


def test_a_workspace_with_a_dataset_and_no_model_at_all_offers_start_a_model(workspace_with, export):
    workspace_with((OWN, export), sample=False)
    at = open_app()
    assert not errors(at), errors(at)
    assert any("has no model yet" in i.value for i in at.info)
    at.button(key="ctx.start_model").click().run()
    assert not errors(at), errors(at)
    assert at.title[0].value == "Start a model"
    at.button(key="start.create").click().run()
    assert not errors(at), errors(at)
    assert at.title[0].value == "Tune"
    assert ui.workspace().model_names() == [f"{OWN} health"]


def test_start_a_model_creates_version_1_selects_it_and_every_page_works(workspace_with, export):
    workspace_with((OWN, export))
    at = open_on(OWN)
    at.button(key="ctx.start_model").click().run()
    assert not errors(at), errors(at)
    assert at.title[0].value == "Start a model"
    assert at.text_input(key=f"start.name.{OWN}").value == f"{OWN} health"
    at.button(key="start.create").click().run()
    assert not errors(at), errors(at)

    ws = ui.workspace()
    name = f"{OWN} health"
    assert ws.linked_model(OWN) == (name, 1)
    model = parse_model(ws.load_model_text(name, 1))
    assert 3 <= len(model.metrics) <= 5 and not check_columns(model, export.df.columns)
    assert all(m in foreign.METRIC_COLUMNS for m in model.metrics)  # the export's own names
    assert at.title[0].value == "Tune"
    assert (at.session_state[ui.DATASET], at.session_state[ui.MODEL], at.session_state[ui.VERSION]) == (OWN, name, 1)
    assert any("Created" in s.value for s in at.success)
    assert at.get("plotly_chart"), "Tune opens on the new model with its live preview"
    for page in ("overview", "trends", "account", "compare", "validate", "present", "worklists", "data"):
        at.switch_page(f"app_pages/{page}.py").run()
        assert not errors(at), (page, errors(at))
        assert not at.warning or all("does not fit" not in w.value for w in at.warning), page


def test_choosing_a_dataset_selects_the_model_last_used_with_it(workspace_with, export):
    workspace_with((OWN, export))
    at = open_on(OWN)
    at.button(key="ctx.start_model").click().run()
    at.button(key="start.create").click().run()
    at.switch_page("app_pages/overview.py").run()
    at.selectbox(key=ui.DATASET).select(SAMPLE_DATASET).run()
    assert not errors(at), errors(at)
    assert at.session_state[ui.MODEL] == "Default" and not at.warning
    at.selectbox(key=ui.DATASET).select(OWN).run()
    assert at.session_state[ui.MODEL] == f"{OWN} health" and not at.warning


def test_starting_from_the_outcomes_shows_the_held_back_auc_and_saves_the_fitted_model(workspace_with, export):
    workspace_with((OWN, export))
    at = open_on(OWN, "start")
    assert not errors(at), errors(at)
    assert "renewed vs" in at.info[0].value
    at.segmented_control(key="start.from").set_value("outcomes").run()
    assert not errors(at), errors(at)
    fitted = [s.value for s in at.success]
    assert fitted and ui.md("held-back accounts") in fitted[0] and "AUC" in fitted[0]
    at.button(key="start.create").click().run()
    assert not errors(at), errors(at)
    saved = parse_model(ui.workspace().load_model_text(f"{OWN} health", 1))
    assert len({m.weight for m in saved.metrics.values()}) > 1  # weights fitted, not equal


def test_an_unusable_column_ticked_is_refused_with_its_reason_and_nothing_is_saved(workspace_with, export):
    broken = export.df.assign(**{"Region Code": "EU", "Notes": [f"call {i}" for i in range(len(export.df))]})
    roles = export.roles
    roles = type(roles)(**{**roles.to_dict(), "segments": tuple(roles.segments),
                           "metrics": (*roles.metrics, "Region Code", "Notes")})
    workspace_with((OWN, type(export)(df=broken, roles=roles, filename="acme.csv")))
    at = open_on(OWN, "start")
    table = next(df.value for df in at.dataframe if "problem" in df.value.columns)
    columns = list(table["column"])
    assert columns[-2:] == ["Region Code", "Notes"] or set(columns[-2:]) == {"Region Code", "Notes"}
    assert not table.set_index("column").loc[["Region Code", "Notes"], "use"].any()  # never pre-selected
    assert "same value" in table.set_index("column").loc["Region Code", "problem"]
    key = next(str(k) for k in at.session_state if str(k).startswith("start.table."))
    at.session_state[key] = {"edited_rows": {columns.index("Region Code"): {"use": True}}, "added_rows": [],
                             "deleted_rows": []}
    at.run()
    assert not errors(at), errors(at)
    assert any("Region Code" in e.value and "cannot be a metric" in e.value for e in at.error)
    assert at.button(key="start.create").disabled
    assert ui.workspace().model_names() == ["Default"]


def test_a_dataset_with_nothing_a_model_could_score_says_what_to_map(workspace_with, export):
    bare = export.df[["account_id", "snapshot_date", "churned"]]
    roles = type(export.roles)(account_id=foreign.ID, snapshot_date=foreign.DATE, outcome=foreign.CHURNED)
    workspace_with((OWN, type(export)(df=bare, roles=roles, filename="bare.csv")))
    at = open_on(OWN, "start")
    assert not errors(at), errors(at)
    assert "no column a model could score" in at.warning[0].value
    assert not [b for b in at.button if b.key == "start.create"]
