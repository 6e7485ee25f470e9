"""The search page (``/review/search``): one box (and optional fields) to find persons, ranked and paged.

It calls the same search as ``GET /v1/persons`` (``services.search``). Each result links to its
person's page; two ticked results are compared by ``/review/compare?a=..&b=..``. The query is
patient data: nothing here logs it (the access log records the persons the page shows, by id).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, redirect, render_template, request

from mpi.errors import ValidationError
from mpi.identity.search import Criteria
from review_ui.blueprint import bp

PER_PAGE = 20
#: The optional fields under the box, as (parameter, label).
FIELDS = (("name", "Name"), ("birth_date", "Birth date"), ("phone", "Phone"), ("email", "Email"),
          ("identifier", "Medicaid id or SSN last 4"), ("postal_code", "ZIP"),
          ("source_system", "Source system"), ("source_record_id", "Record id"), ("person_id", "Person id"))


#: Where two persons are compared (the compare page's own route).
COMPARE = "/review/compare"


@bp.get("/search")
def search():
    """Persons found by what the box and fields say; an empty form shows the form alone."""
    return _search_page()


@bp.get("/search/compare")
def search_compare():
    """The two persons ticked, to the compare page (``/review/compare?a=..&b=..``); else the search again,
    saying to tick two. A form's checkboxes cannot name themselves ``a`` and ``b`` without a script,
    and the review pages run none (their Content-Security-Policy)."""
    chosen = list(dict.fromkeys(p.strip() for p in request.args.getlist("person") if p.strip()))
    if len(chosen) == 2:
        return redirect(f"{COMPARE}?{urlencode({'a': chosen[0], 'b': chosen[1]})}", 303)
    # The results again, with the notice: a 200, since the access log records the persons of a page answered
    # below 400 only, and this page shows them.
    return _search_page(f"tick two persons to compare ({len(chosen)} ticked)")


def _search_page(notice: str | None = None):
    args = {k: (request.args.get(k) or "").strip()[:200] for k, _ in (("q", ""), *FIELDS)}
    try:
        page = max(int(request.args.get("page", "1")), 1)
    except ValueError:
        page = 1
    result, errors = None, {}
    if any(args.values()):
        q = args.pop("q")
        extra = {k: v or None for k, v in args.items()}
        criteria = Criteria.from_text(q, **extra) if q else Criteria(**extra)
        args["q"] = q
        try:
            result = current_app.extensions["mpi"].search.search(criteria, page, PER_PAGE)
        except ValidationError as e:
            errors = e.errors
    status = 422 if errors else 200
    return render_template("search.html", args=args, fields=FIELDS, result=result, errors=errors, notice=notice,
                           page=page, per_page=PER_PAGE, more_open=any(args.get(k) for k, _ in FIELDS)), status
