"""Who may see and change what: the access file's errors, roles and permissions, a CSM's scope in every lib
query the pages read, and the audit trail the workspace keeps."""

from __future__ import annotations

import pandas as pd
import pytest

from lib import export
from lib.data import access
from lib.data.access import AccessDenied, AccessError, Scope, User, can, parse_access, require, resolve, scope_for
from lib.data.ingest import load_portfolio
from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio, sample_roles
from lib.data.workspace import Workspace
from lib.engine.model import parse_model
from lib.engine.scored_portfolio import attach_attributes
from lib.engine.sql import score
from lib.views import audit
from lib.views import portfolio as pf
from lib.views import present as pr
from lib.views import validation as vv
from lib.views import worklists as wl
from tests.foreign import OWNER, foreign_portfolio

GOOD = """
users:
  - {email: Lee@Acme.test, role: csm, owners: ["Grace Liu", "Ravi Patel"]}
  - {email: ana@acme.test, role: analyst}
domains:
  acme.test: viewer
"""


# -- the access file ---------------------------------------------------------------------------------------
def test_a_valid_access_file_gives_users_by_email_and_roles_by_domain():
    rules = parse_access(GOOD)
    assert resolve(rules, "lee@acme.test") == User("lee@acme.test", "csm", ("Grace Liu", "Ravi Patel"))
    assert resolve(rules, "ANA@acme.test").role == "analyst"
    assert resolve(rules, "kim@acme.test") == User("kim@acme.test", "viewer")
    assert resolve(rules, "eve@elsewhere.test").role is None  # signed in, but no role: "ask an admin"


@pytest.mark.parametrize(("text", "key", "words"), [
    ("users:\n  - {email: a@acme.test, role: boss}\n", "users[0].role", ["unknown role 'boss'", "viewer, csm"]),
    ("users:\n  - {email: a@acme.test, role: csm}\n", "users[0]", ["needs `owners`", "Grace Liu"]),
    ("users:\n  - {email: a@acme.test, role: viewer}\n  - {email: A@acme.test, role: admin}\n", "users[1].email",
     ["listed twice", "users[0]", "one entry per email"]),
    ("users:\n  - {email: a@acme.test, role: viewer\n", "line 3", ["not valid YAML", "indentation"]),
    ("users:\n  - {email: a@acme.test, role: viewer, owner: [x]}\n", "users[0].owner", ["unknown key"]),
    ("domains:\n  acme.test: superuser\n", "domains.acme.test", ["unknown role 'superuser'"]),
    ("users:\n  - {email: lee, role: viewer}\n", "users[0].email", ["not an email address", "name@domain"]),
])
def test_access_file_errors_name_the_file_the_key_and_the_fix(text, key, words):
    with pytest.raises(AccessError) as err:
        parse_access(text, "data/access.yaml")
    line = str(err.value)
    assert line.startswith(f"data/access.yaml: {key}"), line
    assert " — " in line and all(w in line for w in words), line


def test_every_problem_in_the_access_file_is_reported_at_once():
    with pytest.raises(AccessError) as err:
        parse_access("users:\n  - {email: a@acme.test, role: boss}\n  - {email: b@acme.test, role: csm}\n")
    assert [p.key for p in err.value.problems] == ["users[0].role", "users[1]"]


def test_no_access_file_means_nobody_has_a_role(tmp_path):
    assert resolve(access.load_access(tmp_path / "absent.yaml"), "ana@acme.test").role is None


# -- permissions -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("role", "allowed", "refused"), [
    ("viewer", ["read"], ["add_note", "save_model", "upload", "delete_dataset"]),
    ("csm", ["read", "add_note", "set_override"], ["save_model", "set_label", "create_play"]),
    ("analyst", ["upload", "save_model", "set_label", "create_play", "add_note"], ["delete_dataset", "view_audit"]),
    ("admin", list(access.ACTIONS), []),
    (None, [], ["read"]),
])
def test_each_role_may_do_what_the_roles_below_it_may(role, allowed, refused):
    who = User("x@acme.test", role, ("Grace Liu",) if role == "csm" else ())
    assert all(can(who, a) for a in allowed) and not any(can(who, a) for a in refused)


def test_a_refused_action_says_which_role_it_needs():
    with pytest.raises(AccessDenied, match=r"kim@acme.test \(viewer\) cannot save model versions — ask an admin "
                                           r"for the analyst role"):
        require(User("kim@acme.test", "viewer"), "save_model")
    require(User("ana@acme.test", "analyst"), "save_model")  # no error


# -- a CSM's book ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample():
    df = generate_portfolio(n_accounts=150, n_snapshots=6)
    model = parse_model(DEFAULT_MODEL_PATH.read_text())
    roles = sample_roles().canonical()
    scored = attach_attributes(score(model, df), df, roles.segments, model)
    owner = access.owner_column(roles)
    latest = df.loc[df["snapshot_date"] == df["snapshot_date"].max()]
    grace = str(latest[owner].value_counts().index[0])
    scope = scope_for(User("lee@acme.test", "csm", (grace.upper(),)), df, roles)  # owners match ignoring case
    return df, model, roles, scored, scope, latest.loc[latest[owner] == grace, "account_id"]


def test_a_csm_scope_is_the_accounts_their_owner_value_holds_on_the_latest_snapshot(sample):
    df, _, roles, _, scope, theirs = sample
    assert scope.restricted and scope.accounts == frozenset(theirs) and 0 < len(theirs) < df["account_id"].nunique()
    assert scope.allows(theirs.iloc[0]) and not scope.allows("not-an-account")
    assert "Your book" in scope.caption() and f"{len(theirs):,} accounts" in scope.caption()
    assert not scope_for(User("ana@acme.test", "analyst"), df, roles).restricted


def test_a_csm_in_a_dataset_without_an_owner_column_sees_no_account(sample):
    df, _, roles, *_ = sample
    no_owner = roles.__class__(**{**roles.to_dict(), "segments": ("size",), "metrics": tuple(roles.metrics)})
    assert scope_for(User("lee@acme.test", "csm", ("Grace Liu",)), df, no_owner).accounts == frozenset()


def test_percentile_scores_in_a_book_are_the_whole_portfolios_not_the_books_own(sample):
    df, model, _, scored, scope, theirs = sample
    shown = scope.apply(scored)  # what Context.scored() returns: scored on everything, then scoped
    assert set(shown["account_id"]) == set(theirs)
    whole = scored.set_index(["account_id", "snapshot_date"])["score"]
    assert shown.set_index(["account_id", "snapshot_date"])["score"].equals(whole.loc[shown.set_index(
        ["account_id", "snapshot_date"]).index])
    alone = score(model, scope.apply(df)).set_index(["account_id", "snapshot_date"])["score"]
    assert not alone.equals(whole.loc[alone.index])  # the trap: the book scored on its own ranks differently


def _accounts(result) -> set[str]:
    if isinstance(result, pd.Series):
        return set(map(str, result.index))
    return set(result["account_id"].astype(str)) if "account_id" in result.columns else set()


@pytest.mark.parametrize("query", [
    "at_date", "arr_at_risk", "movers", "alerts_table", "account_choices", "segment_position", "scores_table",
    "attention_list", "expansion_list", "known_labels"])
def test_every_query_the_pages_read_returns_only_the_book(sample, query):
    df, model, roles, scored, scope, theirs = sample
    shown, as_of, book = scope.apply(scored), scored["snapshot_date"].max(), set(theirs)
    expansion = score(model, df)  # a sub-model's scores on the whole dataset, as the Worklists page does
    results = {
        "at_date": lambda: pf.at_date(shown, as_of),
        "arr_at_risk": lambda: pf.arr_at_risk(shown, as_of),
        "movers": lambda: pf.movers(shown, as_of, n=50),
        "alerts_table": lambda: pf.alerts_table(shown, since=scored["snapshot_date"].min(), until=as_of),
        "account_choices": lambda: pf.account_choices(shown),
        "segment_position": lambda: pf.segment_position(shown, theirs.iloc[0], as_of, "size"),
        "scores_table": lambda: pr.scores_table(shown, as_of, model, roles.segments).rename(
            columns={"Account ID": "account_id"}),
        "attention_list": lambda: wl.attention_list(shown, scope.apply(df), as_of=as_of),
        "expansion_list": lambda: wl.expansion_list(shown, scope.apply(df), usage_column="logins_per_user",
                                                    as_of=as_of, min_growth=-1, expansion_scores=expansion),
        "known_labels": lambda: scope.apply(vv.file_labels(df)),
    }
    got = _accounts(results[query]())
    assert got and got <= book, f"{query}: {sorted(got - book)[:3]} are not in the book"


def test_counts_on_overview_are_the_books_count(sample):
    _, _, _, scored, scope, theirs = sample
    head = pf.headline(scope.apply(scored), scored["snapshot_date"].max())
    summary = pf.band_summary(scope.apply(scored), scored["snapshot_date"].max())
    assert summary["accounts"].sum() == len(theirs)
    assert any(str(len(theirs)) in k.value for k in pf.kpis(head))


def test_the_owner_column_of_a_foreign_crm_export_comes_from_its_roles():
    portfolio = load_portfolio(foreign_portfolio(accounts=40, snapshots=3), "crm.csv")
    roles = portfolio.roles.canonical()
    assert access.owner_column(roles) == OWNER  # "CS Rep"
    rep = str(portfolio.df[OWNER].iloc[0])
    scope = scope_for(User("pr@acme.test", "csm", (rep,)), portfolio.df, roles)
    latest = portfolio.df.loc[portfolio.df["snapshot_date"] == portfolio.df["snapshot_date"].max()]
    assert scope.accounts == frozenset(latest.loc[latest[OWNER] == rep, "account_id"])


def test_an_unrestricted_scope_returns_the_frame_itself(sample):
    scored = sample[3]
    assert Scope().apply(scored) is scored


# -- the audit trail ---------------------------------------------------------------------------------------
def test_the_workspace_records_who_changed_what_with_model_yaml_before_and_after(tmp_path):
    ws = Workspace(tmp_path / "w.duckdb")
    text = DEFAULT_MODEL_PATH.read_text()
    ws.save_model("M", text, "first", author="ana@acme.test")
    ws.save_model("M", text.replace("red: 40", "red: 45", 1), "stricter", author="ana@acme.test")
    ws.add_note("A1", "=HYPERLINK(\"http://x\")", author="lee@acme.test")
    oid = ws.set_override("A1", 80, "signed renewal", author="lee@acme.test")
    ws.remove_override(oid, author="lee@acme.test")
    ws.save_dataset("D", generate_portfolio(n_accounts=5, n_snapshots=2), sample_roles(), author="ana@acme.test")
    ws.set_label("D", "A1", "healthy", "ana@acme.test")
    ws.delete_dataset("D", author="root@acme.test")
    log = ws.audit_log()
    assert list(log["action"])[::-1] == ["save model version", "save model version", "add note", "set override",
                                         "remove override", "upload dataset", "set label", "delete dataset"]
    assert set(log["who"]) == {"ana@acme.test", "lee@acme.test", "root@acme.test"}
    v2 = log.loc[log["target"] == "M v2"].iloc[0]
    assert "red: 40" in v2["old_value"] and "red: 45" in v2["new_value"] and v2["detail"] == "stricter"
    assert "\n+bands: {red: 45" in audit.yaml_diff(v2["old_value"], v2["new_value"])
    assert list(audit.version_table(ws.list_models(), "M")[["Version", "By", "Note"]].iloc[0]) == [
        "v2", "ana@acme.test", "stricter"]
    csv = audit.audit_csv(log).decode("utf-8-sig")
    assert "'=HYPERLINK" in csv and "\n=HYPERLINK" not in csv  # a formula in a note cannot run in Excel
    assert export.table_csv(pd.DataFrame({"x": ["=1+1"]})).decode("utf-8-sig").splitlines()[1] == '"\'=1+1"'


def test_version_marks_fall_on_the_first_snapshot_after_each_save_within_the_history():
    models = pd.DataFrame({"name": ["M", "M", "M", "N"], "version": [1, 2, 3, 1],
                           "created_at": pd.to_datetime(["2025-01-15", "2025-02-10", "2030-01-01", "2025-02-10"]),
                           "author": ["a@x.test", "b@x.test", "c@x.test", None], "note": ["", "", "", ""]})
    dates = pd.Series(pd.date_range("2025-01-01", periods=4, freq="MS"))
    assert audit.version_marks(models, "M", dates) == [(pd.Timestamp("2025-02-01"), "v1 by a@x.test"),
                                                       (pd.Timestamp("2025-03-01"), "v2 by b@x.test")]
