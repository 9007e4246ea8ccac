"""Who may see and change what: the access file (users and email domains → roles), what each role may do,
and a CSM's scope (the accounts of their book).

Pure: no Streamlit here. lib/ui.py resolves the signed-in email to a :class:`User` with :func:`resolve` and
passes a :class:`Scope` to every query that reads accounts; actions check :func:`require` before they write.

The access file (``$HSS_ACCESS``, default ``data/access.yaml``)::

    users:
      - {email: lee@acme.test, role: csm, owners: ["Grace Liu"]}   # owners: values of the owner column
      - {email: ana@acme.test, role: analyst}
    domains:
      acme.test: viewer          # anyone else signed in from this domain
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from lib.data.ingest import Roles, find_owner_column
from lib.engine.model import Problem

ACCESS_ENV = "HSS_ACCESS"
DEFAULT_ACCESS_PATH = Path(__file__).resolve().parents[2] / "data" / "access.yaml"
ROLES = ("viewer", "csm", "analyst", "admin")  # each role may do what the roles before it may
RoleName = Literal["viewer", "csm", "analyst", "admin"]

# The least role that may do each action (roles are ordered, so a higher role may too).
_LEAST_ROLE: dict[str, str] = {
    "read": "viewer",
    "add_note": "csm",
    "set_override": "csm",
    "upload": "analyst",
    "tune": "analyst",
    "save_model": "analyst",
    "set_label": "analyst",
    "create_play": "analyst",
    "delete_dataset": "admin",
    "edit_access": "admin",
    "view_audit": "admin",
}
ACTIONS = tuple(_LEAST_ROLE)
_DOING = {"read": "read accounts", "add_note": "add notes", "set_override": "set score overrides",
          "upload": "upload data", "tune": "tune models", "save_model": "save model versions",
          "set_label": "label accounts", "create_play": "create plays", "delete_dataset": "delete datasets",
          "edit_access": "edit access", "view_audit": "see the audit log"}


@dataclass(frozen=True)
class User:
    """Who is using the app: their email, role (None: signed in but given no role) and, for a CSM, the values
    of the owner column that make up their book."""

    email: str
    role: str | None
    owners: tuple[str, ...] = ()


# The app without sign-in: one person on their own machine, who may do everything.
LOCAL_USER = User(email="local", role="admin")


def can(user: User, action: str) -> bool:
    """Whether ``user`` may do ``action`` (one of :data:`ACTIONS`, e.g. ``"save_model"``, ``"create_play"``)."""
    if action not in _LEAST_ROLE:
        raise KeyError(f"unknown action '{action}' — one of {', '.join(ACTIONS)}")
    return user.role in ROLES and ROLES.index(user.role) >= ROLES.index(_LEAST_ROLE[action])


class AccessDenied(ValueError):
    """The user's role may not do what was asked; the message names the role needed."""


def require(user: User, action: str) -> None:
    """Raise :class:`AccessDenied` unless ``user`` may do ``action`` (the check inside every write)."""
    if not can(user, action):
        least = _LEAST_ROLE[action]
        raise AccessDenied(f"{user.email or 'you'} ({user.role or 'no role'}) cannot {_DOING[action]} — "
                           f"ask an admin for the {least} role or above")


# -- the access file -------------------------------------------------------------------------------------------
class AccessError(ValueError):
    """An access file with problems; ``.problems`` lists them all (key, what is wrong, the fix)."""

    def __init__(self, problems: Iterable[Problem], source: str) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))


class _UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str
    role: RoleName
    owners: list[str] = []

    @field_validator("email")
    @classmethod
    def _an_email(cls, email: str) -> str:
        if "@" not in email.strip():
            raise ValueError(f"'{email}' is not an email address — write it as name@domain")
        return email.strip().casefold()

    @model_validator(mode="after")
    def _csm_has_owners(self) -> _UserEntry:
        if self.role == "csm" and not [o for o in self.owners if o.strip()]:
            raise ValueError("a csm needs `owners`: the owner-column values of their accounts — add e.g. "
                             "owners: [\"Grace Liu\"]")
        return self


class _AccessFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[_UserEntry] = []
    domains: dict[str, RoleName] = {}


_FIXES = {
    "literal_error": lambda err: f"unknown role '{err.get('input')}' — use one of: {', '.join(ROLES)}",
    "extra_forbidden": lambda err: "unknown key — remove it, or check its spelling (users: email, role, owners; "
                                   "domains: domain: role)",
    "missing": lambda err: "missing — add it",
    "list_type": lambda err: f"{err.get('input')!r} is not a list — write a list, e.g. [\"Grace Liu\"]",
    "dict_type": lambda err: "is not a mapping — write domain: role lines, e.g. acme.test: viewer",
    "model_type": lambda err: "is not a mapping — write {email: …, role: …}",
}


def _problem(err: dict) -> Problem:
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".") or "(file)"
    # Our own validators' text ("what is wrong — the fix") is the error in ctx, without pydantic's prefix.
    own = str(err.get("ctx", {}).get("error", err["msg"]))
    text = _FIXES[err["type"]](err) if err["type"] in _FIXES else own
    message, _, fix = text.partition(" — ")
    return Problem(key, message, fix or "fix the value")


@dataclass(frozen=True)
class Access:
    """A validated access file: users by email (lower case) and default roles by email domain."""

    users: dict[str, User]
    domains: dict[str, str]


def parse_access(text: str, source: str = "access.yaml") -> Access:
    """Read an access file's text.

    Raises:
        AccessError: bad YAML, an unknown role, a csm without owners, a duplicate email, an unknown key … — every
            problem with its key and fix, e.g. ``access.yaml: users[1].role: unknown role 'boss' — use one of: …``.
    """
    try:
        raw = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise AccessError([Problem(where, f"not valid YAML ({getattr(exc, 'problem', exc)})",
                                   "check the indentation and quotes; see the example in the README")],
                          source) from None
    if not isinstance(raw, dict):
        raise AccessError([Problem("(file)", "the file is not a mapping", "start with `users:` and `domains:`")],
                          source)
    try:
        parsed = _AccessFile.model_validate(raw)
    except ValidationError as exc:
        raise AccessError([_problem(e) for e in exc.errors()], source) from None
    problems, users = [], {}
    for i, entry in enumerate(parsed.users):
        if entry.email in users:
            first = next(j for j, e in enumerate(parsed.users) if e.email == entry.email)
            problems.append(Problem(f"users[{i}].email", f"'{entry.email}' is listed twice (also users[{first}])",
                                    "keep one entry per email"))
            continue
        users[entry.email] = User(entry.email, entry.role, tuple(o.strip() for o in entry.owners if o.strip()))
    domains = {}
    for domain, role in parsed.domains.items():
        name = domain.strip().lstrip("@").casefold()
        if "." not in name:
            problems.append(Problem(f"domains.{domain}", f"'{domain}' is not an email domain",
                                    "write the part after @, e.g. acme.test"))
        domains[name] = role
    if problems:
        raise AccessError(problems, source)
    return Access(users, domains)


def access_path() -> Path:
    """The access file: ``$HSS_ACCESS`` or ``data/access.yaml``."""
    return Path(os.environ.get(ACCESS_ENV) or DEFAULT_ACCESS_PATH)


def load_access(path: Path | None = None) -> Access:
    """The access file at ``path`` (default :func:`access_path`); no file means nobody has a role yet.

    Raises:
        AccessError: the file has problems (see :func:`parse_access`) or cannot be read.
    """
    path = path or access_path()
    if not path.exists():
        return Access({}, {})
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AccessError([Problem("(file)", f"cannot be read ({exc})", "check the file's permissions and "
                                   "that it is UTF-8 text")], str(path)) from None
    return parse_access(text, str(path))


def resolve(access: Access, email: str) -> User:
    """The user for a signed-in email: their own entry, else their email domain's default role, else no role."""
    email = (email or "").strip().casefold()
    if email in access.users:
        return access.users[email]
    return User(email, access.domains.get(email.rpartition("@")[2]))


# -- a CSM's book ----------------------------------------------------------------------------------------------
def owner_column(roles: Roles) -> str | None:
    """The dataset's owner column: the segment column named like one (``csm_owner``, ``CS Rep`` …)."""
    return find_owner_column(roles.segments)


@dataclass(frozen=True)
class Scope:
    """Which accounts a user may read: every account (``accounts`` None), or a CSM's book.

    A book is the accounts whose owner column, on the account's latest snapshot, is one of the CSM's owner
    values (so an account handed over last month moves with it, history included). Scores that rank an account
    among its peers are computed on the whole portfolio first; a scope only filters what is shown.
    """

    accounts: frozenset[str] | None = None
    owners: tuple[str, ...] = ()
    owner_column: str | None = None

    @property
    def restricted(self) -> bool:
        return self.accounts is not None

    def allows(self, account_id: object) -> bool:
        """Whether the account is in scope (a direct URL or query parameter is checked with this)."""
        return self.accounts is None or str(account_id) in self.accounts

    def apply(self, frame: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
        """The rows of ``frame`` in scope — by its ``account_id`` column, else by its index (a Series keyed by
        account); the frame itself when unrestricted."""
        if self.accounts is None:
            return frame
        ids = frame["account_id"] if isinstance(frame, pd.DataFrame) and "account_id" in frame else frame.index
        return frame.loc[pd.Series(ids, index=frame.index).astype(str).isin(self.accounts).to_numpy()]

    def caption(self) -> str:
        """'Your book: Grace Liu (CS Rep) · 212 accounts' — for a CSM; empty when unrestricted."""
        if self.accounts is None:
            return ""
        where = f" ({self.owner_column})" if self.owner_column else " (this dataset has no owner column)"
        return f"Your book: {', '.join(self.owners)}{where} · {len(self.accounts):,} accounts"


def scope_for(user: User, data: pd.DataFrame, roles: Roles) -> Scope:
    """The scope of ``user`` in a dataset (its canonical table and roles): everything, except for a CSM —
    then the accounts whose owner (from the dataset's roles) on their latest snapshot is one of theirs. A CSM
    in a dataset without an owner column sees no account."""
    if user.role != "csm":
        return Scope()
    column = owner_column(roles)
    if column is None or data.empty:
        return Scope(frozenset(), user.owners, column)
    latest = data.loc[data.groupby("account_id", sort=False)["snapshot_date"].idxmax(), ["account_id", column]]
    wanted = {o.casefold() for o in user.owners}
    mine = latest[column].astype("string").str.strip().str.casefold().isin(wanted).fillna(False).to_numpy(bool)
    return Scope(frozenset(latest["account_id"].astype(str)[mine]), user.owners, column)
