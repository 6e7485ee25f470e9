"""One exception tree for the core, mapped to HTTP and CLI errors at the edges.

Messages name fields and ids, never values: a person's name or birth date must
never reach a log line or an error response.
"""


from collections.abc import Mapping
from typing import Any


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested error messages (marshmallow's) as one list per dotted field path (``person.birth_date``).

    A list's items are named by the list's field (``state``, not ``state.0``): the field is what the
    caller fixes.
    """
    if not isinstance(messages, Mapping):
        items = messages if isinstance(messages, list) else [messages]
        return {prefix or "_schema": [str(m) for m in items]}
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        path = prefix if isinstance(key, int) and prefix else (f"{prefix}.{key}" if prefix else str(key))
        for name, problems in (flatten(value, path) if isinstance(value, Mapping) else {
                path: [str(m) for m in (value if isinstance(value, list) else [value])]}).items():
            out.setdefault(name, []).extend(p for p in problems if p not in out.get(name, []))
    return out


class MpiError(Exception):
    """Root of every error the core raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationError(MpiError):
    """Input that breaks the record contract; ``errors`` names every bad field."""

    status = 422
    code = "validation_error"


class ReplayRefused(ValidationError):
    """A corrected body replayed from the inbound exception queue that the intake refused again (the exception
    stays open). Which schema it answers to follows the kept exception's kind, a referral or a status update."""

    code = "replay_refused"


class NotFound(MpiError):
    """A person, record, case or model that does not exist."""

    status = 404
    code = "not_found"


class Conflict(MpiError):
    """A change that collides with the current state (stale version, wrong state)."""

    status = 409
    code = "conflict"


class Forbidden(MpiError):
    """A known caller whose role does not allow the action (a hub working review cases or merging persons)."""

    status = 403
    code = "forbidden"


class ModelError(MpiError):
    """A matching model or policy that is missing, unreadable or inconsistent."""

    status = 503
    code = "model_unavailable"


class StoreError(MpiError):
    """The store failed; wraps the backend's own error once, with context."""

    status = 500
    code = "store_error"


class StoreLocked(StoreError):
    """Another process (a running ``mpi serve``) holds the store file's lock; ``pid`` names it when DuckDB says."""

    status = 503
    code = "store_locked"

    def __init__(self, message: str, path: str, pid: int | None = None):
        super().__init__(message)
        self.path = path
        self.pid = pid


class WorkerDied(MpiError):
    """A worker process stopped before answering its chunk (killed, say for memory): a bulk command stops."""

    status = 500
    code = "worker_died"


class Unauthorized(MpiError):
    """A request without a known caller: every read or change must be attributable."""

    status = 401
    code = "unauthorized"


class BadRequest(MpiError):
    """A request the service cannot read as sent (an unknown purpose-of-use code in its header)."""

    status = 400
    code = "bad_request"
