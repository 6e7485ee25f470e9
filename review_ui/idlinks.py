"""Every id a page shows is a link to where a steward reads it: the ``ids`` template filter.

Persons (``MPI…``), review cases (``RC…``), referrals (``RF…``) and dedup runs
(``DR…``) open their own pages; merges (``MG…``), record keys (``system/id``)
and anything else the audit log names open the audit log filtered to that id.
A text is escaped first and only the ids in it become links, so a flash message,
a history line or an audit detail can be passed through as it is.
"""

from __future__ import annotations

import re
from typing import Any

from flask import url_for
from markupsafe import Markup, escape

#: An id and the page that shows it: (pattern, endpoint, view argument or None for the audit filter).
_KINDS: tuple[tuple[str, str, str | None], ...] = (
    (r"MPI\d+", "review_ui.person", "person_id"),
    (r"RC\d+", "review_ui.case", "case_id"),
    (r"RF\d+", "review_ui.referral", "referral_id"),
    (r"DR\d+", "review_ui.dedup_run", "run_id"),
    (r"MG\d+", "review_ui.audit", None),
)
_ID = re.compile(r"\b(" + "|".join(f"(?:{p})" for p, _, _ in _KINDS) + r")\b")
_COMPILED = tuple((re.compile(rf"{p}\Z"), endpoint, arg) for p, endpoint, arg in _KINDS)


def url_of(value: str) -> str | None:
    """The page of one id, or None when it is no id this UI knows."""
    for pattern, endpoint, arg in _COMPILED:
        if pattern.match(value):
            return url_for(endpoint, **{arg: value}) if arg else url_for(endpoint, entity_id=value)
    return None


def record_url(source_system: str, source_record_id: str) -> str:
    """A record key's page: the audit log of that record (everything that happened to it)."""
    return url_for("review_ui.audit", entity_id=f"{source_system}/{source_record_id}")


def linked(value: Any) -> Markup:
    """``value`` as text with every id in it a link (escaped; anything not an id stays text)."""
    text = str(escape("" if value is None else value))
    return Markup(_ID.sub(lambda m: f'<a href="{url_of(m.group(1))}">{m.group(1)}</a>', text))


def is_id(value: Any) -> bool:
    """Whether ``value`` is one id this UI has a page for (a person, case, referral, run or merge)."""
    return isinstance(value, str) and any(p.match(value) for p, _, _ in _COMPILED)


def entity(value: Any) -> Markup:
    """One entity id as a link: a known id to its page, a record key (``system/id``) to its audit log."""
    text = "" if value is None else str(value)
    if is_id(text):
        return linked(text)
    if "/" in text:
        system, _, record_id = text.partition("/")
        return Markup(f'<a href="{escape(record_url(system, record_id))}">{escape(text)}</a>')
    return Markup(escape(text))
