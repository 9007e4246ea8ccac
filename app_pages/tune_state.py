"""Tune page state: one :class:`Draft` owns the draft model, and :func:`key` makes every Tune widget key.

Not a page (app.py registers pages explicitly). The draft lives in session state as its YAML, the problems an
edit left beside the control that made it, and a revision number. Controls bound to the draft take their value
from it and carry the revision in their keys, so replacing the draft (revert, upload, a structural edit, a
refused edit) starts a new revision: every control is then new and reads the draft again, and no widget key
ever holds a copy of the draft that would need clearing.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import streamlit as st

from lib.engine.model import Model, parse_model
from lib.views.tuning import EditResult

Parts = tuple[object, ...]  # what names a control: usually the model key it edits, as parts


def key(*parts: object, revision: int | None = None) -> str:
    """The widget key for a Tune control named by ``parts`` (JSON-encoded, so names with dots, quotes or emoji
    can never make two keys one); ``revision`` for a control bound to the draft (see :class:`Draft`)."""
    at = "" if revision is None else f"@{revision}"
    return f"tune{at}:" + json.dumps([str(p) for p in parts], ensure_ascii=False)


class Draft:
    """The Tune draft in session state: its YAML, the problems beside a control, and its revision."""

    YAML, REVISION, ERRORS = "tune.draft", "tune.revision", "tune.errors"

    def __init__(self, state: MutableMapping[str, Any] | None = None) -> None:
        self._state = st.session_state if state is None else state

    @property
    def yaml(self) -> str:
        """The draft model's YAML text."""
        return self._state[self.YAML]

    @property
    def model(self) -> Model:
        """The draft as a model (parsing is memoised by text)."""
        return parse_model(self.yaml, source="draft")

    @property
    def revision(self) -> int:
        """Which version of the draft the controls show; a new one makes every bound control read it again."""
        return int(self._state.get(self.REVISION, 0))

    def key(self, *parts: object) -> str:
        """The widget key of a control bound to the draft at this revision."""
        return key(*parts, revision=self.revision)

    def value(self, *parts: object) -> Any:
        """What the bound control named by ``parts`` holds now (read in its callback)."""
        return self._state[self.key(*parts)]

    def replace(self, yaml_text: str) -> None:
        """Make ``yaml_text`` the draft: no problems shown, and every bound control reads it afresh."""
        self._state[self.YAML] = yaml_text
        self._state[self.ERRORS] = {}
        self._state[self.REVISION] = self.revision + 1

    def take(self, control: Parts, result: EditResult, shown: bool = False) -> bool:
        """Keep an edit's result; True when it was made.

        Made: the new draft (with ``shown``, the control already shows the value it set, so no control needs
        to re-read it; otherwise every control does). Refused: the draft stays, the problems go beside
        ``control``, and every control re-reads the draft, which puts the one that made the edit back.
        """
        if result.ok and shown:
            self._state[self.YAML] = result.yaml
            self._state[self.ERRORS] = {}
        else:
            self.replace(result.yaml)
            if not result.ok:
                self._state[self.ERRORS] = {key(*control): result.problems}
        return result.ok

    def problems(self, *control: object) -> tuple[str, ...]:
        """The problems the last edit left beside ``control`` ("key: problem — fix" lines)."""
        return tuple(self._state.get(self.ERRORS, {}).get(key(*control), ()))
