"""The benchmark's referral network: its organisations, what they are asked for, and how often they answer.

Thirteen organisations around Atlanta (three hospitals, two health plans, eight
community organisations) with their service types, supervisors and business
calendars (time zones, opening hours, public holidays), the share of each service
asked for, and the organisation that sends referrals for each source system of the
generated person store (``mpi.synth``). ``bench/bulk_referrals.py`` writes them into
the store and ``bench/referrals.py`` sends referrals as them. (The tests' own small
network is ``tests/referral_network.py``, hence this name.)
"""

from __future__ import annotations

from typing import Any

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
_ALL_DAYS = (*_WEEKDAYS, "sat", "sun")
_GA_HOLIDAYS = {"country": "US", "subdivision": "GA"}


def _cal(zone: str, hours: dict, holidays: dict | None = _GA_HOLIDAYS) -> dict:
    return {"timezone": zone, "hours": hours, "holidays": holidays}


_OFFICE = {d: "09:00-17:00" for d in _WEEKDAYS}
#: The network: code, kind, service types, calendar, supervisors, and the source system of its records.
ORGANISATIONS: tuple[dict[str, Any], ...] = (
    {"code": "st-marys", "name": "St Mary's Hospital", "kind": "hospital", "service_types": [],
     "calendar": _cal("America/New_York", {d: "00:00-24:00" for d in _ALL_DAYS}, None),
     "supervisors": ["sm-discharge-lead"], "source": "st-marys-ehr"},
    {"code": "county-general", "name": "County General Hospital", "kind": "hospital", "service_types": [],
     "calendar": _cal("America/New_York", {d: "00:00-24:00" for d in _ALL_DAYS}, None),
     "supervisors": ["cg-case-mgmt"], "source": "county-general-ehr"},
    {"code": "eastside-medical", "name": "Eastside Medical Center", "kind": "hospital", "service_types": [],
     "calendar": _cal("America/New_York", {**{d: "07:00-21:00" for d in _WEEKDAYS}, "sat": "08:00-16:00"}),
     "supervisors": ["em-social-work"], "source": "fqhc-eastside"},
    {"code": "bluepath", "name": "BluePath Health Plan", "kind": "mco", "service_types": ["care-management"],
     "calendar": _cal("America/New_York", {d: "08:00-18:00" for d in _WEEKDAYS}),
     "supervisors": ["bp-cm-supervisor"], "source": "bluepath-mco"},
    {"code": "peachstate", "name": "Peach State Health Plan", "kind": "mco", "service_types": ["care-management"],
     "calendar": _cal("America/New_York", {**{d: "08:00-20:00" for d in _WEEKDAYS}, "sat": "09:00-13:00"}),
     "supervisors": ["ps-cm-supervisor"], "source": None},
    {"code": "metro-foodbank", "name": "Metro Food Bank", "kind": "cbo", "service_types": ["food", "home-meals"],
     "calendar": _cal("America/New_York", _OFFICE), "supervisors": ["mf-director"], "source": "foodbank-cbo"},
    {"code": "housing-first", "name": "Housing First Atlanta", "kind": "cbo", "service_types": ["housing"],
     "calendar": _cal("America/New_York", _OFFICE), "supervisors": ["hf-director"], "source": "housing-first-cbo"},
    {"code": "homebase", "name": "HomeBase Housing", "kind": "cbo", "service_types": ["housing", "utilities"],
     "calendar": _cal("America/New_York", {d: "08:30-16:30" for d in _WEEKDAYS}),
     "supervisors": ["hb-manager"], "source": None},
    {"code": "westside-pantry", "name": "Westside Pantry", "kind": "cbo", "service_types": ["food"],
     "calendar": _cal("America/New_York", {d: "10:00-16:00" for d in ("tue", "wed", "thu", "fri", "sat")}),
     "supervisors": ["wp-coordinator"], "source": None},
    {"code": "senior-meals", "name": "Senior Meals on Wheels", "kind": "cbo", "service_types": ["food", "home-meals"],
     "calendar": _cal("America/New_York", {d: "08:00-15:00" for d in _WEEKDAYS}),
     "supervisors": ["smw-director"], "source": None},
    {"code": "care-transit", "name": "CareTransit", "kind": "cbo", "service_types": ["transportation"],
     "calendar": _cal("America/Chicago", {**{d: "06:00-19:00" for d in _WEEKDAYS}, "sat": "08:00-14:00"},
                      {"country": "US", "subdivision": None}),
     "supervisors": ["ct-dispatch-lead"], "source": None},
    {"code": "legal-aid", "name": "Atlanta Legal Aid", "kind": "cbo", "service_types": ["legal"],
     "calendar": _cal("America/New_York", _OFFICE), "supervisors": ["la-intake-lead"], "source": None},
    {"code": "workforce-connect", "name": "Workforce Connect", "kind": "cbo",
     "service_types": ["employment", "utilities"],
     "calendar": _cal("America/New_York", _OFFICE), "supervisors": ["wc-manager"], "source": None},
)
BY_CODE = {o["code"]: o for o in ORGANISATIONS}
#: The organisation that sends referrals for the records of a source system.
SOURCE_ORG = {o["source"]: o["code"] for o in ORGANISATIONS if o["source"]}
#: What is asked for, with its share of referrals.
SERVICE_MIX = {"food": 0.30, "housing": 0.14, "home-meals": 0.10, "transportation": 0.14, "care-management": 0.14,
               "utilities": 0.08, "legal": 0.05, "employment": 0.05}
PERFORMERS = {s: tuple(o["code"] for o in ORGANISATIONS if s in o["service_types"]) for s in SERVICE_MIX}
REASONS = {"food": "food insecurity", "housing": "unstably housed", "home-meals": "cannot shop or cook after discharge",
           "transportation": "no transport to appointments", "care-management": "complex needs, frequent admissions",
           "utilities": "utility shut-off notice", "legal": "eviction notice", "employment": "lost job"}
#: Share of referrals a performer never answers (they expire): one pantry is overwhelmed.
NO_RESPONSE = {"westside-pantry": 0.20}
NO_RESPONSE_DEFAULT = 0.04


def hub(org: str) -> str:
    """The name of an organisation's hub user (``bench/referrals.py`` issues their tokens)."""
    return f"bench-hub-{org}"
