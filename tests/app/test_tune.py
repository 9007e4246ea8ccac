"""Tune page (AppTest): the preview's numbers follow the sliders, bad edits explain themselves, save and
download hand back exactly the draft."""

from __future__ import annotations

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from app_pages.tune_state import key
from lib import ui
from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio, sample_roles
from lib.data.workspace import SAMPLE_DATASET, Workspace
from lib.engine.model import dump_model, model_from_dict, model_to_dict, parse_model
from tests.app.helpers import control, draft, errors, number, open_app

RED_CUTOFF = ("bands",)
LOGINS = ("metrics", "logins_per_user", "score")


@pytest.fixture
def at():
    app = open_app("tune")
    assert not errors(app), errors(app)
    return app


def test_tune_opens_on_the_sample_with_counts_charts_and_an_unchanged_draft(at):
    assert at.title[0].value == "Tune"
    counts = [number(at, f"{band} accounts") for band in ("Red", "Yellow", "Green")]
    assert all(c > 0 for c in counts)
    assert number(at, "Band changes") == 0
    assert 0.5 < number(at, "Separation") <= 1
    assert len(at.get("plotly_chart")) == 3  # the metric's histogram, the score histogram, bands over time
    assert at.expander[0].label.endswith(": 0")


def test_raising_the_red_cut_off_moves_accounts_from_yellow_to_red(at):
    red, yellow = at.slider(key=control(at, *RED_CUTOFF)).value
    reds, yellows = number(at, "Red accounts"), number(at, "Yellow accounts")
    at.slider(key=control(at, *RED_CUTOFF)).set_value((red + 15, yellow)).run()
    assert not errors(at)
    gained = number(at, "Red accounts") - reds
    assert gained > 0
    assert number(at, "Yellow accounts") == yellows - gained
    assert number(at, "Band changes") == gained
    assert [m.delta for m in at.metric if m.label == "Red accounts"] == [f"{gained:.0f}"]
    at.slider(key=control(at, *RED_CUTOFF)).set_value((red - 10, yellow)).run()
    assert number(at, "Red accounts") <= reds
    assert draft(at).bands.red == red - 10


def test_lowering_a_metrics_green_threshold_raises_the_average_score(at):
    before = number(at, "Average score")
    green = at.slider(key=control(at, *LOGINS, "green"))
    at.slider(key=control(at, *LOGINS, "green")).set_value(green.min + (green.value - green.min) / 2).run()
    assert not errors(at)
    assert number(at, "Average score") > before
    assert number(at, "Band changes") > 0
    assert at.expander[0].label.endswith(": 1")


def test_invalid_edit_shows_the_models_message_beside_the_control_not_an_exception(at):
    red = at.slider(key=control(at, *LOGINS, "red")).value
    reds = number(at, "Red accounts")
    at.slider(key=control(at, *LOGINS, "red")).set_value(at.slider(key=control(at, *LOGINS, "green")).value).run()
    assert not errors(at)
    messages = [e.value for e in at.error]
    assert len(messages) == 1
    assert "red and green are both" in messages[0] and "make them differ" in messages[0]
    assert at.slider(key=control(at, *LOGINS, "red")).value == red  # put back: the draft never holds a broken model
    assert number(at, "Red accounts") == reds


def test_switching_method_proposes_cuts_from_the_data(at):
    at.selectbox(key=control(at, *LOGINS, "method")).set_value("steps").run()
    assert not errors(at)
    cuts = [at.slider(key=control(at, *LOGINS, "cuts", i)) for i in range(2)]
    assert cuts[0].min <= cuts[0].value < cuts[1].value <= cuts[1].max
    assert draft(at).metrics["logins_per_user"].score.cuts == (cuts[0].value, cuts[1].value)
    assert number(at, "Band changes") > 0


def test_profile_weights_edit_only_that_profile(at):
    at.selectbox(key=key("pick_profile")).set_value("Onboarding").run()
    weight = ("profiles", "Onboarding", "weights", "csm_sentiment")
    before = at.slider(key=control(at, *weight)).value
    at.slider(key=control(at, *weight)).set_value(before + 30).run()
    assert not errors(at)
    model = draft(at)
    assert model.weights_for("Onboarding")["csm_sentiment"] == before + 30
    assert model.weights_for("Default")["csm_sentiment"] == model.metrics["csm_sentiment"].weight
    assert "% of the score" in at.slider(key=control(at, *weight)).label


def test_revert_drops_the_draft(at):
    red, yellow = at.slider(key=control(at, *RED_CUTOFF)).value
    reds = number(at, "Red accounts")
    at.slider(key=control(at, *RED_CUTOFF)).set_value((red + 10, yellow)).run()
    at.button(key=key("revert")).click().run()
    assert not errors(at)
    assert number(at, "Red accounts") == reds
    assert at.slider(key=control(at, *RED_CUTOFF)).value == (red, yellow)
    assert at.expander[0].label.endswith(": 0")


def test_download_offers_yaml_that_parses_back_to_the_draft(at, monkeypatch):
    offered: list[tuple[bytes, str | None]] = []
    load = MemoryMediaFileStorage.load_and_get_id

    def spy(self, data, mimetype, kind, filename=None):
        offered.append((data, filename))
        return load(self, data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    red, yellow = at.slider(key=control(at, *RED_CUTOFF)).value
    at.slider(key=control(at, *RED_CUTOFF)).set_value((red + 5, yellow)).run()
    yaml_files = [(data, name) for data, name in offered if name and name.endswith(".yaml")]
    assert yaml_files[-1][1] == "Default-draft.yaml"
    downloaded = parse_model(yaml_files[-1][0].decode())
    assert downloaded == draft(at)
    assert downloaded.bands.red == red + 5


def test_save_creates_version_2_with_its_note_and_selects_it(tmp_path, monkeypatch):
    # A workspace of its own, so other tests keep seeing Default v1 as the newest version.
    monkeypatch.setenv("HSS_WORKSPACE", str(tmp_path / "workspace.duckdb"))
    ui.workspace.clear()
    try:
        at = open_app("tune")
        red, yellow = at.slider(key=control(at, *RED_CUTOFF)).value
        at.slider(key=control(at, *RED_CUTOFF)).set_value((red + 5, yellow)).run()
        at.text_input(key=key("save", "note")).input("Stricter red band")
        at.button(key=key("save", "version")).click().run()
        assert not errors(at), errors(at)
        assert [s.value for s in at.success] == ["Saved Default v2."]
        saved = ui.workspace().list_models()
        assert saved.loc[saved["version"] == 2, "note"].tolist() == ["Stricter red band"]
        assert parse_model(ui.workspace().load_model_text("Default", 2)).bands.red == red + 5
        assert at.session_state["ctx.version"] == 2  # the sidebar selected it
        assert at.expander[0].label == "Changes vs saved Default v2: 0"
    finally:
        ui.workspace.clear()


# ------------------------------------------------------------------------------ a profile's own thresholds

TICKETS_ONBOARDING = ("profiles", "Onboarding", "metrics", "open_tickets", "score")


def test_a_profile_gets_its_own_thresholds_and_gives_them_back(at):
    at.selectbox(key=key("pick_profile")).set_value("Onboarding").run()
    at.selectbox(key=key("pick_metric")).set_value("open_tickets").run()
    assert any("the base thresholds, shared by every profile" in c.value for c in at.caption)
    own = at.button(key=key("scope", "own"))
    assert own.label == "Give Onboarding its own thresholds for Open support tickets"
    average = number(at, "Average score")
    own.click().run()
    assert not errors(at), errors(at)
    model = draft(at)
    assert model.profile("Onboarding").metrics["open_tickets"] == model.metrics["open_tickets"].score
    assert number(at, "Average score") == average  # a copy scores the same
    assert any("profile's own thresholds" in c.value for c in at.caption)
    cut = at.slider(key=control(at, *TICKETS_ONBOARDING, "cuts", 0))
    at.slider(key=control(at, *TICKETS_ONBOARDING, "cuts", 0)).set_value(cut.min).run()  # stricter for Onboarding only
    assert not errors(at), errors(at)
    model = draft(at)
    assert model.spec_for("Onboarding", "open_tickets").cuts[0] == cut.min
    assert model.metrics["open_tickets"].score == parse_model(at.session_state["_ctx"].model_yaml).metrics[
        "open_tickets"].score
    assert number(at, "Average score") < average
    at.button(key=key("scope", "base")).click().run()
    assert not errors(at), errors(at)
    assert "open_tickets" not in draft(at).profile("Onboarding").metrics
    assert number(at, "Average score") == average
    assert at.expander[0].label.endswith(": 0")
    assert at.button(key=key("scope", "own"))  # offered again


def test_default_profile_offers_no_thresholds_of_its_own(at):
    assert not [b for b in at.button if b.key in (key("scope", "own"), key("scope", "base"))]


# ------------------------------------------------------------------------------ workspaces of their own


@pytest.fixture
def own_workspace(tmp_path, monkeypatch):
    """Make a workspace of its own from a dataset and model versions; the app then opens it (not the sample)."""
    monkeypatch.setenv("HSS_WORKSPACE", str(tmp_path / "workspace.duckdb"))

    def make(df, *models: str) -> None:
        with Workspace() as ws:
            ws.save_dataset(SAMPLE_DATASET, df, sample_roles(), "small.csv")
            for yaml_text in models:
                ws.save_model("Default", yaml_text)
            ws.ensure_sample()  # marks the sample as loaded: the app does not add the full one
        ui.workspace.clear()

    yield make
    ui.workspace.clear()


def small_portfolio():
    return generate_portfolio(n_accounts=80, n_snapshots=4)


# ------------------------------------------------------------------------------ categories seen in the data

HOSTILE = ["<script>alert(1)</script>", "n/a. (see notes)", 'say "hi"', "**bold** [x](http://evil)"]
SENTIMENT = ("metrics", "csm_sentiment", "score")


def unmapped_table(at):
    tables = [d.value for d in at.dataframe if "value" in d.value.columns and "accounts" in d.value.columns]
    return tables[0].to_dict("records") if tables else None


def test_values_the_map_lacks_are_listed_as_text_and_added_with_chosen_points(own_workspace):
    df = small_portfolio()
    last = df["snapshot_date"] == df["snapshot_date"].max()
    rows = df.index[last][: 2 + len(HOSTILE)]
    df.loc[rows, "csm_sentiment"] = [HOSTILE[0], *HOSTILE, HOSTILE[0].upper()]
    own_workspace(df, DEFAULT_MODEL_PATH.read_text())
    at = open_app("tune")
    at.selectbox(key=key("pick_metric")).set_value("csm_sentiment").run()
    assert not errors(at), errors(at)
    assert unmapped_table(at) == [{"value": HOSTILE[0], "accounts": 3}] + [
        {"value": v, "accounts": 1} for v in sorted(HOSTILE[1:])]
    assert any(m.value.startswith("**4 values in the data not in the map**: 6 accounts at") for m in at.markdown)
    assert not [m.value for m in at.markdown if "<script>" in m.value or "](http" in m.value]
    average = number(at, "Average score")

    at.multiselect(key=control(at, "new", *SENTIMENT)).set_value([HOSTILE[0]]).run()
    at.number_input(key=key("new_points")).set_value(20.0).run()
    at.button(key=key("add_chosen", *SENTIMENT)).click().run()
    assert not errors(at), errors(at)
    assert draft(at).metrics["csm_sentiment"].score.map == {"green": 100, "yellow": 50, "red": 0, HOSTILE[0]: 20}
    assert [r["value"] for r in unmapped_table(at)] == sorted(HOSTILE[1:])
    added = at.slider(key=control(at, *SENTIMENT, "map", HOSTILE[0]))
    assert added.value == 20 and added.label == f"Points for “{ui.md(HOSTILE[0])}”"
    assert number(at, "Average score") != average  # three accounts now have a sentiment score
    assert at.expander[0].label.endswith(": 1")

    at.button(key=key("add_all", *SENTIMENT)).click().run()
    assert not errors(at), errors(at)
    assert draft(at).metrics["csm_sentiment"].score.map == {
        "green": 100, "yellow": 50, "red": 0, **dict.fromkeys(HOSTILE, 20)}
    assert unmapped_table(at) is None
    at.button(key=key("save", "version")).click().run()
    assert not errors(at), errors(at)
    saved = parse_model(ui.workspace().load_model_text("Default", 2))
    assert saved.metrics["csm_sentiment"].score.map == draft(at).metrics["csm_sentiment"].score.map


# ------------------------------------------------------------------------------ a model that does not fit


def misfit_yaml() -> str:
    """The default model plus a metric on a column the data lacks, weighted in the Onboarding profile too."""
    d = model_to_dict(parse_model(DEFAULT_MODEL_PATH.read_text()))
    d["metrics"]["churn_risk_index"] = {"group": "Engagement", "weight": 30,
                                        "score": {"method": "linear", "red": 8, "green": 2}}
    d["profiles"][0]["weights"]["churn_risk_index"] = 25
    d["profiles"][0]["metrics"]["churn_risk_index"] = {"score": {"method": "linear", "red": 9, "green": 3}}
    return dump_model(model_from_dict(d))


def test_a_saved_model_that_does_not_fit_is_fixed_on_tune_and_every_page_works_again(own_workspace):
    own_workspace(small_portfolio(), DEFAULT_MODEL_PATH.read_text(), misfit_yaml())
    overview = open_app()
    assert not errors(overview), errors(overview)
    # One sentence naming what the data lacks, and the ways on — not a list of key errors.
    assert not overview.error
    assert "does not fit" in overview.warning[0].value and "churn\\_risk\\_index" in overview.warning[0].value
    assert overview.button(key="ctx.start_model").label == "Start a model"

    at = open_app("tune")
    assert not errors(at), errors(at)
    assert at.session_state["ctx.version"] == 2
    message = at.error[0].value
    assert "cannot score it" in message and ui.md("column 'churn_risk_index' is not in the data") in message
    assert not at.metric and not at.get("plotly_chart")  # no preview of a draft that cannot score
    fix = at.button(key=key("fit"))
    assert fix.label == "Remove the missing metrics from the draft"
    fix.click().run()
    assert not errors(at), errors(at)
    assert not at.error
    fixed = draft(at)
    assert "churn_risk_index" not in fixed.metrics
    assert "churn_risk_index" not in fixed.weights_for("Onboarding")
    assert "churn_risk_index" not in fixed.profile("Onboarding").metrics
    assert fixed == parse_model(DEFAULT_MODEL_PATH.read_text())
    assert number(at, "Red accounts") + number(at, "Yellow accounts") + number(at, "Green accounts") > 0
    assert len(at.get("plotly_chart")) == 3
    assert any("cannot score this dataset" in c.value for c in at.caption)

    at.text_input(key=key("save", "note")).input("Without churn_risk_index")
    at.button(key=key("save", "version")).click().run()
    assert not errors(at), errors(at)
    assert [s.value for s in at.success] == ["Saved Default v3."]
    assert at.session_state["ctx.version"] == 3
    assert not at.error and at.expander[0].label == "Changes vs saved Default v3: 0"
    for page in (None, "trends", "account"):
        again = open_app(page)
        assert not errors(again), (page, errors(again))
        assert not again.error, (page, [e.value for e in again.error])


def test_a_model_with_nothing_left_to_keep_says_so_and_offers_upload(own_workspace):
    d = model_to_dict(parse_model(misfit_yaml()))
    d["metrics"] = {"churn_risk_index": d["metrics"]["churn_risk_index"]}
    d["groups"] = {"Engagement": 1}
    d.pop("profiles")
    own_workspace(small_portfolio(), DEFAULT_MODEL_PATH.read_text(), dump_model(model_from_dict(d)))
    at = open_app("tune")
    assert not errors(at), errors(at)
    assert not [b for b in at.button if b.key == key("fit")]
    assert "every metric reads a column the data lacks" in at.warning[0].value
    assert any("Upload YAML" in c.value for c in at.caption)
    assert at.button(key="tune.start_model").label == "Start a model"
