"""The ``api_keys`` table: keys of an organisation's systems, each with a role, kept as the hash of their secret.

The caller behind a key is looked up on every request, so known keys are kept
in the store's cache of small reads; creating or revoking a key is a write that
clears that cache (users' tokens with it), so a revoked key is refused at once;
over a store several instances share, the others drop theirs within a couple of
seconds (``generations.py``).
"""

from __future__ import annotations

from datetime import datetime

from mpi.store.columns import API_KEYS, select
from mpi.store.database import Database


class KeyTable:
    """The API keys of one store, by key id."""

    def __init__(self, db: Database):
        self._db = db

    def add(self, key_id: str, organisation: str, role: str, key_hash: str, created_by: str,
            expires_at: datetime | None) -> dict:
        """Store a new key (in its own transaction, or joining the caller's); returns it as :meth:`get` does."""
        with self._db.transaction():
            self._db.cached_write("api_keys")
            self._db.execute("INSERT INTO api_keys (key_id, organisation, role, key_hash, created_at, created_by, "
                             "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [key_id, organisation, role, key_hash, self._db.now(), created_by, expires_at])
            return self.get(key_id)

    def get(self, key_id: str) -> dict | None:
        """One key (never its hash), or None."""
        row = self._db.one(f"SELECT {select(API_KEYS)} FROM api_keys WHERE key_id = ?", [key_id])
        return dict(zip(API_KEYS, row)) if row else None

    def all(self) -> list[dict]:
        """Every key, oldest first (never their hashes)."""
        return [dict(zip(API_KEYS, r)) for r in
                self._db.query(f"SELECT {select(API_KEYS)} FROM api_keys ORDER BY created_at, key_id")]

    def by_hash(self, key_hash: str) -> dict | None:
        """The key whose secret has this hash, revoked or expired alike (the caller says which); cached if known."""
        row = self._db.cache.get(("api_keys", key_hash),
                                 lambda: self._db.one(f"SELECT {select(API_KEYS)} FROM api_keys WHERE key_hash = ?",
                                                      [key_hash], flush=False),
                                 keep=lambda found: found is not None)
        return dict(zip(API_KEYS, row)) if row else None

    def revoke(self, key_id: str, revoked_by: str) -> None:
        """Mark a key revoked now; the cache of callers is cleared with the write."""
        with self._db.transaction():
            self._db.cached_write("api_keys")
            self._db.execute("UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE key_id = ? "
                             "AND revoked_at IS NULL", [self._db.now(), revoked_by, key_id])
