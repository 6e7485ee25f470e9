"""The access log page (``/review/access``): who read or changed which persons, records, cases and referrals.

Open to auditors (who sign in to this page only) and admins. The same filters as
``GET /v1/audit`` (actor, organisation, role, purpose, entity type and id, action,
a time range), newest first a page at a time. Events carry ids only.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app, render_template, request

from mpi.access_vocab import AccessAction, PurposeOfUse
from mpi.vocab import EntityType, Role
from review_ui.blueprint import bp
from review_ui.signin import open_to

ACCESS_PAGE = 50
#: The filters the page takes, as text fields (the choices are the vocabulary's words).
TEXT_FILTERS = ("actor", "organisation", "entity_id")
CHOICE_FILTERS = {
    "role": tuple(r.value for r in Role),
    "purpose": tuple(p.value for p in PurposeOfUse),
    "entity_type": tuple(e.value for e in EntityType),
    "action": tuple(a.value for a in AccessAction),
}
TIME_FILTERS = ("since", "until")


def _instant(text: str) -> datetime | None:
    """A date or date-time typed in a filter (UTC unless it says otherwise); None if it is neither."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def page_filters(args) -> tuple[dict[str, str], dict, list[str]]:
    """The filters as typed, as the store takes them, and the names of those that could not be read."""
    shown = {name: (args.get(name) or "").strip() for name in (*TEXT_FILTERS, *CHOICE_FILTERS, *TIME_FILTERS)}
    store: dict = {}
    invalid = []
    for name, value in shown.items():
        if not value:
            continue
        if name in CHOICE_FILTERS and value not in CHOICE_FILTERS[name]:
            invalid.append(name)
        elif name in TIME_FILTERS:
            store[name] = _instant(value)
            if store[name] is None:
                invalid.append(name)
        else:
            store[name] = value
    if store.get("actor") and ":" not in store["actor"]:
        store["actor"] = f"user:{store['actor']}"
    return shown, store, invalid


@bp.get("/access")
@open_to(Role.AUDITOR, Role.ADMIN)
def access():
    """The access log, newest first, a page at a time, with the API's filters."""
    shown, filters, invalid = page_filters(request.args)
    try:
        before = max(int(request.args.get("before", "")), 1)
    except ValueError:
        before = None
    if invalid:
        result = {"events": [], "older": None, "total": 0}
    else:
        result = current_app.extensions["mpi"].store.access.page(before=before, limit=ACCESS_PAGE, **filters)
    return render_template("access.html", result=result, filters=shown, choices=CHOICE_FILTERS, before=before,
                           invalid=invalid), 422 if invalid else 200
