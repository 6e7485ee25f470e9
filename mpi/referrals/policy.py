"""The network's referral policy: the minimum data set and the time targets, a plain spec compiled once.

The spec is JSON (``MPI_REFERRAL_POLICY`` names the file; ``policy.json`` beside
this module is the default), validated with every problem reported together and
compiled into a frozen :class:`ReferralPolicy`:

- ``minimum_data_set``: rules ``{"when": {"urgency": ..., "service_type": ...}, "fields": [...]}``;
  a referral must carry every field of every rule whose ``when`` it matches (an
  empty ``when`` matches all). A field is a referral field (``consent``,
  ``reason``, ``service_address``, ``requester_contact``, ``risk_flags``), a part of
  one (``requester_contact.phone``, ``service_address.postal_code``) or a field of
  the person's record (``person.birth_date``).
- ``time_targets``: per urgency, business hours to acknowledge, to triage, to first
  contact, and after which a referral never acknowledged expires;
  ``service_type_targets`` overrides some of them per service type and urgency.
- ``remind_before``: the share of a target left when its reminder goes out.
- ``sensitive_service_types``: service types of a sensitive domain (behavioral health,
  substance use, HIV, ...): without the person's consent, a referral's ``reason`` is not
  shown to its performer (:mod:`mpi.referrals.disclosure`).

:func:`missing_fields` is the one check of the minimum data set: intake refuses a
referral it finds wanting (422 naming every missing field), and the exchange will
keep such referrals in a recovery queue.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpi.errors import ValidationError
from mpi.records.fields import RECORD_FIELDS
from mpi.referral_vocab import Urgency
from mpi.referrals.lifecycle import Clock

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.json")
_TARGET_KEYS = {"acknowledge_hours": Clock.ACKNOWLEDGE, "triage_hours": Clock.TRIAGE,
                "first_contact_hours": Clock.FIRST_CONTACT, "expire_after_hours": Clock.EXPIRY}
_PARTS = {"requester_contact": ("name", "phone", "email"),
          "service_address": ("address_line1", "address_line2", "city", "state", "postal_code")}
_TOP = ("consent", "reason", "service_address", "requester_contact", "risk_flags")
#: Every field a minimum-data-set rule may require.
KNOWN_FIELDS = frozenset(_TOP) | {f"{top}.{part}" for top, parts in _PARTS.items() for part in parts} | {
    f"person.{f}" for f in RECORD_FIELDS}


@dataclass(frozen=True)
class Rule:
    """One rule of the minimum data set."""

    urgency: str | None
    service_type: str | None
    fields: tuple[str, ...]

    def applies(self, urgency: str, service_type: str) -> bool:
        return self.urgency in (None, urgency) and self.service_type in (None, service_type)


@dataclass(frozen=True)
class ReferralPolicy:
    """The compiled policy (see the module docstring)."""

    version: str
    rules: tuple[Rule, ...]
    targets: Mapping[str, Mapping[Clock, float]]
    service_type_targets: Mapping[tuple[str, str], Mapping[Clock, float]]
    remind_before: float
    sensitive_service_types: frozenset[str] = frozenset()

    @classmethod
    def load(cls, path: str | Path | None = None) -> ReferralPolicy:
        """The policy in a JSON file (the shipped default without one).

        Raises:
            ValidationError: an unreadable file, or a spec with problems (all named).
        """
        path = Path(path) if path else DEFAULT_POLICY_PATH
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValidationError(f"cannot read the referral policy {path}: {type(e).__name__}",
                                  {"MPI_REFERRAL_POLICY": ["a readable JSON file"]}) from None
        return cls.from_spec(spec)

    @classmethod
    def from_spec(cls, spec: Any) -> ReferralPolicy:
        """Validate a spec, every problem reported together by its path, and compile it."""
        errors: dict[str, list[str]] = {}
        if not isinstance(spec, Mapping):
            raise ValidationError("the referral policy must be an object", {"policy": ["must be an object"]})
        unknown = set(spec) - {"version", "minimum_data_set", "time_targets", "service_type_targets",
                               "remind_before", "sensitive_service_types"}
        for key in sorted(unknown):
            errors[key] = ["unknown key"]
        version = spec.get("version")
        if not isinstance(version, str) or not version:
            errors["version"] = ["required: a name for this version of the policy"]
        rules = _rules(spec.get("minimum_data_set", []), errors)
        targets = {}
        raw = spec.get("time_targets")
        if not isinstance(raw, Mapping) or set(raw) != {u.value for u in Urgency}:
            errors["time_targets"] = [f"one entry per urgency: {', '.join(u.value for u in Urgency)}"]
        else:
            for urgency, entry in raw.items():
                targets[urgency] = _targets(entry, f"time_targets.{urgency}", errors, complete=True)
        overrides = {}
        for service_type, by_urgency in (spec.get("service_type_targets") or {}).items():
            for urgency, entry in (by_urgency or {}).items():
                path = f"service_type_targets.{service_type}.{urgency}"
                if urgency not in {u.value for u in Urgency}:
                    errors[path] = ["not an urgency"]
                    continue
                overrides[(service_type, urgency)] = _targets(entry, path, errors, complete=False)
        remind = spec.get("remind_before", 0.25)
        if isinstance(remind, bool) or not isinstance(remind, (int, float)) or not 0 <= remind < 1:
            errors["remind_before"] = ["a share of the target from 0 up to (not including) 1"]
        sensitive = spec.get("sensitive_service_types", [])
        if not isinstance(sensitive, list) or not all(isinstance(t, str) and t for t in sensitive):
            errors["sensitive_service_types"] = ["a list of service type codes"]
            sensitive = []
        if errors:
            raise ValidationError(f"invalid referral policy: {', '.join(sorted(errors))}", errors)
        return cls(version, tuple(rules), targets, overrides, float(remind), frozenset(sensitive))

    def target_seconds(self, urgency: str, service_type: str, clock: Clock) -> float:
        """A clock's target in business seconds for a referral of this urgency and service type."""
        override = self.service_type_targets.get((service_type, urgency), {})
        return override.get(clock, self.targets[urgency][clock])

    def required_fields(self, urgency: str, service_type: str) -> list[str]:
        """Every field the minimum data set asks of such a referral, in rule order."""
        return list(dict.fromkeys(f for r in self.rules if r.applies(urgency, service_type) for f in r.fields))


class IncompleteReferral(ValidationError):
    """A referral without every field its minimum data set asks for (each named)."""

    code = "minimum_data_set"


def check_complete(referral: Mapping[str, Any], policy: ReferralPolicy) -> None:
    """Raise :class:`IncompleteReferral` naming every field of the minimum data set a referral lacks."""
    missing = missing_fields(referral, policy)
    if missing:
        raise IncompleteReferral(f"the referral lacks its minimum data set: {', '.join(missing)}",
                                 {name: ["required for this service type and urgency"] for name in missing})


def missing_fields(referral: Mapping[str, Any], policy: ReferralPolicy) -> list[str]:
    """The fields of the minimum data set a referral lacks (empty: complete). The one check, wherever it runs."""
    missing = []
    for name in policy.required_fields(str(referral.get("urgency")), str(referral.get("service_type"))):
        top, _, part = name.partition(".")
        value = referral.get(top)
        if part:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None or (isinstance(value, str) and not value.strip()) or (
                isinstance(value, (list, dict)) and not value):
            missing.append(name)
    return missing


def _rules(raw: Any, errors: dict[str, list[str]]) -> list[Rule]:
    if not isinstance(raw, list):
        errors["minimum_data_set"] = ["a list of rules {when, fields}"]
        return []
    rules = []
    for i, rule in enumerate(raw):
        path = f"minimum_data_set.{i}"
        if not isinstance(rule, Mapping) or set(rule) - {"when", "fields"}:
            errors[path] = ["a rule is {when: {urgency?, service_type?}, fields: [...]}"]
            continue
        when = rule.get("when") or {}
        fields = rule.get("fields")
        if not isinstance(when, Mapping) or set(when) - {"urgency", "service_type"}:
            errors[f"{path}.when"] = ["may name urgency and service_type only"]
            continue
        if when.get("urgency") is not None and when["urgency"] not in {u.value for u in Urgency}:
            errors[f"{path}.when.urgency"] = ["not an urgency"]
        if not isinstance(fields, list) or not fields or not all(f in KNOWN_FIELDS for f in fields):
            errors[f"{path}.fields"] = ["a list of referral fields (consent, service_address, "
                                        "requester_contact.phone, person.birth_date, ...)"]
            continue
        rules.append(Rule(when.get("urgency"), when.get("service_type"), tuple(fields)))
    return rules


def _targets(entry: Any, path: str, errors: dict[str, list[str]], complete: bool) -> dict[Clock, float]:
    if not isinstance(entry, Mapping) or set(entry) - set(_TARGET_KEYS) or (complete and set(entry) != set(
            _TARGET_KEYS)):
        errors[path] = [f"{'all of' if complete else 'some of'} {', '.join(_TARGET_KEYS)}"]
        return {}
    out = {}
    for key, clock in _TARGET_KEYS.items():
        if key not in entry:
            continue
        hours = entry[key]
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0:
            errors[f"{path}.{key}"] = ["a positive number of business hours"]
            continue
        out[clock] = float(hours) * 3600
    return out
