"""Guarded case actions: a reason, the case version the steward saw, and a state that allows the action.

Every steward action on a case runs inside :func:`acting`: its reason is
required, and under the writer lock the case is read and its version and state
checked before anything is written, so a refused action writes (and rolls back)
nothing, and two stewards acting on one case never overwrite each other (the
second gets a ``Conflict``). The block opens its own store transaction for its
writes once the checks have passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mpi.errors import Conflict, ValidationError
from mpi.vocab import AuditAction, CaseState, EntityType

if TYPE_CHECKING:
    from mpi.stewardship.queue import CaseQueue
    from mpi.store import Store


def user_name(actor: str) -> str:
    """The user name of an actor (``user:alice`` -> ``alice``): what a case's owner holds."""
    return actor.split(":", 1)[1] if actor.startswith("user:") else actor


def require_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("every review action needs a reason", {"reason": ["required: say why"]})
    return reason.strip()


def require_version(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationError("the case version you saw is required", {"version": ["required: an integer"]})
    return version


def acting(reads: CaseQueue, case_id: str, reason: Any, expected_version: Any, allowed: Iterable[CaseState],
           optional: bool = False) -> Acting:
    """Check an action's reason, then (under the writer lock, on entering) the case's version and state.

    ``optional`` lets a system caller pass no version (a referral tracker updating what a case blocks).
    """
    require_reason(reason)
    expected = None if optional and expected_version is None else require_version(expected_version)
    return Acting(reads, case_id, expected, tuple(s.value for s in allowed))


class Acting:
    """``with``-block of one case action: the writer lock held, the case read, its version and state checked.

    The block opens its own ``store.transaction()`` for its writes once its own
    checks have passed.
    """

    def __init__(self, reads: CaseQueue, case_id: str, expected: int | None, allowed: tuple[str, ...]):
        self.reads, self.case_id, self.expected, self.allowed = reads, case_id, expected, allowed
        self._lock = reads.store.serialised()

    def __enter__(self) -> dict:
        self._lock.__enter__()
        try:
            case = self.reads.case(self.case_id)
            if self.expected is not None and case["version"] != self.expected:
                raise Conflict(f"review case {self.case_id} is at version {case['version']}, not "
                               f"{self.expected}: someone else acted on it; reload it",
                               {"version": [f"stale: the case is at version {case['version']}"]})
            if case["state"] not in self.allowed:
                raise Conflict(f"review case {self.case_id} is {case['state']}: not possible now",
                               {"state": [f"must be one of {', '.join(self.allowed)}"]})
            return case
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise

    def __exit__(self, *exc) -> bool | None:
        return self._lock.__exit__(*exc)


def change(store: Store, case: dict, actor: str, action: AuditAction, reason: str, detail: dict,
           **changes: Any) -> None:
    """Apply a change to the case under its version check and audit it; leaving ``on_hold`` ends the hold.

    The audit detail names the case's record (if it has one), its state after the change and its new version,
    which ``case`` then carries too. Every service acting on cases writes through this one step.
    """
    version = store.cases.update(case["case_id"], case["version"], **changes)
    if case["state"] == CaseState.ON_HOLD.value and changes.get("state", case["state"]) != case["state"]:
        store.cases.release_hold(case["case_id"], actor)
    record = f"{case['source_system']}/{case['source_record_id']}" if case["source_system"] is not None else None
    store.audit.append(actor, action, EntityType.REVIEW_CASE, case["case_id"], reason.strip(),
                       {"record": record, **detail, "state": changes.get("state", case["state"]), "version": version})
    case["version"] = version
