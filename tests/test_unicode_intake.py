"""Intake with arbitrary Unicode (issue 14, point 7): any text in any field is a 200 or a clean 4xx, never a 500.

hypothesis writes the records: every field of the record contract any text at all
(control characters, combining marks, emoji, right-to-left, lone surrogates, very
long strings) or missing. Whatever it sends, the service answers in the one error
shape or stores the record, and a refused one leaves nothing behind.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from api import create_app
from mpi.records.fields import DEMOGRAPHIC_FIELDS
from referral_network import clock, net_services, network, referral_body  # noqa: F401  (fixtures)

SHAPE = {"code", "status", "message", "errors"}
_TEXT = st.one_of(st.none(), st.text(max_size=300), st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
                  st.sampled_from(["", " ", "\n", "\x00", "\u202e", "\ud800", "👩‍⚕️", "Ａｎａ", "é" * 2000]))
#: Names as people have them, in many scripts, to mix with arbitrary text.
_NAMES = st.sampled_from(["José", "Nguyễn", "O'Brien", "Zoë", "李", "Мария", "محمد", "Ａｎａ", "Anne-Marie", "ÆSA",
                          "Dvořák", "İsmail", "Þór", "Chloé", "Łukasz", "Søren", "María José", "D'Angelo"])
_NAME = st.one_of(_NAMES, _NAMES.flatmap(lambda n: _TEXT.map(lambda t: n + (t or ""))), _TEXT)
# Fields the contract checks strictly get a valid value most often, so that records get through to
# normalisation and matching with their free text (names, addresses, phones) anything at all.
_STRICT = {
    "birth_date": st.one_of(st.dates(date(1900, 1, 1), date(2025, 12, 31)).map(date.isoformat), _TEXT),
    "sex": st.one_of(st.sampled_from(["F", "M", "U"]), _TEXT),
    "ssn_last4": st.one_of(st.from_regex(r"\d{4}", fullmatch=True), _TEXT),
    "middle_name": _NAME,
}
_RECORDS = st.fixed_dictionaries(
    {"source_record_id": st.one_of(st.from_regex(r"[A-Z0-9-]{1,20}", fullmatch=True), st.text(min_size=1, max_size=40)),
     "first_name": _NAME, "last_name": _NAME},
    optional={f: _STRICT.get(f, _TEXT) for f in DEMOGRAPHIC_FIELDS if f not in ("first_name", "last_name")})
pytestmark = pytest.mark.slow  # 240 requests over the app: about 30 s, left to `make test`

_SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _stored(services) -> tuple[int, int, int]:
    return tuple(services.store.db.one(f"SELECT count(*) FROM {t}")[0]
                 for t in ("source_records", "persons", "referrals"))


def _answered_cleanly(response) -> dict:
    event(f"answered {response.status_code}")  # the spread shows in --hypothesis-show-statistics
    if response.status_code == 422:
        event("refused " + ",".join(sorted(response.get_json()["errors"]))[:60])
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body is not None, "every answer is JSON"
    if response.status_code >= 400:
        assert set(body) == SHAPE and body["status"] == response.status_code
        assert all(isinstance(v, list) for v in body["errors"].values())
    return body


@_SETTINGS
@given(sent=_RECORDS)
def test_any_text_in_a_record_is_stored_or_refused_cleanly(net_services, network, sent):
    client = create_app(services=net_services).test_client()
    before = _stored(net_services)

    response = client.post("/v1/records", json={"source_system": "st-marys-ehr", **sent},
                           headers=network.headers["hub-stmarys"])

    body = _answered_cleanly(response)
    if response.status_code >= 400:
        assert _stored(net_services) == before, "a refused record leaves nothing behind"
    else:
        assert body["person_id"] or body["review_case_id"]


@_SETTINGS
@given(person=_RECORDS, reason=st.one_of(st.just("food insecurity after discharge"), _NAME, _TEXT),
       note=st.one_of(st.none(), _TEXT))
def test_any_text_in_a_referral_is_received_or_refused_cleanly(net_services, network, person, reason, note):
    client = create_app(services=net_services).test_client()
    before = _stored(net_services)
    body = referral_body(ref=f"U-{before[2]}", person={"source_system": "st-marys-ehr", **person},
                         reason=reason, risk_flags=[note] if note else [])

    response = client.post("/v1/referrals", json=body, headers=network.headers["hub-stmarys"])

    answered = _answered_cleanly(response)
    if response.status_code >= 400:
        assert _stored(net_services)[2] == before[2], "a refused referral leaves no referral"
    else:
        assert answered["state"] == "submitted"

